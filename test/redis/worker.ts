/**
 * One worker process of the fleet: a token session (with redisCoordination, or none for the control) and a client,
 * driven by its parent over IPC. Bundled by the test (helpers/fleet.ts) and started with child_process.fork.
 */
import { createClient } from 'redis';
import { type Coordination, createApiFetch, createTokenSession, type TokenSet } from '../../src/index.js';
import { redisCoordination } from '../../src/redis/index.js';
import { seededRandom } from '../helpers/random.js';
import type { FromWorker, ToWorker, WorkerConfig } from './helpers/protocol.js';

const config = JSON.parse(process.env.APIFETCH_WORKER ?? '{}') as WorkerConfig;
const tell = (message: FromWorker) => process.send?.(message);

let coordination: Coordination | undefined;
let client: ReturnType<typeof createClient> | undefined;
let close = async () => {};
if (config.mode === 'redis') {
  // Reconnect every 20 ms while Redis is away, so the restart is noticed at once.
  client = createClient({ url: config.redisUrl, socket: { reconnectStrategy: () => 20 } });
  client.on('error', () => {});
  client.on('ready', () => tell({ type: 'redis-ready' }));
  await client.connect();
  const redis = redisCoordination(client, { key: config.key, lockTtlMs: config.lockTtlMs });
  await redis.ready;
  coordination = redis;
  if (config.hangAfterCommit) {
    const write = redis.state.write;
    coordination = {
      ...redis,
      state: {
        read: redis.state.read,
        async write(tokens) {
          await write(tokens);
          tell({ type: 'committed' });
          // Holding the lock, after the commit: the parent kills this process here.
          return new Promise<never>(() => {});
        },
      },
    };
  }
  close = async () => {
    await redis.close();
    client?.destroy();
  };
}

const refresh = async ({ tokens, signal }: { tokens: TokenSet | undefined; signal: AbortSignal }) => {
  const response = await fetch(`${config.apiOrigin}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-worker': String(process.pid) },
    body: JSON.stringify({ refreshToken: tokens?.refreshToken }),
    signal,
  });
  const body = (await response.json()) as { accessToken: string; refreshToken: string };
  if (!response.ok) throw Object.assign(new Error(`token endpoint ${response.status}`), { status: response.status });
  return body;
};

const session = createTokenSession({
  refresh,
  ...(config.tokens ? { tokens: config.tokens } : {}),
  ...(coordination ? { coordination } : {}),
  refreshRetries: 0,
  // Five expiries within seconds stand for five over hours: the circuit breaker (3 per minute) would stop the test.
  maxRefreshes: 10,
  random: seededRandom(config.seed),
});
const api = createApiFetch({
  baseUrl: config.apiOrigin,
  auth: { session },
  retry: false,
  onEvent: (event) => {
    if (
      ['coordination:fallback', 'refresh:success', 'refresh:failure', 'tokens:updated', 'signed-out'].includes(
        event.type,
      )
    ) {
      const detail =
        event.type === 'refresh:failure'
          ? event.reason
          : event.type === 'coordination:fallback'
            ? event.missing.join()
            : undefined;
      tell({ type: 'event', event: event.type, ...(detail ? { detail } : {}) });
    }
  },
});

process.on('message', async (message: ToWorker) => {
  if (message.cmd === 'fire') {
    const results = await Promise.allSettled(
      Array.from({ length: message.requests }, (_, i) =>
        api.get('resource', { headers: { 'x-request-id': `${process.pid}-${message.round}-${i}` } }).json(),
      ),
    );
    const failed = results.flatMap((r) => {
      if (r.status === 'fulfilled') return [];
      const error = r.reason as { code?: string; reason?: string; name?: string };
      return [[error.code ?? error.name, error.reason].filter(Boolean).join(':')];
    });
    tell({ type: 'fired', ok: results.length - failed.length, failed });
  } else if (message.cmd === 'refresh') {
    try {
      tell({ type: 'refreshed', accessToken: (await session.refresh()).accessToken });
    } catch (error) {
      tell({ type: 'refreshed', accessToken: undefined, error: String(error) });
    }
  } else if (message.cmd === 'tokens') {
    tell({ type: 'tokens', accessToken: (await session.getTokens())?.accessToken });
  } else if (message.cmd === 'exit') {
    await close();
    process.exit(0);
  }
});

// Load the session (from the shared state) before saying ready.
await session.getTokens();
tell({ type: 'ready', pid: process.pid });
