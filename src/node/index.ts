export type { Challenge } from '../challenge.js';
export type { ProxyAuthenticationError } from '../errors.js';
export { bypassesProxy } from './no-proxy.js';
export {
  type CreateProxyFetchOptions,
  createProxyFetch,
  type ProxyCredentials,
  type ProxyCredentialsContext,
  type ProxyFetch,
} from './proxy-fetch.js';
