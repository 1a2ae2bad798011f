import { crc32c } from '@node-rs/crc32';
import { xxh64 } from '@node-rs/xxhash';
import { ByteReader, ByteWriter, DecodeError } from './reader.js';

/**
 * On-disk format of segment files (see raid/README.md).
 *
 * A segment file starts with a 64-byte segment header, then shard records appended back to
 * back. A shard record is a 40-byte shard header followed by `shardLength` payload bytes:
 *
 *   off size field
 *     0   4  magic 'DWSH'
 *     4   1  version (1)
 *     5   1  block flags (BlockFlags: compressed, encrypted, deduped)
 *     6   1  shard index (0..k+m-1; < k are data shards)
 *     7   1  k
 *     8   1  m
 *     9   1  checksum algorithm (2 = xxhash64 of the payload)
 *    10   1  compression algorithm of the block (0 raw, 1 lz4, 2 zstd; informative: the row decides)
 *    11   1  reserved (0)
 *    12   8  block id (u64 LE, < 2^53)
 *    20   4  block length as stored in the data shards (the logical length when raw, the
 *            compressed length when the compressed flag is set)
 *    24   4  shard length (payload bytes that follow)
 *    28   8  payload checksum (xxhash64, seed 0)
 *    36   4  header checksum (crc32c of bytes 0..35)
 *
 * All integers are little-endian.
 */

export const SHARD_MAGIC = 0x48535744; // bytes 'D' 'W' 'S' 'H'
export const SEGMENT_MAGIC = 0x47535744; // bytes 'D' 'W' 'S' 'G'
export const FORMAT_VERSION = 1;
export const SHARD_HEADER_BYTES = 40;
export const SEGMENT_HEADER_BYTES = 64;
/** Payload checksum algorithm id: xxhash64 (about 3× the speed of crc32c here; see README). */
export const CHECKSUM_XXH64 = 2;
/** Largest shard payload accepted by the decoder (a block is at most 64 MiB per shard). */
export const MAX_SHARD_BYTES = 64 << 20;
/** Largest k + m in any layout (raid10:32). */
export const MAX_SHARDS = 32;

export interface ShardHeader {
  flags: number;
  shardIndex: number;
  k: number;
  m: number;
  blockId: number;
  /** Bytes of the block as stored in the k data shards (compressed length if compressed). */
  blockLength: number;
  shardLength: number;
  /** Compression algorithm (byte 10; 0 = raw). Informative: the block row is authoritative. */
  alg?: number;
  /** xxhash64 of the payload. */
  payloadSum: bigint;
}

/** The checksum of a shard payload: xxhash64 (u64). */
export function checksum(data: Uint8Array): bigint {
  return xxh64(data);
}

/** The checksum of a header: crc32c. */
export function headerChecksum(data: Uint8Array): number {
  return crc32c(data) >>> 0;
}

