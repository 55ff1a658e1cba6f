import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { isProxyAuthenticationError } from '../../src/index.js';
import { createProxyFetch } from '../../src/node/index.js';
import { type FakeProxy, startFakeProxy } from './helpers/fake-proxy.js';

// As in an install without the optional peer `hash-wasm`, which only NTLM needs.
vi.mock('hash-wasm', () => {
  throw Object.assign(new Error("Cannot find package 'hash-wasm'"), { code: 'ERR_MODULE_NOT_FOUND' });
});

const cert = readFileSync(new URL('../fixtures/localhost-cert.pem', import.meta.url));
const key = readFileSync(new URL('../fixtures/localhost-key.pem', import.meta.url));
const user = { username: 'user', password: 's3cret' };
const basic = `Basic ${Buffer.from('user:s3cret').toString('base64')}`;
const missingHashWasm =
  'apifetch/node needs the `hash-wasm` package for NTLM proxy authentication: npm install hash-wasm';

// A proxy that offers NTLM (and Basic, unless `ntlmOnly`) and lets through only the right Basic answer, so an NTLM
// leg would be seen and refused here.
let ntlmOnly = false;
/** Every request and CONNECT the proxy saw, with the Proxy-Authorization it carried. */
const seen: { method: string; auth: string | undefined }[] = [];
const offered = () => (ntlmOnly ? ['NTLM'] : ['NTLM', 'Basic realm="proxy"']);
const admit = (req: IncomingMessage) => {
  const auth = req.headers['proxy-authorization'];
  seen.push({ method: req.method ?? '', auth });
  return auth === basic;
};

let proxy: FakeProxy;
const servers: Server[] = [];
let httpUrl: string;
let httpsUrl: string;

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

beforeAll(async () => {
  const echo = (scheme: string) => (req: IncomingMessage, res: ServerResponse) =>
    res.end(`${scheme} ${req.method} ${req.url}`);
  const [httpTarget, httpsTarget] = [createHttpServer(echo('http')), createHttpsServer({ cert, key }, echo('https'))];
  servers.push(httpTarget, httpsTarget);
  httpUrl = `http://127.0.0.1:${await listen(httpTarget)}`;
  httpsUrl = `https://127.0.0.1:${await listen(httpsTarget)}`;
  proxy = await startFakeProxy((req) => (admit(req) ? undefined : offered()));
});
afterAll(() => {
  proxy.close();
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});
beforeEach(() => {
  seen.length = 0;
  ntlmOnly = false;
});

const targets = [
  ['http (absolute-form request)', () => httpUrl, 'GET', 'http'],
  ['https (CONNECT tunnel)', () => httpsUrl, 'CONNECT', 'https'],
] as const;

describe('without hash-wasm installed', () => {
  it.each(targets)(
    '%s: a proxy offering NTLM and Basic is answered with Basic, as Negotiate without kerberos falls back',
    async (_, url, method, scheme) => {
      const credentials = vi.fn(() => user);
      const fetch = createProxyFetch({ proxy: proxy.url, env: {}, tls: { ca: cert }, credentials });
      expect(await (await fetch(`${url()}/a`)).text()).toBe(`${scheme} GET /a`);
      // The 407, then Basic: no NTLM leg was sent.
      expect(seen).toEqual([
        { method, auth: undefined },
        { method, auth: basic },
      ]);
      expect(credentials).toHaveBeenCalledTimes(1);

      seen.length = 0;
      expect((await fetch(`${url()}/b`)).status).toBe(200);
      expect(seen).toEqual([{ method, auth: basic }]);
    },
  );

  it.each(targets)(
    '%s: a proxy offering only NTLM ends in ProxyAuthenticationError whose cause says npm install hash-wasm',
    async (_, url, method) => {
      ntlmOnly = true;
      const credentials = vi.fn(() => user);
      const fetch = createProxyFetch({ proxy: proxy.url, env: {}, tls: { ca: cert }, credentials });
      const error = (await fetch(`${url()}/a`).catch((e: unknown) => e)) as Error;
      expect(isProxyAuthenticationError(error)).toBe(true);
      expect(error).toMatchObject({ status: 407, proxy: `${proxy.url}/` });
      expect((error.cause as Error).message).toBe(missingHashWasm);
      expect(seen).toEqual([{ method, auth: undefined }]);
      expect(credentials).not.toHaveBeenCalled();
    },
  );
});
