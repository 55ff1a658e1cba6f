import type { Options as KyOptions } from 'ky';
import type { DpopKeyStore, ProofSigner, TokenBinder } from './auth/binder.js';
import { isInsecureOrigin, toOrigin } from './auth/origins.js';
import type { AuthSession, MaybeToken } from './auth/session.js';
import type { Challenge } from './challenge.js';
import { type ForbiddenError, InvalidOptionError, type UnauthenticatedError } from './errors.js';
import type { ApiFetchEvent } from './events.js';
import type { Coordination } from './session/coordination.js';
import { memoryTokenStore, type TokenSet, type TokenStore, tokenSetProblem, tokenSetShape } from './session/tokens.js';

/**
 * Every option of apifetch, resolved, validated and defaulted here and nowhere else, from these tables of defaults.
 * Each resolver is its own function, so an app bundles only the resolvers (and defaults) of what it imports.
 */
export const defaults = {
  timeout: 10_000,
  retry: {
    limit: 2,
    baseDelayMs: 300,
    maxDelayMs: 10_000,
    maxRetryAfterMs: 60_000,
    statusCodes: [408, 425, 429, 500, 502, 503, 504],
    methods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'QUERY'],
  },
  /** `maxOrigins` is internal: how many origins' buckets a client keeps (least recently used dropped first). */
  throttle: { maxTokens: 10, tokenRatio: 0.1, maxOrigins: 1000 },
} as const;

/** Defaults of `createTokenSession` (kept apart, so apps without a session do not ship them). */
export const sessionDefaults = {
  refreshLeewayMs: 30_000,
  refreshTimeoutMs: 5000,
  refreshRetries: 2,
  maxRefreshes: 3,
  refreshWindowMs: 60_000,
} as const;

/** Bearer authentication: the app's own token (`getAccessToken`), or a token session that refreshes. */
export interface AuthOptions {
  /**
   * Returns the current access token; read at send time, for every attempt. Use it when your app manages tokens
   * itself; apifetch then never refreshes (a 401 ends in `UnauthenticatedError` with reason `no_refresh`).
   * Cannot be combined with `session`.
   * @default undefined
   */
  getAccessToken?: () => MaybeToken | Promise<MaybeToken>;
  /**
   * A token session from `createTokenSession`: apifetch holds the tokens and refreshes them (single flight, replay
   * once). `api.auth` is then this session. Cannot be combined with `getAccessToken`.
   * @default undefined
   * @example auth: { session: createTokenSession({ tokens, refresh }) }
   */
  session?: TokenSession;
  /**
   * Extra origins (scheme + host + port, e.g. `"https://files.example.com"`) that may receive the token, besides the
   * origin of `baseUrl` (or, without `baseUrl`, the page's own origin in a browser). Matching is exact: no wildcards,
   * no subdomains.
   * @default []
   */
  origins?: readonly string[];
  /**
   * Allow the token over plain `http:` to hosts other than loopback. Only for trusted networks. Without it, a token
   * source with such a `baseUrl` or origin fails at creation.
   * @default false
   */
  allowInsecureHttp?: boolean;
  /**
   * Sender-constrained tokens (DPoP, RFC 9449): `createDpop()` from `apifetch/dpop`. Every request to an origin that
   * receives the token then carries `Authorization: DPoP <token>` and a fresh proof signed with the session's key;
   * the refresh function gets `ctx.dpop` to send proof-bound token requests.
   * @default undefined (bearer tokens)
   * @example auth: { session, dpop: createDpop() }
   */
  dpop?: TokenBinder;
}

/** Retry of transient failures. Every field is optional. */
export interface RetryOptions {
  /**
   * Retries after the first attempt.
   * @default 2
   */
  limit?: number;
  /**
   * First backoff ceiling in ms; it doubles each retry up to `maxDelayMs`. The wait is a uniform draw below it.
   * @default 300
   */
  baseDelayMs?: number;
  /**
   * Cap of the backoff ceiling in ms (the cap sits inside the jitter).
   * @default 10000
   */
  maxDelayMs?: number;
  /**
   * The longest `Retry-After` honoured, in ms. A longer one is not shortened: the request fails at once with a
   * `RetryAfterTooLongError` carrying `retryAfterMs`, so the app can schedule it.
   * @default 60000
   */
  maxRetryAfterMs?: number;
  /**
   * Bound in ms on all attempts and waits of one request together (`timeout` bounds one attempt). A backoff that
   * would reach it is not taken; a `Retry-After` that reaches it ends in `RetryAfterTooLongError`.
   * @default undefined (no deadline)
   */
  deadlineMs?: number;
  /**
   * Retry an attempt that hit `timeout`.
   * @default false
   */
  onTimeout?: boolean;
  /**
   * Give POST and PATCH requests without an `Idempotency-Key` header a fresh one (`crypto.randomUUID()`), which
   * makes them retryable. Without it, POST and PATCH are retried only when the caller set the header. A key the
   * caller set (on a `Request` input, in the client's `headers`, or per call) is never replaced.
   * @default false
   */
  idempotencyKey?: boolean;
  /**
   * Statuses that are retried. 401, 403 and 407 never are, even when listed here (the auth layer's and the proxy's).
   * @default [408, 425, 429, 500, 502, 503, 504]
   */
  statusCodes?: readonly number[];
  /**
   * Methods that are retried (POST and PATCH also when they carry an `Idempotency-Key`).
   * @default ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'QUERY']
   */
  methods?: readonly string[];
  /**
   * Retry throttling per client and origin (gRPC's design), or `false` to turn it off. An `extend`ed client shares
   * its parent's buckets unless it names a `throttle` of its own.
   * @default { maxTokens: 10, tokenRatio: 0.1 }
   */
  throttle?: ThrottleOptions | false;
  /**
   * Replaces the retry decision: `true` retries (after the policy's delay), `false` does not, `undefined` keeps the
   * policy's answer. Never asked about 401, 403 or 407 (the auth layer's), aborts, or a retry the limit forbids.
   * @default undefined (the policy decides)
   * @example shouldRetry: ({ status }) => (status === 404 ? false : undefined)
   */
  shouldRetry?: (ctx: RetryContext) => boolean | undefined | Promise<boolean | undefined>;
  /**
   * Random source in [0, 1) for the jitter; inject a seeded one in tests.
   * @default Math.random
   */
  random?: () => number;
}

