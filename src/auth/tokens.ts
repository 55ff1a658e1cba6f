import { jwtDecode } from 'jwt-decode';

/** The tokens of a signed-in user. */
export interface TokenSet {
  /** Sent as `Authorization: Bearer <accessToken>`. */
  accessToken: string;
  /** Handed to `auth.refresh`; apifetch never sends it anywhere itself. */
  refreshToken?: string;
  /** Expiry of the access token in epoch ms; when absent, the JWT `exp` claim is used if there is one. */
  expiresAt?: number;
}

type MaybePromise<T> = T | Promise<T>;

/** Where tokens live. Methods may be sync or async; a store that throws never breaks a request. */
export interface TokenStore {
  get(): MaybePromise<TokenSet | null | undefined>;
  set(tokens: TokenSet): MaybePromise<void>;
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
export const tokenSetShape = 'a TokenSet ({ accessToken, refreshToken?, expiresAt? })';

/** True when `value` has the shape of a `TokenSet`. */
export function isTokenSet(value: unknown): value is TokenSet {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.accessToken === 'string' &&
    v.accessToken !== '' &&
    (v.refreshToken === undefined || typeof v.refreshToken === 'string') &&
    (v.expiresAt === undefined || (typeof v.expiresAt === 'number' && Number.isFinite(v.expiresAt)))
  );
}

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

/** Expiry of the access token in epoch ms: `expiresAt`, else the JWT `exp`; undefined for an opaque or bad token. */
export function expiryOf(tokens: TokenSet): number | undefined {
  if (tokens.expiresAt !== undefined) return tokens.expiresAt;
  try {
    const { exp } = jwtDecode(tokens.accessToken);
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
