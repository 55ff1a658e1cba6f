import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { createApiFetch, createTokenSession, isHTTPError, type UnauthenticatedError } from 'apifetch';
import { createDpop, type DPoPError, isDPoPError } from 'apifetch/dpop';
import { calculateThumbprint, generateKeyPair } from 'dpop';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { json, type SeenRequest, startServer, type TestServer } from '../helpers/server.js';

let api: TestServer;
let third: TestServer;
beforeEach(async () => {
  api = await startServer();
  third = await startServer((_req, res) => res.end('third'));
});
afterEach(async () => {
  await api.close();
  await third.close();
});

const token = 'at-secret-0123456789';
const proofOf = (seen: SeenRequest | undefined) => decodeJwt(String(seen?.headers.dpop));

/** A client with a bound token and a refresh that counts its calls. */
function setUp(refreshed = 'at-refreshed-0123456789') {
  const dpop = createDpop();
  const calls = { refresh: 0, unauthenticated: [] as UnauthenticatedError[], events: [] as unknown[] };
  const session = createTokenSession({
    tokens: { accessToken: token, refreshToken: 'rt-secret-0123456789' },
    refresh: async () => {
      calls.refresh += 1;
      return { accessToken: refreshed, refreshToken: 'rt-secret-next' };
    },
  });
  const client = createApiFetch({
    baseUrl: api.origin,
    auth: { session, dpop },
    onUnauthenticated: (error) => calls.unauthenticated.push(error),
    onEvent: (event) => calls.events.push(event),
  });
  return { dpop, client, calls };
}

