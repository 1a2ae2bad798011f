/**
 * Block volumes (issue 8; vfs/types.ts `Volumes`): the catalogue iSCSI exports LUNs from.
 *
 * Where a volume lives: a regular inode (extents, records of `recordSize`, the erasure-coded
 * block store: the file machinery, unchanged) that no directory names. The catalogue row
 * 'V' name → JSON { ino, recordSize, thick, created, origin? } (vfs/meta/keys.ts ³) is the only
 * way to it, so FUSE, NFS, SMB, WebDAV and SFTP can neither list nor look it up, and VfsImpl
 * answers ESTALE for its inode number too. A hidden directory would have needed every
 * listing, lookup, rename and snapshot view filtered, and tree snapshots would have kept the
 * volumes' history.
 *
 * Snapshots: 'VOL@SNAP' is a snapshot record of the epoch-versioned metadata (vfs/meta/snapshots.ts)
 * scoped to the volume's inode: constant time to take, no data copied; the first write after
 * it to a record copies only that record's extent row (its block gains a reference). It is
 * hidden from /.snapshots, Vfs.listSnapshots and `dw snapshot`. Deleting it releases the
 * blocks only it held. A clone is a new volume whose extents reference the snapshot's blocks
 * (as Vfs.cloneFile from a snapshot): independent of its origin both ways from then on (copy
 * on write per record), and the origin snapshot (or volume) may go while the clone stays (the
 * blocks are counted, there is no ZFS-style promote). A rollback returns the volume to a snapshot through the snapshot
 * machinery's dead list (vfs/meta/snapshots.ts rollbackVolume): work in proportion to what
 * changed since, resumed at open after a crash.
 *
 * Thick volumes: every record is written with zeros at creation and on growth, with
 * compression and dedup turned off for that volume (either would collapse the zeros to nearly
 * nothing, and the space would not be reserved). Thin volumes take the pool's settings. An
 * unmap of a thick volume's records still frees them (SCSI initiators do not unmap a LUN that
 * does not report thin provisioning).
 *
 * One Volumes object per VfsInstance (openVolumes caches it): the open volumes, their shared
 * open files and the watchers live there. Catalogue changes run one at a time.
 */
import { randomInt } from 'node:crypto';
import { Errno, VfsError } from './errno.js';
import { OpenFile, syncAll } from './file.js';
import { compressionOfCode } from './compression.js';
import { dedupOfCode } from './dedup.js';
import type { Inode } from './meta/inode.js';
import { COMPRESS_OFF, DEDUP_OFF, S_IFREG } from './meta/inode.js';
import { keys, prefixEnd } from './meta/keys.js';
import { MAX_FILE_SIZE, MetaStore, nowNs } from './meta/metastore.js';
import { charge } from './meta/quota.js';
import { volumeSnapshotName, type SnapshotInfo } from './meta/snapshots.js';
import { holdChanges, VolumeHandle, type VolumeState } from './blockvolume.js';
import type { BlockVolume, VolumeInfo, Volumes } from './types.js';
import type { VfsInstance } from './index.js';

/** 64 KiB: the default record size of a volume (`dw volume create --block`). */
export const DEFAULT_VOLUME_RECORD = 64 << 10;
const MIN_RECORD = 4 << 10;
const MAX_RECORD = 1 << 20;
/** Sizes are whole multiples of this (4 KiB). */
const VOLUME_SIZE_UNIT = 4096;

const NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

/** Throws EINVAL unless `name` is 1–64 characters of [A-Za-z0-9._-] not starting with '.' (`what`: 'volume' or 'snapshot'). */
export function checkVolumeName(name: unknown, what = 'volume'): asserts name is string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new VfsError(Errno.EINVAL, `bad ${what} name ${JSON.stringify(name)}: 1 to 64 characters of A-Z a-z 0-9 . _ -, not starting with '.'`);
  }
}

