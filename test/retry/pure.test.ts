import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { backoffCeiling, backoffDelay } from '../../src/retry/backoff.js';
import { decideRetry, type Failure, type RetryInput, resolveRetryOptions } from '../../src/retry/policy.js';
import { parseHttpDate, parseRetryAfter } from '../../src/retry/retry-after.js';
import { createThrottleRegistry, RetryThrottle } from '../../src/retry/throttle.js';
import { seededRandom } from '../helpers/random.js';

const opts = { baseDelayMs: 300, maxDelayMs: 10_000 };

describe('backoff', () => {
  it('doubles the ceiling per attempt up to the cap, with no overflow', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => backoffCeiling(a, opts))).toEqual([
      300, 600, 1200, 2400, 4800, 9600, 10_000,
    ]);
    expect(backoffCeiling(5000, opts)).toBe(10_000);
  });

  it('full jitter stays within [0, ceiling) and averages half the ceiling', () => {
    const random = seededRandom(42);
    for (const attempt of [1, 3, 8]) {
      const ceiling = backoffCeiling(attempt, opts);
      const draws = Array.from({ length: 5000 }, () => backoffDelay(attempt, opts, random));
      expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...draws)).toBeLessThan(ceiling);
      const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
      expect(mean / ceiling).toBeGreaterThan(0.47);
      expect(mean / ceiling).toBeLessThan(0.53);
    }
  });
});

describe('Retry-After', () => {
  const now = Date.UTC(2026, 10, 22, 12, 0, 0);
  const h = (entries: Record<string, string>) => new Headers(entries);
  it.each<[string, Record<string, string>, number | undefined]>([
    ['delta seconds', { 'retry-after': '120' }, 120_000],
    ['zero', { 'retry-after': '0' }, 0],
    ['IMF-fixdate', { 'retry-after': 'Sun, 22 Nov 2026 12:00:30 GMT' }, 30_000],
    ['RFC 850 date', { 'retry-after': 'Sunday, 22-Nov-26 12:01:00 GMT' }, 60_000],
    ['asctime date', { 'retry-after': 'Sun Nov 22 12:00:05 2026' }, 5_000],
    ['past date means no extra wait', { 'retry-after': 'Sun, 22 Nov 2026 11:00:00 GMT' }, 0],
    ['garbage', { 'retry-after': 'soon' }, undefined],
    ['negative', { 'retry-after': '-5' }, undefined],
    ['fraction', { 'retry-after': '1.5' }, undefined],
    ['impossible date', { 'retry-after': 'Sun, 31 Feb 2026 12:00:00 GMT' }, undefined],
    ['RateLimit-Reset', { 'ratelimit-reset': '7' }, 7_000],
    ['RateLimit t=', { ratelimit: '"default";r=0;t=30' }, 30_000],
    ['Retry-After wins over RateLimit', { 'retry-after': '2', 'ratelimit-reset': '50' }, 2_000],
    ['nothing', {}, undefined],
  ])('%s', (_name, headers, expected) => {
    expect(parseRetryAfter(h(headers), now)).toBe(expected);
  });

  it('maps a two-digit year to the nearest century not more than 50 years ahead', () => {
    expect(new Date(parseHttpDate('Friday, 01-Jan-99 00:00:00 GMT', now)!).getUTCFullYear()).toBe(1999);
  });
});

describe('throttle (gRPC retry throttling)', () => {
  it('starts full, loses a token per failure, earns tokenRatio per success, allows retries above half', () => {
    const t = new RetryThrottle({ maxTokens: 10, tokenRatio: 0.1 });
    expect(t.allowRetry()).toBe(true);
    for (let i = 0; i < 4; i++) t.onFailure();
    expect(t.tokens).toBe(6);
    expect(t.allowRetry()).toBe(true);
    t.onFailure();
    expect(t.allowRetry()).toBe(false);
    for (let i = 0; i < 10; i++) t.onSuccess();
    expect(t.tokens).toBeCloseTo(6);
    expect(t.allowRetry()).toBe(true);
    for (let i = 0; i < 100; i++) t.onSuccess();
    expect(t.tokens).toBe(10);
    for (let i = 0; i < 30; i++) t.onFailure();
    expect(t.tokens).toBe(0);
  });

  it('a quiet client keeps its retry for a blip; a storm is cut after a few failures', () => {
    const quiet = new RetryThrottle();
    quiet.onFailure();
    expect(quiet.allowRetry()).toBe(true);
    const busy = new RetryThrottle();
    let retries = 0;
    for (let i = 0; i < 1000; i++) {
      busy.onFailure();
      if (busy.allowRetry()) {
        retries++;
        busy.onFailure();
      }
    }
    expect(retries).toBeLessThanOrEqual(3);
  });

  it('keeps one throttle per origin', () => {
    const registry = createThrottleRegistry({});
    registry('https://a.test').onFailure();
    expect(registry('https://a.test').tokens).toBe(9);
    expect(registry('https://b.test').tokens).toBe(10);
  });
});

