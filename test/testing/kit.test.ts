import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { mockAuthApi } from '../../src/testing/index.js';

// The kit over plain fetch: what a resource server and a token endpoint answer, control by control.
const baseUrl = 'https://api.example.test';
let clock = Date.UTC(2030, 0, 1);
const mock = mockAuthApi({
  baseUrl,
  now: () => clock,
  accessTokenTtlMs: 120_000,
  users: { ada: { password: 'pw', scopes: ['read'] }, bob: { password: 'pw2' } },
  routes: {
    '/me': { body: ({ user, scopes }) => ({ name: user, scopes }) },
    '/admin': { scopes: ['admin', 'write'] },
    '/items': { method: 'GET', body: [] },
    '/items/:id': { body: async ({ params, request }) => ({ id: params.id, method: request.method }) },
    '/created': { status: 201, body: { id: 1 } },
    '/empty': { status: 204 },
  },
});
const server = setupServer(...mock.handlers);

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  vi.useRealTimers();
  mock.reset();
});
afterAll(() => server.close());

const token = (grant: Record<string, string>, json = false) =>
  fetch(`${baseUrl}/oauth/token`, {
    method: 'POST',
    ...(json
      ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(grant) }
      : { body: new URLSearchParams(grant) }),
  });
const get = (path: string, accessToken?: string, init: RequestInit = {}) =>
  fetch(`${baseUrl}${path}`, {
    ...init,
    headers: accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` },
  });
const claims = (jwt: string) =>
  JSON.parse(atob(jwt.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;

describe('token endpoint', () => {
  it('password grant (form or JSON) issues a Bearer token response that is never cached', async () => {
    for (const json of [false, true]) {
      const response = await token({ grant_type: 'password', username: 'ada', password: 'pw' }, json);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      const body = (await response.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 120, scope: 'read' });
      expect(body.refresh_token).toMatch(/^rt-/);
      expect((await get('/me', body.access_token as string)).status).toBe(200);
    }
    expect(mock.stats.logins).toBe(2);
  });

  it('a sub-second token lifetime still says expires_in 1, never 0', async () => {
    const brief = mockAuthApi({ baseUrl: 'https://brief.example.test', accessTokenTtlMs: 400 });
    server.use(...brief.handlers);
    const response = await fetch('https://brief.example.test/oauth/token', {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', username: 'user', password: 'password' }),
    });
    expect(await response.json()).toMatchObject({ expires_in: 1 });
  });

  it('answers OAuth errors with 400 and an error code', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ grant_type: 'password', username: 'ada', password: 'nope' }, 'invalid_grant'],
      [{ grant_type: 'password', username: 'eve', password: 'pw' }, 'invalid_grant'],
      [{ username: 'ada', password: 'pw' }, 'invalid_request'],
      [{ grant_type: 'client_credentials' }, 'unsupported_grant_type'],
      [{ grant_type: 'refresh_token', refresh_token: 'rt-forged' }, 'invalid_grant'],
    ];
    for (const [grant, error] of cases) {
      const response = await token(grant);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error });
    }
    const malformed = await fetch(`${baseUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(await malformed.json()).toMatchObject({ error: 'invalid_request' });
    const wrongMethod = await fetch(`${baseUrl}/oauth/token`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
  });

  it('issues unsigned JWTs whose exp matches the TTL, so clients can refresh proactively', () => {
    const tokens = mock.login('ada');
    const [header] = tokens.accessToken.split('.');
    expect(JSON.parse(atob(header!))).toEqual({ alg: 'none', typ: 'JWT' });
    expect(claims(tokens.accessToken)).toMatchObject({
      iss: baseUrl,
      sub: 'ada',
      scope: 'read',
      iat: clock / 1000,
      exp: (clock + 120_000) / 1000,
    });
    expect(tokens.expiresAt).toBe(clock + 120_000);
  });

  it('rotates refresh tokens, and a reused one revokes the whole family', async () => {
    const first = mock.login('ada');
    const other = mock.login('ada');
    const rotated = (await (
      await token({ grant_type: 'refresh_token', refresh_token: first.refreshToken! })
    ).json()) as Record<string, string>;
    expect(rotated.refresh_token).not.toBe(first.refreshToken);
    expect(mock.stats.refreshes).toBe(1);

    const reuse = await token({ grant_type: 'refresh_token', refresh_token: first.refreshToken! });
    expect(await reuse.json()).toMatchObject({ error: 'invalid_grant' });
    expect(mock.stats.reuseDetected).toBe(1);
    const descendant = await token({ grant_type: 'refresh_token', refresh_token: rotated.refresh_token! });
    expect(descendant.status).toBe(400);
    // Another sign-in is another family: untouched.
    expect((await token({ grant_type: 'refresh_token', refresh_token: other.refreshToken! })).status).toBe(200);
    expect(mock.stats.refreshes).toBe(4);
  });

  it('without reuse detection a reused refresh token still works, and is counted', async () => {
    const lax = mockAuthApi({ baseUrl: 'https://lax.example.test', reuseDetection: false });
    server.use(...lax.handlers);
    const { refreshToken } = lax.login();
    const refresh = () =>
      fetch('https://lax.example.test/oauth/token', {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken! }),
      });
    expect((await refresh()).status).toBe(200);
    expect((await refresh()).status).toBe(200);
    expect(lax.stats.reuseDetected).toBe(1);
  });

  it('login() of an unknown user throws', () => {
    expect(() => mock.login('eve')).toThrow(/no user "eve"/);
  });
});

