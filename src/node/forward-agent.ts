import type { Socket } from 'node:net';
import type * as Undici from 'undici';
import { openProxySocket, type ProxyEndpoint } from './handshake.js';
import type { Attempt, ProxyAuth } from './proxy-auth.js';

/** A forwarded request's 407, carried out of undici's fetch (which turns any 407 into a bare network error). */
export class ProxyChallenge extends Error {
  override readonly name = 'ProxyChallenge';
  constructor(
    readonly headers: readonly string[],
    /** Whether the proxy keeps the connection open (NTLM and Negotiate go on on it). */
    readonly keepAlive: boolean,
  ) {
    super('407 Proxy Authentication Required');
  }
}

/** One kept-alive connection to the proxy for NTLM or Negotiate, authenticated once and then used without a header. */
export interface PinnedConnection {
  /** The proxy accepted a handshake on the current socket; a new socket starts unauthenticated. */
  authenticated: boolean;
  /**
   * A dispatcher that sends on this connection, the first dispatch with `authorization` (a handshake leg) and any
   * redirect without; `settled` runs when an answer other than a 407 is read to its end, or fails.
   */
  dispatcher(authorization: string | undefined, settled?: () => void): Undici.Dispatcher;
  /** The request that held it is done (its answer arrived, or it failed). */
  release(): void;
}

/**
 * Plain-http forwarding: requests go to the proxy in absolute form. Basic and Digest answer per request (the header
 * is computed at each dispatch, so a redirect gets its own Digest `uri` and count). NTLM and Negotiate authenticate
 * a connection, so once the proxy wants one of them (`bind()`), each request leases a connection of its own: on a new
 * one the request itself carries the handshake legs (every leg but the last is answered by the proxy with a 407, so
 * the target sees the request once), and on an authenticated one it goes without a header.
 */
export class ForwardTransport {
  private readonly agent: Undici.Dispatcher;
  private readonly pinned: (PinnedConnection & { active: number })[] = [];
  bound: boolean;

  constructor(
    private readonly undici: typeof Undici,
    private readonly endpoint: ProxyEndpoint,
    private readonly auth: ProxyAuth,
  ) {
    this.bound = auth.bound;
    const { proxy, proxyTls } = endpoint;
    this.agent = new undici.Agent({
      allowH2: false,
      connect: (_opts, callback) => {
        openProxySocket(proxy, proxyTls).then(
          (socket) => callback(null, socket as Socket),
          (error: Error) => callback(error, null),
        );
      },
    });
  }

  /** A dispatcher for one request (`attempt` decides its Basic or Digest header), for undici's `fetch`. */
  dispatcherFor(attempt: Attempt): Undici.Dispatcher {
    return proxied(this.agent, (method, uri) => this.auth.requestHeader(attempt, method, uri));
  }

  /** An idle authenticated connection, else an idle one, else a new one. */
  lease(): PinnedConnection {
    const idle = this.pinned.filter((c) => c.active === 0);
    let connection = idle.find((c) => c.authenticated) ?? idle[0];
    if (!connection) {
      const { proxy, proxyTls } = this.endpoint;
      const client = new this.undici.Client(proxy.origin, {
        pipelining: 1,
        allowH2: false,
        connect: (_opts, callback) => {
          openProxySocket(proxy, proxyTls).then(
            (socket) => callback(null, socket as Socket),
            (error: Error) => callback(error, null),
          );
        },
      });
      const created: PinnedConnection & { active: number } = {
        authenticated: false,
        active: 0,
        dispatcher: (authorization, settled) => {
          let sent = false;
          const header = () => {
            if (sent) return undefined;
            sent = true;
            return authorization;
          };
          return proxied(client, header, settled);
        },
        release: () => {
          created.active -= 1;
        },
      };
      client.on('disconnect', () => {
        created.authenticated = false;
      });
      this.pinned.push(created);
      connection = created;
    }
    connection.active += 1;
    return connection;
  }
}

/**
 * A dispatcher that sends through `target` in absolute form with the `Proxy-Authorization` that `header` gives for
 * each dispatch (redirects included), and fails a 407 with a `ProxyChallenge` once its body is read, so a kept-alive
 * connection survives for the next leg.
 */
function proxied(
  target: Undici.Dispatcher,
  header: (method: string, uri: string) => string | undefined,
  settled?: () => void,
): Undici.Dispatcher {
  const dispatch: Undici.Dispatcher['dispatch'] = (opts, handler) => {
    const { origin = '', path = '/' } = opts;
    const uri = `${origin}${path}`;
    const headers: Record<string, string | string[]> = { host: new URL(uri).host };
    const given = opts.headers;
    if (Array.isArray(given)) {
      for (let i = 0; i + 1 < given.length; i += 2) headers[String(given[i]).toLowerCase()] = String(given[i + 1]);
    } else if (given) {
      for (const [name, value] of Object.entries(given)) {
        if (value !== undefined) headers[name.toLowerCase()] = value as string | string[];
      }
    }
    const authorization = header(opts.method, uri);
    if (authorization) headers['proxy-authorization'] = authorization;
    return target.dispatch({ ...opts, path: uri, headers }, withChallenge(handler, settled));
  };
  return { dispatch } as unknown as Undici.Dispatcher;
}

/** `handler`, but a 407 (its body read to the end) fails the request with a `ProxyChallenge`. */
function withChallenge(
  handler: Undici.Dispatcher.DispatchHandler,
  settled: () => void = () => {},
): Undici.Dispatcher.DispatchHandler {
  let challenge: ProxyChallenge | undefined;
  return {
    onRequestStart: (controller, context) => handler.onRequestStart?.(controller, context),
    onRequestUpgrade: (controller, status, headers, socket) =>
      handler.onRequestUpgrade?.(controller, status, headers, socket),
    onResponseStart: (controller, status, headers, message) => {
      if (status !== 407) return handler.onResponseStart?.(controller, status, headers, message);
      const list = (name: string) => {
        const value = headers[name];
        return value === undefined ? [] : (Array.isArray(value) ? value : [value]).map(String);
      };
      const close = [...list('connection'), ...list('proxy-connection')].some((v) => /\bclose\b/i.test(v));
      challenge = new ProxyChallenge(list('proxy-authenticate'), !close);
    },
    onResponseData: (controller, chunk) => {
      if (!challenge) handler.onResponseData?.(controller, chunk);
    },
    onResponseEnd: (controller, trailers) => {
      if (challenge) return handler.onResponseError?.(controller, challenge);
      settled();
      handler.onResponseEnd?.(controller, trailers);
    },
    onResponseError: (controller, error) => {
      settled();
      handler.onResponseError?.(controller, error);
    },
  };
}
