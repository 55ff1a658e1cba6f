// 2. Refresh storm: N concurrent requests meet an expired token. Counts refresh calls and sends per request, and
// times completion (p50/p99), for apifetch (401-driven and proactive), the ky README's afterResponse-hook recipe,
// and axios + axios-auth-refresh, against the same loopback server, every contender through the same bounded
// connection pool (256 sockets). Each request times out after 60 s, so a contender that stalls costs a minute at most.
import axios from 'axios';
import createAuthRefresh from 'axios-auth-refresh';
import ky from 'ky';
import { countErrors, percentile, startBenchServer, useBoundedPools } from './lib.mjs';

const requestTimeoutMs = 60_000;

const getToken = (origin) => fetch(`${origin}/token`, { method: 'POST' }).then((r) => r.json());

function contenders(lib, origin) {
  return {
    'apifetch (401 → refresh)': () => {
      const api = lib.createApiFetch({
        baseUrl: origin,
        timeout: requestTimeoutMs,
        auth: {
          session: lib.createTokenSession({
            tokens: { accessToken: 'expired' },
            refresh: () => getToken(origin),
            maxRefreshes: 1000,
          }),
        },
      });
      return (i) => api.get(`data/${i}`).json();
    },
    'apifetch (proactive)': () => {
      const api = lib.createApiFetch({
        baseUrl: origin,
        timeout: requestTimeoutMs,
        auth: {
          session: lib.createTokenSession({
            tokens: { accessToken: 'expired', expiresAt: Date.now() - 1000 },
            refresh: () => getToken(origin),
            maxRefreshes: 1000,
          }),
        },
      });
      return (i) => api.get(`data/${i}`).json();
    },
    'ky afterResponse recipe': () => {
      let token = 'expired';
      const api = ky.create({
        prefix: origin,
        timeout: requestTimeoutMs,
        hooks: {
          beforeRequest: [({ request }) => request.headers.set('Authorization', `Bearer ${token}`)],
          afterResponse: [
            async ({ request, response, retryCount }) => {
              if (response.status === 401 && retryCount === 0) {
                ({ token } = await ky.post(`${origin}/token`).json());
                const headers = new Headers(request.headers);
                headers.set('Authorization', `Bearer ${token}`);
                return ky.retry({ request: new Request(request, { headers }), code: 'TOKEN_REFRESHED' });
              }
            },
          ],
        },
      });
      return (i) => api.get(`data/${i}`).json();
    },
    'axios + axios-auth-refresh (defaults)': () => axiosWithRefresh(origin, {}),
    'axios + axios-auth-refresh (deduplicateRefresh: false)': () =>
      axiosWithRefresh(origin, { deduplicateRefresh: false }),
  };
}

function axiosWithRefresh(origin, options) {
  let token = 'expired';
  const api = axios.create({ baseURL: origin, timeout: requestTimeoutMs });
  api.interceptors.request.use((config) => {
    config.headers.Authorization = `Bearer ${token}`;
    return config;
  });
  createAuthRefresh(
    api,
    async (failed) => {
      ({ token } = (await axios.post(`${origin}/token`)).data);
      failed.response.config.headers.Authorization = `Bearer ${token}`;
    },
    options,
  );
  return (i) => api.get(`/data/${i}`).then((r) => r.data);
}

export async function runStorm({ lib, sizes = [1000, 10_000] } = {}) {
  useBoundedPools();
  const server = await startBenchServer();
  const rows = [];
  try {
    for (const n of sizes) {
      for (const [name, make] of Object.entries(contenders(lib, server.origin))) {
        await server.control({ expire: true, reset: true });
        const send = make();
        const started = performance.now();
        const times = [];
        const errors = [];
        await Promise.all(
          Array.from({ length: n }, (_, i) =>
            send(i).then(
              () => times.push(performance.now() - started),
              (error) => errors.push(error),
            ),
          ),
        );
        const stats = await server.stats();
        rows.push({
          n,
          name,
          refreshes: stats.refreshes,
          sendsPerRequest: Number((stats.sends / n).toFixed(2)),
          failed: errors.length,
          p50Ms: Math.round(percentile(times, 50) ?? 0),
          p99Ms: Math.round(percentile(times, 99) ?? 0),
          failures: countErrors(errors),
        });
      }
    }
  } finally {
    server.close();
  }
  return rows;
}
