/**
 * NTLMSSP for an SMB server (MS-NLMP): the NEGOTIATE / CHALLENGE / AUTHENTICATE messages
 * (2.2.1.1-2.2.1.3) with target info AV pairs (2.2.2.1), NTLMv2 verification against a user's
 * NT hash (3.3.2, 3.2.5.1.2), the session keys (3.4.5.1 KXKEY, key exchange 3.1.5.1.2), the
 * AUTHENTICATE MIC (3.1.5.1.2 / 3.2.5.1.2), anonymous detection (3.2.5.1.2), and the GSS MIC a
 * SPNEGO mechListMIC needs (3.4.4.2 with SIGNKEY/SEALKEY 3.4.5.2-3). NTLMv1 is refused.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { decodeUtf16, Reader, WireError, Writer } from '../wire/reader.js';
import { md4, Rc4, rc4 } from './legacy.js';

/** A malformed NTLMSSP message. Answered with STATUS_INVALID_PARAMETER or STATUS_LOGON_FAILURE. */
export class NtlmError extends WireError {
  constructor(message: string) {
    super(message);
    this.name = 'NtlmError';
  }
}

export const NTLMSSP_SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');
export const MESSAGE_TYPE = { NEGOTIATE: 1, CHALLENGE: 2, AUTHENTICATE: 3 } as const;

/** NegotiateFlags (MS-NLMP 2.2.2.5). */
export const NTLM_FLAG = {
  UNICODE: 0x00000001, OEM: 0x00000002, REQUEST_TARGET: 0x00000004, SIGN: 0x00000010, SEAL: 0x00000020,
  DATAGRAM: 0x00000040, LM_KEY: 0x00000080, NTLM: 0x00000200, ANONYMOUS: 0x00000800,
  OEM_DOMAIN_SUPPLIED: 0x00001000, OEM_WORKSTATION_SUPPLIED: 0x00002000, ALWAYS_SIGN: 0x00008000,
  TARGET_TYPE_DOMAIN: 0x00010000, TARGET_TYPE_SERVER: 0x00020000, EXTENDED_SESSIONSECURITY: 0x00080000,
  IDENTIFY: 0x00100000, REQUEST_NON_NT_SESSION_KEY: 0x00400000, TARGET_INFO: 0x00800000, VERSION: 0x02000000,
  NEGOTIATE_128: 0x20000000, KEY_EXCH: 0x40000000, NEGOTIATE_56: 0x80000000,
} as const;

/** AV pair ids (MS-NLMP 2.2.2.1). */
export const AV = {
  EOL: 0, NB_COMPUTER_NAME: 1, NB_DOMAIN_NAME: 2, DNS_COMPUTER_NAME: 3, DNS_DOMAIN_NAME: 4, DNS_TREE_NAME: 5,
  FLAGS: 6, TIMESTAMP: 7, SINGLE_HOST: 8, TARGET_NAME: 9, CHANNEL_BINDINGS: 10,
} as const;
/** MsvAvFlags bit: the AUTHENTICATE message carries a MIC. */
export const AV_FLAG_MIC_PRESENT = 0x00000002;

const MAX_AV_PAIRS = 32;
const MAX_FIELD = 4096;
const MAX_NT_RESPONSE = 4096;

export interface AvPair {
  id: number;
  value: Buffer;
}

/** Decodes AV pairs up to and including MsvAvEOL (2.2.2.1). Throws NtlmError if the list is unterminated or too long. */
export function decodeAvPairs(buf: Buffer): AvPair[] {
  const r = new Reader(buf);
  const out: AvPair[] = [];
  for (;;) {
    if (out.length > MAX_AV_PAIRS) throw new NtlmError('too many AV pairs');
    const id = r.u16('AvId'), len = r.u16('AvLen');
    if (id === AV.EOL) {
      if (len !== 0) throw new NtlmError('MsvAvEOL with a value');
      return out;
    }
    out.push({ id, value: r.bytes(len, MAX_FIELD, 'AV value') });
  }
}

/** Encodes AV pairs and the closing MsvAvEOL. */
export function encodeAvPairs(pairs: readonly AvPair[]): Buffer {
  const w = new Writer();
  for (const p of pairs) w.u16(p.id).u16(p.value.length).bytes(p.value);
  return w.u16(AV.EOL).u16(0).finish();
}

