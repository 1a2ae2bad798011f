/**
 * Snapshots of the metadata (ARCHITECTURE.md "Snapshots"; issue 3), without copying the tree.
 *
 * Live rows are never versioned, so the live tree reads exactly as fast with snapshots as
 * without. A snapshot is one record ('N' name: its epoch, and the inode counter when taken).
 * The first write after the newest snapshot L to a row that existed at L (an inode, entry,
 * cookie, xattr or extent row; keys.ts) copies the row's old value to a history entry
 * 'H' key 0x00 L, listed in L's dead list 'h' L key. An extent copied this way takes a
 * reference on its block, so the block outlives the live file (invariant 2).
 *
 * Reading row K at snapshot S: the H entry of K with the smallest epoch ≥ S, else the live row.
 * (An entry labelled E holds the value K had at E and at every snapshot after the previous H
 * entry of K.) Rows of inodes numbered at or past S's inode counter did not exist at S; they are
 * never copied for S and never shown in S, which keeps creating files cheap after a snapshot.
 *
 * Deleting snapshot S walks S's dead list only (work in proportion to what changed, never to
 * the tree): an entry still needed by an older snapshot is relabelled to the newest of those,
 * the others are dropped and their blocks released. Creating a snapshot writes one record:
 * constant time whatever the number of files.
 *
 * Transactions are serialized by the engine (kv.ts), so "the committed value" of a row inside
 * a transaction is what the store answers outside it.
 *
 * Scopes (block volumes, vfs/volumes.ts): a snapshot covers either the file tree (every inode
 * that is not a volume's) or one volume's inode (`volumeIno`). A row is copied for the newest
 * snapshot that covers its owner inode, a deletion relabels to the newest older one that covers
 * it, and a view reads only rows its snapshot covers. So a volume snapshot holds no history of
 * the files (deleting files frees their space whatever volume snapshots exist) and a tree
 * snapshot none of the volumes; a rollback of the tree leaves the volumes alone. Volume
 * snapshots are hidden from list/find/byEpoch (so from /.snapshots, SMB Previous Versions,
 * schedules and `dw snapshot`); their records are named 'volume/VOL@SNAP', which no tree
 * snapshot can be ('/' is refused in those). The volume inodes are known from the catalogue
 * ('V' rows, keys.ts), read at open and kept current through addVolumeIno/dropVolumeIno.
 */
import { Errno, VfsError } from '../errno.js';
import type { KvStore, KvTxn, ScanOptions, TxnOptions } from './kv.js';
import { decodeCounter, encodeCounter } from './kv.js';
import { keys, PREFIX, prefixEnd, readU64, VERSIONED_PREFIXES } from './keys.js';
import { decodeExtent, decodeInode } from './inode.js';
import type { BlockRefs } from './metatxn.js';
import { COUNTERS, holdExtent, nowNs, releaseExtent } from './metatxn.js';
import { adjustUsage, recountUsage } from './quota.js';

/** One snapshot, as recorded under 'N' name. */
export interface SnapshotInfo {
  name: string;
  /** Never reused in the store's life; orders snapshots. */
  epoch: number;
  /** Inodes numbered from here on did not exist when the snapshot was taken. */
  nextIno: number;
  /** When taken, ns since the Unix epoch (decimal string). */
  createdNs: string;
  /** Live usage when taken: bytes in files, and inodes. */
  usedBytes: number;
  inodes: number;
  /** 'deleting' while `delete` walks its dead list (resumed at open after a crash). */
  state: 'ready' | 'deleting';
  /** Set while `rollback` returns the live tree to this snapshot (resumed at open after a crash). */
  rollingBack?: boolean;
  /**
   * `--path` snapshots: the directory (inode, and its path when taken) that /.snapshots/NAME shows.
   * The whole tree is kept all the same (it costs only the rows that change); no rollback.
   */
  rootIno?: number;
  path?: string;
  /** A block volume's snapshot (vfs/volumes.ts): the volume inode it covers, alone. */
  volumeIno?: number;
  /** While a volume rollback runs: the volume's allocated bytes before it (to correct the usage counters at its end). */
  allocatedBefore?: number;
}

/** The record name of volume `vol`'s snapshot `snap` (a '/' keeps it apart from tree snapshots). */
export function volumeSnapshotName(vol: string, snap: string): string {
  return `volume/${vol}@${snap}`;
}

