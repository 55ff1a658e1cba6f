import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { parseChallenges } from '../challenge.js';
import { answerTimeoutMs, exchange, type ProxyAnswer } from './exchange.js';
import { type ProxyAuth, ProxyAuthFailure } from './proxy-auth.js';

/** More 407s than any handshake needs (NTLM: 2, Negotiate: a few, a refused identity and one stale nonce on top). */
const maxLegs = 8;

/** Where the proxy is and the TLS options on either side of it. */
export interface ProxyEndpoint {
  proxy: URL;
  tls: ConnectionOptions | undefined;
  proxyTls: ConnectionOptions | undefined;
}

/** Open a connection to the proxy (TLS for an `https:` proxy). */
export function openProxySocket(proxy: URL, proxyTls: ConnectionOptions | undefined): Promise<Duplex> {
  const host = proxy.hostname.replace(/^\[|\]$/g, '');
  const secure = proxy.protocol === 'https:';
  const port = Number(proxy.port || (secure ? 443 : 80));
  return new Promise((resolve, reject) => {
    const socket = secure
      ? tlsConnect({ ...proxyTls, host, port, servername: proxyTls?.servername ?? host, ALPNProtocols: ['http/1.1'] })
      : netConnect({ host, port });
    socket.setTimeout(answerTimeoutMs, () =>
      socket.destroy(new Error(`no connection to the proxy within ${answerTimeoutMs} ms`)),
    );
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      socket.off('error', reject);
      socket.setTimeout(0);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

const head = (authority: string, authorization: string | undefined) =>
  `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Connection: keep-alive\r\n` +
  (authorization ? `Proxy-Authorization: ${authorization}\r\n` : '') +
  '\r\n';

/**
 * Open a CONNECT tunnel to `authority` (`host:port`) and authenticate it: answer each 407 (NTLM and Negotiate on this same socket, since they
 * authenticate the connection), and resolve with the socket once the proxy says anything else. A new socket is
 * opened only when the proxy closes one after a 407. Rejects with `ProxyAuthFailure` when nothing more can be tried.
 */
export async function openTunnel(
  auth: ProxyAuth,
  open: () => Promise<Duplex>,
  authority: string,
): Promise<{ socket: Duplex; answer: ProxyAnswer }> {
  const attempt = auth.newAttempt();
  let socket = await open();
  let raw: string[] = [];
  try {
    let header = await auth.upfront(attempt, 'CONNECT', authority);
    for (let legs = 1; ; legs++) {
      const answer = await exchange(socket, head(authority, header), true);
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
        method: 'CONNECT',
        uri: authority,
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
