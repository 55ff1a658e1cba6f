export type { Challenge } from '../challenge.js';
export type { ProxyAuthenticationError } from '../errors.js';
export type {
  NegotiateOptions,
  NegotiateTokenContext,
  ProxyCredentialsCallback,
  ProxyCredentialsContext,
  ProxyFetchOptions,
  ProxyIdentity,
} from '../options.js';
export { bypassesProxy } from './no-proxy.js';
export { type CreateProxyFetchOptions, createProxyFetch, type ProxyFetch } from './proxy-fetch.js';
