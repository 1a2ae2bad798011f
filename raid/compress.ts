import { Decoder, Encoder } from '@toondepauw/node-zstd';
import { compress as lz4Compress, uncompress as lz4Uncompress } from 'lz4-napi';
import { Errno, VfsError } from '../vfs/errno.js';
import { shardSizeFor } from './format.js';

/**
 * Block compression (issue 5, first piece): the codecs, the pool setting's text form, and the
 * rule that decides whether a block is stored compressed.
 *
 * Bindings (see raid/README.md, "Compression"): zstd through `@toondepauw/node-zstd` (napi-rs,
 * prebuilt for linux-x64 in the npm package, levels 1..22), lz4 through `lz4-napi` (napi-rs over
 * lz4_flex, block format with the decompressed size prepended as u32 LE).
 *
 * Every call here uses the bindings' async forms, which run in libuv's thread pool: the calling
 * thread (the event loop for the in-thread codec, a piscina worker for the worker codec) is free
 * while a block compresses.
 */

/** Algorithm id as stored in the block row (and byte 10 of each shard header). */
export const enum Alg {
  None = 0,
  Lz4 = 1,
  Zstd = 2,
}

/** A compression setting: the pool's default, or (later) a per-put/per-directory choice. */
export type Compression =
  | { alg: 'off' }
  | { alg: 'lz4' }
  /** level 1..19 (zstd's "ultra" levels 20..22 need far more memory and are refused). */
  | { alg: 'zstd'; level: number };

/** zstd level when the setting says plain `zstd`. */
export const DEFAULT_ZSTD_LEVEL = 3;
/** What `dw pool create` and `dw serve`'s default pool use (see raid/README.md for why). */
export const DEFAULT_NEW_POOL_COMPRESSION = 'off';
export const OFF: Compression = { alg: 'off' };

/**
 * Parses `off | lz4 | zstd | zstd:LEVEL` (LEVEL 1..19; case-insensitive, `none` = off).
 * Throws VfsError EINVAL naming the accepted forms.
 */
export function parseCompression(text: string): Compression {
  const t = String(text).trim().toLowerCase();
  if (t === 'off' || t === 'none') return { alg: 'off' };
  if (t === 'lz4') return { alg: 'lz4' };
  const m = /^zstd(?::(-?\d+))?$/.exec(t);
  if (m) {
    const level = m[1] === undefined ? DEFAULT_ZSTD_LEVEL : Number(m[1]);
    if (Number.isInteger(level) && level >= 1 && level <= 19) return { alg: 'zstd', level };
    throw new VfsError(Errno.EINVAL, `bad compression "${text}": zstd levels are 1..19`);
  }
  throw new VfsError(Errno.EINVAL, `bad compression "${text}": use off, lz4, zstd or zstd:LEVEL (1..19)`);
}

/** The text form: 'off', 'lz4', 'zstd:3'. */
export function formatCompression(c: Compression): string {
  return c.alg === 'zstd' ? `zstd:${c.level}` : c.alg;
}

/** The on-disk id of a setting's algorithm. */
export function algOf(c: Compression): Alg {
  return c.alg === 'lz4' ? Alg.Lz4 : c.alg === 'zstd' ? Alg.Zstd : Alg.None;
}

/** Name of an on-disk algorithm id ('none', 'lz4', 'zstd', or 'alg N'). */
export function algName(a: number): string {
  return a === Alg.None ? 'none' : a === Alg.Lz4 ? 'lz4' : a === Alg.Zstd ? 'zstd' : `alg ${a}`;
}

/** Setting as passed to the codec (plain data: it crosses to a piscina worker). */
export interface PackSpec {
  /** Alg.Lz4 or Alg.Zstd. */
  alg: number;
  /** zstd level (ignored for lz4). */
  level: number;
}

export function packSpec(c: Compression): PackSpec | undefined {
  return c.alg === 'off' ? undefined : { alg: algOf(c), level: c.alg === 'zstd' ? c.level : 0 };
}

/**
 * Whether a block of `length` bytes is worth storing as `packed` bytes over k data shards: only
 * if it shrinks each shard by at least one 8-byte alignment unit, i.e. the bytes on disk go
 * down. Anything less would cost a decompression on every read for no space.
 */
