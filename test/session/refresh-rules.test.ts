import { describe, expect, it, vi } from 'vitest';
import {
  type ApiFetchEvent,
  createApiFetch,
  createTokenSession,
  InvalidOptionError,
  isUnauthenticatedError,
  storageTokenStore,
  type TokenSessionOptions,
  type TokenSet,
  type UnauthenticatedError,
} from '../../src/index.js';
import { deferred } from '../helpers/deferred.js';

const base = 'https://api.example.test';

/**
 * A client over an in-memory API: a request is accepted when it carries a token in `valid`, else answered 401 with
 * `challenge` (none when undefined). `refresh` is counted; its result is whatever `refreshImpl` gives.
 */
function harness(auth: TokenSessionOptions, initialChallenge: string | undefined = 'Bearer error="invalid_token"') {
  let challenge: string | undefined = initialChallenge;
  const valid = new Set<string>();
  const sent: { path: string; token: string | null }[] = [];
  const events: ApiFetchEvent[] = [];
  const onUnauthenticated = vi.fn();
  let clock = Date.UTC(2026, 0, 1);
  const api = createApiFetch({
    baseUrl: base,
    now: () => clock,
    retry: false,
    onEvent: (e) => events.push(e),
    onUnauthenticated,
    fetch: async (request) => {
      const token = request.headers.get('authorization')?.replace(/^Bearer /, '') ?? null;
      sent.push({ path: new URL(request.url).pathname, token });
      if (token !== null && valid.has(token)) return new Response('ok');
      return new Response(null, { status: 401, headers: challenge ? { 'www-authenticate': challenge } : {} });
    },
    auth: { session: createTokenSession({ now: () => clock, ...auth }) },
  });
  return {
    api,
    valid,
    sent,
    events,
    onUnauthenticated,
    advance: (ms: number) => {
      clock += ms;
    },
    now: () => clock,
    /** Change the server's `WWW-Authenticate` (undefined: none). */
    challenge: (next: string | undefined) => {
      challenge = next;
    },
  };
}

const reasonOf = (e: unknown) => (isUnauthenticatedError(e) ? e.reason : e);

describe('refresh failures: which are retried', () => {
  it.each([
    [400, 'status 400'],
    [401, 'status 401'],
  ])('a definitive %i is not retried: one call, signed out, refresh:failure says %s', async (status, reason) => {
    const refresh = vi.fn(async (): Promise<TokenSet> => {
      throw Object.assign(new Error('refused'), { status, error: 'invalid_grant' });
    });
    const h = harness({ tokens: { accessToken: 'old' }, refresh, refreshRetries: 3 });
    expect(reasonOf(await h.api.get('x').catch((e: unknown) => e))).toBe('refresh_failed');
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(h.events.find((e) => e.type === 'refresh:failure')).toMatchObject({ reason, attempt: 1 });
    expect(reasonOf(await h.api.get('y').catch((e: unknown) => e))).toBe('signed_out');
  });

  it('a refresh that resolves to something other than a TokenSet fails and signs out', async () => {
    const h = harness({ tokens: { accessToken: 'old' }, refresh: async () => ({ access_token: 'x' }) as never });
    expect(reasonOf(await h.api.get('x').catch((e: unknown) => e))).toBe('refresh_failed');
    expect(await h.api.auth.getTokens()).toBeUndefined();
  });
});

describe('proactive refresh that fails transiently', () => {
  it('every request waiting on it keeps the token that still works, and nobody is signed out', async () => {
    const gate = deferred();
    const refresh = vi.fn(async (): Promise<TokenSet> => {
      await gate.promise;
      throw Object.assign(new Error('auth server down'), { status: 503 });
    });
    const h = harness({ refresh, refreshRetries: 0 });
    await h.api.auth.setTokens({ accessToken: 'current', expiresAt: h.now() + 40_000 });
    h.valid.add('current');
    h.advance(25_000); // within the last half of its life: due for a proactive refresh
    const results = Array.from({ length: 5 }, (_, i) => h.api.get(`r${i}`).text());
    await vi.waitFor(() => expect(refresh).toHaveBeenCalledTimes(1));
    gate.release();
    expect(await Promise.all(results)).toEqual(Array(5).fill('ok'));
    expect(h.sent.map((s) => s.token)).toEqual(Array(5).fill('current'));
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(h.onUnauthenticated).not.toHaveBeenCalled();
  });
});

