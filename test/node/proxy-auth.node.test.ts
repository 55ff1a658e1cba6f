import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseChallenges } from '../../src/challenge.js';
import { digestAuthorization, parseDigestChallenge } from '../../src/node/digest.js';
import { openProxySocket, openTunnel } from '../../src/node/handshake.js';
import { createProxyFetch, type NegotiateTokenContext } from '../../src/node/index.js';
import { ProxyAuth } from '../../src/node/proxy-auth.js';
import { type FakeProxy, startFakeProxy } from './helpers/fake-proxy.js';

// A Digest proxy whose nonces we control: it can declare a nonce stale, and it checks each answer and its nc. It can
// offer Negotiate too, accepting any token that starts with `good-` and recording every token it saw.
const password = 'digest-pw';
let nonce = 0;
const stale = new Set<string>();
/** Every answer the proxy checked: its nonce, nc, method and uri. */
const answers: { nonce: string; nc: string; method: string; uri: string; ok: boolean }[] = [];

let offerNegotiate = false;
const tokens: string[] = [];

function check(req: IncomingMessage, uri: string): 'ok' | 'stale' | 'refused' {
  const header = req.headers['proxy-authorization'];
  if (header?.startsWith('Negotiate ')) {
    const token = header.slice('Negotiate '.length);
    tokens.push(token);
    return offerNegotiate && token.startsWith('good-') ? 'ok' : 'refused';
  }
  const params = header ? parseChallenges(header)[0]?.params : undefined;
  if (!params?.nonce || !params.nc || !params.cnonce) return 'refused';
  const challenge = parseDigestChallenge({
    scheme: 'digest',
    params: { realm: 'r', nonce: params.nonce, qop: 'auth' },
  });
  if (!challenge) return 'refused';
  const expected = digestAuthorization({
    challenge,
    username: 'u',
    password,
    method: req.method ?? '',
    uri,
    nc: Number.parseInt(params.nc, 16),
    cnonce: params.cnonce,
  });
  const ok = params.uri === uri && expected === header;
  answers.push({ nonce: params.nonce, nc: params.nc, method: req.method ?? '', uri: params.uri ?? '', ok });
  if (!ok) return 'refused';
  return stale.has(params.nonce) ? 'stale' : 'ok';
}
const digest = (isStale: boolean) =>
  `Digest realm="r", nonce="n${++nonce}", qop="auth", algorithm=MD5${isStale ? ', stale=true' : ''}`;
const challenges = (isStale: boolean) => (offerNegotiate ? ['Negotiate', digest(isStale)] : [digest(isStale)]);

let proxy: FakeProxy;
let target: Server;
let proxyUrl: string;
let targetUrl: string;

beforeAll(async () => {
  target = createServer((req, res) => res.end(`${req.method} ${req.url}`));
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
  proxy = await startFakeProxy((req) => {
    const verdict = check(req, req.url ?? '');
    return verdict === 'ok' ? undefined : challenges(verdict === 'stale');
  });
  proxyUrl = proxy.url;
});
afterAll(() => {
  proxy.close();
  target.closeAllConnections();
  target.close();
});
beforeEach(() => {
  answers.length = 0;
  stale.clear();
  tokens.length = 0;
  offerNegotiate = false;
});

it('reuses a nonce with nc counting up, and on stale=true answers the new nonce without asking for credentials', async () => {
  const credentials = vi.fn(async () => ({ username: 'u', password }));
  const fetch = createProxyFetch({ proxy: proxyUrl, env: {}, credentials });
  expect(await (await fetch(`${targetUrl}/a`)).text()).toBe('GET /a');
  expect(await (await fetch(`${targetUrl}/b`, { method: 'POST', body: 'x' })).text()).toBe('POST /b');
  const [first, second] = answers;
  expect(first).toMatchObject({ nc: '00000001', method: 'GET', uri: `${targetUrl}/a`, ok: true });
  // The nonce kept for the next request, counted on; the uri and method are that request's.
  expect(second).toMatchObject({ nonce: first?.nonce, nc: '00000002', method: 'POST', uri: `${targetUrl}/b` });

  // The proxy now calls that nonce stale: one more answer with the fresh nonce, the identity not asked for again.
  stale.add(first?.nonce ?? '');
  answers.length = 0;
  expect(await (await fetch(`${targetUrl}/c`)).text()).toBe('GET /c');
  expect(answers.map((a) => [a.nonce === first?.nonce, a.nc, a.ok])).toEqual([
    [true, '00000003', true],
    [false, '00000001', true],
  ]);
  expect(credentials).toHaveBeenCalledTimes(1);
});

