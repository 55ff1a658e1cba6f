import { parseChallenges } from './challenge.js';
import { isProxyAuthenticationError, ProxyAuthenticationError } from './errors.js';

// undici reports a proxy's 407 as a thrown error without the response: for a CONNECT tunnel a RequestAbortedError
// (name `AbortError`, code UND_ERR_ABORTED) "Proxy response (407) !== 200 when HTTP Tunneling", else an
// InvalidArgumentError (code UND_ERR_INVALID_ARG) "Proxy Authentication Required (407)"; Node's fetch wraps either in
// `TypeError: fetch failed`. The codes alone are too broad (UND_ERR_INVALID_ARG also means a bad option), so match
// the messages, unanchored to survive small rewordings around the status.
const undici407 = /Proxy response \(407\)|Proxy Authentication Required \(407\)/;
// Enough for fetch's wrapper plus a user's own wrapping; also ends a cyclic `cause` chain.
const maxCauseDepth = 8;

/**
 * The typed error for a proxy 407 hidden in a thrown error (walking `cause`), or undefined when the error is
 * something else. Recognising it keeps the retry layer from retrying it as a network failure.
 *
 * undici keeps the proxy's answer to itself, so the error's `response` is a local reconstruction (status 407, no
 * headers) and `challenges` is empty; `createProxyFetch` from `apifetch/node` reads the proxy's 407 itself instead.
 */
export function proxyAuthenticationFromError(error: unknown, request: Request): ProxyAuthenticationError | undefined {
  let current: unknown = error;
  // Duck-typed, not `instanceof Error`: the error may come from another realm or bundle.
  for (let depth = 0; depth < maxCauseDepth && typeof current === 'object' && current !== null; depth++) {
    if (isProxyAuthenticationError(current)) return current;
    const { message } = current as { message?: unknown };
    if (typeof message === 'string' && undici407.test(message)) {
      const response = new Response(null, { status: 407, statusText: 'Proxy Authentication Required' });
      return new ProxyAuthenticationError({ response, request, cause: error });
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The typed error for a 407 response that reached the client (a service worker or custom fetch passed it on). */
export function proxyAuthenticationFromResponse(response: Response, request: Request): ProxyAuthenticationError {
  // Nobody reads a 407's body: release the connection.
  void response.body?.cancel().catch(() => {});
  return new ProxyAuthenticationError({
    response,
    request,
    challenges: parseChallenges(response, { header: 'proxy-authenticate' }),
  });
}