describe('a request started while a refresh runs', () => {
  it('waits for it and is sent once, with the new token', async () => {
    const gate = deferred();
    const h = harness({
      tokens: { accessToken: 'old' },
      refresh: async () => {
        await gate.promise;
        h.valid.add('new');
        return { accessToken: 'new' };
      },
    });
    const first = h.api.get('first').text();
    await vi.waitFor(() => expect(h.events.some((e) => e.type === 'refresh:start')).toBe(true));
    const late = h.api.get('late').text();
    await Promise.resolve();
    gate.release();
    expect(await Promise.all([first, late])).toEqual(['ok', 'ok']);
    expect(h.sent.filter((s) => s.path === '/late')).toEqual([{ path: '/late', token: 'new' }]);
  });
});

describe('circuit breaker', () => {
  it('beyond maxRefreshes, requests fail fast without a send until the window has passed', async () => {
    let n = 0;
    const h = harness({
      tokens: { accessToken: 'old' },
      maxRefreshes: 2,
      refreshWindowMs: 60_000,
      refresh: async () => {
        n += 1;
        // Each new token works for one request only (a server revoking them), so each request needs a refresh.
        h.valid.clear();
        h.valid.add(`at-${n}`);
        return { accessToken: `at-${n}` };
      },
    });
    expect(await h.api.get('a').text()).toBe('ok');
    h.valid.clear();
    expect(await h.api.get('b').text()).toBe('ok');
    h.valid.clear();
    const limited = (await h.api.get('c').catch((e: unknown) => e)) as UnauthenticatedError;
    expect(limited.reason).toBe('refresh_limit');
    expect(limited.sent).toBe(true);
    expect(n).toBe(2);
    expect(h.onUnauthenticated).toHaveBeenCalledTimes(1);

    const sends = h.sent.length;
    const fast = (await h.api.get('d').catch((e: unknown) => e)) as UnauthenticatedError;
    expect(fast.reason).toBe('refresh_limit');
    expect(fast.sent).toBe(false);
    expect(h.sent.length).toBe(sends);
    expect(h.onUnauthenticated).toHaveBeenCalledTimes(1);

    h.advance(60_001);
    expect(await h.api.get('e').text()).toBe('ok');
    expect(n).toBe(3);
    expect(h.sent.filter((s) => s.path === '/e')).toEqual([{ path: '/e', token: 'at-3' }]);
  });
});

describe('challenges', () => {
  it.each([
    ['DPoP without a DPoP setup', 'unsupported_challenge', 'DPoP algs="ES256"', ['dpop']],
    ['Basic and Negotiate', 'unsupported_challenge', 'Basic realm="x", Negotiate', ['basic', 'negotiate']],
  ])('only %s: no refresh, %s', async (_name, reason, header, schemes) => {
    const refresh = vi.fn(async () => ({ accessToken: 'new' }));
    const h = harness({ tokens: { accessToken: 'old' }, refresh }, header);
    const error = (await h.api.get('x').catch((e: unknown) => e)) as UnauthenticatedError;
    expect(error.reason).toBe(reason);
    expect(error.challenges.map((c) => c.scheme)).toEqual(schemes);
    expect(refresh).not.toHaveBeenCalled();
    expect(h.sent).toHaveLength(1);
  });

  it('Bearer offered next to Basic: refresh and replay', async () => {
    const h = harness(
      { tokens: { accessToken: 'old' }, refresh: async () => ({ accessToken: 'new' }) },
      'Basic, Bearer',
    );
    h.valid.add('new');
    expect(await h.api.get('x').text()).toBe('ok');
    expect(h.sent.map((s) => s.token)).toEqual(['old', 'new']);
  });

  it('the refresh context carries the reason and the Bearer challenge, never through the auth layer', async () => {
    const contexts: unknown[] = [];
    const h = harness(
      {
        tokens: { accessToken: 'old', refreshToken: 'rt' },
        refresh: async ({ tokens, reason, challenge, signal }) => {
          contexts.push({ tokens, reason, challenge, aborted: signal.aborted });
          return { accessToken: 'new' };
        },
      },
      'Bearer realm="api", error="invalid_token"',
    );
    h.valid.add('new');
    await h.api.get('x').text();
    expect(contexts).toEqual([
      {
        tokens: { accessToken: 'old', refreshToken: 'rt' },
        reason: 'rejected',
        challenge: { scheme: 'bearer', params: { realm: 'api', error: 'invalid_token' } },
        aborted: false,
      },
    ]);
    expect(h.sent.map((s) => s.path)).toEqual(['/x', '/x']);
  });
});

