import pRetry from 'p-retry';
import { abortable, sleep } from '../abortable.js';
import type { ProofSigner } from '../auth/binder.js';
import type { AuthFailure, TokenGrant } from '../auth/session.js';
import type { Challenge } from '../challenge.js';
import type { Emit } from '../events.js';
import type { RefreshContext, ResolvedSessionOptions } from '../options.js';
import { backoffDelay } from '../retry/backoff.js';
import type { createBreaker } from './breaker.js';
import type { Coordination, CoordinationUnavailableError } from './coordination.js';
import {
  ForeignRefreshFailure,
  failureReason,
  InvalidRefreshResult,
  isTransientRefreshError,
  RefreshTimeout,
  Superseded,
  thrownOf,
} from './failures.js';
import type { TokenState } from './token-state.js';
import { lifeOf, type TokenSet, tokenSetProblem } from './tokens.js';

const refreshBackoff = { baseDelayMs: 200, maxDelayMs: 2000 };

/** What one refresh run needs from its session. */
export interface RefreshRunDeps {
  options: ResolvedSessionOptions;
  state: TokenState;
  breaker: ReturnType<typeof createBreaker>;
  coordination: Coordination | undefined;
  /** The session's store, guarded: never throws. */
  read(): Promise<TokenSet | undefined>;
  write(tokens: TokenSet | undefined): Promise<void>;
  /** Forget the tokens everywhere (store, shared state, the others). */
  signOut(): Promise<void>;
  emit: Emit;
  /** The proofs of `auth.dpop`, for the refresh's token request. */
  dpop?: ProofSigner;
}

/**
 * One refresh, for every request waiting on it: under the coordination's lock (if any), reuse tokens another holder
 * already got past `failedToken`, else call `refresh` (retried while transient, bounded by `refreshTimeoutMs`), and
 * write the result to the store and the shared state before the lock is released. A failure that is not transient
 * signs out.
 */