/** A field triple (Len, MaxLen, Offset; 2.2.1.x) read and resolved against the message. */
function field(r: Reader, msg: Buffer, max: number, what: string, minOffset: number): Buffer {
  const len = r.u16(`${what}Len`);
  r.u16(`${what}MaxLen`);
  const off = r.u32(`${what}BufferOffset`);
  if (len === 0) return Buffer.alloc(0);
  if (len > max) throw new NtlmError(`${what} too long: ${len}`);
  if (off < minOffset || off + len > msg.length) throw new NtlmError(`${what} outside the message`);
  return msg.subarray(off, off + len);
}

function text(b: Buffer, unicode: boolean, what: string): string {
  return unicode ? decodeUtf16(b, what) : b.toString('latin1');
}

function header(msg: Buffer, type: number): Reader {
  if (msg.length > 65535) throw new NtlmError('NTLM message too large');
  const r = new Reader(msg);
  if (!r.bytes(8, 8, 'Signature').equals(NTLMSSP_SIGNATURE)) throw new NtlmError('not an NTLMSSP message');
  const t = r.u32('MessageType');
  if (t !== type) throw new NtlmError(`NTLM message type ${t} (want ${type})`);
  return r;
}

/** Writes payload fields after a fixed part of `fixed` bytes; returns a patcher per field. */
class Payload {
  private readonly parts: Buffer[] = [];
  private at: number;
  constructor(fixed: number) {
    this.at = fixed;
  }
  field(w: Writer, b: Buffer): void {
    w.u16(b.length).u16(b.length).u32(b.length ? this.at : 0);
    this.parts.push(b);
    this.at += b.length;
  }
  finish(w: Writer): Buffer {
    for (const p of this.parts) w.bytes(p);
    return w.finish();
  }
}

export interface NegotiateMessage {
  flags: number;
  domain: string;
  workstation: string;
}

/** Decodes a NEGOTIATE_MESSAGE (2.2.1.1); OEM domain/workstation only when their flags say so. */
export function decodeNegotiateMessage(msg: Buffer): NegotiateMessage {
  const r = header(msg, MESSAGE_TYPE.NEGOTIATE);
  const flags = r.u32('NegotiateFlags');
  const domain = field(r, msg, MAX_FIELD, 'DomainName', 32);
  const workstation = field(r, msg, MAX_FIELD, 'Workstation', 32);
  return {
    flags,
    domain: flags & NTLM_FLAG.OEM_DOMAIN_SUPPLIED ? domain.toString('latin1') : '',
    workstation: flags & NTLM_FLAG.OEM_WORKSTATION_SUPPLIED ? workstation.toString('latin1') : '',
  };
}

/** Encodes a NEGOTIATE_MESSAGE (client side; tests). */
export function encodeNegotiateMessage(flags: number): Buffer {
  const w = new Writer().bytes(NTLMSSP_SIGNATURE).u32(MESSAGE_TYPE.NEGOTIATE).u32(flags);
  const p = new Payload(40);
  p.field(w, Buffer.alloc(0));
  p.field(w, Buffer.alloc(0));
  w.bytes(VERSION);
  return p.finish(w);
}

/** Our Version field (2.2.2.10): 6.1 build 0, NTLMSSP_REVISION_W2K3 (15). Informational only. */
const VERSION = Buffer.from([6, 1, 0, 0, 0, 0, 0, 15]);

export interface ChallengeMessage {
  flags: number;
  targetName: string;
  /** 8 bytes. */
  serverChallenge: Buffer;
  /** Raw AV pairs (decode with decodeAvPairs). */
  targetInfo: Buffer;
}

/** Decodes a CHALLENGE_MESSAGE (2.2.1.2). */
export function decodeChallengeMessage(msg: Buffer): ChallengeMessage {
  const r = header(msg, MESSAGE_TYPE.CHALLENGE);
  const name = field(r, msg, MAX_FIELD, 'TargetName', 48);
  const flags = r.u32('NegotiateFlags');
  const serverChallenge = Buffer.from(r.bytes(8, 8, 'ServerChallenge'));
  r.skip(8, 'Reserved');
  const targetInfo = field(r, msg, MAX_FIELD, 'TargetInfo', 48);
  if (targetInfo.length) decodeAvPairs(targetInfo);
  return { flags, targetName: text(name, !!(flags & NTLM_FLAG.UNICODE), 'TargetName'), serverChallenge, targetInfo };
}

