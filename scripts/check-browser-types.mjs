// A browser app's types: every browser entry (`apifetch`, `apifetch/dpop`) type-checks with the DOM library and no
// Node types, and with `skipLibCheck` off, so nothing in their declarations reaches for a Node module.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(join(root, 'dist/index.d.ts'))) throw new Error('check-browser-types: run `npm run build` first');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const app = mkdtempSync(join(tmpdir(), 'apifetch-browser-types-'));
try {
  mkdirSync(join(app, 'node_modules'));
  symlinkSync(root, join(app, 'node_modules/apifetch'), 'dir');
  // ky's own types are part of apifetch's: the app resolves them as it would after an install.
  symlinkSync(join(root, 'node_modules/ky'), join(app, 'node_modules/ky'), 'dir');
  writeFileSync(
    join(app, 'main.ts'),
    `import * as apifetch from 'apifetch';
import * as dpop from 'apifetch/dpop';
const session = apifetch.createTokenSession({ coordination: apifetch.tabCoordination('app') });
export const api = apifetch.createApiFetch({ auth: { session, dpop: dpop.createDpop() } });
export type Everything = [keyof typeof apifetch, keyof typeof dpop];
`,
  );
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        target: 'ES2022',
        module: 'ESNext',
        moduleResolution: 'Bundler',
        lib: ['ES2022', 'DOM', 'DOM.Iterable'],
        types: [],
        skipLibCheck: false,
        noEmit: true,
      },
      files: ['main.ts'],
    }),
  );
  try {
    execFileSync(process.execPath, [tsc, '-p', app], { encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    console.error(`check-browser-types: the browser entries' types need more than the DOM library:\n${error.stdout}`);
    process.exit(1);
  }
  console.log('check-browser-types: apifetch and apifetch/dpop type-check with the DOM library alone (no Node types)');
} finally {
  rmSync(app, { recursive: true, force: true });
}