it('CONNECT: a stale nonce is answered again on the tunnel without asking for credentials', async () => {
  const credentials = vi.fn(async () => ({ username: 'u', password }));
  // The tunnel's handshake on its own: two tunnels, the second led by the first's nonce.
  const authority = targetUrl.replace('http://', '');
  const auth = new ProxyAuth(new URL(proxyUrl), { credentials, credentialsTimeoutMs: 1000, negotiate: false });
  const open = () => openProxySocket(new URL(proxyUrl), undefined);
  const first = await openTunnel(auth, open, authority);
  expect(first.answer.status).toBe(200);
  first.socket.destroy();
  stale.add(answers.at(-1)?.nonce ?? '');
  answers.length = 0;
  const second = await openTunnel(auth, open, authority);
  expect(second.answer.status).toBe(200);
  second.socket.destroy();
  expect(answers.map((a) => [a.method, a.uri, a.nc, a.ok])).toEqual([
    ['CONNECT', authority, '00000002', true],
    ['CONNECT', authority, '00000001', true],
  ]);
  expect(credentials).toHaveBeenCalledTimes(1);
});

describe('Negotiate with a token function of the app', () => {
  it('is chosen over Digest; each connection and leg gets a fresh token, never replayed; credentials not called', async () => {
    offerNegotiate = true;
    let made = 0;
    const token = vi.fn((_ctx: NegotiateTokenContext) => `good-${++made}`);
    const credentials = vi.fn(async () => ({ username: 'u', password }));
    const fetch = createProxyFetch({ proxy: proxyUrl, env: {}, credentials, negotiate: { token } });
    const texts = await Promise.all([1, 2, 3].map(async (i) => (await fetch(`${targetUrl}/n${i}`)).text()));
    expect(texts).toEqual(['GET /n1', 'GET /n2', 'GET /n3']);
    expect(credentials).not.toHaveBeenCalled();
    expect(tokens.length).toBeGreaterThanOrEqual(3);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(token.mock.calls[0]?.[0]).toEqual({
      proxy: new URL(proxyUrl),
      service: 'HTTP@127.0.0.1',
      challenge: undefined,
    });
  });

  it('a token function that answers null falls back to the next scheme offered (Digest)', async () => {
    offerNegotiate = true;
    const credentials = vi.fn(async () => ({ username: 'u', password }));
    const fetch = createProxyFetch({ proxy: proxyUrl, env: {}, credentials, negotiate: { token: () => null } });
    expect(await (await fetch(`${targetUrl}/d`)).text()).toBe('GET /d');
    expect(tokens).toEqual([]);
    expect(answers.map((a) => a.ok)).toEqual([true]);
    expect(credentials).toHaveBeenCalledTimes(1);
  });

  it('a refused token falls back to Digest too; negotiate: false never offers it', async () => {
    offerNegotiate = true;
    const credentials = vi.fn(async () => ({ username: 'u', password }));
    const refused = createProxyFetch({ proxy: proxyUrl, env: {}, credentials, negotiate: { token: () => 'bad' } });
    expect((await refused(`${targetUrl}/r`)).status).toBe(200);
    expect(tokens).toEqual(['bad']);
    tokens.length = 0;
    const off = createProxyFetch({ proxy: proxyUrl, env: {}, credentials, negotiate: false });
    expect((await off(`${targetUrl}/o`)).status).toBe(200);
    expect(tokens).toEqual([]);
  });
});