/** Encodes a CHALLENGE_MESSAGE with a Version field (56-byte fixed part). */
export function encodeChallengeMessage(c: ChallengeMessage): Buffer {
  const name = c.flags & NTLM_FLAG.UNICODE ? Buffer.from(c.targetName, 'utf16le') : Buffer.from(c.targetName, 'latin1');
  const w = new Writer().bytes(NTLMSSP_SIGNATURE).u32(MESSAGE_TYPE.CHALLENGE);
  const p = new Payload(56);
  p.field(w, name);
  w.u32(c.flags).bytes(c.serverChallenge).zeros(8);
  p.field(w, c.targetInfo);
  w.bytes(VERSION);
  return p.finish(w);
}

/** Flags a server echoes when the client asks for them (MS-NLMP 3.2.5.1.1). */
const ECHOED = NTLM_FLAG.UNICODE | NTLM_FLAG.SIGN | NTLM_FLAG.SEAL | NTLM_FLAG.ALWAYS_SIGN | NTLM_FLAG.EXTENDED_SESSIONSECURITY
  | NTLM_FLAG.NEGOTIATE_128 | NTLM_FLAG.KEY_EXCH | NTLM_FLAG.NEGOTIATE_56 | NTLM_FLAG.VERSION;

export interface ServerIdentity {
  /** NetBIOS domain (or workgroup) name, e.g. "WORKGROUP". */
  nbDomain: string;
  /** NetBIOS computer name, e.g. "DW". */
  nbComputer: string;
  /** DNS computer name, e.g. "dw.example.org". */
  dnsComputer: string;
  /** DNS domain name; defaults to the DNS computer name's domain part. */
  dnsDomain?: string;
}

/**
 * The server's CHALLENGE for a client's NEGOTIATE (MS-NLMP 3.2.5.1.1): flags the client asked
 * for that we support, plus NTLM, TARGET_INFO, REQUEST_TARGET and TARGET_TYPE_SERVER; target
 * info with MsvAvNbDomainName, MsvAvNbComputerName, MsvAvDnsComputerName, MsvAvDnsDomainName
 * and MsvAvTimestamp (a FILETIME, `now` in ms since the epoch). Throws NtlmError when the client
 * does not offer UNICODE (OEM-only clients are not served).
 */
export function buildChallenge(negotiate: NegotiateMessage, id: ServerIdentity, serverChallenge: Buffer = randomBytes(8), now = Date.now()): { message: Buffer; challenge: ChallengeMessage } {
  if (!(negotiate.flags & NTLM_FLAG.UNICODE)) throw new NtlmError('client does not offer UNICODE');
  const flags = ((negotiate.flags & ECHOED) | NTLM_FLAG.NTLM | NTLM_FLAG.TARGET_INFO | NTLM_FLAG.REQUEST_TARGET | NTLM_FLAG.TARGET_TYPE_SERVER) >>> 0;
  const u = (s: string): Buffer => Buffer.from(s, 'utf16le');
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64LE(unixMsToFiletime(now));
  const targetInfo = encodeAvPairs([
    { id: AV.NB_DOMAIN_NAME, value: u(id.nbDomain) },
    { id: AV.NB_COMPUTER_NAME, value: u(id.nbComputer) },
    { id: AV.DNS_DOMAIN_NAME, value: u(id.dnsDomain ?? (id.dnsComputer.split('.').slice(1).join('.') || id.dnsComputer)) },
    { id: AV.DNS_COMPUTER_NAME, value: u(id.dnsComputer) },
    { id: AV.TIMESTAMP, value: ts },
  ]);
  const challenge: ChallengeMessage = { flags, targetName: id.nbComputer, serverChallenge, targetInfo };
  return { message: encodeChallengeMessage(challenge), challenge };
}

/** FILETIME (100 ns ticks since 1601-01-01) of a Unix time in milliseconds. */
export function unixMsToFiletime(ms: number): bigint {
  return (BigInt(Math.floor(ms)) + 11644473600000n) * 10000n;
}

export interface AuthenticateMessage {
  flags: number;
  lmResponse: Buffer;
  ntResponse: Buffer;
  domain: string;
  user: string;
  workstation: string;
  encryptedRandomSessionKey: Buffer;
  /** The 16-byte MIC when the message has room for one (payload starts at or after offset 88). */
  mic?: Buffer;
}

/** Offset of the MIC field in an AUTHENTICATE_MESSAGE (after the Version field). */
const MIC_OFFSET = 72;

