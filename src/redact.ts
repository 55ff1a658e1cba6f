/**
 * What apifetch hands out (errors, events, callbacks) never carries a token, a refresh token, proxy credentials or a
 * URL's query. A leaf module: it imports nothing of ours, so every layer can use it.
 */

/** Headers that carry credentials: never kept in a request or options object that apifetch hands out. */
const secretHeaders = ['authorization', 'proxy-authorization', 'cookie', 'dpop'];

/**
 * A URL without userinfo, fragment and query: the query reads `?…` (a real ellipsis, not `%E2%80%A6`) when there was
 * one. Not a URL (a relative path, say): everything from `?` or `#` is dropped the same way.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    const cut = url.search(/[?#]/);
    return cut < 0 ? url : `${url.slice(0, cut)}${url[cut] === '?' ? '?…' : ''}`;
  }
  const query = parsed.search !== '';
  parsed.username = '';
  parsed.password = '';
  parsed.search = '';
  parsed.hash = '';
  return query ? `${parsed.href}?…` : parsed.href;
}

/** Headers without those that carry credentials. */
export function redactHeaders(headers: HeadersInit | undefined): Headers {
  const copy = new Headers(headers);
  for (const name of secretHeaders) copy.delete(name);
  return copy;
}

/** Walks at most this many `cause` links: enough for any real chain, and it ends a cyclic one. */
const maxCauseDepth = 8;

const redacted = new WeakSet<object>();

/**
 * A stand-in for `request` to keep in an error: same method and headers minus credentials, URL without its query
 * (`url` reads `…?…`). Its body is not kept.
 */
export function redactRequest(request: Request): Request {
  if (redacted.has(request)) return request;
  let copy: Request;
  try {
    const url = new URL(request.url);
    url.search = '';
    url.hash = '';
    url.username = '';
    url.password = '';
    copy = new Request(url, { method: request.method, headers: redactHeaders(request.headers) });
  } catch {
    // A method the Request constructor refuses (CONNECT, TRACE) or a URL it cannot parse: keep the bare minimum.
    copy = new Request('http://invalid/', { headers: redactHeaders(request.headers) });
  }
  Object.defineProperty(copy, 'url', { value: redactUrl(request.url), enumerable: false });
  redacted.add(copy);
  return copy;
}

/**
 * A bodiless copy of `response` (status, status text, headers) whose `url` reads as its redacted form, to keep in
 * an error. The original, body and all, goes on to whoever reads it.
 */
export function redactResponse(response: Response): Response {
  if (redacted.has(response)) return response;
  let copy: Response;
  try {
    copy = new Response(null, { status: response.status, statusText: response.statusText, headers: response.headers });
  } catch {
    // A status the constructor refuses (0, 1xx): the original, with its `url` shadowed.
    copy = response;
  }
  if (response.url) {
    try {
      Object.defineProperty(copy, 'url', { value: redactUrl(response.url), enumerable: false });
    } catch {
      // A frozen or foreign Response: nothing more can be done without losing it.
    }
  }
  redacted.add(copy);
  return copy;
}

interface ErrorShape {
  message?: unknown;
  stack?: unknown;
  request?: unknown;
  response?: unknown;
  options?: unknown;
  cause?: unknown;
}

const isRequest = (value: unknown): value is Request =>
  typeof value === 'object' && value !== null && Object.prototype.toString.call(value) === '[object Request]';
const isResponse = (value: unknown): value is Response =>
  typeof value === 'object' && value !== null && Object.prototype.toString.call(value) === '[object Response]';

/** `text` with every full URL in it redacted (messages and stacks of other libraries' errors). */
export function redactText(text: string): string {
  return text.replace(/\b[a-z][\w+.-]*:\/\/[^\s"'<>]+/gi, (url) => redactUrl(url));
}

/**
 * Make an error (and its `cause` chain) safe to hand out, in place: `request` and `response` replaced by redacted
 * ones, ky's `options` without credential headers, bodies or search params, and URLs in `message` and `stack`
 * without their query. Returns the same error.
 */
export function redactError<E>(error: E): E {
  let current: unknown = error;
  for (let depth = 0; depth < maxCauseDepth && typeof current === 'object' && current !== null; depth++) {
    if (redacted.has(current)) break;
    redacted.add(current);
    const e = current as ErrorShape;
    try {
      if (typeof e.message === 'string') e.message = redactText(e.message);
      if (typeof e.stack === 'string') e.stack = redactText(e.stack);
      if (isRequest(e.request)) e.request = redactRequest(e.request);
      if (isResponse(e.response)) e.response = redactResponse(e.response);
      if (typeof e.options === 'object' && e.options !== null) e.options = redactOptions(e.options);
    } catch {
      // A read-only property of someone else's error: leave it.
    }
    current = e.cause;
  }
  return error;
}

/** ky's normalized options as an error may show them: no credential headers, no body, no search params, no hooks. */
function redactOptions(options: object): object {
  const {
    headers,
    body: _body,
    json: _json,
    searchParams: _searchParams,
    ...rest
  } = options as Record<string, unknown> & { headers?: HeadersInit };
  // Options forwarded to fetch that are apifetch's own internals.
  for (const key of Object.keys(rest)) if (key.startsWith('apifetch')) delete rest[key];
  return { ...rest, ...(headers === undefined ? {} : { headers: redactHeaders(headers) }) };
}
