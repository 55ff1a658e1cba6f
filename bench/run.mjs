// `npm run bench`: every benchmark in one run on this machine, side by side with the peers. Builds the library
// first (benchmarks import dist/, as users get it), prints each section's table as it completes, then one summary
// table of the headline figures against the goals, and writes bench/results.json: every figure, with the command
// that produced it and the machine. Machines here are noisy: figures are medians of interleaved rounds, and ratios.
// `npm run bench -- overhead storm` runs only the named sections.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { useBoundedPools, within } from './lib.mjs';
import { runMemory } from './memory.mjs';
import { runOutage } from './outage.mjs';
import { runOverhead } from './overhead.mjs';
import { runSize } from './size.mjs';
import { runStorm } from './storm.mjs';

/** Section 4 lives with the parser's author; run it when it is there, whatever its file is called. */
async function challengeBench() {
  for (const file of ['./challenge.mjs', './challenge.bench.mjs']) {
    if (existsSync(new URL(file, import.meta.url))) return (await import(file)).runChallengeBench;
  }
  return undefined;
}

const started = performance.now();
// Always build: a stale dist/ would measure yesterday's code, and the build takes seconds.
const root = fileURLToPath(new URL('..', import.meta.url));
await build({ root, logLevel: 'warn', configFile: `${root}vite.config.ts` });
const lib = await import('../dist/index.js');
useBoundedPools();
const runChallengeBench = await challengeBench();

const sections = {
  overhead: {
    title: '1. Per-request overhead (GET small JSON, loopback, 10 in flight)',
    run: () => runOverhead({ lib }),
  },
  // Before the storm: the 10,000-request storm leaves a large heap behind, whose collection would skew the herd.
  outage: { title: '3. Outage: 1,000 clients, 1 req/s each, 10 s of 503 then healthy', run: () => runOutage({ lib }) },
  storm: {
    title: '2. Refresh storm (expired token, N concurrent requests, 256 sockets per client pool)',
    run: () => runStorm({ lib }),
  },
  challenge: {
    title: '4. Challenge parsing vs auth-header and www-authenticate',
    run: runChallengeBench ? () => runChallengeBench({ lib }) : undefined,
  },
  size: { title: '5. Bundle size, browser, min+gzip', run: () => runSize() },
  memory: {
    title: '6. Memory after 1,000, 50,000 and 100,000 requests (one client, in-memory fetch, after GC)',
    run: () => runMemory(),
  },
};

/** Every section is bounded: one that hangs is reported as failed and the run goes on. */
const sectionLimitMs = 240_000;

function cpuModel() {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model;
  } catch {
    return cpus()[0]?.model ?? 'unknown';
  }
}

const only = process.argv.slice(2).filter((a) => a in sections);
const machine = {
  cpu: cpuModel(),
  cores: availableParallelism(),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  date: new Date().toISOString(),
};
const resultsUrl = new URL('./results.json', import.meta.url);
// A run of some sections keeps the other sections of the last run (each carries its own command and date).
const previous = only.length > 0 ? readPrevious() : undefined;

function readPrevious() {
  try {
    return JSON.parse(readFileSync(resultsUrl, 'utf8'));
  } catch {
    return undefined;
  }
}
const results = {
  command: `npm run bench${only.length ? ` -- ${only.join(' ')}` : ''}`,
  machine,
  notes:
    'Figures are medians of interleaved rounds on a shared, noisy machine; compare ratios within one run, not ' +
    'absolute times across runs. Loopback only; every contender goes through the same bounded connection pools.',
  sections: { ...previous?.sections },
};
console.log(`apifetch benchmarks on ${machine.cores} × ${machine.cpu}, Node ${machine.node}`);
for (const [key, section] of Object.entries(sections)) {
  if (only.length > 0 && !only.includes(key)) continue;
  console.log(`\n${section.title}`);
  const command = `npm run bench -- ${key}`;
  if (!section.run) {
    console.log('  pending: its benchmark file is not there yet');
    results.sections[key] = { title: section.title, command, pending: true };
    continue;
  }
  const sectionStarted = performance.now();
  try {
    const rows = await within(Promise.resolve().then(section.run), sectionLimitMs, key);
    console.table(rows);
    results.sections[key] = {
      title: section.title,
      command,
      date: machine.date,
      seconds: seconds(sectionStarted),
      rows,
    };
  } catch (error) {
    console.log(`  failed: ${error instanceof Error ? error.message : String(error)}`);
    results.sections[key] = {
      title: section.title,
      command,
      date: machine.date,
      seconds: seconds(sectionStarted),
      error: String(error),
    };
  }
}

