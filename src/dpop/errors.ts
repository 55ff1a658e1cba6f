import { ApiFetchHTTPError, type HttpErrorInit } from '../errors.js';

/**
 * Why a DPoP request failed for good.
 * - `use_dpop_nonce`: the server asked for a new nonce again right after the retry with the one it sent.
 * - `invalid_dpop_proof`: the server refused the proof (a clock far off, a key or algorithm it does not accept).
 * - `unsupported_algorithm`: the server's DPoP challenge lists `algs` that do not include the key's algorithm.
 */
export type DPoPErrorReason = 'use_dpop_nonce' | 'invalid_dpop_proof' | 'unsupported_algorithm';

const explain: Record<DPoPErrorReason, string> = {
  use_dpop_nonce: 'the server asked for a new nonce twice in a row',
  invalid_dpop_proof: 'the server refused the proof',
  unsupported_algorithm: 'the server accepts none of the key’s algorithm',
};

/**
 * A DPoP request the server refused in a way no refresh or retry can fix. Never retried; never holds the token, the
 * proof or the key. A ky `HTTPError`, like the other apifetch errors.
 */
export class DPoPError extends ApiFetchHTTPError {
  /** Literal, so it survives minification: what `isDPoPError` matches across bundles. */
  override readonly name = 'DPoPError' as const;
  /** `ERR_DPOP`. */
  readonly code = 'ERR_DPOP' as const;
  readonly retryable = false;
  /** What the server refused: see `DPoPErrorReason`. */
  readonly reason: DPoPErrorReason;
  /** The algorithm the key signs with (`ES256` unless the app supplied another key). */
  readonly alg: string;
  /** The algorithms the server's DPoP challenge lists (`algs`), when it listed any. */
  readonly algs: readonly string[];

  constructor(init: HttpErrorInit & { reason: DPoPErrorReason; alg: string; algs: readonly string[] }) {
    const detail =
      init.reason === 'unsupported_algorithm'
        ? `${explain[init.reason]} (${init.alg}); it lists ${init.algs.join(', ')}: supply a key of one of these (createDpop({ key }))`
        : explain[init.reason];
    super(init, `${init.response.status} DPoP ${init.reason}: ${detail}`);
    this.reason = init.reason;
    this.alg = init.alg;
    this.algs = init.algs;
  }
}

/** True for a `DPoPError`, across bundles and realms. */
export const isDPoPError = (error: unknown): error is DPoPError =>
  error instanceof DPoPError ||
  (typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'DPoPError');
