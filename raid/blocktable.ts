import { Errno, VfsError } from '../vfs/errno.js';
import { MAX_SHARDS, MAX_SHARD_BYTES } from './format.js';
import type { LayoutKind } from './layout.js';
import { ByteReader, ByteWriter, DecodeError } from './reader.js';

/**
 * The block table row (value of key 'B' blockId, vfs/meta/keys.ts). Little-endian:
 *
 *   version u8 (1 or 2) | kind u8 (0 rs, 1 copy, 2 stripe) | k u8 | m u8 | flags u8 | alg u8
 *   refs u32 | length u32 (logical bytes) | shardSize u32 (payload bytes per shard)
 *   version 2 only: stored u32 (bytes in the data shards before padding: the compressed and/or
 *                   encrypted length)
 *   then k+m shard places: device u16 | segment u32 | offset u64 | checksum u64 (xxhash64)  (22 bytes)
 *
 * Version 1 (every row before issue 5, and still every row of a plain block): `alg` is 0 (it
 * was "reserved", always written 0) and stored = length. Version 2 is written for a block with
 * any of the flags Compressed (alg 1 lz4 or 2 zstd; 0 when not compressed), Encrypted (the
 * stored bytes are ciphertext: raid/README.md) or Deduped (dedup index rows point into the block,
 * listed under 'k' id, and go with its last reference: raid/dedup.ts): a build that knows none of these
 * refuses such a row as "unknown row version" (EIO) instead of returning stored bytes as data.
 *
 * `offset` is where the shard record (header + payload) starts in the segment file. A place
 * whose segment is ABSENT was never written (degraded write) or was lost: scrub or device
 * replacement writes it later. Shard j always belongs to device `device` (distinct per block).
 */
export interface ShardPlace {
  device: number;
  segment: number;
  offset: number;
  /** xxhash64 of the shard payload. */
  sum: bigint;
}

export interface BlockRow {
  kind: LayoutKind;
  k: number;
  m: number;
  flags: number;
  /** Compression algorithm of the stored bytes (compress.ts Alg): 0 = raw. */
  alg: number;
  refs: number;
  /** Logical bytes of the block (what get() returns). */
  length: number;
  /** Bytes stored in the data shards before padding: the compressed length, or `length` when raw. */
  stored: number;
  shardSize: number;
  shards: ShardPlace[];
}

export const ABSENT = 0xffffffff;
const ROW_RAW = 1;
const ROW_PACKED = 2;
/** BlockFlags (types.ts; a const enum there, repeated here to keep this module's imports small). */
const COMPRESSED = 1;
const ENCRYPTED = 2;
const DEDUPED = 4;
const KINDS: LayoutKind[] = ['rs', 'copy', 'stripe'];
const FIXED = 18;
const PLACE = 22;

/** Whether a row's stored bytes are not the block's bytes as they are (compressed or encrypted): read them through unpack. */
export const isPacked = (row: { flags: number }) => (row.flags & (COMPRESSED | ENCRYPTED)) !== 0;
/** Whether a row is written as version 2 (any of compressed, encrypted, deduped). */
const isV2 = (flags: number) => (flags & (COMPRESSED | ENCRYPTED | DEDUPED)) !== 0;

export function encodeRow(row: BlockRow): Buffer {
  const v2 = isV2(row.flags);
  const b = Buffer.allocUnsafe(FIXED + (v2 ? 4 : 0) + PLACE * row.shards.length);
  const w = new ByteWriter(b)
    .u8(v2 ? ROW_PACKED : ROW_RAW).u8(KINDS.indexOf(row.kind)).u8(row.k).u8(row.m).u8(row.flags).u8(row.flags & COMPRESSED ? row.alg : 0)
    .u32(row.refs).u32(row.length).u32(row.shardSize);
  if (v2) w.u32(row.stored);
  for (const s of row.shards) w.u16(s.device).u32(s.segment).u53(s.offset).u64(s.sum);
  return b;
}

/** Decodes a row; throws DecodeError on anything malformed (bounds-checked, never reads past the end). */
export function decodeRowStrict(buf: Uint8Array): BlockRow {
  const r = new ByteReader(buf);
  const version = r.u8('version');
  if (version !== ROW_RAW && version !== ROW_PACKED) throw new DecodeError(`unknown row version ${version}`);
  const kind = KINDS[r.u8('kind')];
  if (!kind) throw new DecodeError('unknown layout kind');
  const k = r.u8('k'), m = r.u8('m');
  if (k < 1 || k + m > MAX_SHARDS) throw new DecodeError(`bad k/m ${k}/${m}`);
  const flags = r.u8('flags');
  const algByte = r.u8('alg');
  const refs = r.u32('refs');
  const length = r.u32('length');
  const shardSize = r.u32('shard size');
  const v2 = version === ROW_PACKED;
  const stored = v2 ? r.u32('stored') : length;
  const compressed = (flags & COMPRESSED) !== 0;
  const alg = compressed ? algByte : 0;
  if (v2 !== isV2(flags)) throw new DecodeError('flags disagree with the row version');
  if (compressed && (alg < 1 || alg > 2)) throw new DecodeError(`unknown compression algorithm ${alg}`);
  if (!compressed && algByte !== 0) throw new DecodeError('compression algorithm on a block not compressed');
  if (shardSize > MAX_SHARD_BYTES || stored > shardSize * k || (!isPacked({ flags }) && (length > shardSize * k || stored !== length))) throw new DecodeError('bad sizes');
  const shards: ShardPlace[] = [];
  for (let j = 0; j < k + m; j++) {
    shards.push({ device: r.u16('device'), segment: r.u32('segment'), offset: r.u53('offset'), sum: r.u64('checksum') });
  }
  if (r.remaining !== 0) throw new DecodeError('trailing bytes');
  return { kind, k, m, flags, alg, refs, length, stored, shardSize, shards };
}

/** Decodes a row read from the KV; a malformed row is an EIO (metadata corruption). */
export function decodeRow(buf: Uint8Array, id: number): BlockRow {
  try {
    return decodeRowStrict(buf);
  } catch (e) {
    if (e instanceof DecodeError) throw new VfsError(Errno.EIO, `block ${id}: corrupt block row: ${e.message}`);
    throw e;
  }
}
