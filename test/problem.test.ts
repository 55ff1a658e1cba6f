import { describe, expect, it } from 'vitest';
import { maxErrorBodyBytes, readErrorBody } from '../src/problem.js';

const response = (body: BodyInit, type?: string) =>
  new Response(body, { status: 403, headers: type ? { 'content-type': type } : {} });

describe('error bodies (RFC 9457)', () => {
  it('parses application/problem+json', async () => {
    const body = { type: 'https://example.test/p', title: 'Nope', status: 403, balance: 30 };
    const text = JSON.stringify(body);
    expect(await readErrorBody(response(text, 'application/problem+json'))).toEqual({
      problem: body,
      data: body,
      text,
    });
  });

  it('keeps plain JSON without problem members as data only', async () => {
    expect(await readErrorBody(response('{"reason":"x"}', 'application/json'))).toEqual({
      data: { reason: 'x' },
      text: '{"reason":"x"}',
    });
  });

  it('falls back to text for invalid JSON and for other types; nothing for an empty body', async () => {
    expect(await readErrorBody(response('{broken', 'application/problem+json'))).toEqual({
      data: '{broken',
      text: '{broken',
    });
    expect(await readErrorBody(response('plain words', 'text/plain'))).toEqual({
      data: 'plain words',
      text: 'plain words',
    });
    expect(await readErrorBody(new Response(null, { status: 403 }))).toEqual({ text: '' });
  });

  it('reads at most 64 KB of a huge body', async () => {
    let pulled = 0;
    const chunk = new Uint8Array(16 * 1024).fill(97);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        if (pulled > 1000) controller.close();
        else controller.enqueue(chunk);
      },
    });
    const { data } = await readErrorBody(response(stream, 'text/plain'));
    expect((data as string).length).toBe(maxErrorBodyBytes);
    // Four 16 KB chunks make the 64 KB: not one chunk more is pulled from the stream.
    expect(pulled).toBe(4);
  });
});
