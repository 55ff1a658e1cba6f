import { isInsecureOrigin, toOrigin } from './auth/origins.js';
import type { LockFunction, RefreshContext } from './auth/refresh.js';
import type { TokenSet, TokenStore } from './auth/tokens.js';
import { tokenSetProblem, tokenSetShape } from './auth/tokens.js';
import { type ForbiddenError, InvalidOptionError, type UnauthenticatedError } from './errors.js';
import type { ApiFetchEvent } from './events.js';
import type { RetryOptions } from './retry/policy.js';

/** What `auth.getAccessToken` may return: a token, or nothing to send no `Authorization` header. */
export type MaybeToken = string | null | undefined;

/** Bearer authentication. */
export interface AuthOptions {
  /**
   * Returns the current access token; read at send time, for every attempt. Use it when your app manages tokens
   * itself; apifetch then never refreshes (a 401 ends in `UnauthenticatedError` with reason `no_refresh`).
   * Leave it out to let apifetch hold the tokens (`tokens` / `store`) and refresh them (`refresh`); it cannot be
   * combined with those.
   * @default undefined
   */
  getAccessToken?: () => MaybeToken | Promise<MaybeToken>;
  /**
   * The initial tokens (written to `store`).
   * @default undefined (whatever `store` holds)
   */
  tokens?: TokenSet;
  /**
   * Where tokens live. Use `storageTokenStore(localStorage, key)` to keep them across reloads and share them
   * between tabs (the refresh is then coordinated across tabs). A store that throws never breaks a request:
   * apifetch goes on in memory and emits `store:fallback`.
   * @default memoryTokenStore()
   */
  store?: TokenStore;
  /**
   * Gets new tokens, typically from your token endpoint with the refresh token. Called by one request for all
   * (single flight); never goes through the auth layer, so call the endpoint with plain `fetch` or `ky` (or this
   * client with `auth: false`: a request that needs the token would wait for this very refresh).
   * Throw an error with `status` (or ky's `HTTPError`) to say how it failed: network errors (`TypeError` from fetch,
   * ky's `NetworkError`/`TimeoutError`), 408, 429 and 5xx are retried; anything else (400 `invalid_grant`, 401, an
   * error without `status`) signs the user out at once.
   * @default undefined (no refresh: a 401 is final)
   * @example refresh: async ({ tokens, signal }) => ky.post('/oauth/token', { json: { refresh_token: tokens?.refreshToken }, signal }).json()
   */
  refresh?: (ctx: RefreshContext) => Promise<TokenSet>;
  /**
   * Refresh before sending when the access token expires within this many ms (from `expiresAt`, else the JWT `exp`).
   * For tokens that live shorter than twice this, half their remaining life at the time they were obtained is used.
   * @default 30000
   */
  refreshLeewayMs?: number;
  /**
   * The longest a refresh may take, its retries and waits for a lock included; then `refresh_timeout` and the
   * refresh's `signal` aborts. A waiting request is also bounded by its own `timeout`: one that runs out first
   * ends in ky's `TimeoutError`, while the refresh goes on for the others. The default is half the default
   * `timeout`, so a request waiting on a hanging refresh ends in `refresh_timeout` and a good refresh leaves time
   * for the replay. Longer than 2^31 − 1 ms (`Infinity` included) counts as that, the longest a timer holds.
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
   * Runs a refresh while holding a named lock, so only one holder refreshes at a time. Plug a distributed lock for a
   * server cluster here.
   * @default Web Locks (`navigator.locks`) when the store has a key and the browser has them; else in-tab single flight
   * @example lock: (name, fn) => redlock.using([name], 10_000, fn)
   */
  lock?: LockFunction;
  /**
   * Random source in [0, 1) for the refresh retries' jitter.
   * @default Math.random
   */
  random?: () => number;
  /**
   * Extra origins (scheme + host + port, e.g. `"https://files.example.com"`) that may receive the token,
   * besides the origin of `baseUrl`. Matching is exact: no wildcards, no subdomains.
   * @default []
   */
  origins?: readonly string[];
  /**
   * Allow the token over plain `http:` to hosts other than loopback. Only for trusted networks.
   * @default false
   */
  allowInsecureHttp?: boolean;
}

