import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bearerChallenge, type Challenge, dpopChallenge, parseChallenges } from '../src/challenge.js';

const c = (scheme: string, params: Record<string, string> = {}, token68?: string): Challenge =>
  token68 === undefined ? { scheme, params } : { scheme, token68, params };

describe('parseChallenges: RFC examples', () => {
  it.each<[string, string | string[], Challenge[]]>([
    ['RFC 7617 Basic', 'Basic realm="WallyWorld"', [c('basic', { realm: 'WallyWorld' })]],
    [
      'RFC 7617 Basic with charset',
      'Basic realm="foo", charset="UTF-8"',
      [c('basic', { realm: 'foo', charset: 'UTF-8' })],
    ],
    [
      'RFC 9110 several challenges',
      'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
      [c('newauth', { realm: 'apps', type: '1', title: 'Login to "apps"' }), c('basic', { realm: 'simple' })],
    ],
    ['RFC 6750 Bearer', 'Bearer realm="example"', [c('bearer', { realm: 'example' })]],
    [
      'RFC 6750 invalid_token',
      'Bearer realm="example", error="invalid_token", error_description="The access token expired"',
      [c('bearer', { realm: 'example', error: 'invalid_token', error_description: 'The access token expired' })],
    ],
    [
      'RFC 6750 insufficient_scope',
      'Bearer realm="example", error="insufficient_scope", scope="openid profile email"',
      [c('bearer', { realm: 'example', error: 'insufficient_scope', scope: 'openid profile email' })],
    ],
    [
      'RFC 9470 step-up',
      'Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="myACR"',
      [
        c('bearer', {
          error: 'insufficient_user_authentication',
          error_description: 'A different authentication level is required',
          acr_values: 'myACR',
        }),
      ],
    ],
    [
      'RFC 9449 DPoP nonce',
      'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"',
      [c('dpop', { error: 'use_dpop_nonce', error_description: 'Resource server requires nonce in DPoP proof' })],
    ],
    ['RFC 9449 DPoP and Bearer', 'Bearer, DPoP algs="ES256 PS256"', [c('bearer'), c('dpop', { algs: 'ES256 PS256' })]],
    [
      'RFC 7616 Digest',
      'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
      [
        c('digest', {
          realm: 'http-auth@example.org',
          qop: 'auth, auth-int',
          algorithm: 'SHA-256',
          nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
          opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
        }),
      ],
    ],
    ['RFC 4559 Negotiate', 'Negotiate', [c('negotiate')]],
    [
      'RFC 4559 Negotiate token68',
      'Negotiate YIIB+wYJKoZIhvcSAQICAQBuggHqMIIB5qADAgEFoQMCAQ6iBwMFACAAAACjggEKYYIB==',
      [c('negotiate', {}, 'YIIB+wYJKoZIhvcSAQICAQBuggHqMIIB5qADAgEFoQMCAQ6iBwMFACAAAACjggEKYYIB==')],
    ],
  ])('%s', (_name, input, expected) => {
    expect(parseChallenges(input)).toEqual(expected);
  });
});

describe('parseChallenges: edge cases', () => {
  it.each<[string, string | string[], Challenge[]]>([
    ['quoted comma and equals', 'Basic realm="a, b=c", x=y', [c('basic', { realm: 'a, b=c', x: 'y' })]],
    ['escaped quote and backslash', 'X a="q\\"\\\\z"', [c('x', { a: 'q"\\z' })]],
    ['empty quoted string', 'X a=""', [c('x', { a: '' })]],
    ['tabs and BWS around =', 'X\ta \t=\t"v" ,\tb= w', [c('x', { a: 'v', b: 'w' })]],
    ['case variants', 'BEARER REALM="R", Error=invalid_token', [c('bearer', { realm: 'R', error: 'invalid_token' })]],
    ['empty list elements', ' , ,Basic realm="a" , , , Bearer ,', [c('basic', { realm: 'a' }), c('bearer')]],
    [
      'several fields',
      ['Basic realm="a"', 'Bearer error="invalid_token"'],
      [c('basic', { realm: 'a' }), c('bearer', { error: 'invalid_token' })],
    ],
    ['duplicate names: first wins', 'X a=1, A=2, b=3', [c('x', { a: '1', b: '3' })]],
    ['unknown scheme without params', 'Foo, Bar baz=1', [c('foo'), c('bar', { baz: '1' })]],
    [
      'token68 then another challenge',
      'Negotiate abc==, Basic realm="r"',
      [c('negotiate', {}, 'abc=='), c('basic', { realm: 'r' })],
    ],
    ['a __proto__ parameter is a plain key', 'X __proto__=1', [c('x', { ['__proto__']: '1' })]],
    [
      'garbage after a good challenge keeps the good one',
      'Basic realm="a", Bearer realm="unterminated',
      [c('basic', { realm: 'a' })],
    ],
    ['a lone `name=` is token68 by the grammar', 'Bearer realm=, Basic', [c('bearer', {}, 'realm='), c('basic')]],
    ['missing value after a parameter', 'Basic realm="a", Bearer a="x", b=, Basic', [c('basic', { realm: 'a' })]],
    ['no space after scheme', 'Bearer"x"', []],
    ['empty', '', []],
    ['only commas', ',,, ,', []],
    ['control char in quoted string', 'X a="b\u0001c"', []],
  ])('%s', (_name, input, expected) => {
    expect(parseChallenges(input)).toEqual(expected);
  });

  it('reads Headers and Response, and the proxy header when asked', () => {
    const headers = new Headers();
    headers.append('www-authenticate', 'Basic realm="a"');
    headers.append('www-authenticate', 'Bearer');
    headers.set('proxy-authenticate', 'Basic realm="proxy"');
    expect(parseChallenges(headers)).toEqual([c('basic', { realm: 'a' }), c('bearer')]);
    const response = new Response(null, { status: 407, headers });
    expect(parseChallenges(response, { header: 'proxy-authenticate' })).toEqual([c('basic', { realm: 'proxy' })]);
    expect(parseChallenges(new Headers())).toEqual([]);
  });
});

