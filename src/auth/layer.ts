import { bearerChallenge, type Challenge, parseChallenges } from '../challenge.js';
import { ForbiddenError, UnauthenticatedError } from '../errors.js';
import type { Emit } from '../events.js';
import { requestInfo } from '../events.js';
import type { ResolvedOptions } from '../options.js';
import { readErrorBody } from '../problem.js';
import type { Send } from '../transport.js';
import type { OriginPolicy } from './origins.js';
import { type AuthFailure, type AuthSession, isFailure, stepUpDemand, type TokenGrant } from './session.js';

export interface AuthLayerDeps {
  options: ResolvedOptions;
  session: AuthSession;
  mayReceiveToken: OriginPolicy;
  emit: Emit;
}

/**
 * The typed error of a final 401 or 403 response, kept until ky's `beforeError` hook swaps it for ky's `HTTPError`.
 * The layer returns such responses instead of throwing, so that ky's `afterResponse` hooks see them and
 * `throwHttpErrors: false` resolves with them, as for any other status.
 */
const typedErrors = new WeakMap<Response, Error>();

/** The typed error the auth layer made for this response, if any (for the client's `beforeError` hook). */
export const typedErrorOf = (response: Response): Error | undefined => typedErrors.get(response);

function settleWith(response: Response, error: Error): Response {
  typedErrors.set(response, error);
  return response;
}

/**
 * The auth layer for one call: attach the token to allowed origins, and turn 401/403 from those origins into
 * typed errors, refreshing and replaying once on a 401 when the session can. A 401 or 403 is judged by the origin
 * that answered it: after a redirect to another origin it is that origin's, a plain HTTP error.
 */
export function authFetch(deps: AuthLayerDeps, send: Send, request: Request, init: RequestInit, useToken: boolean) {
  const { options, mayReceiveToken } = deps;
  const ours = mayReceiveToken(request.url);
  if (!ours) return send(request, init, false);
  const callerAuthorization = request.headers.has('authorization');
  const attach = useToken && options.authEnabled && !callerAuthorization;
  return attach ? sendWithToken(deps, send, request, init) : sendAndMap(deps, send, request, init);
}

const isAuthStatus = (status: number) => status === 401 || status === 403;

/** Whether a 401/403 came from an origin that receives the token (not from where a redirect led). */
const answeredByUs = (deps: AuthLayerDeps, response: Response) =>
  response.url === '' || deps.mayReceiveToken(response.url);

async function sendAndMap(deps: AuthLayerDeps, send: Send, request: Request, init: RequestInit): Promise<Response> {
  const response = await send(request, init, request.headers.has('authorization'));
  return isAuthStatus(response.status) ? mapFinal(deps, request, response, { failure: 'no_refresh' }) : response;
}

/** A final response: 401 and 403 from our origins get their typed error (and callbacks); the rest pass through. */
async function mapFinal(
  deps: AuthLayerDeps,
  request: Request,
  response: Response,
  failure: AuthFailure,
  challenges?: readonly Challenge[],
): Promise<Response> {
  if ((response.status !== 401 && response.status !== 403) || !answeredByUs(deps, response)) return response;
  if (response.status === 403) {
    const error = await forbidden(deps, request, response);
    return settleWith(error.delivered, error.error);
  }
  return settleWith(response, unauthenticated(deps, request, failure, response, challenges));
}

async function sendWithToken(deps: AuthLayerDeps, send: Send, request: Request, init: RequestInit): Promise<Response> {
  const { session } = deps;
  const grant = await session.acquire(request.signal);
  if (isFailure(grant)) {
    const error = unauthenticated(deps, request, grant);
    return settleWith(error.response, error);
  }
  if (!grant) return sendAndMap(deps, send, request, init);
  // Keep an unsent copy for a replay only when the body would be consumed; a bodiless Request can be sent twice.
  const spare = request.body === null ? request : request.clone();
  const response = await sendToken(deps, send, request, init, grant);
  if (provesToken(response.status)) session.confirm?.(grant);
  if (response.status !== 401 || !answeredByUs(deps, response)) {
    return response.status === 403 ? mapFinal(deps, request, response, { failure: 'no_refresh' }) : response;
  }

  const challenges = parseChallenges(response);
  let next: TokenGrant | AuthFailure;
  try {
    next = await session.recover(grant, challenges, request.signal);
  } catch (abortReason) {
    // Aborted while waiting for the refresh: this request ends here, the refresh goes on for the others.
    discard(response);
    throw abortReason;
  }
  if (isFailure(next)) return mapFinal(deps, request, response, next, challenges);
  discard(response);
  if (deps.emit.active) {
    deps.emit({ type: 'replay', ...requestInfo(request), reason: next.refreshed ? 'refreshed' : 'stale_token' });
  }
  const replayed = await sendToken(deps, send, spare, init, next);
  if (replayed.status === 401 && answeredByUs(deps, replayed)) {
    const replayChallenges = parseChallenges(replayed);
    const stepUp = stepUpDemand(replayChallenges);
    // A step-up demand means the fresh token is valid and the user needs a stronger sign-in: keep the tokens.
    if (stepUp) {
      session.confirm?.(next);
      return mapFinal(deps, request, replayed, stepUp, replayChallenges);
    }
    await session.rejectedAfterRefresh?.(next);
    return mapFinal(deps, request, replayed, { failure: 'rejected_after_refresh' }, replayChallenges);
  }
  if (provesToken(replayed.status)) session.confirm?.(next);
  return replayed.status === 403 ? mapFinal(deps, request, replayed, { failure: 'no_refresh' }) : replayed;
}