results.sections = Object.fromEntries(
  Object.keys(sections)
    .filter((key) => key in results.sections)
    .map((key) => [key, results.sections[key]]),
);
results.summary = summarize(results.sections);
console.log('\nSummary (apifetch against the goals of issue 10; details above and in bench/results.json)');
console.table(results.summary);
results.seconds = seconds(started);
writeFileSync(resultsUrl, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nwritten: bench/results.json (${results.seconds} s)`);
process.exit(0);

function seconds(since) {
  return Number(((performance.now() - since) / 1000).toFixed(1));
}

/** The headline figures, one row each: what was measured, the value, the goal, and whether it is met. */
function summarize(done) {
  const rows = [];
  const add = (section, figure, value, goal = '', met = undefined) =>
    rows.push({ section, figure, value, goal, met: met === undefined ? '' : met ? 'yes' : 'NO' });
  const rowsOf = (key) => done[key]?.rows ?? [];
  const find = (key, predicate) => rowsOf(key).find(predicate);

  const api = find('overhead', (r) => r.name === 'apifetch');
  if (api) {
    add('1 overhead', 'apifetch throughput / raw fetch', api.ratioToFetch, '≥ 0.97', api.ratioToFetch >= 0.97);
    add('1 overhead', 'apifetch throughput / ky', api.ratioToKy, '≥ 1', api.ratioToKy >= 1);
    const peers = rowsOf('overhead')
      .filter((r) => r.name !== 'apifetch' && r.ratioToFetch !== '')
      .map((r) => `${r.name} ${r.ratioToFetch}`)
      .join(', ');
    add('1 overhead', 'peers / raw fetch', peers);
  }

  for (const n of [...new Set(rowsOf('storm').map((r) => r.n))]) {
    const label = `2 storm N=${n.toLocaleString('en-US')}`;
    const onRejection = find('storm', (r) => r.n === n && r.name.startsWith('apifetch (401'));
    const proactive = find('storm', (r) => r.n === n && r.name === 'apifetch (proactive)');
    if (onRejection) {
      const ok = onRejection.refreshes === 1 && onRejection.failed === 0;
      add(label, 'apifetch 401 path: refreshes / sends per request / failed', fmt(onRejection), '1 / ≤ 2 / 0', ok);
    }
    if (proactive) {
      const ok = proactive.refreshes === 1 && proactive.sendsPerRequest === 1 && proactive.failed === 0;
      add(label, 'apifetch proactive: refreshes / sends per request / failed', fmt(proactive), '1 / 1 / 0', ok);
      add(label, 'apifetch proactive: p50 / p99 ms', `${proactive.p50Ms} / ${proactive.p99Ms}`);
    }
    for (const peer of rowsOf('storm').filter((r) => r.n === n && !r.name.startsWith('apifetch'))) {
      add(label, `${peer.name}: refreshes / sends / failed`, fmt(peer));
    }
  }

  const outage = (prefix) => find('outage', (r) => r.name.startsWith(prefix));
  const throttled = outage('apifetch (throttle on');
  if (throttled) {
    add(
      '3 outage',
      'apifetch amplification (sends / logical)',
      throttled.amplification,
      '≤ 1.3',
      throttled.amplification <= 1.3,
    );
    const herd = `${throttled.herdPeakOverMean} (bench's own schedule: ${throttled.scheduleHerd})`;
    add('3 outage', 'apifetch recovery herd (peak / mean per 100 ms)', herd, '≤ 2', throttled.herdPeakOverMean <= 2);
    const all = throttled.succeededAfterRecovery === throttled.issuedAfterRecovery;
    add(
      '3 outage',
      'apifetch: succeeded / issued after recovery',
      `${throttled.succeededAfterRecovery} / ${throttled.issuedAfterRecovery}`,
      'all',
      all,
    );
  }
  for (const prefix of ['apifetch (throttle off', 'ky defaults']) {
    const row = outage(prefix);
    if (row) add('3 outage', `${row.name}: amplification / herd`, `${row.amplification} / ${row.herdPeakOverMean}`);
  }

  const parse = find('challenge', (r) => r.name === 'parseChallenges');
  if (parse) {
    const peers = rowsOf('challenge').filter((r) => r !== parse);
    const best = Math.max(...peers.map((r) => r.headersPerSecond));
    const speed = Number((parse.headersPerSecond / best).toFixed(2));
    add('4 parser', 'parseChallenges headers/s / fastest peer', speed, '> 1', speed > 1);
    add('4 parser', 'parseChallenges 100 KB hostile header, ms', parse.hostile100KbMs, '< 5', parse.hostile100KbMs < 5);
    const linear = parse.linearity200vs25;
    add('4 parser', 'time per KB at 200 KB / at 25 KB', linear, '≈ 1 (linear)', linear < 1.5);
    for (const peer of peers) {
      add(
        '4 parser',
        `${peer.name}: headers/s, 100 KB ms, linearity`,
        `${peer.headersPerSecond}, ${peer.hostile100KbMs}, ${peer.linearity200vs25}`,
      );
    }
  }

  // The goals are those of the pay-for-what-you-use issue (KiB, min+gzip -9, every dependency bundled).
  const goals = [
    ['README quickstart', 12.5],
    ['every export', 16],
    ['parseChallenges alone', 1.2],
  ];
  for (const row of rowsOf('size')) {
    const goal = goals.find(([prefix]) => row.name.startsWith(prefix))?.[1];
    if (goal === undefined) add('5 size', `${row.name}, KB min+gzip`, row.gzipKb);
    else add('5 size', `${row.name}, KB min+gzip`, row.gzipKb, `≤ ${goal}`, row.gzipKb <= goal);
  }

  const memory = find('memory', (r) => r.name === 'apifetch');
  const kyMemory = find('memory', (r) => r.name === 'ky');
  if (memory) {
    const [lateKey] = Object.keys(memory).filter((k) => /^growth\d+kTo/.test(k));
    const late = memory[lateKey];
    add('6 memory', `apifetch heap growth, second half of the run, MB`, late, '≈ 0 (≤ 0.5)', late <= 0.5);
    if (kyMemory) {
      const excess = Number((memory.growthMb - kyMemory.growthMb).toFixed(2));
      add('6 memory', 'apifetch growth 1k → 100k minus ky alone, MB', excess, '≈ 0 (≤ 0.5)', excess <= 0.5);
    }
  }

  for (const [key, section] of Object.entries(done)) {
    if (section.error) add(key, 'section failed', section.error);
    if (section.pending) add(key, 'section pending', 'not measured');
  }
  return rows;
}

function fmt(row) {
  return `${row.refreshes} / ${row.sendsPerRequest} / ${row.failed}`;
}
