import { HTTPError, type KyRequest, type KyResponse, type NormalizedOptions } from 'ky';
import type { Challenge } from './challenge.js';
import { redactError, redactRequest, redactResponse, redactUrl } from './redact.js';

/** Stable error codes, one per error class. Switch on these rather than on messages. */
export const ErrorCode = {
  /** `UnauthenticatedError` (401). */
  unauthenticated: 'ERR_UNAUTHENTICATED',
  /** `ForbiddenError` (403). */
  forbidden: 'ERR_FORBIDDEN',
  /** `ProxyAuthenticationError` (407). */
  proxyAuthentication: 'ERR_PROXY_AUTHENTICATION',
  /** `RetryAfterTooLongError`. */
  retryAfterTooLong: 'ERR_RETRY_AFTER_TOO_LONG',
  /** `InvalidOptionError`. */
  invalidOption: 'ERR_INVALID_OPTION',
} as const;
/** The codes above, and `ERR_DPOP` of `DPoPError` (`apifetch/dpop`), declared there so the core carries no DPoP. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode] | 'ERR_DPOP';

/**
 * Why a request ended unauthenticated.
 * - `no_refresh`: 401 that apifetch does not refresh for: no token session with `refresh`, or the request carried no
 *   token of apifetch's (never signed in, the caller's own `Authorization`, or `auth: false`).
 * - `refresh_failed`: the refresh call failed (definitively, or after its retries).
 * - `rejected_after_refresh`: the server refused a token fresh from a refresh; no second refresh is tried.
 * - `signed_out`: the client is signed out (after a failed refresh, or `auth.clear()`); nothing was sent.
 * - `refresh_limit`: the refresh circuit breaker is open (`auth.maxRefreshes` per `auth.refreshWindowMs`); nothing was sent.
 * - `step_up_required`: the server asks for stronger authentication (RFC 9470); see `acrValues` and `maxAge`.
 * - `unsupported_challenge`: only non-Bearer schemes were offered; see `challenges`.
 * - `refresh_timeout`: the refresh (or the wait for another tab's refresh) exceeded `auth.refreshTimeoutMs`.
 */
export type UnauthenticatedReason =
  | 'no_refresh'
  | 'refresh_failed'
  | 'rejected_after_refresh'
  | 'signed_out'
  | 'refresh_limit'
  | 'step_up_required'
  | 'unsupported_challenge'
  | 'refresh_timeout';

export interface HttpErrorInit {
  response: Response;
  request: Request;
  challenges?: readonly Challenge[];
  /** The parsed body: RFC 9457 problem details, else text. */
  data?: unknown;
  cause?: unknown;
}

// ky fills `options` in its beforeError hook; until then it is an empty object.
const noOptions = {} as NormalizedOptions;

// ky types `name` as the literal 'HTTPError'; our subclasses need their own literal names, so the base is typed
// without it. At run time it is ky's HTTPError: `instanceof HTTPError` and ky's `isHTTPError` hold.
const HTTPErrorBase = HTTPError as unknown as abstract new (
  response: Response,
  request: Request,
  options: NormalizedOptions,
) => Omit<HTTPError, 'name'> & Error;

/** Base of the apifetch HTTP errors: a ky `HTTPError` with a stable `code` and the parsed challenges. */
export abstract class ApiFetchHTTPError extends HTTPErrorBase {
  abstract readonly code: ErrorCode;
  /** Whether retrying the same request unchanged could succeed. */
  abstract readonly retryable: boolean;
  /** HTTP status of the response (or of the local stand-in when nothing was sent). */
  readonly status: number;
  /** Challenges parsed from `WWW-Authenticate` (or `Proxy-Authenticate` for 407). */
  readonly challenges: readonly Challenge[];

