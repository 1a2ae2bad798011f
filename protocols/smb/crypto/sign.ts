/**
 * SMB2 message signing (MS-SMB2 3.1.4.1, verification 3.1.5.1): HMAC-SHA256 for 2.0.2 / 2.1,
 * AES-128-CMAC (RFC 4493) for 3.x, AES-128-GMAC for 3.1.1 when negotiated (2.2.3.1.7). The
 * signature covers the whole message (one member of a compound, up to its NextCommand) with the
 * 16-byte Signature field zeroed. Verification compares in constant time.
 */
import { createCipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { Command, HDR_FLAGS, SIGNATURE_OFFSET, SMB2_HEADER_SIZE } from '../wire/header.js';
import { DIALECT, SIGNING_ALG } from '../wire/negotiate.js';

const ZERO16 = Buffer.alloc(16);

/** RFC 4493 2.3: doubling in GF(2^128) (shift left one bit, xor 0x87 on carry). */
function dbl(b: Buffer): Buffer {
  const out = Buffer.alloc(16);
  for (let i = 0; i < 15; i++) out[i] = ((b[i]! << 1) | (b[i + 1]! >> 7)) & 0xff;
  out[15] = (b[15]! << 1) & 0xff;
  if (b[0]! & 0x80) out[15] = out[15]! ^ 0x87;
  return out;
}

/**
 * AES-CMAC (RFC 4493) over `data` with a 16-byte key; 16-byte tag. Subkeys from AES-ECB of the
 * zero block; the CBC-MAC runs through one aes-128-cbc pass over the prepared blocks.
 */
export function aesCmac(key: Buffer, ...data: Buffer[]): Buffer {
  if (key.length !== 16) throw new RangeError('AES-128-CMAC key must be 16 bytes');
  const ecb = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
  const L = ecb.update(ZERO16);
  const k1 = dbl(L), k2 = dbl(k1);
  const msg = data.length === 1 ? data[0]! : Buffer.concat(data);
  const n = Math.max(1, Math.ceil(msg.length / 16));
  const complete = msg.length > 0 && msg.length % 16 === 0;
  const last = Buffer.alloc(16);
  const tail = msg.subarray((n - 1) * 16);
  tail.copy(last);
  if (!complete) last[tail.length] = 0x80;
  const k = complete ? k1 : k2;
  for (let i = 0; i < 16; i++) last[i] = last[i]! ^ k[i]!;
  const cbc = createCipheriv('aes-128-cbc', key, ZERO16).setAutoPadding(false);
  let out: Buffer = Buffer.alloc(0);
  if (n > 1) out = cbc.update(msg.subarray(0, (n - 1) * 16));
  out = Buffer.concat([out, cbc.update(last)]);
  return out.subarray(out.length - 16);
}

/**
 * AES-GMAC (GCM with no plaintext) of `aad` under a 16-byte key and 12-byte nonce; the 16-byte tag.
 */
export function aesGmac(key: Buffer, nonce: Buffer, aad: Buffer): Buffer {
  const c = createCipheriv('aes-128-gcm', key, nonce);
  c.setAAD(aad);
  c.final();
  return c.getAuthTag();
}

/**
 * The AES-GMAC nonce of a message (MS-SMB2 3.1.4.1): MessageId (8 bytes LE), then a 32-bit LE
 * field whose bit 0 says the sender is the server (the header's SERVER_TO_REDIR flag) and bit 1
 * that the message is a CANCEL request.
 */
export function gmacNonce(message: Buffer): Buffer {
  const n = Buffer.alloc(12);
  message.copy(n, 0, 24, 32);
  const flags = message.readUInt32LE(16), command = message.readUInt16LE(12);
  n.writeUInt32LE((flags & HDR_FLAGS.SERVER_TO_REDIR ? 1 : 0) | (command === Command.CANCEL && !(flags & HDR_FLAGS.SERVER_TO_REDIR) ? 2 : 0), 8);
  return n;
}

/** The signing algorithm a session uses: HMAC-SHA256 below 3.0, AES-CMAC from 3.0, or the 3.1.1 negotiated one. */
export function signingAlgorithmFor(dialect: number, negotiated?: number): number {
  if (dialect < DIALECT.SMB300) return SIGNING_ALG.HMAC_SHA256;
  if (dialect === DIALECT.SMB311 && negotiated !== undefined) return negotiated;
  return SIGNING_ALG.AES_CMAC;
}

/**
 * The 16-byte signature of one SMB2 message (header included) under `key`, computed with the
 * Signature field taken as zero (the input is not modified). Throws RangeError on a message
 * shorter than the header, an unknown algorithm, or a key of the wrong size.
 */
export function computeSignature(message: Buffer, algorithm: number, key: Buffer): Buffer {
  if (message.length < SMB2_HEADER_SIZE) throw new RangeError('message shorter than an SMB2 header');
  const m = Buffer.from(message);
  m.fill(0, SIGNATURE_OFFSET, SIGNATURE_OFFSET + 16);
  switch (algorithm) {
    case SIGNING_ALG.HMAC_SHA256:
      return createHmac('sha256', key).update(m).digest().subarray(0, 16);
    case SIGNING_ALG.AES_CMAC:
      return aesCmac(key, m);
    case SIGNING_ALG.AES_GMAC:
      if (key.length !== 16) throw new RangeError('AES-128-GMAC key must be 16 bytes');
      return aesGmac(key, gmacNonce(m), m);
    default:
      throw new RangeError(`unknown signing algorithm ${algorithm}`);
  }
}

/** Signs in place: sets SMB2_FLAGS_SIGNED and writes the signature. Returns `message`. */
export function signMessage(message: Buffer, algorithm: number, key: Buffer): Buffer {
  message.writeUInt32LE((message.readUInt32LE(16) | HDR_FLAGS.SIGNED) >>> 0, 16);
  computeSignature(message, algorithm, key).copy(message, SIGNATURE_OFFSET);
  return message;
}

/** True if the message's Signature field is its signature under `key` (constant-time compare). */
export function verifySignature(message: Buffer, algorithm: number, key: Buffer): boolean {
  if (message.length < SMB2_HEADER_SIZE) return false;
  return timingSafeEqual(computeSignature(message, algorithm, key), message.subarray(SIGNATURE_OFFSET, SIGNATURE_OFFSET + 16));
}
