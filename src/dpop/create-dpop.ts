import { calculateThumbprint, generateKeyPair, generateProof } from 'dpop';
import type { TokenBinder } from '../auth/binder.js';
import { originOf } from '../auth/origins.js';
// Through the core's entry, so that the build shares the core's chunks as they are and adds none of its own.
import { dpopChallenge, parseChallenges } from '../index.js';
import { type DpopOptions, resolveDpopOptions } from '../options.js';
import { DPoPError, type DPoPErrorReason } from './errors.js';

/** The JWS `alg` of a key pair's WebCrypto algorithm. */
const algs: Record<string, string> = {
  ECDSA: 'ES256',
  Ed25519: 'Ed25519',
  'RSA-PSS': 'PS256',
  'RSASSA-PKCS1-v1_5': 'RS256',
};

/**
 * Where a redirect's response can be read (Node, Deno, Bun), redirects of DPoP requests are followed here, each hop
 * with a proof of its own, and none to an origin that may not receive the token. A browser hides redirect responses
 * (`opaqueredirect`): it follows them itself, drops `Authorization` across origins, and sends the `DPoP` header on
 * only where that origin's CORS allows it.
 */
const readableRedirects =
  typeof (globalThis as { process?: { versions?: { node?: unknown } } }).process?.versions?.node === 'string';

const discard = (response: Response) => void response.body?.cancel().catch(() => {});

/** The request to send for a redirect's `Location`, as fetch would build it (RFC 9110 §15.4). */
function redirected(request: Request, spare: Request, response: Response): Request | undefined {
  const location = response.headers.get('location');
  if (location === null || ![301, 302, 303, 307, 308].includes(response.status)) return undefined;
  const url = new URL(location, request.url);
  const keepsBody =
    response.status === 307 || response.status === 308 || (response.status !== 303 && request.method !== 'POST');
  const method = keepsBody || request.method === 'HEAD' ? request.method : 'GET';
  const headers = new Headers(request.headers);
  if (!keepsBody) for (const name of ['content-type', 'content-length', 'content-encoding']) headers.delete(name);
  return new Request(url, {
    method,
    headers,
    body: keepsBody ? spare.body : null,
    signal: request.signal,
    ...(keepsBody && spare.body ? { duplex: 'half' } : {}),
  } as RequestInit);
}

/**
 * DPoP (RFC 9449) for a client: pass it as `auth.dpop`. Tokens are then bound to this key pair (ES256, private key
 * non-extractable): every request to an origin that receives the token carries `Authorization: DPoP <token>` and a
 * fresh proof (`htm`, `htu`, `iat`, a unique `jti`, `ath`, and the origin's last `DPoP-Nonce`). A `use_dpop_nonce`
 * is answered by one retry with the server's nonce, never a refresh. `fetch` sends the app's own token requests
 * with a proof (also given to a session's `refresh` as `ctx.dpop`).
 * @example
 * const dpop = createDpop({ store: indexedDbKeyStore('tokens') });
 * const api = createApiFetch({ baseUrl, auth: { session, dpop } });
 */
