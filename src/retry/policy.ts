import { InvalidOptionError } from '../errors.js';
import { numberAtLeast, optionalBoolean, optionalFunction, timerMs } from '../options.js';
import { backoffDelay } from './backoff.js';
import { parseRetryAfter } from './retry-after.js';
import type { RetryThrottle, ThrottleOptions } from './throttle.js';

/** Retry of transient failures. Every field is optional. */
export interface RetryOptions {
  /**
   * Retries after the first attempt.
   * @default 2
   */
  limit?: number;
  /**
   * First backoff ceiling in ms; it doubles each retry up to `maxDelayMs`. The wait is a uniform draw below it.
   * @default 300
   */
  baseDelayMs?: number;
  /**
   * Cap of the backoff ceiling in ms (the cap sits inside the jitter).
   * @default 10000
   */
  maxDelayMs?: number;
  /**
   * The longest `Retry-After` honoured, in ms. A longer one is not shortened: the request fails at once with a
   * `RetryAfterTooLongError` carrying `retryAfterMs`, so the app can schedule it.
   * @default 60000
   */
  maxRetryAfterMs?: number;
  /**
   * Bound in ms on all attempts and waits of one request together (`timeout` bounds one attempt). A backoff that
   * would reach it is not taken; a `Retry-After` that reaches it ends in `RetryAfterTooLongError`.
   * @default undefined (no deadline)
   */
  deadlineMs?: number;
  /**
   * Retry an attempt that hit `timeout`.
   * @default false
   */
  onTimeout?: boolean;
  /**
   * Give POST and PATCH requests without an `Idempotency-Key` header a fresh one (`crypto.randomUUID()`), which
   * makes them retryable. Without it, POST and PATCH are retried only when the caller set the header.
   * @default false
   */
  idempotencyKey?: boolean;
  /**
   * Statuses that are retried.
   * @default [408, 425, 429, 500, 502, 503, 504]
   */
  statusCodes?: readonly number[];
  /**
   * Methods that are retried (POST and PATCH also when they carry an `Idempotency-Key`).
   * @default ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'QUERY']
   */
  methods?: readonly string[];
  /**
   * Retry throttling per client and origin (gRPC's design), or `false` to turn it off.
   * @default { maxTokens: 10, tokenRatio: 0.1 }
   */
  throttle?: ThrottleOptions | false;
  /**
   * Random source in [0, 1) for the jitter; inject a seeded one in tests.
   * @default Math.random
   */
  random?: () => number;
}

export interface ResolvedRetryOptions {
  limit: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxRetryAfterMs: number;
  deadlineMs: number | undefined;
  onTimeout: boolean;
  idempotencyKey: boolean;
  statusCodes: ReadonlySet<number>;
  methods: ReadonlySet<string>;
  throttle: Required<ThrottleOptions> | false;
  random: () => number;
}

export const defaultRetryStatusCodes = [408, 425, 429, 500, 502, 503, 504] as const;
export const defaultRetryMethods = ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'QUERY'] as const;
/** The default method set, shared, so callers can tell "default" by identity. */
export const defaultMethodSet: ReadonlySet<string> = new Set(defaultRetryMethods);

/** Validate `retry` (an options object, a retry count, or `false`) and fill defaults. */
export function resolveRetryOptions(input: RetryOptions | number | false | undefined): ResolvedRetryOptions {
  const options: RetryOptions =
    input === false ? { limit: 0 } : typeof input === 'number' ? { limit: input } : (input ?? {});
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('retry', 'an object, a number or false', input);
  }
  const throttle = options.throttle ?? {};
  if (throttle !== false && (typeof throttle !== 'object' || throttle === null)) {
    throw new InvalidOptionError('retry.throttle', 'an object or false', throttle);
  }
  const statusCodes = options.statusCodes ?? defaultRetryStatusCodes;
  const methods = options.methods ?? defaultRetryMethods;
  if (!Array.isArray(statusCodes) || statusCodes.some((s) => !Number.isInteger(s) || s < 100 || s > 599)) {
    throw new InvalidOptionError('retry.statusCodes', 'an array of HTTP statuses', statusCodes);
  }
  if (!Array.isArray(methods) || methods.some((m) => typeof m !== 'string')) {
    throw new InvalidOptionError('retry.methods', 'an array of method names', methods);
  }
  optionalBoolean(options.onTimeout, 'retry.onTimeout');
  optionalBoolean(options.idempotencyKey, 'retry.idempotencyKey');
  return {
    limit: numberAtLeast(options.limit ?? 2, 0, 'retry.limit', true),
    baseDelayMs: timerMs(options.baseDelayMs ?? 300, 0, 'retry.baseDelayMs'),
    maxDelayMs: timerMs(options.maxDelayMs ?? 10_000, 0, 'retry.maxDelayMs'),
    maxRetryAfterMs: timerMs(options.maxRetryAfterMs ?? 60_000, 0, 'retry.maxRetryAfterMs'),
    deadlineMs: options.deadlineMs === undefined ? undefined : timerMs(options.deadlineMs, 1, 'retry.deadlineMs'),
    onTimeout: options.onTimeout ?? false,
    idempotencyKey: options.idempotencyKey ?? false,
    statusCodes: new Set(statusCodes),
    methods: options.methods === undefined ? defaultMethodSet : new Set(methods.map((m) => m.toUpperCase())),
    throttle:
      throttle === false
        ? false
        : {
            maxTokens: numberAtLeast(throttle.maxTokens ?? 10, 1, 'retry.throttle.maxTokens'),
            tokenRatio: numberAtLeast(throttle.tokenRatio ?? 0.1, 0, 'retry.throttle.tokenRatio'),
          },
    random: optionalFunction(options.random, 'retry.random') ?? Math.random,
  };
}

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

/** Whether a failure counts against the retry throttle (and could be retried at all). */
export function isRetryableFailure(failure: Failure, options: ResolvedRetryOptions): boolean {
  switch (failure.kind) {
    case 'http':
      return options.statusCodes.has(failure.status);
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

/** A request's `retry` over the client's: objects merge, a number sets `limit`, `false` turns retries off. */
export function mergeRetryOptions(
  base: RetryOptions | number | false | undefined,
  override: RetryOptions | number | false,
): ResolvedRetryOptions {
  const asObject = (value: RetryOptions | number | false | undefined): RetryOptions =>
    value === false ? { limit: 0 } : typeof value === 'number' ? { limit: value } : (value ?? {});
  return resolveRetryOptions({ ...asObject(base), ...asObject(override) });
}
