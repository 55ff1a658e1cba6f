import { HTTPError, isHTTPError } from 'ky';
import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  ForbiddenError,
  InvalidOptionError,
  isForbiddenError,
  isInvalidOptionError,
  isProxyAuthenticationError,
  isRetryAfterTooLongError,
  isUnauthenticatedError,
  ProxyAuthenticationError,
  RetryAfterTooLongError,
  UnauthenticatedError,
} from '../src/index.js';

const request = new Request('https://api.example.test/a?secret=1');
const response = (status: number) => new Response(null, { status });

const made = {
  UnauthenticatedError: new UnauthenticatedError({ response: response(401), request, reason: 'no_refresh' }),
  ForbiddenError: new ForbiddenError({ response: response(403), request, requiredScopes: ['admin:write'] }),
  ProxyAuthenticationError: new ProxyAuthenticationError({
    response: response(407),
    request,
    proxy: 'http://user:pw@proxy.test:3128/',
  }),
  RetryAfterTooLongError: new RetryAfterTooLongError({ response: response(429), request, retryAfterMs: 90_000 }),
  InvalidOptionError: new InvalidOptionError('retry.limit', 'an integer ≥ 0', -1),
};
const guards = {
  UnauthenticatedError: isUnauthenticatedError,
  ForbiddenError: isForbiddenError,
  ProxyAuthenticationError: isProxyAuthenticationError,
  RetryAfterTooLongError: isRetryAfterTooLongError,
  InvalidOptionError: isInvalidOptionError,
};
const codes = {
  UnauthenticatedError: ErrorCode.unauthenticated,
  ForbiddenError: ErrorCode.forbidden,
  ProxyAuthenticationError: ErrorCode.proxyAuthentication,
  RetryAfterTooLongError: ErrorCode.retryAfterTooLong,
  InvalidOptionError: ErrorCode.invalidOption,
};

describe('the error family', () => {
  it.each(Object.keys(made) as (keyof typeof made)[])('%s: literal name, stable code, its guard only', (name) => {
    const error = made[name];
    expect(error.name).toBe(name);
    expect(error.code).toBe(codes[name]);
    for (const [other, guard] of Object.entries(guards)) expect(guard(error), other).toBe(other === name);
  });

  it.each(Object.keys(guards) as (keyof typeof guards)[])(
    '%s guard matches a plain { name } from another bundle or realm, and nothing else',
    (name) => {
      const guard = guards[name];
      expect(guard({ name })).toBe(true);
      expect(guard({ name: 'HTTPError' })).toBe(false);
      expect(guard(new Error(name))).toBe(false);
      expect(guard(null)).toBe(false);
      expect(guard(name)).toBe(false);
    },
  );

  it("the HTTP errors are ky's HTTPError, with status and a redacted request", () => {
    for (const name of [
      'UnauthenticatedError',
      'ForbiddenError',
      'ProxyAuthenticationError',
      'RetryAfterTooLongError',
    ] as const) {
      const error = made[name];
      expect(error).toBeInstanceOf(HTTPError);
      expect(isHTTPError(error)).toBe(true);
      expect(error.request.url).toBe('https://api.example.test/a?…');
      expect(error.message).toContain('GET https://api.example.test/a?…');
    }
    expect(made.ForbiddenError.message).toContain('403 Forbidden: token lacks scope `admin:write`');
    expect(made.ProxyAuthenticationError.proxy).toBe('http://proxy.test:3128/');
    expect(made.RetryAfterTooLongError).toMatchObject({ retryAfterMs: 90_000, retryable: true, status: 429 });
    expect(made.UnauthenticatedError).toMatchObject({ reason: 'no_refresh', sent: true, retryable: false });
  });

  it('a request that was never sent has a local 401 stand-in', () => {
    const error = UnauthenticatedError.notSent(request, 'signed_out');
    expect(error).toMatchObject({ status: 401, sent: false, reason: 'signed_out' });
    expect(error.response.statusText).toBe('Unauthorized (not sent)');
  });

  it('InvalidOptionError names the option and never shows a long value whole', () => {
    const error = new InvalidOptionError('auth.origins[0]', 'an origin', 'x'.repeat(100));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.option).toBe('auth.origins[0]');
    expect(error.message).toBe(`\`auth.origins[0]\` must be an origin, got "${'x'.repeat(40)}…"`);
  });
});
