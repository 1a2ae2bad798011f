import { Errno, VfsError } from '../vfs/errno.js';
import type { KvStore, KvTxn } from '../vfs/meta/kv.js';
import { keys, prefixEnd } from '../vfs/meta/keys.js';
import { ABSENT, type BlockRow, decodeRow, encodeRow, isPacked, type ShardPlace } from './blocktable.js';
import { Lease } from './lease.js';
import { type Codec, type CodecParams, encodeBlock } from './codec.js';
import { type Compression, formatCompression, OFF, packSpec } from './compress.js';
import { CRYPT_OVERHEAD } from './crypt.js';
import type { Device } from './device.js';
import { decodeShardHeader, encodeShardHeader, SHARD_HEADER_BYTES, shardSizeFor, MAX_SHARD_BYTES } from './format.js';
import { type PoolLayout, recoverable } from './layout.js';
import { ByteLru, copyRange } from './lru.js';
import { arenaTake, backingBytes, DEFAULT_CACHE_BYTES, giveSpare, RecordMap, recyclable } from './spare.js';
import { arenaOf } from './arena.js';
import { jobBufferBytes } from './codec-core.js';
import { reclaimPool, replacePoolDevice, scrubPool, poolStats } from './maintenance.js';
import type { Keyring, Secret } from './keys.js';
import { updatePoolState } from './poolstate.js';
import { commitChunks, dropIndexRows, putChunks } from './dedup.js';
import { unpackBlock } from './unpack.js';
import { reencryptPool, reencryptStatus, startReencrypt } from './reencrypt.js';
import { BlockFlags, type BlockId, type BlockStore, type Lent, type Slice, type StagedChunks, type PoolStats, type ProgressFn, type PutOptions, type ReencryptResult, type ReencryptStatus, type ScrubReport, type StagedBlock } from './types.js';

export interface Logger {
  info: (...args: any[]) => void;
  warn: (...args: any[]) => void;
  error: (...args: any[]) => void;
}

/** COUNTER.live's keys, by device × 2^32 + segment. */
const liveKeys = new Map<number, Buffer>();

export const COUNTER = {
  nextBlock: keys.counter('nextBlock'),
  nextSeg: keys.counter('nextSeg'),
  blocks: keys.counter('raid/blocks'),
  logical: keys.counter('raid/logical'),
  /**
   * Logical minus stored bytes of live blocks: what compression saved. Kept as a saving rather
   * than a stored total so pools from before compression (no such counter: 0) are right as they are.
   */
  saved: keys.counter('raid/saved'),
  /** Live bytes (shard records referenced by rows) in segment `seg` of device `dev`. (The same Buffer for the same pair: not to be modified.) */
  live: (dev: number, seg: number): Buffer => {
    const id = dev * 2 ** 32 + seg;
    let k = liveKeys.get(id);
    if (!k) {
      if (liveKeys.size >= 4096) liveKeys.clear(); // each block's commit asks for its k+m segments: recent ones suffice
      liveKeys.set(id, (k = keys.counter(`live/${dev}/${seg}`)));
    }
    return k;
  },
  livePrefix: keys.counter('live/'),
};

const EMPTY = Buffer.alloc(0);

/** How many lately committed block ids adopt() remembers (a writer adopts right after its commit). */
const ADOPTABLE = 4096;

/** Bytes of decoded blocks the block cache keeps by default (spare.ts, where the record arena is sized by it). */
export { DEFAULT_CACHE_BYTES } from './spare.js';


const ID_LEASE = 4096;
const SEG_LEASE = 16;

/** What the store knows of a piece of reusable record memory (an arena slot or a whole buffer). */
interface RecordState {
  /** Held by the block cache, which gives it back for reuse when it evicts it unlent. */
  cached: boolean;
  /** Let go of by the cache while lent: reused when the last lend comes back. */
  evicted: boolean;
  /** Lends out (BlockStore.lend, load's hand-over to its waiting callers). */
  loans: number;
  /** Read from the devices (load), not left by a write (adopt): what dropBehind lets go of. */
  loaded?: boolean;
}

interface Staged {
  row: BlockRow;
  at: number;
  /** Data key the block was sealed with (encrypted pools). */
  keyId?: number;
}

/** Result of reading a block's shards. */
export interface ReadResult {
  /** The whole job buffer; data is its first `length` bytes. Valid iff ok. */
  buf: Buffer;
  ok: boolean;
  /** Shards that verified. */
  good: boolean[];
  /** Shards rebuilt by the codec (data shards needed, plus `want`). */
  rebuilt: boolean[];
  sums: bigint[];
  /** Number of shards read from devices. */
  read: number;
  /** A data shard was not good, or a shard tried was unreadable or bad: worth a repair. */
  suspect: boolean;
}