export function worthIt(packed: number, length: number, k: number): boolean {
  return shardSizeFor(packed, k) < shardSizeFor(length, k);
}

/** Blocks at least this long are sampled before they are compressed (early abort). */
const SAMPLE_FROM = 128 << 10;
const SAMPLES = 4;
const SAMPLE_BYTES = 4096;

/**
 * Early abort for incompressible data (random, media, .gz, ciphertext): the order-0 entropy of
 * four 4 KiB samples spread over the block (a byte histogram, about 20 µs in JS); true when each
 * is above 7.9 bits per byte, so the whole block is stored raw without running the compressor
 * (lz4 and zstd spend 0.5–1 ms per MiB finding out the same). A block with any sample below is
 * compressed whole (and still stored raw if that does not pay: worthIt). Blocks under 128 KiB are
 * not sampled. What it can miss: high-entropy bytes that repeat at long distances (a random
 * 64 KiB pattern copied over and over), which an LZ compressor would find.
 */
export function looksIncompressible(data: Uint8Array): boolean {
  if (data.length < SAMPLE_FROM) return false;
  const counts = new Uint32Array(256);
  for (let i = 0; i < SAMPLES; i++) {
    const at = Math.floor(((data.length - SAMPLE_BYTES) * i) / (SAMPLES - 1));
    counts.fill(0);
    for (let j = at; j < at + SAMPLE_BYTES; j++) counts[data[j]!]!++;
    let bits = 0;
    for (let b = 0; b < 256; b++) {
      const c = counts[b]!;
      if (c) bits -= c * Math.log2(c / SAMPLE_BYTES);
    }
    if (bits / SAMPLE_BYTES < MIN_BITS) return false;
  }
  return true;
}

/** Bits per byte above which a sample counts as incompressible (random bytes: about 7.95 for 4 KiB samples). */
const MIN_BITS = 7.9;

const encoders = new Map<number, Encoder>();
const decoder = new Decoder();

/** Compresses `data` with `spec` (Alg.Lz4 or Alg.Zstd). Throws on a binding failure. */
export async function compressBytes(spec: PackSpec, data: Uint8Array): Promise<Buffer> {
  compressStats.compressCalls++;
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (spec.alg === Alg.Lz4) return lz4Compress(buf);
  if (spec.alg === Alg.Zstd) {
    let e = encoders.get(spec.level);
    if (!e) encoders.set(spec.level, (e = new Encoder(spec.level)));
    return e.encode(buf);
  }
  throw new RangeError(`unknown compression algorithm ${spec.alg}`);
}

/** Counts decompressions started (tests: a payload that failed its checksums is never decompressed). */
export const compressStats = { decompressCalls: 0, compressCalls: 0 };

/**
 * Decompresses a stored block. `stored` must already have passed its checksums. The result is
 * exactly `length` bytes; anything else (unknown algorithm, a binding error on bad input, a
 * wrong length, an lz4 size prefix that disagrees with the row) is VfsError EIO, never a crash
 * or short data. For lz4 the size prefix is checked before the binding sees the input, so a bad
 * prefix cannot make it allocate gigabytes.
 */
export async function decompressBlock(alg: number, stored: Uint8Array, length: number, id = 0): Promise<Buffer> {
  compressStats.decompressCalls++;
  const buf = Buffer.isBuffer(stored) ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  let out: Buffer;
  try {
    if (alg === Alg.Lz4) {
      if (buf.length < 4 || buf.readUInt32LE(0) !== length) throw new Error('lz4 size prefix disagrees with the block row');
      out = await lz4Uncompress(buf);
    } else if (alg === Alg.Zstd) {
      out = await decoder.decode(buf);
    } else {
      throw new Error(`unknown compression algorithm ${alg}`);
    }
  } catch (err) {
    throw new VfsError(Errno.EIO, `block ${id}: cannot decompress (${algName(alg)}): ${(err as Error)?.message ?? String(err)}`);
  }
  if (out.length !== length) throw new VfsError(Errno.EIO, `block ${id}: decompressed to ${out.length} bytes, the row says ${length}`);
  return out;
}
