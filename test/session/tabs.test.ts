import { describe, expect, it, vi } from 'vitest';
import { isFailure, type TokenGrant } from '../../src/auth/session.js';
import {
  type ApiFetchEvent,
  type Coordination as Coordinator,
  createApiFetch,
  createTokenSession,
  storageTokenStore,
  type CoordinationMessage as TabMessage,
  type TokenSessionOptions,
  type TokenSet,
  tabCoordination,
} from '../../src/index.js';
import { sessionKey } from '../../src/options.js';
import { createCoordinator, missingTabApis } from '../../src/session/tabs.js';
import { deferred } from '../helpers/deferred.js';

/** Tabs of one origin, faked: one mutex, one channel, one shared record. */
function fakeBrowser() {
  let tail: Promise<unknown> = Promise.resolve();
  const listeners = new Set<(m: TabMessage) => void>();
  let shared: TokenSet | null | undefined;
  const coordinator = (): Coordinator => {
    let own: ((m: TabMessage) => void) | undefined;
    return {
      lock: (fn) => {
        const run = tail.then(fn, fn);
        tail = run.catch(() => {});
        return run;
      },
      state: {
        read: async () => shared,
        write: async (tokens) => {
          shared = tokens;
        },
      },
      post: (message) => {
        for (const l of listeners) if (l !== own) queueMicrotask(() => l(structuredClone(message)));
      },
      listen: (listener) => {
        own = listener;
        listeners.add(listener);
      },
    };
  };
  return { coordinator };
}

function tab(coordinator: Coordinator, refresh: TokenSessionOptions['refresh'], tokens: TokenSet) {
  const events: ApiFetchEvent['type'][] = [];
  const controller = createTokenSession({
    tokens,
    ...(refresh ? { refresh } : {}),
    refreshLeewayMs: 0,
    refreshRetries: 0,
    coordination: coordinator,
    random: () => 0,
  });
  const session = controller[sessionKey];
  session.subscribe?.(
    Object.assign((e: { type: ApiFetchEvent['type'] }) => void events.push(e.type), { active: true }),
  );
  return { session, controller, events };
}

/** Every tab sends its token, is refused, and recovers: all at once. */
const recoverAll = (tabs: readonly { session: ReturnType<typeof tab>['session'] }[]) =>
  Promise.all(
    tabs.map(async ({ session }) => {
      const carried = (await session.acquire(undefined)) as TokenGrant;
      return session.recover(carried, [], undefined);
    }),
  );

describe('cross-tab refresh (fake locks, channel and shared state)', () => {
  it('five tabs with the same expired token: one refresh, the others reuse its tokens', async () => {
    const browser = fakeBrowser();
    let refreshes = 0;
    // The refresh is held until the test lets it finish, so the other tabs meet its lock while it runs.
    const gate = deferred();
    const refresh = vi.fn(async ({ tokens }: { tokens: TokenSet | undefined }) => {
      refreshes += 1;
      await gate.promise;
      return { accessToken: `at-${refreshes}`, refreshToken: `rt-${refreshes}-from-${tokens?.refreshToken}` };
    });
    const tabs = Array.from({ length: 5 }, () =>
      tab(browser.coordinator(), refresh, { accessToken: 'old', refreshToken: 'rt-0' }),
    );
    const recovering = recoverAll(tabs);
    await vi.waitFor(() => expect(refresh).toHaveBeenCalledTimes(1));
    gate.release();
    const grants = await recovering;
    expect(refreshes).toBe(1);
    expect(grants.map((g) => (isFailure(g) ? g.failure : g.token))).toEqual(Array(5).fill('at-1'));
    expect(tabs.filter((t) => t.events.includes('refresh:success'))).toHaveLength(1);
    // Every tab ends on the one refreshed token set.
    for (const { controller } of tabs) expect((await controller.getTokens())?.refreshToken).toBe('rt-1-from-rt-0');
  });

  it('five tabs with a refused refresh token: it is spent once, and every tab ends signed out', async () => {
    const browser = fakeBrowser();
    const gate = deferred();
    const refresh = vi.fn(async () => {
      await gate.promise;
      throw Object.assign(new Error('invalid_grant'), { status: 400 });
    });
    const tabs = Array.from({ length: 5 }, () =>
      tab(browser.coordinator(), refresh, { accessToken: 'old', refreshToken: 'rt-refused' }),
    );
    const recovering = recoverAll(tabs);
    await vi.waitFor(() => expect(refresh).toHaveBeenCalledTimes(1));
    gate.release();
    const results = await recovering;
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(results.map((r) => (isFailure(r) ? r.failure : 'token'))).toEqual([
      'refresh_failed',
      'signed_out',
      'signed_out',
      'signed_out',
      'signed_out',
    ]);
    for (const { session } of tabs) expect(await session.acquire(undefined)).toEqual({ failure: 'signed_out' });
  });

  it('a sign-out in one tab makes the others fail fast', async () => {
    const browser = fakeBrowser();
    const a = tab(browser.coordinator(), undefined, { accessToken: 'x' });
    const b = tab(browser.coordinator(), undefined, { accessToken: 'x' });
    await b.session.acquire(undefined);
    await a.controller.clear();
    await vi.waitFor(() => expect(b.events).toContain('signed-out'));
    expect(await b.session.acquire(undefined)).toEqual({ failure: 'signed_out' });
  });

  it('a refresh that fails in one tab signs out the others too', async () => {
    const browser = fakeBrowser();
    const refused = async (): Promise<TokenSet> => {
      throw Object.assign(new Error('invalid_grant'), { status: 400 });
    };
    const a = tab(browser.coordinator(), refused, { accessToken: 'x' });
    const b = tab(browser.coordinator(), refused, { accessToken: 'x' });
    await b.session.acquire(undefined);
    const grant = (await a.session.acquire(undefined)) as TokenGrant;
    expect(await a.session.recover(grant, [], undefined)).toMatchObject({ failure: 'refresh_failed' });
    await vi.waitFor(() => expect(b.events).toContain('signed-out'));
    expect(await b.session.acquire(undefined)).toEqual({ failure: 'signed_out' });
  });

  it("a session started with tokens never takes an earlier session's shared record for another tab's newer tokens", async () => {
    const browser = fakeBrowser();
    // What a previous visit left in the tabs' shared record (IndexedDB outlives the page).
    await browser.coordinator().state?.write({ accessToken: 'previous-session' });
    const refresh = vi.fn(async () => ({ accessToken: 'fresh' }));
    const { session } = tab(browser.coordinator(), refresh, { accessToken: 'now' });
    const grant = (await session.acquire(undefined)) as TokenGrant;
    expect(grant.token).toBe('now');
    expect(await session.recover(grant, [], undefined)).toMatchObject({ token: 'fresh', refreshed: true });
    expect(refresh).toHaveBeenCalledTimes(1);
  });

  it('new tokens set in one tab are used by the others at once', async () => {
    const browser = fakeBrowser();
    const a = tab(browser.coordinator(), undefined, { accessToken: 'x' });
    const b = tab(browser.coordinator(), undefined, { accessToken: 'x' });
    await b.session.acquire(undefined);
    await a.controller.setTokens({ accessToken: 'fresh' });
    await vi.waitFor(async () => expect(((await b.session.acquire(undefined)) as TokenGrant).token).toBe('fresh'));
  });
});

