// The terminal tour: every behaviour of apifetch against the demo API, step by step, with a closing summary table.
import { createServer } from 'node:http';
import { startDemoServer } from './server.mjs';

const columns = ['requests', 'sends', 'refreshes', 'replays', 'retries', 'errors'];

/**
 * Run the tour. `lib` is the apifetch module (the built package, or the sources in tests).
 * Returns the totals, one row per step, and the naive client's figures for comparison.
 * @param {{ lib: typeof import('../src/index.ts'), log?: (line: string) => void }} options
 */
export async function runTour({ lib, log = console.log }) {
  const { createApiFetch, createTokenSession, isForbiddenError, isUnauthenticatedError } = lib;
  // One clock for the API and the client, so the tour can let a token expire without waiting 15 s.
  let skewMs = 0;
  const now = () => Date.now() + skewMs;
  const server = await startDemoServer({ tokenTtlMs: 15_000, now });
  const thirdParty = await startThirdParty();
  const totals = { ...zero(), unauthenticatedCalls: 0 };
  /** @type {Array<{ step: string, ms: number } & ReturnType<typeof zero>>} */
  const steps = [];
  let current = zero();
  const say = (line) => log(`  ${line}`);
  /** One scenario; `label` names its row in the summary (none: the step is not apifetch's). */
  const step = async (label, title, fn) => {
    log(`\n\u25b8 ${title}`);
    current = zero();
    const started = performance.now();
    await fn();
    if (!label) return;
    steps.push({ step: label, ms: Math.round(performance.now() - started), ...current });
    for (const key of columns) totals[key] += current[key];
  };

  const api = createApiFetch({
    baseUrl: `${server.url}/api/`,
    now,
    auth: {
      session: createTokenSession({
        now,
        refresh: ({ tokens, signal }) =>
          postJson(`${server.url}/auth/refresh`, { refreshToken: tokens?.refreshToken }, signal).then((body) =>
            toTokenSet(body, now),
          ),
      }),
    },
    retry: { baseDelayMs: 100 },
    onUnauthenticated: (error) => {
      totals.unauthenticatedCalls += 1;
      const next = error.reason === 'step_up_required' ? 'asks for a second factor' : 'shows its login form';
      say(`onUnauthenticated(${error.reason}) \u2192 the app ${next}`);
    },
    onForbidden: (error) => say(`onForbidden \u2192 "access denied" banner (needs ${error.requiredScopes.join(', ')})`),
    onEvent: (event) => {
      if (event.type === 'request') current.sends += 1;
      if (event.type === 'refresh:start') say(`refresh:start (${event.reason})`);
      if (event.type === 'refresh:success') current.refreshes += 1;
      if (event.type === 'replay') current.replays += 1;
      if (event.type === 'retry:throttled') current.throttled += 1;
      if (event.type === 'retry') {
        current.retries += 1;
        const why = event.retryAfterMs === undefined ? 'backoff' : `Retry-After ${event.retryAfterMs} ms + jitter`;
        say(`retry #${event.attempt} after ${event.reason}: waiting ${Math.round(event.delayMs)} ms (${why})`);
      }
    },
  });
  const call = async (fn) => {
    current.requests += 1;
    try {
      return await fn();
    } catch (error) {
      current.errors += 1;
      throw error;
    }
  };
  const burst = (n) => Promise.all(Array.from({ length: n }, (_, i) => call(() => api.get(`items/${i}`).json())));

  let naive;
  let outageWithoutThrottle;
  try {
    await step('sign in', 'Sign in as alice', async () => {
      const body = await postJson(`${server.url}/auth/login`, { username: 'alice', password: 'alice' });
      await api.auth.setTokens(toTokenSet(body, now));
      say(`POST /auth/login \u2192 a JWT valid ${body.expiresIn} s and a rotating refresh token; api.auth.setTokens()`);
    });

    await step('profile', 'Load the profile: the token goes to our API', async () => {
      const profile = await call(() => api.get('profile').json());
      say(`GET /api/profile \u2192 ${JSON.stringify(profile)}`);
    });

    await step('third-party origin', 'Call a third-party origin: no token leaks', async () => {
      await call(() => api.get(`${thirdParty.url}/pixel`).text());
      say(`the third party saw Authorization: ${thirdParty.seen.at(-1) ?? '(none)'}`);
    });

    await step('admin (403)', 'Admin action as a normal user: 403', async () => {
      try {
        await call(() => api.post('admin').json());
      } catch (error) {
        if (!isForbiddenError(error)) throw error;
        say(
          `ForbiddenError: requiredScopes=${JSON.stringify(error.requiredScopes)}, problem.title="${error.problem?.title}"`,
        );
      }
    });

    await step('step-up (401)', 'A transfer needs a second factor: 401 insufficient_user_authentication', async () => {
      try {
        await call(() => api.post('transfer', { json: { amount: 100 } }).json());
      } catch (error) {
        if (!isUnauthenticatedError(error)) throw error;
        say(
          `UnauthenticatedError(${error.reason}): acrValues=${JSON.stringify(error.acrValues)}, maxAge=${error.maxAge}; ` +
            `no refresh (${current.refreshes}), since a new token would not help`,
        );
      }
    });

    await step('burst after expiry', '16 s later the token has expired; a burst of 50 requests', async () => {
      skewMs += 16_000;
      const before = server.stats.refreshes;
      const results = await burst(50);
      say(
        `${results.length} requests succeeded; the token endpoint saw ${server.stats.refreshes - before} refresh, ` +
          `made before sending, so each request was sent once (${current.sends} sends)`,
      );
    });

    await step('burst after revocation', 'The server revokes every token; a burst of 50 requests', async () => {
      server.expireAll();
      const before = server.stats.refreshes;
      const results = await burst(50);
      say(
        `${results.length} requests succeeded; 50 \u00d7 401 shared ${server.stats.refreshes - before} refresh, ` +
          `then each replayed once (${current.replays} replays)`,
      );
    });

    await step(undefined, 'The same revocation with a naive client (refresh on each 401), for comparison', async () => {
      naive = await naiveBurst(10);
      say(
        `${naive.ok} of ${naive.requests} requests succeeded; ${naive.refreshes} refreshes with one refresh token; ` +
          `the API detected reuse and revoked the session (${naive.reuseDetected} reuse detected)`,
      );
    });

    await step('flaky endpoint', 'A flaky endpoint: 503, then 429 with Retry-After: 1, then success', async () => {
      const flaky = await call(() => api.get('flaky', { retry: { limit: 3 } }).json());
      say(`GET /api/flaky \u2192 ${JSON.stringify(flaky)}`);
    });

    await step(
      'outage',
      'An outage: /api/outage answers 503 to everything; 20 requests, one after another',
      async () => {
        const failed = await outage(api, call);
        say(
          `${failed} of 20 failed, as they must; ${current.sends} sends: retries stopped after ${current.retries} ` +
            `(${current.throttled} \u00d7 retry:throttled), so the outage is not made worse`,
        );
        // For comparison: a client without the throttle, every request retried twice.
        let sends = 0;
        const unthrottled = createApiFetch({
          baseUrl: `${server.url}/api/`,
          auth: { session: createTokenSession({ tokens: await api.auth.getTokens(), now }) },
          retry: { baseDelayMs: 10, throttle: false },
          onEvent: (event) => {
            if (event.type === 'request') sends += 1;
          },
        });
        await outage(unthrottled, (fn) => fn());
        outageWithoutThrottle = sends;
        say(`the same 20 requests without the retry throttle: ${sends} sends`);
      },
    );

    await step('signed out', 'Sign out: the next request fails fast, without a send', async () => {
      await api.auth.clear();
      try {
        await call(() => api.get('profile').json());
      } catch (error) {
        if (!isUnauthenticatedError(error)) throw error;
        say(`UnauthenticatedError(${error.reason}), sent: ${error.sent}, sends made: ${current.sends}`);
      }
    });
  } finally {
    await server.close();
    await thirdParty.close();
  }

  log('\nSummary');
  for (const line of table(steps, totals)) log(line);
  log(
    `\nThe API saw ${server.stats.refreshes} refreshes and ${server.stats.reuseDetected} refresh-token reuse; ` +
      `the naive client: ${naive.refreshes} refreshes, ${naive.reuseDetected} reuse, session revoked.`,
  );
  return {
    ...totals,
    serverRefreshes: server.stats.refreshes,
    reuseDetected: server.stats.reuseDetected,
    steps,
    naive,
    outageWithoutThrottle,
  };
}

