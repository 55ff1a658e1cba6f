import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type ApiFetchEvent,
  type ApiFetchOptions,
  createApiFetch,
  createTokenSession,
  ForbiddenError,
  isUnauthenticatedError,
  type TokenSessionOptions,
  type UnauthenticatedError,
} from '../../src/index.js';
import { json } from '../helpers/server.js';
import { refreshFrom, startTokenApi, type TokenApi } from '../helpers/token-api.js';

let api: TokenApi;

beforeEach(async () => {
  api = await startTokenApi();
});
afterEach(async () => {
  await api.close();
});

function client(auth: TokenSessionOptions = {}, options: ApiFetchOptions = {}) {
  const events: ApiFetchEvent[] = [];
  const onUnauthenticated = vi.fn();
  const onForbidden = vi.fn();
  const instance = createApiFetch({
    baseUrl: api.origin,
    auth: {
      session: createTokenSession({
        tokens: { accessToken: 'expired-1', refreshToken: 'rt-0' },
        refresh: refreshFrom(api),
        // The session and the client share the test's clock.
        ...(options.now ? { now: options.now } : {}),
        ...auth,
      }),
    },
    onEvent: (e) => events.push(e),
    onUnauthenticated,
    onForbidden,
    retry: { random: () => 0 },
    ...options,
  });
  return { instance, events, onUnauthenticated, onForbidden };
}

const count = (events: ApiFetchEvent[], type: ApiFetchEvent['type']) => events.filter((e) => e.type === type).length;

