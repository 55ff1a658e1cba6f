import { calculateThumbprint, generateKeyPair, generateProof, type KeyPair } from 'dpop';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { isInvalidOptionError } from '../../src/errors.js';
import {
  type AccessGrant,
  type AuthModelOptions,
  challenge,
  createAuthModel,
  type IssuedTokens,
  isUnknownUserError,
  UnknownUserError,
} from '../../src/testing/auth-model.js';

// The OAuth server model on its own, with an injected clock: no HTTP, no msw, no waiting.
const users = { ada: { password: 'pw', scopes: ['read'] }, bob: { password: 'pw2' } };
const url = 'https://api.example.test/me';

function setup(options: AuthModelOptions = {}) {
  const clock = { now: Date.UTC(2030, 0, 1) };
  const model = createAuthModel({ users, accessTokenTtlMs: 60_000, now: () => clock.now, ...options });
  return { model, clock };
}
/** Tokens from a result that must be a success. */
function issued(result: IssuedTokens | { error: string }): IssuedTokens {
  if ('error' in result) throw new Error(`expected tokens, got ${result.error}`);
  return result;
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}`, method: 'GET', url });

describe('createAuthModel', () => {
  it('signs in with the password and issues a JWT whose claims and lifetime come from the clock', () => {
    const { model, clock } = setup({ issuer: 'https://api.example.test' });
    const tokens = issued(model.signIn('ada', 'pw'));
    expect(tokens).toMatchObject({ user: 'ada', expiresIn: 60, tokenType: 'Bearer', scope: 'read' });
    expect(tokens.expiresAt).toBe(clock.now + 60_000);
    expect(decodeJwt(tokens.accessToken)).toMatchObject({
      iss: 'https://api.example.test',
      sub: 'ada',
      scope: 'read',
      iat: clock.now / 1000,
      exp: clock.now / 1000 + 60,
    });
    expect(model.signIn('ada', 'nope')).toEqual({
      error: 'invalid_grant',
      reason: 'wrong_password',
      description: 'wrong username or password',
    });
    expect(model.signIn('eve', 'pw')).toMatchObject({ reason: 'wrong_password' });
    expect(model.stats.signIns).toBe(1);
  });

  it('rotates refresh tokens; a spent one presented again revokes its whole family, and only that family', async () => {
    const { model } = setup();
    const first = issued(model.signIn('ada', 'pw'));
    const other = issued(model.signIn('ada', 'pw'));
    const second = issued(model.refresh(first.refreshToken));
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.accessToken).not.toBe(first.accessToken);

    expect(model.refresh(first.refreshToken)).toMatchObject({ error: 'invalid_grant', reason: 'refresh_token_reused' });
    // The thief's retry and the rightful client's next refresh both fail: the family is revoked.
    expect(model.refresh(first.refreshToken)).toMatchObject({ reason: 'unknown_refresh_token' });
    expect(model.refresh(second.refreshToken)).toMatchObject({ reason: 'unknown_refresh_token' });
    // Access tokens live until they expire; another sign-in's family is untouched.
    expect(await model.authenticate(bearer(second.accessToken))).toMatchObject({ ok: true, user: 'ada' });
    expect(issued(model.refresh(other.refreshToken)).user).toBe('ada');
    expect(model.stats).toMatchObject({ reuseDetected: 1, refreshes: 2, signIns: 2 });
    expect(model.refresh('rt-forged')).toMatchObject({ reason: 'unknown_refresh_token' });
  });

  it('without reuse detection, a spent refresh token still works and the reuse is counted', () => {
    const { model } = setup({ reuseDetection: false });
    const first = issued(model.signIn('ada', 'pw'));
    issued(model.refresh(first.refreshToken));
    expect(issued(model.refresh(first.refreshToken)).user).toBe('ada');
    expect(model.stats.reuseDetected).toBe(1);
  });

  it('an access token is valid until its expiry on the clock, and expireTokens() and revoke() end it early', async () => {
    const { model, clock } = setup();
    const { accessToken, refreshToken } = issued(model.signIn('ada', 'pw'));
    clock.now += 59_999;
    expect(await model.authenticate(bearer(accessToken))).toEqual({
      ok: true,
      user: 'ada',
      scopes: ['read'],
      scheme: 'Bearer',
    });
    clock.now += 1;
    const expired = await model.authenticate(bearer(accessToken));
    expect(expired).toEqual({
      ok: false,
      error: 'invalid_token',
      description: 'the access token expired',
      scheme: 'Bearer',
    });

    const fresh = issued(model.refresh(refreshToken));
    model.expireTokens();
    expect(await model.authenticate(bearer(fresh.accessToken))).toMatchObject({
      description: 'the access token expired',
    });
    // Tokens issued after expireTokens() are not affected.
    const later = issued(model.refresh(fresh.refreshToken));
    expect(await model.authenticate(bearer(later.accessToken))).toMatchObject({ ok: true });

    model.revoke();
    expect(await model.authenticate(bearer(later.accessToken))).toMatchObject({
      error: 'invalid_token',
      description: 'the access token is invalid or revoked',
    });
    expect(model.refresh(later.refreshToken)).toMatchObject({ reason: 'unknown_refresh_token' });
  });

  it('a request without credentials gets a bare challenge; an unknown token gets invalid_token', async () => {
    const { model } = setup();
    for (const authorization of [undefined, null, '', 'Basic dXNlcjpwdw==', 'Bearer', 'DPoP abc']) {
      const refusal = await model.authenticate({ authorization, method: 'GET', url });
      expect(refusal).toEqual({ ok: false, scheme: 'Bearer' });
      expect(challenge(refusal as never, 'api')).toBe('Bearer realm="api"');
    }
    expect(await model.authenticate(bearer('forged'))).toMatchObject({ error: 'invalid_token' });
  });

  it('decides scopes: a token lacking one is refused with every required scope, until grantScopes() and a new token', async () => {
    const { model } = setup();
    const before = issued(model.signIn('ada', 'pw'));
    const grant = (await model.authenticate(bearer(before.accessToken))) as AccessGrant;
    expect(model.authorize(grant, ['read'])).toBeUndefined();
    const denied = model.authorize(grant, ['admin', 'write']);
    expect(denied).toEqual({ error: 'insufficient_scope', scope: 'admin write', scheme: 'Bearer' });
    expect(challenge(denied ?? (undefined as never), 'api')).toBe(
      'Bearer realm="api", error="insufficient_scope", scope="admin write"',
    );

    model.grantScopes(['admin', 'write']);
    expect(model.authorize(grant, ['admin'])).toBeDefined();
    const after = issued(model.refresh(before.refreshToken));
    expect(after.scope).toBe('read admin write');
    const upgraded = (await model.authenticate(bearer(after.accessToken))) as AccessGrant;
    expect(model.authorize(upgraded, ['admin', 'write'])).toBeUndefined();

    model.reset();
    expect(issued(model.issue()).scope).toBe('read');
  });

  it('mints access tokens with signAccessToken and looks them up as issued', async () => {
    const { model } = setup({ signAccessToken: (claims) => `signed:${claims.sub}:${claims.jti}` });
    const a = issued(model.signIn('bob', 'pw2'));
    const b = model.issue('bob');
    expect(a.accessToken).toMatch(/^signed:bob:/);
    expect(b.accessToken).not.toBe(a.accessToken);
    expect(await model.authenticate(bearer(b.accessToken))).toMatchObject({ ok: true, user: 'bob', scopes: [] });
    expect(model.stats.signIns).toBe(1);
  });

  it('throws typed errors for bad options and unknown users', () => {
    const bad: Array<[AuthModelOptions, string]> = [
      [{ accessTokenTtlMs: -1 }, 'accessTokenTtlMs'],
      [{ accessTokenTtlMs: Number.NaN }, 'accessTokenTtlMs'],
      [{ users: { ada: { password: 1 as unknown as string } } }, 'users.ada.password'],
      [{ users: { ada: { password: 'pw', scopes: 'read' as unknown as string[] } } }, 'users.ada.scopes'],
      [{ now: 5 as unknown as () => number }, 'now'],
      [{ signAccessToken: 'x' as unknown as () => string }, 'signAccessToken'],
      [{ dpop: { nonceTtlMs: 0 } }, 'dpop.nonceTtlMs'],
      [{ dpop: { iatWindowSeconds: -5 } }, 'dpop.iatWindowSeconds'],
    ];
    for (const [options, option] of bad) {
      let error: unknown;
      try {
        createAuthModel(options);
      } catch (e) {
        error = e;
      }
      expect(isInvalidOptionError(error) && error.option).toBe(option);
    }

    const { model } = setup();
    const unknown = (() => {
      try {
        model.issue('eve');
      } catch (e) {
        return e;
      }
    })();
    expect(unknown).toBeInstanceOf(UnknownUserError);
    expect(isUnknownUserError(unknown) && [unknown.code, unknown.username, unknown.message]).toEqual([
      'ERR_UNKNOWN_USER',
      'eve',
      'no user "eve" (add it to the users option)',
    ]);
    expect(() => model.grantScopes(['x'], 'eve')).toThrow(UnknownUserError);
    expect(isUnknownUserError({ name: 'UnknownUserError' })).toBe(true);
  });

  it('reset() forgets tokens and counters but keeps the same stats object', () => {
    const { model } = setup();
    const { stats } = model;
    const tokens = issued(model.signIn('ada', 'pw'));
    model.reset();
    expect(model.stats).toBe(stats);
    expect(stats.signIns).toBe(0);
    expect(model.refresh(tokens.refreshToken)).toMatchObject({ reason: 'unknown_refresh_token' });
  });
});

describe('createAuthModel with DPoP', () => {
  const tokenUrl = 'https://api.example.test/oauth/token';
  const keys = () => generateKeyPair('ES256') as Promise<KeyPair>;
  /** A token request's key, after meeting the nonce demand once. */
  async function keyFor(model: ReturnType<typeof createAuthModel>, pair: KeyPair) {
    const key = await model.tokenRequestKey(await generateProof(pair, tokenUrl, 'POST', model.nonce), 'POST', tokenUrl);
    if ('error' in key) throw new Error(key.description);
    return key;
  }
  const dpopRequest = async (pair: KeyPair, token: string, nonce: string, target = url) => ({
    authorization: `DPoP ${token}`,
    proof: await generateProof(pair, target, 'GET', nonce, token),
    method: 'GET',
    url: target,
  });

  it('optional: without a proof, Bearer tokens; with one, the nonce is demanded, then the tokens are bound to the key', async () => {
    const { model } = setup({ now: Date.now, dpop: { required: false } });
    expect(await model.tokenRequestKey(undefined, 'POST', tokenUrl)).toEqual({});
    const pair = await keys();
    const demand = await model.tokenRequestKey(await generateProof(pair, tokenUrl, 'POST'), 'POST', tokenUrl);
    expect(demand).toEqual({
      error: 'use_dpop_nonce',
      description: 'the proof must carry the current nonce of the server',
    });
    const key = await keyFor(model, pair);
    const jkt = await calculateThumbprint(pair.publicKey);
    expect(key).toEqual({ jkt });
    const tokens = issued(model.signIn('ada', 'pw', key));
    expect(tokens.tokenType).toBe('DPoP');
    expect(decodeJwt(tokens.accessToken).cnf).toEqual({ jkt });
    expect(await model.authenticate(await dpopRequest(pair, tokens.accessToken, model.nonce))).toEqual({
      ok: true,
      user: 'ada',
      scopes: ['read'],
      scheme: 'DPoP',
    });

    // A bound token is no Bearer token, and a Bearer token does not become bound.
    const asBearer = await model.authenticate(bearer(tokens.accessToken));
    expect(asBearer).toMatchObject({ error: 'invalid_token', description: 'the token is DPoP-bound', scheme: 'DPoP' });
    expect(challenge(asBearer as never, 'demo')).toBe(
      'DPoP realm="demo", error="invalid_token", error_description="the token is DPoP-bound", algs="ES256"',
    );
    const plain = issued(model.signIn('ada', 'pw'));
    expect(await model.authenticate(await dpopRequest(pair, plain.accessToken, model.nonce))).toMatchObject({
      error: 'invalid_token',
      description: 'the token is not DPoP-bound',
    });

    // The refresh token too: only with a proof of its key; a Bearer one never with a proof.
    expect(model.refresh(tokens.refreshToken)).toMatchObject({ reason: 'wrong_key' });
    expect(model.refresh(tokens.refreshToken, await keyFor(model, await keys()))).toMatchObject({
      reason: 'wrong_key',
    });
    expect(model.refresh(plain.refreshToken, key)).toMatchObject({ reason: 'wrong_key' });
    expect(issued(model.refresh(tokens.refreshToken, await keyFor(model, pair))).tokenType).toBe('DPoP');
    expect(model.stats).toMatchObject({ boundTokens: 2, nonceDemands: 1, invalidProofs: 0, reuseDetected: 0 });
  });

  it('refuses a proof without the token’s hash, a replayed jti, another URL or another key', async () => {
    const { model } = setup({ now: Date.now, dpop: { required: false } });
    const pair = await keys();
    const tokens = issued(model.signIn('ada', 'pw', await keyFor(model, pair)));
    const refused = async (request: Parameters<typeof model.authenticate>[0], description: string) =>
      expect(await model.authenticate(request)).toEqual({
        ok: false,
        error: 'invalid_dpop_proof',
        description,
        scheme: 'DPoP',
      });
    const nonce = model.nonce;
    await refused(
      { ...(await dpopRequest(pair, tokens.accessToken, nonce)), proof: undefined },
      'a DPoP proof is required',
    );
    const wrongAth = await generateProof(pair, url, 'GET', nonce, 'another token');
    await refused(
      { ...(await dpopRequest(pair, tokens.accessToken, nonce)), proof: wrongAth },
      'ath does not match the access token',
    );
    const once = await dpopRequest(pair, tokens.accessToken, nonce);
    expect(await model.authenticate(once)).toMatchObject({ ok: true });
    await refused(once, 'jti is missing or reused');
    await refused(
      { ...(await dpopRequest(pair, tokens.accessToken, nonce, 'https://api.example.test/admin')), url },
      'htu does not match the request',
    );
    await refused(
      await dpopRequest(await keys(), tokens.accessToken, nonce),
      'the proof key is not the key of the token',
    );
    expect(model.stats).toMatchObject({ invalidProofs: 4, keyMismatches: 1, nonceDemands: 0 });
    // The sign-in's proof, then each request's but the proof-less one; the replayed jti twice.
    expect(model.stats.jtis).toHaveLength(6);
    expect(new Set(model.stats.jtis).size).toBe(5);
  });

  it('required: a token issued without a key binds to the first key that presents it', async () => {
    const { model } = setup({ now: Date.now, dpop: true });
    expect(model.dpop).toBe('required');
    expect(await model.tokenRequestKey(undefined, 'POST', tokenUrl)).toMatchObject({ error: 'invalid_dpop_proof' });
    const tokens = model.issue('ada');
    // Bearer is no credential at all for a DPoP-only API.
    expect(await model.authenticate(bearer(tokens.accessToken))).toEqual({ ok: false, scheme: 'DPoP' });
    const pair = await keys();
    expect(await model.authenticate(await dpopRequest(pair, tokens.accessToken, model.nonce))).toMatchObject({
      ok: true,
    });
    expect(await model.authenticate(await dpopRequest(await keys(), tokens.accessToken, model.nonce))).toMatchObject({
      error: 'invalid_dpop_proof',
    });
    // Its refresh token binds to the key that spends it.
    const refreshed = issued(model.refresh(tokens.refreshToken, await keyFor(model, pair)));
    expect(decodeJwt(refreshed.accessToken).cnf).toEqual({ jkt: await calculateThumbprint(pair.publicKey) });
  });

  it('the nonce changes after nonceTtlMs on the clock and on rotateNonce(); a proof with the old one is asked for the new', async () => {
    const clock = { now: Date.now() };
    const model = createAuthModel({ users, now: () => clock.now, dpop: { required: false, nonceTtlMs: 10_000 } });
    const pair = await keys();
    const tokens = issued(model.signIn('ada', 'pw', await keyFor(model, pair)));
    const first = model.nonce;
    expect(first).toMatch(/^[\w-]{16,}$/);
    clock.now += 9_999;
    expect(model.nonce).toBe(first);
    clock.now += 1;
    const second = model.nonce;
    expect(second).not.toBe(first);
    expect(await model.authenticate(await dpopRequest(pair, tokens.accessToken, first))).toMatchObject({
      error: 'use_dpop_nonce',
    });
    expect(await model.authenticate(await dpopRequest(pair, tokens.accessToken, second))).toMatchObject({ ok: true });
    const third = model.rotateNonce();
    expect(third).not.toBe(second);
    expect(model.nonce).toBe(third);
    expect(model.stats.nonceDemands).toBe(1);
  });

  it('nonces: false takes proofs without one; a proof whose iat is outside the window is refused', async () => {
    const clock = { now: Date.now() };
    const model = createAuthModel({ users, now: () => clock.now, dpop: { nonces: false, iatWindowSeconds: 60 } });
    const pair = await keys();
    expect(await model.tokenRequestKey(await generateProof(pair, tokenUrl, 'POST'), 'POST', tokenUrl)).toHaveProperty(
      'jkt',
    );
    const proof = await generateProof(pair, tokenUrl, 'POST');
    clock.now += 61_000;
    expect(await model.tokenRequestKey(proof, 'POST', tokenUrl)).toEqual({
      error: 'invalid_dpop_proof',
      description: "iat is not within 60 s of the server's clock",
    });
  });
});
