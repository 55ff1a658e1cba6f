/**
 * happy-dom test glue, loaded by the happy-dom project only.
 *
 * happy-dom wraps a network body in a ReadableStream that closes itself when the socket ends, even after the reader
 * cancelled it (browsers and Node do not): cancelling a 401's body before a replay then throws "Controller is already
 * closed" from a socket event, outside any test. The same wrapper, but quiet once cancelled.
 */

import type { Stream } from 'node:stream';
import { ReadableStream as NodeReadableStream } from 'node:stream/web';
import FetchBodyUtility from 'happy-dom/lib/fetch/utilities/FetchBodyUtility.js';
import * as PropertySymbol from 'happy-dom/lib/PropertySymbol.js';

FetchBodyUtility.nodeToWebStream = (nodeStream: Stream) => {
  let settled = false;
  const stream = new NodeReadableStream({
    start(controller) {
      nodeStream.on('data', (chunk: Uint8Array) => {
        if (!settled) controller.enqueue(chunk);
      });
      nodeStream.on('end', () => {
        if (settled) return;
        settled = true;
        controller.close();
      });
      nodeStream.on('error', (error: Error) => {
        if (settled) return;
        settled = true;
        controller.error(error);
      });
    },
    cancel() {
      settled = true;
    },
  });
  (stream as unknown as Record<symbol, unknown>)[PropertySymbol.nodeStream] = nodeStream;
  return stream;
};

/**
 * happy-dom's fetch rejects a dropped connection with a DOMException named NetworkError, where browsers (and Node)
 * throw a TypeError: make it one, so that ky and apifetch take it for the network failure it is. Looked up at call
 * time, so msw's interception (installed later) still sits in front.
 */
const happyDomFetch = globalThis.fetch;
globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
  try {
    return await happyDomFetch(input, init);
  } catch (error) {
    if ((error as { name?: unknown }).name === 'NetworkError') throw new TypeError('Failed to fetch', { cause: error });
    throw error;
  }
};
