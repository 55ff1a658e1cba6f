import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';

/** A proxy on 127.0.0.1 whose authentication a test decides. */
export interface FakeProxy {
  url: string;
  server: Server;
  close(): void;
}

/**
 * Start a proxy that asks `refuse` about every forwarded request and CONNECT: the challenges of a 407 (a CONNECT's
 * connection is then closed), or `undefined` to let it through (forwarded in absolute form, or tunnelled).
 */
export async function startFakeProxy(refuse: (req: IncomingMessage) => string[] | undefined): Promise<FakeProxy> {
  const server = createServer((req, res) => {
    const challenges = refuse(req);
    if (challenges) {
      res.writeHead(407, { 'proxy-authenticate': challenges }).end();
      return;
    }
    const upstream = request(req.url ?? '', { method: req.method, headers: { host: req.headers.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  server.on('connect', (req, socket) => {
    const challenges = refuse(req);
    if (challenges) {
      const offered = challenges.map((value) => `Proxy-Authenticate: ${value}\r\n`).join('');
      socket.end(
        `HTTP/1.1 407 Proxy Authentication Required\r\n${offered}Connection: close\r\nContent-Length: 0\r\n\r\n`,
      );
      return;
    }
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(socket).pipe(upstream);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}