describe('api.auth', () => {
  it('concurrent refresh() calls share one refresh; a transient failure keeps the tokens', async () => {
    let calls = 0;
    const h = harness({
      tokens: { accessToken: 'old', refreshToken: 'rt' },
      refreshRetries: 0,
      refresh: async () => {
        calls += 1;
        if (calls === 2) throw Object.assign(new Error('down'), { status: 502 });
        return { accessToken: `at-${calls}` };
      },
    });
    const [a, b] = await Promise.all([h.api.auth.refresh(), h.api.auth.refresh()]);
    expect(calls).toBe(1);
    // A refresh's tokens without an issue time get the moment the refresh returned them.
    expect(a).toEqual({ accessToken: 'at-1', issuedAt: expect.any(Number) });
    expect(b).toEqual(a);
    await expect(h.api.auth.refresh()).rejects.toMatchObject({ status: 502 });
    expect(await h.api.auth.getTokens()).toEqual(a);
    expect(h.events.filter((e) => e.type === 'refresh:start').map((e) => (e as { reason: string }).reason)).toEqual([
      'manual',
      'manual',
    ]);
  });

  it('setTokens rejects a value that is not a TokenSet; getTokens returns a copy', async () => {
    const h = harness({});
    await expect(h.api.auth.setTokens({ accessToken: '' })).rejects.toBeInstanceOf(InvalidOptionError);
    await h.api.auth.setTokens({ accessToken: 't', expiresAt: 1 });
    const copy = await h.api.auth.getTokens();
    if (copy) copy.accessToken = 'mutated';
    expect(await h.api.auth.getTokens()).toEqual({ accessToken: 't', expiresAt: 1 });
  });

  it('with getAccessToken, api.auth does not manage tokens', async () => {
    const api = createApiFetch({ baseUrl: base, auth: { getAccessToken: () => 't' } });
    await expect(api.auth.setTokens({ accessToken: 'x' })).rejects.toThrow('auth.session');
    await expect(api.auth.refresh()).rejects.toThrow('auth.session');
    expect(await api.auth.getTokens()).toBeUndefined();
  });
});

describe('stores', () => {
  it('a storage that throws on access (disabled) falls back to memory with one event, never breaking a request', async () => {
    const disabled = () => {
      throw new DOMException('The operation is insecure.', 'SecurityError');
    };
    const h = harness({ tokens: { accessToken: 'tok' }, store: storageTokenStore(disabled, 'tokens') });
    h.valid.add('tok');
    expect(await h.api.get('x').text()).toBe('ok');
    expect(await h.api.get('y').text()).toBe('ok');
    expect(h.events.filter((e) => e.type === 'store:fallback')).toEqual([
      expect.objectContaining({ operation: 'set', error: 'SecurityError' }),
    ]);
  });

  it('an async store works, and a corrupt stored value reads as no tokens with a store:fallback event', async () => {
    const saved = new Map<string, string>([['k', '{"accessToken":']]);
    const h = harness({
      store: {
        get: async () => {
          const raw = saved.get('k');
          return raw === undefined ? undefined : (JSON.parse(raw) as TokenSet);
        },
        set: async (t) => void saved.set('k', JSON.stringify(t)),
        clear: async () => void saved.delete('k'),
      },
    });
    expect(await h.api.auth.getTokens()).toBeUndefined();
    expect(h.events.filter((e) => e.type === 'store:fallback')).toHaveLength(1);
    expect(JSON.stringify(h.events)).not.toContain('accessToken');
  });
});

