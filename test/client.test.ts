import { HTTPError, isHTTPError } from 'ky';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createApiFetch,
  ForbiddenError,
  InvalidOptionError,
  isForbiddenError,
  isUnauthenticatedError,
  UnauthenticatedError,
} from '../src/index.js';
import { json, startServer, type TestServer } from './helpers/server.js';

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

describe('options', () => {
  it.each([
    [{ baseUrl: 42 }, 'baseUrl'],
    [{ baseUrl: 'ftp://x.test' }, 'baseUrl'],
    [{ timeout: -1 }, 'timeout'],
    [{ fetch: 'nope' }, 'fetch'],
    [{ auth: 'yes' }, 'auth'],
    [{ auth: { getAccessToken: 'token' } }, 'auth.getAccessToken'],
    [{ auth: { origins: 'https://a.test' } }, 'auth.origins'],
    [{ auth: { origins: ['not a url'] } }, 'auth.origins[0]'],
    [{ auth: { allowInsecureHttp: 'true' } }, 'auth.allowInsecureHttp'],
    [{ onUnauthenticated: 1 }, 'onUnauthenticated'],
    [{ onForbidden: {} }, 'onForbidden'],
    [{ onEvent: [] }, 'onEvent'],
  ])('rejects %j naming %s', (options, option) => {
    const attempt = () => createApiFetch(options as never);
    expect(attempt).toThrow(InvalidOptionError);
    expect(attempt).toThrow(`\`${option}\``);
  });

  it('extend inherits options and merges headers', async () => {
    const base = createApiFetch({
      baseUrl: api.origin,
      headers: { 'x-test': 'a' },
      auth: { getAccessToken: () => token },
    });
    const child = base.extend({ headers: { 'x-extra': 'b' } });
    await child.post('x', { json: { n: 1 } }).text();
    const seen = api.seen[0];
    expect(seen?.headers['x-test']).toBe('a');
    expect(seen?.headers['x-extra']).toBe('b');
    expect(seen?.headers.authorization).toBe(`Bearer ${token}`);
    expect(seen?.body).toBe('{"n":1}');
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
