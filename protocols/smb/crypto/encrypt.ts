/**
 * SMB 3.x encryption (MS-SMB2 3.1.4.3, decryption 3.3.5.2.1.1): the SMB2 TRANSFORM_HEADER
 * (2.2.41: ProtocolId 0xFD 'SMB', Signature 16, Nonce 16, OriginalMessageSize 4, Reserved 2,
 * Flags/EncryptionAlgorithm 2, SessionId 8 = 52 bytes) around an AES-CCM (11-byte nonce) or
 * AES-GCM (12-byte nonce) sealed message; 128- or 256-bit keys by cipher id. The AAD is the
 * transform header from Nonce on (32 bytes); the 16-byte tag is the Signature.
 */
import { createCipheriv, createDecipheriv, randomBytes, type CipherCCM, type CipherCCMTypes, type CipherGCM, type CipherGCMTypes } from 'node:crypto';
import { SMB2_TRANSFORM_ID } from '../wire/header.js';
import { nativeGcmOpen } from './native.js';
import { CIPHER } from '../wire/negotiate.js';
import { Reader, WireError, Writer } from '../wire/reader.js';

export const TRANSFORM_HEADER_SIZE = 52;
/** Flags / EncryptionAlgorithm value for an encrypted message (3.0: "SMB2_ENCRYPTION_AES128_CCM", 3.1.1: "Encrypted"). */
export const TRANSFORM_FLAG_ENCRYPTED = 0x0001;
/** Refuse to decrypt anything larger (a little above 8 MiB MaxTransact/Read/Write plus headers). */
export const MAX_ENCRYPTED_MESSAGE = 16 * 1024 * 1024;

/** Authentication failed (wrong key, tampering) or the message does not fit the session. */
export class DecryptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecryptError';
  }
}

export interface TransformHeader {
  signature: Buffer;
  /** 16 bytes; the first 11 (CCM) or 12 (GCM) are the cipher's nonce, the rest zero. */
  nonce: Buffer;
  originalMessageSize: number;
  flags: number;
  sessionId: bigint;
}

/** Decodes a transform header and returns it with the ciphertext after it. Throws WireError when malformed. */
export function decodeTransform(buf: Buffer): { header: TransformHeader; ciphertext: Buffer } {
  const r = new Reader(buf);
  if (r.u32('ProtocolId') !== SMB2_TRANSFORM_ID) throw new WireError('not an SMB2 TRANSFORM_HEADER');
  const signature = r.bytes(16, 16, 'Signature'), nonce = r.bytes(16, 16, 'Nonce');
  const originalMessageSize = r.u32('OriginalMessageSize');
  r.skip(2, 'Reserved');
  const flags = r.u16('Flags'), sessionId = r.u64('SessionId');
  if (originalMessageSize > MAX_ENCRYPTED_MESSAGE) throw new WireError(`encrypted message of ${originalMessageSize} bytes`);
  if (r.remaining() !== originalMessageSize) throw new WireError(`OriginalMessageSize ${originalMessageSize} but ${r.remaining()} bytes follow`);
  return { header: { signature, nonce, originalMessageSize, flags, sessionId }, ciphertext: r.bytes(r.remaining(), MAX_ENCRYPTED_MESSAGE, 'ciphertext') };
}

function encodeTransformHeader(h: TransformHeader): Buffer {
  return new Writer(TRANSFORM_HEADER_SIZE).u32(SMB2_TRANSFORM_ID).bytes(h.signature).bytes(h.nonce).u32(h.originalMessageSize)
    .u16(0).u16(h.flags).u64(h.sessionId).finish();
}

/** Nonce length and key length of a cipher id (2.2.3.1.2). Throws RangeError on an unknown id. */
export function cipherParams(cipher: number): { algorithm: 'aes-128-ccm' | 'aes-128-gcm' | 'aes-256-ccm' | 'aes-256-gcm'; nonceLength: 11 | 12; keyLength: 16 | 32 } {
  switch (cipher) {
    case CIPHER.AES_128_CCM: return { algorithm: 'aes-128-ccm', nonceLength: 11, keyLength: 16 };
    case CIPHER.AES_128_GCM: return { algorithm: 'aes-128-gcm', nonceLength: 12, keyLength: 16 };
    case CIPHER.AES_256_CCM: return { algorithm: 'aes-256-ccm', nonceLength: 11, keyLength: 32 };
    case CIPHER.AES_256_GCM: return { algorithm: 'aes-256-gcm', nonceLength: 12, keyLength: 32 };
    default: throw new RangeError(`unknown cipher ${cipher}`);
  }
}

