import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEngines, type EngineBrowser, type EngineWindow, launch } from './engines/index.js';
import { serve } from './server.js';

/**
 * Why the cross-tab refresh keeps its "refresh or reuse" state in IndexedDB: several windows take turns under one
 * Web Lock, each reading a counter and writing it back plus one. The read and the write are separate steps (as the
 * refresh's are), so only a store whose writes are visible to the next lock holder reaches the exact total.
 */
const page = `<!doctype html><script>
  const idb = new Promise((resolve, reject) => {
    const request = indexedDB.open('counter', 1);
    request.onupgradeneeded = () => request.result.createObjectStore('counter');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  // Resolve on the transaction's commit, as the library does: the next lock holder must see the write.
  const idbRun = async (mode, op) => {
    const tx = (await idb).transaction('counter', mode);
    const request = op(tx.objectStore('counter'));
    return new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = tx.onabort = () => reject(tx.error);
    });
  };
  const stores = {
    localStorage: {
      read: async () => Number(localStorage.getItem('counter') ?? 0),
      write: async (value) => localStorage.setItem('counter', String(value)),
    },
    indexedDB: {
      read: async () => (await idbRun('readonly', (s) => s.get('counter'))) ?? 0,
      write: (value) => idbRun('readwrite', (s) => s.put(value, 'counter')),
    },
  };
  // At the epoch time startAt, 'times' locked increments of the counter in 'store'.
  window.incrementAt = (store, times, startAt) => {
    window.done = undefined;
    const armedAt = Date.now();
    setTimeout(async () => {
      for (let i = 0; i < times; i++) {
        await navigator.locks.request('counter', async () => {
          const value = await stores[store].read();
          await stores[store].write(value + 1);
        });
      }
      window.done = { armedAt };
    }, startAt - armedAt);
  };
  window.read = (store) => stores[store].read();
  window.ready = true;
</script>`;

interface CounterWindow {
  ready?: boolean;
  done?: { armedAt: number };
  incrementAt(store: string, times: number, startAt: number): void;
  read(store: string): Promise<number>;
}

const windowsCount = 3;
const times = 200;

describeEngines('locked increments from 3 windows', (engine) => {
  let browser: EngineBrowser;
  let windows: EngineWindow[];
  let close: () => Promise<void>;

  beforeAll(async () => {
    const server = await serve((_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end(page));
    browser = await launch(engine);
    windows = [];
    for (let i = 0; i < windowsCount; i++) windows.push(await browser.open(server.url));
    close = server.close;
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await close?.();
  });

  /** Every window increments `store` `times` times, all starting together; the total as each window reads it. */
  async function run(store: 'localStorage' | 'indexedDB'): Promise<number[]> {
    for (const window of windows) {
      await expect.poll(() => window.evaluate(() => (globalThis as unknown as CounterWindow).ready)).toBe(true);
    }
    const startAt = Date.now() + 500 + 250 * windows.length;
    for (const window of windows) {
      await window.evaluate(([s, n, t]) => (globalThis as unknown as CounterWindow).incrementAt(s, n, t), [
        store,
        times,
        startAt,
      ] as [string, number, number]);
    }
    const done = () => Promise.all(windows.map((w) => w.evaluate(() => (globalThis as unknown as CounterWindow).done)));
    await expect.poll(async () => (await done()).every(Boolean), { timeout: 60_000, interval: 200 }).toBe(true);
    for (const d of await done()) expect(d!.armedAt).toBeLessThan(startAt);
    return Promise.all(windows.map((w) => w.evaluate((s) => (globalThis as unknown as CounterWindow).read(s), store)));
  }

  it(`IndexedDB reaches the exact total (${windowsCount * times}); localStorage's total is recorded`, async () => {
    const idb = await run('indexedDB');
    expect(idb).toEqual(Array(windowsCount).fill(windowsCount * times));
    // Not asserted: localStorage often loses increments under the lock (452 to 575 of 600 seen), but not always.
    const local = await run('localStorage');
    console.log(
      `${engine.name}: ${windowsCount} windows × ${times} locked increments: IndexedDB ${idb[0]}, localStorage ${local.join(' / ')} (as each window reads it)`,
    );
    expect(Math.max(...local)).toBeLessThanOrEqual(windowsCount * times);
  }, 120_000);
});
