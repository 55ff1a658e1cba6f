import { parseChallenges } from './challenge.js';
import { isProxyAuthenticationError, ProxyAuthenticationError } from './errors.js';

// undici reports a proxy's 407 as a thrown error without the response: for a CONNECT tunnel a
// RequestAbortedError "Proxy response (407) !== 200 when HTTP Tunneling", else an InvalidArgumentError
// "Proxy Authentication Required (407)"; Node's fetch wraps either in `TypeError: fetch failed`.
const undici407 = /Proxy response \(407\)|Proxy Authentication Required \(407\)/;
const maxCauseDepth = 8;

/**
 * The typed error for a proxy 407 hidden in a thrown error (walking `cause`), or undefined when the error is
 * something else. Recognising it keeps the retry layer from retrying it as a network failure.
 */
export function proxyAuthenticationFromError(error: unknown, request: Request): ProxyAuthenticationError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < maxCauseDepth && current instanceof Error; depth++) {
    if (isProxyAuthenticationError(current)) return current;
    if (undici407.test(current.message)) {
      // undici keeps the proxy's answer to itself, so the response here is a local reconstruction.
      const response = new Response(null, { status: 407, statusText: 'Proxy Authentication Required' });
      return new ProxyAuthenticationError({ response, request, cause: error });
    }
    current = current.cause;
  }
  return undefined;
}

/** The typed error for a 407 response that reached the client (a service worker or custom fetch passed it on). */
export function proxyAuthenticationFromResponse(response: Response, request: Request): ProxyAuthenticationError {
  void response.body?.cancel().catch(() => {});
  return new ProxyAuthenticationError({
    response,
    request,
    challenges: parseChallenges(response, { header: 'proxy-authenticate' }),
  });
}
