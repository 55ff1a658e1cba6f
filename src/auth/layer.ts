import { bearerChallenge, parseChallenges } from '../challenge.js';
import { ForbiddenError, UnauthenticatedError } from '../errors.js';
import type { Emit } from '../events.js';
import { requestInfo } from '../events.js';
import type { ResolvedOptions } from '../options.js';
import { readErrorBody } from '../problem.js';
import type { Send } from '../transport.js';
import type { OriginPolicy } from './origins.js';
import { type AuthFailure, type AuthSession, isFailure, type TokenGrant } from './session.js';

export interface AuthLayerDeps {
  options: ResolvedOptions;
  session: AuthSession;
  mayReceiveToken: OriginPolicy;
  emit: Emit;
}

/**
 * The auth layer for one call: attach the token to allowed origins, and turn 401/403 from those origins into
 * typed errors, refreshing and replaying once on a 401 when the session can.
 */
export function authFetch(deps: AuthLayerDeps, send: Send, request: Request, init: RequestInit, useToken: boolean) {
  const { options, mayReceiveToken } = deps;
  const ours = mayReceiveToken(request.url);
  if (!ours) return send(request, init, false);
  const callerAuthorization = request.headers.has('authorization');
  const attach = useToken && options.auth !== false && !callerAuthorization;
  return attach ? sendWithToken(deps, send, request, init) : sendAndMap(deps, send, request, init);
}

async function sendAndMap(deps: AuthLayerDeps, send: Send, request: Request, init: RequestInit): Promise<Response> {
  const response = await send(request, init, request.headers.has('authorization'));
  if (response.status === 401) throw unauthenticated(deps, request, { failure: 'no_refresh' }, response);
  if (response.status === 403) throw await forbidden(deps, request, response);
  return response;
}

async function sendWithToken(deps: AuthLayerDeps, send: Send, request: Request, init: RequestInit): Promise<Response> {
  const { session } = deps;
  const grant = await session.acquire(request.signal);
  if (isFailure(grant)) throw unauthenticated(deps, request, grant);
  if (!grant) return sendAndMap(deps, send, request, init);
  // Keep an unsent copy only when the body would be consumed; a bodiless Request can be sent twice.
  const spare = request.body === null ? request : request.clone();
  const response = await send(withToken(request, grant), init, true);
  if (provesToken(response.status)) session.confirm?.(grant);
  if (response.status === 403) throw await forbidden(deps, request, response);
  if (response.status !== 401) return response;

  const challenges = parseChallenges(response);
  let next: TokenGrant | AuthFailure;
  try {
    next = await session.recover(grant, challenges, request.signal);
  } catch (abortReason) {
    // Aborted while waiting for the refresh: this request ends here, the refresh goes on for the others.
    discard(response);
    throw abortReason;
  }
  if (isFailure(next)) throw unauthenticated(deps, request, next, response, challenges);
  discard(response);
  if (deps.emit.active) {
    deps.emit({ type: 'replay', ...requestInfo(request), reason: next.refreshed ? 'refreshed' : 'stale_token' });
  }
  const replayed = await send(withToken(spare, next), init, true);
  if (replayed.status === 401) {
    await session.rejectedAfterRefresh?.(next);
    throw unauthenticated(deps, request, { failure: 'rejected_after_refresh' }, replayed);
  }
  if (provesToken(replayed.status)) session.confirm?.(next);
  if (replayed.status === 403) throw await forbidden(deps, request, replayed);
  return replayed;
}

/** Whether the server must have accepted the token to answer so; a gateway's 5xx, 408 or 429 may come before that. */
const provesToken = (status: number) => status < 500 && status !== 401 && status !== 408 && status !== 429;

function withToken(request: Request, grant: TokenGrant): Request {
  request.headers.set('authorization', `Bearer ${grant.token}`);
  return request;
}

function discard(response: Response) {
  void response.body?.cancel().catch(() => {});
}

function unauthenticated(
  deps: AuthLayerDeps,
  request: Request,
  failure: AuthFailure,
  response?: Response,
  challenges = response ? parseChallenges(response) : [],
): UnauthenticatedError {
  const extra = {
    ...(failure.acrValues ? { acrValues: failure.acrValues } : {}),
    ...(failure.maxAge !== undefined ? { maxAge: failure.maxAge } : {}),
    ...(failure.cause !== undefined ? { cause: failure.cause } : {}),
  };
  let error: UnauthenticatedError;
  if (response) {
    discard(response);
    error = new UnauthenticatedError({
      response,
      request,
      reason: failure.failure,
      challenges,
      ...extra,
    });
  } else {
    error = UnauthenticatedError.notSent(request, failure.failure, failure.cause);
  }
  deps.emit({ type: 'unauthenticated', ...requestInfo(request), reason: failure.failure });
  if (deps.session.claimEpisode(failure.failure)) notify(deps.options.onUnauthenticated, error);
  return error;
}

async function forbidden(deps: AuthLayerDeps, request: Request, response: Response): Promise<ForbiddenError> {
  const challenges = parseChallenges(response);
  const requiredScopes = bearerChallenge(challenges)?.scope ?? [];
  const { problem, data } = await readErrorBody(response);
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
  return error;
}

/** Call a UI callback; one that throws must not turn the typed error the caller awaits into something else. */
function notify<E>(callback: ((error: E) => void) | undefined, error: E) {
  try {
    callback?.(error);
  } catch (callbackError) {
    console.error('apifetch: onUnauthenticated/onForbidden threw', callbackError);
  }
}
