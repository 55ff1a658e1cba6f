import { isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type * as Undici from 'undici';
import { openProxySocket, openTunnel, type ProxyEndpoint } from './handshake.js';
import type { ProxyAuth } from './proxy-auth.js';

/**
 * An undici `Agent` for https targets whose connect step opens a CONNECT tunnel through the proxy, authenticates it
 * (NTLM and Negotiate inside that CONNECT, since they authenticate the connection), then starts TLS with the target.
 * Requests on a tunnel carry no proxy header: the proxy never sees them.
 */
export function createTunnelAgent(undici: typeof Undici, endpoint: ProxyEndpoint, auth: ProxyAuth): Undici.Dispatcher {
  const { proxy, tls, proxyTls } = endpoint;
  return new undici.Agent({
    // HTTP/1.1 only: tunnels speak it, and undici's h2 probe would hold every other connect behind the first.
    allowH2: false,
    connect: (opts, callback) => {
      const host = opts.hostname.replace(/^\[|\]$/g, '');
      const port = opts.port || (opts.protocol === 'https:' ? '443' : '80');
      const authority = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
      openTunnel(auth, () => openProxySocket(proxy, proxyTls), authority).then(
        ({ socket, answer }) => {
          if (answer.status < 200 || answer.status > 299) {
            socket.destroy();
            callback(new Error(`the proxy refused the tunnel with ${answer.status}`), null);
            return;
          }
          if (opts.protocol !== 'https:') {
            callback(null, socket as Socket);
            return;
          }
          const servername = opts.servername || (isIP(host) ? undefined : host);
          const secure = tlsConnect({
            ...tls,
            socket: socket as Socket,
            host,
            ...(servername ? { servername } : {}),
            ALPNProtocols: ['http/1.1'],
          });
          const failed = (error: Error) => callback(error, null);
          secure.once('error', failed);
          secure.once('secureConnect', () => {
            secure.off('error', failed);
            callback(null, secure);
          });
        },
        (error: Error) => callback(error, null),
      );
    },
  });
}
