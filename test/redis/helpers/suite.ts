import { afterAll, beforeAll } from 'vitest';
import { buildWorker, startWorkers, stopWorkers, type Worker } from './fleet.js';
import { type OAuthServer, startOAuthServer } from './oauth-server.js';
import type { WorkerConfig } from './protocol.js';
import { type RedisServer, startRedisServer } from './redis-server.js';
import { seed } from './seed.js';

/** Expiry of the lock in these tests: a killed holder blocks the others this long at most. */
export const lockTtlMs = 1000;

/**
 * A redis-server and the bundled worker for the suite (vitest hooks), and a fresh token server, session key and set
 * of worker processes for each test.
 */
export function redisSuite() {
  let worker: Awaited<ReturnType<typeof buildWorker>> | undefined;
  let n = 0;
  const suite = {
    redis: undefined as unknown as RedisServer,
    oauth: undefined as unknown as OAuthServer,
    workers: [] as Worker[],
    key: '',
    /**
     * Stop the previous test's processes, then start `count` workers on a new session (seeded in Redis, or given to
     * each process for the control).
     */
    async start(count: number, mode: WorkerConfig['mode'], extra: Partial<WorkerConfig> = {}) {
      await stopWorkers(suite.workers);
      await suite.oauth?.close();
      suite.oauth = await startOAuthServer();
      n += 1;
      suite.key = `apifetch:test:${n}`;
      if (mode === 'redis') await seed(suite.redis.url, suite.key, suite.oauth.initial);
      suite.workers = await startWorkers(worker?.file ?? '', count, (index) => ({
        mode,
        redisUrl: suite.redis.url,
        key: suite.key,
        apiOrigin: suite.oauth.origin,
        lockTtlMs,
        seed: index + 1,
        ...(mode === 'none' ? { tokens: suite.oauth.initial } : {}),
        ...extra,
      }));
      return suite.workers;
    },
  };
  beforeAll(async () => {
    [suite.redis, worker] = await Promise.all([startRedisServer(), buildWorker()]);
  }, 60_000);
  afterAll(async () => {
    await stopWorkers(suite.workers);
    await suite.oauth?.close();
    await suite.redis?.close();
    worker?.remove();
  }, 30_000);
  return suite;
}
