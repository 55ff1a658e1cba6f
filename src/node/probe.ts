import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import { type Challenge, parseChallenges } from '../challenge.js';

/** What the proxy answered to the probe: its raw `Proxy-Authenticate` values and their parse. */
export interface ProbeResult {
  headers: string[];
  challenges: Challenge[];
}

const probeTimeoutMs = 10_000;

/**
 * Ask the proxy for its `Proxy-Authenticate` challenges, which undici hides: the CONNECT a tunnel would send (https
 * targets) or a HEAD for the target (http targets), without credentials. Never rejects: a proxy that does not answer
 * the probe yields no challenges, and the caller still reports the 407.
 */
export function probeChallenges(
  proxy: URL,
  target: URL,
  proxyTls: ConnectionOptions | undefined,
): Promise<ProbeResult> {
  const tunnel = target.protocol === 'https:';
  const request = proxy.protocol === 'https:' ? httpsRequest : httpRequest;
  const authority = `${target.hostname}:${target.port || (tunnel ? '443' : '80')}`;
  return new Promise((resolve) => {
    const req = request({
      ...(proxyTls ?? {}),
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
      method: tunnel ? 'CONNECT' : 'HEAD',
      path: tunnel ? authority : target.href,
      headers: { host: tunnel ? authority : target.host },
      agent: false,
    });
    const done = (headers: Record<string, string | string[] | undefined>) => {
      const value = headers['proxy-authenticate'];
      const raw = value === undefined ? [] : Array.isArray(value) ? value : [value];
      resolve({ headers: raw, challenges: parseChallenges(raw) });
      req.destroy();
    };
    req.on('connect', (res) => done(res.headers));
    req.on('response', (res) => done(res.headers));
    const none = () => resolve({ headers: [], challenges: [] });
    req.on('error', none);
    req.on('close', none);
    req.setTimeout(probeTimeoutMs, () => req.destroy());
    req.end();
  });
}
