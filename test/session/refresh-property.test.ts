import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { createApiFetch, createTokenSession, isUnauthenticatedError, type TokenSet } from '../../src/index.js';

type Outcome = 'ok' | 'transient-then-ok' | 'definitive';

/**
 * Any interleaving of sends, answers and the refresh (fast-check's scheduler decides the order of every network
 * answer and of the refresh), for a burst of requests carrying an expired token.
 */
async function burst(s: fc.Scheduler, n: number, outcome: Outcome, proactive: boolean) {
  const sends = new Map<string, number>();
  const valid = new Set<string>();
  let refreshCalls = 0;
  const onUnauthenticated = vi.fn();
  const api = createApiFetch({
    baseUrl: 'https://api.example.test',
    retry: false,
    timeout: false,
    onUnauthenticated,
    fetch: s.scheduleFunction(async (request: Request) => {
      const path = new URL(request.url).pathname;
      sends.set(path, (sends.get(path) ?? 0) + 1);
      const token = request.headers.get('authorization')?.replace(/^Bearer /, '') ?? '';
      return valid.has(token)
        ? new Response('ok')
        : new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
    }),
    auth: {
      session: createTokenSession({
        tokens: { accessToken: 'expired', refreshToken: 'rt', ...(proactive ? { expiresAt: 0 } : {}) },
        refreshRetries: 2,
        random: () => 0,
        refresh: s.scheduleFunction(async (): Promise<TokenSet> => {
          refreshCalls += 1;
          if (outcome === 'definitive') throw Object.assign(new Error('invalid_grant'), { status: 400 });
          if (outcome === 'transient-then-ok' && refreshCalls === 1)
            throw Object.assign(new Error('x'), { status: 503 });
          const token = `at-${refreshCalls}`;
          valid.add(token);
          return { accessToken: token };
        }),
      }),
    },
  });
  const results = await s.waitFor(
    Promise.all(
      Array.from({ length: n }, (_, i) =>
        api
          .get(`r${i}`)
          .text()
          .catch((e: unknown) => e),
      ),
    ),
  );
  return { results, sends, refreshCalls, onUnauthenticated };
}

describe('property: a burst with an expired token, in any order of events', () => {
  it('never more than one refresh, at most two sends per request, every request settles', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom<Outcome>('ok', 'transient-then-ok', 'definitive'),
        fc.boolean(),
        async (s, n, outcome, proactive) => {
          const { results, sends, refreshCalls, onUnauthenticated } = await burst(s, n, outcome, proactive);
          expect(refreshCalls).toBe(outcome === 'transient-then-ok' ? 2 : 1);
          for (const count of sends.values()) expect(count).toBeLessThanOrEqual(proactive ? 1 : 2);
          if (outcome === 'definitive') {
            expect(results.every((r) => isUnauthenticatedError(r))).toBe(true);
            expect(onUnauthenticated).toHaveBeenCalledTimes(1);
          } else {
            expect(results).toEqual(Array(n).fill('ok'));
            expect(onUnauthenticated).not.toHaveBeenCalled();
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
