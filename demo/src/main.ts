import {
  type ApiFetchEvent,
  createApiFetch,
  createTokenSession,
  isForbiddenError,
  isUnauthenticatedError,
  storageTokenStore,
  type TokenSet,
  tabCoordination,
} from 'apifetch';
import { watchDpop } from './dpop-log.js';
import { refreshReason, shortUrl, Timeline } from './timeline.js';

const $ = <T extends Element>(selector: string) => document.querySelector(selector) as T;
const origin = window.location.origin;
const timeline = new Timeline($<SVGSVGElement>('#timeline'), $<HTMLElement>('#timeline-summary'));

/** The demo API answers like an OAuth token endpoint: `expiresIn` seconds. apifetch wants `expiresAt`. */
interface TokenResponse {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}
const toTokenSet = (body: TokenResponse): TokenSet => ({
  accessToken: body.accessToken,
  refreshToken: body.refreshToken,
  expiresAt: Date.now() + body.expiresIn * 1000,
});

/**
 * DPoP mode (kept in localStorage; switching reloads the page): tokens bound to a key kept in IndexedDB, and a session
 * of its own, since a bearer token cannot become bound. The DPoP code is imported only in this mode.
 */
const modeKey = 'apifetch-demo-mode';
const dpopMode = localStorage.getItem(modeKey) === 'dpop';
const dpop = dpopMode
  ? await import('apifetch/dpop').then(({ createDpop, indexedDbKeyStore }) =>
      createDpop({ store: indexedDbKeyStore('apifetch-demo') }),
    )
  : undefined;
const tokensKey = dpopMode ? 'apifetch-demo-dpop-tokens' : 'apifetch-demo-tokens';
if (dpop) window.fetch = watchDpop(window.fetch.bind(window), (type, text) => logLine(type, text));

type Fetch = (input: string, init: RequestInit) => Promise<Response>;

