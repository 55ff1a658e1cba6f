import { abortable } from '../abortable.js';
import type { Challenge } from '../challenge.js';
import type { NegotiateOptions, ProxyCredentialsCallback, ProxyIdentity } from '../options.js';
import { type Choice, chooseScheme, connectionBound, publicChallenges, type SchemeName } from './choose.js';
import { type DigestChallenge, digestAuthorization } from './digest.js';
import { type NegotiateLeg, startNegotiate } from './negotiate.js';
import { ntlmAuthenticate, ntlmNegotiate, parseNtlmChallenge } from './ntlm.js';
import { loadHashWasm } from './optional-peers.js';

/** Why proxy authentication ended without success; `createProxyFetch` turns it into `ProxyAuthenticationError`. */
export class ProxyAuthFailure extends Error {
  override readonly name = 'ProxyAuthFailure';
  /** The proxy's challenges, parsed. */
  readonly challenges: Challenge[];
  /** The proxy's `Proxy-Authenticate` values. */
  readonly headers: readonly string[];

  constructor(message: string, challenges: Challenge[], headers: readonly string[] = [], cause?: Error) {
    super(message, cause ? { cause } : undefined);
    this.challenges = challenges;
    this.headers = headers;
  }

  /** The same failure with NTLM and Negotiate handshake tokens left out, fit for errors and events. */
  toPublic(): ProxyAuthFailure {
    return new ProxyAuthFailure(
      this.message,
      publicChallenges(this.challenges),
      this.headers.map((value) => value.replace(/\b(NTLM|Negotiate)\s+[\w+/=.~-]+/gi, '$1')),
      this.cause instanceof Error ? this.cause : undefined,
    );
  }
}

type RoundResult = { identity: ProxyIdentity } | { none: true } | { failed: Error };

/** One Digest nonce and its use count. Used by one request at a time, so counts reach the proxy in order. */
class DigestSession {
  private nc = 0;
  constructor(
    readonly challenge: DigestChallenge,
    readonly identity: ProxyIdentity,
    readonly round: number,
  ) {}
  header(method: string, uri: string): string {
    const { username, password } = this.identity;
    return digestAuthorization({ challenge: this.challenge, username, password, method, uri, nc: ++this.nc });
  }
}

/** One authentication of one connection (CONNECT, or a forwarding connection) or of one forwarded request. */
export class Attempt {
  scheme: SchemeName | undefined;
  /** The round whose identity the last answer carried. */
  answered: number | undefined;
  /** The round whose identity the proxy refused. */
  refused: number | undefined;
  basic: string | undefined;
  digest: DigestSession | undefined;
  ntlmSent = false;
  negotiate: NegotiateLeg | undefined;
  stale = 0;
  /** The answer computed for the next dispatch of a forwarded request (its Digest count is already spent). */
  next: string | undefined;
  /** Whether a forwarded request of this attempt was dispatched: the first may lead with a known scheme. */
  sent = false;
  /** Schemes that failed on this attempt (Negotiate without a ticket, a handshake the proxy cut short). */
  readonly skip = new Set<SchemeName>();
  /** Why a scheme offered was skipped for want of an optional peer (NTLM without `hash-wasm`), for the failure. */
  unavailable: Error | undefined;
  constructor(readonly startRound: number) {}
}

/** How an answer to a 407 goes on. */
export type Next = { header: string } | { bound: SchemeName };

const maxStaleRetries = 2;
const maxIdleDigest = 64;

