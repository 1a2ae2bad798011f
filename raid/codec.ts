import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { type CodecParams, type DecodeResult, decodeJob, encodeSplit, fillJob, jobBufferBytes, jobBytes, type Packed, packJob, readTail, type WorkerTask } from './codec-core.js';
import type { PackSpec } from './compress.js';
import type { SealSpec } from './crypt.js';
import { type ChunkResult, chunkAndHash, type ChunkSizes } from './chunker.js';

export { encodeSplit, fillJob, type CodecParams, type DecodeResult, type Packed } from './codec-core.js';

/**
 * What to do before parity with the first `length` bytes of the job: compress with `spec` (none:
 * raw), then encrypt with `seal` (none: plaintext). With `seal` the params must have room for
 * crypt.ts CRYPT_OVERHEAD bytes more than `length`.
 */
export interface PackRequest {
  spec: PackSpec | undefined;
  /** Logical bytes of the block in the data slots. */
  length: number;
  /** Encrypt the (compressed) bytes with this data key, bound to this block id (crypt.ts). */
  seal?: SealSpec;
}

/** Result of encode: the job buffer to continue with, the k+m checksums and the layout chosen. */
export interface EncodeResult {
  buf: Buffer;
  /** Checksum of each of the k+m shard slots of the chosen layout (slot j at j*packed.shardSize). */
  sums: bigint[];
  packed: Packed;
}

/**
 * Parity and checksum computation for the block store. Two implementations with one contract
 * (and one shared test suite): `InlineCodec` runs in the calling thread (the parity of a block of
 * up to 256 KiB there too, gf.ts; of a larger one, and every rebuild, by the Reed-Solomon
 * library in libuv's pool), `WorkerCodec` runs each job in a piscina worker so
 * checksums and copies stay off the event loop too.
 *
 * A job buffer (from `alloc`) holds the k+m shard slots back to back, slot j at j*shardSize.
 * encode/decode may transfer it: always continue with the returned `buf`.
 */
export interface Codec {
  readonly name: 'inline' | 'worker';
  /**
   * An uninitialized job buffer for these params (its own ArrayBuffer, so it can be
   * transferred). Fill data with `fillJob` before encoding.
   */
  alloc(p: CodecParams): Buffer;
  /** Gives a job buffer back for reuse by alloc (the caller no longer uses it or any view of it). */
  free(buf: Buffer): void;
  /**
   * Whether this codec runs a plain encode (no compression, no encryption) of these params in the
   * calling thread. Then the caller may as well run codec-core encodeSplit itself, straight from
   * the block's bytes (no job buffer, no copy); otherwise alloc, fillJob and encode.
   */
  plainInThread(p: CodecParams): boolean;
  /**
   * With `pack`, first compresses the block in the data slots and keeps it compressed if that
   * shrinks the shards, then encrypts it if `pack.seal` says so (codec-core packJob; the layout
   * then has its own shard size, reported in `packed`). Then fills the parity slots from the data slots and returns the checksum of
   * each of the k+m shards. Without `pack` the layout is `p` (packed.alg 0).
   */
  encode(p: CodecParams, buf: Buffer, pack?: PackRequest): Promise<EncodeResult>;
  /**
   * Verifies the `present` slots (bit mask) against `expected` checksums and rebuilds the data
   * slots that are not good, and the `want` slots, when the good ones suffice (see decodeJob).
   */
  decode(p: CodecParams, buf: Buffer, present: number, want: number, expected: readonly bigint[]): Promise<DecodeResult & { buf: Buffer }>;
  /**
   * Dedup: the content-defined cut points of `data` and each chunk's content hash (chunker.ts
   * chunkAndHash; HMAC under `key` when given; `ends`: cut there instead). Reads `data` only
   * until the promise settles (the worker codec copies it first).
   */
  chunk(data: Uint8Array, sizes: ChunkSizes, key?: Uint8Array, ends?: number[]): Promise<ChunkResult>;
  close(): Promise<void>;
}

