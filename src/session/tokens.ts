import { jwtDecode } from 'jwt-decode';

/** The tokens of a signed-in user. */
export interface TokenSet {
  /** Sent as `Authorization: Bearer <accessToken>`. */
  accessToken: string;
  /** Handed to the session's `refresh`; apifetch never sends it anywhere itself. */
  refreshToken?: string | undefined;
  /** Expiry of the access token in epoch ms; when absent, the JWT `exp` claim is used if there is one. */
  expiresAt?: number | undefined;
  /**
   * When the access token was issued, in epoch ms; when absent, the JWT `iat` claim. apifetch sets it on tokens a
   * refresh returns without either, so a token restored later (a reload, another tab) is judged by its real life.
   */
  issuedAt?: number | undefined;
}

type MaybePromise<T> = T | Promise<T>;

/** Where tokens live. Methods may be sync or async; a store that throws never breaks a request. */
export interface TokenStore {
  /** The stored tokens, or nothing when signed out. */
  get(): MaybePromise<TokenSet | null | undefined>;
  /** Replace the stored tokens. */
  set(tokens: TokenSet): MaybePromise<void>;
  /** Forget the tokens (sign-out). */
  clear(): MaybePromise<void>;
  /** Optional: a key that names this store, so tabs sharing it can coordinate (Web Locks, BroadcastChannel). */
  readonly key?: string;
}

/** Keeps tokens in memory: gone on reload. The default store. */
export function memoryTokenStore(initial?: TokenSet): TokenStore {
  let tokens = initial;
  return {
    get: () => tokens,
    set: (next) => {
      tokens = next;
    },
    clear: () => {
      tokens = undefined;
    },
  };
}

/** How error messages describe a `TokenSet`. */
export const tokenSetShape = 'a TokenSet ({ accessToken, refreshToken?, expiresAt?, issuedAt? })';

/** What is wrong with `value` as a `TokenSet`, naming the field; undefined when it is one. */
export function tokenSetProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'not an object';
  const v = value as Record<string, unknown>;
  if (typeof v.accessToken !== 'string' || v.accessToken === '') return '`accessToken` is not a non-empty string';
  if (v.refreshToken !== undefined && typeof v.refreshToken !== 'string') {
    return '`refreshToken` is neither a string nor undefined';
  }
  for (const field of ['expiresAt', 'issuedAt'] as const) {
    const time = v[field];
    if (time !== undefined && (typeof time !== 'number' || !Number.isFinite(time))) {
      return `\`${field}\` is neither a finite number (epoch ms) nor undefined`;
    }
  }
  return undefined;
}

/** True when `value` has the shape of a `TokenSet`. */
export const isTokenSet = (value: unknown): value is TokenSet => tokenSetProblem(value) === undefined;

/** The part of the Web Storage API a `storageTokenStore` uses. */
export type TokenStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

/**
 * Keeps tokens as JSON under `key` in a Web Storage (`localStorage`, `sessionStorage`). Corrupt or foreign JSON,
 * a full quota or a disabled storage make the operation throw, which the client reports (`store:fallback`) before
 * falling back to memory. Pass a function (`() => localStorage`) where merely reading `localStorage` can throw
 * (storage disabled by the browser's settings), so that this too ends in the fallback rather than at start-up.
 * @example storageTokenStore(() => localStorage, 'tokens')
 */
export function storageTokenStore(storage: TokenStorage | (() => TokenStorage), key: string): TokenStore {
  const area = typeof storage === 'function' ? storage : () => storage;
  return {
    key,
    get() {
      const raw = area().getItem(key);
      if (raw === null) return undefined;
      const parsed: unknown = JSON.parse(raw);
      if (!isTokenSet(parsed)) throw new TypeError(`stored value under "${key}" is not a token set`);
      return parsed;
    },
    set(tokens) {
      area().setItem(key, JSON.stringify(tokens));
    },
    clear() {
      area().removeItem(key);
    },
  };
}

/** The life of an access token in epoch ms, each part undefined where unknown (an opaque or bad token). */
export interface TokenLife {
  /** `expiresAt`, else the JWT `exp`. */
  expiresAt: number | undefined;
  /** `issuedAt`, else the JWT `iat`. */
  issuedAt: number | undefined;
}

const claimMs = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value * 1000 : undefined);

/** Expiry and issue time of the access token, from the token set's fields, else its JWT claims. */
export function lifeOf(tokens: TokenSet): TokenLife {
  if (tokens.expiresAt !== undefined && tokens.issuedAt !== undefined) {
    return { expiresAt: tokens.expiresAt, issuedAt: tokens.issuedAt };
  }
  let claims: { exp?: unknown; iat?: unknown } = {};
  try {
    claims = jwtDecode(tokens.accessToken);
  } catch {
    // Opaque: nothing more is known.
  }
  return { expiresAt: tokens.expiresAt ?? claimMs(claims.exp), issuedAt: tokens.issuedAt ?? claimMs(claims.iat) };
}
