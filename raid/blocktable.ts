import { Errno, VfsError } from '../vfs/errno.js';
import { MAX_SHARDS, MAX_SHARD_BYTES } from './format.js';
import type { LayoutKind } from './layout.js';
import { ByteReader, ByteWriter, DecodeError } from './reader.js';

/**
 * The block table row (value of key 'B' blockId, vfs/meta/keys.ts). Little-endian:
 *
 *   version u8 (1) | kind u8 (0 rs, 1 copy, 2 stripe) | k u8 | m u8 | flags u8 | reserved u8
 *   refs u32 | length u32 (logical bytes) | shardSize u32 (payload bytes per shard)
 *   then k+m shard places: device u16 | segment u32 | offset u64 | checksum u64 (xxhash64)  (22 bytes)
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
  refs: number;
  length: number;
  shardSize: number;
  shards: ShardPlace[];
}

export const ABSENT = 0xffffffff;
const ROW_VERSION = 1;
const KINDS: LayoutKind[] = ['rs', 'copy', 'stripe'];
const FIXED = 18;
const PLACE = 22;

export function encodeRow(row: BlockRow): Buffer {
  const b = Buffer.allocUnsafe(FIXED + PLACE * row.shards.length);
  const w = new ByteWriter(b)
    .u8(ROW_VERSION).u8(KINDS.indexOf(row.kind)).u8(row.k).u8(row.m).u8(row.flags).u8(0)
    .u32(row.refs).u32(row.length).u32(row.shardSize);
  for (const s of row.shards) w.u16(s.device).u32(s.segment).u53(s.offset).u64(s.sum);
  return b;
}

/** Decodes a row; throws DecodeError on anything malformed (bounds-checked, never reads past the end). */
export function decodeRowStrict(buf: Uint8Array): BlockRow {
  const r = new ByteReader(buf);
  const version = r.u8('version');
  if (version !== ROW_VERSION) throw new DecodeError(`unknown row version ${version}`);
  const kind = KINDS[r.u8('kind')];
  if (!kind) throw new DecodeError('unknown layout kind');
  const k = r.u8('k'), m = r.u8('m');
  if (k < 1 || k + m > MAX_SHARDS) throw new DecodeError(`bad k/m ${k}/${m}`);
  const flags = r.u8('flags');
  r.u8('reserved');
  const refs = r.u32('refs');
  const length = r.u32('length');
  const shardSize = r.u32('shard size');
  if (shardSize > MAX_SHARD_BYTES || length > shardSize * k) throw new DecodeError('bad sizes');
  const shards: ShardPlace[] = [];
  for (let j = 0; j < k + m; j++) {
    shards.push({ device: r.u16('device'), segment: r.u32('segment'), offset: r.u53('offset'), sum: r.u64('checksum') });
  }
  if (r.remaining !== 0) throw new DecodeError('trailing bytes');
  return { kind, k, m, flags, refs, length, shardSize, shards };
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
