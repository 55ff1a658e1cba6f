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
  | ({ type: 'request'; time: number; attempt: number; authorized: boolean } & RequestInfo)
  | ({ type: 'response'; time: number; status: number; durationMs: number } & RequestInfo)
  | ({ type: 'error'; time: number; error: Error } & RequestInfo)
  | ({
      type: 'retry';
      time: number;
      attempt: number;
      delayMs: number;
      /** The HTTP status, or an error code such as `network` or `timeout`. */
      reason: string;
      retryAfterMs?: number;
    } & RequestInfo)
  | ({ type: 'retry:throttled'; time: number; reason: string; origin: string } & RequestInfo)
  | { type: 'refresh:start'; time: number; reason: 'expired' | 'rejected' | 'manual' }
  | { type: 'refresh:success'; time: number; durationMs: number; attempt: number }
  | {
      type: 'refresh:failure';
      time: number;
      durationMs: number;
      attempt: number;
      /** `timeout`, `status 400` (the status the refresh threw with), `network`, `superseded`, or the error's name. */
      reason: string;
    }
  | ({ type: 'replay'; time: number; reason: 'refreshed' | 'stale_token' } & RequestInfo)
  | ({ type: 'unauthenticated'; time: number; reason: string } & Partial<RequestInfo>)
  | ({ type: 'forbidden'; time: number; requiredScopes: readonly string[] } & RequestInfo)
  | { type: 'store:fallback'; time: number; operation: 'get' | 'set' | 'clear'; error: string }
  | { type: 'coordination:fallback'; time: number; missing: readonly string[] }
  | { type: 'tokens:updated'; time: number; source: 'local' | 'other-tab' }
  | { type: 'signed-out'; time: number; source: 'local' | 'other-tab' };

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
        console.error('apifetch: an onEvent listener threw; its errors are ignored from now on', error);
      }
    }
  };
  return Object.assign(emit, { active: true });
}

/** Method and redacted URL of a request, for events. */
export const requestInfo = (request: Request): RequestInfo => ({ method: request.method, url: redactUrl(request.url) });
