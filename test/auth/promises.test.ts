import { runInNewContext } from 'node:vm';
import { isHTTPError } from 'ky';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type ApiFetchEvent,
  createApiFetch,
  createTokenSession,
  isForbiddenError,
  isUnauthenticatedError,
  type LockFunction,
  lockCoordination,
  type TokenSet,
  type TokenStore,
  type UnauthenticatedError,
} from '../../src/index.js';
import { json, startServer, type TestServer } from '../helpers/server.js';

/** An unsigned JWT with these claims (apifetch reads `exp` and `iat`; it never checks signatures). */
const jwt = (claims: Record<string, unknown>) =>
  ['{"alg":"none"}', JSON.stringify(claims)].map((part) => Buffer.from(part).toString('base64url')).join('.') + '.';

describe('a rotating refresh token is spent once', () => {
  /**
   * A token server that rotates refresh tokens and, on reuse of a spent one, revokes the whole family (as
   * Keycloak, Auth0 and Okta do). Access tokens `at-<n>` are valid while their family lives.
   */
  function rotatingServer() {
    let n = 0;
    const spent = new Set<string>();
    let current = 'rt-0';
    const valid = new Set<string>();
    const state = { refreshes: 0, reuse: 0, revoked: false };
    const handler = (req: { url: string; body: string; headers: Record<string, unknown> }, res: never) => {
      if (req.url === '/token') {
        state.refreshes += 1;
        const { refresh_token: presented } = JSON.parse(req.body) as { refresh_token: string };
        if (spent.has(presented) || state.revoked) {
          state.reuse += 1;
          state.revoked = true;
          valid.clear();
          return json(res, 400, { error: 'invalid_grant' });
        }
        if (presented !== current) return json(res, 400, { error: 'invalid_grant' });
        spent.add(presented);
        n += 1;
        current = `rt-${n}`;
        valid.add(`at-${n}`);
        return json(res, 200, { access_token: `at-${n}`, refresh_token: current, expires_in: 900 });
      }
      const token = String(req.headers.authorization ?? '').replace('Bearer ', '');
      return valid.has(token) ? json(res, 200, { ok: true }) : json(res, 401, {}, { 'www-authenticate': 'Bearer' });
    };
    return { state, handler };
  }

  /** A store whose writes land a moment later, as a remote one (Redis, a database) would. */
  function sharedStore(initial: TokenSet): TokenStore {
    let value: TokenSet | undefined = initial;
    const later = () => new Promise<void>((resolve) => setImmediate(resolve));
    return {
      get: async () => {
        await later();
        return value;
      },
      set: async (next) => {
        await later();
        value = next;
      },
      clear: async () => {
        await later();
        value = undefined;
      },
    };
  }

  /** A lock shared by the clients, as a distributed lock would be: one holder at a time per name. */
  function sharedLock(): LockFunction {
    const tails = new Map<string, Promise<unknown>>();
    return (name, fn) => {
      const previous = tails.get(name) ?? Promise.resolve();
      const run = previous.then(fn, fn);
      tails.set(
        name,
        run.catch(() => {}),
      );
      return run;
    };
  }

  it('two clients sharing a store and a lock, both hit by an expired token at once: one refresh, no reuse', async () => {
    const server = rotatingServer();
    const api = await startServer(server.handler as never);
    try {
      const store = sharedStore({ accessToken: 'at-expired', refreshToken: 'rt-0', expiresAt: 0 });
      const lock = sharedLock();
      const clientFor = () =>
        createApiFetch({
          baseUrl: api.origin,
          auth: {
            session: createTokenSession({
              store,
              coordination: lockCoordination(lock),
              refresh: async ({ tokens, signal }) => {
                const response = await fetch(`${api.origin}/token`, {
                  method: 'POST',
                  body: JSON.stringify({ refresh_token: tokens?.refreshToken }),
                  signal,
                });
                const body = (await response.json()) as { access_token: string; refresh_token: string; error: string };
                if (!response.ok) throw Object.assign(new Error(body.error), { status: response.status });
                return { accessToken: body.access_token, refreshToken: body.refresh_token };
              },
            }),
          },
        });
      const [a, b] = [clientFor(), clientFor()];
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).get(`r${i}`).json<{ ok: boolean }>()),
      );
      expect(results.every((r) => r.ok)).toBe(true);
      expect(server.state).toEqual({ refreshes: 1, reuse: 0, revoked: false });
      expect(await a.auth.getTokens()).toMatchObject({ accessToken: 'at-1', refreshToken: 'rt-1' });
      expect(await b.auth.getTokens()).toMatchObject({ accessToken: 'at-1', refreshToken: 'rt-1' });
    } finally {
      await api.close();
    }
  });
});

