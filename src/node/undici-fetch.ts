import type { Dispatcher, fetch as undiciFetch } from 'undici';
import { loadUndici } from './optional-peers.js';

type UndiciInit = NonNullable<Parameters<typeof undiciFetch>[1]>;

/**
 * Send through undici's own `fetch` with `dispatcher`. Node's built-in fetch bundles an older undici whose handler
 * API does not match undici 8's dispatchers ("invalid onRequestStart method"), and undici's fetch does not take the
 * built-in `Request` whole, so the request is passed as URL + init and the answer converted back to the global
 * `Response` that ky and callers check against.
 */
export async function fetchWithDispatcher(
  input: string | URL | Request,
  init: RequestInit | undefined,
  dispatcher: Dispatcher | undefined,
): Promise<Response> {
  let url: string;
  let options: Record<string, unknown>;
  if (typeof input === 'string' || input instanceof URL) {
    url = String(input);
    options = { ...init };
  } else {
    url = input.url;
    options = {
      method: input.method,
      headers: [...input.headers],
      body: input.body,
      redirect: input.redirect,
      signal: input.signal,
      ...(input.body ? { duplex: 'half' } : {}),
      ...init,
    };
  }
  if (dispatcher) options.dispatcher = dispatcher;
  const { fetch } = await loadUndici();
  const res = await fetch(url, options as UndiciInit);
  const response = new Response(res.body as ReadableStream<Uint8Array> | null, {
    status: res.status,
    statusText: res.statusText,
    headers: [...res.headers],
  });
  Object.defineProperty(response, 'url', { value: res.url });
  Object.defineProperty(response, 'redirected', { value: res.redirected });
  return response;
}
