import { describe, expect, it, vi } from 'vitest';
import { isFailure, type TokenGrant } from '../../src/auth/session.js';
import type { EventInput } from '../../src/events.js';
import {
  type Coordination,
  type CoordinationMessage,
  CoordinationUnavailableError,
  createApiFetch,
  createTokenSession,
  isCoordinationUnavailableError,
  type LockFunction,
  lockCoordination,
  memoryTokenStore,
  type RefreshContext,
  type TokenSet,
} from '../../src/index.js';
import { sessionKey } from '../../src/options.js';

/** A coordination whose backend can be taken away, with a shared record that may refuse a write (fencing). */
function fakeBackend(initial?: TokenSet) {
  const backend = {
    reachable: true,
    shared: initial as TokenSet | null | undefined,
    /** Answer the next write under the lock with `false`, after another holder wrote this. */
    fenceWith: undefined as TokenSet | undefined,
    locks: 0,
    posted: [] as CoordinationMessage[],
  };
  const coordination: Coordination = {
    async lock(fn) {
      if (!backend.reachable) throw new CoordinationUnavailableError('redis');
      backend.locks += 1;
      return fn();
    },
    state: {
      read: async () => backend.shared,
      write: async (tokens) => {
        if (backend.fenceWith) {
          backend.shared = backend.fenceWith;
          backend.fenceWith = undefined;
          return false;
        }
        backend.shared = tokens;
        return true;
      },
    },
    post: (message) => void backend.posted.push(message),
    listen() {},
  };
  return { backend, coordination };
}

function holder(coordination: Coordination, refresh: () => Promise<TokenSet>, tokens?: TokenSet) {
  const events: EventInput[] = [];
  const controller = createTokenSession({
    ...(tokens ? { tokens } : {}),
    refresh,
    refreshRetries: 0,
    coordination,
    random: () => 0,
  });
  const session = controller[sessionKey];
  session.subscribe?.(Object.assign((e: EventInput) => void events.push(e), { active: true }));
  const refreshRejected = async () => {
    const carried = (await session.acquire(undefined)) as TokenGrant;
    const grant = await session.recover(carried, [], undefined);
    if (isFailure(grant)) return grant.failure;
    // The replay was answered 2xx: the new token is confirmed, so the next 401 is an expiry, not a bad refresh.
    session.confirm?.(grant);
    return grant.token;
  };
  return { controller, events, refreshRejected };
}

describe('a coordination that cannot be reached, a fenced write, a new holder', () => {
  it('unreachable: the refresh runs in this process, says so, and the next refresh takes the lock again', async () => {
    const { backend, coordination } = fakeBackend();
    let n = 0;
    const refresh = vi.fn(async () => ({ accessToken: `at-${++n}`, refreshToken: `rt-${n}` }));
    const { events, refreshRejected } = holder(coordination, refresh, { accessToken: 'at-0', refreshToken: 'rt-0' });

    backend.reachable = false;
    expect(await refreshRejected()).toBe('at-1');
    expect(events.filter((e) => e.type === 'coordination:fallback')).toEqual([
      { type: 'coordination:fallback', missing: ['redis'] },
    ]);
    expect(backend.locks).toBe(0);
    // Not written for the others (nothing to write to), but told: the coordination keeps it for when it is back.
    expect(backend.shared).toEqual({ accessToken: 'at-0', refreshToken: 'rt-0' });
    expect(backend.posted).toEqual([{ type: 'tokens', tokens: expect.objectContaining({ accessToken: 'at-1' }) }]);

    backend.reachable = true;
    expect(await refreshRejected()).toBe('at-2');
    expect(backend.locks).toBe(1);
    expect(backend.shared?.accessToken).toBe('at-2');
    expect(events.filter((e) => e.type === 'coordination:fallback')).toHaveLength(1);
    expect(refresh).toHaveBeenCalledTimes(2);
  });

  it('fenced out (its lock expired and another holder wrote): the session takes the newer tokens', async () => {
    const { backend, coordination } = fakeBackend();
    const refresh = vi.fn(async () => ({ accessToken: 'mine', refreshToken: 'rt-mine' }));
    const { controller, events, refreshRejected } = holder(coordination, refresh, { accessToken: 'at-0' });
    backend.fenceWith = { accessToken: 'newer', refreshToken: 'rt-newer' };
    expect(await refreshRejected()).toBe('newer');
    expect(backend.shared?.accessToken).toBe('newer');
    expect((await controller.getTokens())?.accessToken).toBe('newer');
    // Not this holder's refresh to announce.
    expect(backend.posted).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(['refresh:start', 'tokens:updated']);
  });

  it('a new holder with nothing in its store joins the tokens in the shared state', async () => {
    const { coordination } = fakeBackend({ accessToken: 'shared', refreshToken: 'rt-shared' });
    const { controller } = holder(coordination, async () => ({ accessToken: 'unused' }));
    expect(await controller.getTokens()).toEqual({ accessToken: 'shared', refreshToken: 'rt-shared' });
  });

  it("a refresh overtaken by another holder's tokens while waiting for the lock counts nothing against the circuit breaker", async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let hear: ((message: CoordinationMessage) => void) | undefined;
    let shared: TokenSet | null | undefined;
    const coordination: Coordination = {
      lock: async (fn) => {
        await gate;
        return fn();
      },
      state: {
        read: async () => shared,
        write: async (tokens) => {
          shared = tokens;
        },
      },
      post() {},
      listen: (listener) => {
        hear = listener;
      },
    };
    const refresh = vi.fn(async () => ({ accessToken: 'mine' }));
    const events: EventInput[] = [];
    const controller = createTokenSession({ tokens: { accessToken: 'at-0' }, refresh, coordination, maxRefreshes: 1 });
    const session = controller[sessionKey];
    session.subscribe?.(Object.assign((e: EventInput) => void events.push(e), { active: true }));
    const carried = (await session.acquire(undefined)) as TokenGrant;
    const waiting = session.recover(carried, [], undefined);
    // Another process refreshed meanwhile: its message arrives, then the lock.
    shared = { accessToken: 'other-1' };
    hear?.({ type: 'tokens', tokens: { accessToken: 'other-1' } });
    open();
    expect(await waiting).toMatchObject({ token: 'other-1' });
    expect(events.find((e) => e.type === 'refresh:failure')).toMatchObject({ reason: 'superseded', attempt: 0 });
    session.confirm?.((await session.acquire(undefined)) as TokenGrant);
    // The next expiry: this process's one refresh of the window is still there.
    const next = (await session.acquire(undefined)) as TokenGrant;
    expect(await session.recover(next, [], undefined)).toMatchObject({ token: 'mine' });
    expect(refresh).toHaveBeenCalledTimes(1);
  });

  it('isCoordinationUnavailableError matches by name as well', () => {
    expect(isCoordinationUnavailableError(new CoordinationUnavailableError('redis'))).toBe(true);
    expect(isCoordinationUnavailableError({ name: 'CoordinationUnavailableError' })).toBe(true);
    expect(isCoordinationUnavailableError(new Error('redis'))).toBe(false);
    expect(new CoordinationUnavailableError('redis')).toMatchObject({
      backend: 'redis',
      name: 'CoordinationUnavailableError',
    });
  });
});