const EMPTY = Buffer.alloc(0);
const ABSENT = Buffer.of(0);
/** Dead-list entries handled per transaction while deleting a snapshot. */
const DELETE_BATCH = 512;
/** The counter ('C', keys.ts) that hands out snapshot epochs. */
export const EPOCH_COUNTER = 'snapEpoch';
const MAX_SNAPSHOT_NAME = 255;
/** Epochs tag inode numbers above 2^36 (keys.ts INO_SPACE), so they stay below 2^17. */
const MAX_EPOCH = 2 ** 17;

/** Throws EINVAL unless `name` is a usable snapshot name (a path component: no '/', NUL, '.' or '..'). */
export function checkSnapshotName(name: string): void {
  if (!name || name === '.' || name === '..' || name.includes('/') || name.includes('\0') || Buffer.byteLength(name) > MAX_SNAPSHOT_NAME) {
    throw new VfsError(Errno.EINVAL, `bad snapshot name ${JSON.stringify(name)}: 1 to ${MAX_SNAPSHOT_NAME} bytes, no '/', not '.' or '..'`);
  }
}

const VERSIONED = new Set(VERSIONED_PREFIXES);

/** Whether a row is one snapshots version (it starts with its owner inode's number). */
function isVersioned(key: Buffer): boolean {
  return key.length >= 9 && VERSIONED.has(key[0]!);
}

/** The inode a versioned row belongs to: itself (I, E, X) or its directory (D, d). */
function ownerIno(key: Buffer): number {
  return readU64(key, 1);
}

function encodeHistory(v: Buffer | undefined): Buffer {
  return v ? Buffer.concat([Buffer.of(1), v]) : ABSENT;
}

function decodeHistory(v: Buffer): Buffer | undefined {
  return v[0] === 1 ? v.subarray(1) : undefined;
}

/** The epoch at the end of an H key. */
function historyEpoch(hk: Buffer): number {
  return hk.readUInt32BE(hk.length - 4);
}

/** The row key inside an H key. */
function historyRow(hk: Buffer): Buffer {
  return hk.subarray(1, hk.length - 5);
}

/** A transaction that keeps history for the newest snapshot; see the file comment. */
class PreservingTxn {
  private done = new Set<string>();
  private touched: Buffer[] = [];
  readonly tx: KvTxn & { preserve(key: Buffer): Promise<void> };

  /** `target(ino)`: the newest ready snapshot covering inode ino (its rows are copied for it), if any. */
  constructor(private readonly inner: KvTxn, private readonly target: (ino: number) => SnapshotInfo | undefined, private readonly committed: KvStore, private readonly refs: BlockRefs) {
    const touch = (k: Buffer) => {
      if (!isVersioned(k)) return;
      const snap = target(ownerIno(k));
      if (snap && ownerIno(k) < snap.nextIno) this.touched.push(Buffer.from(k));
    };
    this.tx = {
      get: (k) => inner.get(k),
      getMany: (ks) => inner.getMany(ks),
      scan: (b, e, o) => inner.scan(b, e, o),
      set: (k, v) => { touch(k); inner.set(k, v); },
      delete: (k) => { touch(k); inner.delete(k); },
      incrBy: (k, d) => inner.incrBy(k, d),
      addCounter: (k, d) => inner.addCounter(k, d),
      onCommit: (f) => inner.onCommit(f),
      preserve: (k) => this.preserve(k),
    };
  }

  /** Copies the committed value of `key` to its H entry for the newest snapshot, once. */
  async preserve(key: Buffer): Promise<void> {
    if (!isVersioned(key)) return;
    const snap = this.target(ownerIno(key));
    if (!snap || ownerIno(key) >= snap.nextIno) return;
    const id = key.toString('latin1');
    if (this.done.has(id)) return;
    this.done.add(id);
    const hk = keys.history(key, snap.epoch);
    if (await this.inner.get(hk)) return; // copied by an earlier transaction
    const old = await this.committed.get(key);
    this.inner.set(hk, encodeHistory(old));
    this.inner.set(keys.deadList(snap.epoch, key), EMPTY);
    if (old && key[0] === PREFIX.extent) await holdExtent(this.refs, decodeExtent(old), this.inner);
  }