  /** `message` is followed by the request's method and redacted URL. */
  constructor(init: HttpErrorInit, message: string) {
    // What an error holds is handed out (thrown, logged, passed to callbacks): never the token-carrying request, nor
    // a URL with its query.
    const request = redactRequest(init.request);
    super(redactResponse(init.response) as KyResponse, request as KyRequest, noOptions);
    this.message = `${message}: ${request.method} ${request.url}`;
    if (init.cause !== undefined) this.cause = redactError(init.cause);
    this.status = init.response.status;
    this.challenges = init.challenges ?? [];
    if (init.data !== undefined) this.data = init.data;
  }
}

export interface UnauthenticatedErrorInit extends HttpErrorInit {
  reason: UnauthenticatedReason;
  /** False when the client failed fast without touching the network; `response` is then a local 401 stand-in. */
  sent?: boolean;
  acrValues?: readonly string[];
  maxAge?: number;
}

/** 401: the user must sign in again (or step up). Show the login screen. */
export class UnauthenticatedError extends ApiFetchHTTPError {
  /** Literal, so it survives minification: what `isUnauthenticatedError` matches across bundles. */
  override readonly name = 'UnauthenticatedError' as const;
  /** `ERR_UNAUTHENTICATED`. */
  readonly code = ErrorCode.unauthenticated;
  readonly retryable = false;
  /** Why the request ended unauthenticated: sign in again, or step up for `step_up_required`. */
  readonly reason: UnauthenticatedReason;
  /** Whether this request reached the server. */
  readonly sent: boolean;
  /** Step-up (RFC 9470): the authentication context classes the server asks for. */
  readonly acrValues: readonly string[] | undefined;
  /** Step-up (RFC 9470): the maximum authentication age in seconds the server accepts. */
  readonly maxAge: number | undefined;

  constructor(init: UnauthenticatedErrorInit) {
    super(init, `401 Unauthenticated (${init.reason})`);
    this.reason = init.reason;
    this.sent = init.sent ?? true;
    this.acrValues = init.acrValues;
    this.maxAge = init.maxAge;
  }

  /** A local stand-in for a request that failed fast; nothing was sent. */
  static notSent(request: Request, reason: UnauthenticatedReason, cause?: unknown): UnauthenticatedError {
    const response = new Response(null, { status: 401, statusText: 'Unauthorized (not sent)' });
    return new UnauthenticatedError({ response, request, reason, sent: false, cause });
  }
}

export interface ForbiddenErrorInit extends HttpErrorInit {
  requiredScopes?: readonly string[];
  problem?: ProblemDetails;
}

/** RFC 9457 problem details, as sent in `application/problem+json`. */
export interface ProblemDetails {
  /** A URI naming the problem type. */
  type?: string;
  /** A short summary of the problem type. */
  title?: string;
  /** The HTTP status the server gave. */
  status?: number;
  /** An explanation of this occurrence. */
  detail?: string;
  /** A URI naming this occurrence. */
  instance?: string;
  [extension: string]: unknown;
}

/** 403: the user is signed in but not allowed. Never retried or refreshed. Show "access denied". */
export class ForbiddenError extends ApiFetchHTTPError {
  /** Literal, so it survives minification: what `isForbiddenError` matches across bundles. */
  override readonly name = 'ForbiddenError' as const;
  /** `ERR_FORBIDDEN`. */
  readonly code = ErrorCode.forbidden;
  readonly retryable = false;
  /** Scopes the server says are required (`insufficient_scope` challenge's `scope`). */
  readonly requiredScopes: readonly string[];
  /** The RFC 9457 problem details body, when the server sent one. */
  readonly problem: ProblemDetails | undefined;

