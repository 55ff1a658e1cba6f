import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { createProxy } from 'proxy';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApiFetch, isProxyAuthenticationError, type ProxyAuthenticationError } from '../../src/index.js';
import { type CreateProxyFetchOptions, createProxyFetch } from '../../src/node/index.js';

const cert = readFileSync(new URL('../fixtures/localhost-cert.pem', import.meta.url));
const key = readFileSync(new URL('../fixtures/localhost-key.pem', import.meta.url));
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;
const good = basic('user', 's3cret');
const user = { username: 'user', password: 's3cret' };
/** Proxy-Authorization values the proxy accepts. */
const accepted = new Set([good, basic('jürgen', 'pässwörd'), 'Negotiate dG9rZW4=']);

let httpTarget: Server;
let httpsTarget: Server;
let proxy: Server & { authenticate?: (req: IncomingMessage) => Promise<boolean> };
let proxyUrl: string;
let httpUrl: string;
let httpsUrl: string;
/** Every request and CONNECT the proxy saw, with the Proxy-Authorization it carried. */
const seen: { method: string; auth: string | undefined }[] = [];
let requireAuth = true;
/** While set, the proxy answers requests for `/late` only once it resolves. */
let lateGate: Promise<void> | undefined;
/** Requests that reached `/hang` on a target, never answered. */
const hanging: IncomingMessage[] = [];

const listen = (server: Server) =>
  new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(String((server.address() as AddressInfo).port))),
  );

/** Answers `<scheme> <method> <path> <body>`. */
const echo = (scheme: string) => (req: IncomingMessage, res: import('node:http').ServerResponse) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
  });
  if (req.url === '/hang') {
    hanging.push(req);
    return;
  }
  const redirect = /^\/redirect-(30[78])$/.exec(req.url ?? '');
  if (redirect) {
    req.on('end', () => res.writeHead(Number(redirect[1]), { location: '/moved' }).end());
    return;
  }
  req.on('end', () => res.end(`${scheme} ${req.method} ${req.url}${body ? ` ${body}` : ''}`));
};

