import type { Challenge } from '../challenge.js';
import { type DigestChallenge, parseDigestChallenge } from './digest.js';

/** The proxy schemes apifetch speaks, strongest first (curl's `--proxy-anyauth` order). */
export const schemes = ['negotiate', 'digest', 'ntlm', 'basic'] as const;
export type SchemeName = (typeof schemes)[number];

/** NTLM and Negotiate authenticate the connection they run on, not each request. */
export const connectionBound = (scheme: SchemeName) => scheme === 'ntlm' || scheme === 'negotiate';

export type Choice =
  | { scheme: 'negotiate'; challenge: Challenge }
  | { scheme: 'digest'; challenge: Challenge; digest: DigestChallenge }
  | { scheme: 'ntlm'; challenge: Challenge }
  | { scheme: 'basic'; challenge: Challenge };

/**
 * The strongest offered scheme that apifetch can answer and that is not in `skip` (Negotiate without Kerberos, a
 * scheme already refused on this connection), or undefined when none is left.
 */
export function chooseScheme(challenges: readonly Challenge[], skip: ReadonlySet<SchemeName>): Choice | undefined {
  for (const scheme of schemes) {
    if (skip.has(scheme)) continue;
    for (const challenge of challenges) {
      if (challenge.scheme !== scheme) continue;
      if (scheme === 'digest') {
        const digest = parseDigestChallenge(challenge);
        if (digest) return { scheme, challenge, digest };
      } else return { scheme, challenge } as Choice;
    }
  }
  return undefined;
}

/**
 * The challenges as they may be shown in errors and events: NTLM and Negotiate continuation tokens are handshake
 * state, not something a caller needs, so only their scheme is kept.
 */
export function publicChallenges(challenges: readonly Challenge[]): Challenge[] {
  return challenges.map((c) => (connectionBound(c.scheme as SchemeName) ? { scheme: c.scheme, params: {} } : c));
}
