import isNetworkError from 'is-network-error';
import pRetry from 'p-retry';
import { abortable, sleep } from '../abortable.js';
import { bearerChallenge, type Challenge } from '../challenge.js';
import { InvalidOptionError } from '../errors.js';
import type { Emit } from '../events.js';
import { hidden } from '../options.js';
import { backoffDelay } from '../retry/backoff.js';
import type { Coordinator } from './cross-tab.js';
import { type AuthFailure, type AuthSession, createEpisodes, isFailure, type TokenGrant } from './session.js';
import { lifeOf, memoryTokenStore, type TokenSet, type TokenStore, tokenSetProblem, tokenSetShape } from './tokens.js';

/** What `auth.refresh` receives. */
export interface RefreshContext {
  /** The tokens held when the refresh started (undefined when there were none). */
  tokens: TokenSet | undefined;
  /** `expired`: proactive, before sending; `rejected`: after a 401; `manual`: `api.auth.refresh()`. */
  reason: 'expired' | 'rejected' | 'manual';
  /** The Bearer challenge of the 401 that caused it, when there was one. */
  challenge?: Challenge;
  /** Aborted when the refresh times out (`auth.refreshTimeoutMs`): pass it to your fetch. */
  signal: AbortSignal;
}

/** Run `fn` while holding the lock `name`. The default holds nothing: in-tab single flight is done anyway. */
export type LockFunction = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

export interface RefreshSessionOptions {
  tokens: TokenSet | undefined;
  store: TokenStore | undefined;
  refresh: ((ctx: RefreshContext) => Promise<TokenSet>) | undefined;
  refreshLeewayMs: number;
  refreshTimeoutMs: number;
  refreshRetries: number;
  maxRefreshes: number;
  refreshWindowMs: number;
  lock: LockFunction | undefined;
  /** Cross-tab coordination (Web Locks + IndexedDB + BroadcastChannel) when the store is shared by tabs. */
  coordinator: Coordinator | undefined;
  random: () => number;
  now: () => number;
  emit: Emit;
}

/** Controls of the client's tokens: `api.auth`. */
export interface AuthController {
  /** Sign in (or replace tokens): requests use them at once, and a signed-out client is signed in again. */
  setTokens(tokens: TokenSet): Promise<void>;
  /** The current tokens, or undefined. */
  getTokens(): Promise<TokenSet | undefined>;
  /** Sign out: forget the tokens; requests that need one fail fast until `setTokens`. */
  clear(): Promise<void>;
  /** Force a refresh now (joins one already running). Resolves with the new tokens; rejects when it fails. */
  refresh(): Promise<TokenSet>;
}

/** A session with a refresh function: the `AuthSession` the auth layer uses, and the `api.auth` controller. */
export interface RefreshSession extends AuthSession, AuthController {}

const refreshBackoff = { baseDelayMs: 200, maxDelayMs: 2000 };

/** Whether a refresh failure may pass if tried again: network errors, 408, 429 and 5xx. */
export function isTransientRefreshError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown };
  const status = statusOf(error);
  if (status !== undefined) return status === 408 || status === 429 || status >= 500;
  // A TypeError is a network failure only as fetch throws it (the test p-retry itself applies): any other is a bug in
  // the refresh function, which no retry mends.
  if (e.name === 'TypeError') return isNetworkError(error);
  return e.name === 'NetworkError' || e.name === 'TimeoutError';
}

class RefreshTimeout extends Error {
  override readonly name = 'RefreshTimeout';
}

class Superseded extends Error {
  override readonly name = 'Superseded';
}

class InvalidRefreshResult extends Error {
  override readonly name = 'InvalidRefreshResult';
  constructor(problem: string) {
    super(`auth.refresh must resolve to ${tokenSetShape}: ${problem}`);
  }
}

/**
 * A refresh failure that is not an `Error` of this realm (a plain `{ status: 503 }`, an Error from a `vm` context or
 * an iframe), wrapped so that p-retry, which retries only `instanceof Error`, still classifies it by its status.
 * `cause` is what was thrown.
 */
class ForeignRefreshFailure extends Error {
  override readonly name = 'ForeignRefreshFailure';
  readonly status: number | undefined;
  constructor(thrown: unknown) {
    super('auth.refresh failed', { cause: thrown });
    this.status = statusOf(thrown);
  }
}

/** The HTTP status a refresh failure carries (`status`, or `response.status` as ky's HTTPError has it). */
function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { status?: unknown; response?: { status?: unknown } };
  const status = typeof e.status === 'number' ? e.status : e.response?.status;
  return typeof status === 'number' ? status : undefined;
}

