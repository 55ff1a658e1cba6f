// `npm run demo`: build the demo SPA, start the demo API on 127.0.0.1, print the URL.
// `npm run demo -- --tour` (or `npm run demo:tour`): the same scenarios in the terminal, then exit.
import { buildDemo, buildLibrary, buildPackage, demoDist } from './build.mjs';

// The demo API serves the package's OAuth model from dist/: built before the server is loaded.
await buildPackage();
const { startDemoServer } = await import('./server.mjs');

if (process.argv.includes('--tour')) {
  // The library as users get it: bundled from the sources, its dependencies imported from node_modules.
  const lib = await import(await buildLibrary());
  const { runTour } = await import('./tour.mjs');
  await runTour({ lib });
} else {
  await buildDemo();
  const server = await startDemoServer({ staticDir: demoDist, port: Number(process.env.PORT ?? 5174) });
  console.log(`apifetch demo: open ${server.url}  (users: alice/alice, admin/admin; Ctrl-C stops)`);
  console.log('No browser? Run `npm run demo:tour` for the same scenarios in the terminal.');
  const stop = async () => {
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
