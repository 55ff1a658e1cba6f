// Shared helpers of the benchmarks.
import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { Agent, request, setGlobalDispatcher } from 'undici';

/** Sockets per origin for every contender: fetch-based ones share undici's pool, axios gets an http.Agent. */
export const maxSockets = 256;

let pooled = false;

/**
 * One bounded, keep-alive connection pool per origin for every contender alike, so that a 10,000-request storm
 * queues in the client (as a browser's six connections per origin do) instead of opening 10,000 sockets.
 */
export function useBoundedPools() {
  if (pooled) return;
  pooled = true;
  setGlobalDispatcher(new Agent({ connections: maxSockets, keepAliveTimeout: 10_000 }));
  http.globalAgent = new http.Agent({ keepAlive: true, maxSockets });
}

/** Start bench/server.mjs in its own process; resolves to its origin and a control handle. */
export async function startBenchServer() {
  // Without the parent's flags: a --cpu-prof of the bench must not profile the server too.
  const child = fork(fileURLToPath(new URL('./server.mjs', import.meta.url)), [], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    execArgv: [],
  });
  const port = await new Promise((resolve, reject) => {
    child.stdout.once('data', (data) => resolve(Number(String(data).trim())));
    child.once('error', reject);
  });
  const origin = `http://127.0.0.1:${port}`;
  // Its own connection, so that a control call never queues behind the contenders' requests.
  const dispatcher = new Agent({ connections: 1 });
  const call = async (path, body) => {
    const response = await request(`${origin}${path}`, { method: body ? 'POST' : 'GET', body, dispatcher });
    return response.body.json();
  };
  const control = (command) => call('/control', JSON.stringify(command));
  const stats = () => call('/stats');
  return {
    origin,
    control,
    stats,
    close: () => {
      child.kill();
      void dispatcher.close();
    },
  };
}

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

export const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

/** Rejects after `ms` unless `promise` settles first (the timer never keeps the process alive). */
export function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Failures by error name and HTTP status, e.g. `'999 × AxiosError 401'`; empty when there were none. */
export function countErrors(errors) {
  const counts = new Map();
  for (const error of errors) {
    const status = error?.response?.status;
    const key = `${error?.name ?? typeof error}${status ? ` ${status}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, count]) => `${count} × ${key}`).join(', ');
}
