// Shared helpers of the benchmarks.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Start bench/server.mjs in its own process; resolves to its origin and a control handle. */
export async function startBenchServer() {
  const child = fork(fileURLToPath(new URL('./server.mjs', import.meta.url)), [], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const port = await new Promise((resolve, reject) => {
    child.stdout.once('data', (data) => resolve(Number(String(data).trim())));
    child.once('error', reject);
  });
  const origin = `http://127.0.0.1:${port}`;
  const control = (command) =>
    fetch(`${origin}/control`, { method: 'POST', body: JSON.stringify(command) }).then((r) => r.text());
  const stats = () => fetch(`${origin}/stats`).then((r) => r.json());
  return { origin, control, stats, close: () => child.kill() };
}

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

export const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
