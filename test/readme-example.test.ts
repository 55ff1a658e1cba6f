// The README's "Testing your app" example, run as it is: scripts/check-readme.mjs keeps the two the same.
// #region readme
import { type AuthOptions, createApiFetch, isForbiddenError } from 'apifetch';
import { mockAuthApi, testingOptions } from 'apifetch/testing';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

// The app code under test: shows the user's name, or what went wrong.
function createProfileWidget(baseUrl: string, auth: AuthOptions) {
  const screen = { text: '', login: false };
  const api = createApiFetch({
    baseUrl,
    auth,
    onUnauthenticated: () => {
      screen.login = true;
    },
    ...testingOptions, // instant, deterministic retries in tests
  });
  async function render() {
    try {
      const me = await api.get('me').json<{ name: string }>();
      screen.text = `Hello, ${me.name}`;
    } catch (error) {
      screen.text = isForbiddenError(error) ? 'Access denied' : 'Something went wrong';
    }
  }
  return { screen, render };
}

const mock = mockAuthApi({
  baseUrl: 'https://api.example.test',
  users: { ada: { password: 'pw' } },
  routes: { '/me': { body: (_request, user) => ({ name: user }) } },
});
const server = setupServer(...mock.handlers);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => mock.resetStats());
afterAll(() => server.close());

const widget = () =>
  createProfileWidget('https://api.example.test', { tokens: mock.login('ada'), refresh: mock.refresh });

it('renews an expired token once and shows the name', async () => {
  const { screen, render } = widget();
  mock.expireTokens();
  await render();
  expect(screen.text).toBe('Hello, ada');
  expect(mock.stats.refreshes).toBe(1);
});

it('shows the login screen when the session is revoked', async () => {
  const { screen, render } = widget();
  mock.revoke();
  await render();
  expect(screen.login).toBe(true);
});

it('rides out a flaky backend', async () => {
  const { screen, render } = widget();
  mock.failNext(2, { status: 503 });
  await render();
  expect(screen.text).toBe('Hello, ada');
  expect(mock.stats.requests['/me']).toBe(3);
});

it('shows "Access denied" on a 403', async () => {
  const denied = mockAuthApi({ baseUrl: 'https://admin.example.test', routes: { '/me': { scopes: ['admin'] } } });
  server.use(...denied.handlers);
  const { screen, render } = createProfileWidget('https://admin.example.test', { tokens: denied.login() });
  await render();
  expect(screen.text).toBe('Access denied');
});
// #endregion