export const recordBytes = (row: { shardSize: number }) => SHARD_HEADER_BYTES + row.shardSize;
export const placed = (s: ShardPlace) => s.segment !== ABSENT;
/** The layout a row was written with (normally the pool's). */
export const layoutOf = (row: BlockRow): PoolLayout => ({ name: `${row.kind}:${row.k}+${row.m}`, kind: row.kind, k: row.k, m: row.m, devices: row.k + row.m });
const samePlace = (a: ShardPlace, b: ShardPlace) => a.device === b.device && a.segment === b.segment && a.offset === b.offset;

/**
 * The erasure-coded block store over device folders (issue 2, "Block store"). See raid/README.md
 * for the on-disk format, rows, degraded behaviour and repair. Created by openPool().
 */
export class RaidBlockStore implements BlockStore {
  readonly cache: ByteLru<BlockId, Buffer>;
  readonly staged = new Map<BlockId, Staged>();
  /** Segments compacted away ("dev/seg"): a staged row naming one can no longer commit. */
  readonly deadSegments = new Set<string>();
  task: PoolStats['task'];
  readonly ids: Lease;
  readonly segs: Lease;
  private repairQueue = new Set<BlockId>();
  private repairing: Promise<void> | undefined;
  private closed = false;
  /** Serializes maintenance (scrub, replace, reclaim, reencrypt) with each other. */
  private maint: Promise<unknown> = Promise.resolve();
  /** Set by close(): long work (the reencrypt walk) stops at the next block, to resume at the next open. */
  closing = false;
  /**
   * While a reencrypt walk runs (raid/reencrypt.ts): block ids below `frontier` were scanned, so a
   * block staged under a retiring data key with such an id may no longer commit (EAGAIN).
   */
  reenc: { frontier: number } | undefined;
  /** Pause after each block the reencrypt walk rewrites, ms (tests: DW_REENCRYPT_PAUSE_MS). */
  reencryptPauseMs = 0;

  constructor(
    readonly kv: KvStore,
    readonly layout: PoolLayout,
    readonly devices: Device[],
    readonly codec: Codec,
    readonly poolId: string,
    readonly log: Logger,
    opts: { cacheBytes?: number; stagedGraceMs?: number; compression?: Compression; dedup?: boolean; keys?: Keyring; reencryptPauseMs?: number } = {},
  ) {
    this.compression = opts.compression ?? OFF;
    this.dedup = opts.dedup ?? false;
    this.keys = opts.keys;
    this.dedupKey = opts.keys?.dedupKey;
    this.namesKey = opts.keys?.namesKey;
    // An adopted record that leaves the cache without anyone outside having seen it (view) goes
    // back to the spare buffers (spare.ts): a long upload then reuses the same memory.
    this.cache = new ByteLru(opts.cacheBytes ?? DEFAULT_CACHE_BYTES, (_id, data) => {
      const st = this.records.get(data);
      if (st?.cached) {
        st.cached = false;
        this.recycle(data, st);
      }
    });
    this.stagedGraceMs = opts.stagedGraceMs ?? 10 * 60_000;
    this.ids = new Lease(kv, COUNTER.nextBlock, ID_LEASE);
    this.reencryptPauseMs = opts.reencryptPauseMs ?? 0;
    this.segs = new Lease(kv, COUNTER.nextSeg, SEG_LEASE);
  }
  readonly stagedGraceMs: number;
  /** The pool's setting for new blocks (pool row); put()'s opts.compress overrides it. */
  compression: Compression;
  /** The pool's dedup setting (pool row): what files without a setting of their own do. */
  dedup: boolean;
  /** An encrypted pool's data keys (keys.ts): every block put is sealed with the current one. Undefined: plaintext pool. */
  readonly keys: Keyring | undefined;
  /** An encrypted pool's 32-byte key for sealing names in the metadata (keys.ts Keyring.namesKey); undefined for a plain pool. */
  readonly namesKey: Buffer | undefined;

  async setDedup(on: boolean): Promise<void> {
    this.check();
    await updatePoolState(this.kv, (s) => { s.dedup = on; });
    this.dedup = on;
  }

  private check(): void {
    if (this.closed) throw new VfsError(Errno.EIO, 'block store is closed');
  }

  params(row: { kind: PoolLayout['kind']; k: number; m: number; shardSize: number }): CodecParams {
    return { kind: row.kind, k: row.k, m: row.m, shardSize: row.shardSize };
  }

  /**
   * Encodes and writes the shards; see BlockStore.put. Shard j of block id goes to device
   * (j + id) mod n. A device that is missing or fails the write gets no shard (the row marks the
   * place ABSENT: a degraded write, fixed by scrub or replaceDevice) as long as the written
   * shards can still recover the block; otherwise EIO. ENOSPC from any device fails the put.
   */
  async put(data: Uint8Array, opts: PutOptions = {}): Promise<StagedBlock> {
    return this.putBlock(data, opts, BlockFlags.None);
  }

