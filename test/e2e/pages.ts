import { join } from 'node:path';

// Every use of apifetch by the test pages is in this file, so that a change to `createApiFetch`'s options is made once.

/** The key of the token store shared by the cross-tab pages (localStorage, IndexedDB record, lock, channel). */
export const tokensKey = 'e2e-tokens';

/**
 * The cross-tab page: a client on a shared localStorage store, and `stormAt(startAt)`, which sends 20 requests at
 * once at the epoch time `startAt`. Classic WebDriver arms one window at a time; a start time shared by the
 * windows makes their storms concurrent all the same.
 */
export const crossTabPage = crossTab(`coordination: tabCoordination('${tokensKey}'),`);

/** The cross-tab page without `tabCoordination`: the same store, but each tab refreshes on its own. */
export const uncoordinatedCrossTabPage = crossTab('');

function crossTab(coordination: string): string {
  return `<!doctype html><script type="module">
  import { createApiFetch, createTokenSession, storageTokenStore, tabCoordination } from '/apifetch.js';
  window.unauthenticatedCalls = 0;
  window.api = createApiFetch({
    baseUrl: location.origin + '/api/',
    auth: {
      session: createTokenSession({
        store: storageTokenStore(localStorage, '${tokensKey}'),
        ${coordination}
        refresh: async ({ tokens, signal }) => {
          const r = await fetch('/oauth/token', { method: 'POST', body: tokens?.refreshToken ?? '', signal });
          if (!r.ok) throw Object.assign(new Error('refresh failed'), { status: r.status });
          return r.json();
        },
        maxRefreshes: 100,
      }),
    },
    retry: false,
    onUnauthenticated: () => { window.unauthenticatedCalls += 1; },
  });
  window.stormAt = (startAt) => {
    window.storm = undefined;
    const armedAt = Date.now();
    setTimeout(async () => {
      const startedAt = Date.now();
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => window.api('item/' + i).json()));
      const failures = results.filter((r) => r.status === 'rejected').map((r) => r.reason.reason + ':' + r.reason.sent);
      window.storm = { armedAt, startedAt, ok: results.length - failures.length, failures: [...new Set(failures)].sort() };
    }, startAt - armedAt);
  };
  window.ready = true;
</script>`;
}

/** The testing kit's page: apifetch/testing through msw's service worker (setupWorker), as users' browser tests use it. */
export const kitEntry = `
import { setupWorker } from 'msw/browser';
import { createApiFetch, createTokenSession, isForbiddenError } from '${join(process.cwd(), 'src/index.ts')}';
import { mockAuthApi, testingOptions } from '${join(process.cwd(), 'src/testing/index.ts')}';

const mock = mockAuthApi({
  baseUrl: 'https://api.example.test',
  users: { ada: { password: 'pw' } },
  routes: { '/me': { body: ({ user }) => ({ name: user }) }, '/admin': { scopes: ['admin'] } },
});
window.scenario = async () => {
  const worker = setupWorker(...mock.handlers);
  await worker.start({ serviceWorker: { url: '/mockServiceWorker.js' }, onUnhandledFrame: 'bypass', quiet: true });
  let signedOut = 0;
  const api = createApiFetch({
    baseUrl: 'https://api.example.test',
    auth: { session: createTokenSession({ tokens: mock.login('ada'), refresh: mock.refresh }) },
    onUnauthenticated: () => { signedOut += 1; },
    ...testingOptions,
  });
  const out = {};
  out.me = await api.get('me').json();
  mock.expireTokens();
  out.afterExpiry = await Promise.all([api.get('me').json(), api.get('me').json()]);
  out.refreshes = mock.stats.refreshes;
  out.forbidden = await api.get('admin').then(() => 'allowed', (e) => isForbiddenError(e) ? e.requiredScopes : String(e));
  mock.failNext(2, { status: 503 });
  out.flaky = await api.get('me').json();
  mock.failNext(1, { network: true });
  out.dropped = await api.get('me').json().catch((e) => e.name + ': ' + e.message);
  mock.revoke();
  out.revoked = await api.get('me').then(() => 'ok', (e) => e.reason);
  out.signedOut = signedOut;
  worker.stop();
  return out;
};
window.ready = true;
`;

/** A page whose client has no `baseUrl`: its own origin receives the token by default, another origin does not. */
export const pageOriginPage = `<!doctype html><script type="module">
  import { createApiFetch } from '/apifetch.js';
  const api = createApiFetch({ auth: { getAccessToken: () => 'page-token' } });
  window.run = async (other) => {
    const me = await api.get('/api/me').json();
    await api.get(other + '/x').json();
    return me;
  };
  window.ready = true;
</script>`;