  /** Copies every row written in the transaction that is not copied yet. */
  async finish(): Promise<void> {
    for (const k of this.touched) {
      if (k[0] === PREFIX.extent && !this.done.has(k.toString('latin1'))) {
        // An extent row written without preserve(): only new extents (no old row) may be.
        const old = await this.committed.get(k);
        if (old) throw new VfsError(Errno.EIO, 'internal: an extent changed under a snapshot without being preserved first');
      }
      await this.preserve(k);
    }
  }
}

/**
 * The live store with snapshots: a KvStore whose transactions keep history for the newest
 * snapshot, plus create/list/delete and read-only views of each snapshot. Open with `open()`.
 */
export class SnapshotStore implements KvStore {
  readonly engine: string;
  /** Every snapshot record, by epoch (ready and deleting). */
  private all: SnapshotInfo[] = [];
  /** The block volumes' inodes (catalogue 'V' rows): tree snapshots do not cover them. */
  private readonly volumeInos = new Set<number>();

  private constructor(readonly inner: KvStore, private readonly refs: BlockRefs) {
    this.engine = inner.engine;
  }

  /** Wraps `inner`; finishes deletions a crash interrupted. */
  static async open(inner: KvStore, refs: BlockRefs): Promise<SnapshotStore> {
    const s = new SnapshotStore(inner, refs);
    const p = keys.snapshotPrefix();
    for await (const [, v] of inner.scan(p, prefixEnd(p))) s.all.push(JSON.parse(v.toString('utf8')) as SnapshotInfo);
    const vp = keys.volumePrefix();
    for await (const [, v] of inner.scan(vp, prefixEnd(vp))) s.volumeInos.add((JSON.parse(v.toString('utf8')) as { ino: number }).ino);
    s.all.sort((a, b) => a.epoch - b.epoch);
    for (const snap of s.all.filter((x) => x.state === 'deleting')) await s.finishDelete(snap);
    for (const snap of s.all.filter((x) => x.state === 'ready' && x.rollingBack)) await s.finishRollback(snap);
    return s;
  }

  /** Ready snapshots of the tree, oldest first (volume snapshots: volumeSnapshots). */
  list(): SnapshotInfo[] {
    return this.all.filter((s) => s.state === 'ready' && s.volumeIno === undefined).map((s) => ({ ...s }));
  }

  /** A ready snapshot of the tree by name, or undefined. */
  find(name: string): SnapshotInfo | undefined {
    const s = this.all.find((x) => x.name === name && x.state === 'ready' && x.volumeIno === undefined);
    return s ? { ...s } : undefined;
  }

  /** Ready snapshots of volume inode `ino`, oldest first. */
  volumeSnapshots(ino: number): SnapshotInfo[] {
    return this.all.filter((s) => s.state === 'ready' && s.volumeIno === ino).map((s) => ({ ...s }));
  }

  /** Whether inode `ino` is a block volume's (the VFS refuses to show it: vfs/volumes.ts). */
  isVolumeIno(ino: number): boolean {
    return this.volumeInos.has(ino);
  }

  /** Inode `ino` is a block volume's from now on: only its own snapshots cover it. Call on commit of its catalogue row. */
  addVolumeIno(ino: number): void {
    this.volumeInos.add(ino);
  }

  /** Inode `ino` (freed, with its catalogue row) is no volume's any more. */
  dropVolumeIno(ino: number): void {
    this.volumeInos.delete(ino);
  }

  /** Whether snapshot `s` covers the rows of inode `ino` (see the file comment, "Scopes"). */
  private covers(s: SnapshotInfo, ino: number): boolean {
    return s.volumeIno === undefined ? !this.volumeInos.has(ino) : s.volumeIno === ino;
  }

  /** The newest ready snapshot covering inode `ino`: the one a change to its rows is copied for. */
  private latestFor(ino: number): SnapshotInfo | undefined {
    for (let i = this.all.length - 1; i >= 0; i--) {
      const s = this.all[i]!;
      if (s.state === 'ready' && this.covers(s, ino)) return s;
    }
    return undefined;
  }

  private anyReady(): boolean {
    return this.all.some((s) => s.state === 'ready');
  }

