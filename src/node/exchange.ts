import type { Duplex } from 'node:stream';

/** A proxy's answer read off a raw socket: status, headers (names lowercased) and whether the socket stays open. */
export interface ProxyAnswer {
  status: number;
  headers: Map<string, string[]>;
  keepAlive: boolean;
}

const maxHead = 64 * 1024;
/** How long the proxy may take to answer one leg (not counting the wait for credentials, which comes between legs). */
export const answerTimeoutMs = 30_000;

/**
 * Write `head` (a request without body) and read the answer, its body included, so the socket is left at the start of
 * whatever comes next: the next leg of a handshake, TLS inside a tunnel, or undici's first request. The answer to a
 * CONNECT that succeeded has no body.
 */
export function exchange(
  socket: Duplex & { setTimeout?(ms: number): unknown },
  head: string,
  connect: boolean,
): Promise<ProxyAnswer> {
  return new Promise((resolve, reject) => {
    let buffer: Buffer = Buffer.alloc(0);
    let answer: ProxyAnswer | undefined;
    /** Body bytes still to skip; `chunked` and `close` are read as they come. */
    let body: number | 'chunked' | 'close' = 0;
    const cleanup = () => {
      socket.off('readable', onReadable);
      socket.off('error', fail);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('timeout', onTimeout);
      socket.setTimeout?.(0);
    };
    const fail = (error: Error) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onTimeout = () => fail(new Error(`the proxy did not answer within ${answerTimeoutMs} ms`));
    const done = () => {
      cleanup();
      if (buffer.length) socket.unshift(buffer);
      resolve(answer as ProxyAnswer);
    };
    const onEnd = () => {
      if (answer && body === 'close') {
        answer.keepAlive = false;
        done();
      } else fail(new Error('the proxy closed the connection before answering'));
    };
    const parseHead = (): boolean => {
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buffer.length > maxHead) fail(new Error('the proxy sent an oversized answer'));
        return false;
      }
      const [statusLine = '', ...lines] = buffer.subarray(0, end).toString('latin1').split('\r\n');
      buffer = buffer.subarray(end + 4);
      const match = /^HTTP\/1\.([01]) (\d{3})/.exec(statusLine);
      if (!match) {
        fail(new Error('the proxy sent no HTTP answer'));
        return false;
      }
      const status = Number(match[2]);
      if (status >= 100 && status < 200) return true;
      const headers = new Map<string, string[]>();
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
      }
      const tokens = [...(headers.get('connection') ?? []), ...(headers.get('proxy-connection') ?? [])]
        .join(',')
        .toLowerCase();
      const keepAlive = match[1] === '1' ? !/\bclose\b/.test(tokens) : /\bkeep-alive\b/.test(tokens);
      answer = { status, headers, keepAlive };
      const length = headers.get('content-length')?.[0];
      if ((connect && status >= 200 && status < 300) || status === 204 || status === 304) body = 0;
      else if (headers.get('transfer-encoding')?.join(',').toLowerCase().includes('chunked')) body = 'chunked';
      else if (length !== undefined) body = Number(length) || 0;
      else body = 'close';
      return true;
    };
    /** Skip body bytes; true once the whole body is read. */
    const skipBody = (): boolean => {
      if (typeof body === 'number') {
        const n = Math.min(body, buffer.length);
        buffer = buffer.subarray(n);
        body -= n;
        return body === 0;
      }
      if (body === 'close') {
        buffer = Buffer.alloc(0);
        return false;
      }
      for (;;) {
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return false;
        const size = Number.parseInt(buffer.subarray(0, eol).toString('latin1'), 16);
        if (Number.isNaN(size)) {
          fail(new Error('the proxy sent a broken chunked body'));
          return false;
        }
        if (size === 0) {
          // The last chunk, then trailers up to an empty line.
          const end = buffer.indexOf('\r\n\r\n', eol - 2 < 0 ? 0 : eol - 2);
          if (end < 0) return false;
          buffer = buffer.subarray(end + 4);
          return true;
        }
        if (buffer.length < eol + 2 + size + 2) return false;
        buffer = buffer.subarray(eol + 2 + size + 2);
      }
    };
    const onReadable = () => {
      for (;;) {
        const chunk = socket.read() as Buffer | null;
        if (chunk === null) break;
        buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      }
      while (!answer) if (!parseHead()) return;
      if (skipBody()) done();
    };
    socket.setTimeout?.(answerTimeoutMs);
    socket.on('timeout', onTimeout);
    socket.on('readable', onReadable);
    socket.on('error', fail);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.write(head);
  });
}
