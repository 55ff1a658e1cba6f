// engines.node must be the truth: on the lowest version of each range it names, the packed tarball (with its peers)
// installs without an engine warning, and every built entry loads, by `import` and by `require()` (Node's require(esm));
// the tarball alone (no optional peer) installs none of them, and the entries that load their peers lazily import.
// The Node binaries come from the `node` package on the npm registry (npx caches them). Needs `npm run build` first.
// `node scripts/check-min-node.mjs 22.12.0` checks another version instead (it must fail there: undici 8 crashes).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** The lowest version each `||` range admits; only `^x.y.z` and `>=x.y.z` ranges, so the lowest is unambiguous. */
export function rangeMinimums(range) {
  return range.split('||').map((part) => {
    const match = /^\s*(?:\^|>=)(\d+\.\d+\.\d+)\s*$/.exec(part);
    if (!match) throw new Error(`check-min-node: cannot read a minimum from engines.node range "${part.trim()}"`);
    return match[1];
  });
}

const run = (file, args, options) => {
  const result = spawnSync(file, args, { encoding: 'utf8', ...options });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}`.trim(), stderr: result.stderr.trim() };
};

// npm's own CLI, so that the install runs on the Node under test and npm checks engines against that version.
const npmCli = join(dirname(realpathSync(execFileSync('which', ['npm'], { encoding: 'utf8' }).trim())), 'npm-cli.js');

const loadByImport = `
const api = await import('apifetch');
const node = await import('apifetch/node');
const testing = await import('apifetch/testing');
const dpop = await import('apifetch/dpop');
const redis = await import('apifetch/redis');
const model = await import('apifetch/testing/auth-model');
if (typeof dpop.createDpop !== 'function' || typeof model.createAuthModel !== 'function') process.exit(2);
if (typeof api.createApiFetch !== 'function' || typeof node.createProxyFetch !== 'function') process.exit(2);
if (typeof testing.mockAuthApi !== 'function' || typeof redis.redisCoordination !== 'function') process.exit(2);
node.createProxyFetch({ proxy: 'http://127.0.0.1:9' });
`;
const loadByRequire = `
const api = require('apifetch');
const node = require('apifetch/node');
const testing = require('apifetch/testing');
const dpop = require('apifetch/dpop');
const redis = require('apifetch/redis');
const model = require('apifetch/testing/auth-model');
if (typeof dpop.createDpop !== 'function' || typeof model.createAuthModel !== 'function') process.exit(2);
if (typeof api.createApiFetch !== 'function' || typeof node.createProxyFetch !== 'function') process.exit(2);
if (typeof testing.mockAuthApi !== 'function' || typeof redis.redisCoordination !== 'function') process.exit(2);
`;
// An app that installs none of the optional peers (a browser app, a Node app without proxies or Redis): the entries
// that load their peers on first use must still import.
const loadWithoutPeers = `
const api = await import('apifetch');
const node = await import('apifetch/node');
const redis = await import('apifetch/redis');
const model = await import('apifetch/testing/auth-model');
if (typeof api.createApiFetch !== 'function' || typeof node.createProxyFetch !== 'function') process.exit(2);
if (typeof redis.redisCoordination !== 'function' || Object.keys(model).length === 0) process.exit(2);
node.createProxyFetch({ proxy: 'http://127.0.0.1:9' });
`;

const work = mkdtempSync(join(tmpdir(), 'apifetch-min-node-'));
const failures = [];
try {
  if (!existsSync(join(root, 'dist/index.js'))) throw new Error('check-min-node: run `npm run build` first');
  // The build is there already: --ignore-scripts skips `prepare`, which would build it again.
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: root }),
  );
  const tarball = join(work, packed[0].filename);
  const versions = process.argv.slice(2).length > 0 ? process.argv.slice(2) : rangeMinimums(pkg.engines.node);
  for (const version of versions) {
    const nodeBin = execFileSync('npx', ['--yes', `node@${version}`, '-p', 'process.execPath'], {
      cwd: work,
      encoding: 'utf8',
    }).trim();
    const app = join(work, `app-${version}`);
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    // Peers too (optional ones included), at the ranges we declare: an app using every entry installs them.
    const peers = Object.entries(pkg.peerDependencies ?? {}).map(([name, range]) => `${name}@${range}`);
    const install = run(nodeBin, [npmCli, 'install', '--no-audit', '--no-fund', tarball, ...peers], { cwd: app });
    const checks = [
      ['npm install of the tarball', install.ok && !install.output.includes('EBADENGINE'), install.output],
      ['import every entry', ...outcome(run(nodeBin, ['--input-type=module', '-e', loadByImport], { cwd: app }))],
      ['require() every entry', ...outcome(run(nodeBin, ['--input-type=commonjs', '-e', loadByRequire], { cwd: app }))],
    ];
    // The tarball alone: npm installs no optional peer, so none may come in as a dependency of ours either.
    const bare = join(work, `bare-${version}`);
    mkdirSync(bare);
    writeFileSync(join(bare, 'package.json'), JSON.stringify({ name: 'bare', private: true, type: 'module' }));
    const bareInstall = run(nodeBin, [npmCli, 'install', '--no-audit', '--no-fund', tarball], { cwd: bare });
    const present = Object.keys(pkg.peerDependencies ?? {}).filter((name) =>
      existsSync(join(bare, 'node_modules', name)),
    );
    checks.push(
      ['npm install of the tarball alone', bareInstall.ok, bareInstall.output],
      ['no optional peer installed with it', present.length === 0, `installed: ${present.join(', ')}`],
      [
        'import apifetch, /node, /redis, /testing/auth-model without the peers',
        ...outcome(run(nodeBin, ['--input-type=module', '-e', loadWithoutPeers], { cwd: bare })),
      ],
    );
    for (const [name, ok, output] of checks) {
      console.log(`check-min-node: Node ${version}: ${name}: ${ok ? 'ok' : 'FAILED'}`);
      if (!ok) failures.push(`Node ${version}: ${name}\n${output}`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** A load passes when it exits 0 and prints nothing: a warning (engines, experimental require) is a failure too. */
function outcome(result) {
  return [result.ok && result.stderr === '', result.output];
}

if (failures.length > 0) {
  console.error(`check-min-node: engines.node is "${pkg.engines.node}", but:\n${failures.join('\n\n')}`);
  process.exit(1);
}
