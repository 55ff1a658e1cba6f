// The README's "Testing your app" example must be the test that runs in CI: this fails when they differ.
// The test file marks the example with `// #region readme` … `// #endregion`; the README has the same text in the
// ```ts block that follows `<!-- readme-example -->`.
import { readFileSync } from 'node:fs';

const read = (path) => readFileSync(new URL(path, import.meta.url), 'utf8').replace(/\r\n/g, '\n');
const readme = read('../README.md');
const test = read('../test/readme-example.test.ts');
const region = /\/\/ #region readme\n([\s\S]*?)\/\/ #endregion/.exec(test)?.[1];
const block = /<!-- readme-example -->\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
if (region === undefined || block === undefined) {
  console.error('check-readme: the README block (<!-- readme-example --> then ```ts) or the test region is missing');
  process.exit(1);
}
if (region.trimEnd() !== block.trimEnd()) {
  const ours = region.split('\n');
  const theirs = block.split('\n');
  const line = ours.findIndex((text, i) => text !== theirs[i]);
  console.error('check-readme: the README example differs from test/readme-example.test.ts (#region readme)');
  console.error(`  first difference at line ${line + 1} of the example:`);
  console.error(`  test:   ${ours[line] ?? '(end)'}`);
  console.error(`  README: ${theirs[line] ?? '(end)'}`);
  process.exit(1);
}
console.log('check-readme: the README example is the tested one');
