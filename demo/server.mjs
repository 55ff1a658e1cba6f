// The demo API: real signed JWTs (short-lived), rotating refresh tokens with reuse detection, scopes, a flaky
// route, CORS like a real API, and the built SPA. Loopback only.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jwtVerify, SignJWT } from 'jose';

const users = {
  alice: { password: 'alice', scopes: ['profile'] },
  admin: { password: 'admin', scopes: ['profile', 'admin'] },
};

const cors = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type, idempotency-key',
  'access-control-expose-headers': 'www-authenticate, retry-after',
  'access-control-max-age': '600',
};

const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Start the demo API on 127.0.0.1. `now` is the clock for token lifetimes (injectable for tests).
 * @returns {Promise<{ url: string, thirdPartyUrl: string, stats: object, expireAll: () => void, close: () => Promise<void> }>}
 */
export async function startDemoServer({ port = 0, tokenTtlMs = 15_000, staticDir, now = Date.now } = {}) {
  const secret = randomBytes(32);
  /** refresh token → { user, family, used } */
  const refreshTokens = new Map();
  const revokedFamilies = new Set();
  /** Access tokens issued so far (by jti), and those expired early by `/demo/expire`. */
  const issued = new Set();
  const expired = new Set();
  let flakyCalls = 0;
  const stats = {
    logins: 0,
    refreshes: 0,
    reuseDetected: 0,
    requests: {},
    statuses: {},
    thirdParty: { requests: 0, withAuthorization: 0 },
  };
  const expireAll = () => {
    for (const jti of issued) expired.add(jti);
    issued.clear();
  };

  const issue = async (username, family = randomUUID()) => {
    const iat = now();
    const jti = randomUUID();
    issued.add(jti);
    const accessToken = await new SignJWT({ scope: users[username].scopes.join(' ') })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(username)
      .setIssuedAt(Math.floor(iat / 1000))
      .setExpirationTime(Math.floor((iat + tokenTtlMs) / 1000))
      .setJti(jti)
      .sign(secret);
    const refreshToken = randomBytes(24).toString('base64url');
    refreshTokens.set(refreshToken, { user: username, family, used: false });
    // The shape of an OAuth token response (camel-cased): lifetime in seconds, not a timestamp.
    return { accessToken, refreshToken, expiresIn: Math.floor(tokenTtlMs / 1000), tokenType: 'Bearer' };
  };

  const send = (res, status, body, headers = {}) => {
    stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
    const problem = status >= 400 && body && typeof body === 'object' && 'title' in body;
    res.writeHead(status, {
      ...cors,
      'content-type': problem ? 'application/problem+json' : 'application/json',
      ...headers,
    });
    res.end(JSON.stringify(body));
  };
  // RFC 6750 3.1: a request without a token gets a bare challenge; a bad or expired one gets `invalid_token`.
  const unauthorized = (res, description) =>
    send(
      res,
      401,
      { title: 'Unauthorized', status: 401, detail: description },
      {
        'www-authenticate':
          description === 'no token'
            ? 'Bearer realm="demo"'
            : `Bearer realm="demo", error="invalid_token", error_description="${description}"`,
      },
    );

  const authenticate = async (req) => {
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Bearer ')) return { error: 'no token' };
    try {
      const { payload } = await jwtVerify(header.slice(7), secret, { currentDate: new Date(now()) });
      if (expired.has(payload.jti)) return { error: 'token expired' };
      return { user: payload.sub, scopes: String(payload.scope ?? '').split(' ') };
    } catch (error) {
      return { error: error.code === 'ERR_JWT_EXPIRED' ? 'token expired' : 'invalid token' };
    }
  };

  const readJson = async (req) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    try {
      return JSON.parse(raw || '{}');
    } catch {
      return {};
    }
  };

  const serveStatic = async (res, path) => {
    if (!staticDir) return send(res, 404, { title: 'Not found', status: 404 });
    const file = normalize(join(staticDir, path === '/' ? 'index.html' : path));
    if (!file.startsWith(staticDir)) return send(res, 404, { title: 'Not found', status: 404 });
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      send(res, 404, { title: 'Not found', status: 404 });
    }
  };

  const server = createServer(async (req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors);
      return res.end();
    }
    stats.requests[pathname] = (stats.requests[pathname] ?? 0) + 1;
    if (pathname === '/auth/login' && req.method === 'POST') {
      const { username, password } = await readJson(req);
      const user = users[username];
      if (!user || user.password !== password) {
        return send(res, 400, { error: 'invalid_grant', title: 'Wrong username or password', status: 400 });
      }
      stats.logins += 1;
      return send(res, 200, await issue(username));
    }
    if (pathname === '/auth/refresh' && req.method === 'POST') {
      stats.refreshes += 1;
      const { refreshToken } = await readJson(req);
      const entry = refreshTokens.get(refreshToken);
      if (!entry || revokedFamilies.has(entry.family)) {
        return send(res, 400, { error: 'invalid_grant', title: 'Unknown refresh token', status: 400 });
      }
      if (entry.used) {
        // Reuse of a rotated refresh token: someone else has it. Revoke the whole family.
        stats.reuseDetected += 1;
        revokedFamilies.add(entry.family);
        return send(res, 400, { error: 'invalid_grant', title: 'Refresh token reused', status: 400 });
      }
      entry.used = true;
      return send(res, 200, await issue(entry.user, entry.family));
    }
    if (pathname === '/demo/expire' && req.method === 'POST') {
      expireAll();
      return send(res, 200, { expired: true });
    }
    if (pathname === '/demo/stats') return send(res, 200, stats);
    if (pathname === '/demo/config') return send(res, 200, { thirdPartyUrl });
    if (pathname.startsWith('/api/')) {
      const who = await authenticate(req);
      if (who.error) return unauthorized(res, who.error);
      if (pathname === '/api/profile') return send(res, 200, { name: who.user, scopes: who.scopes });
      if (pathname === '/api/admin') {
        if (!who.scopes.includes('admin')) {
          return send(
            res,
            403,
            { type: 'https://apifetch.dev/problems/scope', title: 'Admins only', status: 403, detail: 'needs admin' },
            { 'www-authenticate': 'Bearer realm="demo", error="insufficient_scope", scope="admin"' },
          );
        }
        return send(res, 200, { done: true });
      }
      if (pathname === '/api/flaky') {
        // A schedule: 503, 429 with Retry-After: 1, then success; and again.
        flakyCalls += 1;
        const step = flakyCalls % 3;
        if (step === 1) return send(res, 503, { title: 'Unavailable', status: 503 });
        if (step === 2) return send(res, 429, { title: 'Slow down', status: 429 }, { 'retry-after': '1' });
        return send(res, 200, { ok: true, calls: flakyCalls });
      }
      if (pathname === '/api/transfer') {
        // Money moves only after a second factor (RFC 9470 step-up); the demo's sign-in is password only.
        return send(
          res,
          401,
          { title: 'A second factor is required', status: 401 },
          {
            'www-authenticate':
              'Bearer realm="demo", error="insufficient_user_authentication", acr_values="mfa", max_age="300"',
          },
        );
      }
      if (pathname === '/api/outage') return send(res, 503, { title: 'Down for maintenance', status: 503 });
      if (pathname.startsWith('/api/items/')) return send(res, 200, { id: pathname.slice(11), owner: who.user });
      return send(res, 404, { title: 'Not found', status: 404 });
    }
    return serveStatic(res, pathname);
  });
  // Another origin (another port), as an analytics pixel or a CDN would be: it reports the Authorization it got.
  const thirdParty = createServer((req, res) => {
    stats.thirdParty.requests += 1;
    if (req.headers.authorization) stats.thirdParty.withAuthorization += 1;
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors);
      return res.end();
    }
    res.writeHead(200, { ...cors, 'content-type': 'application/json' });
    res.end(JSON.stringify({ authorization: req.headers.authorization ?? null }));
  });
  await listen(thirdParty, 0);
  await listen(server, port);
  const url = `http://127.0.0.1:${server.address().port}`;
  const thirdPartyUrl = `http://127.0.0.1:${thirdParty.address().port}`;
  return {
    url,
    thirdPartyUrl,
    stats,
    expireAll,
    close: () => Promise.all([server, thirdParty].map(close)).then(() => {}),
  };
}

function close(server) {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** Listen on 127.0.0.1; when the wished-for port is taken, take any free one rather than fail. */
function listen(server, port) {
  return new Promise((resolve, reject) => {
    const onError = (error) => {
      if (error.code !== 'EADDRINUSE' || port === 0) return reject(error);
      server.listen(0, '127.0.0.1', resolve);
    };
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export const demoDir = fileURLToPath(new URL('.', import.meta.url));
