import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type ApiFetchOptions,
  createApiFetch,
  createTokenSession,
  ForbiddenError,
  isRetryAfterTooLongError,
  isUnauthenticatedError,
  type UnauthenticatedError,
} from '../../src/index.js';
import { instantRetry, mockAuthApi, testingOptions } from '../../src/testing/index.js';

// The kit driving the real client: every control, as a user's test would use it.
let clock = Date.UTC(2030, 0, 1);
const now = () => clock;
const mock = mockAuthApi({
  baseUrl: 'https://api.example.test',
  now,
  accessTokenTtlMs: 300_000,
  users: { ada: { password: 'pw', scopes: ['read'] } },
  routes: {
    '/me': { body: ({ user }) => ({ name: user }) },
    '/admin': { scopes: ['admin'], body: { secret: 42 } },
    '/orders': { method: 'POST', status: 201, body: async ({ request }) => ({ received: await request.json() }) },
  },
});
const server = setupServer(...mock.handlers);

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => mock.reset());
afterAll(() => server.close());

function client(options: Partial<ApiFetchOptions> = {}) {
  const onUnauthenticated = vi.fn();
  const onForbidden = vi.fn();
  const api = createApiFetch({
    baseUrl: mock.baseUrl,
    auth: mock.auth('ada'),
    now,
    onUnauthenticated,
    onForbidden,
    ...testingOptions,
    ...options,
  });
  return { api, onUnauthenticated, onForbidden };
}

