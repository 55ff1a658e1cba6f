import { describe, expect, it } from 'vitest';
import { lifeOf, memoryTokenStore, storageTokenStore, tokenSetProblem } from '../../src/session/tokens.js';
import { jwt } from '../helpers/jwt.js';

describe('tokenSetProblem names the wrong field', () => {
  it.each([
    [null, 'not an object'],
    [{}, '`accessToken`'],
    [{ accessToken: '' }, '`accessToken`'],
    [{ accessToken: 'a', refreshToken: 1 }, '`refreshToken`'],
    [{ accessToken: 'a', expiresAt: '2026' }, '`expiresAt`'],
    [{ accessToken: 'a', expiresAt: Number.POSITIVE_INFINITY }, '`expiresAt`'],
    [{ accessToken: 'a', issuedAt: Number.NaN }, '`issuedAt`'],
  ])('%j → %s', (value, field) => {
    expect(tokenSetProblem(value)).toContain(field);
  });

  it('accepts a token set, optional fields left out or undefined', () => {
    expect(tokenSetProblem({ accessToken: 'a' })).toBeUndefined();
    expect(tokenSetProblem({ accessToken: 'a', refreshToken: undefined, expiresAt: 1, issuedAt: 0 })).toBeUndefined();
  });
});

describe('lifeOf', () => {
  it('reads exp and iat from a JWT, in ms', () => {
    expect(lifeOf({ accessToken: jwt({ exp: 2000, iat: 1000 }) })).toEqual({
      expiresAt: 2_000_000,
      issuedAt: 1_000_000,
    });
  });
  it('the fields win over the claims', () => {
    expect(lifeOf({ accessToken: jwt({ exp: 2000, iat: 1000 }), expiresAt: 5, issuedAt: 3 })).toEqual({
      expiresAt: 5,
      issuedAt: 3,
    });
  });
  it('an opaque token has no known life', () => {
    expect(lifeOf({ accessToken: 'opaque' })).toEqual({ expiresAt: undefined, issuedAt: undefined });
  });
});

describe('stores', () => {
  it('memoryTokenStore keeps what it was given until cleared', () => {
    const store = memoryTokenStore({ accessToken: 'a' });
    expect(store.get()).toEqual({ accessToken: 'a' });
    store.set({ accessToken: 'b' });
    expect(store.get()).toEqual({ accessToken: 'b' });
    store.clear();
    expect(store.get()).toBeUndefined();
  });

  it('storageTokenStore keeps JSON under its key, and throws on a foreign value', () => {
    const map = new Map<string, string>();
    const storage = {
      getItem: (k: string) => map.get(k) ?? null,
      setItem: (k: string, v: string) => void map.set(k, v),
      removeItem: (k: string) => void map.delete(k),
    };
    const store = storageTokenStore(storage, 'tokens');
    expect(store.key).toBe('tokens');
    expect(store.get()).toBeUndefined();
    store.set({ accessToken: 'a', expiresAt: 1 });
    expect(JSON.parse(map.get('tokens') ?? '')).toEqual({ accessToken: 'a', expiresAt: 1 });
    expect(store.get()).toEqual({ accessToken: 'a', expiresAt: 1 });
    map.set('tokens', '{"token":"x"}');
    expect(() => store.get()).toThrow(TypeError);
    store.clear();
    expect(map.has('tokens')).toBe(false);
  });
});
