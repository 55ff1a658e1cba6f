import { describe, expect, it } from 'vitest';
import { importPeer } from '../../src/node/optional-peers.js';

describe('optional peers', () => {
  it('a missing package fails with an error that names it and how to install it', async () => {
    const missing = Object.assign(new Error("Cannot find package 'undici'"), { code: 'ERR_MODULE_NOT_FOUND' });
    const load = () => Promise.reject(missing);
    const error = (await importPeer('undici', 'for createProxyFetch', load).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe('apifetch/node needs the `undici` package for createProxyFetch: npm install undici');
    expect(error.cause).toBe(missing);
  });

  it('any other import failure is passed on unchanged', async () => {
    const broken = new SyntaxError('bad');
    await expect(importPeer('undici', 'x', () => Promise.reject(broken))).rejects.toBe(broken);
  });
});