/** 'VOL@SNAP' → its parts (names checked); 'VOL' → { vol, snap: undefined }. EINVAL otherwise. */
export function parseVolumeRef(ref: string): { vol: string; snap?: string } {
  const at = ref.indexOf('@');
  if (at < 0) {
    checkVolumeName(ref);
    return { vol: ref };
  }
  const vol = ref.slice(0, at), snap = ref.slice(at + 1);
  checkVolumeName(vol);
  checkVolumeName(snap, 'snapshot');
  return { vol, snap };
}

function checkSize(sizeBytes: unknown): asserts sizeBytes is number {
  if (typeof sizeBytes !== 'number' || !Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % VOLUME_SIZE_UNIT || sizeBytes > MAX_FILE_SIZE) {
    throw new VfsError(Errno.EINVAL, `bad volume size ${String(sizeBytes)}: a whole number of 4 KiB units, more than 0, at most ${MAX_FILE_SIZE} bytes`);
  }
}

function checkRecord(rs: unknown): asserts rs is number {
  if (typeof rs !== 'number' || !Number.isSafeInteger(rs) || rs < MIN_RECORD || rs > MAX_RECORD || (rs & (rs - 1)) !== 0) {
    throw new VfsError(Errno.EINVAL, `bad volume block size ${String(rs)}: a power of two from 4 KiB to 1 MiB`);
  }
}

/** The catalogue row of a volume ('V' name, keys.ts). */
interface Row {
  ino: number;
  recordSize: number;
  thick: boolean;
  /** ISO 8601. */
  created: string;
  origin?: string;
}

const isoOfNs = (ns: string) => new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();

/** The extra a Volumes object offers the gateway (besides the vfs/types.ts contract). */
export interface VolumeStore extends Volumes {
  /** Flushes every open volume (shutdown); handles stay usable. */
  flushAll(): Promise<void>;
}

class VolumeCatalogue implements VolumeStore {
  /** The shared state of each open volume (live ones by name, snapshots by 'VOL@SNAP'). */
  private readonly open_ = new Map<string, VolumeState>();
  private readonly watchers = new Set<(name: string, what: 'resize' | 'delete') => void>();
  private serial: Promise<unknown> = Promise.resolve();

  constructor(private readonly v: VfsInstance) {}

  private get meta(): MetaStore {
    return this.v.impl.meta;
  }