/**
 * Decodes an AUTHENTICATE_MESSAGE (2.2.1.3). The MIC is returned when every payload field starts
 * at or after offset 88, i.e. the fixed part has Version and MIC. Throws NtlmError on any
 * field outside the message or bad UTF-16.
 */
export function decodeAuthenticateMessage(msg: Buffer): AuthenticateMessage {
  const r = header(msg, MESSAGE_TYPE.AUTHENTICATE);
  const offsets: number[] = [];
  const f = (max: number, what: string): Buffer => {
    const b = field(r, msg, max, what, 64);
    if (b.length) offsets.push(b.byteOffset - msg.byteOffset);
    return b;
  };
  const lmResponse = f(64, 'LmChallengeResponse'), ntResponse = f(MAX_NT_RESPONSE, 'NtChallengeResponse');
  const domain = f(MAX_FIELD, 'DomainName'), user = f(MAX_FIELD, 'UserName'), workstation = f(MAX_FIELD, 'Workstation');
  const encryptedRandomSessionKey = f(16, 'EncryptedRandomSessionKey');
  const flags = r.u32('NegotiateFlags');
  const payloadStart = offsets.length ? Math.min(...offsets) : msg.length;
  const mic = payloadStart >= MIC_OFFSET + 16 && msg.length >= MIC_OFFSET + 16 ? msg.subarray(MIC_OFFSET, MIC_OFFSET + 16) : undefined;
  const uni = !!(flags & NTLM_FLAG.UNICODE);
  return {
    flags, lmResponse, ntResponse, encryptedRandomSessionKey, ...(mic ? { mic } : {}),
    domain: text(domain, uni, 'DomainName'), user: text(user, uni, 'UserName'), workstation: text(workstation, uni, 'Workstation'),
  };
}

/** Encodes an AUTHENTICATE_MESSAGE with Version and a MIC field (client side; tests). UNICODE strings. */
export function encodeAuthenticateMessage(a: AuthenticateMessage): Buffer {
  const w = new Writer().bytes(NTLMSSP_SIGNATURE).u32(MESSAGE_TYPE.AUTHENTICATE);
  const p = new Payload(88);
  for (const b of [a.lmResponse, a.ntResponse, Buffer.from(a.domain, 'utf16le'), Buffer.from(a.user, 'utf16le'), Buffer.from(a.workstation, 'utf16le'), a.encryptedRandomSessionKey]) p.field(w, b);
  w.u32(a.flags).bytes(VERSION).bytes(a.mic ?? Buffer.alloc(16));
  return p.finish(w);
}

const hmacMd5 = (key: Uint8Array, ...data: Uint8Array[]): Buffer => {
  const h = createHmac('md5', key);
  for (const d of data) h.update(d);
  return h.digest();
};

/** NT hash (NTOWFv1, MS-NLMP 3.3.1): MD4 of the UTF-16LE password. 16 bytes. */
export function ntHash(password: string): Buffer {
  return md4(Buffer.from(password, 'utf16le'));
}

/** NTOWFv2 (3.3.2): HMAC-MD5 keyed by the NT hash over UTF-16LE(UPPER(user) + domain). 16 bytes. */
export function ntowfv2(nt: Buffer, user: string, domain: string): Buffer {
  return hmacMd5(nt, Buffer.from(user.toUpperCase() + domain, 'utf16le'));
}

/**
 * The client's NTLMv2 computation (3.3.2), for tests and a future client: temp =
 * 0x01 0x01 Z(6) time(8) clientChallenge(8) Z(4) targetInfo Z(4), NTProofStr = HMAC-MD5(key,
 * serverChallenge || temp), the NtChallengeResponse NTProofStr || temp, and SessionBaseKey.
 */
export function ntlmv2Response(responseKeyNT: Buffer, serverChallenge: Buffer, clientChallenge: Buffer, time: Buffer, targetInfo: Buffer) {
  const temp = Buffer.concat([Buffer.from([1, 1]), Buffer.alloc(6), time, clientChallenge, Buffer.alloc(4), targetInfo, Buffer.alloc(4)]);
  const ntProofStr = hmacMd5(responseKeyNT, serverChallenge, temp);
  return { ntResponse: Buffer.concat([ntProofStr, temp]), ntProofStr, sessionBaseKey: hmacMd5(responseKeyNT, ntProofStr) };
}

