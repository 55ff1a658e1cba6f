import { expect, it, vi } from 'vitest';

// As in a browser app's install, where the optional peer `undici` is absent.
vi.mock('undici', () => {
  throw Object.assign(new Error("Cannot find package 'undici'"), { code: 'ERR_MODULE_NOT_FOUND' });
});

it('without undici installed, apifetch/node imports, and a proxied request fails naming the package', async () => {
  const { createProxyFetch } = await import('../../src/node/index.js');
  const fetch = createProxyFetch({ proxy: 'http://127.0.0.1:9', env: {} });
  const error = (await fetch('http://127.0.0.1:9/x').catch((e: unknown) => e)) as Error;
  expect(error.message).toBe('apifetch/node needs the `undici` package for createProxyFetch: npm install undici');
});
