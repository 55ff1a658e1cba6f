import { createHash, randomBytes } from 'node:crypto';
import type { Challenge } from '../challenge.js';

/** The Digest algorithms apifetch answers (RFC 7616 §3.3); SHA-512-256 is not offered by any proxy we know. */
const algorithms = { md5: 'md5', 'md5-sess': 'md5', 'sha-256': 'sha256', 'sha-256-sess': 'sha256' } as const;

/** A `Digest` challenge apifetch can answer. */
export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque: string | undefined;
  /** As the server spelled it (`MD5`, `SHA-256-sess`, …), echoed back. */
  algorithm: string;
  /** `auth` when the server offers it; undefined for an RFC 2069 challenge without `qop`. */
  qop: 'auth' | undefined;
  /** The server refused the previous nonce as too old, not the password: answer again without asking. */
  stale: boolean;
}

/** The challenge, or undefined when its algorithm or qop cannot be answered (e.g. `qop="auth-int"` only). */
export function parseDigestChallenge(challenge: Challenge): DigestChallenge | undefined {
  const { realm, nonce, opaque, algorithm = 'MD5', qop, stale } = challenge.params;
  if (challenge.scheme !== 'digest' || realm === undefined || nonce === undefined) return undefined;
  if (!(algorithm.toLowerCase() in algorithms)) return undefined;
  const qops = qop?.split(',').map((q) => q.trim().toLowerCase());
  if (qops && !qops.includes('auth')) return undefined;
  return {
    realm,
    nonce,
    opaque,
    algorithm,
    qop: qops ? 'auth' : undefined,
    stale: stale?.toLowerCase() === 'true',
  };
}

/** What one Digest answer is computed from. `cnonce` is injectable so RFC 7616's examples can be reproduced. */
export interface DigestInput {
  challenge: DigestChallenge;
  username: string;
  password: string;
  method: string;
  /** The request-target as sent: `host:port` for CONNECT, the absolute URL for a forwarded request. */
  uri: string;
  /** This nonce's use count, from 1. */
  nc: number;
  cnonce?: string;
}

const quote = (value: string) => `"${value.replace(/["\\]/g, '\\$&')}"`;

/** The `Digest …` credentials for one request (RFC 7616 §3.4). */
export function digestAuthorization(input: DigestInput): string {
  const { challenge, username, password, method, uri } = input;
  const name = challenge.algorithm.toLowerCase() as keyof typeof algorithms;
  const h = (value: string) => createHash(algorithms[name]).update(value, 'utf8').digest('hex');
  const cnonce = input.cnonce ?? randomBytes(16).toString('hex');
  const nc = input.nc.toString(16).padStart(8, '0');
  let ha1 = h(`${username}:${challenge.realm}:${password}`);
  if (name.endsWith('-sess')) ha1 = h(`${ha1}:${challenge.nonce}:${cnonce}`);
  const ha2 = h(`${method}:${uri}`);
  const response = challenge.qop
    ? h(`${ha1}:${challenge.nonce}:${nc}:${cnonce}:${challenge.qop}:${ha2}`)
    : h(`${ha1}:${challenge.nonce}:${ha2}`);
  const parts = [
    `username=${quote(username)}`,
    `realm=${quote(challenge.realm)}`,
    `uri=${quote(uri)}`,
    `algorithm=${challenge.algorithm}`,
    `nonce=${quote(challenge.nonce)}`,
  ];
  if (challenge.qop) parts.push(`nc=${nc}`, `cnonce=${quote(cnonce)}`, `qop=${challenge.qop}`);
  parts.push(`response=${quote(response)}`);
  if (challenge.opaque !== undefined) parts.push(`opaque=${quote(challenge.opaque)}`);
  return `Digest ${parts.join(', ')}`;
}
