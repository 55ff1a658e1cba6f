/** Backoff settings shared by the request retry policy and the refresh loop. */
export interface BackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

// 2 ** 1000 is finite, so `baseDelayMs * 2 ** exponent` never becomes `0 * Infinity` (NaN) when baseDelayMs is 0.
const maxExponent = 1000;

/** The most a retry may wait before `attempt` (1-based): exponential, capped. Never NaN for any attempt. */
export function backoffCeiling(attempt: number, { baseDelayMs, maxDelayMs }: BackoffOptions): number {
  const exponent = attempt > 1 ? Math.min(maxExponent, Math.floor(attempt) - 1) : 0;
  return Math.min(maxDelayMs, baseDelayMs * 2 ** exponent);
}

/**
 * Capped full jitter: a uniform draw in [0, ceiling). The cap sits inside the jitter, so a capped retry still
 * spreads its clients over the whole window instead of lining them up at the cap.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  return random() * backoffCeiling(attempt, options);
}
