import { totalmem } from 'node:os';
import { Errno, VfsError } from './errno.js';
import type { BlockStore, Compression, Lent, StagedBlock, StagedChunks } from '../raid/types.js';
import { copyBytes } from '../raid/arena.js';
import { giveSpare, takeSpare } from '../raid/spare.js';
import { type Chunk, decodeExtent, type Extent, EXTENT_INLINE, type Inode } from './meta/inode.js';
import type { MetaTxn } from './meta/metatxn.js';
import { keys } from './meta/keys.js';
import type { MetaStore } from './meta/metastore.js';
import { MAX_FILE_SIZE, nowNs } from './meta/metastore.js';

/** A record being written: its full content from byte 0 of the record up to `len`. */
interface Rec {
  buf: Buffer;
  len: number;
  /** The length the record had when buffered (its committed bytes; 0 for a new one). */
  base: number;
  /** Handed to a commit: further writes go to a copy. */
  sealed: boolean;
}

/**
 * Makes everything written so far durable: every device's segments and the metadata WAL, synced
 * at once. The order between the two does not matter: flush wrote the shards (write(2)) before
 * it committed the metadata that points at them, so after a kill -9 the page cache holds both;
 * and the kernel writes either back whenever it likes anyway. What an fsync, COMMIT, FLUSH or
 * SYNCHRONIZE CACHE promises is that both are on disk when it is answered.
 */
export async function syncAll(blocks: BlockStore, kv: { sync(): Promise<void> }): Promise<void> {
  await Promise.all([blocks.sync(), kv.sync()]);
}

const EMPTY = Buffer.alloc(0);

/**
 * Bytes of record buffers held by all open files together before a writer must store its
 * earliest written records (the order commits keep): the write-back budget, as ZFS's dirty data limit (there 10%
 * of RAM, at most 4 GiB; here 5%, at most 1 GiB). Random writes into records already written
 * stay in memory until then, or until flush, fsync or close, instead of storing a whole record
 * per write. DW_DIRTY_MIB overrides it.
 */
let DIRTY_BUDGET = (Number(process.env.DW_DIRTY_MIB) || Math.min(1024, Math.floor(totalmem() / 20 / 1048576))) * 1048576;
let dirtyBytes = 0;

/** Sets the write-back budget in bytes (tests); returns the previous one. */
export function setDirtyBudget(bytes: number): number {
  const old = DIRTY_BUDGET;
  DIRTY_BUDGET = bytes;
  return old;
}

/** Record buffer bytes held now by every open file (for tests and statistics). */
export function bufferedBytes(): number {
  return dirtyBytes;
}

/** Records loaded ahead of a sequential reader (4 MiB at the default record size). */
const READ_AHEAD = 4;

/**
 * Drop-behind: once a reader has streamed this many bytes of a file in order, each record it
 * reads to the end leaves the block cache if a read loaded it (BlockStore.dropBehind), so that a
 * long read reuses a few record buffers instead of filling the cache with bytes read once and
 * touching new memory for each (a cold 200 MiB NFS read: docs/benchmarks.md, 2026-12-01).
 */
const DROP_BEHIND_BYTES = 32 << 20;

/**
 * How many records of one file the block store works on at once: at least MAX_INFLIGHT, and 8 MiB
 * of small ones, up to 128. (8 rather than 4 for 1 MiB records: SMB3 puts of 200 MiB, our server
 * alone, medians of 15 alternating 454 → 487 MiB/s plain, of 9 351 → 361 encrypted; NFS writes the
 * same; 16 no better than 8. docs/benchmarks.md, 2026-12-01. For a volume's 64 KiB records 128
 * rather than 16: the more records' shards reach the devices in one turn of the event loop, the
 * fewer appends and thread-pool jobs they take; 1 GiB iSCSI writes 124–149 → 151–201 MiB/s, server
 * CPU 7.6–9.5 → 5.9–7.7 s, 2026-12-02.)
 */
const MAX_INFLIGHT = 8;
const INFLIGHT_BYTES = 8 << 20;
const MAX_INFLIGHT_SMALL = 128;
/** Bytes of sealed records one open file may queue for the block store before its writer waits (within the write-back budget). */
const QUEUE_BYTES = 32 << 20;

/**
 * Records of `recordSize` bytes of one open file the block store encodes and writes at once (a
 * volume's 64 KiB records: 128, so that their appends and commits can be grouped; 1 MiB records:
 * 8). Over the write-back budget a writer waits while more than these are queued, so buffered
 * bytes pass the budget by about this many records.
 */
