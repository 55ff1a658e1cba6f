import { errors as undiciErrors } from 'undici';
import { describe, expect, it } from 'vitest';
import { ProxyAuthenticationError } from '../src/errors.js';
import { proxyAuthenticationFromError, proxyAuthenticationFromResponse } from '../src/proxy-error.js';
import { plain407, tunnel407 } from './helpers/undici-407.js';

const request = new Request('https://api.example.test/orders?id=1');

describe('proxyAuthenticationFromError', () => {
  it.each([
    ['a CONNECT tunnel (RequestAbortedError)', tunnel407],
    ['a plain proxied request (InvalidArgumentError)', plain407],
  ])('recognises undici 407 for %s inside `fetch failed`', (_, make) => {
    const thrown = make();
    const error = proxyAuthenticationFromError(thrown, request);
    expect(error).toBeInstanceOf(ProxyAuthenticationError);
    expect(error).toMatchObject({
      name: 'ProxyAuthenticationError',
      code: 'ERR_PROXY_AUTHENTICATION',
      status: 407,
      retryable: false,
      challenges: [],
    });
    expect(error?.cause).toBe(thrown);
    // undici hides the real answer: the response is a local 407 without headers.
    expect(error?.response.status).toBe(407);
    expect(error?.response.headers.get('proxy-authenticate')).toBeNull();
    // The error keeps a redacted copy of the request: method and path, never the query.
    expect(error?.request.method).toBe('GET');
    expect(error?.request.url).toBe('https://api.example.test/orders?…');
  });

  it('recognises the 407 deeper in the cause chain, and bare (unwrapped)', () => {
    const wrapped = new Error('outer', { cause: new Error('middle', { cause: tunnel407() }) });
    expect(proxyAuthenticationFromError(wrapped, request)?.status).toBe(407);
    expect(proxyAuthenticationFromError(plain407().cause, request)?.status).toBe(407);
  });

  it('recognises an error from another realm by its message (no instanceof)', () => {
    const foreign = { name: 'TypeError', message: 'fetch failed', cause: { message: 'Proxy response (407) !== 200' } };
    expect(proxyAuthenticationFromError(foreign, request)?.status).toBe(407);
  });

  it('passes an already typed error through unchanged, even nested', () => {
    const typed = new ProxyAuthenticationError({
      response: new Response(null, { status: 407 }),
      request,
      challenges: [{ scheme: 'basic', params: { realm: 'corp' } }],
      proxy: 'http://proxy.example.test:3128/',
    });
    expect(proxyAuthenticationFromError(typed, request)).toBe(typed);
    expect(proxyAuthenticationFromError(new Error('wrapped', { cause: typed }), request)).toBe(typed);
  });

  it.each([
    [
      'a refused connection',
      new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      }),
    ],
    [
      'another UND_ERR_INVALID_ARG',
      new TypeError('fetch failed', { cause: new undiciErrors.InvalidArgumentError('invalid onRequestStart method') }),
    ],
    [
      'another tunnel status',
      new TypeError('fetch failed', {
        cause: new undiciErrors.RequestAbortedError('Proxy response (502) !== 200 when HTTP Tunneling'),
      }),
    ],
    ['a user abort', new DOMException('This operation was aborted', 'AbortError')],
    ['a string', 'Proxy response (407)'],
    ['null', null],
    ['undefined', undefined],
  ])('leaves %s alone', (_, thrown) => {
    expect(proxyAuthenticationFromError(thrown, request)).toBeUndefined();
  });

  it('stops on a cyclic cause chain, and past a bounded depth', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(proxyAuthenticationFromError(a, request)).toBeUndefined();

    let deep: Error = tunnel407();
    for (let i = 0; i < 20; i++) deep = new Error(`wrap ${i}`, { cause: deep });
    expect(proxyAuthenticationFromError(deep, request)).toBeUndefined();
  });
});

describe('proxyAuthenticationFromResponse', () => {
  it('reads the challenges from Proxy-Authenticate only', () => {
    const headers = new Headers();
    headers.append('proxy-authenticate', 'Basic realm="corp proxy", charset="UTF-8"');
    headers.append('proxy-authenticate', 'Negotiate');
    headers.append('www-authenticate', 'Bearer realm="api"');
    const response = new Response('denied', { status: 407, headers });
    const error = proxyAuthenticationFromResponse(response, request);
    expect(error).toMatchObject({ name: 'ProxyAuthenticationError', status: 407, retryable: false });
    // A bodiless copy of the answer: status and headers.
    expect(error.response.status).toBe(407);
    expect(error.response.headers.get('proxy-authenticate')).toBe(response.headers.get('proxy-authenticate'));
    expect(error.challenges).toEqual([
      { scheme: 'basic', params: { realm: 'corp proxy', charset: 'UTF-8' } },
      { scheme: 'negotiate', params: {} },
    ]);
    expect(error.message).toContain('407');
  });

  it('no Proxy-Authenticate: no challenges', () => {
    const error = proxyAuthenticationFromResponse(new Response(null, { status: 407 }), request);
    expect(error.challenges).toEqual([]);
  });
});
