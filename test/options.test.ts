import { inspect } from 'node:util';
import * as ky from 'ky';
import { describe, expect, it } from 'vitest';
import { createDpop } from '../src/dpop/index.js';
import * as apifetch from '../src/index.js';
import { createApiFetch, createTokenSession, InvalidOptionError } from '../src/index.js';
import { createProxyFetch } from '../src/node/index.js';
import { redisCoordination } from '../src/redis/index.js';

/** A fetch that records what it was given and answers with `status` (200 JSON by default). */
function recorder(status = 200) {
  const seen: { request: Request; init: RequestInit | undefined }[] = [];
  const fetch = async (request: Request, init?: RequestInit) => {
    seen.push({ request, init });
    return new Response(JSON.stringify({ n: seen.length }), {
      status,
      headers: { 'content-type': 'application/json' },
    });
  };
  return { seen, fetch };
}

const refused = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return error as InvalidOptionError;
  }
  throw new Error('not refused');
};

/** Where an option is given: each factory, `extend`, and one request's own options. */
const takers = {
  createApiFetch: (options: unknown) => createApiFetch(options as never),
  extend: (options: unknown) => createApiFetch().extend(options as never),
  request: (options: unknown) =>
    createApiFetch({ fetch: async () => new Response('ok') }).get('https://api.example.test/', options as never),
  createTokenSession: (options: unknown) => createTokenSession(options as never),
  createDpop: (options: unknown) => createDpop(options as never),
  createProxyFetch: (options: unknown) => createProxyFetch(options as never),
  redisCoordination: (options: unknown) => redisCoordination(redisClient, options as never),
  'redisCoordination client': (client: unknown) => redisCoordination(client as never, { key: 'k' }),
};
const getAccessToken = () => 't';
/** Enough of a node-redis client to pass its own check: the options are refused before it is used. */
const redisClient = { eval: async () => null, duplicate: () => ({}) } as never;
const session = createTokenSession({ tokens: { accessToken: 't' } });
const moved = '`auth.session` (createTokenSession takes it)';

