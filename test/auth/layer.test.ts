import { HTTPError, isHTTPError } from 'ky';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type ApiFetchEvent,
  createApiFetch,
  createTokenSession,
  ForbiddenError,
  isForbiddenError,
  isUnauthenticatedError,
  UnauthenticatedError,
} from '../../src/index.js';
import { json, startServer, type TestServer } from '../helpers/server.js';

let api: TestServer;
let thirdParty: TestServer;

beforeAll(async () => {
  api = await startServer();
  thirdParty = await startServer();
});
afterAll(async () => {
  await api.close();
  await thirdParty.close();
});
afterEach(() => {
  api.seen.length = 0;
  thirdParty.seen.length = 0;
  api.handle((_req, res) => res.end('ok'));
  vi.unstubAllGlobals();
});

const token = 'secret-token-abc';

describe('bearer attach', () => {
  it('attaches the token to the baseUrl origin, read at send time', async () => {
    let current = 'first';
    const client = createApiFetch({ baseUrl: `${api.origin}/v1/`, auth: { getAccessToken: () => current } });
    await client.get('me').text();
    current = 'second';
    await client.get('me').text();
    expect(api.seen.map((r) => r.headers.authorization)).toEqual(['Bearer first', 'Bearer second']);
    expect(api.seen[0]?.url).toBe('/v1/me');
  });

  it('never sends the token to a third-party origin', async () => {
    const client = createApiFetch({ baseUrl: api.origin, auth: { getAccessToken: () => token } });
    await client.get(`${thirdParty.origin}/collect`).text();
    expect(thirdParty.seen).toHaveLength(1);
    expect(thirdParty.seen[0]?.headers.authorization).toBeUndefined();
  });

  it('sends the token to an origin listed in auth.origins', async () => {
    const client = createApiFetch({
      baseUrl: api.origin,
      auth: { getAccessToken: async () => token, origins: [thirdParty.origin] },
    });
    await client.get(`${thirdParty.origin}/files`).text();
    expect(thirdParty.seen[0]?.headers.authorization).toBe(`Bearer ${token}`);
  });

  it("keeps the caller's own Authorization header", async () => {
    const client = createApiFetch({ baseUrl: api.origin, auth: { getAccessToken: () => token } });
    await client.get('x', { headers: { authorization: 'Basic dTpw' } }).text();
    expect(api.seen[0]?.headers.authorization).toBe('Basic dTpw');
  });

  it('sends no token with auth: false on the request, or when auth is false for the client', async () => {
    const client = createApiFetch({ baseUrl: api.origin, auth: { getAccessToken: () => token } });
    await client.get('public', { auth: false }).text();
    await createApiFetch({ baseUrl: api.origin, auth: false }).get('x').text();
    expect(api.seen.map((r) => r.headers.authorization)).toEqual([undefined, undefined]);
  });

  it('sends no header when getAccessToken returns nothing', async () => {
    const client = createApiFetch({ baseUrl: api.origin, auth: { getAccessToken: () => null } });
    await client.get('x').text();
    expect(api.seen[0]?.headers.authorization).toBeUndefined();
  });

  it('refuses a plain-http baseUrl or origin to a non-loopback host at creation, unless allowInsecureHttp', async () => {
    const seen: (string | null)[] = [];
    const fetch = async (request: Request) => {
      seen.push(request.headers.get('authorization'));
      return new Response('ok');
    };
    const getAccessToken = () => token;
    expect(() => createApiFetch({ baseUrl: 'http://api.example.test', fetch, auth: { getAccessToken } })).toThrow(
      expect.objectContaining({ name: 'InvalidOptionError', option: 'baseUrl' }),
    );
    expect(() =>
      createApiFetch({ fetch, auth: { getAccessToken, origins: ['https://a.test', 'http://files.example.test'] } }),
    ).toThrow(expect.objectContaining({ name: 'InvalidOptionError', option: 'auth.origins[1]' }));
    // Without a token source there is nothing to protect: plain http is fine.
    await createApiFetch({ baseUrl: 'http://api.example.test', fetch }).get('x').text();
    await createApiFetch({ baseUrl: 'https://api.example.test', fetch, auth: { getAccessToken } }).get('x').text();
    await createApiFetch({ baseUrl: 'http://127.0.0.1:9', fetch, auth: { getAccessToken } }).get('x').text();
    await createApiFetch({
      baseUrl: 'http://api.example.test',
      fetch,
      auth: { getAccessToken, allowInsecureHttp: true },
    })
      .get('x')
      .text();
    expect(seen).toEqual([null, `Bearer ${token}`, `Bearer ${token}`, `Bearer ${token}`]);
  });
});

