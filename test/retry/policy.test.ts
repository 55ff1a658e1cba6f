import { describe, expect, it } from 'vitest';
import { resolveRetryOptions } from '../../src/options.js';
import { decideRetry, type Failure, isRetryableFailure, type RetryInput } from '../../src/retry/policy.js';
import { RetryThrottle } from '../../src/retry/throttle.js';
import { seededRandom } from '../helpers/random.js';

const options = resolveRetryOptions({ random: () => 0.5 });
const base = (over: Partial<RetryInput>): RetryInput => ({
  method: 'GET',
  idempotent: false,
  failure: { kind: 'http', status: 503, headers: new Headers() },
  retryNumber: 1,
  elapsedMs: 0,
  now: 0,
  options,
  throttle: undefined,
  ...over,
});
const http = (status: number, headers: Record<string, string> = {}): Failure => ({
  kind: 'http',
  status,
  headers: new Headers(headers),
});

describe('decideRetry: what is retried', () => {
  it.each([408, 425, 429, 500, 502, 503, 504])('retries status %i', (status) => {
    expect(decideRetry(base({ failure: http(status) }))).toEqual({ retry: true, reason: String(status), delayMs: 150 });
  });

  it.each([400, 401, 403, 404, 405, 407, 409, 410, 413, 422, 501, 505])('never retries status %i', (status) => {
    expect(decideRetry(base({ failure: http(status) }))).toEqual({ retry: false, reason: String(status) });
  });

  it.each([401, 403, 407])('never retries status %i, even listed in statusCodes', (status) => {
    const listed = resolveRetryOptions({ random: () => 0.5, statusCodes: [status, 503] });
    expect(decideRetry(base({ failure: http(status), options: listed }))).toEqual({
      retry: false,
      reason: String(status),
    });
    expect(isRetryableFailure(http(status), listed)).toBe(false);
  });

  it('retries network errors, never aborts or unknown errors', () => {
    expect(decideRetry(base({ failure: { kind: 'network' } }))).toEqual({
      retry: true,
      reason: 'network',
      delayMs: 150,
    });
    expect(decideRetry(base({ failure: { kind: 'abort' } }))).toEqual({ retry: false, reason: 'abort' });
    expect(decideRetry(base({ failure: { kind: 'other' } }))).toEqual({ retry: false, reason: 'other' });
  });

  it('never retries an abort, whatever the method, key, options or throttle', () => {
    const all = resolveRetryOptions({ onTimeout: true, methods: ['POST'], limit: 10 });
    const abort = { kind: 'abort' } as const;
    expect(decideRetry(base({ failure: abort, options: all, idempotent: true, method: 'POST' })).retry).toBe(false);
    expect(isRetryableFailure(abort, all)).toBe(false);
  });

  it('retries timeouts only with onTimeout', () => {
    expect(decideRetry(base({ failure: { kind: 'timeout' } }))).toEqual({ retry: false, reason: 'timeout' });
    const withTimeout = resolveRetryOptions({ onTimeout: true, random: () => 0.5 });
    expect(decideRetry(base({ failure: { kind: 'timeout' }, options: withTimeout }))).toEqual({
      retry: true,
      reason: 'timeout',
      delayMs: 150,
    });
  });

  it('follows custom statusCodes and methods', () => {
    const custom = resolveRetryOptions({ statusCodes: [409], methods: ['get'], random: () => 0.5 });
    expect(decideRetry(base({ options: custom, failure: http(409) })).retry).toBe(true);
    expect(decideRetry(base({ options: custom, failure: http(503) })).retry).toBe(false);
    expect(decideRetry(base({ options: custom, method: 'PUT' })).retry).toBe(false);
  });

  it('tells the throttle which failures count (the same ones it would retry)', () => {
    expect(isRetryableFailure(http(503), options)).toBe(true);
    expect(isRetryableFailure(http(404), options)).toBe(false);
    expect(isRetryableFailure({ kind: 'network' }, options)).toBe(true);
    expect(isRetryableFailure({ kind: 'timeout' }, options)).toBe(false);
  });
});

