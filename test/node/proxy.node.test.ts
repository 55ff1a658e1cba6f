import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createProxy } from 'proxy';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApiFetch, isProxyAuthenticationError, type ProxyAuthenticationError } from '../../src/index.js';
import { bypassesProxy, type CreateProxyFetchOptions, createProxyFetch } from '../../src/node/index.js';

const cert = readFileSync(new URL('../fixtures/localhost-cert.pem', import.meta.url));
const key = readFileSync(new URL('../fixtures/localhost-key.pem', import.meta.url));
const good = `Basic ${Buffer.from('user:s3cret').toString('base64')}`;

let httpTarget: Server;
let httpsTarget: Server;
let proxy: Server & { authenticate?: (req: IncomingMessage) => boolean };
let proxyUrl: string;
let httpUrl: string;
let httpsUrl: string;
/** Every request and CONNECT the proxy saw, with the Proxy-Authorization it carried. */
const seen: { method: string; auth: string | undefined }[] = [];
let requireAuth = true;

const listen = (server: Server) =>
  new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(String((server.address() as AddressInfo).port))),
  );

beforeAll(async () => {
  httpTarget = createHttpServer((req, res) => res.end(`http ${req.method} ${req.url}`));
  httpsTarget = createHttpsServer({ cert, key }, (req, res) => res.end(`https ${req.method} ${req.url}`));
  proxy = createProxy(createHttpServer()) as typeof proxy;
  proxy.authenticate = (req) => {
    seen.push({ method: req.method ?? '', auth: req.headers['proxy-authorization'] });
    return !requireAuth || req.headers['proxy-authorization'] === good;
  };
  httpUrl = `http://127.0.0.1:${await listen(httpTarget)}`;
  httpsUrl = `https://127.0.0.1:${await listen(httpsTarget)}`;
  proxyUrl = `http://127.0.0.1:${await listen(proxy)}`;
});
afterAll(() => {
  for (const s of [httpTarget, httpsTarget, proxy]) {
    s.closeAllConnections();
    s.close();
  }
});
beforeEach(() => {
  seen.length = 0;
  requireAuth = true;
});

const make = (credentials?: CreateProxyFetchOptions['credentials']) =>
  createProxyFetch({ proxy: proxyUrl, tls: { ca: cert }, env: {}, ...(credentials ? { credentials } : {}) });