describe('every option is validated at creation: a bad value throws InvalidOptionError naming it', () => {
  it.each<[keyof typeof takers, unknown, string, string?]>([
    // createApiFetch
    ['createApiFetch', 5, 'options'],
    ['createApiFetch', null, 'options'],
    ['createApiFetch', { baseUrl: 42 }, 'baseUrl'],
    ['createApiFetch', { baseUrl: 'ftp://x.test' }, 'baseUrl'],
    [
      'createApiFetch',
      { baseUrl: 'http://api.example.test', auth: { getAccessToken } },
      'baseUrl',
      'https: or loopback',
    ],
    ['createApiFetch', { timeout: -1 }, 'timeout'],
    ['createApiFetch', { timeout: 0 }, 'timeout'],
    ['createApiFetch', { timeout: '5s' }, 'timeout'],
    ['createApiFetch', { fetch: 'nope' }, 'fetch'],
    ['createApiFetch', { onUnauthenticated: 1 }, 'onUnauthenticated'],
    ['createApiFetch', { onForbidden: {} }, 'onForbidden'],
    ['createApiFetch', { onEvent: [] }, 'onEvent'],
    ['createApiFetch', { now: 1 }, 'now'],
    ['createApiFetch', { baseURL: 'https://x.test' }, 'baseURL', '`baseUrl`'],
    ['createApiFetch', { prefixUrl: 'https://x.test' }, 'prefixUrl', '`baseUrl`'],
    ['createApiFetch', { onUnauthorized: () => {} }, 'onUnauthorized', 'a known option'],
    // auth
    ['createApiFetch', { auth: 'yes' }, 'auth'],
    ['createApiFetch', { auth: { getAccessToken: 'token' } }, 'auth.getAccessToken'],
    ['createApiFetch', { auth: { getAccessToken, session } }, 'auth.getAccessToken', 'left out when `auth.session`'],
    ['createApiFetch', { auth: { session: {} } }, 'auth.session'],
    ['createApiFetch', { auth: { session: 'eyJ.token' } }, 'auth.session'],
    ['createApiFetch', { auth: { origins: 'https://a.test' } }, 'auth.origins'],
    ['createApiFetch', { auth: { origins: ['not a url'] } }, 'auth.origins[0]'],
    ['createApiFetch', { auth: { origins: ['https://a.test', 'ftp://b.test'] } }, 'auth.origins[1]'],
    [
      'createApiFetch',
      { auth: { getAccessToken, origins: ['https://a.test', 'http://files.example.test'] } },
      'auth.origins[1]',
      '`auth.allowInsecureHttp` allows plain http',
    ],
    ['createApiFetch', { auth: { allowInsecureHttp: 'true' } }, 'auth.allowInsecureHttp'],
    ['createApiFetch', { auth: { dpop: {} } }, 'auth.dpop'],
    ['createApiFetch', { auth: { getToken: getAccessToken } }, 'auth.getToken', 'a known option'],
    ['createApiFetch', { auth: { tokens: { accessToken: 't' } } }, 'auth.tokens', moved],
    ['createApiFetch', { auth: { refresh: async () => ({ accessToken: 't' }) } }, 'auth.refresh', moved],
    ['createApiFetch', { auth: { store: {} } }, 'auth.store', moved],
    ['createApiFetch', { auth: { lock: () => {} } }, 'auth.lock', moved],
    // retry
    ['createApiFetch', { retry: 'twice' }, 'retry'],
    ['createApiFetch', { retry: -1 }, 'retry.limit'],
    ['createApiFetch', { retry: { limit: -1 } }, 'retry.limit'],
    ['createApiFetch', { retry: { limit: 1.5 } }, 'retry.limit', 'an integer ≥ 0'],
    ['createApiFetch', { retry: { baseDelayMs: Number.NaN } }, 'retry.baseDelayMs'],
    ['createApiFetch', { retry: { baseDelayMs: -1 } }, 'retry.baseDelayMs'],
    [
      'createApiFetch',
      { retry: { maxDelayMs: -1 } },
      'retry.maxDelayMs',
      '`retry.maxDelayMs` must be a number ≥ 0, got -1',
    ],
    ['createApiFetch', { retry: { maxRetryAfterMs: -1 } }, 'retry.maxRetryAfterMs'],
    ['createApiFetch', { retry: { deadlineMs: 0 } }, 'retry.deadlineMs'],
    ['createApiFetch', { retry: { onTimeout: 'yes' } }, 'retry.onTimeout'],
    ['createApiFetch', { retry: { idempotencyKey: 1 } }, 'retry.idempotencyKey'],
    ['createApiFetch', { retry: { statusCodes: [999] } }, 'retry.statusCodes'],
    ['createApiFetch', { retry: { statusCodes: [503.5] } }, 'retry.statusCodes'],
    ['createApiFetch', { retry: { statusCodes: '503' } }, 'retry.statusCodes'],
    ['createApiFetch', { retry: { methods: 'GET' } }, 'retry.methods'],
    ['createApiFetch', { retry: { methods: [1] } }, 'retry.methods'],
    ['createApiFetch', { retry: { shouldRetry: true } }, 'retry.shouldRetry'],
    ['createApiFetch', { retry: { random: 4 } }, 'retry.random'],
    ['createApiFetch', { retry: { backoffLimit: 1000 } }, 'retry.backoffLimit', '`retry.maxDelayMs`'],
    ['createApiFetch', { retry: { delay: () => 10 } }, 'retry.delay', '`retry.baseDelayMs`'],
    ['createApiFetch', { retry: { jitter: true } }, 'retry.jitter', '`retry.random`'],
    ['createApiFetch', { retry: { retryOnTimeout: true } }, 'retry.retryOnTimeout', '`retry.onTimeout`'],
    ['createApiFetch', { retry: { afterStatusCodes: [429] } }, 'retry.afterStatusCodes', '`retry.statusCodes`'],
    ['createApiFetch', { retry: { maxRetryAfter: 1000 } }, 'retry.maxRetryAfter', '`retry.maxRetryAfterMs`'],
    // retry.throttle
    ['createApiFetch', { retry: { throttle: 3 } }, 'retry.throttle'],
    ['createApiFetch', { retry: { throttle: { maxTokens: 0 } } }, 'retry.throttle.maxTokens'],
    ['createApiFetch', { retry: { throttle: { tokenRatio: -1 } } }, 'retry.throttle.tokenRatio'],
    ['createApiFetch', { retry: { throttle: { max: 3 } } }, 'retry.throttle.max', 'a known option'],
    // extend and one request take the same options, checked the same way
    ['extend', { baseURL: 'https://x.test' }, 'baseURL', '`baseUrl`'],
    ['extend', { retry: { limit: -1 } }, 'retry.limit'],
    ['request', { retry: { limit: 2.5 } }, 'retry.limit'],
    ['request', { retry: { throttle: { tokenRatio: Number.NaN } } }, 'retry.throttle.tokenRatio'],
    // createTokenSession
    ['createTokenSession', 5, 'createTokenSession(options)'],
    ['createTokenSession', { tokens: 'eyJ.token' }, 'tokens'],
    ['createTokenSession', { tokens: { accessToken: '' } }, 'tokens', '`accessToken`'],
    ['createTokenSession', { tokens: { accessToken: 'a', expiresAt: 'soon' } }, 'tokens', '`expiresAt`'],
    ['createTokenSession', { refresh: 'x' }, 'refresh'],
    ['createTokenSession', { store: {} }, 'store'],
    ['createTokenSession', { store: null }, 'store'],
    ['createTokenSession', { coordination: 'x' }, 'coordination'],
    ['createTokenSession', { coordination: { lock: async () => {} } }, 'coordination'],
    ['createTokenSession', { refreshLeewayMs: -1 }, 'refreshLeewayMs'],
    ['createTokenSession', { refreshTimeoutMs: 0 }, 'refreshTimeoutMs'],
    ['createTokenSession', { refreshRetries: -1 }, 'refreshRetries'],
    ['createTokenSession', { refreshRetries: 1.5 }, 'refreshRetries', 'an integer ≥ 0'],
    ['createTokenSession', { maxRefreshes: 0 }, 'maxRefreshes'],
    ['createTokenSession', { maxRefreshes: 1.5 }, 'maxRefreshes', 'an integer ≥ 1'],
    ['createTokenSession', { refreshWindowMs: 0 }, 'refreshWindowMs'],
    ['createTokenSession', { random: 1 }, 'random'],
    ['createTokenSession', { now: 1 }, 'now'],
    ['createTokenSession', { refreshLeeway: 1 }, 'refreshLeeway', 'a known option (see TokenSessionOptions)'],
    // createDpop
    ['createDpop', 5, 'createDpop(options)'],
    ['createDpop', { key: 'k' }, 'key'],
    ['createDpop', { key: { privateKey: {} } }, 'key'],
    ['createDpop', { store: {} }, 'store'],
    [
      'createDpop',
      { key: { privateKey: {}, publicKey: {} }, store: { getOrCreate: async () => ({}) } },
      'store',
      'left out when `key` is set',
    ],
    ['createDpop', { keys: 1 }, 'keys', 'a known option (see DpopOptions)'],
    // createProxyFetch (apifetch/node)
    ['createProxyFetch', 5, 'createProxyFetch(options)'],
    ['createProxyFetch', null, 'createProxyFetch(options)'],
    ['createProxyFetch', { proxy: 'ftp://proxy.test' }, 'proxy', 'an http: or https: proxy URL'],
    ['createProxyFetch', { proxy: 'not a url' }, 'proxy'],
    ['createProxyFetch', { noProxy: 1 }, 'noProxy'],
    ['createProxyFetch', { noProxy: ['a.test'] }, 'noProxy'],
    ['createProxyFetch', { credentials: { username: 'u' } }, 'credentials', '`credentials` must be a function'],
    ['createProxyFetch', { credentialsTimeoutMs: 0 }, 'credentialsTimeoutMs', 'a number of ms in 1…2147483647'],
    ['createProxyFetch', { credentialsTimeoutMs: 2 ** 31 }, 'credentialsTimeoutMs'],
    ['createProxyFetch', { credentialsTimeoutMs: '30s' }, 'credentialsTimeoutMs'],
    ['createProxyFetch', { credentialsTimeoutMs: null }, 'credentialsTimeoutMs'],
    ['createProxyFetch', { negotiate: 'HTTP@proxy.test' }, 'negotiate', 'an object or false'],
    ['createProxyFetch', { negotiate: null }, 'negotiate'],
    ['createProxyFetch', { negotiate: true }, 'negotiate'],
    ['createProxyFetch', { negotiate: { service: 1 } }, 'negotiate.service'],
    ['createProxyFetch', { negotiate: { token: 'YII...' } }, 'negotiate.token'],
    ['createProxyFetch', { tls: 'x' }, 'tls'],
    ['createProxyFetch', { proxyTls: 1 }, 'proxyTls'],
    ['createProxyFetch', { env: 'HTTPS_PROXY=x' }, 'env'],
    ['createProxyFetch', { proxyUrl: 'http://p.test' }, 'proxyUrl', 'a known option (see CreateProxyFetchOptions)'],
    ['createProxyFetch', { negotiate: { spn: 'HTTP@p' } }, 'negotiate.spn', 'a known option (see NegotiateOptions)'],
    // redisCoordination (apifetch/redis)
    ['redisCoordination client', {}, 'redisCoordination(client)'],
    ['redisCoordination', 5, 'redisCoordination(options)'],
    ['redisCoordination', undefined, 'redisCoordination(options)'],
    ['redisCoordination', {}, 'key', 'a non-empty string'],
    ['redisCoordination', { key: '' }, 'key'],
    ['redisCoordination', { key: 1 }, 'key'],
    ['redisCoordination', { key: 'k', lockTtlMs: 5 }, 'lockTtlMs', 'an integer ≥ 10'],
    ['redisCoordination', { key: 'k', lockTtlMs: 1.5 }, 'lockTtlMs'],
    ['redisCoordination', { key: 'k', lockTtlMs: Number.NaN }, 'lockTtlMs'],
    ['redisCoordination', { key: 'k', lockRetryMs: 0 }, 'lockRetryMs', 'an integer ≥ 1'],
    ['redisCoordination', { key: 'k', lockRetryMs: '20' }, 'lockRetryMs'],
    ['redisCoordination', { key: 'k', subscriber: {} }, 'subscriber'],
    ['redisCoordination', { key: 'k', lockTTL: 100 }, 'lockTTL', 'a known option (see RedisCoordinationOptions)'],
  ])('%s(%j) → `%s`', (taker, options, option, says = `\`${option}\``) => {
    const error = refused(() => takers[taker](options));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error.option).toBe(option);
    expect(error.message).toContain(says);
  });

  it.each([
    ['createTokenSession', { tokens: 'eyJhbGciOi.secret-token' }],
    ['createApiFetch', { auth: { session: 'eyJhbGciOi.secret-token' } }],
    ['createApiFetch', { auth: { getAccessToken: 'eyJhbGciOi.secret-token' } }],
    ['createProxyFetch', 'http://alice:secret-password@proxy.test:3128'],
    ['createProxyFetch', { proxy: 'http://alice:secret-password@proxy.test:99999' }],
    ['createProxyFetch', { proxy: 'socks5://alice:secret-password@proxy.test' }],
    ['createProxyFetch', { credentials: 'alice:secret-password' }],
  ] as const)('%s: a token passed where it does not belong never appears in the error (%j)', (taker, options) => {
    const error = refused(() => takers[taker](options));
    expect(error).toBeInstanceOf(InvalidOptionError);
    // The whole error, as Node prints it and as a logger would serialise it: message, stack, fields, cause.
    expect(inspect(error, { depth: Number.POSITIVE_INFINITY })).not.toContain('secret');
    expect(JSON.stringify(error)).not.toContain('secret');
  });

  it('a key set to undefined is not an option', () => {
    expect(() => createApiFetch({ baseURL: undefined } as never)).not.toThrow();
  });
});

