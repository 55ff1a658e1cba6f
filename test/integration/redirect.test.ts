import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiFetch } from '../../src/index.js';
import { startServer, type TestServer } from '../helpers/server.js';

let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  a = await startServer();
  b = await startServer((_req, res) => res.end('landed'));
  a.handle((req, res) => {
    const target = req.url === '/same' ? `${a.origin}/final` : `${b.origin}/collect`;
    if (req.url === '/final') return void res.end('same-origin');
    res.writeHead(302, { location: target });
    res.end();
  });
});
afterAll(async () => {
  await a.close();
  await b.close();
});

it('a cross-origin redirect never carries the token to the other origin', async () => {
  const client = createApiFetch({ baseUrl: a.origin, auth: { getAccessToken: () => 'secret' } });
  expect(await client.get('away').text()).toBe('landed');
  expect(a.seen[0]?.headers.authorization).toBe('Bearer secret');
  expect(b.seen).toHaveLength(1);
  expect(b.seen[0]?.headers.authorization).toBeUndefined();
});

it('a same-origin redirect keeps the token', async () => {
  const client = createApiFetch({ baseUrl: a.origin, auth: { getAccessToken: () => 'secret' } });
  expect(await client.get('same').text()).toBe('same-origin');
  expect(a.seen.at(-1)?.headers.authorization).toBe('Bearer secret');
});
