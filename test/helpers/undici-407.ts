import { errors as undiciErrors } from 'undici';

/** What Node's fetch throws when undici's ProxyAgent gets a 407 for a CONNECT tunnel, from undici's own classes. */
export const tunnel407 = () =>
  new TypeError('fetch failed', {
    cause: new undiciErrors.RequestAbortedError('Proxy response (407) !== 200 when HTTP Tunneling'),
  });

/** The same for a plain-http request forwarded by the proxy. */
export const plain407 = () =>
  new TypeError('fetch failed', {
    cause: new undiciErrors.InvalidArgumentError('Proxy Authentication Required (407)'),
  });
