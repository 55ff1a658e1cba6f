import { bearerChallenge, type Challenge } from '../challenge.js';
import type { UnauthenticatedReason } from '../errors.js';
import type { Emit } from '../events.js';
import type { ProofSigner } from './binder.js';

/** What `auth.getAccessToken` may return: a token, or nothing to send no `Authorization` header. */
export type MaybeToken = string | null | undefined;

/** A token handed to one send, with the generation it belongs to (bumped by every refresh or `setTokens`). */
export interface TokenGrant {
  token: string;
  generation: number;
  /** Set when this token comes straight from a refresh (for the `replay` event). */
  refreshed?: boolean;
}

/** Why no token could be had; the layer turns it into an `UnauthenticatedError`. */
export interface AuthFailure {
  failure: UnauthenticatedReason;
  cause?: unknown;
  acrValues?: readonly string[];
  maxAge?: number;
}

export const isFailure = (value: unknown): value is AuthFailure =>
  typeof value === 'object' && value !== null && 'failure' in value;

/**
 * Where the auth layer gets tokens. The layer owns origins, attaching and error mapping; a session owns
 * token state and refresh.
 */
export interface AuthSession {
  /** A client using this session wants its events (refreshes, token updates). */
  subscribe?(emit: Emit): void;
  /** The client binds tokens with `auth.dpop`: refreshes get its proofs, and 401s carry DPoP challenges. */
  bind?(signer: ProofSigner): void;
  /** The token for a send now: waits for a running (or due, proactive) refresh; a failure when signed out. */
  acquire(signal: AbortSignal | undefined): Promise<TokenGrant | AuthFailure | undefined>;
  /** A send that carried `rejected` got a 401 with `challenges`: a token to replay with, or why there is none. */
  recover(
    rejected: TokenGrant,
    challenges: readonly Challenge[],
    signal: AbortSignal | undefined,
  ): Promise<TokenGrant | AuthFailure>;
  /** Whether this failure starts a new unauthenticated episode (so `onUnauthenticated` fires once per episode). */
  claimEpisode(reason: UnauthenticatedReason): boolean;
  /** A response other than 401 came back for a send that carried `accepted`. */
  confirm?(accepted: TokenGrant): void;
  /** The replay after a refresh got a 401 too: the token fresh from the refresh is refused. */
  rejectedAfterRefresh?(rejected: TokenGrant): Promise<void>;
}

/** A session over a user-supplied `getAccessToken`: no refresh, so a 401 ends in `no_refresh`. */
export function createAccessTokenSession(
  getAccessToken: (() => MaybeToken | Promise<MaybeToken>) | undefined,
): AuthSession {
  let lastToken: string | undefined;
  let generation = 0;
  const episodes = createEpisodes();
  return {
    async acquire() {
      const token = (await getAccessToken?.()) ?? undefined;
      if (!token) return undefined;
      if (token !== lastToken) {
        lastToken = token;
        generation += 1;
        episodes.reset();
      }
      return { token, generation };
    },
    async recover() {
      return { failure: 'no_refresh' };
    },
    claimEpisode: episodes.claim,
  };
}

/**
 * Unauthenticated episodes, each closed by new tokens. A step-up demand and an unsupported challenge concern one
 * resource, not the session: they are episodes of their own, so dismissing a step-up prompt never swallows the
 * later "sign in again".
 */
export function createEpisodes(): { claim(reason: UnauthenticatedReason): boolean; reset(): void } {
  const open = new Set<string>();
  return {
    claim(reason) {
      const kind = reason === 'step_up_required' || reason === 'unsupported_challenge' ? reason : 'session';
      if (open.has(kind)) return false;
      open.add(kind);
      return true;
    },
    reset() {
      open.clear();
    },
  };
}

/** The RFC 9470 step-up demand among a 401's challenges, as a failure, or undefined. */
export function stepUpDemand(challenges: readonly Challenge[]): AuthFailure | undefined {
  const bearer = bearerChallenge(challenges);
  if (bearer?.error !== 'insufficient_user_authentication') return undefined;
  return {
    failure: 'step_up_required',
    ...(bearer.acrValues ? { acrValues: bearer.acrValues } : {}),
    ...(bearer.maxAge !== undefined ? { maxAge: bearer.maxAge } : {}),
  };
}
