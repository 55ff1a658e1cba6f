import { runInNewContext } from 'node:vm';
import { HTTPError, NetworkError, TimeoutError } from 'ky';
import { describe, expect, it, vi } from 'vitest';
import { createApiFetch, createTokenSession, type UnauthenticatedError } from '../../src/index.js';
import {
  ForeignRefreshFailure,
  failureReason,
  isTransientRefreshError,
  RefreshTimeout,
  statusOf,
  thrownOf,
} from '../../src/session/failures.js';

const base = 'https://api.example.test';

describe('which refresh failures are transient', () => {
  it.each([
    ['ky HTTPError 503', true, new HTTPError(new Response(null, { status: 503 }), new Request(base), {} as never)],
    ['ky HTTPError 429', true, new HTTPError(new Response(null, { status: 429 }), new Request(base), {} as never)],
    ['ky HTTPError 400', false, new HTTPError(new Response(null, { status: 400 }), new Request(base), {} as never)],
    ['ky NetworkError', true, new NetworkError(new Request(base))],
    ['ky TimeoutError', true, new TimeoutError(new Request(base))],
    ['fetch network TypeError', true, new TypeError('fetch failed')],
    ['{ status: 500 }', true, Object.assign(new Error('x'), { status: 500 })],
    ['{ status: 408 }', true, Object.assign(new Error('x'), { status: 408 })],
    ['{ status: 400 } invalid_grant', false, Object.assign(new Error('invalid_grant'), { status: 400 })],
    ['{ status: 401 }', false, Object.assign(new Error('x'), { status: 401 })],
    ['a plain Error', false, new Error('refresh token revoked')],
    ['a string', false, 'nope'],
  ])('%s → transient: %s', (_name, transient, error) => {
    expect(isTransientRefreshError(error)).toBe(transient);
  });
});

describe('what a refresh failure is called', () => {
  const httpError = new HTTPError(new Response(null, { status: 503 }), new Request(base), {} as never);
  it.each<[string, number | undefined, string, unknown]>([
    ['{ status: 400 }', 400, 'status 400', { status: 400 }],
    ["ky's HTTPError 503", 503, 'status 503', httpError],
    ['{ response: { status: 502 } }', 502, 'status 502', { response: { status: 502 } }],
    ['a status that is not a number', undefined, 'error', { status: '500' }],
    ['the refresh timeout', undefined, 'timeout', new RefreshTimeout('slow')],
    ['a fetch network TypeError', undefined, 'network', new TypeError('fetch failed')],
    ["ky's NetworkError", undefined, 'network', new NetworkError(new Request(base))],
    ['a bug (TypeError)', undefined, 'TypeError', new TypeError('x is not a function')],
    ['a named Error', undefined, 'OAuthError', Object.assign(new Error('revoked'), { name: 'OAuthError' })],
    ['a string', undefined, 'error', 'nope'],
    ['a foreign { status: 429 }, wrapped', 429, 'status 429', new ForeignRefreshFailure({ status: 429 })],
  ])('%s: status %s, reason %s', (_name, status, reason, error) => {
    expect(statusOf(error)).toBe(status);
    expect(failureReason(error)).toBe(reason);
  });

  it('a foreign failure keeps what was thrown as its cause, and thrownOf unwraps it', () => {
    const thrown = { status: 503, secret: 'not copied' };
    const wrapped = new ForeignRefreshFailure(thrown);
    expect(wrapped).toBeInstanceOf(Error);
    expect(wrapped).toMatchObject({ name: 'ForeignRefreshFailure', status: 503, message: 'refresh failed' });
    expect(wrapped.cause).toBe(thrown);
    expect(thrownOf(wrapped)).toBe(thrown);
    const plain = new Error('x');
    expect(thrownOf(plain)).toBe(plain);
    expect(isTransientRefreshError(wrapped)).toBe(true);
    expect(isTransientRefreshError(new ForeignRefreshFailure('a string'))).toBe(false);
  });
});

describe('a refresh failure is classified by its status, whatever its realm or shape', () => {
  it.each([
    ['a plain { status: 503 } object', () => ({ status: 503 })],
    ['an Error from a vm context', () => runInNewContext('Object.assign(new Error("down"), { status: 503 })')],
    ['a ky-like { response: { status: 502 } }', () => ({ response: { status: 502 } })],
  ])('%s is retried as transient, not a sign-out', async (_, failure) => {
    let calls = 0;
    const onUnauthenticated = vi.fn();
    const client = createApiFetch({
      baseUrl: 'https://api.example.test',
      fetch: async (request) =>
        request.headers.get('authorization') === 'Bearer new'
          ? new Response('{}')
          : new Response('{}', { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }),
      auth: {
        session: createTokenSession({
          tokens: { accessToken: 'old', refreshToken: 'r' },
          refreshRetries: 1,
          random: () => 0,
          refresh: async () => {
            calls += 1;
            if (calls === 1) throw failure();
            return { accessToken: 'new' };
          },
        }),
      },
      onUnauthenticated,
    });
    expect(await client.get('me').json()).toEqual({});
    expect(calls).toBe(2);
    expect(onUnauthenticated).not.toHaveBeenCalled();
  });

  it('a refused refresh from another realm (400) signs out at once, with what was thrown as the cause', async () => {
    const thrown = runInNewContext('Object.assign(new Error("invalid_grant"), { status: 400 })') as object;
    const client = createApiFetch({
      baseUrl: 'https://api.example.test',
      fetch: async () => new Response('{}', { status: 401, headers: { 'www-authenticate': 'Bearer' } }),
      auth: {
        session: createTokenSession({
          tokens: { accessToken: 'old', refreshToken: 'r' },
          refresh: async () => {
            throw thrown;
          },
        }),
      },
    });
    const error = (await client.get('me').catch((e: unknown) => e)) as UnauthenticatedError;
    expect(error.reason).toBe('refresh_failed');
    expect(error.cause).toBe(thrown);
  });
});
