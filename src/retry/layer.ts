import { isHTTPError, isNetworkError, isTimeoutError, type RetryOptions as KyRetryOptions } from 'ky';
import { originOf } from '../auth/origins.js';
import { RetryAfterTooLongError } from '../errors.js';
import type { Emit } from '../events.js';
import { requestInfo } from '../events.js';
import {
  decideRetry,
  defaultMethodSet,
  type Failure,
  isRetryableFailure,
  type ResolvedRetryOptions,
} from './policy.js';
import type { RetryThrottle } from './throttle.js';

/** What the retry layer needs from its client. */
export interface RetryDeps {
  options: ResolvedRetryOptions;
  /** The throttle of an origin; undefined when throttling is off. */
  throttleFor: ((origin: string) => RetryThrottle) | undefined;
  emit: Emit;
  now: () => number;
}

const allMethods: NonNullable<KyRetryOptions['methods']> = [
  'get',
  'post',
  'put',
  'patch',
  'head',
  'delete',
  'options',
  'trace',
  'query',
];

function failureOf(error: Error): Failure {
  if (isHTTPError(error)) return { kind: 'http', status: error.response.status, headers: error.response.headers };
  if (isTimeoutError(error)) return { kind: 'timeout' };
  if (isNetworkError(error)) return { kind: 'network' };
  if (error.name === 'AbortError') return { kind: 'abort' };
  return { kind: 'other' };
}

/** Record one send's outcome on its origin's throttle: successes earn, retryable failures cost. */
export function recordOutcome(deps: RetryDeps, url: string, outcome: Response | Error): void {
  if (!deps.throttleFor) return;
  const throttle = deps.throttleFor(originOf(url));
  // Duck-typed: a custom fetch may answer with another realm's Response.
  if ('status' in outcome && typeof outcome.status === 'number') {
    if (outcome.ok) throttle.onSuccess();
    else if (deps.options.statusCodes.has(outcome.status)) throttle.onFailure();
    return;
  }
  const failure: Failure = (outcome as Error).name === 'AbortError' ? { kind: 'abort' } : { kind: 'network' };
  if (isRetryableFailure(failure, deps.options)) throttle.onFailure();
}

/**
 * ky's retry options for one call. ky runs the one retry loop (timer, abort, limit); this steers it through
 * `shouldRetry` with our policy and supplies the delay that the policy chose.
 */
export function kyRetryFor(deps: RetryDeps, method: string): KyRetryOptions {
  const { options } = deps;
  const startedAt = deps.now();
  let nextDelay = 0;
  // Only what ky needs: `shouldRetry` answers true or false for every failure, so ky's own status, timeout and
  // Retry-After rules never apply (and cost nothing per call).
  return {
    limit: options.limit,
    // ky checks methods before asking `shouldRetry`; its default list is ours, so only widen it when needed.
    ...(options.methods === defaultMethodSet && method !== 'POST' && method !== 'PATCH' ? {} : { methods: allMethods }),
    delay: () => nextDelay,
    shouldRetry: ({ error, retryCount }) => {
      const request = (error as { request?: Request }).request;
      if (!request) return false;
      const now = deps.now();
      const failure = failureOf(error);
      const decision = decideRetry({
        method: request.method,
        idempotent: request.headers.has('idempotency-key'),
        failure,
        retryNumber: retryCount,
        elapsedMs: now - startedAt,
        now,
        options,
        throttle: deps.throttleFor?.(originOf(request.url)),
      });
      const info = requestInfo(request);
      if (decision.retry) {
        nextDelay = decision.delayMs;
        deps.emit({
          type: 'retry',
          ...info,
          attempt: retryCount,
          delayMs: decision.delayMs,
          reason: decision.reason,
          ...(decision.retryAfterMs === undefined ? {} : { retryAfterMs: decision.retryAfterMs }),
        });
        return true;
      }
      if (decision.throttled) {
        deps.emit({ type: 'retry:throttled', ...info, reason: decision.reason, origin: originOf(request.url) });
      }
      if (decision.tooLong && isHTTPError(error)) {
        throw new RetryAfterTooLongError({
          response: error.response,
          request,
          retryAfterMs: decision.retryAfterMs ?? 0,
          data: error.data,
          cause: error,
        });
      }
      return false;
    },
  };
}

/** Headers with a fresh `Idempotency-Key` (kept across ky's retries), or undefined when the caller set one. */
export function withIdempotencyKey(
  headers: HeadersInit | Record<string, string | undefined> | undefined,
): Headers | undefined {
  const merged = new Headers(headers as HeadersInit | undefined);
  if (merged.has('idempotency-key')) return undefined;
  merged.set('idempotency-key', crypto.randomUUID());
  return merged;
}
