import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: the demo is plain JavaScript
import { buildDemo, demoDist } from '../../demo/build.mjs';
// @ts-expect-error: the demo is plain JavaScript
import { startDemoServer } from '../../demo/server.mjs';
import { chromiumPath, hasChromium, launchChromium } from './browser.js';

interface DemoServer {
  url: string;
  stats: {
    refreshes: number;
    reuseDetected: number;
    requests: Record<string, number>;
    thirdParty: { requests: number; withAuthorization: number };
  };
  close(): Promise<void>;
}

describe.skipIf(!hasChromium)(`demo SPA in Chromium (needs ${chromiumPath}; skipped without it)`, () => {
  let browser: Browser;
  let server: DemoServer;

  beforeAll(async () => {
    await buildDemo();
    server = await startDemoServer({ staticDir: demoDist });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const click = (page: Page, action: string) => page.click(`[data-action="${action}"]`);
  const textOf = async (page: Page, selector: string) => (await page.textContent(selector)) ?? '';
  const waitForText = (page: Page, selector: string, text: string, timeout = 10_000) =>
    page.waitForFunction(
      ([sel, t]) => document.querySelector(sel as string)?.textContent?.includes(t as string) ?? false,
      [selector, text],
      { timeout },
    );
  const events = (page: Page, type: string) => page.locator(`#events li[data-type="${type}"]`);
  const signIn = async (page: Page) => {
    await page.goto(server.url);
    await page.waitForSelector('#login:not([hidden])');
    await page.click('#login button[type=submit]');
    await waitForText(page, '#who', 'signed in as alice');
  };

  it('signs in, loads the profile, is denied admin, bursts with one refresh, rides out a flaky endpoint, signs out', async () => {
    const page = await browser.newPage();
    await signIn(page);
    expect(await textOf(page, '#token')).toMatch(/access token expires in 1[45] s/);
    expect(await textOf(page, '#events')).toContain('GET /api/profile · attempt 1 · Bearer token');

    await click(page, 'profile');
    await waitForText(page, '#result', '"alice"');
    // The timeline draws on the next animation frame, after the result text.
    await expect
      .poll(() => textOf(page, '#timeline-summary'))
      .toBe('Load profile: 1 request · 1 send · 0 refreshes · 0 replays · 0 retries');

    await click(page, 'admin');
    await page.waitForSelector('#banner:not([hidden])');
    expect(await textOf(page, '#banner')).toBe('Access denied: this needs the admin scope.');
    expect(await textOf(page, '#result')).toContain('ForbiddenError (ERR_FORBIDDEN)');
    expect(await textOf(page, '#events li[data-type="forbidden"]')).toContain('POST /api/admin · needs admin');

    const before = server.stats.refreshes;
    await click(page, 'burst');
    await waitForText(page, '#result', '50 requests succeeded; the token endpoint saw 1 refresh.');
    expect(server.stats.refreshes - before).toBe(1);
    expect(await events(page, 'replay').count()).toBe(50);
    expect(await events(page, 'refresh:success').count()).toBe(1);
    // The timeline draws on the next animation frame, after the result text.
    await expect
      .poll(() => textOf(page, '#timeline-summary'))
      .toBe('Burst of 50 after revocation: 50 requests · 100 sends · 1 refresh · 50 replays · 0 retries');
    // The log's newest group is the burst, headed by its name, and holds the burst's events.
    const newest = page.locator('#events > li.group').first();
    expect(await newest.locator('h3').textContent()).toBe('Burst of 50 after revocation');
    expect(await newest.locator('li[data-type="replay"]').count()).toBe(50);
    expect(await textOf(page, '#events li[data-type="refresh:start"]')).toContain('the API answered 401 to the token');
    await expect.poll(() => textOf(page, '#timeline')).toContain('refresh after a 401');
    // One row per request: a purple 401 bar, the wait for the refresh, a green replay; and the refresh row.
    await expect.poll(() => page.locator('#timeline rect[data-kind="replayed"]').count()).toBe(50);
    await expect.poll(() => page.locator('#timeline rect[data-kind="ok"]').count()).toBe(50);
    await expect.poll(() => page.locator('#timeline rect[data-kind="refresh"]').count()).toBe(1);
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/demo.png', fullPage: true });

    await click(page, 'flaky');
    await waitForText(page, '#result', '"ok": true', 15_000);
    expect(await events(page, 'retry').count()).toBe(2);
    expect(await textOf(page, '#events')).toContain('after 429, waiting');
    expect(await textOf(page, '#events')).toContain('(Retry-After 1000 ms)');
    await expect.poll(() => page.locator('#timeline rect[data-kind="retried"]').count()).toBe(2);
    await expect.poll(() => page.locator('#timeline line.wait').count()).toBe(2);

    await page.screenshot({ path: 'test-results/demo-flaky.png', fullPage: true });

    await click(page, 'signout');
    await page.waitForSelector('#login:not([hidden])');
    // Sign-out sends nothing: a sentence, not an empty axis.
    await expect.poll(() => textOf(page, '#timeline-summary')).toBe('Sign out: no requests were sent.');
    expect(await page.locator('#timeline line, #timeline text').count()).toBe(0);
    await click(page, 'profile');
    await waitForText(page, '#result', 'UnauthenticatedError (signed_out), sent: false');
    expect(await textOf(page, '#login-reason')).toContain('signed_out');
    await expect.poll(() => page.locator('#timeline [data-kind="not-sent"]').count()).toBe(1);
    // Every mark and label lies inside the chart: nothing is clipped at its right edge.
    const overflow = await page.evaluate(() => {
      const svg = document.querySelector<SVGSVGElement>('#timeline')!;
      const right = Math.max(
        ...[...svg.querySelectorAll<SVGGraphicsElement>('text, rect')].map((el) => el.getBBox().x + el.getBBox().width),
      );
      return right - svg.viewBox.baseVal.width;
    });
    expect(overflow).toBeLessThanOrEqual(0);
    expect(server.stats.reuseDetected).toBe(0);
    await page.close();
  }, 60_000);

  it('two tabs share one session: a refresh in one reaches the other, and sign-out in one signs both out', async () => {
    const context: BrowserContext = await browser.newContext();
    const first = await context.newPage();
    await signIn(first);
    const second = await context.newPage();
    await second.goto(server.url);
    await waitForText(second, '#who', 'signed in as alice');

    const before = server.stats.refreshes;
    await click(first, 'burst');
    await waitForText(first, '#result', 'the token endpoint saw 1 refresh.');
    await second.waitForSelector('#events li[data-type="tokens:updated"]');
    expect(await textOf(second, '#events li[data-type="tokens:updated"]')).toContain('from another tab');
    // The second tab already holds the rotated tokens: its burst refreshes with the new refresh token.
    await click(second, 'burst');
    await waitForText(second, '#result', 'the token endpoint saw 1 refresh.');
    expect(server.stats.refreshes - before).toBe(2);
    expect(server.stats.reuseDetected).toBe(0);

    await click(second, 'profile');
    await waitForText(second, '#result', '"alice"');
    await click(first, 'signout');
    await second.waitForSelector('#login:not([hidden])');
    expect(await textOf(second, '#login-reason')).toBe('Signed out in another tab.');
    // Nothing of the previous user stays on screen.
    expect(await textOf(second, '#result')).not.toContain('alice');
    expect(await textOf(second, '#who')).toBe('signed out');
    await click(second, 'profile');
    await waitForText(second, '#result', 'UnauthenticatedError (signed_out), sent: false');
    await context.close();
  }, 60_000);

  it('on a phone: login errors say what went wrong; third-party, step-up and outage buttons; nothing overflows', async () => {
    const page = await browser.newPage({ viewport: { width: 420, height: 900 } });
    await page.goto(server.url);
    await page.waitForSelector('#login:not([hidden])');
    await page.fill('#login input[name=password]', 'wrong');
    await page.click('#login button[type=submit]');
    await waitForText(page, '#login-reason', 'Wrong username or password.');
    await page.route('**/auth/login', (route) => route.abort());
    await page.fill('#login input[name=password]', 'alice');
    await page.click('#login button[type=submit]');
    await waitForText(page, '#login-reason', 'Cannot reach the demo API (network error).');
    await page.unroute('**/auth/login');
    await page.click('#login button[type=submit]');
    await waitForText(page, '#who', 'signed in as alice');

    const thirdParty = server.stats.thirdParty.requests;
    await click(page, 'thirdparty');
    await waitForText(page, '#result', 'it saw Authorization: (none).');
    expect(server.stats.thirdParty.requests - thirdParty).toBe(1);
    expect(server.stats.thirdParty.withAuthorization).toBe(0);

    const refreshes = server.stats.refreshes;
    await click(page, 'stepup');
    await waitForText(page, '#result', 'UnauthenticatedError (step_up_required): acrValues ["mfa"], maxAge 300 s.');
    expect(await textOf(page, '#banner')).toContain('A second factor is required (acr_values mfa)');
    expect(await page.isHidden('#login')).toBe(true);
    expect(server.stats.refreshes).toBe(refreshes);

    const outage = server.stats.requests['/api/outage'] ?? 0;
    await click(page, 'outage');
    await waitForText(page, '#result', '20 of 20 requests failed (503)', 30_000);
    const sends = (server.stats.requests['/api/outage'] ?? 0) - outage;
    // Without the throttle: 4 tries each, 80 sends.
    expect(sends).toBeGreaterThanOrEqual(20);
    expect(sends).toBeLessThan(30);
    expect(await textOf(page, '#result')).toContain(`${sends} sends`);
    await expect.poll(() => page.locator('#timeline rect[data-kind="failed"]').count()).toBe(20);

    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(420);
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/demo-phone.png', fullPage: true });
    await page.close();
  }, 60_000);
});
