import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'vite';
import { demoDir } from './server.mjs';

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
