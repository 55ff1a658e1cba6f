import { inspect } from 'node:util';
import { createApiFetch, createTokenSession, type TokenSet, type UnauthenticatedError } from 'apifetch';
import { createDpop, type TokenBinder } from 'apifetch/dpop';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize, type DpopServers, redirectUri, startDpopServers, tokenRequest } from './servers.js';

let servers: DpopServers;
beforeAll(async () => {
  servers = await startDpopServers();
}, 30_000);
afterAll(async () => {
  await servers?.close();
});

const tokensOf = async (response: Response): Promise<TokenSet> => {
  const body = (await response.json()) as { access_token: string; refresh_token: string; expires_in: number };
  return {
    accessToken: body.access_token,
    refreshToken: body.refresh_token,
    expiresAt: Date.now() + body.expires_in * 1000,
  };
};

/** The authorization-code grant, its token request sent with `dpop.fetch`. */
async function signIn(dpop: TokenBinder): Promise<TokenSet> {
  const { code, verifier } = await authorize(servers.as.issuer, await dpop.thumbprint());
  const response = await dpop.fetch(
    tokenRequest(servers.as.issuer, {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: redirectUri,
    }),
  );
  if (!response.ok) throw new Error(`token request: ${response.status} ${await response.text()}`);
  return tokensOf(response);
}

/** A client on a token session whose refresh sends a proof-bound refresh-token grant through `ctx.dpop`. */
function clientFor(dpop: TokenBinder, tokens: TokenSet) {
  const unauthenticated: UnauthenticatedError[] = [];
  const events: unknown[] = [];
  const session = createTokenSession({
    tokens,
    refresh: async (ctx) => {
      if (!ctx.dpop || !ctx.tokens?.refreshToken) throw new Error('no dpop or refresh token');
      const request = tokenRequest(servers.as.issuer, {
        grant_type: 'refresh_token',
        refresh_token: ctx.tokens.refreshToken,
      });
      const response = await ctx.dpop.fetch(request, { signal: ctx.signal });
      if (!response.ok) throw Object.assign(new Error(`refresh: ${response.status}`), { status: response.status });
      return tokensOf(response);
    },
  });
  const api = createApiFetch({
    baseUrl: servers.rs.origin,
    auth: { session, dpop },
    retry: 0,
    onUnauthenticated: (error) => unauthenticated.push(error),
    onEvent: (event) => events.push(event),
  });
  return { api, session, unauthenticated, events };
}

const jktOf = (accessToken: string) => (decodeJwt(accessToken).cnf as { jkt: string }).jkt;
const grants = (grant: string) => servers.as.tokenRequests.filter((r) => r.grant === grant);