describe('single-flight refresh and replay', () => {
  it('100 concurrent 401s share one refresh and each replays once', async () => {
    const { instance, events } = client();
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => instance.get(`r${i}`).json()));
    expect(results).toHaveLength(100);
    expect(results.every((r) => (r as { ok: boolean }).ok)).toBe(true);
    expect(api.refreshes).toBe(1);
    // Every request was sent with the expired token, then replayed once with the refreshed one.
    for (let i = 0; i < 100; i++) expect(api.sends(`/r${i}`)).toBe(2);
    expect(count(events, 'refresh:start')).toBe(1);
    expect(count(events, 'replay')).toBe(100);
    expect(JSON.stringify(events)).not.toMatch(/at-\d|rt-\d|expired-1/);
  });

  it('proactive refresh: an expired token is refreshed once before sending, and each request is sent once', async () => {
    const { instance, events } = client({
      tokens: { accessToken: 'expired-1', refreshToken: 'rt-0', expiresAt: Date.now() - 1000 },
    });
    await Promise.all(Array.from({ length: 100 }, (_, i) => instance.get(`p${i}`).json()));
    expect(api.refreshes).toBe(1);
    for (let i = 0; i < 100; i++) expect(api.sends(`/p${i}`)).toBe(1);
    expect(events.find((e) => e.type === 'refresh:start')).toMatchObject({ reason: 'expired' });
  });

  it('refreshes within refreshLeewayMs of a JWT exp; a malformed JWT has no known expiry', async () => {
    const b64 = (v: unknown) => btoa(JSON.stringify(v)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
    let clock = Date.UTC(2026, 0, 1);
    const jwt = `${b64({ alg: 'none' })}.${b64({ exp: clock / 1000 + 120 })}.`;
    api.valid.add(jwt);
    const a = client({ tokens: { accessToken: jwt }, refreshLeewayMs: 30_000 }, { now: () => clock });
    await a.instance.get('x').json();
    expect(api.refreshes).toBe(0);
    clock += 89_000;
    await a.instance.get('x').json();
    expect(api.refreshes).toBe(0);
    clock += 2_000;
    await a.instance.get('x').json();
    expect(api.refreshes).toBe(1);
    expect(api.sends('/x')).toBe(3);

    api.valid.add('not.a.jwt');
    const b = client({ tokens: { accessToken: 'not.a.jwt' } });
    await b.instance.get('y').json();
    expect(api.refreshes).toBe(1);
  });

  it('a token that lives shorter than the leeway is refreshed at half its life, never in a loop', async () => {
    let clock = Date.UTC(2026, 0, 1);
    const token = api.issue();
    const c = client(
      { tokens: { accessToken: token, issuedAt: clock, expiresAt: clock + 10_000 } },
      { now: () => clock },
    );
    await c.instance.get('z').json();
    clock += 4_000;
    await c.instance.get('z').json();
    expect(api.refreshes).toBe(0);
    clock += 1_500;
    await c.instance.get('z').json();
    expect(api.refreshes).toBe(1);
  });

  it('a 401 for a request that carried an older token replays with the current one, without a refresh', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    api.resource = async (req, res, authorized) => {
      if (req.url === '/slow') await held;
      return authorized ? json(res, 200, { ok: true }) : json(res, 401, {}, { 'www-authenticate': 'Bearer' });
    };
    const { instance, events } = client();
    const slow = instance.get('slow').json();
    await vi.waitFor(() => expect(api.sends('/slow')).toBe(1));
    await instance.auth.setTokens({ accessToken: api.issue() });
    release();
    expect(await slow).toEqual({ ok: true });
    expect(api.refreshes).toBe(0);
    expect(api.sends('/slow')).toBe(2);
    expect(events.find((e) => e.type === 'replay')).toMatchObject({ reason: 'stale_token' });
  });

  it('replays POST and PATCH bodies intact: JSON, text, FormData, Blob, ArrayBuffer, URLSearchParams', async () => {
    const { instance } = client({ maxRefreshes: 10 });
    const form = new FormData();
    form.set('field', 'value');
    const posts: [string, () => Promise<unknown>][] = [
      ['json', () => instance.post('json', { json: { a: 1 } }).json()],
      ['text', () => instance.post('text', { body: 'plain' }).json()],
      ['form', () => instance.post('form', { body: form }).json()],
      ['blob', () => instance.post('blob', { body: new Blob(['blob-bytes']) }).json()],
      ['buffer', () => instance.post('buffer', { body: new TextEncoder().encode('buffer-bytes').buffer }).json()],
      ['params', () => instance.post('params', { body: new URLSearchParams({ q: 'a b', n: '1' }) }).json()],
      ['patch', () => instance.patch('patch', { json: { b: 2 } }).json()],
    ];
    for (const [, post] of posts) {
      // Expire every token, so each POST meets a 401, a refresh and a replay.
      api.valid.clear();
      expect(await post()).toEqual({ ok: true });
    }
    expect(api.refreshes).toBe(posts.length);
    const bodies = (path: string) => api.server.seen.filter((r) => r.url === path).map((r) => r.body);
    expect(bodies('/json')).toEqual(['{"a":1}', '{"a":1}']);
    expect(bodies('/text')).toEqual(['plain', 'plain']);
    expect(bodies('/form')).toHaveLength(2);
    expect(bodies('/form')[1]).toContain('value');
    expect(bodies('/form')[1]).toBe(bodies('/form')[0]);
    expect(bodies('/blob')).toEqual(['blob-bytes', 'blob-bytes']);
    expect(bodies('/buffer')).toEqual(['buffer-bytes', 'buffer-bytes']);
    expect(bodies('/params')).toEqual(['q=a+b&n=1', 'q=a+b&n=1']);
    expect(bodies('/patch')).toEqual(['{"b":2}', '{"b":2}']);
    expect(api.server.seen.filter((r) => r.url === '/patch').map((r) => r.method)).toEqual(['PATCH', 'PATCH']);
  });
});

describe('extended clients', () => {
  it('an extended client shares the session: one refresh for parent and child together', async () => {
    const { instance } = client();
    const child = instance.extend({ headers: { 'x-test': 'child' } });
    await Promise.all([instance.get('p').json(), child.get('c').json()]);
    expect(api.refreshes).toBe(1);
    expect(await child.auth.getTokens()).toEqual(await instance.auth.getTokens());
  });

  it('a WWW-Authenticate header on a 2xx is ignored', async () => {
    api.resource = (_req, res) => json(res, 200, { ok: true }, { 'www-authenticate': 'Bearer error="invalid_token"' });
    const { instance, events } = client({ tokens: { accessToken: 'anything' } });
    expect(await instance.get('x').json()).toEqual({ ok: true });
    expect(api.refreshes).toBe(0);
    expect(events.filter((e) => e.type === 'unauthenticated' || e.type === 'refresh:start')).toEqual([]);
  });
});

