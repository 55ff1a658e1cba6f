import { abortable } from '../abortable.js';
import { type AuthFailure, type AuthSession, isFailure, stepUpDemand, type TokenGrant } from '../auth/session.js';
import type { Challenge } from '../challenge.js';
import { InvalidOptionError } from '../errors.js';
import type { Emit, EventInput } from '../events.js';
import {
  hidden,
  type RefreshContext,
  resolveSessionOptions,
  sessionKey,
  type TokenSession,
  type TokenSessionOptions,
} from '../options.js';
import { createBreaker } from './breaker.js';
import { type RefreshRunDeps, runRefresh } from './refresh-run.js';
import { TokenState } from './token-state.js';
import { memoryTokenStore, type TokenSet, tokenSetProblem, tokenSetShape } from './tokens.js';

/**
 * A token session: tokens held by apifetch and refreshed by `refresh`, for `createApiFetch({ auth: { session } })`.
 * One refresh in flight for every client that shares the session; a 401 on a token fresh from a refresh signs out
 * instead of refreshing again; a failed refresh signs out; at most `maxRefreshes` per `refreshWindowMs`. The session
 * is also the controller: `setTokens`, `getTokens`, `clear`, `refresh` (and `api.auth` returns it).
 * @example
 * const session = createTokenSession({ tokens, refresh: async ({ tokens, signal }) => renew(tokens, signal) });
 * const api = createApiFetch({ baseUrl, auth: { session }, onUnauthenticated: showLogin });
 */
