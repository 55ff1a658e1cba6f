import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Emit, EventInput } from '../src/events.js';
import {
  type ApiFetchEvent,
  createApiFetch,
  createTokenSession,
  isNetworkError,
  isProxyAuthenticationError,
  type ProxyAuthenticationError,
} from '../src/index.js';
import type { ResolvedOptions } from '../src/options.js';
import { type CallState, createTransport } from '../src/transport.js';
import { plain407, tunnel407 } from './helpers/undici-407.js';

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

const base = 'https://api.example.test';
const token = 'secret-token-abc';

/** A client over `fetch` that records its events; retries wait nothing. */
function client(fetch: (request: Request, init?: RequestInit) => Promise<Response>, limit = 2) {
  const events: ApiFetchEvent[] = [];
  const api = createApiFetch({
    baseUrl: base,
    fetch,
    retry: { limit, baseDelayMs: 0, random: () => 0 },
    onEvent: (e) => events.push(e),
  });
  return { api, events };
}

/** An emitter that records what it is given, listening or not. */
function recordingEmit(active: boolean) {
  const emitted: EventInput[] = [];
  const emit = Object.assign((event: EventInput) => void emitted.push(event), { active }) as Emit;
  return { emit, emitted };
}

describe('sends', () => {
  it('counts every send of a call: attempt 1, 2, 3 across the auth replay and a retry', async () => {
    const replies = [
      new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }),
      new Response(null, { status: 503 }),
      new Response('ok'),
    ];
    const events: ApiFetchEvent[] = [];
    const api = createApiFetch({
      baseUrl: base,
      fetch: async () => replies.shift() ?? new Response('unexpected', { status: 500 }),
      retry: { limit: 2, baseDelayMs: 0, random: () => 0 },
      auth: {
        session: createTokenSession({
          tokens: { accessToken: 'stale', refreshToken: 'r' },
          refresh: async () => ({ accessToken: 'fresh' }),
        }),
      },
      onEvent: (e) => events.push(e),
    });
    expect(await api.get('x').text()).toBe('ok');
    const requests = events.filter((e) => e.type === 'request');
    expect(requests.map((e) => [e.attempt, e.authorized])).toEqual([
      [1, true],
      [2, true],
      [3, true],
    ]);
    expect(events.filter((e) => e.type === 'response').map((e) => e.status)).toEqual([401, 503, 200]);
    // A second call counts from 1 again.
    replies.push(new Response('ok'));
    await api.get('y').text();
    expect(events.filter((e) => e.type === 'request').at(-1)).toMatchObject({ attempt: 1, url: `${base}/y` });
  });
});