/** LMv2 response (3.3.2): HMAC-MD5(key, serverChallenge || clientChallenge) || clientChallenge. */
export function lmv2Response(responseKeyLM: Buffer, serverChallenge: Buffer, clientChallenge: Buffer): Buffer {
  return Buffer.concat([hmacMd5(responseKeyLM, serverChallenge, clientChallenge), clientChallenge]);
}

/** MIC of the three messages (3.1.5.1.2): HMAC-MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE || AUTHENTICATE with MIC zeroed). */
export function computeMic(exportedSessionKey: Buffer, negotiate: Buffer, challenge: Buffer, authenticate: Buffer): Buffer {
  const a = Buffer.from(authenticate);
  a.fill(0, MIC_OFFSET, MIC_OFFSET + 16);
  return hmacMd5(exportedSessionKey, negotiate, challenge, a);
}

export type NtlmVerdict =
  | { ok: true; anonymous: true; user: ''; domain: string; workstation: string; sessionKey: Buffer }
  | { ok: true; anonymous: false; user: string; domain: string; workstation: string; sessionKey: Buffer; flags: number }
  | { ok: false; reason: 'malformed' | 'ntlmv1' | 'no-such-user' | 'bad-response' | 'bad-mic'; user?: string; domain?: string };

/** The three raw messages of one exchange and the way to find a user's NT hash. */
export interface VerifyInput {
  negotiate: Buffer;
  challenge: Buffer;
  authenticate: Buffer;
  /** The NT hash (16 bytes) of `user` (matched case-insensitively by the caller), or undefined. */
  lookup: (user: string, domain: string) => Buffer | undefined;
}

/**
 * The server side of NTLMv2 (MS-NLMP 3.2.5.1.2, 3.3.2). Anonymous (empty user, empty NT
 * response, LM response empty or Z(1)) is reported as such (the caller decides; SMB2 marks the
 * session IS_NULL). Otherwise the NT response must be NTLMv2 (NTLMv1's 24 bytes are refused),
 * NTProofStr must match HMAC-MD5(NTOWFv2, ServerChallenge || temp) for the domain as sent (or
 * for an empty domain, which some clients use), and when the client's MsvAvFlags says a MIC is
 * present the MIC must match. The session key is the ExportedSessionKey (RC4-decrypted from
 * EncryptedRandomSessionKey when KEY_EXCH is negotiated). All comparisons are constant-time.
 * Never throws: malformed input is `{ ok: false, reason: 'malformed' }`.
 */
export function verifyAuthenticate(input: VerifyInput): NtlmVerdict {
  let a: AuthenticateMessage, serverChallenge: Buffer;
  try {
    a = decodeAuthenticateMessage(input.authenticate);
    serverChallenge = decodeChallengeMessage(input.challenge).serverChallenge;
  } catch (err) {
    if (err instanceof WireError) return { ok: false, reason: 'malformed' };
    throw err;
  }
  const id = { user: a.user, domain: a.domain };
  if (a.user === '' && a.ntResponse.length === 0 && (a.lmResponse.length === 0 || (a.lmResponse.length === 1 && a.lmResponse[0] === 0))) {
    return { ok: true, anonymous: true, user: '', domain: a.domain, workstation: a.workstation, sessionKey: Buffer.alloc(16) };
  }
  if (a.ntResponse.length === 24) return { ok: false, reason: 'ntlmv1', ...id };
  // NTProofStr(16) + RespType, HiRespType, Reserved(6), TimeStamp(8), ChallengeFromClient(8), Reserved(4) + at least MsvAvEOL.
  if (a.ntResponse.length < 16 + 28 + 4) return { ok: false, reason: 'malformed', ...id };
  const proof = a.ntResponse.subarray(0, 16), temp = a.ntResponse.subarray(16);
  if (temp[0] !== 1 || temp[1] !== 1) return { ok: false, reason: 'malformed', ...id };
  let avPairs: AvPair[];
  try {
    avPairs = decodeAvPairs(temp.subarray(28));
  } catch {
    return { ok: false, reason: 'malformed', ...id };
  }
  const nt = input.lookup(a.user, a.domain);
  if (!nt) return { ok: false, reason: 'no-such-user', ...id };
  let responseKey: Buffer | undefined;
  for (const dom of a.domain === '' ? [''] : [a.domain, '']) {
    const key = ntowfv2(nt, a.user, dom);
    if (timingSafeEqual(hmacMd5(key, serverChallenge, temp), proof)) {
      responseKey = key;
      break;
    }
  }
  if (!responseKey) return { ok: false, reason: 'bad-response', ...id };
  const keyExchangeKey = hmacMd5(responseKey, proof); // SessionBaseKey = KeyExchangeKey for NTLMv2 (3.4.5.1)
  let sessionKey = keyExchangeKey;
  if (a.flags & NTLM_FLAG.KEY_EXCH && (a.flags & (NTLM_FLAG.SIGN | NTLM_FLAG.SEAL))) {
    if (a.encryptedRandomSessionKey.length !== 16) return { ok: false, reason: 'malformed', ...id };
    sessionKey = rc4(keyExchangeKey, a.encryptedRandomSessionKey);
  }
  const avFlags = avPairs.find((p) => p.id === AV.FLAGS);
  const micPresent = avFlags !== undefined && avFlags.value.length === 4 && (avFlags.value.readUInt32LE(0) & AV_FLAG_MIC_PRESENT) !== 0;
  if (micPresent) {
    if (!a.mic) return { ok: false, reason: 'bad-mic', ...id };
    if (!timingSafeEqual(computeMic(sessionKey, input.negotiate, input.challenge, input.authenticate), a.mic)) return { ok: false, reason: 'bad-mic', ...id };
  }
  return { ok: true, anonymous: false, user: a.user, domain: a.domain, workstation: a.workstation, sessionKey, flags: a.flags };
}

