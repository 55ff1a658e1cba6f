import isNetworkError from 'is-network-error';
import { tokenSetShape } from './tokens.js';

/** The refresh took longer than `refreshTimeoutMs`. */
export class RefreshTimeout extends Error {
  override readonly name = 'RefreshTimeout';
}

/** `setTokens`, `clear` or another holder changed the tokens while the refresh ran. */
export class Superseded extends Error {
  override readonly name = 'Superseded';
}

/** `refresh` resolved to something that is not a `TokenSet`. */
export class InvalidRefreshResult extends Error {
  override readonly name = 'InvalidRefreshResult';
  constructor(problem: string) {
    super(`refresh must resolve to ${tokenSetShape}: ${problem}`);
  }
}

/**
 * A refresh failure that is not an `Error` of this realm (a plain `{ status: 503 }`, an Error from a `vm` context or
 * an iframe), wrapped so that p-retry, which retries only `instanceof Error`, still classifies it by its status.
 * `cause` is what was thrown.
 */
export class ForeignRefreshFailure extends Error {
  override readonly name = 'ForeignRefreshFailure';
  readonly status: number | undefined;
  constructor(thrown: unknown) {
    super('refresh failed', { cause: thrown });
    this.status = statusOf(thrown);
  }
}

/** The HTTP status a refresh failure carries (`status`, or `response.status` as ky's HTTPError has it). */
export function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { status?: unknown; response?: { status?: unknown } };
  const status = typeof e.status === 'number' ? e.status : e.response?.status;
  return typeof status === 'number' ? status : undefined;
}

/** What was thrown, through the wrapper of a foreign failure. */
export const thrownOf = (error: unknown): unknown => (error instanceof ForeignRefreshFailure ? error.cause : error);

/** Whether a refresh failure may pass if tried again: network errors, 408, 429 and 5xx. */
export function isTransientRefreshError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const status = statusOf(error);
  if (status !== undefined) return status === 408 || status === 429 || status >= 500;
  const { name } = error as { name?: unknown };
  // A TypeError is a network failure only as fetch throws it (the test p-retry itself applies): any other is a bug in
  // the refresh function, which no retry mends.
  if (name === 'TypeError') return isNetworkError(error);
  return name === 'NetworkError' || name === 'TimeoutError';
}

/** The `reason` of a `refresh:failure` event: `timeout`, `status <n>`, `network`, or the error's name. Never a token. */
export function failureReason(error: unknown): string {
  if (error instanceof RefreshTimeout) return 'timeout';
  const status = statusOf(error);
  if (status !== undefined) return `status ${status}`;
  const thrown = thrownOf(error);
  if (isTransientRefreshError(thrown)) return 'network';
  const { name } = (typeof thrown === 'object' && thrown !== null ? thrown : {}) as { name?: unknown };
  return typeof name === 'string' ? name : 'error';
}
