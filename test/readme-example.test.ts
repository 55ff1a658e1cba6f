// The README's "Testing your app" example, run as it is: scripts/check-readme.mjs keeps the two the same.
// #region readme
import { type ApiFetchOptions, createApiFetch, isForbiddenError, isUnauthenticatedError } from 'apifetch';
import { mockAuthApi, testingOptions } from 'apifetch/testing';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

// The app code under test: a profile widget that greets the user, asks them to sign in, or says why it cannot.
function createProfileWidget(options: Pick<ApiFetchOptions, 'auth' | 'retry'>) {
  const screen = { text: '', showLogin: false };
  const api = createApiFetch({
    baseUrl: 'https://api.example.test',
    ...options,
    onUnauthenticated: () => {
      screen.showLogin = true;
    },
    onForbidden: (error) => {
      screen.text = `Access denied: ask for ${error.requiredScopes.join(', ')}`;
    },
  });
  async function render() {
    try {
      const me = await api.get('me').json<{ name: string }>();
      screen.text = `Hello, ${me.name}`;
    } catch (error) {
      // The callbacks above already handled these two.
      if (!isForbiddenError(error) && !isUnauthenticatedError(error)) screen.text = 'Something went wrong';
    }
  }
  return { screen, render };
}

// The test: a mock API with two users, one of them without the scope that /me requires.
const mock = mockAuthApi({
  baseUrl: 'https://api.example.test',
  users: { ada: { password: 'pw', scopes: ['profile'] }, bob: { password: 'pw' } },
  routes: { '/me': { scopes: ['profile'], body: ({ user }) => ({ name: user }) } },
});
const server = setupServer(...mock.handlers);
beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterEach(() => mock.reset());
afterAll(() => server.close());

// mock.auth() signs in and refreshes against the mock; testingOptions makes retries instant.
const widgetFor = (user: string) => createProfileWidget({ auth: mock.auth(user), ...testingOptions });

it('renews an expired token once and shows the name', async () => {
  const { screen, render } = widgetFor('ada');
  mock.expireTokens();
  await render();
  expect(screen.text).toBe('Hello, ada');
  expect(mock.stats.refreshes).toBe(1);
});

it('asks to sign in again when the session is revoked', async () => {
  const { screen, render } = widgetFor('ada');
  mock.revoke();
  await render();
  expect(screen.showLogin).toBe(true);
});

it('says which permission is missing on a 403, without refreshing or retrying', async () => {
  const { screen, render } = widgetFor('bob');
  await render();
  expect(screen.text).toBe('Access denied: ask for profile');
  expect(mock.stats.requests['/me']).toBe(1);
  expect(mock.stats.refreshes).toBe(0);
});

it('rides out a flaky backend', async () => {
  const { screen, render } = widgetFor('ada');
  mock.failNext(2, { status: 503 });
  await render();
  expect(screen.text).toBe('Hello, ada');
  expect(mock.stats.requests['/me']).toBe(3);
});

it('gives up on an outage after two retries', async () => {
  const { screen, render } = widgetFor('ada');
  mock.failNext(10, { status: 503 });
  await render();
  expect(screen.text).toBe('Something went wrong');
  expect(mock.stats.requests['/me']).toBe(3);
});
// #endregion
