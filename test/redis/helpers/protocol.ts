import type { TokenSet } from '../../../src/index.js';

/** How a worker process is set up (in `APIFETCH_WORKER`, as JSON). */
export interface WorkerConfig {
  /** `redis`: redisCoordination; `none`: each process refreshes on its own (the control). */
  mode: 'redis' | 'none';
  redisUrl: string;
  key: string;
  apiOrigin: string;
  lockTtlMs: number;
  /** The initial tokens, for `none` (with Redis, the workers load the shared state). */
  tokens?: TokenSet;
  /** Hang (holding the lock) right after writing refreshed tokens to Redis, to be killed there. */
  hangAfterCommit?: boolean;
  seed: number;
}

export type ToWorker =
  | { cmd: 'fire'; round: number; requests: number }
  | { cmd: 'refresh' }
  | { cmd: 'tokens' }
  | { cmd: 'exit' };

export type FromWorker =
  | { type: 'ready'; pid: number }
  | { type: 'event'; event: string; detail?: string }
  | { type: 'redis-ready' }
  | { type: 'fired'; ok: number; failed: string[] }
  | { type: 'refreshed'; accessToken: string | undefined; error?: string }
  | { type: 'tokens'; accessToken: string | undefined }
  | { type: 'committed' };
