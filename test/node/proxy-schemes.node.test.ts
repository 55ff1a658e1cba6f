import { describe, expect, it } from 'vitest';
import { parseChallenges } from '../../src/challenge.js';
import { chooseScheme, publicChallenges } from '../../src/node/choose.js';
import { digestAuthorization, parseDigestChallenge } from '../../src/node/digest.js';
import { ntlmAuthenticate, ntlmNegotiate, ntlmV2Responses, ntowfV2, parseNtlmChallenge } from '../../src/node/ntlm.js';
import { importPeer } from '../../src/node/optional-peers.js';

const hex = (value: string) => Buffer.from(value.replace(/\s/g, ''), 'hex');

describe('Digest (RFC 7616)', () => {
  // RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256.
  const challenge = (algorithm: string) =>
    parseDigestChallenge({
      scheme: 'digest',
      params: {
        realm: 'http-auth@example.org',
        qop: 'auth, auth-int',
        algorithm,
        nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
        opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
      },
    });
  const answer = (algorithm: string) =>
    digestAuthorization({
      challenge: challenge(algorithm)!,
      username: 'Mufasa',
      password: 'Circle of Life',
      method: 'GET',
      uri: '/dir/index.html',
      nc: 1,
      cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    });

  it.each([
    ['MD5', '8ca523f5e9506fed4657c9700eebdbec'],
    ['SHA-256', '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1'],
  ])('%s: the response of RFC 7616 §3.9.1', (algorithm, response) => {
    expect(answer(algorithm)).toBe(
      `Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=${algorithm}, ` +
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, ' +
        `cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="${response}", ` +
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
    );
  });

  it('-sess hashes the nonce and cnonce into HA1; nc counts in 8 hex digits', () => {
    const sess = parseDigestChallenge({
      scheme: 'digest',
      params: { realm: 'r', nonce: 'n', algorithm: 'MD5-sess', qop: 'auth' },
    })!;
    const input = { challenge: sess, username: 'u', password: 'p', method: 'GET', uri: '/', nc: 26, cnonce: 'c' };
    const header = digestAuthorization(input);
    expect(header).toContain('nc=0000001a');
    expect(header).toContain('algorithm=MD5-sess');
    // HA1 = MD5(MD5(u:r:p):n:c): a different answer from plain MD5 for the same input.
    const plain = digestAuthorization({ ...input, challenge: { ...sess, algorithm: 'MD5' } });
    expect(header.match(/response="(\w+)"/)?.[1]).not.toBe(plain.match(/response="(\w+)"/)?.[1]);
  });

  it.each([
    ['qop="auth-int" only', { realm: 'r', nonce: 'n', qop: 'auth-int' }],
    ['SHA-512-256', { realm: 'r', nonce: 'n', algorithm: 'SHA-512-256' }],
    ['no nonce', { realm: 'r' }],
  ])('%s cannot be answered', (_, params) => {
    expect(parseDigestChallenge({ scheme: 'digest', params })).toBeUndefined();
  });

  it('stale=true is read, and RFC 2069 (no qop) is answered without nc', () => {
    const stale = parseDigestChallenge({ scheme: 'digest', params: { realm: 'r', nonce: 'n', stale: 'TRUE' } });
    expect(stale).toMatchObject({ stale: true, qop: undefined, algorithm: 'MD5' });
    const header = digestAuthorization({
      challenge: stale!,
      username: 'u',
      password: 'p',
      method: 'GET',
      uri: '/',
      nc: 1,
    });
    expect(header).not.toContain('nc=');
  });
});