export function createDpop(options: DpopOptions = {}): TokenBinder {
  const { key, store } = resolveDpopOptions(options);
  const create = () => generateKeyPair('ES256') as Promise<CryptoKeyPair>;
  let keyPair: Promise<CryptoKeyPair> | undefined;
  const keys = () => {
    keyPair ??= key ? Promise.resolve(key) : store ? store.getOrCreate(create) : create();
    // A failed load (IndexedDB refused) is tried again by the next request.
    keyPair.catch(() => {
      keyPair = undefined;
    });
    return keyPair;
  };
  /** The last `DPoP-Nonce` of each origin. */
  const nonces = new Map<string, string>();
  const remember = (url: string, response: Response) => {
    const nonce = response.headers.get('dpop-nonce');
    if (nonce) nonces.set(originOf(url), nonce);
  };
  const proof = async (htm: string, htu: string | URL, accessToken?: string) => {
    const url = String(htu);
    return generateProof(
      (await keys()) as Parameters<typeof generateProof>[0],
      url.replace(/[?#].*$/s, ''),
      htm.toUpperCase(),
      nonces.get(originOf(url)),
      accessToken,
    );
  };
  const withProof = async (request: Request, token?: string) => {
    const headers = new Headers(request.headers);
    headers.set('dpop', await proof(request.method, request.url, token));
    if (token) headers.set('authorization', `DPoP ${token}`);
    return new Request(request, { headers });
  };
  const alg = async () => algs[(await keys()).privateKey.algorithm.name] ?? 'ES256';

  /** What a response refuses for good, if anything; `use_dpop_nonce` when the server wants its nonce. */
  const refusal = async (response: Response): Promise<DPoPErrorReason | 'nonce' | undefined> => {
    if (response.status !== 401 && response.status !== 400) return undefined;
    const challenge = dpopChallenge(parseChallenges(response));
    if (challenge?.error === 'use_dpop_nonce') return 'nonce';
    if (challenge?.error === 'invalid_dpop_proof') return 'invalid_dpop_proof';
    if (response.status === 401 && challenge?.algs.length && !challenge.algs.includes(await alg())) {
      return 'unsupported_algorithm';
    }
    return undefined;
  };
  /** End the call: no refresh, no retry, no replay (the retry layer never retries a 400 or 401). */
  const fail = async (request: Request, response: Response, reason: DPoPErrorReason): Promise<never> => {
    discard(response);
    const challenges = parseChallenges(response);
    const listed = dpopChallenge(challenges)?.algs ?? [];
    throw new DPoPError({ response, request, challenges, reason, alg: await alg(), algs: listed });
  };

  return {
    scheme: 'DPoP',
    proof,
    thumbprint: async () => calculateThumbprint((await keys()).publicKey as Parameters<typeof calculateThumbprint>[0]),

    async send(send, mayReceiveToken, request, init, token) {
      const follow = readableRedirects && (init.redirect ?? request.redirect) === 'follow';
      const sendInit: RequestInit = follow ? { ...init, redirect: 'manual' } : init;
      let current = request;
      for (let hops = 0; ; hops++) {
        let spare = current.body === null ? current : current.clone();
        let response = await send(await withProof(current, token), sendInit, true);
        remember(current.url, response);
        let refused = await refusal(response);
        if (refused === 'nonce') {
          // One retry with the nonce the server just sent; a second demand is final.
          discard(response);
          const retry = spare;
          spare = retry.body === null ? retry : retry.clone();
          response = await send(await withProof(retry, token), sendInit, true);
          remember(current.url, response);
          refused = await refusal(response);
          if (refused === 'nonce') return fail(request, response, 'use_dpop_nonce');
        }
        if (refused) return fail(request, response, refused);
        const next = follow ? redirected(current, spare, response) : undefined;
        if (!next) return response;
        if (hops >= 20) throw new TypeError('fetch failed: redirect count exceeded');
        discard(response);
        if (!mayReceiveToken(next.url)) {
          // Leaving the origins that receive the token: neither the token nor a proof goes along.
          next.headers.delete('authorization');
          next.headers.delete('dpop');
          return send(next, { ...init, redirect: 'follow' }, false);
        }
        current = next;
      }
    },

    async fetch(input, init) {
      const request = new Request(input, init);
      const spare = request.body === null ? request : request.clone();
      const response = await globalThis.fetch(await withProof(request));
      remember(request.url, response);
      if (response.status !== 400 || !response.headers.has('dpop-nonce')) return response;
      // RFC 9449 §8: the token endpoint asks for a nonce with `400 {"error":"use_dpop_nonce"}`.
      const body = (await response
        .clone()
        .json()
        .catch(() => undefined)) as { error?: unknown } | undefined;
      if (body?.error !== 'use_dpop_nonce') return response;
      discard(response);
      const retried = await globalThis.fetch(await withProof(spare));
      remember(request.url, retried);
      return retried;
    },
  };
}