export function inflightWindow(recordSize: number): number {
  return Math.max(MAX_INFLIGHT, Math.min(MAX_INFLIGHT_SMALL, Math.floor(INFLIGHT_BYTES / recordSize)));
}
/** Most records committed in one metadata transaction (group commit). */
const MAX_GROUP = 64;

/**
 * Records of at most this many bytes and shorter than a whole record (a file of a few KiB, a
 * large file's short last record) are kept in their extent row (vfs/meta/inode.ts Extent
 * `inline`) instead of as a block: their bytes commit with the metadata, one WAL write and one
 * fdatasync, where a block costs the parity, k+m shard appends and k+m more fdatasyncs (NFSv3
 * COMMIT of a 4 KiB file, one client: 1.49 ms as a block, 0.83 ms in its row; docs/benchmarks.md,
 * 2026-12-01). One page: larger records gain less and would grow the metadata store. Not for
 * block volumes (whole records always), dedup files (their chunks are the point) nor encrypted
 * pools (the metadata store holds no data in clear).
 */
export const INLINE_MAX = 4096;

/** A record's bytes kept in its extent row (putRecord of a record of at most the file's inlineMax bytes). */
interface StagedInline { inline: Buffer }
/** What putRecord gives commitRecord: a block, a dedup record's chunks, or the bytes themselves. */
type Staged = StagedBlock | StagedChunks | StagedInline;

/** A record handed to the block store, waiting for its commit. */
interface PendingCommit {
  idx: number;
  rec: Rec;
  /** The record's bytes as sealed. */
  data: Buffer;
  staged: Promise<Staged>;
  /** The put has settled (resolved or failed). */
  ready: boolean;
  mtime: bigint;
  /** Resolves the record's entry in `inflight` (committed, or failed into the file's error). */
  settle: () => void;
}

/**
 * The write buffer of one open file (ARCHITECTURE.md "Data path"): writes land in whole-record
 * buffers (read-modify-write of a partly written record, as ZFS does); a full record is encoded
 * and stored at once in the background, the rest on flush. Each record's extent, the block's row,
 * the file's size and mtime commit in one metadata transaction, in write order.
 */
export class OpenFile {
  handles = 0;
  /** Opened for writing under a retention directory: seal it when the last handle closes. */
  sealOnClose = false;
  /** The file's own compression setting (vfs/compression.ts); undefined: the pool's. */
  compress: Compression | undefined;
  /**
   * Deduplicate this file's records: cut into content-defined chunks, each looked up by content
   * (issue 5). The file's own setting (its inode's, from its directory); undefined: the pool's.
   */
  dedup: boolean | undefined;
  private recs = new Map<number, Rec>();
  /**
   * How many of `recs` are not sealed yet. A streaming writer's map holds hundreds of sealed
   * records waiting for the block store (QUEUE_BYTES of 64 KiB volume records: about 500), and
   * each record it fills looked through all of them for an unsealed one to store first.
   */
  private unsealed = 0;
  /**
   * Records being loaded by a write (read-modify-write), with the commits of that record seen
   * meanwhile: a load that raced a commit of its record read bytes that may be stale, and is
   * done again (see loadForWrite).
   */
  private loading = new Map<number, { waiters: number; commits: number }>();
  /** Size including buffered writes. */
  size: number;
  private mtimeNs: bigint | null = null;
  /**
   * The size in the metadata as far as this object knows (at open, then what each commit wrote):
   * flush skips a transaction that would change nothing, and a failed record rolls back to it.
   */
  private committedSize: number;
  private committedMtime: bigint | null = null;
  /** One promise per queued record, settled (committed or failed) in queue order. */
  private inflight: Promise<void>[] = [];
  /** Records stored and waiting for their commit, in order (commitLoop). */
  private queue: PendingCommit[] = [];
  private committing = false;
  /** Bytes of the queued records (sealed, not committed yet). */
  private queuedBytes = 0;
  /** Puts of queued records not started yet (at most inflightWindow run at once), and how many run. */
  private waitingPuts: (() => void)[] = [];
  private puts = 0;
  private error: VfsError | null = null;

  /**
   * `inlineMax`: records of at most this many bytes are kept in their extent row, not stored as
   * blocks (INLINE_MAX; 0: never — block volumes, encrypted pools).
   */
  constructor(readonly ino: number, readonly recordSize: number, committedSize: number, private readonly meta: MetaStore, private readonly blocks: BlockStore, private readonly inlineMax = 0) {
    this.size = committedSize;
    this.committedSize = committedSize;
  }