export function createTokenSession(input: TokenSessionOptions = {}): TokenSession {
  const options = resolveSessionOptions(input);
  const { coordination } = options;
  const state = new TokenState(options.now);
  const listeners = new Set<Emit>();
  // The events of a session go to every client using it.
  const emit = Object.defineProperty(
    (event: EventInput) => {
      for (const listener of listeners) listener(event);
    },
    'active',
    {
      get: () => {
        for (const listener of listeners) if (listener.active) return true;
        return false;
      },
    },
  ) as Emit;

  let { store } = options;
  const fallBack = (operation: 'get' | 'set' | 'clear', error: unknown) => {
    emit({ type: 'store:fallback', operation, error: error instanceof Error ? error.name : 'Error' });
    store = memoryTokenStore(state.tokens);
  };
  const read = async (): Promise<TokenSet | undefined> => {
    try {
      return (await store.get()) ?? undefined;
    } catch (error) {
      fallBack('get', error);
      return state.tokens;
    }
  };
  const write = async (next: TokenSet | undefined) => {
    try {
      await (next ? store.set(next) : store.clear());
    } catch (error) {
      fallBack(next ? 'set' : 'clear', error);
    }
  };
  /** Forget the tokens here, in the store, and in the other holders (which fail fast from then on). */
  const signOut = async () => {
    state.forget();
    await write(undefined);
    await coordination?.state?.write(null);
    coordination?.post({ type: 'signed-out' });
  };

  coordination?.listen((message) => {
    if (message.type === 'tokens') {
      if (message.tokens.accessToken === state.tokens?.accessToken) return;
      state.adopt(message.tokens);
      state.unconfirmed = undefined;
      emit({ type: 'tokens:updated', source: 'other-tab' });
    } else {
      state.forget();
      emit({ type: 'signed-out', source: 'other-tab' });
    }
  });

  let loaded: Promise<void> | undefined;
  /** Set once loading is done, so the hot path skips awaiting it. */
  let ready = false;
  const load = () => {
    loaded ??= (async () => {
      if (coordination?.missing) emit({ type: 'coordination:fallback', missing: coordination.missing });
      if (options.tokens) {
        state.adopt(options.tokens);
        await write(options.tokens);
        // The shared state may hold an earlier session's tokens: a refresh would take them for another holder's
        // newer ones.
        await coordination?.state?.write(options.tokens);
        return;
      }
      // A new holder (a restarted process) joins the session the others share.
      const stored = (await read()) ?? (await coordination?.state?.read().catch(() => undefined));
      if (stored && !state.tokens) state.adopt(stored);
    })().finally(() => {
      ready = true;
    });
    return loaded;
  };

  const deps: RefreshRunDeps = {
    options,
    state,
    breaker: createBreaker(options.maxRefreshes, options.refreshWindowMs, options.now),
    coordination,
    read,
    write,
    signOut,
    emit,
  };
  let inflight: Promise<TokenGrant | AuthFailure> | undefined;
  const singleFlight = (
    reason: RefreshContext['reason'],
    failedToken: string | undefined,
    challenge?: Challenge,
  ): Promise<TokenGrant | AuthFailure> => {
    inflight ??= runRefresh(deps, reason, failedToken, challenge).finally(() => {
      inflight = undefined;
    });
    return inflight;
  };
  /**
   * A refresh that produced no token (failed transiently, withheld by the circuit breaker) still leaves a request the
   * current token when that token works; every waiter on the refresh gets the same answer.
   */
  const settle = (result: TokenGrant | AuthFailure): TokenGrant | AuthFailure =>
    isFailure(result) && state.usable() ? (state.grant() ?? result) : result;

  const layerSide: AuthSession = {
    subscribe(listener) {
      listeners.add(listener);
    },

    bind(signer) {
      deps.dpop = signer;
    },

    async acquire(signal) {
      if (!ready) await load();
      if (inflight) return settle(await abortable(inflight, signal));
      if (state.signedOut) return { failure: 'signed_out' };
      const tokens = state.tokens;
      if (!tokens) return undefined;
      if (!options.refresh) return state.grant();
      // The server refused this token and the circuit breaker held the refresh back: never send it again as is.
      // Refresh first, which fails fast (`refresh_limit`) while the breaker is still open.
      if (state.refused === state.generation) {
        return settle(await abortable(singleFlight('rejected', tokens.accessToken), signal));
      }
      if (state.due(options.refreshLeewayMs)) {
        return settle(await abortable(singleFlight('expired', tokens.accessToken), signal));
      }
      return state.grant();
    },

    async recover(rejected, challenges, signal) {
      const stepUp = stepUpDemand(challenges);
      if (stepUp) return stepUp;
      // Bound tokens are challenged with the DPoP scheme, bearer tokens with Bearer; any other scheme is not ours.
      const scheme = deps.dpop ? 'dpop' : 'bearer';
      const challenge = challenges.find((c) => c.scheme === scheme);
      if (challenges.length > 0 && !challenge) return { failure: 'unsupported_challenge' };
      if (rejected.generation === state.generation) state.refused = state.generation;
      if (inflight) return settle(await abortable(inflight, signal));
      if (state.signedOut) return { failure: 'signed_out' };
      // The request carried an older token and the current one was never refused: replay with it, no refresh.
      if (state.refused !== state.generation) return state.grant() ?? { failure: 'signed_out' };
      if (state.unconfirmed === state.generation) {
        await signOut();
        return { failure: 'rejected_after_refresh' };
      }
      return settle(await abortable(singleFlight('rejected', state.tokens?.accessToken, challenge), signal));
    },

    confirm(accepted) {
      if (accepted.generation === state.unconfirmed) state.unconfirmed = undefined;
    },

    async rejectedAfterRefresh(rejected) {
      // Only a token that no response has accepted yet is known bad; a confirmed one failed for this request alone.
      if (rejected.generation === state.generation && state.unconfirmed === state.generation) await signOut();
    },

    claimEpisode: (reason) => state.episodes.claim(reason),
  };

  return {
    [sessionKey]: layerSide,

    async setTokens(next) {
      const problem = tokenSetProblem(next);
      if (problem !== undefined) {
        throw new InvalidOptionError('setTokens(tokens)', `${tokenSetShape}: ${problem}`, hidden(next));
      }
      await load();
      state.adopt(next);
      state.unconfirmed = undefined;
      await write(next);
      await coordination?.state?.write(next);
      coordination?.post({ type: 'tokens', tokens: next });
      emit({ type: 'tokens:updated', source: 'local' });
    },

    async getTokens() {
      await load();
      return state.tokens && { ...state.tokens };
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
      return { ...(state.tokens as TokenSet) };
    },
  };
}