  /** Runs catalogue changes one at a time. */
  private one<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.serial.then(fn, fn);
    this.serial = p.catch(() => undefined);
    return p;
  }

  watch(listener: (name: string, what: 'resize' | 'delete') => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  private tell(name: string, what: 'resize' | 'delete'): void {
    for (const w of this.watchers) {
      try {
        w(name, what);
      } catch { /* a listener's fault is its own */ }
    }
  }

  private async row(name: string): Promise<Row | undefined> {
    const v = await this.meta.kv.get(keys.volume(name));
    return v ? (JSON.parse(v.toString('utf8')) as Row) : undefined;
  }

  private async mustRow(name: string): Promise<Row> {
    const r = await this.row(name);
    if (!r) throw new VfsError(Errno.ENOENT, `no volume ${name}`);
    return r;
  }

  private async info(name: string, r: Row, held = false): Promise<VolumeInfo> {
    const n = await this.meta.getInode(r.ino);
    if (!n) throw new VfsError(Errno.EIO, `volume ${name}: inode ${r.ino} is missing`);
    return {
      name, sizeBytes: n.size, recordSize: r.recordSize, thick: r.thick, usedBytes: n.allocated, created: r.created,
      ...(r.origin ? { origin: r.origin } : {}),
      snapshots: await Promise.all(this.snapshotsOf(r.ino).map(async (s) => {
        const short = s.name.slice(s.name.indexOf('@') + 1);
        return { name: short, created: isoOfNs(s.createdNs), ...(held ? { heldBytes: await this.v.snapshots.volumeHeldBytes(name, short) } : {}) };
      })),
    };
  }

  private snapshotsOf(ino: number): SnapshotInfo[] {
    return this.v.snapshots.volumeSnapshots(ino);
  }

  /** A new volume inode and its catalogue row, in one transaction; `fill` adds extents (a clone). */
  private async make(name: string, r: Omit<Row, 'ino' | 'created'>, sizeBytes: number, fill?: (m: Parameters<Parameters<MetaStore['txn']>[0]>[0], n: Inode) => Promise<void>): Promise<Row> {
    return this.meta.txn(async (m) => {
      if (await m.tx.get(keys.volume(name))) throw new VfsError(Errno.EEXIST, `volume ${name} exists`);
      const ino = await m.allocIno();
      const t = nowNs();
      const n: Inode = {
        ino, gen: randomInt(1, 2 ** 31), mode: S_IFREG | 0o600, nlink: 1, uid: 0, gid: 0, rdev: 0, size: 0, allocated: 0,
        atimeNs: t, mtimeNs: t, ctimeNs: t, birthtimeNs: t, parent: 0, nextCookie: 3, recordSize: r.recordSize, target: '',
        project: 0, worm: 0, compress: r.thick ? COMPRESS_OFF : 0, dedup: r.thick ? DEDUP_OFF : 0,
      };
      await charge(m.tx, n, 0, 1);
      if (fill) await fill(m, n);
      n.size = sizeBytes;
      m.putInode(n);
      const row: Row = { ino, ...r, created: new Date(Number(t / 1_000_000n)).toISOString() };
      m.tx.set(keys.volume(name), Buffer.from(JSON.stringify(row)));
      m.tx.onCommit(() => this.v.snapshots.addVolumeIno(ino));
      return row;
    });
  }

  async create(name: string, opts: { sizeBytes: number; recordSize?: number; thick?: boolean }): Promise<VolumeInfo> {
    checkVolumeName(name);
    checkSize(opts.sizeBytes);
    const rs = opts.recordSize ?? DEFAULT_VOLUME_RECORD;
    checkRecord(rs);
    const thick = opts.thick === true;
    return this.one(async () => {
      const row = await this.make(name, { recordSize: rs, thick }, opts.sizeBytes);
      if (thick) {
        try {
          await this.fillZeros(name, row, 0, opts.sizeBytes);
        } catch (e) {
          await this.remove(name, row).catch(() => undefined); // ENOSPC: no half-thick volume left behind
          throw e;
        }
      }
      return this.info(name, row);
    });
  }

  /** Writes zeros over [from, to) of a volume (thick provisioning), then commits and syncs. */
  private async fillZeros(name: string, row: Row, from: number, to: number): Promise<void> {
    const st = await this.state(name, row);
    const h = new VolumeHandle(st, false);
    try {
      const zeros = Buffer.alloc(row.recordSize);
      for (let at = from; at < to; ) {
        const n = Math.min(to - at, row.recordSize - (at % row.recordSize));
        await st.file.write(at, zeros.subarray(0, n));
        at += n;
      }
      await h.flush();
    } finally {
      await h.close();
    }
  }

  async resize(name: string, sizeBytes: number): Promise<VolumeInfo> {
    checkVolumeName(name);
    checkSize(sizeBytes);
    return this.one(async () => {
      const row = await this.mustRow(name);
      const st = this.open_.get(name);
      const change = async () => {
        if (st) await st.file.flush();
        const was = await this.meta.txn(async (m) => {
          const n = await m.mustInode(row.ino, Errno.ESTALE);
          const before = n.size;
          if (sizeBytes < n.size) await m.truncateExtents(n, sizeBytes);
          n.size = sizeBytes;
          n.mtimeNs = n.ctimeNs = nowNs();
          m.putInode(n);
          return before;
        });
        if (st) {
          st.file.truncated(sizeBytes);
          st.sizeBytes = sizeBytes;
        }
        return was;
      };
      // Writes under way finish first, new ones wait: none lands past a new end (it would grow the volume back).
      const old = st ? await holdChanges(st, change) : await change();
      if (row.thick && sizeBytes > old) await this.fillZeros(name, row, old, sizeBytes);
      if (sizeBytes !== old) this.tell(name, 'resize');
      return this.info(name, row);
    });
  }

  async delete(name: string, opts: { recursive?: boolean } = {}): Promise<void> {
    checkVolumeName(name);
    return this.one(async () => {
      const row = await this.mustRow(name);
      if (this.open_.has(name)) throw new VfsError(Errno.EBUSY, `volume ${name} is open (an iSCSI session uses it?): close it first`);
      const snaps = this.snapshotsOf(row.ino);
      if (snaps.length && !opts.recursive) {
        throw new VfsError(Errno.EBUSY, `volume ${name} has snapshots (${snaps.map((s) => s.name.slice(s.name.indexOf('@') + 1)).join(', ')}): delete them first, or delete recursively`);
      }
      for (const s of snaps) {
        if (this.open_.has(`${name}@${s.name.slice(s.name.indexOf('@') + 1)}`)) throw new VfsError(Errno.EBUSY, `snapshot ${s.name} of volume ${name} is open`);
      }
      for (const s of snaps) await this.v.snapshots.delete(s.name, { volume: true });
      await this.remove(name, row);
      this.tell(name, 'delete');
    });
  }

  /** Frees the inode (its blocks released) and drops the catalogue row. */
  private async remove(name: string, row: Row): Promise<void> {
    await this.meta.txn(async (m) => {
      const n = await m.inode(row.ino);
      if (n) await m.freeInode(n);
      m.tx.delete(keys.volume(name));
      m.tx.onCommit(() => this.v.snapshots.dropVolumeIno(row.ino));
    });
  }

  async list(): Promise<VolumeInfo[]> {
    const out: VolumeInfo[] = [];
    const p = keys.volumePrefix();
    for await (const [k, v] of this.meta.kv.scan(p, prefixEnd(p))) out.push(await this.info(k.toString('utf8', 1), JSON.parse(v.toString('utf8')) as Row, true));
    return out;
  }

  async get(name: string): Promise<VolumeInfo> {
    checkVolumeName(name);
    return this.info(name, await this.mustRow(name));
  }

  async snapshot(name: string, snap: string): Promise<{ name: string; created: string }> {
    checkVolumeName(name);
    checkVolumeName(snap, 'snapshot');
    return this.one(async () => {
      const row = await this.mustRow(name);
      // Writes acknowledged before the snapshot are in it.
      await this.open_.get(name)?.file.flush();
      const s = await this.v.snapshots.createVolumeSnapshot(name, snap, row.ino).catch((e: unknown) => {
        if (e instanceof VfsError && e.errno === Errno.EEXIST) throw new VfsError(Errno.EEXIST, `snapshot ${name}@${snap} exists`);
        throw e;
      });
      return { name: snap, created: isoOfNs(s.createdNs) };
    });
  }

  async deleteSnapshot(name: string, snap: string): Promise<void> {
    checkVolumeName(name);
    checkVolumeName(snap, 'snapshot');
    return this.one(async () => {
      if (this.open_.has(`${name}@${snap}`)) throw new VfsError(Errno.EBUSY, `snapshot ${name}@${snap} is open`);
      await this.v.snapshots.delete(volumeSnapshotName(name, snap), { volume: true }).catch((e: unknown) => {
        if (e instanceof VfsError && e.errno === Errno.ENOENT) throw new VfsError(Errno.ENOENT, `no snapshot ${name}@${snap}`);
        throw e;
      });
    });
  }

  async rollback(name: string, snap: string, opts: { destroyNewer?: boolean } = {}): Promise<{ destroyed: string[] }> {
    checkVolumeName(name);
    checkVolumeName(snap, 'snapshot');
    return this.one(async () => {
      const row = await this.mustRow(name);
      if (this.open_.has(name)) throw new VfsError(Errno.EBUSY, `volume ${name} is open (an iSCSI session uses it?): close it first`);
      const target = this.snapshotsOf(row.ino).find((s) => s.name === volumeSnapshotName(name, snap));
      if (!target) throw new VfsError(Errno.ENOENT, `no snapshot ${name}@${snap}`);
      for (const s of this.snapshotsOf(row.ino)) {
        const short = s.name.slice(s.name.indexOf('@') + 1);
        if (s.epoch > target.epoch && this.open_.has(`${name}@${short}`)) throw new VfsError(Errno.EBUSY, `snapshot ${name}@${short} is open`);
      }
      const sizeBefore = (await this.meta.getInode(row.ino))?.size;
      const r = await this.v.snapshots.rollbackVolume(name, snap, opts);
      if ((await this.meta.getInode(row.ino))?.size !== sizeBefore) this.tell(name, 'resize');
      return { destroyed: r.destroyed };
    });
  }

  async clone(source: string, name: string): Promise<VolumeInfo> {
    const { vol, snap } = parseVolumeRef(source);
    if (snap === undefined) throw new VfsError(Errno.EINVAL, `clone from a snapshot: VOLUME@SNAPSHOT, not ${JSON.stringify(source)} (take one first)`);
    checkVolumeName(name);
    return this.one(async () => {
      const row = await this.mustRow(vol);
      const smeta = this.snapshotMeta(vol, snap, row.recordSize);
      const src = await smeta.getInode(row.ino);
      if (!src) throw new VfsError(Errno.EIO, `snapshot ${source}: the volume's inode is missing`);
      const extents = await smeta.extents(row.ino);
      const made = await this.make(name, { recordSize: src.recordSize, thick: row.thick, origin: source }, src.size, async (m, n) => {
        await m.cloneExtents(src, n, extents);
      });
      return this.info(name, made);
    });
  }

  /** The metadata as it was at snapshot VOL@SNAP. ENOENT if there is none. */
  private snapshotMeta(vol: string, snap: string, rs: number): MetaStore {
    return new MetaStore(this.v.snapshots.volumeView(vol, snap), this.v.impl.blocks, rs, this.meta.names);
  }

  async open(ref: string, opts: { readOnly?: boolean } = {}): Promise<BlockVolume> {
    const { vol, snap } = parseVolumeRef(ref);
    // (Through the catalogue queue: an open never sees a volume half made or half deleted.)
    return this.one(async () => {
      const row = await this.mustRow(vol);
      const st = await this.state(snap === undefined ? vol : `${vol}@${snap}`, row, snap);
      return new VolumeHandle(st, snap !== undefined || opts.readOnly === true);
    });
  }

  /** The shared state of an open volume (or snapshot), made on first use. */
  private async state(key: string, row: Row, snap?: string): Promise<VolumeState> {
    const have = this.open_.get(key);
    if (have) return have;
    const meta = snap === undefined ? this.meta : this.snapshotMeta(key.slice(0, key.indexOf('@')), snap, row.recordSize);
    const n = await meta.getInode(row.ino);
    if (!n) throw new VfsError(Errno.ESTALE, `volume ${key}: inode ${row.ino} is missing`);
    const file = new OpenFile(n.ino, n.recordSize, n.size, meta, this.v.impl.blocks);
    file.compress = compressionOfCode(n.compress);
    file.dedup = dedupOfCode(n.dedup);
    file.handles = 1;
    const st: VolumeState = {
      name: key, ino: row.ino, sizeBytes: n.size, recordSize: n.recordSize, readOnly: snap !== undefined, meta, file, handles: 0, changing: 0,
      sync: () => syncAll(this.v.impl.blocks, this.meta.kv),
      released: () => {
        if (this.open_.get(key) === st) this.open_.delete(key);
      },
    };
    this.open_.set(key, st);
    return st;
  }

  async flushAll(): Promise<void> {
    for (const st of this.open_.values()) if (!st.readOnly) await st.file.flush().catch(() => undefined);
  }
}

const stores = new WeakMap<VfsInstance, VolumeStore>();

/**
 * The block volumes of a VFS instance (one object per instance: call it as often as you like).
 * Its open volumes are flushed when the instance closes.
 */
export function openVolumes(v: VfsInstance): VolumeStore {
  let s = stores.get(v);
  if (!s) {
    const made = new VolumeCatalogue(v);
    s = made;
    stores.set(v, made);
    v.beforeClose.push(() => made.flushAll());
  }
  return s;
}
