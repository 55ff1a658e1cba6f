import { afterEach, expect, it } from 'vitest';
// @ts-expect-error: the demo is plain JavaScript
import { startDemoServer } from '../demo/server.mjs';

interface DemoServer {
  url: string;
  thirdPartyUrl: string;
  stats: {
    logins: number;
    refreshes: number;
    reuseDetected: number;
    requests: Record<string, number>;
    thirdParty: { requests: number; withAuthorization: number };
  };
  close(): Promise<void>;
}
interface TokenResponse {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  tokenType: string;
}

let server: DemoServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const start = async (options: { now?: () => number } = {}) => {
  server = (await startDemoServer(options)) as DemoServer;
  return server;
};
const post = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const login = async (url: string, username = 'alice') =>
  (await (await post(`${url}/auth/login`, { username, password: username })).json()) as TokenResponse;
const get = (url: string, token?: string) => fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
/** POST to `path` with a fresh token of `username`. */
const postAs = async (url: string, path: string, username = 'alice') =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${(await login(url, username)).accessToken}` },
  });

it('issues a JWT and a rotating refresh token; a reused refresh token revokes the whole family', async () => {
  const { url, stats } = await start();
  const first = await login(url);
  // The README describes these fields: keep the two in step.
  expect(Object.keys(first).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'tokenType']);
  expect(first).toMatchObject({ expiresIn: 15, tokenType: 'Bearer' });
  expect(first.accessToken.split('.')).toHaveLength(3);
  expect(await (await get(`${url}/api/profile`, first.accessToken)).json()).toEqual({
    name: 'alice',
    scopes: ['profile'],
  });

  const second = (await (
    await post(`${url}/auth/refresh`, { refreshToken: first.refreshToken })
  ).json()) as TokenResponse;
  expect(second.refreshToken).not.toBe(first.refreshToken);
  // The spent token again: reuse, so the family (including the new token) is revoked.
  const reuse = await post(`${url}/auth/refresh`, { refreshToken: first.refreshToken });
  expect(reuse.status).toBe(400);
  expect(await reuse.json()).toMatchObject({ error: 'invalid_grant', title: 'Refresh token reused' });
  expect((await post(`${url}/auth/refresh`, { refreshToken: second.refreshToken })).status).toBe(400);
  expect(stats).toMatchObject({ logins: 1, refreshes: 3, reuseDetected: 1 });
  expect(stats.requests['/auth/refresh']).toBe(3);
});

it('rejects wrong passwords, missing and expired tokens with the right challenges', async () => {
  let clock = Date.now();
  const { url } = await start({ now: () => clock });
  expect((await post(`${url}/auth/login`, { username: 'alice', password: 'nope' })).status).toBe(400);
  const missing = await get(`${url}/api/profile`);
  expect(missing.status).toBe(401);
  expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="demo"');

  const { accessToken } = await login(url);
  clock += 16_000;
  const expired = await get(`${url}/api/profile`, accessToken);
  expect(expired.status).toBe(401);
  expect(expired.headers.get('www-authenticate')).toContain('error="invalid_token"');
});

it('answers a normal user 403 insufficient_scope with problem details, and lets an admin in', async () => {
  const { url } = await start();
  const denied = await postAs(url, '/api/admin');
  expect(denied.status).toBe(403);
  expect(denied.headers.get('content-type')).toBe('application/problem+json');
  expect(denied.headers.get('www-authenticate')).toBe('Bearer realm="demo", error="insufficient_scope", scope="admin"');
  expect(await denied.json()).toMatchObject({ title: 'Admins only', status: 403 });

  const admin = await postAs(url, '/api/admin', 'admin');
  expect(admin.status).toBe(200);
});

it('asks for a second factor before a transfer (RFC 9470 step-up)', async () => {
  const { url } = await start();
  const response = await postAs(url, '/api/transfer');
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toBe(
    'Bearer realm="demo", error="insufficient_user_authentication", acr_values="mfa", max_age="300"',
  );
});

it('answers preflights and exposes WWW-Authenticate and Retry-After; the flaky route cycles 503, 429, 200', async () => {
  const { url } = await start();
  const preflight = await fetch(`${url}/api/flaky`, { method: 'OPTIONS' });
  expect(preflight.status).toBe(204);
  expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
  expect(preflight.headers.get('access-control-expose-headers')).toBe('www-authenticate, retry-after');

  const { accessToken } = await login(url);
  const statuses: Array<[number, string | null]> = [];
  for (let i = 0; i < 6; i++) {
    const response = await get(`${url}/api/flaky`, accessToken);
    statuses.push([response.status, response.headers.get('retry-after')]);
  }
  expect(statuses).toEqual([
    [503, null],
    [429, '1'],
    [200, null],
    [503, null],
    [429, '1'],
    [200, null],
  ]);
});

it('serves a third-party origin on another port that reports the Authorization it received', async () => {
  const { url, thirdPartyUrl, stats } = await start();
  expect(new URL(thirdPartyUrl).origin).not.toBe(new URL(url).origin);
  expect(await (await get(`${url}/demo/config`)).json()).toEqual({ thirdPartyUrl });

  const plain = await get(`${thirdPartyUrl}/pixel`);
  expect(plain.headers.get('access-control-allow-origin')).toBe('*');
  expect(await plain.json()).toEqual({ authorization: null });
  expect(await (await get(`${thirdPartyUrl}/pixel`, 'leaked')).json()).toEqual({ authorization: 'Bearer leaked' });
  expect(stats.thirdParty).toEqual({ requests: 2, withAuthorization: 1 });
});