/** What `retry.shouldRetry` is asked about. */
export interface RetryContext {
  /** The failed request's method. */
  method: string;
  /** The failed request's URL, without its query. */
  url: string;
  /** The HTTP status, or undefined for a network error or a timeout. */
  status: number | undefined;
  /** `network`, `timeout`, or the status as a string. */
  reason: string;
  /** The error ky would throw. */
  error: Error;
  /** The retry about to happen, 1-based. */
  retryNumber: number;
  /** What the policy decided: retry or not. */
  policy: boolean;
}

/** Retry throttling settings (gRPC's `retryThrottling`). */
export interface ThrottleOptions {
  /**
   * Size of the token bucket; it starts full. Retries are allowed only while it holds more than half.
   * @default 10
   */
  maxTokens?: number;
  /**
   * Tokens earned back by each success.
   * @default 0.1
   */
  tokenRatio?: number;
}

/**
 * ky's client options that apifetch passes on to ky as they are: `hooks` (merged with apifetch's own), `credentials`,
 * `searchParams`, `throwHttpErrors`, `parseJson`, `stringifyJson`, `prefix`, `context` and the `RequestInit` fields.
 * Replaced by apifetch's own: `retry` (its own shape, below), `fetch` (sent under the auth layer), `timeout` and
 * `baseUrl` (validated, and `baseUrl` decides where the token goes).
 */
export type KyClientOptions = Omit<KyOptions, 'retry' | 'fetch' | 'timeout' | 'baseUrl' | 'prefixUrl'>;

/** Options of `createApiFetch`. */
export interface ApiFetchOptions extends KyClientOptions {
  /**
   * Base URL that relative inputs resolve against, by URL resolution (ky's `baseUrl`): with
   * `'https://x/v1'`, `'me'` is `https://x/me` and `'/me'` is `https://x/me`; with `'https://x/v1/'`, `'me'` is
   * `https://x/v1/me` and `'/me'` is `https://x/me`. Its origin receives the bearer token.
   * @default undefined (inputs must be absolute, or relative to the page in a browser, whose origin gets the token)
   * @example 'https://api.example.com/v1/'
   */
  baseUrl?: string | URL;
  /**
   * Timeout of one attempt in ms (including a wait for a token refresh and the replay), or `false` for none.
   * Longer than 2^31 − 1 ms (`Infinity` included) counts as that, the longest a timer holds.
   * @default 10000
   */
  timeout?: number | false;
  /**
   * The `fetch` to send with. Looked up at send time, so a mock installed after creation (msw) still works.
   * @default globalThis.fetch
   */
  fetch?: (input: Request, init?: RequestInit) => Promise<Response>;
  /**
   * Bearer token settings, or `false` to never attach a token.
   * @default {}
   */
  auth?: AuthOptions | false;
  /**
   * Called with the error when the user must sign in again (401 that a refresh could not fix).
   * Called once per episode, not once per failed request. Show the login screen here.
   * @default undefined
   */
  onUnauthenticated?: (error: UnauthenticatedError) => void;
  /**
   * Called with the error on every 403 from an origin that receives the token. Show "access denied" here.
   * @default undefined
   */
  onForbidden?: (error: ForbiddenError) => void;
  /**
   * Receives every event (requests, responses, retries, refreshes…). A listener that throws is ignored.
   * Events never contain tokens or credentials.
   * @default undefined
   */
  onEvent?: (event: ApiFetchEvent) => void;
  /**
   * Retry of transient failures (network errors, 408/425/429/5xx) with capped full-jitter backoff, `Retry-After`,
   * idempotency rules, a retry throttle and a deadline. A number sets `limit`; `false` turns retries off.
   * @default { limit: 2, baseDelayMs: 300, maxDelayMs: 10000, maxRetryAfterMs: 60000, throttle: { maxTokens: 10, tokenRatio: 0.1 } }
   */
  retry?: RetryOptions | number | false;
  /**
   * Clock in epoch ms for the client's events and retry deadline, injectable for tests (a token session has its own).
   * @default Date.now
   */
  now?: () => number;
}

/** Per-request options: ky's options plus `auth: false` to send this request without a token. */
export interface RequestAuthOption {
  /**
   * `false` sends this request without the bearer token, whatever its origin.
   * @default true
   */
  auth?: boolean;
}

/** What `refresh` receives. */
export interface RefreshContext {
  /** The tokens held when the refresh started (undefined when there were none). */
  tokens: TokenSet | undefined;
  /** `expired`: proactive, before sending; `rejected`: after a 401; `manual`: `session.refresh()`. */
  reason: 'expired' | 'rejected' | 'manual';
  /** The challenge of the 401 that caused it, when there was one: Bearer, or DPoP with `auth.dpop`. */
  challenge?: Challenge;
  /** Aborted when the refresh times out (`refreshTimeoutMs`): pass it to your fetch. */
  signal: AbortSignal;
  /**
   * With `auth.dpop`: proofs for the token request, so the new tokens are bound to the same key. Send the request
   * with `ctx.dpop.fetch` (a fresh proof per send, the server's `use_dpop_nonce` answered once).
   */
  dpop?: ProofSigner;
}

