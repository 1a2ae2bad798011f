import { constants as fsc, writevSync } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, readFile, rename, stat, statfs, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Errno, VfsError } from '../vfs/errno.js';
import { encodeSegmentHeader, parseSegmentFileName, SEGMENT_HEADER_BYTES, segmentFileName } from './format.js';
import { uncachedUnsupported, uncachedWritev } from './uncached.js';

/** Name of the label file each device folder carries. */
export const LABEL_FILE = 'dw-device.json';

export interface DeviceLabel {
  format: 1;
  poolId: string;
  index: number;
}

/** Reads a device folder's label; undefined if the folder or label is absent or unreadable. */
export async function readLabel(dir: string): Promise<DeviceLabel | undefined> {
  try {
    const v = JSON.parse(await readFile(join(dir, LABEL_FILE), 'utf8')) as Partial<DeviceLabel>;
    if (v && typeof v.poolId === 'string' && typeof v.index === 'number') return { format: 1, poolId: v.poolId, index: v.index };
  } catch {
    /* absent or garbage: no label */
  }
  return undefined;
}

/** Writes the label atomically (temp file + rename) and fsyncs it. */
export async function writeLabel(dir: string, label: DeviceLabel): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `${LABEL_FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(label) + '\n', { flush: true });
  await rename(tmp, join(dir, LABEL_FILE));
}

interface Handle {
  fh: FileHandle;
  inUse: number;
  closing?: boolean;
}

/** Maps a Node fs error to the Errno the block store reports. */
export function ioErrno(err: unknown): Errno {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' ? Errno.ENOSPC : Errno.EIO;
}

const MAX_OPEN = 64;
/** Most bytes and buffers one group append writes with one writev (IOV_MAX is 1024 on Linux). */
const MAX_GROUP_BYTES = 8 << 20;
const MAX_GROUP_PARTS = 512;

interface PendingAppend {
  parts: Buffer[];
  len: number;
  resolve: (r: { segment: number; offset: number; unpin: () => void }) => void;
  reject: (err: unknown) => void;
}

/**
 * Group appends up to this many bytes are written with a synchronous writev from the event loop.
 * A small write into the page cache takes about 2 us that way, against 10-30 us of CPU for the
 * thread-pool round trip of an asynchronous one (measured on this 2-core VM), so small files go
 * several times cheaper; big shards still go through the pool, where the copy into the page cache
 * runs beside the event loop. (RocksDB appends its WAL from the writing thread the same way.)
 */
const SYNC_WRITE_MAX = 64 << 10;
/**
 * …unless the device is taking a stream: past this many bytes appended within STREAM_WINDOW_MS
 * (this window or the one before it), every write goes through the pool. A 64 KiB-record volume
 * written sequentially sends each device a 16 KiB shard per record; written synchronously, the
 * page-cache copies of all six devices ran on the event loop (a quarter of its time) while the
 * other core idled. Counting the window before too keeps the first 64 KiB of each window of a
 * stream off the event loop too (in a 1 GiB iSCSI write they still took 0.46 s of its time in
 * writevSync, measured 2026-12-02). Small files stay well below (2,000 files/s of 4 KiB: about
 * 20 KiB per device per window).
 */
const STREAM_BYTES = 64 << 10;
const STREAM_WINDOW_MS = 10;

/**
 * Write-behind: once a device has taken this many bytes since its last flush began, an fdatasync
 * of its active segment starts in the background (nothing waits for it) — if the pool was asked
 * to sync lately (SYNCED_LATELY_MS). The kernel leaves written pages dirty until its own
 * thresholds (10 % of RAM, or 30 s), so a client's COMMIT, FLUSH or SYNCHRONIZE CACHE after a
 * large write found all of it still to write: a 200 MiB NFS write's closing COMMIT took 170 ms of
 * its 0.6 s, the disk taking 300 MiB of shards only then. Started early, the disk writes while
 * the client is still sending and the sync finds little left (NFS writes 19–25 % faster, measured
 * 2026-12-01). A stream whose clients never sync gains nothing and pays for it: SMB puts ran 7 %
 * slower with it, the flushes holding libuv threads its appends wait for; hence the gate.
 * Durability is unchanged: sync() still fdatasyncs every segment written since the last one.
 */
const FLUSH_BEHIND_BYTES = 8 << 20;
/** Write-behind runs on a device only this long after its last sync call. */
const SYNCED_LATELY_MS = 30_000;
/** Most background flushes at once, over all devices: each holds one of libuv's four threads, which the streaming appends and the reads need too. */
const MAX_FLUSHES_BEHIND = 2;
/** Background flushes under way now, over all devices (MAX_FLUSHES_BEHIND bounds it). */
let flushesRunning = 0;

/** The buffers left once the first `n` bytes of them are done (after a short readv/writev). */
function after(bufs: Buffer[], n: number): Buffer[] {
  const rest: Buffer[] = [];
  for (const b of bufs) {
    if (n >= b.length) { n -= b.length; continue; }
    rest.push(n ? b.subarray(n) : b);
    n = 0;
  }
  return rest;
}

/** How writeAll writes: from this thread (writevSync), through libuv's pool, or uncached through the pool (uncached.ts). */
type WriteMode = 'sync' | 'pool' | 'uncached';

/**
 * Writes the buffers back to back at `pos`, going on after short writes. Resolves with false
 * when mode 'uncached' found no uncached writes here (the bytes then went with plain writes).
 */
async function writeAll(fh: FileHandle, parts: Buffer[], pos: number, mode: WriteMode): Promise<boolean> {
  let bufs = parts;
  let uncached = mode === 'uncached' ? uncachedWritev() : undefined;
  let ok = mode !== 'uncached' || uncached !== undefined;
  while (bufs.length) {
    let bytesWritten: number;
    if (mode === 'sync') bytesWritten = writevSync(fh.fd, bufs, pos);
    else if (uncached) {
      try {
        bytesWritten = await uncached(fh.fd, bufs, pos);
      } catch (err) {
        if (!uncachedUnsupported(err)) throw err;
        uncached = undefined;
        ok = false;
        continue;
      }
    } else bytesWritten = (await fh.writev(bufs, pos)).bytesWritten;
    pos += bytesWritten;
    const rest = after(bufs, bytesWritten);
    if (bytesWritten === 0 && rest.length) throw new Error('short write');
    bufs = rest;
  }
  return ok;
}

/**
 * One device: a folder holding a label and append-only segment files. Appends are serialized
 * per device; reads use a small cache of open file handles. A device that fails an I/O is
 * marked 'faulted' by the store; one whose folder or label is missing at open is 'missing'.
 */
export class Device {
  state: 'online' | 'missing' | 'faulted' | 'rebuilding' = 'missing';
  readErrors = 0;
  checksumErrors = 0;
  /** Size in bytes of each segment file on this device. */
  readonly segments = new Map<number, number>();
  private active: { segment: number; size: number } | undefined;
  private handles = new Map<number, Handle>();
  /** Opens under way, by segment: concurrent readers of a segment share one (each used to open its own, and all but one leaked). */
  private opening = new Map<number, Promise<Handle>>();
  private dirty = new Set<number>();
  private appendQueue: Promise<unknown> = Promise.resolve();
  /** Appends not yet recorded by their writer, per segment: reclaim leaves these segments alone. */
  private pins = new Map<number, number>();
  /** Background flushes started since open (write-behind, FLUSH_BEHIND_BYTES): PoolStats' flushesBehind, the dw_device_flushes_behind_total metric. */
  flushesBehindStarted = 0;
  /**
   * Whether appends through libuv's pool go uncached (uncached.ts): true until the first one finds
   * the addon missing, DW_UNCACHED=0, or the kernel or file system without RWF_DONTCACHE.
   */
  uncached = true;
  /** Appends written uncached since open (PoolStats' uncachedAppends). */
  uncachedAppends = 0;
  /** Bytes appended since the last flush (background or sync) began. */
  private sinceFlush = 0;
  /** The background flush under way, if any. */
  private flushing: Promise<void> | undefined;
  /** When sync() was last called (performance.now() ms; -Infinity: never). */
  private lastSync = -Infinity;
  /** A background flush's failure, reported by the next sync (the kernel reports a write-back error to one fdatasync only). */
  private flushError: Error | undefined;

  constructor(
    readonly index: number,
    public path: string,
    private readonly poolId: Buffer,
    private readonly segmentBytes: number,
    /** Allocates a fresh segment number (never reused across the pool's life). */
    private readonly nextSegment: () => Promise<number>,
  ) {}

  /** Checks the label and lists segment files. Sets state 'online' or 'missing'. */
  async open(poolIdText: string): Promise<void> {
    const label = await readLabel(this.path);
    if (!label || label.poolId !== poolIdText || label.index !== this.index) {
      this.state = 'missing';
      return;
    }
    try {
      for (const name of await readdir(this.path)) {
        const seg = parseSegmentFileName(name);
        if (seg === undefined) continue;
        this.segments.set(seg, (await stat(join(this.path, name))).size);
      }
      this.state = 'online';
    } catch {
      this.state = 'missing';
    }
  }

  get usable(): boolean {
    return this.state === 'online' || this.state === 'rebuilding';
  }

  /** Bytes in this device's segment files. */
  get used(): number {
    let n = 0;
    for (const s of this.segments.values()) n += s;
    return n;
  }

  /** The segment currently appended to (never compacted), if any. */
  get activeSegment(): number | undefined {
    return this.active?.segment;
  }

  segmentPath(seg: number): string {
    return join(this.path, segmentFileName(seg));
  }

  private async handle(seg: number, create = false): Promise<Handle> {
    const h = this.handles.get(seg);
    if (h && !h.closing) {
      this.handles.delete(seg);
      this.handles.set(seg, h); // LRU order
      return h;
    }
    const pending = this.opening.get(seg);
    if (pending) return pending;
    const p = this.openHandle(seg, create);
    this.opening.set(seg, p);
    try {
      return await p;
    } finally {
      this.opening.delete(seg);
    }
  }

  private async openHandle(seg: number, create: boolean): Promise<Handle> {
    const fh = await open(this.segmentPath(seg), create ? fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL : fsc.O_RDWR);
    const h: Handle = { fh, inUse: 0 };
    this.handles.set(seg, h);
    if (this.handles.size > MAX_OPEN) {
      for (const [s, old] of this.handles) {
        if (this.handles.size <= MAX_OPEN) break;
        if (old.inUse === 0 && s !== this.active?.segment && !this.dirty.has(s)) {
          this.handles.delete(s);
          old.closing = true;
          void old.fh.close().catch(() => undefined);
        }
      }
    }
    return h;
  }

  private async withHandle<T>(seg: number, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    const h = await this.handle(seg);
    h.inUse++;
    try {
      return await fn(h.fh);
    } finally {
      h.inUse--;
      if (h.closing && h.inUse === 0) void h.fh.close().catch(() => undefined);
    }
  }

  private async roll(): Promise<void> {
    const segment = await this.nextSegment();
    const h = await this.handle(segment, true);
    const hdr = encodeSegmentHeader({ poolId: this.poolId, device: this.index, segment, created: Date.now() });
    await h.fh.write(hdr, 0, hdr.length, 0);
    this.active = { segment, size: SEGMENT_HEADER_BYTES };
    this.segments.set(segment, SEGMENT_HEADER_BYTES);
    this.dirty.add(segment);
    this.dirDirty = true;
  }

  /** A segment file was created since the last sync: the folder's entries need an fsync too. */
  private dirDirty = false;

  /**
   * Appends one record (the buffers back to back) to the active segment, rolling over to a new
   * segment when it would pass the segment size. Resolves once the bytes are in the page cache.
   * Throws VfsError ENOSPC when the file system is full, EIO on other failures.
   *
   * Appends that arrive while one is being written are written together, with one writev
   * (group append): many small files stored at once cost one system call per device, not one per
   * shard (the thread-pool round trip of each call was a fifth of the small-file CPU time).
   */
  append(parts: Buffer[]): Promise<{ segment: number; offset: number; unpin: () => void }> {
    const len = parts.reduce((a, b) => a + b.length, 0);
    return new Promise((resolve, reject) => {
      this.waiting.push({ parts, len, resolve, reject });
      if (this.waiting.length === 1) {
        const p = this.appendQueue.then(() => this.writeWaiting());
        this.appendQueue = p.catch(() => undefined);
      }
    });
  }

  private waiting: PendingAppend[] = [];
  /** Bytes appended since windowStart (performance.now() ms): past STREAM_BYTES, writes go through the pool. */
  private windowBytes = 0;
  private windowStart = 0;
  /** Bytes the window before the current one took (a stream stays one across windows). */
  private lastWindowBytes = 0;

  /** Writes every append queued so far, in order, grouped into as few writev calls as fit a segment. */
  private async writeWaiting(): Promise<void> {
    const batch = this.waiting;
    this.waiting = [];
    let i = 0;
    while (i < batch.length) {
      if (!this.usable) {
        for (; i < batch.length; i++) batch[i]!.reject(new VfsError(Errno.EIO, `device ${this.index} is ${this.state}`));
        return;
      }
      const first = batch[i]!;
      try {
        if (!this.active || (this.active.size + first.len > this.segmentBytes && this.active.size > SEGMENT_HEADER_BYTES)) await this.roll();
      } catch (err) {
        this.active = undefined; // a failed roll leaves no usable segment: try a new one next time
        first.reject(new VfsError(ioErrno(err), `device ${this.index}: write failed: ${(err as Error).message}`));
        i++;
        continue;
      }
      const a = this.active!;
      const group = [first];
      let end = a.size + first.len;
      let count = first.parts.length;
      for (i++; i < batch.length; i++) {
        const b = batch[i]!;
        if (end + b.len > this.segmentBytes || end - a.size + b.len > MAX_GROUP_BYTES || count + b.parts.length > MAX_GROUP_PARTS) break;
        group.push(b);
        end += b.len;
        count += b.parts.length;
      }
      const offset = a.size;
      a.size = end; // reserve the range before writing
      this.pins.set(a.segment, (this.pins.get(a.segment) ?? 0) + group.length);
      try {
        const now = performance.now();
        if (now - this.windowStart > STREAM_WINDOW_MS) {
          this.lastWindowBytes = now - this.windowStart > 2 * STREAM_WINDOW_MS ? 0 : this.windowBytes;
          this.windowStart = now;
          this.windowBytes = 0;
        }
        this.windowBytes += end - offset;
        const stream = this.windowBytes > STREAM_BYTES || this.lastWindowBytes > STREAM_BYTES;
        const mode: WriteMode = end - offset <= SYNC_WRITE_MAX && !stream ? 'sync' : this.uncached ? 'uncached' : 'pool';
        const ok = await this.withHandle(a.segment, (fh) => writeAll(fh, group.flatMap((g) => g.parts), offset, mode));
        if (mode === 'uncached') {
          if (ok) this.uncachedAppends++;
          else this.uncached = false;
        }
      } catch (err) {
        this.unpinSegment(a.segment, group.length);
        // A failed append leaves the tail unknown: start a new segment next time.
        this.active = undefined;
        const e = err instanceof VfsError ? err : new VfsError(ioErrno(err), `device ${this.index}: write failed: ${(err as Error).message}`);
        for (const g of group) g.reject(e);
        continue;
      }
      this.segments.set(a.segment, Math.max(this.segments.get(a.segment) ?? 0, end));
      this.dirty.add(a.segment);
      this.sinceFlush += end - offset;
      if (this.sinceFlush >= FLUSH_BEHIND_BYTES) this.flushBehind(a.segment);
      let at = offset;
      for (const g of group) {
        let pinned = true;
        const unpin = () => {
          if (!pinned) return;
          pinned = false;
          this.unpinSegment(a.segment, 1);
        };
        g.resolve({ segment: a.segment, offset: at, unpin });
        at += g.len;
      }
    }
  }

  /** Starts a background fdatasync of `seg` (FLUSH_BEHIND_BYTES) unless one runs here, MAX_FLUSHES_BEHIND run in all, or no sync was asked lately. */
  private flushBehind(seg: number): void {
    if (this.flushing || flushesRunning >= MAX_FLUSHES_BEHIND || performance.now() - this.lastSync > SYNCED_LATELY_MS) return;
    flushesRunning++;
    this.flushesBehindStarted++;
    this.sinceFlush = 0;
    this.flushing = this.withHandle(seg, (fh) => fh.datasync())
      .catch((err: unknown) => {
        if (this.segments.has(seg)) this.flushError ??= err as Error;
      })
      .finally(() => {
        flushesRunning--;
        this.flushing = undefined;
      });
  }

  private unpinSegment(seg: number, n: number): void {
    const c = (this.pins.get(seg) ?? n) - n;
    if (c > 0) this.pins.set(seg, c);
    else this.pins.delete(seg);
  }

  /** Whether an append into `seg` is not yet recorded by its writer. */
  pinned(seg: number): boolean {
    return (this.pins.get(seg) ?? 0) > 0;
  }

  /** Stops appending to `seg` if it is the active segment (the next append starts a new one). */
  retire(seg: number): Promise<void> {
    const run = async () => {
      if (this.active?.segment === seg) this.active = undefined;
    };
    const p = this.appendQueue.then(run, run);
    this.appendQueue = p.catch(() => undefined);
    return p;
  }

  /** Reads exactly `length` bytes at `offset` of segment `seg` into `into` at `at`. Throws on any failure or short read. */
  read(seg: number, offset: number, length: number, into: Buffer, at: number): Promise<void> {
    return this.readv(seg, offset, [into.subarray(at, at + length)]);
  }

  /**
   * Fills the buffers, back to back, from `offset` of segment `seg` (one readv system call in
   * the usual case: a shard's header and payload land in separate buffers with one read).
   * Throws on any failure or short read.
   */
  async readv(seg: number, offset: number, bufs: Buffer[]): Promise<void> {
    if (this.state === 'missing') throw new VfsError(Errno.EIO, `device ${this.index} is missing`);
    await this.withHandle(seg, async (fh) => {
      let pos = offset;
      let rest = bufs.filter((b) => b.length > 0);
      while (rest.length) {
        const { bytesRead } = await fh.readv(rest, pos);
        if (bytesRead === 0) throw new VfsError(Errno.EIO, `device ${this.index}: segment ${seg} is short`);
        pos += bytesRead;
        rest = after(rest, bytesRead);
      }
    });
  }

  /** The sync calls in flight, in call order (each waits for the ones before it). */
  private syncing: Promise<void> = Promise.resolve();

  /**
   * fdatasync of every segment written since the last sync; resolves when everything appended
   * before the call is on disk. Calls made while one runs wait for it (it may have taken their
   * segments from the dirty set), then the first of them syncs what is left for all of them.
   */
  sync(): Promise<void> {
    this.lastSync = performance.now();
    const mine = this.syncing.catch(() => undefined).then(() => this.syncOnce());
    this.syncing = mine;
    return mine;
  }

  private async syncOnce(): Promise<void> {
    if (this.flushError) {
      const err = this.flushError;
      this.flushError = undefined;
      throw new VfsError(Errno.EIO, `device ${this.index}: sync failed: ${err.message}`);
    }
    const segs = [...this.dirty];
    this.dirty.clear();
    this.sinceFlush = 0;
    if (this.dirDirty) {
      this.dirDirty = false;
      try {
        const dir = await open(this.path, fsc.O_RDONLY | fsc.O_DIRECTORY);
        try { await dir.sync(); } finally { await dir.close(); }
      } catch (err) {
        this.dirDirty = true;
        throw new VfsError(Errno.EIO, `device ${this.index}: sync of the folder failed: ${(err as Error).message}`);
      }
    }
    for (const seg of segs) {
      try {
        await this.withHandle(seg, (fh) => fh.datasync());
      } catch (err) {
        if (this.segments.has(seg)) {
          this.dirty.add(seg);
          throw new VfsError(Errno.EIO, `device ${this.index}: sync failed: ${(err as Error).message}`);
        }
      }
    }
  }

  /** Deletes a (compacted) segment file. Never the active one. */
  async deleteSegment(seg: number): Promise<void> {
    if (seg === this.active?.segment) throw new Error('cannot delete the active segment');
    const h = this.handles.get(seg);
    this.handles.delete(seg);
    this.dirty.delete(seg);
    if (h) {
      h.closing = true;
      if (h.inUse === 0) await h.fh.close().catch(() => undefined);
    }
    this.segments.delete(seg);
    await unlink(this.segmentPath(seg)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  /** Capacity and free bytes of the file system under the folder, and its st_dev (to share free space). */
  async space(): Promise<{ capacity: number; free: number; fsId: string }> {
    try {
      const s = await statfs(this.path);
      const st = await stat(this.path);
      return { capacity: s.blocks * s.bsize, free: s.bavail * s.bsize, fsId: String(st.dev) };
    } catch {
      return { capacity: 0, free: 0, fsId: `missing-${this.index}` };
    }
  }

  /** Syncs and closes every handle. Appends after close reopen lazily in a new segment. */
  async close(): Promise<void> {
    await this.appendQueue;
    await this.flushing;
    await this.sync().catch(() => undefined);
    for (const h of this.handles.values()) {
      h.closing = true;
      if (h.inUse === 0) await h.fh.close().catch(() => undefined);
    }
    this.handles.clear();
    this.active = undefined;
  }

  /** Points this device at a new folder (after replaceDevice wrote its label). */
  async reset(path: string, poolIdText: string): Promise<void> {
    await this.close();
    this.segments.clear();
    this.path = path;
    await this.open(poolIdText);
  }
}