  /** Bytes in record buffers not committed yet (statfs counts them as used, as ext4 reserves delayed allocations). */
  get pendingBytes(): number {
    let n = 0;
    for (const r of this.recs.values()) n += r.len;
    return n;
  }

  /** Indexes of the records held in write buffers (not committed yet): data that no extent shows. */
  get bufferedRecords(): number[] {
    return [...this.recs.keys()];
  }

  get dirty(): boolean {
    return this.recs.size > 0 || this.inflight.length > 0 || this.mtimeNs !== null;
  }

  /** Pending mtime for getattr while writes are buffered. */
  get pendingMtime(): bigint | null {
    return this.mtimeNs;
  }

  /** The committed bytes of record idx, to be read only (the caller copies them into a record buffer). */
  private async loadRecord(idx: number): Promise<Buffer> {
    const v = await this.meta.kv.get(keys.extent(this.ino, idx * this.recordSize));
    if (!v) return Buffer.alloc(0);
    const e = decodeExtent(v);
    if (e.inline) return e.inline; // a view of the row: read only, as said
    if (!e.chunks) {
      const data = await this.blocks.get(e.blockId);
      return data.subarray(0, Math.min(e.length, data.length));
    }
    const out = Buffer.alloc(e.length);
    await this.readChunks(e, 0, e.length, out, 0);
    return out;
  }

  /**
   * Copies bytes [from, from+n) of a chunked extent into out at dst, reading the blocks it spans
   * in parallel; returns the bytes copied (none past the extent's length). Chunks that lie one
   * after the other in the same block (a record stored once: all of them) are read as one run.
   * n = 0 is a read-ahead: every block from `from` on is loaded into the block cache, nothing copied.
   */
  private async readChunks(e: Extent, from: number, n: number, out: Buffer, dst: number): Promise<number> {
    const end = Math.min(from + n, e.length);
    const reads: Promise<number>[] = [];
    const ahead = new Set<number>();
    let at = 0;
    for (const c of runs(e.chunks!)) {
      const cEnd = at + c.length;
      if (n === 0) {
        if (cEnd > from && !ahead.has(c.blockId)) {
          ahead.add(c.blockId);
          reads.push(this.blocks.readInto(c.blockId, 0, 0, EMPTY, 0));
        }
      } else if (cEnd > from && at < end) {
        const a = Math.max(from, at), b = Math.min(end, cEnd);
        reads.push(this.blocks.readInto(c.blockId, c.offset + a - at, b - a, out, dst + a - from));
      }
      at = cEnd;
      if (n > 0 && at >= end) break;
    }
    let got = 0;
    for (const g of await Promise.all(reads)) got += g;
    return got;
  }

  /** A truncate under way (resizing): writes wait for it. */
  private gate: Promise<void> | undefined;
  /** Writes under way, and the truncates waiting for them to end. */
  private writing = 0;
  private idle: (() => void)[] = [];

  /**
   * Runs `fn` (a truncate committed by the MetaStore, which then calls truncated()) with every
   * buffered record committed first, no write of this file in progress and none starting until
   * it ends: a write whose read-modify-write loaded a record before the truncate would otherwise
   * buffer the old bytes past the new size and commit them after it.
   */
  async resizing<T>(fn: () => Promise<T>): Promise<T> {
    while (this.gate) await this.gate;
    let open!: () => void;
    this.gate = new Promise<void>((r) => { open = r; });
    try {
      while (this.writing > 0) await new Promise<void>((r) => this.idle.push(r));
      await this.flush();
      return await fn();
    } finally {
      this.gate = undefined;
      open();
    }
  }

  /** Writes data at offset into record buffers; stores full records in the background. */
  async write(offset: number, data: Uint8Array): Promise<void> {
    while (this.gate) await this.gate;
    this.writing++;
    try {
      await this.writeNow(offset, data);
    } finally {
      if (--this.writing === 0) for (const wake of this.idle.splice(0)) wake();
    }
  }

