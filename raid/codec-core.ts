import { createRequire } from 'node:module';
import type { ChunkSizes } from './chunker.js';
import { compressBytes, looksIncompressible, type PackSpec, worthIt } from './compress.js';
import { CRYPT_OVERHEAD, type SealSpec, sealInto } from './crypt.js';
import { checksum, shardSizeFor } from './format.js';
import { syncParity, syncParityMatrix } from './gf.js';
import type { LayoutKind } from './layout.js';

const require = createRequire(import.meta.url);
const RS: typeof import('@ronomon/reed-solomon') = require('@ronomon/reed-solomon');

/**
 * The codec work itself, shared by the in-thread codec and the piscina worker: parity and
 * checksums over one "job buffer" holding all k+m shards of a block back to back
 * (slot j at j*shardSize), so a job moves to a worker and back as one transferred ArrayBuffer.
 *
 * Bit masks name shards: bit j = shard j (k+m ≤ 32, always used as unsigned).
 */
export interface CodecParams {
  kind: LayoutKind;
  k: number;
  m: number;
  /** Bytes per shard, a multiple of 8. */
  shardSize: number;
}

/** Result of decoding: which shards verified, which were rebuilt, and their new checksums. */
export interface DecodeResult {
  /** Shards present whose checksum matched. */
  good: number;
  /** Shards rebuilt from the good ones (data shards needed + wanted shards). */
  rebuilt: number;
  /** Whether every data shard is now valid (good or rebuilt). */
  ok: boolean;
  /** Checksum of every shard slot that is good or rebuilt (0n elsewhere). */
  sums: bigint[];
}

const contexts = new Map<string, Buffer>();
function context(k: number, m: number): Buffer {
  const key = `${k}+${m}`;
  let c = contexts.get(key);
  if (!c) contexts.set(key, (c = RS.create(k, m)));
  return c;
}

const bit = (j: number) => (2 ** j) >>> 0;
const has = (mask: number, j: number) => ((mask >>> j) & 1) === 1;

/** Copies a block's bytes into the data slots of a job buffer and zeroes the padding after them. */
export function fillJob(p: CodecParams, buf: Uint8Array, data: Uint8Array): void {
  buf.set(data, 0);
  buf.fill(0, data.length, p.k * p.shardSize);
}

/** Bytes of a job buffer for these params. */
export function jobBytes(p: CodecParams): number {
  return (p.k + p.m) * p.shardSize;
}

/** The library's encode or rebuild on libuv's pool: `targets` from `sources` (bit masks), the data slots in `data`, the parity slots in `parity` (may be views of one job buffer). */
function rsRun(p: CodecParams, data: Uint8Array, parity: Uint8Array, sources: number, targets: number): Promise<void> {
  const { k, m, shardSize } = p;
  return new Promise((resolve, reject) => {
    RS.encode(context(k, m), sources >>> 0, targets >>> 0, data, 0, k * shardSize, parity, 0, m * shardSize, (err) => {
      if (err) reject(err);
      else resolve();
    });
  });
}

/**
 * The m parity shards of an rs layout from its k data shards (`data`: k*shardSize bytes) into
 * `parity` (m*shardSize bytes, not overlapping): in this thread for a small block (gf.ts, the
 * library's arithmetic through our addon), else by the library on libuv's pool.
 */
async function rsParity(p: CodecParams, data: Uint8Array, parity: Uint8Array): Promise<void> {
  const { k, m, shardSize } = p;
  let t = syncParityMatrix(k, m, shardSize);
  if (t instanceof Promise) t = await t;
  if (t) return syncParity(t, data, parity, k, m, shardSize);
  await rsRun(p, data, parity, 2 ** k - 1, (2 ** m - 1) * 2 ** k);
}

function slot(p: CodecParams, buf: Uint8Array, j: number): Uint8Array {
  return buf.subarray(j * p.shardSize, (j + 1) * p.shardSize);
}

/**
 * Computes the m parity shards from the k data shards already in `buf` and returns the
 * checksum of every shard (k+m numbers).
 */
export async function encodeJob(p: CodecParams, buf: Uint8Array): Promise<bigint[]> {
  const n = p.k + p.m;
  if (buf.length < jobBytes(p)) throw new RangeError('job buffer too small');
  if (p.m > 0) {
    if (p.kind === 'rs') {
      await rsParity(p, buf.subarray(0, p.k * p.shardSize), buf.subarray(p.k * p.shardSize, n * p.shardSize));
    } else if (p.kind === 'copy') {
      for (let j = p.k; j < n; j++) buf.copyWithin(j * p.shardSize, (j % p.k) * p.shardSize, (j % p.k + 1) * p.shardSize);
    }
  }
  const sums: bigint[] = [];
  for (let j = 0; j < n; j++) sums.push(checksum(slot(p, buf, j)));
  return sums;
}

