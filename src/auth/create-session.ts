import type { Emit } from '../events.js';
import { maxTimerMs, type ResolvedOptions } from '../options.js';
import { browserTabApis, type Coordinator, createCoordinator, missingTabApis } from './cross-tab.js';
import { type AuthController, createRefreshSession } from './refresh.js';
import { type AuthSession, createAccessTokenSession } from './session.js';

/** The token session: the app's own `getAccessToken`, or tokens held and refreshed by apifetch. */
export function createSession(
  auth: ResolvedOptions['auth'],
  now: () => number,
  emit: Emit,
): { session: AuthSession; controller: AuthController } {
  if (auth !== false && auth.getAccessToken) {
    const session = createAccessTokenSession(auth.getAccessToken);
    const unsupported = () =>
      Promise.reject(new TypeError('api.auth manages tokens only when auth.getAccessToken is not set'));
    return {
      session,
      controller: {
        setTokens: unsupported,
        getTokens: async () => undefined,
        clear: unsupported,
        refresh: unsupported,
      },
    };
  }
  const a = auth === false ? {} : auth;
  const session = createRefreshSession({
    coordinator: a.lock ? undefined : coordinatorFor(a.store?.key, emit),
    tokens: a.tokens,
    store: a.store,
    refresh: a.refresh,
    refreshLeewayMs: a.refreshLeewayMs ?? 30_000,
    refreshTimeoutMs: Math.min(a.refreshTimeoutMs ?? 5000, maxTimerMs),
    refreshRetries: a.refreshRetries ?? 2,
    maxRefreshes: a.maxRefreshes ?? 3,
    refreshWindowMs: a.refreshWindowMs ?? 60_000,
    lock: a.lock,
    random: a.random ?? Math.random,
    now,
    emit,
  });
  return { session, controller: session };
}

/** Cross-tab coordination for a store shared by tabs (one with a `key`), where the browser has what it needs. */
function coordinatorFor(key: string | undefined, emit: Emit): Coordinator | undefined {
  if (key === undefined) return undefined;
  const apis = browserTabApis();
  const missing = missingTabApis(apis);
  if (missing.length > 0) {
    emit({ type: 'coordination:fallback', missing });
    return undefined;
  }
  return createCoordinator(key, apis);
}
