import { delay, HttpResponse, http, matchRequestUrl, type RequestHandler } from 'msw';
import type { TokenBinder } from '../auth/binder.js';
import type { AuthOptions, RefreshContext } from '../options.js';
import { createTokenSession } from '../session/token-session.js';
import type { TokenSet } from '../session/tokens.js';
import { challenge, createAuthModel, type GrantRefusal, type IssuedTokens } from './auth-model.js';

/** A JSON-serialisable body (objects, arrays, strings, numbers, booleans, null). */
export type MockBody = object | string | number | boolean | null;

/** What a route's `body` function receives. */
export interface MockRouteContext {
  /** The request (read its body with `await request.json()`). */
  request: Request;
  /** The signed-in user the access token was issued to. */
  user: string;
  /** The scopes the access token carries. */
  scopes: readonly string[];
  /** Path parameters of the route pattern (`/items/:id` → `{ id: '42' }`). */
  params: Readonly<Record<string, string | readonly string[] | undefined>>;
}

/** A protected route of the mock API. */
export interface MockRoute {
  /**
   * Method to match (any case); a valid token with another method gets 405 with an `Allow` header.
   * @default undefined (any method)
   */
  method?: string;
  /**
   * Scopes the access token must carry; a token without one of them gets 403 `insufficient_scope`.
   * @default []
   */
  scopes?: readonly string[];
  /**
   * Status of a success. 204 and 205 are sent without a body.
   * @default 200
   */
  status?: number;
  /**
   * The JSON body of a success, or a function of the request and the user that returns it (or a promise of it).
   * @default { ok: true }
   * @example body: ({ user, params }) => ({ id: params.id, owner: user })
   */
  body?: MockBody | ((context: MockRouteContext) => MockBody | Promise<MockBody>);
}

/** A user who can sign in with the `password` grant. */
export interface MockUser {
  /** The password of the `password` grant. */
  password: string;
  /**
   * Scopes granted to the user's tokens.
   * @default []
   */
  scopes?: readonly string[];
}

/** DPoP settings of the mock API. */
export interface MockDpopOptions {
  /**
   * Require the server's current nonce in every proof: a proof without it gets `use_dpop_nonce` (400 at the token
   * endpoint, 401 at the routes) with the nonce in `DPoP-Nonce`, as oidc-provider does with nonces required.
   * @default true
   */
  nonces?: boolean;
  /**
   * How far a proof's `iat` may be from the mock's clock, in seconds.
   * @default 300
   */
  iatWindowSeconds?: number;
}

/** Options of `mockAuthApi`. */
export interface MockAuthApiOptions {
  /** Origin and optional path prefix of the mocked API, e.g. `https://api.example.test` or `https://example.test/v1`. */
  baseUrl: string;
  /**
   * Protected routes, by path below `baseUrl`, in msw's path syntax (`/me`, `/items/:id`). Other paths get 404.
   * @default { '/me': {} }
   */
  routes?: Record<string, MockRoute>;
  /**
   * Path of the OAuth 2.0 token endpoint below `baseUrl`: grants `password` and `refresh_token`, form or JSON body.
   * @default '/oauth/token'
   */
  tokenPath?: string;
  /**
   * Users who can sign in, by username. The first one is the default of `login()`, `auth()` and `grantScopes()`.
   * @default { user: { password: 'password' } }
   */
  users?: Record<string, MockUser>;
  /**
   * Lifetime of access tokens in ms. Their JWT `exp` and the token response's `expires_in` say so too, so a client's
   * proactive refresh works against the mock.
   * @default 60000
   */
  accessTokenTtlMs?: number;
  /**
   * Refresh-token reuse detection: a refresh token used twice revokes its whole family (every refresh token
   * descended from the same sign-in), as Auth0, Okta and Keycloak do. Refresh tokens rotate either way.
   * @default true
   */
  reuseDetection?: boolean;
  /**
   * Delay of every answer in ms, preflights included (msw's `delay`, so fake timers control it).
   * @default 0
   */
  latencyMs?: number;
  /**
   * Clock in epoch ms for issuing and checking tokens; the session `auth()` makes uses it too, so advancing it tests
   * expiry without waiting.
   * @default Date.now
   */
  now?: () => number;
  /**
   * The `realm` of the `WWW-Authenticate` challenges.
   * @default 'api'
   */
  realm?: string;
  /**
   * A DPoP-protected API (RFC 9449): the token endpoint and the routes require a proof (ES256, checked with WebCrypto:
   * signature, `htm`, `htu`, `iat`, unique `jti`, `ath`), tokens are bound to the key that first presents them
   * (`cnf.jkt`), and, with nonces (the default), a proof without the current nonce gets `use_dpop_nonce`.
   * `rotateNonce()` changes the nonce. `true` is `{}`.
   * @default false (Bearer tokens)
   * @example mockAuthApi({ baseUrl, dpop: { nonces: true } }) // with auth: mock.auth('ada', { dpop: createDpop() })
   */
  dpop?: MockDpopOptions | boolean;
}

