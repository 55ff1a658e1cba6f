// Two checks that keep the README honest:
// 1. The README's "Testing your app" example must be the test that runs in CI: this fails when they differ.
//    The test file marks the example with `// #region readme` … `// #endregion`; the README has the same text in the
//    ```ts block that follows `<!-- readme-example -->`.
// 2. Every ```ts block type-checks against the package as users import it (`apifetch`, `apifetch/node`,
//    `apifetch/testing` resolved through package.json `exports` to the built `dist` types: run `npm run build` first).
//    Names that belong to the reader's app (showLogin, vault, …) are declared in `appStubs` below.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (path) => readFileSync(join(root, path), 'utf8').replace(/\r\n/g, '\n');
const readme = read('README.md');
let failed = false;

const test = read('test/readme-example.test.ts');
const region = /\/\/ #region readme\n([\s\S]*?)\/\/ #endregion/.exec(test)?.[1];
const block = /<!-- readme-example -->\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
if (region === undefined || block === undefined) {
  console.error('check-readme: the README block (<!-- readme-example --> then ```ts) or the test region is missing');
  failed = true;
} else if (region.trimEnd() !== block.trimEnd()) {
  const ours = region.split('\n');
  const theirs = block.split('\n');
  const line = ours.findIndex((text, i) => text !== theirs[i]);
  console.error('check-readme: the README example differs from test/readme-example.test.ts (#region readme)');
  console.error(`  first difference at line ${line + 1} of the example:`);
  console.error(`  test:   ${ours[line] ?? '(end)'}`);
  console.error(`  README: ${theirs[line] ?? '(end)'}`);
  failed = true;
} else {
  console.log('check-readme: the README example is the tested one');
}

// The reader's own code that the examples call: declared, never defined.
const appStubs = `
declare function showLogin(): void;
declare function showBanner(message: string): void;
declare const tokensFromLogin: import('apifetch').TokenSet;
declare const refresh: (ctx: import('apifetch').RefreshContext) => Promise<import('apifetch').TokenSet>;
declare const response: Response;
declare const vault: { get(name: string, options?: { signal?: AbortSignal }): Promise<string> };
declare const redlock: { using<T>(resources: string[], durationMs: number, fn: () => Promise<T>): Promise<T> };
declare const sharedStore: import('apifetch').TokenStore;
declare const authorizeUrl: URL;
declare const code: string;
declare const codeVerifier: string;
declare const redirectUri: string;
declare const clientId: string;
`;

/** Every ```ts block with the README line its code starts on. */
export function tsBlocks(markdown) {
  const blocks = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```ts') continue;
    const end = lines.findIndex((text, j) => j > i && text.trim() === '```');
    blocks.push({ line: i + 2, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

const blocks = tsBlocks(readme);
const dir = join(root, '.readme-blocks');
const files = new Map([[join(dir, 'app-stubs.d.ts'), appStubs]]);
// `export {}` makes each block a module of its own: no block sees another's names.
for (const [i, b] of blocks.entries()) files.set(join(dir, `block-${i + 1}.ts`), `${b.code}\nexport {};\n`);

const options = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
  types: ['node'],
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  skipLibCheck: true,
  noEmit: true,
};
const host = ts.createCompilerHost(options);
const { getSourceFile, fileExists, readFile } = host;
host.fileExists = (name) => files.has(name) || fileExists(name);
host.readFile = (name) => files.get(name) ?? readFile(name);
host.getSourceFile = (name, language, ...rest) =>
  files.has(name) ? ts.createSourceFile(name, files.get(name), language) : getSourceFile(name, language, ...rest);
const program = ts.createProgram([...files.keys()], options, host);

const failing = new Map();
for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
  const name = diagnostic.file?.fileName ?? '';
  const index = /block-(\d+)\.ts$/.exec(name)?.[1];
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n  ');
  if (index === undefined) {
    console.error(`check-readme: ${name || 'TypeScript'}: ${message}`);
    failed = true;
    continue;
  }
  const b = blocks[Number(index) - 1];
  const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
  const list = failing.get(b) ?? [];
  list.push(`README.md:${b.line + line}: TS${diagnostic.code}: ${message}`);
  failing.set(b, list);
}
for (const [b, messages] of failing) {
  console.error(`check-readme: the \`\`\`ts block at README.md:${b.line - 1} does not type-check:`);
  for (const message of messages) console.error(`  ${message}`);
  failed = true;
}
if (failing.size === 0) console.log(`check-readme: all ${blocks.length} \`\`\`ts blocks type-check`);
if (failed) process.exit(1);
