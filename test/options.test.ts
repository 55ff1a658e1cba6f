import * as ky from 'ky';
import { describe, expect, it } from 'vitest';
import * as apifetch from '../src/index.js';
import { createApiFetch, createTokenSession, InvalidOptionError } from '../src/index.js';

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

describe('unknown and misspelled options are refused at creation, by name', () => {
  it.each([
    [{ baseURL: 'https://x.test' }, 'baseURL', '`baseUrl`'],
    [{ prefixUrl: 'https://x.test' }, 'prefixUrl', '`baseUrl`'],
    [{ retry: { backoffLimit: 1000 } }, 'retry.backoffLimit', '`retry.maxDelayMs`'],
    [{ retry: { delay: () => 10 } }, 'retry.delay', '`retry.baseDelayMs`'],
    [{ retry: { jitter: true } }, 'retry.jitter', '`retry.random`'],
    [{ retry: { throttle: { max: 3 } } }, 'retry.throttle.max', 'a known option'],
    [{ onUnauthorized: () => {} }, 'onUnauthorized', 'a known option'],
    [{ auth: { getToken: () => 't' } }, 'auth.getToken', 'a known option'],
    [{ auth: { tokens: { accessToken: 't' } } }, 'auth.tokens', '`auth.session` (createTokenSession takes it)'],
    [{ auth: { lock: () => {} } }, 'auth.lock', '`auth.session` (createTokenSession takes it)'],
  ])('%j → `%s`', (options, option, hint) => {
    const error = refused(() => createApiFetch(options as never));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error.option).toBe(option);
    expect(error.message).toContain(hint);
  });

  it('extend refuses them too, and createTokenSession its own', () => {
    const api = createApiFetch();
    expect(refused(() => api.extend({ baseURL: 'x' } as never)).option).toBe('baseURL');
    expect(refused(() => createTokenSession({ refreshLeeway: 1 } as never)).option).toBe('refreshLeeway');
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
