import ky, {
  type BeforeErrorHook,
  type Hooks,
  isHTTPError,
  type KyInstance,
  type Options as KyOptions,
  type ResponsePromise,
} from 'ky';
import { authFetch, typedErrorOf } from './auth/layer.js';
import { createOriginPolicy } from './auth/origins.js';
import { type AuthSession, createAccessTokenSession } from './auth/session.js';
import { createEmitter } from './events.js';
import {
  type ApiFetchOptions,
  type AuthController,
  mergeRetryOptions,
  type RequestAuthOption,
  type RetryOptions,
  resolveOptions,
  resolveRetryOptions,
  sessionKey,
} from './options.js';
import { redactError } from './redact.js';
import { type RetryDeps, recordOutcome, retryPlan } from './retry/layer.js';
import { createThrottleRegistry, type RetryThrottle } from './retry/throttle.js';
import { type CallState, callStateKey, createTransport, takeCallState } from './transport.js';

/** Options of one request: ky's options, apifetch's per-request `auth`, and `retry` merged over the client's. */
export type RequestOptions = Omit<KyOptions, 'retry' | 'fetch'> &
  RequestAuthOption & {
    /**
     * This request's retry settings, merged over the client's; a number sets `limit`, `false` turns retries off.
     * @default the client's `retry`
     */
    retry?: RetryOptions | number | false;
    /**
     * This request's `fetch`, in place of the client's: it sends under the auth layer (token, refresh and replay
     * included) and receives only the `RequestInit` ky forwards.
     * @default the client's `fetch`
     */
    fetch?: (input: Request, init?: RequestInit) => Promise<Response>;
  };

type Input = string | URL | Request;
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete' | 'head';

/** A client: callable like ky, with method shortcuts and `extend`. */
export interface ApiFetch {
  <T = unknown>(input: Input, options?: RequestOptions): ResponsePromise<T>;
  /** A GET request, as `ky.get`. */
  get<T = unknown>(input: Input, options?: RequestOptions): ResponsePromise<T>;
  /** A POST request, as `ky.post`: replayed once after a refresh, body intact; retried only with an `Idempotency-Key`. */
  post<T = unknown>(input: Input, options?: RequestOptions): ResponsePromise<T>;
  /** A PUT request, as `ky.put`. */
  put<T = unknown>(input: Input, options?: RequestOptions): ResponsePromise<T>;
  /** A PATCH request, as `ky.patch`: replayed once after a refresh; retried only with an `Idempotency-Key`. */
  patch<T = unknown>(input: Input, options?: RequestOptions): ResponsePromise<T>;
  /** A DELETE request, as `ky.delete`. */
  delete<T = unknown>(input: Input, options?: RequestOptions): ResponsePromise<T>;
  /** A HEAD request, as `ky.head`. */
  head(input: Input, options?: RequestOptions): ResponsePromise;
  /**
   * A new client with these options merged over this one's (headers and hooks merged, callbacks replaced).
   * It shares this client's token session and retry throttle unless it names its own `auth` or `retry.throttle`.
   */
  extend(options: ApiFetchOptions): ApiFetch;
  /** The client's tokens: sign in (`setTokens`), sign out (`clear`), read, or force a refresh (with `auth.session`). */
  readonly auth: AuthController;
}

interface Shared {
  session: AuthSession;
  controller: AuthController;
  throttleFor: ((origin: string) => RetryThrottle) | undefined;
}

const noSession = () => Promise.reject(new TypeError('api.auth manages tokens only with auth.session'));
const noController: AuthController = {
  setTokens: noSession,
  getTokens: async () => undefined,
  clear: noSession,
  refresh: noSession,
};

/** Create a client. Options are validated here; a bad or unknown one throws `InvalidOptionError` naming it. */
export function createApiFetch(options: ApiFetchOptions = {}): ApiFetch {
  return build(options, undefined);
}

