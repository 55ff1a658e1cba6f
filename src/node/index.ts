import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import { ProxyAgent, fetch as undiciFetch } from 'undici';
import { type Challenge, parseChallenges } from '../challenge.js';
import { InvalidOptionError, ProxyAuthenticationError } from '../errors.js';
import { proxyAuthenticationFromError } from '../proxy-error.js';
import { bypassesProxy } from './no-proxy.js';

export { bypassesProxy } from './no-proxy.js';

/** What the `credentials` callback receives. */
export interface ProxyCredentialsContext {
  /** The proxy, without credentials. */
  proxy: URL;
  /** The proxy's `Proxy-Authenticate` challenges. */
  challenges: Challenge[];
  /** 1 for the first 407 from this proxy, then 2, … (a refused answer asks again on a later request). */
  attempt: number;
}

/**
 * Proxy credentials: a username and password (sent as `Basic`), or a whole `Proxy-Authorization` value
 * (`Bearer …`, `Negotiate …`), or `null` to give up.
 */
export type ProxyCredentials = { username: string; password: string } | string | null;

/** Options of `createProxyFetch`. */
export interface CreateProxyFetchOptions {
  /**
   * The proxy URL (`http://proxy.internal:3128`); credentials in it are sent up front.
   * @default HTTPS_PROXY for https targets and HTTP_PROXY for http targets (lowercase variants first)
   */
  proxy?: string | URL;
  /**
   * Hosts that bypass the proxy: comma separated, `*`, `example.com` (and subdomains), `.example.com`, `host:port`.
   * @default NO_PROXY (or no_proxy)
   */
  noProxy?: string;
  /**
   * Called on a 407 with the proxy's challenges; its answer is used for one retry, then cached for the proxy so
   * later requests send it up front. Concurrent requests share one call.
   * @default undefined (a 407 is final)
   */
  credentials?: (ctx: ProxyCredentialsContext) => Promise<ProxyCredentials> | ProxyCredentials;
  /**
   * TLS options for the target connection (through the tunnel), e.g. `{ ca }` for a private CA.
   * @default undefined (the system's CAs)
   */
  tls?: ConnectionOptions;
  /**
   * TLS options for an `https:` proxy.
   * @default undefined
   */
  proxyTls?: ConnectionOptions;
  /**
   * Environment to read `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` from.
   * @default process.env
   */
  env?: Record<string, string | undefined>;
}

type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

function parseProxy(value: string | URL, option: string): URL {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {}
  throw new InvalidOptionError(option, 'an http: or https: proxy URL', '[redacted]');
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** Read the proxy's challenges directly: undici hides the 407's headers. */
function probeChallenges(proxy: URL, target: URL, tls: ConnectionOptions | undefined): Promise<Challenge[]> {
  const tunnel = target.protocol === 'https:';
  const request = proxy.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const port = target.port || (tunnel ? '443' : '80');
    const req = request({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
      method: tunnel ? 'CONNECT' : 'HEAD',
      path: tunnel ? `${target.hostname}:${port}` : target.href,
      headers: { host: `${target.hostname}:${port}` },
      ...(tls ?? {}),
    });
    const done = (headers: Record<string, string | string[] | undefined>) => {
      const value = headers['proxy-authenticate'];
      resolve(value === undefined ? [] : parseChallenges(Array.isArray(value) ? value : [value]));
      req.destroy();
    };
    req.on('connect', (res) => done(res.headers));
    req.on('response', (res) => done(res.headers));
    req.on('error', () => resolve([]));
    req.setTimeout(10_000, () => req.destroy());
    req.end();
  });
}

/** Convert a Request from any realm into what undici's own fetch accepts, and its Response back. */
async function sendThroughUndici(
  input: string | URL | Request,
  init: RequestInit | undefined,
  dispatcher?: ProxyAgent,
) {
  let url: string;
  let options: Record<string, unknown>;
  if (typeof input === 'string' || input instanceof URL) {
    url = String(input);
    options = { ...(init ?? {}) };
  } else {
    url = input.url;
    options = {
      method: input.method,
      headers: [...input.headers],
      body: input.body,
      redirect: input.redirect,
      signal: input.signal,
      ...(input.body ? { duplex: 'half' } : {}),
      ...(init ?? {}),
    };
  }
  if (dispatcher) options.dispatcher = dispatcher;
  const res = await undiciFetch(url, options as Parameters<typeof undiciFetch>[1]);
  const response = new Response(res.body as ReadableStream<Uint8Array> | null, {
    status: res.status,
    statusText: res.statusText,
    headers: [...res.headers],
  });
  Object.defineProperty(response, 'url', { value: res.url });
  return response;
}

/**
 * A `fetch` for Node that goes through an HTTP(S) proxy and authenticates with it on a 407 (once per request,
 * never in a loop). Pass it to `createApiFetch({ fetch: createProxyFetch() })`.
 */