  /** put() with extra row flags (BlockFlags.Deduped for a dedup container, raid/dedup.ts). */
  async putBlock(data: Uint8Array, opts: PutOptions, extraFlags: number): Promise<StagedBlock> {
    this.check();
    const { k, m, kind } = this.layout;
    // An encrypted pool stores CRYPT_OVERHEAD bytes more per block (key id, nonce, tag: crypt.ts).
    const extra = this.keys ? CRYPT_OVERHEAD : 0;
    if (data.length + extra > 0xffffffff || shardSizeFor(data.length + extra, k) > MAX_SHARD_BYTES) {
      throw new VfsError(Errno.EFBIG, `block of ${data.length} bytes is too large`);
    }
    const id = await this.ids.take();
    const p: CodecParams = { kind, k, m, shardSize: shardSizeFor(data.length + extra, k) };
    // Compression and encryption run in the codec (a worker for the worker codec), before parity.
    const seal = this.keys ? { key: this.keys.key(this.keys.current)!, keyId: this.keys.current, blockId: id } : undefined;
    const { shards, sums, packed, scratch } = await encodeBlock(this.codec, p, data, packSpec(opts.compress ?? this.compression), seal);
    const { alg, stored, shardSize } = packed;
    const n = k + m;
    const flags = (alg ? BlockFlags.Compressed : BlockFlags.None) | (seal ? BlockFlags.Encrypted : BlockFlags.None) | extraFlags;
    const row: BlockRow = { kind, k, m, flags, alg, refs: 1, length: data.length, stored, shardSize, shards: [] };
    for (let j = 0; j < n; j++) row.shards.push({ device: (j + id) % n, segment: ABSENT, offset: 0, sum: sums[j]! });
    const unpins: (() => void)[] = [];
    const results = await Promise.allSettled(row.shards.map(async (s, j) => {
      const dev = this.devices[s.device]!;
      if (!dev.usable) return;
      const hdr = encodeShardHeader({ flags: row.flags, shardIndex: j, k, m, blockId: id, blockLength: stored, shardLength: shardSize, payloadSum: s.sum, alg });
      const at = await dev.append([hdr, shards[j]!]);
      s.segment = at.segment;
      s.offset = at.offset;
      unpins.push(at.unpin);
    }));
    if (scratch) this.codec.free(scratch); // every append has finished with the shards in it
    try {
      return this.finishPut(id, row, results, seal?.keyId);
    } finally {
      for (const u of unpins) u();
    }
  }

  private finishPut(id: BlockId, row: BlockRow, results: PromiseSettledResult<void>[], keyId: number | undefined): StagedBlock {
    let nospc: unknown;
    results.forEach((r, j) => {
      if (r.status === 'fulfilled') return;
      const dev = this.devices[row.shards[j]!.device]!;
      if (r.reason instanceof VfsError && r.reason.errno === Errno.ENOSPC) nospc = r.reason;
      else if (dev.state === 'online') {
        dev.state = 'faulted';
        this.log.error({ device: dev.index, err: String(r.reason) }, 'raid: device write failed; marked faulted');
      }
    });
    const written = row.shards.map(placed);
    if (nospc) {
      this.pin(id, row, 0); // the written shards are dead space; let reclaim take them at once
      throw nospc;
    }
    if (!recoverable(this.layout, written)) {
      this.pin(id, row, 0);
      throw new VfsError(Errno.EIO, `too few devices online to write a block (layout ${this.layout.name})`);
    }
    this.pin(id, row, Date.now(), keyId);
    const physical = written.filter(Boolean).length * recordBytes(row);
    return { id, length: row.length, physical, stored: row.stored };
  }

  private pin(id: BlockId, row: BlockRow, at: number, keyId?: number): void {
    this.staged.set(id, { row, at, ...(keyId !== undefined ? { keyId } : {}) });
  }

  /** Segments ("dev/seg") holding shards of staged blocks younger than the grace period. */
  pinnedSegments(now = Date.now()): Set<string> {
    const out = new Set<string>();
    for (const [id, s] of this.staged) {
      if (now - s.at > this.stagedGraceMs) {
        this.staged.delete(id);
        continue;
      }
      for (const p of s.row.shards) if (placed(p)) out.add(`${p.device}/${p.segment}`);
    }
    return out;
  }