  private async writeNow(offset: number, data: Uint8Array): Promise<void> {
    if (this.error) throw this.error;
    if (offset < 0 || !Number.isSafeInteger(offset)) throw new VfsError(Errno.EINVAL, 'bad offset');
    if (offset + data.length > MAX_FILE_SIZE) throw new VfsError(Errno.EFBIG, 'file too large');
    if (data.length === 0) return;
    // Growing a record past the owner's room under a hard byte quota, counting what the buffered
    // records already grow, is refused here (EDQUOT, after the records before it in this write),
    // not only when the record is stored later: a client that never asks again (an NFS client
    // ignoring COMMIT's status, a program not checking close) learns it from the write itself.
    // The charge at commit still decides.
    const room = await this.meta.writeRoom(this.ino);
    const rs = this.recordSize;
    let pos = 0;
    while (pos < data.length) {
      const at = offset + pos;
      const idx = Math.floor(at / rs);
      const inRec = at - idx * rs;
      const n = Math.min(rs - inRec, data.length - pos);
      let rec = this.recs.get(idx);
      let made = false;
      if (!rec || rec.sealed) {
        // Nothing to load for a whole-record write, or for a record wholly past the end of the file
        // (no extent lies at or past the committed size, which is never above this.size).
        const fresh = (inRec === 0 && n === rs) || idx * rs >= this.size;
        const loaded = rec ? rec.buf.subarray(0, rec.len) : fresh ? Buffer.alloc(0) : await this.loadForWrite(idx);
        // A concurrent write may have created the record while we loaded it; if that one is
        // sealed already (filled and being stored), its bytes are newer than what we loaded.
        const again = this.recs.get(idx);
        const base = again && again !== rec ? again.buf.subarray(0, again.len) : loaded;
        if (again && !again.sealed) rec = again;
        else {
          // Unzeroed: bytes past rec.len are never read, and a gap is zeroed when a write skips ahead.
          // Past the first record the file is a big one: take a whole record at once (growing by
          // doubling from 64 KiB would copy nearly a record more per record).
          const buf = idx > 0 ? takeSpare(rs) : Buffer.allocUnsafe(Math.max(base.length, Math.min(rs, inRec + n)));
          base.copy(buf);
          // Its committed length, for the quota room it needs: what was loaded, or for a record
          // overwritten whole the most it can have (an extent never passes the committed size).
          const had = rec || !fresh ? base.length : Math.min(rs, Math.max(0, this.committedSize - idx * rs));
          rec = { buf, len: base.length, base: had, sealed: false };
          this.setRec(idx, rec);
          made = true;
        }
      }
      const need = inRec + n;
      const adds = need - Math.max(rec.len, rec.base);
      if (adds > 0 && room !== Infinity && this.pendingGrowth + adds > room) {
        const want = this.pendingGrowth + adds;
        if (made) this.dropRec(idx); // nothing written into it: it must not be stored
        if (pos > 0) this.wrote(offset + pos);
        throw new VfsError(Errno.EDQUOT, `quota exceeded: ${Math.max(0, room)} bytes left for the file's owner, the buffered writes need ${want}`);
      }
      if (need > rec.buf.length) {
        const grown = Buffer.allocUnsafe(Math.min(rs, Math.max(need, rec.buf.length * 2)));
        rec.buf.copy(grown, 0, 0, rec.len);
        dirtyBytes += grown.length - rec.buf.length;
        rec.buf = grown;
      }
      if (inRec > rec.len) rec.buf.fill(0, rec.len, inRec);
      copyBytes(data.subarray(pos, pos + n), rec.buf, inRec); // data's alignment is the protocol's: see copyBytes
      const filled = need === rs && (rec.len < rs || pos > 0 || offset === this.nextWrite);
      rec.len = Math.max(rec.len, need);
      pos += n;
      // A record that this write filled, or that a sequential writer reached the end of (a
      // streaming writer), is stored at once, after the records buffered before it (commits go
      // in the order records were first written). One rewritten here and there (a random
      // writer) stays buffered for the next write to it.
      if (filled) {
        // (rec is in the map and unsealed: with no other unsealed record nothing goes before it.)
        if (this.unsealed > 1) {
          for (const [i, r] of this.recs) {
            if (r === rec) break;
            if (!r.sealed) await this.store(i, r);
          }
        }
        await this.store(idx, rec);
      }
    }
    this.wrote(offset + data.length);
    // Over the write-back budget: store this file's records, first written first.
    for (const [idx, rec] of this.recs) {
      if (dirtyBytes <= DIRTY_BUDGET) break;
      if (!rec.sealed) await this.store(idx, rec);
    }
  }

  /**
   * The committed bytes of record idx for a read-modify-write. A commit of that record landing
   * while it is read (another write filled and stored it meanwhile) may make what was read
   * stale: then it is read again.
   */
  private async loadForWrite(idx: number): Promise<Buffer> {
    let w = this.loading.get(idx);
    if (!w) this.loading.set(idx, (w = { waiters: 0, commits: 0 }));
    w.waiters++;
    try {
      for (;;) {
        const seen = w.commits;
        const data = await this.loadRecord(idx);
        if (w.commits === seen) return data;
      }
    } finally {
      if (--w.waiters === 0) this.loading.delete(idx);
    }
  }