/**
 * Parity and checksums of a plain block (no compression, no encryption) straight from its bytes,
 * without the job buffer: `data` is exactly the k data shards back to back (k*shardSize bytes,
 * starting on an 8-byte boundary), `parity` receives the m parity shards of an 'rs' layout (m*shardSize
 * bytes; unused by 'copy' and 'stripe'). Returns the k+m shards, as views of `data` and `parity`
 * (a 'copy' layout's copies are views of their data shard), and the checksum of each: the same
 * bytes and sums fillJob + encodeJob give, less the copy of the block into a job buffer and the
 * copies of a 'copy' layout. RangeError when the sizes do not fit.
 */
export async function encodeSplit(p: CodecParams, data: Buffer, parity: Buffer): Promise<{ shards: Buffer[]; sums: bigint[] }> {
  const { k, m, shardSize } = p;
  const n = k + m;
  if (data.length !== k * shardSize || data.byteOffset % 8 !== 0) throw new RangeError('data is not k whole, aligned shards');
  const shards: Buffer[] = [];
  for (let j = 0; j < k; j++) shards.push(data.subarray(j * shardSize, (j + 1) * shardSize));
  if (m > 0 && p.kind === 'rs') {
    if (parity.length < m * shardSize) throw new RangeError('parity buffer too small');
    await rsParity(p, data, parity.subarray(0, m * shardSize));
    for (let j = k; j < n; j++) shards.push(parity.subarray((j - k) * shardSize, (j - k + 1) * shardSize));
  } else if (m > 0 && p.kind === 'copy') {
    for (let j = k; j < n; j++) shards.push(shards[j % k]!);
  }
  const sums: bigint[] = [];
  for (let j = 0; j < shards.length; j++) sums.push(j >= k && p.kind === 'copy' ? sums[j % k]! : checksum(shards[j]!));
  return { shards, sums };
}

/**
 * Verifies the `present` shards of `buf` against `expected` checksums, then rebuilds every
 * data shard that is not good plus every shard in `want` that is not good, if the good ones
 * suffice. Shards neither good nor rebuilt may be overwritten with scratch data.
 */
export async function decodeJob(p: CodecParams, buf: Uint8Array, present: number, want: number, expected: readonly bigint[]): Promise<DecodeResult> {
  const n = p.k + p.m;
  if (buf.length < jobBytes(p)) throw new RangeError('job buffer too small');
  const sums = new Array<bigint>(n).fill(0n);
  let good = 0;
  for (let j = 0; j < n; j++) {
    if (!has(present, j)) continue;
    const s = checksum(slot(p, buf, j));
    if (s === expected[j]) {
      good = (good | bit(j)) >>> 0;
      sums[j] = s;
    }
  }
  let targets = 0;
  for (let j = 0; j < n; j++) {
    if (has(good, j)) continue;
    if (j < p.k || has(want, j)) targets = (targets | bit(j)) >>> 0;
  }
  if (targets === 0) return { good, rebuilt: 0, ok: true, sums };
  let rebuilt = 0;
  if (p.kind === 'rs') {
    let count = 0;
    for (let j = 0; j < n; j++) if (has(good, j)) count++;
    if (count < p.k) return { good, rebuilt: 0, ok: false, sums };
    await rsRun(p, buf.subarray(0, p.k * p.shardSize), buf.subarray(p.k * p.shardSize, n * p.shardSize), good, targets);
    rebuilt = targets;
  } else if (p.kind === 'copy') {
    for (let j = 0; j < n; j++) {
      if (!has(targets, j)) continue;
      const d = j % p.k;
      let src = -1;
      for (let c = d; c < n; c += p.k) if (has(good, c)) { src = c; break; }
      if (src < 0) continue;
      buf.copyWithin(j * p.shardSize, src * p.shardSize, (src + 1) * p.shardSize);
      rebuilt = (rebuilt | bit(j)) >>> 0;
    }
  }
  for (let j = 0; j < n; j++) if (has(rebuilt, j)) sums[j] = checksum(slot(p, buf, j));
  let ok = true;
  for (let j = 0; j < p.k; j++) if (!has(good, j) && !has(rebuilt, j)) ok = false;
  return { good, rebuilt, ok, sums };
}

/** What packJob did: the stored bytes' compression algorithm (0 = none), length and shard size. */
export interface Packed {
  /** Alg id (compress.ts): 0 when the block is stored raw. */
  alg: number;
  /** Bytes stored in the data slots before padding (= the logical length when raw; + CRYPT_OVERHEAD when sealed). */
  stored: number;
  /** Shard size the stored bytes were laid out with (≤ the raw params' shardSize). */
  shardSize: number;
}

