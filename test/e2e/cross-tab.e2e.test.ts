import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { build } from 'rolldown';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from './browser.js';

/**
 * A same-origin app and API: short-lived opaque access tokens, rotating refresh tokens with reuse detection
 * (a reused refresh token revokes the family, as Keycloak, Auth0 and Okta do), and pages that load apifetch.
 */
function startApp(bundle: string) {
  const access = new Set<string>();
  const refresh = new Map<string, { family: string; used: boolean }>();
  const revoked = new Set<string>();
  const stats = { refreshes: 0, reuse: 0, ok: 0, unauthorized: 0 };
  const issue = (family: string) => {
    const accessToken = `at-${randomBytes(6).toString('hex')}`;
    const refreshToken = `rt-${randomBytes(6).toString('hex')}`;
    access.add(accessToken);
    refresh.set(refreshToken, { family, used: false });
    return { accessToken, refreshToken };
  };
  const page = `<!doctype html><script type="module">
    import { createApiFetch, storageTokenStore } from '/apifetch.js';
    window.unauthenticatedCalls = 0;
    window.api = createApiFetch({
      baseUrl: location.origin + '/api/',
      auth: {
        store: storageTokenStore(localStorage, 'e2e-tokens'),
        refresh: async ({ tokens, signal }) => {
          const r = await fetch('/oauth/token', { method: 'POST', body: tokens?.refreshToken ?? '', signal });
          if (!r.ok) throw Object.assign(new Error('refresh failed'), { status: r.status });
          return r.json();
        },
        maxRefreshes: 100,
      },
      retry: false,
      onUnauthenticated: () => { window.unauthenticatedCalls += 1; },
    });
    window.ready = true;
  </script>`;
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    if (req.url === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    if (req.url === '/apifetch.js') {
      return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    }
    if (req.url === '/oauth/token') {
      stats.refreshes += 1;
      const entry = refresh.get(body);
      if (!entry || revoked.has(entry.family)) return void res.writeHead(400).end('{"error":"invalid_grant"}');
      if (entry.used) {
        stats.reuse += 1;
        revoked.add(entry.family);
        return void res.writeHead(400).end('{"error":"invalid_grant"}');
      }
      entry.used = true;
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(issue(entry.family)));
    }
    const token = (req.headers.authorization ?? '').replace('Bearer ', '');
    if (!access.has(token)) {
      stats.unauthorized += 1;
      return void res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
    }
    stats.ok += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  return new Promise<{ url: string; stats: typeof stats; login(): object; expireAll(): void; close(): Promise<void> }>(
    (resolve) =>
      server.listen(0, '127.0.0.1', () =>
        resolve({
          url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          stats,
          login: () => issue(randomBytes(4).toString('hex')),
          expireAll: () => access.clear(),
          close: () =>
            new Promise<void>((done) => {
              server.closeAllConnections();
              server.close(() => done());
            }),
        }),
      ),
  );
}

describe.skipIf(!hasChromium)('one refresh across tabs, in Chromium', () => {
  let browser: Browser;
  let app: Awaited<ReturnType<typeof startApp>>;

  beforeAll(async () => {
    const result = await build({
      input: 'src/index.ts',
      write: false,
      platform: 'browser',
      output: { format: 'esm' },
      logLevel: 'silent',
    });
    const bundle = result.output.map((chunk) => (chunk.type === 'chunk' ? chunk.code : '')).join('\n');
    app = await startApp(bundle);
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  async function openTabs(count: number): Promise<{ context: BrowserContext; pages: Page[] }> {
    const context = await browser.newContext();
    const pages: Page[] = [];
    for (let i = 0; i < count; i++) {
      const page = await context.newPage();
      await page.goto(app.url);
      await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
      pages.push(page);
    }
    const tokens = app.login();
    await pages[0]!.evaluate(
      (t) => (window as never as { api: { auth: { setTokens(t: unknown): Promise<void> } } }).api.auth.setTokens(t),
      tokens,
    );
    return { context, pages };
  }

  const storm = (page: Page) =>
    page.evaluate(async () => {
      const { api } = window as unknown as { api: (url: string) => { json(): Promise<unknown> } };
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => api(`item/${i}`).json()));
      return results.filter((r) => r.status === 'fulfilled').length;
    });

  for (const tabs of [2, 5]) {
    it(`${tabs} tabs, expired token, 20 requests each at once: one refresh per storm, no reuse, all succeed`, async () => {
      const { context, pages } = await openTabs(tabs);
      for (let round = 0; round < 7; round++) {
        app.expireAll();
        const before = { ...app.stats };
        const succeeded = await Promise.all(pages.map(storm));
        expect(succeeded).toEqual(Array(tabs).fill(20));
        expect(app.stats.refreshes - before.refreshes).toBe(1);
        expect(app.stats.reuse).toBe(0);
      }
      await context.close();
    }, 60_000);
  }

  it("a sign-out in one tab: the other's next request fails fast and its onUnauthenticated fires once", async () => {
    const { context, pages } = await openTabs(2);
    const [a, b] = pages as [Page, Page];
    expect(await storm(b)).toBe(20);
    await a.evaluate(() => (window as unknown as { api: { auth: { clear(): Promise<void> } } }).api.auth.clear());
    await b.waitForFunction(() => localStorage.getItem('e2e-tokens') === null);
    const sendsBefore = app.stats.ok + app.stats.unauthorized;
    const outcome = await b.evaluate(async () => {
      const w = window as unknown as { api: (u: string) => Promise<unknown>; unauthenticatedCalls: number };
      const reasons: string[] = [];
      for (let i = 0; i < 3; i++) {
        await w.api('item/1').catch((e: { reason: string; sent: boolean }) => reasons.push(`${e.reason}:${e.sent}`));
      }
      return { reasons, calls: w.unauthenticatedCalls };
    });
    expect(outcome).toEqual({ reasons: Array(3).fill('signed_out:false'), calls: 1 });
    expect(app.stats.ok + app.stats.unauthorized).toBe(sendsBefore);
    await context.close();
  }, 60_000);
});
