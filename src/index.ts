// ky's errors and guards, so apps handle them without importing ky themselves (which pnpm's strict layout refuses).
export {
  ForceRetryError,
  HTTPError,
  isForceRetryError,
  isHTTPError,
  isKyError,
  isNetworkError,
  isTimeoutError,
  KyError,
  NetworkError,
  SchemaValidationError,
  TimeoutError,
} from 'ky';
export type { MaybeToken } from './auth/session.js';
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
export type {
  ApiFetchOptions,
  AuthController,
  AuthOptions,
  KyClientOptions,
  RefreshContext,
  RequestAuthOption,
  RetryContext,
  RetryOptions,
  ThrottleOptions,
  TokenSession,
  TokenSessionOptions,
} from './options.js';
// Capabilities: each is in an app's bundle only when the app imports it.
export {
  type Coordination,
  type CoordinationMessage,
  CoordinationUnavailableError,
  isCoordinationUnavailableError,
  type LockFunction,
  lockCoordination,
  type SharedState,
} from './session/coordination.js';
export { tabCoordination } from './session/tabs.js';
export { createTokenSession } from './session/token-session.js';
export {
  memoryTokenStore,
  storageTokenStore,
  type TokenSet,
  type TokenStorage,
  type TokenStore,
} from './session/tokens.js';
