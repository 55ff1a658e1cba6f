import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { InvalidOptionError } from '../errors.js';
import { maxTimerMs, type RedisCoordinationOptions, resolveRedisOptions } from '../options.js';
import {
  type Coordination,
  type CoordinationMessage,
  CoordinationUnavailableError,
  type SharedState,
} from '../session/coordination.js';
import { isTokenSet, type TokenSet } from '../session/tokens.js';
import { isUnreachable, type RedisCoordinationClient, whenReady } from './client.js';
import { readState, writeState } from './scripts.js';
import { loadRedisSemaphore, semaphoreClient } from './semaphore.js';

/** A `Coordination` on Redis, from `redisCoordination`. */
export interface RedisCoordination extends Coordination {
  /** The tokens and their generation in Redis: written under the lock with fencing, or as a sign-in outside it. */
  readonly state: SharedState;
  /** Settles once the subscription is in place: the others' messages are heard from then on. Never rejects. */
  readonly ready: Promise<void>;
  /** Stop hearing the others and close the subscriber connection made here. The client stays the app's. */
  close(): Promise<void>;
}

/** A message as published: who sent it, and the generation it carries, so a late one never undoes a newer one. */
interface Envelope {
  from: string;
  generation: number;
  message: CoordinationMessage;
}

const parseEnvelope = (raw: string): Envelope | undefined => {
  try {
    const value = JSON.parse(raw) as Partial<Envelope> | null;
    const message = value?.message;
    if (typeof value?.from !== 'string' || typeof value.generation !== 'number') return undefined;
    if (message?.type === 'signed-out') return value as Envelope;
    return message?.type === 'tokens' && isTokenSet(message.tokens) ? (value as Envelope) : undefined;
  } catch {
    return undefined;
  }
};

/**
 * Coordination of the processes (on one machine or many) that share one token session, on Redis: a lock with an
 * expiry (redis-semaphore's `Mutex`), the tokens and their generation in one hash, written under the lock only by
 * its holder and only if no other write came since it read (fencing), and messages on a channel. While Redis cannot
 * be reached, a refresh falls back to this process (`coordination:fallback`); what the others missed is written and
 * published when the client is ready again.
 *
 * Needs two optional peers, installed by the app: `redis` (the client passed here) and `redis-semaphore` (the lock),
 * loaded on the first lock. Without `redis-semaphore` that lock, and so the refresh that asked for it, fails with an
 * error that says `npm install redis-semaphore`; the tokens stay as they are (a lock that fails before `refresh` runs
 * spends nothing and signs no one out): install it with `redis`.
 * @example
 * const client = await createClient({ url }).on('error', report).connect();
 * const coordination = redisCoordination(client, { key: 'apifetch:xero' });
 * const session = createTokenSession({ coordination, refresh });
 */
