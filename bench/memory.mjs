// 6. Memory: heap after 1,000, 50,000 and 100,000 requests through one client (after GC), in a child process with
// --expose-gc, for apifetch, ky alone, and Node's own `Request` with no client (the floor). The fetch is in memory,
// so the figure is the clients' own retention plus Node's Request/AbortSignal bookkeeping (released by finalizers,
// lazily, and grown in steps), not sockets'.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const child = `
const [libPath, kyPath, which, total] = process.argv.slice(1);
const { createApiFetch, createTokenSession } = await import(libPath);
const ky = (await import(kyPath)).default;
const fetch = async () => new Response('{"ok":true}', { headers: { 'content-type': 'application/json' } });
const base = 'https://api.example.test';
const clients = {
  apifetch: () => {
    const api = createApiFetch({ baseUrl: base, fetch, auth: { session: createTokenSession({ tokens: { accessToken: 'token' } }) } });
    return (path) => api.get(path).json();
  },
  ky: () => {
    const api = ky.create({ prefix: base, fetch });
    return (path) => api.get(path).json();
  },
  'Node Request, no client': () => async (path) =>
    (await fetch(new Request(base + '/' + path, { signal: new AbortController().signal }))).json(),
};
const send = clients[which]();
const settle = async () => {
  // Node frees a Request's signal bookkeeping through finalizers: give them turns to run.
  for (let i = 0; i < 10; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 50)); }
  return process.memoryUsage().heapUsed;
};
let done = 0;
const heap = {};
for (const checkpoint of [1000, Number(total) / 2, Number(total)]) {
  for (; done < checkpoint; done++) await send('items/' + (done % 100));
  heap[checkpoint] = await settle();
}
console.log(JSON.stringify(heap));
`;

export function runMemory({ total = 100_000 } = {}) {
  const lib = fileURLToPath(new URL('../dist/index.js', import.meta.url));
  const kyPath = fileURLToPath(new URL('../node_modules/ky/distribution/index.js', import.meta.url));
  const mb = (b) => Number((b / 1024 / 1024).toFixed(2));
  const half = total / 2;
  return ['apifetch', 'ky', 'Node Request, no client'].map((which) => {
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', '--input-type=module', '-e', child, lib, kyPath, which, String(total)],
      { encoding: 'utf8', timeout: 120_000 },
    );
    const heap = JSON.parse(out.trim().split('\n').at(-1));
    return {
      name: which,
      after1kMb: mb(heap[1000]),
      [`after${half / 1000}kMb`]: mb(heap[half]),
      [`after${total / 1000}kMb`]: mb(heap[total]),
      growthMb: mb(heap[total] - heap[1000]),
      [`growth${half / 1000}kTo${total / 1000}kMb`]: mb(heap[total] - heap[half]),
    };
  });
}
