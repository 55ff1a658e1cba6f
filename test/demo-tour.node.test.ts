import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
// @ts-expect-error: the demo is plain JavaScript
import { runTour } from '../demo/tour.mjs';
import * as lib from '../src/index.js';

interface Row {
  step: string;
  requests: number;
  sends: number;
  refreshes: number;
  replays: number;
  retries: number;
  errors: number;
  throttled: number;
}

it('the terminal tour shows every behaviour and ends with the expected summary', async () => {
  const lines: string[] = [];
  const summary = await runTour({ lib, log: (line: string) => lines.push(line) });
  const text = lines.join('\n');
  expect(text).toContain('the third party saw Authorization: (none)');
  expect(text).toContain('ForbiddenError: requiredScopes=["admin"]');
  expect(text).toContain('UnauthenticatedError(step_up_required): acrValues=["mfa"], maxAge=300; no refresh (0)');
  expect(text).toContain('onUnauthenticated(step_up_required) → the app asks for a second factor');
  expect(text).toContain('refresh:start (expired)');
  expect(text).toContain('the token endpoint saw 1 refresh, made before sending, so each request was sent once');
  expect(text).toContain('refresh:start (rejected)');
  expect(text).toContain('50 × 401 shared 1 refresh, then each replayed once (50 replays)');
  expect(text).toContain('UnauthenticatedError(signed_out), sent: false, sends made: 0');
  expect(text).toContain('the same 20 requests without the retry throttle: 60 sends');
  expect(text).toMatch(/\| total +\| +126 \| +179 \| +2 \| +50 \| +4 \| +23 \|/);

  const row = (step: string) => (summary.steps as Row[]).find((r) => r.step === step);
  // Expired by the clock: refreshed before sending, each request sent once.
  expect(row('burst after expiry')).toMatchObject({ requests: 50, sends: 50, refreshes: 1, replays: 0, errors: 0 });
  // Revoked by the server: 50 401s share one refresh, each replayed once.
  expect(row('burst after revocation')).toMatchObject({ requests: 50, sends: 100, refreshes: 1, replays: 50 });
  expect(row('flaky endpoint')).toMatchObject({ requests: 1, sends: 3, retries: 2, errors: 0 });
  // An outage: the throttle (already 2 tokens down after the flaky step) stops retrying after 2 retries.
  expect(row('outage')).toMatchObject({ requests: 20, sends: 22, retries: 2, errors: 20, throttled: 19 });
  expect(summary.outageWithoutThrottle).toBe(60);
  expect(row('signed out')).toMatchObject({ requests: 1, sends: 0, errors: 1 });
  expect(summary).toMatchObject({
    requests: 126,
    sends: 179,
    refreshes: 2,
    serverRefreshes: 2,
    replays: 50,
    retries: 4,
    errors: 23,
    unauthenticatedCalls: 2,
    reuseDetected: 0,
  });
  // The naive per-request refresh spends one rotating refresh token ten times: the API revokes the session.
  expect(summary.naive).toEqual({ requests: 10, ok: 1, refreshes: 10, reuseDetected: 1 });
}, 20_000);

it('`npm run demo:tour` bundles the library, runs the tour and prints the summary', async () => {
  // The same command npm runs: this project's Node on demo/run.mjs.
  const { stdout } = await promisify(execFile)(process.execPath, ['demo/run.mjs', '--tour'], { timeout: 30_000 });
  expect(stdout).toContain('the third party saw Authorization: (none)');
  expect(stdout).toMatch(/\| total +\| +126 \| +179 \| +2 \| +50 \| +4 \| +23 \|/);
  expect(stdout).toContain('The API saw 2 refreshes and 0 refresh-token reuse');
}, 30_000);
