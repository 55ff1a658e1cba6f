import { afterEach, expect, it, vi } from 'vitest';
import { createApiFetch } from '../../src/index.js';

const inBrowser = typeof document !== 'undefined';

afterEach(() => {
  vi.unstubAllGlobals();
});

/** The page's origin: happy-dom's own, or (in Node) a stubbed `location` as a browser would have it. */
function page(): { origin: string; input: (path: string) => string } {
  if (inBrowser) return { origin: location.origin, input: (path) => path };
  const origin = 'http://127.0.0.1:5173';
  vi.stubGlobal('location', { origin, href: `${origin}/app/` });
  return { origin, input: (path) => `${origin}${path}` };
}

it("with no baseUrl, requests to the page's own origin carry the token; other origins do not", async () => {
  const { origin, input } = page();
  const seen: [string, string | null][] = [];
  const api = createApiFetch({
    auth: { getAccessToken: () => 'page-token' },
    fetch: async (request) => {
      seen.push([request.url, request.headers.get('authorization')]);
      return new Response('{}');
    },
  });
  await api.get(input('/api/me')).json();
  await api.get('https://elsewhere.example.test/x').json();
  expect(seen).toEqual([
    [`${origin}/api/me`, 'Bearer page-token'],
    ['https://elsewhere.example.test/x', null],
  ]);
});

it('with a baseUrl on another origin, that origin gets the token and the page does not', async () => {
  const { origin, input } = page();
  const seen: (string | null)[] = [];
  const api = createApiFetch({
    baseUrl: 'https://api.example.test/',
    auth: { getAccessToken: () => 'page-token' },
    fetch: async (request) => {
      seen.push(request.headers.get('authorization'));
      return new Response('{}');
    },
  });
  await api.get('me').json();
  await api.get(inBrowser ? `${origin}/api/me` : input('/api/me')).json();
  expect(seen).toEqual(['Bearer page-token', null]);
});
