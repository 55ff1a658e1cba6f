import { createHash, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request as ExpressRequest, type Response as ExpressResponse, type NextFunction } from 'express';
import { auth } from 'express-oauth2-jwt-bearer';
import { decodeJwt } from 'jose';
import Provider from 'oidc-provider';

/** Real servers on 127.0.0.1 for the DPoP tests: an authorization server, a resource server, and a third origin. */
export interface DpopServers {
  as: AuthorizationServer;
  rs: ResourceServer;
  third: ThirdOrigin;
  close(): Promise<void>;
}

export interface AuthorizationServer {
  issuer: string;
  /** Token endpoint requests, by grant type, with the status of each answer. */
  tokenRequests: { grant: string; status: number; dpop: boolean }[];
}

export interface ResourceServer {
  origin: string;
  /** Every request that reached the API, with its status and what its proof and token said. */
  seen: { path: string; status: number; jti?: string; nonce?: string; jkt?: string; tokenJti?: string }[];
  /** The nonce the next proofs must carry. */
  nonce: string;
  rotateNonce(): string;
  /** Access tokens (by `jti`) this server now takes for expired. */
  expired: Set<string>;
  /** While set, requests to `/gate` wait until this many have arrived, then the nonce rotates and all go on. */
  gate: number | undefined;
}

export interface ThirdOrigin {
  origin: string;
  seen: { url: string; headers: Record<string, string | string[] | undefined> }[];
}

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

export const clientId = 'spa';
export const redirectUri = 'http://127.0.0.1/cb';

/**
 * oidc-provider with DPoP and nonces required at its token endpoint, DPoP-bound JWT access tokens for the resource
 * server, refresh tokens for a public client; express-oauth2-jwt-bearer with DPoP required in front of the API. The
 * middleware checks proofs (signature, htm, htu, iat, ath, cnf.jkt) but has no nonces: a few lines here add them
 * as RFC 9449 §9 describes, and count the proofs.
 */
