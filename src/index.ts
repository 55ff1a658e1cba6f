export type { AuthController, LockFunction, RefreshContext } from './auth/refresh.js';
export {
  memoryTokenStore,
  storageTokenStore,
  type TokenSet,
  type TokenStorage,
  type TokenStore,
} from './auth/tokens.js';
export {
  type BearerChallenge,
  bearerChallenge,
  type Challenge,
  type DPoPChallenge,
  dpopChallenge,
  type ParseChallengesOptions,
  parseChallenges,
} from './challenge.js';
export { type ApiFetch, apiFetch, createApiFetch, type RequestOptions } from './client.js';
export {
  ErrorCode,
  ForbiddenError,
  InvalidOptionError,
  isForbiddenError,
  isInvalidOptionError,
  isProxyAuthenticationError,
  isRetryAfterTooLongError,
  isUnauthenticatedError,
  type ProblemDetails,
  ProxyAuthenticationError,
  RetryAfterTooLongError,
  UnauthenticatedError,
  type UnauthenticatedReason,
} from './errors.js';
export type { ApiFetchEvent, ApiFetchEventType } from './events.js';
export type { ApiFetchOptions, AuthOptions, MaybeToken, RequestAuthOption } from './options.js';
export type { RetryOptions } from './retry/policy.js';
export type { ThrottleOptions } from './retry/throttle.js';
