import { describe, expect, it } from 'vitest';
import { createApiFetch } from '../src/index.js';

const token = 'secret-token-abc';

/** A fetch that records what it was sent (headers as they were at the send) and answers `status` (200 by default). */
function recorder(status: () => number = () => 200) {
  const sent: { headers: Headers; body: string }[] = [];
  const fetch = async (request: Request) => {
    sent.push({ headers: new Headers(request.headers), body: await request.text() });
    return new Response(null, { status: status() });
  };
  return { sent, fetch };
}

describe('extend', () => {
  it('inherits options and merges headers', async () => {
    const { sent, fetch } = recorder();
    const base = createApiFetch({
      baseUrl: 'https://api.example.test',
      fetch,
      headers: { 'x-test': 'a' },
      auth: { getAccessToken: () => token },
    });
    const child = base.extend({ headers: { 'x-extra': 'b' } });
    await child.post('x', { json: { n: 1 } }).text();
    expect(sent).toHaveLength(1);
    const headers = sent[0]?.headers;
    expect(headers?.get('x-test')).toBe('a');
    expect(headers?.get('x-extra')).toBe('b');
    expect(headers?.get('authorization')).toBe(`Bearer ${token}`);
    expect(sent[0]?.body).toBe('{"n":1}');
  });

  it('extend({ retry: { throttle } }) takes effect in the child', async () => {
    const { sent, fetch } = recorder(() => 503);
    const parent = createApiFetch({
      baseUrl: 'https://api.example.test',
      fetch,
      retry: { limit: 2, random: () => 0, baseDelayMs: 0 },
    });
    const child = parent.extend({ retry: { limit: 2, random: () => 0, baseDelayMs: 0, throttle: false } });
    for (let i = 0; i < 10; i++) await child.get('c').catch(() => {});
    // Unthrottled: every request used both retries.
    expect(sent).toHaveLength(30);
    sent.length = 0;
    for (let i = 0; i < 10; i++) await parent.get('p').catch(() => {});
    // The parent's own bucket (10 tokens, each failed send costs one, retries only above half): the first request
    // retries twice (10 → 7), the second once (→ 5), the other eight not at all.
    expect(sent).toHaveLength(3 + 2 + 8);
  });
});
