import { describe, expect, it } from 'vitest';
import { fireAll } from './helpers/fleet.js';
import { redisSuite } from './helpers/suite.js';

describe('a fleet of processes sharing one session on a real redis-server', () => {
  const suite = redisSuite();

  for (const count of [4, 8]) {
    it(`${count} workers × 50 concurrent requests, 5 expiries in a row: one refresh per expiry, no reuse, every request succeeds, ≤ 2 sends each`, async () => {
      const workers = await suite.start(count, 'redis');
      const { oauth } = suite;
      for (let round = 1; round <= 5; round += 1) {
        oauth.expire();
        const { ok, failed } = await fireAll(workers, round, 50);
        expect(failed).toEqual([]);
        expect(ok).toBe(count * 50);
        expect(oauth.rotations).toBe(round);
      }
      expect(oauth.reuses).toBe(0);
      expect(oauth.sends.size).toBe(count * 50 * 5);
      expect(Math.max(...oauth.sends.values())).toBeLessThanOrEqual(2);
      // One refresh per expiry across the fleet; nobody fell back.
      expect(workers.reduce((sum, w) => sum + w.count('refresh:success'), 0)).toBe(5);
      expect(workers.reduce((sum, w) => sum + w.count('coordination:fallback'), 0)).toBe(0);
    }, 120_000);
  }

  it('a refused refresh signs every worker out: one attempt at the token endpoint, then every request fails fast', async () => {
    const workers = await suite.start(4, 'redis');
    const { oauth } = suite;
    oauth.revoke();
    const first = await fireAll(workers, 1, 50);
    expect(first.ok).toBe(0);
    expect(new Set(first.failed.map((f) => f.split(':')[0]))).toEqual(new Set(['ERR_UNAUTHENTICATED']));
    // The refusal reached Redis before the lock was released: no other worker spent the refused token.
    expect(oauth.refused).toBe(1);
    const second = await fireAll(workers, 2, 50);
    expect(second.failed).toEqual(Array(200).fill('ERR_UNAUTHENTICATED:signed_out'));
    // Failing fast: nothing of the second round was sent.
    expect([...oauth.sends.keys()].filter((id) => id.includes('-2-'))).toEqual([]);
    expect(oauth.refused).toBe(1);
  }, 60_000);

  it('control: the same fleet refreshing per process trips the reuse detection', async () => {
    const workers = await suite.start(4, 'none');
    suite.oauth.expire();
    const { failed } = await fireAll(workers, 1, 50);
    // Each process spends the same refresh token: the first rotates it, the three others are reuses.
    expect(suite.oauth.reuses).toBe(3);
    expect(suite.oauth.rotations).toBe(1);
    expect(failed.length).toBeGreaterThan(0);
  }, 60_000);
});
