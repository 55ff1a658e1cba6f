import { expect, it } from 'vitest';
import { isNetworkLog } from './helpers/happy-dom-network-log.js';

it.each([
  [['GET https://api.example.test/me 503 (Service Unavailable)'], true],
  [['POST https://api.example.test/oauth/token 400 (Bad Request)'], true],
  [[new TypeError('Network error')], true],
  // Everything else still prints: other errors, other messages, messages with more arguments.
  [[new TypeError('fetch failed')], false],
  [[new Error('Network error')], false],
  [['apifetch: an onEvent listener threw; its errors are ignored from now on', new Error('boom')], false],
  [['GET https://api.example.test/me 503 (Service Unavailable) and more'], false],
  [['Warning: something else'], false],
])('the happy-dom network-log filter on %o: %s', (args, expected) => {
  expect(isNetworkLog(args)).toBe(expected);
});