/** Options of `createTokenSession`. */
export interface TokenSessionOptions {
  /**
   * Gets new tokens, typically from your token endpoint with the refresh token. Called by one request for all
   * (single flight); never goes through the auth layer, so call the endpoint with plain `fetch` or `ky`.
   * Throw an error with `status` (or ky's `HTTPError`, or anything with `status` / `response.status`) to say how it
   * failed: network errors, 408, 429 and 5xx are retried; anything else (400 `invalid_grant`, 401, an error without
   * `status`) signs the user out at once. A result that is not a `TokenSet` fails with a message naming the field.
   * @default undefined (no refresh: a 401 is final)
   */
  refresh?: (ctx: RefreshContext) => Promise<TokenSet>;
  /**
   * The initial tokens (written to `store`).
   * @default undefined (whatever `store` holds)
   */
  tokens?: TokenSet;
  /**
   * Where tokens live: `storageTokenStore(localStorage, key)` to keep them across reloads, or your own. A store that
   * throws never breaks a request: the session goes on in memory and emits `store:fallback`.
   * @default memoryTokenStore()
   */
  store?: TokenStore;
  /**
   * How refreshes are coordinated with other holders of the same tokens: `tabCoordination(key)` for browser tabs,
   * `lockCoordination(lock)` for several processes sharing `store`, or your own `Coordination`.
   * @default undefined (single flight within this session only)
   */
  coordination?: Coordination;
  /**
   * Refresh before sending when the access token expires within this many ms (from `expiresAt`, else the JWT `exp`).
   * A token whose whole life (from `issuedAt`, the JWT `iat`, or the refresh that returned it) is shorter than twice
   * this is refreshed at half its life; where the issue time is unknown, this leeway applies as is.
   * @default 30000
   */
  refreshLeewayMs?: number;
  /**
   * The longest a refresh may take, its retries and waits for a lock included; then `refresh_timeout` and the
   * refresh's `signal` aborts. Half the default `timeout`, so a request waiting on a hanging refresh ends in
   * `refresh_timeout` and a good refresh leaves time for the replay. Longer than 2^31 − 1 ms counts as that.
   * @default 5000
   */
  refreshTimeoutMs?: number;
  /**
   * Retries of a refresh that failed transiently (network, 408, 429, 5xx), with capped full-jitter backoff.
   * @default 2
   */
  refreshRetries?: number;
  /**
   * Circuit breaker: at most this many refreshes per `refreshWindowMs`; beyond, requests fail fast (`refresh_limit`).
   * @default 3
   */
  maxRefreshes?: number;
  /**
   * The window of `maxRefreshes`, in ms.
   * @default 60000
   */
  refreshWindowMs?: number;
  /**
   * Random source in [0, 1) for the refresh retries' jitter.
   * @default Math.random
   */
  random?: () => number;
  /**
   * Clock in epoch ms, injectable for tests.
   * @default Date.now
   */
  now?: () => number;
}

/** Options of `createDpop` (`apifetch/dpop`). */
export interface DpopOptions {
  /**
   * The key pair to sign proofs with, for a key the app keeps itself (a server process, say): the private key should
   * be non-extractable, the public key extractable (its JWK goes in every proof). ES256 (ECDSA P-256), Ed25519, PS256
   * or RS256: use one the server's `algs` lists. Cannot be combined with `store`.
   * @default a new ES256 key pair, private key non-extractable (kept in `store`)
   */
  key?: CryptoKeyPair;
  /**
   * Where the key pair lives: `indexedDbKeyStore(name)` in a browser keeps it across reloads and shares it between
   * the tabs of one token session (give the name of its `storageTokenStore` key). Tokens are bound to this key:
   * losing it means signing in again.
   * @default in memory, for this process or page only
   */
  store?: DpopKeyStore;
}

/** A token session from `createTokenSession`: what `auth.session` takes and `api.auth` returns. */
export interface TokenSession extends AuthController {
  /** @internal The auth layer's side of the session. */
  readonly [sessionKey]: AuthSession;
}

/** Controls of the client's tokens: `api.auth`. */
export interface AuthController {
  /** Sign in (or replace tokens): requests use them at once, and a signed-out client is signed in again. */
  setTokens(tokens: TokenSet): Promise<void>;
  /** The current tokens, or undefined. */
  getTokens(): Promise<TokenSet | undefined>;
  /** Sign out: forget the tokens; requests that need one fail fast until `setTokens`. */
  clear(): Promise<void>;
  /** Force a refresh now (joins one already running). Resolves with the new tokens; rejects when it fails. */
  refresh(): Promise<TokenSet>;
}

/** Where a `TokenSession` keeps its auth-layer side (a symbol: not an option a user could misspell). */
export const sessionKey: unique symbol = Symbol.for('apifetch.session');

export interface ResolvedOptions {
  baseUrl: string | undefined;
  timeout: number | false;
  fetch: ((input: Request, init?: RequestInit) => Promise<Response>) | undefined;
  /** The token source, or undefined for none. */
  getAccessToken: (() => MaybeToken | Promise<MaybeToken>) | undefined;
  session: TokenSession | undefined;
  /** Exact origins that may receive the token: `baseUrl`'s (or the page's) and `auth.origins`. */
  tokenOrigins: readonly string[];
  allowInsecureHttp: boolean;
  /** `auth.dpop`: binds the token to each request. */
  binder: TokenBinder | undefined;
  /** `false` when `auth: false`. */
  authEnabled: boolean;
  onUnauthenticated: ((error: UnauthenticatedError) => void) | undefined;
  onForbidden: ((error: ForbiddenError) => void) | undefined;
  onEvent: ((event: ApiFetchEvent) => void) | undefined;
  now: () => number;
  /** ky's options, passed on as they are. */
  ky: KyClientOptions;
}