  get(key: Buffer): Promise<Buffer | undefined> {
    return this.inner.get(key);
  }
  getMany(ks: Buffer[]): Promise<(Buffer | undefined)[]> {
    return this.inner.getMany(ks);
  }
  scan(begin: Buffer, end: Buffer, opts?: ScanOptions): AsyncIterable<[Buffer, Buffer]> {
    return this.inner.scan(begin, end, opts);
  }
  sync(): Promise<void> {
    return this.inner.sync();
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  txn<T>(fn: (tx: KvTxn) => Promise<T>, opts?: TxnOptions): Promise<T> {
    return this.inner.txn(async (tx) => {
      if (!this.anyReady()) return fn(tx);
      const p = new PreservingTxn(tx, (ino) => this.latestFor(ino), this.inner, this.refs);
      const r = await fn(p.tx);
      await p.finish();
      return r;
    }, opts);
  }

  /**
   * Takes snapshot `name` of the whole tree: one record, constant time. Throws EINVAL for a bad
   * name, EEXIST if the name is taken.
   */
  async create(name: string, opts: { rootIno?: number; path?: string } = {}): Promise<SnapshotInfo> {
    checkSnapshotName(name);
    return this.record(name, opts);
  }

  /**
   * Takes a snapshot of volume inode `ino` alone (vfs/volumes.ts), recorded as
   * volumeSnapshotName(vol, snap): one record, constant time. EEXIST if taken.
   */
  async createVolumeSnapshot(vol: string, snap: string, ino: number): Promise<SnapshotInfo> {
    return this.record(volumeSnapshotName(vol, snap), { volumeIno: ino });
  }

  private async record(name: string, opts: { rootIno?: number; path?: string; volumeIno?: number }): Promise<SnapshotInfo> {
    return this.inner.txn(async (tx) => {
      if (await tx.get(keys.snapshot(name))) throw new VfsError(Errno.EEXIST, `snapshot ${name} exists`);
      const epoch = Number(await tx.incrBy(keys.counter(EPOCH_COUNTER), 1n));
      if (epoch >= MAX_EPOCH) throw new VfsError(Errno.ENOSPC, 'no snapshot numbers left');
      const info: SnapshotInfo = {
        name, epoch,
        nextIno: Number(decodeCounter(await tx.get(keys.counter(COUNTERS.nextIno)))) + 1,
        createdNs: nowNs().toString(),
        usedBytes: Number(decodeCounter(await tx.get(keys.counter(COUNTERS.usedBytes)))),
        inodes: Number(decodeCounter(await tx.get(keys.counter(COUNTERS.inodes)))),
        state: 'ready',
        ...(opts.rootIno && opts.rootIno !== 1 ? { rootIno: opts.rootIno, ...(opts.path ? { path: opts.path } : {}) } : {}),
        ...(opts.volumeIno !== undefined ? { volumeIno: opts.volumeIno } : {}),
      };
      tx.set(keys.snapshot(name), Buffer.from(JSON.stringify(info)));
      tx.onCommit(() => this.all.push(info)); // epochs only grow: the list stays ordered
      return { ...info };
    }, { sync: true });
  }

  /**
   * Deletes snapshot `name`: history only it needed goes, with the blocks only that history
   * held. Throws ENOENT if there is no such snapshot. Resumes after a crash (see open).
   * A volume's snapshot is deleted only with `volume` (vfs/volumes.ts), by its record name.
   */
  async delete(name: string, opts: { volume?: boolean } = {}): Promise<void> {
    const snap = this.all.find((x) => x.name === name && x.state === 'ready' && (x.volumeIno !== undefined) === (opts.volume === true));
    if (!snap) throw new VfsError(Errno.ENOENT, `no snapshot ${name}`);
    await this.inner.txn(async (tx) => {
      const marked = { ...snap, state: 'deleting' as const };
      tx.set(keys.snapshot(name), Buffer.from(JSON.stringify(marked)));
      tx.onCommit(() => { snap.state = 'deleting'; });
    }, { sync: true });
    await this.finishDelete(snap);
  }

  private async finishDelete(snap: SnapshotInfo): Promise<void> {
    await this.drainDeadList(snap, async (tx, row, v) => {
      // The newest ready snapshot older than this one: it may still need entries labelled here.
      const older = this.all.filter((x) => x.state === 'ready' && x.epoch < snap.epoch && this.covers(x, ownerIno(row))).at(-1);
      if (older && ownerIno(row) < older.nextIno && !(await this.hasEntryBetween(tx, row, older.epoch, snap.epoch))) {
        // `older` read this row through the entry: relabel it.
        tx.set(keys.history(row, older.epoch), v);
        tx.set(keys.deadList(older.epoch, row), EMPTY);
        return;
      }
      const old = decodeHistory(v);
      if (old && row[0] === PREFIX.extent) await releaseExtent(this.refs, decodeExtent(old), tx);
    });
    await this.inner.txn(async (tx) => {
      tx.delete(keys.snapshot(snap.name));
      tx.onCommit(() => { this.all = this.all.filter((x) => x !== snap); });
    }, { sync: true });
  }

  /**
   * Returns the live tree to snapshot `name` (ZFS rollback): every row changed since goes back
   * to its value then, rows of inodes made since go, usage counters return to the snapshot's.
   * Only the newest snapshot can be rolled back to: newer ones must go first (`destroyNewer`
   * deletes them), else EBUSY naming them. The snapshot stays, now equal to the live tree.
   * Work is in proportion to what changed since; resumed at open after a crash. The caller
   * keeps other writers out meanwhile (VfsImpl.exclusive). Throws ENOENT for no such snapshot.
   */
  async rollback(name: string, opts: { destroyNewer?: boolean } = {}): Promise<{ restored: number; removed: number; destroyed: string[] }> {
    const snap = this.all.find((x) => x.name === name && x.state === 'ready' && x.volumeIno === undefined);
    if (!snap) throw new VfsError(Errno.ENOENT, `no snapshot ${name}`);
    if (snap.rootIno) throw new VfsError(Errno.EINVAL, `snapshot ${name} was taken of ${snap.path ?? 'a folder'} only: bring files back with dw restore instead`);
    const newer = this.list().filter((x) => x.epoch > snap.epoch); // volume snapshots cover no tree row
    if (newer.length && !opts.destroyNewer) {
      throw new VfsError(Errno.EBUSY, `snapshots newer than ${name} exist (${newer.map((x) => x.name).join(', ')}): delete them first, or roll back with --destroy-newer`);
    }
    for (const n of newer) await this.delete(n.name);
    await this.inner.txn(async (tx) => {
      tx.set(keys.snapshot(name), Buffer.from(JSON.stringify({ ...snap, rollingBack: true })));
      tx.onCommit(() => { snap.rollingBack = true; });
    }, { sync: true });
    return { ...(await this.finishRollback(snap)), destroyed: newer.map((x) => x.name) };
  }

  /**
   * Returns block volume `vol` to its snapshot `snap` (vfs/volumes.ts), as rollback does the
   * tree: the volume's rows changed since go back (work in proportion to them), its usage
   * counters follow. Only its newest snapshot: newer ones of the volume go first with
   * `destroyNewer`, else EBUSY naming them. The caller keeps the volume closed meanwhile.
   * Resumed at open after a crash. Throws ENOENT for no such snapshot.
   */
  async rollbackVolume(vol: string, snap: string, opts: { destroyNewer?: boolean } = {}): Promise<{ restored: number; destroyed: string[] }> {
    const name = volumeSnapshotName(vol, snap);
    const s = this.all.find((x) => x.name === name && x.state === 'ready' && x.volumeIno !== undefined);
    if (!s) throw new VfsError(Errno.ENOENT, `no snapshot ${vol}@${snap}`);
    const newer = this.all.filter((x) => x.state === 'ready' && x.volumeIno === s.volumeIno && x.epoch > s.epoch);
    const short = (x: SnapshotInfo) => x.name.slice(x.name.indexOf('@') + 1);
    if (newer.length && !opts.destroyNewer) {
      throw new VfsError(Errno.EBUSY, `snapshots of ${vol} newer than ${snap} exist (${newer.map(short).join(', ')}): delete them first, or roll back destroying newer ones`);
    }
    for (const n of newer) await this.delete(n.name, { volume: true });
    await this.inner.txn(async (tx) => {
      const v = await tx.get(keys.inode(s.volumeIno!));
      const allocatedBefore = v ? decodeInode(v).allocated : 0;
      tx.set(keys.snapshot(name), Buffer.from(JSON.stringify({ ...s, rollingBack: true, allocatedBefore })));
      tx.onCommit(() => { s.rollingBack = true; s.allocatedBefore = allocatedBefore; });
    }, { sync: true });
    return { restored: (await this.finishRollback(s)).restored, destroyed: newer.map(short) };
  }

  /** Step 1 of a rollback: every row in the snapshot's dead list back to its value then. Returns how many. */
  private async restoreRows(snap: SnapshotInfo): Promise<number> {
    let restored = 0;
    await this.drainDeadList(snap, async (tx, row, v) => {
      const old = decodeHistory(v);
      const cur = await tx.get(row);
      // An extent: the live block loses the live reference; the entry's reference moves to live.
      if (row[0] === PREFIX.extent && cur) await releaseExtent(this.refs, decodeExtent(cur), tx);
      if (old) tx.set(row, old);
      else tx.delete(row);
      restored++;
    });
    return restored;
  }

  /** The end of a volume rollback: the rows are back; the used-bytes counter and the owner's quota usage follow the volume's allocation. */
  private async finishVolumeRollback(snap: SnapshotInfo): Promise<{ restored: number; removed: number }> {
    const restored = await this.restoreRows(snap);
    await this.inner.txn(async (tx) => {
      const v = await tx.get(keys.inode(snap.volumeIno!));
      if (v && snap.allocatedBefore !== undefined) {
        const n = decodeInode(v);
        const d = n.allocated - snap.allocatedBefore;
        if (d) {
          await tx.incrBy(keys.counter(COUNTERS.usedBytes), BigInt(d));
          await adjustUsage(tx, n, d);
        }
      }
      const { rollingBack: _, allocatedBefore: __, ...rest } = snap;
      tx.set(keys.snapshot(snap.name), Buffer.from(JSON.stringify(rest)));
      tx.onCommit(() => { delete snap.rollingBack; delete snap.allocatedBefore; });
    }, { sync: true });
    return { restored, removed: 0 };
  }

  private async finishRollback(snap: SnapshotInfo): Promise<{ restored: number; removed: number }> {
    if (snap.volumeIno !== undefined) return this.finishVolumeRollback(snap);
    let removed = 0;
    // 1. Rows changed since the snapshot: their H entries labelled with it hold the old values.
    const restored = await this.restoreRows(snap);
    // 2. Rows of inodes made since the snapshot (never copied: they did not exist then).
    const from = Buffer.alloc(8);
    from.writeBigUInt64BE(BigInt(snap.nextIno));
    for (const p of [PREFIX.inode, PREFIX.extent, PREFIX.xattr, PREFIX.dirent, PREFIX.dirCookie, PREFIX.folded, PREFIX.orphan]) {
      let begin = Buffer.concat([Buffer.of(p), from]);
      const end = Buffer.of(p + 1);
      for (;;) {
        const batch: [Buffer, Buffer][] = [];
        for await (const e of this.inner.scan(begin, end, { limit: DELETE_BATCH })) batch.push(e);
        if (!batch.length) break;
        begin = Buffer.concat([batch.at(-1)![0], Buffer.of(0)]); // (volume rows stay: scan past them)
        await this.inner.txn(async (tx) => {
          for (const [k, v] of batch) {
            if (this.volumeInos.has(readU64(k, 1))) continue; // a volume made since: not the tree's
            if (p === PREFIX.extent) await releaseExtent(this.refs, decodeExtent(v), tx);
            tx.delete(k);
            if (p === PREFIX.inode) removed++;
          }
        });
      }
    }
    // 3. Usage back to the snapshot's (per user, group and directory: recounted), and done.
    // The totals are recounted too: block volumes (not the tree's, untouched) may have changed since.
    const total = await recountUsage(this.inner);
    await this.inner.txn(async (tx) => {
      // A snapshot older than the caseless index ('F', keys.ts ²) brought back entries the index
      // never saw: the index is unusable until the next open rebuilds it (vfs/meta/foldindex.ts).
      const foldEpoch = await tx.get(keys.superblock('foldEpoch'));
      if (foldEpoch && snap.epoch <= Number(foldEpoch.toString('utf8'))) {
        tx.delete(keys.superblock('foldEpoch'));
        tx.set(keys.superblock('version'), Buffer.from('1'));
      }
      tx.set(keys.counter(COUNTERS.usedBytes), encodeCounter(BigInt(total.bytes)));
      tx.set(keys.counter(COUNTERS.inodes), encodeCounter(BigInt(total.inodes)));
      const { rollingBack: _, ...rest } = snap;
      tx.set(keys.snapshot(snap.name), Buffer.from(JSON.stringify(rest)));
      tx.onCommit(() => { delete snap.rollingBack; });
    }, { sync: true });
    return { restored, removed };
  }

  /**
   * Takes every entry of snapshot `snap`'s dead list, in batches of DELETE_BATCH per transaction:
   * deletes the entry and its H row, and hands the row and the H value to `fn` in that
   * transaction. Ends when the list is empty (so it also takes entries added meanwhile).
   */
  private async drainDeadList(snap: SnapshotInfo, fn: (tx: KvTxn, row: Buffer, value: Buffer) => Promise<void>): Promise<void> {
    const prefix = keys.deadListPrefix(snap.epoch);
    for (;;) {
      const batch: Buffer[] = [];
      for await (const [k] of this.inner.scan(prefix, prefixEnd(prefix), { limit: DELETE_BATCH })) batch.push(k.subarray(prefix.length));
      if (!batch.length) return;
      await this.inner.txn(async (tx) => {
        for (const row of batch) {
          const hk = keys.history(row, snap.epoch);
          const v = await tx.get(hk);
          tx.delete(hk);
          tx.delete(keys.deadList(snap.epoch, row));
          if (v) await fn(tx, row, v);
        }
      });
    }
  }

  /** Whether row has an H entry with from ≤ epoch < to (then snapshot `from` reads that one). */
  private async hasEntryBetween(tx: KvTxn, row: Buffer, from: number, to: number): Promise<boolean> {
    for await (const _ of tx.scan(keys.history(row, from), keys.history(row, to), { limit: 1 })) return true;
    return false;
  }

  /** A ready snapshot by epoch, or undefined. */
  byEpoch(epoch: number): SnapshotInfo | undefined {
    const s = this.all.find((x) => x.epoch === epoch && x.state === 'ready');
    return s ? { ...s } : undefined;
  }

  /** A read-only view of the tree as it was at snapshot `name`. Throws ENOENT if there is none. */
  view(name: string): KvStore {
    const snap = this.find(name);
    if (!snap) throw new VfsError(Errno.ENOENT, `no snapshot ${name}`);
    return new SnapshotView(this.inner, snap);
  }

  /** A read-only view of volume `vol`'s snapshot `snap` (vfs/volumes.ts). Throws ENOENT if there is none. */
  volumeView(vol: string, snap: string): SnapshotView {
    const name = volumeSnapshotName(vol, snap);
    const s = this.all.find((x) => x.name === name && x.state === 'ready' && x.volumeIno !== undefined);
    if (!s) throw new VfsError(Errno.ENOENT, `no snapshot ${vol}@${snap}`);
    return new SnapshotView(this.inner, { ...s });
  }

  /** The view of snapshot `epoch` (for the VFS's inode spaces). Throws ESTALE if it is gone. */
  viewByEpoch(epoch: number): SnapshotView {
    const snap = this.byEpoch(epoch);
    if (!snap) throw new VfsError(Errno.ESTALE, `snapshot ${epoch} no longer exists`);
    return new SnapshotView(this.inner, snap);
  }

  /** Blocks' worth of history each snapshot holds: logical bytes of extents copied into its dead list. */
  async heldBytes(name: string): Promise<number> {
    const snap = this.find(name);
    if (!snap) throw new VfsError(Errno.ENOENT, `no snapshot ${name}`);
    return this.heldBy(snap);
  }

  /** As heldBytes, for volume `vol`'s snapshot `snap` (0 if there is none). */
  async volumeHeldBytes(vol: string, snap: string): Promise<number> {
    const name = volumeSnapshotName(vol, snap);
    const s = this.all.find((x) => x.name === name && x.state === 'ready' && x.volumeIno !== undefined);
    return s ? this.heldBy(s) : 0;
  }

  private async heldBy(snap: SnapshotInfo): Promise<number> {
    const prefix = keys.deadListPrefix(snap.epoch);
    let bytes = 0;
    for await (const [k] of this.inner.scan(Buffer.concat([prefix, Buffer.of(PREFIX.extent)]), prefixEnd(Buffer.concat([prefix, Buffer.of(PREFIX.extent)])))) {
      const v = await this.inner.get(keys.history(k.subarray(prefix.length), snap.epoch));
      const old = v && decodeHistory(v);
      if (old) bytes += decodeExtent(old).length;
    }
    return bytes;
  }
}

/** The store as it was at one snapshot: reads only; every write is EROFS. */
export class SnapshotView implements KvStore {
  readonly engine: string;
  constructor(private readonly live: KvStore, readonly snap: SnapshotInfo) {
    this.engine = live.engine;
  }

