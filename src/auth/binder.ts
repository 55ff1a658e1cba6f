/**
 * What the auth layer knows of a sender constraint (DPoP, RFC 9449): an app passes one as `auth.dpop` from its own
 * import (`createDpop` from `apifetch/dpop`), so the core never imports the DPoP code and apps without it pay nothing.
 */

/** One network send, as the auth layer makes it: `authorized` tells whether `request` carries the token. */
export type SendFunction = (request: Request, init: RequestInit, authorized: boolean) => Promise<Response>;

/** Proofs for the app's own token requests, handed to `refresh` as `ctx.dpop` (and usable for the sign-in). */
export interface ProofSigner {
  /**
   * `fetch` for a token endpoint: each send carries a fresh proof (no `ath`) with the origin's last nonce, and a
   * `400 use_dpop_nonce` is answered by one retry with the nonce the server sent.
   */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** A fresh proof JWT for `htm` and `htu` (query and fragment are dropped), with `ath` when `accessToken` is given. */
  proof(htm: string, htu: string | URL, accessToken?: string): Promise<string>;
  /** The JWK SHA-256 thumbprint of the public key (the authorization request's `dpop_jkt`, the token's `cnf.jkt`). */
  thumbprint(): Promise<string>;
}

/** A sender constraint as the auth layer sees it. */
export interface TokenBinder extends ProofSigner {
  /** The `Authorization` scheme of bound tokens. */
  readonly scheme: 'DPoP';
  /**
   * Send `request` (which never holds the token) with `token` bound to it, on copies: the `Authorization` header and
   * a fresh proof per send, nonces, and redirects followed so that nothing reaches an origin for which
   * `mayReceiveToken` is false. Throws a typed error for a refusal that no refresh can fix.
   */
  send(
    send: SendFunction,
    mayReceiveToken: (url: string) => boolean,
    request: Request,
    init: RequestInit,
    token: string,
  ): Promise<Response>;
}

/**
 * Where a DPoP key pair lives. `getOrCreate` returns the stored pair, or stores and returns `create()`'s: atomically
 * where several holders share the store (browser tabs), so that they all sign with one key.
 */
export interface DpopKeyStore {
  /** The stored key pair, or `create()`'s, stored first. */
  getOrCreate(create: () => Promise<CryptoKeyPair>): Promise<CryptoKeyPair>;
}
