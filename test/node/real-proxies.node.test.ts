import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isProxyAuthenticationError } from '../../src/index.js';
import { type CreateProxyFetchOptions, createProxyFetch } from '../../src/node/index.js';
import {
  identity,
  type Kdc,
  ntlmDomain,
  realm,
  type Squid,
  type SquidScheme,
  startKdc,
  startSquid,
  tempDir,
} from './helpers/real-proxies.js';

// Real squid, Samba and MIT Kerberos from Debian's packages, started here on loopback and stopped by pid.
const cert = readFileSync(new URL('../fixtures/localhost-cert.pem', import.meta.url));
const key = readFileSync(new URL('../fixtures/localhost-key.pem', import.meta.url));

/** Every request the targets saw, with the Proxy-Authorization it carried (it never should). */
const targetSaw: { url: string; proxyAuthorization: string | undefined }[] = [];
const echo = (req: IncomingMessage, res: ServerResponse) => {
  targetSaw.push({ url: req.url ?? '', proxyAuthorization: req.headers['proxy-authorization'] });
  res.end(`${req.method} ${req.url}`);
};
let httpTarget: Server;
let httpsTarget: Server;
let httpUrl: string;
let httpsUrl: string;
let kdc: Kdc;
let kdcDir: ReturnType<typeof tempDir>;
/** A credential cache with the test user's ticket, and one without any. */
let ticketCache: string;
const emptyCache = () => `FILE:${join(kdcDir.path, 'no-ticket')}`;

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

beforeAll(async () => {
  httpTarget = createHttpServer(echo);
  httpsTarget = createHttpsServer({ cert, key }, echo);
  httpUrl = `http://127.0.0.1:${await listen(httpTarget)}`;
  httpsUrl = `https://127.0.0.1:${await listen(httpsTarget)}`;
  kdcDir = tempDir('kdc');
  kdc = await startKdc(kdcDir.path);
  ticketCache = `FILE:${join(kdcDir.path, 'ticket')}`;
  expect(kdc.kinit(ticketCache.slice(5), identity.password)).toBe(true);
  // The kerberos package (libkrb5) reads these at each call.
  process.env.KRB5_CONFIG = kdc.env.KRB5_CONFIG;
  process.env.KRB5CCNAME = emptyCache();
}, 60_000);
afterAll(async () => {
  for (const server of [httpTarget, httpsTarget]) {
    server.closeAllConnections();
    server.close();
  }
  await kdc?.stop();
  kdcDir?.remove();
  delete process.env.KRB5_CONFIG;
  delete process.env.KRB5CCNAME;
});

const client = (squid: Squid, password: string, extra: Partial<CreateProxyFetchOptions> = {}) => {
  const credentials = vi.fn(async () => ({ username: identity.username, password }));
  const fetch = createProxyFetch({
    proxy: squid.url,
    env: {},
    tls: { ca: cert },
    credentials,
    negotiate: { service: 'HTTP@localhost' },
    ...extra,
  });
  return { fetch, credentials };
};

/** 20 concurrent requests to the http target and 20 to the https target, all through one proxy fetch. */
async function burst(fetch: ReturnType<typeof createProxyFetch>) {
  targetSaw.length = 0;
  const urls = [
    ...Array.from({ length: 20 }, (_, i) => `${httpUrl}/h${i}`),
    ...Array.from({ length: 20 }, (_, i) => `${httpsUrl}/s${i}`),
  ];
  const texts = await Promise.all(urls.map(async (url) => (await fetch(url)).text()));
  expect(texts).toEqual(urls.map((url) => `GET ${new URL(url).pathname}`));
  expect(targetSaw).toHaveLength(40);
  expect(targetSaw.filter((r) => r.proxyAuthorization !== undefined)).toEqual([]);
}

