import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CoordinationMessage, isCoordinationUnavailableError, isInvalidOptionError } from '../../src/index.js';
import { redisCoordination } from '../../src/redis/index.js';
import { type RedisServer, startRedisServer } from './helpers/redis-server.js';

type Client = ReturnType<typeof createClient>;

describe('redisCoordination against a real redis-server, in one process', () => {
  let redis: RedisServer;
  const clients: Client[] = [];
  const closers: (() => Promise<void>)[] = [];
  let n = 0;
  const connect = async () => {
    const client = createClient({ url: redis.url }).on('error', () => {});
    await client.connect();
    clients.push(client);
    return client;
  };
  /** Two processes' coordinations of one new session. */
  const pair = async () => {
    n += 1;
    const key = `apifetch:unit:${n}`;
    const [clientA, clientB] = [await connect(), await connect()];
    const [a, b] = [redisCoordination(clientA, { key }), redisCoordination(clientB, { key })];
    await Promise.all([a.ready, b.ready]);
    closers.push(a.close, b.close);
    return { a, b, key, clientB };
  };
  beforeAll(async () => {
    redis = await startRedisServer();
  }, 30_000);
  afterAll(async () => {
    for (const close of closers) await close();
    for (const client of clients) client.destroy();
    await redis?.close();
  });

  it('fencing: a holder whose lock expired cannot overwrite what the next holder wrote', async () => {
    const { a, b, key } = await pair();
    const admin = await connect();
    await a.state.write({ accessToken: 'at-0', refreshToken: 'rt-0' });
    const result = await a.lock(async () => {
      expect(await a.state.read()).toMatchObject({ accessToken: 'at-0' });
      // A's lock expires (what the expiry does: the key goes), and B refreshes meanwhile.
      await admin.del(`mutex:${key}:lock`);
      await b.lock(async () => {
        expect(await b.state.read()).toMatchObject({ accessToken: 'at-0' });
        expect(await b.state.write({ accessToken: 'at-b', refreshToken: 'rt-b' })).toBe(true);
      }, new AbortController().signal);
      return a.state.write({ accessToken: 'at-a', refreshToken: 'rt-a' });
    }, new AbortController().signal);
    expect(result).toBe(false);
    expect(await a.state.read()).toEqual({ accessToken: 'at-b', refreshToken: 'rt-b' });
    expect(await admin.hGet(key, 'generation')).toBe('2');
  });

  it('fencing: a holder still holding the lock cannot overwrite a write made after its read (setTokens elsewhere)', async () => {
    const { a, b } = await pair();
    const written = await a.lock(async () => {
      await a.state.read();
      await b.state.write({ accessToken: 'signed-in-again' });
      return a.state.write({ accessToken: 'from-the-old-session' });
    }, new AbortController().signal);
    expect(written).toBe(false);
    expect(await b.state.read()).toEqual({ accessToken: 'signed-in-again' });
  });

  it('one holder at a time: the second waits until the first released', async () => {
    const { a, b, clientB } = await pair();
    const attempts = vi.spyOn(clientB, 'set');
    const order: string[] = [];
    let release!: () => void;
    const first = a.lock(async () => {
      order.push('a in');
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      order.push('a out');
    }, new AbortController().signal);
    await vi.waitFor(() => expect(order).toEqual(['a in']));
    const second = b.lock(async () => void order.push('b in'), new AbortController().signal);
    // B asked for the lock (SET NX) three times and was refused each time.
    await vi.waitFor(() => expect(attempts.mock.calls.length).toBeGreaterThanOrEqual(3));
    expect(order).toEqual(['a in']);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['a in', 'a out', 'b in']);
  });

  it('waiting for the lock gives up when the signal aborts', async () => {
    const { a, b } = await pair();
    let release!: () => void;
    const first = a.lock(() => new Promise<void>((resolve) => (release = resolve)), new AbortController().signal);
    await vi.waitFor(() => expect(release).toBeTypeOf('function'));
    const controller = new AbortController();
    const fn = vi.fn(async () => {});
    const waiting = b.lock(fn, controller.signal);
    controller.abort(new Error('refresh timeout'));
    await expect(waiting).rejects.toThrow('refresh timeout');
    expect(fn).not.toHaveBeenCalled();
    release();
    await first;
  });

  it('messages reach the others, not the sender; a message older than what was seen is dropped', async () => {
    const { a, b } = await pair();
    const heardByA: CoordinationMessage[] = [];
    const heardByB: CoordinationMessage[] = [];
    a.listen((m) => heardByA.push(m));
    b.listen((m) => heardByB.push(m));
    await a.state.write({ accessToken: 'at-1' });
    a.post({ type: 'tokens', tokens: { accessToken: 'at-1' } });
    await vi.waitFor(() => expect(heardByB).toEqual([{ type: 'tokens', tokens: { accessToken: 'at-1' } }]));
    // B reads a newer generation; A's next message still carries the older one and is dropped.
    await b.state.write({ accessToken: 'at-2' });
    a.post({ type: 'tokens', tokens: { accessToken: 'at-1' } });
    a.post({ type: 'signed-out' });
    // Then a newer one: messages from one sender arrive in order, so when it is heard the stale ones were dropped.
    await a.state.write({ accessToken: 'at-3' });
    a.post({ type: 'tokens', tokens: { accessToken: 'at-3' } });
    await vi.waitFor(() => expect(heardByB).toHaveLength(2));
    expect(heardByB).toEqual([
      { type: 'tokens', tokens: { accessToken: 'at-1' } },
      { type: 'tokens', tokens: { accessToken: 'at-3' } },
    ]);
    expect(heardByA).toEqual([]);
  });

  it('a client that is not connected: lock rejects with CoordinationUnavailableError before running fn', async () => {
    const client = createClient({ url: redis.url }).on('error', () => {});
    const coordination = redisCoordination(client, { key: 'apifetch:unit:offline', subscriber: client.duplicate() });
    const fn = vi.fn(async () => 1);
    const error = await coordination.lock(fn, new AbortController().signal).catch((e: unknown) => e);
    expect(isCoordinationUnavailableError(error)).toBe(true);
    expect(error).toMatchObject({ backend: 'redis' });
    expect(fn).not.toHaveBeenCalled();
  });

  it.each([
    [{ key: '' }, 'key'],
    [{ key: 'k', lockTtlMs: 5 }, 'lockTtlMs'],
    [{ key: 'k', lockTtlMs: 1.5 }, 'lockTtlMs'],
    [{ key: 'k', lockRetryMs: 0 }, 'lockRetryMs'],
  ])('options %j: InvalidOptionError naming `%s`', async (options, option) => {
    const client = createClient({ url: redis.url });
    let thrown: unknown;
    try {
      redisCoordination(client, options);
    } catch (error) {
      thrown = error;
    }
    expect(isInvalidOptionError(thrown)).toBe(true);
    expect(thrown).toMatchObject({ option });
  });
});