/** What the mock API counted, for assertions. Reset with `resetStats()` or `reset()`. */
export interface MockAuthApiStats {
  /** Calls of the token endpoint with the `refresh_token` grant (failed ones included). */
  refreshes: number;
  /** Calls of the token endpoint with the `password` grant (failed ones included). */
  logins: number;
  /** Requests per route, keyed by the route's pattern as given in `routes` (`/items/:id`); preflights not counted. */
  requests: Record<string, number>;
  /** Answers per status, protected routes and the token endpoint together; preflights not counted. */
  statuses: Record<number, number>;
  /** CORS preflights (`OPTIONS` requests) answered. */
  preflights: number;
  /** Refresh tokens presented a second time (each revoked its family when `reuseDetection` is on). */
  reuseDetected: number;
  /** With `dpop`: answers that asked for the current nonce (`use_dpop_nonce`), the token endpoint's included. */
  nonceDemands: number;
  /** With `dpop`: proofs refused as `invalid_dpop_proof`. */
  invalidProofs: number;
}

/** Options of `failNext`. */
export interface FailOptions {
  /**
   * Status of the failures.
   * @default 503
   */
  status?: number;
  /**
   * `Retry-After` of the failures: delta-seconds (a number) or an HTTP-date (a string, sent as is).
   * @default undefined (no header)
   */
  retryAfter?: number | string;
  /**
   * Fail at the network level (fetch rejects with a `TypeError`) instead of answering with `status`.
   * @default false
   */
  network?: boolean;
  /**
   * Only requests to this route pattern (a key of `routes`) or to the token endpoint (`tokenPath`) fail.
   * @default undefined (every protected route, not the token endpoint)
   */
  path?: string;
}

/** The mock API: msw handlers plus controls and counters. */
export interface MockAuthApi {
  /** Pass to `setupServer(...handlers)` (Node, vitest, jest) or `setupWorker(...handlers)` (browser). */
  handlers: RequestHandler[];
  /** The `baseUrl` the mock serves, without a trailing slash. */
  baseUrl: string;
  /** Counters for assertions. The object stays the same across resets. */
  stats: MockAuthApiStats;
  /** Issue tokens for a user without a request, as a sign-in would (for `createTokenSession({ tokens })` or `api.auth.setTokens`). */
  login(username?: string): TokenSet;
  /**
   * A ready `refresh` for `createTokenSession`: calls the token endpoint with `fetch` and the refresh token. A failure
   * throws an error with the answer's `status` and OAuth `error` code, so the client tells transient from final.
   */
  refresh(context: RefreshContext): Promise<TokenSet>;
  /**
   * Ready `auth` options for `createApiFetch`: a token session (`createTokenSession`) with fresh tokens for the user,
   * `refresh` against the mock, the mock's clock, and instant, deterministic refresh retries (`random: () => 0`).
   * For a mock with `dpop`, pass the client's binder: `mock.auth('ada', { dpop: createDpop() })`.
   * @example createApiFetch({ baseUrl: mock.baseUrl, auth: mock.auth('ada'), ...testingOptions })
   */
  auth(username?: string, options?: { dpop?: TokenBinder }): AuthOptions;
  /** With `dpop`: a new nonce, which proofs must carry from now on (the answers' `DPoP-Nonce` tells clients). */
  rotateNonce(): string;
  /**
   * Expire every access token issued so far, on the server's side only: their JWT `exp` is unchanged, so the client
   * sends them and the next request with one gets 401 `invalid_token` (the reactive refresh path). For the proactive
   * path, advance the `now` clock instead.
   */
  expireTokens(): void;
  /** Revoke every token issued so far: access tokens get 401 `invalid_token`, a refresh gets 400 `invalid_grant`. */
  revoke(): void;
  /** Give a user more scopes (the default user when `username` is left out); tokens issued afterwards carry them. */
  grantScopes(scopes: readonly string[], username?: string): void;
  /**
   * Make the next `count` requests fail (503 by default), before any token check, as a gateway or an overloaded
   * server does. Calls add up in order: `failNext(1, { status: 429 })` then `failNext(1)` fails with 429 then 503.
   */
  failNext(count: number, options?: FailOptions): void;
  /** Zero the counters. */
  resetStats(): void;
  /** Back to the start: counters, tokens, pending failures and the users' scopes as given in the options. */
  reset(): void;
}

