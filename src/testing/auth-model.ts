/**
 * One OAuth server, as state and decisions: users, access tokens, rotating refresh tokens with reuse detection,
 * scopes, expiry, and the DPoP (RFC 9449) checks of a token endpoint and a resource server. It speaks no HTTP and
 * loads no msw: `mockAuthApi` serves it through msw handlers, and any server of yours (a `node:http` one, a
 * Playwright route) can serve it too.
 */
import { InvalidOptionError } from '../errors.js';

/** A user who can sign in. */
export interface AuthModelUser {
  /** The password that `signIn` checks. */
  password: string;
  /**
   * Scopes granted to the user's tokens.
   * @default []
   */
  scopes?: readonly string[];
}

/** The claims of an access token, as `signAccessToken` receives them (times in epoch seconds). */
export interface AccessTokenClaims {
  /** The `issuer` option, when given. */
  iss?: string;
  /** The username. */
  sub: string;
  /** The granted scopes, space-separated. */
  scope: string;
  /** Issued at. */
  iat: number;
  /** Expires at. */
  exp: number;
  /** Unique per token of the model. */
  jti: string;
  /** The confirmation of a token issued to a DPoP key (RFC 9449 §6). */
  cnf?: {
    /** The JWK SHA-256 thumbprint of the key. */
    jkt: string;
  };
}

/** DPoP settings of the model (RFC 9449). */
export interface AuthModelDpopOptions {
  /**
   * Every token is DPoP-bound: the token endpoint wants a proof, routes take only `Authorization: DPoP`, and a token
   * issued without a key (`issue()`) binds to the first key that presents it. With `false`, a proof is optional:
   * tokens issued with one are bound to its key, the others are Bearer tokens and cannot become bound.
   * @default true
   */
  required?: boolean;
  /**
   * Require the server's current nonce in every proof: a proof without it gets `use_dpop_nonce`.
   * @default true
   */
  nonces?: boolean;
  /**
   * The nonce changes by itself after this many ms (of the `now` clock), as well as on `rotateNonce()`.
   * @default Infinity (only on `rotateNonce()`)
   */
  nonceTtlMs?: number;
  /**
   * How far a proof's `iat` may be from the model's clock, in seconds.
   * @default 300
   */
  iatWindowSeconds?: number;
}

/** Options of `createAuthModel`. */
export interface AuthModelOptions {
  /**
   * Users who can sign in, by username. The first one is the default of `issue()` and `grantScopes()`.
   * @default { user: { password: 'password' } }
   */
  users?: Record<string, AuthModelUser>;
  /**
   * Lifetime of access tokens in ms, from the `now` clock. Their JWT `exp` and `expiresIn` say so too.
   * @default 60000
   */
  accessTokenTtlMs?: number;
  /**
   * Refresh-token reuse detection: a refresh token spent twice revokes its whole family (every refresh token
   * descended from the same sign-in). Refresh tokens rotate either way.
   * @default true
   */
  reuseDetection?: boolean;
  /**
   * Clock in epoch ms for issuing and checking tokens, proofs' `iat` and the nonce's lifetime.
   * @default Date.now
   */
  now?: () => number;
  /**
   * The `iss` claim of access tokens.
   * @default undefined (no `iss` claim)
   */
  issuer?: string;
  /**
   * Turns an access token's claims into the token. Tokens are looked up as issued, so any unique string works;
   * a server that shows real tokens signs them here (`HS256` with `node:crypto`, say).
   * @default an unsigned JWT (`alg: none`), which clients read the `exp` of without verifying it
   */
  signAccessToken?: (claims: AccessTokenClaims) => string;
  /**
   * Check DPoP proofs (ES256, with WebCrypto: signature, `htm`, `htu`, `iat`, a `jti` used once, `ath`, the nonce)
   * and bind tokens to keys. `true` is `{}`.
   * @default false (Bearer tokens only)
   */
  dpop?: AuthModelDpopOptions | boolean;
}