  /**
   * Adds the live-byte counters of a row's placed shards (delta +1 or -1) and, for +1, their G
   * index rows. A freed block's G rows are left behind: compaction, the only reader of the index,
   * checks every row it finds against the block rows and drops the stale ones
   * (maintenance.ts dropStale), and deleting them here was 6 of the 15 keys a rewritten 64 KiB
   * record wrote (rs:4+2). The counters are added when the transaction ends (KvTxn.addCounter):
   * a group commit of many blocks in the same segments updates each once.
   */
  account(tx: KvTxn, id: BlockId, row: BlockRow, sign: 1 | -1): void {
    const rec = BigInt(recordBytes(row) * sign);
    for (const s of row.shards) {
      if (!placed(s)) continue;
      if (sign > 0) tx.set(keys.segIndex(s.device, s.segment, id), EMPTY);
      tx.addCounter(COUNTER.live(s.device, s.segment), rec);
    }
    tx.addCounter(COUNTER.blocks, BigInt(sign));
    tx.addCounter(COUNTER.logical, BigInt(row.length * sign));
    if (row.stored !== row.length) tx.addCounter(COUNTER.saved, BigInt((row.length - row.stored) * sign));
  }

  async setCompression(c: Compression): Promise<void> {
    this.check();
    const text = formatCompression(c);
    await updatePoolState(this.kv, (s) => { s.compression = text; });
    this.compression = c;
  }

  /** Secret keying content hashes (set by an encrypted pool), else undefined: plain SHA-256 (raid/dedup.ts). */
  dedupKey: Buffer | undefined;

  putChunks(data: Uint8Array, opts: PutOptions = {}, ends?: number[]): Promise<StagedChunks> {
    this.check();
    return putChunks(this, data, ends, opts);
  }

  commitChunks(staged: StagedChunks, txn: KvTxn): Promise<Slice[]> {
    this.check();
    return commitChunks(this, staged, txn);
  }

  async commit(staged: StagedBlock, txn: KvTxn, refs = 1): Promise<void> {
    this.check();
    const s = this.staged.get(staged.id);
    if (!s || s.at === 0) throw new VfsError(Errno.EIO, `block ${staged.id} is not staged (unknown, failed or expired)`);
    for (const p of s.row.shards) {
      if (placed(p) && this.deadSegments.has(`${p.device}/${p.segment}`)) {
        throw new VfsError(Errno.EIO, `block ${staged.id} expired: its segment was compacted`);
      }
    }
    // Sealed under a data key being retired by a reencrypt whose walk has passed this id (or
    // has finished): committing it would leave a block the walk never moves. Put it again.
    // The staged entry stays (its segments pinned until the grace period ends): this answer never
    // changes for it (the frontier only moves on), so a caller that tried it in a transaction of
    // several records and retries it alone (vfs/file.ts group commit) gets EAGAIN again, not EIO.
    if (s.keyId !== undefined && this.keys && s.keyId !== this.keys.current && !(this.reenc && staged.id >= this.reenc.frontier)) {
      throw new VfsError(Errno.EAGAIN, `block ${staged.id} was sealed with data key ${s.keyId}, which a reencrypt retires: put it again`);
    }
    txn.set(keys.block(staged.id), encodeRow(Object.assign({}, s.row, { refs })));
    this.account(txn, staged.id, s.row, 1);
    txn.onCommit(() => {
      this.staged.delete(staged.id);
      this.adoptable.add(staged.id);
      if (this.adoptable.size > ADOPTABLE) this.adoptable.delete(this.adoptable.values().next().value as BlockId);
    });
  }

  async ref(id: BlockId, txn: KvTxn): Promise<void> {
    this.check();
    const v = await txn.get(keys.block(id));
    if (!v) throw new VfsError(Errno.EIO, `block ${id} has no row`);
    const row = decodeRow(v, id);
    if (row.refs >= 0xffffffff) throw new VfsError(Errno.EMLINK, `block ${id} has too many references`);
    row.refs++;
    txn.set(keys.block(id), encodeRow(row));
  }

  async release(id: BlockId, txn: KvTxn): Promise<void> {
    this.check();
    const v = await txn.get(keys.block(id));
    if (!v) throw new VfsError(Errno.EIO, `block ${id} has no row`);
    const row = decodeRow(v, id);
    row.refs--;
    if (row.refs > 0) {
      txn.set(keys.block(id), encodeRow(row));
      return;
    }
    txn.delete(keys.block(id));
    if (row.flags & BlockFlags.Deduped) await dropIndexRows(txn, id);
    this.account(txn, id, row, -1);
    txn.onCommit(() => {
      this.cache.delete(id);
      this.adoptable.delete(id);
    });
  }

  async getRow(id: BlockId): Promise<BlockRow | undefined> {
    const v = await this.kv.get(keys.block(id));
    return v ? decodeRow(v, id) : undefined;
  }

  async sizes(id: BlockId): Promise<{ length: number; stored: number } | undefined> {
    const row = await this.getRow(id);
    return row && { length: row.length, stored: row.stored };
  }

