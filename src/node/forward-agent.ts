import type { Socket } from 'node:net';
import type * as Undici from 'undici';
import { authenticateConnection, openProxySocket } from './handshake.js';
import type { Attempt, ProxyAuth } from './proxy-auth.js';
import type { ProxyEndpoint } from './tunnel-agent.js';

/** A forwarded request's 407, carried out of undici's fetch (which turns any 407 into a bare network error). */
export class ProxyChallenge extends Error {
  override readonly name = 'ProxyChallenge';
  constructor(readonly headers: readonly string[]) {
    super('407 Proxy Authentication Required');
  }
}

/**
 * Plain-http forwarding: requests go to the proxy in absolute form. Basic and Digest answer per request (the header
 * is computed at each dispatch, so a redirect gets its own Digest `uri` and count). Once the proxy wants NTLM or
 * Negotiate, `bind()` switches to connections that authenticate in their connect step, with an `OPTIONS` that carries
 * `Max-Forwards: 0` so the proxy answers it itself and the target sees nothing; requests on them carry no header.
 */
export class ForwardTransport {
  private agent: Undici.Dispatcher;
  private bound = false;

  constructor(
    private readonly undici: typeof Undici,
    private readonly endpoint: ProxyEndpoint,
    private readonly auth: ProxyAuth,
  ) {
    this.bound = auth.bound;
    this.agent = this.createAgent();
  }

  /** Switch to connection-authenticated connections; the unauthenticated ones close once idle. */
  bind(): void {
    if (this.bound) return;
    this.bound = true;
    const old = this.agent;
    this.agent = this.createAgent();
    void old.close().catch(() => {});
  }

  /** A dispatcher for one request (`attempt` decides its Basic or Digest header), for undici's `fetch`. */
  dispatcherFor(attempt: Attempt): Undici.Dispatcher {
    const agent = this.agent;
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
      const authorization = this.auth.requestHeader(attempt, opts.method, uri);
      if (authorization) headers['proxy-authorization'] = authorization;
      return agent.dispatch({ ...opts, path: uri, headers }, withChallenge(handler));
    };
    return { dispatch } as unknown as Undici.Dispatcher;
  }

  private createAgent(): Undici.Dispatcher {
    const { proxy, proxyTls } = this.endpoint;
    const open = () => openProxySocket(proxy, proxyTls);
    const bound = this.bound;
    return new this.undici.Agent({
      // HTTP/1.1 only: tunnels speak it, and undici's h2 probe would hold every other connect behind the first.
      allowH2: false,
      connect: (opts, callback) => {
        if (!bound) {
          open().then(
            (socket) => callback(null, socket as Socket),
            (error: Error) => callback(error, null),
          );
          return;
        }
        const target = `${opts.protocol}//${opts.host ?? opts.hostname}/`;
        authenticateConnection(this.auth, open, { method: 'OPTIONS', target, host: new URL(target).host }).then(
          ({ socket }) => callback(null, socket as Socket),
          (error: Error) => callback(error, null),
        );
      },
    });
  }
}

/** `handler`, but a 407 fails the request with a `ProxyChallenge` that holds the proxy's challenges. */
function withChallenge(handler: Undici.Dispatcher.DispatchHandler): Undici.Dispatcher.DispatchHandler {
  let challenged = false;
  return {
    onRequestStart: (controller, context) => handler.onRequestStart?.(controller, context),
    onRequestUpgrade: (controller, status, headers, socket) =>
      handler.onRequestUpgrade?.(controller, status, headers, socket),
    onResponseStart: (controller, status, headers, message) => {
      if (status !== 407) return handler.onResponseStart?.(controller, status, headers, message);
      challenged = true;
      const value = headers['proxy-authenticate'];
      const raw = value === undefined ? [] : Array.isArray(value) ? value : [value];
      handler.onResponseError?.(controller, new ProxyChallenge(raw.map(String)));
      controller.abort(new ProxyChallenge([]));
    },
    onResponseData: (controller, chunk) => {
      if (!challenged) handler.onResponseData?.(controller, chunk);
    },
    onResponseEnd: (controller, trailers) => {
      if (!challenged) handler.onResponseEnd?.(controller, trailers);
    },
    onResponseError: (controller, error) => {
      if (!challenged) handler.onResponseError?.(controller, error);
    },
  };
}