const nonceDemand = (res: Parameters<typeof json>[0], nonce: string) =>
  json(
    res,
    401,
    { error: 'use_dpop_nonce' },
    { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': nonce },
  );

describe('proofs', () => {
  it('every send carries Authorization: DPoP and a fresh proof: htm, htu without query and fragment, iat, jti, ath', async () => {
    const { client, dpop } = setUp();
    await client.post('items?secret=1#frag', { json: { a: 1 } });
    await client.post('items?secret=1#frag', { json: { a: 1 } });
    const [first, second] = api.seen;
    expect(first?.headers.authorization).toBe(`DPoP ${token}`);
    const header = decodeProtectedHeader(String(first?.headers.dpop));
    expect(header).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256' } });
    expect(header.jwk).not.toHaveProperty('d');
    const claims = proofOf(first);
    expect(claims).toMatchObject({ htm: 'POST', htu: `${api.origin}/items` });
    expect(claims.ath).toBe(createHash('sha256').update(token).digest('base64url'));
    expect(Math.abs(Number(claims.iat) - Date.now() / 1000)).toBeLessThan(5);
    expect(claims.nonce).toBeUndefined();
    expect(proofOf(second).jti).not.toBe(claims.jti);
    expect(await calculateThumbprint((await keysOf(dpop)).publicKey)).toBe(await dpop.thumbprint());
  });

  it('the DPoP-Nonce of any response, a success included, is used by the next proof to that origin', async () => {
    const { client } = setUp();
    api.handle((_req, res) => json(res, 200, {}, { 'dpop-nonce': 'n-1' }));
    await client.get('a');
    await client.get('b');
    expect(api.seen.map((s) => proofOf(s).nonce)).toEqual([undefined, 'n-1']);
  });

  it('a request to an origin that does not receive the token carries neither token nor proof', async () => {
    const { client } = setUp();
    expect(await client.get(`${third.origin}/x`).text()).toBe('third');
    expect(third.seen[0]?.headers.authorization).toBeUndefined();
    expect(third.seen[0]?.headers.dpop).toBeUndefined();
  });

  it('a 307 redirect on the same origin re-sends the body with a proof for the new URL; a 303 becomes a GET', async () => {
    const { client } = setUp();
    api.handle((req, res) => {
      if (req.url === '/old') return void res.writeHead(307, { location: '/new?q=1' }).end();
      if (req.url === '/form') return void res.writeHead(303, { location: '/done' }).end();
      json(res, 200, { method: req.method, body: req.body });
    });
    expect(await client.post('old', { body: 'payload' }).json()).toEqual({ method: 'POST', body: 'payload' });
    expect(await client.post('form', { body: 'payload' }).json()).toEqual({ method: 'GET', body: '' });
    expect(api.seen.map((s) => [s.url, proofOf(s).htm, proofOf(s).htu])).toEqual([
      ['/old', 'POST', `${api.origin}/old`],
      ['/new?q=1', 'POST', `${api.origin}/new`],
      ['/form', 'POST', `${api.origin}/form`],
      ['/done', 'GET', `${api.origin}/done`],
    ]);
  });
});

describe('refusals', () => {
  it('use_dpop_nonce: one retry with the new nonce, never a refresh; a second demand is a DPoPError', async () => {
    const { client, calls } = setUp();
    let n = 0;
    api.handle((_req, res) => nonceDemand(res, `n-${++n}`));
    const error = (await client.get('me').catch((e: unknown) => e)) as DPoPError;
    expect(isDPoPError(error)).toBe(true);
    expect(isHTTPError(error)).toBe(true);
    expect(error).toMatchObject({ name: 'DPoPError', code: 'ERR_DPOP', reason: 'use_dpop_nonce', status: 401 });
    expect(error.retryable).toBe(false);
    expect(api.seen.map((s) => proofOf(s).nonce)).toEqual([undefined, 'n-1']);
    expect(calls.refresh).toBe(0);
    expect(calls.unauthenticated).toHaveLength(0);
  });

  it('400 invalid_dpop_proof is a DPoPError, never retried, never refreshed', async () => {
    const { client, calls } = setUp();
    api.handle((_req, res) =>
      json(
        res,
        400,
        { error: 'invalid_dpop_proof' },
        { 'www-authenticate': 'DPoP error="invalid_dpop_proof", algs="ES256"' },
      ),
    );
    const error = (await client.get('me').catch((e: unknown) => e)) as DPoPError;
    expect(error).toMatchObject({ name: 'DPoPError', reason: 'invalid_dpop_proof', status: 400 });
    expect(error.message).toContain('400 DPoP invalid_dpop_proof');
    expect(api.seen).toHaveLength(1);
    expect(calls.refresh).toBe(0);
  });

  it('a DPoP challenge whose algs lack the key’s algorithm is a DPoPError naming both', async () => {
    const { client, calls } = setUp();
    api.handle((_req, res) =>
      json(res, 401, {}, { 'www-authenticate': 'DPoP error="invalid_token", algs="RS256 PS256"' }),
    );
    const error = (await client.get('me').catch((e: unknown) => e)) as DPoPError;
    expect(error).toMatchObject({ reason: 'unsupported_algorithm', alg: 'ES256', algs: ['RS256', 'PS256'] });
    expect(error.message).toContain('RS256, PS256');
    expect(calls.refresh).toBe(0);
    expect(api.seen).toHaveLength(1);
  });

  it('a DPoP invalid_token challenge refreshes once and replays with the new token and a new proof', async () => {
    const { client, calls } = setUp('at-new-0123456789');
    api.handle((req, res) =>
      req.headers.authorization === `DPoP ${token}`
        ? json(res, 401, {}, { 'www-authenticate': 'DPoP error="invalid_token", algs="ES256"' })
        : json(res, 200, { ok: true }),
    );
    expect(await Promise.all([client.get('a').json(), client.get('b').json()])).toEqual([{ ok: true }, { ok: true }]);
    expect(calls.refresh).toBe(1);
    const replays = api.seen.filter((s) => s.headers.authorization === 'DPoP at-new-0123456789');
    expect(replays).toHaveLength(2);
    expect(new Set(api.seen.map((s) => proofOf(s).jti)).size).toBe(4);
  });

  it('errors and events never hold the token, the refresh token or a proof', async () => {
    const { client, calls } = setUp();
    api.handle((_req, res) => nonceDemand(res, 'n'));
    const error = await client.get('me?q=secret').catch((e: unknown) => e);
    const proofs = api.seen.map((s) => String(s.headers.dpop));
    const shown = inspect([error, calls.events], { depth: Number.POSITIVE_INFINITY, showHidden: true });
    for (const secret of [token, 'rt-secret-0123456789', ...proofs, 'q=secret']) expect(shown).not.toContain(secret);
    expect(proofs).toHaveLength(2);
  });
});

describe('token requests: dpop.fetch', () => {
  it('answers 400 use_dpop_nonce once with the server’s nonce, then returns what comes', async () => {
    const dpop = createDpop();
    let n = 0;
    api.handle((_req, res) => json(res, 400, { error: 'use_dpop_nonce' }, { 'dpop-nonce': `as-${++n}` }));
    const response = await dpop.fetch(`${api.origin}/token`, { method: 'POST', body: 'grant_type=refresh_token' });
    expect(response.status).toBe(400);
    expect(api.seen.map((s) => [s.body, s.headers.authorization, proofOf(s).nonce, proofOf(s).ath])).toEqual([
      ['grant_type=refresh_token', undefined, undefined, undefined],
      ['grant_type=refresh_token', undefined, 'as-1', undefined],
    ]);
    expect(proofOf(api.seen[0]).htu).toBe(`${api.origin}/token`);
  });
});

describe('keys and options', () => {
  it('creates an ES256 key whose private half is not extractable, once, through the store', async () => {
    const created: CryptoKeyPair[] = [];
    const dpop = createDpop({
      store: {
        getOrCreate: async (create) => {
          created.push(await create());
          return created[0] as CryptoKeyPair;
        },
      },
    });
    await Promise.all([dpop.thumbprint(), dpop.proof('GET', 'https://x/'), dpop.thumbprint()]);
    expect(created).toHaveLength(1);
    const [pair] = created;
    expect(pair?.privateKey.extractable).toBe(false);
    expect(pair?.publicKey.extractable).toBe(true);
    expect(pair?.privateKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
  });

  it('signs with a key the app supplies', async () => {
    const key = await generateKeyPair('ES256');
    const dpop = createDpop({ key });
    expect(await dpop.thumbprint()).toBe(await calculateThumbprint(key.publicKey));
    const proof = await dpop.proof('get', 'https://api.example/x?y#z', token);
    expect(decodeJwt(proof)).toMatchObject({ htm: 'GET', htu: 'https://api.example/x' });
  });
});

/** The key pair behind a binder, read through a store that records it. */
async function keysOf(dpop: ReturnType<typeof createDpop>): Promise<CryptoKeyPair> {
  const proof = await dpop.proof('GET', 'https://x/');
  const { jwk } = decodeProtectedHeader(proof);
  const publicKey = await crypto.subtle.importKey(
    'jwk',
    jwk as JsonWebKey,
    { name: 'ECDSA', namedCurve: 'P-256' },
    true,
    ['verify'],
  );
  return { publicKey, privateKey: publicKey };
}
