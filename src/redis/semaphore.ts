import type * as RedisSemaphore from 'redis-semaphore';
import { optionalPeer } from '../optional-peer.js';
import { type EvalArguments, type RedisCoordinationClient, whenReady } from './client.js';

/**
 * `redis-semaphore`, an optional peer of `apifetch/redis` only, loaded on the first lock: a missing package fails that
 * lock with an error that says `npm install redis-semaphore`.
 */
export const loadRedisSemaphore = optionalPeer<Pick<typeof RedisSemaphore, 'Mutex'>>(
  'apifetch/redis',
  'redis-semaphore',
  'for redisCoordination',
  () => import('redis-semaphore'),
);

const evalArguments = (numKeys: number, args: readonly (string | number)[]): EvalArguments => ({
  keys: args.slice(0, numKeys).map(String),
  arguments: args.slice(numKeys).map(String),
});

/**
 * redis-semaphore speaks ioredis (`set(key, value, 'PX', ms, 'NX')`, `eval(script, numKeys, ...args)`), and documents
 * that other clients provide that shape: this is it, over node-redis, for the commands a `Mutex` sends.
 */
export function semaphoreClient(
  client: RedisCoordinationClient,
): ConstructorParameters<typeof RedisSemaphore.Mutex>[0] {
  const adapter = {
    set: (key: string, value: string, _px: 'PX', ms: number, _nx: 'NX') =>
      whenReady(client, () => client.set(key, value, { expiration: { type: 'PX', value: ms }, condition: 'NX' })),
    eval: (script: string, numKeys: number, ...args: (string | number)[]) =>
      whenReady(client, () => client.eval(script, evalArguments(numKeys, args))),
    evalsha: (sha1: string, numKeys: number, ...args: (string | number)[]) =>
      whenReady(client, () => client.evalSha(sha1, evalArguments(numKeys, args))),
  };
  return adapter as unknown as ConstructorParameters<typeof RedisSemaphore.Mutex>[0];
}