  async get(id: BlockId): Promise<Buffer> {
    const hit = this.cached(id);
    return Buffer.from(hit ?? await this.fetch(id)); // a copy: callers may modify what they get
  }

  async readInto(id: BlockId, from: number, length: number, into: Buffer, at: number): Promise<number> {
    // A cache hit is copied at once: an adopted block may go back to the spares once evicted.
    const hit = this.cached(id);
    return copyRange(hit ?? await this.fetch(id), from, length, into, at);
  }

  /** See BlockStore.view: the cached bytes, never modified; callers copy what they change. */
  async view(id: BlockId): Promise<Buffer> {
    const data = this.cached(id) ?? await this.fetch(id);
    // Seen outside: whoever holds it may keep it (a reply being sent), so it is never reused (an
    // arena slot is then never given back; its memory goes with its arena: spare.ts, arena.ts).
    // Loans still out find their state neither cached nor evicted, and give nothing back.
    const st = this.records.get(data);
    if (st) {
      st.cached = st.evicted = false;
      this.records.delete(data);
    }
    return data;
  }

  /** See BlockStore.lend: view(), reused after giveBack once the cache has let go of it too. */
  async lend(id: BlockId): Promise<Lent> {
    const data = this.cached(id) ?? await this.fetch(id);
    const st = this.records.get(data);
    if (!st || (!st.cached && !st.evicted)) return { data, giveBack: () => undefined }; // never reused anyway
    return { data, giveBack: this.lendOut(data, st) };
  }

  /** See BlockStore.dropBehind: a cached block that a read loaded leaves the cache (reused once its lends are back). */
  dropBehind(id: BlockId): void {
    const data = this.cache.has(id) ? this.cache.get(id) : undefined;
    if (data && this.records.get(data)?.loaded) this.cache.delete(id); // the cache's eviction recycles it
  }

  /**
   * Reusable record memory by the memory it occupies (spare.ts RecordMap): in the cache, or let
   * go of by the cache while lent; with the lends of it out (BlockStore.lend, load's hand-over).
   * One entry per memory, so that a lend and its giveBack look it up once between them.
   */
  private readonly records = new RecordMap<RecordState>();

  /** The state of `data`'s memory, made when it has none. */
  private recordState(data: Buffer): RecordState {
    let st = this.records.get(data);
    if (!st) this.records.set(data, (st = { cached: false, evicted: false, loans: 0 }));
    return st;
  }

  /** Counts a lend of `data`; returns its giveBack (once; later calls do nothing). */
  private lendOut(data: Buffer, st: RecordState): () => void {
    st.loans++;
    let out = true;
    return () => {
      if (!out) return;
      out = false;
      if (--st.loans === 0 && st.evicted) {
        st.evicted = false;
        this.records.delete(data);
        giveSpare(data);
      }
    };
  }

  /** Recyclable memory the cache let go of: reused now, or when its last lend is given back. */
  private recycle(data: Buffer, st: RecordState): void {
    if (st.loans > 0) {
      st.evicted = true;
      return;
    }
    this.records.delete(data);
    giveSpare(data);
  }

  /** The cached bytes of a block, if cached (checks that the store is open). */
  private cached(id: BlockId): Buffer | undefined {
    this.check();
    return this.cache.get(id);
  }

  /** The block's bytes from the devices (cached by load). */
  private fetch(id: BlockId): Promise<Buffer> {
    // Concurrent reads of one block (pipelined reads of one record) share one load.
    let p = this.loading.get(id);
    if (!p) {
      p = this.load(id).finally(() => this.loading.delete(id));
      this.loading.set(id, p);
    }
    return p;
  }

  private readonly loading = new Map<BlockId, Promise<Buffer>>();

  /** Blocks committed lately and not adopted or released since (oldest first, at most ADOPTABLE). */
  private readonly adoptable = new Set<BlockId>();
  adopt(id: BlockId, data: Buffer): void {
    // Only a block whose commit went through and that no release dropped since: never bytes the
    // store cannot vouch for. The charge is what the bytes keep alive: their whole backing memory.
    if (this.closed || !this.adoptable.delete(id) || this.cache.get(id)) return;
    if (recyclable(data)) this.recordState(data).cached = true;
    this.cache.set(id, data, backingBytes(data));
  }

