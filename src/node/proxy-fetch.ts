import type { ConnectionOptions } from 'node:tls';
import { Agent, type Dispatcher, ProxyAgent } from 'undici';
import { abortable } from '../abortable.js';
import type { Challenge } from '../challenge.js';
import { InvalidOptionError, ProxyAuthenticationError } from '../errors.js';
import { proxyAuthenticationFromError } from '../proxy-error.js';
import { bypassesProxy } from './no-proxy.js';
import { type ProbeResult, probeChallenges } from './probe.js';
import { fetchWithDispatcher } from './undici-fetch.js';

/** What the `credentials` callback receives. */
export interface ProxyCredentialsContext {
  /** The proxy, without credentials (`http://proxy.internal:3128/`). */
  proxy: URL;
  /** The proxy's `Proxy-Authenticate` challenges, parsed (`[{ scheme: 'basic', params: { realm } }]`). */
  challenges: Challenge[];
  /** 1 for the first 407 from this proxy, 2 when the answer to attempt 1 was later refused, and so on. */
  attempt: number;
}

/**
 * Proxy credentials: a username and password (sent as `Basic`, UTF-8), a whole `Proxy-Authorization` value
 * (`Negotiate …`, `Bearer …`), or `null` to give up.
 */
export type ProxyCredentials =
  | {
      /** Sent as Basic. */
      username: string;
      /** Sent as Basic; never appears in errors, events or logs. */
      password: string;
    }
  | string
  | null;

/** Options of `createProxyFetch`. */
export interface CreateProxyFetchOptions {
  /**
   * The proxy URL (`http://proxy.internal:3128`). Credentials in it (`http://user:pass@host:3128`) are sent up front.
   * @default HTTPS_PROXY for https targets, HTTP_PROXY for http targets (lowercase variants first); none: direct
   */
  proxy?: string | URL;
  /**
   * Hosts that bypass the proxy, comma or space separated: `*` (all), `example.com` and `.example.com` (the host and
   * its subdomains), `host:port` (that port only), IP literals (exactly). Loopback is not special unless listed.
   * @default NO_PROXY (or no_proxy)
   */
  noProxy?: string;
  /**
   * Called on a 407 with the proxy's challenges. Its answer is used for one retry of the refused request, then cached
   * for the proxy so later requests send it up front; concurrent 407s share one call.
   * @default undefined (a 407 ends in ProxyAuthenticationError)
   * @example
   * credentials: async ({ challenges }) =>
   *   challenges.some((c) => c.scheme === 'negotiate') ? `Negotiate ${await kerberosToken('HTTP@proxy.corp')}` : null
   */
  credentials?: (ctx: ProxyCredentialsContext) => Promise<ProxyCredentials> | ProxyCredentials;
  /**
   * TLS options for the target (inside the tunnel, and for direct requests), e.g. `{ ca }` for a private CA or a
   * self-signed test server.
   * @default undefined (Node's default CAs)
   */
  tls?: ConnectionOptions;
  /**
   * TLS options for an `https:` proxy, e.g. `{ ca }`.
   * @default undefined (Node's default CAs)
   */
  proxyTls?: ConnectionOptions;
  /**
   * Where `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` are read from (at each request).
   * @default process.env
   */
  env?: Record<string, string | undefined>;
}

/** The `fetch` that `createProxyFetch` returns: pass it to `createApiFetch({ fetch })`. */
export type ProxyFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** One 407 round for a proxy, shared by every request refused meanwhile. */
interface Flight {
  probe: ProbeResult;
  /** The `Proxy-Authorization` to retry with, `null` to give up, or the callback's failure. */
  outcome: { authorization: string | null } | { failed: unknown };
}