/**
 * Free job buffers by size. Reusing them saves the page faults of a fresh multi-MiB allocation
 * per block (about a third of put()'s codec time for 1 MiB blocks; see the rs-encode bench).
 */
const freeJobs = new Map<number, Buffer[]>();
const FREE_PER_SIZE = 8;
/** …or as many as fit in this many bytes, for small jobs (a volume's 64 KiB blocks: 170 of them, as many as are in flight). */
const FREE_BYTES_PER_SIZE = 16 << 20;
const FREE_SIZES = 16;

function allocJob(p: CodecParams): Buffer {
  const n = jobBufferBytes(p);
  const reuse = freeJobs.get(n)?.pop();
  if (reuse) return reuse;
  // Not zeroed: fillJob zeroes the padding, parity slots are written whole by encode, and
  // decode trusts only slots that were read and verified or that it rebuilt.
  return Buffer.allocUnsafeSlow(n);
}

/** A buffer of exactly `bytes` bytes (contents undefined), reused like job buffers: encodeSplit's parity. Give it back with Codec.free. */
export function allocBytes(bytes: number): Buffer {
  return freeJobs.get(bytes)?.pop() ?? Buffer.allocUnsafeSlow(bytes);
}

/** Gives back a buffer from alloc or allocBytes for reuse (its holder no longer uses it or any view of it). */
function freeJob(buf: Buffer): void {
  if (buf.byteOffset !== 0 || buf.length !== buf.buffer.byteLength) return;
  let list = freeJobs.get(buf.length);
  if (!list) {
    if (freeJobs.size >= FREE_SIZES) freeJobs.delete(freeJobs.keys().next().value as number);
    freeJobs.set(buf.length, (list = []));
  }
  if (list.length < Math.max(FREE_PER_SIZE, FREE_BYTES_PER_SIZE / buf.length)) list.push(buf);
}

/** Runs codec work in the calling thread. */
export class InlineCodec implements Codec {
  readonly name = 'inline' as const;
  alloc(p: CodecParams): Buffer {
    return allocJob(p);
  }
  free(buf: Buffer): void {
    freeJob(buf);
  }
  plainInThread(): boolean {
    return true;
  }
  async encode(p: CodecParams, buf: Buffer, pack?: PackRequest): Promise<EncodeResult> {
    return { buf, ...(await packJob(p, buf.subarray(0, jobBytes(p)), pack?.length ?? p.k * p.shardSize, pack?.spec, pack?.seal)) };
  }
  async decode(p: CodecParams, buf: Buffer, present: number, want: number, expected: readonly bigint[]): Promise<DecodeResult & { buf: Buffer }> {
    return { buf, ...(await decodeJob(p, buf.subarray(0, jobBytes(p)), present, want, expected)) };
  }
  async chunk(data: Uint8Array, sizes: ChunkSizes, key?: Uint8Array, ends?: number[]): Promise<ChunkResult> {
    return chunkAndHash(data, sizes, key, ends);
  }
  async close(): Promise<void> {}
}

/**
 * Piscina pools shared by every WorkerCodec of the process, by thread count: reopening a pool
 * reuses warm workers. A pool no codec uses is destroyed after a short linger (its idle workers
 * are unref'd, so it never keeps the process alive).
 */
const shared = new Map<number, { pool: Piscina; users: number; timer?: NodeJS.Timeout }>();

function acquirePool(threads: number): Piscina {
  let e = shared.get(threads);
  if (!e) {
    e = {
      pool: new Piscina({ filename: new URL('./codec-worker.cjs', import.meta.url).href, minThreads: threads, maxThreads: threads, idleTimeout: 30_000 }),
      users: 0,
    };
    shared.set(threads, e);
  }
  if (e.timer) clearTimeout(e.timer);
  e.timer = undefined;
  e.users++;
  return e.pool;
}

function releasePool(threads: number): void {
  const e = shared.get(threads);
  if (!e || --e.users > 0) return;
  e.timer = setTimeout(() => {
    if (e.users > 0) return;
    shared.delete(threads);
    void e.pool.destroy();
  }, 2000);
  e.timer.unref();
}