describe('a 401 or 403 is judged by the origin that answered', () => {
  let ours: TestServer;
  let theirs: TestServer;
  beforeEach(async () => {
    theirs = await startServer((req, res) =>
      req.url === '/401'
        ? json(res, 401, {}, { 'www-authenticate': 'Bearer error="invalid_token"' })
        : json(res, 403, {}, { 'www-authenticate': 'Bearer error="insufficient_scope", scope="x"' }),
    );
    ours = await startServer((req, res) => {
      res.writeHead(302, { location: `${theirs.origin}${req.url}` });
      res.end();
    });
  });
  afterEach(async () => {
    await ours.close();
    await theirs.close();
  });

  it.each([401, 403])(
    'a %i from the origin a redirect led to is a plain HTTPError: no refresh, no callbacks',
    async (status) => {
      const refresh = vi.fn(async () => ({ accessToken: 'new' }));
      const onUnauthenticated = vi.fn();
      const onForbidden = vi.fn();
      const events: ApiFetchEvent[] = [];
      const client = createApiFetch({
        baseUrl: ours.origin,
        auth: { session: createTokenSession({ tokens: { accessToken: 'ok' }, refresh }) },
        onUnauthenticated,
        onForbidden,
        onEvent: (e) => events.push(e),
      });
      const error = await client.get(String(status)).catch((e: unknown) => e);
      expect(isHTTPError(error)).toBe(true);
      expect((error as Error).name).toBe('HTTPError');
      expect(isUnauthenticatedError(error) || isForbiddenError(error)).toBe(false);
      expect(refresh).not.toHaveBeenCalled();
      expect(onUnauthenticated).not.toHaveBeenCalled();
      expect(onForbidden).not.toHaveBeenCalled();
      expect(events.filter((e) => e.type === 'unauthenticated' || e.type === 'forbidden')).toEqual([]);
      expect(theirs.seen[0]?.headers.authorization).toBeUndefined();
      // Still signed in: the next request to our API carries the token.
      expect(await client.auth.getTokens()).toEqual({ accessToken: 'ok' });
    },
  );
});

describe('step-up on the replay after a refresh', () => {
  it('is step_up_required with acrValues and maxAge, and the fresh tokens are kept', async () => {
    const api = await startServer((req, res) =>
      req.headers.authorization === 'Bearer fresh'
        ? json(
            res,
            401,
            {},
            {
              'www-authenticate': 'Bearer error="insufficient_user_authentication", acr_values="mfa phr", max_age=300',
            },
          )
        : json(res, 401, {}, { 'www-authenticate': 'Bearer error="invalid_token"' }),
    );
    try {
      const onUnauthenticated = vi.fn();
      const client = createApiFetch({
        baseUrl: api.origin,
        auth: {
          session: createTokenSession({
            tokens: { accessToken: 'old', refreshToken: 'r' },
            refresh: async () => ({ accessToken: 'fresh' }),
          }),
        },
        onUnauthenticated,
      });
      const error = (await client.get('admin').catch((e: unknown) => e)) as UnauthenticatedError;
      expect(error).toMatchObject({ reason: 'step_up_required', acrValues: ['mfa', 'phr'], maxAge: 300 });
      expect(await client.auth.getTokens()).toMatchObject({ accessToken: 'fresh' });
      expect(onUnauthenticated).toHaveBeenCalledTimes(1);
      // Not signed out: the next request is sent, with the fresh token.
      await client.get('other').catch(() => {});
      expect(api.seen.map((r) => r.headers.authorization)).toEqual(['Bearer old', 'Bearer fresh', 'Bearer fresh']);
    } finally {
      await api.close();
    }
  });
});

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
    ['from the store at start-up (JWT iat)', () => ({ store: memoryStoreOf({ accessToken: restored }) })],
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

  function memoryStoreOf(tokens: TokenSet): TokenStore {
    let value: TokenSet | undefined = tokens;
    return {
      get: () => value,
      set: (next) => {
        value = next;
      },
      clear: () => {
        value = undefined;
      },
    };
  }
});