describe('createProxyFetch', () => {
  it('goes through the proxy when it needs no credentials (http and https targets)', async () => {
    requireAuth = false;
    const fetch = make();
    expect(await (await fetch(`${httpUrl}/a`)).text()).toBe('http GET /a');
    expect(await (await fetch(`${httpsUrl}/b`)).text()).toBe('https GET /b');
    expect(seen.map((s) => s.method)).toEqual(['GET', 'CONNECT']);
  });

  it.each(['http', 'https'])('answers a 407 with good credentials and retries once (%s target)', async (kind) => {
    const credentials = vi.fn(async (_ctx: unknown) => ({ username: 'user', password: 's3cret' }));
    const fetch = make(credentials);
    const url = kind === 'http' ? httpUrl : httpsUrl;
    expect((await fetch(`${url}/x`)).status).toBe(200);
    expect(credentials).toHaveBeenCalledTimes(1);
    expect(credentials.mock.calls[0]?.[0]).toMatchObject({
      attempt: 1,
      challenges: [{ scheme: 'basic', params: { realm: expect.any(String) } }],
    });
    // The first try, the probe for the challenges, the retry with credentials.
    expect(seen.map((s) => s.auth)).toEqual([undefined, undefined, good]);

    // Cached: the next request sends them up front.
    seen.length = 0;
    expect((await fetch(`${url}/y`)).status).toBe(200);
    expect(seen.map((s) => s.auth)).toEqual([good]);
    expect(credentials).toHaveBeenCalledTimes(1);
  });

  it('wrong credentials: ProxyAuthenticationError after exactly one retry, credentials redacted', async () => {
    const credentials = vi.fn(async () => ({ username: 'user', password: 'wrong-password' }));
    const fetch = make(credentials);
    const error = (await fetch(`${httpsUrl}/x`).catch((e: unknown) => e)) as ProxyAuthenticationError;
    expect(isProxyAuthenticationError(error)).toBe(true);
    expect(error.status).toBe(407);
    expect(error.proxy).toBe(`${proxyUrl}/`);
    expect(error.challenges[0]?.scheme).toBe('basic');
    expect(seen.filter((s) => s.auth !== undefined)).toHaveLength(1);
    expect(credentials).toHaveBeenCalledTimes(1);
    expect(JSON.stringify({ message: error.message, proxy: error.proxy })).not.toContain('wrong-password');
  });

  it('null credentials, or no callback: a typed error without a retry', async () => {
    for (const fetch of [make(async () => null), make()]) {
      seen.length = 0;
      await expect(fetch(`${httpUrl}/x`)).rejects.toMatchObject({ name: 'ProxyAuthenticationError' });
      expect(seen.filter((s) => s.auth !== undefined)).toHaveLength(0);
    }
  });

  it('a throwing callback: a typed error that does not carry its message', async () => {
    const fetch = make(async () => {
      throw new Error('vault said: password=hunter2');
    });
    const error = (await fetch(`${httpUrl}/x`).catch((e: unknown) => e)) as ProxyAuthenticationError;
    expect(error.name).toBe('ProxyAuthenticationError');
    expect(String((error.cause as Error).message)).not.toContain('hunter2');
  });

  it('50 concurrent requests on a fresh client share one credentials call and all succeed', async () => {
    const credentials = vi.fn(async () => {
      await new Promise((r) => setTimeout(r, 20));
      return good;
    });
    const fetch = make(credentials);
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => fetch(`${httpsUrl}/c${i}`)));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(credentials).toHaveBeenCalledTimes(1);
  });

  it('NO_PROXY sends straight to the target', async () => {
    const fetch = createProxyFetch({ env: { HTTP_PROXY: proxyUrl, NO_PROXY: 'example.test, 127.0.0.1' } });
    expect(await (await fetch(`${httpUrl}/direct`)).text()).toBe('http GET /direct');
    expect(seen).toHaveLength(0);
  });

  it('reads HTTP_PROXY from the environment', async () => {
    requireAuth = false;
    const fetch = createProxyFetch({ env: { HTTP_PROXY: proxyUrl } });
    expect((await fetch(`${httpUrl}/env`)).status).toBe(200);
    expect(seen).toHaveLength(1);
  });

  it('through createApiFetch, a 407 is never retried by the retry layer', async () => {
    const credentials = vi.fn(async () => null);
    const api = createApiFetch({ baseUrl: httpUrl, fetch: make(credentials), retry: { limit: 3 } });
    const error = await api.get('x').catch((e: unknown) => e);
    expect(isProxyAuthenticationError(error)).toBe(true);
    expect(credentials).toHaveBeenCalledTimes(1);
    // First try and the probe: no retry of a 407.
    expect(seen).toHaveLength(2);
  });

  it('validates options by name', () => {
    expect(() => createProxyFetch({ proxy: 'ftp://x' })).toThrow('`proxy`');
    expect(() => createProxyFetch({ credentials: 'x' as never })).toThrow('`credentials`');
  });
});

describe('NO_PROXY rules', () => {
  it.each([
    ['http://api.example.test/', 'example.test', true],
    ['http://example.test/', '.example.test', true],
    ['http://deep.api.example.test/', '*.example.test', true],
    ['http://notexample.test/', 'example.test', false],
    ['http://api.example.test:8080/', 'api.example.test:8080', true],
    ['http://api.example.test:9090/', 'api.example.test:8080', false],
    ['https://api.example.test/', 'api.example.test:443', true],
    ['http://10.1.2.3/', '10.1.2.3', true],
    ['http://[::1]:80/', '[::1]', true],
    ['http://anything.test/', '*', true],
    ['http://anything.test/', '', false],
  ])('%s with %j → %s', (url, rule, expected) => {
    expect(bypassesProxy(new URL(url), rule)).toBe(expected);
  });
});
