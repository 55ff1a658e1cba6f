import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { exchange } from '../../src/node/exchange.js';

/** A socket that answers with `chunks` (each pushed separately, as a network may split them). */
function socketAnswering(chunks: string[], end = false) {
  const written: string[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk, _encoding, callback) {
      written.push(String(chunk));
      callback();
    },
  });
  setImmediate(() => {
    for (const chunk of chunks) socket.push(chunk);
    if (end) socket.push(null);
  });
  return { socket, written };
}

const after = 'NEXT';

describe('reading a proxy answer off a raw socket', () => {
  it.each([
    [
      'a Content-Length body',
      ['HTTP/1.1 407 X\r\nProxy-Authenticate: Basic realm="p"\r\nContent-Length: 5\r\n\r\nhel', `lo${after}`],
    ],
    [
      'a chunked body with a trailer',
      [
        'HTTP/1.1 407 X\r\nTransfer-Encoding: chunked\r\nProxy-Authenticate: NTLM TlRM\r\n\r\n3\r\nabc\r\n',
        `0\r\nX-T: 1\r\n\r\n${after}`,
      ],
    ],
    ['a 100 Continue first', [`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 407 X\r\nContent-Length: 0\r\n\r\n${after}`]],
  ])('%s: the answer, and the socket left at what follows', async (_, chunks) => {
    const { socket, written } = socketAnswering(chunks);
    const answer = await exchange(socket, 'CONNECT a:443 HTTP/1.1\r\n\r\n', true);
    expect(answer.status).toBe(407);
    expect(answer.keepAlive).toBe(true);
    expect(written).toEqual(['CONNECT a:443 HTTP/1.1\r\n\r\n']);
    expect(String(socket.read())).toBe(after);
  });

  it('a CONNECT 200 has no body: the tunnel starts right after the head', async () => {
    const { socket } = socketAnswering([`HTTP/1.1 200 Connection established\r\n\r\n${after}`]);
    expect(await exchange(socket, 'CONNECT a:443 HTTP/1.1\r\n\r\n', true)).toMatchObject({ status: 200 });
    expect(String(socket.read())).toBe(after);
  });

  it('HTTP/1.0 without keep-alive, or Connection: close, does not keep the socket; a body without length reads to the end', async () => {
    const old = socketAnswering(['HTTP/1.0 407 X\r\nProxy-Authenticate: Basic realm="p"\r\n\r\nbody'], true);
    const answer = await exchange(old.socket, 'GET / HTTP/1.1\r\n\r\n', false);
    expect(answer).toMatchObject({ status: 407, keepAlive: false });
    expect(answer.headers.get('proxy-authenticate')).toEqual(['Basic realm="p"']);
    const closing = socketAnswering(['HTTP/1.1 407 X\r\nProxy-Connection: close\r\nContent-Length: 0\r\n\r\n']);
    expect(await exchange(closing.socket, 'GET / HTTP/1.1\r\n\r\n', false)).toMatchObject({ keepAlive: false });
  });

  it.each([
    ['not HTTP', ['SSH-2.0-OpenSSH\r\n\r\n'], 'the proxy sent no HTTP answer'],
    ['closed before a head', ['HTTP/1.1 407'], 'the proxy closed the connection before answering'],
    ['an endless head', ['HTTP/1.1 407 X\r\n', `X-Big: ${'a'.repeat(70_000)}`], 'the proxy sent an oversized answer'],
  ])('%s: fails, and the socket is destroyed', async (_, chunks, message) => {
    const { socket } = socketAnswering(chunks, true);
    await expect(exchange(socket, 'GET / HTTP/1.1\r\n\r\n', false)).rejects.toThrow(message);
    expect(socket.destroyed).toBe(true);
  });
});
