/**
 * Reed-Solomon parity of small blocks in the calling thread, through our addon's `rsParity`
 * (native/sys/gf.cc), for codec-core's encodes.
 *
 * @ronomon/reed-solomon, which computes the pool's parity and rebuilds shards, runs every call on
 * libuv's thread pool. For a block volume's 64 KiB records the parity itself takes a few
 * microseconds (4 µs with AVX2, measured); handing it to the pool cost the event loop about 45 µs
 * a record on this 2-core VM (waking a pool thread, the pool's lock: in a V8 CPU profile of 1 GiB
 * iSCSI writes, 1.5 s of self time in the submitting call for about 33,000 encodes; 2026-12-02,
 * docs/benchmarks.md). Blocks of up to SYNC_PARITY_MAX_BYTES of data get their parity here instead.
 *
 * The arithmetic is the library's, byte for byte. The library codes with a Cauchy bit matrix: it
 * cuts each shard into w packets (w = 2, 4 or 8 by layout; smaller packets only for data of over
 * about 1 MiB) and makes each parity packet the XOR of some data packets. `rsMatrix` asks the
 * library which, at 8 packets a shard (one encode per data packet alone, all ones): a w-packet
 * matrix seen at 8 packets is the same map, so the parity written here is what the library would
 * have written, and what it decodes from.
 */
import { createRequire } from 'node:module';
import { sysAddon } from './sysaddon.js';

const RS: typeof import('@ronomon/reed-solomon') = createRequire(import.meta.url)('@ronomon/reed-solomon');

/** Packets per shard in our matrices (native/sys/gf.h DW_RS_PACKETS). */
export const PACKETS = 8;

/**
 * Most data bytes (k shards) a block may have for its parity to be computed in the calling thread.
 * Below this the library never cuts its packets smaller than an eighth of a shard (it does so only
 * when (1 + k*w) packets pass 1 MiB), so our 8-packet matrix holds.
 */
export const SYNC_PARITY_MAX_BYTES = 256 << 10;

function libraryEncode(k: number, m: number, data: Buffer, parity: Buffer, shard: number): Promise<void> {
  const sources = (2 ** k - 1) >>> 0;
  const targets = ((2 ** m - 1) * 2 ** k) >>> 0;
  return new Promise((resolve, reject) => {
    RS.encode(RS.create(k, m), sources, targets, data, 0, k * shard, parity, 0, m * shard, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * The library's bit matrix for rs:k+m at 8 packets a shard: m*8 rows of k*8 bytes (1: data
 * packet i*8+c is in parity packet j*8+a's XOR; native/sys/gf.h). Rejects when the library's
 * encode fails, or what it wrote is not such a map (checked on the probes and on one block of
 * random bytes), so a library that codes otherwise is never mirrored wrongly.
 */
export async function rsMatrix(k: number, m: number): Promise<Buffer> {
  const shard = PACKETS * 8; // packets of 8 bytes
  const matrix = Buffer.alloc(m * PACKETS * k * PACKETS);
  const data = Buffer.alloc(k * shard);
  const parity = Buffer.alloc(m * shard);
  for (let i = 0; i < k; i++) {
    for (let c = 0; c < PACKETS; c++) {
      data.fill(0);
      data.fill(0xff, i * shard + c * 8, i * shard + c * 8 + 8);
      await libraryEncode(k, m, data, parity, shard);
      for (let j = 0; j < m; j++) {
        for (let a = 0; a < PACKETS; a++) {
          const at = j * shard + a * 8;
          const bytes = parity.subarray(at, at + 8);
          const on = bytes.every((b) => b === 0xff);
          if (!on && !bytes.every((b) => b === 0)) throw new Error(`rs:${k}+${m}: the library's parity is not an XOR of whole packets`);
          matrix[(j * PACKETS + a) * k * PACKETS + i * PACKETS + c] = on ? 1 : 0;
        }
      }
    }
  }
  // One block of random bytes (shards of 4 KiB), both ways.
  const s = 4096;
  const d = Buffer.alloc(k * s);
  let x = 0x9e3779b9;
  for (let i = 0; i < d.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; d[i] = x & 0xff; }
  const want = Buffer.alloc(m * s), got = Buffer.alloc(m * s);
  await libraryEncode(k, m, d, want, s);
  sysAddon()!.rsParity(matrix, d, got, k, m, s);
  if (!got.equals(want)) throw new Error(`rs:${k}+${m}: the matrix read off the library does not give its parity`);
  return matrix;
}

/** Matrices by "k+m": the pending derivation, then the matrix (null: this layout stays with the library). */
const matrices = new Map<string, Promise<Buffer | null> | Buffer | null>();

/** Whether DW_SYNC_PARITY=0 turned the in-thread parity off (then every encode goes to the library). */
const disabled = process.env.DW_SYNC_PARITY === '0';

/**
 * The matrix for rs:k+m if parity of shards of `shardSize` bytes may be computed in this thread: a
 * Buffer at once when it is known, a promise the first time (derived once per layout), null when
 * not (no addon, DW_SYNC_PARITY=0, a block of over SYNC_PARITY_MAX_BYTES of data, a shard size not
 * a multiple of 8, or the derivation failed).
 */
export function syncParityMatrix(k: number, m: number, shardSize: number): Buffer | Promise<Buffer | null> | null {
  if (disabled || k * shardSize > SYNC_PARITY_MAX_BYTES || shardSize % PACKETS !== 0 || shardSize === 0 || k < 1 || m < 1 || k > 32 || m > 32) return null;
  const key = `${k}+${m}`;
  const t = matrices.get(key);
  if (t !== undefined) return t;
  if (!sysAddon()) {
    matrices.set(key, null);
    return null;
  }
  const p = rsMatrix(k, m).catch(() => null).then((b) => {
    matrices.set(key, b);
    return b;
  });
  matrices.set(key, p);
  return p;
}

/**
 * Writes the m parity shards of the k data shards of `data` (k*shardSize bytes) into `parity`
 * (m*shardSize bytes) in this thread, with the matrix from syncParityMatrix. Throws TypeError
 * (from the addon) when the sizes do not fit.
 */
export function syncParity(t: Buffer, data: Uint8Array, parity: Uint8Array, k: number, m: number, shardSize: number): void {
  sysAddon()!.rsParity(t, data, parity, k, m, shardSize);
}