  private async load(id: BlockId): Promise<Buffer> {
    for (let attempt = 0; ; attempt++) {
      const row = await this.getRow(id);
      if (!row) throw new VfsError(Errno.EIO, `block ${id} not found`);
      // A plain block is read into record memory (arena.ts: V8 does not count it, so a long read
      // brings no full garbage collection every 64 MiB) that the cache reuses when it lets go.
      const r = await this.readShards(id, row, { all: false, arena: !isPacked(row) });
      if (!r.ok) {
        if (arenaOf(r.buf)) giveSpare(r.buf); // no one saw it
        // A compaction or repair may have moved a shard under us: retry once with the new row.
        const again = await this.kv.get(keys.block(id));
        if (attempt === 0 && again && !again.equals(encodeRow(row))) continue;
        throw new VfsError(Errno.EIO, `block ${id}: fewer than ${row.k} good shards`);
      }
      if (r.suspect) this.scheduleRepair(id);
      if (!isPacked(row)) {
        const data = r.buf.subarray(0, row.length);
        this.cache.set(id, data, backingBytes(r.buf));
        if (arenaOf(data)) {
          // Lent to the callers waiting on this load until they have run (they copy it, view it
          // or lend it themselves): an eviction in between must not reuse it under them.
          const st = this.recordState(data);
          st.loaded = true;
          const handedOver = this.lendOut(data, st);
          if (this.cache.has(id)) st.cached = true;
          else st.evicted = true; // too large for the cache: reused once they are done with it
          setImmediate(handedOver);
        }
        return data;
      }
      // Checksums passed (readShards): only now are the stored bytes decrypted (a tag failure is
      // EIO) and decompressed (unpack.ts). The cache holds the plain block; the job buffer goes
      // back for reuse.
      let data: Buffer;
      try {
        data = await unpackBlock(row, r.buf.subarray(0, row.stored), id, this.keys);
      } catch (err) {
        // A reencrypt may have moved the block to a new data key and dropped the old one while
        // we read its old shards: retry once with the new row.
        const again = await this.kv.get(keys.block(id));
        if (attempt === 0 && again && !again.equals(encodeRow(row))) continue;
        throw err;
      } finally {
        this.codec.free(r.buf);
      }
      this.cache.set(id, data, data.length);
      return data;
    }
  }

  /**
   * Reads shards of a block into a job buffer and decodes. With all=false, data shards are read
   * first and the others only if a data shard is missing or bad; with all=true every placed
   * shard is read (scrub, repair). `exclude` names a device not to read (being rebuilt);
   * `want` (bit mask) names shards to rebuild as well. `arena`: into a record arena slot when
   * one is free (returned as `buf` unless a worker decoded a copy; the caller owns it).
   */
  async readShards(id: BlockId, row: BlockRow, opts: { all: boolean; exclude?: number; want?: number; arena?: boolean }): Promise<ReadResult> {
    const n = row.k + row.m;
    const p = this.params(row);
    const slot = opts.arena ? arenaTake(jobBufferBytes(p)) : undefined;
    let buf = slot ?? this.codec.alloc(p);
    let present = 0;
    let read = 0;
    const tried = new Array<boolean>(n).fill(false);
    const readOne = async (j: number) => {
      tried[j] = true;
      const s = row.shards[j]!;
      const dev = this.devices[s.device];
      if (!placed(s) || !dev || dev.state === 'missing' || s.device === opts.exclude) return;
      const hdr = Buffer.allocUnsafe(SHARD_HEADER_BYTES);
      try {
        read++;
        // Header and payload in one read; the payload counts only if the header checks out.
        const slot = buf.subarray(j * row.shardSize, (j + 1) * row.shardSize);
        await dev.readv(s.segment, s.offset, [hdr, slot]);
        const h = decodeShardHeader(hdr);
        if (!h.ok || h.value.blockId !== id || h.value.shardIndex !== j || h.value.shardLength !== row.shardSize ||
          h.value.blockLength !== row.stored || h.value.payloadSum !== s.sum) {
          dev.checksumErrors++;
          return;
        }
        present = (present | (2 ** j)) >>> 0;
      } catch {
        dev.readErrors++;
      }
    };
    const first = opts.all ? [...Array(n).keys()] : [...Array(row.k).keys()];
    await Promise.all(first.map(readOne));
    const want = (opts.want ?? 0) >>> 0;
    let res = await this.codec.decode(p, buf, present, want, row.shards.map((s) => s.sum));
    buf = res.buf;
    const need = () => !res.ok || [...Array(n).keys()].some((j) => ((want >>> j) & 1) === 1 && !((res.good >>> j) & 1) && !((res.rebuilt >>> j) & 1));
    if (need() && tried.some((t) => !t)) {
      // Data shards were missing or bad: read the rest and decode again from every good shard.
      present = res.good;
      await Promise.all([...Array(n).keys()].filter((j) => !tried[j]).map(readOne));
      res = await this.codec.decode(p, buf, present, want, row.shards.map((s) => s.sum));
      buf = res.buf;
    }
    const good: boolean[] = [], rebuilt: boolean[] = [];
    let suspect = false;
    for (let j = 0; j < n; j++) {
      good.push(((res.good >>> j) & 1) === 1);
      rebuilt.push(((res.rebuilt >>> j) & 1) === 1);
      if (((present >>> j) & 1) === 1 && !good[j]) this.devices[row.shards[j]!.device]!.checksumErrors++;
      if (!good[j] && (j < row.k || tried[j]) && this.devices[row.shards[j]!.device]?.usable) suspect = true;
    }
    if (slot && buf !== slot) giveSpare(slot); // a worker decoded a copy of it (codec.ts own)
    return { buf, ok: res.ok, good, rebuilt, sums: res.sums, read, suspect };
  }

