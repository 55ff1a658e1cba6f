import { describe, expect, it } from 'vitest';
import { fireAll, type Worker } from './helpers/fleet.js';
import { redisSuite } from './helpers/suite.js';

/** Ask every worker for its access token until all hold `accessToken` (bounded: 100 asks each). */
async function allHold(workers: readonly Worker[], accessToken: string): Promise<boolean> {
  for (let ask = 0; ask < 100; ask += 1) {
    const held = await Promise.all(workers.map((w) => w.ask({ cmd: 'tokens' }, 'tokens')));
    if (held.every((h) => h.accessToken === accessToken)) return true;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return false;
}

describe('redis-server stopped and restarted while the fleet works', () => {
  const suite = redisSuite();

  it('no request lost, the fallback said out loud, coordination back after the restart', async () => {
    const workers = await suite.start(4, 'redis');
    const { oauth, redis } = suite;
    oauth.expire();
    expect((await fireAll(workers, 1, 50)).failed).toEqual([]);
    expect(oauth.rotations).toBe(1);

    await redis.stop();
    // Requests go on with the tokens each process holds.
    expect(await fireAll(workers, 2, 50)).toEqual({ ok: 200, failed: [] });
    // A refresh now falls back to the process, and says so.
    const [first, ...others] = workers as [Worker, ...Worker[]];
    const refreshed = await first.ask({ cmd: 'refresh' }, 'refreshed');
    expect(refreshed.error).toBeUndefined();
    expect(first.events).toContain('coordination:fallback:redis');
    expect(oauth.rotations).toBe(2);
    expect(await fireAll(workers, 3, 50)).toEqual({ ok: 200, failed: [] });

    const back = workers.map((w) => w.next('redis-ready'));
    const restartedAt = Date.now();
    await redis.start();
    await Promise.all(back);
    // The fallback's tokens reach Redis (restarted empty) and every process.
    expect(await allHold(others, refreshed.accessToken ?? '')).toBe(true);
    const adoptedMs = Date.now() - restartedAt;

    // Coordinated again: the next expiry is one refresh across the fleet, no reuse, no fallback.
    oauth.expire();
    expect(await fireAll(workers, 4, 50)).toEqual({ ok: 200, failed: [] });
    expect(oauth.rotations).toBe(3);
    expect(oauth.reuses).toBe(0);
    expect(workers.reduce((sum, w) => sum + w.count('coordination:fallback'), 0)).toBe(1);
    expect(Math.max(...oauth.sends.values())).toBeLessThanOrEqual(2);
    console.info(`restart: every process held the fallback's tokens ${adoptedMs} ms after redis-server started again`);
  }, 60_000);
});
