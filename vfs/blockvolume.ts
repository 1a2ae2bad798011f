/**
 * One open block volume (vfs/types.ts `BlockVolume`): byte I/O on a volume's inode through the
 * file machinery's open-file buffers (vfs/file.ts OpenFile: records, read-modify-write of a
 * partly written record, extents committed per record) and the range helpers (vfs/ranges.ts).
 * The catalogue (create, resize, snapshots) is vfs/volumes.ts.
 *
 * Offsets and lengths are bytes, whole numbers, any multiple of 1 (iSCSI sends multiples of its
 * 512-byte logical block); a range must lie inside [0, sizeBytes): EINVAL otherwise. After
 * close() every call throws EBADF. A resize (Volumes.resize, while handles are open) waits for
 * the writes and unmaps under way and holds new ones until it is done (holdChanges), so each
 * is checked against the size it will land in.
 */
import { Errno, VfsError } from './errno.js';
import type { OpenFile } from './file.js';
import type { MetaStore } from './meta/metastore.js';
import { punchHole } from './ranges.js';
import type { BlockVolume, Lent, LentParts } from './types.js';

/** Extent rows read per step of mapping(). */
const MAP_PAGE = 4096;

/**
 * What the handles of one volume (or one opened snapshot) share: the inode, the open file
 * (one per volume, so that every handle sees the others' buffered writes), the size (changed by
 * Volumes.resize while handles are open) and how many handles use it.
 */
export interface VolumeState {
  name: string;
  ino: number;
  sizeBytes: number;
  recordSize: number;
  readOnly: boolean;
  meta: MetaStore;
  file: OpenFile;
  handles: number;
  /** Writes and unmaps under way (a resize waits for them: see `hold`). */
  changing: number;
  /** While a resize runs: a promise new writes and unmaps wait for (so none lands past a new end). */
  held?: Promise<void>;
  /** Called when `changing` drops to 0 (what a resize waits on). */
  drained?: () => void;
  /** Makes the metadata and the blocks durable (BlockStore.sync + KV sync). */
  sync(): Promise<void>;
  /** The last handle went (the catalogue forgets the state). */
  released(): void;
}

/**
 * Runs fn (a resize) with the volume's writes and unmaps held: it starts when those under way
 * are done, and new ones wait until it ends (then check their range against the new size).
 */
export async function holdChanges<T>(st: VolumeState, fn: () => Promise<T>): Promise<T> {
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  while (st.held) await st.held;
  st.held = held;
  try {
    while (st.changing > 0) await new Promise<void>((r) => { st.drained = r; });
    return await fn();
  } finally {
    st.held = undefined;
    st.drained = undefined;
    release();
  }
}

export class VolumeHandle implements BlockVolume {
  private closed = false;

  constructor(private readonly st: VolumeState, readonly readOnly: boolean) {
    st.handles++;
  }

  get name(): string {
    return this.st.name;
  }
  get sizeBytes(): number {
    return this.st.sizeBytes;
  }
  get recordSize(): number {
    return this.st.recordSize;
  }