function build(options: ApiFetchOptions, inherited: Shared | undefined): ApiFetch {
  const resolved = resolveOptions(options);
  const emit = createEmitter(resolved.onEvent, resolved.now);
  const retry = resolveRetryOptions(options.retry);
  const ownThrottle = () => (retry.throttle === false ? undefined : createThrottleRegistry(retry.throttle));
  let shared: Shared;
  if (inherited) {
    shared = { ...inherited, throttleFor: throttleGiven(options.retry) ? ownThrottle() : inherited.throttleFor };
  } else {
    const session = resolved.session?.[sessionKey] ?? createAccessTokenSession(resolved.getAccessToken);
    session.subscribe?.(emit);
    if (resolved.binder) session.bind?.(resolved.binder);
    shared = { session, controller: resolved.session ?? noController, throttleFor: ownThrottle() };
  }
  const retryDeps: RetryDeps = { options: retry, throttleFor: shared.throttleFor, emit, now: resolved.now };
  const onOutcome = (url: string, outcome: Response | Error) => recordOutcome(retryDeps, url, outcome);
  const deps = {
    options: resolved,
    session: shared.session,
    mayReceiveToken: createOriginPolicy(resolved.tokenOrigins, resolved.allowInsecureHttp),
    emit,
  };
  const clientHasKey = new Headers(resolved.ky.headers as HeadersInit | undefined).has('idempotency-key');

  // ky resolves a relative input against `baseUrl` with a new Request per call (so that a relative base follows the
  // page); an absolute base can be applied once per call here, at a third of the cost. Inputs with a `:` (absolute
  // URLs, and anything ky must vet) are left to ky.
  const absoluteBase = resolved.baseUrl !== undefined && /^https?:\/\//i.test(resolved.baseUrl) ? resolved.baseUrl : '';
  const userHooks: Hooks = resolved.ky.hooks ?? {};
  const kyInstance: KyInstance = ky.create({
    ...resolved.ky,
    ...(resolved.baseUrl === undefined ? {} : { baseUrl: resolved.baseUrl }),
    timeout: resolved.timeout,
    fetch: (input, init) => {
      const { state, init: rest } = takeCallState(init);
      const request = input instanceof Request ? input : new Request(input, rest);
      return authFetch(deps, createTransport(resolved, emit, state, onOutcome), request, rest, state.auth);
    },
    // apifetch's own hook runs first, so the app's hooks see the typed, redacted error.
    hooks: { ...userHooks, beforeError: [handOut, ...(userHooks.beforeError ?? [])] },
  });

  const call = <T>(input: Input, requestOptions: RequestOptions = {}, method?: Method): ResponsePromise<T> => {
    const { auth: useToken, retry: retryOverride, fetch: callFetch, ...kyOptions } = requestOptions;
    // A per-request `fetch` replaces the client's under the auth layer, never ky's fetch (which is the auth layer).
    const state: CallState = { auth: useToken !== false, sends: 0, ...(callFetch ? { fetch: callFetch } : {}) };
    const callRetry = retryOverride === undefined ? retry : mergeRetryOptions(options.retry, retryOverride);
    const callDeps = callRetry === retry ? retryDeps : { ...retryDeps, options: callRetry };
    const verb = (method ?? kyOptions.method ?? (input instanceof Request ? input.method : 'get')).toUpperCase();
    const perCall = {
      ...kyOptions,
      ...(method ? { method } : {}),
      ...retryPlan(callDeps, input, verb, kyOptions.headers, clientHasKey),
      [callStateKey]: state,
    } as KyOptions;
    const target =
      absoluteBase && typeof input === 'string' && !input.includes(':') ? new URL(input, absoluteBase) : input;
    return kyInstance<T>(target, perCall);
  };

  const api = (<T>(input: Input, requestOptions?: RequestOptions) => call<T>(input, requestOptions)) as ApiFetch;
  for (const method of ['get', 'post', 'put', 'patch', 'delete', 'head'] as const) {
    (api as unknown as Record<Method, unknown>)[method] = (input: Input, requestOptions?: RequestOptions) =>
      call(input, requestOptions, method);
  }
  Object.defineProperty(api, 'auth', { value: shared.controller, enumerable: true });
  api.extend = (more) => {
    const headers = new Headers(options.headers as HeadersInit | undefined);
    new Headers(more.headers as HeadersInit | undefined).forEach((value, name) => {
      headers.set(name, value);
    });
    const hooks = mergeHooks(options.hooks, more.hooks);
    return build(
      { ...options, ...more, headers, ...(hooks ? { hooks } : {}) },
      more.auth === undefined ? shared : undefined,
    );
  };
  return api;
}

/** The hooks of a parent and a child, each list the parent's then the child's (as ky's own `extend` does). */
function mergeHooks(parent: Hooks | undefined, child: Hooks | undefined): Hooks | undefined {
  if (!parent || !child) return child ?? parent;
  const merged: Record<string, unknown[]> = {};
  for (const name of new Set([...Object.keys(parent), ...Object.keys(child)])) {
    const key = name as keyof Hooks;
    merged[name] = [...((parent[key] as unknown[]) ?? []), ...((child[key] as unknown[]) ?? [])];
  }
  return merged as Hooks;
}

/**
 * ky's `beforeError` hook, first of all: the auth layer's typed error replaces ky's `HTTPError` for a final 401/403,
 * and every error leaves without tokens, credentials or URL queries (ky's `TimeoutError` and `NetworkError` too).
 */
const handOut: BeforeErrorHook = ({ error }) => {
  const typed = isHTTPError(error) ? typedErrorOf(error.response) : undefined;
  return redactError(typed ?? error);
};

/** Whether `retry` options name a throttle of their own (then an `extend`ed client gets its own buckets). */
const throttleGiven = (retry: ApiFetchOptions['retry']) =>
  retry === false || (typeof retry === 'object' && retry !== null && retry.throttle !== undefined);

/** A ready client with default options: no base URL and no token. */
export const apiFetch: ApiFetch = /* @__PURE__ */ createApiFetch();
