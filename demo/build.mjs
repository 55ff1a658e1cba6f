import { join } from 'node:path';
import { build } from 'vite';
import { demoDir } from './server.mjs';

export const root = join(demoDir, '..');
export const demoDist = join(demoDir, 'dist');

/** Build the library (dist/) as users get it. */
export async function buildLibrary() {
  await build({ root, logLevel: 'warn', configFile: join(root, 'vite.config.ts') });
}

/** Build the demo SPA into demo/dist. */
export async function buildDemo() {
  await build({
    root: demoDir,
    logLevel: 'warn',
    configFile: false,
    // The SPA imports `apifetch` as an app would; here that is the sources.
    resolve: { alias: { apifetch: join(root, 'src/index.ts') } },
    build: { outDir: demoDist, emptyOutDir: true, target: 'es2022' },
  });
}