describe('nothing the caller set is overridden or bypassed', () => {
  let api: TestServer;
  beforeEach(async () => {
    api = await startServer((req, res) =>
      req.url === '/forbidden'
        ? json(res, 403, { title: 'no' }, { 'www-authenticate': 'Bearer error="insufficient_scope", scope="a"' })
        : req.headers.authorization === 'Bearer good'
          ? json(res, 200, { ok: true })
          : json(res, 401, {}, { 'www-authenticate': 'Bearer error="invalid_token"' }),
    );
  });
  afterEach(() => api.close());

  it("a caller's own Idempotency-Key (Request input, client headers, per call) is never replaced", async () => {
    const client = createApiFetch({ baseUrl: api.origin, retry: { idempotencyKey: true } });
    const withClientKey = client.extend({ headers: { 'idempotency-key': 'client-key' } });
    await client.post('a', { headers: { 'idempotency-key': 'call-key' } }).catch(() => {});
    await withClientKey.post('b').catch(() => {});
    await client
      .post(new Request(`${api.origin}/c`, { method: 'POST', headers: { 'idempotency-key': 'req-key' } }))
      .catch(() => {});
    await client.post('d').catch(() => {});
    const keys = api.seen.map((r) => r.headers['idempotency-key']);
    expect(keys.slice(0, 3)).toEqual(['call-key', 'client-key', 'req-key']);
    expect(keys[3]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('throwHttpErrors: false resolves a final 401 and 403 (callbacks still fire); afterResponse hooks see them', async () => {
    const statuses: number[] = [];
    const onUnauthenticated = vi.fn();
    const onForbidden = vi.fn();
    const client = createApiFetch({
      baseUrl: api.origin,
      auth: {
        session: createTokenSession({
          tokens: { accessToken: 'stale', refreshToken: 'r' },
          refresh: async () => ({ accessToken: 'still-bad' }),
        }),
      },
      onUnauthenticated,
      onForbidden,
    });
    const hooks = { afterResponse: [({ response }: { response: Response }) => void statuses.push(response.status)] };
    const forbidden = await client.get('forbidden', { throwHttpErrors: false, hooks });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toEqual({ title: 'no' });
    expect(onForbidden).toHaveBeenCalledTimes(1);
    expect(onForbidden.mock.calls[0]).toEqual([expect.objectContaining({ problem: { title: 'no' } })]);
    // With errors thrown (the default), hooks still see the 403 and the typed error arrives.
    const error = await client.get('forbidden', { hooks }).catch((e: unknown) => e);
    expect(isForbiddenError(error)).toBe(true);
    expect(statuses).toEqual([403, 403]);
    const unauthorized = await client.get('x', { throwHttpErrors: false, hooks });
    expect(unauthorized.status).toBe(401);
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
    // Refreshed once, replayed once, then the final 401 resolves and the hooks see it.
    expect(api.seen.filter((r) => r.url === '/x').length).toBe(2);
    expect(statuses).toEqual([403, 403, 401]);
    // Signed out now: a request fails fast, and resolves with the local 401 stand-in.
    const notSent = await client.get('x', { throwHttpErrors: false });
    expect(notSent.status).toBe(401);
    expect(api.seen.filter((r) => r.url === '/x').length).toBe(2);
  });

  it('extend({ retry: { throttle } }) takes effect in the child', async () => {
    api.handle((_req, res) => json(res, 503, {}));
    const parent = createApiFetch({ baseUrl: api.origin, retry: { limit: 2, random: () => 0, baseDelayMs: 0 } });
    const child = parent.extend({ retry: { limit: 2, random: () => 0, baseDelayMs: 0, throttle: false } });
    for (let i = 0; i < 10; i++) await child.get('c').catch(() => {});
    // Unthrottled: every request used both retries.
    expect(api.seen.length).toBe(30);
    api.seen.length = 0;
    for (let i = 0; i < 10; i++) await parent.get('p').catch(() => {});
    // The parent's own bucket (10 tokens, retries only above half) withholds most retries.
    expect(api.seen.length).toBeLessThan(20);
  });
});

describe('a refresh failure is classified by its status, whatever its realm or shape', () => {
  it.each([
    ['a plain { status: 503 } object', () => ({ status: 503 })],
    ['an Error from a vm context', () => runInNewContext('Object.assign(new Error("down"), { status: 503 })')],
    ['a ky-like { response: { status: 502 } }', () => ({ response: { status: 502 } })],
  ])('%s is retried as transient, not a sign-out', async (_, failure) => {
    let calls = 0;
    const onUnauthenticated = vi.fn();
    const client = createApiFetch({
      baseUrl: 'https://api.example.test',
      fetch: async (request) =>
        request.headers.get('authorization') === 'Bearer new'
          ? new Response('{}')
          : new Response('{}', { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }),
      auth: {
        session: createTokenSession({
          tokens: { accessToken: 'old', refreshToken: 'r' },
          refreshRetries: 1,
          random: () => 0,
          refresh: async () => {
            calls += 1;
            if (calls === 1) throw failure();
            return { accessToken: 'new' };
          },
        }),
      },
      onUnauthenticated,
    });
    expect(await client.get('me').json()).toEqual({});
    expect(calls).toBe(2);
    expect(onUnauthenticated).not.toHaveBeenCalled();
  });

  it('a refused refresh from another realm (400) signs out at once, with what was thrown as the cause', async () => {
    const thrown = runInNewContext('Object.assign(new Error("invalid_grant"), { status: 400 })') as object;
    const client = createApiFetch({
      baseUrl: 'https://api.example.test',
      fetch: async () => new Response('{}', { status: 401, headers: { 'www-authenticate': 'Bearer' } }),
      auth: {
        session: createTokenSession({
          tokens: { accessToken: 'old', refreshToken: 'r' },
          refresh: async () => {
            throw thrown;
          },
        }),
      },
    });
    const error = (await client.get('me').catch((e: unknown) => e)) as UnauthenticatedError;
    expect(error.reason).toBe('refresh_failed');
    expect(error.cause).toBe(thrown);
  });
});

describe('an invalid refresh result names the field that is wrong', () => {
  it.each([
    [{ accessToken: '' }, '`accessToken`'],
    [{ accessToken: 'a', refreshToken: 7 }, '`refreshToken`'],
    [{ accessToken: 'a', expiresAt: Number.NaN }, '`expiresAt`'],
  ])('%j', async (result, field) => {
    const client = createApiFetch({
      baseUrl: 'https://api.example.test',
      fetch: async () => new Response('{}', { status: 401, headers: { 'www-authenticate': 'Bearer' } }),
      auth: {
        session: createTokenSession({
          tokens: { accessToken: 'old' },
          refresh: async () => result as unknown as TokenSet,
        }),
      },
    });
    const error = (await client.get('me').catch((e: unknown) => e)) as UnauthenticatedError;
    expect(error.reason).toBe('refresh_failed');
    expect((error.cause as Error).message).toContain(field);
  });
});
