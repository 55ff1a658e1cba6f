import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { json, startServer, type TestServer } from './helpers/server.js';

const secrets = ['AT-SECRET-4411', 'RT-SECRET-9a0b', 'QUERY-SECRET-77'];
let dir: string;
let api: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'apifetch-unhandled-'));
  // The library as an app's bundler would ship it, so a plain Node process can load it.
  const entry = join(dir, 'entry.ts');
  writeFileSync(entry, `export * from '${join(process.cwd(), 'src/index.ts')}'; export { default as ky } from 'ky';`);
  await build({
    entryPoints: [entry],
    nodePaths: [join(process.cwd(), 'node_modules')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    outfile: join(dir, 'apifetch.mjs'),
    logLevel: 'silent',
  });
  api = await startServer((req, res) => {
    if (req.url.startsWith('/token')) return json(res, 400, { error: 'invalid_grant' });
    if (req.url.startsWith('/missing')) return json(res, 404, { title: 'not found' });
    return json(res, 401, {}, { 'www-authenticate': 'Bearer error="invalid_token"' });
  });
});
afterAll(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Run `body` (a module importing `./apifetch.mjs`) in its own Node process; resolves with what it printed. */
function runScript(body: string): Promise<{ code: number | null; output: string }> {
  const file = join(dir, `script-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, body);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

it.each([
  ['an UnauthenticatedError after a refused refresh (cause: ky HTTPError with the refresh token in its body)', 'me'],
  ['a 404 HTTPError from ky', 'missing'],
])(
  "Node's unhandled-rejection output of %s shows no secret",
  async (_, path) => {
    const { code, output } = await runScript(`
    import { createApiFetch, createTokenSession, ky } from './apifetch.mjs';
    const session = createTokenSession({
      tokens: { accessToken: '${secrets[0]}', refreshToken: '${secrets[1]}' },
      refresh: ({ tokens }) => ky.post('${api.origin}/token?${secrets[2]}', { json: { refresh_token: tokens.refreshToken }, retry: 0 }).json(),
    });
    const api = createApiFetch({ baseUrl: '${api.origin}', retry: 0, auth: { session } });
    api.get('${path}?q=${secrets[2]}').json();
  `);
    // Node printed the error and exited with failure: the rejection really went unhandled.
    expect(code).not.toBe(0);
    expect(output).toMatch(/UnauthenticatedError|HTTPError/);
    for (const secret of secrets) expect(output).not.toContain(secret);
  },
  30_000,
);
