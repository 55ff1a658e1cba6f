/**
 * The resource-server and token-endpoint side of DPoP (RFC 9449) for the mock API: proofs checked with WebCrypto
 * (ES256 only), thumbprints, `ath`, `jti` replay and a nonce that tests can rotate. Imports nothing of the client.
 */

/** DPoP settings of the mock API. */
export interface MockDpopOptions {
  /**
   * Require the server's current nonce in every proof: a proof without it gets `use_dpop_nonce` (400 at the token
   * endpoint, 401 at the routes) with the nonce in `DPoP-Nonce`, as oidc-provider does with nonces required.
   * @default true
   */
  nonces?: boolean;
  /**
   * How far a proof's `iat` may be from the mock's clock, in seconds.
   * @default 300
   */
  iatWindowSeconds?: number;
}

/** What a checked proof says. */
export interface CheckedProof {
  /** The JWK SHA-256 thumbprint of the proof's key. */
  jkt: string;
  jti: string;
}

/** Why a proof was refused: `use_dpop_nonce` (send the nonce) or `invalid_dpop_proof` with a description. */
export interface ProofRefusal {
  error: 'use_dpop_nonce' | 'invalid_dpop_proof';
  description: string;
}

const encoder = new TextEncoder();

const fromBase64url = (text: string): Uint8Array<ArrayBuffer> => {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
};
const toBase64url = (bytes: ArrayBuffer) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/=+$/, '')
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
const decodePart = (part: string | undefined): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(fromBase64url(part ?? '')));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

/** SHA-256, base64url: `ath` of a token, or a thumbprint's digest. */
export const sha256 = async (text: string) => toBase64url(await crypto.subtle.digest('SHA-256', encoder.encode(text)));

/** The DPoP checks of one mock API. */
export function createProofChecker(options: MockDpopOptions, now: () => number) {
  const nonces = options.nonces ?? true;
  const window = options.iatWindowSeconds ?? 300;
  const seen = new Set<string>();
  let counter = 0;
  const checker = {
    nonce: `nonce-${++counter}`,
    rotateNonce() {
      checker.nonce = `nonce-${++counter}-${now()}`;
      return checker.nonce;
    },
    /** Check `proof` for a request of `method` to `url` (carrying `accessToken`, at a route). */
    async check(
      proof: string | null,
      method: string,
      url: string,
      accessToken?: string,
    ): Promise<CheckedProof | ProofRefusal> {
      const refuse = (description: string): ProofRefusal => ({ error: 'invalid_dpop_proof', description });
      const parts = (proof ?? '').split('.');
      if (!proof || parts.length !== 3) return refuse('a DPoP proof is required');
      const header = decodePart(parts[0]);
      const claims = decodePart(parts[1]);
      const jwk = header?.jwk as JsonWebKey | undefined;
      if (!header || !claims || header.typ !== 'dpop+jwt' || header.alg !== 'ES256' || jwk?.kty !== 'EC') {
        return refuse('the proof must be an ES256 dpop+jwt with its public jwk');
      }
      if (jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string' || 'd' in jwk) {
        return refuse('the jwk of the proof must be a public P-256 key');
      }
      let valid = false;
      try {
        const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, [
          'verify',
        ]);
        const signed = encoder.encode(`${parts[0]}.${parts[1]}`);
        valid = await crypto.subtle.verify(
          { name: 'ECDSA', hash: 'SHA-256' },
          key,
          fromBase64url(parts[2] ?? ''),
          signed,
        );
      } catch {
        valid = false;
      }
      if (!valid) return refuse('the signature of the proof does not verify');
      const target = new URL(url);
      target.search = '';
      target.hash = '';
      if (claims.htm !== method) return refuse('htm does not match the request');
      if (claims.htu !== target.href) return refuse('htu does not match the request');
      if (typeof claims.iat !== 'number' || Math.abs(claims.iat - now() / 1000) > window) {
        return refuse('iat is not recent');
      }
      if (typeof claims.jti !== 'string' || seen.has(claims.jti)) return refuse('jti is missing or reused');
      if (accessToken !== undefined && claims.ath !== (await sha256(accessToken))) {
        return refuse('ath does not match the access token');
      }
      if (nonces && claims.nonce !== checker.nonce) {
        return { error: 'use_dpop_nonce', description: 'the proof must carry the current nonce of the server' };
      }
      seen.add(claims.jti);
      const jkt = await sha256(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }));
      return { jkt, jti: claims.jti };
    },
    reset() {
      seen.clear();
      checker.rotateNonce();
    },
  };
  return checker;
}

export const isRefusal = (value: CheckedProof | ProofRefusal): value is ProofRefusal => 'error' in value;
