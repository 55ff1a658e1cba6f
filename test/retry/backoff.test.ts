import { describe, expect, it } from 'vitest';
import { backoffCeiling, backoffDelay } from '../../src/retry/backoff.js';
import { seededRandom } from '../helpers/random.js';

const opts = { baseDelayMs: 300, maxDelayMs: 10_000 };

describe('backoffCeiling', () => {
  it('doubles per attempt from baseDelayMs up to maxDelayMs', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffCeiling(a, opts))).toEqual([
      300, 600, 1200, 2400, 4800, 9600, 10_000, 10_000,
    ]);
  });

  it.each([1025, 5000, Number.MAX_SAFE_INTEGER, Number.POSITIVE_INFINITY])(
    'stays at the cap for attempt %d, never Infinity or NaN',
    (attempt) => {
      expect(backoffCeiling(attempt, opts)).toBe(10_000);
      expect(backoffCeiling(attempt, { baseDelayMs: 0, maxDelayMs: 10_000 })).toBe(0);
    },
  );

  it.each([0, -3, Number.NaN])('treats attempt %d as the first', (attempt) => {
    expect(backoffCeiling(attempt, opts)).toBe(300);
  });
});

describe('backoffDelay (capped full jitter)', () => {
  it('stays within [0, ceiling) over many seeded draws and averages half the ceiling', () => {
    const random = seededRandom(42);
    for (const attempt of [1, 2, 3, 6, 8, 40]) {
      const ceiling = backoffCeiling(attempt, opts);
      const draws = Array.from({ length: 5000 }, () => backoffDelay(attempt, opts, random));
      expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...draws)).toBeLessThan(ceiling);
      const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
      expect(mean / ceiling).toBeGreaterThan(0.47);
      expect(mean / ceiling).toBeLessThan(0.53);
    }
  });

  it('keeps the cap inside the jitter: capped retries still spread over the whole window', () => {
    const random = seededRandom(7);
    const draws = Array.from({ length: 2000 }, () => backoffDelay(20, opts, random));
    expect(Math.max(...draws)).toBeLessThan(10_000);
    // Capped-then-jittered would spread over [0, 10 s); jittered-then-capped would pile up at exactly 10 s.
    expect(draws.filter((d) => d === 10_000)).toHaveLength(0);
    expect(draws.filter((d) => d < 2500).length).toBeGreaterThan(400);
  });

  it('is the random draw times the ceiling (what a p-retry loop can use as its wait)', () => {
    expect(backoffDelay(3, opts, () => 0)).toBe(0);
    expect(backoffDelay(3, opts, () => 0.25)).toBe(300);
    expect(backoffDelay(3, { baseDelayMs: 1000, maxDelayMs: 2000 }, () => 0.5)).toBe(1000);
  });
});
