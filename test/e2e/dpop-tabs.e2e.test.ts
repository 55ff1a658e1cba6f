import { createHash, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify } from 'jose';
import { expect, it, onTestFinished } from 'vitest';
import { browserWithLibrary, describeEngines, type EngineWindow } from './engines/index.js';
import { serve } from './server.js';

/**
 * Windows of one app with DPoP-bound tokens: one key in IndexedDB for all of them, tokens in localStorage, tab
 * coordination. `signIn()` gets the first bound tokens; `stormAt(t)` sends 20 requests at the epoch time `t`.
 */
const page = `<!doctype html><script type="module">
  import {
    createApiFetch, createTokenSession, storageTokenStore, tabCoordination, createDpop, indexedDbKeyStore,
  } from '/app.js';
  const dpop = createDpop({ store: indexedDbKeyStore('e2e-dpop') });
  const tokenUrl = location.origin + '/oauth/token';
  const session = createTokenSession({
    store: storageTokenStore(localStorage, 'e2e-dpop-tokens'),
    coordination: tabCoordination('e2e-dpop-tokens'),
    maxRefreshes: 100,
    refresh: async ({ tokens, dpop, signal }) => {
      const r = await dpop.fetch(tokenUrl, { method: 'POST', body: tokens?.refreshToken ?? '', signal });
      if (!r.ok) throw Object.assign(new Error('refresh failed'), { status: r.status });
      return r.json();
    },
  });
  window.api = createApiFetch({ baseUrl: location.origin + '/api/', auth: { session, dpop }, retry: false });
  window.signIn = () => {
    (async () => {
      const r = await dpop.fetch(tokenUrl, { method: 'POST', body: 'login' });
      await session.setTokens(await r.json());
      window.signedIn = true;
    })().catch((error) => { window.signedIn = String(error); });
  };
  window.stormAt = (startAt) => {
    window.storm = undefined;
    const armedAt = Date.now();
    setTimeout(async () => {
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => window.api('item/' + i).json()));
      window.storm = { armedAt, ok: results.filter((r) => r.status === 'fulfilled').length };
    }, startAt - armedAt);
  };
  window.ready = true;
</script>`;

interface AppWindow {
  ready?: boolean;
  signedIn?: true | string;
  signIn(): void;
  stormAt(startAt: number): void;
  storm?: { armedAt: number; ok: number };
}

/** An authorization and resource server for DPoP-bound tokens (RFC 9449), with rotating refresh tokens. */
async function startDpopApp(library: string) {
  const bound = new Map<string, string>(); // access token → jkt
  const refresh = new Map<string, { jkt: string; used: boolean }>();
  const stats = { refreshes: 0, reuse: 0, keyMismatch: 0, ok: 0, unauthorized: 0, jkts: new Set<string>(), jtis: 0 };
  const jtis = new Set<string>();
  const issue = (jkt: string) => {
    const accessToken = `at-${randomBytes(6).toString('hex')}`;
    const refreshToken = `rt-${randomBytes(6).toString('hex')}`;
    bound.set(accessToken, jkt);
    refresh.set(refreshToken, { jkt, used: false });
    return { accessToken, refreshToken };
  };
  /** The proof's key thumbprint, when the proof is valid for this request (and `accessToken`, when given). */
  const verify = async (proof: string | undefined, method: string, url: string, accessToken?: string) => {
    if (!proof) return undefined;
    try {
      const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt' });
      if (payload.htm !== method || payload.htu !== url || typeof payload.jti !== 'string' || jtis.has(payload.jti)) {
        return undefined;
      }
      if (accessToken && payload.ath !== createHash('sha256').update(accessToken).digest('base64url')) return undefined;
      jtis.add(payload.jti);
      stats.jtis += 1;
      return calculateJwkThumbprint(protectedHeader.jwk as never);
    } catch {
      return undefined;
    }
  };
  const served = await serve(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    if (req.url === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    if (req.url === '/app.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(library);
    const url = `${served.url}${(req.url ?? '').split('?')[0]}`;
    const proof = req.headers.dpop as string | undefined;
    if (req.url === '/oauth/token') {
      const jkt = await verify(proof, 'POST', url);
      if (!jkt) return void res.writeHead(400).end('{"error":"invalid_dpop_proof"}');
      stats.jkts.add(jkt);
      if (body === 'login') return void res.writeHead(200).end(JSON.stringify(issue(jkt)));
      stats.refreshes += 1;
      const entry = refresh.get(body);
      if (!entry) return void res.writeHead(400).end('{"error":"invalid_grant"}');
      if (entry.used) {
        stats.reuse += 1;
        return void res.writeHead(400).end('{"error":"invalid_grant"}');
      }
      if (entry.jkt !== jkt) {
        stats.keyMismatch += 1;
        return void res.writeHead(400).end('{"error":"invalid_grant"}');
      }
      entry.used = true;
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(issue(jkt)));
    }
    if (!req.url?.startsWith('/api/')) return void res.writeHead(404).end();
    const token = (req.headers.authorization ?? '').replace(/^DPoP /, '');
    const jkt = await verify(proof, req.method ?? 'GET', url, token);
    if (!jkt || bound.get(token) !== jkt) {
      stats.unauthorized += 1;
      return void res.writeHead(401, { 'www-authenticate': 'DPoP error="invalid_token"' }).end();
    }
    stats.ok += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  onTestFinished(() => served.close());
  return { ...served, stats, expireAll: () => bound.clear() };
}

describeEngines('DPoP across tabs', (engine) => {
  const setup = browserWithLibrary(engine, 'test/e2e/dpop-app.ts');

  it('two windows sign with one key, and an expired bound token is refreshed once for both', async () => {
    const app = await startDpopApp(setup.library);
    const windows: EngineWindow[] = [];
    onTestFinished(async () => {
      for (const window of windows) await window.close();
    });
    for (let i = 0; i < 2; i++) {
      const window = await setup.browser.open(app.url);
      windows.push(window);
      await expect.poll(() => window.evaluate(() => (globalThis as unknown as AppWindow).ready)).toBe(true);
    }
    await windows[0]!.evaluate(() => (globalThis as unknown as AppWindow).signIn());
    await expect
      .poll(() => windows[0]!.evaluate(() => (globalThis as unknown as AppWindow).signedIn), { timeout: 10_000 })
      .toBe(true);

    for (let round = 0; round < 3; round++) {
      app.expireAll();
      const before = { ...app.stats };
      const startAt = Date.now() + 1000;
      for (const window of windows) {
        await window.evaluate((t) => (globalThis as unknown as AppWindow).stormAt(t), startAt);
      }
      const storms = () =>
        Promise.all(windows.map((w) => w.evaluate(() => (globalThis as unknown as AppWindow).storm)));
      await expect.poll(async () => (await storms()).every(Boolean), { timeout: 30_000, interval: 100 }).toBe(true);
      const done = (await storms()) as NonNullable<AppWindow['storm']>[];
      for (const storm of done) expect(storm.armedAt).toBeLessThan(startAt);
      expect(done.map((s) => s.ok)).toEqual([20, 20]);
      // One refresh for both windows, proven with the same key the tokens are bound to.
      expect(app.stats.refreshes - before.refreshes).toBe(1);
      expect(app.stats.reuse).toBe(0);
      expect(app.stats.keyMismatch).toBe(0);
    }
    // Every proof, from both windows and the token endpoint, was signed by one key; no proof was used twice.
    expect(app.stats.jkts.size).toBe(1);
    expect(app.stats.jtis).toBe(app.stats.ok + app.stats.unauthorized + app.stats.refreshes + 1);
  }, 90_000);
});