describe('never a loop', () => {
  it('a failed refresh rejects every waiting request, calls onUnauthenticated once, then fails fast', async () => {
    api.tokenReply = () => ({ status: 400, body: { error: 'invalid_grant' } });
    const { instance, onUnauthenticated, events } = client();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => instance.get(`f${i}`).catch((e: unknown) => e)),
    );
    expect(results.every((e) => isUnauthenticatedError(e) && e.reason === 'refresh_failed')).toBe(true);
    expect(api.refreshes).toBe(1);
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
    expect(count(events, 'refresh:failure')).toBe(1);

    const sendsBefore = api.server.seen.length;
    const next = (await instance.get('later').catch((e: unknown) => e)) as UnauthenticatedError;
    expect(next.reason).toBe('signed_out');
    expect(next.sent).toBe(false);
    expect(api.server.seen.length).toBe(sendsBefore);
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);

    await instance.auth.setTokens({ accessToken: api.issue() });
    expect(await instance.get('back').json()).toEqual({ ok: true });
  });

  it('retries a transient refresh failure (503), then succeeds', async () => {
    api.tokenReply = (n) => (n === 1 ? { status: 503, body: {} } : undefined);
    const { instance, events } = client({ random: () => 0 });
    expect(await instance.get('x').json()).toEqual({ ok: true });
    expect(api.refreshes).toBe(2);
    expect(events.find((e) => e.type === 'refresh:success')).toMatchObject({ attempt: 2 });
  });

  it('a server that always answers 401: one refresh, at most two sends per request', async () => {
    api.resource = (_req, res) => json(res, 401, {}, { 'www-authenticate': 'Bearer error="invalid_token"' });
    const { instance, onUnauthenticated } = client();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => instance.get(`a${i}`).catch((e) => e)));
    expect(api.refreshes).toBe(1);
    for (let i = 0; i < 20; i++) expect(api.sends(`/a${i}`)).toBeLessThanOrEqual(2);
    expect(results.every((e) => isUnauthenticatedError(e))).toBe(true);
    expect(results.map((e) => (e as UnauthenticatedError).reason)).toContain('rejected_after_refresh');
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
    const later = (await instance.get('later').catch((e) => e)) as UnauthenticatedError;
    expect(later.reason).toBe('signed_out');
    expect(api.refreshes).toBe(1);
  });

  it('the circuit breaker allows at most maxRefreshes per window', async () => {
    const { instance } = client({ maxRefreshes: 2 });
    await instance.get('one').json();
    api.valid.clear();
    await instance.get('two').json();
    api.valid.clear();
    const error = (await instance.get('three').catch((e) => e)) as UnauthenticatedError;
    expect(error.reason).toBe('refresh_limit');
    expect(api.refreshes).toBe(2);
  });

  it('an abort while waiting for the refresh rejects that request at once; the others complete', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const plain = refreshFrom(api);
    const { instance } = client({
      refresh: async (ctx) => {
        await held;
        return plain(ctx);
      },
    });
    const controller = new AbortController();
    const aborted = instance.get('a', { signal: controller.signal }).catch((e: unknown) => e);
    const others = Promise.all([instance.get('b').json(), instance.get('c').json()]);
    await vi.waitFor(() => expect(api.sends('/c')).toBe(1));
    controller.abort(new Error('navigated away'));
    expect(await aborted).toMatchObject({ message: 'navigated away' });
    release();
    expect(await others).toEqual([{ ok: true }, { ok: true }]);
    expect(api.refreshes).toBe(1);
  });
});

