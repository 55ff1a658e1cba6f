import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
// @ts-expect-error: the demo is plain JavaScript
import { buildDemo, demoDist } from '../../demo/build.mjs';
// @ts-expect-error: the demo is plain JavaScript
import { startDemoServer } from '../../demo/server.mjs';
import { describeEngines, type EngineBrowser, type EngineWindow, launch } from './engines/index.js';

interface DemoServer {
  url: string;
  stats: {
    refreshes: number;
    reuseDetected: number;
    requests: Record<string, number>;
    thirdParty: { requests: number; withAuthorization: number };
    dpop: { proofs: number; jtis: string[]; nonceDemands: number; boundTokens: number };
  };
  close(): Promise<void>;
}

/** A demo API and SPA on a new port: a new origin, so each test starts signed out. */
async function startDemo(options: { dpopNonceTtlMs?: number } = {}): Promise<DemoServer> {
  const server: DemoServer = await startDemoServer({ staticDir: demoDist, ...options });
  onTestFinished(() => server.close());
  return server;
}

// What the test does in the page, through the one call every engine's driver has: evaluate.
const click = (window: EngineWindow, action: string) =>
  window.evaluate((a) => document.querySelector<HTMLElement>(`[data-action="${a}"]`)!.click(), action);
const textOf = (window: EngineWindow, selector: string) =>
  window.evaluate((s) => document.querySelector(s)?.textContent ?? '', selector);
const count = (window: EngineWindow, selector: string) =>
  window.evaluate((s) => document.querySelectorAll(s).length, selector);
const waitForText = (window: EngineWindow, selector: string, text: string, timeout = 10_000) =>
  expect.poll(() => textOf(window, selector), { timeout }).toContain(text);
const waitFor = (window: EngineWindow, selector: string) =>
  expect.poll(() => count(window, selector), { timeout: 10_000 }).toBeGreaterThan(0);
const events = (window: EngineWindow, type: string) => count(window, `#events li[data-type="${type}"]`);

