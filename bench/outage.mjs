// 3. Outage amplification and recovery herd: `clients` independent client instances (as many users' tabs), each
// sending one logical request per second with staggered starts, against a loopback server in full outage (100 %
// 503) for `outageMs`, then healthy. Reports sends per logical request during the outage, the peak/mean of
// arrivals per 100 ms after recovery, and whether every request issued after recovery succeeded.
import ky from 'ky';
import { startBenchServer } from './lib.mjs';

function contenders(lib, origin) {
  return {
    'apifetch (throttle on, default)': () => {
      const api = lib.createApiFetch({ baseUrl: origin, timeout: 30_000 });
      return (path) => api.get(path).text();
    },
    'apifetch (throttle off)': () => {
      const api = lib.createApiFetch({ baseUrl: origin, timeout: 30_000, retry: { throttle: false } });
      return (path) => api.get(path).text();
    },
    'ky defaults': () => {
      const api = ky.create({ prefix: origin, timeout: 30_000 });
      return (path) => api.get(path).text();
    },
  };
}

export async function runOutage({ lib, clients = 1000, outageMs = 10_000, healthyMs = 5_000 } = {}) {
  const server = await startBenchServer();
  const rows = [];
  try {
    for (const [name, make] of Object.entries(contenders(lib, server.origin))) {
      await server.control({ reset: true, down: true });
      const start = Date.now();
      let recovery = start + outageMs;
      const end = recovery + healthyMs;
      const logical = [];
      const timers = [];
      const pending = [];
      for (let c = 0; c < clients; c++) {
        const send = make();
        let seq = 0;
        const tick = () => {
          const issuedAt = Date.now();
          if (issuedAt >= end) return;
          const entry = { issuedAt, ok: false };
          logical.push(entry);
          pending.push(
            send(`outage/${c}-${seq++}`).then(
              () => {
                entry.ok = true;
              },
              () => {},
            ),
          );
          timers.push(setTimeout(tick, 1000));
        };
        timers.push(setTimeout(tick, (c / clients) * 1000));
      }
      await new Promise((resolve) => setTimeout(resolve, outageMs));
      await server.control({ down: false });
      // Recovery starts when the server says it is healthy again, not when we asked.
      recovery = Date.now();
      await new Promise((resolve) => setTimeout(resolve, end - recovery));
      for (const t of timers) clearTimeout(t);
      await Promise.all(pending);
      const stats = await server.stats();
      const during = logical.filter((l) => l.issuedAt < recovery - 1000);
      // Sends that arrived during the outage, for requests issued during it (retries of the last second's requests
      // may land after recovery: they are left out on both sides).
      const sendsDuring = stats.arrivals.filter((t) => t < recovery).length;
      const after = stats.arrivals.filter((t) => t >= recovery && t < end);
      const buckets = new Array(Math.ceil((end - recovery) / 100)).fill(0);
      for (const t of after) buckets[Math.floor((t - recovery) / 100)]++;
      const mean = after.length / buckets.length;
      const issuedAfter = logical.filter((l) => l.issuedAt >= recovery);
      rows.push({
        name,
        logicalDuringOutage: logical.filter((l) => l.issuedAt < recovery).length,
        amplification: Number((sendsDuring / logical.filter((l) => l.issuedAt < recovery).length).toFixed(2)),
        amplificationSteady: Number(
          (
            stats.arrivals.filter((t) => t >= start + 1000 && t < recovery - 1000).length /
            during.filter((l) => l.issuedAt >= start + 1000).length
          ).toFixed(2),
        ),
        herdPeakOverMean: Number((Math.max(...buckets) / mean).toFixed(2)),
        issuedAfterRecovery: issuedAfter.length,
        succeededAfterRecovery: issuedAfter.filter((l) => l.ok).length,
      });
    }
  } finally {
    server.close();
  }
  return rows;
}