export interface ResolvedRetryOptions {
  limit: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxRetryAfterMs: number;
  deadlineMs: number | undefined;
  onTimeout: boolean;
  idempotencyKey: boolean;
  statusCodes: ReadonlySet<number>;
  methods: ReadonlySet<string>;
  throttle: ResolvedThrottleOptions | false;
  shouldRetry: RetryOptions['shouldRetry'];
  random: () => number;
}

/** `retry.throttle` resolved, with the internal bound on the origins a client keeps a bucket for. */
export interface ResolvedThrottleOptions extends Required<ThrottleOptions> {
  maxOrigins: number;
}

export interface ResolvedSessionOptions {
  refresh: TokenSessionOptions['refresh'] | undefined;
  tokens: TokenSet | undefined;
  store: TokenStore;
  coordination: Coordination | undefined;
  refreshLeewayMs: number;
  refreshTimeoutMs: number;
  refreshRetries: number;
  maxRefreshes: number;
  refreshWindowMs: number;
  random: () => number;
  now: () => number;
}

/** A value that may be a token (a string passed where a function or object belongs): never put it in a message. */
export const hidden = <T>(value: T): T | { toString(): string } =>
  typeof value === 'string' ? { toString: () => 'a string (not shown: it may be a token)' } : value;

const isObject = (value: unknown): boolean => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Check a function-valued option. */
export function optionalFunction<T>(value: T | undefined, option: string): T | undefined {
  if (value !== undefined && typeof value !== 'function') throw new InvalidOptionError(option, 'a function', value);
  return value;
}

/** Throws `InvalidOptionError` unless `value` is undefined or a boolean. */
export function optionalBoolean(value: unknown, option: string): void {
  if (value !== undefined && typeof value !== 'boolean') throw new InvalidOptionError(option, 'a boolean', value);
}

/** The longest wait a timer can hold (2^31 − 1 ms, about 24.8 days): a longer time given in ms counts as this. */
export const maxTimerMs = 2_147_483_647;

/** A duration in ms that becomes a timer: at least `min`, and `Infinity` or anything longer counts as `maxTimerMs`. */
export const timerMs = (value: unknown, min: number, option: string): number =>
  Math.min(numberAtLeast(value, min, option), maxTimerMs);

export function numberAtLeast(value: unknown, min: number, option: string, integer = false): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new InvalidOptionError(option, `${integer ? 'an integer' : 'a number'} ≥ ${min}`, value);
  }
  return value;
}

/** The usual mistakes of people coming from axios, ky 1 or ky's own retry options. */
const hints: Record<string, string> = {
  baseURL: 'baseUrl',
  prefixUrl: 'baseUrl',
  'retry.backoffLimit': 'retry.maxDelayMs',
  'retry.delay': 'retry.baseDelayMs',
  'retry.jitter': 'retry.random',
  'retry.retryOnTimeout': 'retry.onTimeout',
  'retry.afterStatusCodes': 'retry.statusCodes',
  'retry.maxRetryAfter': 'retry.maxRetryAfterMs',
};
/** Options of the token session given where they were before it was an import of its own. */
const sessionHint = '`auth.session` (createTokenSession takes it)';
const movedToSession = 'tokens refresh store lock refreshLeewayMs refreshTimeoutMs maxRefreshes'.split(' ');

/** Throws `InvalidOptionError` for the first key of `value` not in `known`, with a hint for the usual mistakes. */
/** Refuse any key of `value` not among `known` (option names, space-separated), with a hint where one helps. */
function onlyKnown(value: object, known: string, prefix: string, type = 'ApiFetchOptions') {
  const names = known.split(' ');
  for (const [key, given] of Object.entries(value)) {
    if (names.includes(key) || given === undefined) continue;
    const option = prefix + key;
    const hint = hints[option];
    const expected = hint
      ? `\`${hint}\``
      : prefix === 'auth.' && movedToSession.includes(key)
        ? sessionHint
        : `a known option (see ${type})`;
    throw new InvalidOptionError(option, expected, 'unknown');
  }
}

/** ky's options apifetch passes on unchanged (client-level and per request). */
const kyOptionNames =
  'hooks headers credentials searchParams throwHttpErrors parseJson stringifyJson prefix context totalTimeout onDownloadProgress onUploadProgress method json body signal mode cache redirect referrer referrerPolicy integrity keepalive priority window duplex dispatcher';
const clientOptionNames = `${kyOptionNames} baseUrl timeout fetch auth onUnauthenticated onForbidden onEvent retry now`;

