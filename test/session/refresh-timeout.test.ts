import { isTimeoutError } from 'ky';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createApiFetch, createTokenSession, lockCoordination, type UnauthenticatedError } from '../../src/index.js';
import { deferred } from '../helpers/deferred.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Settles exactly at `ms` on the fake clock, not a millisecond before; resolves to its value or its error. */
async function settlesAt(promise: Promise<unknown>, ms: number): Promise<unknown> {
  let settled = false;
  const result = promise
    .catch((e: unknown) => e)
    .finally(() => {
      settled = true;
    });
  await vi.advanceTimersByTimeAsync(ms - 1);
  expect(settled).toBe(false);
  await vi.advanceTimersByTimeAsync(1);
  return result;
}

it('a hanging refresh ends at refreshTimeoutMs with refresh_timeout, and its signal is aborted', async () => {
  let refreshSignal: AbortSignal | undefined;
  const onUnauthenticated = vi.fn();
  const api = createApiFetch({
    baseUrl: 'https://api.example.test',
    timeout: false,
    fetch: async () => new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer' } }),
    onUnauthenticated,
    auth: {
      session: createTokenSession({
        tokens: { accessToken: 'old' },
        refreshTimeoutMs: 5000,
        refresh: ({ signal }) => {
          refreshSignal = signal;
          return new Promise(() => {});
        },
      }),
    },
  });
  const error = (await settlesAt(api.get('x'), 5000)) as UnauthenticatedError;
  expect(error.reason).toBe('refresh_timeout');
  expect(refreshSignal?.aborted).toBe(true);
  expect(onUnauthenticated).toHaveBeenCalledTimes(1);
  expect(vi.getTimerCount()).toBe(0);
});

it("transient refresh failures (fetch's own TypeError, then a 503) back off with injected jitter, within the retry count", async () => {
  let calls = 0;
  const api = createApiFetch({
    baseUrl: 'https://api.example.test',
    fetch: async (request) =>
      request.headers.get('authorization') === 'Bearer new' ? new Response('ok') : new Response(null, { status: 401 }),
    auth: {
      session: createTokenSession({
        tokens: { accessToken: 'old' },
        refreshRetries: 2,
        random: () => 0.5,
        refresh: async () => {
          calls += 1;
          if (calls === 1) throw new TypeError('fetch failed');
          if (calls === 2) throw Object.assign(new Error('unavailable'), { status: 503 });
          return { accessToken: 'new' };
        },
      }),
    },
  });
  const result = api.get('x').text();
  await vi.advanceTimersByTimeAsync(99);
  expect(calls).toBe(1);
  await vi.advanceTimersByTimeAsync(1);
  expect(calls).toBe(2);
  await vi.advanceTimersByTimeAsync(200);
  expect(calls).toBe(3);
  expect(await result).toBe('ok');
});

it('a proactive refresh that fails transiently keeps a token that still works', async () => {
  const now = Date.UTC(2026, 0, 1);
  vi.setSystemTime(now);
  const sent: (string | null)[] = [];
  const onUnauthenticated = vi.fn();
  const api = createApiFetch({
    baseUrl: 'https://api.example.test',
    fetch: async (request) => {
      sent.push(request.headers.get('authorization'));
      return new Response('ok');
    },
    onUnauthenticated,
    auth: {
      session: createTokenSession({
        // Obtained now, expires in 40 s: refreshed within its last 20 s (half its life).
        tokens: { accessToken: 'current', expiresAt: now + 40_000 },
        refreshRetries: 0,
        refresh: async () => {
          throw Object.assign(new Error('auth server down'), { status: 503 });
        },
      }),
    },
  });
  await api.get('a').text();
  vi.setSystemTime(now + 25_000);
  expect(await api.get('b').text()).toBe('ok');
  expect(sent).toEqual(['Bearer current', 'Bearer current']);
  expect(onUnauthenticated).not.toHaveBeenCalled();
});

