import { describe, expect, it } from 'vitest';
import { createAccessTokenSession, createEpisodes, stepUpDemand, type TokenGrant } from '../../src/auth/session.js';
import { parseChallenges } from '../../src/challenge.js';

const signal = undefined;

describe('createAccessTokenSession (auth.getAccessToken)', () => {
  it('hands out what getAccessToken returns, asked at every send; nothing for null, undefined or an empty string', async () => {
    const answers: (string | null | undefined)[] = ['a', null, undefined, '', 'b'];
    let asked = 0;
    const session = createAccessTokenSession(async () => {
      asked += 1;
      return answers.shift();
    });
    const grants = [];
    for (let i = 0; i < 5; i++) grants.push(await session.acquire(signal));
    expect(asked).toBe(5);
    expect(grants).toEqual([
      { token: 'a', generation: 1 },
      undefined,
      undefined,
      undefined,
      { token: 'b', generation: 2 },
    ]);
  });

  it('without getAccessToken there is never a token', async () => {
    expect(await createAccessTokenSession(undefined).acquire(signal)).toBeUndefined();
  });

  it('the generation moves only when the token changes', async () => {
    const tokens = ['a', 'a', 'b', 'b', 'a'];
    const session = createAccessTokenSession(() => tokens.shift());
    const generations = [];
    for (let i = 0; i < 5; i++)
      generations.push(((await session.acquire(signal)) as TokenGrant | undefined)?.generation);
    expect(generations).toEqual([1, 1, 2, 2, 3]);
  });

  it('a 401 cannot be recovered from: no_refresh', async () => {
    const session = createAccessTokenSession(() => 'a');
    const grant = await session.acquire(signal);
    expect(await session.recover(grant as never, [], signal)).toEqual({ failure: 'no_refresh' });
  });

  it('onUnauthenticated once per episode: a new token opens a new one', async () => {
    let token = 'a';
    const session = createAccessTokenSession(() => token);
    await session.acquire(signal);
    expect(session.claimEpisode('no_refresh')).toBe(true);
    expect(session.claimEpisode('no_refresh')).toBe(false);
    await session.acquire(signal);
    expect(session.claimEpisode('no_refresh')).toBe(false);
    token = 'b';
    await session.acquire(signal);
    expect(session.claimEpisode('no_refresh')).toBe(true);
  });
});

describe('createEpisodes', () => {
  it('a step-up demand and an unsupported challenge are episodes of their own; the rest share the session one', () => {
    const episodes = createEpisodes();
    expect(episodes.claim('step_up_required')).toBe(true);
    expect(episodes.claim('step_up_required')).toBe(false);
    expect(episodes.claim('unsupported_challenge')).toBe(true);
    expect(episodes.claim('refresh_failed')).toBe(true);
    for (const reason of ['signed_out', 'no_refresh', 'refresh_limit', 'rejected_after_refresh'] as const) {
      expect(episodes.claim(reason)).toBe(false);
    }
    episodes.reset();
    expect(episodes.claim('signed_out')).toBe(true);
    expect(episodes.claim('step_up_required')).toBe(true);
  });
});

describe('stepUpDemand', () => {
  const challenges = (header: string) => parseChallenges(new Headers({ 'www-authenticate': header }));

  it.each<[string, ReturnType<typeof stepUpDemand>]>([
    [
      'Bearer error="insufficient_user_authentication", acr_values="mfa phr", max_age=300',
      { failure: 'step_up_required', acrValues: ['mfa', 'phr'], maxAge: 300 },
    ],
    ['Bearer error="insufficient_user_authentication"', { failure: 'step_up_required' }],
    [
      'Basic realm="x", Bearer error="insufficient_user_authentication", max_age=0',
      { failure: 'step_up_required', maxAge: 0 },
    ],
    ['Bearer error="invalid_token"', undefined],
    ['Bearer', undefined],
    ['Basic realm="x"', undefined],
  ])('%s → %j', (header, demand) => {
    expect(stepUpDemand(challenges(header))).toEqual(demand);
  });
});
