// happy-dom plays a browser's devtools: its fetch prints `GET <url> 404 (Not Found)` for every response that is not
// ok, and every fetch that fails with its stack (msw's `TypeError: Network error`, a refused connection, a socket
// hang-up), straight to Node's console, past vitest's capture. The tests assert those statuses and failures
// themselves; this setup file (happy-dom project only) keeps that network log out of the output, so that a printed
// stack means a problem. It drops only what happy-dom's fetch itself prints: every other console.error goes through.
import nodeConsole from 'node:console';

const marker = Symbol.for('apifetch.test.happy-dom-network-log');
const happyDomFetch = /[\\/]happy-dom[\\/](lib|src)[\\/]fetch[\\/](Sync)?Fetch\.(js|ts):/;

/** Whether a console call was made by happy-dom's fetch, judged by the call's stack (its second frame on). */
export function isNetworkLog(stack: string): boolean {
  const callers = stack.split('\n').slice(2, 4);
  return callers.some((frame) => happyDomFetch.test(frame));
}

const target = nodeConsole as typeof nodeConsole & { [marker]?: true };
// Setup files run once per test file, and Node's console is shared by the files of a worker: wrap it once.
if (!target[marker]) {
  const error = nodeConsole.error.bind(nodeConsole);
  target.error = (...args: unknown[]) => {
    if (!isNetworkLog(new Error().stack ?? '')) error(...args);
  };
  target[marker] = true;
}
