import { describe, expect, it } from 'vitest';
import { createApiFetch } from '../../src/index.js';
import { type ResolvedThrottleOptions, resolveRetryOptions, type ThrottleOptions } from '../../src/options.js';
import { createThrottleRegistry, RetryThrottle } from '../../src/retry/throttle.js';

/** `retry.throttle` as the client resolves it: the throttle and its registry take resolved values only. */
function resolvedThrottle(throttle: ThrottleOptions = {}): ResolvedThrottleOptions {
  const resolved = resolveRetryOptions({ throttle }).throttle;
  if (!resolved) throw new Error('throttle resolved to false');
  return resolved;
}

/**
 * A client over an in-memory API that answers 200 while `healthy()` says so and 503 otherwise; retries are instant.
 * `request()` runs one logical request through the real retry layer and reports its sends.
 */
function clientOver(healthy: () => boolean) {
  let sends = 0;
  const api = createApiFetch({
    baseUrl: 'https://api.example.test',
    retry: { limit: 2, baseDelayMs: 0, random: () => 0 },
    fetch: async () => {
      sends += 1;
      return new Response(null, { status: healthy() ? 200 : 503 });
    },
  });
  return async () => {
    const before = sends;
    const ok = await api.get('x').then(
      () => true,
      () => false,
    );
    return { ok, sends: sends - before };
  };
}

const run = async (n: number, request: () => Promise<{ ok: boolean; sends: number }>) => {
  const results: { ok: boolean; sends: number }[] = [];
  for (let i = 0; i < n; i++) results.push(await request());
  return results;
};

describe('RetryThrottle (gRPC retry throttling)', () => {
  it('starts full, loses a token per failure, earns tokenRatio per success, allows retries above half', () => {
    const t = new RetryThrottle(resolvedThrottle({ maxTokens: 10, tokenRatio: 0.1 }));
    expect(t.tokens).toBe(10);
    expect(t.allowRetry()).toBe(true);
    for (let i = 0; i < 4; i++) t.onFailure();
    expect(t.tokens).toBe(6);
    expect(t.allowRetry()).toBe(true);
    t.onFailure();
    expect(t.tokens).toBe(5);
    // Exactly half is not enough: gRPC retries only while token_count > max_tokens / 2.
    expect(t.allowRetry()).toBe(false);
    for (let i = 0; i < 10; i++) t.onSuccess();
    expect(t.tokens).toBeCloseTo(6);
    expect(t.allowRetry()).toBe(true);
  });

  it('never goes below 0 or above maxTokens', () => {
    const t = new RetryThrottle(resolvedThrottle());
    for (let i = 0; i < 30; i++) t.onFailure();
    expect(t.tokens).toBe(0);
    for (let i = 0; i < 1000; i++) t.onSuccess();
    expect(t.tokens).toBe(10);
  });

  it('uses its own maxTokens and tokenRatio', () => {
    const t = new RetryThrottle(resolvedThrottle({ maxTokens: 4, tokenRatio: 0.5 }));
    t.onFailure();
    expect(t.allowRetry()).toBe(true);
    t.onFailure();
    expect(t.allowRetry()).toBe(false);
    t.onSuccess();
    expect(t.tokens).toBe(2.5);
    expect(t.allowRetry()).toBe(true);
  });

  it('a quiet client keeps its retry for a blip', async () => {
    // One request at a time, 60 of them; each 10th one meets a single failed send before the server answers.
    let i = 0;
    let blip = false;
    const request = clientOver(() => {
      if (blip) {
        blip = false;
        return false;
      }
      return true;
    });
    const results: { ok: boolean; sends: number }[] = [];
    for (; i < 60; i++) {
      blip = i % 10 === 0;
      results.push(await request());
    }
    expect(results.every((r) => r.ok)).toBe(true);
    expect(results.reduce((n, r) => n + r.sends, 0)).toBe(66);
  });

  it('a storm is cut: in an outage retries stop within a few failures, and resume after recovery', async () => {
    let healthy = false;
    const request = clientOver(() => healthy);
    const outage = await run(1000, request);
    expect(outage.every((r) => !r.ok)).toBe(true);
    // Without the throttle, limit 2 would send 3,000: the bucket (10 tokens, retries above half) allows 3 retries.
    expect(outage.reduce((n, r) => n + r.sends, 0)).toBe(1003);
    healthy = true;
    const recovery = await run(60, request);
    expect(recovery.every((r) => r.ok && r.sends === 1)).toBe(true);
  });

  it('in a partial outage (every other send fails) the bucket settles low and retries mostly stop', async () => {
    let n = 0;
    const results = await run(
      1000,
      clientOver(() => n++ % 2 === 0),
    );
    const sends = results.reduce((s, r) => s + r.sends, 0);
    // 1,000 first sends and 5 retries: each failure costs a token and each success earns back a tenth, so the
    // bucket falls to half within the first requests and stays there.
    expect(sends).toBe(1005);
  });
});

describe('createThrottleRegistry', () => {
  it('keeps one throttle per origin', () => {
    const registry = createThrottleRegistry(resolvedThrottle());
    registry('https://a.test').onFailure();
    expect(registry('https://a.test').tokens).toBe(9);
    expect(registry('https://b.test').tokens).toBe(10);
    expect(registry('https://a.test')).toBe(registry('https://a.test'));
  });

  it('passes the options to each throttle', () => {
    const t = createThrottleRegistry(resolvedThrottle({ maxTokens: 4, tokenRatio: 0.5 }))('https://a.test');
    expect([t.maxTokens, t.tokenRatio, t.tokens]).toEqual([4, 0.5, 4]);
  });

  it('is bounded: past maxOrigins it drops the least recently used origin, not one in use', () => {
    const registry = createThrottleRegistry({ ...resolvedThrottle(), maxOrigins: 2 });
    const a = registry('https://a.test');
    for (let i = 0; i < 6; i++) a.onFailure();
    const b = registry('https://b.test');
    registry('https://a.test'); // a is now the most recently used
    registry('https://c.test'); // drops b
    expect(registry('https://a.test')).toBe(a);
    expect(registry('https://a.test').allowRetry()).toBe(false);
    expect(registry('https://b.test')).not.toBe(b);
  });

  it('holds 1,000 origins by default (the resolved default)', () => {
    const registry = createThrottleRegistry(resolvedThrottle());
    const first = registry('https://o0.test');
    for (let i = 1; i < 1000; i++) registry(`https://o${i}.test`);
    expect(registry('https://o0.test')).toBe(first);
    for (let i = 1000; i < 2000; i++) registry(`https://o${i}.test`);
    expect(registry('https://o0.test')).not.toBe(first);
  });

  it('a 401, 403 or 407 costs no token, even when listed in statusCodes (none of them is ever retried)', async () => {
    const statuses = [401, 403, 407, 401, 403, 407, 503, 200];
    let sends = 0;
    const api = createApiFetch({
      baseUrl: 'https://api.example.test',
      retry: {
        limit: 1,
        baseDelayMs: 0,
        random: () => 0,
        statusCodes: [401, 403, 407, 503],
        throttle: { maxTokens: 4 },
      },
      fetch: async () => new Response(null, { status: statuses[sends++] ?? 200 }),
    });
    for (let i = 0; i < 6; i++) await api.get('x').catch(() => undefined);
    expect(sends).toBe(6);
    // Had the six cost a token each, the bucket would be empty and the 503 not retried.
    await expect(api.get('x')).resolves.toBeInstanceOf(Response);
    expect(sends).toBe(8);
  });
});
