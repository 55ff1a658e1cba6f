import { describe, expect, it } from 'vitest';
import { bypassesProxy } from '../../src/node/index.js';

describe('NO_PROXY rules', () => {
  it.each([
    ['http://api.example.test/', 'example.test', true],
    ['http://example.test/', '.example.test', true],
    ['http://api.example.test/', '.example.test', true],
    ['http://deep.api.example.test/', '*.example.test', true],
    ['http://notexample.test/', 'example.test', false],
    ['http://API.Example.TEST/', 'example.test', true],
    ['http://api.example.test:8080/', 'api.example.test:8080', true],
    ['http://api.example.test:9090/', 'api.example.test:8080', false],
    ['https://api.example.test/', 'api.example.test:443', true],
    ['http://api.example.test/', 'api.example.test:443', false],
    ['http://10.1.2.3/', '10.1.2.3', true],
    ['http://10.1.2.30/', '10.1.2.3', false],
    ['http://[::1]:80/', '[::1]', true],
    ['http://127.0.0.1/', 'example.test', false],
    ['http://localhost/', 'other.test, localhost', true],
    ['http://b.test/', 'a.test b.test', true],
    ['http://anything.test/', '*', true],
    ['http://anything.test/', '', false],
  ])('%s with %j → %s', (url, rule, expected) => {
    expect(bypassesProxy(new URL(url), rule)).toBe(expected);
  });
});