describe('challenge-driven decisions', () => {
  it('step-up (RFC 9470): no refresh, reason step_up_required with acrValues and maxAge', async () => {
    api.resource = (_req, res) =>
      json(
        res,
        401,
        {},
        {
          'www-authenticate': 'Bearer error="insufficient_user_authentication", acr_values="urn:mfa", max_age=60',
        },
      );
    const { instance, onUnauthenticated } = client();
    const error = (await instance.get('x').catch((e) => e)) as UnauthenticatedError;
    expect(error).toMatchObject({ reason: 'step_up_required', acrValues: ['urn:mfa'], maxAge: 60 });
    expect(api.refreshes).toBe(0);
    expect(onUnauthenticated).toHaveBeenCalledWith(error);
  });

  it('only a non-Bearer challenge: unsupported_challenge, no refresh', async () => {
    api.resource = (_req, res) => json(res, 401, {}, { 'www-authenticate': 'Basic realm="x", Negotiate' });
    const { instance } = client();
    const error = (await instance.get('x').catch((e) => e)) as UnauthenticatedError;
    expect(error.reason).toBe('unsupported_challenge');
    expect(error.challenges.map((c) => c.scheme)).toEqual(['basic', 'negotiate']);
    expect(api.refreshes).toBe(0);
  });

  it('a 401 with no visible challenge is treated as expired: one refresh', async () => {
    api.resource = (_req, res, ok) => json(res, ok ? 200 : 401, { ok });
    const { instance } = client();
    expect(await instance.get('x').json()).toEqual({ ok: true });
    expect(api.refreshes).toBe(1);
  });

  it('a 403 with a refresh set up: one send, no refresh, ForbiddenError, onForbidden', async () => {
    api.resource = (_req, res) =>
      json(
        res,
        403,
        { title: 'Forbidden', detail: 'admin only' },
        {
          'www-authenticate': 'Bearer error="insufficient_scope", scope="admin"',
          'content-type': 'application/problem+json',
        },
      );
    const { instance, onForbidden } = client();
    const error = (await instance.get('admin').catch((e) => e)) as ForbiddenError;
    expect(error).toBeInstanceOf(ForbiddenError);
    expect(error.requiredScopes).toEqual(['admin']);
    expect(error.problem).toMatchObject({ detail: 'admin only' });
    expect(api.sends('/admin')).toBe(1);
    expect(api.refreshes).toBe(0);
    expect(onForbidden).toHaveBeenCalledTimes(1);
  });
});

describe('tokens and stores', () => {
  it('api.auth: setTokens, getTokens, clear, refresh', async () => {
    const { instance, events } = client({ tokens: undefined as never });
    expect(await instance.auth.getTokens()).toBeUndefined();
    await instance.auth.setTokens({ accessToken: 'expired-9', refreshToken: 'rt-9' });
    const fresh = await instance.auth.refresh();
    expect(fresh.accessToken).toMatch(/^at-/);
    expect(await instance.auth.getTokens()).toEqual(fresh);
    await instance.auth.clear();
    const error = (await instance.get('x').catch((e) => e)) as UnauthenticatedError;
    expect(error.reason).toBe('signed_out');
    expect(count(events, 'signed-out')).toBe(1);
  });

  it('storageTokenStore keeps tokens in Web Storage', async () => {
    const { storageTokenStore } = await import('../../src/index.js');
    const map = new Map<string, string>();
    const storage = {
      getItem: (k: string) => map.get(k) ?? null,
      setItem: (k: string, v: string) => void map.set(k, v),
      removeItem: (k: string) => void map.delete(k),
    };
    const { instance } = client({ store: storageTokenStore(storage, 'tokens') });
    await instance.get('x').json();
    expect(JSON.parse(map.get('tokens')!).accessToken).toMatch(/^at-/);
    await instance.auth.clear();
    expect(map.has('tokens')).toBe(false);
  });

  it('a store that throws (corrupt JSON, quota) never breaks a request: memory fallback and an event', async () => {
    const { storageTokenStore } = await import('../../src/index.js');
    const storage = {
      getItem: () => '{not json',
      setItem: () => {
        throw new DOMException('quota', 'QuotaExceededError');
      },
      removeItem: () => {},
    };
    const token = api.issue();
    const { instance, events } = client({ tokens: { accessToken: token }, store: storageTokenStore(storage, 'k') });
    expect(await instance.get('x').json()).toEqual({ ok: true });
    expect(events.filter((e) => e.type === 'store:fallback')).toHaveLength(1);
    expect(api.server.seen[0]?.headers.authorization).toBe(`Bearer ${token}`);
  });
});
