import { InvalidOptionError } from '../errors.js';

/** Decides whether a URL may receive the bearer token. */
export type OriginPolicy = (url: string) => boolean;

const isLoopbackHost = (hostname: string): boolean =>
  hostname === 'localhost' ||
  hostname.endsWith('.localhost') ||
  hostname === '[::1]' ||
  /^127(?:\.\d{1,3}){3}$/.test(hostname);

/** Whether a token sent to `origin` (`scheme://host[:port]`) would cross the network in the clear. */
export const isInsecureOrigin = (origin: string): boolean =>
  origin.startsWith('http:') && !isLoopbackHost(new URL(origin).hostname);

/** Normalise a configured origin (`https://api.example.com`, or a full URL) to its `scheme://host:port` form. */
export function toOrigin(value: string | URL, option: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidOptionError(option, 'an absolute URL or origin such as "https://api.example.com"', value);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InvalidOptionError(option, 'an http: or https: origin', value);
  }
  return url.origin;
}

/**
 * The origin (`scheme://host[:port]`) of an absolute URL as `Request.url` gives it (already normalised: lowercase
 * host, default port dropped), without a URL parse on the hot path.
 */
export function originOf(url: string): string {
  const start = url.indexOf('//');
  if (start < 0) return 'null';
  const end = url.indexOf('/', start + 2);
  const origin = end < 0 ? url : url.slice(0, end);
  // Userinfo never belongs to the origin; it is rare, so the slow path is fine.
  return origin.includes('@') ? new URL(url).origin : origin;
}

/**
 * The token goes only to exact origins (scheme + host + port) the user configured, and never over plain
 * `http:` to a host other than loopback unless `allowInsecureHttp` is set.
 */
export function createOriginPolicy(origins: readonly string[], allowInsecureHttp: boolean): OriginPolicy {
  // Decided once per origin: the allowed ones that may receive the token (plain http only to loopback, unless allowed).
  const receives = new Set(origins.filter((origin) => allowInsecureHttp || !isInsecureOrigin(origin)));
  return (url) => {
    const origin = originOf(url);
    if (receives.has(origin)) return true;
    // Not normalised (a URL that did not come from a Request): compare the parsed origin.
    try {
      return receives.has(new URL(url).origin);
    } catch {
      return false;
    }
  };
}