  /**
   * Rewrites the shards of block `id` that are not good (or all on device `exclude`), onto
   * their own devices when usable. Updates the row only where it still names the old place.
   * Returns shard counts; `lost` if fewer than the good shards needed remain.
   */
  repairBlock(id: BlockId, opts: { exclude?: number } = {}): Promise<{ checked: number; bad: number; repaired: number; lost: boolean } | undefined> {
    // One repair per block at a time (background, scrub, rebuild and compaction may meet).
    const prev = this.repairLocks.get(id) ?? Promise.resolve();
    const run = prev.then(() => this.repairBlockNow(id, opts), () => this.repairBlockNow(id, opts));
    const tail = run.catch(() => undefined);
    this.repairLocks.set(id, tail);
    void tail.then(() => { if (this.repairLocks.get(id) === tail) this.repairLocks.delete(id); });
    return run;
  }

  private readonly repairLocks = new Map<BlockId, Promise<unknown>>();

  private async repairBlockNow(id: BlockId, opts: { exclude?: number }): Promise<{ checked: number; bad: number; repaired: number; lost: boolean } | undefined> {
    const row = await this.getRow(id);
    if (!row) return undefined;
    const n = row.k + row.m;
    let want = 0;
    for (let j = 0; j < n; j++) {
      const dev = this.devices[row.shards[j]!.device];
      if (dev?.usable) want = (want | (2 ** j)) >>> 0;
    }
    const r = await this.readShards(id, row, { all: true, exclude: opts.exclude, want });
    const bad: number[] = [];
    for (let j = 0; j < n; j++) if (!r.good[j]) bad.push(j);
    if (!recoverable(layoutOf(row), r.good)) {
      return { checked: n, bad: bad.length, repaired: 0, lost: true };
    }
    const fresh: { j: number; old: ShardPlace; now: ShardPlace }[] = [];
    const unpins: (() => void)[] = [];
    await Promise.all(bad.map(async (j) => {
      const old = row.shards[j]!;
      const dev = this.devices[old.device];
      if (!dev?.usable || !r.rebuilt[j]) return;
      if (r.sums[j] !== old.sum) {
        this.log.error({ block: id, shard: j }, 'raid: rebuilt shard does not match its recorded checksum; not written');
        return;
      }
      const hdr = encodeShardHeader({ flags: row.flags, shardIndex: j, k: row.k, m: row.m, blockId: id, blockLength: row.stored, shardLength: row.shardSize, payloadSum: old.sum, alg: row.alg });
      try {
        const at = await dev.append([hdr, r.buf.subarray(j * row.shardSize, (j + 1) * row.shardSize)]);
        unpins.push(at.unpin);
        fresh.push({ j, old: { ...old }, now: { device: old.device, segment: at.segment, offset: at.offset, sum: old.sum } });
      } catch (err) {
        this.log.warn({ block: id, shard: j, err: String(err) }, 'raid: repair write failed');
      }
    }));
    let repaired: number;
    try {
      repaired = await this.movePlaces(id, fresh);
    } finally {
      for (const u of unpins) u();
    }
    if (repaired > 0) this.cache.delete(id);
    this.codec.free(r.buf);
    return { checked: n, bad: bad.length, repaired, lost: false };
  }

  /** Points shard places of a row at new records, where the row still names the old ones. Returns how many moved. */
  async movePlaces(id: BlockId, moves: { j: number; old: ShardPlace; now: ShardPlace }[]): Promise<number> {
    if (!moves.length) return 0;
    return this.kv.txn(async (tx) => {
      const v = await tx.get(keys.block(id));
      if (!v) return 0;
      const row = decodeRow(v, id);
      const rec = recordBytes(row);
      let moved = 0;
      for (const { j, old, now } of moves) {
        const cur = row.shards[j]!;
        if (!samePlace(cur, old) || cur.sum !== now.sum) continue;
        await this.shiftPlace(tx, id, rec, cur, now);
        row.shards[j] = now;
        moved++;
      }
      if (moved) tx.set(keys.block(id), encodeRow(row));
      return moved;
    });
  }