export async function startDpopServers(): Promise<DpopServers> {
  const asServer = createServer();
  const issuer = await listen(asServer);
  const rsServer = createServer();
  const rsOrigin = await listen(rsServer);
  const thirdServer = createServer();
  const thirdOrigin = await listen(thirdServer);

  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signingKey = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: 'as-1' };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        dpop_bound_access_tokens: true,
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [signingKey] },
    scopes: ['openid', 'offline_access', 'api'],
    findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => ({ sub }) }),
    issueRefreshToken: () => true,
    features: {
      devInteractions: { enabled: true },
      dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => rsOrigin,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'api',
          audience: rsOrigin,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 3600,
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
  } as ConstructorParameters<typeof Provider>[1]);
  const as: AuthorizationServer = { issuer, tokenRequests: [] };
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token') {
      const grant = (ctx as { oidc?: { params?: { grant_type?: string } } }).oidc?.params?.grant_type ?? '?';
      as.tokenRequests.push({ grant, status: ctx.status, dpop: Boolean(ctx.get('dpop')) });
    }
  });
  asServer.on('request', provider.callback());

  const rs: ResourceServer = {
    origin: rsOrigin,
    seen: [],
    nonce: randomUUID(),
    rotateNonce: () => {
      rs.nonce = randomUUID();
      return rs.nonce;
    },
    expired: new Set(),
    gate: undefined,
  };
  let waiting: (() => void)[] = [];
  const app = express();
  app.use(
    auth({
      issuer,
      jwksUri: `${issuer}/jwks`,
      audience: rsOrigin,
      dpop: { enabled: true, required: true },
      // The server's clock decides expiry; the tests mark a token expired instead of waiting for it.
      validators: {
        exp: (exp, claims) => typeof exp === 'number' && exp > Date.now() / 1000 && !rs.expired.has(String(claims.jti)),
      },
    }),
  );
  app.use(async (req: ExpressRequest, res: ExpressResponse, next: NextFunction) => {
    const proof = decodeJwt(String(req.headers.dpop));
    const token = req.auth?.payload;
    const entry = {
      path: req.path,
      status: 200,
      jti: String(proof.jti),
      ...(typeof proof.nonce === 'string' ? { nonce: proof.nonce } : {}),
      jkt: String((token?.cnf as { jkt?: string } | undefined)?.jkt),
      tokenJti: String(token?.jti),
    };
    rs.seen.push(entry);
    res.on('finish', () => {
      entry.status = res.statusCode;
    });
    if (req.path === '/gate' && rs.gate !== undefined) {
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length === rs.gate) {
          rs.gate = undefined;
          rs.rotateNonce();
          for (const go of waiting) go();
          waiting = [];
        }
      });
    }
    res.set('dpop-nonce', rs.nonce);
    if (proof.nonce !== rs.nonce) {
      res
        .status(401)
        .set(
          'www-authenticate',
          'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"',
        );
      return void res.json({ error: 'use_dpop_nonce' });
    }
    next();
  });
  app.get('/me', (req, res) => res.json({ sub: req.auth?.payload.sub }));
  app.get('/gate', (_req, res) => res.json({ ok: true }));
  app.get('/away', (_req, res) => res.redirect(302, `${thirdOrigin}/landed`));
  app.get('/here', (_req, res) => res.redirect(302, `${rsOrigin}/me?moved=1`));
  app.use(
    (
      error: { status?: number; headers?: Record<string, string>; code?: string },
      req: ExpressRequest,
      res: ExpressResponse,
      _next: NextFunction,
    ) => {
      const status = error.status ?? 500;
      const proof = req.headers.dpop ? decodeJwt(String(req.headers.dpop)) : undefined;
      rs.seen.push({ path: req.path, status, ...(proof ? { jti: String(proof.jti) } : {}) });
      res
        .status(status)
        .set(error.headers ?? {})
        .json({ error: error.code ?? 'server_error' });
    },
  );
  rsServer.on('request', app);

  const third: ThirdOrigin = { origin: thirdOrigin, seen: [] };
  thirdServer.on('request', (req, res) => {
    third.seen.push({ url: req.url ?? '/', headers: req.headers });
    res.end('third');
  });

  return {
    as,
    rs,
    third,
    close: async () => {
      for (const server of [asServer, rsServer, thirdServer]) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  };
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields);
const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

/**
 * Sign in at the authorization server as a user would: the authorization request with PKCE and `dpop_jkt`, the
 * login and consent forms of oidc-provider's development interactions (cookies kept by hand), and the code.
 */
export async function authorize(
  issuer: string,
  jkt: string,
  user = 'alice',
): Promise<{ code: string; verifier: string }> {
  const verifier = randomBytes(32).toString('base64url');
  const cookies = new Map<string, string>();
  const send = async (url: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await fetch(new URL(url, issuer), { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return response;
  };
  const query = form({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'openid offline_access api',
    prompt: 'consent',
    code_challenge: s256(verifier),
    code_challenge_method: 'S256',
    dpop_jkt: jkt,
  });
  let response = await send(`/auth?${query}`);
  for (let step = 0; step < 10; step++) {
    const location = response.headers.get('location');
    if (!location) throw new Error(`authorization stopped at ${response.status}: ${await response.text()}`);
    if (location.startsWith(redirectUri)) {
      const code = new URL(location).searchParams.get('code');
      if (!code) throw new Error(`no code: ${location}`);
      return { code, verifier };
    }
    if (location.includes('/interaction/')) {
      const page = await (await send(location)).text();
      const prompt = /name="prompt" value="(\w+)"/.exec(page)?.[1];
      const fields = prompt === 'login' ? { prompt, login: user, password: 'x' } : { prompt: prompt ?? '' };
      response = await send(location, { method: 'POST', body: form(fields) });
    } else {
      response = await send(location);
    }
  }
  throw new Error('authorization did not end');
}

/** The token request of the authorization-code grant and of a refresh, as an app writes them with `dpop.fetch`. */
export const tokenRequest = (issuer: string, fields: Record<string, string>) =>
  new Request(`${issuer}/token`, { method: 'POST', body: form({ client_id: clientId, ...fields }) });
