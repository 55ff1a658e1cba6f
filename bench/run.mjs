// `npm run bench`: every benchmark in one run on this machine, side by side with the peers. Prints the tables and
// writes bench/results.json. Machines here are noisy: figures are medians of interleaved rounds, and ratios.
// `npm run bench -- overhead storm` runs only the named sections.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { buildLibrary } from '../demo/build.mjs';
import { runChallengeBench } from './challenge.mjs';
import { runMemory } from './memory.mjs';
import { runOutage } from './outage.mjs';
import { runOverhead } from './overhead.mjs';
import { runSize } from './size.mjs';
import { runStorm } from './storm.mjs';

await buildLibrary();
const lib = await import('../dist/index.js');

const sections = {
  overhead: {
    title: '1. Per-request overhead (GET small JSON, loopback, 10 in flight)',
    run: () => runOverhead({ lib }),
  },
  outage: { title: '3. Outage: 1,000 clients, 1 req/s each, 10 s of 503 then healthy', run: () => runOutage({ lib }) },
  // After the outage: the 10,000-request storm leaves a large heap behind, whose collection would skew the herd figure.
  storm: { title: '2. Refresh storm (expired token, N concurrent requests)', run: () => runStorm({ lib }) },
  challenge: {
    title: '4. Challenge parsing vs auth-header and www-authenticate',
    run: () => runChallengeBench({ lib }),
  },
  size: { title: '5. Bundle size, browser, min+gzip', run: () => runSize() },
  memory: { title: '6. Memory after 1,000 vs 100,000 requests (one client, after GC)', run: () => runMemory() },
};

const only = process.argv.slice(2).filter((a) => a in sections);
const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  node: process.version,
  date: new Date().toISOString().slice(0, 10),
};
const results = { machine, command: `npm run bench${only.length ? ` -- ${only.join(' ')}` : ''}`, sections: {} };
console.log(`apifetch benchmarks on ${machine.cores} × ${machine.cpu}, Node ${machine.node}`);
for (const [key, section] of Object.entries(sections)) {
  if (only.length > 0 && !only.includes(key)) continue;
  console.log(`\n${section.title}`);
  const rows = await section.run();
  console.table(rows);
  results.sections[key] = { title: section.title, rows };
}
writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
console.log('\nwritten: bench/results.json');
process.exit(0);