  /**
   * In tx: a shard record of block `id` (`rec` bytes with its header) moves from place `from` to
   * `to` (either may be ABSENT): the 'G' index rows and the live-byte counters of both segments
   * follow. The caller writes the row itself (movePlaces, the reencrypt walk).
   */
  async shiftPlace(tx: KvTxn, id: BlockId, rec: number, from: ShardPlace, to: ShardPlace): Promise<void> {
    if (placed(from)) {
      tx.delete(keys.segIndex(from.device, from.segment, id));
      await tx.incrBy(COUNTER.live(from.device, from.segment), BigInt(-rec));
    }
    if (placed(to)) {
      tx.set(keys.segIndex(to.device, to.segment, id), EMPTY);
      await tx.incrBy(COUNTER.live(to.device, to.segment), BigInt(rec));
    }
  }

  scheduleRepair(id: BlockId): void {
    if (this.closed || this.repairQueue.has(id)) return;
    this.repairQueue.add(id);
    this.repairing ??= (async () => {
      while (this.repairQueue.size && !this.closed) {
        const next = this.repairQueue.values().next().value as BlockId;
        try {
          const r = await this.repairBlock(next);
          if (r?.repaired) this.log.info({ block: next, repaired: r.repaired }, 'raid: repaired shards in the background');
        } catch (err) {
          this.log.warn({ block: next, err: String(err) }, 'raid: background repair failed');
        }
        this.repairQueue.delete(next);
      }
      this.repairing = undefined;
    })();
  }

  /** Waits until background repairs queued so far are done (tests, close). */
  async idle(): Promise<void> {
    while (this.repairing) await this.repairing;
  }

  /** Every block row, in id order, read page by page (rows may change between pages). */
  async *rows(): AsyncGenerator<[BlockId, BlockRow]> {
    let begin = keys.blockPrefix();
    const end = prefixEnd(keys.blockPrefix());
    for (;;) {
      const page: [Buffer, Buffer][] = [];
      for await (const e of this.kv.scan(begin, end, { limit: 256 })) page.push(e);
      if (!page.length) return;
      for (const [key, v] of page) {
        const id = Number(key.readBigUInt64BE(1));
        yield [id, decodeRow(v, id)];
      }
      begin = Buffer.concat([page[page.length - 1]![0], Buffer.of(0)]);
    }
  }

  /** Runs maintenance work one at a time and records it as the pool's task. */
  maintenance<T>(kind: NonNullable<PoolStats['task']>['kind'], fn: (progress: ProgressFn) => Promise<T>, onProgress?: ProgressFn): Promise<T> {
    this.check();
    const run = async () => {
      this.task = { kind, done: 0, total: 0 };
      try {
        return await fn((done, total) => {
          this.task = { kind, done, total };
          onProgress?.(done, total);
        });
      } finally {
        this.task = undefined;
      }
    };
    const p = this.maint.then(run, run);
    this.maint = p.catch(() => undefined);
    return p;
  }

  async sync(): Promise<void> {
    this.check();
    await Promise.all(this.devices.map((d) => (d.state === 'missing' ? undefined : d.sync())));
  }

  scrub(opts: { repair?: boolean; onProgress?: ProgressFn } = {}): Promise<ScrubReport> {
    return this.maintenance('scrub', (progress) => scrubPool(this, opts.repair ?? true, progress), opts.onProgress);
  }

  replaceDevice(index: number, newPath: string, onProgress?: ProgressFn): Promise<{ rebuiltShards: number }> {
    return this.maintenance('rebuild', (progress) => replacePoolDevice(this, index, newPath, progress), onProgress);
  }

  reclaim(opts: { threshold?: number; onProgress?: ProgressFn } = {}): Promise<{ freedBytes: number; segmentsCompacted: number }> {
    return this.maintenance('reclaim', (progress) => reclaimPool(this, opts.threshold ?? 0.5, progress), opts.onProgress);
  }

  /**
   * `dw key reencrypt` start (raid/reencrypt.ts startReencrypt): checks `secret`, adds a new data
   * key and records the walk, or finds one recorded (`started` false). Errors there.
   */
  startReencrypt(secret: Secret): Promise<{ started: boolean; status: ReencryptStatus }> {
    this.check();
    return startReencrypt(this, secret);
  }

  /** Runs (or resumes) the recorded reencrypt walk to its end, as the pool's task 'reencrypt' (reencryptPool). */
  reencrypt(onProgress?: ProgressFn): Promise<ReencryptResult> {
    return this.maintenance('reencrypt', (progress) => reencryptPool(this, progress), onProgress);
  }

  /** The reencrypt recorded in the pool row, with progress; undefined when none. */
  reencryptStatus(): Promise<ReencryptStatus | undefined> {
    this.check();
    return reencryptStatus(this.kv);
  }

  stats(): Promise<PoolStats> {
    this.check();
    return poolStats(this);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    await this.maint;
    await this.idle();
    this.closed = true;
    for (const d of this.devices) await d.close();
    await this.codec.close();
    this.cache.clear();
  }
}