describe('NTLMv2 (MS-NLMP §4.2.4 test vectors)', () => {
  // User "User", domain "Domain", password "Password", server challenge 0123456789abcdef, client challenge aa×8,
  // time 0, and the AV pairs of §4.2.4.1.1 (NbDomainName "Domain", NbComputerName "Server").
  const targetInfo = Buffer.concat([
    hex('0200 0c00'),
    Buffer.from('Domain', 'utf16le'),
    hex('0100 0c00'),
    Buffer.from('Server', 'utf16le'),
    hex('0000 0000'),
  ]);
  const challenge = { flags: 0xe28a8233, serverChallenge: hex('0123456789abcdef'), targetInfo };
  const identity = {
    username: 'User',
    password: 'Password',
    domain: 'Domain',
    clientChallenge: Buffer.alloc(8, 0xaa),
    now: 0n,
  };

  it('NTOWFv2 (§4.2.4.1.1)', async () => {
    expect((await ntowfV2('User', 'Password', 'Domain')).toString('hex')).toBe('0c868a403bfd7a93a3001ef22ef02e3f');
  });

  it('LMv2 response and NTProofStr (§4.2.4.2.1, §4.2.4.2.2)', async () => {
    const { lm, nt } = await ntlmV2Responses(challenge, identity);
    expect(lm.toString('hex')).toBe('86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa');
    expect(nt.subarray(0, 16).toString('hex')).toBe('68cd0ab851e51c96aabc927bebef6a1c');
    // The blob after the proof: header, time, client challenge, the server's AV pairs.
    expect(nt.subarray(16, 24).toString('hex')).toBe('0101000000000000');
    expect(nt.subarray(32, 40)).toEqual(Buffer.alloc(8, 0xaa));
    expect(nt.includes(targetInfo)).toBe(true);
  });

  it('a server timestamp (MsvAvTimestamp) is used, and the LMv2 response is then zeros', async () => {
    const time = hex('0090d336b734c301');
    const withTime = Buffer.concat([hex('0700 0800'), time, hex('0000 0000')]);
    const { lm, nt } = await ntlmV2Responses({ ...challenge, targetInfo: withTime }, identity);
    expect(lm).toEqual(Buffer.alloc(24));
    expect(nt.subarray(24, 32)).toEqual(time);
  });

  it('type 1 carries no names; a type 2 round-trips; type 3 lays out the user and domain in UTF-16', async () => {
    const negotiate = Buffer.from(ntlmNegotiate(), 'base64');
    expect(negotiate.subarray(0, 8).toString('latin1')).toBe('NTLMSSP\0');
    expect(negotiate.readUInt32LE(8)).toBe(1);
    expect(negotiate.readUInt16LE(16)).toBe(0);
    expect(negotiate.readUInt16LE(24)).toBe(0);

    const type2 = Buffer.alloc(48 + targetInfo.length);
    type2.write('NTLMSSP\0', 0, 'latin1');
    type2.writeUInt32LE(2, 8);
    type2.writeUInt32LE(challenge.flags, 20);
    challenge.serverChallenge.copy(type2, 24);
    type2.writeUInt16LE(targetInfo.length, 40);
    type2.writeUInt16LE(targetInfo.length, 42);
    type2.writeUInt32LE(48, 44);
    targetInfo.copy(type2, 48);
    const parsed = parseNtlmChallenge(type2.toString('base64'));
    expect(parsed).toEqual(challenge);
    expect(parseNtlmChallenge(Buffer.from('not ntlm at all, not at all').toString('base64'))).toBeUndefined();

    const type3 = Buffer.from(await ntlmAuthenticate(parsed!, identity), 'base64');
    expect(type3.readUInt32LE(8)).toBe(3);
    const field = (at: number) =>
      type3.subarray(type3.readUInt32LE(at + 4), type3.readUInt32LE(at + 4) + type3.readUInt16LE(at));
    expect(field(28).toString('utf16le')).toBe('Domain');
    expect(field(36).toString('utf16le')).toBe('User');
    expect(field(20).subarray(0, 16).toString('hex')).toBe('68cd0ab851e51c96aabc927bebef6a1c');
  });
});

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

describe('optional peers', () => {
  it('a missing package fails with an error that names it and how to install it', async () => {
    const missing = Object.assign(new Error("Cannot find package 'undici'"), { code: 'ERR_MODULE_NOT_FOUND' });
    const load = () => Promise.reject(missing);
    const error = (await importPeer('undici', 'for createProxyFetch', load).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe('apifetch/node needs the `undici` package for createProxyFetch: npm install undici');
    expect(error.cause).toBe(missing);
  });

  it('any other import failure is passed on unchanged', async () => {
    const broken = new SyntaxError('bad');
    await expect(importPeer('undici', 'x', () => Promise.reject(broken))).rejects.toBe(broken);
  });
});