/**
 * Jobs up to this many bytes (all shards) run in the calling thread even with the worker codec:
 * for a small file's block the round trip to a worker (~0.2 ms) costs far more than the
 * parity and checksums themselves (a few microseconds at GB/s).
 */
export const INLINE_MAX_BYTES = 64 << 10;
/**
 * …and plain jobs (no compression, no encryption: parity and checksums only) up to this many:
 * a 64 KiB-record volume's blocks (rs:4+2: 96 KiB jobs) and a 1 MiB-record file's (1.5 MiB
 * jobs). The parity of the 1.5 MiB jobs runs in libuv's pool either way (the library is
 * asynchronous; a 96 KiB job's is computed in the calling thread since 2026-12-02, gf.ts); inline,
 * the xxhash of the shards is left on the event loop, and the worker round trip (the job
 * transferred there and back, messages, wake-ups of two threads) is saved. Measured: 96 KiB jobs
 * took in-process volume writes from 187–202 to 215–242 MiB/s (with streamed shard writes,
 * device.ts); 1.5 MiB jobs took in-process file writes from 661–687 to 829–862 MiB/s and their
 * CPU from 2.36–2.44 to 1.76–1.85 s per GiB (2026-11-30). Compression and encryption, which are
 * work of their own, still go to a worker.
 */
export const INLINE_PLAIN_MAX_BYTES = 2 << 20;

/** Whether an encode job runs in the calling thread (see INLINE_MAX_BYTES, INLINE_PLAIN_MAX_BYTES). */
function encodesInline(p: CodecParams, pack: PackRequest | undefined): boolean {
  const n = jobBytes(p);
  return n <= INLINE_MAX_BYTES || (n <= INLINE_PLAIN_MAX_BYTES && !pack?.spec && !pack?.seal);
}

/**
 * A decode that most likely only verifies checksums: every data shard was read and no other
 * shard is wanted. Hashing k shards in this thread (xxhash64, several GB/s) costs less than the
 * round trip to a worker: on the 256 MiB WebDAV GET bench, about 610 against 500 MiB/s. If a
 * shard turns out bad, the rebuild runs here too (the Reed-Solomon kernel itself in libuv's pool).
 */
function verifyOnly(p: CodecParams, present: number, want: number): boolean {
  if (want !== 0) return false;
  for (let j = 0; j < p.k; j++) if (((present >>> j) & 1) === 0) return false;
  return true;
}

/** Runs codec work in a piscina pool of `threads` workers (default: min(4, cores)); small jobs and plain verifies inline. */
export class WorkerCodec implements Codec {
  readonly name = 'worker' as const;
  private pool: Piscina;
  private threads: number;
  private closed = false;

