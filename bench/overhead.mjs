// 1. Per-request overhead: GET of a small JSON body from a loopback server, the same requests through raw fetch,
// ky, axios, ofetch and apifetch (token attached, retry on). Many short interleaved rounds (each in a rotated order,
// so drift on a noisy machine hits every contender alike), median throughput, ratios to raw fetch and to ky.
import axios from 'axios';
import ky from 'ky';
import { ofetch } from 'ofetch';
import { median, startBenchServer, useBoundedPools } from './lib.mjs';

export async function runOverhead({ lib, rounds = 15, requests = 1000, concurrency = 10 } = {}) {
  useBoundedPools();
  const server = await startBenchServer();
  const url = `${server.origin}/json`;
  await server.control({ token: 'valid-token' });
  const api = lib.createApiFetch({
    baseUrl: server.origin,
    auth: { tokens: { accessToken: 'valid-token' } },
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
  // Ratios are paired: each round's throughput over the same round's reference, then the median over rounds.
  const ratio = (name, reference) =>
    Number(median(samples[name].map((rate, round) => rate / samples[reference][round])).toFixed(3));
  return names.map((name) => ({
    name,
    requestsPerSecond: Math.round(median(samples[name])),
    ratioToFetch: ratio(name, 'fetch'),
    ratioToKy: ratio(name, 'ky'),
  }));
}