/**
 * Unique nonces for one key: a random prefix fixed at creation and a 64-bit counter, so no nonce
 * repeats under the key (a repeated GCM nonce would leak the authentication key). Throws when
 * the counter would wrap.
 */
export class NonceSequence {
  private n = 0n;
  private readonly salt: Buffer;

  constructor(private readonly nonceLength: 11 | 12) {
    this.salt = randomBytes(nonceLength - 8);
  }

  next(): Buffer {
    if (this.n === 0xffffffffffffffffn) throw new RangeError('nonce space exhausted: re-key the session');
    const out = Buffer.alloc(this.nonceLength);
    out.writeBigUInt64LE(this.n++);
    this.salt.copy(out, 8);
    return out;
  }
}

/**
 * Encrypts one SMB2 message (or compound) for `sessionId` (MS-SMB2 3.1.4.3). `nonce` is the
 * cipher's 11- or 12-byte nonce and must never repeat under `key` (use NonceSequence). Returns
 * the transform header followed by the ciphertext, as one buffer. Throws RangeError on a wrong
 * key or nonce size.
 */
export function encryptMessage(message: Buffer, o: SealOptions): Buffer {
  return Buffer.concat(sealMessage(message, o));
}

/** Cipher, key, session and nonce of one encrypted message (see encryptMessage). */
export interface SealOptions {
  cipher: number;
  key: Buffer;
  sessionId: bigint;
  nonce: Buffer;
}

/**
 * encryptMessage without the join: the transform header (52 bytes) and the ciphertext as the
 * cipher made it, to be written one after the other in one frame. A large READ's ciphertext is
 * then not copied again into a fresh buffer of its size. Same errors as encryptMessage.
 */
export function sealMessage(message: Buffer, o: SealOptions): Buffer[] {
  const { hdr, aad } = transformFor(message.length, o);
  const c = cipherFor(o.cipher, o.key, o.nonce, aad, message.length);
  const ct = c.update(message);
  const tail = c.final(); // empty for CCM and GCM
  c.getAuthTag().copy(hdr, 4);
  return tail.length ? [hdr, ct, tail] : [hdr, ct];
}

/**
 * The transform header for a message of `length` bytes, its Signature (the tag) still zero, and
 * the AAD (the header from Nonce on: a view of it). Throws RangeError on a wrong key or nonce
 * size or a message above MAX_ENCRYPTED_MESSAGE.
 */
export function transformFor(length: number, o: SealOptions): { hdr: Buffer; aad: Buffer } {
  const p = cipherParams(o.cipher);
  if (o.key.length !== p.keyLength) throw new RangeError(`${p.algorithm} key must be ${p.keyLength} bytes`);
  if (o.nonce.length !== p.nonceLength) throw new RangeError(`${p.algorithm} nonce must be ${p.nonceLength} bytes`);
  if (length > MAX_ENCRYPTED_MESSAGE) throw new RangeError('message too large to encrypt');
  const nonce16 = Buffer.alloc(16);
  o.nonce.copy(nonce16);
  const hdr = encodeTransformHeader({ signature: Buffer.alloc(16), nonce: nonce16, originalMessageSize: length, flags: TRANSFORM_FLAG_ENCRYPTED, sessionId: o.sessionId });
  return { hdr, aad: hdr.subarray(20) };
}

function cipherFor(cipher: number, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, length: number): CipherCCM | CipherGCM {
  const p = cipherParams(cipher);
  if (p.nonceLength === 11) {
    const ccm = createCipheriv(p.algorithm as CipherCCMTypes, key, nonce, { authTagLength: 16 });
    ccm.setAAD(aad, { plaintextLength: length });
    return ccm;
  }
  const gcm = createCipheriv(p.algorithm as CipherGCMTypes, key, nonce);
  gcm.setAAD(aad);
  return gcm;
}

/**
 * GCM encrypts in place this many bytes at a time. The cipher writes each piece's output into a
 * fresh buffer: at 32 KiB malloc hands back the same warm memory every time (3.1–3.8 GB/s here),
 * where pieces of 256 KiB–1 MiB are mapped and unmapped anew each time (1.2–1.5 GB/s).
 */
