import type { ResolvedRetryOptions } from '../options.js';
import { backoffDelay } from './backoff.js';
import { parseRetryAfter } from './retry-after.js';
import type { RetryThrottle } from './throttle.js';

/** What failed, as the policy sees it. */
export type Failure =
  | { kind: 'http'; status: number; headers: Headers }
  | { kind: 'network' }
  | { kind: 'timeout' }
  | { kind: 'abort' }
  | { kind: 'other' };

export interface RetryInput {
  method: string;
  /** Whether the request carries an `Idempotency-Key` header. */
  idempotent: boolean;
  failure: Failure;
  /** The retry about to happen, 1-based. */
  retryNumber: number;
  /** Time since the request started, in ms. */
  elapsedMs: number;
  now: number;
  options: ResolvedRetryOptions;
  /** The origin's throttle; undefined when throttling is off. */
  throttle: RetryThrottle | undefined;
}

export type RetryDecision =
  | { retry: true; delayMs: number; reason: string; retryAfterMs?: number }
  | { retry: false; reason: string; retryAfterMs?: number; throttled?: true; tooLong?: true };

/** 401, 403 and 407: the auth layer's and the proxy's answers, never retried, even when listed in `statusCodes`. */
export const neverRetried = (failure: Failure): boolean =>
  failure.kind === 'http' && (failure.status === 401 || failure.status === 403 || failure.status === 407);

/** Whether a failure counts against the retry throttle (and could be retried at all). */
export function isRetryableFailure(failure: Failure, options: ResolvedRetryOptions): boolean {
  switch (failure.kind) {
    case 'http':
      return !neverRetried(failure) && options.statusCodes.has(failure.status);
    case 'network':
      return true;
    case 'timeout':
      return options.onTimeout;
    default:
      return false;
  }
}

const reasonOf = (failure: Failure) => (failure.kind === 'http' ? String(failure.status) : failure.kind);

/**
 * Decide one retry. Pure apart from `options.random`: it only reads the throttle. The caller records every send's
 * outcome on the throttle exactly once (`onFailure` when `isRetryableFailure`, `onSuccess` on a 2xx), at the
 * send rather than here, so a failure is counted once whether or not a decision is asked for it.
 *
 * With `Retry-After`, the wait is the server's value plus a full-jitter spread on top: never earlier than the server
 * allows, and a herd told "1 s" does not come back in the same millisecond. A value beyond `maxRetryAfterMs` or the
 * deadline is not clamped: the answer is `{ retry: false, tooLong: true, retryAfterMs }`.
 */
export function decideRetry(input: RetryInput): RetryDecision {
  const { failure, options } = input;
  const reason = reasonOf(failure);
  if (!isRetryableFailure(failure, options)) return { retry: false, reason };
  const method = input.method.toUpperCase();
  const methodAllowed = options.methods.has(method) || ((method === 'POST' || method === 'PATCH') && input.idempotent);
  if (!methodAllowed) return { retry: false, reason };
  if (input.retryNumber > options.limit) return { retry: false, reason: 'limit' };

  const retryAfterMs = failure.kind === 'http' ? parseRetryAfter(failure.headers, input.now) : undefined;
  if (input.throttle && !input.throttle.allowRetry()) {
    return retryAfterMs === undefined
      ? { retry: false, reason, throttled: true }
      : { retry: false, reason, throttled: true, retryAfterMs };
  }
  const jitter = backoffDelay(input.retryNumber, options, options.random);
  const remaining = options.deadlineMs === undefined ? Number.POSITIVE_INFINITY : options.deadlineMs - input.elapsedMs;
  if (retryAfterMs !== undefined) {
    // A retry at the deadline itself could only time out: the server's wait must end before it, and the spread on
    // top takes at most half of what is left, so the retry has time to run. The server's minimum always holds.
    if (retryAfterMs > options.maxRetryAfterMs || retryAfterMs >= remaining) {
      return { retry: false, reason, retryAfterMs, tooLong: true };
    }
    return {
      retry: true,
      reason,
      retryAfterMs,
      delayMs: retryAfterMs + Math.min(jitter, (remaining - retryAfterMs) / 2),
    };
  }
  if (jitter >= remaining) return { retry: false, reason: 'deadline' };
  return { retry: true, reason, delayMs: jitter };
}