/** POST JSON with `send`: the page's fetch, or `dpop.fetch` for a token request with a proof. */
async function postJson<T>(path: string, body: unknown, signal?: AbortSignal, send: Fetch = fetch): Promise<T> {
  const response = await send(`${origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  // A proxy's HTML error page is not JSON: the status still tells what happened.
  const json = (await response.json().catch(() => ({}))) as T & { title?: string };
  // apifetch retries a refresh that failed with a transient status; it reads `status` from the error.
  if (!response.ok)
    throw Object.assign(new Error(json.title ?? `HTTP ${response.status}`), { status: response.status });
  return json;
}

const api = createApiFetch({
  baseUrl: `${origin}/api/`,
  auth: {
    // Shared by every tab of the demo: one refresh across tabs, and sign-out everywhere.
    session: createTokenSession({
      store: storageTokenStore(localStorage, tokensKey),
      coordination: tabCoordination(tokensKey),
      // With DPoP, `ctx.dpop.fetch` sends the token request with a proof, so the new tokens stay bound to the key.
      refresh: async ({ tokens, signal, dpop: proofs }) =>
        toTokenSet(
          await postJson<TokenResponse>(
            '/auth/refresh',
            { refreshToken: tokens?.refreshToken },
            signal,
            proofs ? (input, init) => proofs.fetch(input, init) : undefined,
          ),
        ),
    }),
    ...(dpop ? { dpop } : {}),
  },
  retry: { limit: 3, baseDelayMs: 200 },
  onUnauthenticated: (error) => {
    // Step-up is not a sign-out: the session is fine, this one request needs a stronger sign-in.
    if (error.reason === 'step_up_required') {
      banner(
        `A second factor is required (acr_values ${error.acrValues?.join(' ')}): the app would start a step-up sign-in.`,
      );
    } else {
      showLogin(`Please sign in (${error.reason}).`);
    }
  },
  onForbidden: (error) => banner(`Access denied: this needs the ${error.requiredScopes.join(', ')} scope.`),
  onEvent: (event) => {
    timeline.add(event);
    logEvent(event);
    if (event.type === 'tokens:updated' || event.type === 'signed-out') void tickToken();
    if (event.type === 'signed-out' && event.source === 'other-tab') {
      // Nothing of the previous user stays on screen.
      showLogin('Signed out in another tab.');
      banner(undefined);
      show('–');
    }
    if (event.type === 'tokens:updated' && event.source === 'other-tab' && !$<HTMLFormElement>('#login').hidden) {
      $<HTMLFormElement>('#login').hidden = true;
      void run('profile');
    }
  },
});

function showLogin(reason: string) {
  $<HTMLFormElement>('#login').hidden = false;
  $<HTMLElement>('#login-reason').textContent = reason;
  $<HTMLElement>('#who').textContent = 'signed out';
}

function banner(text: string | undefined) {
  const el = $<HTMLElement>('#banner');
  el.hidden = text === undefined;
  el.textContent = text ?? '';
}

function show(value: unknown) {
  $<HTMLElement>('#result').textContent = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

/**
 * The log is one group per button press, newest group first, each headed by its action's name; inside a group,
 * events are newest first too. News from another tab (new tokens, sign-out) starts a group of its own, so that it
 * does not read as part of this tab's last action.
 */
function startGroup(title: string) {
  const group = document.createElement('li');
  group.className = 'group';
  group.dataset.title = title;
  const heading = document.createElement('h3');
  heading.textContent = title;
  group.append(heading, document.createElement('ol'));
  $<HTMLOListElement>('#events').prepend(group);
  return group;
}

const otherTab = 'Another tab';

/** One line per event: when, what, and the fields that matter. Tokens never appear in events. */
function logEvent(event: ApiFetchEvent) {
  logLine(event.type, describe(event), 'source' in event && event.source === 'other-tab');
}

function logLine(kind: string, text: string, fromOtherTab = false) {
  const li = document.createElement('li');
  li.dataset.type = kind;
  const when = document.createElement('time');
  when.textContent = `+${Math.round(timeline.elapsed())} ms`;
  const type = document.createElement('b');
  type.textContent = kind;
  li.append(when, type, ` ${text}`);
  const current = $<HTMLOListElement>('#events').firstElementChild;
  const group =
    fromOtherTab && current?.getAttribute('data-title') !== otherTab
      ? startGroup(otherTab)
      : (current ?? startGroup('Page load'));
  group.querySelector('ol')?.prepend(li);
  // Keep the page light: the oldest groups go first.
  const log = $<HTMLOListElement>('#events');
  while (log.querySelectorAll('li[data-type]').length > 1000 && log.childElementCount > 1)
    log.lastElementChild?.remove();
}

function describe(event: ApiFetchEvent): string {
  const target = 'url' in event && event.url ? `${event.method} ${shortUrl(event.url)}` : '';
  switch (event.type) {
    case 'request':
      return `${target} · attempt ${event.attempt} · ${event.authorized ? `${dpop ? 'DPoP' : 'Bearer'} token` : 'no token'}`;
    case 'response':
      return `${target} → ${event.status} · ${event.durationMs} ms`;
    case 'error':
      return `${target} · ${event.error.name}`;
    case 'retry':
      return `${target} · after ${event.reason}, waiting ${Math.round(event.delayMs)} ms${
        event.retryAfterMs === undefined ? '' : ` (Retry-After ${event.retryAfterMs} ms)`
      }`;
    case 'retry:throttled':
      return `${target} · ${event.reason}: retries held back for ${event.origin}`;
    case 'refresh:start':
      return refreshReason[event.reason].long;
    case 'refresh:success':
      return `${event.durationMs} ms, attempt ${event.attempt}`;
    case 'refresh:failure':
      return `${event.reason} after ${event.durationMs} ms, attempt ${event.attempt}`;
    case 'replay':
      return `${target} · ${event.reason}`;
    case 'unauthenticated':
      return `${event.reason}${target ? ` · ${target}` : ''}`;
    case 'forbidden':
      return `${target} · needs ${event.requiredScopes.join(', ')}`;
    case 'store:fallback':
      return `${event.operation} failed (${event.error}); tokens kept in memory`;
    case 'coordination:fallback':
      return `no ${event.missing.join(', ')}: one refresh per tab`;
    case 'tokens:updated':
    case 'signed-out':
      return `from ${event.source === 'local' ? 'this tab' : 'another tab'}`;
    default:
      return '';
  }
}

const actions: Record<string, { title: string; run: () => Promise<unknown> }> = {
  profile: {
    title: 'Load profile',
    run: async () => {
      const profile = await api.get('profile').json<{ name: string }>();
      $<HTMLElement>('#who').textContent = `signed in as ${profile.name}`;
      return profile;
    },
  },
  thirdparty: {
    title: 'Third-party origin',
    run: async () => {
      const { thirdPartyUrl } = (await (await fetch(`${origin}/demo/config`)).json()) as { thirdPartyUrl: string };
      const seen = await api.get(`${thirdPartyUrl}/pixel`).json<{ authorization: string | null }>();
      return `${thirdPartyUrl} answered; it saw Authorization: ${seen.authorization ?? '(none)'}. The token goes to ${origin} only.`;
    },
  },
  admin: { title: 'Admin action', run: () => api.post('admin').json() },
  stepup: { title: 'Transfer money (step-up)', run: () => api.post('transfer', { json: { amount: 100 } }).json() },
  burst: {
    title: 'Burst of 50 after revocation',
    run: async () => {
      // The API revokes every access token it issued: the next requests all meet a 401.
      const before = await stats();
      await postJson('/demo/expire', {});
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => api.get(`items/${i}`).json()));
      const refreshes = (await stats()).refreshes - before.refreshes;
      return `${results.length} requests succeeded; the token endpoint saw ${refreshes} refresh${refreshes === 1 ? '' : 'es'}.`;
    },
  },
  'rotate-nonce': {
    title: 'Rotate the DPoP nonce',
    run: async () => {
      const before = (await stats()).dpop.nonceDemands;
      await postJson('/demo/rotate-nonce', {});
      const profile = await api.get('profile').json<{ name: string }>();
      const demands = (await stats()).dpop.nonceDemands - before;
      return `The API changed its nonce. Loading ${profile.name}'s profile met ${demands} nonce demand${demands === 1 ? '' : 's'} (401 use_dpop_nonce), answered by one retry with the new nonce; no refresh.`;
    },
  },
  flaky: { title: 'Flaky endpoint', run: () => api.get('flaky').json() },
  outage: {
    title: 'Outage: 20 requests',
    run: async () => {
      const sent = async () => (await stats()).requests['/api/outage'] ?? 0;
      const before = await sent();
      let failed = 0;
      // One after another, as a page polling a dead backend would.
      for (let i = 0; i < 20; i++) await api.get('outage').catch(() => (failed += 1));
      const sends = (await sent()) - before;
      return `${failed} of 20 requests failed (503), as they must. ${sends} sends: after the first retries the throttle stopped retrying, so the outage is not made worse (without it, 4 tries each: up to 80).`;
    },
  },
  signout: {
    title: 'Sign out',
    run: async () => {
      await api.auth.clear();
      showLogin('Signed out.');
      return 'Signed out. The next request fails fast without a send (try "Load profile").';
    },
  },
};