  /** Whether a versioned row cannot have existed at the snapshot. */
  private born(key: Buffer): boolean {
    return isVersioned(key) && ownerIno(key) >= this.snap.nextIno;
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    if (!isVersioned(key)) return this.live.get(key);
    if (this.born(key)) return undefined;
    // The live row first, then the history: a commit landing between the two reads wrote the
    // H entry of the old value with it, which the second read finds. (In the other order such a
    // commit would show its new value as the snapshot's: a volume snapshot read during a write.)
    const live = await this.live.get(key);
    for await (const [, v] of this.live.scan(keys.history(key, this.snap.epoch), prefixEnd(keys.historyOf(key)), { limit: 1 })) return decodeHistory(v);
    return live;
  }

  async getMany(ks: Buffer[]): Promise<(Buffer | undefined)[]> {
    return Promise.all(ks.map((k) => this.get(k)));
  }

  /** Live rows merged with the history that applies at the snapshot, in key order. */
  async *scan(begin: Buffer, end: Buffer, opts: ScanOptions = {}): AsyncIterable<[Buffer, Buffer]> {
    if (opts.reverse) throw new VfsError(Errno.EOPNOTSUPP, 'reverse scans of a snapshot');
    let left = opts.limit ?? Infinity;
    if (left <= 0) return;
    if (!isVersioned(begin)) {
      for await (const e of this.live.scan(begin, end, opts)) yield e;
      return;
    }
    const live = this.live.scan(begin, end)[Symbol.asyncIterator]();
    const hist = this.historyIn(begin, end)[Symbol.asyncIterator]();
    let l = await live.next();
    let h = await hist.next();
    try {
      while (left > 0 && (!l.done || !h.done)) {
        const c = l.done ? 1 : h.done ? -1 : Buffer.compare(l.value[0], h.value[0]);
        let out: [Buffer, Buffer | undefined];
        if (c < 0) {
          out = this.born(l.value[0]) ? [l.value[0], undefined] : l.value;
          l = await live.next();
        } else {
          out = h.value;
          if (c === 0) l = await live.next();
          h = await hist.next();
        }
        if (out[1] !== undefined) {
          left--;
          yield out as [Buffer, Buffer];
        }
      }
    } finally {
      await live.return?.();
      await hist.return?.();
    }
  }

