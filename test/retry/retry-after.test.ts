import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseHttpDate, parseRateLimit, parseRetryAfter } from '../../src/retry/retry-after.js';

const now = Date.UTC(2026, 10, 22, 12, 0, 0);
const maxWaitMs = 2 ** 31 * 1000;

describe('parseRetryAfter', () => {
  it.each<[string, Record<string, string>, number | undefined]>([
    ['delta seconds', { 'retry-after': '120' }, 120_000],
    ['zero', { 'retry-after': '0' }, 0],
    ['surrounding whitespace', { 'retry-after': ' 5 ' }, 5_000],
    ['IMF-fixdate', { 'retry-after': 'Sun, 22 Nov 2026 12:00:30 GMT' }, 30_000],
    ['RFC 850 date', { 'retry-after': 'Sunday, 22-Nov-26 12:01:00 GMT' }, 60_000],
    ['asctime date', { 'retry-after': 'Sun Nov 22 12:00:05 2026' }, 5_000],
    ['past date means no extra wait', { 'retry-after': 'Sun, 22 Nov 2026 11:00:00 GMT' }, 0],
    ['garbage', { 'retry-after': 'soon' }, undefined],
    ['negative', { 'retry-after': '-5' }, undefined],
    ['fraction', { 'retry-after': '1.5' }, undefined],
    ['sign', { 'retry-after': '+5' }, undefined],
    ['hex', { 'retry-after': '0x10' }, undefined],
    ['date with a local zone', { 'retry-after': 'Sun, 22 Nov 2026 12:00:30 PST' }, undefined],
    ['impossible date', { 'retry-after': 'Sun, 31 Feb 2026 12:00:00 GMT' }, undefined],
    ['impossible time', { 'retry-after': 'Sun, 22 Nov 2026 24:00:30 GMT' }, undefined],
    ['huge seconds: 2^31 s, a very long wait, not garbage', { 'retry-after': '99999999999999999999' }, maxWaitMs],
    ['ten-digit seconds capped at 2^31 s', { 'retry-after': '9999999999' }, maxWaitMs],
    ['RateLimit-Reset', { 'ratelimit-reset': '7' }, 7_000],
    ['RateLimit-Reset garbage', { 'ratelimit-reset': 'x' }, undefined],
    ['RateLimit t=', { ratelimit: '"default";r=0;t=30' }, 30_000],
    ['Retry-After wins over RateLimit-Reset', { 'retry-after': '2', 'ratelimit-reset': '50' }, 2_000],
    ['Retry-After wins over RateLimit', { 'retry-after': '2', ratelimit: '"d";r=0;t=50' }, 2_000],
    ['unparseable Retry-After gives way to RateLimit-Reset', { 'retry-after': 'x', 'ratelimit-reset': '4' }, 4_000],
    ['RateLimit-Reset wins over RateLimit', { 'ratelimit-reset': '4', ratelimit: '"d";r=0;t=50' }, 4_000],
    ['nothing', {}, undefined],
  ])('%s', (_name, headers, expected) => {
    expect(parseRetryAfter(new Headers(headers), now)).toBe(expected);
  });

  it('reads a one-digit asctime day', () => {
    const at = Date.UTC(2026, 10, 2, 11, 59, 50);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Mon Nov  2 12:00:00 2026' }), at)).toBe(10_000);
  });

  it('never throws and yields undefined or a finite wait ≥ 0 for any header values', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (retryAfter, reset, rateLimit) => {
        let headers: Headers;
        try {
          headers = new Headers({ 'retry-after': retryAfter, 'ratelimit-reset': reset, ratelimit: rateLimit });
        } catch {
          return; // not a valid header value at all
        }
        const ms = parseRetryAfter(headers, now);
        expect(ms === undefined || (Number.isFinite(ms) && ms >= 0 && ms <= maxWaitMs)).toBe(true);
      }),
    );
  });

  it('handles adversarial long values in one pass', () => {
    const long = `${'; '.repeat(50_000)}t=5`;
    expect(parseRateLimit(long)).toBe(5_000);
    expect(parseRetryAfter(new Headers({ 'retry-after': `Sun, ${'1'.repeat(100_000)}` }), now)).toBeUndefined();
    expect(parseRateLimit(`"${'\\"'.repeat(50_000)}";t=3`)).toBe(3_000);
  });
});

describe('parseRateLimit (IETF RateLimit header)', () => {
  it.each<[string, number | undefined]>([
    ['"default";r=0;t=30', 30_000],
    ['"default";r=5;t=30', 30_000],
    ['"default"; r=0; t=12', 12_000],
    ['default;t=9', 9_000],
    ['"burst";r=3;t=1, "daily";r=0;t=3600', 3_600_000],
    ['"a";r=0;t=10, "b";r=0;t=20, "c";r=4;t=99', 20_000],
    ['"burst";r=3;t=1, "daily";r=9;t=3600', 1_000],
    ['"x;t=99";r=0;t=2', 2_000],
    ['"default";r=0', undefined],
    ['"default";r=0;t=-1', undefined],
    ['"default";r=0;t=soon', undefined],
    ['"default";r=0;t', undefined],
    ['', undefined],
  ])('%j', (value, expected) => {
    expect(parseRateLimit(value)).toBe(expected);
  });
});

describe('parseHttpDate', () => {
  it('maps a two-digit RFC 850 year to the nearest century not more than 50 years ahead', () => {
    expect(new Date(parseHttpDate('Friday, 01-Jan-99 00:00:00 GMT', now)!).getUTCFullYear()).toBe(1999);
    expect(new Date(parseHttpDate('Monday, 01-Jan-35 00:00:00 GMT', now)!).getUTCFullYear()).toBe(2035);
  });

  it('reads the three formats as the same instant', () => {
    const at = Date.UTC(1994, 10, 6, 8, 49, 37);
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT', now)).toBe(at);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(at);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994', now)).toBe(at);
  });
});