const basicHeader = ({ username, password }: ProxyIdentity) =>
  `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;

/**
 * Authentication state for one proxy: the `credentials` rounds (one call for every request refused meanwhile), the
 * scheme that worked last (sent up front on new connections), and idle Digest nonces. Secrets stay in here: failures
 * carry only the challenges and a reason.
 */
export class ProxyAuth {
  private rounds = 0;
  private inFlight: Promise<RoundResult> | undefined;
  private last: { round: number; result: RoundResult } | undefined;
  private preferred: SchemeName | undefined;
  private readonly idleDigest: DigestSession[] = [];

  constructor(
    private readonly proxy: URL,
    private readonly options: {
      credentials: ProxyCredentialsCallback | undefined;
      credentialsTimeoutMs: number;
      negotiate: NegotiateOptions | false;
      /** An identity known before any 407 (the proxy URL's), sent as Basic up front as curl does. */
      upfront?: ProxyIdentity;
    },
  ) {
    if (options.upfront) {
      this.last = { round: 0, result: { identity: options.upfront } };
      this.preferred = 'basic';
    }
  }

  newAttempt(): Attempt {
    return new Attempt(this.rounds);
  }

  /**
   * A Basic or Digest header to send before any 407 when that scheme worked last (Basic with the known identity,
   * Digest with an idle nonce, counted on), or undefined.
   */
  private reuse(attempt: Attempt, method: string, uri: string): string | undefined {
    const cached = this.last;
    if (!cached || !('identity' in cached.result)) return undefined;
    if (this.preferred === 'basic') {
      attempt.scheme = 'basic';
      attempt.answered = cached.round;
      attempt.basic = basicHeader(cached.result.identity);
      return attempt.basic;
    }
    if (this.preferred === 'digest') {
      const session = this.idleDigest.pop();
      if (!session || session.round !== cached.round) return undefined;
      attempt.scheme = 'digest';
      attempt.answered = session.round;
      attempt.digest = session;
      return session.header(method, uri);
    }
    return undefined;
  }

  /** A header to send on a new connection before any 407, from the scheme that worked last, or undefined. */
  async upfront(attempt: Attempt, method: string, uri: string): Promise<string | undefined> {
    if (this.preferred === 'ntlm') {
      attempt.scheme = 'ntlm';
      attempt.ntlmSent = true;
      return `NTLM ${ntlmNegotiate()}`;
    }
    if (this.preferred === 'negotiate' && this.options.negotiate) {
      const leg = await startNegotiate(this.proxy, this.options.negotiate);
      if (!leg) return undefined;
      attempt.scheme = 'negotiate';
      attempt.negotiate = leg;
      return `Negotiate ${leg.token}`;
    }
    return this.reuse(attempt, method, uri);
  }

  /** The header for one forwarded request of `attempt` (Digest counts each use), or undefined. */
  requestHeader(attempt: Attempt, method: string, uri: string): string | undefined {
    if (!attempt.sent) {
      attempt.sent = true;
      if (!this.bound) return this.reuse(attempt, method, uri);
    }
    const next = attempt.next;
    attempt.next = undefined;
    if (next !== undefined) return next;
    if (attempt.scheme === 'digest') return attempt.digest?.header(method, uri);
    if (attempt.scheme === 'basic') return attempt.basic;
    return undefined;
  }

  /** The proxy accepted `attempt`: lead with its scheme next time, and keep its Digest nonce for reuse. */
  succeeded(attempt: Attempt): void {
    if (attempt.scheme) this.preferred = attempt.scheme;
    if (attempt.digest && this.idleDigest.length < maxIdleDigest) this.idleDigest.push(attempt.digest);
    attempt.digest = undefined;
  }

  /**
   * The answer to a 407: the next leg of a connection-bound handshake, the same identity with a fresh Digest nonce
   * (`stale=true`), or the strongest scheme offered. `bound` (only when `canBind` is false) means the scheme must run
   * on a connection of its own. Throws `ProxyAuthFailure` when there is nothing more to try.
   */
  async answer(
    attempt: Attempt,
    challenges: Challenge[],
    request: { method: string; uri: string; keepAlive: boolean; canBind: boolean; signal?: AbortSignal | undefined },
  ): Promise<Next> {
    const { method, uri, keepAlive, signal } = request;
    if (attempt.scheme === 'ntlm' && attempt.ntlmSent && attempt.answered === undefined) {
      const token = challenges.find((c) => c.scheme === 'ntlm' && c.token68)?.token68;
      const message = token === undefined ? undefined : parseNtlmChallenge(token);
      if (message && keepAlive) {
        const { identity, round } = await this.identity(attempt, challenges, signal);
        attempt.answered = round;
        const ntlmIdentity = {
          username: identity.username,
          password: identity.password,
          domain: identity.domain ?? '',
        };
        return { header: `NTLM ${await ntlmAuthenticate(message, ntlmIdentity)}` };
      }
      attempt.skip.add('ntlm');
    }
    if (attempt.scheme === 'negotiate' && attempt.negotiate) {
      const token = challenges.find((c) => c.scheme === 'negotiate' && c.token68)?.token68;
      const next = token !== undefined && keepAlive ? await attempt.negotiate.next(token) : null;
      if (next) return { header: `Negotiate ${next}` };
      // Refused, or the context cannot go on: fall back to the next scheme.
      attempt.negotiate = undefined;
      attempt.skip.add('negotiate');
    }
    if (attempt.scheme === 'digest' && attempt.digest && attempt.stale < maxStaleRetries) {
      const fresh = chooseScheme(challenges, new Set(['negotiate', 'ntlm', 'basic']));
      if (fresh?.scheme === 'digest' && fresh.digest.stale) {
        attempt.stale += 1;
        const { identity, round } = attempt.digest;
        attempt.digest = new DigestSession(fresh.digest, identity, round);
        attempt.next = attempt.digest.header(method, uri);
        return { header: attempt.next };
      }
    }
    if (attempt.answered !== undefined) {
      attempt.refused = attempt.answered;
      attempt.answered = undefined;
    }
    attempt.ntlmSent = false;
    attempt.digest = undefined;
    for (;;) {
      const choice: Choice | undefined = chooseScheme(challenges, attempt.skip);
      if (!choice) {
        if (attempt.refused !== undefined) {
          throw new ProxyAuthFailure('proxy authentication failed: credentials refused', challenges);
        }
        // The package to install, when one would have made an offered scheme possible.
        const message = 'proxy authentication failed: no scheme apifetch can answer';
        throw new ProxyAuthFailure(message, challenges, [], attempt.unavailable);
      }
      attempt.scheme = choice.scheme;
      if (choice.scheme === 'negotiate') {
        const leg = this.options.negotiate ? await startNegotiate(this.proxy, this.options.negotiate) : undefined;
        if (!leg) {
          attempt.skip.add('negotiate');
          continue;
        }
        if (!request.canBind) return { bound: 'negotiate' };
        attempt.negotiate = leg;
        return { header: `Negotiate ${leg.token}` };
      }
      if (choice.scheme === 'ntlm') {
        // Without `hash-wasm` NTLM is skipped, as Negotiate is without `kerberos`. Checked before the first leg: the
        // 407 that carries the proxy's NTLM challenge usually offers nothing else, too late to fall back.
        const missing = await loadHashWasm().then(
          () => undefined,
          (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
        );
        if (missing) {
          attempt.skip.add('ntlm');
          attempt.unavailable = missing;
          continue;
        }
        if (!request.canBind) return { bound: 'ntlm' };
        attempt.ntlmSent = true;
        return { header: `NTLM ${ntlmNegotiate()}` };
      }
      const { identity, round } = await this.identity(attempt, challenges, signal);
      attempt.answered = round;
      if (choice.scheme === 'digest') {
        attempt.digest = new DigestSession(choice.digest, identity, round);
        attempt.next = attempt.digest.header(method, uri);
        return { header: attempt.next };
      }
      attempt.basic = basicHeader(identity);
      return { header: attempt.basic };
    }
  }

  /**
   * The identity for `attempt`: the answer of a round that began after the attempt did (whatever it was), else the
   * cached identity unless the proxy just refused it, else a new round. A refusal of a fresh identity is final.
   */
  private async identity(
    attempt: Attempt,
    challenges: Challenge[],
    signal: AbortSignal | undefined,
  ): Promise<{ identity: ProxyIdentity; round: number }> {
    const refused = attempt.refused;
    if (refused !== undefined && refused > attempt.startRound) {
      throw new ProxyAuthFailure('proxy authentication failed: credentials refused', challenges);
    }
    let settled: { round: number; result: RoundResult };
    const last = this.last;
    if (this.inFlight) {
      const round = this.rounds;
      settled = { round, result: await abortable(this.inFlight, signal) };
    } else if (last && (last.round > attempt.startRound || ('identity' in last.result && last.round !== refused))) {
      settled = last;
    } else {
      const round = this.rounds + 1;
      settled = { round, result: await abortable(this.startRound(challenges), signal) };
    }
    const { result, round } = settled;
    if ('identity' in result) return { identity: result.identity, round };
    if ('failed' in result) {
      throw new ProxyAuthFailure(
        'proxy authentication failed: credentials callback failed',
        challenges,
        [],
        result.failed,
      );
    }
    throw new ProxyAuthFailure('proxy authentication failed: no credentials', challenges);
  }

  private startRound(challenges: Challenge[]): Promise<RoundResult> {
    const round = ++this.rounds;
    const { credentials, credentialsTimeoutMs } = this.options;
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new Error(`credentials callback timed out after ${credentialsTimeoutMs} ms`)),
      credentialsTimeoutMs,
    );
    const ctx = { proxy: new URL(this.proxy.origin), challenges, attempt: round, signal: controller.signal };
    const flight = (async (): Promise<RoundResult> => {
      if (!credentials) return { none: true };
      try {
        const answer = await abortable(
          Promise.resolve().then(() => credentials(ctx)),
          controller.signal,
        );
        if (answer === null || answer === undefined) return { none: true };
        if (typeof answer.username !== 'string' || typeof answer.password !== 'string') {
          return { failed: new TypeError('credentials must return { username, password, domain? } or null') };
        }
        const identity: ProxyIdentity = { username: answer.username, password: answer.password };
        if (typeof answer.domain === 'string') identity.domain = answer.domain;
        return { identity };
      } catch (error) {
        // The callback's own message may quote a secret: keep only its kind, or the timeout's own message.
        if (error === controller.signal.reason) return { failed: error as Error };
        return { failed: new Error(`credentials callback failed${error instanceof Error ? `: ${error.name}` : ''}`) };
      } finally {
        clearTimeout(timer);
      }
    })().then((result) => {
      this.last = { round, result };
      this.inFlight = undefined;
      return result;
    });
    this.inFlight = flight;
    return flight;
  }

  /** Whether the scheme that worked last authenticates connections rather than requests. */
  get bound(): boolean {
    return this.preferred !== undefined && connectionBound(this.preferred);
  }
}
