import type { ConnectionOptions } from 'node:tls';
import type * as Undici from 'undici';
import { abortable } from '../abortable.js';
import { parseChallenges } from '../challenge.js';
import { ProxyAuthenticationError } from '../errors.js';
import {
  type ProxyFetchOptions,
  type ProxyIdentity,
  parseProxyUrl,
  type ResolvedProxyOptions,
  resolveProxyOptions,
} from '../options.js';
import { ForwardTransport, ProxyChallenge } from './forward-agent.js';
import { bypassesProxy } from './no-proxy.js';
import { loadUndici } from './optional-peers.js';
import { type Attempt, ProxyAuth, ProxyAuthFailure } from './proxy-auth.js';
import { createTunnelAgent } from './tunnel-agent.js';
import { fetchWithDispatcher } from './undici-fetch.js';

/** The `fetch` that `createProxyFetch` returns: pass it to `createApiFetch({ fetch })`. */
export type ProxyFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Sends of one forwarded request: enough for a handshake, a refused identity asked for again, and a stale nonce. */
const maxForwardTries = 8;

const isObject = (value: unknown) => typeof value === 'object' && value !== null;

/** Per proxy: its authentication state and the two ways of sending through it. */
interface ProxyState {
  auth: ProxyAuth;
  tunnel: Undici.Dispatcher;
  forward: ForwardTransport;
}

/** The request as sent on each try: its body buffered so a 407 answer or a 307/308 redirect can send it again. */
interface Replayable {
  url: string;
  init: RequestInit;
}

async function replayable(input: string | URL | Request, init: RequestInit | undefined): Promise<Replayable> {
  const request = input instanceof Request && !init ? input : new Request(input, init);
  const body = request.body ? new Uint8Array(await request.arrayBuffer()) : undefined;
  return {
    url: request.url,
    init: {
      method: request.method,
      headers: request.headers,
      redirect: request.redirect,
      signal: init?.signal ?? request.signal,
      ...(body ? { body } : {}),
    },
  };
}

