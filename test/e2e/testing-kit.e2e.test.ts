import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEngines, type EngineBrowser, launch } from './engines/index.js';
import { kitEntry } from './pages.js';
import { bundle, type Served, serve } from './server.js';

interface KitWindow {
  ready?: boolean;
  errors: string[];
  scenario(): Promise<unknown>;
}

// A classic script runs before the module and keeps its errors, so a page that fails to load says why.
const page = `<!doctype html><script>
  window.errors = [];
  addEventListener('error', (e) => window.errors.push(String(e.message)));
  addEventListener('unhandledrejection', (e) => window.errors.push(String(e.reason)));
</script><script type="module" src="/kit.js"></script>`;

describeEngines('apifetch/testing with setupWorker', (engine) => {
  let browser: EngineBrowser;
  let server: Served;

  beforeAll(async () => {
    // Inside the project, so that the bundler resolves msw from its node_modules.
    const dir = join(process.cwd(), 'node_modules/.cache/apifetch-e2e');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'kit-entry.mjs');
    writeFileSync(file, kitEntry);
    const kit = await bundle(file);
    const worker = readFileSync(join(process.cwd(), 'node_modules/msw/lib/mockServiceWorker.js'));
    server = await serve((req, res) => {
      if (req.url === '/mockServiceWorker.js') {
        return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(worker);
      }
      if (req.url === '/kit.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(kit);
      res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    });
    browser = await launch(engine);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('mocks the API for the page: expiry and one refresh, 403 scopes, flaky 503s, a dropped connection, revocation', async () => {
    const window = await browser.open(`${server.url}/`);
    const state = () =>
      window.evaluate(() => {
        const w = globalThis as unknown as KitWindow;
        return { ready: w.ready === true, errors: w.errors };
      });
    await expect.poll(state).toEqual({ ready: true, errors: [] });
    const out = await window.evaluate(() => (globalThis as unknown as KitWindow).scenario());
    expect(out).toEqual({
      me: { name: 'ada' },
      afterExpiry: [{ name: 'ada' }, { name: 'ada' }],
      refreshes: 1,
      forbidden: ['admin'],
      flaky: { name: 'ada' },
      // WebKit rejects msw's simulated drop with its own message; apifetch retries it like any dropped connection.
      dropped: { name: 'ada' },
      revoked: 'refresh_failed',
      signedOut: 1,
    });
    await window.close();
  }, 60_000);
});
