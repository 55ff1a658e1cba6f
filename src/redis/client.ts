import type { RedisSubscriberClient } from '../options.js';

/** Arguments of `EVAL` / `EVALSHA` as node-redis takes them. */
export interface EvalArguments {
  /** `KEYS`. */
  keys: string[];
  /** `ARGV`. */
  arguments: string[];
}

/**
 * The part of a node-redis (v5) client the Redis coordination uses: `createClient()` from `redis` fits. The client
 * must be connected (`await client.connect()`); while it is not ready, refreshes fall back to this process.
 */
export interface RedisCoordinationClient {
  /** Connected and ready for commands: while false, refreshes fall back to this process. */
  readonly isReady: boolean;
  /** `SET key value PX ms NX`: taking the lock. */
  set(
    key: string,
    value: string,
    options: { expiration: { type: 'PX'; value: number }; condition: 'NX' },
  ): Promise<unknown>;
  /** `EVAL`: the state's read and fenced write, the lock's release and extension. */
  eval(script: string, options: EvalArguments): Promise<unknown>;
  /** `EVALSHA`: the lock's scripts, by their digest. */
  evalSha(sha1: string, options: EvalArguments): Promise<unknown>;
  /** `PUBLISH`: new tokens and sign-outs, for the others. */
  publish(channel: string, message: string): Promise<unknown>;
  /** Ready again after a reconnection: what the others missed meanwhile is written and published. */
  on(event: 'ready', listener: () => void): unknown;
  /** Removes the `ready` listener (the coordination's `close()`). */
  off(event: 'ready', listener: () => void): unknown;
  /** A second connection for the subscription (a subscribed connection runs no other command). */
  duplicate(): RedisSubscriberClient;
}

/** The client did not answer because it is not connected: the coordination falls back. */
export class RedisUnreachable extends Error {
  override readonly name = 'RedisUnreachable';
}

/**
 * A reply error (`ErrorReply`: a script or command refused by the server) is a bug to report; anything else a
 * command throws (closed socket, offline client, connection timeout) means Redis cannot be reached.
 */
export const isUnreachable = (error: unknown): boolean =>
  error instanceof RedisUnreachable ||
  (error instanceof Error && error.name !== 'ErrorReply' && error.constructor.name !== 'ErrorReply');

/** Run a command only on a ready client, so a command never waits in the offline queue for a reconnection. */
export function whenReady<T>(client: RedisCoordinationClient, command: () => Promise<T>): Promise<T> {
  if (!client.isReady) return Promise.reject(new RedisUnreachable('the Redis client is not ready'));
  return command();
}