function zero() {
  return { requests: 0, sends: 0, refreshes: 0, replays: 0, retries: 0, errors: 0, throttled: 0 };
}

/** 20 requests to the route that is down, one after another; resolves with how many failed. */
async function outage(client, call) {
  let failed = 0;
  for (let i = 0; i < 20; i++) {
    await call(() => client.get('outage').json()).catch(() => (failed += 1));
  }
  return failed;
}

/** A token response (`expiresIn` in seconds, as OAuth servers send it) as an apifetch TokenSet. */
function toTokenSet(body, now) {
  return { accessToken: body.accessToken, refreshToken: body.refreshToken, expiresAt: now() + body.expiresIn * 1000 };
}

async function postJson(url, body, signal) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  const json = await response.json();
  if (!response.ok)
    throw Object.assign(new Error(json.title ?? `HTTP ${response.status}`), { status: response.status });
  return json;
}

/**
 * What many apps do by hand: on a 401, each request refreshes for itself, then retries. With rotating refresh
 * tokens, concurrent requests spend the same refresh token, and a server with reuse detection revokes the session.
 * Runs against its own API so the tour's figures stay apart.
 */
async function naiveBurst(n) {
  const server = await startDemoServer({ tokenTtlMs: 15_000 });
  try {
    let tokens = await postJson(`${server.url}/auth/login`, { username: 'alice', password: 'alice' });
    server.expireAll();
    const get = (path) =>
      fetch(`${server.url}/api/${path}`, { headers: { authorization: `Bearer ${tokens.accessToken}` } });
    // A burst: every request is in flight before the first 401 comes back.
    const first = await Promise.all(Array.from({ length: n }, (_, i) => get(`items/${i}`)));
    const outcomes = await Promise.allSettled(
      first.map(async (response, i) => {
        if (response.status === 401) {
          tokens = await postJson(`${server.url}/auth/refresh`, { refreshToken: tokens.refreshToken });
          response = await get(`items/${i}`);
        }
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
      }),
    );
    return {
      requests: n,
      ok: outcomes.filter((o) => o.status === 'fulfilled').length,
      refreshes: server.stats.refreshes,
      reuseDetected: server.stats.reuseDetected,
    };
  } finally {
    await server.close();
  }
}

/** The summary as an aligned Markdown table: readable in a terminal, pasteable into a README. */
function table(steps, totals) {
  const head = ['step', ...columns, 'ms'];
  const rows = [
    ...steps.map((s) => [s.step, ...columns.map((c) => String(s[c])), String(s.ms)]),
    ['total', ...columns.map((c) => String(totals[c])), String(steps.reduce((sum, s) => sum + s.ms, 0))],
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), rule, ...rows.map(line)];
}

function startThirdParty() {
  const seen = [];
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization);
    res.writeHead(200, { 'access-control-allow-origin': '*' });
    res.end('pixel');
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        seen,
        close: () => new Promise((done) => server.close(() => done())),
      }),
    ),
  );
}
