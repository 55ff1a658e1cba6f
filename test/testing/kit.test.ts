import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApiFetch, ForbiddenError, isUnauthenticatedError, type UnauthenticatedError } from '../../src/index.js';
import { mockAuthApi, testingOptions } from '../../src/testing/index.js';

const baseUrl = 'https://api.example.test';
const mock = mockAuthApi({
  baseUrl,
  users: { ada: { password: 'pw', scopes: ['read'] } },
  routes: {
    '/me': { body: (_request, user) => ({ name: user }) },
    '/admin': { scopes: ['admin'] },
    '/items': { method: 'GET' },
  },
});
const server = setupServer(...mock.handlers);

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => {
  server.resetHandlers();
  mock.resetStats();
});
afterAll(() => server.close());

function client(onUnauthenticated = vi.fn(), onForbidden = vi.fn()) {
  const api = createApiFetch({
    baseUrl,
    auth: { tokens: mock.login('ada'), refresh: mock.refresh },
    onUnauthenticated,
    onForbidden,
    ...testingOptions,
  });
  return { api, onUnauthenticated, onForbidden };
}

describe('mockAuthApi', () => {
  it('serves protected routes to a valid token and counts requests', async () => {
    const { api } = client();
    expect(await api.get('me').json()).toEqual({ name: 'ada' });
    expect(mock.stats.requests['/me']).toBe(1);
    expect(mock.stats.statuses[200]).toBe(1);
  });

  it('the password grant signs in; wrong passwords get invalid_grant', async () => {
    const ok = await fetch(`${baseUrl}/oauth/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', username: 'ada', password: 'pw' }),
    });
    expect(await ok.json()).toMatchObject({ token_type: 'Bearer', expires_in: 60 });
    const bad = await fetch(`${baseUrl}/oauth/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'password', username: 'ada', password: 'nope' }),
    });
    expect(bad.status).toBe(400);
    expect(mock.stats.logins).toBe(2);
  });

  it('expireTokens(): the next request gets 401 invalid_token and the client refreshes once', async () => {
    const { api } = client();
    await api.get('me').json();
    mock.expireTokens();
    const results = await Promise.all([api.get('me').json(), api.get('me').json(), api.get('me').json()]);
    expect(results).toHaveLength(3);
    expect(mock.stats.refreshes).toBe(1);
    expect(mock.stats.statuses[401]).toBe(3);
  });

  it('issues JWT-shaped tokens with exp, so proactive refresh works', async () => {
    const tokens = mock.login('ada');
    const payload = JSON.parse(atob(tokens.accessToken.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/')));
    expect(payload).toMatchObject({ sub: 'ada', scope: 'read' });
    expect(payload.exp * 1000).toBeCloseTo(tokens.expiresAt!, -4);
  });

  it('403 insufficient_scope with problem+json until grantScopes()', async () => {
    const { api, onForbidden } = client();
    const error = (await api.get('admin').catch((e: unknown) => e)) as ForbiddenError;
    expect(error).toBeInstanceOf(ForbiddenError);
    expect(error.requiredScopes).toEqual(['admin']);
    expect(error.problem).toMatchObject({ title: 'Forbidden', status: 403 });
    expect(onForbidden).toHaveBeenCalledTimes(1);
    mock.grantScopes(['admin'], 'ada');
    await api.auth.refresh();
    expect(await api.get('admin').json()).toEqual({ ok: true });
  });

  it('revoke(): the refresh fails with invalid_grant and the user is signed out once', async () => {
    const { api, onUnauthenticated } = client();
    mock.revoke();
    const errors = await Promise.all([api.get('me').catch((e) => e), api.get('me').catch((e) => e)]);
    expect(errors.every((e) => isUnauthenticatedError(e))).toBe(true);
    expect((errors[0] as UnauthenticatedError).reason).toBe('refresh_failed');
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
  });

  it('detects refresh-token reuse and revokes the family', async () => {
    const tokens = mock.login('ada');
    const use = () =>
      fetch(`${baseUrl}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: tokens.refreshToken }),
      });
    const first = (await (await use()).json()) as { refresh_token: string };
    expect((await use()).status).toBe(400);
    expect(mock.stats.reuseDetected).toBe(1);
    const next = await fetch(`${baseUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: first.refresh_token }),
    });
    expect(next.status).toBe(400);
  });

  it('failNext(): flaky 503s are retried instantly with testingOptions', async () => {
    const { api } = client();
    mock.failNext(2, { status: 503 });
    expect(await api.get('me').json()).toEqual({ name: 'ada' });
    expect(mock.stats.requests['/me']).toBe(3);
    expect(mock.stats.statuses[503]).toBe(2);
  });

  it('failNext() with retryAfter sends Retry-After, and can target one path', async () => {
    mock.failNext(1, { status: 429, retryAfter: 7, path: '/items' });
    const me = await fetch(`${baseUrl}/me`);
    expect(me.status).toBe(401);
    const items = await fetch(`${baseUrl}/items`);
    expect(items.status).toBe(429);
    expect(items.headers.get('retry-after')).toBe('7');
  });

  it('answers CORS preflights and exposes WWW-Authenticate and Retry-After', async () => {
    const response = await fetch(`${baseUrl}/me`, { method: 'OPTIONS' });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-expose-headers')).toContain('www-authenticate');
    expect(response.headers.get('access-control-allow-headers')).toContain('authorization');
  });

  it('405 for a wrong method and 404 for an unknown route', async () => {
    const { api } = client();
    await expect(api.post('items')).rejects.toMatchObject({ response: { status: 405 } });
    await expect(api.get('nowhere')).rejects.toMatchObject({ response: { status: 404 } });
  });
});
