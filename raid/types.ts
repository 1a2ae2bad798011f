import type { KvTxn } from '../vfs/meta/kv.js';
import type { Compression } from './compress.js';
import type { Secret } from './keys.js';

export type { Compression } from './compress.js';

/** A block's id: allocated by the block store, never reused, fits in 2^53. */
export type BlockId = number;

/**
 * A layout names how a block is split: k data shards + m parity shards, each on a different
 * device. `mirror:N` = rs(1, N-1) with copies; `raid0:N` = rs(N, 0); `raid5:N` = rs(N-1, 1);
 * `raid6:N` = rs(N-2, 2); `raid10:N` = mirror pairs striped; `rs:K+M` any K ≤ 16, M ≤ 4.
 */
export interface Layout {
  /** The text form, e.g. 'rs:4+2'. */
  readonly name: string;
  readonly k: number;
  readonly m: number;
  /** Devices the pool needs at least. */
  readonly devices: number;
}

/** Flags recorded per block (room for issue 5: compression, encryption, dedup). */
export const enum BlockFlags {
  None = 0,
  Compressed = 1 << 0,
  Encrypted = 1 << 1,
  Deduped = 1 << 2,
}

/** Shards written to segments but not yet visible: commit it into the txn that writes the extent. */
export interface StagedBlock {
  readonly id: BlockId;
  /** Logical length of the block, bytes. */
  readonly length: number;
  /** Bytes stored across all devices (shards + parity + headers). */
  readonly physical: number;
  /** Bytes of the block before parity as stored (compressed length, or `length` when raw). */
  readonly stored?: number;
}

/** Where a chunk's bytes are: bytes [offset, offset+length) of block blockId. */
export interface Slice {
  readonly blockId: BlockId;
  readonly offset: number;
  readonly length: number;
}

/**
 * A record put by putChunks, not yet visible: per chunk its content hash and either the slice
 * the dedup index named (a hit) or its offset in `container`, the block holding the new chunks.
 */
export interface StagedChunks {
  /** Bytes of the record. */
  readonly length: number;
  readonly chunks: readonly { readonly hash: Buffer; readonly length: number; readonly hit?: Slice; readonly at?: number }[];
  readonly container?: StagedBlock;
}

/** Options of one put(). */
export interface PutOptions {
  /**
   * How to compress this block (before parity); the pool's setting when absent. Per-directory
   * settings (issue 5) pass theirs here. A block that does not shrink is stored raw anyway.
   */
  compress?: Compression;
}

export interface DeviceStatus {
  index: number;
  path: string;
  state: 'online' | 'missing' | 'faulted' | 'rebuilding';
  /** Bytes of the file system under the device folder. */
  capacity: number;
  free: number;
  /** Bytes in this device's segment files. */
  used: number;
  readErrors: number;
  checksumErrors: number;
  /** Background fdatasyncs started by write-behind since the pool opened (raid/device.ts FLUSH_BEHIND_BYTES). */
  flushesBehind: number;
  /** Appends written uncached (pwritev2 RWF_DONTCACHE, raid/uncached.ts) since the pool opened. */
  uncachedAppends: number;
}

export interface PoolStats {
  layout: string;
  devices: DeviceStatus[];
  /** Usable capacity for file data, bytes, after parity: sum(free) * k/(k+m) + logical used. */
  capacity: number;
  /** Usable bytes still free for file data, after parity. */
  free: number;
  /** Logical bytes in live blocks. */
  logicalUsed: number;
  /**
   * Bytes of live blocks as stored before parity: the compressed length of compressed blocks,
   * the logical length of the others (no shard padding, headers or parity). logicalUsed /
   * storedUsed is the compression ratio.
   */
  storedUsed: number;
  /** The pool's compression setting for new blocks: 'off', 'lz4', 'zstd:3' … */
  compression: string;
  /** The pool's dedup setting for new records. */
  dedup: boolean;
  /** 'aes-256-gcm' for an encrypted pool, 'off' otherwise (absent: a store without encryption). */
  encryption?: string;
  /** Bytes in segment files on all devices (live + dead). */
  physicalUsed: number;
  /** Bytes of shards no block refers to, reclaimable by compaction. */
  dead: number;
  blocks: number;
  /** Long work in progress, for `dw pool status`. */
  task?: { kind: 'scrub' | 'rebuild' | 'reclaim' | 'reencrypt'; done: number; total: number };
}