/** Validate the client's options and fill defaults. Throws `InvalidOptionError` naming the first bad option. */
export function resolveOptions(options: ApiFetchOptions): ResolvedOptions {
  if (!isObject(options)) throw new InvalidOptionError('options', 'an object', options);
  onlyKnown(options, clientOptionNames, '');
  let baseUrl: string | undefined;
  /** Origins that receive the token, each with the option that named it. */
  const named: [option: string, origin: string][] = [];
  if (options.baseUrl !== undefined) {
    if (typeof options.baseUrl !== 'string' && !(options.baseUrl instanceof URL)) {
      throw new InvalidOptionError('baseUrl', 'a string or URL', options.baseUrl);
    }
    baseUrl = String(options.baseUrl);
    const location = (globalThis as { location?: { href?: string } }).location?.href;
    let absolute: URL;
    try {
      absolute = new URL(baseUrl, location);
    } catch {
      throw new InvalidOptionError('baseUrl', 'an absolute URL (or a path, in a browser)', options.baseUrl);
    }
    named.push(['baseUrl', toOrigin(absolute, 'baseUrl')]);
  }
  const auth = options.auth ?? {};
  if (auth !== false && !isObject(auth)) throw new InvalidOptionError('auth', 'an object or false', auth);
  const a: AuthOptions = auth === false ? {} : auth;
  onlyKnown(a, 'getAccessToken session origins allowInsecureHttp dpop', 'auth.');
  if (a.dpop !== undefined && typeof a.dpop?.send !== 'function') {
    throw new InvalidOptionError('auth.dpop', 'createDpop()', a.dpop);
  }
  optionalFunction(hidden(a.getAccessToken), 'auth.getAccessToken');
  if (a.session !== undefined && !isTokenSession(a.session)) {
    throw new InvalidOptionError('auth.session', 'a session from createTokenSession()', hidden(a.session));
  }
  if (a.session && a.getAccessToken) {
    // Two sources of truth for the token would disagree after the first refresh.
    throw new InvalidOptionError('auth.getAccessToken', 'left out when `auth.session` is set', 'both');
  }
  if (a.origins !== undefined) {
    if (!Array.isArray(a.origins)) throw new InvalidOptionError('auth.origins', 'an array of origins', a.origins);
    a.origins.forEach((origin, i) => {
      named.push([`auth.origins[${i}]`, toOrigin(origin, `auth.origins[${i}]`)]);
    });
  }
  optionalBoolean(a.allowInsecureHttp, 'auth.allowInsecureHttp');
  const allowInsecureHttp = a.allowInsecureHttp === true;
  // A token source with a plain-http origin would silently never send the token: say so now.
  const insecure = named.find(([, origin]) => isInsecureOrigin(origin));
  if ((a.session || a.getAccessToken) && !allowInsecureHttp && insecure) {
    throw new InvalidOptionError(
      insecure[0],
      'https: or loopback (`auth.allowInsecureHttp` allows plain http)',
      insecure[1],
    );
  }
  const tokenOrigins = named.map(([, origin]) => origin);
  if (options.baseUrl === undefined) {
    // In a browser, requests without a base go to the page's own origin (`api.get('/api/me')`): it gets the token.
    const page = (globalThis as { location?: { origin?: unknown } }).location?.origin;
    if (typeof page === 'string' && /^https?:\/\//.test(page)) tokenOrigins.push(page);
  }
  const {
    baseUrl: _baseUrl,
    timeout: _timeout,
    fetch: _fetch,
    auth: _auth,
    onUnauthenticated,
    onForbidden,
    onEvent,
    retry: _retry,
    now,
    ...ky
  } = options;
  return {
    baseUrl,
    timeout: options.timeout === false ? false : timerMs(options.timeout ?? defaults.timeout, 1, 'timeout'),
    fetch: optionalFunction(options.fetch, 'fetch'),
    getAccessToken: a.getAccessToken,
    session: a.session,
    tokenOrigins,
    allowInsecureHttp,
    binder: a.dpop,
    authEnabled: auth !== false,
    onUnauthenticated: optionalFunction(onUnauthenticated, 'onUnauthenticated'),
    onForbidden: optionalFunction(onForbidden, 'onForbidden'),
    onEvent: optionalFunction(onEvent, 'onEvent'),
    now: optionalFunction(now, 'now') ?? Date.now,
    ky,
  };
}

/** True for a session made by `createTokenSession`, across bundles. */
export const isTokenSession = (value: unknown): value is TokenSession =>
  typeof value === 'object' && value !== null && sessionKey in value;

const retryOptionNames =
  'limit baseDelayMs maxDelayMs maxRetryAfterMs deadlineMs onTimeout idempotencyKey statusCodes methods throttle shouldRetry random';

/** `retry` as an object: a number sets `limit`, `false` turns retries off. */
const retryObject = (value: RetryOptions | number | false | undefined): RetryOptions =>
  value === false ? { limit: 0 } : typeof value === 'number' ? { limit: value } : (value ?? {});

/** The default method set, shared, so callers can tell "default" by identity. */
export const defaultMethodSet: ReadonlySet<string> = new Set(defaults.retry.methods);

/** Validate `retry` (an options object, a retry count, or `false`) and fill defaults. */
export function resolveRetryOptions(input: RetryOptions | number | false | undefined): ResolvedRetryOptions {
  const options = retryObject(input);
  if (!isObject(options)) throw new InvalidOptionError('retry', 'an object, a number or false', input);
  onlyKnown(options, retryOptionNames, 'retry.');
  const d = defaults.retry;
  const throttle = options.throttle ?? {};
  if (throttle !== false && !isObject(throttle)) {
    throw new InvalidOptionError('retry.throttle', 'an object or false', throttle);
  }
  if (throttle !== false) onlyKnown(throttle, 'maxTokens tokenRatio', 'retry.throttle.');
  const statusCodes = options.statusCodes ?? d.statusCodes;
  const methods = options.methods ?? d.methods;
  if (!Array.isArray(statusCodes) || statusCodes.some((s) => !Number.isInteger(s) || s < 100 || s > 599)) {
    throw new InvalidOptionError('retry.statusCodes', 'an array of HTTP statuses', statusCodes);
  }
  if (!Array.isArray(methods) || methods.some((m) => typeof m !== 'string')) {
    throw new InvalidOptionError('retry.methods', 'an array of method names', methods);
  }
  optionalBoolean(options.onTimeout, 'retry.onTimeout');
  optionalBoolean(options.idempotencyKey, 'retry.idempotencyKey');
  return {
    limit: numberAtLeast(options.limit ?? d.limit, 0, 'retry.limit', true),
    baseDelayMs: timerMs(options.baseDelayMs ?? d.baseDelayMs, 0, 'retry.baseDelayMs'),
    maxDelayMs: timerMs(options.maxDelayMs ?? d.maxDelayMs, 0, 'retry.maxDelayMs'),
    maxRetryAfterMs: timerMs(options.maxRetryAfterMs ?? d.maxRetryAfterMs, 0, 'retry.maxRetryAfterMs'),
    deadlineMs: options.deadlineMs === undefined ? undefined : timerMs(options.deadlineMs, 1, 'retry.deadlineMs'),
    onTimeout: options.onTimeout ?? false,
    idempotencyKey: options.idempotencyKey ?? false,
    statusCodes: new Set(statusCodes),
    methods: options.methods === undefined ? defaultMethodSet : new Set(methods.map((m) => m.toUpperCase())),
    throttle:
      throttle === false
        ? false
        : {
            maxTokens: numberAtLeast(throttle.maxTokens ?? defaults.throttle.maxTokens, 1, 'retry.throttle.maxTokens'),
            tokenRatio: numberAtLeast(
              throttle.tokenRatio ?? defaults.throttle.tokenRatio,
              0,
              'retry.throttle.tokenRatio',
            ),
            maxOrigins: defaults.throttle.maxOrigins,
          },
    shouldRetry: optionalFunction(options.shouldRetry, 'retry.shouldRetry'),
    random: optionalFunction(options.random, 'retry.random') ?? Math.random,
  };
}

/** A request's `retry` over the client's: objects merge, a number sets `limit`, `false` turns retries off. */
export function mergeRetryOptions(
  base: RetryOptions | number | false | undefined,
  override: RetryOptions | number | false,
): ResolvedRetryOptions {
  return resolveRetryOptions({ ...retryObject(base), ...retryObject(override) });
}

const sessionOptionNames =
  'refresh tokens store coordination refreshLeewayMs refreshTimeoutMs refreshRetries maxRefreshes refreshWindowMs random now';

/** Validate `createTokenSession`'s options and fill defaults. */
export function resolveSessionOptions(options: TokenSessionOptions): ResolvedSessionOptions {
  if (!isObject(options)) throw new InvalidOptionError('createTokenSession(options)', 'an object', options);
  onlyKnown(options, sessionOptionNames, '', 'TokenSessionOptions');
  const tokensProblem = options.tokens === undefined ? undefined : tokenSetProblem(options.tokens);
  if (tokensProblem !== undefined) {
    throw new InvalidOptionError('tokens', `${tokenSetShape}: ${tokensProblem}`, hidden(options.tokens));
  }
  const store = options.store as Partial<Record<'get' | 'set' | 'clear', unknown>> | undefined | null;
  if (store !== undefined && (!store || ['get', 'set', 'clear'].some((m) => typeof store[m as 'get'] !== 'function'))) {
    throw new InvalidOptionError('store', 'a TokenStore with get, set and clear', options.store);
  }
  const coordination = options.coordination as Partial<Record<'lock' | 'post' | 'listen', unknown>> | undefined;
  if (
    coordination !== undefined &&
    (!isObject(coordination) ||
      ['lock', 'post', 'listen'].some((m) => typeof coordination?.[m as 'lock'] !== 'function'))
  ) {
    throw new InvalidOptionError(
      'coordination',
      'a Coordination (tabCoordination(key), lockCoordination(lock))',
      coordination,
    );
  }
  const d = sessionDefaults;
  return {
    refresh: optionalFunction(options.refresh, 'refresh'),
    tokens: options.tokens,
    store: options.store ?? memoryTokenStore(),
    coordination: options.coordination,
    refreshLeewayMs: numberAtLeast(options.refreshLeewayMs ?? d.refreshLeewayMs, 0, 'refreshLeewayMs'),
    refreshTimeoutMs: timerMs(options.refreshTimeoutMs ?? d.refreshTimeoutMs, 1, 'refreshTimeoutMs'),
    refreshRetries: numberAtLeast(options.refreshRetries ?? d.refreshRetries, 0, 'refreshRetries', true),
    maxRefreshes: numberAtLeast(options.maxRefreshes ?? d.maxRefreshes, 1, 'maxRefreshes', true),
    refreshWindowMs: numberAtLeast(options.refreshWindowMs ?? d.refreshWindowMs, 1, 'refreshWindowMs'),
    random: optionalFunction(options.random, 'random') ?? Math.random,
    now: optionalFunction(options.now, 'now') ?? Date.now,
  };
}

/** Validate `createDpop`'s options. */
export function resolveDpopOptions(options: DpopOptions): DpopOptions {
  if (!isObject(options)) throw new InvalidOptionError('createDpop(options)', 'an object', options);
  onlyKnown(options, 'key store', '', 'DpopOptions');
  const { key, store } = options;
  if (key !== undefined && (!isObject(key) || !key.privateKey || !key.publicKey)) {
    throw new InvalidOptionError('key', 'a CryptoKeyPair (privateKey and publicKey)', key);
  }
  if (store !== undefined && typeof store?.getOrCreate !== 'function') {
    throw new InvalidOptionError('store', 'a DpopKeyStore (indexedDbKeyStore(name))', store);
  }
  if (key && store) throw new InvalidOptionError('store', 'left out when `key` is set', 'both');
  return options;
}

/** Defaults of `createProxyFetch` (`apifetch/node`), kept apart so browser apps do not ship them. */
export const proxyDefaults = {
  credentialsTimeoutMs: 30_000,
  /** Offer Negotiate with the `kerberos` package and the service `HTTP@<proxy host>`. */
  negotiate: {},
} as const;

/** Who to authenticate as with the proxy. */
export interface ProxyIdentity {
  /** The user name, as the proxy knows it (UTF-8 for Basic and Digest, UTF-16 inside NTLM). */
  username: string;
  /** The password; it never appears in errors, events or logs. */
  password: string;
  /** The Windows domain for NTLM; ignored by the other schemes. @default '' (the proxy's own) */
  domain?: string;
}

/** What the `credentials` callback receives. */
export interface ProxyCredentialsContext {
  /** The proxy, without credentials (`http://proxy.internal:3128/`). */
  proxy: URL;
  /** The proxy's `Proxy-Authenticate` challenges, parsed (`[{ scheme: 'basic', params: { realm } }]`). */
  challenges: Challenge[];
  /** 1 for the first round with this proxy, 2 when the answer to round 1 was later refused, and so on. */
  attempt: number;
  /** Aborted when the round gives up on this call (`credentialsTimeoutMs`): stop waiting on a vault or a prompt. */
  signal: AbortSignal;
}

/** The `credentials` callback: an identity, or `null` to give up. */
export type ProxyCredentialsCallback = (
  ctx: ProxyCredentialsContext,
) => Promise<ProxyIdentity | null> | ProxyIdentity | null;

/** What a Negotiate token function receives. */
export interface NegotiateTokenContext {
  /** The proxy, without credentials. */
  proxy: URL;
  /** The GSSAPI service name (`HTTP@proxy.corp`). */
  service: string;
  /** The proxy's token (base64) in a continuation leg; undefined for the first token of a connection. */
  challenge: string | undefined;
}

/** Negotiate (SPNEGO/Kerberos) settings of `createProxyFetch`. */
export interface NegotiateOptions {
  /**
   * The GSSAPI host-based service name of the proxy.
   * @default `HTTP@<proxy host>`
   */
  service?: string;
  /**
   * Make each token yourself (base64, without the `Negotiate ` prefix) instead of through the `kerberos` package;
   * `null` means no Kerberos here, and the next scheme the proxy offers is used. Called for every connection and
   * every leg: a token is never reused.
   * @default undefined (the `kerberos` package, loaded when a proxy first asks for Negotiate)
   */
  token?: (ctx: NegotiateTokenContext) => Promise<string | null> | string | null;
}

/**
 * Options of `createProxyFetch` (`apifetch/node`), with `Tls` the type of its TLS options: Node's `ConnectionOptions`
 * in `CreateProxyFetchOptions`. Generic here so that this module, which every entry's types load, never names a
 * Node module: a browser app's types need no Node types.
 */
export interface ProxyFetchOptions<Tls extends object = object> {
  /**
   * The proxy URL (`http://proxy.internal:3128`). Credentials in it (`http://user:pass@host:3128`) are the identity
   * when there is no `credentials` callback, sent as Basic up front.
   * @default HTTPS_PROXY for https targets, HTTP_PROXY for http targets (lowercase variants first); none: direct
   */
  proxy?: string | URL;
  /**
   * Hosts that bypass the proxy, comma or space separated: `*` (all), `example.com` and `.example.com` (the host and
   * its subdomains), `host:port` (that port only), IP literals (exactly). Loopback is not special unless listed.
   * @default NO_PROXY (or no_proxy)
   */
  noProxy?: string;
  /**
   * Called when the proxy wants Basic, Digest or NTLM and no identity is known yet, or the known one was refused:
   * return `{ username, password, domain? }` (apifetch computes each scheme's answer) or `null` to give up. One call
   * answers every request refused meanwhile; a refused answer is asked for again once (`attempt` 2), then
   * `ProxyAuthenticationError`. Not called for Negotiate, which uses the Kerberos ticket cache.
   * @default undefined (the proxy URL's credentials, else a 407 ends in ProxyAuthenticationError)
   * @example
   * credentials: async ({ signal }) => ({ username: 'svc', password: await vault.get('proxy', { signal }) })
   */
  credentials?: ProxyCredentialsCallback;
  /**
   * How long one `credentials` call may take. When it runs out, the call's `signal` aborts, every request waiting on
   * that round ends in `ProxyAuthenticationError`, and the next 407 starts a new round.
   * @default 30000
   */
  credentialsTimeoutMs?: number;
  /**
   * Negotiate (SPNEGO/Kerberos): the proxy's service name, or a token function of your own; `false` never offers it.
   * Without a token function the optional `kerberos` package is loaded when a proxy first asks for Negotiate; when it
   * is missing or there is no ticket, the next scheme the proxy offers is used.
   * @default {} (the `kerberos` package, service `HTTP@<proxy host>`)
   */
  negotiate?: NegotiateOptions | false;
  /**
   * TLS options for the target (inside the tunnel, and for direct requests), e.g. `{ ca }` for a private CA or a
   * self-signed test server.
   * @default undefined (Node's default CAs)
   */
  tls?: Tls;
  /**
   * TLS options for an `https:` proxy, e.g. `{ ca }`.
   * @default undefined (Node's default CAs)
   */
  proxyTls?: Tls;
  /**
   * Where `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` are read from (at each request).
   * @default process.env
   */
  env?: Record<string, string | undefined>;
}

/** `createProxyFetch`'s options, validated and defaulted. */
export interface ResolvedProxyOptions<Tls extends object = object> {
  /** `proxy`, parsed; undefined: read from `env` at each request. */
  proxy: URL | undefined;
  /** undefined: `NO_PROXY` from `env`, read at each request. */
  noProxy: string | undefined;
  credentials: ProxyCredentialsCallback | undefined;
  credentialsTimeoutMs: number;
  negotiate: NegotiateOptions | false;
  tls: Tls | undefined;
  proxyTls: Tls | undefined;
  env: Record<string, string | undefined>;
}

/** A proxy URL, from `proxy` or the environment (`option` names where it came from). */
export function parseProxyUrl(value: string | URL, option: string): URL {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {}
  // The value may hold credentials: never echo it.
  throw new InvalidOptionError(option, 'an http: or https: proxy URL', '[redacted]');
}

/** Validate `createProxyFetch`'s options and fill defaults. Values that may hold secrets are never echoed. */
export function resolveProxyOptions<Tls extends object>(options: ProxyFetchOptions<Tls>): ResolvedProxyOptions<Tls> {
  if (typeof options !== 'object' || options === null) {
    // A string here is likely the proxy URL, credentials and all.
    const got = typeof options === 'string' ? '[redacted]' : options;
    throw new InvalidOptionError('createProxyFetch(options)', 'an object', got);
  }
  onlyKnown(
    options,
    'proxy noProxy credentials credentialsTimeoutMs negotiate tls proxyTls env',
    '',
    'CreateProxyFetchOptions',
  );
  if (options.credentials !== undefined && typeof options.credentials !== 'function') {
    // A string given here may well be the secret itself: never echo it.
    throw new InvalidOptionError('credentials', 'a function', '[redacted]');
  }
  if (options.noProxy !== undefined && typeof options.noProxy !== 'string') {
    throw new InvalidOptionError('noProxy', 'a string', options.noProxy);
  }
  // `=== undefined`, not `??`: a null is refused, as it always was.
  const timeout =
    options.credentialsTimeoutMs === undefined ? proxyDefaults.credentialsTimeoutMs : options.credentialsTimeoutMs;
  if (!(typeof timeout === 'number' && timeout > 0 && timeout <= maxTimerMs)) {
    throw new InvalidOptionError('credentialsTimeoutMs', `a number of ms in 1…${maxTimerMs}`, timeout);
  }
  const negotiate = (options.negotiate === undefined ? proxyDefaults.negotiate : options.negotiate) as
    | NegotiateOptions
    | false;
  if (negotiate !== false) {
    if (typeof negotiate !== 'object' || negotiate === null) {
      throw new InvalidOptionError('negotiate', 'an object or false', negotiate);
    }
    onlyKnown(negotiate, 'service token', 'negotiate.', 'NegotiateOptions');
    if (negotiate.service !== undefined && typeof negotiate.service !== 'string') {
      throw new InvalidOptionError('negotiate.service', 'a string', negotiate.service);
    }
    optionalFunction(negotiate.token, 'negotiate.token');
  }
  for (const name of ['tls', 'proxyTls', 'env'] as const) {
    if (options[name] !== undefined && (typeof options[name] !== 'object' || options[name] === null)) {
      throw new InvalidOptionError(name, 'an object', options[name]);
    }
  }
  return {
    proxy: options.proxy === undefined ? undefined : parseProxyUrl(options.proxy, 'proxy'),
    noProxy: options.noProxy,
    credentials: options.credentials,
    credentialsTimeoutMs: timeout,
    negotiate,
    tls: options.tls,
    proxyTls: options.proxyTls,
    env: options.env ?? process.env,
  };
}

/** Defaults of `redisCoordination` (`apifetch/redis`), kept apart so apps without Redis do not ship them. */
export const redisDefaults = {
  lockTtlMs: 2000,
  lockRetryMs: 20,
} as const;

/** The subscriber connection: `client.duplicate()`. */
export interface RedisSubscriberClient {
  /** Connect (the coordination connects only a subscriber it made with `client.duplicate()`). */
  connect(): Promise<unknown>;
  /** `SUBSCRIBE` to the session's channel. */
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  /** Errors of the connection, which reconnects by itself. */
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** Emitted once subscribed again after a reconnection (node-redis resubscribes before `ready`). */
  on(event: 'ready', listener: () => void): unknown;
  /** Close the connection (the coordination's `close()`, for a subscriber it made). */
  close(): Promise<unknown>;
}

/** Options of `redisCoordination`. */
export interface RedisCoordinationOptions {
  /**
   * Names this session in Redis: the state (tokens and their generation) is the hash `<key>`, the lock is the key
   * `mutex:<key>:lock`, messages go on the channel `<key>:messages`. The hash and the channel carry the tokens: whoever
   * may read that key or subscribe to that channel may use the session.
   * @example 'apifetch:xero'
   */
  key: string;
  /**
   * Expiry of the lock in ms: how long a holder that crashed can keep the others from refreshing. A live holder
   * extends it every 0.8 × this, so it may refresh for longer. Keep it well under the session's `refreshTimeoutMs`
   * (5000 by default): a waiter gives up at that timeout.
   * @default 2000
   */
  lockTtlMs?: number;
  /**
   * How often a process waiting for the lock tries again, in ms.
   * @default 20
   */
  lockRetryMs?: number;
  /**
   * The connection that subscribes to the messages, connected. A subscribed connection runs no other command, so it is
   * a second one.
   * @default client.duplicate(), connected here and closed by `close()`
   */
  subscriber?: RedisSubscriberClient;
}

/** `redisCoordination`'s options, validated and defaulted. */
export interface ResolvedRedisOptions {
  key: string;
  /** At least 10 ms, at most `maxTimerMs`. */
  lockTtlMs: number;
  lockRetryMs: number;
  /** undefined: `client.duplicate()`, connected and closed by the coordination. */
  subscriber: RedisSubscriberClient | undefined;
}

/** Validate `redisCoordination`'s options and fill defaults. */
export function resolveRedisOptions(options: RedisCoordinationOptions): ResolvedRedisOptions {
  if (!isObject(options)) throw new InvalidOptionError('redisCoordination(options)', 'an object', options);
  onlyKnown(options, 'key lockTtlMs lockRetryMs subscriber', '', 'RedisCoordinationOptions');
  const { key, subscriber } = options;
  if (typeof key !== 'string' || key === '') throw new InvalidOptionError('key', 'a non-empty string', key);
  const given = subscriber as Partial<Record<'connect' | 'subscribe' | 'on' | 'close', unknown>> | undefined;
  if (
    given !== undefined &&
    (!isObject(given) || ['connect', 'subscribe', 'on', 'close'].some((m) => typeof given[m as 'on'] !== 'function'))
  ) {
    throw new InvalidOptionError('subscriber', 'a node-redis connection (client.duplicate())', subscriber);
  }
  const d = redisDefaults;
  return {
    key,
    lockTtlMs: Math.min(numberAtLeast(options.lockTtlMs ?? d.lockTtlMs, 10, 'lockTtlMs', true), maxTimerMs),
    lockRetryMs: numberAtLeast(options.lockRetryMs ?? d.lockRetryMs, 1, 'lockRetryMs', true),
    subscriber,
  };
}