/**
 * Lays out the first `length` bytes of the job buffer (placed by fillJob for the params `p`) as
 * the block will be stored, then computes parity and checksums for that layout:
 *
 * 1. with `spec`, compresses them; the compressed bytes are kept only if that makes the shards
 *    smaller (compress.ts worthIt, counting the encryption envelope on both sides when sealing);
 * 2. with `seal`, encrypts the result (crypt.ts sealInto: key id ‖ nonce ‖ ciphertext ‖ tag);
 * 3. writes the stored bytes over the data slots with the shard size they need and zeroes the
 *    padding after them.
 *
 * Without either (or when compression does not pay and there is no seal) the raw layout `p` is
 * kept as it is. When sealing, `p` must leave room for CRYPT_OVERHEAD more bytes than `length`
 * (put() sizes it so); RangeError otherwise. The buffer keeps its size; the slots of the chosen
 * layout are its first (k+m)*packed.shardSize bytes.
 */
export async function packJob(p: CodecParams, buf: Uint8Array, length: number, spec: PackSpec | undefined, seal?: SealSpec): Promise<{ sums: bigint[]; packed: Packed }> {
  let body: Uint8Array = buf.subarray(0, length);
  let alg = 0;
  if (spec && length > 0 && !looksIncompressible(body)) {
    const c = await compressBytes(spec, body);
    const extra = seal ? CRYPT_OVERHEAD : 0;
    if (worthIt(c.length + extra, length + extra, p.k)) {
      body = c;
      alg = spec.alg;
    }
  }
  if (!alg && !seal) return { sums: await encodeJob(p, buf.subarray(0, jobBytes(p))), packed: { alg: 0, stored: length, shardSize: p.shardSize } };
  const stored = seal ? body.length + CRYPT_OVERHEAD : body.length;
  const q: CodecParams = { kind: p.kind, k: p.k, m: p.m, shardSize: shardSizeFor(stored, p.k) };
  if (q.shardSize > p.shardSize) throw new RangeError(`job buffer too small: ${stored} stored bytes need shards of ${q.shardSize}, the job has ${p.shardSize}`);
  if (seal) sealInto(seal, alg, length, body, buf);
  else buf.set(body, 0);
  buf.fill(0, stored, q.k * q.shardSize);
  return { sums: await encodeJob(q, buf.subarray(0, jobBytes(q))), packed: { alg, stored, shardSize: q.shardSize } };
}

/** A task sent to the piscina worker: the job buffer is transferred, never copied. */
export type WorkerTask =
  | { op: 'encode'; p: CodecParams; ab: ArrayBuffer; pack?: { spec: PackSpec | undefined; length: number; seal?: SealSpec } }
  | { op: 'decode'; p: CodecParams; ab: ArrayBuffer; present: number; want: number; expected: bigint[] }
  | { op: 'chunk'; ab: ArrayBuffer; sizes: ChunkSizes; key?: Uint8Array; ends?: number[] };

/**
 * Bytes after the shard slots in a worker job buffer: 32 u64 sums, then good, rebuilt, ok (u32),
 * then (encode with packing) alg u32, stored u32, shardSize u32. The tail sits after the slots
 * of the params the caller sent (the raw layout), whatever layout packJob chose.
 */
export const TAIL_BYTES = 8 * 32 + 4 * 6;

/** Bytes of a whole job buffer for these params: the k+m shard slots and the tail. */
export function jobBufferBytes(p: CodecParams): number {
  return jobBytes(p) + TAIL_BYTES;
}

/** Writes a result into the tail of a worker job buffer. */
export function writeTail(buf: Buffer, p: CodecParams, r: DecodeResult, packed?: Packed): void {
  const at = jobBytes(p);
  for (let j = 0; j < p.k + p.m; j++) buf.writeBigUInt64LE(r.sums[j]!, at + 8 * j);
  buf.writeUInt32LE(r.good >>> 0, at + 256);
  buf.writeUInt32LE(r.rebuilt >>> 0, at + 260);
  buf.writeUInt32LE(r.ok ? 1 : 0, at + 264);
  buf.writeUInt32LE(packed?.alg ?? 0, at + 268);
  buf.writeUInt32LE(packed?.stored ?? 0, at + 272);
  buf.writeUInt32LE(packed?.shardSize ?? p.shardSize, at + 276);
}

/** Reads the result a worker wrote into the tail. */
export function readTail(buf: Buffer, p: CodecParams): DecodeResult & { packed: Packed } {
  const at = jobBytes(p);
  const sums: bigint[] = [];
  for (let j = 0; j < p.k + p.m; j++) sums.push(buf.readBigUInt64LE(at + 8 * j));
  const packed = { alg: buf.readUInt32LE(at + 268), stored: buf.readUInt32LE(at + 272), shardSize: buf.readUInt32LE(at + 276) };
  return { sums, good: buf.readUInt32LE(at + 256), rebuilt: buf.readUInt32LE(at + 260), ok: buf.readUInt32LE(at + 264) === 1, packed };
}
