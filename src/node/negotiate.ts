import { loadKerberos } from './optional-peers.js';

/** What a Negotiate token function receives. */
export interface NegotiateTokenContext {
  /** The proxy, without credentials. */
  proxy: URL;
  /** The GSSAPI service name (`HTTP@proxy.corp`). */
  service: string;
  /** The proxy's token (base64) in a continuation leg; undefined for the first token of a connection. */
  challenge: string | undefined;
}

/** Negotiate (SPNEGO/Kerberos) settings of `createProxyFetch`. */
export interface NegotiateOptions {
  /**
   * The GSSAPI host-based service name of the proxy.
   * @default `HTTP@<proxy host>`
   */
  service?: string;
  /**
   * Make each token yourself (base64, without the `Negotiate ` prefix) instead of through the `kerberos` package;
   * `null` means no Kerberos here, and the next scheme the proxy offers is used. Called for every connection and
   * every leg: a token is never reused.
   * @default undefined (the `kerberos` package, loaded when a proxy first asks for Negotiate)
   */
  token?: (ctx: NegotiateTokenContext) => Promise<string | null> | string | null;
}

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
