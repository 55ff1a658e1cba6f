/** Backoff settings shared by the request retry policy and the refresh loop. */
export interface BackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

/** The most a retry may wait before `attempt` (1-based): exponential, capped. */
export function backoffCeiling(attempt: number, { baseDelayMs, maxDelayMs }: BackoffOptions): number {
  // 2 ** 1024 is Infinity, and min() then returns the cap: no overflow to guard beyond that.
  return Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempt - 1));
}

/**
 * Capped full jitter: a uniform draw in [0, ceiling). The cap sits inside the jitter, so a capped retry still
 * spreads its clients over the whole window instead of lining them up at the cap.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number): number {
  return random() * backoffCeiling(attempt, options);
}
