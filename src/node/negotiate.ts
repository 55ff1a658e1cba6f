import type { NegotiateOptions } from '../options.js';
import { loadKerberos } from './optional-peers.js';

/** One connection's Negotiate handshake. */
export interface NegotiateLeg {
  /** The first token. */
  token: string;
  /** The next token for the proxy's continuation token, or null when the context cannot go on. */
  next(challenge: string): Promise<string | null>;
}

/**
 * Start Negotiate on one connection, or undefined when it cannot be done here (no `kerberos` package, no ticket, the
 * token function said `null`) so the caller falls back to the next scheme. Tokens are made fresh every time: a
 * Kerberos authenticator is single-use, and a replay cache refuses a second one.
 */
export async function startNegotiate(proxy: URL, options: NegotiateOptions): Promise<NegotiateLeg | undefined> {
  const service = options.service ?? `HTTP@${proxy.hostname.replace(/^\[|\]$/g, '')}`;
  const own = options.token;
  try {
    if (own) {
      const token = await own({ proxy, service, challenge: undefined });
      if (!token) return undefined;
      return { token, next: async (challenge) => (await own({ proxy, service, challenge })) ?? null };
    }
    const kerberos = await loadKerberos();
    const client = await kerberos.initializeClient(service, { mechOID: kerberos.GSS_MECH_OID_SPNEGO });
    const token = await client.step('');
    if (!token) return undefined;
    return {
      token,
      next: async (challenge) => (client.contextComplete ? null : (await client.step(challenge)) || null),
    };
  } catch {
    // No library, no ticket, no KDC: the next scheme is tried. The reason may name principals, so it is not kept.
    return undefined;
  }
}
