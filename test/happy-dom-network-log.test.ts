import { expect, it } from 'vitest';
import { isNetworkLog } from './helpers/happy-dom-network-log.js';

const stack = (...callers: string[]) =>
  ['Error', '    at target.error (test/helpers/happy-dom-network-log.ts:22:27)', ...callers].join('\n');
const fetchFrame = '    at Fetch.onError (/app/node_modules/happy-dom/lib/fetch/Fetch.js:539:44)';

it.each([
  [stack(fetchFrame, '    at ClientRequest.emit (node:events:526:24)'), true],
  [stack('    at Fetch.resolve (/app/node_modules/happy-dom/src/fetch/Fetch.ts:446:40)'), true],
  [stack('    at SyncFetch.send (C:\\app\\node_modules\\happy-dom\\lib\\fetch\\SyncFetch.js:428:12)'), true],
  // Everything else still prints: our own code, other parts of happy-dom, a test.
  [stack('    at createEmitter (/app/src/events.ts:70:17)', fetchFrame.replace('Fetch.js', 'Other.js')), false],
  [
    stack('    at BrowserWindow.dispatchError (/app/node_modules/happy-dom/lib/window/BrowserWindow.js:2327:40)'),
    false,
  ],
  [
    stack('    at test/client.test.ts:202:5', '    at file:///app/node_modules/@vitest/runner/dist/index.js:1:1'),
    false,
  ],
  // A fetch frame deeper down (a listener called from a response) is not happy-dom printing.
  [stack('    at listener (/app/test/a.test.ts:1:1)', '    at emit (/app/src/events.ts:1:1)', fetchFrame), false],
])('a console.error called from %s is network log: %s', (trace, expected) => {
  expect(isNetworkLog(trace)).toBe(expected);
});
