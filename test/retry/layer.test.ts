import { isHTTPError } from 'ky';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type ApiFetchEvent,
  type ApiFetchOptions,
  createApiFetch,
  ForbiddenError,
  isRetryAfterTooLongError,
  UnauthenticatedError,
} from '../../src/index.js';

type Reply = Response | Error | (() => Response | Error);

/** An in-memory fetch that answers from a script and records what was sent. */
function scriptedFetch(replies: Reply[], fallback: Reply = new Response('ok')) {
  const sent: Request[] = [];
  const bodies: string[] = [];
  const fetch = async (request: Request) => {
    sent.push(request);
    bodies.push(request.body ? await request.clone().text() : '');
    let reply = replies.shift() ?? fallback;
    if (typeof reply === 'function') reply = reply();
    if (reply instanceof Error) throw reply;
    return reply.clone();
  };
  return { fetch, sent, bodies };
}

const status = (code: number, headers: Record<string, string> = {}) => new Response(null, { status: code, headers });
const networkError = () => new TypeError('fetch failed');

function client(fetch: NonNullable<ApiFetchOptions['fetch']>, options: ApiFetchOptions = {}) {
  const events: ApiFetchEvent[] = [];
  const api = createApiFetch({
    baseUrl: 'https://api.example.test',
    fetch,
    onEvent: (e) => events.push(e),
    now: () => Date.now(),
    ...options,
    retry: { random: () => 0.5, ...(options.retry as object) },
  });
  return { api, events };
}

beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2026, 10, 22, 12) });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('retry through the client', () => {
  it('retries a 503 with capped full-jitter backoff and succeeds', async () => {
    const { fetch, sent } = scriptedFetch([status(503), status(503)]);
    const { api, events } = client(fetch);
    const done = api.get('x').text();
    await vi.advanceTimersByTimeAsync(149);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(300);
    expect(await done).toBe('ok');
    expect(sent).toHaveLength(3);
    const retries = events.filter((e) => e.type === 'retry');
    expect(retries).toMatchObject([
      { attempt: 1, delayMs: 150, reason: '503' },
      { attempt: 2, delayMs: 300, reason: '503' },
    ]);
  });

  it('gives up after `limit` retries with the last HTTPError', async () => {
    const { fetch, sent } = scriptedFetch([], status(500));
    const { api } = client(fetch, { retry: { limit: 3 } });
    const result = api.get('x').catch((e: unknown) => e);
    await vi.runAllTimersAsync();
    const error = await result;
    expect(isHTTPError(error)).toBe(true);
    expect(sent).toHaveLength(4);
  });

  it('retries network errors', async () => {
    const { fetch, sent } = scriptedFetch([networkError]);
    const { api } = client(fetch);
    const done = api.get('x').text();
    await vi.runAllTimersAsync();
    expect(await done).toBe('ok');
    expect(sent).toHaveLength(2);
  });

  it('never retries 401 or 403, even listed in statusCodes (a 407: test/transport.test.ts)', async () => {
    for (const [code, type] of [
      [401, UnauthenticatedError],
      [403, ForbiddenError],
    ] as const) {
      const { fetch, sent } = scriptedFetch([], status(code));
      const { api, events } = client(fetch, { retry: { limit: 5, statusCodes: [code, 503] } });
      const result = api.get('x').catch((e: unknown) => e);
      await vi.runAllTimersAsync();
      expect(await result).toBeInstanceOf(type);
      expect(sent).toHaveLength(1);
      expect(events.filter((e) => e.type === 'retry')).toEqual([]);
    }
  });

  it('does not retry POST, unless it carries an Idempotency-Key', async () => {
    const plain = scriptedFetch([status(503)]);
    const a = client(plain.fetch);
    const result = a.api.post('x', { json: {} }).catch((e: unknown) => e);
    await vi.runAllTimersAsync();
    expect(isHTTPError(await result)).toBe(true);
    expect(plain.sent).toHaveLength(1);

    const keyed = scriptedFetch([status(503)]);
    const b = client(keyed.fetch);
    const done = b.api.post('x', { json: { n: 1 }, headers: { 'idempotency-key': 'k-1' } }).text();
    await vi.runAllTimersAsync();
    expect(await done).toBe('ok');
    expect(keyed.sent).toHaveLength(2);
    expect(keyed.bodies).toEqual(['{"n":1}', '{"n":1}']);
  });

  it('retry.idempotencyKey adds one fresh key to POST and PATCH and reuses it across retries', async () => {
    const { fetch, sent } = scriptedFetch([status(503)]);
    const { api } = client(fetch, { retry: { idempotencyKey: true } });
    const done = api.patch('x', { json: {} }).text();
    await vi.runAllTimersAsync();
    await done;
    expect(sent).toHaveLength(2);
    const keys = sent.map((r) => r.headers.get('idempotency-key'));
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    await api.get('y').text();
    expect(sent[2]?.headers.get('idempotency-key')).toBeNull();
  });

  it("a caller's own Idempotency-Key (Request input, client headers, per call) is never replaced", async () => {
    const { fetch, sent } = scriptedFetch([]);
    const { api } = client(fetch, { retry: { idempotencyKey: true } });
    const withClientKey = api.extend({ headers: { 'idempotency-key': 'client-key' } });
    await api.post('a', { headers: { 'idempotency-key': 'call-key' } }).text();
    await withClientKey.post('b').text();
    await api
      .post(new Request('https://api.example.test/c', { method: 'POST', headers: { 'idempotency-key': 'req-key' } }))
      .text();
    await api.post('d').text();
    const keys = sent.map((r) => r.headers.get('idempotency-key'));
    expect(keys.slice(0, 3)).toEqual(['call-key', 'client-key', 'req-key']);
    expect(keys[3]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys).toHaveLength(4);
  });

  it('honours Retry-After: never sends before the server allows', async () => {
    const { fetch, sent } = scriptedFetch([status(429, { 'retry-after': '2' })]);
    const { api, events } = client(fetch);
    const done = api.get('x').text();
    await vi.advanceTimersByTimeAsync(1999);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(151);
    expect(await done).toBe('ok');
    expect(sent).toHaveLength(2);
    expect(events.find((e) => e.type === 'retry')).toMatchObject({ retryAfterMs: 2000, delayMs: 2150 });
  });

  it('a Retry-After past the cap fails at once with RetryAfterTooLongError', async () => {
    const { fetch, sent } = scriptedFetch([status(503, { 'retry-after': '3600' })]);
    const { api } = client(fetch);
    const error = await api.get('x').catch((e: unknown) => e);
    expect(isRetryAfterTooLongError(error)).toBe(true);
    expect(error).toMatchObject({ retryAfterMs: 3_600_000, status: 503, code: 'ERR_RETRY_AFTER_TOO_LONG' });
    expect(isHTTPError(error)).toBe(true);
    expect(sent).toHaveLength(1);
  });

  it('deadlineMs bounds attempts and waits together', async () => {
    const { fetch, sent } = scriptedFetch([], status(503));
    const { api } = client(fetch, { retry: { limit: 10, deadlineMs: 1000, baseDelayMs: 400 } });
    const result = api.get('x').catch((e: unknown) => e);
    await vi.runAllTimersAsync();
    await result;
    // Waits of 200, 400, 800 (random 0.5): the third would pass the deadline.
    expect(sent).toHaveLength(3);
  });

  it('an abort during a backoff wait rejects at once and leaves no timer behind', async () => {
    const { fetch, sent } = scriptedFetch([status(503)]);
    const { api } = client(fetch, { retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 } });
    const controller = new AbortController();
    const result = api.get('x', { signal: controller.signal }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10);
    expect(vi.getTimerCount()).toBe(1);
    controller.abort(new Error('user left'));
    expect(await result).toMatchObject({ message: 'user left' });
    expect(vi.getTimerCount()).toBe(0);
    expect(sent).toHaveLength(1);
  });

  it('throttles retries in a 503 storm, then recovers as successes refill the bucket', async () => {
    let healthy = false;
    const { fetch, sent } = scriptedFetch([], () => (healthy ? new Response('ok') : status(503)));
    const { api, events } = client(fetch, { retry: { limit: 2 } });
    for (let i = 0; i < 20; i++) {
      const result = api.get(`x${i}`).catch(() => {});
      await vi.runAllTimersAsync();
      await result;
    }
    // 10 tokens, each failed send costs one, retries only above 5: the first request retries twice (10 → 7), the
    // second once (→ 5) and is then held back, as are the 18 others after their first send.
    expect(sent).toHaveLength(3 + 2 + 18);
    expect(events.filter((e) => e.type === 'retry:throttled')).toHaveLength(1 + 18);
    healthy = true;
    // Each success earns 0.1 token: 80 bring the bucket from empty to 8, enough for two retries (8 → 7 → 6).
    for (let i = 0; i < 80; i++) await api.get('ok').text();
    healthy = false;
    const before = sent.length;
    const result = api.get('again').catch(() => {});
    await vi.runAllTimersAsync();
    await result;
    expect(sent.length - before).toBe(3);
  });

  it('retry: false per request turns retries off', async () => {
    const { fetch, sent } = scriptedFetch([status(503)]);
    const { api } = client(fetch);
    await expect(api.get('x', { retry: false })).rejects.toThrow();
    expect(sent).toHaveLength(1);
  });
});
