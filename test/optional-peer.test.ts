import { describe, expect, it, vi } from 'vitest';
import { importPeer, loadOnce } from '../src/optional-peer.js';

const missing = () => Object.assign(new Error("Cannot find package 'undici'"), { code: 'ERR_MODULE_NOT_FOUND' });

describe('importPeer', () => {
  it('a missing package fails with an error that names the entry, the package and how to install it', async () => {
    const notFound = missing();
    const load = () => Promise.reject(notFound);
    const error = (await importPeer('apifetch/node', 'undici', 'for createProxyFetch', load).catch(
      (e: unknown) => e,
    )) as Error;
    expect(error.message).toBe('apifetch/node needs the `undici` package for createProxyFetch: npm install undici');
    expect(error.cause).toBe(notFound);
  });

  it('a not-found wrapped as the cause (a bundler, a test runner) counts too', async () => {
    const load = () => Promise.reject(new Error('failed to load', { cause: missing() }));
    await expect(importPeer('apifetch/redis', 'redis-semaphore', 'for x', load)).rejects.toThrow(
      'apifetch/redis needs the `redis-semaphore` package for x: npm install redis-semaphore',
    );
  });

  it('any other import failure is passed on unchanged', async () => {
    const broken = new SyntaxError('bad');
    await expect(importPeer('apifetch/node', 'undici', 'x', () => Promise.reject(broken))).rejects.toBe(broken);
  });
});

describe('loadOnce', () => {
  it('loads once for every caller, but a failed load is tried again by the next call', async () => {
    const loaded = { ok: true };
    const load = vi.fn().mockRejectedValueOnce(missing()).mockResolvedValue(loaded);
    const get = loadOnce<typeof loaded>(load);
    await expect(get()).rejects.toThrow("Cannot find package 'undici'");
    const [a, b] = await Promise.all([get(), get()]);
    expect(a).toBe(loaded);
    expect(b).toBe(loaded);
    expect(await get()).toBe(loaded);
    expect(load).toHaveBeenCalledTimes(2);
  });
});