/** What was thrown, through the wrapper of a foreign failure. */
const thrownOf = (error: unknown) => (error instanceof ForeignRefreshFailure ? error.cause : error);

/** The `reason` of a `refresh:failure` event: `timeout`, `status <n>`, `network`, or the error's name. Never a token. */
function failureReason(error: unknown): string {
  if (error instanceof RefreshTimeout) return 'timeout';
  const status = statusOf(error);
  if (status !== undefined) return `status ${status}`;
  error = thrownOf(error);
  const e = (typeof error === 'object' && error !== null ? error : {}) as { name?: unknown };
  if (isTransientRefreshError(error)) return 'network';
  return typeof e.name === 'string' ? e.name : 'error';
}

/**
 * Tokens, generations and the single-flight refresh of one client (shared by its `extend`ed children).
 * Never a loop: one refresh answers every request waiting on it; a 401 on a token fresh from a refresh signs out
 * instead of refreshing again; a failed refresh signs out; at most `maxRefreshes` per `refreshWindowMs`.
 */
export function createRefreshSession(options: RefreshSessionOptions): RefreshSession {
  const { emit, now } = options;
  let store = options.store ?? memoryTokenStore();
  let tokens: TokenSet | undefined;
  let loaded: Promise<void> | undefined;
  let generation = 0;
  /** The generation a refresh produced and no response has yet accepted. */
  let unconfirmed: number | undefined;
  /** The generation whose token the server refused (401) and no refresh has replaced yet. */
  let refused: number | undefined;
  let signedOut = false;
  const episodes = createEpisodes();
  let inflight: Promise<TokenGrant | AuthFailure> | undefined;
  const refreshTimes: number[] = [];
  const lock: LockFunction = options.lock ?? ((_name, fn) => fn());
  const coordinator = options.coordinator;
  coordinator?.listen((message) => {
    if (message.type === 'tokens') {
      if (message.tokens.accessToken === tokens?.accessToken) return;
      adopt(message.tokens);
      unconfirmed = undefined;
      emit({ type: 'tokens:updated', source: 'other-tab' });
    } else {
      tokens = undefined;
      signedOut = true;
      generation += 1;
      emit({ type: 'signed-out', source: 'other-tab' });
    }
  });
  const lockName = `apifetch:refresh:${store.key ?? 'memory'}`;

  const fallBack = (operation: 'get' | 'set' | 'clear', error: unknown) => {
    emit({ type: 'store:fallback', operation, error: error instanceof Error ? error.name : 'Error' });
    store = memoryTokenStore(tokens);
  };
  const storeGet = async (): Promise<TokenSet | undefined> => {
    try {
      return (await store.get()) ?? undefined;
    } catch (error) {
      fallBack('get', error);
      return tokens;
    }
  };
  const storeWrite = async (next: TokenSet | undefined) => {
    try {
      await (next ? store.set(next) : store.clear());
    } catch (error) {
      fallBack(next ? 'set' : 'clear', error);
    }
  };
  const load = () => {
    loaded ??= (async () => {
      if (options.tokens) {
        adopt(options.tokens);
        await storeWrite(options.tokens);
        // The tabs' shared record may hold an earlier session's tokens: a refresh would take them for another
        // tab's newer ones.
        await coordinator?.state.write(options.tokens);
        return;
      }
      const stored = await storeGet();
      if (stored && !tokens) adopt(stored);
    })();
    return loaded;
  };
  /** When the current token was issued, if known: a short-lived token is refreshed at half its life, not at once. */
  let issuedAt: number | undefined;
  /** Expiry of the current access token, decoded once per token rather than once per request. */
  let expiry: number | undefined;
  const adopt = (next: TokenSet) => {
    tokens = next;
    ({ expiresAt: expiry, issuedAt } = lifeOf(next));
    generation += 1;
    signedOut = false;
    episodes.reset();
  };
  const grant = (): TokenGrant | undefined => (tokens ? { token: tokens.accessToken, generation } : undefined);
  /** Whether the current token may still be sent although no refresh replaced it: not refused, not known expired. */
  const usable = () => !signedOut && tokens !== undefined && refused !== generation && (expiry ?? Infinity) > now();
  /**
   * A refresh that produced no token (failed transiently, withheld by the circuit breaker) still leaves a request
   * the current token when that token works; every waiter on the refresh gets the same answer.
   */
  const settle = (result: TokenGrant | AuthFailure): TokenGrant | AuthFailure =>
    isFailure(result) && usable() ? (grant() ?? result) : result;
  /** Forget the tokens here, in the store, and in the other tabs (which fail fast from then on). */
  const signOut = async () => {
    tokens = undefined;
    signedOut = true;
    generation += 1;
    await storeWrite(undefined);
    await coordinator?.state.write(undefined);
    coordinator?.post({ type: 'signed-out' });
  };

  async function runRefresh(
    reason: RefreshContext['reason'],
    failedToken: string | undefined,
    challenge: Challenge | undefined,
  ): Promise<TokenGrant | AuthFailure> {
    const refresh = options.refresh;
    if (!refresh) return { failure: 'no_refresh' };
    const time = now();
    while (refreshTimes.length > 0 && refreshTimes[0]! <= time - options.refreshWindowMs) refreshTimes.shift();
    if (refreshTimes.length >= options.maxRefreshes) return { failure: 'refresh_limit' };
    refreshTimes.push(time);

    emit({ type: 'refresh:start', reason });
    // `setTokens`, `clear` or another tab changed the tokens while this refresh ran: its result must not undo that
    // (a sign-out would otherwise be reverted, or another account's login overwritten).
    const startGeneration = generation;
    const superseded = () => generation !== startGeneration;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let attempt = 0;
    let fromOtherHolder = false;
    const refreshHoldingLock = async (): Promise<TokenSet> => {
      // Another holder of the lock (another tab, another process) may have refreshed past the failed token:
      // reuse its tokens rather than spend a rotating refresh token twice.
      const latest = coordinator ? await coordinator.state.read() : await storeGet();
      if (latest && failedToken !== undefined && latest.accessToken !== failedToken) {
        fromOtherHolder = true;
        return latest;
      }
      // Raced against the timeout's abort: a refresh function that ignores its signal must not hold the lock (and
      // so every later refresh, in every tab) for as long as it hangs.
      const next = await abortable(
        pRetry(
          () => {
            attempt += 1;
            const ctx: RefreshContext = {
              tokens,
              reason,
              ...(challenge ? { challenge } : {}),
              signal: controller.signal,
            };
            return Promise.resolve(ctx)
              .then(refresh)
              .catch((thrown: unknown) => {
                throw thrown instanceof Error ? thrown : new ForeignRefreshFailure(thrown);
              });
          },
          {
            retries: options.refreshRetries,
            minTimeout: 0,
            maxTimeout: 0,
            signal: controller.signal,
            // Asked only when p-retry would retry: the backoff is waited here, so a failure that is not retried
            // costs no wait.
            shouldRetry: async ({ error, attemptNumber }) => {
              if (!isTransientRefreshError(error)) return false;
              await sleep(backoffDelay(attemptNumber, refreshBackoff, options.random), controller.signal);
              return true;
            },
          },
        ),
        controller.signal,
      );
      const problem = tokenSetProblem(next);
      if (problem !== undefined) throw new InvalidRefreshResult(problem);
      if (superseded()) throw new Superseded();
      const issued = lifeOf(next).issuedAt === undefined ? { ...next, issuedAt: now() } : next;
      // Written before the lock is released, so the next holder (another tab, another process sharing the store)
      // sees them and reuses them rather than spending the rotated refresh token again.
      await storeWrite(issued);
      await coordinator?.state.write(issued);
      return issued;
    };
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new RefreshTimeout(`refresh took longer than ${options.refreshTimeoutMs} ms`);
        controller.abort(error);
        reject(error);
      }, options.refreshTimeoutMs);
    });
    try {
      const next = await Promise.race([
        timeout,
        coordinator ? coordinator.lock(refreshHoldingLock, controller.signal) : lock(lockName, refreshHoldingLock),
      ]);
      if (superseded()) throw new Superseded();
      adopt(next);
      // A token just issued cannot have expired: this clock disagrees with the issuer's. Its expiry would make every
      // request refresh again, so rely on the server's 401 for this token instead.
      if (expiry !== undefined && expiry <= now()) expiry = undefined;
      unconfirmed = generation;
      if (fromOtherHolder) {
        // Not our refresh: it does not count against the circuit breaker.
        refreshTimes.pop();
        emit({ type: 'tokens:updated', source: 'other-tab' });
      } else {
        coordinator?.post({ type: 'tokens', tokens: next });
        emit({ type: 'refresh:success', durationMs: now() - time, attempt });
      }
      return { token: next.accessToken, generation, refreshed: true };
    } catch (error) {
      const timedOut = error instanceof RefreshTimeout;
      emit({
        type: 'refresh:failure',
        durationMs: now() - time,
        attempt,
        reason: superseded() ? 'superseded' : failureReason(error),
      });
      if (superseded()) return (!signedOut && grant()) || { failure: 'signed_out' };
      // A proactive or manual refresh that failed transiently leaves a token that still works: keep it and try
      // again later. Anything else (a refused refresh token, a token the server refused) ends the session.
      const transient = timedOut || isTransientRefreshError(error);
      if (!(reason !== 'rejected' && transient && usable())) await signOut();
      return { failure: timedOut ? 'refresh_timeout' : 'refresh_failed', cause: thrownOf(error) };
    } finally {
      clearTimeout(timer);
    }
  }

  const singleFlight = (
    reason: RefreshContext['reason'],
    failedToken: string | undefined,
    challenge?: Challenge,
  ): Promise<TokenGrant | AuthFailure> => {
    inflight ??= runRefresh(reason, failedToken, challenge).finally(() => {
      inflight = undefined;
    });
    return inflight;
  };

  return {
    async acquire(signal) {
      await load();
      if (inflight) return settle(await abortable(inflight, signal));
      if (signedOut) return { failure: 'signed_out' };
      if (!tokens) return undefined;
      if (!options.refresh) return grant();
      // The server refused this token and the circuit breaker held the refresh back: never send it again as is.
      // Refresh first, which fails fast (`refresh_limit`) while the breaker is still open.
      if (refused === generation) return settle(await abortable(singleFlight('rejected', tokens.accessToken), signal));
      // A token's life counts from its issue (`issuedAt`, the JWT `iat`, or the moment a refresh returned it), never
      // from when this client adopted it: a token restored with 1 s left of 15 minutes is due, not a 1-second token.
      const leeway =
        expiry === undefined
          ? 0
          : issuedAt === undefined
            ? options.refreshLeewayMs
            : Math.min(options.refreshLeewayMs, (expiry - issuedAt) / 2);
      if (expiry !== undefined && expiry - now() <= leeway) {
        return settle(await abortable(singleFlight('expired', tokens.accessToken), signal));
      }
      return grant();
    },

    async recover(rejected, challenges, signal) {
      const bearer = bearerChallenge(challenges);
      if (bearer?.error === 'insufficient_user_authentication') {
        return {
          failure: 'step_up_required',
          ...(bearer.acrValues ? { acrValues: bearer.acrValues } : {}),
          ...(bearer.maxAge !== undefined ? { maxAge: bearer.maxAge } : {}),
        };
      }
      if (challenges.length > 0 && !bearer) return { failure: 'unsupported_challenge' };
      if (rejected.generation === generation) refused = generation;
      if (inflight) return settle(await abortable(inflight, signal));
      if (signedOut) return { failure: 'signed_out' };
      // The request carried an older token and the current one was never refused: replay with it, no refresh.
      if (refused !== generation) return grant() ?? { failure: 'signed_out' };
      if (unconfirmed === generation) {
        await signOut();
        return { failure: 'rejected_after_refresh' };
      }
      const challenge = challenges.find((c) => c.scheme === 'bearer');
      return settle(await abortable(singleFlight('rejected', tokens?.accessToken, challenge), signal));
    },

    confirm(accepted) {
      if (accepted.generation === unconfirmed) unconfirmed = undefined;
    },

    async rejectedAfterRefresh(rejected) {
      // Only a token that no response has accepted yet is known bad; a confirmed one failed for this request alone.
      if (rejected.generation === generation && unconfirmed === generation) await signOut();
    },

    claimEpisode: episodes.claim,

    async setTokens(next) {
      const problem = tokenSetProblem(next);
      if (problem !== undefined) {
        throw new InvalidOptionError('auth.setTokens(tokens)', `${tokenSetShape}: ${problem}`, hidden(next));
      }
      await load();
      adopt(next);
      unconfirmed = undefined;
      await storeWrite(next);
      await coordinator?.state.write(next);
      coordinator?.post({ type: 'tokens', tokens: next });
      emit({ type: 'tokens:updated', source: 'local' });
    },

    async getTokens() {
      await load();
      return tokens && { ...tokens };
    },

    async clear() {
      await load();
      await signOut();
      emit({ type: 'signed-out', source: 'local' });
    },

    async refresh() {
      await load();
      const result = await singleFlight('manual', undefined);
      if (isFailure(result)) throw result.cause ?? new Error(`refresh failed: ${result.failure}`);
      return { ...(tokens as TokenSet) };
    },
  };
}
