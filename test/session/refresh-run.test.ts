import { describe, expect, it } from 'vitest';
import {
  createApiFetch,
  createTokenSession,
  type LockFunction,
  lockCoordination,
  type TokenSet,
  type TokenStore,
  type UnauthenticatedError,
} from '../../src/index.js';
import { json, startServer } from '../helpers/server.js';

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