  /** After bytes up to `end` were written into the buffers. */
  private wrote(end: number): void {
    this.size = Math.max(this.size, end);
    this.mtimeNs = nowNs();
    this.nextWrite = end;
  }

  /** Bytes the buffered records add to the file's allocation when committed (quota room they need). */
  private get pendingGrowth(): number {
    let n = 0;
    for (const r of this.recs.values()) n += Math.max(0, r.len - r.base);
    return n;
  }

  /** Where the last write ended (a write starting there is sequential). */
  private nextWrite = -1;

  private setRec(idx: number, rec: Rec): void {
    const old = this.recs.get(idx);
    if (old) {
      dirtyBytes -= old.buf.length;
      if (!old.sealed) this.unsealed--;
      this.recs.delete(idx); // to the end: the order is the order of first writes
    }
    dirtyBytes += rec.buf.length;
    if (!rec.sealed) this.unsealed++;
    this.recs.set(idx, rec);
  }

  private dropRec(idx: number): void {
    const old = this.recs.get(idx);
    if (!old) return;
    dirtyBytes -= old.buf.length;
    if (!old.sealed) this.unsealed--;
    this.recs.delete(idx);
  }

  /**
   * Reads [offset, offset+length) clamped to the size, through the buffers, holes as zeros.
   * Without `into`, a range in one stored record comes back as a view of the cached block
   * (BlockStore.view): shared, never to be modified. With `lent` such a view is lent instead
   * (BlockStore.lend): read sets `lent.giveBack`, which the caller calls when done with it.
   */
  async read(offset: number, length: number, into?: Buffer, lent?: Partial<Lent>): Promise<Buffer> {
    if (offset < 0 || length < 0) throw new VfsError(Errno.EINVAL, 'bad offset or length');
    const end = Math.min(this.size, offset + length);
    if (end <= offset) return Buffer.alloc(0);
    const rs = this.recordSize;
    // Sequential reading: this read starts near where the last one ended (the kernel's read-ahead
    // sends several requests at once, not always in order). Far enough into such a run, records
    // read to their end drop behind.
    const sequential = Math.abs(offset - this.nextRead) <= READ_AHEAD * rs;
    if (!sequential) this.runFrom = offset;
    const drop = sequential && end - this.runFrom > DROP_BEHIND_BYTES;
    // Within one stored record and no buffer given: the block's own bytes, uncopied (BlockStore.view).
    const first = Math.floor(offset / rs);
    const shared = !into && first === Math.floor((end - 1) / rs) && !this.recs.has(first) ? this.viewRecord(first, offset - first * rs, end - offset, lent, drop) : undefined;
    const out = shared ? EMPTY : into && into.length >= end - offset ? into.subarray(0, end - offset) : Buffer.allocUnsafe(end - offset); // every byte below is copied or zeroed
    const loads: Promise<void>[] = [];
    for (let at = shared ? end : offset; at < end; ) {
      const idx = Math.floor(at / rs);
      const inRec = at - idx * rs;
      const n = Math.min(rs - inRec, end - at);
      const dst = at - offset;
      const rec = this.recs.get(idx);
      if (rec) {
        const got = inRec < rec.len ? copyBytes(rec.buf.subarray(inRec, Math.min(rec.len, inRec + n)), out, dst) : 0;
        if (got < n) out.fill(0, dst + got, dst + n);
      } else {
        loads.push(this.readRecord(idx, inRec, n, out, dst, drop));
      }
      at += n;
    }
    // Sequential reading: load the next records into the block cache now, so that they are
    // ready when asked for (FUSE and SFTP read in pieces).
    if (sequential && end < this.size) {
      const last = Math.min(Math.floor((end - 1) / rs) + READ_AHEAD, Math.ceil(this.size / rs) - 1);
      for (let next = Math.max(this.prefetched + 1, Math.floor((end - 1) / rs) + 1); next <= last; next++) {
        this.prefetched = next;
        if (!this.recs.has(next)) void this.readRecord(next, 0, 0, EMPTY, 0).catch(() => undefined);
      }
    } else if (end > offset) {
      this.prefetched = Math.floor((end - 1) / rs); // a jump: read ahead from here next time
    }
    this.nextRead = end;
    if (shared) {
      const view = await shared;
      if (view) return view;
      // Not a plain stored range (a hole, a dedup record, bytes past the extent): copy as usual.
      return this.read(offset, end - offset, Buffer.allocUnsafe(end - offset));
    }
    await Promise.all(loads);
    return out;
  }