describe('events', () => {
  it('reports request and response, never the token', async () => {
    const events: ApiFetchEvent[] = [];
    const client = createApiFetch({
      baseUrl: base,
      fetch: async () => new Response('ok'),
      auth: { getAccessToken: () => token },
      onEvent: (e) => events.push(e),
      now: () => 1000,
    });
    await client.get('me?q=private').text();
    expect(events.map((e) => e.type)).toEqual(['request', 'response']);
    expect(events[0]).toMatchObject({ type: 'request', method: 'GET', authorized: true, attempt: 1, time: 1000 });
    expect(events[1]).toMatchObject({ type: 'response', status: 200, durationMs: 0 });
    expect(JSON.stringify(events)).not.toContain(token);
    expect(JSON.stringify(events)).not.toContain('private');
  });

  it('a response event carries the time from the send to the response by the client clock', async () => {
    let clock = 5000;
    const events: ApiFetchEvent[] = [];
    const api = createApiFetch({
      baseUrl: base,
      now: () => clock,
      fetch: async () => {
        clock += 42;
        return new Response('ok');
      },
      onEvent: (e) => events.push(e),
    });
    await api.get('x').text();
    expect(events.find((e) => e.type === 'response')).toMatchObject({ durationMs: 42, time: 5042 });
  });

  it('a failed send is reported as an error event, redacted', async () => {
    const { api, events } = client(async () => {
      throw new TypeError('fetch failed');
    }, 0);
    await expect(api.get('x?secret=1')).rejects.toSatisfy(isNetworkError);
    expect(events.map((e) => e.type)).toEqual(['request', 'error']);
    expect(events[1]).toMatchObject({ type: 'error', method: 'GET', url: `${base}/x?…` });
  });

  it('builds no event and reads no clock without a listener; with one, a request and a response per send', async () => {
    const now = vi.fn(() => 7);
    const options = { now, fetch: async () => new Response('ok') } as unknown as ResolvedOptions;
    const request = () => new Request(`${base}/x`);
    for (const active of [false, true]) {
      now.mockClear();
      const { emit, emitted } = recordingEmit(active);
      const state: CallState = { auth: true, sends: 0 };
      const send = createTransport(options, emit, state, () => {});
      await send(request(), {}, false);
      await send(request(), {}, true);
      expect(state.sends).toBe(2);
      if (!active) {
        expect(emitted).toEqual([]);
        expect(now).not.toHaveBeenCalled();
      } else {
        expect(emitted.map((e) => e.type)).toEqual(['request', 'response', 'request', 'response']);
        expect(emitted.filter((e) => e.type === 'request').map((e) => [e.attempt, e.authorized])).toEqual([
          [1, false],
          [2, true],
        ]);
        expect(now).toHaveBeenCalledTimes(4);
      }
    }
  });

  it('a throwing onEvent listener never breaks a request', async () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    const client = createApiFetch({
      baseUrl: base,
      fetch: async () => new Response('ok'),
      onEvent: () => {
        throw new Error('listener bug');
      },
    });
    expect(await client.get('x').text()).toBe('ok');
    expect(await client.get('x').text()).toBe('ok');
    expect(spy).toHaveBeenCalledTimes(1);
  });
});

describe('a proxy 407', () => {
  it('answered as a response: a ProxyAuthenticationError with its challenges, never retried', async () => {
    let sent = 0;
    const shouldRetry = vi.fn(() => true);
    const events: ApiFetchEvent[] = [];
    const api = createApiFetch({
      baseUrl: base,
      // Even listed as retryable and with an app policy saying yes, a 407 is not the retry layer's to decide.
      retry: { limit: 3, statusCodes: [407, 503], shouldRetry, baseDelayMs: 0 },
      onEvent: (e) => events.push(e),
      fetch: async () => {
        sent += 1;
        return new Response(null, {
          status: 407,
          headers: { 'proxy-authenticate': 'Basic realm="corp"', 'www-authenticate': 'Bearer' },
        });
      },
    });
    const error = (await api.get('x').catch((e: unknown) => e)) as ProxyAuthenticationError;
    expect(isProxyAuthenticationError(error)).toBe(true);
    expect(error).toMatchObject({ status: 407, code: 'ERR_PROXY_AUTHENTICATION', retryable: false });
    expect(error.challenges).toEqual([{ scheme: 'basic', params: { realm: 'corp' } }]);
    expect(sent).toBe(1);
    expect(shouldRetry).not.toHaveBeenCalled();
    expect(events.filter((e) => e.type === 'response').map((e) => e.status)).toEqual([407]);
    expect(events.filter((e) => e.type === 'retry')).toEqual([]);
  });

  it.each([
    ['tunnel', tunnel407],
    ['plain', plain407],
  ])('thrown by undici (%s): a typed error, sent once despite retries, reported as an error event', async (_, make) => {
    let sent = 0;
    const events: ApiFetchEvent[] = [];
    const api = createApiFetch({
      baseUrl: base,
      retry: { limit: 3 },
      onEvent: (e) => events.push(e),
      fetch: async () => {
        sent += 1;
        throw make();
      },
    });
    const error = await api.get('x').catch((e: unknown) => e);
    expect(isProxyAuthenticationError(error)).toBe(true);
    expect(sent).toBe(1);
    expect(events.filter((e) => e.type === 'request')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'error')).toHaveLength(1);
  });
});