describe('coordination setup', () => {
  it('names what is missing', () => {
    expect(missingTabApis({ locks: undefined, BroadcastChannel: undefined, indexedDB: undefined })).toEqual([
      'navigator.locks',
      'BroadcastChannel',
      'indexedDB',
    ]);
  });

  it('uses Web Locks with an abort signal and a channel per store key', async () => {
    const requests: string[] = [];
    const posted: unknown[] = [];
    class Channel {
      onmessage: ((e: MessageEvent) => void) | null = null;
      constructor(readonly name: string) {
        requests.push(`channel ${name}`);
      }
      postMessage(m: unknown) {
        posted.push(m);
      }
    }
    const coordinator = createCoordinator(
      'k',
      {
        locks: {
          request: (async (name: string, options: { signal?: AbortSignal }, fn: () => Promise<unknown>) => {
            requests.push(`lock ${name} ${options.signal ? 'with signal' : ''}`);
            return fn();
          }) as never,
        },
        BroadcastChannel: Channel as never,
        indexedDB: undefined,
      },
      { read: async () => undefined, write: async () => {} },
    );
    expect(await coordinator.lock(async () => 42, new AbortController().signal)).toBe(42);
    coordinator.post({ type: 'signed-out' });
    expect(requests).toEqual(['channel apifetch:k', 'lock apifetch:refresh:k with signal']);
    expect(posted).toEqual([{ type: 'signed-out' }]);
  });

  it('falls back to in-tab single flight, and says so, where IndexedDB or Web Locks are missing', async () => {
    const events: ApiFetchEvent[] = [];
    const map = new Map<string, string>();
    const storage = {
      getItem: (k: string) => map.get(k) ?? null,
      setItem: (k: string, v: string) => void map.set(k, v),
      removeItem: (k: string) => void map.delete(k),
    };
    const session = createTokenSession({ store: storageTokenStore(storage, 'k'), coordination: tabCoordination('k') });
    createApiFetch({ auth: { session }, onEvent: (e) => events.push(e) });
    await session.getTokens();
    // Node and happy-dom have no IndexedDB.
    expect(events.find((e) => e.type === 'coordination:fallback')).toMatchObject({
      missing: expect.arrayContaining(['indexedDB']),
    });
  });
});

describe('a lock held too long in another tab', () => {
  it('does not freeze this tab: the wait ends at refreshTimeoutMs with refresh_timeout', async () => {
    vi.useFakeTimers();
    try {
      let aborted = false;
      const stuck: Coordinator = {
        lock: (_fn, signal) =>
          new Promise((_, reject) => {
            signal.addEventListener('abort', () => {
              aborted = true;
              reject(signal.reason);
            });
          }),
        state: { read: async () => undefined, write: async () => {} },
        post: () => {},
        listen: () => {},
      };
      const refresh = vi.fn(async () => ({ accessToken: 'never' }));
      const { session } = tab(stuck, refresh, { accessToken: 'old' });
      const carried = (await session.acquire(undefined)) as TokenGrant;
      const result = session.recover(carried, [], undefined);
      await vi.advanceTimersByTimeAsync(5000);
      expect(await result).toMatchObject({ failure: 'refresh_timeout' });
      expect(aborted).toBe(true);
      expect(refresh).not.toHaveBeenCalled();
    } finally {
      vi.useRealTimers();
    }
  });
});