/** Tokens the model issued. */
export interface IssuedTokens {
  /** The user they were issued to. */
  user: string;
  /** The access token: `signAccessToken` of its claims. */
  accessToken: string;
  /** The refresh token (opaque), spent by its first `refresh()`. */
  refreshToken: string;
  /** When the access token expires, in epoch ms of the model's clock. */
  expiresAt: number;
  /** The access token's lifetime in whole seconds (RFC 6749 `expires_in`), never 0. */
  expiresIn: number;
  /** `DPoP` when bound to a key, else `Bearer`. */
  tokenType: 'Bearer' | 'DPoP';
  /** The granted scopes, space-separated. */
  scope: string;
}

/** The key a token request proved it holds, to bind the tokens to. */
export interface TokenRequestKey {
  /** The JWK SHA-256 thumbprint of the proof's key; absent for a request without a proof (DPoP optional or off). */
  jkt?: string;
}

/** Why the token endpoint refuses a grant (always `invalid_grant`, RFC 6749 §5.2). */
export interface GrantRefusal {
  /** The OAuth `error` code. */
  error: 'invalid_grant';
  /**
   * - `wrong_password`: no such user, or another password.
   * - `unknown_refresh_token`: never issued, or its family is revoked.
   * - `refresh_token_reused`: spent before; with `reuseDetection`, its family is now revoked.
   * - `wrong_key`: the refresh token is bound to another DPoP key, or (with `dpop.required: false`) to none.
   */
  reason: 'wrong_password' | 'unknown_refresh_token' | 'refresh_token_reused' | 'wrong_key';
  /** For `error_description`; never contains a token. */
  description: string;
}

/** Why a DPoP proof is refused: `use_dpop_nonce` (send the current nonce) or `invalid_dpop_proof`. */
export interface ProofRefusal {
  /** The OAuth `error` code: answer 400 at the token endpoint, 401 at a route. */
  error: 'use_dpop_nonce' | 'invalid_dpop_proof';
  /** For `error_description`. */
  description: string;
}

/** A request that may pass: what a route sees. */
export interface AccessGrant {
  /** Let the request pass. */
  ok: true;
  /** The user the token was issued to. */
  user: string;
  /** The scopes the token carries. */
  scopes: readonly string[];
  /** The scheme the token came with; `DPoP` when it is bound (answer with the nonce, `DPoP-Nonce`). */
  scheme: 'Bearer' | 'DPoP';
}

/** A request refused with 401, and what its `WWW-Authenticate` challenge says (`challenge()` renders it). */
export interface AccessRefusal {
  /** Answer 401 with `challenge()` of this refusal. */
  ok: false;
  /** Absent when the request had no credentials: RFC 6750 §3.1 says a bare challenge, with no error code. */
  error?: 'invalid_token' | 'invalid_dpop_proof' | 'use_dpop_nonce';
  /** For `error_description` (and a problem body's `detail`). */
  description?: string;
  /** The scheme to challenge with: `DPoP` for a DPoP request, a bound token, or a model that requires DPoP. */
  scheme: 'Bearer' | 'DPoP';
}

/** A request refused with 403 `insufficient_scope`. */
export interface ScopeRefusal {
  /** The OAuth `error` code (RFC 6750 §3.1). */
  error: 'insufficient_scope';
  /** The scopes the route requires, space-separated. */
  scope: string;
  /** The scheme the token came with, to challenge with. */
  scheme: 'Bearer' | 'DPoP';
}

/** What a request to a route carries, for `authenticate`. */
export interface ResourceRequest {
  /** The `Authorization` header. */
  authorization: string | null | undefined;
  /** The `DPoP` header. */
  proof?: string | null | undefined;
  /** The request method (`htm`). */
  method: string;
  /** The request URL (its query and fragment are ignored, as RFC 9449 `htu` says). */
  url: string;
}

