// 1. Per-request overhead: GET of a small JSON body from a loopback server, the same requests through raw fetch,
// ky, axios, ofetch and apifetch (token attached, retry on). Interleaved rounds (each in a rotated order, so drift
// on a noisy machine hits every contender alike), median throughput, ratios to raw fetch and to ky.
// Then the clients' own CPU time per request, with an in-memory fetch (no sockets, one request at a time): the
// cost a client adds whatever the network, which loopback throughput mixes with undici's and the server's.
import axios from 'axios';
import ky from 'ky';
import { createFetch, ofetch } from 'ofetch';
import { median, percentile, startBenchServer, useBoundedPools } from './lib.mjs';

export async function runOverhead({ lib, rounds = 15, requests = 2000, concurrency = 10 } = {}) {
  useBoundedPools();
  const server = await startBenchServer();
  const url = `${server.origin}/json`;
  await server.control({ token: 'valid-token' });
  const api = lib.createApiFetch({
    baseUrl: server.origin,
    auth: { session: lib.createTokenSession({ tokens: { accessToken: 'valid-token' } }) },
  });
  const contenders = {
    fetch: () => fetch(url).then((r) => r.json()),
    ky: () => ky.get(url).json(),
    axios: () => axios.get(url).then((r) => r.data),
    ofetch: () => ofetch(url),
    apifetch: () => api.get('json').json(),
  };
  const run = async (fn) => {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < requests) await fn();
      }),
    );
    return requests / ((performance.now() - started) / 1000);
  };
  const names = Object.keys(contenders);
  for (const name of names) await run(contenders[name]); // warm-up
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round so no contender always runs first.
    const order = names.map((_, i) => names[(i + round) % names.length]);
    for (const name of order) samples[name].push(await run(contenders[name]));
  }
  server.close();
  const cpu = await cpuPerRequest(lib);
  // Ratios of medians: here the noise is bursts (a sample can run at half speed), not slow drift, so the median of
  // each contender's samples is steadier than per-round ratios. `spread` is the interquartile range over the median.
  const ratio = (name, reference) => Number((median(samples[name]) / median(samples[reference])).toFixed(3));
  const spread = (name) =>
    Number(((percentile(samples[name], 75) - percentile(samples[name], 25)) / median(samples[name])).toFixed(2));
  const rows = names.map((name) => ({
    name,
    requestsPerSecond: Math.round(median(samples[name])),
    ratioToFetch: ratio(name, 'fetch'),
    ratioToKy: ratio(name, 'ky'),
    spread: spread(name),
    cpuUsPerRequest: cpu[name] ?? '',
  }));
  // Where apifetch's CPU goes: the same in-memory requests with parts of it turned off (CPU only).
  for (const name of Object.keys(cpu).filter((n) => !names.includes(n))) {
    rows.push({ name, requestsPerSecond: '', ratioToFetch: '', ratioToKy: '', spread: '', cpuUsPerRequest: cpu[name] });
  }
  return rows;
}

/** Microseconds of CPU per request with an in-memory fetch: medians of interleaved, rotated rounds. */
async function cpuPerRequest(lib, { rounds = 21, requests = 2500 } = {}) {
  const body = JSON.stringify({ id: 1, name: 'apifetch', tags: ['a', 'b', 'c'] });
  const memoryFetch = async () => new Response(body, { headers: { 'content-type': 'application/json' } });
  const base = 'https://api.example.test';
  const kyClient = ky.create({ prefix: base, fetch: memoryFetch });
  const ofetchClient = createFetch({ fetch: memoryFetch, Headers, AbortController });
  const api = lib.createApiFetch({
    baseUrl: base,
    fetch: memoryFetch,
    auth: { session: lib.createTokenSession({ tokens: { accessToken: 'token' } }) },
  });
  const part = (options) => lib.createApiFetch({ baseUrl: base, fetch: memoryFetch, ...options });
  const contenders = {
    // A real fetch builds a Request from its input; so does this one, to stay comparable.
    fetch: () => memoryFetch(new Request(`${base}/json`)).then((r) => r.json()),
    ky: () => kyClient.get('json').json(),
    ofetch: () => ofetchClient(`${base}/json`),
    apifetch: () => api.get('json').json(),
  };
  const parts = {
    'ky, retries off': ky.create({ prefix: base, fetch: memoryFetch, retry: 0 }),
    'apifetch, auth and retries off': part({ auth: false, retry: false }),
    'apifetch, auth off': part({ auth: false }),
    'apifetch, getAccessToken': part({ auth: { getAccessToken: () => 'token' } }),
  };
  for (const [name, client] of Object.entries(parts)) contenders[name] = () => client.get('json').json();
  const run = async (fn, n) => {
    const started = performance.now();
    for (let i = 0; i < n; i++) await fn();
    return ((performance.now() - started) * 1000) / n;
  };
  const names = Object.keys(contenders);
  for (const name of names) await run(contenders[name], requests);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length];
      samples[name].push(await run(contenders[name], requests));
    }
  }
  return Object.fromEntries(names.map((name) => [name, Number(median(samples[name]).toFixed(1))]));
}