describe('errors', () => {
  it('a 401 throws UnauthenticatedError (no_refresh) and calls onUnauthenticated once per episode', async () => {
    api.handle((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="api", error="invalid_token"' });
      res.end();
    });
    const onUnauthenticated = vi.fn();
    const client = createApiFetch({ baseUrl: api.origin, auth: { getAccessToken: () => token }, onUnauthenticated });
    const error = await client.get('me').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect(error).toBeInstanceOf(HTTPError);
    expect(isHTTPError(error)).toBe(true);
    expect(isUnauthenticatedError(error)).toBe(true);
    const e = error as UnauthenticatedError;
    expect(e).toMatchObject({ name: 'UnauthenticatedError', code: 'ERR_UNAUTHENTICATED', status: 401 });
    expect(e.reason).toBe('no_refresh');
    expect(e.retryable).toBe(false);
    expect(e.challenges).toEqual([{ scheme: 'bearer', params: { realm: 'api', error: 'invalid_token' } }]);
    expect(e.message).not.toContain(token);
    await client.get('me').catch(() => {});
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
    expect(onUnauthenticated).toHaveBeenCalledWith(error);
  });

  it('a 403 throws ForbiddenError once, with scopes and the problem body, and calls onForbidden', async () => {
    api.handle((_req, res) => {
      res.writeHead(403, {
        'www-authenticate': 'Bearer error="insufficient_scope", scope="admin:write audit"',
        'content-type': 'application/problem+json',
      });
      res.end(JSON.stringify({ type: 'https://example.test/forbidden', title: 'Forbidden', status: 403 }));
    });
    const onForbidden = vi.fn();
    const client = createApiFetch({ baseUrl: api.origin, auth: { getAccessToken: () => token }, onForbidden });
    const error = (await client.get('admin').catch((e: unknown) => e)) as ForbiddenError;
    expect(isForbiddenError(error)).toBe(true);
    expect(error).toBeInstanceOf(ForbiddenError);
    expect(error.requiredScopes).toEqual(['admin:write', 'audit']);
    expect(error.problem).toEqual({ type: 'https://example.test/forbidden', title: 'Forbidden', status: 403 });
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('admin:write');
    expect(api.seen).toHaveLength(1);
    expect(onForbidden).toHaveBeenCalledWith(error);
  });

  it('a 403 is never retried, even for GET with retries enabled', async () => {
    api.handle((_req, res) => json(res, 403, { title: 'no' }));
    const client = createApiFetch({ baseUrl: api.origin });
    await expect(client.get('x', { retry: 3 })).rejects.toBeInstanceOf(ForbiddenError);
    expect(api.seen).toHaveLength(1);
  });

  it('other statuses throw ky HTTPError', async () => {
    api.handle((_req, res) => json(res, 404, { title: 'missing' }));
    const client = createApiFetch({ baseUrl: api.origin });
    const error = await client.get('x').catch((e: unknown) => e);
    expect(isHTTPError(error)).toBe(true);
    expect(isForbiddenError(error) || isUnauthenticatedError(error)).toBe(false);
    expect((error as HTTPError).response.status).toBe(404);
  });

  it('a 401 from a third-party origin is a plain HTTPError and does not sign the user out', async () => {
    thirdParty.handle((_req, res) => {
      res.statusCode = 401;
      res.end();
    });
    const onUnauthenticated = vi.fn();
    const client = createApiFetch({ baseUrl: api.origin, onUnauthenticated });
    const error = await client.get(`${thirdParty.origin}/x`).catch((e: unknown) => e);
    expect(isHTTPError(error)).toBe(true);
    expect(isUnauthenticatedError(error)).toBe(false);
    expect(onUnauthenticated).not.toHaveBeenCalled();
    thirdParty.handle((_req, res) => res.end('ok'));
  });
});

describe('UI callbacks', () => {
  it('a throwing onForbidden or onUnauthenticated does not change the error the caller gets', async () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    api.handle((req, res) => json(res, req.url === '/denied' ? 403 : 401, {}));
    const client = createApiFetch({
      baseUrl: api.origin,
      onForbidden: () => {
        throw new Error('ui bug');
      },
      onUnauthenticated: () => {
        throw new Error('ui bug');
      },
    });
    await expect(client.get('denied')).rejects.toBeInstanceOf(ForbiddenError);
    await expect(client.get('login')).rejects.toBeInstanceOf(UnauthenticatedError);
    expect(spy).toHaveBeenCalledTimes(2);
    spy.mockRestore();
  });
});