export function createProxyFetch(options: CreateProxyFetchOptions = {}): Fetch {
  const env = options.env ?? process.env;
  if (options.credentials !== undefined && typeof options.credentials !== 'function') {
    throw new InvalidOptionError('credentials', 'a function', options.credentials);
  }
  const explicit = options.proxy === undefined ? undefined : parseProxy(options.proxy, 'proxy');
  const noProxy = options.noProxy ?? env.NO_PROXY ?? env.no_proxy;
  /** Proxy-Authorization per proxy origin, once known. */
  const known = new Map<string, string>();
  const pending = new Map<string, Promise<string | null>>();
  const attempts = new Map<string, number>();
  const agents = new Map<string, ProxyAgent>();

  const proxyFor = (target: URL): URL | undefined => {
    if (bypassesProxy(target, noProxy)) return undefined;
    if (explicit) return explicit;
    const value =
      target.protocol === 'https:'
        ? (env.https_proxy ?? env.HTTPS_PROXY ?? env.http_proxy ?? env.HTTP_PROXY)
        : (env.http_proxy ?? env.HTTP_PROXY);
    return value ? parseProxy(value, target.protocol === 'https:' ? 'HTTPS_PROXY' : 'HTTP_PROXY') : undefined;
  };

  const agentFor = (proxy: URL, authorization: string | undefined) => {
    const key = `${proxy.origin}\n${authorization ?? ''}`;
    let agent = agents.get(key);
    if (!agent) {
      const uri = new URL(proxy);
      uri.username = '';
      uri.password = '';
      const agentOptions: ProxyAgent.Options = { uri: uri.href };
      if (authorization) agentOptions.token = authorization;
      if (options.tls) agentOptions.requestTls = options.tls as ProxyAgent.Options['requestTls'] & object;
      if (options.proxyTls) agentOptions.proxyTls = options.proxyTls as ProxyAgent.Options['proxyTls'] & object;
      agent = new ProxyAgent(agentOptions);
      agents.set(key, agent);
    }
    return agent;
  };

  const obtain = (proxy: URL, challenges: Challenge[]): Promise<string | null> => {
    const key = proxy.origin;
    let flight = pending.get(key);
    if (!flight) {
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      const bare = new URL(proxy.origin);
      flight = (async () => {
        const answer = await options.credentials?.({ proxy: bare, challenges, attempt });
        if (answer === null || answer === undefined) return null;
        if (typeof answer === 'string') return answer;
        return basic(answer.username, answer.password);
      })().finally(() => pending.delete(key));
      pending.set(key, flight);
    }
    return flight;
  };

  return async (input, init) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const target = new URL(request.url);
    const proxy = proxyFor(target);
    if (!proxy) return sendThroughUndici(input, init);
    const fromUrl = proxy.username
      ? basic(decodeURIComponent(proxy.username), decodeURIComponent(proxy.password))
      : undefined;
    const sentWith = known.get(proxy.origin) ?? fromUrl;
    // Keep an unsent copy in case the proxy asks for credentials first.
    const spare = typeof input !== 'string' && !(input instanceof URL) && input.body ? input.clone() : undefined;
    try {
      return await sendThroughUndici(input, init, agentFor(proxy, sentWith));
    } catch (error) {
      if (!proxyAuthenticationFromError(error, request)) throw error;
    }
    const redacted = new URL(proxy.origin).href;
    // Another request may have obtained credentials while this one was refused: use them, ask nobody.
    const meanwhile = known.get(proxy.origin);
    const inFlight = pending.get(proxy.origin);
    const challenges =
      meanwhile !== undefined && meanwhile !== sentWith ? [] : await probeChallenges(proxy, target, options.proxyTls);
    const refused = (cause?: unknown) => {
      const headers = new Headers();
      for (const c of challenges) headers.append('proxy-authenticate', serialize(c));
      const response = new Response(null, { status: 407, statusText: 'Proxy Authentication Required', headers });
      return new ProxyAuthenticationError({ response, request, challenges, proxy: redacted, cause });
    };
    if (sentWith !== undefined && known.get(proxy.origin) === sentWith) known.delete(proxy.origin);
    let authorization: string | null;
    try {
      const current = known.get(proxy.origin);
      if (current !== undefined && current !== sentWith) authorization = current;
      else if (inFlight) authorization = await inFlight;
      else authorization = options.credentials ? await obtain(proxy, challenges) : null;
    } catch (error) {
      throw refused(error instanceof Error ? new Error(`credentials callback failed: ${error.name}`) : undefined);
    }
    if (authorization === null) throw refused();
    known.set(proxy.origin, authorization);
    try {
      return await sendThroughUndici(spare ?? input, init, agentFor(proxy, authorization));
    } catch (error) {
      if (!proxyAuthenticationFromError(error, request)) throw error;
      known.delete(proxy.origin);
      throw refused();
    }
  };
}

function serialize(challenge: Challenge): string {
  const params = Object.entries(challenge.params).map(([k, v]) => `${k}="${v.replace(/["\\]/g, '\\$&')}"`);
  const body = challenge.token68 ?? params.join(', ');
  return body ? `${challenge.scheme} ${body}` : challenge.scheme;
}
