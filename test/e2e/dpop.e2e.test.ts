import { decodeProtectedHeader } from 'jose';
import { expect, it, onTestFinished } from 'vitest';
import { browserWithLibrary, describeEngines, type EngineWindow } from './engines/index.js';
import { type Served, serve } from './server.js';

/**
 * A page that loads `apifetch/dpop` with the IndexedDB key store. `start(hold)` signs in the background (WebDriver
 * runs one script at a time, so nothing here waits inside `evaluate`) and leaves the result in `window.signed`. With
 * `hold`, a key creation waits for a message on 'e2e-release': the test lets two windows race into it.
 */
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
  let released;
  const release = new Promise((resolve) => { released = resolve; });
  new BroadcastChannel('e2e-release').onmessage = () => released();
  window.creating = false;
  const held = (store) => ({
    getOrCreate: (create) => store.getOrCreate(async () => { window.creating = true; await release; return create(); }),
  });
  window.start = (hold) => {
    window.signed = undefined;
    (async () => {
      const store = indexedDbKeyStore('e2e-tokens');
      const dpop = createDpop({ store: hold ? held(store) : store });
      const thumbprint = await dpop.thumbprint();
      const proof = await dpop.proof('GET', location.origin + '/api/me?x=1');
      const pair = await storedPair();
      let exported = 'refused';
      try { await crypto.subtle.exportKey('jwk', pair.privateKey); exported = 'exported'; } catch {}
      window.signed = { thumbprint, proof, extractable: pair.privateKey.extractable, exported, type: pair.privateKey.type };
    })().catch((error) => { window.signed = { error: String(error) }; });
  };
  window.ready = true;
</script>`;

interface Signed {
  thumbprint: string;
  proof: string;
  extractable: boolean;
  exported: string;
  type: string;
  error?: string;
}
interface DpopWindow {
  ready?: boolean;
  creating: boolean;
  start(hold: boolean): void;
  signed?: Signed;
}

describeEngines('the DPoP key', (engine) => {
  const setup = browserWithLibrary(engine, 'src/dpop/index.ts');

  const app = async (): Promise<Served> => {
    const served = await serve((req, res) => {
      if (req.url === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(page);
      if (req.url === '/dpop.js')
        return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(setup.library);
      res.writeHead(404).end();
    });
    onTestFinished(() => served.close());
    return served;
  };
  const open = async (url: string) => {
    const opened = await setup.browser.open(url);
    let closing: Promise<void> | undefined;
    // Closed once, by the test or at its end.
    const window: EngineWindow = { ...opened, close: () => (closing ??= opened.close()) };
    onTestFinished(() => window.close());
    await expect.poll(() => window.evaluate(() => (globalThis as unknown as DpopWindow).ready === true)).toBe(true);
    return window;
  };
  const start = (window: EngineWindow, hold = false) =>
    window.evaluate((h) => (globalThis as unknown as DpopWindow).start(h), hold);
  const signed = async (window: EngineWindow) => {
    await expect
      .poll(() => window.evaluate(() => (globalThis as unknown as DpopWindow).signed !== undefined), {
        timeout: 10_000,
      })
      .toBe(true);
    const result = (await window.evaluate(() => (globalThis as unknown as DpopWindow).signed)) as Signed;
    expect(result.error).toBeUndefined();
    return result;
  };

  it('the private key is not extractable and survives a reload', async () => {
    const { url } = await app();
    const first = await open(url);
    await start(first);
    const before = await signed(first);
    expect(before).toMatchObject({ extractable: false, exported: 'refused', type: 'private' });
    expect(decodeProtectedHeader(before.proof).jwk).not.toHaveProperty('d');
    // A new page load (WebKit's driver needs a window open at all times: the new one opens first).
    const again = await open(url);
    await first.close();
    await start(again);
    const after = await signed(again);
    expect(after.thumbprint).toBe(before.thumbprint);
    expect(decodeProtectedHeader(after.proof).jwk).toEqual(decodeProtectedHeader(before.proof).jwk);
  }, 60_000);

  it('two windows racing to create the key get one, and sign with it; another origin has its own', async () => {
    const { url } = await app();
    const a = await open(url);
    const b = await open(url);
    await start(a, true);
    await start(b, true);
    // Both are in the race: each is creating a key, or waiting for the lock held by the one creating.
    const inRace = async () => {
      const creating = await Promise.all(
        [a, b].map((window) => window.evaluate(() => (globalThis as unknown as DpopWindow).creating)),
      );
      const pending = await a.evaluate(async () => (await navigator.locks.query()).pending?.length ?? 0);
      return creating.filter(Boolean).length + pending;
    };
    await expect.poll(inRace, { timeout: 10_000 }).toBe(2);
    await a.evaluate(() => new BroadcastChannel('e2e-release').postMessage('go'));
    const fromA = await signed(a);
    const fromB = await signed(b);
    expect(fromA.thumbprint).toBe(fromB.thumbprint);
    expect(decodeProtectedHeader(fromA.proof).jwk).toEqual(decodeProtectedHeader(fromB.proof).jwk);
    const other = await open((await app()).url);
    await start(other);
    expect((await signed(other)).thumbprint).not.toBe(fromA.thumbprint);
  }, 60_000);
});
