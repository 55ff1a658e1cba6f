/** Arguments of `EVAL` / `EVALSHA` as node-redis takes them. */
export interface EvalArguments {
  keys: string[];
  arguments: string[];
}

/**
 * The part of a node-redis (v5) client the Redis coordination uses: `createClient()` from `redis` fits. The client
 * must be connected (`await client.connect()`); while it is not ready, refreshes fall back to this process.
 */
export interface RedisCoordinationClient {
  readonly isReady: boolean;
  set(
    key: string,
    value: string,
    options: { expiration: { type: 'PX'; value: number }; condition: 'NX' },
  ): Promise<unknown>;
  eval(script: string, options: EvalArguments): Promise<unknown>;
  evalSha(sha1: string, options: EvalArguments): Promise<unknown>;
  publish(channel: string, message: string): Promise<unknown>;
  on(event: 'ready', listener: () => void): unknown;
  off(event: 'ready', listener: () => void): unknown;
  /** A second connection for the subscription (a subscribed connection runs no other command). */
  duplicate(): RedisSubscriberClient;
}

/** The subscriber connection: `client.duplicate()`. */
export interface RedisSubscriberClient {
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** Emitted once subscribed again after a reconnection (node-redis resubscribes before `ready`). */
  on(event: 'ready', listener: () => void): unknown;
  close(): Promise<unknown>;
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