it('with the default timeouts, a request waiting on a hanging refresh ends in refresh_timeout at 5 s; the next one fails fast signed out', async () => {
  const onUnauthenticated = vi.fn();
  let sends = 0;
  const api = createApiFetch({
    baseUrl: 'https://api.example.test',
    fetch: async () => {
      sends += 1;
      return new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer' } });
    },
    onUnauthenticated,
    auth: { session: createTokenSession({ tokens: { accessToken: 'old' }, refresh: () => new Promise(() => {}) }) },
  });
  const error = await settlesAt(api.get('x'), 5000);
  expect(isTimeoutError(error)).toBe(false);
  expect(error).toMatchObject({ name: 'UnauthenticatedError', reason: 'refresh_timeout' });
  await vi.advanceTimersByTimeAsync(100);
  const next = (await api.get('y').catch((e: unknown) => e)) as UnauthenticatedError;
  expect(next).toMatchObject({ reason: 'signed_out', sent: false });
  expect(sends).toBe(1);
  expect(onUnauthenticated).toHaveBeenCalledTimes(1);
  // Once per episode: the prompt came with the first request's error.
  expect(onUnauthenticated).toHaveBeenCalledWith(error);
});

it('a refresh that ignores its signal and hangs releases the lock at refreshTimeoutMs: the next refresh runs', async () => {
  // A mutex, as a distributed lock or Web Locks would be.
  let tail: Promise<unknown> = Promise.resolve();
  const lock = <T>(_name: string, fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => {});
    return run;
  };
  let calls = 0;
  const api = createApiFetch({
    baseUrl: 'https://api.example.test',
    timeout: false,
    fetch: async (request) =>
      request.headers.get('authorization') === 'Bearer good' ? new Response('ok') : new Response(null, { status: 401 }),
    auth: {
      session: createTokenSession({
        tokens: { accessToken: 'old' },
        refreshTimeoutMs: 1000,
        coordination: lockCoordination(lock),
        refresh: async () => {
          calls += 1;
          // The first one never settles, whatever its signal says.
          return calls === 1 ? new Promise<never>(() => {}) : { accessToken: 'good' };
        },
      }),
    },
  });
  expect(await settlesAt(api.get('a'), 1000)).toMatchObject({ reason: 'refresh_timeout' });
  await api.auth.setTokens({ accessToken: 'old-again' });
  const second = api.get('b').text();
  await vi.advanceTimersByTimeAsync(0);
  expect(await second).toBe('ok');
  expect(calls).toBe(2);
});

it('a refreshTimeoutMs beyond what a timer holds (Infinity) means no practical bound, not an instant timeout', async () => {
  const done = deferred<{ accessToken: string }>();
  const api = createApiFetch({
    baseUrl: 'https://api.example.test',
    timeout: Number.POSITIVE_INFINITY,
    fetch: async (request) =>
      request.headers.get('authorization') === 'Bearer new' ? new Response('ok') : new Response(null, { status: 401 }),
    auth: {
      session: createTokenSession({
        tokens: { accessToken: 'old' },
        refreshTimeoutMs: Number.POSITIVE_INFINITY,
        refresh: () => done.promise,
      }),
    },
  });
  let settled = false;
  const result = api.get('x').text();
  void result.finally(() => {
    settled = true;
  });
  // A day passes while the refresh runs: no timeout has fired.
  await vi.advanceTimersByTimeAsync(24 * 60 * 60 * 1000);
  expect(settled).toBe(false);
  done.release({ accessToken: 'new' });
  expect(await result).toBe('ok');
});

it('a bug in the refresh function (a TypeError that is not a network failure) is not retried and costs no backoff', async () => {
  const failures: string[] = [];
  let calls = 0;
  const api = createApiFetch({
    baseUrl: 'https://api.example.test',
    fetch: async () => new Response(null, { status: 401 }),
    onEvent: (event) => {
      if (event.type === 'refresh:failure') failures.push(event.reason);
    },
    auth: {
      session: createTokenSession({
        tokens: { accessToken: 'old' },
        refresh: async () => {
          calls += 1;
          throw new TypeError("Cannot read properties of undefined (reading 'refresh_token')");
        },
      }),
    },
  });
  // Settles with no timer advanced: no backoff was waited.
  expect(await api.get('x').catch((e: unknown) => e)).toMatchObject({ reason: 'refresh_failed' });
  expect(calls).toBe(1);
  expect(failures).toEqual(['TypeError']);
});
