import { describe, expect, it } from 'vitest';
import { ntlmAuthenticate, ntlmNegotiate, ntlmV2Responses, ntowfV2, parseNtlmChallenge } from '../../src/node/ntlm.js';

const hex = (value: string) => Buffer.from(value.replace(/\s/g, ''), 'hex');

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