async function stats() {
  return (await (await fetch(`${origin}/demo/stats`)).json()) as {
    refreshes: number;
    requests: Record<string, number>;
    dpop: { nonceDemands: number };
  };
}

async function run(name: string) {
  const action = actions[name];
  if (!action) return;
  banner(undefined);
  timeline.reset(action.title);
  startGroup(action.title);
  try {
    show(await action.run());
  } catch (error) {
    if (isForbiddenError(error)) show(`ForbiddenError (${error.code}): ${error.message}`);
    else if (isUnauthenticatedError(error) && error.reason === 'step_up_required') {
      show(
        `UnauthenticatedError (step_up_required): acrValues ${JSON.stringify(error.acrValues)}, maxAge ${error.maxAge} s. ` +
          'No refresh: a new token with the same sign-in would not help.',
      );
    } else if (isUnauthenticatedError(error)) show(`UnauthenticatedError (${error.reason}), sent: ${error.sent}`);
    else show(String(error));
  }
}

$<HTMLElement>('#actions').addEventListener('click', (event) => {
  const name = (event.target as HTMLElement).closest<HTMLElement>('[data-action]')?.dataset.action;
  if (name) void run(name);
});

$<HTMLFormElement>('#login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  // Before the token request, so that the log shows its proofs under this heading.
  timeline.reset('Sign in');
  startGroup('Sign in');
  try {
    const body = await postJson<TokenResponse>(
      '/auth/login',
      { username: form.get('username'), password: form.get('password') },
      undefined,
      // With DPoP, the proof binds the tokens to the key; a `400 use_dpop_nonce` is answered by one retry.
      dpop ? (input, init) => dpop.fetch(input, init) : undefined,
    );
    await api.auth.setTokens(toTokenSet(body));
  } catch (error) {
    $<HTMLElement>('#login-reason').textContent = loginFailure(error);
    return;
  }
  $<HTMLFormElement>('#login').hidden = true;
  await run('profile');
});

/** Why the sign-in failed, in words the user can act on: a typo is not an unreachable server. */
function loginFailure(error: unknown): string {
  const status = (error as { status?: unknown }).status;
  if (status === 400 || status === 401) return 'Wrong username or password.';
  if (typeof status === 'number') return `Sign-in failed: the server answered ${status}. Try again in a moment.`;
  // fetch rejects with a TypeError when the request never got an answer.
  if (error instanceof TypeError) return 'Cannot reach the demo API (network error). Is `npm run demo` still running?';
  return `Sign-in failed: ${String(error)}`;
}

/** The access token's remaining life, from the stored expiry. */
async function tickToken() {
  const tokens = await api.auth.getTokens();
  const left = tokens?.expiresAt === undefined ? undefined : Math.round((tokens.expiresAt - Date.now()) / 1000);
  $<HTMLElement>('#token').textContent =
    left === undefined ? 'no token' : left > 0 ? `access token expires in ${left} s` : 'access token expired';
}
setInterval(() => void tickToken(), 1000);

const modeSwitch = $<HTMLInputElement>('#dpop-mode');
modeSwitch.checked = dpopMode;
modeSwitch.addEventListener('change', () => {
  localStorage.setItem(modeKey, modeSwitch.checked ? 'dpop' : 'bearer');
  window.location.reload();
});
for (const el of document.querySelectorAll<HTMLElement>('[data-mode="dpop"]')) el.hidden = !dpopMode;

if (await api.auth.getTokens()) await run('profile');
else showLogin('Sign in to start.');
void tickToken();
