import { type KyRequest, NetworkError } from 'ky';
import type { Emit } from './events.js';
import { requestInfo } from './events.js';
import type { ResolvedOptions } from './options.js';
import { proxyAuthenticationFromError, proxyAuthenticationFromResponse } from './proxy-error.js';
import { redactError, redactRequest } from './redact.js';

const serviceWorkerDrop = /^Response served by service worker is an error/;

/** The per-call state apifetch threads through ky to its fetch layer (ky forwards unknown options to `fetch`). */
export interface CallState {
  /** `false` when the caller opted this request out of the token. */
  auth: boolean;
  /** Sends so far for this call, across ky retries and auth replays. */
  sends: number;
  /** This call's own `fetch`, replacing the client's. */
  fetch?: (input: Request, init?: RequestInit) => Promise<Response>;
}

/** Key of the call state in the options ky forwards to `fetch`; stripped before the real fetch sees them. */
export const callStateKey = 'apifetchCall';

export type Send = (request: Request, init: RequestInit, authorized: boolean) => Promise<Response>;

/** Split ky's forwarded fetch options into our call state and what the real fetch should get. */
export function takeCallState(init: RequestInit | undefined): { state: CallState; init: RequestInit } {
  const {
    [callStateKey]: state,
    auth,
    ...rest
  } = (init ?? {}) as RequestInit & {
    [callStateKey]?: CallState;
    auth?: boolean;
  };
  return { state: state ?? { auth: auth !== false, sends: 0 }, init: rest };
}

/**
 * The innermost layer: one network send through the user's (lazily looked-up) fetch, with events, and a
 * proxy's 407 turned into a typed error so that no layer retries it as a network failure.
 */
export function createTransport(
  options: ResolvedOptions,
  emit: Emit,
  state: CallState,
  onOutcome: (url: string, outcome: Response | Error) => void,
): Send {
  return async (request, init, authorized) => {
    const fetchImpl = state.fetch ?? options.fetch ?? globalThis.fetch;
    state.sends += 1;
    // Events cost a URL parse each: build them only for a listener.
    const info = emit.active ? requestInfo(request) : undefined;
    if (info) emit({ type: 'request', ...info, attempt: state.sends, authorized });
    const started = info ? options.now() : 0;
    let response: Response;
    try {
      response = await fetchImpl(request, init);
    } catch (error) {
      const proxyError = proxyAuthenticationFromError(error, request);
      const failure = proxyError ?? (error instanceof Error ? error : new Error(String(error)));
      if (!proxyError) onOutcome(request.url, failure);
      if (info) emit({ type: 'error', ...info, error: redactError(failure) });
      // WebKit rejects a fetch that a service worker answered with `Response.error()` (msw's simulated drop) with a
      // TypeError ky does not recognise; it is the network failure it says it is.
      if (failure.name === 'TypeError' && serviceWorkerDrop.test(failure.message)) {
        throw new NetworkError(redactRequest(request) as KyRequest, { cause: failure });
      }
      throw proxyError ?? error;
    }
    onOutcome(request.url, response);
    if (info) emit({ type: 'response', ...info, status: response.status, durationMs: options.now() - started });
    if (response.status === 407) throw proxyAuthenticationFromResponse(response, request);
    return response;
  };
}