describe('a 401 or 403 is judged by the origin that answered', () => {
  let ours: TestServer;
  let theirs: TestServer;
  beforeEach(async () => {
    theirs = await startServer((req, res) =>
      req.url === '/401'
        ? json(res, 401, {}, { 'www-authenticate': 'Bearer error="invalid_token"' })
        : json(res, 403, {}, { 'www-authenticate': 'Bearer error="insufficient_scope", scope="x"' }),
    );
    ours = await startServer((req, res) => {
      res.writeHead(302, { location: `${theirs.origin}${req.url}` });
      res.end();
    });
  });
  afterEach(async () => {
    await ours.close();
    await theirs.close();
  });

  it.each([401, 403])(
    'a %i from the origin a redirect led to is a plain HTTPError: no refresh, no callbacks',
    async (status) => {
      const refresh = vi.fn(async () => ({ accessToken: 'new' }));
      const onUnauthenticated = vi.fn();
      const onForbidden = vi.fn();
      const events: ApiFetchEvent[] = [];
      const client = createApiFetch({
        baseUrl: ours.origin,
        auth: { session: createTokenSession({ tokens: { accessToken: 'ok' }, refresh }) },
        onUnauthenticated,
        onForbidden,
        onEvent: (e) => events.push(e),
      });
      const error = await client.get(String(status)).catch((e: unknown) => e);
      expect(isHTTPError(error)).toBe(true);
      expect((error as Error).name).toBe('HTTPError');
      expect(isUnauthenticatedError(error) || isForbiddenError(error)).toBe(false);
      expect(refresh).not.toHaveBeenCalled();
      expect(onUnauthenticated).not.toHaveBeenCalled();
      expect(onForbidden).not.toHaveBeenCalled();
      expect(events.filter((e) => e.type === 'unauthenticated' || e.type === 'forbidden')).toEqual([]);
      expect(theirs.seen[0]?.headers.authorization).toBeUndefined();
      // Still signed in: the next request to our API carries the token.
      expect(await client.auth.getTokens()).toEqual({ accessToken: 'ok' });
    },
  );
});

describe('step-up on the replay after a refresh', () => {
  it('is step_up_required with acrValues and maxAge, and the fresh tokens are kept', async () => {
    const api = await startServer((req, res) =>
      req.headers.authorization === 'Bearer fresh'
        ? json(
            res,
            401,
            {},
            {
              'www-authenticate': 'Bearer error="insufficient_user_authentication", acr_values="mfa phr", max_age=300',
            },
          )
        : json(res, 401, {}, { 'www-authenticate': 'Bearer error="invalid_token"' }),
    );
    try {
      const onUnauthenticated = vi.fn();
      const client = createApiFetch({
        baseUrl: api.origin,
        auth: {
          session: createTokenSession({
            tokens: { accessToken: 'old', refreshToken: 'r' },
            refresh: async () => ({ accessToken: 'fresh' }),
          }),
        },
        onUnauthenticated,
      });
      const error = (await client.get('admin').catch((e: unknown) => e)) as UnauthenticatedError;
      expect(error).toMatchObject({ reason: 'step_up_required', acrValues: ['mfa', 'phr'], maxAge: 300 });
      expect(await client.auth.getTokens()).toMatchObject({ accessToken: 'fresh' });
      expect(onUnauthenticated).toHaveBeenCalledTimes(1);
      // Not signed out: the next request is sent, with the fresh token.
      await client.get('other').catch(() => {});
      expect(api.seen.map((r) => r.headers.authorization)).toEqual(['Bearer old', 'Bearer fresh', 'Bearer fresh']);
    } finally {
      await api.close();
    }
  });
});

