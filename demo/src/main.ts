import {
  type ApiFetchEvent,
  createApiFetch,
  isForbiddenError,
  isUnauthenticatedError,
  storageTokenStore,
  type TokenSet,
} from '../../src/index.js';

const $ = <T extends Element>(selector: string) => document.querySelector(selector) as T;
const origin = window.location.origin;

interface Bar {
  label: string;
  start: number;
  end?: number;
  kind: 'ok' | 'retry' | 'replay' | 'fail' | 'refresh';
}
const bars: Bar[] = [];
const t0 = performance.now();
const open = new Map<string, Bar>();

function showLogin(reason: string) {
  $<HTMLFormElement>('#login').hidden = false;
  $<HTMLElement>('#login-reason').textContent = reason;
  $<HTMLElement>('#who').textContent = 'signed out';
}

function log(event: ApiFetchEvent) {
  const li = document.createElement('li');
  const { type, time: _time, ...rest } = event as ApiFetchEvent & Record<string, unknown>;
  li.textContent = `${type} ${JSON.stringify(rest)}`;
  li.dataset.type = type;
  $<HTMLOListElement>('#events').prepend(li);
  track(event);
}

function track(event: ApiFetchEvent) {
  const now = performance.now() - t0;
  if (event.type === 'request') {
    const bar: Bar = { label: `${event.method} ${new URL(event.url).pathname}`, start: now, kind: 'ok' };
    bars.push(bar);
    open.set(event.url, bar);
  } else if (event.type === 'response' || event.type === 'error') {
    const bar = open.get(event.url);
    if (bar) {
      bar.end = now;
      if (event.type === 'error' || event.status >= 400) bar.kind = 'fail';
      open.delete(event.url);
    }
  } else if (event.type === 'retry' || event.type === 'replay') {
    const last = [...bars].reverse().find((b) => b.label.endsWith(new URL(event.url).pathname));
    if (last) last.kind = event.type;
  } else if (event.type === 'refresh:start') {
    bars.push({ label: 'token refresh', start: now, kind: 'refresh' });
  } else if (event.type === 'refresh:success' || event.type === 'refresh:failure') {
    const bar = [...bars].reverse().find((b) => b.kind === 'refresh' && b.end === undefined);
    if (bar) bar.end = now;
  }
  drawSoon();
}

let pending = false;
function drawSoon() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    draw();
  });
}

function draw() {
  const svg = $<SVGSVGElement>('#timeline');
  const recent = bars.slice(-60);
  if (recent.length === 0) return;
  const from = recent[0]!.start;
  const to = Math.max(...recent.map((b) => b.end ?? performance.now() - t0), from + 1);
  const width = svg.clientWidth || 600;
  const row = Math.max(2, Math.min(12, 240 / recent.length));
  svg.setAttribute('viewBox', `0 0 ${width} ${recent.length * row}`);
  svg.setAttribute('height', String(Math.max(40, recent.length * row)));
  svg.innerHTML = recent
    .map((bar, i) => {
      const x = ((bar.start - from) / (to - from)) * width;
      const w = Math.max(2, (((bar.end ?? to) - bar.start) / (to - from)) * width);
      return `<rect class="${bar.kind}" data-kind="${bar.kind}" x="${x}" y="${i * row}" width="${w}" height="${row - 1}"><title>${bar.label}</title></rect>`;
    })
    .join('');
}

function banner(text: string | undefined) {
  const el = $<HTMLElement>('#banner');
  el.hidden = text === undefined;
  el.textContent = text ?? '';
}

const api = createApiFetch({
  baseUrl: `${origin}/api/`,
  auth: {
    store: storageTokenStore(localStorage, 'apifetch-demo-tokens'),
    refresh: async ({ tokens, signal }) => {
      const response = await fetch(`${origin}/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken: tokens?.refreshToken }),
        signal,
      });
      const body = (await response.json()) as TokenSet & { title?: string };
      if (!response.ok) throw Object.assign(new Error(body.title ?? 'refresh failed'), { status: response.status });
      return body;
    },
  },
  retry: { limit: 3, baseDelayMs: 200 },
  onUnauthenticated: (error) => showLogin(`Please sign in (${error.reason}).`),
  onForbidden: (error) => banner(`Access denied: this needs the ${error.requiredScopes.join(', ')} scope.`),
  onEvent: log,
});

function show(value: unknown) {
  $<HTMLElement>('#result').textContent = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

const actions: Record<string, () => Promise<unknown>> = {
  profile: async () => {
    const profile = await api.get('profile').json<{ name: string }>();
    $<HTMLElement>('#who').textContent = `signed in as ${profile.name}`;
    return profile;
  },
  admin: () => api.post('admin').json(),
  burst: async () => {
    await fetch(`${origin}/demo/expire`, { method: 'POST' });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => api.get(`items/${i}`).json()));
    const stats = (await (await fetch(`${origin}/demo/stats`)).json()) as { refreshes: number };
    return `${results.length} requests succeeded; token endpoint refreshes so far: ${stats.refreshes}`;
  },
  flaky: () => api.get('flaky').json(),
  signout: async () => {
    await api.auth.clear();
    showLogin('Signed out.');
    return 'signed out';
  },
};

$<HTMLElement>('#actions').addEventListener('click', async (event) => {
  const action = (event.target as HTMLElement).dataset.action;
  if (!action || !actions[action]) return;
  banner(undefined);
  try {
    show(await actions[action]());
  } catch (error) {
    if (isForbiddenError(error)) show(`ForbiddenError: ${error.message}`);
    else if (isUnauthenticatedError(error)) show(`UnauthenticatedError (${error.reason})`);
    else show(String(error));
  }
});

$<HTMLFormElement>('#login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target as HTMLFormElement);
  const response = await fetch(`${origin}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: form.get('username'), password: form.get('password') }),
  });
  if (!response.ok) {
    $<HTMLElement>('#login-reason').textContent = 'Wrong username or password.';
    return;
  }
  await api.auth.setTokens((await response.json()) as TokenSet);
  $<HTMLFormElement>('#login').hidden = true;
  show(await actions.profile!());
});

if (!(await api.auth.getTokens())) showLogin('Sign in to start.');
