// 5. Bundle size, min+gzip, of what a browser downloads: apifetch (own code with dependencies external, and the
// total with ky, p-retry and jwt-decode), and its peers bundled the same way.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSize, measureOwnSize } from '../scripts/size.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const peers = {
  'ky alone': "export { default } from 'ky';",
  'axios + axios-auth-refresh + axios-retry':
    "export { default as axios } from 'axios'; export { default as refresh } from 'axios-auth-refresh'; export { default as retry } from 'axios-retry';",
  ofetch: "export { ofetch } from 'ofetch';",
  wretch: "export { default } from 'wretch';",
};

export async function runSize() {
  const dir = join(root, 'node_modules/.cache/apifetch-bench');
  mkdirSync(dir, { recursive: true });
  const { own, total } = await measureOwnSize();
  const kb = (bytes) => Number((bytes / 1024).toFixed(2));
  const rows = [
    { name: 'apifetch, own code (deps external)', minKb: kb(own.minified), gzipKb: kb(own.gzip) },
    { name: 'apifetch + ky + p-retry + jwt-decode', minKb: kb(total.minified), gzipKb: kb(total.gzip) },
  ];
  let i = 0;
  for (const [name, source] of Object.entries(peers)) {
    const entry = join(dir, `entry-${i++}.mjs`);
    writeFileSync(entry, source);
    const size = await gzipSize(entry, []);
    rows.push({ name, minKb: kb(size.minified), gzipKb: kb(size.gzip) });
  }
  return rows;
}
