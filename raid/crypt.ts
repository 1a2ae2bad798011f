import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Errno, VfsError } from '../vfs/errno.js';

/**
 * Block encryption at rest (issue 5): AES-256-GCM per block, after compression and before
 * parity, so the shards, their checksums and parity all cover ciphertext. Used by the codec
 * (codec-core.ts packJob: in a piscina worker for big blocks) to seal, and by the read path
 * (unpack.ts) to open, once the shard checksums have passed.
 *
 * Stored bytes of an encrypted block (what the data shards hold before padding; the row's
 * `stored` = plaintext bytes + CRYPT_OVERHEAD):
 *
 *   off  size  field
 *     0     4  data key id (u32 LE): which of the pool's data keys sealed it (keys.ts; 1 at creation,
 *              the next after each `dw key reencrypt`, raid/reencrypt.ts)
 *     4    12  nonce (random, 96 bits, fresh per block)
 *    16     n  ciphertext of the block's bytes after compression (n = stored − 32)
 *  16+n    16  GCM tag
 *
 * The GCM additional data (not stored; rebuilt from the row on read) binds the ciphertext to
 * its block and to the row fields that say how to read it, so a shard moved between blocks, a
 * row whose length or algorithm was altered, or a record sealed under another key id fails the
 * tag (EIO), never yielding wrong data:
 *
 *   'DWEB' | version u8 (1) | compression alg u8 | 0 u16 | key id u32 | block id u64 | logical length u32   (24 bytes)
 *
 * Random 96-bit nonces: NIST SP 800-38D bounds one key at 2^32 invocations, i.e. 4 PiB of 1 MiB
 * blocks per data key before `dw key reencrypt` should move the pool to a new one.
 */

export const KEY_ID_BYTES = 4;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
/** Stored bytes an encrypted block carries beyond its (compressed) bytes: key id + nonce + tag. */
export const CRYPT_OVERHEAD = KEY_ID_BYTES + NONCE_BYTES + TAG_BYTES;
/** AES-256 key bytes (data keys and master keys). */
export const KEY_BYTES = 32;
const AAD_MAGIC = 0x42455744; // 'D' 'W' 'E' 'B'
const AAD_VERSION = 1;
const CIPHER = 'aes-256-gcm';

/** What the codec needs to seal one block (plain data: it crosses to a piscina worker). */
export interface SealSpec {
  /** The data key, 32 bytes. */
  key: Uint8Array;
  /** Its id in the pool's key record (written at offset 0 of the stored bytes). */
  keyId: number;
  /** The block's id (bound through the additional data). */
  blockId: number;
}

/** The data keys a store reads with: by id (`key`), and the one new blocks are sealed with. */
export interface BlockKeys {
  /** Id of the data key new blocks use. */
  readonly current: number;
  /** The 32-byte data key with this id, or undefined if the pool has none. */
  key(id: number): Buffer | undefined;
}

/** The 24 bytes of additional data of a block (see the header comment). */
export function blockAad(blockId: number, keyId: number, alg: number, length: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(AAD_MAGIC, 0);
  b[4] = AAD_VERSION;
  b[5] = alg & 0xff;
  b.writeUInt32LE(keyId >>> 0, 8);
  b.writeUInt32LE(blockId % 0x100000000, 12);
  b.writeUInt32LE(Math.floor(blockId / 0x100000000), 16);
  b.writeUInt32LE(length >>> 0, 20);
  return b;
}

/**
 * Seals `body` (the block's bytes after compression with `alg`, 0 = none; `length` = the
 * block's logical bytes) into `out` from offset 0 as key id ‖ nonce ‖ ciphertext ‖ tag and
 * returns the stored length (body.length + CRYPT_OVERHEAD). `body` may be a view of `out`: it
 * is read whole before `out` is written. Throws RangeError if `out` is too small.
 */
export function sealInto(spec: SealSpec, alg: number, length: number, body: Uint8Array, out: Uint8Array): number {
  const stored = body.length + CRYPT_OVERHEAD;
  if (out.length < stored) throw new RangeError(`seal: ${stored} bytes do not fit in ${out.length}`);
  if (spec.key.length !== KEY_BYTES) throw new RangeError('seal: the data key must be 32 bytes');
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv(CIPHER, spec.key, nonce, { authTagLength: TAG_BYTES });
  c.setAAD(blockAad(spec.blockId, spec.keyId, alg, length));
  const ct = c.update(body); // a new buffer: body (possibly inside out) is consumed here
  const fin = c.final(); // empty for GCM
  const o = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  o.writeUInt32LE(spec.keyId >>> 0, 0);
  nonce.copy(o, KEY_ID_BYTES);
  ct.copy(o, KEY_ID_BYTES + NONCE_BYTES);
  fin.copy(o, KEY_ID_BYTES + NONCE_BYTES + ct.length);
  c.getAuthTag().copy(o, stored - TAG_BYTES);
  return stored;
}

/**
 * Opens the stored bytes of encrypted block `blockId` (row fields `alg`, `length`) with the
 * pool's keys: returns the block's bytes before decompression (stored − 32 bytes). Throws
 * VfsError EIO when the pool has no keys, the stored bytes are too short, the key id is unknown,
 * or the tag does not verify (the bytes or their row were altered, or the wrong data key):
 * nothing decrypted is returned then.
 */
export function openSealed(keys: BlockKeys | undefined, blockId: number, alg: number, length: number, stored: Uint8Array): Buffer {
  if (!keys) throw new VfsError(Errno.EIO, `block ${blockId} is encrypted, but the pool was opened without its keys`);
  if (stored.length < CRYPT_OVERHEAD) throw new VfsError(Errno.EIO, `block ${blockId}: encrypted block of ${stored.length} bytes is shorter than its ${CRYPT_OVERHEAD}-byte envelope`);
  const s = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  const keyId = s.readUInt32LE(0);
  const key = keys.key(keyId);
  if (!key) throw new VfsError(Errno.EIO, `block ${blockId} was sealed with data key ${keyId}, which this pool does not have`);
  const d = createDecipheriv(CIPHER, key, s.subarray(KEY_ID_BYTES, KEY_ID_BYTES + NONCE_BYTES), { authTagLength: TAG_BYTES });
  d.setAAD(blockAad(blockId, keyId, alg, length));
  d.setAuthTag(s.subarray(s.length - TAG_BYTES));
  const pt = d.update(s.subarray(KEY_ID_BYTES + NONCE_BYTES, s.length - TAG_BYTES));
  try {
    d.final();
  } catch {
    pt.fill(0);
    throw new VfsError(Errno.EIO, `block ${blockId}: decryption failed (AES-GCM tag mismatch): its stored bytes or its row were altered, or it was sealed with another key`);
  }
  return pt;
}
