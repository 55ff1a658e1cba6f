// 3. Outage amplification and recovery herd: `clients` independent client instances (as many users' tabs), each
// sending one logical request per second with staggered starts, against a loopback server in full outage (100 %
// 503) for `outageMs`, then healthy. Reports sends per logical request during the outage, the peak/mean of
// arrivals per 100 ms after recovery, and whether every request issued after recovery succeeded. The same peak/mean
// of the logical requests' issue times (`scheduleHerd`) shows how much of a herd is the bench process itself
// (a collector pause bunches the clients' timers); the library's herd is the excess over it.
import ky from 'ky';
import { countErrors, startBenchServer, useBoundedPools } from './lib.mjs';

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
  useBoundedPools();
  const server = await startBenchServer();
  const rows = [];
  try {
    for (const [name, make] of Object.entries(contenders(lib, server.origin))) {
      // The server ends the outage itself, on its own clock: no control call on a busy event loop delays it.
      await server.control({ reset: true, downForMs: outageMs });
      const start = Date.now();
      const end = start + outageMs + healthyMs;
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
              (error) => {
                entry.error = error;
              },
            ),
          );
          timers.push(setTimeout(tick, 1000));
        };
        timers.push(setTimeout(tick, (c / clients) * 1000));
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, end - Date.now())));
      for (const t of timers) clearTimeout(t);
      await Promise.all(pending);
      const stats = await server.stats();
      // Recovery is when the server turned healthy, by its own record.
      const recovery = stats.recoveredAt || start + outageMs;
      const during = logical.filter((l) => l.issuedAt < recovery - 1000);
      // Sends that arrived during the outage, for requests issued during it (retries of the last second's requests
      // may land after recovery: they are left out on both sides).
      const sendsDuring = stats.arrivals.filter((t) => t < recovery).length;
      const after = stats.arrivals.filter((t) => t >= recovery && t < end);
      const issuedAfter = logical.filter((l) => l.issuedAt >= recovery);
      const peakOverMean = (times) => {
        const buckets = new Array(Math.max(1, Math.ceil((end - recovery) / 100))).fill(0);
        for (const t of times) buckets[Math.floor((t - recovery) / 100)]++;
        return Number((Math.max(...buckets) / (times.length / buckets.length)).toFixed(2));
      };
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
        herdPeakOverMean: peakOverMean(after),
        scheduleHerd: peakOverMean(issuedAfter.map((l) => l.issuedAt)),
        issuedAfterRecovery: issuedAfter.length,
        succeededAfterRecovery: issuedAfter.filter((l) => l.ok).length,
        failuresAfterRecovery: countErrors(issuedAfter.filter((l) => !l.ok).map((l) => describe(l.error))),
      });
    }
  } finally {
    server.close();
  }
  return rows;
}

/** An error with its cause's code (a reset socket, say), so a failure's origin shows in the table. */
function describe(error) {
  const code = error?.cause?.code ?? error?.cause?.cause?.code;
  return code ? { name: `${error.name} (${code})`, response: error.response } : error;
}