/** A wrong password: ProxyAuthenticationError, the identity asked for once, and no secret in the error. */
async function refusesWrongPassword(squid: Squid) {
  for (const url of [`${httpUrl}/wrong`, `${httpsUrl}/wrong`]) {
    const { fetch, credentials } = client(squid, 'not-the-password');
    const error = await fetch(url).catch((e: unknown) => e);
    expect(isProxyAuthenticationError(error)).toBe(true);
    expect(credentials).toHaveBeenCalledTimes(1);
    const printed = inspect(error, { depth: Number.POSITIVE_INFINITY });
    expect(printed).not.toContain('not-the-password');
    expect(printed).not.toMatch(/TlRMTVNT|YII|response="/);
  }
}

/**
 * A burst on a fresh client with the right password: one `credentials` call, and squid logged `user` for each of the
 * 20 plain-http requests. Returns the client for more.
 */
async function authenticatesBurst(squid: Squid, user: string) {
  const { fetch, credentials } = client(squid, identity.password);
  await burst(fetch);
  expect(credentials).toHaveBeenCalledTimes(1);
  const log = forwarded(squid);
  expect(log).toHaveLength(20);
  expect(new Set(log.map((entry) => entry.user.toLowerCase()))).toEqual(new Set([user.toLowerCase()]));
  return { fetch, credentials, log };
}

/** Run `body` with `cache` as the process's Kerberos credential cache. */
async function withCache(cache: string, body: () => Promise<void>) {
  process.env.KRB5CCNAME = cache;
  try {
    await body();
  } finally {
    process.env.KRB5CCNAME = emptyCache();
  }
}

/** A burst with the ticket: Negotiate for every request, the identity from the ticket, `credentials` never called. */
const negotiatesWithTicket = (squid: Squid) =>
  withCache(ticketCache, async () => {
    const { fetch, credentials } = client(squid, identity.password);
    await burst(fetch);
    expect(credentials).toHaveBeenCalledTimes(0);
    const log = forwarded(squid);
    expect(log).toHaveLength(20);
    expect(new Set(log.map((entry) => entry.user))).toEqual(new Set([`${identity.username}@${realm}`]));
  });

/**
 * The plain-http requests squid let through, with the user it authenticated. squid logs a CONNECT only when the
 * tunnel closes, and the proxy fetch keeps its tunnels alive, so those are judged by the targets and the callback.
 */
const forwarded = (squid: Squid) => squid.log().filter((entry) => entry.method === 'GET' && entry.status !== '407');

function withSquid(schemes: SquidScheme[], body: (squid: () => Squid) => void) {
  describe(`squid offering ${schemes.join(', ')}`, () => {
    let squid: Squid;
    let dir: ReturnType<typeof tempDir>;
    beforeAll(async () => {
      dir = tempDir('squid');
      squid = await startSquid(dir.path, schemes, kdc);
    }, 60_000);
    afterAll(async () => {
      await squid?.stop();
      dir?.remove();
    });
    body(() => squid);
  });
}

describe('real proxies', { timeout: 60_000 }, () => {
  withSquid(['digest'], (squid) => {
    it('Digest (digest_file_auth): 20 http + 20 https concurrent requests, one credentials call', async () => {
      const { log } = await authenticatesBurst(squid(), identity.username);
      expect(new Set(log.map((entry) => entry.scheme))).toEqual(new Set(['Digest']));
    });
    it('Digest: a wrong password ends in ProxyAuthenticationError', () => refusesWrongPassword(squid()));
  });

  withSquid(['ntlm'], (squid) => {
    it('NTLM (Samba ntlm_auth via winbind): 20 http + 20 https concurrent requests, one credentials call', async () => {
      const { fetch, credentials } = await authenticatesBurst(squid(), `${ntlmDomain}\\${identity.username}`);
      // The second burst reuses authenticated connections: plain-http requests on them send no header at all.
      const before = forwarded(squid()).length;
      await burst(fetch);
      const again = forwarded(squid()).slice(before);
      expect(again).toHaveLength(20);
      expect(again.filter((entry) => entry.scheme === '').length).toBeGreaterThan(0);
      expect(credentials).toHaveBeenCalledTimes(1);
    });
    it('NTLM: a wrong password ends in ProxyAuthenticationError', () => refusesWrongPassword(squid()));
  });

  withSquid(['negotiate'], (squid) => {
    it('Negotiate (Kerberos, MIT KDC): 20 http + 20 https concurrent requests with the ticket, no credentials call', () =>
      negotiatesWithTicket(squid()));
    it('Negotiate: no ticket (kinit with a wrong password fails) ends in ProxyAuthenticationError', async () => {
      expect(kdc.kinit(join(kdcDir.path, 'refused'), 'not-the-password')).toBe(false);
      await withCache(`FILE:${join(kdcDir.path, 'refused')}`, async () => {
        for (const url of [`${httpUrl}/x`, `${httpsUrl}/x`]) {
          const { fetch, credentials } = client(squid(), identity.password);
          const error = await fetch(url).catch((e: unknown) => e);
          expect(isProxyAuthenticationError(error)).toBe(true);
          expect(credentials).toHaveBeenCalledTimes(0);
        }
      });
    });
  });

  withSquid(['basic', 'ntlm', 'digest', 'negotiate'], (squid) => {
    it('all four offered weakest first: Negotiate with a ticket', () => negotiatesWithTicket(squid()));
    it('all four offered: Digest without a ticket, one credentials call', async () => {
      const before = forwarded(squid()).length;
      const { fetch, credentials } = client(squid(), identity.password);
      await burst(fetch);
      expect(credentials).toHaveBeenCalledTimes(1);
      const log = forwarded(squid()).slice(before);
      expect(log).toHaveLength(20);
      expect(new Set(log.map((entry) => entry.scheme))).toEqual(new Set(['Digest']));
    });
    it('all four offered: a wrong password ends in ProxyAuthenticationError', () => refusesWrongPassword(squid()));
  });
});
