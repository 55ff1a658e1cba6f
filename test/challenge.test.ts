import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bearerChallenge, type Challenge, dpopChallenge, parseChallenges } from '../src/challenge.js';

const c = (scheme: string, params: Record<string, string> = {}, token68?: string): Challenge =>
  token68 === undefined ? { scheme, params } : { scheme, token68, params };

const digest = {
  realm: 'http-auth@example.org',
  qop: 'auth, auth-int',
  algorithm: 'SHA-256',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
};

describe('parseChallenges: RFC examples', () => {
  it.each<[string, string | string[], Challenge[]]>([
    ['RFC 7617 Basic', 'Basic realm="WallyWorld"', [c('basic', { realm: 'WallyWorld' })]],
    [
      'RFC 7617 Basic with charset',
      'Basic realm="foo", charset="UTF-8"',
      [c('basic', { realm: 'foo', charset: 'UTF-8' })],
    ],
    [
      'RFC 9110 §11.6.1 and RFC 7235 §4.1 several challenges',
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
      'RFC 7616 §3.9.1 two Digest challenges in one field',
      'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", userhash=true',
      [c('digest', digest), c('digest', { ...digest, algorithm: 'MD5', userhash: 'true' })],
    ],
    [
      'RFC 9470 max_age',
      'Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="5"',
      [
        c('bearer', {
          error: 'insufficient_user_authentication',
          error_description: 'More recent authentication is required',
          max_age: '5',
        }),
      ],
    ],
    [
      'RFC 9449 §7.1 invalid DPoP key binding',
      'DPoP error="invalid_token", error_description="Invalid DPoP key binding", algs="ES256"',
      [c('dpop', { error: 'invalid_token', error_description: 'Invalid DPoP key binding', algs: 'ES256' })],
    ],
    ['RFC 4559 Negotiate', 'Negotiate', [c('negotiate')]],
    [
      'RFC 4559 Negotiate hex token',
      'Negotiate a87421000492aa874209af8bc028',
      [c('negotiate', {}, 'a87421000492aa874209af8bc028')],
    ],
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
    // RFC 9110 §5.6.1.2: recipients accept empty list elements anywhere, between a scheme and its first param too
    // (cases after OkHttp's HeadersChallengesTest).
    ['empty elements after a scheme', 'Digest,,, Basic ,,realm="x"', [c('digest'), c('basic', { realm: 'x' })]],
    [
      'empty elements before the first param',
      'Basic , , realm=x, charset="UTF-8"',
      [c('basic', { realm: 'x', charset: 'UTF-8' })],
    ],
    ['a scheme without a space, then the next', 'Digest,Basic realm=x', [c('digest'), c('basic', { realm: 'x' })]],
    ['empty elements, then a scheme', 'Basic ,, Digest realm=x', [c('basic'), c('digest', { realm: 'x' })]],
    [
      'empty elements between params',
      'Digest realm="a",,, nonce="n" ,, Basic',
      [c('digest', { realm: 'a', nonce: 'n' }), c('basic')],
    ],
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
    ['obs-text in a quoted string', 'X a="caf\u00e9"', [c('x', { a: 'caf\u00e9' })]],
    ['lonely scheme with trailing space', 'Basic   ', [c('basic')]],
    [
      'empty elements inside the parameter list',
      'Bearer realm="a" , , error=x',
      [c('bearer', { realm: 'a', error: 'x' })],
    ],
    ['token68 with / + and trailing space', 'Negotiate a/b+c== ', [c('negotiate', {}, 'a/b+c==')]],
    ['escaped backslash at the end of a value', 'X a="b\\\\", Y', [c('x', { a: 'b\\' }), c('y')]],
    ['a backslash escaping the closing quote leaves it open', 'Basic, X a="b\\"', [c('basic')]],
    ['unknown scheme with odd characters', "X-Custom!#$%&'*+.^_`|~ k=v", [c("x-custom!#$%&'*+.^_`|~", { k: 'v' })]],
    ['garbage right after a quoted value drops that challenge', 'Basic, Bearer realm="a"junk', [c('basic')]],
    ['a parameter without a scheme', 'realm="a"', []],
    ['only a quote', '"', []],
    ['only equals signs', '==', []],
    ['non-ASCII scheme', 'Bäsic realm="a"', []],
    ['a token68 followed by more text is not a token68', 'Negotiate abc== def', []],
    ['a broken field does not hide the next field', ['Basic realm="open', 'Bearer'], [c('bearer')]],
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

  it('reads a Response-like object from another fetch implementation', () => {
    const foreign = { headers: new Headers({ 'WWW-Authenticate': 'DPoP algs="ES256"' }) } as unknown as Response;
    expect(parseChallenges(foreign)).toEqual([c('dpop', { algs: 'ES256' })]);
  });

  it('repeated Headers fields arrive joined, so a syntax error ends the whole list', () => {
    const headers = new Headers();
    headers.append('www-authenticate', 'Basic realm="open');
    headers.append('www-authenticate', 'Bearer');
    expect(parseChallenges(headers)).toEqual([]);
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

  it('dpopChallenge reads realm, scope, error_description and error_uri, and omits what is absent', () => {
    const dpop = dpopChallenge(
      parseChallenges(
        'Basic realm="b", dpop realm="api", scope="read write", algs="ES256", error="invalid_dpop_proof", error_description="bad", error_uri="https://e.test/e"',
      ),
    );
    expect(dpop).toStrictEqual({
      realm: 'api',
      error: 'invalid_dpop_proof',
      errorDescription: 'bad',
      errorUri: 'https://e.test/e',
      algs: ['ES256'],
      scope: ['read', 'write'],
    });
    expect(Object.keys(dpopChallenge(parseChallenges('DPoP')) ?? {})).toEqual(['algs']);
  });

  it('bearerChallenge reads error_uri and RFC 9470 max_age, and drops a max_age that is not an integer', () => {
    expect(
      bearerChallenge(
        parseChallenges(
          'Bearer error="insufficient_user_authentication", error_uri="https://e.test", max_age="5", acr_values="phr"',
        ),
      ),
    ).toStrictEqual({
      error: 'insufficient_user_authentication',
      errorUri: 'https://e.test',
      scope: [],
      acrValues: ['phr'],
      maxAge: 5,
    });
    expect(bearerChallenge(parseChallenges('Bearer max_age="5.5"'))).toStrictEqual({ scope: [] });
    expect(bearerChallenge(parseChallenges('Bearer max_age=abc'))).toStrictEqual({ scope: [] });
    expect(Object.keys(bearerChallenge(parseChallenges('Bearer')) ?? {})).toEqual(['scope']);
  });
});

const tokenArb = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const token68Arb = fc.stringMatching(/^[A-Za-z0-9._~+/-]{1,16}={0,2}$/);
const isCtl = (ch: string) => {
  const code = ch.charCodeAt(0);
  return (code < 0x20 && code !== 0x09) || code === 0x7f;
};
const valueArb = fc.string({ maxLength: 20 }).map((s) => [...s].filter((ch) => !isCtl(ch)).join(''));

/** A challenge as a generator sees it: original case, parameters in order, and how to write each piece. */
interface Spec {
  scheme: string;
  token68?: string;
  params: readonly (readonly [name: string, value: string, quoted: boolean])[];
  space: string;
  eq: string;
}
const challengeArb: fc.Arbitrary<Spec> = fc.oneof(
  fc.record({
    scheme: tokenArb,
    params: fc.uniqueArray(fc.tuple(tokenArb, valueArb, fc.boolean()), {
      maxLength: 4,
      selector: ([k]) => k.toLowerCase(),
    }),
    space: fc.constantFrom(' ', '  '),
    eq: fc.constantFrom('=', ' = ', '\t=\t'),
  }),
  fc.record({
    scheme: tokenArb,
    token68: token68Arb,
    params: fc.constant([]),
    space: fc.constantFrom(' ', '   '),
    eq: fc.constant('='),
  }),
);
const separatorArb = fc.constantFrom(', ', ',', ' , , ', '\t,\t', ',,');

const isToken = (v: string) => /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(v);
const quote = (v: string) => `"${v.replace(/["\\]/g, (m) => `\\${m}`)}"`;

/** Writes a header and records where each quoted value's inside lies, so tests can cut inside one. */
function serialize(list: Spec[], separators: string[] = []) {
  let text = '';
  const quotedSpans: { challenge: number; from: number; to: number }[] = [];
  list.forEach((spec, index) => {
    if (index > 0) text += separators[index % Math.max(separators.length, 1)] ?? ', ';
    text += spec.scheme;
    if (spec.token68 !== undefined) text += spec.space + spec.token68;
    spec.params.forEach(([name, value, quoted], p) => {
      text += `${p === 0 ? spec.space : ', '}${name}${spec.eq}`;
      if (quoted || !isToken(value)) {
        quotedSpans.push({ challenge: index, from: text.length + 1, to: text.length + quote(value).length - 1 });
        text += quote(value);
      } else text += value;
    });
  });
  return { text, quotedSpans };
}

const expectedOf = (list: Spec[]): Challenge[] =>
  list.map((spec) =>
    c(spec.scheme.toLowerCase(), Object.fromEntries(spec.params.map(([k, v]) => [k.toLowerCase(), v])), spec.token68),
  );

function expectWellFormed(challenges: Challenge[]) {
  for (const ch of challenges) {
    expect(ch.scheme).toMatch(/^[a-z0-9!#$%&'*+.^_`|~-]+$/);
    expect(Object.getPrototypeOf(ch.params)).toBe(Object.prototype);
    for (const [name, value] of Object.entries(ch.params)) {
      expect(name).toMatch(/^[a-z0-9!#$%&'*+.^_`|~-]+$/);
      expect(typeof value).toBe('string');
    }
    if (ch.token68 !== undefined) {
      expect(ch.token68).toMatch(/^[A-Za-z0-9._~+/-]+=*$/);
      expect(Object.keys(ch.params)).toEqual([]);
    }
  }
}

describe('properties', () => {
  it('any string parses without throwing into well-formed challenges', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: 'binary' }), (input) => {
        expectWellFormed(parseChallenges(input));
      }),
      { numRuns: 2000 },
    );
  });

  it('hostile strings built from the grammar characters never throw and parse well-formed', () => {
    const piece = fc.constantFrom(',', '=', '"', '\\', ' ', '\t', 'a', 'Bearer ', 'x=', '"q"', '==', '__proto__=');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 300 }), (pieces) => {
        expectWellFormed(parseChallenges(pieces.join('')));
      }),
      { numRuns: 1000 },
    );
  });

  it('round trip: serialised challenge lists parse back equal', () => {
    fc.assert(
      fc.property(fc.array(challengeArb, { maxLength: 5 }), fc.array(separatorArb, { maxLength: 3 }), (list, seps) => {
        expect(parseChallenges(serialize(list, seps).text)).toEqual(expectedOf(list));
      }),
      { numRuns: 1000 },
    );
  });

  it('round trip across several fields equals the same list in one field', () => {
    fc.assert(
      fc.property(fc.array(challengeArb, { maxLength: 5 }), (list) => {
        const fields = list.map((spec) => serialize([spec]).text);
        expect(parseChallenges(fields)).toEqual(expectedOf(list));
      }),
      { numRuns: 300 },
    );
  });

  it('a prefix of a valid list parses to a prefix of its challenges: cut at a boundary or inside a quoted value', () => {
    const listArb = fc.array(challengeArb, { minLength: 1, maxLength: 5 });
    fc.assert(
      fc.property(listArb, fc.nat(), (list, pick) => {
        const expected = expectedOf(list);
        // At the end of challenge k: exactly the first k + 1 challenges.
        const k = pick % list.length;
        expect(parseChallenges(serialize(list.slice(0, k + 1)).text)).toEqual(expected.slice(0, k + 1));
        // Inside a quoted value: the challenge holding it is dropped, never kept half-parsed.
        const { text, quotedSpans } = serialize(list);
        const span = quotedSpans[pick % Math.max(quotedSpans.length, 1)];
        if (span) {
          const cut = span.from + (pick % (span.to - span.from + 1));
          expect(parseChallenges(text.slice(0, cut))).toEqual(expected.slice(0, span.challenge));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('a syntax error drops the challenge it is in, never keeping it half-parsed', () => {
    const broken = fc.constantFrom('Broken a="unterminated', 'Broken a=1, b=', 'Broken a=1 b=2', 'Broken a="\u0001"');
    fc.assert(
      fc.property(fc.array(challengeArb, { maxLength: 4 }), broken, (list, tail) => {
        const valid = serialize(list).text;
        expect(parseChallenges(valid ? `${valid}, ${tail}, Basic realm="after"` : tail)).toEqual(expectedOf(list));
      }),
      { numRuns: 500 },
    );
  });
});
