import { InvalidOptionError } from '../errors.js';

/** Decides whether a URL may receive the bearer token. */
export type OriginPolicy = (url: string) => boolean;

const isLoopbackHost = (hostname: string): boolean =>
  hostname === 'localhost' ||
  hostname.endsWith('.localhost') ||
  hostname === '[::1]' ||
  /^127(?:\.\d{1,3}){3}$/.test(hostname);

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
 * The token goes only to exact origins (scheme + host + port) the user configured, and never over plain
 * `http:` to a host other than loopback unless `allowInsecureHttp` is set.
 */
export function createOriginPolicy(origins: readonly string[], allowInsecureHttp: boolean): OriginPolicy {
  const allowed = new Set(origins);
  return (url) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return false;
    }
    if (!allowed.has(parsed.origin)) return false;
    return parsed.protocol === 'https:' || allowInsecureHttp || isLoopbackHost(parsed.hostname);
  };
}
