// happy-dom plays a browser's devtools: for every response that is not ok it prints `GET <url> 404 (Not Found)`, and
// for every fetch that fails, the error with its stack (msw's `HttpResponse.error()` gives `TypeError: Network error`),
// straight to Node's console, past vitest's capture. The tests assert those statuses and errors themselves; this
// setup file (happy-dom project only) keeps that network log out of the output, so that a printed stack means a
// problem. Anything else happy-dom prints, and every other console.error, still goes through.
import nodeConsole from 'node:console';

const marker = Symbol.for('apifetch.test.happy-dom-network-log');
const requestLine = /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) \S+ \d{3} \([^)]*\)$/;

/** Exactly what happy-dom's fetch prints for a non-ok response or a failed request, nothing else. */
export function isNetworkLog(args: readonly unknown[]): boolean {
  if (args.length !== 1) return false;
  const [arg] = args;
  if (typeof arg === 'string') return requestLine.test(arg);
  return arg instanceof Error && arg.name === 'TypeError' && arg.message === 'Network error';
}

const target = nodeConsole as typeof nodeConsole & { [marker]?: true };
// Setup files run once per test file, and Node's console is shared by the files of a worker: wrap it once.
if (!target[marker]) {
  const error = nodeConsole.error.bind(nodeConsole);
  target.error = (...args: unknown[]) => {
    if (!isNetworkLog(args)) error(...args);
  };
  target[marker] = true;
}