beforeAll(async () => {
  httpTarget = createHttpServer(echo('http'));
  httpsTarget = createHttpsServer({ cert, key }, echo('https'));
  proxy = createProxy(createHttpServer()) as typeof proxy;
  proxy.authenticate = async (req) => {
    if (req.url?.endsWith('/late')) await lateGate;
    const auth = req.headers['proxy-authorization'];
    seen.push({ method: req.method ?? '', auth });
    return !requireAuth || (auth !== undefined && accepted.has(auth));
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

const make = (credentials?: CreateProxyFetchOptions['credentials'], proxy = proxyUrl) =>
  createProxyFetch({ proxy, tls: { ca: cert }, env: {}, ...(credentials ? { credentials } : {}) });
const targets = [
  ['http (absolute-form request)', () => httpUrl, 'GET'],
  ['https (CONNECT tunnel)', () => httpsUrl, 'CONNECT'],
] as const;

describe('createProxyFetch', () => {
  it('goes through the proxy when it needs no credentials (http and https targets)', async () => {
    requireAuth = false;
    const fetch = make();
    expect(await (await fetch(`${httpUrl}/a`)).text()).toBe('http GET /a');
    expect(await (await fetch(`${httpsUrl}/b`)).text()).toBe('https GET /b');
    expect(seen).toEqual([
      { method: 'GET', auth: undefined },
      { method: 'CONNECT', auth: undefined },
    ]);
  });

  it.each(targets)(
    '%s: answers a 407 with good credentials, retries once, then sends them up front',
    async (_, url, method) => {
      const credentials = vi.fn(async (_ctx: unknown) => ({ username: 'user', password: 's3cret' }));
      const fetch = make(credentials);
      expect(await (await fetch(`${url()}/x`)).text()).toMatch(/ GET \/x$/);
      expect(credentials).toHaveBeenCalledTimes(1);
      expect(credentials.mock.calls[0]?.[0]).toEqual({
        proxy: new URL(`${proxyUrl}/`),
        attempt: 1,
        challenges: [{ scheme: 'basic', params: { realm: 'proxy' } }],
        signal: expect.any(AbortSignal),
      });
      // The first try, answered by a 407 with the challenges, then the retry with credentials.
      expect(seen).toEqual([
        { method, auth: undefined },
        { method, auth: good },
      ]);

      seen.length = 0;
      expect((await fetch(`${url()}/y`)).status).toBe(200);
      expect(seen).toEqual([{ method, auth: good }]);
      expect(credentials).toHaveBeenCalledTimes(1);
    },
  );

  it.each(targets)('%s: wrong credentials end in ProxyAuthenticationError after exactly one retry', async (_, url) => {
    const credentials = vi.fn(async () => ({ username: 'user', password: 'wrong-password' }));
    const fetch = make(credentials);
    const error = (await fetch(`${url()}/x`).catch((e: unknown) => e)) as ProxyAuthenticationError;
    expect(isProxyAuthenticationError(error)).toBe(true);
    expect(error).toMatchObject({ status: 407, retryable: false, proxy: `${proxyUrl}/` });
    expect(error.challenges).toEqual([{ scheme: 'basic', params: { realm: 'proxy' } }]);
    expect(error.response.headers.get('proxy-authenticate')).toBe('Basic realm="proxy"');
    expect(seen.map((s) => s.auth)).toEqual([undefined, basic('user', 'wrong-password')]);
    expect(credentials).toHaveBeenCalledTimes(1);
    expect(JSON.stringify({ message: error.message, proxy: error.proxy, stack: error.stack })).not.toMatch(
      /wrong-password|d3Jvbmct/,
    );

    // The refused answer is not trusted: the next request's 407 asks again (attempt 2).
    seen.length = 0;
    await fetch(`${url()}/again`).catch(() => {});
    expect(credentials).toHaveBeenCalledTimes(2);
  });

  it('cached credentials the proxy later refuses: asked again (attempt 2), the request retried once', async () => {
    const rotated = basic('user', 'rotated');
    const answers = [user, { username: 'user', password: 'rotated' }];
    const credentials = vi.fn(async (_ctx: { attempt: number }) => answers.shift() ?? null);
    const fetch = make(credentials);
    expect((await fetch(`${httpsUrl}/1`)).status).toBe(200);
    accepted.delete(good);
    accepted.add(rotated);
    try {
      seen.length = 0;
      expect((await fetch(`${httpsUrl}/2`)).status).toBe(200);
      expect(credentials.mock.calls.map(([ctx]) => ctx.attempt)).toEqual([1, 2]);
      // Basic worked before, so it goes up front; refused, it is asked for again and sent once more.
      expect(seen.map((s) => s.auth)).toEqual([good, rotated]);
    } finally {
      accepted.delete(rotated);
      accepted.add(good);
    }
  });

  it('null credentials, or no callback: a typed error with the challenges, without a retry', async () => {
    for (const fetch of [make(async () => null), make()]) {
      seen.length = 0;
      const error = (await fetch(`${httpUrl}/x`).catch((e: unknown) => e)) as ProxyAuthenticationError;
      expect(error).toMatchObject({ name: 'ProxyAuthenticationError', status: 407 });
      expect(error.challenges[0]?.scheme).toBe('basic');
      expect(seen.map((s) => s.auth)).toEqual([undefined]);
    }
  });

  it('a throwing callback: a typed error that does not carry its message', async () => {
    const fetch = make(async () => {
      throw new Error('vault said: password=hunter2');
    });
    const error = (await fetch(`${httpUrl}/x`).catch((e: unknown) => e)) as ProxyAuthenticationError;
    expect(error.name).toBe('ProxyAuthenticationError');
    expect((error.cause as Error).message).toBe('credentials callback failed: Error');
    expect(seen.filter((s) => s.auth !== undefined)).toHaveLength(0);
  });

  it('Basic is UTF-8', async () => {
    const utf8 = make(async () => ({ username: 'jürgen', password: 'pässwörd' }));
    expect((await utf8(`${httpUrl}/u`)).status).toBe(200);
    expect(seen.at(-1)?.auth).toBe(`Basic ${Buffer.from('jürgen:pässwörd').toString('base64')}`);
  });

  it('credentials in the proxy URL are sent up front and kept out of errors', async () => {
    const withGood = make(undefined, proxyUrl.replace('//', '//user:s3cret@'));
    expect((await withGood(`${httpsUrl}/p`)).status).toBe(200);
    expect(seen).toEqual([{ method: 'CONNECT', auth: good }]);

    const withBad = make(undefined, proxyUrl.replace('//', '//user:leaked-secret@'));
    const error = (await withBad(`${httpsUrl}/p`).catch((e: unknown) => e)) as ProxyAuthenticationError;
    expect(error.proxy).toBe(`${proxyUrl}/`);
    expect(`${error.message} ${error.stack}`).not.toContain('leaked-secret');
  });

  it('replays a body on the retry: a Request body, and a string or stream body given in init', async () => {
    const request = new Request(`${httpsUrl}/post`, { method: 'POST', body: 'payload', headers: { 'x-a': '1' } });
    expect(await (await make(async () => user)(request)).text()).toBe('https POST /post payload');
    const stream = () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('streamed'));
          controller.close();
        },
      });
    for (const [body, text] of [
      ['second', 'second'],
      [stream(), 'streamed'],
    ] as const) {
      // A fresh client each time: the first try is refused, so the body really is sent twice.
      seen.length = 0;
      const init = { method: 'POST', body, duplex: 'half' } as RequestInit;
      expect(await (await make(async () => user)(`${httpUrl}/post`, init)).text()).toBe(`http POST /post ${text}`);
      expect(seen.map((s) => s.auth)).toEqual([undefined, good]);
    }
  });

  it('a request aborted while the 407 round waits for credentials rejects at once; the round goes on', async () => {
    let answer: (value: typeof user) => void = () => {};
    const fetch = make(() => new Promise<typeof user>((resolve) => (answer = resolve)));
    const controller = new AbortController();
    const aborted = fetch(`${httpUrl}/a`, { signal: controller.signal }).catch((e: unknown) => e);
    const other = fetch(`${httpUrl}/b`);
    await vi.waitFor(() => expect(seen.length).toBeGreaterThanOrEqual(2));
    controller.abort(new Error('user left'));
    expect(await aborted).toMatchObject({ message: 'user left' });
    answer(user);
    expect((await other).status).toBe(200);
  });

  it('a 407 that arrives after a round answered null shares that answer: one probe, one call', async () => {
    let open: () => void = () => {};
    lateGate = new Promise((resolve) => (open = resolve));
    try {
      const credentials = vi.fn(async () => null);
      const fetch = make(credentials);
      // Sent before the round, refused only after it settled.
      const late = fetch(`${httpUrl}/late`).catch((e: unknown) => e);
      expect(await fetch(`${httpUrl}/early`).catch((e: unknown) => e)).toMatchObject({ status: 407 });
      open();
      expect(await late).toMatchObject({ name: 'ProxyAuthenticationError', status: 407 });
      expect(credentials).toHaveBeenCalledTimes(1);
      // The two first tries only.
      expect(seen).toHaveLength(2);
    } finally {
      lateGate = undefined;
    }
  });

  it('rotating credentials leave no agents and sockets behind: the replaced agent closes', async () => {
    const connections = () => new Promise<number>((resolve) => proxy.getConnections((_, n) => resolve(n)));
    // Other tests' clients may still hold idle sockets: count what this one adds.
    const before = await connections();
    let version = 0;
    // Each answer is refused later: the next request is refused and asks again.
    const fetch = make(async () => ({ username: 'user', password: `v${++version}` }));
    try {
      for (let i = 1; i <= 5; i++) {
        accepted.clear();
        accepted.add(basic('user', `v${i}`));
        expect((await fetch(`${httpUrl}/r${i}`)).status).toBe(200);
      }
      expect(version).toBe(5);
      // One socket per rotation would leave 5 connections open.
      await vi.waitFor(async () => expect(await connections()).toBeLessThanOrEqual(before + 2));
    } finally {
      accepted.clear();
      for (const value of [good, basic('jürgen', 'pässwörd'), 'Negotiate dG9rZW4=']) accepted.add(value);
    }
  });

  it.each(targets)('%s: a 307/308 redirect of a POST is followed with its body, as fetch does', async (_, url) => {
    requireAuth = false;
    const fetch = make();
    for (const status of [307, 308]) {
      const response = await fetch(`${url()}/redirect-${status}`, { method: 'POST', body: 'payload' });
      expect(response.redirected).toBe(true);
      expect(await response.text()).toMatch(/ POST \/moved payload$/);
    }
    // The same through the 407 round: the body survives the retry and the redirect.
    requireAuth = true;
    const request = new Request(`${url()}/redirect-307`, { method: 'PUT', body: 'again' });
    expect(await (await make(async () => user)(request)).text()).toMatch(/ PUT \/moved again$/);
    // And direct (NO_PROXY) with `tls`, through undici as well.
    const direct = createProxyFetch({ tls: { ca: cert }, env: { HTTPS_PROXY: proxyUrl, NO_PROXY: '127.0.0.1' } });
    const body = new Request(`${url()}/redirect-308`, { method: 'POST', body: 'direct' });
    expect(await (await direct(body)).text()).toMatch(/ POST \/moved direct$/);
  });

  it('a credentials call that hangs ends its round at credentialsTimeoutMs (its signal aborted); the next 407 starts a new round', async () => {
    const signals: AbortSignal[] = [];
    const credentials = vi.fn(({ signal, attempt }: { signal: AbortSignal; attempt: number }) => {
      signals.push(signal);
      return attempt === 1 ? new Promise<never>(() => {}) : user;
    });
    const fetch = createProxyFetch({ proxy: proxyUrl, env: {}, credentials, credentialsTimeoutMs: 50 });
    const [first, second] = await Promise.all([
      fetch(`${httpUrl}/t1`).catch((e: unknown) => e),
      fetch(`${httpUrl}/t2`).catch((e: unknown) => e),
    ]);
    for (const error of [first, second]) {
      expect(error).toMatchObject({ name: 'ProxyAuthenticationError', status: 407 });
      expect((error as Error).cause).toMatchObject({ message: 'credentials callback timed out after 50 ms' });
    }
    expect(credentials).toHaveBeenCalledTimes(1);
    expect(signals[0]?.aborted).toBe(true);
    expect((await fetch(`${httpUrl}/t3`)).status).toBe(200);
    expect(credentials.mock.calls.map(([ctx]) => ctx.attempt)).toEqual([1, 2]);
    expect(signals[1]?.aborted).toBe(false);
  });

  it.each(targets)(
    '%s: the 407 error and its event hold no credentials anywhere (util.inspect, depth ∞)',
    async (_, url) => {
      const events: unknown[] = [];
      const api = createApiFetch({
        baseUrl: url(),
        fetch: make(async () => ({ username: 'user', password: 'hunter2-secret' })),
        onEvent: (event) => events.push(event),
      });
      const error = await api.get('x').catch((e: unknown) => e);
      expect(isProxyAuthenticationError(error)).toBe(true);
      const errorEvents = events.filter((event) => (event as { type: string }).type === 'error');
      expect(errorEvents).toHaveLength(1);
      const secret = /hunter2-secret|aHVudGVyMi1zZWNyZXQ|dXNlcjpodW50ZXIyLXNlY3JldA/;
      for (const value of [error, ...errorEvents]) {
        expect(inspect(value, { depth: Number.POSITIVE_INFINITY })).toContain('407 Proxy Authentication Required');
      }
      for (const value of [error, ...events]) {
        expect(inspect(value, { depth: Number.POSITIVE_INFINITY, showHidden: true })).not.toMatch(secret);
      }
      expect(JSON.stringify(events)).not.toMatch(secret);
    },
  );

  it.each(targets)('%s: an abort signal reaches the proxied request in flight', async (_, url) => {
    requireAuth = false;
    hanging.length = 0;
    const fetch = make();
    const controller = new AbortController();
    const pending = fetch(new Request(`${url()}/hang`, { signal: controller.signal }));
    await vi.waitFor(() => expect(hanging).toHaveLength(1));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await vi.waitFor(() => expect(hanging[0]?.destroyed).toBe(true));
  });

  it('50 concurrent requests on a fresh client share one probe and one credentials call, and all succeed', async () => {
    const credentials = vi.fn(async () => {
      // Answer only once every first try was refused and the probe made: all 50 are waiting on this call.
      await vi.waitFor(() => expect(seen.length).toBeGreaterThanOrEqual(50), { timeout: 5000, interval: 5 });
      return user;
    });
    const fetch = make(credentials);
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => fetch(`${httpsUrl}/c${i}`)));
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(credentials).toHaveBeenCalledTimes(1);
    // 50 first tries, 50 retries.
    expect(seen.filter((s) => s.auth === undefined)).toHaveLength(50);
    expect(seen.filter((s) => s.auth === good)).toHaveLength(50);
  });

  it('NO_PROXY sends straight to the target (https too, with the same TLS options)', async () => {
    const fetch = createProxyFetch({
      tls: { ca: cert },
      env: { HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl, NO_PROXY: 'example.test, 127.0.0.1' },
    });
    expect(await (await fetch(`${httpUrl}/direct`)).text()).toBe('http GET /direct');
    expect(await (await fetch(`${httpsUrl}/direct`)).text()).toBe('https GET /direct');
    expect(seen).toHaveLength(0);
  });

  it('reads the proxy from the environment: HTTP_PROXY for http, HTTPS_PROXY for https, lowercase first', async () => {
    requireAuth = false;
    const unused = 'http://127.0.0.1:9';
    const fetch = createProxyFetch({
      tls: { ca: cert },
      env: { http_proxy: proxyUrl, HTTP_PROXY: unused, HTTPS_PROXY: proxyUrl },
    });
    expect((await fetch(`${httpUrl}/env`)).status).toBe(200);
    expect((await fetch(`${httpsUrl}/env`)).status).toBe(200);
    expect(seen.map((s) => s.method)).toEqual(['GET', 'CONNECT']);
    // No proxy configured: direct.
    seen.length = 0;
    expect((await createProxyFetch({ env: {} })(`${httpUrl}/none`)).status).toBe(200);
    expect(seen).toHaveLength(0);
  });

  it.each(targets)('%s: through createApiFetch, a 407 is never retried by the retry layer', async (_, url) => {
    const credentials = vi.fn(async () => ({ username: 'user', password: 'wrong' }));
    const api = createApiFetch({ baseUrl: url(), fetch: make(credentials), retry: { limit: 2 } });
    const error = await api.get('x').catch((e: unknown) => e);
    expect(isProxyAuthenticationError(error)).toBe(true);
    expect(credentials).toHaveBeenCalledTimes(1);
    // First try, one retry with credentials: no second round from the retry layer.
    expect(seen.map((s) => s.auth)).toEqual([undefined, basic('user', 'wrong')]);
  });

  it('validates options by name, without echoing a proxy URL or credentials', () => {
    expect(() => createProxyFetch({ proxy: 'ftp://user:pw@x' })).toThrow(/`proxy` must be .*\[redacted\]/);
    // A string is an easy mistake here, and likely the secret itself.
    expect(() => createProxyFetch({ credentials: 'alice:hunter2' as never })).toThrow(
      /^`credentials` must be a function, got "\[redacted\]"$/,
    );
    expect(() => createProxyFetch({ noProxy: 1 as never })).toThrow('`noProxy`');
    expect(() => createProxyFetch({ tls: 'x' as never })).toThrow('`tls`');
    expect(() => createProxyFetch({ proxy: 'not a url' })).toThrow(
      expect.objectContaining({ name: 'InvalidOptionError' }),
    );
  });
});
