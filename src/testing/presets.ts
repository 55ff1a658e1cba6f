import type { ApiFetchOptions, RetryOptions } from '../options.js';

/**
 * Retry settings for tests: backoff waits of 0 ms and a fixed jitter draw, so suites never sleep and every run
 * takes the same path. Limits, statuses, idempotency rules and the retry throttle stay as in production (the
 * throttle's bucket belongs to a client: create one client per test, or a shared one carries it across tests).
 * A `Retry-After` from the server is still honoured: use fake timers, or `failNext` without `retryAfter`.
 */
export const instantRetry: Readonly<RetryOptions> = Object.freeze({ baseDelayMs: 0, maxDelayMs: 0, random: () => 0 });

/**
 * Spread into `createApiFetch` options in tests (`{ ...options, ...testingOptions }`): instant, deterministic
 * retries. For instant refresh retries too, use `mock.auth()` or add `random: () => 0` to `auth`.
 * @example createApiFetch({ baseUrl: mock.baseUrl, auth: mock.auth(), ...testingOptions })
 */
export const testingOptions: Readonly<Pick<ApiFetchOptions, 'retry'>> = Object.freeze({ retry: instantRetry });
