// 6. Memory: heap after 1,000 and after 100,000 requests through one client (after GC), in a child process with
// --expose-gc, for apifetch and for ky alone. The fetch is in memory, so the figure is the clients' own retention
// plus Node's Request/AbortSignal bookkeeping (released by finalizers, lazily), not sockets'.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const child = `
const [libPath, kyPath, which, total] = process.argv.slice(1);
const { createApiFetch } = await import(libPath);
const ky = (await import(kyPath)).default;
const fetch = async () => new Response('{"ok":true}', { headers: { 'content-type': 'application/json' } });
const api = which === 'ky'
  ? ky.create({ prefix: 'https://api.example.test', fetch })
  : createApiFetch({ baseUrl: 'https://api.example.test', fetch, auth: { tokens: { accessToken: 'token' } } });
const settle = async () => {
  // Node frees a Request's signal bookkeeping through finalizers: give them turns to run.
  for (let i = 0; i < 10; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 50)); }
  return process.memoryUsage().heapUsed;
};
const run = async (n) => { for (let i = 0; i < n; i++) await api.get('items/' + (i % 100)).json(); };
await run(1000);
const after1k = await settle();
await run(Number(total) - 1000);
const afterAll = await settle();
console.log(JSON.stringify({ after1k, afterAll }));
`;

export function runMemory({ total = 100_000 } = {}) {
  const lib = fileURLToPath(new URL('../dist/index.js', import.meta.url));
  const kyPath = fileURLToPath(new URL('../node_modules/ky/distribution/index.js', import.meta.url));
  const mb = (b) => Number((b / 1024 / 1024).toFixed(2));
  return ['apifetch', 'ky'].map((which) => {
    const out = execFileSync(
      process.execPath,
      ['--expose-gc', '--input-type=module', '-e', child, lib, kyPath, which, String(total)],
      { encoding: 'utf8', timeout: 300_000 },
    );
    const { after1k, afterAll } = JSON.parse(out.trim().split('\n').at(-1));
    return {
      name: which,
      after1kMb: mb(after1k),
      [`after${total / 1000}kMb`]: mb(afterAll),
      growthMb: mb(afterAll - after1k),
    };
  });
}