describe('interpretation', () => {
  it('bearerChallenge finds Bearer in any position and reads scopes and step-up', () => {
    const challenges = parseChallenges(
      'Basic realm="x", bearer realm="api", error="insufficient_user_authentication", acr_values="urn:a urn:b", max_age=300, scope="read  write"',
    );
    expect(bearerChallenge(challenges)).toEqual({
      realm: 'api',
      error: 'insufficient_user_authentication',
      scope: ['read', 'write'],
      acrValues: ['urn:a', 'urn:b'],
      maxAge: 300,
    });
    expect(bearerChallenge(parseChallenges('Basic realm="x"'))).toBeUndefined();
    expect(bearerChallenge(parseChallenges('Bearer max_age=-1'))).toEqual({ scope: [] });
  });

  it('dpopChallenge reads algs and errors', () => {
    expect(dpopChallenge(parseChallenges('Bearer, DPoP algs="ES256 PS256", error="use_dpop_nonce"'))).toEqual({
      algs: ['ES256', 'PS256'],
      error: 'use_dpop_nonce',
    });
    expect(dpopChallenge(parseChallenges('Bearer'))).toBeUndefined();
  });
});

const tokenArb = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const isCtl = (ch: string) => {
  const code = ch.charCodeAt(0);
  return (code < 0x20 && code !== 0x09) || code === 0x7f;
};
const valueArb = fc.string({ maxLength: 20 }).map((s) => [...s].filter((ch) => !isCtl(ch)).join(''));
const challengeArb = fc.record({
  scheme: tokenArb,
  params: fc.uniqueArray(fc.tuple(tokenArb, valueArb), { maxLength: 4, selector: ([k]) => k.toLowerCase() }),
});

function serialize(list: { scheme: string; params: [string, string][] }[]): string {
  return list
    .map(({ scheme, params }) => {
      const body = params.map(([k, v]) => `${k}="${v.replace(/["\\]/g, (m) => `\\${m}`)}"`).join(', ');
      return body ? `${scheme} ${body}` : scheme;
    })
    .join(', ');
}

describe('properties', () => {
  it('any string parses without throwing into well-formed challenges', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: 'binary' }), (input) => {
        for (const ch of parseChallenges(input)) {
          expect(ch.scheme).toMatch(/^[a-z0-9!#$%&'*+.^_`|~-]+$/);
          expect(typeof ch.params).toBe('object');
          for (const v of Object.values(ch.params)) expect(typeof v).toBe('string');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('hostile strings built from the grammar characters never throw', () => {
    const piece = fc.constantFrom(',', '=', '"', '\\', ' ', '\t', 'a', 'Bearer ', 'x=', '"q"', '==');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 300 }), (pieces) => {
        expect(Array.isArray(parseChallenges(pieces.join('')))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('round trip: serialised challenge lists parse back equal', () => {
    fc.assert(
      fc.property(fc.array(challengeArb, { maxLength: 5 }), (list) => {
        const expected = list.map(({ scheme, params }) => ({
          scheme: scheme.toLowerCase(),
          params: Object.fromEntries(params.map(([k, v]) => [k.toLowerCase(), v])),
        }));
        expect(parseChallenges(serialize(list))).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('a syntax error drops the challenge it is in, never keeping it half-parsed', () => {
    const broken = fc.constantFrom('Broken a="unterminated', 'Broken a=1, b=', 'Broken a=1 b=2', 'Broken a="\u0001"');
    fc.assert(
      fc.property(fc.array(challengeArb, { maxLength: 4 }), broken, (list, tail) => {
        const valid = serialize(list);
        const expected = parseChallenges(valid);
        expect(parseChallenges(valid ? `${valid}, ${tail}, Basic realm="after"` : tail)).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});
