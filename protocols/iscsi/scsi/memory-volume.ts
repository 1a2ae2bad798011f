/**
 * An in-memory `BlockVolume` (vfs/types.ts) for tests of the SCSI device layer and of the iSCSI
 * transport: a sparse map of records (`recordSize` bytes each, 4 KiB by default); a record is
 * allocated by its first write and freed when UNMAP covers it whole. Holes read as zeros.
 * Errno as the contract says: EINVAL (range outside the volume or not whole numbers), EROFS
 * (read-only), ENOSPC (beyond `capacityRecords` allocated records), EBADF (after close).
 * `failNext` lets a test make the next call fail with any Errno.
 */
import { Errno, VfsError } from '../../../vfs/errno.js';
import type { BlockVolume, LentParts } from '../../../vfs/types.js';

export interface MemoryVolumeOptions {
  /** Bytes, a multiple of 4096. */
  sizeBytes: number;
  /** Allocation unit in bytes (a power of two ≥ 512); 4096 by default. */
  recordSize?: number;
  readOnly?: boolean;
  name?: string;
  /** At most this many records may be allocated; a write needing more fails ENOSPC. */
  capacityRecords?: number;
}

export class MemoryVolume implements BlockVolume {
  readonly name: string;
  readonly recordSize: number;
  readonly readOnly: boolean;
  private size: number;
  private readonly records = new Map<number, Buffer>();
  private closed = false;
  private readonly capacityRecords: number;
  /** Counters a test can look at. */
  readonly stats = { reads: 0, writes: 0, fuaWrites: 0, unmaps: 0, flushes: 0 };
  /** The next call (any method) fails with this Errno, once. */
  failNext: Errno | undefined;

  constructor(opts: MemoryVolumeOptions) {
    if (!Number.isSafeInteger(opts.sizeBytes) || opts.sizeBytes < 0 || opts.sizeBytes % 4096 !== 0) {
      throw new VfsError(Errno.EINVAL, `volume size ${opts.sizeBytes} is not a multiple of 4096`);
    }
    const rs = opts.recordSize ?? 4096;
    if (rs < 512 || (rs & (rs - 1)) !== 0) throw new VfsError(Errno.EINVAL, `record size ${rs}`);
    this.name = opts.name ?? 'mem';
    this.size = opts.sizeBytes;
    this.recordSize = rs;
    this.readOnly = opts.readOnly ?? false;
    this.capacityRecords = opts.capacityRecords ?? Number.MAX_SAFE_INTEGER;
  }

  get sizeBytes(): number {
    return this.size;
  }

  /** Grows or shrinks (what Volumes.resize does to an open volume); data past the new end goes. */
  resize(sizeBytes: number): void {
    if (sizeBytes % 4096 !== 0 || sizeBytes < 0) throw new VfsError(Errno.EINVAL, `volume size ${sizeBytes}`);
    this.size = sizeBytes;
    for (const k of [...this.records.keys()]) if (k * this.recordSize >= sizeBytes) this.records.delete(k);
    const last = Math.floor(sizeBytes / this.recordSize);
    const tail = this.records.get(last);
    if (tail) tail.fill(0, sizeBytes - last * this.recordSize);
  }

  /** Allocated records (what thin provisioning uses). */
  allocatedRecords(): number {
    return this.records.size;
  }

  private check(offset: number, length: number): void {
    if (this.closed) throw new VfsError(Errno.EBADF, `volume ${this.name} is closed`);
    const f = this.failNext;
    if (f !== undefined) {
      this.failNext = undefined;
      throw new VfsError(f, `injected ${Errno[f]}`);
    }
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new VfsError(Errno.EINVAL, `range ${offset}+${length} outside volume of ${this.size} bytes`);
    }
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.check(offset, length);
    this.stats.reads++;
    const out = Buffer.alloc(length);
    const rs = this.recordSize;
    for (let o = offset; o < offset + length;) {
      const rec = Math.floor(o / rs);
      const within = o - rec * rs;
      const n = Math.min(rs - within, offset + length - o);
      const data = this.records.get(rec);
      if (data) data.copy(out, o - offset, within, within + n);
      o += n;
    }
    return out;
  }

  /** A copy, in one piece (the records here are changed in place by later writes); nothing to give back. */
  async readLent(offset: number, length: number): Promise<LentParts> {
    return { parts: [await this.read(offset, length)], giveBack: () => undefined };
  }

  async write(offset: number, data: Uint8Array, opts?: { fua?: boolean }): Promise<void> {
    this.check(offset, data.length);
    if (this.readOnly) throw new VfsError(Errno.EROFS, `volume ${this.name} is read-only`);
    const rs = this.recordSize;
    const end = offset + data.length;
    let needed = 0;
    for (let r = Math.floor(offset / rs); r * rs < end; r++) if (!this.records.has(r)) needed++;
    if (this.records.size + needed > this.capacityRecords) throw new VfsError(Errno.ENOSPC, 'memory volume full');
    this.stats.writes++;
    if (opts?.fua) this.stats.fuaWrites++;
    for (let o = offset; o < end;) {
      const rec = Math.floor(o / rs);
      const within = o - rec * rs;
      const n = Math.min(rs - within, end - o);
      let buf = this.records.get(rec);
      if (!buf) {
        buf = Buffer.alloc(rs);
        this.records.set(rec, buf);
      }
      buf.set(data.subarray(o - offset, o - offset + n), within);
      o += n;
    }
  }

  async unmap(offset: number, length: number): Promise<void> {
    this.check(offset, length);
    if (this.readOnly) throw new VfsError(Errno.EROFS, `volume ${this.name} is read-only`);
    this.stats.unmaps++;
    const rs = this.recordSize;
    const end = offset + length;
    for (let o = offset; o < end;) {
      const rec = Math.floor(o / rs);
      const within = o - rec * rs;
      const n = Math.min(rs - within, end - o);
      if (n === rs) this.records.delete(rec);
      else this.records.get(rec)?.fill(0, within, within + n);
      o += n;
    }
  }

  async flush(): Promise<void> {
    this.check(0, 0);
    this.stats.flushes++;
  }

  async mapping(offset: number, length: number): Promise<{ offset: number; length: number; mapped: boolean }[]> {
    this.check(offset, length);
    const rs = this.recordSize;
    const out: { offset: number; length: number; mapped: boolean }[] = [];
    const end = offset + length;
    for (let o = offset; o < end;) {
      const rec = Math.floor(o / rs);
      const n = Math.min((rec + 1) * rs, end) - o;
      const mapped = this.records.has(rec);
      const last = out[out.length - 1];
      if (last && last.mapped === mapped) last.length += n;
      else out.push({ offset: o, length: n, mapped });
      o += n;
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) throw new VfsError(Errno.EBADF, `volume ${this.name} is closed`);
    this.closed = true;
  }
}
