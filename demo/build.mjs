import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'vite';

export const demoDir = fileURLToPath(new URL('.', import.meta.url));
export const root = join(demoDir, '..');
export const demoDist = join(demoDir, 'dist');

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
/** The package's dependencies stay imports, as in the published build. */
const external = [
  ...Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies }).map((name) => new RegExp(`^${name}($|/)`)),
  /^node:/,
];

/**
 * Bundle the library's main entry for the terminal tour, as the package build does but without type
 * declarations (a tenth of a second instead of seconds), into a cache folder so `dist/` is left alone.
 * @returns {Promise<string>} the module's file URL, for `import()`
 */
export async function buildLibrary() {
  const outDir = join(root, 'node_modules/.cache/apifetch-demo');
  await build({
    root,
    logLevel: 'warn',
    configFile: false,
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      minify: false,
      lib: { entry: join(root, 'src/index.ts'), formats: ['es'], fileName: 'index' },
      rolldownOptions: { external },
    },
  });
  return pathToFileURL(join(outDir, 'index.js')).href;
}

/** The newest modification time of `path`, a file or a folder (its files, recursively); 0 when it is missing. */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

/**
 * The demo API imports the OAuth server model from the built package (`apifetch/testing/auth-model`, resolved to
 * `dist/`), as a user's server would. `npm ci` builds the package; this builds it again, with the project's own
 * build, only when the sources are newer than `dist/`, so the demo never runs an old model.
 */
export async function buildPackage() {
  const built = newest(join(root, 'dist/testing/auth-model.js'));
  const sources = Math.max(...['src', 'package.json', 'vite.config.ts'].map((path) => newest(join(root, path))));
  if (built > sources) return;
  await build({
    root,
    logLevel: 'warn',
    configFile: join(root, 'vite.config.ts'),
    // The type declarations take most of its few seconds: no report of plugin timings on each stale start.
    build: { rolldownOptions: { checks: { pluginTimings: false } } },
  });
}

/** Build the demo SPA into demo/dist. */
export async function buildDemo() {
  await build({
    root: demoDir,
    logLevel: 'warn',
    configFile: false,
    // The SPA imports `apifetch` as an app would; here that is the sources.
    resolve: {
      alias: [
        { find: /^apifetch$/, replacement: join(root, 'src/index.ts') },
        { find: /^apifetch\/dpop$/, replacement: join(root, 'src/dpop/index.ts') },
      ],
    },
    build: { outDir: demoDist, emptyOutDir: true, target: 'es2022' },
  });
}
