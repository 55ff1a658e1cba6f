import { shortUrl } from './timeline.js';

/**
 * What the event log shows of DPoP. apifetch emits no DPoP events, so the demo watches the page's `fetch`, which
 * both the client and `dpop.fetch` (sign-in, refresh) send with: the `DPoP` proof of each send and the `DPoP-Nonce`
 * of each answer. A proof's claims are public (its signature and the token are never shown).
 */
export type DpopLogType = 'dpop:proof' | 'dpop:nonce-demand' | 'dpop:nonce' | 'dpop:refused';

/** `abcdefgh…`: enough to tell two values apart. */
export const shorten = (value: unknown) =>
  typeof value !== 'string' ? '(none)' : value.length > 10 ? `${value.slice(0, 8)}\u2026` : value;

function claimsOf(proof: string): Record<string, unknown> {
  try {
    const part = (proof.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part)) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** `fetch`, logging the DPoP proofs it sends and the nonces it receives through `log`. */
export function watchDpop(
  fetch: typeof globalThis.fetch,
  log: (type: DpopLogType, text: string) => void,
): typeof globalThis.fetch {
  /** `htm htu` → the nonce the server demanded for it: the next proof for it carrying that nonce is the retry. */
  const demanded = new Map<string, string>();
  let lastNonce: string | undefined;
  return async (input, init) => {
    const request = input instanceof Request ? input : undefined;
    const proof = new Headers(init?.headers ?? request?.headers).get('dpop');
    const method = (init?.method ?? request?.method ?? 'GET').toUpperCase();
    const url = request?.url ?? String(input);
    const target = `${method} ${shortUrl(url)}`;
    let key: string | undefined;
    if (proof) {
      const claims = claimsOf(proof);
      key = `${claims.htm} ${claims.htu}`;
      const retry = demanded.get(key) !== undefined && demanded.get(key) === claims.nonce;
      demanded.delete(key);
      log(
        'dpop:proof',
        `${target} · proof jti ${shorten(claims.jti)} · htm ${claims.htm} · htu ${shortUrl(String(claims.htu))} · ` +
          `nonce ${shorten(claims.nonce)}${claims.ath === undefined ? '' : ` · ath ${shorten(claims.ath)}`}` +
          (retry ? ' · the one retry, with the demanded nonce' : ''),
      );
    }
    const response = await fetch(input, init);
    const nonce = response.headers.get('dpop-nonce') ?? undefined;
    const challenge = response.headers.get('www-authenticate') ?? '';
    const error =
      response.status === 401
        ? /error="([^"]+)"/.exec(challenge)?.[1]
        : response.status === 400 && nonce
          ? (
              (await response
                .clone()
                .json()
                .catch(() => ({}))) as { error?: string }
            ).error
          : undefined;
    if (error === 'use_dpop_nonce' && nonce) {
      if (key) demanded.set(key, nonce);
      log('dpop:nonce-demand', `${target} → ${response.status} use_dpop_nonce · server nonce ${shorten(nonce)}`);
    } else if (error === 'invalid_dpop_proof') {
      log('dpop:refused', `${target} → ${response.status} invalid_dpop_proof`);
    } else if (nonce && nonce !== lastNonce) {
      log('dpop:nonce', `${target} → ${response.status} · server nonce ${shorten(nonce)}, used by the next proofs`);
    }
    if (nonce) lastNonce = nonce;
    return response;
  };
}
