import { afterEach, beforeEach, expect, it } from 'vitest';
import { createApiFetch, createTokenSession } from '../../src/index.js';
import { refreshFrom, startTokenApi, type TokenApi } from '../helpers/token-api.js';

let api: TokenApi;
beforeEach(async () => {
  api = await startTokenApi();
});
afterEach(async () => {
  await api.close();
});

// Node only: happy-dom's fetch does not send streaming request bodies.
it('replays a streamed POST body intact after a refresh', async () => {
  const client = createApiFetch({
    baseUrl: api.origin,
    auth: { session: createTokenSession({ tokens: { accessToken: 'expired' }, refresh: refreshFrom(api) }) },
  });
  const chunks = ['stream-', 'body-', 'bytes'];
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
      controller.close();
    },
  });
  expect(await client.post('upload', { body, duplex: 'half' } as never).json()).toEqual({ ok: true });
  expect(api.refreshes).toBe(1);
  expect(api.server.seen.filter((r) => r.url === '/upload').map((r) => r.body)).toEqual([
    'stream-body-bytes',
    'stream-body-bytes',
  ]);
});