  /**
   * Bytes [inRec, inRec+n) of stored record idx as a view of the block store's cached block
   * (shared: never to be modified), or undefined when they are not one plain block's bytes.
   */
  private async viewRecord(idx: number, inRec: number, n: number, lent?: Partial<Lent>, drop = false): Promise<Buffer | undefined> {
    const v = await this.meta.kv.get(keys.extent(this.ino, idx * this.recordSize));
    if (!v) return undefined;
    const e = decodeExtent(v);
    if (e.chunks || e.inline || inRec + n > e.length) return undefined;
    if (!lent) return (await this.blocks.view(e.blockId)).subarray(inRec, inRec + n);
    const l = await this.blocks.lend(e.blockId); // BlockStore.lend: the caller gives it back (read's `lent`)
    lent.giveBack = l.giveBack;
    if (drop && inRec + n >= e.length) this.blocks.dropBehind(e.blockId); // reused once given back
    return l.data.subarray(inRec, inRec + n);
  }

  /** Where the last read ended, and the record last read ahead (sequential read-ahead). */
  private nextRead = -1;
  private prefetched = -1;
  /** Where the current run of sequential reads started (drop-behind). */
  private runFrom = 0;

  /**
   * Copies n bytes of record idx from inRec into out at dst (bytes past the extent, or a hole,
   * are zeros). `drop`: a stored block read to its end drops behind (BlockStore.dropBehind).
   */
  private async readRecord(idx: number, inRec: number, n: number, out: Buffer, dst: number, drop = false): Promise<void> {
    const v = await this.meta.kv.get(keys.extent(this.ino, idx * this.recordSize));
    let got = 0;
    if (v) {
      const e = decodeExtent(v);
      // (n = 0: a read-ahead: the block store loads and caches the block, copying nothing.)
      if (e.inline) got = inRec < e.length ? copyBytes(e.inline.subarray(inRec, Math.min(e.length, inRec + n)), out, dst) : 0;
      else if (e.chunks) got = await this.readChunks(e, inRec, n, out, dst);
      else if (inRec < e.length) {
        got = await this.blocks.readInto(e.blockId, inRec, Math.min(n, e.length - inRec), out, dst);
        if (drop && n > 0 && inRec + n >= e.length) this.blocks.dropBehind(e.blockId); // copied out already
      }
    }
    if (got < n) out.fill(0, dst + got, dst + n);
  }

  /**
   * Seals a record and queues its store + commit. The block store works on at most
   * inflightWindow records of the file at once; more wait in the queue, so that a writer sending
   * one request at a time (qemu-img convert over iSCSI: one 2 MiB WRITE after the other) gets its
   * answer once the bytes are buffered, not after their records are stored. The writer waits when
   * the queue holds QUEUE_BYTES, or, over the write-back budget, more than the window.
   */
  private async store(idx: number, rec: Rec): Promise<void> {
    // Sealed already (a flush, or another write that filled it, stored it while this caller
    // waited for the records before it): storing it again would commit its bytes a second
    // time, after records written since, and undo them.
    if (rec.sealed) return;
    rec.sealed = true;
    if (this.recs.get(idx) === rec) this.unsealed--;
    const data = rec.buf.subarray(0, rec.len);
    let settle!: () => void;
    const done = new Promise<void>((r) => { settle = r; });
    let started!: (s: Staged) => void, failed!: (err: unknown) => void;
    const staged = new Promise<Staged>((res, rej) => { started = res; failed = rej; });
    staged.catch(() => undefined);
    const p: PendingCommit = { idx, rec, data, staged, ready: false, mtime: this.mtimeNs ?? nowNs(), settle };
    this.queue.push(p);
    this.queuedBytes += data.length;
    this.waitingPuts.push(() => {
      this.puts++;
      this.putRecord(data).then(started, failed).finally(() => {
        p.ready = true;
        this.puts--;
        this.startPuts();
      });
    });
    this.startPuts();
    if (!this.committing) {
      this.committing = true;
      void this.commitLoop();
    }
    this.inflight.push(done);
    done.finally(() => {
      this.queuedBytes -= data.length;
      // Records settle in queue order, so this one is found first (a filter of the whole array,
      // which holds hundreds of a volume's records, cost a new array per record).
      const i = this.inflight.indexOf(done);
      if (i >= 0) this.inflight.splice(i, 1);
    });
    const window = inflightWindow(this.recordSize);
    while (this.inflight.length > window && (this.queuedBytes > QUEUE_BYTES || dirtyBytes > DIRTY_BUDGET)) await this.inflight[0];
  }

