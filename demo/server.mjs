// The demo API: real signed JWTs (short-lived), rotating refresh tokens with reuse detection, scopes, a flaky
// route, CORS like a real API, DPoP-bound tokens with server nonces (RFC 9449), and the built SPA. Loopback only.
// The OAuth server itself (who may sign in, which token is valid, rotation, reuse, scopes, expiry, DPoP proofs and
// nonces) is the testing kit's model, imported from the built package; this file is its HTTP plumbing.
import { createHmac, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { challenge, createAuthModel } from 'apifetch/testing/auth-model';

const users = {
  alice: { password: 'alice', scopes: ['profile'] },
  admin: { password: 'admin', scopes: ['profile', 'admin'] },
};

const cors = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type, idempotency-key, dpop',
  'access-control-expose-headers': 'www-authenticate, retry-after, dpop-nonce',
  'access-control-max-age': '600',
};

const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Problem titles of the token endpoint's refusals, by the model's reason (the SPA shows the title). */
const grantTitles = {
  wrong_password: 'Wrong username or password',
  unknown_refresh_token: 'Unknown refresh token',
  refresh_token_reused: 'Refresh token reused',
  wrong_key: 'Refresh token bound to another key',
};

/** An HS256 JWT of `claims`, signed with `secret`. */
const hs256 = (secret) => (claims) => {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
};

/**
 * Start the demo API on 127.0.0.1. `now` is the clock for token lifetimes and the DPoP nonce (injectable for tests);
 * the nonce changes every `dpopNonceTtlMs`, and on `POST /demo/rotate-nonce`.
 * @returns {Promise<{ url: string, thirdPartyUrl: string, stats: object, expireAll: () => void, rotateNonce: () => string, close: () => Promise<void> }>}
 */
export async function startDemoServer({
  port = 0,
  tokenTtlMs = 15_000,
  dpopNonceTtlMs = 30_000,
  staticDir,
  now = Date.now,
} = {}) {
  const model = createAuthModel({
    users,
    accessTokenTtlMs: tokenTtlMs,
    now,
    signAccessToken: hs256(randomBytes(32)),
    // A proof is optional: a client with one gets DPoP-bound tokens, the others Bearer tokens.
    dpop: { required: false, nonceTtlMs: dpopNonceTtlMs, iatWindowSeconds: 60 },
  });
  let flakyCalls = 0;
  const counted = model.stats;
  const stats = {
    get logins() {
      return counted.signIns;
    },
    refreshes: 0,
    get reuseDetected() {
      return counted.reuseDetected;
    },
    requests: {},
    statuses: {},
    thirdParty: { requests: 0, withAuthorization: 0 },
    // Every proof received (its `jti`, refused ones included), the nonce demands, and the refusals by reason.
    dpop: {
      get proofs() {
        return counted.proofs;
      },
      get jtis() {
        return counted.jtis;
      },
      get nonceDemands() {
        return counted.nonceDemands;
      },
      get boundTokens() {
        return counted.boundTokens;
      },
      refused: {
        get invalid_dpop_proof() {
          return counted.invalidProofs;
        },
        get use_dpop_nonce() {
          return counted.nonceDemands;
        },
      },
    },
  };
  const nonceHeader = (dpop) => (dpop ? { 'dpop-nonce': model.nonce } : {});

  /** A token request (sign-in or refresh): the proof's key, then the grant; RFC 9449 §8 for a refused proof. */
  const tokenRequest = async (req, res, pathname, grant) => {
    const key = await model.tokenRequestKey(req.headers.dpop, req.method, `${url}${pathname}`);
    if (key.error) return send(res, 400, { error: key.error, title: key.description, status: 400 }, nonceHeader(true));
    const issued = grant(key);
    if (issued.error) {
      const { error, reason, description } = issued;
      return send(res, 400, { error, title: grantTitles[reason], status: 400, detail: description });
    }
    // The shape of an OAuth token response (camel-cased): lifetime in seconds, not a timestamp.
    const { accessToken, refreshToken, expiresIn, tokenType } = issued;
    return send(res, 200, { accessToken, refreshToken, expiresIn, tokenType }, nonceHeader(tokenType === 'DPoP'));
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
      return tokenRequest(req, res, pathname, (key) => model.signIn(String(username), String(password), key));
    }
    if (pathname === '/auth/refresh' && req.method === 'POST') {
      stats.refreshes += 1;
      const { refreshToken } = await readJson(req);
      return tokenRequest(req, res, pathname, (key) => model.refresh(String(refreshToken), key));
    }
    if (pathname === '/demo/expire' && req.method === 'POST') {
      model.expireTokens();
      return send(res, 200, { expired: true });
    }
    if (pathname === '/demo/rotate-nonce' && req.method === 'POST') {
      model.rotateNonce();
      return send(res, 200, { rotated: true });
    }
    if (pathname === '/demo/stats') return send(res, 200, stats);
    if (pathname === '/demo/config') return send(res, 200, { thirdPartyUrl });
    if (pathname.startsWith('/api/')) {
      const who = await model.authenticate({
        authorization: req.headers.authorization,
        proof: req.headers.dpop,
        method: req.method,
        url: `${url}${pathname}`,
      });
      if (!who.ok) {
        return send(
          res,
          401,
          { title: 'Unauthorized', status: 401, detail: who.description ?? 'no token' },
          { 'www-authenticate': challenge(who, 'demo'), ...nonceHeader(who.scheme === 'DPoP') },
        );
      }
      // RFC 9449 §8.2: a nonce may come with any response; the client keeps the last one of each origin.
      if (who.scheme === 'DPoP') res.setHeader('dpop-nonce', model.nonce);
      if (pathname === '/api/profile') return send(res, 200, { name: who.user, scopes: who.scopes });
      if (pathname === '/api/admin') {
        const denied = model.authorize(who, ['admin']);
        if (denied) {
          return send(
            res,
            403,
            { type: 'https://apifetch.dev/problems/scope', title: 'Admins only', status: 403, detail: 'needs admin' },
            { 'www-authenticate': challenge(denied, 'demo') },
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
    expireAll: model.expireTokens,
    rotateNonce: model.rotateNonce,
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
