import type { TokenSet } from './tokens.js';

/** What one holder of a token session tells the others: new tokens, or a sign-out. */
export type CoordinationMessage =
  | {
      /** New tokens (a refresh, or `setTokens`). */
      type: 'tokens';
      /** The tokens to adopt. */
      tokens: TokenSet;
    }
  | {
      /** The session was signed out (`clear`, or a refused refresh). */
      type: 'signed-out';
    };

/** The state that decides "refresh or reuse", read and written only while holding the lock. */
export interface SharedState {
  /** The latest tokens any holder wrote; `null` when a holder signed out since; undefined when nothing was written. */
  read(): Promise<TokenSet | null | undefined>;
  /**
   * Record new tokens, or `null` for a sign-out; resolves once the next lock holder can read them. Under the lock, may
   * resolve `false`: refused because another holder wrote since this one read (its lock expired: fencing); the
   * session then takes what the state holds instead of its own result.
   */
  write(tokens: TokenSet | null): Promise<boolean | undefined>;
}

/**
 * How several holders of one token session (browser tabs, processes) refresh it one at a time: a lock, a state read
 * and written under it, and messages to the others. The session talks to this interface only.
 */
export interface Coordination {
  /**
   * Run `fn` holding the lock; waiting for the lock gives up when `signal` aborts (where the lock allows). Rejects with
   * `CoordinationUnavailableError`, before `fn` started, when the backend cannot be reached: the session then refreshes
   * within this process only and emits `coordination:fallback`. Any other rejection before `fn` ran fails that refresh
   * alone: nothing was spent, so the tokens stay as they are, here and for the others.
   */
  lock<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T>;
  /** The shared state; when absent, the session's own store is read and written under the lock. */
  readonly state?: SharedState;
  /** Tell the others. */
  post(message: CoordinationMessage): void;
  /** Hear the others. */
  listen(listener: (message: CoordinationMessage) => void): void;
  /** APIs this coordination lacks, so it coordinates nothing beyond this session (reported once as an event). */
  readonly missing?: readonly string[];
}

/** Run `fn` while holding the lock `name` (a distributed lock: Redlock, a database advisory lock). */
export type LockFunction = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

/**
 * Coordination over a lock the app supplies, for several processes sharing one `store`: the store is read and
 * written under the lock (tokens reach it before the lock is released), and no messages are sent.
 * @example coordination: lockCoordination((name, fn) => redlock.using([name], 10_000, fn))
 */
export function lockCoordination(lock: LockFunction, name = 'apifetch:refresh'): Coordination {
  return { lock: (fn) => lock(name, fn), post() {}, listen() {} };
}

/**
 * The coordination's backend (Redis) cannot be reached: thrown by `Coordination.lock` before it ran `fn`, so that the
 * session refreshes within this process (single flight) and says so with `coordination:fallback`, then tries the lock
 * again at its next refresh.
 */
export class CoordinationUnavailableError extends Error {
  /** Literal, so it survives minification: what `isCoordinationUnavailableError` matches across bundles. */
  override readonly name = 'CoordinationUnavailableError' as const;
  /** What could not be reached (`redis`): the event's `missing`. */
  readonly backend: string;
  constructor(backend: string, options?: ErrorOptions) {
    super(`${backend} cannot be reached: refreshing within this process only`, options);
    this.backend = backend;
  }
}

/** Matches on `name` as well, across bundles and realms. */
export const isCoordinationUnavailableError = (error: unknown): error is CoordinationUnavailableError =>
  error instanceof CoordinationUnavailableError ||
  (typeof error === 'object' && error !== null && (error as Error).name === 'CoordinationUnavailableError');
