import { isHTTPError, isNetworkError, isTimeoutError, type RetryOptions as KyRetryOptions } from 'ky';
import { originOf } from '../auth/origins.js';
import { RetryAfterTooLongError } from '../errors.js';
import type { Emit } from '../events.js';
import { requestInfo } from '../events.js';
import { defaultMethodSet, type ResolvedRetryOptions } from '../options.js';
import { redactUrl } from '../redact.js';
import { backoffDelay } from './backoff.js';
import { decideRetry, type Failure, isRetryableFailure, neverRetried } from './policy.js';
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
  const { status, ok, headers, name } = outcome as Partial<Response & Error>;
  if (ok === true) {
    throttle.onSuccess();
    return;
  }
  const failure: Failure =
    typeof status === 'number' && headers
      ? { kind: 'http', status, headers }
      : { kind: name === 'AbortError' ? 'abort' : 'network' };
  // 401, 403 and 407 are never retried, even when listed in `statusCodes`: they cost no token either.
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
    // ky checks methods before asking `shouldRetry`; its default list is ours, so only widen it when needed (other
    // methods, or an app's `shouldRetry` that may want any).
    ...(options.methods === defaultMethodSet && !options.shouldRetry && method !== 'POST' && method !== 'PATCH'
      ? {}
      : { methods: allMethods }),
    delay: () => nextDelay,
    shouldRetry: async ({ error, retryCount }) => {
      const request = (error as { request?: Request }).request;
      if (!request) return false;
      const now = deps.now();
      const failure = failureOf(error);
      let decision = decideRetry({
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
      // The app's own policy may overrule ours, but never about what only the auth layer decides, nor past the limit.
      if (options.shouldRetry && decision.reason !== 'limit' && failure.kind !== 'abort' && !neverRetried(failure)) {
        const verdict = await options.shouldRetry({
          method: request.method,
          url: redactUrl(request.url),
          status: failure.kind === 'http' ? failure.status : undefined,
          reason: failure.kind === 'http' ? String(failure.status) : failure.kind,
          error,
          retryNumber: retryCount,
          policy: decision.retry,
        });
        if (verdict === true && !decision.retry) {
          decision = {
            retry: true,
            reason: decision.reason,
            delayMs: backoffDelay(retryCount, options, options.random),
          };
        } else if (verdict === false && decision.retry) {
          decision = { retry: false, reason: decision.reason };
        }
      }
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

/**
 * What the retry layer adds to one call's ky options: its retry steering, the deadline (ky's `totalTimeout`), and a
 * fresh `Idempotency-Key` for a POST or PATCH when `idempotencyKey` is on and the caller set none (on a `Request`
 * input, in the client's headers, or in this call's).
 */
export function retryPlan(
  deps: RetryDeps,
  input: string | URL | Request,
  method: string,
  callHeaders: HeadersInit | Record<string, string | undefined> | undefined,
  clientHasKey: boolean,
): { retry: KyRetryOptions; headers?: Headers; totalTimeout?: number } {
  const { options } = deps;
  const plan: { retry: KyRetryOptions; headers?: Headers; totalTimeout?: number } = {
    retry: kyRetryFor(deps, method),
  };
  if (options.deadlineMs !== undefined) plan.totalTimeout = options.deadlineMs;
  if (options.idempotencyKey && (method === 'POST' || method === 'PATCH') && !clientHasKey) {
    const headers = new Headers(callHeaders as HeadersInit | undefined);
    const keyed = headers.has('idempotency-key') || (input instanceof Request && input.headers.has('idempotency-key'));
    if (!keyed) {
      headers.set('idempotency-key', crypto.randomUUID());
      plan.headers = headers;
    }
  }
  return plan;
}