describe('lockCoordination', () => {
  it("runs fn under the app's lock, named apifetch:refresh unless named otherwise; it sends and hears nothing", async () => {
    const names: string[] = [];
    const lock: LockFunction = async (name, fn) => {
      names.push(name);
      return fn();
    };
    const signal = new AbortController().signal;
    expect(await lockCoordination(lock).lock(async () => 1, signal)).toBe(1);
    expect(await lockCoordination(lock, 'tenant-7:refresh').lock(async () => 2, signal)).toBe(2);
    expect(names).toEqual(['apifetch:refresh', 'tenant-7:refresh']);
    const coordination = lockCoordination(lock);
    expect(coordination.state).toBeUndefined();
    const heard = vi.fn();
    coordination.listen(heard);
    coordination.post({ type: 'signed-out' });
    expect(heard).not.toHaveBeenCalled();
  });
});

describe('a lock that fails before the refresh runs', () => {
  it('fails that refresh alone: nothing is spent, the tokens stay in the session and its store', async () => {
    const store = memoryTokenStore();
    const refresh = vi.fn(async (_ctx: RefreshContext) => ({ accessToken: 'at-2', refreshToken: 'rt-2' }));
    let locks = 0;
    const session = createTokenSession({
      tokens: { accessToken: 'at-1', refreshToken: 'rt-1' },
      store,
      refresh,
      coordination: lockCoordination(async (_name, fn) => {
        locks += 1;
        if (locks === 1) throw new Error('lock service misconfigured');
        return fn();
      }),
    });
    await expect(session.refresh()).rejects.toThrow('lock service misconfigured');
    expect(refresh).not.toHaveBeenCalled();
    await expect(session.getTokens()).resolves.toMatchObject({ accessToken: 'at-1', refreshToken: 'rt-1' });
    expect(await store.get()).toMatchObject({ accessToken: 'at-1', refreshToken: 'rt-1' });
    // Once the lock works again, the refresh runs, once, with the refresh token that was never spent.
    await expect(session.refresh()).resolves.toMatchObject({ accessToken: 'at-2' });
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(refresh.mock.calls[0]?.[0].tokens).toMatchObject({ refreshToken: 'rt-1' });
  });

  it('a 401 whose refresh times out waiting for the lock fails that request alone: the tokens stay', async () => {
    vi.useFakeTimers();
    try {
      const refresh = vi.fn(async (_ctx: RefreshContext) => ({ accessToken: 'at-2', refreshToken: 'rt-2' }));
      const session = createTokenSession({
        tokens: { accessToken: 'at-1', refreshToken: 'rt-1' },
        refresh,
        refreshTimeoutMs: 1000,
        // Another holder that never lets go of the lock.
        coordination: lockCoordination(() => new Promise<never>(() => {})),
      });
      const api = createApiFetch({
        baseUrl: 'https://api.example.test',
        auth: { session },
        retry: false,
        fetch: async () =>
          new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }),
      });
      const outcome = api.get('me').catch((error: unknown) => error);
      await vi.advanceTimersByTimeAsync(1000);
      expect(await outcome).toMatchObject({ name: 'UnauthenticatedError', reason: 'refresh_timeout' });
      expect(refresh).not.toHaveBeenCalled();
      await expect(session.getTokens()).resolves.toMatchObject({ accessToken: 'at-1', refreshToken: 'rt-1' });
    } finally {
      vi.useRealTimers();
    }
  });
});
