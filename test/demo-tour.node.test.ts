import { expect, it } from 'vitest';
// @ts-expect-error: the demo is plain JavaScript
import { runTour } from '../demo/tour.mjs';
import * as lib from '../src/index.js';

it('the terminal tour shows every behaviour and ends with the expected summary', async () => {
  const lines: string[] = [];
  const summary = await runTour({ lib, log: (line: string) => lines.push(line) });
  const text = lines.join('\n');
  expect(text).toContain('third party saw Authorization: (none)');
  expect(text).toContain('ForbiddenError: requiredScopes=["admin"]');
  expect(text).toContain('50 requests succeeded; the token endpoint saw 1 refresh');
  expect(text).toContain('UnauthenticatedError(signed_out), sent: false, sends made: 0');
  expect(summary).toMatchObject({
    requests: 55,
    refreshes: 1,
    serverRefreshes: 1,
    replays: 50,
    retries: 2,
    errors: 2,
    unauthenticatedCalls: 1,
    reuseDetected: 0,
  });
  // 55 logical requests: 50 replays, 2 retries, and the signed-out request never sent.
  expect(summary.sends).toBe(55 + 50 + 2 - 1);
}, 20_000);