describe('a final 401 or 403 with throwHttpErrors: false', () => {
  let api: TestServer;
  beforeEach(async () => {
    api = await startServer((req, res) =>
      req.url === '/forbidden'
        ? json(res, 403, { title: 'no' }, { 'www-authenticate': 'Bearer error="insufficient_scope", scope="a"' })
        : req.headers.authorization === 'Bearer good'
          ? json(res, 200, { ok: true })
          : json(res, 401, {}, { 'www-authenticate': 'Bearer error="invalid_token"' }),
    );
  });
  afterEach(() => api.close());

  it('throwHttpErrors: false resolves a final 401 and 403 (callbacks still fire); afterResponse hooks see them', async () => {
    const statuses: number[] = [];
    const onUnauthenticated = vi.fn();
    const onForbidden = vi.fn();
    const client = createApiFetch({
      baseUrl: api.origin,
      auth: {
        session: createTokenSession({
          tokens: { accessToken: 'stale', refreshToken: 'r' },
          refresh: async () => ({ accessToken: 'still-bad' }),
        }),
      },
      onUnauthenticated,
      onForbidden,
    });
    const hooks = { afterResponse: [({ response }: { response: Response }) => void statuses.push(response.status)] };
    const forbidden = await client.get('forbidden', { throwHttpErrors: false, hooks });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toEqual({ title: 'no' });
    expect(onForbidden).toHaveBeenCalledTimes(1);
    expect(onForbidden.mock.calls[0]).toEqual([expect.objectContaining({ problem: { title: 'no' } })]);
    // With errors thrown (the default), hooks still see the 403 and the typed error arrives.
    const error = await client.get('forbidden', { hooks }).catch((e: unknown) => e);
    expect(isForbiddenError(error)).toBe(true);
    expect(statuses).toEqual([403, 403]);
    const unauthorized = await client.get('x', { throwHttpErrors: false, hooks });
    expect(unauthorized.status).toBe(401);
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
    // Refreshed once, replayed once, then the final 401 resolves and the hooks see it.
    expect(api.seen.filter((r) => r.url === '/x').length).toBe(2);
    expect(statuses).toEqual([403, 403, 401]);
    // Signed out now: a request fails fast, and resolves with the local 401 stand-in.
    const notSent = await client.get('x', { throwHttpErrors: false });
    expect(notSent.status).toBe(401);
    expect(api.seen.filter((r) => r.url === '/x').length).toBe(2);
  });
});

describe('what the layer refreshes for', () => {
  /** A client with a refreshable session over an API that refuses every token but `fresh`, except as `answer` says. */
  function refreshable(answer: (authorization: string | null) => Response | undefined = () => undefined) {
    const sent: (string | null)[] = [];
    const refresh = vi.fn(async () => ({ accessToken: 'fresh' }));
    const onUnauthenticated = vi.fn();
    const onForbidden = vi.fn();
    const api = createApiFetch({
      baseUrl: 'https://api.example.test',
      fetch: async (request) => {
        const authorization = request.headers.get('authorization');
        sent.push(authorization);
        return (
          answer(authorization) ??
          (authorization === 'Bearer fresh'
            ? new Response('ok')
            : new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }))
        );
      },
      auth: { session: createTokenSession({ tokens: { accessToken: 'stale', refreshToken: 'r' }, refresh }) },
      onUnauthenticated,
      onForbidden,
    });
    return { api, sent, refresh, onUnauthenticated, onForbidden };
  }

  it("a 401 to the caller's own Authorization is no_refresh: sent once, the session's tokens untouched", async () => {
    const { api, sent, refresh, onUnauthenticated } = refreshable();
    const error = await api.get('x', { headers: { authorization: 'Basic dTpw' } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'UnauthenticatedError', reason: 'no_refresh', sent: true });
    expect(sent).toEqual(['Basic dTpw']);
    expect(refresh).not.toHaveBeenCalled();
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
    expect(await api.auth.getTokens()).toEqual({ accessToken: 'stale', refreshToken: 'r' });
  });

  it('a 401 to a request sent with auth: false is no_refresh: sent once without a token, nothing refreshed', async () => {
    const { api, sent, refresh } = refreshable();
    const error = await api.get('x', { auth: false }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'UnauthenticatedError', reason: 'no_refresh' });
    expect(sent).toEqual([null]);
    expect(refresh).not.toHaveBeenCalled();
  });

  it('a 403 to the replay after a refresh is a ForbiddenError, with onForbidden, and no second refresh', async () => {
    const { api, sent, refresh, onForbidden, onUnauthenticated } = refreshable((authorization) =>
      authorization === 'Bearer fresh'
        ? new Response(null, {
            status: 403,
            headers: { 'www-authenticate': 'Bearer error="insufficient_scope", scope="admin"' },
          })
        : undefined,
    );
    const error = await api.get('admin').catch((e: unknown) => e);
    expect(isForbiddenError(error)).toBe(true);
    expect((error as ForbiddenError).requiredScopes).toEqual(['admin']);
    expect(sent).toEqual(['Bearer stale', 'Bearer fresh']);
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(onForbidden).toHaveBeenCalledTimes(1);
    expect(onUnauthenticated).not.toHaveBeenCalled();
    expect(await api.auth.getTokens()).toMatchObject({ accessToken: 'fresh' });
  });
});
