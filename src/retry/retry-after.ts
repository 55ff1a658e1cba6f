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

const seconds = (value: string): number | undefined => (/^\d{1,10}$/.test(value) ? Number(value) * 1000 : undefined);

/**
 * How long the server asks us to wait, in ms, from `Retry-After` (delta-seconds or HTTP-date), else `RateLimit-Reset`
 * (delta-seconds), else the `t` parameter of the IETF `RateLimit` header. Retry-After is authoritative when present.
 * Garbage yields undefined (back off normally); a date in the past yields 0.
 */
export function parseRetryAfter(headers: Headers, now: number): number | undefined {
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter) {
    const delta = seconds(retryAfter);
    if (delta !== undefined) return delta;
    const date = parseHttpDate(retryAfter, now);
    return date === undefined ? undefined : Math.max(0, date - now);
  }
  const reset = headers.get('ratelimit-reset')?.trim();
  if (reset) return seconds(reset);
  const rateLimit = headers.get('ratelimit');
  if (rateLimit) {
    // e.g. `"default";r=0;t=30`: the first list member's `t` parameter.
    const t = /;\s*t=(\d{1,10})(?:[;,\s]|$)/.exec(rateLimit);
    if (t) return Number(t[1]) * 1000;
  }
  return undefined;
}