describe("ky's client options are taken and passed on", () => {
  it("hooks: the client's, then extend's, then the call's, for beforeRequest and afterResponse", async () => {
    const order: string[] = [];
    const { fetch } = recorder();
    const hook = (name: string) => () => void order.push(name);
    const api = createApiFetch({
      baseUrl: 'https://api.example.test/',
      fetch,
      hooks: { beforeRequest: [hook('client:before')], afterResponse: [hook('client:after')] },
    });
    const child = api.extend({ hooks: { beforeRequest: [hook('child:before')] } });
    await child.get('a', { hooks: { afterResponse: [hook('call:after')] } }).json();
    expect(order).toEqual(['client:before', 'child:before', 'client:after', 'call:after']);
  });

  it("beforeError hooks get apifetch's typed, redacted error", async () => {
    const { fetch } = recorder(403);
    const seen: unknown[] = [];
    const api = createApiFetch({
      baseUrl: 'https://api.example.test/',
      fetch,
      auth: { getAccessToken: () => 'secret-token' },
      hooks: {
        beforeError: [
          ({ error }) => {
            seen.push(error);
            return error;
          },
        ],
      },
    });
    const error = await api.get('x?token=q').catch((e: unknown) => e);
    expect(seen).toEqual([error]);
    expect((error as Error).name).toBe('ForbiddenError');
    expect((error as Error).message).toContain('https://api.example.test/x?…');
  });

  it('credentials, searchParams, throwHttpErrors and parseJson work client-wide', async () => {
    const { seen, fetch } = recorder(404);
    const api = createApiFetch({
      baseUrl: 'https://api.example.test/',
      fetch,
      credentials: 'include',
      searchParams: { v: '2' },
      throwHttpErrors: false,
      parseJson: (text) => ({ parsed: JSON.parse(text) as unknown }),
    });
    const body = await api.get('items').json();
    expect(body).toEqual({ parsed: { n: 1 } });
    expect(seen[0]?.request.credentials).toBe('include');
    expect(seen[0]?.request.url).toBe('https://api.example.test/items?v=2');
  });
});

describe('baseUrl and the input resolve as URLs do', () => {
  it.each([
    ['https://x.test/v1', 'me', 'https://x.test/me'],
    ['https://x.test/v1', '/me', 'https://x.test/me'],
    ['https://x.test/v1/', 'me', 'https://x.test/v1/me'],
    ['https://x.test/v1/', '/me', 'https://x.test/me'],
  ])('%s + %s → %s', async (baseUrl, input, url) => {
    const { seen, fetch } = recorder();
    await createApiFetch({ baseUrl, fetch }).get(input).json();
    expect(seen[0]?.request.url).toBe(url);
  });
});

describe("ky's errors are re-exported", () => {
  it.each([
    'HTTPError',
    'TimeoutError',
    'NetworkError',
    'KyError',
    'ForceRetryError',
    'SchemaValidationError',
    'isHTTPError',
    'isTimeoutError',
    'isNetworkError',
    'isKyError',
    'isForceRetryError',
  ] as const)("%s is ky's own", (name) => {
    expect((apifetch as Record<string, unknown>)[name]).toBe((ky as Record<string, unknown>)[name]);
  });
});
