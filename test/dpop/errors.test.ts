import { HTTPError, isHTTPError } from 'ky';
import { describe, expect, it } from 'vitest';
import { DPoPError, isDPoPError } from '../../src/dpop/index.js';
import { isForbiddenError, isUnauthenticatedError, UnauthenticatedError } from '../../src/index.js';

const request = new Request('https://api.example.test/a?secret=1', { headers: { dpop: 'proof.jwt' } });
const response = new Response(null, { status: 401 });

describe('DPoPError', () => {
  it("a literal name, ERR_DPOP, never retryable, ky's HTTPError with a redacted request", () => {
    const error = new DPoPError({ response, request, reason: 'invalid_dpop_proof', alg: 'ES256', algs: [] });
    expect(error).toMatchObject({ name: 'DPoPError', code: 'ERR_DPOP', retryable: false, status: 401 });
    expect(error).toBeInstanceOf(HTTPError);
    expect(isHTTPError(error)).toBe(true);
    expect(error.request.url).toBe('https://api.example.test/a?…');
    expect(error.request.headers.get('dpop')).toBeNull();
    expect(error.message).toBe(
      '401 DPoP invalid_dpop_proof: the server refused the proof: GET https://api.example.test/a?…',
    );
  });

  it('an unsupported algorithm names the key’s algorithm and the ones the server lists', () => {
    const error = new DPoPError({
      response,
      request,
      reason: 'unsupported_algorithm',
      alg: 'ES256',
      algs: ['EdDSA', 'PS256'],
    });
    expect(error).toMatchObject({ reason: 'unsupported_algorithm', alg: 'ES256', algs: ['EdDSA', 'PS256'] });
    expect(error.message).toContain('(ES256); it lists EdDSA, PS256: supply a key of one of these');
  });

  it('isDPoPError: its own errors and a plain { name } from another bundle, nothing else', () => {
    const error = new DPoPError({ response, request, reason: 'use_dpop_nonce', alg: 'ES256', algs: [] });
    expect(isDPoPError(error)).toBe(true);
    expect(isDPoPError({ name: 'DPoPError' })).toBe(true);
    expect(isUnauthenticatedError(error) || isForbiddenError(error)).toBe(false);
    expect(isDPoPError(new UnauthenticatedError({ response, request, reason: 'no_refresh' }))).toBe(false);
    expect(isDPoPError(new Error('DPoPError'))).toBe(false);
    expect(isDPoPError(null)).toBe(false);
    expect(isDPoPError('DPoPError')).toBe(false);
  });
});
