/**
 * Content-defined chunking for deduplicated files (issue 5): FastCDC (Xia et al., "FastCDC: a
 * Fast and Efficient Content-Defined Chunking Approach for Data Deduplication", USENIX ATC 2016)
 * with a gear rolling hash and normalized chunking (a stricter mask before the average size, a
 * looser one after it). A cut depends only on the bytes just before it, so an insertion moves
 * the cuts near it and leaves every later one where the same content is.
 *
 * Files are stored in records (OpenFile.recordSize, 1 MiB by default); a record of a dedup file is
 * cut into chunks (BlockStore.putChunks, in a codec worker: chunkAndHash), and the record's extent
 * lists their slices (vfs/meta/inode.ts). The record's ends are cuts too: after an insertion the
 * first and last chunk of each record differ and the rest are shared (with 8 KiB chunks, about
 * 126 of 128 per record).
 *
 * The gear table comes from SHA-256 of a fixed label, so cuts never change between versions
 * (a change would stop new data from matching what is stored).
 */
import { createHash, createHmac } from 'node:crypto';

/** Sizes in bytes: min ≤ a chunk ≤ max, about avg on average (a power of two). */
export interface ChunkSizes {
  min: number;
  avg: number;
  max: number;
}

/** The sizes dedup uses: 8 KiB average, 2 KiB to 64 KiB. */
export const CHUNK_SIZES: ChunkSizes = { min: 2048, avg: 8192, max: 65536 };

let current = CHUNK_SIZES;

/**
 * Sets the sizes records are cut with from now on, in this process (tests: small chunks make
 * small records chunked); returns the previous ones. Stored extents stay readable whatever the
 * sizes (they list their slices).
 */
export function setChunkSizes(sizes: ChunkSizes): ChunkSizes {
  const old = current;
  current = sizes;
  return old;
}

/** The sizes in force (CHUNK_SIZES unless a test set others). */
export function chunkSizes(): ChunkSizes {
  return current;
}

/** Bytes of one chunk hash. */
export const HASH_BYTES = 32;

/** SHA-256 of a chunk, or HMAC-SHA-256 under the pool's dedup key (encrypted pools). */
function contentHash(key: Uint8Array | undefined, data: Uint8Array): Buffer {
  return (key ? createHmac('sha256', key) : createHash('sha256')).update(data).digest();
}

/** Cut points and content hashes of a record: `hashes` holds HASH_BYTES per chunk, in order. */
export interface ChunkResult {
  ends: number[];
  hashes: Buffer;
}

/**
 * chunkEnds (or the `given` cut points), then contentHash of each chunk (the codec runs this, in
 * a worker for big records).
 */
export function chunkAndHash(data: Uint8Array, sizes: ChunkSizes, key?: Uint8Array, given?: number[]): ChunkResult {
  const ends = given ?? chunkEnds(data, sizes);
  const hashes = Buffer.allocUnsafe(ends.length * HASH_BYTES);
  let start = 0;
  ends.forEach((end, i) => {
    contentHash(key, data.subarray(start, end)).copy(hashes, i * HASH_BYTES);
    start = end;
  });
  return { ends, hashes };
}

const GEAR = (() => {
  const g = new Uint32Array(256);
  for (let i = 0; i < 256; i++) g[i] = createHash('sha256').update(`dw fastcdc gear ${i}`).digest().readUInt32LE(0);
  return g;
})();

/** A mask of `bits` one bits at the top of 32 (the hash's high bits see the longest window). */
function topMask(bits: number): number {
  return bits >= 32 ? 0xffffffff : ((0xffffffff << (32 - bits)) >>> 0);
}

/**
 * Ends of the chunks of data[0, length): ascending offsets, the last one = data.length (none for
 * empty data). Pure: the same bytes always give the same cuts.
 */
export function chunkEnds(data: Uint8Array, sizes: ChunkSizes = current): number[] {
  const { min, avg, max } = sizes;
  const bits = Math.round(Math.log2(avg));
  const maskS = topMask(bits + 2), maskL = topMask(bits - 2);
  const ends: number[] = [];
  const len = data.length;
  let start = 0;
  while (start < len) {
    const remaining = len - start;
    if (remaining <= min) {
      ends.push(len);
      break;
    }
    const end = start + Math.min(remaining, max);
    const normal = Math.min(end, start + avg);
    let h = 0;
    let i = start + min;
    let cut = end;
    for (; i < normal; i++) {
      h = ((h << 1) + GEAR[data[i]!]!) >>> 0;
      if ((h & maskS) === 0) { cut = i + 1; break; }
    }
    if (cut === end) {
      for (; i < end; i++) {
        h = ((h << 1) + GEAR[data[i]!]!) >>> 0;
        if ((h & maskL) === 0) { cut = i + 1; break; }
      }
    }
    ends.push(cut);
    start = cut;
  }
  return ends;
}
