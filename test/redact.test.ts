import { inspect } from 'node:util';
import ky, { isHTTPError } from 'ky';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiFetchEvent, createApiFetch, createTokenSession } from '../src/index.js';
import { redactError, redactUrl } from '../src/redact.js';
import { json, startServer, type TestServer } from './helpers/server.js';

const accessToken = 'AT-SECRET-7f3a';
const refreshToken = 'RT-SECRET-91bc';
const proxySecret = 'PROXY-SECRET-55aa';
const query = 'q=QUERY-SECRET-12ef';
const secrets = [accessToken, refreshToken, proxySecret, 'QUERY-SECRET'];

/** Everything a person (or a log shipper) could get out of a value. */
function everyRendering(value: unknown): string {
  const parts = [inspect(value, { depth: Number.POSITIVE_INFINITY })];
  try {
    parts.push(JSON.stringify(value) ?? '');
  } catch {
    // A cyclic value: inspect has it.
  }
  if (value instanceof Error) parts.push(String(value), value.stack ?? '', value.message);
  return parts.join('\n');
}

function expectNoSecret(value: unknown, what: string) {
  const text = everyRendering(value);
  for (const secret of secrets) {
    expect(text.includes(secret), `${what} shows ${secret}:\n${text.slice(0, 4000)}`).toBe(false);
  }
  expect(text, `${what} shows an encoded ellipsis`).not.toContain('%E2%80%A6');
}

let api: TestServer;
let closedOrigin: string;

beforeAll(async () => {
  api = await startServer();
  const closed = await startServer();
  closedOrigin = closed.origin;
  await closed.close();
});
afterAll(() => api.close());

const route: Record<string, (res: Parameters<Parameters<TestServer['handle']>[0]>[1]) => void> = {
  '/401': (res) => json(res, 401, { title: 'no' }, { 'www-authenticate': 'Bearer error="invalid_token"' }),
  '/403': (res) =>
    json(res, 403, { title: 'no' }, { 'www-authenticate': 'Bearer error="insufficient_scope", scope="admin"' }),
  '/404': (res) => json(res, 404, { title: 'gone' }),
  '/500': (res) => json(res, 500, { title: 'boom' }),
  '/429': (res) => json(res, 429, {}, { 'retry-after': '3600' }),
  '/token': (res) => json(res, 400, { error: 'invalid_grant' }),
  '/hang': () => {},
};

/** A client whose every way of failing is reached with a token, a refresh token, proxy credentials and a query. */
function failingClient(events: ApiFetchEvent[], callbacks: unknown[]) {
  return createApiFetch({
    baseUrl: api.origin,
    headers: { 'proxy-authorization': `Basic ${proxySecret}` },
    timeout: 2000,
    retry: { limit: 1, random: () => 0, maxRetryAfterMs: 1000 },
    auth: {
      session: createTokenSession({
        tokens: { accessToken, refreshToken },
        // The token endpoint is called with ky, whose HTTPError keeps the refresh token in its options' body.
        refresh: async ({ tokens }) =>
          ky.post(`${api.origin}/token?${query}`, { json: { refresh_token: tokens?.refreshToken }, retry: 0 }).json(),
      }),
    },
    onEvent: (event) => events.push(event),
    onUnauthenticated: (error) => callbacks.push(error),
    onForbidden: (error) => callbacks.push(error),
  });
}