  private check(offset: number, length: number): void {
    if (this.closed) throw new VfsError(Errno.EBADF, `volume ${this.st.name} is closed`);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.st.sizeBytes) {
      throw new VfsError(Errno.EINVAL, `range [${offset}, ${offset + length}) is outside volume ${this.st.name} (${this.st.sizeBytes} bytes)`);
    }
  }

  private writable(): void {
    if (this.readOnly) throw new VfsError(Errno.EROFS, `volume ${this.st.name} is open read-only`);
  }

  /** A fresh buffer (the caller may keep or modify it); holes are zeros. */
  async read(offset: number, length: number): Promise<Buffer> {
    this.check(offset, length);
    const out = Buffer.allocUnsafe(length);
    if (length === 0) return out;
    const got = await this.st.file.read(offset, length, out);
    if (got.length < length) out.fill(0, got.length); // (past a size cut by a resize meanwhile)
    return out;
  }

  /** One piece per record the range touches: lent bytes of the cached block where the record is stored, else a fresh buffer; giveBack returns every loan. */
  async readLent(offset: number, length: number): Promise<LentParts> {
    this.check(offset, length);
    const rs = this.st.recordSize;
    const loans: Array<Partial<Lent>> = [];
    const pieces: Promise<Buffer>[] = [];
    for (let at = offset; at < offset + length;) {
      const n = Math.min(rs - (at % rs), offset + length - at);
      const lent: Partial<Lent> = {};
      loans.push(lent);
      pieces.push(this.st.file.read(at, n, undefined, lent).then((b) => (b.length < n ? Buffer.concat([b, Buffer.alloc(n - b.length)]) : b)));
      at += n;
    }
    let given = false;
    const giveBack = (): void => {
      if (given) return;
      given = true;
      for (const l of loans) l.giveBack?.();
    };
    try {
      return { parts: await Promise.all(pieces), giveBack };
    } catch (err) {
      // The pieces that were read are given back once all have settled.
      await Promise.allSettled(pieces);
      giveBack();
      throw err;
    }
  }

  async write(offset: number, data: Uint8Array, opts: { fua?: boolean } = {}): Promise<void> {
    await this.changing(offset, data.length, async () => {
      await this.st.file.write(offset, data);
      if (opts.fua) await this.durable();
    });
  }

  async unmap(offset: number, length: number): Promise<void> {
    await this.changing(offset, length, async () => {
      if (length > 0) await punchHole(this.st.meta, this.st.file, offset, length);
    });
  }

  /** Runs a change of [offset, offset+length) after any resize under way, counted so that the next resize waits for it. */
  private async changing(offset: number, length: number, fn: () => Promise<void>): Promise<void> {
    while (this.st.held) await this.st.held;
    this.check(offset, length);
    this.writable();
    this.st.changing++;
    try {
      await fn();
    } finally {
      if (--this.st.changing === 0) this.st.drained?.();
    }
  }

  async flush(): Promise<void> {
    if (this.closed) throw new VfsError(Errno.EBADF, `volume ${this.st.name} is closed`);
    if (!this.readOnly) await this.durable();
  }

  /** Every buffered record of the volume committed, then blocks and metadata synced. */
  private async durable(): Promise<void> {
    await this.st.file.flush();
    await this.st.sync();
  }

  /**
   * Runs of records that hold data (an extent, or bytes in the write buffers) and that do not,
   * clipped to [offset, offset+length). A record with an extent is mapped even if it holds
   * zeros (as ranges.ts seekData counts data).
   */
  async mapping(offset: number, length: number): Promise<{ offset: number; length: number; mapped: boolean }[]> {
    this.check(offset, length);
    const end = offset + length;
    const out: { offset: number; length: number; mapped: boolean }[] = [];
    if (length === 0) return out;
    const rs = this.st.recordSize;
    const add = (from: number, to: number, mapped: boolean) => {
      from = Math.max(from, offset);
      to = Math.min(to, end);
      if (to <= from) return;
      const last = out[out.length - 1];
      if (last && last.mapped === mapped && last.offset + last.length === from) last.length += to - from;
      else out.push({ offset: from, length: to - from, mapped });
    };
    const first = Math.floor(offset / rs);
    const lastRec = Math.floor((end - 1) / rs);
    const mapped = new Set(this.st.file.bufferedRecords.filter((i) => i >= first && i <= lastRec));
    for (let from = first * rs; ; ) {
      const page = await this.st.meta.extents(this.st.ino, from, (lastRec + 1) * rs, MAP_PAGE);
      for (const [off] of page) mapped.add(Math.floor(off / rs));
      if (page.length < MAP_PAGE) break;
      from = page[page.length - 1]![0] + 1;
    }
    let at = first * rs;
    for (const idx of [...mapped].sort((a, b) => a - b)) {
      add(at, idx * rs, false);
      add(idx * rs, (idx + 1) * rs, true);
      at = (idx + 1) * rs;
    }
    add(at, end, false);
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (!this.readOnly) await this.st.file.flush();
    } finally {
      if (--this.st.handles === 0) this.st.released();
    }
  }
}