describe('decideRetry: methods and Idempotency-Key', () => {
  it.each(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'QUERY', 'get', 'put'])('retries %s', (method) => {
    expect(decideRetry(base({ method })).retry).toBe(true);
  });

  it.each(['POST', 'PATCH', 'post', 'patch'])('retries %s only with an Idempotency-Key', (method) => {
    expect(decideRetry(base({ method }))).toEqual({ retry: false, reason: '503' });
    expect(decideRetry(base({ method, idempotent: true }))).toEqual({ retry: true, reason: '503', delayMs: 150 });
  });

  it.each(['CONNECT', 'PROPFIND'])('never retries %s, even with a key', (method) => {
    expect(decideRetry(base({ method, idempotent: true })).retry).toBe(false);
  });
});

describe('decideRetry: limit, backoff and deadline', () => {
  it('stops after limit retries (default 2)', () => {
    expect(decideRetry(base({ retryNumber: 2 })).retry).toBe(true);
    expect(decideRetry(base({ retryNumber: 3 }))).toEqual({ retry: false, reason: 'limit' });
    const five = resolveRetryOptions({ limit: 5, random: () => 0.5 });
    expect(decideRetry(base({ options: five, retryNumber: 5 })).retry).toBe(true);
    expect(decideRetry(base({ options: five, retryNumber: 6 })).retry).toBe(false);
    expect(decideRetry(base({ options: resolveRetryOptions(false) })).retry).toBe(false);
  });

  it('waits a capped full-jitter draw that grows per retry', () => {
    expect(decideRetry(base({ retryNumber: 2 }))).toMatchObject({ delayMs: 300 });
    const many = resolveRetryOptions({ limit: 20, random: seededRandom(1) });
    for (let n = 1; n <= 20; n++) {
      const d = decideRetry(base({ options: many, retryNumber: n }));
      expect(d.retry).toBe(true);
      if (d.retry) expect(d.delayMs).toBeLessThan(Math.min(10_000, 300 * 2 ** (n - 1)));
    }
  });

  it('does not retry when the wait would pass the deadline', () => {
    const deadline = resolveRetryOptions({ deadlineMs: 1000, random: () => 0.99 });
    expect(decideRetry(base({ options: deadline, elapsedMs: 900 }))).toEqual({ retry: false, reason: 'deadline' });
    expect(decideRetry(base({ options: deadline, elapsedMs: 600 }))).toMatchObject({ retry: true });
    expect(decideRetry(base({ options: deadline, elapsedMs: 1200 }))).toEqual({ retry: false, reason: 'deadline' });
  });
});

