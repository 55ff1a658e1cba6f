export type { Challenge } from '../challenge.js';
export type { ProxyAuthenticationError } from '../errors.js';
export type {
  CreateProxyFetchOptions,
  NegotiateOptions,
  NegotiateTokenContext,
  ProxyCredentialsCallback,
  ProxyCredentialsContext,
  ProxyIdentity,
} from '../options.js';
export { bypassesProxy } from './no-proxy.js';
export { createProxyFetch, type ProxyFetch } from './proxy-fetch.js';
