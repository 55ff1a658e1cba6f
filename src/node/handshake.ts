import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { parseChallenges } from '../challenge.js';
import { exchange, type ProxyAnswer } from './exchange.js';
import { type ProxyAuth, ProxyAuthFailure } from './proxy-auth.js';

/** More 407s than any handshake needs (NTLM: 2, Negotiate: a few, a refused identity and one stale nonce on top). */
const maxLegs = 8;

/** Open a connection to the proxy (TLS for an `https:` proxy). */
export function openProxySocket(proxy: URL, proxyTls: ConnectionOptions | undefined): Promise<Duplex> {
  const host = proxy.hostname.replace(/^\[|\]$/g, '');
  const secure = proxy.protocol === 'https:';
  const port = Number(proxy.port || (secure ? 443 : 80));
  return new Promise((resolve, reject) => {
    const socket = secure
      ? tlsConnect({ ...proxyTls, host, port, servername: proxyTls?.servername ?? host, ALPNProtocols: ['http/1.1'] })
      : netConnect({ host, port });
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** The request that carries a connection's handshake. */
export interface HandshakeRequest {
  /** `CONNECT` for a tunnel; `OPTIONS` with `Max-Forwards: 0` (answered by the proxy itself) for forwarding. */
  method: 'CONNECT' | 'OPTIONS';
  /** `host:port` for CONNECT, the target's absolute URL for OPTIONS. */
  target: string;
  host: string;
}

const head = (request: HandshakeRequest, authorization: string | undefined) =>
  `${request.method} ${request.target} HTTP/1.1\r\nHost: ${request.host}\r\n` +
  (request.method === 'OPTIONS' ? 'Max-Forwards: 0\r\nContent-Length: 0\r\n' : '') +
  'Proxy-Connection: keep-alive\r\n' +
  (authorization ? `Proxy-Authorization: ${authorization}\r\n` : '') +
  '\r\n';

/**
 * Authenticate one connection: send `request`, answer each 407 (NTLM and Negotiate on this same socket, since they
 * authenticate the connection), and resolve with the socket once the proxy says anything else. A new socket is
 * opened only when the proxy closes one after a 407. Rejects with `ProxyAuthFailure` when nothing more can be tried.
 */
export async function authenticateConnection(
  auth: ProxyAuth,
  open: () => Promise<Duplex>,
  request: HandshakeRequest,
): Promise<{ socket: Duplex; answer: ProxyAnswer }> {
  const attempt = auth.newAttempt();
  const connect = request.method === 'CONNECT';
  let socket = await open();
  let raw: string[] = [];
  try {
    let header = await auth.upfront(attempt, request.method, request.target);
    for (let legs = 1; ; legs++) {
      const answer = await exchange(socket, head(request, header), connect);
      if (answer.status !== 407) {
        auth.succeeded(attempt);
        return { socket, answer };
      }
      raw = answer.headers.get('proxy-authenticate') ?? [];
      const challenges = parseChallenges(raw);
      if (legs >= maxLegs) throw new ProxyAuthFailure('proxy authentication failed: too many 407 answers', challenges);
      if (!answer.keepAlive) {
        socket.destroy();
        socket = await open();
      }
      const next = await auth.answer(attempt, challenges, {
        method: request.method,
        uri: request.target,
        keepAlive: answer.keepAlive,
        canBind: true,
      });
      header = 'header' in next ? next.header : undefined;
    }
  } catch (error) {
    socket.destroy();
    if (!(error instanceof ProxyAuthFailure)) throw error;
    const cause = error.cause instanceof Error ? error.cause : undefined;
    throw new ProxyAuthFailure(error.message, error.challenges, raw, cause).toPublic();
  }
}
