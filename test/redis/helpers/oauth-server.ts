import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/**
 * A loopback OAuth server with one session whose refresh token rotates: each refresh spends the refresh token it was
 * given and issues a new pair; a spent refresh token presented again is a reuse, which revokes the whole family (every
 * access and refresh token of the session), as Keycloak, Auth0 or Xero do. `GET /resource` answers 200 for a live
 * access token, else 401 `invalid_token`, and counts the sends of each `x-request-id`.
 */
export interface OAuthServer {
  origin: string;
  /** Refreshes that rotated the token. */
  rotations: number;
  /** Spent refresh tokens presented again (each one revoked the family). */
  reuses: number;
  /** Sends of each request id to `/resource`. */
  sends: Map<string, number>;
  /** The initial pair of the session. */
  readonly initial: { accessToken: string; refreshToken: string };
  /** End the life of every access token issued so far: the next request with one gets a 401. */
  expire(): void;
  /** Revoke the session (as an admin or the user would): every refresh from now on is refused, 400 `invalid_grant`. */
  revoke(): void;
  /** Refreshes refused (revoked session, unknown or spent refresh token). */
  refused: number;
  /**
   * Hold the next refresh: it is not processed (nothing rotates) until `release`; a client that goes away meanwhile
   * leaves it unprocessed. `arrived` resolves with the `x-worker` header of the held request. With `afterRotation`,
   * the refresh token is rotated first and only the answer is held: a client that goes away never gets the new pair.
   */
  holdNextRefresh(options?: { afterRotation?: boolean }): {
    arrived: Promise<string>;
    dropped: Promise<void>;
    release(): void;
  };
  /** Resolves at the next rotation (or reuse), with the time it happened. */
  nextRefresh(): Promise<number>;
  close(): Promise<void>;
}

export async function startOAuthServer(): Promise<OAuthServer> {
  let counter = 0;
  const live = new Set<string>();
  let current: string | undefined;
  const spent = new Set<string>();
  let revoked = false;
  let hold:
    | { arrived: (worker: string) => void; dropped: () => void; released: Promise<void>; afterRotation: boolean }
    | undefined;
  let refreshWaiters: ((time: number) => void)[] = [];
  const issue = () => {
    counter += 1;
    const pair = { accessToken: `at-${counter}`, refreshToken: `rt-${counter}` };
    live.add(pair.accessToken);
    current = pair.refreshToken;
    return pair;
  };
  const initial = issue();
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const body = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  const refreshed = () => {
    const waiters = refreshWaiters;
    refreshWaiters = [];
    for (const waiter of waiters) waiter(Date.now());
  };

  /** Wait for `release`; false when the client went away first (the answer is then never sent). */
  const held = async (res: ServerResponse, on: NonNullable<typeof hold>) => {
    let gone = false;
    res.once('close', () => {
      if (!res.writableFinished) {
        gone = true;
        on.dropped();
      }
    });
    await Promise.race([on.released, new Promise((resolve) => res.once('close', resolve))]);
    return !gone;
  };

  /** Rotate `refreshToken`: 200 with a new pair, or 400 (and on reuse, the whole session revoked). */
  const grant = (refreshToken: string | undefined): [number, unknown] => {
    if (refreshToken !== undefined && spent.has(refreshToken)) {
      server.reuses += 1;
      revoked = true;
      live.clear();
      current = undefined;
      refreshed();
      return [400, { error: 'invalid_grant', error_description: 'refresh token reused: session revoked' }];
    }
    if (revoked || refreshToken === undefined || refreshToken !== current) {
      server.refused += 1;
      refreshed();
      return [400, { error: 'invalid_grant' }];
    }
    spent.add(refreshToken);
    server.rotations += 1;
    const pair = issue();
    refreshed();
    return [200, pair];
  };

  const token = async (req: IncomingMessage, res: ServerResponse) => {
    const { refreshToken } = JSON.parse(await body(req)) as { refreshToken?: string };
    const on = hold;
    hold = undefined;
    on?.arrived(String(req.headers['x-worker'] ?? ''));
    if (on && !on.afterRotation && !(await held(res, on))) return;
    const [status, answer] = grant(refreshToken);
    if (on?.afterRotation && !(await held(res, on))) return;
    json(res, status, answer);
  };

  const http = createServer((req, res) => {
    if (req.url === '/oauth/token' && req.method === 'POST') {
      token(req, res).catch((error: unknown) => json(res, 500, { error: String(error) }));
      return;
    }
    if (req.url === '/resource') {
      const id = String(req.headers['x-request-id'] ?? '');
      server.sends.set(id, (server.sends.get(id) ?? 0) + 1);
      const bearer = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      if (live.has(bearer)) return json(res, 200, { ok: true });
      return json(res, 401, { title: 'unauthorized' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
    }
    json(res, 404, {});
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as { port: number };

  const server: OAuthServer = {
    origin: `http://127.0.0.1:${port}`,
    rotations: 0,
    reuses: 0,
    refused: 0,
    sends: new Map(),
    initial,
    expire: () => live.clear(),
    revoke() {
      revoked = true;
      live.clear();
    },
    holdNextRefresh(options = {}) {
      let arrived!: (worker: string) => void;
      let dropped!: () => void;
      let release!: () => void;
      const result = {
        arrived: new Promise<string>((resolve) => {
          arrived = resolve;
        }),
        dropped: new Promise<void>((resolve) => {
          dropped = resolve;
        }),
        release: () => release(),
      };
      hold = {
        afterRotation: options.afterRotation ?? false,
        arrived,
        dropped,
        released: new Promise<void>((resolve) => {
          release = resolve;
        }),
      };
      return result;
    },
    nextRefresh: () => new Promise((resolve) => refreshWaiters.push(resolve)),
    close: () =>
      new Promise((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
  return server;
}