describe('the token is never exposed', () => {
  it('walks every error class and event type: no token, refresh token, proxy credential or query anywhere', async () => {
    api.handle((req, res) => {
      const answer = route[req.url.split('?')[0] ?? ''];
      if (answer) answer(res);
      else json(res, 200, { ok: true });
    });
    const events: ApiFetchEvent[] = [];
    const callbacks: unknown[] = [];
    const client = failingClient(events, callbacks);
    const errors = new Map<string, unknown>();
    const fail = async (name: string, run: () => Promise<unknown>) => {
      errors.set(
        name,
        await run().then(
          () => undefined,
          (error: unknown) => error,
        ),
      );
    };
    await fail('403 ForbiddenError', () => client.get(`403?${query}`).json());
    await fail('404 HTTPError', () => client.get(`404?${query}`).json());
    await fail('500 HTTPError (after a retry)', () => client.get(`500?${query}`).json());
    await fail('429 RetryAfterTooLongError', () => client.get(`429?${query}`).json());
    // Node's fetch turns a 407 into a network error (the Fetch standard leaves proxies to the browser); a custom
    // fetch (a service worker, apifetch/node) hands the 407 on.
    const proxyAnswer = async () =>
      new Response(null, { status: 407, headers: { 'proxy-authenticate': 'Basic realm="proxy"' } });
    await fail('407 ProxyAuthenticationError', () => client.get(`407?${query}`, { fetch: proxyAnswer }).json());
    await fail('TimeoutError', () => client.get(`hang?${query}`, { timeout: 50, retry: 0 }).json());
    await fail('NetworkError', () => client.get(`${closedOrigin}/x?${query}`, { retry: 0 }).json());
    await fail('401 UnauthenticatedError refresh_failed', () => client.get(`401?${query}`).json());
    await fail('401 UnauthenticatedError signed_out', () => client.get(`401?${query}`).json());

    const names = Object.fromEntries([...errors].map(([what, error]) => [what, (error as Error)?.name]));
    expect(names).toEqual({
      '403 ForbiddenError': 'ForbiddenError',
      '404 HTTPError': 'HTTPError',
      '500 HTTPError (after a retry)': 'HTTPError',
      '429 RetryAfterTooLongError': 'RetryAfterTooLongError',
      '407 ProxyAuthenticationError': 'ProxyAuthenticationError',
      TimeoutError: 'TimeoutError',
      NetworkError: 'NetworkError',
      '401 UnauthenticatedError refresh_failed': 'UnauthenticatedError',
      '401 UnauthenticatedError signed_out': 'UnauthenticatedError',
    });
    // The refresh failure keeps its cause: ky's HTTPError from the token endpoint, itself redacted.
    const refreshFailed = errors.get('401 UnauthenticatedError refresh_failed') as Error;
    expect(isHTTPError(refreshFailed.cause)).toBe(true);
    for (const [what, error] of errors) expectNoSecret(error, what);

    // Messages still say where the request went, with a real ellipsis for the query.
    expect((errors.get('404 HTTPError') as Error).message).toContain(`${api.origin}/404?…`);
    expect((errors.get('TimeoutError') as Error).message).toContain(`${api.origin}/hang?…`);

    const types = new Set(events.map((event) => event.type));
    for (const type of [
      'request',
      'response',
      'error',
      'retry',
      'refresh:start',
      'refresh:failure',
      'unauthenticated',
    ]) {
      expect(types.has(type as ApiFetchEvent['type']), type).toBe(true);
    }
    types.add('forbidden');
    expect(events.some((event) => event.type === 'forbidden')).toBe(true);
    expectNoSecret(events, 'events');
    expect(callbacks).toHaveLength(2);
    expectNoSecret(callbacks, 'onUnauthenticated / onForbidden arguments');
  });

  it('the request an error keeps never held the token; the server did get it', async () => {
    api.handle((_req, res) => json(res, 404, {}));
    const client = createApiFetch({ baseUrl: api.origin, auth: { getAccessToken: () => accessToken } });
    const error = (await client.get(`x?${query}`).catch((e: unknown) => e)) as { request: Request; options: object };
    expect(api.seen.at(-1)?.headers.authorization).toBe(`Bearer ${accessToken}`);
    expect(error.request.headers.get('authorization')).toBeNull();
    expect(error.request.url).toBe(`${api.origin}/x?…`);
    expectNoSecret(error.options, 'error.options');
  });

  it('an error thrown unhandled prints nothing secret (what Node prints is inspect of the error)', async () => {
    api.handle((_req, res) => json(res, 500, {}));
    const client = createApiFetch({ baseUrl: api.origin, retry: 0, auth: { getAccessToken: () => accessToken } });
    const error = await client.get(`x?${query}`).catch((e: unknown) => e);
    expectNoSecret(error, 'unhandled HTTPError');
    expect(inspect(error)).toContain('HTTPError');
  });

  it('redactUrl drops userinfo, fragment and query, showing a real ellipsis', () => {
    expect(redactUrl('https://user:pw@api.example.test/a/b?token=x#frag')).toBe('https://api.example.test/a/b?…');
    expect(redactUrl('https://api.example.test/a')).toBe('https://api.example.test/a');
    expect(redactUrl('/relative/path?x=1')).toBe('/relative/path?…');
  });

  it('redactError walks the cause chain and ends a cyclic one', () => {
    const inner = new Error(`connect to https://x.test/a?${query} failed`);
    const outer = new Error('outer', { cause: inner });
    (inner as { cause?: unknown }).cause = outer;
    redactError(outer);
    expect(inner.message).toBe('connect to https://x.test/a?… failed');
    expectNoSecret(outer, 'cyclic chain');
  });
});
