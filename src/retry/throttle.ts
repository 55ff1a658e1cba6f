import type { ResolvedThrottleOptions } from '../options.js';

/**
 * gRPC-style retry throttle: driven by outcomes, not time. Every retryable failure costs a token, every success
 * earns `tokenRatio`, and retries are allowed only while more than half the bucket is left. A quiet client keeps its
 * retries for a blip; a busy one stops retrying within a few failures of an outage.
 */
export class RetryThrottle {
  #tokens: number;
  readonly maxTokens: number;
  readonly tokenRatio: number;

  /** Takes resolved values (`resolveRetryOptions(…).throttle`): no defaults are applied here. */
  constructor({ maxTokens, tokenRatio }: Pick<ResolvedThrottleOptions, 'maxTokens' | 'tokenRatio'>) {
    this.maxTokens = maxTokens;
    this.tokenRatio = tokenRatio;
    this.#tokens = maxTokens;
  }

  get tokens(): number {
    return this.#tokens;
  }

  /** Record a failure that is retryable by status or kind (first attempts included). */
  onFailure(): void {
    this.#tokens = Math.max(0, this.#tokens - 1);
  }

  /** Record a success. */
  onSuccess(): void {
    this.#tokens = Math.min(this.maxTokens, this.#tokens + this.tokenRatio);
  }

  allowRetry(): boolean {
    return this.#tokens > this.maxTokens / 2;
  }
}

/**
 * One throttle per origin, created on first use. Past `maxOrigins` the least recently used origin is dropped: an
 * origin in active use keeps its (possibly drained) bucket, so a crowd of other origins cannot refill it.
 */
export function createThrottleRegistry(options: ResolvedThrottleOptions): (origin: string) => RetryThrottle {
  const byOrigin = new Map<string, RetryThrottle>();
  // Most clients talk to one origin: its throttle is already the most recently used, with no Map work per request.
  let lastOrigin: string | undefined;
  let lastThrottle: RetryThrottle | undefined;
  return (origin) => {
    if (origin === lastOrigin && lastThrottle) return lastThrottle;
    let throttle = byOrigin.get(origin);
    if (throttle) {
      // Re-insert to mark it most recently used (Map keeps insertion order).
      byOrigin.delete(origin);
    } else {
      throttle = new RetryThrottle(options);
      if (byOrigin.size >= options.maxOrigins) byOrigin.delete(byOrigin.keys().next().value as string);
    }
    byOrigin.set(origin, throttle);
    lastOrigin = origin;
    lastThrottle = throttle;
    return throttle;
  };
}
