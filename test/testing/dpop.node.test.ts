import { createApiFetch, isUnauthenticatedError } from 'apifetch';
import { createDpop, isDPoPError } from 'apifetch/dpop';
import { mockAuthApi, testingOptions } from 'apifetch/testing';
import { decodeJwt } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

// The testing kit's DPoP-protected API, driven by the real client: what users' own DPoP tests get.
const baseUrl = 'https://api.example.test';
const mock = mockAuthApi({ baseUrl, dpop: true, users: { ada: { password: 'pw' } } });
const server = setupServer(...mock.handlers);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => mock.reset());
afterAll(() => server.close());

function client() {
  const dpop = createDpop();
  const api = createApiFetch({ baseUrl, auth: mock.auth('ada', { dpop }), ...testingOptions });
  return { api, dpop };
}

describe('mockAuthApi({ dpop })', () => {
  it('demands the nonce once, then takes proofs that carry it', async () => {
    const { api } = client();
    expect(await api.get('me').json()).toEqual({ ok: true });
    expect(await api.get('me').json()).toEqual({ ok: true });
    expect(mock.stats).toMatchObject({ nonceDemands: 1, invalidProofs: 0, requests: { '/me': 3 }, refreshes: 0 });
  });

  it('a rotated nonce costs each request one retry, never a refresh', async () => {
    const { api } = client();
    await api.get('me');
    mock.rotateNonce();
    await Promise.all([api.get('me'), api.get('me'), api.get('me')]);
    expect(mock.stats).toMatchObject({ nonceDemands: 4, requests: { '/me': 8 }, refreshes: 0 });
  });

  it('an expired bound token is refreshed once with a proof of the same key, and the new token is bound to it', async () => {
    const { api, dpop } = client();
    await api.get('me');
    mock.expireTokens();
    await Promise.all([api.get('me'), api.get('me')]);
    expect(mock.stats).toMatchObject({ refreshes: 1, nonceDemands: 1, invalidProofs: 0 });
    const tokens = await api.auth.getTokens();
    expect(decodeJwt(tokens?.accessToken ?? '').cnf).toEqual({ jkt: await dpop.thumbprint() });
  });

  it('a token bound to one key is refused with another key’s proof', async () => {
    const { api } = client();
    await api.get('me');
    const tokens = await api.auth.getTokens();
    const thief = createApiFetch({
      baseUrl,
      auth: { getAccessToken: () => tokens?.accessToken, dpop: createDpop() },
      ...testingOptions,
    });
    const error = await thief.get('me').catch((e: unknown) => e);
    expect(isDPoPError(error) && error.reason).toBe('invalid_dpop_proof');
    expect(mock.stats.invalidProofs).toBe(1);
  });

  it('a bearer client gets the DPoP challenge and no refresh (unsupported_challenge)', async () => {
    const api = createApiFetch({ baseUrl, auth: mock.auth('ada'), ...testingOptions });
    const error = await api.get('me').catch((e: unknown) => e);
    expect(isUnauthenticatedError(error) && error.reason).toBe('unsupported_challenge');
    expect(mock.stats.refreshes).toBe(0);
  });

  it('a replayed proof is refused', async () => {
    const dpop = createDpop();
    const tokens = mock.login('ada');
    const nonce = (await fetch(`${baseUrl}/me`)).headers.get('dpop-nonce');
    expect(nonce).toBeTruthy();
    await dpop.fetch(`${baseUrl}/oauth/token`, { method: 'POST', body: 'grant_type=x' }); // learns the nonce
    const proof = await dpop.proof('GET', `${baseUrl}/me`, tokens.accessToken);
    const send = () =>
      fetch(`${baseUrl}/me`, { headers: { authorization: `DPoP ${tokens.accessToken}`, dpop: proof } });
    expect((await send()).status).toBe(200);
    const replayed = await send();
    expect(replayed.status).toBe(401);
    expect(replayed.headers.get('www-authenticate')).toContain('error="invalid_dpop_proof"');
  });
});
