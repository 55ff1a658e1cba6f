// `npm run demo`: build apifetch and the demo SPA, start the demo API on 127.0.0.1, print the URL.
// `npm run demo -- --tour` (or `npm run demo:tour`): the same scenarios in the terminal, then exit.
import { join } from 'node:path';
import { build } from 'vite';
import { demoDir, startDemoServer } from './server.mjs';

const root = join(demoDir, '..');
const tour = process.argv.includes('--tour');

// The library as users get it: the built package.
await build({ root, logLevel: 'warn', configFile: join(root, 'vite.config.ts') });
const lib = await import(join(root, 'dist/index.js'));

if (tour) {
  const { runTour } = await import('./tour.mjs');
  await runTour({ lib });
} else {
  await build({
    root: demoDir,
    logLevel: 'warn',
    configFile: false,
    resolve: { alias: { apifetch: join(root, 'dist/index.js') } },
    build: { outDir: join(demoDir, 'dist'), emptyOutDir: true },
  });
  const server = await startDemoServer({ staticDir: join(demoDir, 'dist'), port: Number(process.env.PORT ?? 5174) });
  console.log(`apifetch demo: open ${server.url}  (users: alice/alice, admin/admin; Ctrl-C stops)`);
  process.on('SIGINT', async () => {
    await server.close();
    process.exit(0);
  });
}
