// What each module costs an app: the README quickstart (and the other size-limit scenarios) bundled from `src/` the
// way an app's bundler would (esbuild, minified, every dependency), then the gzip -9 total shared out among the
// modules in proportion to their minified bytes. size-limit (`npm run size`) gives the totals that are budgeted;
// this gives the breakdown behind them. Usage: `npm run size:why [-- quickstart|session|all]`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { bundleForBrowser } from './size.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const index = join(root, 'src/index.ts');

const scenarios = {
  quickstart: {
    title: 'README quickstart: createApiFetch with getAccessToken and the two UI callbacks',
    code: `import { createApiFetch } from ${JSON.stringify(index)};
export const api = createApiFetch({ auth: { getAccessToken: () => 't' }, onUnauthenticated() {}, onForbidden() {} });`,
  },
  session: {
    title: 'quickstart + refresh with a shared store (createTokenSession, storageTokenStore, tabCoordination)',
    code: `import { createApiFetch, createTokenSession, storageTokenStore, tabCoordination } from ${JSON.stringify(index)};
export const api = createApiFetch({ auth: { session: createTokenSession({ refresh: async () => ({ accessToken: 't' }),
  store: storageTokenStore('k'), coordination: tabCoordination('k') }) }, onUnauthenticated() {}, onForbidden() {} });`,
  },
  all: {
    title: 'every export of apifetch',
    code: `export * from ${JSON.stringify(index)};`,
  },
};

const kib = (bytes) => `${(bytes / 1024).toFixed(2)} KiB`;

async function measure(name) {
  const scenario = scenarios[name];
  if (!scenario) throw new Error(`unknown scenario ${name}: one of ${Object.keys(scenarios).join(', ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'apifetch-size-'));
  try {
    const entry = join(dir, 'entry.js');
    writeFileSync(entry, scenario.code);
    const result = await bundleForBrowser(entry, { metafile: true, absWorkingDir: root });
    const output = result.outputFiles[0];
    const gzip = gzipSync(output.contents, { level: 9 }).length;
    const inputs = Object.values(result.metafile.outputs)[0].inputs;
    const minified = Object.values(inputs).reduce((sum, input) => sum + input.bytesInOutput, 0);
    // Group by module: our own files one by one, each dependency as one package.
    const groups = new Map();
    for (const [path, { bytesInOutput }] of Object.entries(inputs)) {
      if (bytesInOutput === 0) continue;
      const rel = relative(root, join(root, path));
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(rel)?.[1];
      const key = pkg ? `${pkg} (dependency)` : rel.startsWith('src/') ? rel : '(the app)';
      groups.set(key, (groups.get(key) ?? 0) + bytesInOutput);
    }
    const rows = [...groups].sort((a, b) => b[1] - a[1]);
    const own = rows.filter(([key]) => key.startsWith('src/')).reduce((sum, [, bytes]) => sum + bytes, 0);
    console.log(`\n${scenario.title}: ${kib(gzip)} min+gzip (${kib(minified)} minified)`);
    console.log(`  apifetch's own code: ~${kib((gzip * own) / minified)}`);
    for (const [key, bytes] of rows) {
      console.log(`  ${`~${kib((gzip * bytes) / minified)}`.padStart(12)}  ${key}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const wanted = process.argv.slice(2);
for (const name of wanted.length ? wanted : ['quickstart']) await measure(name);
console.log('\nShares of the gzip total in proportion to minified bytes: an estimate per module, exact in sum.');
