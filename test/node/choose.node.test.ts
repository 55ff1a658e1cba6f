import { describe, expect, it } from 'vitest';
import { parseChallenges } from '../../src/challenge.js';
import { chooseScheme, publicChallenges } from '../../src/node/choose.js';

describe('choosing a scheme', () => {
  const offered = parseChallenges(['Basic realm="p"', 'NTLM', 'Digest realm="p", nonce="n", qop="auth"', 'Negotiate']);
  it.each([
    [[], 'negotiate'],
    [['negotiate'], 'digest'],
    [['negotiate', 'digest'], 'ntlm'],
    [['negotiate', 'digest', 'ntlm'], 'basic'],
    [['negotiate', 'digest', 'ntlm', 'basic'], undefined],
  ] as const)('skipping %j → %s (curl order, whatever order the proxy listed them in)', (skip, expected) => {
    expect(chooseScheme(offered, new Set(skip))?.scheme).toBe(expected);
  });

  it('a Digest it cannot answer falls through to the next scheme', () => {
    const challenges = parseChallenges(['Digest realm="p", nonce="n", algorithm=SHA-512-256', 'Basic realm="p"']);
    expect(chooseScheme(challenges, new Set())?.scheme).toBe('basic');
  });

  it('NTLM and Negotiate tokens are left out of the challenges errors show', () => {
    const challenges = parseChallenges(['NTLM TlRMTVNTUAACAAAA', 'Negotiate YIIBhg==', 'Basic realm="p"']);
    expect(publicChallenges(challenges)).toEqual([
      { scheme: 'ntlm', params: {} },
      { scheme: 'negotiate', params: {} },
      { scheme: 'basic', params: { realm: 'p' } },
    ]);
  });
});
