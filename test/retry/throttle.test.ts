import { describe, expect, it } from 'vitest';
import { createThrottleRegistry, RetryThrottle } from '../../src/retry/throttle.js';

/**
 * One logical request the way the retry layer runs it: every failed send costs a token (the first attempt
 * included), a success earns `tokenRatio`, and a retry is sent only while the throttle allows it.
 */
function logicalRequest(throttle: RetryThrottle, healthy: () => boolean, limit = 2): { sends: number; ok: boolean } {
  let sends = 0;
  for (let attempt = 0; attempt <= limit; attempt++) {
    sends++;
    if (healthy()) {
      throttle.onSuccess();
      return { sends, ok: true };
    }
    throttle.onFailure();
    if (!throttle.allowRetry()) break;
  }
  return { sends, ok: false };
}

describe('RetryThrottle (gRPC retry throttling)', () => {
  it('starts full, loses a token per failure, earns tokenRatio per success, allows retries above half', () => {
    const t = new RetryThrottle({ maxTokens: 10, tokenRatio: 0.1 });
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
    const t = new RetryThrottle();
    for (let i = 0; i < 30; i++) t.onFailure();
    expect(t.tokens).toBe(0);
    for (let i = 0; i < 1000; i++) t.onSuccess();
    expect(t.tokens).toBe(10);
  });

  it('uses its own maxTokens and tokenRatio', () => {
    const t = new RetryThrottle({ maxTokens: 4, tokenRatio: 0.5 });
    t.onFailure();
    expect(t.allowRetry()).toBe(true);
    t.onFailure();
    expect(t.allowRetry()).toBe(false);
    t.onSuccess();
    expect(t.tokens).toBe(2.5);
    expect(t.allowRetry()).toBe(true);
  });

  it('a quiet client keeps its retry for a blip', () => {
    const throttle = new RetryThrottle();
    // One request a minute for an hour; each 10th one hits a single failed send before the server answers.
    let outcomes = 0;
    for (let i = 0; i < 60; i++) {
      let blip = i % 10 === 0;
      const { ok, sends } = logicalRequest(throttle, () => {
        if (blip) {
          blip = false;
          return false;
        }
        return true;
      });
      expect(ok).toBe(true);
      outcomes += sends;
    }
    expect(outcomes).toBe(66);
  });

  it('a storm is cut: tokens drain in an outage, retries stop, and refill after recovery', () => {
    const throttle = new RetryThrottle();
    let healthy = false;
    let sends = 0;
    const outage = Array.from({ length: 1000 }, () => logicalRequest(throttle, () => healthy));
    sends = outage.reduce((n, r) => n + r.sends, 0);
    expect(outage.every((r) => !r.ok)).toBe(true);
    expect(throttle.tokens).toBe(0);
    expect(throttle.allowRetry()).toBe(false);
    // Without the throttle, limit 2 would send 3,000; with it, only the first few requests retry.
    expect(sends / 1000).toBeLessThan(1.01);

    healthy = true;
    const recovery = Array.from({ length: 60 }, () => logicalRequest(throttle, () => healthy));
    expect(recovery.every((r) => r.ok && r.sends === 1)).toBe(true);
    expect(throttle.tokens).toBeCloseTo(6);
    expect(throttle.allowRetry()).toBe(true);
  });

  it('in a partial outage (every other send fails) the bucket settles low and retries mostly stop', () => {
    const throttle = new RetryThrottle();
    let n = 0;
    const results = Array.from({ length: 1000 }, () => logicalRequest(throttle, () => n++ % 2 === 0));
    const sends = results.reduce((s, r) => s + r.sends, 0);
    expect(throttle.allowRetry()).toBe(false);
    expect(sends / 1000).toBeLessThan(1.1);
  });
});

describe('createThrottleRegistry', () => {
  it('keeps one throttle per origin', () => {
    const registry = createThrottleRegistry({});
    registry('https://a.test').onFailure();
    expect(registry('https://a.test').tokens).toBe(9);
    expect(registry('https://b.test').tokens).toBe(10);
    expect(registry('https://a.test')).toBe(registry('https://a.test'));
  });

  it('passes the options to each throttle', () => {
    const t = createThrottleRegistry({ maxTokens: 4, tokenRatio: 0.5 })('https://a.test');
    expect([t.maxTokens, t.tokenRatio, t.tokens]).toEqual([4, 0.5, 4]);
  });

  it('is bounded: past maxOrigins it drops the least recently used origin, not one in use', () => {
    const registry = createThrottleRegistry({}, 2);
    const a = registry('https://a.test');
    for (let i = 0; i < 6; i++) a.onFailure();
    const b = registry('https://b.test');
    registry('https://a.test'); // a is now the most recently used
    registry('https://c.test'); // drops b
    expect(registry('https://a.test')).toBe(a);
    expect(registry('https://a.test').allowRetry()).toBe(false);
    expect(registry('https://b.test')).not.toBe(b);
  });

  it('holds 1,000 origins by default', () => {
    const registry = createThrottleRegistry({});
    const first = registry('https://o0.test');
    for (let i = 1; i < 1000; i++) registry(`https://o${i}.test`);
    expect(registry('https://o0.test')).toBe(first);
    for (let i = 1000; i < 2000; i++) registry(`https://o${i}.test`);
    expect(registry('https://o0.test')).not.toBe(first);
  });
});
