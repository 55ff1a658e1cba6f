import ky, { type KyInstance, type Options as KyOptions, type ResponsePromise } from 'ky';
import { authFetch } from './auth/layer.js';
import { createOriginPolicy } from './auth/origins.js';
import { type AuthSession, createAccessTokenSession } from './auth/session.js';
import { createEmitter } from './events.js';
import { type ApiFetchOptions, type RequestAuthOption, resolveOptions } from './options.js';
import { type CallState, callStateKey, createTransport, takeCallState } from './transport.js';

/** Options of one request: ky's options plus apifetch's per-request `auth`. */
export type RequestOptions = KyOptions & RequestAuthOption;

type Input = string | URL | Request;
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete' | 'head';

/** A client: callable like ky, with method shortcuts and `extend`. */
export interface ApiFetch {
  <T = unknown>(input: Input, options?: RequestOptions): ResponsePromise<T>;
  get<T = unknown>(input: Input, options?: RequestOptions): ResponsePromise<T>;
  post<T = unknown>(input: Input, options?: RequestOptions): ResponsePromise<T>;
  put<T = unknown>(input: Input, options?: RequestOptions): ResponsePromise<T>;
  patch<T = unknown>(input: Input, options?: RequestOptions): ResponsePromise<T>;
  delete<T = unknown>(input: Input, options?: RequestOptions): ResponsePromise<T>;
  head(input: Input, options?: RequestOptions): ResponsePromise;
  /**
   * A new client with these options merged over this one's (headers merged, callbacks replaced).
   * It shares this client's token session unless `auth` is given.
   */
  extend(options: ApiFetchOptions): ApiFetch;
}

interface Shared {
  session: AuthSession;
}

/** Create a client. Options are validated here; a bad one throws `InvalidOptionError` naming it. */
export function createApiFetch(options: ApiFetchOptions = {}): ApiFetch {
  return build(options, undefined);
}

function build(options: ApiFetchOptions, inherited: Shared | undefined): ApiFetch {
  const resolved = resolveOptions(options);
  const emit = createEmitter(resolved.onEvent, resolved.now);
  const auth = resolved.auth;
  const shared: Shared = inherited ?? {
    session: createAccessTokenSession(auth === false ? undefined : auth.getAccessToken),
  };
  const deps = {
    options: resolved,
    session: shared.session,
    mayReceiveToken: createOriginPolicy(resolved.tokenOrigins, auth !== false && auth.allowInsecureHttp === true),
    emit,
  };

  const kyInstance: KyInstance = ky.create({
    ...(resolved.baseUrl === undefined ? {} : { baseUrl: resolved.baseUrl }),
    ...(resolved.headers === undefined ? {} : { headers: resolved.headers }),
    timeout: resolved.timeout,
    fetch: (input, init) => {
      const { state, init: rest } = takeCallState(init);
      const request = input instanceof Request ? input : new Request(input, rest);
      return authFetch(deps, createTransport(resolved, emit, state), request, rest, state.auth);
    },
  });

  const call = <T>(input: Input, requestOptions: RequestOptions = {}, method?: Method): ResponsePromise<T> => {
    const { auth: useToken, ...kyOptions } = requestOptions;
    const state: CallState = { auth: useToken !== false, sends: 0 };
    const perCall = { ...kyOptions, ...(method ? { method } : {}), [callStateKey]: state } as KyOptions;
    return kyInstance<T>(input, perCall);
  };

  const api = (<T>(input: Input, requestOptions?: RequestOptions) => call<T>(input, requestOptions)) as ApiFetch;
  for (const method of ['get', 'post', 'put', 'patch', 'delete', 'head'] as const) {
    (api as unknown as Record<Method, unknown>)[method] = (input: Input, requestOptions?: RequestOptions) =>
      call(input, requestOptions, method);
  }
  api.extend = (more) => {
    const headers = new Headers(options.headers);
    new Headers(more.headers).forEach((value, name) => {
      headers.set(name, value);
    });
    return build({ ...options, ...more, headers }, more.auth === undefined ? shared : undefined);
  };
  return api;
}

/** A ready client with default options: no base URL and no token. */
export const apiFetch: ApiFetch = createApiFetch();