describe('clock skew', () => {
  it('a refreshed token that already looks expired (clock ahead of the issuer) is used, not refreshed again', async () => {
    let n = 0;
    const h = harness({
      tokens: { accessToken: 'old', expiresAt: Date.UTC(2025, 0, 1) },
      refresh: async () => {
        n += 1;
        h.valid.add(`at-${n}`);
        // The issuer's clock is an hour behind ours: its fresh token "expired" 55 minutes ago here.
        return { accessToken: `at-${n}`, expiresAt: h.now() - 55 * 60_000 };
      },
    });
    for (const path of ['a', 'b', 'c', 'd', 'e']) expect(await h.api.get(path).text()).toBe('ok');
    expect(n).toBe(1);
    expect(h.sent.map((s) => s.token)).toEqual(Array(5).fill('at-1'));
  });
});

describe('onUnauthenticated episodes', () => {
  it('a step-up demand is its own episode: a later failed refresh still asks to sign in again', async () => {
    const h = harness({
      tokens: { accessToken: 'old' },
      refresh: async () => {
        throw Object.assign(new Error('invalid_grant'), { status: 400 });
      },
    });
    h.challenge('Bearer error="insufficient_user_authentication", acr_values="urn:mfa"');
    const reason = async () => reasonOf(await h.api.get('x').catch((e: unknown) => e));
    expect([await reason(), await reason()]).toEqual(['step_up_required', 'step_up_required']);
    expect(h.onUnauthenticated).toHaveBeenCalledTimes(1);
    h.challenge('Bearer error="invalid_token"');
    expect([await reason(), await reason()]).toEqual(['refresh_failed', 'signed_out']);
    expect(h.onUnauthenticated).toHaveBeenCalledTimes(2);
    expect(h.onUnauthenticated.mock.calls.map(([e]) => (e as UnauthenticatedError).reason)).toEqual([
      'step_up_required',
      'refresh_failed',
    ]);
  });
});

describe('a refresh overtaken by the app', () => {
  it('clear() while a refresh runs: the user stays signed out when the refresh completes', async () => {
    const gate = deferred();
    const h = harness({
      tokens: { accessToken: 'old', refreshToken: 'rt' },
      refresh: async () => {
        await gate.promise;
        h.valid.add('new');
        return { accessToken: 'new' };
      },
    });
    const waiting = h.api.get('x').catch((e: unknown) => e);
    await vi.waitFor(() => expect(h.events.some((e) => e.type === 'refresh:start')).toBe(true));
    await h.api.auth.clear();
    gate.release();
    expect(reasonOf(await waiting)).toBe('signed_out');
    expect(await h.api.auth.getTokens()).toBeUndefined();
    const sends = h.sent.length;
    expect(reasonOf(await h.api.get('y').catch((e: unknown) => e))).toBe('signed_out');
    expect(h.sent.length).toBe(sends);
    expect(h.events.find((e) => e.type === 'refresh:failure')).toMatchObject({ reason: 'superseded' });
  });

  it('setTokens() while a refresh runs: the new login wins and the waiting request is replayed with it', async () => {
    const gate = deferred();
    const h = harness({
      tokens: { accessToken: 'old', refreshToken: 'rt' },
      refresh: async () => {
        await gate.promise;
        return { accessToken: 'refreshed-for-the-previous-user' };
      },
    });
    const waiting = h.api.get('x').text();
    await vi.waitFor(() => expect(h.events.some((e) => e.type === 'refresh:start')).toBe(true));
    h.valid.add('login-2');
    await h.api.auth.setTokens({ accessToken: 'login-2' });
    gate.release();
    expect(await waiting).toBe('ok');
    expect(await h.api.auth.getTokens()).toEqual({ accessToken: 'login-2' });
    expect(h.sent.map((s) => s.token)).toEqual(['old', 'login-2']);
  });
});

describe('what confirms a fresh token', () => {
  it('a gateway 503 does not vouch for a fresh token: a later 401 on it signs out, with no second refresh', async () => {
    const answers = [401, 503, 401];
    let refreshes = 0;
    const api = createApiFetch({
      baseUrl: base,
      retry: false,
      fetch: async () => new Response(null, { status: answers.shift() ?? 200 }),
      auth: {
        session: createTokenSession({
          tokens: { accessToken: 'old' },
          refresh: async () => {
            refreshes += 1;
            return { accessToken: `at-${refreshes}` };
          },
        }),
      },
    });
    expect(await api.get('x').catch((e: unknown) => (e as { response: Response }).response.status)).toBe(503);
    expect(reasonOf(await api.get('y').catch((e: unknown) => e))).toBe('rejected_after_refresh');
    expect(refreshes).toBe(1);
  });
});