describe('protected routes', () => {
  it('answer a valid token with the route body, its path parameters and status', async () => {
    const { accessToken } = mock.login('ada');
    expect(await (await get('/me', accessToken)).json()).toEqual({ name: 'ada', scopes: ['read'] });
    expect(await (await get('/items/42', accessToken)).json()).toEqual({ id: '42', method: 'GET' });
    const created = await get('/created', accessToken, { method: 'POST' });
    expect([created.status, await created.json()]).toEqual([201, { id: 1 }]);
    const empty = await get('/empty', accessToken);
    expect([empty.status, await empty.text()]).toEqual([204, '']);
    expect(mock.stats.requests).toEqual({ '/me': 1, '/items/:id': 1, '/created': 1, '/empty': 1 });
    expect(mock.stats.statuses).toEqual({ 200: 2, 201: 1, 204: 1 });
  });

  it('a request without a token gets a bare Bearer challenge (RFC 6750 §3.1)', async () => {
    const response = await get('/me');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="api"');
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({ title: 'Unauthorized', status: 401 });
  });

  it('an unknown token gets 401 invalid_token', async () => {
    const response = await get('/me', 'forged');
    expect(response.headers.get('www-authenticate')).toBe(
      'Bearer realm="api", error="invalid_token", error_description="the access token is invalid or revoked"',
    );
  });

  it('expireTokens(): tokens issued so far get 401 invalid_token; later ones work', async () => {
    const { accessToken, refreshToken } = mock.login('ada');
    expect((await get('/me', accessToken)).status).toBe(200);
    mock.expireTokens();
    const expired = await get('/me', accessToken);
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(expired.headers.get('www-authenticate')).toContain('expired');
    const fresh = (await (await token({ grant_type: 'refresh_token', refresh_token: refreshToken! })).json()) as Record<
      string,
      string
    >;
    expect((await get('/me', fresh.access_token)).status).toBe(200);
  });

  it('the now clock decides expiry', async () => {
    const { accessToken } = mock.login('ada');
    clock += 119_999;
    expect((await get('/me', accessToken)).status).toBe(200);
    clock += 1;
    expect((await get('/me', accessToken)).status).toBe(401);
  });

  it('revoke(): access tokens get 401 and refresh tokens 400 invalid_grant; a new sign-in works', async () => {
    const { accessToken, refreshToken } = mock.login('ada');
    mock.revoke();
    expect((await get('/me', accessToken)).status).toBe(401);
    const refresh = await token({ grant_type: 'refresh_token', refresh_token: refreshToken! });
    expect(await refresh.json()).toMatchObject({ error: 'invalid_grant' });
    expect((await get('/me', mock.login('ada').accessToken)).status).toBe(200);
  });

  it('403 insufficient_scope with the required scopes and a problem+json body, until grantScopes()', async () => {
    const before = mock.login('ada');
    const forbidden = await get('/admin', before.accessToken);
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('www-authenticate')).toBe(
      'Bearer realm="api", error="insufficient_scope", scope="admin write"',
    );
    expect(forbidden.headers.get('content-type')).toBe('application/problem+json');
    expect(await forbidden.json()).toMatchObject({ type: 'about:blank', title: 'Forbidden', status: 403 });

    mock.grantScopes(['admin', 'write'], 'ada');
    // Scopes are fixed when a token is issued: the old token is still short of them.
    expect((await get('/admin', before.accessToken)).status).toBe(403);
    const after = mock.login('ada');
    expect(claims(after.accessToken).scope).toBe('read admin write');
    expect((await get('/admin', after.accessToken)).status).toBe(200);
    expect(() => mock.grantScopes(['x'], 'eve')).toThrow(/no user/);
  });

  it('grantScopes() defaults to the first user', async () => {
    mock.grantScopes(['admin', 'write']);
    expect((await get('/admin', mock.login().accessToken)).status).toBe(200);
    expect((await get('/admin', mock.login('bob').accessToken)).status).toBe(403);
  });

  it('405 with Allow for a wrong method (HEAD rides on GET, without a body), 404 for an unknown path', async () => {
    const { accessToken } = mock.login('ada');
    const post = await get('/items', accessToken, { method: 'POST' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET']);
    const head = await get('/items', accessToken, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
    expect((await get('/nowhere', accessToken)).status).toBe(404);
  });
});

describe('failNext()', () => {
  it('fails the next n requests before the token check, in the order given, then recovers', async () => {
    const { accessToken } = mock.login('ada');
    mock.failNext(1, { status: 429, retryAfter: 7 });
    mock.failNext(2);
    const statuses: (number | string | null)[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await get('/me', i === 0 ? undefined : accessToken);
      statuses.push(response.status, response.headers.get('retry-after'));
    }
    expect(statuses).toEqual([429, '7', 503, null, 503, null, 200, null]);
    expect(mock.stats.requests['/me']).toBe(4);
    expect(mock.stats.statuses).toEqual({ 429: 1, 503: 2, 200: 1 });
  });

  it('sends an HTTP-date Retry-After as given', async () => {
    const date = new Date(clock + 5_000).toUTCString();
    mock.failNext(1, { retryAfter: date });
    expect((await get('/me')).headers.get('retry-after')).toBe(date);
  });

  it('can target one route, or the token endpoint', async () => {
    const { accessToken, refreshToken } = mock.login('ada');
    mock.failNext(1, { path: '/items/:id' });
    mock.failNext(1, { path: '/oauth/token', status: 502 });
    expect((await get('/me', accessToken)).status).toBe(200);
    expect((await get('/items/1', accessToken)).status).toBe(503);
    expect((await token({ grant_type: 'refresh_token', refresh_token: refreshToken! })).status).toBe(502);
    expect((await token({ grant_type: 'refresh_token', refresh_token: refreshToken! })).status).toBe(200);
    expect(mock.stats.refreshes).toBe(2);
  });

  it('network: true makes fetch reject, as a dropped connection does', async () => {
    mock.failNext(1, { network: true });
    // A TypeError in Node and browsers; happy-dom throws its own NetworkError.
    await expect(get('/me')).rejects.toThrow(/fetch|network/i);
    expect((await get('/me')).status).toBe(401);
  });

  it('rejects a count that is not a whole number', () => {
    expect(() => mock.failNext(-1)).toThrow(RangeError);
    expect(() => mock.failNext(1.5)).toThrow(RangeError);
    expect(() => mock.failNext(Number.NaN)).toThrow(RangeError);
  });

  it('failNext(0) fails nothing', async () => {
    mock.failNext(0);
    const response = await fetch(`${baseUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: 'ada', password: 'pw' }),
    });
    expect(response.status).toBe(200);
  });
});

describe('CORS', () => {
  it('answers preflights without credentials, before routing', async () => {
    const response = await fetch(`${baseUrl}/admin`, { method: 'OPTIONS' });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-methods')).toContain('PUT');
    expect(response.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    expect(response.headers.get('access-control-max-age')).toBe('600');
    // happy-dom sends a preflight of its own before an OPTIONS request to another origin; Node does not.
    expect(mock.stats.preflights).toBe(typeof document === 'undefined' ? 1 : 2);
    expect(mock.stats.requests).toEqual({});
    expect(mock.stats.statuses).toEqual({});
  });

  // Echoing the preflight's Origin and Access-Control-Request-Headers: test/testing/cors.node.test.ts (Node only).

  it('every answer exposes WWW-Authenticate and Retry-After', async () => {
    mock.failNext(1, { status: 429, retryAfter: 1 });
    for (const response of [await get('/me'), await get('/me')]) {
      const exposed = response.headers.get('access-control-expose-headers')?.toLowerCase();
      expect(exposed).toContain('www-authenticate');
      expect(exposed).toContain('retry-after');
      expect(response.headers.get('access-control-allow-origin')).toBeTruthy();
    }
  });
});

describe('options and resets', () => {
  it('latencyMs delays every answer on the (fake) clock', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const slow = mockAuthApi({ baseUrl: 'https://slow.example.test', latencyMs: 1_000 });
    server.use(...slow.handlers);
    let settled = false;
    const pending = fetch('https://slow.example.test/me').then((response) => {
      settled = true;
      return response.status;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).toBe(false);
    // happy-dom preflights cross-origin requests, and the preflight waits too: run every timer.
    await vi.runAllTimersAsync();
    expect(await pending).toBe(401);
  });

  it('serves below a path prefix and a custom token path and realm', async () => {
    const prefixed = mockAuthApi({ baseUrl: 'https://example.test/v1/', tokenPath: '/token', realm: 'shop' });
    server.use(...prefixed.handlers);
    expect(prefixed.baseUrl).toBe('https://example.test/v1');
    const response = await fetch('https://example.test/v1/token', {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', username: 'user', password: 'password' }),
    });
    const { access_token } = (await response.json()) as Record<string, string>;
    const me = await fetch('https://example.test/v1/me', { headers: { authorization: `Bearer ${access_token}` } });
    expect(await me.json()).toEqual({ ok: true });
    expect((await fetch('https://example.test/v1/me')).headers.get('www-authenticate')).toBe('Bearer realm="shop"');
  });

  it('reset() forgets tokens, pending failures, granted scopes and counts', async () => {
    const { accessToken } = mock.login('ada');
    mock.grantScopes(['admin', 'write'], 'ada');
    mock.failNext(5);
    await get('/me', accessToken);
    mock.reset();
    expect(mock.stats).toEqual({
      refreshes: 0,
      logins: 0,
      requests: {},
      statuses: {},
      preflights: 0,
      reuseDetected: 0,
      nonceDemands: 0,
      invalidProofs: 0,
    });
    expect((await get('/me', accessToken)).status).toBe(401);
    expect((await get('/admin', mock.login('ada').accessToken)).status).toBe(403);
  });

  it('resetStats() only zeroes the counters', async () => {
    const { accessToken } = mock.login('ada');
    await get('/me', accessToken);
    mock.resetStats();
    expect(mock.stats.requests).toEqual({});
    expect((await get('/me', accessToken)).status).toBe(200);
  });
});
