// The demo API: real signed JWTs (short-lived), rotating refresh tokens with reuse detection, scopes, a flaky
// route, CORS like a real API, DPoP-bound tokens with server nonces (RFC 9449), and the built SPA. Loopback only.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, SignJWT } from 'jose';

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

/** How far a proof's `iat` may be from the server's clock, in seconds. */
const proofWindowSeconds = 60;
const sha256 = (text) => createHash('sha256').update(text).digest('base64url');

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
    // Every proof received (its `jti`, refused ones included), the nonce demands, and the refusals by reason.
    dpop: { proofs: 0, jtis: [], nonceDemands: 0, boundTokens: 0, refused: {} },
  };
  let nonce = randomBytes(16).toString('base64url');
  let nonceSince = now();
  const rotateNonce = () => {
    nonce = randomBytes(16).toString('base64url');
    nonceSince = now();
    return nonce;
  };
  const currentNonce = () => (now() - nonceSince >= dpopNonceTtlMs ? rotateNonce() : nonce);
  /** `jti`s of proofs seen within the `iat` window (jti → iat), so that none is accepted twice. */
  const seenJtis = new Map();
  const expireAll = () => {
    for (const jti of issued) expired.add(jti);
    issued.clear();
  };

  /** Tokens bound to `jkt` (a DPoP key's thumbprint) when given: `cnf.jkt`, `tokenType: 'DPoP'`. */
  const issue = async (username, family = randomUUID(), jkt = undefined) => {
    const iat = now();
    const jti = randomUUID();
    issued.add(jti);
    if (jkt) stats.dpop.boundTokens += 1;
    const accessToken = await new SignJWT({ scope: users[username].scopes.join(' '), ...(jkt ? { cnf: { jkt } } : {}) })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(username)
      .setIssuedAt(Math.floor(iat / 1000))
      .setExpirationTime(Math.floor((iat + tokenTtlMs) / 1000))
      .setJti(jti)
      .sign(secret);
    const refreshToken = randomBytes(24).toString('base64url');
    // A refresh token issued to a DPoP key is bound to it too (RFC 9449 §5: the client is public).
    refreshTokens.set(refreshToken, { user: username, family, used: false, jkt });
    // The shape of an OAuth token response (camel-cased): lifetime in seconds, not a timestamp.
    return { accessToken, refreshToken, expiresIn: Math.floor(tokenTtlMs / 1000), tokenType: jkt ? 'DPoP' : 'Bearer' };
  };

  /**
   * Check the `DPoP` proof of `req` (RFC 9449 §4.3), with `ath` when `accessToken` is given. Returns `{ jkt }`, or
   * `{ error, description }`: `use_dpop_nonce` when the proof lacks the current nonce, else `invalid_dpop_proof`.
   */
  const checkProof = async (req, pathname, accessToken) => {
    const proof = req.headers.dpop;
    const refuse = (error, description) => {
      stats.dpop.refused[error] = (stats.dpop.refused[error] ?? 0) + 1;
      return { error, description };
    };
    if (typeof proof !== 'string' || proof.split('.').length !== 3) {
      return refuse('invalid_dpop_proof', 'a DPoP proof is required');
    }
    stats.dpop.proofs += 1;
    let verified;
    try {
      verified = await jwtVerify(proof, EmbeddedJWK, {
        typ: 'dpop+jwt',
        algorithms: ['ES256'],
        requiredClaims: ['iat', 'jti', 'htm', 'htu'],
      });
    } catch {
      return refuse('invalid_dpop_proof', 'the proof is not a valid ES256 dpop+jwt with its public jwk');
    }
    const { payload, protectedHeader } = verified;
    if (typeof payload.jti === 'string') {
      stats.dpop.jtis.push(payload.jti);
      if (stats.dpop.jtis.length > 1000) stats.dpop.jtis.shift();
    }
    const seconds = now() / 1000;
    for (const [jti, iat] of seenJtis) if (Math.abs(seconds - iat) > proofWindowSeconds) seenJtis.delete(jti);
    if (payload.htm !== req.method) return refuse('invalid_dpop_proof', 'htm does not match the request');
    if (payload.htu !== `${url}${pathname}`) return refuse('invalid_dpop_proof', 'htu does not match the request');
    if (typeof payload.iat !== 'number' || Math.abs(seconds - payload.iat) > proofWindowSeconds) {
      return refuse('invalid_dpop_proof', 'iat is not within 60 s');
    }
    if (typeof payload.jti !== 'string' || seenJtis.has(payload.jti)) {
      return refuse('invalid_dpop_proof', 'jti is missing or reused');
    }
    seenJtis.set(payload.jti, payload.iat);
    if (accessToken !== undefined && payload.ath !== sha256(accessToken)) {
      return refuse('invalid_dpop_proof', 'ath does not match the access token');
    }
    if (payload.nonce !== currentNonce()) {
      stats.dpop.nonceDemands += 1;
      return refuse('use_dpop_nonce', 'the proof must carry the current nonce of the server');
    }
    return { jkt: await calculateJwkThumbprint(protectedHeader.jwk, 'sha256') };
  };
  /** The token endpoint's answer to a refused proof (RFC 9449 §8): 400, the nonce in `DPoP-Nonce` when asked for. */
  const refuseTokenRequest = (res, { error, description }) =>
    send(res, 400, { error, title: description, status: 400 }, { 'dpop-nonce': currentNonce() });

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
  // A DPoP request (RFC 9449 §7.1) is challenged with the DPoP scheme, and always learns the current nonce.
  const unauthorized = (res, description, { dpop = false, error = 'invalid_token' } = {}) => {
    const scheme = dpop ? 'DPoP' : 'Bearer';
    const algs = dpop ? ', algs="ES256"' : '';
    send(
      res,
      401,
      { title: 'Unauthorized', status: 401, detail: description },
      {
        'www-authenticate':
          description === 'no token'
            ? `${scheme} realm="demo"${algs}`
            : `${scheme} realm="demo", error="${error}", error_description="${description}"${algs}`,
        ...(dpop ? { 'dpop-nonce': currentNonce() } : {}),
      },
    );
  };

  const authenticate = async (req, pathname) => {
    const header = req.headers.authorization ?? '';
    const dpop = header.startsWith('DPoP ') || req.headers.dpop !== undefined;
    if (!header.startsWith('Bearer ') && !header.startsWith('DPoP ')) return { error: 'no token', dpop };
    const token = header.slice(header.indexOf(' ') + 1);
    let payload;
    try {
      ({ payload } = await jwtVerify(token, secret, { currentDate: new Date(now()) }));
    } catch (error) {
      return { error: error.code === 'ERR_JWT_EXPIRED' ? 'token expired' : 'invalid token', dpop };
    }
    if (expired.has(payload.jti)) return { error: 'token expired', dpop };
    const jkt = payload.cnf?.jkt;
    // A bound token is no bearer token (RFC 9449 §7.2), and a bearer token is not made bound by a proof.
    if (jkt === undefined && header.startsWith('DPoP ')) return { error: 'the token is not DPoP-bound', dpop };
    if (jkt !== undefined) {
      if (!header.startsWith('DPoP ')) return { error: 'the token is DPoP-bound', dpop: true };
      const proof = await checkProof(req, pathname, token);
      if (proof.error) return { error: proof.description, challenge: proof.error, dpop: true };
      if (proof.jkt !== jkt) {
        return { error: 'the proof key is not the key of the token', challenge: 'invalid_dpop_proof', dpop: true };
      }
    }
    return { user: payload.sub, scopes: String(payload.scope ?? '').split(' '), dpop };
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
      let jkt;
      if (req.headers.dpop !== undefined) {
        const proof = await checkProof(req, pathname);
        if (proof.error) return refuseTokenRequest(res, proof);
        jkt = proof.jkt;
      }
      const user = users[username];
      if (!user || user.password !== password) {
        return send(res, 400, { error: 'invalid_grant', title: 'Wrong username or password', status: 400 });
      }
      stats.logins += 1;
      return send(res, 200, await issue(username, undefined, jkt), jkt ? { 'dpop-nonce': currentNonce() } : {});
    }
    if (pathname === '/auth/refresh' && req.method === 'POST') {
      stats.refreshes += 1;
      const { refreshToken } = await readJson(req);
      let jkt;
      if (req.headers.dpop !== undefined) {
        const proof = await checkProof(req, pathname);
        if (proof.error) return refuseTokenRequest(res, proof);
        jkt = proof.jkt;
      }
      const entry = refreshTokens.get(refreshToken);
      if (!entry || revokedFamilies.has(entry.family)) {
        return send(res, 400, { error: 'invalid_grant', title: 'Unknown refresh token', status: 400 });
      }
      if (entry.jkt !== jkt) {
        // A bound refresh token is refreshed only with a proof of its key, and a bearer one never becomes bound.
        return send(res, 400, { error: 'invalid_grant', title: 'Refresh token bound to another key', status: 400 });
      }
      if (entry.used) {
        // Reuse of a rotated refresh token: someone else has it. Revoke the whole family.
        stats.reuseDetected += 1;
        revokedFamilies.add(entry.family);
        return send(res, 400, { error: 'invalid_grant', title: 'Refresh token reused', status: 400 });
      }
      entry.used = true;
      return send(res, 200, await issue(entry.user, entry.family, jkt), jkt ? { 'dpop-nonce': currentNonce() } : {});
    }
    if (pathname === '/demo/expire' && req.method === 'POST') {
      expireAll();
      return send(res, 200, { expired: true });
    }
    if (pathname === '/demo/rotate-nonce' && req.method === 'POST') {
      rotateNonce();
      return send(res, 200, { rotated: true });
    }
    if (pathname === '/demo/stats') return send(res, 200, stats);
    if (pathname === '/demo/config') return send(res, 200, { thirdPartyUrl });
    if (pathname.startsWith('/api/')) {
      const who = await authenticate(req, pathname);
      if (who.error) return unauthorized(res, who.error, { dpop: who.dpop, error: who.challenge });
      // RFC 9449 §8.2: a nonce may come with any response; the client keeps the last one of each origin.
      if (who.dpop) res.setHeader('dpop-nonce', currentNonce());
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
    rotateNonce,
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
