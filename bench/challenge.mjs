// 4. parseChallenges against auth-header and www-authenticate on the same inputs: throughput on real headers,
// the 100 KB hostile header, and linearity (time per KB as the hostile input grows). Neither peer parses several
// challenges in one field (auth-header merges them wrongly; www-authenticate says so), so throughput uses
// single-challenge headers all three can read.
// Standalone: `node bench/challenge.mjs` (Node 24, which strips the types of src/challenge.ts) prints the table.
import authHeader from 'auth-header';
import wwwAuthenticate from 'www-authenticate';
import { median } from './lib.mjs';

const realistic = [
  'Bearer realm="example", error="invalid_token", error_description="The access token expired"',
  'Bearer realm="api", error="insufficient_scope", scope="openid profile email admin:write"',
  'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
  'Basic realm="WallyWorld", charset="UTF-8"',
];

/**
 * Thousands of commas, equals signs, escaped quotes and challenges, all valid, so a parser must read to the end:
 * what an attacker or a broken proxy sends (a parser that stops at the first error is not tested by garbage).
 */
export function hostileHeader(bytes) {
  const pieces = ['Bearer realm="a\\"b,c=d\\\\", ', 'e = "x,y", ', ', , ,', 'Basic ', 'a=b, ', 'Negotiate YII==, '];
  let out = '';
  for (let i = 0; out.length < bytes; i++) out += pieces[i % pieces.length];
  return out.slice(0, bytes);
}

/** Milliseconds per call, over at least `minMs`; batches of 10 only for fast calls, so a slow parser costs `minMs`. */
function timeIt(fn, input, minMs = 150) {
  let start = performance.now();
  fn(input);
  const batch = performance.now() - start > 1 ? 1 : 10;
  let runs = 0;
  let elapsed = 0;
  start = performance.now();
  while (elapsed < minMs) {
    for (let i = 0; i < batch; i++) fn(input);
    runs += batch;
    elapsed = performance.now() - start;
  }
  return elapsed / runs;
}

/**
 * One row per parser: `headersPerSecond` (realistic headers), `hostile100KbMs` (ms per parse of the 100 KB hostile
 * header) and `linearity200vs25` (time per KB at 200 KB over time per KB at 25 KB: about 1 when linear).
 * `lib` is apifetch's built entry; by default, the source through Node's type stripping.
 */
export async function runChallengeBench({ lib, rounds = 7 } = {}) {
  lib ??= await import('../src/challenge.ts');
  const parsers = {
    parseChallenges: (h) => lib.parseChallenges(h),
    'auth-header': (h) => {
      try {
        return authHeader.parse(h);
      } catch {
        return undefined;
      }
    },
    'www-authenticate': (h) => new wwwAuthenticate.parsers.WWW_Authenticate(h),
  };
  const hostile = hostileHeader(100 * 1024);
  const names = Object.keys(parsers);
  const perHeader = Object.fromEntries(names.map((n) => [n, []]));
  const perHostile = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const name of names) perHostile[name].push(timeIt(parsers[name], hostile, 100));
  }
  // Throughput after the hostile rounds, so each parser has seen every kind of input (a JIT specialised on clean
  // input alone would flatter it); the four headers in turn, as mixed traffic brings them; round 0 only warms up.
  // Interleaved rounds: each parser runs in every round, so drift on a noisy machine hits all of them alike.
  for (let r = 0; r <= rounds; r++) {
    for (const name of names) {
      const parse = parsers[name];
      const msPerHeader = timeIt((hs) => hs.forEach(parse), realistic, 80) / realistic.length;
      if (r > 0) perHeader[name].push(msPerHeader);
    }
  }
  const rows = names.map((name) => {
    const linear = [25, 50, 100, 200].map((kb) => timeIt(parsers[name], hostileHeader(kb * 1024), 100) / kb);
    return {
      name,
      headersPerSecond: Math.round(1000 / median(perHeader[name])),
      hostile100KbMs: Number(median(perHostile[name]).toFixed(3)),
      // Time per KB at 200 KB over time per KB at 25 KB: about 1 for a linear parser.
      linearity200vs25: Number((linear[3] / linear[0]).toFixed(2)),
    };
  });
  return rows;
}

if (import.meta.main) {
  const started = performance.now();
  console.table(await runChallengeBench());
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