const MAGIC = {
  clientSign: 'session key to client-to-server signing key magic constant\0',
  serverSign: 'session key to server-to-client signing key magic constant\0',
  clientSeal: 'session key to client-to-server sealing key magic constant\0',
  serverSeal: 'session key to server-to-client sealing key magic constant\0',
};

/** SIGNKEY (3.4.5.2) with extended session security: MD5(ExportedSessionKey || magic). */
export function signKey(exportedSessionKey: Buffer, from: 'client' | 'server'): Buffer {
  return createHash('md5').update(exportedSessionKey).update(MAGIC[from === 'client' ? 'clientSign' : 'serverSign'], 'latin1').digest();
}

/** SEALKEY (3.4.5.3) with extended session security: the key cut to 16/7/5 bytes by NEGOTIATE_128/56, then MD5 with the magic. */
export function sealKey(exportedSessionKey: Buffer, from: 'client' | 'server', flags: number): Buffer {
  const n = flags & NTLM_FLAG.NEGOTIATE_128 ? 16 : flags & NTLM_FLAG.NEGOTIATE_56 ? 7 : 5;
  return createHash('md5').update(exportedSessionKey.subarray(0, n)).update(MAGIC[from === 'client' ? 'clientSeal' : 'serverSeal'], 'latin1').digest();
}

/**
 * A GSS_GetMIC signer for one direction (MS-NLMP 3.4.4.2, extended session security): each
 * signature is Version 1 || RC4(sealing handle, HMAC-MD5(SIGNKEY, SeqNum || message)[0..8]) ||
 * SeqNum when KEY_EXCH was negotiated (the plain checksum otherwise). The RC4 handle and the
 * sequence number carry over between calls. SPNEGO's mechListMIC is the first signature.
 */
export class NtlmMic {
  private readonly sign: Buffer;
  private readonly seal: Rc4 | null;
  private seq = 0;

  constructor(exportedSessionKey: Buffer, from: 'client' | 'server', flags: number) {
    this.sign = signKey(exportedSessionKey, from);
    this.seal = flags & NTLM_FLAG.KEY_EXCH ? new Rc4(sealKey(exportedSessionKey, from, flags)) : null;
  }

  /** The 16-byte signature of `message` under the next sequence number. */
  mic(message: Buffer): Buffer {
    const seq = Buffer.alloc(4);
    seq.writeUInt32LE(this.seq++);
    let checksum = hmacMd5(this.sign, seq, message).subarray(0, 8);
    if (this.seal) checksum = this.seal.update(checksum);
    return Buffer.concat([Buffer.from([1, 0, 0, 0]), checksum, seq]);
  }

  /** True if `sig` is the next signature of `message` (constant-time compare; advances the state either way). */
  verify(message: Buffer, sig: Buffer): boolean {
    const want = this.mic(message);
    return sig.length === 16 && timingSafeEqual(want, sig);
  }
}