export interface ScrubReport {
  blocksChecked: number;
  shardsChecked: number;
  /** Shards whose checksum or header failed, or that were missing. */
  badShards: number;
  /** Of those, rewritten from redundancy. */
  repaired: number;
  /** Blocks with fewer than k good shards: data lost (reported, never returned as data). */
  unrecoverable: number;
}

/** A reencrypt recorded in the pool row (raid/reencrypt.ts), as `dw key status` shows it. */
export interface ReencryptStatus {
  /** Data key every block moves to (the current one). */
  to: number;
  /** Data keys blocks move from. */
  from: number[];
  /** Block id the walk resumes from. */
  cursor: number;
  /** Block rows visited so far. */
  done: number;
  /** Blocks in the pool now (live blocks counter; `done` may pass it when blocks went meanwhile): done/total is the progress. */
  total: number;
  /** ISO time it was started. */
  started: string;
}

/** What a reencrypt walk did (raid/reencrypt.ts reencryptPool). */
export interface ReencryptResult {
  /** The walk reached its end and the retired keys were dropped from the key record. */
  finished: boolean;
  /** Data key every block is now under (when finished). */
  to: number;
  /** Data keys the key record keeps afterwards. */
  keys: number[];
  /** Blocks rewritten by this run. */
  rewritten: number;
  /** Block rows visited by this run (rewritten, already under `to`, or gone). */
  visited: number;
}

export interface ProgressFn {
  (done: number, total: number): void;
}

/** Bytes lent by BlockStore.lend: read-only, until `giveBack` (called once; later calls do nothing). */
export interface Lent {
  data: Buffer;
  giveBack(): void;
}

/**
 * The block store (ARCHITECTURE.md, "BlockStore"). Extents name a BlockId only; the block table
 * row maps it to shard places and checksums, so repair and compaction change one row.
 *
 * Errors: VfsError with Errno.EIO (fewer than k good shards, or device I/O failed on write
 * with no spare device), Errno.ENOSPC (devices full).
 */