  /** Starts queued puts while fewer than the window run. */
  private startPuts(): void {
    const window = inflightWindow(this.recordSize);
    while (this.puts < window && this.waitingPuts.length) this.waitingPuts.shift()!();
  }

  /**
   * Commits queued records in the order they were stored, as they finish storing: the first
   * one when its put resolves, together with every one after it whose put has resolved too, in
   * one metadata transaction (group commit: with small records the commit of each alone, one
   * after the other, was the limit). A group that fails is committed again one record per
   * transaction, so an error (EDQUOT, ENOSPC, EIO) or a retry (EAGAIN) lands on the record it
   * belongs to and the records before it commit as they would alone.
   */
  private async commitLoop(): Promise<void> {
    while (this.queue.length) {
      const first = this.queue[0]!;
      await first.staged.catch(() => undefined);
      let n = 1;
      while (n < this.queue.length && n < MAX_GROUP && this.queue[n]!.ready) n++;
      const group = this.queue.splice(0, n);
      if (group.length > 1 && !this.error && (await this.commitGroup(group))) continue;
      for (const p of group) await this.commitOne(p);
    }
    this.committing = false;
  }

  /** One transaction for every record of the group; false (nothing committed) when any part fails. */
  private async commitGroup(group: PendingCommit[]): Promise<boolean> {
    try {
      await this.commitTxn(group, await Promise.all(group.map((p) => p.staged)));
      return true;
    } catch {
      return false;
    }
  }

  /** Commits one record alone (putting it again on EAGAIN); a failure becomes the file's error. */
  private async commitOne(p: PendingCommit): Promise<void> {
    try {
      // After a failed record, later ones must not commit: the file would get a hole where the
      // refused data should be. They are dropped with the rest at the next flush.
      if (this.error) return;
      for (let attempt = 1; ; attempt++) {
        const parts = await p.staged;
        try {
          await this.commitTxn([p], [parts]);
          return;
        } catch (err) {
          // EAGAIN: a dedup hit's block lost its last reference between put and commit, or the
          // block was sealed with a data key a reencrypt is retiring: store it again.
          if (!(err instanceof VfsError && err.errno === Errno.EAGAIN) || attempt >= 3) throw err;
          p.staged = this.putRecord(p.data);
        }
      }
    } catch (err) {
      this.error ??= err instanceof VfsError ? err : new VfsError(Errno.EIO, String(err));
    } finally {
      p.settle();
    }
  }

  /**
   * Commits the records (`staged`: their puts' results, in order) in one metadata transaction
   * with the file's size and mtime, then hands each record's buffer on (committed). Throws what
   * the transaction throws, having committed nothing.
   */
  private async commitTxn(group: PendingCommit[], staged: Staged[]): Promise<void> {
    let size = 0;
    await this.meta.txn(async (m) => {
      const n = await m.mustInode(this.ino, Errno.ESTALE);
      // The extents the records replace, read in one go (setExtent reads each; one read after
      // the other was most of a group's time with a volume's small records).
      const olds = group.filter((p) => p.idx * this.recordSize < n.size).map((p) => keys.extent(this.ino, p.idx * this.recordSize));
      if (olds.length > 1) await m.tx.getMany(olds);
      for (let i = 0; i < group.length; i++) await this.commitRecord(m, n, group[i]!, staged[i]!);
      m.putInode(n);
      size = n.size;
    });
    this.committedSize = size;
    this.committedMtime = group[group.length - 1]!.mtime;
    for (let i = 0; i < group.length; i++) this.committed(group[i]!, staged[i]!);
  }

  /** In a transaction: the record's block (or chunks) referenced, its extent set, size and times moved on `n` (put by the caller). */
  private async commitRecord(m: MetaTxn, n: Inode, p: PendingCommit, parts: Staged): Promise<void> {
    // The new references first (the block's row, or a dedup record's chunks): setExtent
    // then releases what the record held before, and a block in both keeps its count.
    let e: Extent;
    if ('inline' in parts) {
      e = { blockId: 0, length: p.rec.len, flags: EXTENT_INLINE, inline: parts.inline };
      await m.refAll(e); // the row's bytes counted (inlineBytes), as a block's commit counts it
    } else if ('chunks' in parts) {
      const chunks: Chunk[] = await this.blocks.commitChunks(parts, m.tx);
      e = { blockId: chunks[0]!.blockId, length: p.rec.len, flags: 0, chunks };
    } else {
      await this.blocks.commit(parts, m.tx);
      e = { blockId: parts.id, length: p.rec.len, flags: 0 };
    }
    await m.setExtent(n, p.idx * this.recordSize, e);
    n.size = Math.max(n.size, p.idx * this.recordSize + p.rec.len);
    n.mtimeNs = n.ctimeNs = p.mtime;
  }

