import { createEpisodes, type TokenGrant } from '../auth/session.js';
import { lifeOf, type TokenSet } from './tokens.js';

/**
 * The tokens a session holds and what is known about them. Every change of tokens bumps `generation`, so a send can
 * tell whether the token it carried is still the current one.
 */
export class TokenState {
  tokens: TokenSet | undefined;
  generation = 0;
  /** The generation a refresh produced and no response has yet accepted. */
  unconfirmed: number | undefined;
  /** The generation whose token the server refused (401) and no refresh has replaced yet. */
  refused: number | undefined;
  signedOut = false;
  readonly episodes = createEpisodes();
  /** When the current token was issued, if known: a short-lived token is refreshed at half its life, not at once. */
  #issuedAt: number | undefined;
  /** Expiry of the current access token, decoded once per token rather than once per request. */
  #expiry: number | undefined;
  readonly #now: () => number;
  /** The last access tokens this session moved past, oldest first. */
  readonly #replaced: string[] = [];

  constructor(now: () => number) {
    this.#now = now;
  }

  adopt(next: TokenSet): void {
    if (this.tokens && this.tokens.accessToken !== next.accessToken) {
      this.#replaced.push(this.tokens.accessToken);
      if (this.#replaced.length > 8) this.#replaced.shift();
    }
    this.tokens = next;
    ({ expiresAt: this.#expiry, issuedAt: this.#issuedAt } = lifeOf(next));
    this.generation += 1;
    this.signedOut = false;
    this.episodes.reset();
  }

  /** Forget the tokens: requests that need one fail fast until new ones are adopted. */
  forget(): void {
    this.tokens = undefined;
    this.signedOut = true;
    this.generation += 1;
  }

  /**
   * Whether this session already moved past `accessToken`: a shared state holding it is older than this session (it
   * refreshed while the coordination was unreachable), not another holder's newer result.
   */
  replaced(accessToken: string): boolean {
    return this.#replaced.includes(accessToken);
  }

  grant(): TokenGrant | undefined {
    return this.tokens ? { token: this.tokens.accessToken, generation: this.generation } : undefined;
  }

  /** Whether the current token may still be sent although no refresh replaced it: not refused, not known expired. */
  usable(): boolean {
    return (
      !this.signedOut &&
      this.tokens !== undefined &&
      this.refused !== this.generation &&
      (this.#expiry ?? Number.POSITIVE_INFINITY) > this.#now()
    );
  }

  /**
   * Whether the current token should be refreshed before it is sent. A token's life counts from its issue
   * (`issuedAt`, the JWT `iat`, or the moment a refresh returned it), never from when this session adopted it: a token
   * restored with 1 s left of 15 minutes is due, not a 1-second token. Where the issue time is unknown, the leeway
   * applies as is.
   */
  due(leewayMs: number): boolean {
    const expiry = this.#expiry;
    if (expiry === undefined) return false;
    const issuedAt = this.#issuedAt;
    const leeway = issuedAt === undefined ? leewayMs : Math.min(leewayMs, (expiry - issuedAt) / 2);
    return expiry - this.#now() <= leeway;
  }

  /**
   * A token just issued cannot have expired: this clock disagrees with the issuer's. Its expiry would make every
   * request refresh again, so rely on the server's 401 for this token instead.
   */
  distrustPastExpiry(): void {
    if (this.#expiry !== undefined && this.#expiry <= this.#now()) this.#expiry = undefined;
  }
}