  constructor(init: ForbiddenErrorInit) {
    const scopes = init.requiredScopes ?? [];
    const detail =
      scopes.length > 0 ? `token lacks scope ${scopes.map((s) => `\`${s}\``).join(', ')}` : 'access denied';
    super(init, `403 Forbidden: ${detail}`);
    this.requiredScopes = scopes;
    this.problem = init.problem;
  }
}

export interface ProxyAuthenticationErrorInit extends HttpErrorInit {
  /** The proxy URL, with any credentials removed. */
  proxy?: string;
}

/** 407: the proxy refused to authenticate us. Never retried. */
export class ProxyAuthenticationError extends ApiFetchHTTPError {
  /** Literal, so it survives minification: what `isProxyAuthenticationError` matches across bundles. */
  override readonly name = 'ProxyAuthenticationError' as const;
  /** `ERR_PROXY_AUTHENTICATION`. */
  readonly code = ErrorCode.proxyAuthentication;
  readonly retryable = false;
  /** The proxy that refused, credentials redacted. */
  readonly proxy: string | undefined;

  constructor(init: ProxyAuthenticationErrorInit) {
    const via = init.proxy ? ` via ${redactUrl(init.proxy)}` : '';
    super(init, `407 Proxy Authentication Required${via}`);
    this.proxy = init.proxy === undefined ? undefined : redactUrl(init.proxy);
  }
}

/** Thrown when `Retry-After` asks for a longer wait than `retry.maxRetryAfterMs` or the deadline allows. */
export class RetryAfterTooLongError extends ApiFetchHTTPError {
  /** Literal, so it survives minification: what `isRetryAfterTooLongError` matches across bundles. */
  override readonly name = 'RetryAfterTooLongError' as const;
  /** `ERR_RETRY_AFTER_TOO_LONG`. */
  readonly code = ErrorCode.retryAfterTooLong;
  readonly retryable = true;
  /** How long the server asked to wait, in ms: schedule the request yourself after this. */
  readonly retryAfterMs: number;

  constructor(init: HttpErrorInit & { retryAfterMs: number }) {
    super(
      init,
      `${init.response.status}: server asks to retry after ${Math.ceil(init.retryAfterMs / 1000)} s, beyond the allowed wait`,
    );
    this.retryAfterMs = init.retryAfterMs;
  }
}

/** Thrown by `createApiFetch` (and other factories) for an invalid option; the message names the option. */
export class InvalidOptionError extends TypeError {
  /** Literal, so it survives minification. */
  override readonly name = 'InvalidOptionError' as const;
  /** `ERR_INVALID_OPTION`. */
  readonly code = ErrorCode.invalidOption;
  /** The option path, e.g. `retry.maxDelayMs`. */
  readonly option: string;
  constructor(option: string, expected: string, got: unknown) {
    super(`\`${option}\` must be ${expected}, got ${describe(got)}`);
    this.option = option;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return String(value);
}

const isNamed = <T>(error: unknown, cls: abstract new (...args: never[]) => T, name: string): error is T =>
  error instanceof cls || (typeof error === 'object' && error !== null && (error as { name?: unknown }).name === name);

/** True for an `UnauthenticatedError`, across bundles and realms. */
export const isUnauthenticatedError = (error: unknown): error is UnauthenticatedError =>
  isNamed(error, UnauthenticatedError, 'UnauthenticatedError');
/** True for a `ForbiddenError`, across bundles and realms. */
export const isForbiddenError = (error: unknown): error is ForbiddenError =>
  isNamed(error, ForbiddenError, 'ForbiddenError');
/** True for a `ProxyAuthenticationError`, across bundles and realms. */
export const isProxyAuthenticationError = (error: unknown): error is ProxyAuthenticationError =>
  isNamed(error, ProxyAuthenticationError, 'ProxyAuthenticationError');
/** True for a `RetryAfterTooLongError`, across bundles and realms. */
export const isRetryAfterTooLongError = (error: unknown): error is RetryAfterTooLongError =>
  isNamed(error, RetryAfterTooLongError, 'RetryAfterTooLongError');
/** True for an `InvalidOptionError`, across bundles and realms. */
export const isInvalidOptionError = (error: unknown): error is InvalidOptionError =>
  isNamed(error, InvalidOptionError, 'InvalidOptionError');