  /** After the record's commit: the buffer leaves the write-back set, to the block cache or the spares. */
  private committed(p: PendingCommit, parts: Staged): void {
    const w = this.loading.get(p.idx);
    if (w) w.commits++; // a write loading this record meanwhile may have read the old bytes
    const current = this.recs.get(p.idx) === p.rec;
    if (current) this.dropRec(p.idx);
    // Nothing else holds the buffer now: the block store copied it in put(), reads copy out
    // synchronously, a later write to this record starts from the committed block, and a write
    // after the seal went to a copy. Its bytes are the block's: they go to the block cache (a
    // file read back soon after it was written is answered from memory; evicted unseen, the
    // buffer comes back as a spare for a later record), or, for a record cut into dedup chunks
    // or kept inline, straight back to the spare buffers (raid/spare.ts).
    if ('id' in parts) this.blocks.adopt(parts.id, p.rec.buf.subarray(0, p.rec.len));
    else if (current) giveSpare(p.rec.buf);
    p.settle();
  }

  /**
   * Puts one record's bytes: one block, or with dedup on through BlockStore.putChunks (cut into
   * content-defined chunks: known ones referenced, new ones stored as one block); a record short
   * of a whole one and of at most inlineMax bytes is only copied, for its extent row.
   */
  private putRecord(data: Buffer): Promise<Staged> {
    const dedup = this.dedup ?? this.blocks.dedup;
    // Only a record shorter than a whole one (a whole record of a small record size stays a
    // block). A copy: the record's buffer goes back to the spares once committed.
    if (!dedup && data.length > 0 && data.length <= this.inlineMax && data.length < this.recordSize) return Promise.resolve({ inline: Buffer.from(data) });
    const opts = this.compress && { compress: this.compress };
    return dedup && data.length > 0 ? this.blocks.putChunks(data, opts) : this.blocks.put(data, opts);
  }

  /**
   * Stores every buffered record and commits the size and mtime; resolves when all of it is
   * committed (survives kill -9). Throws the first error of a background store (EIO, ENOSPC…).
   */
  async flush(): Promise<void> {
    for (const [idx, rec] of [...this.recs]) if (!rec.sealed) await this.store(idx, rec);
    await this.inflight[this.inflight.length - 1]; // the last to settle: records commit in order
    if (this.error) {
      // A record failed (EDQUOT, ENOSPC, EIO): nothing buffered is kept, so the file stays as
      // last committed — never grown over a hole where the refused data would have been.
      const e = this.error;
      this.error = null;
      for (const idx of [...this.recs.keys()]) this.dropRec(idx);
      this.size = this.committedSize;
      this.mtimeNs = null;
      throw e;
    }
    if (this.mtimeNs !== null) {
      const size = this.size, mtime = this.mtimeNs;
      if (size > this.committedSize || mtime !== this.committedMtime) {
        await this.meta.txn(async (m) => {
          const n = await m.mustInode(this.ino, Errno.ESTALE);
          if (size > n.size) n.size = size;
          n.mtimeNs = n.ctimeNs = mtime;
          m.putInode(n);
          this.committedSize = n.size;
          this.committedMtime = mtime;
        });
      }
      if (this.mtimeNs === mtime && this.recs.size === 0) this.mtimeNs = null;
    }
  }

  /** After the MetaStore committed a larger size itself (a copy by block reference). */
  grown(size: number): void {
    this.size = Math.max(this.size, size);
    this.committedSize = Math.max(this.committedSize, size);
  }

  /**
   * After a truncate committed by the MetaStore: sets the sizes, nothing else. Buffered records
   * are not touched, so the caller flushes first and keeps writes out until this ran
   * (resizing does both; vfs/volumes.ts resize holds a volume's writes, holdChanges); a write
   * buffered in between would commit past the new size and grow the file back.
   */
  truncated(size: number): void {
    this.size = size;
    this.committedSize = size;
  }
}

/** A chunk list with the chunks that continue each other in one block merged into runs. */
function runs(chunks: readonly Chunk[]): Chunk[] {
  const out: Chunk[] = [];
  for (const c of chunks) {
    const last = out[out.length - 1];
    if (last && last.blockId === c.blockId && last.offset + last.length === c.offset) last.length += c.length;
    else out.push({ ...c });
  }
  return out;
}