const IN_PLACE_PIECE = 32 << 10;

/**
 * Encrypts `view` in place (each piece's ciphertext copied over its plaintext) with the AAD of a
 * transform header from transformFor, and returns the 16-byte tag. CCM takes the whole message in
 * one update (Node allows no more). Used by the seal worker on shared memory (seal-pool.ts).
 */
export function sealInPlace(view: Buffer, cipher: number, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array): Buffer {
  const c = cipherFor(cipher, key, nonce, aad, view.length);
  const step = cipherParams(cipher).nonceLength === 11 ? Math.max(1, view.length) : IN_PLACE_PIECE;
  for (let at = 0; at < view.length; at += step) {
    const piece = view.subarray(at, at + step);
    c.update(piece).copy(piece);
  }
  c.final(); // empty for CCM and GCM
  return c.getAuthTag();
}

/**
 * Decrypts a transformed message (MS-SMB2 3.3.5.2.1.1). `keyFor` maps the header's SessionId to
 * the session's decryption key and cipher, or undefined for an unknown session. Throws WireError
 * on a malformed header, DecryptError on an unknown session, Flags ≠ Encrypted, or a failed tag
 * check (wrong key, any bit of header or ciphertext changed). Returns the SMB2 message.
 *
 * GCM decrypts in place (`inPlace`: the message is a view of `buf`, whose ciphertext is
 * overwritten — garbage when the tag check then fails): through our addon in one call where it is
 * built (native.ts), else IN_PLACE_PIECE bytes at a time with Node's cipher, instead of one update
 * writing a whole WRITE's plaintext (smbclient sends 8 MiB) into a new buffer. CCM, which Node
 * takes in one update only, returns a new buffer.
 */
export function decryptMessage(buf: Buffer, keyFor: (sessionId: bigint) => { cipher: number; key: Buffer } | undefined): { sessionId: bigint; message: Buffer; inPlace: boolean } {
  const { header: h, ciphertext } = decodeTransform(buf);
  if (h.flags !== TRANSFORM_FLAG_ENCRYPTED) throw new DecryptError(`transform Flags 0x${h.flags.toString(16)}`);
  const s = keyFor(h.sessionId);
  if (!s) throw new DecryptError('encrypted message for an unknown session');
  const p = cipherParams(s.cipher);
  if (s.key.length !== p.keyLength) throw new RangeError(`${p.algorithm} key must be ${p.keyLength} bytes`);
  if (h.nonce.subarray(p.nonceLength).some((b) => b !== 0)) throw new DecryptError('nonce padding is not zero');
  const nonce = h.nonce.subarray(0, p.nonceLength);
  const aad = buf.subarray(20, TRANSFORM_HEADER_SIZE);
  try {
    if (p.nonceLength === 11) {
      const ccm = createDecipheriv(p.algorithm as CipherCCMTypes, s.key, nonce, { authTagLength: 16 });
      ccm.setAuthTag(h.signature);
      ccm.setAAD(aad, { plaintextLength: ciphertext.length });
      const body = ccm.update(ciphertext);
      const tail = ccm.final(); // empty for CCM: no second copy of a large message
      return { sessionId: h.sessionId, message: tail.length ? Buffer.concat([body, tail]) : body, inPlace: false };
    }
    const open = nativeGcmOpen();
    if (open) {
      if (!open(s.key, nonce, aad, ciphertext, h.signature)) throw new DecryptError('tag mismatch');
      return { sessionId: h.sessionId, message: ciphertext, inPlace: true };
    }
    const gcm = createDecipheriv(p.algorithm as CipherGCMTypes, s.key, nonce);
    gcm.setAuthTag(h.signature);
    gcm.setAAD(aad);
    for (let at = 0; at < ciphertext.length; at += IN_PLACE_PIECE) {
      const piece = ciphertext.subarray(at, at + IN_PLACE_PIECE);
      gcm.update(piece).copy(piece);
    }
    gcm.final(); // the tag check; nothing more to write for GCM
    return { sessionId: h.sessionId, message: ciphertext, inPlace: true };
  } catch {
    throw new DecryptError('decryption failed: bad key or tampered message');
  }
}
