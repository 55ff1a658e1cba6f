import type { ServerResponse } from 'node:http';
import { json, type SeenRequest, startServer, type TestServer } from './server.js';

/** A loopback resource server with a token endpoint: tokens are opaque strings it issued and has not expired. */
export interface TokenApi {
  server: TestServer;
  origin: string;
  valid: Set<string>;
  refreshes: number;
  /** Sends per path (not counting the token endpoint). */
  sends: (path: string) => number;
  /** Make `/oauth/token` answer with this (status, body); undefined = issue a token. */
  tokenReply: ((n: number) => { status: number; body: unknown } | undefined) | undefined;
  /** Replace the resource handler (default: 200 `{ ok: true }` for a valid token, else 401 invalid_token). */
  resource: (req: SeenRequest, res: ServerResponse, authorized: boolean) => unknown;
  issue(): string;
  close(): Promise<void>;
}

export async function startTokenApi(): Promise<TokenApi> {
  let counter = 0;
  const api: TokenApi = {
    server: undefined as unknown as TestServer,
    origin: '',
    valid: new Set(),
    refreshes: 0,
    sends: (path) => api.server.seen.filter((r) => r.url === path).length,
    tokenReply: undefined,
    resource: (_req, res, authorized) =>
      authorized
        ? json(res, 200, { ok: true })
        : json(
            res,
            401,
            { title: 'unauthorized' },
            { 'www-authenticate': 'Bearer realm="api", error="invalid_token"' },
          ),
    issue() {
      counter += 1;
      const token = `at-${counter}`;
      api.valid.add(token);
      return token;
    },
    close: () => api.server.close(),
  };
  api.server = await startServer((req, res) => {
    if (req.url === '/oauth/token') {
      api.refreshes += 1;
      const reply = api.tokenReply?.(api.refreshes);
      if (reply) return json(res, reply.status, reply.body);
      return json(res, 200, { accessToken: api.issue(), refreshToken: `rt-${api.refreshes}` });
    }
    const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    return api.resource(req, res, api.valid.has(token));
  });
  api.origin = api.server.origin;
  return api;
}

/** A refresh function that calls the test API's token endpoint with plain fetch, as users do. */
export function refreshFrom(api: TokenApi) {
  return async ({
    tokens,
    signal,
  }: {
    tokens: { refreshToken?: string | undefined } | undefined;
    signal: AbortSignal;
  }) => {
    const response = await fetch(`${api.origin}/oauth/token`, {
      method: 'POST',
      body: JSON.stringify({ refreshToken: tokens?.refreshToken }),
      signal,
    });
    const body = (await response.json()) as { accessToken: string; refreshToken: string };
    if (!response.ok) throw Object.assign(new Error(`token endpoint ${response.status}`), { status: response.status });
    return body;
  };
}