/** What the model counted. The object stays the same across `resetStats()` and `reset()`. */
export interface AuthModelStats {
  /** Successful `signIn`s. */
  signIns: number;
  /** Successful refreshes (rotations). */
  refreshes: number;
  /** Refresh tokens presented a second time (each revoked its family when `reuseDetection` is on). */
  reuseDetected: number;
  /** Token sets issued bound to a DPoP key. */
  boundTokens: number;
  /** DPoP proofs received (anything shaped like a JWT), refused ones included. */
  proofs: number;
  /** The `jti` of every proof whose signature verified, refused ones included, oldest first; the last 1,000. */
  jtis: string[];
  /** Proofs refused as `use_dpop_nonce`. */
  nonceDemands: number;
  /** Proofs refused as `invalid_dpop_proof` (missing, malformed, wrong `htm`/`htu`/`iat`/`ath`, a `jti` seen before). */
  invalidProofs: number;
  /** Valid proofs of another key than the token's, refused as `invalid_dpop_proof`. */
  keyMismatches: number;
}

/** One OAuth server's state: see `createAuthModel`. */
export interface AuthModel {
  /** Counters for assertions. */
  readonly stats: AuthModelStats;
  /** The first user of the `users` option. */
  readonly defaultUser: string;
  /** Whether the model checks DPoP, and whether it requires it (`dpop.required`). */
  readonly dpop: 'off' | 'optional' | 'required';
  /** The nonce proofs must carry (changed by `rotateNonce()` and after `dpop.nonceTtlMs`); send it as `DPoP-Nonce`. */
  readonly nonce: string;
  /** A new nonce, which proofs must carry from now on. */
  rotateNonce(): string;
  /**
   * Check the proof of a token request (`POST` to the token endpoint): the key to bind the tokens to, none for a
   * request without a proof when DPoP is optional (or off), or why it is refused.
   */
  tokenRequestKey(
    proof: string | null | undefined,
    method: string,
    url: string,
  ): Promise<TokenRequestKey | ProofRefusal>;
  /** The `password` grant: tokens for the user (bound to `key.jkt` when given), or `wrong_password`. */
  signIn(username: string, password: string, key?: TokenRequestKey): IssuedTokens | GrantRefusal;
  /**
   * The `refresh_token` grant: new tokens of the same family, the presented refresh token spent. A spent one again
   * is reuse (its family revoked, with `reuseDetection`).
   */
  refresh(refreshToken: string, key?: TokenRequestKey): IssuedTokens | GrantRefusal;
  /**
   * Issue tokens for a user without a request, as a sign-in would (for a test's client). With DPoP required, they
   * bind to the first key that presents them. Throws `UnknownUserError` for a user not in `users`.
   */
  issue(username?: string): IssuedTokens;
  /** The access token of a request to a route, with its DPoP proof: who it is, or a 401's challenge. */
  authenticate(request: ResourceRequest): Promise<AccessGrant | AccessRefusal>;
  /** A route's scope decision: `undefined` when the grant has every required scope. */
  authorize(grant: AccessGrant, requiredScopes: readonly string[]): ScopeRefusal | undefined;
  /**
   * Expire every access token issued so far (its JWT `exp` unchanged): the next request with one is refused as
   * `invalid_token`, expired.
   */
  expireTokens(): void;
  /** Revoke every token issued so far: access tokens are `invalid_token`, refresh tokens `unknown_refresh_token`. */
  revoke(): void;
  /** Give a user more scopes (the default user when `username` is left out); tokens issued afterwards carry them. */
  grantScopes(scopes: readonly string[], username?: string): void;
  /** Zero the counters. */
  resetStats(): void;
  /** Back to the start: counters, tokens, the users' scopes as given, a new nonce and no `jti` seen. */
  reset(): void;
}

/** Codes of the model's errors. */
export const AuthModelErrorCode = {
  /** `UnknownUserError`. */
  unknownUser: 'ERR_UNKNOWN_USER',
} as const;

/** Thrown when a username is not one of the model's `users`. */
export class UnknownUserError extends Error {
  /** Literal, so it survives minification. */
  override readonly name = 'UnknownUserError' as const;
  /** `ERR_UNKNOWN_USER`. */
  readonly code = AuthModelErrorCode.unknownUser;
  /** The username asked for. */
  readonly username: string;
  constructor(username: string) {
    super(`no user "${username}" (add it to the users option)`);
    this.username = username;
  }
}

/** True for an `UnknownUserError`, across bundles and realms. */
export const isUnknownUserError = (error: unknown): error is UnknownUserError =>
  error instanceof UnknownUserError ||
  (typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'UnknownUserError');