describe('mockAuthApi with createApiFetch', () => {
  it('mock.auth() signs the client in', async () => {
    const { api } = client();
    expect(await api.get('me').json()).toEqual({ name: 'ada' });
    expect(mock.stats.requests['/me']).toBe(1);
    expect(mock.stats.logins).toBe(0);
  });

  it('expireTokens(): 100 concurrent requests get one refresh, each sent at most twice', async () => {
    const { api } = client();
    mock.expireTokens();
    const results = await Promise.all(Array.from({ length: 100 }, () => api.get('me').json()));
    expect(results).toEqual(Array.from({ length: 100 }, () => ({ name: 'ada' })));
    expect(mock.stats.refreshes).toBe(1);
    expect(mock.stats.requests['/me']).toBeLessThanOrEqual(200);
    expect(mock.stats.statuses[200]).toBe(101); // 100 answers and the token response
  });

  it('the now clock: near expiry the client refreshes proactively, so each request is sent once', async () => {
    const { api } = client();
    await api.get('me');
    mock.resetStats();
    clock += 290_000; // 10 s left, within the default 30 s leeway
    await Promise.all(Array.from({ length: 100 }, () => api.get('me').json()));
    expect(mock.stats.refreshes).toBe(1);
    expect(mock.stats.requests['/me']).toBe(100);
    expect(mock.stats.statuses[401]).toBeUndefined();
  });

  it('403: ForbiddenError with scopes and problem, onForbidden, one send and no refresh; grantScopes() fixes it', async () => {
    const { api, onForbidden } = client();
    const error = await api.get('admin').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForbiddenError);
    expect((error as ForbiddenError).requiredScopes).toEqual(['admin']);
    expect((error as ForbiddenError).problem).toMatchObject({ title: 'Forbidden', status: 403 });
    expect(onForbidden).toHaveBeenCalledWith(error);
    expect(mock.stats.requests['/admin']).toBe(1);
    expect(mock.stats.refreshes).toBe(0);

    mock.grantScopes(['admin']);
    await api.auth.refresh();
    expect(await api.get('admin').json()).toEqual({ secret: 42 });
  });

  it('revoke(): the refresh fails, onUnauthenticated once, then requests fail fast without a send', async () => {
    const { api, onUnauthenticated } = client();
    mock.revoke();
    const errors = await Promise.all([api.get('me').catch((e) => e), api.get('me').catch((e) => e)]);
    expect(errors.every(isUnauthenticatedError)).toBe(true);
    expect((errors[0] as UnauthenticatedError).reason).toBe('refresh_failed');
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
    expect(mock.stats.refreshes).toBe(1);

    const sent = mock.stats.requests['/me'];
    await expect(api.get('me')).rejects.toMatchObject({ reason: 'signed_out' });
    expect(mock.stats.requests['/me']).toBe(sent);
  });

  it('reuse detection: two clients spending one refresh token (tabs without coordination) lose the session', async () => {
    const tokens = mock.login('ada');
    const tab = () =>
      createApiFetch({
        baseUrl: mock.baseUrl,
        auth: { session: createTokenSession({ tokens, refresh: mock.refresh, random: () => 0 }) },
        now,
      });
    const [first, second] = [tab(), tab()];
    await first.auth.refresh();
    await expect(second.auth.refresh()).rejects.toThrow();
    expect(mock.stats.reuseDetected).toBe(1);
    // The family is revoked: the first client's rotated refresh token is dead too.
    await expect(first.auth.refresh()).rejects.toThrow();
  });

  it('failNext(): flaky 503s are retried at once with testingOptions', async () => {
    const { api } = client();
    mock.failNext(2, { status: 503 });
    expect(await api.get('me').json()).toEqual({ name: 'ada' });
    expect(mock.stats.requests['/me']).toBe(3);
    expect(mock.stats.statuses).toEqual({ 503: 2, 200: 1 });
  });

  it('an outage: the retry throttle stops retrying, and the client recovers with the server', async () => {
    const events: string[] = [];
    const { api } = client({ onEvent: (event) => events.push(event.type) });
    mock.failNext(1_000, { status: 503 });
    for (let i = 0; i < 10; i++) await api.get('me').catch(() => undefined);
    const sends = mock.stats.requests['/me'] ?? 0;
    // 3 sends, then 2, then 1 each: the bucket (10 tokens, retries above half) drains; 30 without the throttle.
    expect(sends).toBe(13);
    expect(events).toContain('retry:throttled');
    mock.reset(); // the server is back (and forgot its tokens: sign in again)
    await api.auth.setTokens(mock.login('ada'));
    expect(await api.get('me').json()).toEqual({ name: 'ada' });
  });

  // happy-dom rejects with a DOMException named NetworkError where Node and browsers reject with a TypeError: the
  // transport makes it a TypeError, so it is retried in both projects.
  it('failNext({ network: true }): a dropped connection is retried', async () => {
    const { api } = client();
    mock.failNext(1, { network: true });
    expect(await api.get('me').json()).toEqual({ name: 'ada' });
    expect(mock.stats.requests['/me']).toBe(2);
  });

  it('failNext() on POST: retried only with an Idempotency-Key, the body intact', async () => {
    const { api } = client({ retry: { ...instantRetry, idempotencyKey: true } });
    mock.failNext(1, { status: 502, path: '/orders' });
    const created = await api.post('orders', { json: { sku: 'A1' } });
    expect(created.status).toBe(201);
    expect(await created.json()).toEqual({ received: { sku: 'A1' } });
    expect(mock.stats.requests['/orders']).toBe(2);

    const plain = client();
    mock.failNext(1, { status: 502, path: '/orders' });
    await expect(plain.api.post('orders', { json: {} })).rejects.toMatchObject({ response: { status: 502 } });
  });

  it('failNext() with a long Retry-After: the client fails at once with retryAfterMs, no wait', async () => {
    const { api } = client();
    mock.failNext(1, { status: 429, retryAfter: 120 });
    const error = await api.get('me').catch((e: unknown) => e);
    expect(isRetryAfterTooLongError(error)).toBe(true);
    expect(error).toMatchObject({ retryAfterMs: 120_000 });
    expect(mock.stats.requests['/me']).toBe(1);
  });

  it('failNext() on the token endpoint: the refresh is retried at once and the request goes through', async () => {
    const { api, onUnauthenticated } = client();
    mock.expireTokens();
    mock.failNext(1, { status: 503, path: '/oauth/token' });
    expect(await api.get('me').json()).toEqual({ name: 'ada' });
    expect(mock.stats.refreshes).toBe(2);
    expect(onUnauthenticated).not.toHaveBeenCalled();
  });
});