export interface BlockStore {
  readonly layout: Layout;
  /**
   * Encodes `data` (worker pool: parity + checksums) and appends each shard to a segment on a
   * different device. The block is invisible until `commit` stages its row into a transaction
   * and that transaction commits; shards of a block never committed are reclaimed as dead.
   * Until the returned promise settles the store reads `data` (a whole plain record is written
   * straight from it) and the caller must not change it; after, the caller may reuse it.
   * The block is compressed first (opts.compress, else the pool's setting) and stored raw when
   * that does not make its shards smaller.
   */
  put(data: Uint8Array, opts?: PutOptions): Promise<StagedBlock>;
  /**
   * Changes the pool's compression setting (saved in the pool row) for blocks put from now on;
   * blocks already stored keep theirs and read as before.
   */
  setCompression(c: Compression): Promise<void>;
  /**
   * The pool's dedup setting (pool row 'dedup', default false): whether files whose directories
   * have no setting of their own cut their records into chunks and put them with opts.dedup.
   */
  readonly dedup: boolean;
  /** Changes the pool's dedup setting (saved in the pool row) for records stored from now on. */
  setDedup(on: boolean): Promise<void>;
  /**
   * An encrypted pool's 32-byte key for sealing names, xattrs and symlink targets in the
   * metadata (openVfs passes it to vfs/meta/names.ts nameCipher); undefined for a plain pool.
   */
  readonly namesKey?: Buffer | undefined;
  /** Stages the block row into txn with `refs` references (default 1). */
  commit(staged: StagedBlock, txn: KvTxn, refs?: number): Promise<void>;
  /**
   * Deduplicated put of a record (issue 5): cut into content-defined chunks (raid/chunker.ts;
   * or at `ends`, ascending chunk end offsets, the last = data.length), each keyed by a hash of
   * its content (SHA-256, or HMAC-SHA-256 under the pool's dedup key when the pool is encrypted)
   * — both in the codec (a worker for big records) — and looked up in the dedup index (one batch
   * read); the chunks not found are stored together as one block (the container), so a record
   * costs one block however many chunks it has. Errors as put(); EINVAL for empty data or bad `ends`.
   */
  putChunks(data: Uint8Array, opts?: PutOptions, ends?: number[]): Promise<StagedChunks>;
  /**
   * Commits a putChunks in txn: one reference per chunk to the block holding it (a hit's block,
   * or the container, whose row and index rows are written now), and returns each chunk's slice,
   * in order. Throws VfsError EAGAIN when a hit's block lost its last reference since put (the
   * caller puts the record again).
   */
  commitChunks(staged: StagedChunks, txn: KvTxn): Promise<Slice[]>;
  /** Adds a reference (a copy, a snapshot, a dedup hit), in txn. */
  ref(id: BlockId, txn: KvTxn): Promise<void>;
  /** Drops a reference in txn; at zero the row goes and its shards become dead space. */
  release(id: BlockId, txn: KvTxn): Promise<void>;
  /**
   * The block's bytes (exactly its logical length). Verifies every shard read; repairs bad or
   * missing shards from parity in the background. Throws EIO if fewer than k shards are good.
   */
  get(id: BlockId): Promise<Buffer>;
  /**
   * Copies bytes [from, from+length) of the block (clamped to its length) into `into` at `at`,
   * without copying the rest of the block (a 256 KiB SFTP read of a 1 MiB record copies 256 KiB).
   * Returns the number of bytes copied. Same checks and errors as get().
   */
  readInto(id: BlockId, from: number, length: number, into: Buffer, at: number): Promise<number>;
  /**
   * The block's bytes (exactly its logical length) as the store keeps them in its block cache:
   * shared with every other reader, so the caller must not modify them. No copy when the block is
   * cached (a read that a whole record answers hands these bytes on as they are). Same checks and
   * errors as get().
   */
  view(id: BlockId): Promise<Buffer>;
  /**
   * view(), for a caller that says when it is done: `giveBack` (call it exactly once, when
   * nothing refers to `data` or any view of it any more: the reply carrying it is sent) lets the
   * store reuse the memory once the block cache has let go of it too. A view() is never reused.
   */
  lend(id: BlockId): Promise<Lent>;
  /**
   * Drop-behind, for a reader streaming through a file that has read this block to its end: if
   * the block cache holds the block because a read loaded it from the devices, it leaves the
   * cache, and its memory is reused for the next block read once every lend of it is given back
   * (a stream of reads then reuses the same few buffers instead of filling the cache with blocks
   * read once). A block left in the cache by a write (adopt), or not cached, stays as it is.
   * Never throws; a later read of the block loads it again.
   */
  dropBehind(id: BlockId): void;
  /**
   * Keeps a block that was just committed in the block cache, from the caller's own copy of its
   * bytes (exactly its logical length): a file read back soon after it was written costs no
   * shard reads, as the page cache keeps what was written. The caller hands the buffer over and
   * must not modify or reuse it afterwards. Ignored for a block the store does not know.
   */
  adopt(id: BlockId, data: Buffer): void;
  /**
   * The committed block's logical length and the bytes it holds before parity (`stored`: its
   * compressed length, or its logical length when stored raw), from its row; undefined if there
   * is no such block. One row read, no shard.
   */
  sizes(id: BlockId): Promise<{ length: number; stored: number } | undefined>;
  /** fdatasync of every segment file appended to since the last sync. */
  sync(): Promise<void>;
  /** Reads every shard of every block, verifies, and (repair=true) rewrites bad ones. */
  scrub(opts?: { repair?: boolean; onProgress?: ProgressFn }): Promise<ScrubReport>;
  /** Replaces device `index` by the folder `newPath` and rebuilds its shards there from the others. */
  replaceDevice(index: number, newPath: string, onProgress?: ProgressFn): Promise<{ rebuiltShards: number }>;
  /** Compacts segments whose dead share is above `threshold` (0..1); returns bytes freed. */
  reclaim(opts?: { threshold?: number; onProgress?: ProgressFn }): Promise<{ freedBytes: number; segmentsCompacted: number }>;
  stats(): Promise<PoolStats>;
  /**
   * Encrypted raid pools (`dw key reencrypt`, raid/reencrypt.ts): checks `secret` (EACCES wrong,
   * EINVAL other kind), then adds a new data key, makes it current and records the walk in the
   * pool row (`started` true), or finds a walk already recorded (`started` false: resume it).
   * EINVAL for a pool that is not encrypted.
   */
  startReencrypt?(secret: Secret): Promise<{ started: boolean; status: ReencryptStatus }>;
  /** Runs (or resumes) the recorded walk to its end, one block at a time, as the task 'reencrypt'. Stops early (finished false) on close(). */
  reencrypt?(onProgress?: ProgressFn): Promise<ReencryptResult>;
  /** The recorded reencrypt with progress, or undefined. */
  reencryptStatus?(): Promise<ReencryptStatus | undefined>;
  /** Waits for background repairs, syncs, closes files and the worker pool. */
  close(): Promise<void>;
}
