import { expect, it } from 'vitest';
import { createBreaker } from '../../src/session/breaker.js';

it('admits max refreshes per sliding window, then none until the oldest leaves it; forgive takes one back', () => {
  let now = 0;
  const breaker = createBreaker(3, 60_000, () => now);
  expect([breaker.admit(), breaker.admit(), breaker.admit(), breaker.admit()]).toEqual([true, true, true, false]);
  breaker.forgive();
  expect(breaker.admit()).toBe(true);
  expect(breaker.admit()).toBe(false);
  now = 59_999;
  expect(breaker.admit()).toBe(false);
  now = 60_000;
  expect(breaker.admit()).toBe(true);
});
