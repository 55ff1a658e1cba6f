// The terminal tour: every behaviour of apifetch against the demo API, with a closing summary table.
import { createServer } from 'node:http';
import { startDemoServer } from './server.mjs';

/**
 * Run the tour. `lib` is the apifetch module (the built package). Returns the summary.
 * @param {{ lib: typeof import('../src/index.ts'), log?: (line: string) => void }} options
 */
export async function runTour({ lib, log = console.log }) {
  const { createApiFetch, isForbiddenError, isUnauthenticatedError } = lib;
  const server = await startDemoServer({ tokenTtlMs: 15_000 });
  const thirdParty = await startThirdParty();
  const counts = { requests: 0, sends: 0, refreshes: 0, replays: 0, retries: 0, errors: 0, unauthenticatedCalls: 0 };
  const step = (title) => log(`\n\u25b8 ${title}`);
  const say = (line) => log(`  ${line}`);

  const api = createApiFetch({
    baseUrl: `${server.url}/api/`,
    auth: {
      refresh: async ({ tokens, signal }) => {
        const response = await fetch(`${server.url}/auth/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refreshToken: tokens?.refreshToken }),
          signal,
        });
        const body = await response.json();
        if (!response.ok) throw Object.assign(new Error(body.title), { status: response.status });
        return body;
      },
    },
    retry: { baseDelayMs: 100 },
    onUnauthenticated: (error) => {
      counts.unauthenticatedCalls += 1;
      say(`onUnauthenticated(${error.reason}) \u2192 the app would show its login screen`);
    },
    onForbidden: (error) => say(`onForbidden \u2192 "access denied" banner (needs ${error.requiredScopes.join(', ')})`),
    onEvent: (event) => {
      if (event.type === 'request') counts.sends += 1;
      if (event.type === 'refresh:success') counts.refreshes += 1;
      if (event.type === 'replay') counts.replays += 1;
      if (event.type === 'retry') {
        counts.retries += 1;
        say(`retry #${event.attempt} after ${event.reason}: waiting ${Math.round(event.delayMs)} ms`);
      }
    },
  });
  const call = async (fn) => {
    counts.requests += 1;
    try {
      return await fn();
    } catch (error) {
      counts.errors += 1;
      throw error;
    }
  };

  try {
    step('Sign in as alice');
    const login = await fetch(`${server.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'alice' }),
    });
    await api.auth.setTokens(await login.json());
    say('tokens stored with api.auth.setTokens()');

    step('Load the profile: the token goes to our API');
    const profile = await call(() => api.get('profile').json());
    say(`GET /api/profile \u2192 ${JSON.stringify(profile)}`);

    step('Call a third-party origin: no token leaks');
    await call(() => api.get(`${thirdParty.url}/pixel`).text());
    say(`third party saw Authorization: ${thirdParty.seen.at(-1) ?? '(none)'}`);

    step('Admin action as a normal user: 403');
    try {
      await call(() => api.post('admin').json());
    } catch (error) {
      if (!isForbiddenError(error)) throw error;
      say(
        `ForbiddenError: requiredScopes=${JSON.stringify(error.requiredScopes)}, problem.title="${error.problem?.title}"`,
      );
    }

    step('The server expires every token; then a burst of 50 requests');
    server.expireAll();
    const before = server.stats.refreshes;
    const burst = await Promise.all(Array.from({ length: 50 }, (_, i) => call(() => api.get(`items/${i}`).json())));
    say(`${burst.length} requests succeeded; the token endpoint saw ${server.stats.refreshes - before} refresh`);

    step('A flaky endpoint: 503, then 429 with Retry-After, then success');
    const flaky = await call(() => api.get('flaky', { retry: { limit: 3 } }).json());
    say(`GET /api/flaky \u2192 ${JSON.stringify(flaky)}`);

    step('Sign out: the next request fails fast, without a send');
    await api.auth.clear();
    const sendsBefore = counts.sends;
    try {
      await call(() => api.get('profile').json());
    } catch (error) {
      if (!isUnauthenticatedError(error)) throw error;
      say(`UnauthenticatedError(${error.reason}), sent: ${error.sent}, sends made: ${counts.sends - sendsBefore}`);
    }
  } finally {
    await server.close();
    await thirdParty.close();
  }

  const summary = { ...counts, serverRefreshes: server.stats.refreshes, reuseDetected: server.stats.reuseDetected };
  log('\nSummary');
  log('| requests | sends | refreshes | replays | retries | errors |');
  log('|---:|---:|---:|---:|---:|---:|');
  log(
    `| ${summary.requests} | ${summary.sends} | ${summary.refreshes} | ${summary.replays} | ${summary.retries} | ${summary.errors} |`,
  );
  return summary;
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
