import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: the demo is plain JavaScript
import { buildDemo, demoDist } from '../../demo/build.mjs';
// @ts-expect-error: the demo is plain JavaScript
import { startDemoServer } from '../../demo/server.mjs';
import { hasChromium, launchChromium } from './browser.js';

interface DemoServer {
  url: string;
  stats: { refreshes: number; reuseDetected: number; requests: Record<string, number> };
  close(): Promise<void>;
}

describe.skipIf(!hasChromium)('demo SPA in Chromium', () => {
  let browser: Browser;
  let server: DemoServer;
  let page: Page;

  beforeAll(async () => {
    await buildDemo();
    server = await startDemoServer({ staticDir: demoDist });
    browser = await launchChromium();
    page = await browser.newPage();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const click = async (action: string) => page.click(`[data-action="${action}"]`);
  const result = () => page.textContent('#result');

  it('signs in, loads the profile, is denied admin, bursts with one refresh, rides out a flaky endpoint, signs out', async () => {
    await page.goto(server.url);
    await page.waitForSelector('#login:not([hidden])');
    await page.click('#login button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#who')?.textContent === 'signed in as alice');

    await click('profile');
    await page.waitForFunction(() => document.querySelector('#result')?.textContent?.includes('"alice"'));

    await click('admin');
    await page.waitForSelector('#banner:not([hidden])');
    expect(await page.textContent('#banner')).toBe('Access denied: this needs the admin scope.');
    expect(await result()).toContain('ForbiddenError');

    const before = server.stats.refreshes;
    await click('burst');
    await page.waitForFunction(() => document.querySelector('#result')?.textContent?.includes('50 requests succeeded'));
    expect(server.stats.refreshes - before).toBe(1);
    expect(await page.locator('#events li[data-type="replay"]').count()).toBe(50);
    expect(await page.locator('#events li[data-type="refresh:success"]').count()).toBe(1);

    await click('flaky');
    await page.waitForFunction(() => document.querySelector('#result')?.textContent?.includes('"ok": true'), null, {
      timeout: 15_000,
    });
    expect(await page.locator('#events li[data-type="retry"]').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('#timeline rect').count()).toBeGreaterThan(50);

    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/demo.png', fullPage: true });

    await click('signout');
    await page.waitForSelector('#login:not([hidden])');
    await click('profile');
    await page.waitForFunction(() => document.querySelector('#result')?.textContent?.includes('signed_out'));
    expect(await page.textContent('#login-reason')).toContain('signed_out');
    expect(server.stats.reuseDetected).toBe(0);
  }, 60_000);
});
