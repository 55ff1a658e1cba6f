import { describe, expect, it, vi } from 'vitest';
import { createTokenSession } from '../../src/index.js';
import type { RedisCoordinationClient, RedisSubscriberClient } from '../../src/redis/index.js';

// As in an install without the optional peer `redis-semaphore`, which only apifetch/redis needs.
vi.mock('redis-semaphore', () => {
  throw Object.assign(new Error("Cannot find package 'redis-semaphore'"), { code: 'ERR_MODULE_NOT_FOUND' });
});

const missing = 'apifetch/redis needs the `redis-semaphore` package for redisCoordination: npm install redis-semaphore';

/** A ready node-redis stand-in that records the commands sent: the state reads as empty, writes succeed. */
function fakeClient() {
  const subscriber: RedisSubscriberClient = {
    connect: async () => undefined,
    subscribe: async () => undefined,
    on: () => undefined,
    close: async () => undefined,
  };
  const client = {
    isReady: true,
    set: vi.fn(async () => 'OK'),
    eval: vi.fn(async () => []),
    evalSha: vi.fn(async () => 1),
    publish: vi.fn(async () => 0),
    on: () => undefined,
    off: () => undefined,
    duplicate: () => subscriber,
  } satisfies RedisCoordinationClient;
  return client;
}

describe('without redis-semaphore installed', () => {
  it('apifetch/redis imports, and the first lock fails naming the package, before any lock command', async () => {
    const { redisCoordination } = await import('../../src/redis/index.js');
    const client = fakeClient();
    const coordination = redisCoordination(client, { key: 'apifetch:missing' });
    const fn = vi.fn(async () => 'held');
    const error = (await coordination.lock(fn, new AbortController().signal).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe(missing);
    expect(error.name).toBe('Error');
    expect(fn).not.toHaveBeenCalled();
    expect(client.set).not.toHaveBeenCalled();
    expect(client.evalSha).not.toHaveBeenCalled();
    await coordination.close();
  });

  it('a session on it: the refresh fails with that error, nothing is spent, and no worker is signed out', async () => {
    const { redisCoordination } = await import('../../src/redis/index.js');
    const client = fakeClient();
    const coordination = redisCoordination(client, { key: 'apifetch:missing-session' });
    const refresh = vi.fn(async () => ({ accessToken: 'at-2', refreshToken: 'rt-2' }));
    const session = createTokenSession({
      tokens: { accessToken: 'at-1', refreshToken: 'rt-1' },
      refresh,
      coordination,
    });
    await expect(session.refresh()).rejects.toThrow(missing);
    expect(refresh).not.toHaveBeenCalled();
    // The tokens stay, here and in Redis: the one write is the session seeding Redis with its initial tokens; no
    // sign-out is written, and no `signed-out` message reaches the other workers.
    await expect(session.getTokens()).resolves.toMatchObject({ accessToken: 'at-1', refreshToken: 'rt-1' });
    expect(client.eval).toHaveBeenCalledTimes(1);
    expect(JSON.stringify(client.eval.mock.calls[0])).toContain('"accessToken\\":\\"at-1');
    expect(client.evalSha).not.toHaveBeenCalled();
    expect(client.publish).not.toHaveBeenCalled();
    await coordination.close();
  });
});
