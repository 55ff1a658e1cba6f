import { describe, expect, it, vi } from 'vitest';
import { createApiFetch, createTokenSession, memoryTokenStore, type TokenSet } from '../../src/index.js';
import { TokenState } from '../../src/session/token-state.js';
import { jwt } from '../helpers/jwt.js';

describe('the token is fresh at first use', () => {
  const minute = 60_000;
  const now = Date.UTC(2026, 10, 30, 12);
  // 15 minutes of life, 1 s left.
  const restored = jwt({ iat: (now - 15 * minute + 1000) / 1000, exp: (now + 1000) / 1000 });

  async function firstSend(auth: Record<string, unknown>) {
    const seen: (string | null)[] = [];
    const refresh = vi.fn(async () => ({ accessToken: 'renewed', expiresAt: now + 15 * minute }));
    const client = createApiFetch({
      baseUrl: 'https://api.example.test',
      now: () => now,
      fetch: async (request) => {
        seen.push(request.headers.get('authorization'));
        return new Response('{}');
      },
      auth: { session: createTokenSession({ refresh, now: () => now, ...auth }) },
    });
    await client.get('me').json();
    return { seen, refresh };
  }

  it.each([
    ['from auth.tokens (JWT iat)', () => ({ tokens: { accessToken: restored } })],
    ['from the store at start-up (JWT iat)', () => ({ store: memoryTokenStore({ accessToken: restored }) })],
    [
      'with issuedAt and expiresAt fields',
      () => ({ tokens: { accessToken: 'opaque', issuedAt: now - 15 * minute + 1000, expiresAt: now + 1000 } }),
    ],
    [
      'opaque with only expiresAt (the leeway applies)',
      () => ({ tokens: { accessToken: 'opaque', expiresAt: now + 20_000 } }),
    ],
  ])('a token adopted %s within refreshLeewayMs of expiry is refreshed before its first send', async (_, auth) => {
    const { seen, refresh } = await firstSend(auth());
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(seen).toEqual(['Bearer renewed']);
  });

  it('a short-lived token is still used until half its life', async () => {
    const young = jwt({ iat: (now - 5000) / 1000, exp: (now + 15_000) / 1000 });
    const { seen, refresh } = await firstSend({ tokens: { accessToken: young } });
    expect(refresh).not.toHaveBeenCalled();
    expect(seen).toEqual([`Bearer ${young}`]);
  });
});

describe('TokenState', () => {
  const start = Date.UTC(2026, 10, 30, 12);
  const stateAt = () => {
    let clock = start;
    const state = new TokenState(() => clock);
    const advance = (ms: number) => {
      clock += ms;
    };
    return { state, advance };
  };

  it('bumps the generation on every adopt and forget; a sign-out ends with new tokens', () => {
    const { state } = stateAt();
    expect(state.grant()).toBeUndefined();
    state.adopt({ accessToken: 'a' });
    expect(state.grant()).toEqual({ token: 'a', generation: 1 });
    state.forget();
    expect(state).toMatchObject({ tokens: undefined, signedOut: true, generation: 2 });
    expect(state.grant()).toBeUndefined();
    expect(state.usable()).toBe(false);
    state.adopt({ accessToken: 'b' });
    expect(state).toMatchObject({ signedOut: false, generation: 3 });
    expect(state.usable()).toBe(true);
  });

  it('a new token opens a new unauthenticated episode', () => {
    const { state } = stateAt();
    state.adopt({ accessToken: 'a' });
    expect(state.episodes.claim('refresh_failed')).toBe(true);
    expect(state.episodes.claim('signed_out')).toBe(false);
    state.adopt({ accessToken: 'b' });
    expect(state.episodes.claim('signed_out')).toBe(true);
  });

  it('remembers the last eight access tokens it moved past, not the current one', () => {
    const { state } = stateAt();
    for (let i = 0; i <= 9; i++) state.adopt({ accessToken: `t${i}` });
    expect(state.replaced('t9')).toBe(false);
    expect(state.replaced('t8')).toBe(true);
    expect(state.replaced('t1')).toBe(true);
    expect(state.replaced('t0')).toBe(false);
    // Adopting the same token again moves past nothing.
    state.adopt({ accessToken: 't9' });
    expect(state.replaced('t9')).toBe(false);
  });

  it('a token refused by the server, or past its expiry, is not usable', () => {
    const { state, advance } = stateAt();
    state.adopt({ accessToken: 'a', expiresAt: start + 1000 });
    expect(state.usable()).toBe(true);
    state.refused = state.generation;
    expect(state.usable()).toBe(false);
    state.adopt({ accessToken: 'b', expiresAt: start + 1000 });
    expect(state.usable()).toBe(true);
    advance(1000);
    expect(state.usable()).toBe(false);
  });

  it.each<[string, TokenSet, number, boolean]>([
    ['no known expiry', { accessToken: 'opaque' }, 0, false],
    ['expiry beyond the leeway', { accessToken: 'a', expiresAt: start + 60_001 }, 0, false],
    ['expiry within the leeway', { accessToken: 'a', expiresAt: start + 60_000 }, 0, true],
    [
      'a 20 s token at 9 s of life (half is 10 s)',
      { accessToken: 'a', issuedAt: start, expiresAt: start + 20_000 },
      9000,
      false,
    ],
    ['a 20 s token at 10 s of life', { accessToken: 'a', issuedAt: start, expiresAt: start + 20_000 }, 10_000, true],
    [
      'a 15 min token with 1 min left',
      { accessToken: 'a', issuedAt: start - 840_000, expiresAt: start + 60_000 },
      0,
      true,
    ],
  ])('due with a 60 s leeway: %s → %s', (_name, tokens, elapsed, due) => {
    const { state, advance } = stateAt();
    state.adopt(tokens);
    advance(elapsed);
    expect(state.due(60_000)).toBe(due);
  });

  it('a token that looks expired when just issued (clock ahead of the issuer) is trusted until the server refuses it', () => {
    const { state } = stateAt();
    state.adopt({ accessToken: 'a', expiresAt: start - 1 });
    expect(state.usable()).toBe(false);
    state.distrustPastExpiry();
    expect(state.usable()).toBe(true);
    expect(state.due(60_000)).toBe(false);
    // A future expiry is kept.
    state.adopt({ accessToken: 'b', expiresAt: start + 30_000 });
    state.distrustPastExpiry();
    expect(state.due(60_000)).toBe(true);
  });
});
