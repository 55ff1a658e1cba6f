import { redactUrl } from './redact.js';

interface RequestInfo {
  /** Request method, upper case. */
  method: string;
  /** Request URL with query and credentials redacted. */
  url: string;
}

/**
 * Everything apifetch reports to `onEvent`. Discriminated on `type`. Tokens and credentials never appear.
 * `time` is the client's clock (`Date.now()` unless `now` is injected), in epoch ms.
 */
export type ApiFetchEvent =
  | ({
      /** A send is about to go out (each retry and replay is a send of its own). */
      type: 'request';
      /** When it happened, epoch ms by the client's clock. */
      time: number;
      /** 1 for the first send of this request, then 2, 3 … for retries and the replay. */
      attempt: number;
      /** Whether this send carries the bearer token (its origin receives it and `auth` is not off). */
      authorized: boolean;
    } & RequestInfo)
  | ({
      /** A send got a response (any status). */
      type: 'response';
      /** When it happened, epoch ms by the client's clock. */
      time: number;
      /** The HTTP status. */
      status: number;
      /** Milliseconds from the send to the response headers. */
      durationMs: number;
    } & RequestInfo)
  | ({
      /** A send failed without a response (network error, timeout, abort). */
      type: 'error';
      /** When it happened, epoch ms by the client's clock. */
      time: number;
      /** What failed; its message never contains a token. */
      error: Error;
    } & RequestInfo)
  | ({
      /** A transient failure will be retried after `delayMs`. */
      type: 'retry';
      /** When it happened, epoch ms by the client's clock. */
      time: number;
      /** The retry's number: 1 for the first retry of this request. */
      attempt: number;
      /** The wait before the next send, jitter included. */
      delayMs: number;
      /** The HTTP status, or an error code such as `network` or `timeout`. */
      reason: string;
      /** The server's `Retry-After` (or `RateLimit`) wait, when it sent one. */
      retryAfterMs?: number;
    } & RequestInfo)
  | ({
      /** A retry was held back: the origin's retry budget is spent (an outage is not made worse). */
      type: 'retry:throttled';
      /** When it happened, epoch ms by the client's clock. */
      time: number;
      /** The failure that would have been retried (status or error code). */
      reason: string;
      /** The origin whose budget is spent. */
      origin: string;
    } & RequestInfo)
  | {
      /** A token refresh starts. */
      type: 'refresh:start';
      /** When it happened, epoch ms by the client's clock. */
      time: number;
      /** `expired`: the token is about to expire; `rejected`: the API answered 401; `manual`: `api.auth.refresh()`. */
      reason: 'expired' | 'rejected' | 'manual';
    }
  | {
      /** The refresh got new tokens. */
      type: 'refresh:success';
      /** When it happened, epoch ms by the client's clock. */
      time: number;
      /** Milliseconds from `refresh:start`, retries included. */
      durationMs: number;
      /** The attempt that succeeded (1 unless the refresh was retried). */
      attempt: number;
    }
  | {
      /**
       * The refresh failed after its retries: the client signs out, unless a proactive refresh failed transiently
       * while the current token still works, or the lock failed before `refresh` ran (nothing was spent).
       */
      type: 'refresh:failure';
      /** When it happened, epoch ms by the client's clock. */
      time: number;
      /** Milliseconds from `refresh:start`, retries included. */
      durationMs: number;
      /** The last attempt made. */
      attempt: number;
      /** `timeout`, `status 400` (the status the refresh threw with), `network`, `superseded`, or the error's name. */
      reason: string;
    }
  | ({
      /** A request refused with 401 is sent again with the current token. */
      type: 'replay';
      /** When it happened, epoch ms by the client's clock. */
      time: number;
      /** `refreshed`: after a refresh; `stale_token`: it carried an older token than the current one. */
      reason: 'refreshed' | 'stale_token';
    } & RequestInfo)
  | ({
      /** The user must sign in again (or step up); `onUnauthenticated` is called once per episode. */
      type: 'unauthenticated';
      /** When it happened, epoch ms by the client's clock. */
      time: number;
      /** The `UnauthenticatedError` reason, such as `refresh_failed` or `signed_out`. */
      reason: string;
    } & Partial<RequestInfo>)
  | ({
      /** The API answered 403 (`onForbidden` is called). */
      type: 'forbidden';
      /** When it happened, epoch ms by the client's clock. */
      time: number;
      /** The scopes the challenge asks for (`scope` of `insufficient_scope`), possibly none. */
      requiredScopes: readonly string[];
    } & RequestInfo)
  | {
      /** The token store threw; tokens are kept in memory from now on. */
      type: 'store:fallback';
      /** When it happened, epoch ms by the client's clock. */
      time: number;
      /** The store operation that threw. */
      operation: 'get' | 'set' | 'clear';
      /** The store error's message. */
      error: string;
    }
  | {
      /**
       * The refresh runs without coordination, single-flight within this tab or process only: tabs cannot be
       * coordinated here, or the coordination's backend (Redis) could not be reached for this refresh.
       */
      type: 'coordination:fallback';
      /** When it happened, epoch ms by the client's clock. */
      time: number;
      /** The missing browser APIs (`navigator.locks`, `BroadcastChannel`, `indexedDB`), or the backend (`redis`). */
      missing: readonly string[];
    }
  | {
      /** New tokens were stored. */
      type: 'tokens:updated';
      /** When it happened, epoch ms by the client's clock. */
      time: number;
      /** `local`: by this client; `other-tab`: announced by another tab sharing the store. */
      source: 'local' | 'other-tab';
    }
  | {
      /** The session ended: tokens cleared, requests that need a token fail fast. */
      type: 'signed-out';
      /** When it happened, epoch ms by the client's clock. */
      time: number;
      /** `local`: by this client; `other-tab`: announced by another tab sharing the store. */
      source: 'local' | 'other-tab';
    };

/** The `type` of every event: what `onEvent` can receive. */
export type ApiFetchEventType = ApiFetchEvent['type'];

/** Distributive omit, so each member of the union keeps its own fields. */
export type EventInput = ApiFetchEvent extends infer E ? (E extends ApiFetchEvent ? Omit<E, 'time'> : never) : never;

export type Emit = ((event: EventInput) => void) & {
  /** False when nobody listens: callers skip building events on the hot path. */
  readonly active: boolean;
};

/**
 * Build the emitter for one client. A listener that throws never breaks a request: the error is swallowed
 * (and reported to `console.error` once per client, so a broken listener is still noticed).
 */
export function createEmitter(listener: ((event: ApiFetchEvent) => void) | undefined, now: () => number): Emit {
  if (!listener) return Object.assign(() => {}, { active: false });
  let reported = false;
  const emit = (event: EventInput) => {
    try {
      listener({ ...event, time: now() } as ApiFetchEvent);
    } catch (error) {
      if (!reported) {
        reported = true;
        console.error('apifetch: onEvent threw (reported once)', error);
      }
    }
  };
  return Object.assign(emit, { active: true });
}

/** Method and redacted URL of a request, for events. */
export const requestInfo = (request: Request): RequestInfo => ({ method: request.method, url: redactUrl(request.url) });
