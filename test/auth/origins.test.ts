import { describe, expect, it } from 'vitest';
import { createOriginPolicy, toOrigin } from '../../src/auth/origins.js';
import { InvalidOptionError } from '../../src/errors.js';

describe('origin allowlist', () => {
  const policy = createOriginPolicy(['https://api.example.test', 'http://127.0.0.1:8080', 'http://plain.test'], false);

  it.each([
    ['https://api.example.test/v1/me', true],
    ['https://api.example.test:443/x', true],
    ['https://API.EXAMPLE.TEST/x', true],
    ['https://api.example.test:8443/x', false],
    ['http://api.example.test/x', false],
    ['https://evil.api.example.test/x', false],
    ['https://api.example.test.evil.test/x', false],
    ['https://user:pw@api.example.test/x', true],
    ['http://127.0.0.1:8080/x', true],
    ['http://127.0.0.1:8081/x', false],
    ['http://plain.test/x', false],
    ['not a url', false],
  ])('%s → %s', (url, expected) => {
    expect(policy(url)).toBe(expected);
  });

  it('allows plain http to a listed non-loopback host only with allowInsecureHttp', () => {
    expect(createOriginPolicy(['http://plain.test'], true)('http://plain.test/x')).toBe(true);
  });

  it.each(['http://localhost:3000', 'http://[::1]:3000', 'http://127.1.2.3'])('treats %s as loopback', (origin) => {
    expect(createOriginPolicy([origin], false)(`${origin}/x`)).toBe(true);
  });

  it('normalises configured origins and rejects bad ones by name', () => {
    expect(toOrigin('https://api.example.test/v1/?q', 'auth.origins[0]')).toBe('https://api.example.test');
    expect(() => toOrigin('ftp://x.test', 'auth.origins[0]')).toThrow(InvalidOptionError);
    expect(() => toOrigin('nope', 'auth.origins[1]')).toThrow('`auth.origins[1]`');
  });
});