/**
 * The `WWW-Authenticate` challenge of a refusal (RFC 6750 §3, RFC 9449 §7.1), e.g.
 * `Bearer realm="api", error="invalid_token", error_description="the access token expired"`.
 */
export function challenge(refusal: AccessRefusal | ScopeRefusal, realm: string): string {
  const description = 'description' in refusal ? refusal.description : undefined;
  return [
    `${refusal.scheme} realm="${realm}"`,
    ...(refusal.error ? [`error="${refusal.error}"`] : []),
    ...(refusal.error && description ? [`error_description="${description}"`] : []),
    ...('scope' in refusal ? [`scope="${refusal.scope}"`] : []),
    ...(refusal.scheme === 'DPoP' ? ['algs="ES256"'] : []),
  ].join(', ');
}

const encoder = new TextEncoder();
const toBase64url = (bytes: Uint8Array<ArrayBuffer>) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/=+$/, '')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
const fromBase64url = (text: string): Uint8Array<ArrayBuffer> =>
  Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
const randomId = (bytes: number) => toBase64url(crypto.getRandomValues(new Uint8Array(bytes)));
const sha256 = async (text: string) =>
  toBase64url(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text))));
const jsonPart = (value: unknown) => toBase64url(encoder.encode(JSON.stringify(value)));
const decodePart = (part: string | undefined): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(fromBase64url(part ?? '')));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

/** An unsigned JWT (`alg: none`): clients read its `exp` without verifying it, which is all a test needs. */
const unsignedJwt = (claims: AccessTokenClaims) => `${jsonPart({ alg: 'none', typ: 'JWT' })}.${jsonPart(claims)}.`;

interface AccessEntry {
  user: string;
  scopes: readonly string[];
  expiresAt: number;
  /** The thumbprint of the key the token is bound to (with DPoP required, set by the first proof that presents it). */
  jkt?: string;
}

interface RefreshEntry {
  user: string;
  family: number;
  used: boolean;
  jkt?: string;
}

interface CheckedProof {
  jkt: string;
}

const isRefusal = (value: CheckedProof | ProofRefusal): value is ProofRefusal => 'error' in value;

function validate(options: AuthModelOptions) {
  const { accessTokenTtlMs: ttl, users, now, signAccessToken, dpop } = options;
  if (ttl !== undefined && !(typeof ttl === 'number' && ttl >= 0 && Number.isFinite(ttl))) {
    throw new InvalidOptionError('accessTokenTtlMs', 'a finite number ≥ 0', ttl);
  }
  for (const [name, user] of Object.entries(users ?? {})) {
    if (typeof user?.password !== 'string') {
      throw new InvalidOptionError(`users.${name}.password`, 'a string', user?.password);
    }
    if (user.scopes !== undefined && !(Array.isArray(user.scopes) && user.scopes.every((s) => typeof s === 'string'))) {
      throw new InvalidOptionError(`users.${name}.scopes`, 'an array of strings', user.scopes);
    }
  }
  if (now !== undefined && typeof now !== 'function') throw new InvalidOptionError('now', 'a function', now);
  if (signAccessToken !== undefined && typeof signAccessToken !== 'function') {
    throw new InvalidOptionError('signAccessToken', 'a function', signAccessToken);
  }
  if (typeof dpop === 'object' && dpop !== null) {
    const { nonceTtlMs, iatWindowSeconds } = dpop;
    if (nonceTtlMs !== undefined && !(typeof nonceTtlMs === 'number' && nonceTtlMs > 0)) {
      throw new InvalidOptionError('dpop.nonceTtlMs', 'a number > 0', nonceTtlMs);
    }
    if (
      iatWindowSeconds !== undefined &&
      !(typeof iatWindowSeconds === 'number' && iatWindowSeconds >= 0 && Number.isFinite(iatWindowSeconds))
    ) {
      throw new InvalidOptionError('dpop.iatWindowSeconds', 'a finite number ≥ 0', iatWindowSeconds);
    }
  }
}