function parseProxy(value: string | URL, option: string): URL {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {}
  // The value may hold credentials: never echo it.
  throw new InvalidOptionError(option, 'an http: or https: proxy URL', '[redacted]');
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

const isObject = (value: unknown) => typeof value === 'object' && value !== null;

function validate(options: CreateProxyFetchOptions): void {
  if (options.credentials !== undefined && typeof options.credentials !== 'function') {
    // A string given here may well be the secret itself: never echo it.
    throw new InvalidOptionError('credentials', 'a function', '[redacted]');
  }
  if (options.noProxy !== undefined && typeof options.noProxy !== 'string') {
    throw new InvalidOptionError('noProxy', 'a string', options.noProxy);
  }
  for (const name of ['tls', 'proxyTls', 'env'] as const) {
    if (options[name] !== undefined && !isObject(options[name])) {
      throw new InvalidOptionError(name, 'an object', options[name]);
    }
  }
}

/**
 * A `fetch` for Node that goes through an HTTP(S) proxy (undici's `ProxyAgent`: CONNECT tunnels for https targets,
 * absolute-form requests for http targets) and authenticates with it. On a 407 it reads the proxy's challenges, asks
 * `credentials` (one call for all concurrent 407s), retries the request once, and caches the answer for the proxy.
 * A second 407, `null` or a throwing callback ends in `ProxyAuthenticationError`; credentials never appear in it.
 */
export function createProxyFetch(options: CreateProxyFetchOptions = {}): ProxyFetch {
  validate(options);
  const env = options.env ?? process.env;
  const explicit = options.proxy === undefined ? undefined : parseProxy(options.proxy, 'proxy');
  /** Proxy-Authorization per proxy origin, once a credentials answer is known. */
  const known = new Map<string, string>();
  /** Per proxy origin: the 407 round in flight, and the last one settled with its number. */
  const flights = new Map<string, Promise<Flight>>();
  const settled = new Map<string, { round: number; flight: Flight }>();
  const rounds = new Map<string, number>();
  /** Per proxy origin, the agent for its current Proxy-Authorization (undici's ProxyAgent takes it at construction). */
  const agents = new Map<string, PooledAgent>();
  let direct: Dispatcher | undefined;

  const proxyFor = (target: URL): URL | undefined => {
    if (bypassesProxy(target, options.noProxy ?? env.NO_PROXY ?? env.no_proxy)) return undefined;
    if (explicit) return explicit;
    const value =
      target.protocol === 'https:'
        ? (env.https_proxy ?? env.HTTPS_PROXY ?? env.http_proxy ?? env.HTTP_PROXY)
        : (env.http_proxy ?? env.HTTP_PROXY);
    return value ? parseProxy(value, target.protocol === 'https:' ? 'HTTPS_PROXY' : 'HTTP_PROXY') : undefined;
  };

  /**
   * Send through the proxy's agent for `authorization`. An agent replaced by one for newer credentials is closed once
   * the last request that uses it has its answer (undici's `close` lets its bodies finish), so rotating credentials
   * never pile up agents and their sockets.
   */
  const sendVia = async (
    proxy: URL,
    authorization: string | undefined,
    input: Input,
    init: RequestInit | undefined,
  ) => {
    let pooled = agents.get(proxy.origin);
    if (!pooled || pooled.authorization !== authorization) {
      if (pooled) retire(pooled);
      const agentOptions: ProxyAgent.Options = { uri: proxy.origin };
      if (authorization) agentOptions.token = authorization;
      if (options.tls) agentOptions.requestTls = options.tls as NonNullable<ProxyAgent.Options['requestTls']>;
      if (options.proxyTls) agentOptions.proxyTls = options.proxyTls as NonNullable<ProxyAgent.Options['proxyTls']>;
      pooled = { authorization, agent: new ProxyAgent(agentOptions), users: 0, retired: false };
      agents.set(proxy.origin, pooled);
    }
    const used = pooled;
    used.users += 1;
    try {
      return await fetchWithDispatcher(input, init, used.agent);
    } finally {
      used.users -= 1;
      if (used.retired && used.users === 0) void used.agent.close().catch(() => {});
    }
  };
  const retire = (pooled: PooledAgent) => {
    pooled.retired = true;
    if (pooled.users === 0) void pooled.agent.close().catch(() => {});
  };

  const startFlight = (proxy: URL, target: URL): Promise<Flight> => {
    const key = proxy.origin;
    const round = (rounds.get(key) ?? 0) + 1;
    rounds.set(key, round);
    const flight = (async (): Promise<Flight> => {
      const probe = await probeChallenges(proxy, target, options.proxyTls);
      if (!options.credentials) return { probe, outcome: { authorization: null } };
      try {
        const answer = await options.credentials({ proxy: new URL(key), challenges: probe.challenges, attempt: round });
        if (answer === null || answer === undefined) return { probe, outcome: { authorization: null } };
        const authorization = typeof answer === 'string' ? answer : basic(answer.username, answer.password);
        known.set(key, authorization);
        return { probe, outcome: { authorization } };
      } catch (error) {
        return { probe, outcome: { failed: error } };
      }
    })();
    const shared = flight.finally(() => flights.delete(key));
    void flight.then((done) => settled.set(key, { round, flight: done }));
    flights.set(key, shared);
    return shared;
  };

  return async (input, init) => {
    // For errors only: the URL and method, without touching a body that is still to be sent.
    const request = input instanceof Request ? input : new Request(input, { method: init?.method ?? 'GET' });
    const target = new URL(request.url);
    const proxy = proxyFor(target);
    if (!proxy) {
      if (!options.tls) return globalThis.fetch(input, init);
      direct ??= new Agent({ connect: options.tls as Agent.Options['connect'] & object });
      return fetchWithDispatcher(input, init, direct);
    }
    const signal = init?.signal ?? request.signal;
    // A body in `init` is read by the first send: a Request holds it, so an unsent copy can be kept for the retry.
    if (!(input instanceof Request) && init?.body != null) {
      input = new Request(input, init);
      init = undefined;
    }
    const key = proxy.origin;
    const fromUrl = proxy.username
      ? basic(decodeURIComponent(proxy.username), decodeURIComponent(proxy.password))
      : undefined;
    const sentWith = known.get(key) ?? fromUrl;
    const roundAtSend = rounds.get(key) ?? 0;
    // An unsent copy of a Request body, in case the proxy asks for credentials first.
    const spare = input instanceof Request && input.body ? input.clone() : undefined;
    try {
      const response = await sendVia(proxy, sentWith, input, init);
      void spare?.body?.cancel().catch(() => {});
      return response;
    } catch (error) {
      if (!proxyAuthenticationFromError(error, request)) {
        void spare?.body?.cancel().catch(() => {});
        throw error;
      }
    }

    const redacted = new URL(key).href;
    const refused = (probe: ProbeResult | undefined, cause?: unknown) => {
      const headers = new Headers();
      for (const value of probe?.headers ?? []) headers.append('proxy-authenticate', value);
      // undici hid the proxy's answer: this 407 is rebuilt from the probe's challenges.
      const response = new Response(null, { status: 407, statusText: 'Proxy Authentication Required', headers });
      const challenges = probe?.challenges ?? [];
      return new ProxyAuthenticationError({ response, request, challenges, proxy: redacted, cause });
    };

    // A round that began after this request was sent answers it too, whatever its answer (credentials, `null`, a
    // failure): every request refused meanwhile shares one probe and one `credentials` call. Otherwise this 407
    // refuses what the last round gave: ask again.
    const inFlight = flights.get(key);
    const last = settled.get(key);
    let flight: Flight;
    if (inFlight) flight = await abortable(inFlight, signal);
    else if (last && last.round > roundAtSend) flight = last.flight;
    else {
      if (sentWith !== undefined && known.get(key) === sentWith) known.delete(key);
      flight = await abortable(startFlight(proxy, target), signal);
    }
    const { probe, outcome } = flight;
    if ('failed' in outcome) {
      // The callback's own message may quote a secret: keep only its kind.
      const failed = outcome.failed;
      throw refused(
        probe,
        new Error(`credentials callback failed${failed instanceof Error ? `: ${failed.name}` : ''}`),
      );
    }
    const authorization = outcome.authorization;
    if (authorization === null) throw refused(probe);

    try {
      return await sendVia(proxy, authorization, spare ?? input, init);
    } catch (error) {
      if (!proxyAuthenticationFromError(error, request)) throw error;
      if (known.get(key) === authorization) known.delete(key);
      throw refused(probe);
    }
  };
}

type Input = string | URL | Request;

interface PooledAgent {
  authorization: string | undefined;
  agent: Dispatcher;
  /** Requests sending through it now. */
  users: number;
  /** Replaced by an agent for newer credentials: closed when its last user is done. */
  retired: boolean;
}
