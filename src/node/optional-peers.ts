import type * as Undici from 'undici';

/** The shape of the `kerberos` package that Negotiate uses. */
export interface KerberosModule {
  initializeClient(
    service: string,
    options: { mechOID?: unknown },
  ): Promise<{ step(challenge: string): Promise<string | null>; contextComplete: boolean }>;
  GSS_MECH_OID_SPNEGO: unknown;
}

/** Node's "cannot find package" (ESM or CommonJS); a bundler or test runner may wrap it as the `cause`. */
const notFound = (error: unknown) => {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
};

/** Import an optional peer, or throw an error that names the package to install and why. */
export async function importPeer<T>(name: string, why: string, load: () => Promise<unknown>): Promise<T> {
  try {
    return (await load()) as T;
  } catch (error) {
    if (!notFound(error) && !notFound((error as { cause?: unknown } | null)?.cause)) throw error;
    throw new Error(`apifetch/node needs the \`${name}\` package ${why}: npm install ${name}`, { cause: error });
  }
}

let undici: Promise<typeof Undici> | undefined;

/** undici, loaded on the first proxied request: it is an optional peer so browser apps never install it. */
export function loadUndici(): Promise<typeof Undici> {
  undici ??= importPeer<typeof Undici>('undici', 'for createProxyFetch', () => import('undici'));
  // A failed import is not cached: installing the package fixes the next request.
  undici.catch(() => (undici = undefined));
  return undici;
}

/** The `kerberos` package, loaded only when a proxy asks for Negotiate. */
export function loadKerberos(): Promise<KerberosModule> {
  return importPeer<KerberosModule>('kerberos', 'for Negotiate (Kerberos) proxy authentication', async () => {
    const loaded = (await import('kerberos')) as KerberosModule & { default?: KerberosModule };
    return loaded.default ?? loaded;
  });
}
