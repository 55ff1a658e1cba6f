import { calculateThumbprint, generateKeyPair, generateProof } from 'dpop';
import { decodeJwt } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
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
    dpop: {
      proofs: number;
      jtis: string[];
      nonceDemands: number;
      boundTokens: number;
      refused: Record<string, number>;
    };
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

const start = async (options: { now?: () => number; dpopNonceTtlMs?: number } = {}) => {
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

it('answers preflights, allows DPoP and exposes WWW-Authenticate, Retry-After and DPoP-Nonce; the flaky route cycles 503, 429, 200', async () => {
  const { url } = await start();
  const preflight = await fetch(`${url}/api/flaky`, { method: 'OPTIONS' });
  expect(preflight.status).toBe(204);
  expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
  expect(preflight.headers.get('access-control-allow-headers')).toContain('dpop');
  expect(preflight.headers.get('access-control-expose-headers')).toBe('www-authenticate, retry-after, dpop-nonce');

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

describe('DPoP mode', () => {
  const proofFor = (keys: CryptoKeyPair, method: string, url: string, nonce?: string, token?: string) =>
    generateProof(keys as Parameters<typeof generateProof>[0], url, method, nonce, token);
  const claims = (proof: string) => decodeJwt(proof);
  /** Sign in with a proof: the first try meets the nonce demand, the retry carries the nonce. */
  const dpopLogin = async (url: string, keys: CryptoKeyPair) => {
    const send = async (nonce?: string) =>
      fetch(`${url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', dpop: await proofFor(keys, 'POST', `${url}/auth/login`, nonce) },
        body: JSON.stringify({ username: 'alice', password: 'alice' }),
      });
    const demand = await send();
    const nonce = demand.headers.get('dpop-nonce') ?? '';
    const response = await send(nonce);
    return { demand, nonce, response, tokens: (await response.json()) as TokenResponse };
  };
  const dpopGet = async (url: string, token: string, proof: string) =>
    fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: proof } });

  it('the token endpoint demands its nonce with 400 use_dpop_nonce, then binds the tokens to the proof key', async () => {
    const { url, stats } = await start();
    const keys = (await generateKeyPair('ES256')) as CryptoKeyPair;
    const { demand, nonce, response, tokens } = await dpopLogin(url, keys);
    expect(demand.status).toBe(400);
    expect(await demand.json()).toMatchObject({ error: 'use_dpop_nonce' });
    expect(nonce).toMatch(/^[\w-]{16,}$/);
    expect(response.status).toBe(200);
    expect(tokens.tokenType).toBe('DPoP');
    const jkt = await calculateThumbprint(keys.publicKey as Parameters<typeof calculateThumbprint>[0]);
    expect(decodeJwt(tokens.accessToken).cnf).toEqual({ jkt });

    const profileUrl = `${url}/api/profile`;
    const ok = await dpopGet(
      profileUrl,
      tokens.accessToken,
      await proofFor(keys, 'GET', profileUrl, nonce, tokens.accessToken),
    );
    expect(ok.status).toBe(200);
    expect(ok.headers.get('dpop-nonce')).toBe(nonce);
    expect(await ok.json()).toEqual({ name: 'alice', scopes: ['profile'] });
    // A bound token is no bearer token.
    const asBearer = await get(profileUrl, tokens.accessToken);
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toContain('DPoP realm="demo", error="invalid_token"');
    expect(stats).toMatchObject({ logins: 1, dpop: { nonceDemands: 1, boundTokens: 1, proofs: 3 } });

    // The refresh needs a proof of the same key; another key is refused.
    const refresh = async (with_: CryptoKeyPair) =>
      fetch(`${url}/auth/refresh`, {
        method: 'POST',
        headers: { dpop: await proofFor(with_, 'POST', `${url}/auth/refresh`, nonce) },
        body: JSON.stringify({ refreshToken: tokens.refreshToken }),
      });
    const other = await refresh((await generateKeyPair('ES256')) as CryptoKeyPair);
    expect(other.status).toBe(400);
    expect(await other.json()).toMatchObject({ error: 'invalid_grant' });
    const refreshed = await refresh(keys);
    expect(refreshed.status).toBe(200);
    expect(decodeJwt(((await refreshed.json()) as TokenResponse).accessToken).cnf).toEqual({ jkt });
  });

  it('refuses a request without a proof, with a wrong ath, a reused jti or another key: 401 invalid_dpop_proof', async () => {
    const { url, stats } = await start();
    const keys = (await generateKeyPair('ES256')) as CryptoKeyPair;
    const { nonce, tokens } = await dpopLogin(url, keys);
    const profileUrl = `${url}/api/profile`;
    const refused = async (response: Response, description: string) => {
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe(
        `DPoP realm="demo", error="invalid_dpop_proof", error_description="${description}", algs="ES256"`,
      );
    };
    await refused(
      await fetch(profileUrl, { headers: { authorization: `DPoP ${tokens.accessToken}` } }),
      'a DPoP proof is required',
    );
    const wrongAth = await proofFor(keys, 'GET', profileUrl, nonce, 'another token');
    await refused(await dpopGet(profileUrl, tokens.accessToken, wrongAth), 'ath does not match the access token');
    const proof = await proofFor(keys, 'GET', profileUrl, nonce, tokens.accessToken);
    expect((await dpopGet(profileUrl, tokens.accessToken, proof)).status).toBe(200);
    await refused(await dpopGet(profileUrl, tokens.accessToken, proof), 'jti is missing or reused');
    const wrongHtu = await proofFor(keys, 'GET', `${url}/api/admin`, nonce, tokens.accessToken);
    await refused(await dpopGet(profileUrl, tokens.accessToken, wrongHtu), 'htu does not match the request');
    const otherKey = (await generateKeyPair('ES256')) as CryptoKeyPair;
    await refused(
      await dpopGet(
        profileUrl,
        tokens.accessToken,
        await proofFor(otherKey, 'GET', profileUrl, nonce, tokens.accessToken),
      ),
      'the proof key is not the key of the token',
    );
    expect(stats.dpop.refused.invalid_dpop_proof).toBe(4);
    // Every proof the server received had its own jti, but for the one sent twice.
    expect(new Set(stats.dpop.jtis).size).toBe(stats.dpop.jtis.length - 1);
    expect(claims(proof).jti).toBe(stats.dpop.jtis.at(-3));
  });

  it('demands its new nonce after a rotation, on a timer or on request: 401 use_dpop_nonce with DPoP-Nonce', async () => {
    let clock = Date.now();
    const { url, stats } = await start({ now: () => clock, dpopNonceTtlMs: 10_000 });
    const keys = (await generateKeyPair('ES256')) as CryptoKeyPair;
    const { nonce, tokens } = await dpopLogin(url, keys);
    const profileUrl = `${url}/api/profile`;
    const sendWith = async (n: string) =>
      dpopGet(profileUrl, tokens.accessToken, await proofFor(keys, 'GET', profileUrl, n, tokens.accessToken));

    clock += 4_000;
    expect((await sendWith(nonce)).status).toBe(200);
    clock += 6_000;
    const demand = await sendWith(nonce);
    expect(demand.status).toBe(401);
    expect(demand.headers.get('www-authenticate')).toBe(
      'DPoP realm="demo", error="use_dpop_nonce", error_description="the proof must carry the current nonce of the server", algs="ES256"',
    );
    const next = demand.headers.get('dpop-nonce') ?? '';
    expect(next).not.toBe(nonce);
    expect((await sendWith(next)).status).toBe(200);

    expect((await post(`${url}/demo/rotate-nonce`, {})).status).toBe(200);
    const again = await sendWith(next);
    expect(again.status).toBe(401);
    const third = again.headers.get('dpop-nonce') ?? '';
    expect(third).not.toBe(next);
    expect((await sendWith(third)).status).toBe(200);
    expect(stats.dpop.nonceDemands).toBe(3);
  });
});
