import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeProtectedHeader } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { build } from 'rolldown';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from './browser.js';

/** A page that loads `apifetch/dpop` with the IndexedDB key store and reports what it signs with. */
const page = `<!doctype html><script type="module">
  import { createDpop, indexedDbKeyStore } from '/dpop.js';
  const storedPair = () => new Promise((resolve, reject) => {
    const open = indexedDB.open('apifetch-dpop', 1);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const get = open.result.transaction('keys').objectStore('keys').get('e2e-tokens');
      get.onsuccess = () => { open.result.close(); resolve(get.result); };
      get.onerror = () => reject(get.error);
    };
  });
  // With \`hold\`, a key creation waits for a message on 'e2e-release': the test lets two tabs race into it.
  let released;
  const release = new Promise((resolve) => { released = resolve; });
  new BroadcastChannel('e2e-release').onmessage = () => released();
  window.creating = false;
  const held = (store) => ({
    getOrCreate: (create) => store.getOrCreate(async () => { window.creating = true; await release; return create(); }),
  });
  window.sign = async (hold) => {
    const store = indexedDbKeyStore('e2e-tokens');
    const dpop = createDpop({ store: hold ? held(store) : store });
    const thumbprint = await dpop.thumbprint();
    const proof = await dpop.proof('GET', location.origin + '/api/me?x=1');
    const pair = await storedPair();
    let exported = 'refused';
    try { await crypto.subtle.exportKey('jwk', pair.privateKey); exported = 'exported'; } catch {}
    return { thumbprint, proof, extractable: pair.privateKey.extractable, exported, type: pair.privateKey.type };
  };
  window.ready = true;
</script>`;

interface Signed {
  thumbprint: string;
  proof: string;
  extractable: boolean;
  exported: string;
  type: string;
}

describe.skipIf(!hasChromium)('the DPoP key in Chromium', () => {
  let browser: Browser;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const result = await build({
      input: { dpop: 'src/dpop/index.ts' },
      write: false,
      platform: 'browser',
      output: { format: 'esm' },
      logLevel: 'silent',
    });
    const files = new Map(
      result.output.map((chunk) => [`/${chunk.fileName}`, chunk.type === 'chunk' ? chunk.code : '']),
    );
    server = createServer((req, res) => {
      if (req.url === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(page);
      const code = files.get(req.url ?? '');
      if (code === undefined) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(code);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  const open = async (context: Awaited<ReturnType<Browser['newContext']>>) => {
    const tab = await context.newPage();
    await tab.goto(url);
    await tab.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    return tab;
  };
  const sign = (tab: Page, hold = false) =>
    tab.evaluate((h) => (window as unknown as { sign(hold: boolean): Promise<Signed> }).sign(h), hold);

  it('the private key is not extractable and survives a reload', async () => {
    const context = await browser.newContext();
    const tab = await open(context);
    const first = await sign(tab);
    expect(first).toMatchObject({ extractable: false, exported: 'refused', type: 'private' });
    expect(decodeProtectedHeader(first.proof).jwk).not.toHaveProperty('d');
    await tab.reload();
    await tab.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    const again = await sign(tab);
    expect(again.thumbprint).toBe(first.thumbprint);
    expect(decodeProtectedHeader(again.proof).jwk).toEqual(decodeProtectedHeader(first.proof).jwk);
    await context.close();
  });

  it('two tabs starting at once create one key and sign with it; another profile has its own', async () => {
    const context = await browser.newContext();
    const a = await open(context);
    const b = await open(context);
    const signing = Promise.all([sign(a, true), sign(b, true)]);
    // Both tabs are in the race: each is creating a key, or waiting for the lock held by the one creating.
    const inRace = async () => {
      const creating = await Promise.all(
        [a, b].map((tab) => tab.evaluate(() => (window as never as { creating: boolean }).creating)),
      );
      const pending = await a.evaluate(async () => (await navigator.locks.query()).pending?.length ?? 0);
      return creating.filter(Boolean).length + pending;
    };
    await expect.poll(inRace, { timeout: 10_000 }).toBe(2);
    await a.evaluate(() => new BroadcastChannel('e2e-release').postMessage('go'));
    const [fromA, fromB] = await signing;
    expect(fromA.thumbprint).toBe(fromB.thumbprint);
    expect(decodeProtectedHeader(fromA.proof).jwk).toEqual(decodeProtectedHeader(fromB.proof).jwk);
    const other = await browser.newContext();
    expect((await sign(await open(other))).thumbprint).not.toBe(fromA.thumbprint);
    await context.close();
    await other.close();
  });
});