export async function runRefresh(
  deps: RefreshRunDeps,
  reason: RefreshContext['reason'],
  failedToken: string | undefined,
  challenge: Challenge | undefined,
): Promise<TokenGrant | AuthFailure> {
  const { options, state, coordination, emit } = deps;
  const refresh = options.refresh;
  if (!refresh) return { failure: 'no_refresh' };
  if (!deps.breaker.admit()) return { failure: 'refresh_limit' };
  const { now } = options;
  const started = now();
  emit({ type: 'refresh:start', reason });
  // `setTokens`, `clear` or another holder changed the tokens while this refresh ran: its result must not undo that
  // (a sign-out would otherwise be reverted, or another account's login overwritten).
  const startGeneration = state.generation;
  const superseded = () => state.generation !== startGeneration;
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let attempt = 0;
  let fromOtherHolder = false;
  /**
   * `fallback` when the coordination's backend could not be reached: this process refreshes on its own, with nothing
   * to read from the others nor to write for them.
   */
  const refreshHoldingLock = async (fallback: boolean): Promise<TokenSet> => {
    // A sign-out heard while waiting for the lock: nothing left to refresh.
    if (superseded()) throw new Superseded();
    const shared = fallback ? undefined : coordination?.state;
    const latest = fallback ? undefined : shared ? await shared.read() : await deps.read();
    if (failedToken !== undefined && !fallback) {
      // Another holder signed out (its refresh was refused) while this one waited: the refresh token it would spend
      // is the refused one. Sign out here too, without spending it.
      if (shared ? latest === null : latest === undefined) {
        state.forget();
        throw new Superseded();
      }
      // Another holder of the lock (another tab, another process) refreshed past the failed token: reuse its tokens
      // rather than spend a rotating refresh token twice. Tokens this session already moved past are older than its
      // own (it refreshed while the coordination was unreachable), not another holder's newer ones.
      if (latest && latest.accessToken !== failedToken && !state.replaced(latest.accessToken)) {
        fromOtherHolder = true;
        return latest;
      }
    }
    // Raced against the timeout's abort: a refresh function that ignores its signal must not hold the lock (and so
    // every later refresh, everywhere) for as long as it hangs.
    let next: TokenSet;
    try {
      next = await abortable(
        pRetry(
          () => {
            attempt += 1;
            const ctx: RefreshContext = { tokens: state.tokens, reason, signal: controller.signal };
            if (challenge) ctx.challenge = challenge;
            if (deps.dpop) ctx.dpop = deps.dpop;
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
            // Asked only when p-retry would retry: the backoff is waited here, so a failure that is not retried costs
            // no wait.
            shouldRetry: async ({ error, attemptNumber }) => {
              if (!isTransientRefreshError(error)) return false;
              await sleep(backoffDelay(attemptNumber, refreshBackoff, options.random), controller.signal);
              return true;
            },
          },
        ),
        controller.signal,
      );
    } catch (error) {
      // A refused refresh ends the session for every holder: record it before the lock is released, so the next
      // holder does not spend the same refused refresh token.
      if (!isTransientRefreshError(error) && !(error instanceof RefreshTimeout)) {
        await (shared ? shared.write(null) : deps.write(undefined));
      }
      throw error;
    }
    const problem = tokenSetProblem(next);
    if (problem !== undefined) throw new InvalidRefreshResult(problem);
    if (superseded()) throw new Superseded();
    const issued = lifeOf(next).issuedAt === undefined ? { ...next, issuedAt: now() } : next;
    // Written before the lock is released, so the next holder sees them and reuses them rather than spending the
    // rotated refresh token again.
    if (shared && (await shared.write(issued)) === false) {
      // Fenced out: this holder's lock expired and another one wrote a newer result, which stays.
      const newer = await shared.read();
      if (!newer) throw new Superseded();
      fromOtherHolder = true;
      await deps.write(newer);
      return newer;
    }
    await deps.write(issued);
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
    const locked = coordination
      ? coordination
          .lock(() => refreshHoldingLock(false), controller.signal)
          .catch((error: unknown) => {
            // By name, so the class stays out of bundles that only use the session.
            if ((error as Error | undefined)?.name !== 'CoordinationUnavailableError') throw error;
            // Said out loud: several processes falling back at once may each spend the refresh token.
            emit({ type: 'coordination:fallback', missing: [(error as CoordinationUnavailableError).backend] });
            return refreshHoldingLock(true);
          })
      : refreshHoldingLock(false);
    const next = await Promise.race([timeout, locked]);
    if (superseded()) throw new Superseded();
    state.adopt(next);
    state.distrustPastExpiry();
    state.unconfirmed = state.generation;
    if (fromOtherHolder) {
      // Not our refresh: it does not count against the circuit breaker.
      deps.breaker.forgive();
      emit({ type: 'tokens:updated', source: 'other-tab' });
    } else {
      coordination?.post({ type: 'tokens', tokens: next });
      emit({ type: 'refresh:success', durationMs: now() - started, attempt });
    }
    return { token: next.accessToken, generation: state.generation, refreshed: true };
  } catch (error) {
    const timedOut = error instanceof RefreshTimeout;
    emit({
      type: 'refresh:failure',
      durationMs: now() - started,
      attempt,
      reason: superseded() ? 'superseded' : failureReason(error),
    });
    if (superseded()) {
      // Overtaken before calling `refresh` (another holder's tokens arrived while this one waited for the lock): no
      // refresh happened here, so none counts against the circuit breaker.
      if (attempt === 0) deps.breaker.forgive();
      return (!state.signedOut && state.grant()) || { failure: 'signed_out' };
    }
    const failure = timedOut ? 'refresh_timeout' : 'refresh_failed';
    // `refresh` never ran (the lock or the shared state failed first, or the wait for the lock timed out): nothing was
    // spent or refused, so the tokens stay as they are, here and for every other holder; this request fails alone.
    if (attempt === 0) return { failure, cause: thrownOf(error) };
    // A proactive or manual refresh that failed transiently leaves a token that still works: keep it and try again
    // later. Anything else (a refused refresh token, a token the server refused) ends the session.
    const transient = timedOut || isTransientRefreshError(error);
    if (!(reason !== 'rejected' && transient && state.usable())) await deps.signOut();
    return { failure, cause: thrownOf(error) };
  } finally {
    clearTimeout(timer);
  }
}
