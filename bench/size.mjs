// 5. Bundle size, min+gzip -9, of what a browser downloads: apifetch's scenarios as size-limit measures them (the
// same as `npm test` checks), and its peers bundled the same way (esbuild, every dependency included).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const peers = {
  'axios + axios-auth-refresh + axios-retry':
    "export { default as axios } from 'axios'; export { default as refresh } from 'axios-auth-refresh'; export { default as retry } from 'axios-retry';",
  ofetch: "export { ofetch } from 'ofetch';",
  wretch: "export { default } from 'wretch';",
};

/** `entry` bundled for the browser with every dependency, minified, as an app's bundler would (esbuild's result). */
export const bundleForBrowser = (entry, options = {}) =>
  build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
    ...options,
  });

/** min+gzip bytes of `entry` bundled for the browser with every dependency, as an app's bundler would. */
async function bundledSize(entry) {
  const result = await bundleForBrowser(entry);
  const code = result.outputFiles.map((file) => file.text).join('');
  return { minified: Buffer.byteLength(code), gzip: gzipSync(code, { level: 9 }).byteLength };
}

export async function runSize() {
  const kb = (bytes) => Number((bytes / 1024).toFixed(2));
  let output;
  try {
    output = execFileSync('npx', ['size-limit', '--json'], { cwd: root, encoding: 'utf8' });
  } catch (error) {
    // Over a budget: size-limit exits 1, and its figures are still what the bench reports.
    output = error.stdout;
  }
  const measured = JSON.parse(output);
  const rows = measured.map((check) => ({ name: check.name, gzipKb: kb(check.size) }));
  const dir = join(root, 'node_modules/.cache/apifetch-bench');
  mkdirSync(dir, { recursive: true });
  let i = 0;
  for (const [name, source] of Object.entries(peers)) {
    const entry = join(dir, `entry-${i++}.mjs`);
    writeFileSync(entry, source);
    const size = await bundledSize(entry);
    rows.push({ name, minKb: kb(size.minified), gzipKb: kb(size.gzip) });
  }
  return rows;
}