/** Encodes a shard header (40 bytes). */
export function encodeShardHeader(h: ShardHeader): Buffer {
  const b = Buffer.allocUnsafe(SHARD_HEADER_BYTES);
  new ByteWriter(b)
    .u32(SHARD_MAGIC).u8(FORMAT_VERSION).u8(h.flags).u8(h.shardIndex).u8(h.k).u8(h.m).u8(CHECKSUM_XXH64).u8(h.alg ?? 0).u8(0)
    .u53(h.blockId).u32(h.blockLength).u32(h.shardLength).u64(h.payloadSum);
  b.writeUInt32LE(headerChecksum(b.subarray(0, 36)), 36);
  return b;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Decodes and validates the shard header at `offset` of `buf`. Never throws: garbage, short
 * input or out-of-range fields give `{ ok: false, reason }`.
 */
export function decodeShardHeader(buf: Uint8Array, offset = 0): Decoded<ShardHeader> {
  try {
    if (!(buf instanceof Uint8Array)) return { ok: false, reason: 'not bytes' };
    const r = new ByteReader(buf, offset, Math.min(SHARD_HEADER_BYTES, Math.max(0, buf.length - offset)));
    if (r.u32('magic') !== SHARD_MAGIC) return { ok: false, reason: 'bad magic' };
    const version = r.u8('version');
    if (version !== FORMAT_VERSION) return { ok: false, reason: `unknown version ${version}` };
    const flags = r.u8('flags');
    const shardIndex = r.u8('shard index');
    const k = r.u8('k');
    const m = r.u8('m');
    const alg = r.u8('checksum algorithm');
    const comp = r.u8('compression algorithm');
    r.u8('reserved');
    const blockId = r.u53('block id');
    const blockLength = r.u32('block length');
    const shardLength = r.u32('shard length');
    const payloadSum = r.u64('payload checksum');
    const headerSum = r.u32('header checksum');
    if (headerChecksum(buf.subarray(offset, offset + 36)) !== headerSum) return { ok: false, reason: 'header checksum mismatch' };
    if (alg !== CHECKSUM_XXH64) return { ok: false, reason: `unknown checksum algorithm ${alg}` };
    if (k < 1 || k + m > MAX_SHARDS) return { ok: false, reason: `bad k/m ${k}/${m}` };
    if (shardIndex >= k + m) return { ok: false, reason: `shard index ${shardIndex} ≥ k+m` };
    if (shardLength > MAX_SHARD_BYTES) return { ok: false, reason: `shard length ${shardLength} too large` };
    if (blockLength > shardLength * k) return { ok: false, reason: 'block length exceeds k shards' };
    return { ok: true, value: { flags, shardIndex, k, m, blockId, blockLength, shardLength, payloadSum, ...(comp ? { alg: comp } : {}) } };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, reason: e.message };
    throw e;
  }
}

export interface SegmentHeader {
  /** 16 bytes. */
  poolId: Buffer;
  device: number;
  segment: number;
  /** ms since the epoch. */
  created: number;
}

/** Encodes a segment header (64 bytes). */
export function encodeSegmentHeader(h: SegmentHeader): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_BYTES);
  const w = new ByteWriter(b).u32(SEGMENT_MAGIC).u16(FORMAT_VERSION).u16(0);
  h.poolId.copy(b, w.pos, 0, 16);
  w.pos += 16;
  w.u16(h.device).u16(0).u32(h.segment).u53(h.created);
  b.writeUInt32LE(headerChecksum(b.subarray(0, 60)), 60);
  return b;
}

/** Decodes a segment header; never throws. */
export function decodeSegmentHeader(buf: Uint8Array): Decoded<SegmentHeader> {
  try {
    const r = new ByteReader(buf, 0, Math.min(buf.length, SEGMENT_HEADER_BYTES));
    if (r.u32('magic') !== SEGMENT_MAGIC) return { ok: false, reason: 'bad magic' };
    if (r.u16('version') !== FORMAT_VERSION) return { ok: false, reason: 'unknown version' };
    r.u16();
    const poolId = Buffer.from(r.bytes(16, 16, 'pool id'));
    const device = r.u16('device');
    r.u16();
    const segment = r.u32('segment');
    const created = r.u53('created');
    r.skip(60 - r.offset);
    if (headerChecksum(buf.subarray(0, 60)) !== r.u32('checksum')) return { ok: false, reason: 'header checksum mismatch' };
    return { ok: true, value: { poolId, device, segment, created } };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, reason: e.message };
    throw e;
  }
}

/** Bytes of data in each shard for a block of `length` bytes: ⌈length/k⌉ rounded up to 8, at least 8. */
export function shardSizeFor(length: number, k: number): number {
  return Math.max(8, Math.ceil(Math.ceil(length / k) / 8) * 8);
}

/** File name of a segment in a device folder. */
export function segmentFileName(segment: number): string {
  return `seg-${segment.toString(16).padStart(8, '0')}.dws`;
}

/** The segment number of a file name, or undefined. */
export function parseSegmentFileName(name: string): number | undefined {
  const m = /^seg-([0-9a-f]{8})\.dws$/.exec(name);
  return m ? parseInt(m[1]!, 16) : undefined;
}