describe('decideRetry', () => {
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

  it.each([408, 425, 429, 500, 502, 503, 504])('retries status %i', (status) => {
    expect(decideRetry(base({ failure: http(status) }))).toEqual({ retry: true, reason: String(status), delayMs: 150 });
  });

  it.each([400, 401, 403, 404, 407, 409, 422, 501])('never retries status %i', (status) => {
    expect(decideRetry(base({ failure: http(status) })).retry).toBe(false);
  });

  it('retries network errors, not aborts or unknown errors; timeouts only with onTimeout', () => {
    expect(decideRetry(base({ failure: { kind: 'network' } })).retry).toBe(true);
    expect(decideRetry(base({ failure: { kind: 'abort' } })).retry).toBe(false);
    expect(decideRetry(base({ failure: { kind: 'other' } })).retry).toBe(false);
    expect(decideRetry(base({ failure: { kind: 'timeout' } })).retry).toBe(false);
    const withTimeout = resolveRetryOptions({ onTimeout: true, random: () => 0.5 });
    expect(decideRetry(base({ failure: { kind: 'timeout' }, options: withTimeout })).retry).toBe(true);
  });

  it.each(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'QUERY'])('retries %s', (method) => {
    expect(decideRetry(base({ method })).retry).toBe(true);
  });

  it.each(['POST', 'PATCH'])('retries %s only with an Idempotency-Key', (method) => {
    expect(decideRetry(base({ method })).retry).toBe(false);
    expect(decideRetry(base({ method, idempotent: true })).retry).toBe(true);
  });

  it('waits Retry-After plus a jitter spread, never less', () => {
    const d = decideRetry(base({ failure: http(429, { 'retry-after': '3' }) }));
    expect(d).toEqual({ retry: true, reason: '429', retryAfterMs: 3000, delayMs: 3150 });
  });

  it('fails at once, with retryAfterMs, when Retry-After exceeds the cap or the deadline', () => {
    expect(decideRetry(base({ failure: http(503, { 'retry-after': '61' }) }))).toEqual({
      retry: false,
      reason: '503',
      retryAfterMs: 61_000,
      tooLong: true,
    });
    const deadline = resolveRetryOptions({ deadlineMs: 5000, random: () => 0.5 });
    expect(
      decideRetry(base({ options: deadline, elapsedMs: 3000, failure: http(503, { 'retry-after': '3' }) })),
    ).toMatchObject({ retry: false, tooLong: true, retryAfterMs: 3000 });
  });

  it('ignores a garbage Retry-After and backs off normally', () => {
    expect(decideRetry(base({ failure: http(503, { 'retry-after': 'later' }) }))).toEqual({
      retry: true,
      reason: '503',
      delayMs: 150,
    });
  });

  it('does not retry past the deadline', () => {
    const deadline = resolveRetryOptions({ deadlineMs: 1000, random: () => 0.99 });
    expect(decideRetry(base({ options: deadline, elapsedMs: 900 }))).toEqual({ retry: false, reason: 'deadline' });
  });

  it('withholds retries when the throttle is below half', () => {
    const throttle = new RetryThrottle();
    for (let i = 0; i < 5; i++) throttle.onFailure();
    expect(decideRetry(base({ throttle }))).toEqual({ retry: false, reason: '503', throttled: true });
  });
});

describe('resolveRetryOptions', () => {
  it('takes a number or false', () => {
    expect(resolveRetryOptions(5).limit).toBe(5);
    expect(resolveRetryOptions(false).limit).toBe(0);
  });
  it.each([
    [{ limit: -1 }, 'retry.limit'],
    [{ limit: 1.5 }, 'retry.limit'],
    [{ maxDelayMs: -1 }, 'retry.maxDelayMs'],
    [{ baseDelayMs: Number.NaN }, 'retry.baseDelayMs'],
    [{ maxRetryAfterMs: -1 }, 'retry.maxRetryAfterMs'],
    [{ deadlineMs: 0 }, 'retry.deadlineMs'],
    [{ statusCodes: [999] }, 'retry.statusCodes'],
    [{ methods: 'GET' }, 'retry.methods'],
    [{ throttle: 3 }, 'retry.throttle'],
    [{ throttle: { maxTokens: 0 } }, 'retry.throttle.maxTokens'],
    [{ random: 4 }, 'retry.random'],
    [{ onTimeout: 'yes' }, 'retry.onTimeout'],
  ])('rejects %j naming %s', (input, option) => {
    expect(() => resolveRetryOptions(input as never)).toThrow(InvalidOptionError);
    expect(() => resolveRetryOptions(input as never)).toThrow(`\`${option}\``);
  });
});