  /**
   * For each row in [begin, end) with an H entry labelled at or after the snapshot: the row and
   * the value it had then (undefined: absent), in row order.
   */
  private async *historyIn(begin: Buffer, end: Buffer): AsyncIterable<[Buffer, Buffer | undefined]> {
    const hb = Buffer.concat([Buffer.of(PREFIX.history), begin]);
    const he = Buffer.concat([Buffer.of(PREFIX.history), end]);
    let row: Buffer | undefined;
    let taken = false;
    for await (const [hk, v] of this.live.scan(hb, he)) {
      const r = historyRow(hk);
      if (!row || !r.equals(row)) {
        row = Buffer.from(r);
        taken = false;
      }
      if (taken || historyEpoch(hk) < this.snap.epoch || this.born(row)) continue;
      taken = true; // the smallest epoch ≥ the snapshot's
      yield [row, decodeHistory(v)];
    }
  }

  txn<T>(fn: (tx: KvTxn) => Promise<T>): Promise<T> {
    const ro = (): never => { throw new VfsError(Errno.EROFS, `snapshot ${this.snap.name} is read-only`); };
    return fn({
      get: (k) => this.get(k), getMany: (ks) => this.getMany(ks), scan: (b, e, o) => this.scan(b, e, o),
      set: ro, delete: ro, incrBy: ro, addCounter: ro, onCommit: ro,
    });
  }

  async sync(): Promise<void> {}
  async close(): Promise<void> {}
}