/** Whether the server must have accepted the token to answer so; a gateway's 5xx, 408 or 429 may come before that. */
const provesToken = (status: number) => status < 500 && status !== 401 && status !== 408 && status !== 429;

/**
 * One send of the token: bound to the request by `auth.dpop` when set (on copies, each with its proof), else as a
 * bearer token.
 */
const sendToken = (deps: AuthLayerDeps, send: Send, request: Request, init: RequestInit, grant: TokenGrant) =>
  deps.options.binder
    ? deps.options.binder.send(send, deps.mayReceiveToken, request, init, grant.token)
    : sendWithHeader(send, request, init, grant);

/**
 * Send `request` carrying the token, and take the token off it again as soon as the send settles: what ky, its hooks
 * and every error keep afterwards never holds it. (A copy per send would cost a Request construction, about a third
 * of ky's own per-request cost.) Errors are redacted on their way out in any case.
 */
async function sendWithHeader(send: Send, request: Request, init: RequestInit, grant: TokenGrant): Promise<Response> {
  request.headers.set('authorization', `Bearer ${grant.token}`);
  try {
    return await send(request, init, true);
  } finally {
    request.headers.delete('authorization');
  }
}

function discard(response: Response) {
  void response.body?.cancel().catch(() => {});
}

function unauthenticated(
  deps: AuthLayerDeps,
  request: Request,
  failure: AuthFailure,
  response?: Response,
  challenges: readonly Challenge[] = response ? parseChallenges(response) : [],
): UnauthenticatedError {
  const extra = {
    ...(failure.acrValues ? { acrValues: failure.acrValues } : {}),
    ...(failure.maxAge !== undefined ? { maxAge: failure.maxAge } : {}),
    ...(failure.cause !== undefined ? { cause: failure.cause } : {}),
  };
  const error = response
    ? new UnauthenticatedError({ response, request, reason: failure.failure, challenges, ...extra })
    : UnauthenticatedError.notSent(request, failure.failure, failure.cause);
  deps.emit({ type: 'unauthenticated', ...requestInfo(request), reason: failure.failure });
  if (deps.session.claimEpisode(failure.failure)) notify(deps.options.onUnauthenticated, error);
  return error;
}

/**
 * The ForbiddenError of a 403, and the response to hand on in its place (to ky's hooks, `error.data`, or the caller
 * with `throwHttpErrors: false`): the body is read here (up to 64 KB), so it goes on as a copy holding what was read.
 * Not a `clone()`: happy-dom's clones of network responses read empty.
 */
async function forbidden(
  deps: AuthLayerDeps,
  request: Request,
  response: Response,
): Promise<{ error: ForbiddenError; delivered: Response }> {
  const challenges = parseChallenges(response);
  const requiredScopes = bearerChallenge(challenges)?.scope ?? [];
  const { problem, data, text } = await readErrorBody(response);
  const delivered = new Response(text ?? null, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  Object.defineProperty(delivered, 'url', { value: response.url, enumerable: false });
  const error = new ForbiddenError({
    response,
    request,
    challenges,
    requiredScopes,
    ...(problem ? { problem } : {}),
    ...(data !== undefined ? { data } : {}),
  });
  deps.emit({ type: 'forbidden', ...requestInfo(request), requiredScopes });
  notify(deps.options.onForbidden, error);
  return { error, delivered };
}

/** Call a UI callback; one that throws must not turn the typed error the caller awaits into something else. */
function notify<E>(callback: ((error: E) => void) | undefined, error: E) {
  try {
    callback?.(error);
  } catch (callbackError) {
    console.error('apifetch: onUnauthenticated/onForbidden threw', callbackError);
  }
}
