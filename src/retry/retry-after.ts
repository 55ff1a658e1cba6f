const months = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
// IMF-fixdate, RFC 850 and asctime (RFC 9110 §5.6.7); anchored and without nested quantifiers.
const imf = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const rfc850 = /^[A-Za-z]{6,9}, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const asctime = /^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

function toTime(year: number, month: string, day: string, h: string, m: string, s: string): number | undefined {
  const mon = months.indexOf(month.toLowerCase());
  if (mon < 0) return undefined;
  const time = Date.UTC(year, mon, Number(day), Number(h), Number(m), Number(s));
  const date = new Date(time);
  // Reject dates that Date.UTC silently rolled over (Feb 31, 25:00).
  if (date.getUTCDate() !== Number(day) || date.getUTCHours() !== Number(h) || date.getUTCMinutes() !== Number(m)) {
    return undefined;
  }
  return time;
}

/** An HTTP-date as epoch ms, or undefined. */
export function parseHttpDate(value: string, now: number): number | undefined {
  let m = imf.exec(value);
  if (m) return toTime(Number(m[3]), m[2]!, m[1]!, m[4]!, m[5]!, m[6]!);
  m = rfc850.exec(value);
  if (m) {
    // RFC 9110: a two-digit year more than 50 years ahead is in the past century.
    const thisYear = new Date(now).getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + Number(m[3]);
    if (year > thisYear + 50) year -= 100;
    return toTime(year, m[2]!, m[1]!, m[4]!, m[5]!, m[6]!);
  }
  m = asctime.exec(value);
  if (m) return toTime(Number(m[6]), m[1]!, m[2]!.trim(), m[3]!, m[4]!, m[5]!);
  return undefined;
}

// RFC 9110 §1.2.1: a delta-seconds too large to represent counts as 2^31 seconds, a very long wait, not garbage.
const maxDeltaSeconds = 2 ** 31;

const seconds = (value: string): number | undefined => {
  if (!/^\d+$/.test(value)) return undefined;
  return (value.length > 10 ? maxDeltaSeconds : Math.min(maxDeltaSeconds, Number(value))) * 1000;
};

/**
 * The wait in ms from an IETF `RateLimit` header (a list of `"policy";r=remaining;t=reset` items): the longest `t`
 * among exhausted policies (`r=0`), else the first item's `t`. One pass, quoted strings skipped.
 */
export function parseRateLimit(value: string): number | undefined {
  let first: number | undefined;
  let exhausted: number | undefined;
  let t: number | undefined;
  let r: string | undefined;
  let itemIndex = 0;
  const endItem = () => {
    if (t !== undefined) {
      if (itemIndex === 0) first = t;
      if (r === '0') exhausted = Math.max(exhausted ?? 0, t);
    }
    itemIndex++;
    t = undefined;
    r = undefined;
  };
  let i = 0;
  while (i < value.length) {
    const c = value[i];
    if (c === '"') {
      // Skip the quoted string, honouring backslash escapes.
      i++;
      while (i < value.length && value[i] !== '"') i += value[i] === '\\' ? 2 : 1;
      i++;
    } else if (c === ',') {
      endItem();
      i++;
    } else if (c === ';') {
      let j = i + 1;
      while (value[j] === ' ') j++;
      let k = j;
      while (k < value.length && value[k] !== '=' && value[k] !== ';' && value[k] !== ',') k++;
      const key = value.slice(j, k);
      if (value[k] !== '=') {
        i = k;
        continue;
      }
      let end = k + 1;
      while (end < value.length && value[end] !== ';' && value[end] !== ',') end++;
      const param = value.slice(k + 1, end).trim();
      if (key === 't') t = seconds(param);
      else if (key === 'r') r = param;
      i = end;
    } else {
      i++;
    }
  }
  endItem();
  return exhausted ?? first;
}

/**
 * How long the server asks us to wait, in ms, from `Retry-After` (delta-seconds or HTTP-date), else `RateLimit-Reset`
 * (delta-seconds), else the `t` parameter of the IETF `RateLimit` header. Retry-After is authoritative when it
 * parses; an unparseable one gives way to the rate-limit headers. Garbage yields undefined (back off normally); a date
 * in the past yields 0; a delta too large to represent yields 2^31 s.
 */
export function parseRetryAfter(headers: Headers, now: number): number | undefined {
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter) {
    const delta = seconds(retryAfter);
    if (delta !== undefined) return delta;
    const date = parseHttpDate(retryAfter, now);
    if (date !== undefined) return Math.max(0, date - now);
  }
  const reset = headers.get('ratelimit-reset')?.trim();
  const resetMs = reset ? seconds(reset) : undefined;
  if (resetMs !== undefined) return resetMs;
  const rateLimit = headers.get('ratelimit');
  return rateLimit ? parseRateLimit(rateLimit) : undefined;
}
