// The README's "Testing your app" example must be the test that runs in CI: this fails when they differ.
import { readFileSync } from 'node:fs';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const test = readFileSync(new URL('../test/readme-example.test.ts', import.meta.url), 'utf8');
const region = /\/\/ #region readme\n([\s\S]*?)\/\/ #endregion/.exec(test)?.[1];
const block = /<!-- readme-example -->\s*```ts\n([\s\S]*?)```/.exec(readme)?.[1];
if (!region || !block) {
  console.error('check-readme: README block or test region is missing');
  process.exit(1);
}
if (region.trim() !== block.trim()) {
  console.error('check-readme: the README example differs from test/readme-example.test.ts (#region readme)');
  process.exit(1);
}
console.log('check-readme: the README example is the tested one');
