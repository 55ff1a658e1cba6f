import { setupServer } from 'msw/node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mockAuthApi } from '../../src/testing/index.js';

// Browsers (and happy-dom) keep scripts from setting Origin and Access-Control-Request-*, and happy-dom does not
// check the preflight's answer: only Node can send these headers and read what the kit echoes.
const baseUrl = 'https://api.example.test';
const mock = mockAuthApi({ baseUrl, routes: { '/admin': { scopes: ['admin'] } } });
const server = setupServer(...mock.handlers);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterAll(() => server.close());

it('a preflight gets its origin and requested headers echoed', async () => {
  const response = await fetch(`${baseUrl}/admin`, {
    method: 'OPTIONS',
    headers: {
      origin: 'https://app.example.test',
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'authorization, idempotency-key, x-trace',
    },
  });
  expect(response.status).toBe(204);
  expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example.test');
  expect(response.headers.get('access-control-allow-headers')).toBe('authorization, idempotency-key, x-trace');
  expect(mock.stats.preflights).toBe(1);
  expect(mock.stats.requests).toEqual({});
});
