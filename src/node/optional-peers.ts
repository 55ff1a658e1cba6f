import type * as HashWasm from 'hash-wasm';
import type * as Undici from 'undici';
import { optionalPeer } from '../optional-peer.js';

/** The shape of the `kerberos` package that Negotiate uses. */
export interface KerberosModule {
  initializeClient(
    service: string,
    options: { mechOID?: unknown },
  ): Promise<{ step(challenge: string): Promise<string | null>; contextComplete: boolean }>;
  GSS_MECH_OID_SPNEGO: unknown;
}

/** undici, loaded on the first proxied request: it is an optional peer so browser apps never install it. */
export const loadUndici = optionalPeer<typeof Undici>(
  'apifetch/node',
  'undici',
  'for createProxyFetch',
  () => import('undici'),
);

/** The `kerberos` package, loaded only when a proxy asks for Negotiate. */
export const loadKerberos = optionalPeer<KerberosModule>(
  'apifetch/node',
  'kerberos',
  'for Negotiate (Kerberos) proxy authentication',
  async () => {
    const loaded = (await import('kerberos')) as KerberosModule & { default?: KerberosModule };
    return loaded.default ?? loaded;
  },
);

/** `hash-wasm` (MD4, which Node's OpenSSL 3 lacks), loaded only when a proxy is to be answered with NTLM. */
export const loadHashWasm = optionalPeer<Pick<typeof HashWasm, 'md4'>>(
  'apifetch/node',
  'hash-wasm',
  'for NTLM proxy authentication',
  () => import('hash-wasm'),
);
