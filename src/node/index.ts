export type { Challenge } from '../challenge.js';
export type { ProxyAuthenticationError } from '../errors.js';
export type { NegotiateOptions, NegotiateTokenContext } from './negotiate.js';
export { bypassesProxy } from './no-proxy.js';
export type { ProxyCredentialsCallback, ProxyCredentialsContext, ProxyIdentity } from './proxy-auth.js';
export { type CreateProxyFetchOptions, createProxyFetch, type ProxyFetch } from './proxy-fetch.js';