  constructor(threads?: number) {
    this.threads = Math.max(1, threads ?? Math.min(4, availableParallelism()));
    this.pool = acquirePool(this.threads);
  }
  alloc(p: CodecParams): Buffer {
    return allocJob(p);
  }
  free(buf: Buffer): void {
    freeJob(buf);
  }
  plainInThread(p: CodecParams): boolean {
    return encodesInline(p, undefined);
  }
  private async run(task: WorkerTask, p: CodecParams): Promise<{ buf: Buffer; r: DecodeResult & { packed: Packed } }> {
    const out = (await this.pool.run(task, { transferList: [task.ab] })) as ArrayBuffer;
    const buf = Buffer.from(out);
    return { buf, r: readTail(buf, p) };
  }
  private own(buf: Buffer): ArrayBuffer {
    // Transfer needs a whole ArrayBuffer; copy a view that does not own one (rare: alloc gives owners).
    if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer) return buf.buffer;
    const ab = new ArrayBuffer(buf.length);
    Buffer.from(ab).set(buf);
    return ab;
  }
  async encode(p: CodecParams, buf: Buffer, pack?: PackRequest): Promise<EncodeResult> {
    const length = pack?.length ?? p.k * p.shardSize;
    if (encodesInline(p, pack)) return { buf, ...(await packJob(p, buf.subarray(0, jobBytes(p)), length, pack?.spec, pack?.seal)) };
    const { buf: out, r } = await this.run({ op: 'encode', p, ab: this.own(buf), pack: { spec: pack?.spec, length, ...(pack?.seal ? { seal: pack.seal } : {}) } }, p);
    return { buf: out, sums: r.sums, packed: r.packed };
  }
  async decode(p: CodecParams, buf: Buffer, present: number, want: number, expected: readonly bigint[]): Promise<DecodeResult & { buf: Buffer }> {
    if (jobBytes(p) <= INLINE_MAX_BYTES || verifyOnly(p, present, want)) return { buf, ...(await decodeJob(p, buf.subarray(0, jobBytes(p)), present, want, expected)) };
    const { buf: out, r } = await this.run({ op: 'decode', p, ab: this.own(buf), present, want, expected: [...expected] }, p);
    return { buf: out, good: r.good, rebuilt: r.rebuilt, ok: r.ok, sums: r.sums };
  }
  async chunk(data: Uint8Array, sizes: ChunkSizes, key?: Uint8Array, ends?: number[]): Promise<ChunkResult> {
    if (data.length <= INLINE_MAX_BYTES) return chunkAndHash(data, sizes, key, ends);
    const ab = new ArrayBuffer(data.length);
    new Uint8Array(ab).set(data);
    const r = (await this.pool.run({ op: 'chunk', ab, sizes, ...(key ? { key } : {}), ...(ends ? { ends } : {}) } satisfies WorkerTask, { transferList: [ab] })) as { ends: number[]; hashes: ArrayBuffer };
    return { ends: r.ends, hashes: Buffer.from(r.hashes) };
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    releasePool(this.threads);
  }
}

/**
 * A block's shards for put (raid/store.ts): the k+m shard buffers, their checksums, the layout
 * chosen (compression) and the buffer the shards lie in, for `codec.free` once every append has
 * finished with them (undefined: nothing to give back).
 *
 * A plain block (no `spec`, no `seal`) whose bytes fill its data shards exactly (a whole record:
 * 1 MiB, a volume's 64 KiB), when the codec runs it in the calling thread, skips the job buffer:
 * encodeSplit reads the data shards where they are, only the parity is new (reused) memory, and
 * the data shards returned are views of `data` — which the caller leaves alone until its put
 * resolves. Any other block is copied into a job buffer and encoded by the codec (packJob).
 */
export async function encodeBlock(codec: Codec, p: CodecParams, data: Uint8Array, spec: PackSpec | undefined, seal: SealSpec | undefined): Promise<{ shards: Buffer[]; sums: bigint[]; packed: Packed; scratch: Buffer | undefined }> {
  if (!seal && !spec && data.length === p.k * p.shardSize && data.byteOffset % 8 === 0 && codec.plainInThread(p)) {
    const scratch = p.kind === 'rs' && p.m > 0 ? allocBytes(p.m * p.shardSize) : undefined;
    const { shards, sums } = await encodeSplit(p, Buffer.from(data.buffer, data.byteOffset, data.length), scratch ?? NO_BYTES);
    return { shards, sums, packed: { alg: 0, stored: data.length, shardSize: p.shardSize }, scratch };
  }
  const job = codec.alloc(p);
  fillJob(p, job, data);
  const { buf, sums, packed } = await codec.encode(p, job, { spec, length: data.length, ...(seal ? { seal } : {}) });
  const size = packed.shardSize;
  return { shards: sums.map((_, j) => buf.subarray(j * size, (j + 1) * size)), sums, packed, scratch: buf };
}

const NO_BYTES = Buffer.alloc(0);

/** The codec named by openPool's `codec` option. */
export function makeCodec(kind: 'worker' | 'inline' = 'worker', threads?: number): Codec {
  return kind === 'inline' ? new InlineCodec() : new WorkerCodec(threads);
}