describeEngines('demo SPA', (engine) => {
  let browser: EngineBrowser;

  beforeAll(async () => {
    await buildDemo();
    browser = await launch(engine);
  }, 60_000);
  afterAll(() => browser?.close());

  async function open(server: DemoServer) {
    const window = await browser.open(server.url);
    onTestFinished(() => window.close());
    return window;
  }
  async function signIn(server: DemoServer) {
    const window = await open(server);
    await waitFor(window, '#login:not([hidden])');
    await window.evaluate(() => document.querySelector<HTMLElement>('#login button[type=submit]')!.click());
    await waitForText(window, '#who', 'signed in as alice');
    return window;
  }

  it('signs in, loads the profile, is denied admin, bursts with one refresh, rides out a flaky endpoint, signs out', async () => {
    const server = await startDemo();
    const page = await signIn(server);
    expect(await textOf(page, '#token')).toMatch(/access token expires in 1[45] s/);
    expect(await textOf(page, '#events')).toContain('GET /api/profile · attempt 1 · Bearer token');

    await click(page, 'profile');
    await waitForText(page, '#result', '"alice"');
    // The timeline draws on the next animation frame, after the result text.
    await expect
      .poll(() => textOf(page, '#timeline-summary'))
      .toBe('Load profile: 1 request · 1 send · 0 refreshes · 0 replays · 0 retries');

    await click(page, 'admin');
    await waitFor(page, '#banner:not([hidden])');
    expect(await textOf(page, '#banner')).toBe('Access denied: this needs the admin scope.');
    expect(await textOf(page, '#result')).toContain('ForbiddenError (ERR_FORBIDDEN)');
    expect(await textOf(page, '#events li[data-type="forbidden"]')).toContain('POST /api/admin · needs admin');

    const before = server.stats.refreshes;
    await click(page, 'burst');
    await waitForText(page, '#result', '50 requests succeeded; the token endpoint saw 1 refresh.');
    expect(server.stats.refreshes - before).toBe(1);
    expect(await events(page, 'replay')).toBe(50);
    expect(await events(page, 'refresh:success')).toBe(1);
    await expect
      .poll(() => textOf(page, '#timeline-summary'))
      .toBe('Burst of 50 after revocation: 50 requests · 100 sends · 1 refresh · 50 replays · 0 retries');
    // The log's newest group is the burst, headed by its name, and holds the burst's events.
    expect(await textOf(page, '#events > li.group:first-child h3')).toBe('Burst of 50 after revocation');
    expect(await count(page, '#events > li.group:first-child li[data-type="replay"]')).toBe(50);
    expect(await textOf(page, '#events li[data-type="refresh:start"]')).toContain('the API answered 401 to the token');
    await expect.poll(() => textOf(page, '#timeline')).toContain('refresh after a 401');
    // One row per request: a purple 401 bar, the wait for the refresh, a green replay; and the refresh row.
    await expect.poll(() => count(page, '#timeline rect[data-kind="replayed"]')).toBe(50);
    await expect.poll(() => count(page, '#timeline rect[data-kind="ok"]')).toBe(50);
    await expect.poll(() => count(page, '#timeline rect[data-kind="refresh"]')).toBe(1);
    mkdirSync('test-results', { recursive: true });
    await page.screenshot(`test-results/demo-${engine.name}.png`);

    await click(page, 'flaky');
    await waitForText(page, '#result', '"ok": true', 15_000);
    expect(await events(page, 'retry')).toBe(2);
    expect(await textOf(page, '#events')).toContain('after 429, waiting');
    expect(await textOf(page, '#events')).toContain('(Retry-After 1000 ms)');
    await expect.poll(() => count(page, '#timeline rect[data-kind="retried"]')).toBe(2);
    await expect.poll(() => count(page, '#timeline line.wait')).toBe(2);
    await page.screenshot(`test-results/demo-flaky-${engine.name}.png`);

    await click(page, 'signout');
    await waitFor(page, '#login:not([hidden])');
    // Sign-out sends nothing: a sentence, not an empty axis.
    await expect.poll(() => textOf(page, '#timeline-summary')).toBe('Sign out: no requests were sent.');
    expect(await count(page, '#timeline line, #timeline text')).toBe(0);
    await click(page, 'profile');
    await waitForText(page, '#result', 'UnauthenticatedError (signed_out), sent: false');
    expect(await textOf(page, '#login-reason')).toContain('signed_out');
    await expect.poll(() => count(page, '#timeline [data-kind="not-sent"]')).toBe(1);
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
  }, 60_000);

  it('two windows share one session: a refresh in one reaches the other, and sign-out in one signs both out', async () => {
    const server = await startDemo();
    const first = await signIn(server);
    const second = await open(server);
    await waitForText(second, '#who', 'signed in as alice');

    const before = server.stats.refreshes;
    await click(first, 'burst');
    await waitForText(first, '#result', 'the token endpoint saw 1 refresh.');
    await waitFor(second, '#events li[data-type="tokens:updated"]');
    expect(await textOf(second, '#events li[data-type="tokens:updated"]')).toContain('from another tab');
    // The second window already holds the rotated tokens: its burst refreshes with the new refresh token.
    await click(second, 'burst');
    await waitForText(second, '#result', 'the token endpoint saw 1 refresh.');
    expect(server.stats.refreshes - before).toBe(2);
    expect(server.stats.reuseDetected).toBe(0);

    await click(second, 'profile');
    await waitForText(second, '#result', '"alice"');
    await click(first, 'signout');
    await waitFor(second, '#login:not([hidden])');
    expect(await textOf(second, '#login-reason')).toBe('Signed out in another tab.');
    // Nothing of the previous user stays on screen.
    expect(await textOf(second, '#result')).not.toContain('alice');
    expect(await textOf(second, '#who')).toBe('signed out');
    await click(second, 'profile');
    await waitForText(second, '#result', 'UnauthenticatedError (signed_out), sent: false');
  }, 60_000);

  it('login errors say what went wrong; third-party, step-up and outage buttons; nothing overflows at 420 px', async () => {
    const server = await startDemo();
    const page = await open(server);
    await waitFor(page, '#login:not([hidden])');
    const submit = (password: string) =>
      page.evaluate((value) => {
        document.querySelector<HTMLInputElement>('#login input[name=password]')!.value = value;
        document.querySelector<HTMLElement>('#login button[type=submit]')!.click();
      }, password);
    await submit('wrong');
    await waitForText(page, '#login-reason', 'Wrong username or password.');
    // The API unreachable: the page's fetch fails as a dropped connection does.
    await page.evaluate(() => {
      const w = window as unknown as { realFetch: typeof fetch };
      w.realFetch = window.fetch;
      window.fetch = () => Promise.reject(new TypeError('Failed to fetch'));
    });
    await submit('alice');
    await waitForText(page, '#login-reason', 'Cannot reach the demo API (network error).');
    await page.evaluate(() => {
      window.fetch = (window as unknown as { realFetch: typeof fetch }).realFetch;
    });
    await submit('alice');
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
    expect(await count(page, '#login[hidden]')).toBe(1);
    expect(server.stats.refreshes).toBe(refreshes);

    const outage = server.stats.requests['/api/outage'] ?? 0;
    await click(page, 'outage');
    await waitForText(page, '#result', '20 of 20 requests failed (503)', 30_000);
    const sends = (server.stats.requests['/api/outage'] ?? 0) - outage;
    // Without the throttle: 4 tries each, 80 sends.
    expect(sends).toBeGreaterThanOrEqual(20);
    expect(sends).toBeLessThan(30);
    expect(await textOf(page, '#result')).toContain(`${sends} sends`);
    await expect.poll(() => count(page, '#timeline rect[data-kind="failed"]')).toBe(20);

    // A phone-wide viewport: the page in a 420 px frame lays out in one column, with nothing wider than the frame.
    const width = await page.evaluate(
      (url) =>
        new Promise<number>((resolve) => {
          const frame = document.createElement('iframe');
          frame.style.cssText = 'width: 420px; height: 900px; border: 0';
          frame.onload = () => resolve(frame.contentDocument!.documentElement.scrollWidth);
          frame.src = url;
          document.body.append(frame);
        }),
      server.url,
    );
    expect(width).toBeLessThanOrEqual(420);
    mkdirSync('test-results', { recursive: true });
    await page.screenshot(`test-results/demo-buttons-${engine.name}.png`);
  }, 60_000);

  it('DPoP mode: the sign-in binds the tokens to the key; the log shows each proof, and a nonce demand answered by one retry', async () => {
    // The nonce changes only when the test asks, however slow the engine.
    const server = await startDemo({ dpopNonceTtlMs: 10 * 60_000 });
    const page = await open(server);
    await waitFor(page, '#login:not([hidden])');
    // The switch reloads the page in DPoP mode, with a session of its own.
    await page.evaluate(() => document.querySelector<HTMLInputElement>('#dpop-mode')!.click());
    await waitFor(page, '#actions dt[data-mode="dpop"]:not([hidden])');
    expect(await page.evaluate(() => document.querySelector<HTMLInputElement>('#dpop-mode')!.checked)).toBe(true);
    await waitFor(page, '#login:not([hidden])');
    await page.evaluate(() => document.querySelector<HTMLElement>('#login button[type=submit]')!.click());
    await waitForText(page, '#who', 'signed in as alice');
    expect(server.stats.dpop.boundTokens).toBe(1);

    // The token request: a proof without a nonce, the server's 400 demand, and the one retry carrying its nonce.
    const signIn = '#events > li.group[data-title="Sign in"]';
    expect(await count(page, `${signIn} li[data-type="dpop:proof"]`)).toBe(2);
    expect(await count(page, `${signIn} li[data-type="dpop:nonce-demand"]`)).toBe(1);
    const signInLog = await textOf(page, signIn);
    expect(signInLog).toMatch(/POST \/auth\/login · proof jti \S+ · htm POST · htu \/auth\/login · nonce \(none\)/);
    expect(signInLog).toContain('POST /auth/login → 400 use_dpop_nonce · server nonce ');
    expect(signInLog).toContain('the one retry, with the demanded nonce');
    // The profile: the nonce is known already, so one send, its proof with the token's hash.
    const profile = '#events > li.group[data-title="Load profile"]';
    expect(await textOf(page, profile)).toContain('GET /api/profile · attempt 1 · DPoP token');
    expect(await textOf(page, `${profile} li[data-type="dpop:proof"]`)).toMatch(
      /htu \/api\/profile · nonce \S+ · ath \S+/,
    );
    expect(await count(page, `${profile} li[data-type="dpop:nonce-demand"]`)).toBe(0);

    await click(page, 'rotate-nonce');
    await waitForText(page, '#result', 'met 1 nonce demand (401 use_dpop_nonce), answered by one retry');
    const rotated = '#events > li.group:first-child';
    expect(await textOf(page, `${rotated} h3`)).toBe('Rotate the DPoP nonce');
    expect(await count(page, `${rotated} li[data-type="dpop:nonce-demand"]`)).toBe(1);
    expect(await textOf(page, `${rotated} li[data-type="dpop:nonce-demand"]`)).toContain(
      'GET /api/profile → 401 use_dpop_nonce',
    );
    expect(await count(page, `${rotated} li[data-type="dpop:proof"]`)).toBe(2);
    expect(await count(page, `${rotated} li[data-type="request"]`)).toBe(2);
    // The first send's proof carries the old nonce; the retry's, the one the server demanded.
    const retries = await page.evaluate(
      (group) =>
        [...document.querySelectorAll(`${group} li[data-type="dpop:proof"]`)].map((li) =>
          li.textContent?.includes('the one retry, with the demanded nonce'),
        ),
      rotated,
    );
    expect(retries).toEqual([true, false]);
    expect(await count(page, `${rotated} li[data-type="refresh:start"]`)).toBe(0);
    // The timeline: one request, two sends on its row, the first marked as the nonce demand.
    await expect
      .poll(() => textOf(page, '#timeline-summary'))
      .toBe('Rotate the DPoP nonce: 1 request · 2 sends · 0 refreshes · 0 replays · 0 retries');
    expect(await count(page, '#timeline rect[data-kind="nonce"]')).toBe(1);

    // Five proofs reached the server (two sign-in sends, one profile, two after the rotation), each with its own jti.
    const { jtis } = server.stats.dpop;
    expect(jtis).toHaveLength(5);
    expect(new Set(jtis).size).toBe(5);
    expect(server.stats.dpop.nonceDemands).toBe(2);
    expect(server.stats.refreshes).toBe(0);
    // The log shows shortened claims, never a token or a whole proof (both JWTs).
    expect(await textOf(page, '#events')).not.toMatch(/eyJ[\w-]+\.[\w-]+/);
    mkdirSync('test-results', { recursive: true });
    await page.screenshot(`test-results/demo-dpop-${engine.name}.png`);

    // The refresh sends its proof through ctx.dpop.fetch: the new tokens are bound to the same key.
    await click(page, 'burst');
    await waitForText(page, '#result', '50 requests succeeded; the token endpoint saw 1 refresh.');
    expect(server.stats.dpop.boundTokens).toBe(2);
    expect(await textOf(page, '#events > li.group:first-child')).toContain('POST /auth/refresh · proof jti ');
    expect(new Set(server.stats.dpop.jtis).size).toBe(server.stats.dpop.jtis.length);
  }, 60_000);
});