describe('decideRetry: Retry-After', () => {
  it('waits Retry-After plus a jitter spread on top, never less', () => {
    expect(decideRetry(base({ failure: http(429, { 'retry-after': '3' }) }))).toEqual({
      retry: true,
      reason: '429',
      retryAfterMs: 3000,
      delayMs: 3150,
    });
    const zero = resolveRetryOptions({ random: () => 0 });
    expect(decideRetry(base({ options: zero, failure: http(503, { 'retry-after': '3' }) }))).toMatchObject({
      delayMs: 3000,
    });
  });

  it('honours an HTTP-date, and a past date means no extra wait beyond the spread', () => {
    const now = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(
      decideRetry(base({ now, failure: http(503, { 'retry-after': 'Thu, 01 Jan 2026 00:00:10 GMT' }) })),
    ).toMatchObject({ retry: true, retryAfterMs: 10_000, delayMs: 10_150 });
    expect(
      decideRetry(base({ now, failure: http(503, { 'retry-after': 'Wed, 31 Dec 2025 23:00:00 GMT' }) })),
    ).toMatchObject({ retry: true, retryAfterMs: 0, delayMs: 150 });
  });

  it('honours RateLimit-Reset and RateLimit t= on a 429', () => {
    expect(decideRetry(base({ failure: http(429, { 'ratelimit-reset': '2' }) }))).toMatchObject({ delayMs: 2150 });
    expect(decideRetry(base({ failure: http(429, { ratelimit: '"d";r=0;t=4' }) }))).toMatchObject({ delayMs: 4150 });
  });

  it('ignores a garbage Retry-After and backs off normally', () => {
    expect(decideRetry(base({ failure: http(503, { 'retry-after': 'later' }) }))).toEqual({
      retry: true,
      reason: '503',
      delayMs: 150,
    });
  });

  it('honours exactly maxRetryAfterMs, and fails at once with retryAfterMs beyond it (no clamping)', () => {
    expect(decideRetry(base({ failure: http(503, { 'retry-after': '60' }) }))).toMatchObject({ retry: true });
    expect(decideRetry(base({ failure: http(503, { 'retry-after': '61' }) }))).toEqual({
      retry: false,
      reason: '503',
      retryAfterMs: 61_000,
      tooLong: true,
    });
    const short = resolveRetryOptions({ maxRetryAfterMs: 1000 });
    expect(decideRetry(base({ options: short, failure: http(429, { 'retry-after': '2' }) }))).toMatchObject({
      retry: false,
      tooLong: true,
      retryAfterMs: 2000,
    });
  });

  it('fails at once with retryAfterMs when Retry-After reaches the deadline; the spread takes at most half the time left', () => {
    const deadline = resolveRetryOptions({ deadlineMs: 5000, random: () => 0.99 });
    expect(
      decideRetry(base({ options: deadline, elapsedMs: 3000, failure: http(503, { 'retry-after': '3' }) })),
    ).toEqual({ retry: false, reason: '503', tooLong: true, retryAfterMs: 3000 });
    expect(
      decideRetry(base({ options: deadline, elapsedMs: 3800, failure: http(503, { 'retry-after': '1' }) })),
    ).toEqual({ retry: true, reason: '503', retryAfterMs: 1000, delayMs: 1100 });
    expect(
      decideRetry(base({ options: deadline, elapsedMs: 4000, failure: http(503, { 'retry-after': '1' }) })),
    ).toEqual({ retry: false, reason: '503', tooLong: true, retryAfterMs: 1000 });
  });
});

describe('decideRetry: throttle', () => {
  it('withholds retries when the throttle is at or below half', () => {
    const throttle = new RetryThrottle({ maxTokens: 10, tokenRatio: 0.1 });
    for (let i = 0; i < 4; i++) throttle.onFailure();
    expect(decideRetry(base({ throttle })).retry).toBe(true);
    throttle.onFailure();
    expect(decideRetry(base({ throttle }))).toEqual({ retry: false, reason: '503', throttled: true });
    expect(decideRetry(base({ throttle, failure: http(429, { 'retry-after': '5' }) }))).toEqual({
      retry: false,
      reason: '429',
      throttled: true,
      retryAfterMs: 5000,
    });
  });

  it('only reads the throttle: deciding never changes its tokens', () => {
    const throttle = new RetryThrottle({ maxTokens: 10, tokenRatio: 0.1 });
    for (let i = 0; i < 3; i++) decideRetry(base({ throttle }));
    decideRetry(base({ throttle, failure: http(404) }));
    expect(throttle.tokens).toBe(10);
  });
});

describe('resolveRetryOptions', () => {
  it('fills the documented defaults', () => {
    const r = resolveRetryOptions(undefined);
    expect(r).toMatchObject({
      limit: 2,
      baseDelayMs: 300,
      maxDelayMs: 10_000,
      maxRetryAfterMs: 60_000,
      deadlineMs: undefined,
      onTimeout: false,
      idempotencyKey: false,
      throttle: { maxTokens: 10, tokenRatio: 0.1, maxOrigins: 1000 },
      random: Math.random,
    });
    expect([...r.statusCodes]).toEqual([408, 425, 429, 500, 502, 503, 504]);
    expect([...r.methods]).toEqual(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'QUERY']);
  });

  it('takes a number or false, and throttle: false', () => {
    expect(resolveRetryOptions(5).limit).toBe(5);
    expect(resolveRetryOptions(false).limit).toBe(0);
    expect(resolveRetryOptions({ throttle: false }).throttle).toBe(false);
  });
});