/** Options of `createApiFetch`. */
export interface ApiFetchOptions {
  /**
   * Base URL that relative inputs resolve against (ky's `baseUrl`). Its origin receives the bearer token.
   * @default undefined (inputs must be absolute, or relative to the page in a browser)
   * @example 'https://api.example.com/v1/'
   */
  baseUrl?: string | URL;
  /**
   * Headers sent with every request; per-request headers win.
   * @default {}
   */
  headers?: HeadersInit;
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
   * Clock in epoch ms, injectable for tests.
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

export interface ResolvedOptions {
  baseUrl: string | undefined;
  headers: HeadersInit | undefined;
  timeout: number | false;
  fetch: ((input: Request, init?: RequestInit) => Promise<Response>) | undefined;
  auth: AuthOptions | false;
  /** Exact origins that may receive the token: `baseUrl`'s and `auth.origins`. */
  tokenOrigins: readonly string[];
  onUnauthenticated: ((error: UnauthenticatedError) => void) | undefined;
  onForbidden: ((error: ForbiddenError) => void) | undefined;
  onEvent: ((event: ApiFetchEvent) => void) | undefined;
  now: () => number;
}

/** A value that may be a token (a string passed where a function or object belongs): never put it in a message. */
export const hidden = <T>(value: T): T | { toString(): string } =>
  typeof value === 'string' ? { toString: () => 'a string (not shown: it may be a token)' } : value;

const isObject = (value: unknown): value is object =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Check a function-valued option. */
export function optionalFunction<T>(value: T | undefined, option: string): T | undefined {
  if (value !== undefined && typeof value !== 'function') throw new InvalidOptionError(option, 'a function', value);
  return value;
}

/** Check a number option against an inclusive lower bound. */
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

/** Validate and fill defaults. Throws `InvalidOptionError` naming the first bad option. */
export function resolveOptions(options: ApiFetchOptions): ResolvedOptions {
  if (!isObject(options)) throw new InvalidOptionError('options', 'an object', options);
  let baseUrl: string | undefined;
  const tokenOrigins: string[] = [];
  /** The origins the app named, with the option that named them. */
  const named: (readonly [option: string, origin: string])[] = [];
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
    tokenOrigins.push(toOrigin(absolute, 'baseUrl'));
    named.push(['baseUrl', tokenOrigins[0] as string]);
  } else {
    // In a browser, requests without a base go to the page's own origin (`api.get('/api/me')`): it gets the token.
    const page = (globalThis as { location?: { origin?: unknown } }).location?.origin;
    if (typeof page === 'string' && /^https?:\/\//.test(page)) tokenOrigins.push(page);
  }
  const timeout = options.timeout === false ? false : timerMs(options.timeout ?? 10_000, 1, 'timeout');
  const auth = options.auth ?? {};
  if (auth !== false) {
    if (!isObject(auth)) throw new InvalidOptionError('auth', 'an object or false', auth);
    optionalFunction(hidden(auth.getAccessToken), 'auth.getAccessToken');
    if (auth.getAccessToken !== undefined) {
      const managed = (['tokens', 'store', 'refresh'] as const).find((name) => auth[name] !== undefined);
      // Two sources of truth for the token would disagree after the first refresh.
      if (managed) {
        throw new InvalidOptionError(
          'auth.getAccessToken',
          `left out when \`auth.${managed}\` is set (apifetch then holds the tokens)`,
          auth.getAccessToken,
        );
      }
    }
    if (auth.origins !== undefined) {
      if (!Array.isArray(auth.origins))
        throw new InvalidOptionError('auth.origins', 'an array of origins', auth.origins);
      auth.origins.forEach((origin, i) => {
        const option = `auth.origins[${i}]`;
        const normalised = toOrigin(origin, option);
        tokenOrigins.push(normalised);
        named.push([option, normalised]);
      });
    }
    optionalBoolean(auth.allowInsecureHttp, 'auth.allowInsecureHttp');
    // A token source with a plain-http origin would silently never send the token: say so now.
    const hasTokens = auth.getAccessToken ?? auth.tokens ?? auth.store ?? auth.refresh;
    const insecure = named.find(([, origin]) => isInsecureOrigin(origin));
    if (hasTokens !== undefined && auth.allowInsecureHttp !== true && insecure) {
      throw new InvalidOptionError(
        insecure[0],
        'https: (or http: to a loopback host); set `auth.allowInsecureHttp: true` to send the token over plain http',
        insecure[1],
      );
    }
    const tokensProblem = auth.tokens === undefined ? undefined : tokenSetProblem(auth.tokens);
    if (tokensProblem !== undefined) {
      throw new InvalidOptionError('auth.tokens', `${tokenSetShape}: ${tokensProblem}`, hidden(auth.tokens));
    }
    if (auth.store !== undefined) {
      const store = auth.store as Partial<Record<'get' | 'set' | 'clear', unknown>> | null;
      if (!store || ['get', 'set', 'clear'].some((m) => typeof store[m as 'get'] !== 'function')) {
        throw new InvalidOptionError('auth.store', 'a TokenStore with get, set and clear', auth.store);
      }
    }
    optionalFunction(auth.refresh, 'auth.refresh');
    optionalFunction(auth.lock, 'auth.lock');
    optionalFunction(auth.random, 'auth.random');
    for (const [name, min, integer] of [
      ['refreshLeewayMs', 0, false],
      ['refreshTimeoutMs', 1, false],
      ['refreshRetries', 0, true],
      ['maxRefreshes', 1, true],
      ['refreshWindowMs', 1, false],
    ] as const) {
      if (auth[name] !== undefined) numberAtLeast(auth[name], min, `auth.${name}`, integer);
    }
  }
  return {
    baseUrl,
    headers: options.headers,
    timeout,
    fetch: optionalFunction(options.fetch, 'fetch'),
    auth,
    tokenOrigins,
    onUnauthenticated: optionalFunction(options.onUnauthenticated, 'onUnauthenticated'),
    onForbidden: optionalFunction(options.onForbidden, 'onForbidden'),
    onEvent: optionalFunction(options.onEvent, 'onEvent'),
    now: optionalFunction(options.now, 'now') ?? Date.now,
  };
}
