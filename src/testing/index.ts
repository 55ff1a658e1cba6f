import { delay, HttpResponse, http, type RequestHandler } from 'msw';
import type { RefreshContext } from '../auth/refresh.js';
import type { TokenSet } from '../auth/tokens.js';
import type { RetryOptions } from '../retry/policy.js';

/** A JSON body. */
export type MockBody = Record<string, unknown> | readonly unknown[] | string | number | boolean | null;

/** A protected route of the mock API. */
export interface MockRoute {
  /**
   * Method to match (upper case); others get 405.
   * @default any method
   */
  method?: string;
  /**
   * Scopes the access token must carry; a token without them gets 403 `insufficient_scope`.
   * @default []
   */
  scopes?: readonly string[];
  /**
   * The JSON body of a success, or a function of the request and the user that returns it.
   * @default { ok: true }
   */
  body?: MockBody | ((request: Request, user: string) => MockBody);
}

/** Options of `mockAuthApi`. */
export interface MockAuthApiOptions {
  /** Origin (and optional path prefix) of the mocked API, e.g. `https://api.example.test`. */
  baseUrl: string;
  /**
   * Protected routes, by path below `baseUrl` (exact match, e.g. `/me`).
   * @default { '/me': {} }
   */
  routes?: Record<string, MockRoute>;
  /**
   * Path of the OAuth-style token endpoint (grants `password` and `refresh_token`, JSON or form body).
   * @default '/oauth/token'
   */
  tokenPath?: string;
  /**
   * Users who can sign in with the `password` grant, with their scopes.
   * @default { user: { password: 'password', scopes: [] } }
   */
  users?: Record<string, { password: string; scopes?: readonly string[] }>;
  /**
   * Lifetime of access tokens in ms (their JWT `exp` says so too, so proactive refresh works).
   * @default 60000
   */
  accessTokenTtlMs?: number;
  /**
   * Rotating refresh tokens: a reused one revokes its whole family, as real authorization servers do.
   * @default true
   */
  reuseDetection?: boolean;
  /**
   * Delay of every answer in ms (msw's `delay`, which fake timers control).
   * @default 0
   */
  latencyMs?: number;
  /**
   * Clock in epoch ms, for token lifetimes.
   * @default Date.now
   */
  now?: () => number;
}

/** What the mock API counted, for assertions. */
export interface MockAuthApiStats {
  /** Calls of the token endpoint with the `refresh_token` grant. */
  refreshes: number;
  /** Calls of the token endpoint with the `password` grant. */
  logins: number;
  /** Requests per protected path (preflights not counted). */
  requests: Record<string, number>;
  /** Answers per status, across protected routes and the token endpoint. */
  statuses: Record<number, number>;
  /** Reused refresh tokens seen (each revoked a family). */
  reuseDetected: number;
}

/** Options of `failNext`. */
export interface FailOptions {
  /** @default 503 */
  status?: number;
  /** `Retry-After` in seconds. */
  retryAfter?: number;
  /** Only requests to this path fail. @default every protected route */
  path?: string;
}

/** The mock API: msw handlers plus controls and counters. */
export interface MockAuthApi {
  /** Pass to `setupServer(...handlers)` or `setupWorker(...handlers)`. */
  handlers: RequestHandler[];
  stats: MockAuthApiStats;
  /** Issue tokens for `username` without a request (for `api.auth.setTokens`). */
  login(username?: string): TokenSet;
  /** A ready `auth.refresh` for `createApiFetch` that calls the mock token endpoint with `fetch`. */
  refresh(ctx: RefreshContext): Promise<TokenSet>;
  /** Make every access token issued so far expired (the next request with one gets 401 `invalid_token`). */
  expireTokens(): void;
  /** Revoke everything: access tokens and refresh tokens (a refresh then fails with 400 `invalid_grant`). */
  revoke(): void;
  /** Give a user more scopes; tokens issued afterwards carry them. */
  grantScopes(scopes: readonly string[], username?: string): void;
  /** The next `count` protected requests fail with `status` (503 by default), with an optional `Retry-After`. */
  failNext(count: number, options?: FailOptions): void;
  /** Zero the counters. */
  resetStats(): void;
}

