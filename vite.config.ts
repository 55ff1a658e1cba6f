import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import dts from 'vite-plugin-dts';
import { defineConfig } from 'vitest/config';

/** Library entries: each becomes `dist/<name>.js` with its `.d.ts`. */
const entries = {
  index: resolve(import.meta.dirname, 'src/index.ts'),
  testing: resolve(import.meta.dirname, 'src/testing/index.ts'),
  // The OAuth server model alone, without msw: what a server of one's own (the demo's) imports.
  'testing/auth-model': resolve(import.meta.dirname, 'src/testing/auth-model.ts'),
  node: resolve(import.meta.dirname, 'src/node/index.ts'),
  dpop: resolve(import.meta.dirname, 'src/dpop/index.ts'),
  redis: resolve(import.meta.dirname, 'src/redis/index.ts'),
};

/** Every dependency and peer stays external (users' bundlers dedupe them), read from package.json so none is missed. */
const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, 'package.json'), 'utf8')) as Record<string, object>;
const packages = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})];
const external = (id: string) =>
  id.startsWith('node:') || packages.some((name) => id === name || id.startsWith(`${name}/`));

export default defineConfig({
  build: {
    lib: { entry: entries, formats: ['es'] },
    target: 'es2022',
    minify: false,
    sourcemap: true,
    rolldownOptions: {
      external,
    },
  },
  plugins: [dts({ include: ['src'], tsconfigPath: './tsconfig.build.json' })],
  // Tests import the package by name, as users do (the README example), resolved to the sources.
  resolve: {
    alias: [
      { find: /^apifetch\/dpop$/, replacement: resolve(import.meta.dirname, 'src/dpop/index.ts') },
      {
        find: /^apifetch\/testing\/auth-model$/,
        replacement: resolve(import.meta.dirname, 'src/testing/auth-model.ts'),
      },
      { find: /^apifetch\/testing$/, replacement: resolve(import.meta.dirname, 'src/testing/index.ts') },
      { find: /^apifetch\/redis$/, replacement: resolve(import.meta.dirname, 'src/redis/index.ts') },
      { find: /^apifetch$/, replacement: resolve(import.meta.dirname, 'src/index.ts') },
    ],
  },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          environment: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'happy-dom',
          environment: 'happy-dom',
          // happy-dom-network-log: happy-dom prints a browser's network log for every non-ok response, kept out of
          // the output.
          setupFiles: ['test/helpers/happy-dom-setup.ts', 'test/helpers/happy-dom-network-log.ts'],
          include: ['test/**/*.test.ts'],
          // Node-only suites (proxy, undici) name themselves *.node.test.ts.
          exclude: ['test/e2e/**', 'test/**/*.node.test.ts'],
        },
      },
      // The browser tests, once per engine (test/e2e/engines): Chromium, Firefox ESR and WebKitGTK, from Debian.
      // One engine at a time, after the unit tests (groupOrder), so each engine's time is its own and two
      // cores are not shared by three browsers. `vitest run --project 'e2e-*'` runs all three.
      ...(['chromium', 'firefox', 'webkit'] as const).map((engine, i) => ({
        extends: true,
        test: {
          name: `e2e-${engine}`,
          environment: 'node',
          include: ['test/e2e/**/*.e2e.test.ts'],
          env: { E2E_ENGINE: engine },
          sequence: { groupOrder: i + 1 },
          // A page answers a poll over a driver round trip (WebDriver: HTTP): poll less often, give up later.
          expect: { poll: { timeout: 10_000, interval: 100 } },
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      })),
    ],
  },
});