/** The error of `type` behind an undici error (`fetch failed` wraps the connect step's or a handler's), if any. */
function found<T>(error: unknown, type: abstract new (...args: never[]) => T): T | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && isObject(current); depth++) {
    if (current instanceof type) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Options of `createProxyFetch`: `ProxyFetchOptions` with Node's TLS options for `tls` and `proxyTls`. */
export type CreateProxyFetchOptions = ProxyFetchOptions<ConnectionOptions>;

/**
 * A `fetch` for Node that goes through an HTTP(S) proxy (CONNECT tunnels for https targets, absolute-form requests
 * for http targets) and authenticates with it as curl's `--proxy-anyauth` does: Negotiate, Digest, NTLM or Basic,
 * the strongest the proxy offers. Identities come from `credentials`, one call for all concurrent 407s; a refused
 * identity is asked for again once, then the request ends in `ProxyAuthenticationError`, which never holds a secret.
 *
 * NTLM needs the optional peer `hash-wasm` (for MD4), loaded when a proxy is first answered with NTLM. Without it, NTLM
 * is passed over for the next scheme the proxy offers, as Negotiate is without `kerberos`; when the proxy offers
 * nothing else, the `ProxyAuthenticationError`'s `cause` is an error that says `npm install hash-wasm`.
 */
export function createProxyFetch(options: CreateProxyFetchOptions = {}): ProxyFetch {
  return proxyFetch(resolveProxyOptions(options));
}

/** The proxy fetch over resolved options: no defaults or validation of options below this line. */
function proxyFetch(options: ResolvedProxyOptions<ConnectionOptions>): ProxyFetch {
  const { env, proxy: explicit } = options;
  const states = new Map<string, ProxyState>();
  let direct: Undici.Dispatcher | undefined;

  const proxyFor = (target: URL): URL | undefined => {
    if (bypassesProxy(target, options.noProxy ?? env.NO_PROXY ?? env.no_proxy)) return undefined;
    if (explicit) return explicit;
    const value =
      target.protocol === 'https:'
        ? (env.https_proxy ?? env.HTTPS_PROXY ?? env.http_proxy ?? env.HTTP_PROXY)
        : (env.http_proxy ?? env.HTTP_PROXY);
    return value ? parseProxyUrl(value, target.protocol === 'https:' ? 'HTTPS_PROXY' : 'HTTP_PROXY') : undefined;
  };

  const stateFor = (undici: typeof Undici, proxy: URL): ProxyState => {
    const key = `${proxy.origin} ${proxy.username}`;
    let state = states.get(key);
    if (state) return state;
    const fromUrl: ProxyIdentity | undefined = proxy.username
      ? { username: decodeURIComponent(proxy.username), password: decodeURIComponent(proxy.password) }
      : undefined;
    const auth = new ProxyAuth(new URL(proxy.origin), {
      credentials: options.credentials ?? (fromUrl ? () => fromUrl : undefined),
      credentialsTimeoutMs: options.credentialsTimeoutMs,
      negotiate: options.negotiate,
      ...(fromUrl ? { upfront: fromUrl } : {}),
    });
    const endpoint = { proxy: new URL(proxy.origin), tls: options.tls, proxyTls: options.proxyTls };
    state = {
      auth,
      tunnel: createTunnelAgent(undici, endpoint, auth),
      forward: new ForwardTransport(undici, endpoint, auth),
    };
    states.set(key, state);
    return state;
  };

  return async (input, init) => {
    // For errors only: the URL and method, without touching a body that is still to be sent.
    const request = input instanceof Request ? input : new Request(input, { method: init?.method ?? 'GET' });
    const target = new URL(request.url);
    const proxy = proxyFor(target);
    if (!proxy && !options.tls) return globalThis.fetch(input, init);
    const undici = await loadUndici();
    const sent = await replayable(input, init);
    if (!proxy) {
      direct ??= new undici.Agent({ connect: options.tls as Undici.Agent.Options['connect'] & object });
      return fetchWithDispatcher(sent.url, sent.init, direct);
    }
    const state = stateFor(undici, proxy);
    const refused = (failure: ProxyAuthFailure) => {
      const headers = new Headers();
      for (const value of failure.headers) headers.append('proxy-authenticate', value);
      // undici's fetch never sees the proxy's 407 on a tunnel: this one is rebuilt from its challenges.
      const response = new Response(null, { status: 407, statusText: 'Proxy Authentication Required', headers });
      const proxyUrl = new URL(proxy.origin).href;
      return new ProxyAuthenticationError({
        response,
        request,
        challenges: failure.challenges,
        proxy: proxyUrl,
        cause: failure.cause ?? new Error(failure.message),
      });
    };
    const send = async (dispatcher: Undici.Dispatcher) => {
      try {
        return await fetchWithDispatcher(sent.url, sent.init, dispatcher);
      } catch (error) {
        const failure = found(error, ProxyAuthFailure);
        throw failure ? refused(failure) : error;
      }
    };

    if (target.protocol === 'https:') return send(state.tunnel);

    const method = sent.init.method ?? 'GET';
    const signal = sent.init.signal ?? undefined;
    /** Answer a forwarded 407 (`canBind`: on a pinned connection), or throw the ProxyAuthenticationError. */
    const answer = async (attempt: Attempt, challenge: ProxyChallenge, tries: number, canBind: boolean) => {
      const challenges = parseChallenges(challenge.headers);
      try {
        if (tries >= maxForwardTries) {
          throw new ProxyAuthFailure('proxy authentication failed: too many 407 answers', challenges);
        }
        const request = { method, uri: target.href, keepAlive: challenge.keepAlive, canBind, signal };
        return await abortable(state.auth.answer(attempt, challenges, request), signal);
      } catch (error) {
        if (!(error instanceof ProxyAuthFailure)) throw error;
        const cause = error.cause instanceof Error ? error.cause : undefined;
        throw refused(new ProxyAuthFailure(error.message, error.challenges, challenge.headers, cause).toPublic());
      }
    };

    // NTLM or Negotiate: on a leased connection, which the request's own legs authenticate if it is new.
    const pinned = async (first?: ProxyChallenge) => {
      const connection = state.forward.lease();
      let released = false;
      const release = () => {
        if (!released) connection.release();
        released = true;
      };
      try {
        const attempt = state.auth.newAttempt();
        let header: string | undefined;
        if (!connection.authenticated) {
          // Straight to the handshake the proxy asked for, else the one that worked last.
          const next = first ? await answer(attempt, first, 1, true) : undefined;
          header = next && 'header' in next ? next.header : await state.auth.upfront(attempt, method, target.href);
        }
        for (let tries = 1; ; tries++) {
          try {
            const response = await send(connection.dispatcher(header, release));
            if (header !== undefined) connection.authenticated = true;
            state.auth.succeeded(attempt);
            return response;
          } catch (error) {
            const challenge = found(error, ProxyChallenge);
            if (!challenge) throw error;
            connection.authenticated = false;
            const next = await answer(attempt, challenge, tries, true);
            header = 'header' in next ? next.header : undefined;
          }
        }
      } catch (error) {
        release();
        throw error;
      }
    };
    if (state.forward.bound) return pinned();

    const attempt = state.auth.newAttempt();
    for (let tries = 1; ; tries++) {
      try {
        const response = await send(state.forward.dispatcherFor(attempt));
        state.auth.succeeded(attempt);
        return response;
      } catch (error) {
        const challenge = found(error, ProxyChallenge);
        if (!challenge) throw error;
        const next = await answer(attempt, challenge, tries, false);
        if ('bound' in next) {
          state.forward.bound = true;
          return pinned(challenge);
        }
      }
    }
  };
}
