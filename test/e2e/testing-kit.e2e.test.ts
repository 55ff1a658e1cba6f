import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { build } from 'rolldown';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from './browser.js';

// apifetch/testing in a real browser, through msw's service worker (setupWorker), as users' browser tests run it.
const entry = `
import { setupWorker } from 'msw/browser';
import { createApiFetch, isForbiddenError } from '${join(process.cwd(), 'src/index.ts')}';
import { mockAuthApi, testingOptions } from '${join(process.cwd(), 'src/testing/index.ts')}';

const mock = mockAuthApi({
  baseUrl: 'https://api.example.test',
  users: { ada: { password: 'pw' } },
  routes: { '/me': { body: ({ user }) => ({ name: user }) }, '/admin': { scopes: ['admin'] } },
});
window.scenario = async () => {
  const worker = setupWorker(...mock.handlers);
  await worker.start({ serviceWorker: { url: '/mockServiceWorker.js' }, onUnhandledFrame: 'bypass', quiet: true });
  let signedOut = 0;
  const api = createApiFetch({
    baseUrl: 'https://api.example.test',
    auth: { tokens: mock.login('ada'), refresh: mock.refresh },
    onUnauthenticated: () => { signedOut += 1; },
    ...testingOptions,
  });
  const out = {};
  out.me = await api.get('me').json();
  mock.expireTokens();
  out.afterExpiry = await Promise.all([api.get('me').json(), api.get('me').json()]);
  out.refreshes = mock.stats.refreshes;
  out.forbidden = await api.get('admin').then(() => 'allowed', (e) => isForbiddenError(e) ? e.requiredScopes : String(e));
  mock.failNext(2, { status: 503 });
  out.flaky = await api.get('me').json();
  mock.failNext(1, { network: true });
  out.dropped = await api.get('me').json();
  mock.revoke();
  out.revoked = await api.get('me').then(() => 'ok', (e) => e.reason);
  out.signedOut = signedOut;
  worker.stop();
  return out;
};
window.ready = true;
`;

describe.skipIf(!hasChromium)('apifetch/testing with setupWorker in Chromium', () => {
  let browser: Browser;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    // Inside the project, so that the bundler resolves msw from its node_modules.
    const dir = join(process.cwd(), 'node_modules/.cache/apifetch-e2e');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'kit-entry.mjs');
    writeFileSync(file, entry);
    const result = await build({
      input: file,
      cwd: process.cwd(),
      write: false,
      platform: 'browser',
      output: { format: 'esm' },
      logLevel: 'silent',
    });
    const bundle = result.output.map((chunk) => (chunk.type === 'chunk' ? chunk.code : '')).join('\n');
    const worker = readFileSync(join(process.cwd(), 'node_modules/msw/lib/mockServiceWorker.js'));
    server = createServer((req, res) => {
      if (req.url === '/mockServiceWorker.js') {
        return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(worker);
      }
      if (req.url === '/kit.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><script type="module" src="/kit.js"></script>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    server?.close();
  });

  it('mocks the API for the page: expiry and one refresh, 403 scopes, flaky 503s, a dropped connection, revocation', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(url);
    await page
      .waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true)
      .catch(() => {
        throw new Error(`the page did not load: ${errors.join('; ')}`);
      });
    const out = await page.evaluate(() => (window as unknown as { scenario: () => Promise<unknown> }).scenario());
    expect(out).toEqual({
      me: { name: 'ada' },
      afterExpiry: [{ name: 'ada' }, { name: 'ada' }],
      refreshes: 1,
      forbidden: ['admin'],
      flaky: { name: 'ada' },
      dropped: { name: 'ada' },
      revoked: 'refresh_failed',
      signedOut: 1,
    });
  }, 60_000);
});