/**
 * An OAuth server's state machine, shared by `mockAuthApi` and any server you write: who may sign in, which tokens
 * are valid, rotation and reuse detection (a spent refresh token again revokes its family), scopes, expiry, and DPoP
 * (proofs, nonces, tokens bound to keys). The caller speaks HTTP and asks the model; options are checked here and
 * a bad one throws `InvalidOptionError`.
 *
 * @example
 * const model = createAuthModel({ users: { ada: { password: 'pw', scopes: ['read'] } } });
 * const tokens = model.signIn('ada', 'pw'); // IssuedTokens, or a GrantRefusal ({ error: 'invalid_grant', … })
 * const who = await model.authenticate({ authorization: req.headers.authorization, method: 'GET', url });
 * if (!who.ok) res.writeHead(401, { 'WWW-Authenticate': challenge(who, 'api') });
 */
export function createAuthModel(options: AuthModelOptions = {}): AuthModel {
  validate(options);
  const initialUsers = Object.entries(options.users ?? { user: { password: 'password' } });
  const defaultUser = initialUsers[0]?.[0] ?? 'user';
  const ttl = options.accessTokenTtlMs ?? 60_000;
  const reuseDetection = options.reuseDetection ?? true;
  const now = options.now ?? Date.now;
  const sign = options.signAccessToken ?? unsignedJwt;
  const dpopOptions = options.dpop === true ? {} : options.dpop || undefined;
  const mode = !dpopOptions ? 'off' : (dpopOptions.required ?? true) ? 'required' : 'optional';
  const nonces = dpopOptions?.nonces ?? true;
  const nonceTtlMs = dpopOptions?.nonceTtlMs ?? Number.POSITIVE_INFINITY;
  const iatWindow = dpopOptions?.iatWindowSeconds ?? 300;
  // Tokens of another model (a server restarted, with a client that kept its tokens) are never ours.
  const instance = randomId(6);

  const users = new Map<string, { password: string; scopes: string[] }>();
  const accessTokens = new Map<string, AccessEntry>();
  const refreshTokens = new Map<string, RefreshEntry>();
  const revokedFamilies = new Set<number>();
  /** `jti`s of accepted proofs, with their `iat`: a proof outside the window is refused anyway, so they are dropped then. */
  const seenJtis = new Map<string, number>();
  const stats = {} as AuthModelStats;
  let families = 0;
  let serial = 0;
  let nonce = '';
  let nonceSince = 0;

  const rotateNonce = () => {
    nonce = randomId(16);
    nonceSince = now();
    return nonce;
  };
  const currentNonce = () => (now() - nonceSince >= nonceTtlMs ? rotateNonce() : nonce);

  const resetStats = () => {
    Object.assign(stats, {
      signIns: 0,
      refreshes: 0,
      reuseDetected: 0,
      boundTokens: 0,
      proofs: 0,
      jtis: [],
      nonceDemands: 0,
      invalidProofs: 0,
      keyMismatches: 0,
    } satisfies AuthModelStats);
  };
  const reset = () => {
    resetStats();
    users.clear();
    for (const [name, user] of initialUsers) {
      users.set(name, { password: user.password, scopes: [...(user.scopes ?? [])] });
    }
    accessTokens.clear();
    refreshTokens.clear();
    revokedFamilies.clear();
    seenJtis.clear();
    rotateNonce();
  };
  reset();

  const userOf = (username: string) => {
    const user = users.get(username);
    if (!user) throw new UnknownUserError(username);
    return user;
  };

  const issue = (user: string, family: number, jkt: string | undefined): IssuedTokens => {
    serial += 1;
    const scopes = [...userOf(user).scopes];
    const issuedAt = now();
    const expiresAt = issuedAt + ttl;
    const accessToken = sign({
      ...(options.issuer === undefined ? {} : { iss: options.issuer }),
      sub: user,
      scope: scopes.join(' '),
      iat: Math.floor(issuedAt / 1000),
      exp: Math.floor(expiresAt / 1000),
      jti: `at-${serial}`,
      ...(jkt ? { cnf: { jkt } } : {}),
    });
    const refreshToken = `rt-${instance}-${family}-${serial}`;
    accessTokens.set(accessToken, { user, scopes, expiresAt, ...(jkt ? { jkt } : {}) });
    refreshTokens.set(refreshToken, { user, family, used: false, ...(jkt ? { jkt } : {}) });
    if (jkt) stats.boundTokens += 1;
    return {
      user,
      accessToken,
      refreshToken,
      expiresAt,
      // Whole seconds (RFC 6749), never 0: a sub-second token still says it lives.
      expiresIn: Math.max(1, Math.round(ttl / 1000)),
      tokenType: jkt ? 'DPoP' : 'Bearer',
      scope: scopes.join(' '),
    };
  };

  /** Check `proof` (RFC 9449 §4.3) for a request of `method` to `url`, with `ath` when it carries `accessToken`. */
  const checkProof = async (
    proof: string | null | undefined,
    method: string,
    url: string,
    accessToken?: string,
  ): Promise<CheckedProof | ProofRefusal> => {
    const refuse = (description: string): ProofRefusal => {
      stats.invalidProofs += 1;
      return { error: 'invalid_dpop_proof', description };
    };
    const parts = (proof ?? '').split('.');
    if (!proof || parts.length !== 3) return refuse('a DPoP proof is required');
    stats.proofs += 1;
    const header = decodePart(parts[0]);
    const claims = decodePart(parts[1]);
    const jwk = header?.jwk as JsonWebKey | undefined;
    if (!header || !claims || header.typ !== 'dpop+jwt' || header.alg !== 'ES256' || jwk?.kty !== 'EC') {
      return refuse('the proof must be an ES256 dpop+jwt with its public jwk');
    }
    if (jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string' || 'd' in jwk) {
      return refuse('the jwk of the proof must be a public P-256 key');
    }
    let valid = false;
    try {
      const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
      const signed = encoder.encode(`${parts[0]}.${parts[1]}`);
      valid = await crypto.subtle.verify(
        { name: 'ECDSA', hash: 'SHA-256' },
        key,
        fromBase64url(parts[2] ?? ''),
        signed,
      );
    } catch {
      valid = false;
    }
    if (!valid) return refuse('the signature of the proof does not verify');
    if (typeof claims.jti === 'string') {
      stats.jtis.push(claims.jti);
      if (stats.jtis.length > 1000) stats.jtis.shift();
    }
    const seconds = now() / 1000;
    for (const [jti, iat] of seenJtis) if (Math.abs(seconds - iat) > iatWindow) seenJtis.delete(jti);
    const target = new URL(url);
    target.search = '';
    target.hash = '';
    if (claims.htm !== method) return refuse('htm does not match the request');
    if (claims.htu !== target.href) return refuse('htu does not match the request');
    if (typeof claims.iat !== 'number' || Math.abs(claims.iat - seconds) > iatWindow) {
      return refuse(`iat is not within ${iatWindow} s of the server's clock`);
    }
    if (typeof claims.jti !== 'string' || seenJtis.has(claims.jti)) return refuse('jti is missing or reused');
    if (accessToken !== undefined && claims.ath !== (await sha256(accessToken))) {
      return refuse('ath does not match the access token');
    }
    if (nonces && claims.nonce !== currentNonce()) {
      stats.nonceDemands += 1;
      return { error: 'use_dpop_nonce', description: 'the proof must carry the current nonce of the server' };
    }
    seenJtis.set(claims.jti, claims.iat);
    return { jkt: await sha256(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })) };
  };

  const refuseGrant = (reason: GrantRefusal['reason'], description: string): GrantRefusal => ({
    error: 'invalid_grant',
    reason,
    description,
  });

  const schemes = { off: /^(Bearer) +(\S+)$/i, optional: /^(Bearer|DPoP) +(\S+)$/i, required: /^(DPoP) +(\S+)$/i };

  return {
    stats,
    defaultUser,
    dpop: mode,
    get nonce() {
      return currentNonce();
    },
    rotateNonce,
    async tokenRequestKey(proof, method, url) {
      if (mode === 'off' || (mode === 'optional' && (proof === null || proof === undefined))) return {};
      const checked = await checkProof(proof, method, url);
      return isRefusal(checked) ? checked : { jkt: checked.jkt };
    },
    signIn(username, password, key = {}) {
      const user = users.get(username);
      if (!user || user.password !== password) return refuseGrant('wrong_password', 'wrong username or password');
      stats.signIns += 1;
      return issue(username, ++families, key.jkt);
    },
    refresh(refreshToken, key = {}) {
      const entry = refreshTokens.get(refreshToken);
      if (!entry || revokedFamilies.has(entry.family)) {
        return refuseGrant('unknown_refresh_token', 'refresh token is invalid or revoked');
      }
      if (entry.used) {
        stats.reuseDetected += 1;
        if (reuseDetection) {
          revokedFamilies.add(entry.family);
          return refuseGrant('refresh_token_reused', 'refresh token reused: the session is revoked');
        }
      }
      // With DPoP required, a refresh token from `issue()` binds to the first key that spends it; a bound one is
      // spent only with a proof of its key, and (DPoP optional) a Bearer one never becomes bound.
      if (entry.jkt !== key.jkt && !(entry.jkt === undefined && mode === 'required')) {
        return refuseGrant(
          'wrong_key',
          entry.jkt === undefined
            ? 'the refresh token is not DPoP-bound'
            : 'the refresh token is bound to another DPoP key',
        );
      }
      entry.used = true;
      stats.refreshes += 1;
      return issue(entry.user, entry.family, key.jkt);
    },
    issue(username = defaultUser) {
      userOf(username);
      return issue(username, ++families, undefined);
    },
    async authenticate({ authorization, proof, method, url }) {
      const presented = schemes[mode].exec(authorization ?? '');
      const scheme = presented?.[1]?.toUpperCase() === 'DPOP' ? 'DPoP' : 'Bearer';
      const token = presented?.[2];
      const dpopRequest =
        mode === 'required' || (mode === 'optional' && (scheme === 'DPoP' || (proof !== null && proof !== undefined)));
      const refuse = (
        error: AccessRefusal['error'],
        description: string | undefined,
        dpop = dpopRequest,
      ): AccessRefusal => ({
        ok: false,
        ...(error ? { error } : {}),
        ...(description ? { description } : {}),
        scheme: dpop ? 'DPoP' : 'Bearer',
      });
      // RFC 6750 §3.1: a request without credentials gets a bare challenge, with no error code.
      if (token === undefined) return refuse(undefined, undefined);
      const entry = accessTokens.get(token);
      if (scheme === 'DPoP') {
        const checked = await checkProof(proof, method, url, token);
        if (isRefusal(checked)) return refuse(checked.error, checked.description);
        if (entry && entry.jkt === undefined) {
          // A bound token is no Bearer token (RFC 9449 §7.2), and a Bearer token is not made bound by a proof.
          if (mode === 'optional') return refuse('invalid_token', 'the token is not DPoP-bound');
          entry.jkt = checked.jkt;
        }
        if (entry && entry.jkt !== checked.jkt) {
          stats.keyMismatches += 1;
          return refuse('invalid_dpop_proof', 'the proof key is not the key of the token');
        }
      } else if (entry?.jkt !== undefined) {
        return refuse('invalid_token', 'the token is DPoP-bound', true);
      }
      if (!entry) return refuse('invalid_token', 'the access token is invalid or revoked');
      if (entry.expiresAt <= now()) return refuse('invalid_token', 'the access token expired');
      return { ok: true, user: entry.user, scopes: entry.scopes, scheme };
    },
    authorize(grant, requiredScopes) {
      if (requiredScopes.every((scope) => grant.scopes.includes(scope))) return undefined;
      return { error: 'insufficient_scope', scope: requiredScopes.join(' '), scheme: grant.scheme };
    },
    expireTokens() {
      const at = now();
      for (const entry of accessTokens.values()) entry.expiresAt = Math.min(entry.expiresAt, at);
    },
    revoke() {
      accessTokens.clear();
      for (const entry of refreshTokens.values()) revokedFamilies.add(entry.family);
    },
    grantScopes(scopes, username = defaultUser) {
      const user = userOf(username);
      user.scopes = [...new Set([...user.scopes, ...scopes])];
    },
    resetStats,
    reset,
  };
}