export function redisCoordination(
  client: RedisCoordinationClient,
  options: RedisCoordinationOptions,
): RedisCoordination {
  if (typeof client?.eval !== 'function' || typeof client.duplicate !== 'function') {
    throw new InvalidOptionError('redisCoordination(client)', 'a node-redis client (createClient())', client);
  }
  const { key, lockTtlMs, lockRetryMs, subscriber: given } = resolveRedisOptions(options);
  const lockName = `${key}:lock`;
  // redis-semaphore's documented key for a Mutex named `lockName`: the write checks it still holds our identifier.
  const lockKey = `mutex:${lockName}`;
  const channel = `${key}:messages`;
  const self = randomUUID();
  const semaphore = semaphoreClient(client);
  /** The lock this async context holds, and the generation it read under it. */
  const holding = new AsyncLocalStorage<{ identifier: string; read?: number }>();

  /** The highest generation this process has seen: stale messages are dropped, and generations keep rising. */
  let seen = 0;
  /** This process's last write, so the message that follows it carries its generation. */
  let written: { generation: number; message: CoordinationMessage } | undefined;
  /** What the others could not be told while Redis was unreachable, and the generation seen then. */
  let pending: { message: CoordinationMessage; base: number } | undefined;
  let listener: ((message: CoordinationMessage) => void) | undefined;
  const see = (generation: number) => {
    if (generation > seen) seen = generation;
  };
  const messageOf = (tokens: TokenSet | null | undefined): CoordinationMessage =>
    tokens ? { type: 'tokens', tokens } : { type: 'signed-out' };
  const sameMessage = (a: CoordinationMessage, b: CoordinationMessage) =>
    a.type === b.type && (a.type === 'signed-out' || a.tokens.accessToken === (b as typeof a).tokens.accessToken);
  const evaluate = (script: string, args: string[]) =>
    whenReady(client, () => client.eval(script, { keys: [key, lockKey], arguments: args }));
  const remember = (message: CoordinationMessage) => {
    pending = { message, base: pending?.base ?? seen };
  };
  const publish = async (message: CoordinationMessage, generation: number) => {
    const envelope: Envelope = { from: self, generation, message };
    await whenReady(client, () => client.publish(channel, JSON.stringify(envelope)));
  };

  /** The tokens; `null` once written without (a sign-out); undefined when never written (or Redis restarted empty). */
  const readShared = async (): Promise<{ tokens: TokenSet | null | undefined; generation: number }> => {
    const reply = await evaluate(readState, []);
    const [raw, stored] = Array.isArray(reply) ? (reply as unknown[]) : [];
    const generation = Number(stored ?? 0);
    if (typeof raw !== 'string') return { tokens: generation > 0 ? null : undefined, generation };
    const tokens: unknown = JSON.parse(raw);
    if (!isTokenSet(tokens)) throw new TypeError(`the hash "${key}" holds no token set`);
    return { tokens, generation };
  };

  const state: SharedState = {
    async read() {
      const { tokens, generation } = await readShared();
      see(generation);
      const held = holding.getStore();
      if (held) held.read = generation;
      return tokens;
    },
    async write(tokens) {
      const held = holding.getStore();
      const message = messageOf(tokens);
      let generation: number;
      try {
        generation = Number(
          await evaluate(writeState, [
            held?.identifier ?? '',
            held?.read === undefined ? '' : String(held.read),
            tokens ? JSON.stringify(tokens) : '',
            String(seen),
          ]),
        );
      } catch (error) {
        if (!isUnreachable(error)) throw error;
        // The others are told when Redis is back; this process goes on with the tokens.
        remember(message);
        return true;
      }
      if (generation < 0) return false;
      see(generation);
      written = { generation, message };
      pending = undefined;
      return true;
    },
  };

  /** Tell the others what they missed: written only where nobody wrote since (or Redis restarted empty). */
  const replay = async () => {
    const missed = pending;
    if (!missed) return;
    pending = undefined;
    const { message } = missed;
    try {
      const tokens = message.type === 'tokens' ? JSON.stringify(message.tokens) : '';
      const generation = Number(await evaluate(writeState, ['', String(missed.base), tokens, String(seen)]));
      if (generation < 0) return;
      see(generation);
      written = { generation, message };
      await publish(message, generation);
    } catch (error) {
      if (isUnreachable(error)) pending ??= missed;
    }
  };
  /**
   * What was published while this process was not subscribed is in the state: once subscribed again, a newer
   * generation there is heard as a message. (A write before the read is read; a publish after it is heard.)
   */
  const catchUp = async () => {
    try {
      const { tokens, generation } = await readShared();
      if (generation <= seen) return;
      see(generation);
      listener?.(messageOf(tokens));
    } catch {
      // Unreachable again: the next `ready` catches up.
    }
  };
  const onReady = () => void replay().then(catchUp);
  client.on('ready', onReady);

  const subscriber = given ?? client.duplicate();
  // The subscriber reconnects and subscribes again by itself; meanwhile the others are heard through the state.
  subscriber.on('error', () => {});
  subscriber.on('ready', () => void catchUp());
  const onMessage = (raw: string) => {
    const envelope = parseEnvelope(raw);
    if (!envelope || envelope.from === self || envelope.generation < seen) return;
    see(envelope.generation);
    listener?.(envelope.message);
  };
  const ready = (async () => {
    if (!given) await subscriber.connect();
    await subscriber.subscribe(channel, onMessage);
  })().catch(() => {});

  return {
    state,
    ready,
    async lock(fn, signal) {
      // Rejects, before any command, when the optional peer is not installed: a setup error, not an outage.
      const { Mutex } = await loadRedisSemaphore();
      const mutex = new Mutex(semaphore, lockName, {
        lockTimeout: lockTtlMs,
        acquireTimeout: maxTimerMs,
        retryInterval: lockRetryMs,
        // Extended below instead: redis-semaphore's own timer leaves a failed extension unhandled.
        refreshInterval: 0,
      });
      try {
        await mutex.acquire(signal);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (isUnreachable(error)) throw new CoordinationUnavailableError('redis', { cause: error });
        throw error;
      }
      const identifier = mutex.identifier;
      const extend = setInterval(
        () => {
          // redis-semaphore's way to act on a lock acquired elsewhere: `tryAcquire` extends it if still ours.
          const same = new Mutex(semaphore, lockName, {
            identifier,
            acquiredExternally: true,
            lockTimeout: lockTtlMs,
            refreshInterval: 0,
          });
          same.tryAcquire().catch(() => {});
        },
        Math.round(lockTtlMs * 0.8),
      );
      // Cleared when `fn` settles; never what keeps a process alive.
      extend.unref?.();
      try {
        return await holding.run({ identifier }, fn);
      } finally {
        clearInterval(extend);
        // Unreachable: the lock expires by itself.
        await mutex.release().catch(() => {});
      }
    },
    post(message) {
      const generation = written && sameMessage(written.message, message) ? written.generation : seen;
      publish(message, generation).then(
        () => {
          pending = undefined;
        },
        (error: unknown) => {
          if (isUnreachable(error)) remember(message);
        },
      );
    },
    listen(next) {
      listener = next;
    },
    async close() {
      client.off('ready', onReady);
      listener = undefined;
      if (!given) await subscriber.close().catch(() => {});
    },
  };
}