const cors = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type, idempotency-key',
  'access-control-expose-headers': 'www-authenticate, retry-after',
};

const base64url = (value: unknown) =>
  btoa(JSON.stringify(value)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

interface Grant {
  user: string;
  scopes: readonly string[];
  expiresAt: number;
}

/**
 * A realistic auth-protected API for your tests, as msw handlers: a token endpoint with rotating refresh tokens,
 * protected routes that answer like a resource server (401 `invalid_token`, 403 `insufficient_scope` with
 * problem+json), CORS preflights, and controls for expiry, revocation, scopes and failures.
 *
 * @example
 * const mock = mockAuthApi({ baseUrl: 'https://api.example.test', routes: { '/me': { body: { name: 'Ada' } } } });
 * const server = setupServer(...mock.handlers);
 * const api = createApiFetch({ baseUrl: 'https://api.example.test', auth: { tokens: mock.login(), refresh: mock.refresh }, ...testingOptions });
 */
export function mockAuthApi(options: MockAuthApiOptions): MockAuthApi {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const tokenPath = options.tokenPath ?? '/oauth/token';
  const routes = options.routes ?? { '/me': {} };
  const users = new Map(
    Object.entries(options.users ?? { user: { password: 'password', scopes: [] } }).map(([name, u]) => [
      name,
      { password: u.password, scopes: [...(u.scopes ?? [])] },
    ]),
  );
  const ttl = options.accessTokenTtlMs ?? 60_000;
  const reuseDetection = options.reuseDetection ?? true;
  const now = options.now ?? Date.now;
  const accessTokens = new Map<string, Grant>();
  const refreshTokens = new Map<string, { user: string; family: number; used: boolean }>();
  const revokedFamilies = new Set<number>();
  let families = 0;
  let serial = 0;
  const failures: (FailOptions & { remaining: number })[] = [];
  const stats: MockAuthApiStats = { refreshes: 0, logins: 0, requests: {}, statuses: {}, reuseDetected: 0 };

  const issue = (user: string, family = ++families): TokenSet => {
    serial += 1;
    const scopes = users.get(user)?.scopes ?? [];
    const expiresAt = now() + ttl;
    const accessToken = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({
      sub: user,
      scope: scopes.join(' '),
      exp: Math.floor(expiresAt / 1000),
      jti: `at-${serial}`,
    })}.mock`;
    const refreshToken = `rt-${serial}`;
    accessTokens.set(accessToken, { user, scopes: [...scopes], expiresAt });
    refreshTokens.set(refreshToken, { user, family, used: false });
    return { accessToken, refreshToken, expiresAt };
  };

  const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
    const problem = status >= 400 && typeof body === 'object' && body !== null && 'title' in body;
    return HttpResponse.json(body as Record<string, unknown>, {
      status,
      headers: { ...cors, 'content-type': problem ? 'application/problem+json' : 'application/json', ...headers },
    });
  };

  const tokenEndpoint = async (request: Request) => {
    const type = request.headers.get('content-type') ?? '';
    const text = await request.text();
    const form: Record<string, string> = type.includes('json')
      ? (JSON.parse(text || '{}') as Record<string, string>)
      : Object.fromEntries(new URLSearchParams(text));
    const grantType = form.grant_type ?? (form.refresh_token ? 'refresh_token' : 'password');
    if (grantType === 'password') {
      stats.logins += 1;
      const user = users.get(form.username ?? '');
      if (!user || user.password !== form.password) return reply(400, { error: 'invalid_grant' });
      return reply(200, wire(issue(form.username as string)));
    }
    stats.refreshes += 1;
    const entry = refreshTokens.get(form.refresh_token ?? '');
    if (!entry || revokedFamilies.has(entry.family)) return reply(400, { error: 'invalid_grant' });
    if (entry.used && reuseDetection) {
      stats.reuseDetected += 1;
      revokedFamilies.add(entry.family);
      return reply(400, { error: 'invalid_grant', error_description: 'refresh token reused' });
    }
    entry.used = true;
    return reply(200, wire(issue(entry.user, entry.family)));
  };

  const wire = (t: TokenSet) => ({
    access_token: t.accessToken,
    refresh_token: t.refreshToken,
    token_type: 'Bearer',
    expires_in: Math.round(ttl / 1000),
  });

  const resource = (request: Request, path: string, route: MockRoute) => {
    stats.requests[path] = (stats.requests[path] ?? 0) + 1;
    const failure = failures.find((f) => f.path === undefined || f.path === path);
    if (failure) {
      failure.remaining -= 1;
      if (failure.remaining <= 0) failures.splice(failures.indexOf(failure), 1);
      const status = failure.status ?? 503;
      return reply(
        status,
        { title: 'Simulated failure', status },
        failure.retryAfter === undefined ? {} : { 'retry-after': String(failure.retryAfter) },
      );
    }
    const token = (request.headers.get('authorization') ?? '').replace(/^Bearer\s+/i, '');
    const grant = accessTokens.get(token);
    if (!grant || grant.expiresAt <= now()) {
      const error = token ? 'invalid_token' : undefined;
      return reply(
        401,
        { title: 'Unauthorized', status: 401 },
        {
          'www-authenticate': error ? `Bearer realm="mock", error="${error}"` : 'Bearer realm="mock"',
        },
      );
    }
    if (route.method && route.method.toUpperCase() !== request.method) {
      return reply(405, { title: 'Method Not Allowed', status: 405 });
    }
    const missing = (route.scopes ?? []).filter((s) => !grant.scopes.includes(s));
    if (missing.length > 0) {
      const scope = (route.scopes ?? []).join(' ');
      return reply(
        403,
        { type: 'about:blank', title: 'Forbidden', status: 403, detail: `requires scope ${scope}` },
        { 'www-authenticate': `Bearer realm="mock", error="insufficient_scope", scope="${scope}"` },
      );
    }
    const body = typeof route.body === 'function' ? route.body(request, grant.user) : (route.body ?? { ok: true });
    return reply(200, body);
  };

  const handler = http.all(`${baseUrl}/*`, async ({ request }) => {
    if (options.latencyMs) await delay(options.latencyMs);
    if (request.method === 'OPTIONS') return new HttpResponse(null, { status: 204, headers: cors });
    const path = new URL(request.url).pathname.slice(new URL(baseUrl).pathname.replace(/\/$/, '').length);
    if (path === tokenPath && request.method === 'POST') return tokenEndpoint(request);
    const route = routes[path];
    if (!route) return reply(404, { title: 'Not Found', status: 404 });
    return resource(request, path, route);
  });

  return {
    handlers: [handler],
    stats,
    login: (username = users.keys().next().value ?? 'user') => issue(username),
    async refresh({ tokens, signal }) {
      const response = await fetch(`${baseUrl}${tokenPath}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: tokens?.refreshToken }),
        signal,
      });
      const body = (await response.json()) as { access_token: string; refresh_token: string; expires_in: number };
      if (!response.ok)
        throw Object.assign(new Error(`token endpoint answered ${response.status}`), { status: response.status });
      return {
        accessToken: body.access_token,
        refreshToken: body.refresh_token,
        expiresAt: now() + body.expires_in * 1000,
      };
    },
    expireTokens() {
      for (const grant of accessTokens.values()) grant.expiresAt = Math.min(grant.expiresAt, now());
    },
    revoke() {
      accessTokens.clear();
      for (const entry of refreshTokens.values()) revokedFamilies.add(entry.family);
    },
    grantScopes(scopes, username) {
      const name = username ?? users.keys().next().value;
      const user = name === undefined ? undefined : users.get(name);
      if (user) user.scopes = [...new Set([...user.scopes, ...scopes])];
    },
    failNext(count, fail = {}) {
      if (count > 0) failures.push({ ...fail, remaining: count });
    },
    resetStats() {
      Object.assign(stats, { refreshes: 0, logins: 0, requests: {}, statuses: {}, reuseDetected: 0 });
    },
  };
}

/** Retry settings for tests: no backoff waits and a fixed jitter, so suites never sleep and are deterministic. */
export const instantRetry: RetryOptions = { baseDelayMs: 0, maxDelayMs: 0, random: () => 0 };

/**
 * Spread into `createApiFetch` options in tests: instant, deterministic retries and refresh retries.
 * Retry-After from the server is still honoured (use fake timers, or `failNext` without `retryAfter`).
 */
export const testingOptions = { retry: instantRetry } as const;
