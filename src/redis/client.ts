import type { Mutex } from 'redis-semaphore';

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

const evalArguments = (numKeys: number, args: readonly (string | number)[]): EvalArguments => ({
  keys: args.slice(0, numKeys).map(String),
  arguments: args.slice(numKeys).map(String),
});

/**
 * redis-semaphore speaks ioredis (`set(key, value, 'PX', ms, 'NX')`, `eval(script, numKeys, ...args)`), and documents
 * that other clients provide that shape: this is it, over node-redis, for the commands a `Mutex` sends.
 */
export function semaphoreClient(client: RedisCoordinationClient): ConstructorParameters<typeof Mutex>[0] {
  const adapter = {
    set: (key: string, value: string, _px: 'PX', ms: number, _nx: 'NX') =>
      whenReady(client, () => client.set(key, value, { expiration: { type: 'PX', value: ms }, condition: 'NX' })),
    eval: (script: string, numKeys: number, ...args: (string | number)[]) =>
      whenReady(client, () => client.eval(script, evalArguments(numKeys, args))),
    evalsha: (sha1: string, numKeys: number, ...args: (string | number)[]) =>
      whenReady(client, () => client.evalSha(sha1, evalArguments(numKeys, args))),
  };
  return adapter as unknown as ConstructorParameters<typeof Mutex>[0];
}
