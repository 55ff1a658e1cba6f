import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a test server saw of one request. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export type Handler = (req: SeenRequest, res: ServerResponse) => unknown;

export interface TestServer {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  /** Every non-preflight request, in arrival order. */
  seen: SeenRequest[];
  /** Replace the handler. */
  handle(handler: Handler): void;
  close(): Promise<void>;
}

/** Headers a browser needs to call this server cross-origin and read the auth and retry headers. */
export const corsHeaders = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, QUERY',
  'access-control-allow-headers': 'authorization, content-type, idempotency-key, x-test',
  'access-control-expose-headers': 'www-authenticate, retry-after, ratelimit, ratelimit-reset, location',
  'access-control-max-age': '600',
};

/**
 * A real HTTP server on 127.0.0.1 (random port) that answers CORS preflights like a real API and records the
 * other requests. Use in both vitest projects: happy-dom sends preflights for cross-origin requests.
 */
export async function startServer(handler: Handler = (_req, res) => res.end('ok')): Promise<TestServer> {
  let current = handler;
  const seen: SeenRequest[] = [];
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    for (const [name, value] of Object.entries(corsHeaders)) res.setHeader(name, value);
    if (req.method === 'OPTIONS') {
      res.statusCode = 204;
      res.end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const entry: SeenRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    seen.push(entry);
    try {
      await current(entry, res);
    } catch (error) {
      res.statusCode = 500;
      res.end(String(error));
    }
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    seen,
    handle(next) {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Send a JSON body with a status and optional headers. */
export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
