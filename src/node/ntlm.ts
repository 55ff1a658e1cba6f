import { createHmac, randomBytes } from 'node:crypto';
import { loadHashWasm } from './optional-peers.js';

// MS-NLMP §2.2.2.5 flags: Unicode and OEM strings, NTLM with extended session security, ask for the target's name.
const flags = {
  unicode: 0x1,
  oem: 0x2,
  requestTarget: 0x4,
  ntlm: 0x200,
  alwaysSign: 0x8000,
  extendedSessionSecurity: 0x80000,
  targetInfo: 0x800000,
  bits128: 0x20000000,
  bits56: 0x80000000,
} as const;
const negotiateFlags =
  flags.unicode |
  flags.oem |
  flags.requestTarget |
  flags.ntlm |
  flags.alwaysSign |
  flags.extendedSessionSecurity |
  flags.bits128 |
  flags.bits56;
const signature = Buffer.from('NTLMSSP\0', 'latin1');
/** MsvAvTimestamp in the target info (MS-NLMP §2.2.2.1). */
const avTimestamp = 7;

/** The NEGOTIATE_MESSAGE (type 1), base64: no domain or workstation, so it reveals nothing about the client. */
export function ntlmNegotiate(): string {
  const message = Buffer.alloc(32);
  signature.copy(message, 0);
  message.writeUInt32LE(1, 8);
  message.writeUInt32LE(negotiateFlags >>> 0, 12);
  // Empty domain and workstation fields, pointing at the end of the message.
  message.writeUInt32LE(32, 20);
  message.writeUInt32LE(32, 28);
  return message.toString('base64');
}

/** What the CHALLENGE_MESSAGE (type 2) carries that the answer needs. */
export interface NtlmChallenge {
  flags: number;
  serverChallenge: Buffer;
  targetInfo: Buffer;
}

/** The CHALLENGE_MESSAGE from a `Proxy-Authenticate: NTLM <base64>`, or undefined when it is not one. */
export function parseNtlmChallenge(base64: string): NtlmChallenge | undefined {
  const message = Buffer.from(base64, 'base64');
  if (message.length < 32 || !message.subarray(0, 8).equals(signature) || message.readUInt32LE(8) !== 2) {
    return undefined;
  }
  const flagsValue = message.readUInt32LE(20);
  const serverChallenge = Buffer.from(message.subarray(24, 32));
  let targetInfo = Buffer.alloc(0);
  if (message.length >= 48) {
    const length = message.readUInt16LE(40);
    const offset = message.readUInt32LE(44);
    if (offset + length <= message.length) targetInfo = Buffer.from(message.subarray(offset, offset + length));
  }
  return { flags: flagsValue, serverChallenge, targetInfo };
}

/** Who answers, and the values MS-NLMP's test vectors fix (the client challenge and the time). */
export interface NtlmIdentity {
  username: string;
  password: string;
  /** The user's domain; `''` lets the server use its own. */
  domain: string;
  workstation?: string;
  /** 8 random bytes unless given. */
  clientChallenge?: Buffer;
  /** Windows FILETIME (100 ns since 1601), used when the server sends no MsvAvTimestamp. */
  now?: bigint;
}

const utf16 = (value: string) => Buffer.from(value, 'utf16le');
const hmacMd5 = (key: Buffer, ...data: Buffer[]) => {
  const hmac = createHmac('md5', key);
  for (const part of data) hmac.update(part);
  return hmac.digest();
};

/**
 * NTOWFv2 (MS-NLMP §3.3.2): HMAC-MD5 of the MD4 password hash over the uppercased user and the domain. MD4 comes from
 * the optional peer `hash-wasm`, loaded here on first use: rejects naming the package when it is not installed.
 */
export async function ntowfV2(username: string, password: string, domain: string): Promise<Buffer> {
  const { md4 } = await loadHashWasm();
  const ntHash = Buffer.from(await md4(utf16(password)), 'hex');
  return hmacMd5(ntHash, utf16(username.toUpperCase() + domain));
}

function findAvPair(targetInfo: Buffer, id: number): Buffer | undefined {
  for (let at = 0; at + 4 <= targetInfo.length; ) {
    const avId = targetInfo.readUInt16LE(at);
    const length = targetInfo.readUInt16LE(at + 2);
    if (avId === 0) return undefined;
    if (avId === id) return targetInfo.subarray(at + 4, at + 4 + length);
    at += 4 + length;
  }
  return undefined;
}

/** The NTLMv2 responses (MS-NLMP §3.3.2), exported for the specification's test vectors. */
export async function ntlmV2Responses(
  challenge: NtlmChallenge,
  identity: NtlmIdentity,
): Promise<{ lm: Buffer; nt: Buffer }> {
  const key = await ntowfV2(identity.username, identity.password, identity.domain);
  const clientChallenge = identity.clientChallenge ?? randomBytes(8);
  const serverTime = findAvPair(challenge.targetInfo, avTimestamp);
  const time = Buffer.alloc(8);
  if (serverTime?.length === 8) serverTime.copy(time);
  else time.writeBigUInt64LE(identity.now ?? BigInt(Date.now()) * 10_000n + 116_444_736_000_000_000n);
  const temp = Buffer.concat([
    Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]),
    time,
    clientChallenge,
    Buffer.alloc(4),
    challenge.targetInfo,
    Buffer.alloc(4),
  ]);
  const proof = hmacMd5(key, challenge.serverChallenge, temp);
  // With a server timestamp the LMv2 response is replaced by zeros (MS-NLMP §3.1.5.1.2).
  const lm = serverTime
    ? Buffer.alloc(24)
    : Buffer.concat([hmacMd5(key, challenge.serverChallenge, clientChallenge), clientChallenge]);
  return { lm, nt: Buffer.concat([proof, temp]) };
}

/** The AUTHENTICATE_MESSAGE (type 3), base64. */
export async function ntlmAuthenticate(challenge: NtlmChallenge, identity: NtlmIdentity): Promise<string> {
  const { lm, nt } = await ntlmV2Responses(challenge, identity);
  const fields = [
    lm,
    nt,
    utf16(identity.domain),
    utf16(identity.username),
    utf16(identity.workstation ?? ''),
    Buffer.alloc(0),
  ];
  const header = Buffer.alloc(64);
  signature.copy(header, 0);
  header.writeUInt32LE(3, 8);
  let offset = header.length;
  fields.forEach((field, i) => {
    header.writeUInt16LE(field.length, 12 + i * 8);
    header.writeUInt16LE(field.length, 14 + i * 8);
    header.writeUInt32LE(offset, 16 + i * 8);
    offset += field.length;
  });
  header.writeUInt32LE((challenge.flags & negotiateFlags & ~flags.oem) >>> 0 || negotiateFlags, 60);
  return Buffer.concat([header, ...fields]).toString('base64');
}