describe('a service worker that answers with a network error (WebKit)', () => {
  it("is ky's NetworkError, retried as one, and reported as an error event", async () => {
    let sent = 0;
    const { api, events } = client(async () => {
      sent += 1;
      if (sent === 1) throw new TypeError('Response served by service worker is an error');
      return new Response('ok');
    });
    expect(await api.get('x').text()).toBe('ok');
    expect(sent).toBe(2);
    expect(events.map((e) => e.type)).toEqual(['request', 'error', 'retry', 'request', 'response']);
    expect(events.find((e) => e.type === 'retry')).toMatchObject({ reason: 'network' });
  });

  it('fails as a NetworkError once retries are spent, what WebKit threw as its cause', async () => {
    const { api } = client(async () => {
      throw new TypeError('Response served by service worker is an error');
    }, 0);
    const error = (await api.get('x').catch((e: unknown) => e)) as Error;
    expect(isNetworkError(error)).toBe(true);
    expect((error.cause as Error).message).toBe('Response served by service worker is an error');
  });

  it('another TypeError (a bug in a custom fetch) is neither a NetworkError nor retried', async () => {
    let sent = 0;
    const { api } = client(async () => {
      sent += 1;
      throw new TypeError('undefined is not a function');
    });
    const error = await api.get('x').catch((e: unknown) => e);
    expect(isNetworkError(error)).toBe(false);
    expect(error).toMatchObject({ name: 'TypeError', message: 'undefined is not a function' });
    expect(sent).toBe(1);
  });
});

describe('which fetch sends', () => {
  it('looks fetch up at send time, so a stub installed after creation is used', async () => {
    const client = createApiFetch({ baseUrl: base });
    const stub = vi.fn(async () => new Response('stubbed'));
    vi.stubGlobal('fetch', stub);
    expect(await client.get('x').text()).toBe('stubbed');
    expect(stub).toHaveBeenCalledTimes(1);
  });

  it("a per-request fetch replaces the client's for that request only", async () => {
    const clientFetch = vi.fn(async () => new Response('client'));
    const callFetch = vi.fn(async () => new Response('call'));
    const api = createApiFetch({ baseUrl: base, fetch: clientFetch });
    expect(await api.get('a', { fetch: callFetch }).text()).toBe('call');
    expect(callFetch).toHaveBeenCalledTimes(1);
    expect(clientFetch).not.toHaveBeenCalled();
    expect(await api.get('b').text()).toBe('client');
    expect(callFetch).toHaveBeenCalledTimes(1);
    expect(clientFetch).toHaveBeenCalledTimes(1);
  });

  it('a per-request fetch goes through the auth layer and never sees internal options', async () => {
    const inits: (RequestInit | undefined)[] = [];
    const seen: (string | null)[] = [];
    const client = createApiFetch({
      baseUrl: base,
      fetch: async () => new Response('the client fetch', { status: 500 }),
      auth: {
        session: createTokenSession({
          tokens: { accessToken: 'stale', refreshToken: 'r' },
          refresh: async () => ({ accessToken: 'good' }),
        }),
      },
    });
    const callFetch = async (request: Request, init?: RequestInit) => {
      inits.push(init);
      const authorization = request.headers.get('authorization');
      seen.push(authorization);
      return authorization === 'Bearer good'
        ? Response.json({ ok: true })
        : new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
    };
    expect(await client.get('x', { fetch: callFetch }).json()).toEqual({ ok: true });
    expect(seen).toEqual(['Bearer stale', 'Bearer good']);
    expect(inits).toHaveLength(2);
    for (const init of inits) expect(Object.keys(init ?? {}).filter((k) => /apifetch|^auth$/.test(k))).toEqual([]);
  });
});
