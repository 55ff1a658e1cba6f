import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBaseResolver } from '../src/base-url.js';
import { createApiFetch } from '../src/index.js';

/** What a Request makes of the resolver's answer, which must be what URL resolution gives. */
const parsed = (value: string | URL) => new Request(value).url;

const bases = [
  'https://api.example.test',
  'https://api.example.test/',
  'https://api.example.test/v1',
  'https://api.example.test/v1/',
  'https://api.example.test/v1/deep/path?q=1#frag',
  'http://127.0.0.1:8080/api/',
  'https://API.Example.TEST:443/x/',
  'https://[::1]:3000/a/b',
  'https://user:pass@api.example.test/v1/',
];

describe('string inputs against an absolute base', () => {
  it.each([
    ['https://api.example.test/v1', 'me', 'https://api.example.test/me'],
    ['https://api.example.test/v1', '/me', 'https://api.example.test/me'],
    ['https://api.example.test/v1/', 'me', 'https://api.example.test/v1/me'],
    ['https://api.example.test/v1/', '/me', 'https://api.example.test/me'],
    ['https://api.example.test/v1/', 'users/1.json?fields=a,b', 'https://api.example.test/v1/users/1.json?fields=a,b'],
    ['https://api.example.test/v1/', '../me', 'https://api.example.test/me'],
    ['https://api.example.test/v1/', './me', 'https://api.example.test/v1/me'],
    ['https://api.example.test/v1/', '%2e%2e/me', 'https://api.example.test/me'],
    ['https://api.example.test/v1/', '//evil.test/x', 'https://evil.test/x'],
    ['https://api.example.test/v1/', '\\\\evil.test/x', 'https://evil.test/x'],
    ['https://api.example.test/v1/?q=1', '?page=2', 'https://api.example.test/v1/?page=2'],
    ['https://api.example.test/v1/', 'a b', 'https://api.example.test/v1/a%20b'],
  ])('%s + %s → %s', (base, input, expected) => {
    expect(parsed(createBaseResolver(base)(input))).toBe(expected);
  });

  it('any input resolves exactly as URL resolution does, whichever path it takes', () => {
    const char = fc.constantFrom(..."abz09-._~!$&'()*+,;=@/?#%2eE: \\\t".split(''));
    fc.assert(
      fc.property(fc.constantFrom(...bases), fc.array(char, { maxLength: 24 }), (base, chars) => {
        const input = chars.join('');
        let expected: string;
        try {
          expected = new Request(new URL(input, base)).url;
        } catch {
          return; // not a URL at all: the resolver may throw too, as new URL does
        }
        expect(parsed(createBaseResolver(base)(input))).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('the client sends a plain path where URL resolution says, and leaves inputs with a scheme to ky', async () => {
    const seen: string[] = [];
    const api = createApiFetch({
      baseUrl: 'https://api.example.test/v1/',
      fetch: async (request) => {
        seen.push(request.url);
        return new Response('{}', { headers: { 'content-type': 'application/json' } });
      },
    });
    await api.get('users/1').json();
    await api.get('/health').json();
    await api.get('../up').json();
    await api.get('https://files.example.test/a').json();
    await api.get('users/a:b').json();
    expect(seen).toEqual([
      'https://api.example.test/v1/users/1',
      'https://api.example.test/health',
      'https://api.example.test/up',
      'https://files.example.test/a',
      'https://api.example.test/v1/users/a:b',
    ]);
    // ky still vets what it is left: a malformed scheme throws at the call, as with ky itself.
    expect(() => api.get('http:/x')).toThrow(/protocol must be followed by `\/\/`/);
  });
});