describe('DPoP against oidc-provider and express-oauth2-jwt-bearer', () => {
  it('discovers the nonce at the authorization server and at the resource server with one extra round trip each, then none', async () => {
    const dpop = createDpop();
    const before = servers.as.tokenRequests.length;
    const tokens = await signIn(dpop);
    // The token endpoint demanded a nonce once (400 use_dpop_nonce), then issued a token bound to our key.
    expect(servers.as.tokenRequests.slice(before).map((r) => [r.grant, r.status, r.dpop])).toEqual([
      ['authorization_code', 400, true],
      ['authorization_code', 200, true],
    ]);
    expect(jktOf(tokens.accessToken)).toBe(await dpop.thumbprint());
    expect(decodeJwt(tokens.accessToken).cnf).toBeDefined();

    const { api } = clientFor(dpop, tokens);
    const seen = servers.rs.seen.length;
    expect(await api.get('me').json()).toEqual({ sub: 'alice' });
    expect(servers.rs.seen.slice(seen).map((r) => r.status)).toEqual([401, 200]);
    await api.get('me').json();
    await api.get('me').json();
    expect(servers.rs.seen.slice(seen).map((r) => r.status)).toEqual([401, 200, 200, 200]);

    // A refresh reuses the authorization server's nonce: no extra round trip.
    const refreshesBefore = grants('refresh_token').length;
    const refreshed = await api.auth.refresh();
    expect(
      grants('refresh_token')
        .slice(refreshesBefore)
        .map((r) => r.status),
    ).toEqual([200]);
    expect(jktOf(refreshed.accessToken)).toBe(await dpop.thumbprint());
  });

  it('a nonce rotating while 100 requests are in flight: all succeed, each retried once, no refresh', async () => {
    const dpop = createDpop();
    const { api, unauthenticated } = clientFor(dpop, await signIn(dpop));
    await api.get('me');
    const refreshes = grants('refresh_token').length;
    const seen = servers.rs.seen.length;
    servers.rs.gate = 100;
    const results = await Promise.all(Array.from({ length: 100 }, () => api.get('gate').json()));
    expect(results).toEqual(Array.from({ length: 100 }, () => ({ ok: true })));
    const round = servers.rs.seen.slice(seen);
    expect(round.filter((r) => r.status === 401)).toHaveLength(100);
    expect(round.filter((r) => r.status === 200)).toHaveLength(100);
    expect(round.filter((r) => r.status === 200).every((r) => r.nonce === servers.rs.nonce)).toBe(true);
    expect(grants('refresh_token').length).toBe(refreshes);
    expect(unauthenticated).toHaveLength(0);
  });

  it('an expired bound token: one refresh, the same thumbprint, every one of 100 requests replayed once with a new proof', async () => {
    const dpop = createDpop();
    const first = await signIn(dpop);
    const { api, session } = clientFor(dpop, first);
    await api.get('me');
    servers.rs.expired.add(String(decodeJwt(first.accessToken).jti));
    const refreshes = grants('refresh_token').length;
    const seen = servers.rs.seen.length;
    const results = await Promise.all(Array.from({ length: 100 }, () => api.get('me').json()));
    expect(results.every((r) => (r as { sub: string }).sub === 'alice')).toBe(true);
    expect(
      grants('refresh_token')
        .slice(refreshes)
        .map((r) => r.status),
    ).toEqual([200]);
    const round = servers.rs.seen.slice(seen);
    expect(round.filter((r) => r.status === 401)).toHaveLength(100);
    const replays = round.filter((r) => r.status === 200);
    expect(replays).toHaveLength(100);
    const next = (await session.getTokens())?.accessToken ?? '';
    expect(next).not.toBe(first.accessToken);
    expect(jktOf(next)).toBe(jktOf(first.accessToken));
    expect(new Set(replays.map((r) => r.jkt))).toEqual(new Set([await dpop.thumbprint()]));
    expect(new Set(replays.map((r) => r.tokenJti))).toEqual(new Set([String(decodeJwt(next).jti)]));
    expect(new Set(round.map((r) => r.jti)).size).toBe(200);
  });

  it('1,000 requests carry 1,000 distinct proofs (jti)', async () => {
    const dpop = createDpop();
    const { api } = clientFor(dpop, await signIn(dpop));
    await api.get('me');
    const seen = servers.rs.seen.length;
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(Array.from({ length: 50 }, () => api.get('me')));
    }
    const round = servers.rs.seen.slice(seen);
    expect(round).toHaveLength(1000);
    expect(round.every((r) => r.status === 200)).toBe(true);
    expect(new Set(round.map((r) => r.jti)).size).toBe(1000);
  }, 60_000);

  it('neither token nor proof reaches a third origin: asked directly, or through a cross-origin redirect', async () => {
    const dpop = createDpop();
    const tokens = await signIn(dpop);
    const { api, events } = clientFor(dpop, tokens);
    const { third, rs } = servers;
    expect(await api.get(`${third.origin}/direct`).text()).toBe('third');
    expect(await api.get('away').text()).toBe('third');
    expect(third.seen.map((r) => r.url)).toEqual(['/direct', '/landed']);
    for (const { headers } of third.seen) {
      expect(headers.authorization).toBeUndefined();
      expect(headers.dpop).toBeUndefined();
    }
    // A same-origin redirect gets a proof of its own for the new URL (the middleware checks `htu`).
    const seen = rs.seen.length;
    expect(await api.get('here').json()).toEqual({ sub: 'alice' });
    expect(rs.seen.slice(seen).map((r) => [r.path, r.status])).toEqual([
      ['/here', 302],
      ['/me', 200],
    ]);
    const everything = inspect(events, { depth: Number.POSITIVE_INFINITY });
    expect(everything).not.toContain(tokens.accessToken);
    expect(everything).not.toContain(String(tokens.refreshToken));
  });
});