const allowedMethods = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
const exposedHeaders =
  'WWW-Authenticate, Retry-After, RateLimit, RateLimit-Policy, RateLimit-Reset, Location, DPoP-Nonce';

interface PendingFailure extends FailOptions {
  remaining: number;
}

/**
 * A realistic OAuth-protected API for your tests, as msw handlers: a token endpoint with rotating refresh tokens and
 * reuse detection, protected routes that answer like a resource server (RFC 6750 401 `invalid_token` and 403
 * `insufficient_scope` challenges, RFC 9457 problem+json bodies), CORS preflights, and one-line controls for expiry,
 * revocation, scopes and failures.
 *
 * @example
 * const mock = mockAuthApi({ baseUrl: 'https://api.example.test', routes: { '/me': { body: { name: 'Ada' } } } });
 * const server = setupServer(...mock.handlers);
 * const api = createApiFetch({ baseUrl: mock.baseUrl, auth: mock.auth(), ...testingOptions });
 */
export function mockAuthApi(options: MockAuthApiOptions): MockAuthApi {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const tokenPath = options.tokenPath ?? '/oauth/token';
  const routes = Object.entries(options.routes ?? { '/me': {} });
  const now = options.now ?? Date.now;
  const realm = options.realm ?? 'api';
  const dpop = Boolean(options.dpop);
  // The OAuth server itself (tokens, rotation, reuse, scopes, expiry, DPoP); this file is its HTTP face.
  const model = createAuthModel({
    ...(options.users ? { users: options.users } : {}),
    ...(options.accessTokenTtlMs === undefined ? {} : { accessTokenTtlMs: options.accessTokenTtlMs }),
    ...(options.reuseDetection === undefined ? {} : { reuseDetection: options.reuseDetection }),
    now,
    issuer: baseUrl,
    ...(options.dpop ? { dpop: { ...(options.dpop === true ? {} : options.dpop), required: true } } : {}),
  });
  const failures: PendingFailure[] = [];
  const stats: MockAuthApiStats = {
    refreshes: 0,
    logins: 0,
    requests: {},
    statuses: {},
    preflights: 0,
    get reuseDetected() {
      return model.stats.reuseDetected;
    },
    get nonceDemands() {
      return model.stats.nonceDemands;
    },
    get invalidProofs() {
      return model.stats.invalidProofs + model.stats.keyMismatches;
    },
  };

  const resetStats = () => {
    Object.assign(stats, { refreshes: 0, logins: 0, requests: {}, statuses: {}, preflights: 0 });
    model.resetStats();
  };
  const reset = () => {
    resetStats();
    model.reset();
    failures.length = 0;
  };

  const corsHeaders = (request: Request): Record<string, string> => ({
    'Access-Control-Allow-Origin': request.headers.get('origin') ?? '*',
    'Access-Control-Expose-Headers': exposedHeaders,
    Vary: 'Origin',
  });

  const count = (status: number) => {
    stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
  };

  /** A JSON answer; errors (4xx/5xx) with a `title` are problem details. */
  const json = (request: Request, status: number, body: unknown, headers: Record<string, string> = {}) => {
    count(status);
    const problem = status >= 400 && typeof body === 'object' && body !== null && 'title' in body;
    const empty = request.method === 'HEAD' || status === 204 || status === 205 || status === 304;
    return new HttpResponse(empty ? null : JSON.stringify(body), {
      status,
      headers: {
        ...corsHeaders(request),
        'Content-Type': problem ? 'application/problem+json' : 'application/json',
        // The nonce goes out on every answer, successes included, as RFC 9449 §8 allows.
        ...(dpop ? { 'DPoP-Nonce': model.nonce } : {}),
        ...headers,
      },
    });
  };

  const oauthError = (request: Request, error: string, description: string) =>
    json(request, 400, { error, error_description: description }, { 'Cache-Control': 'no-store' });

  const takeFailure = (path: string) => {
    const failure = failures.find((f) => (f.path === undefined ? path !== tokenPath : f.path === path));
    if (!failure) return undefined;
    failure.remaining -= 1;
    if (failure.remaining <= 0) failures.splice(failures.indexOf(failure), 1);
    return failure;
  };

  const fail = (request: Request, failure: PendingFailure) => {
    if (failure.network) return HttpResponse.error();
    const status = failure.status ?? 503;
    return json(
      request,
      status,
      { type: 'about:blank', title: 'Simulated failure', status },
      failure.retryAfter === undefined ? {} : { 'Retry-After': String(failure.retryAfter) },
    );
  };

  const readForm = async (request: Request): Promise<Record<string, unknown> | undefined> => {
    const text = await request.text();
    if (!(request.headers.get('content-type') ?? '').includes('json')) {
      return Object.fromEntries(new URLSearchParams(text));
    }
    try {
      const value: unknown = JSON.parse(text);
      return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };

  const tokenResponse = (request: Request, issued: IssuedTokens | GrantRefusal) =>
    'error' in issued
      ? oauthError(request, issued.error, issued.description)
      : json(
          request,
          200,
          {
            access_token: issued.accessToken,
            token_type: issued.tokenType,
            expires_in: issued.expiresIn,
            refresh_token: issued.refreshToken,
            scope: issued.scope,
          },
          { 'Cache-Control': 'no-store', Pragma: 'no-cache' },
        );

  const tokenEndpoint = async (request: Request) => {
    const form = await readForm(request);
    const field = (name: string) => (typeof form?.[name] === 'string' ? (form[name] as string) : undefined);
    const grantType = field('grant_type');
    if (grantType === 'password') stats.logins += 1;
    if (grantType === 'refresh_token') stats.refreshes += 1;
    const failure = takeFailure(tokenPath);
    if (failure) return fail(request, failure);
    if (!form || !grantType) return oauthError(request, 'invalid_request', 'grant_type is required');
    const key = await model.tokenRequestKey(request.headers.get('dpop'), request.method, request.url);
    if ('error' in key) return oauthError(request, key.error, key.description);
    if (grantType === 'password') {
      return tokenResponse(request, model.signIn(field('username') ?? '', field('password') ?? '', key));
    }
    if (grantType !== 'refresh_token') {
      return oauthError(request, 'unsupported_grant_type', `grant_type ${grantType} is not supported`);
    }
    return tokenResponse(request, model.refresh(field('refresh_token') ?? '', key));
  };

  const resource = async (request: Request, pattern: string, route: MockRoute, params: MockRouteContext['params']) => {
    stats.requests[pattern] = (stats.requests[pattern] ?? 0) + 1;
    const failure = takeFailure(pattern);
    if (failure) return fail(request, failure);
    const grant = await model.authenticate({
      authorization: request.headers.get('authorization'),
      proof: request.headers.get('dpop'),
      method: request.method,
      url: request.url,
    });
    if (!grant.ok) {
      return json(
        request,
        401,
        {
          type: 'about:blank',
          title: 'Unauthorized',
          status: 401,
          ...(grant.description ? { detail: grant.description } : {}),
        },
        { 'WWW-Authenticate': challenge(grant, realm) },
      );
    }
    const method = route.method?.toUpperCase();
    if (method && method !== request.method && !(method === 'GET' && request.method === 'HEAD')) {
      return json(request, 405, { type: 'about:blank', title: 'Method Not Allowed', status: 405 }, { Allow: method });
    }
    const denied = model.authorize(grant, route.scopes ?? []);
    if (denied) {
      return json(
        request,
        403,
        {
          type: 'about:blank',
          title: 'Forbidden',
          status: 403,
          detail: `This route requires the scope "${denied.scope}".`,
        },
        { 'WWW-Authenticate': challenge(denied, realm) },
      );
    }
    const body =
      typeof route.body === 'function'
        ? await route.body({ request, user: grant.user, scopes: grant.scopes, params })
        : (route.body ?? { ok: true });
    return json(request, route.status ?? 200, body);
  };

  const handler = http.all(`${baseUrl}/*`, async ({ request }) => {
    if (options.latencyMs) await delay(options.latencyMs);
    const url = new URL(request.url);
    if (request.method === 'OPTIONS') {
      // A CORS preflight, answered before routing and without credentials, as API gateways do.
      stats.preflights += 1;
      return new HttpResponse(null, {
        status: 204,
        headers: {
          ...corsHeaders(request),
          'Access-Control-Allow-Methods': allowedMethods,
          'Access-Control-Allow-Headers':
            request.headers.get('access-control-request-headers') ?? 'Authorization, Content-Type, Idempotency-Key',
          'Access-Control-Max-Age': '600',
          Vary: 'Origin, Access-Control-Request-Headers',
        },
      });
    }
    if (matchRequestUrl(url, `${baseUrl}${tokenPath}`).matches) {
      if (request.method === 'POST') return tokenEndpoint(request);
      return json(request, 405, { type: 'about:blank', title: 'Method Not Allowed', status: 405 }, { Allow: 'POST' });
    }
    for (const [pattern, route] of routes) {
      const match = matchRequestUrl(url, `${baseUrl}${pattern}`);
      if (match.matches) return resource(request, pattern, route, match.params ?? {});
    }
    return json(request, 404, { type: 'about:blank', title: 'Not Found', status: 404 });
  });

  const login = (username?: string): TokenSet => {
    const { accessToken, refreshToken, expiresAt } = model.issue(username);
    return { accessToken, refreshToken, expiresAt };
  };

  const refresh = async ({ tokens, signal, dpop: signer }: RefreshContext): Promise<TokenSet> => {
    // With DPoP, the token request carries a proof of the client's key (and answers the nonce demand).
    const send = signer ? signer.fetch : fetch;
    const response = await send(`${baseUrl}${tokenPath}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens?.refreshToken ?? '' }),
      signal,
    });
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) {
      const error = typeof body.error === 'string' ? body.error : undefined;
      throw Object.assign(new Error(`token endpoint answered ${response.status}${error ? ` ${error}` : ''}`), {
        status: response.status,
        error,
      });
    }
    return {
      accessToken: String(body.access_token),
      ...(typeof body.refresh_token === 'string' ? { refreshToken: body.refresh_token } : {}),
      expiresAt: now() + Number(body.expires_in) * 1000,
    };
  };

  return {
    handlers: [handler],
    baseUrl,
    stats,
    login,
    refresh,
    auth: (username, extra = {}) => ({
      session: createTokenSession({ tokens: login(username), refresh, random: () => 0, now }),
      ...(extra.dpop ? { dpop: extra.dpop } : {}),
    }),
    rotateNonce() {
      if (!dpop) throw new Error('mockAuthApi: rotateNonce needs the dpop option');
      return model.rotateNonce();
    },
    expireTokens: model.expireTokens,
    revoke: model.revoke,
    grantScopes: model.grantScopes,
    failNext(n, failure = {}) {
      if (!Number.isInteger(n) || n < 0)
        throw new RangeError(`mockAuthApi: failNext count must be an integer ≥ 0, got ${n}`);
      if (n > 0) failures.push({ ...failure, remaining: n });
    },
    resetStats,
    reset,
  };
}
