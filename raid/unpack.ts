import { Errno, VfsError } from '../vfs/errno.js';
import { decompressBlock } from './compress.js';
import { type BlockKeys, openSealed } from './crypt.js';

/** BlockFlags bits (types.ts), repeated to keep this module's imports to the codec side. */
const COMPRESSED = 1;
const ENCRYPTED = 2;

/**
 * The read path's last step (store.ts load), for a row whose stored bytes are not the block's
 * bytes as they are (blocktable.ts isPacked): decrypt (AES-256-GCM, crypt.ts) when the row is
 * Encrypted, then decompress when it is Compressed. `stored` is the row's `stored` bytes of
 * the data shards and must already have passed the shard checksums. Returns exactly
 * `row.length` bytes, or throws VfsError EIO (a tag failure, a decompression failure, a wrong
 * length): never other bytes as data.
 */
export async function unpackBlock(row: { flags: number; alg: number; length: number }, stored: Uint8Array, id: number, keys: BlockKeys | undefined): Promise<Buffer> {
  let body: Uint8Array = stored;
  if (row.flags & ENCRYPTED) body = openSealed(keys, id, row.flags & COMPRESSED ? row.alg : 0, row.length, stored);
  if (row.flags & COMPRESSED) return decompressBlock(row.alg, body, row.length, id);
  if (body.length !== row.length) throw new VfsError(Errno.EIO, `block ${id}: ${body.length} bytes after decryption, the row says ${row.length}`);
  // Decrypted bytes are a fresh buffer; stored bytes of a row that is neither flag are copied
  // (callers free the job buffer they came from).
  return Buffer.isBuffer(body) && body !== stored ? body : Buffer.from(body);
}
