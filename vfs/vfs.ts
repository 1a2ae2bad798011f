import { Errno, VfsError } from './errno.js';
import type { BlockStore } from '../raid/types.js';
import { INLINE_MAX, OpenFile, syncAll } from './file.js';
import { LockTable } from './locks.js';
import type { Inode } from './meta/inode.js';
import { compressionOfCode } from './compression.js';
import { isDir, isReg, S_IFMT, S_IFREG } from './meta/inode.js';
import { dedupOfCode } from './dedup.js';
import { foldEquals } from './meta/fold.js';
import { MetaStore } from './meta/metastore.js';
import { INO_SPACE, ROOT_INO, SNAPDIR_INO } from './meta/keys.js';
import type { SnapshotStore } from './meta/snapshots.js';
import { checkAccess, R_OK, W_OK } from './meta/perm.js';
import { copyRange, punchHole, seekData } from './ranges.js';
import type { Attr, Ctx, DirEntry, Fh, FileType, Lent, LockRange, OpenFlags, SetAttr, SnapshotEntry, StatFs, Vfs, VfsChange } from './types.js';

const TYPES: Record<number, FileType> = { 0o10: 'file', 0o4: 'dir', 0o12: 'symlink', 0o1: 'fifo', 0o2: 'chr', 0o6: 'blk', 0o14: 'sock' };

export function typeOf(mode: number): FileType {
  return TYPES[(mode & S_IFMT) >> 12] ?? 'file';
}

interface Handle {
  ino: number;
  flags: OpenFlags;
  file: OpenFile | null;
}

/** One tree the VFS serves: the live one (epoch 0) or a snapshot (read-only). */
interface Space {
  meta: MetaStore;
  epoch: number;
  /** Added to the tree's own inode numbers in everything the VFS returns. */
  tag: number;
}

/** Name of the virtual directory in the root that holds the snapshots (issue 3). */
export const SNAPDIR_NAME = '.snapshots';
/** The readdir cookie of /.snapshots when the root lists it (after every real entry). */
const SNAPDIR_COOKIE = Number.MAX_SAFE_INTEGER - 1;

/**
 * The inode-level VFS (vfs/types.ts `Vfs`): MetaStore for the namespace and its checks, open
 * file write buffers for the data path, the lock table, and statfs from the block store.
 *
 * Snapshots: inode numbers carry their tree, `epoch * INO_SPACE + ino` (keys.ts), so every
 * protocol, path- or inode-level, reaches snapshot S at `/.snapshots/NAME` (a virtual, read-only
 * directory, hidden from listings of `/` but found by lookup) with no code of its own.
 * Everything under it is read-only: changes fail with EROFS, before any permission check, as
 * on a read-only mount. A snapshot deleted while in use answers ESTALE.
 */
export class VfsImpl implements Vfs {
  readonly locks = new LockTable();
  private handles = new Map<Fh, Handle>();
  /** Open files by their VFS inode number (tagged). */
  private files = new Map<number, OpenFile>();
  private nextFh = 1;
  private readonly live: Space;
  private readonly spaces = new Map<number, Space>();
  private readonly watchers = new Set<(change: VfsChange, clientId: string) => void>();
  /**
   * Records of at most this many bytes are kept in their extent row instead of as blocks
   * (vfs/file.ts INLINE_MAX): the constructor's `inlineMax`, always 0 for an encrypted pool,
   * whose metadata holds no data in clear.
   */
  readonly inlineMax: number;

  constructor(readonly meta: MetaStore, readonly blocks: BlockStore, private readonly snapshots?: SnapshotStore, inlineMax = INLINE_MAX) {
    this.live = { meta, epoch: 0, tag: 0 };
    this.inlineMax = blocks.namesKey ? 0 : inlineMax;
  }

  watch(listener: (change: VfsChange, clientId: string) => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  /** Tells the watchers about a change (the entry `name` of directory `ino`, or inode `ino` itself). */
  private changed(ctx: Ctx, ino: number, name?: string, what?: Pick<VfsChange, 'action' | 'dir'>): void {
    if (!this.watchers.size) return;
    const change: VfsChange = { ino, ...(name === undefined ? {} : { name }), ...what };
    for (const w of this.watchers) w(change, ctx.clientId);
  }

  /** A new, removed or renamed entry: its name and its directory's attributes. */
  private entryChanged(ctx: Ctx, parent: number, name: string, action: NonNullable<VfsChange['action']>, dir: boolean): void {
    this.changed(ctx, parent, name, { action, dir });
    this.changed(ctx, parent, undefined, { action: 'attr' });
  }

  /** The tree an inode number belongs to, and the number inside it. Throws ESTALE for a deleted snapshot. */
  private space(ino: number): { sp: Space; local: number } {
    const epoch = Math.floor(ino / INO_SPACE);
    const local = ino - epoch * INO_SPACE;
    // A block volume's inode (vfs/volumes.ts) is no file: reachable only through the volume catalogue.
    if (this.snapshots?.isVolumeIno(local)) throw new VfsError(Errno.ESTALE, `stale inode ${ino}`);
    if (epoch === 0) return { sp: this.live, local };
    let sp = this.spaces.get(epoch);
    if (!sp || !this.snapshots?.byEpoch(epoch)) {
      if (!this.snapshots) throw new VfsError(Errno.ESTALE, `stale inode ${ino}`);
      this.spaces.delete(epoch);
      sp = { meta: new MetaStore(this.snapshots.viewByEpoch(epoch), this.blocks, this.meta.defaultRecordSize, this.meta.names), epoch, tag: epoch * INO_SPACE };
      this.spaces.set(epoch, sp);
    }
    return { sp, local };
  }

  /** Set while a rollback rewrites the live tree: changes wait for nothing, they fail EBUSY. */
  private frozen = false;

  /**
   * Runs fn (a rollback) with no file open and every change refused with EBUSY meanwhile.
   * Throws EBUSY at once if a file is open.
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.files.size) throw new VfsError(Errno.EBUSY, `${this.files.size} file(s) are open; close them (or stop the clients) and try again`);
    if (this.frozen) throw new VfsError(Errno.EBUSY, 'a rollback is already running');
    this.frozen = true;
    try {
      return await fn();
    } finally {
      this.frozen = false;
    }
  }

  /** As space(), for a change: EROFS in a snapshot and in /.snapshots. */
  private writable(ino: number, name?: string): { sp: Space; local: number } {
    if (this.frozen) throw new VfsError(Errno.EBUSY, 'the tree is being rolled back to a snapshot');
    if (ino === SNAPDIR_INO) throw new VfsError(Errno.EROFS, 'snapshots are read-only');
    const r = this.space(ino);
    if (r.sp.epoch !== 0) throw new VfsError(Errno.EROFS, 'snapshots are read-only');
    if (name === SNAPDIR_NAME && r.local === ROOT_INO && this.snapshots) throw new VfsError(Errno.EROFS, `/${SNAPDIR_NAME} is read-only`);
    return r;
  }

  /** As writable(), for making an entry: EEXIST for /.snapshots (it is there). */
  private creatable(parent: number, name: string): { sp: Space; local: number } {
    if (name === SNAPDIR_NAME && parent === ROOT_INO && this.snapshots) throw new VfsError(Errno.EEXIST, `/${SNAPDIR_NAME} exists`);
    return this.writable(parent);
  }

  /** Frees inodes left unlinked-but-open by a previous process. */
  async recover(): Promise<number> {
    const orphans = await this.meta.orphans();
    for (const ino of orphans) await this.meta.freeOrphan(ino);
    return orphans.length;
  }

  toAttr(n: Inode, sp: Space = this.live): Attr {
    const ino = n.ino + sp.tag;
    const f = this.files.get(ino);
    const size = f ? Math.max(f.size, isReg(n) ? 0 : n.size) : n.size;
    const pending = f?.pendingMtime ?? null; // a write not stored yet changes both times
    const mtime = pending ?? n.mtimeNs;
    return {
      ino, gen: n.gen, mode: n.mode, type: typeOf(n.mode), nlink: n.nlink, uid: n.uid, gid: n.gid,
      size, blocks: Math.ceil(n.allocated / 512), rdev: n.rdev,
      atimeNs: n.atimeNs, mtimeNs: mtime, ctimeNs: pending !== null && pending > n.ctimeNs ? pending : n.ctimeNs, birthtimeNs: n.birthtimeNs,
    };
  }

  /** The virtual /.snapshots directory: read and search for everyone, owned by root. */
  private async snapdirAttr(): Promise<Attr> {
    const root = await this.meta.getInode(ROOT_INO);
    const t = root?.birthtimeNs ?? 0n;
    return {
      ino: SNAPDIR_INO, gen: 1, mode: 0o040555, type: 'dir', nlink: 2 + (this.snapshots?.list().length ?? 0), uid: 0, gid: 0,
      size: 0, blocks: 0, rdev: 0, atimeNs: t, mtimeNs: t, ctimeNs: t, birthtimeNs: t,
    };
  }

  /** The root directory of snapshot `epoch`, as seen at /.snapshots/NAME. */
  private async snapshotRoot(epoch: number): Promise<Attr> {
    const root = this.snapshots?.byEpoch(epoch)?.rootIno ?? ROOT_INO; // a --path snapshot shows its folder
    const { sp } = this.space(epoch * INO_SPACE + root);
    const n = await sp.meta.getInode(root);
    if (!n) throw new VfsError(Errno.ESTALE, 'snapshot root is gone');
    return this.toAttr(n, sp);
  }

  private isOpenIn = (sp: Space) => (ino: number) => (this.files.get(ino + sp.tag)?.handles ?? 0) > 0;

  listSnapshots(): SnapshotEntry[] {
    return (this.snapshots?.list() ?? []).map((s) => ({
      name: s.name, takenMs: Number(BigInt(s.createdNs) / 1_000_000n), ...(s.rootIno ? { path: s.path ?? '' } : {}),
    }));
  }

  async lookup(ctx: Ctx, parent: number, name: string): Promise<Attr> {
    if (parent === SNAPDIR_INO) {
      if (name === '.') return this.snapdirAttr();
      if (name === '..') return this.getattr(ctx, ROOT_INO);
      const snap = this.snapshots?.find(name);
      if (!snap) throw new VfsError(Errno.ENOENT, `no snapshot ${name}`);
      return this.snapshotRoot(snap.epoch);
    }
    if (parent === ROOT_INO && name === SNAPDIR_NAME && this.snapshots) return this.snapdirAttr();
    const { sp, local } = this.space(parent);
    return this.toAttr(await sp.meta.lookup(ctx, local, name), sp);
  }

  async lookupCaseless(ctx: Ctx, parent: number, name: string): Promise<{ attr: Attr; name: string; ambiguous: boolean }> {
    if (parent === SNAPDIR_INO) {
      if (name === '.' || name === '..') return { attr: await this.lookup(ctx, parent, name), name, ambiguous: false };
      const all = this.snapshots?.list() ?? [];
      const exact = all.find((s) => s.name === name);
      const alike = exact ? [exact] : all.filter((s) => foldEquals(s.name, name)).sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
      if (!alike.length) throw new VfsError(Errno.ENOENT, `no snapshot ${name}, in any case`);
      return { attr: await this.snapshotRoot(alike[0]!.epoch), name: alike[0]!.name, ambiguous: alike.length > 1 };
    }
    const { sp, local } = this.space(parent);
    const virtual = local === ROOT_INO && sp.epoch === 0 && this.snapshots !== undefined;
    if (virtual && name === SNAPDIR_NAME) return { attr: await this.snapdirAttr(), name, ambiguous: false };
    try {
      const r = await sp.meta.lookupCaseless(ctx, local, name);
      return { attr: this.toAttr(r.inode, sp), name: r.name, ambiguous: r.ambiguous };
    } catch (e) {
      // /.snapshots folds too, after the real entries of the root.
      if (virtual && e instanceof VfsError && e.errno === Errno.ENOENT && foldEquals(name, SNAPDIR_NAME)) return { attr: await this.snapdirAttr(), name: SNAPDIR_NAME, ambiguous: false };
      throw e;
    }
  }

  async getattr(_ctx: Ctx, ino: number, gen?: number): Promise<Attr> {
    if (ino === SNAPDIR_INO && this.snapshots) return this.snapdirAttr();
    const { sp, local } = this.space(ino);
    const n = await sp.meta.getInode(local);
    if (!n || (gen !== undefined && n.gen !== gen)) throw new VfsError(Errno.ESTALE, `stale file handle for inode ${ino}`);
    return this.toAttr(n, sp);
  }

  async setattr(ctx: Ctx, ino: number, ch: SetAttr, handleWritable = false): Promise<Attr> {
    const { sp, local } = this.writable(ino);
    const f = this.files.get(ino);
    const apply = () => sp.meta.setattr(ctx, local, ch, { handleWritable });
    // A size change of an open file: its writes are held and its buffers committed meanwhile.
    const n = ch.size !== undefined && f ? await f.resizing(async () => {
      const r = await apply();
      f.truncated(r.size);
      return r;
    }) : await apply();
    this.changed(ctx, ino, undefined, { action: ch.size !== undefined ? 'data' : 'attr' });
    return this.toAttr(n, sp);
  }

  async create(ctx: Ctx, parent: number, name: string, mode: number, flags: OpenFlags & { exclusive?: boolean }): Promise<{ attr: Attr; fh: Fh }> {
    const { local } = this.creatable(parent, name);
    const { inode, existed } = await this.meta.create(ctx, local, name, S_IFREG | (mode & 0o7777), { exclusive: flags.exclusive, openExisting: true });
    if (existed) {
      const fh = await this.open(ctx, inode.ino, flags);
      return { attr: await this.getattr(ctx, inode.ino), fh };
    }
    this.entryChanged(ctx, parent, name, 'add', false);
    const fh = this.addHandle(inode, this.live, Object.assign({}, flags, { truncate: false }));
    return { attr: this.toAttr(inode), fh };
  }

  async mknod(ctx: Ctx, parent: number, name: string, mode: number, rdev: number): Promise<Attr> {
    const { local } = this.creatable(parent, name);
    const t = mode & S_IFMT;
    if (t === 0o040000 || t === 0o120000) throw new VfsError(Errno.EINVAL, 'use mkdir or symlink');
    const { inode } = await this.meta.create(ctx, local, name, (t || S_IFREG) | (mode & 0o7777), { rdev });
    this.entryChanged(ctx, parent, name, 'add', false);
    return this.toAttr(inode);
  }

  async mkdir(ctx: Ctx, parent: number, name: string, mode: number): Promise<Attr> {
    const { local } = this.creatable(parent, name);
    const { inode } = await this.meta.create(ctx, local, name, 0o040000 | (mode & 0o7777));
    this.entryChanged(ctx, parent, name, 'add', true);
    return this.toAttr(inode);
  }

  async unlink(ctx: Ctx, parent: number, name: string): Promise<void> {
    const { local } = this.writable(parent, name);
    await this.meta.unlink(ctx, local, name, this.isOpenIn(this.live));
    this.entryChanged(ctx, parent, name, 'remove', false);
  }

  async mayDelete(ctx: Ctx, parent: number, name: string): Promise<void> {
    const { local } = this.writable(parent, name);
    await this.meta.mayDelete(ctx, local, name);
  }

  async rmdir(ctx: Ctx, parent: number, name: string): Promise<void> {
    const { local } = this.writable(parent, name);
    await this.meta.rmdir(ctx, local, name);
    this.entryChanged(ctx, parent, name, 'remove', true);
  }

  async rename(ctx: Ctx, parent: number, name: string, newParent: number, newName: string, opts?: { noreplace?: boolean }): Promise<void> {
    // Between a snapshot and the live tree, as between two file systems (ZFS's .zfs/snapshot): EXDEV.
    const inSnap = (ino: number) => ino === SNAPDIR_INO || ino >= INO_SPACE;
    if (inSnap(parent) !== inSnap(newParent)) throw new VfsError(Errno.EXDEV, 'cannot move between a snapshot and the live tree');
    const a = this.writable(parent, name);
    const b = this.writable(newParent, newName);
    await this.meta.rename(ctx, a.local, name, b.local, newName, this.isOpenIn(this.live), opts);
    if (this.watchers.size) {
      const dir = (await this.lookup(ctx, newParent, newName).catch(() => undefined))?.type === 'dir';
      this.entryChanged(ctx, parent, name, 'rename-from', dir);
      this.entryChanged(ctx, newParent, newName, 'rename-to', dir);
    }
  }

  async link(ctx: Ctx, ino: number, newParent: number, newName: string): Promise<Attr> {
    const src = this.space(ino);
    if (src.sp.epoch !== 0 || ino === SNAPDIR_INO) throw new VfsError(Errno.EXDEV, 'cannot link across a snapshot');
    const { local } = this.creatable(newParent, newName);
    const n = await this.meta.link(ctx, src.local, local, newName);
    this.entryChanged(ctx, newParent, newName, 'add', false);
    this.changed(ctx, ino, undefined, { action: 'attr' }); // its link count
    return this.toAttr(n);
  }

  async symlink(ctx: Ctx, parent: number, name: string, target: string): Promise<Attr> {
    const { local } = this.creatable(parent, name);
    const { inode } = await this.meta.create(ctx, local, name, 0o120777, { target });
    this.entryChanged(ctx, parent, name, 'add', false);
    return this.toAttr(inode);
  }

  async access(ctx: Ctx, ino: number, mask: number): Promise<void> {
    if (mask & W_OK && (ino === SNAPDIR_INO || ino >= INO_SPACE)) throw new VfsError(Errno.EROFS, 'snapshots are read-only');
    if (ino === SNAPDIR_INO) return;
    const { sp, local } = this.space(ino);
    const n = await sp.meta.getInode(local);
    if (!n) throw new VfsError(Errno.ENOENT, `inode ${ino} does not exist`);
    checkAccess(ctx, n, mask & 7);
  }

  async readlink(_ctx: Ctx, ino: number): Promise<string> {
    if (ino === SNAPDIR_INO) throw new VfsError(Errno.EINVAL, 'not a symlink');
    const { sp, local } = this.space(ino);
    return sp.meta.readlink(local);
  }

  async open(ctx: Ctx, ino: number, flags: OpenFlags): Promise<Fh> {
    const writing = flags.write || flags.append || flags.truncate;
    if (ino === SNAPDIR_INO && this.snapshots) {
      if (writing) throw new VfsError(Errno.EROFS, 'snapshots are read-only');
      return this.addVirtualHandle(ino, flags);
    }
    const { sp, local } = writing ? this.writable(ino) : this.space(ino);
    const n = await sp.meta.getInode(local);
    if (!n) throw new VfsError(Errno.ENOENT, `inode ${ino} does not exist`);
    if (isDir(n) && writing) throw new VfsError(Errno.EISDIR, 'is a directory');
    checkAccess(ctx, n, (flags.read || !writing ? R_OK : 0) | (writing ? W_OK : 0));
    if (writing && n.worm) await sp.meta.checkWritable(local);
    if (flags.truncate && isReg(n) && n.size > 0) {
      await this.setattr(ctx, ino, { size: 0 }, true);
    }
    return this.addHandle((await sp.meta.getInode(local)) ?? n, sp, flags);
  }

  private addHandle(n: Inode, sp: Space, flags: OpenFlags): Fh {
    const ino = n.ino + sp.tag;
    let file: OpenFile | null = null;
    if (isReg(n)) {
      file = this.files.get(ino) ?? new OpenFile(n.ino, n.recordSize, n.size, sp.meta, this.blocks, this.inlineMax);
      this.files.set(ino, file);
      file.compress = compressionOfCode(n.compress); // the file's own setting (vfs/compression.ts)
      file.dedup = dedupOfCode(n.dedup); // vfs/dedup.ts
      file.handles++;
    }
    if (file && (flags.write || flags.append || flags.truncate) && n.worm) file.sealOnClose = true;
    const fh = this.nextFh++;
    this.handles.set(fh, { ino, flags, file });
    return fh;
  }

  private addVirtualHandle(ino: number, flags: OpenFlags): Fh {
    const fh = this.nextFh++;
    this.handles.set(fh, { ino, flags, file: null });
    return fh;
  }

  private handle(fh: Fh): Handle {
    const h = this.handles.get(fh);
    if (!h) throw new VfsError(Errno.EBADF, `bad file handle ${fh}`);
    return h;
  }

  async read(_ctx: Ctx, fh: Fh, offset: number, length: number, into?: Buffer): Promise<Buffer> {
    return this.readHandle(fh).file.read(offset, length, into);
  }

  async readLent(_ctx: Ctx, fh: Fh, offset: number, length: number): Promise<Lent> {
    const lent: Partial<Lent> = {};
    const data = await this.readHandle(fh).file.read(offset, length, undefined, lent);
    return { data, giveBack: lent.giveBack ?? (() => undefined) };
  }

  /** A regular file's handle open for reading: EISDIR, EBADF. */
  private readHandle(fh: Fh): { h: Handle; file: OpenFile } {
    const h = this.handle(fh);
    if (!h.file) throw new VfsError(Errno.EISDIR, 'not a regular file');
    if (!h.flags.read && (h.flags.write || h.flags.append)) throw new VfsError(Errno.EBADF, 'handle not open for reading');
    return { h, file: h.file };
  }

  async write(ctx: Ctx, fh: Fh, offset: number, data: Uint8Array): Promise<number> {
    const h = this.handle(fh);
    if (!h.file) throw new VfsError(Errno.EISDIR, 'not a regular file');
    if (!h.flags.write && !h.flags.append) throw new VfsError(Errno.EBADF, 'handle not open for writing');
    await h.file.write(h.flags.append ? h.file.size : offset, data);
    this.changed(ctx, h.ino, undefined, { action: 'data' });
    return data.length;
  }

  /** A regular file's handle open for writing, in the live tree: EISDIR, EROFS, EBUSY (rollback), EBADF. */
  private writeHandle(fh: Fh): { h: Handle; file: OpenFile; sp: Space } {
    const h = this.handle(fh);
    if (!h.file) throw new VfsError(Errno.EISDIR, 'not a regular file');
    const { sp } = this.writable(h.ino);
    if (!h.flags.write && !h.flags.append) throw new VfsError(Errno.EBADF, 'handle not open for writing');
    return { h, file: h.file, sp };
  }

  async seekData(_ctx: Ctx, fh: Fh, offset: number, what: 'data' | 'hole'): Promise<number> {
    const h = this.handle(fh);
    if (!h.file) throw new VfsError(Errno.EINVAL, 'not a regular file');
    return seekData(this.space(h.ino).sp.meta, h.file, offset, what);
  }

  async punchHole(ctx: Ctx, fh: Fh, offset: number, length: number): Promise<void> {
    const { h, file, sp } = this.writeHandle(fh);
    try {
      await punchHole(sp.meta, file, offset, length);
    } finally {
      this.changed(ctx, h.ino, undefined, { action: 'data' }); // also after a failure part-way: some records may have gone
    }
  }

  async copyFileRange(ctx: Ctx, fhIn: Fh, offIn: number, fhOut: Fh, offOut: number, length: number): Promise<number> {
    const a = this.readHandle(fhIn);
    const b = this.writeHandle(fhOut);
    if (b.h.flags.append) throw new VfsError(Errno.EBADF, 'destination handle is open for appending');
    const src = this.space(a.h.ino).sp;
    try {
      return await copyRange({ meta: src.meta, f: a.file, snapshot: src.epoch !== 0 }, offIn, { meta: b.sp.meta, f: b.file, snapshot: false }, offOut, length);
    } finally {
      this.changed(ctx, b.h.ino, undefined, { action: 'data' });
    }
  }

  async flush(_ctx: Ctx, fh: Fh): Promise<void> {
    await this.handle(fh).file?.flush();
  }

  async fsync(ctx: Ctx, fh: Fh): Promise<void> {
    await this.flush(ctx, fh);
    await syncAll(this.blocks, this.meta.kv);
  }

  async release(ctx: Ctx, fh: Fh): Promise<void> {
    const h = this.handles.get(fh);
    if (!h) return;
    this.handles.delete(fh);
    const f = h.file;
    if (!f) return;
    try {
      await f.flush();
    } finally {
      f.handles--;
      if (f.handles === 0 && this.files.get(h.ino) === f) {
        this.files.delete(h.ino);
        if (h.ino < INO_SPACE) {
          const n = await this.meta.getInode(h.ino);
          if (n && n.nlink === 0) await this.meta.freeOrphan(h.ino);
          else if (n && f.sealOnClose) await this.meta.sealOnClose(h.ino); // retention starts at the last close
        }
      }
      this.locks.releaseOwner(h.ino, `fh:${fh}`, ctx.clientId);
    }
  }

  /**
   * Entries after `cookie`. In /.snapshots: one directory per snapshot, oldest first, the cookie
   * being the snapshot's epoch (stable while others come and go).
   */
  async readdir(ctx: Ctx, ino: number, cookie: number, limit: number, plus = false): Promise<DirEntry[]> {
    if (ino === SNAPDIR_INO && this.snapshots) {
      const out: DirEntry[] = [];
      for (const s of this.snapshots.list()) {
        if (s.epoch <= cookie || out.length >= limit) continue;
        const e: DirEntry = { name: s.name, ino: s.epoch * INO_SPACE + (s.rootIno ?? ROOT_INO), type: 'dir', cookie: s.epoch };
        if (plus) e.attr = await this.snapshotRoot(s.epoch);
        out.push(e);
      }
      return out;
    }
    const { sp, local } = this.space(ino);
    const rows = await sp.meta.readdir(ctx, local, cookie, limit, plus);
    const out: DirEntry[] = rows.map((r) => ({
      name: r.name, ino: r.ino + sp.tag, type: TYPES[r.type] ?? 'file', cookie: r.cookie,
      ...(r.inode ? { attr: this.toAttr(r.inode, sp) } : {}),
    }));
    // `dw serve --show-snapshots`: /.snapshots is listed in the root too, last.
    if (this.showSnapshots && this.snapshots && ino === ROOT_INO && out.length < limit && cookie < SNAPDIR_COOKIE) {
      out.push({ name: SNAPDIR_NAME, ino: SNAPDIR_INO, type: 'dir', cookie: SNAPDIR_COOKIE, ...(plus ? { attr: await this.snapdirAttr() } : {}) });
    }
    return out;
  }

  /** List /.snapshots in the root directory (it is always reachable by its name). */
  showSnapshots = false;

  /**
   * The pool's capacity and free space; for a user under a byte quota (theirs, their group's,
   * or a directory quota above `ino`), the tightest one: its limit as the size, its room as free.
   */
  async statfs(ctx: Ctx, ino: number): Promise<StatFs> {
    const s = await this.blocks.stats();
    const u = await this.meta.usage();
    const bsize = 4096;
    // Data still in write buffers counts as used already (a client checking df after a write sees it).
    let pending = 0;
    for (const f of this.files.values()) pending += f.pendingBytes;
    const used = u.usedBytes + pending;
    let total = Math.max(s.capacity, used);
    let free = Math.max(0, Math.min(s.free - pending, total - used));
    const local = ino === SNAPDIR_INO || ino >= INO_SPACE ? ROOT_INO : ino;
    const q = await this.meta.quotaRoom(ctx.uid, ctx.gid, local);
    if (q && q.limit - q.used < free) {
      total = Math.min(total, q.limit);
      free = Math.max(0, q.limit - q.used);
    }
    return {
      bsize, blocks: Math.floor(total / bsize), bfree: Math.floor(free / bsize), bavail: Math.floor(free / bsize),
      files: u.inodes + 2 ** 32, ffree: 2 ** 32, namemax: 255,
    };
  }

  async getxattr(ctx: Ctx, ino: number, name: string): Promise<Buffer> {
    if (ino === SNAPDIR_INO) throw new VfsError(Errno.ENODATA, 'no such attribute');
    const { sp, local } = this.space(ino);
    return sp.meta.getxattr(ctx, local, name);
  }
  async setxattr(ctx: Ctx, ino: number, name: string, value: Uint8Array, flags?: { create?: boolean; replace?: boolean }): Promise<void> {
    const { local } = this.writable(ino);
    await this.meta.setxattr(ctx, local, name, value, flags);
    this.changed(ctx, ino, undefined, { action: 'xattr' }); // its ctime
  }
  async listxattr(ctx: Ctx, ino: number): Promise<string[]> {
    if (ino === SNAPDIR_INO) return [];
    const { sp, local } = this.space(ino);
    return sp.meta.listxattr(ctx, local);
  }
  async removexattr(ctx: Ctx, ino: number, name: string): Promise<void> {
    const { local } = this.writable(ino);
    await this.meta.removexattr(ctx, local, name);
    this.changed(ctx, ino, undefined, { action: 'xattr' });
  }

  async lock(ctx: Ctx, ino: number, range: LockRange, wait = false, signal?: AbortSignal): Promise<void> {
    await this.locks.lock(ino, Object.assign({}, range, { clientId: ctx.clientId }), wait, signal);
  }
  async unlock(ctx: Ctx, ino: number, range: Omit<LockRange, 'type'>): Promise<void> {
    this.locks.unlock(ino, Object.assign({}, range, { clientId: ctx.clientId }));
  }
  async testlock(ctx: Ctx, ino: number, range: LockRange): Promise<(LockRange & { clientId: string }) | null> {
    return this.locks.conflict(ino, Object.assign({}, range, { clientId: ctx.clientId }));
  }

  /**
   * Copies a regular file into a new entry by reference: same mode and xattrs, extents pointing
   * at the same blocks (each block's count goes up). Errno: as create, plus EISDIR.
   */
  async cloneFile(ctx: Ctx, ino: number, parent: number, name: string): Promise<Attr> {
    if (ino === SNAPDIR_INO) throw new VfsError(Errno.EISDIR, 'not a regular file');
    const { sp, local: srcIno } = this.space(ino);
    const { local: dir } = this.creatable(parent, name);
    await this.files.get(ino)?.flush();
    const src = await sp.meta.getInode(srcIno);
    if (!src) throw new VfsError(Errno.ENOENT, 'source vanished');
    if (!isReg(src)) throw new VfsError(Errno.EISDIR, 'not a regular file');
    checkAccess(ctx, src, R_OK);
    // From a snapshot too (a restore): the extents are read there and referenced again here.
    const extents = sp.epoch === 0 ? undefined : await sp.meta.extents(srcIno);
    const { inode } = await this.meta.create(ctx, dir, name, S_IFREG | (src.mode & 0o777));
    const copy = await this.meta.txn(async (m) => {
      const to = await m.mustInode(inode.ino);
      const from = extents ? src : await m.mustInode(srcIno);
      await m.cloneExtents(from, to, extents);
      to.size = from.size;
      to.recordSize = from.recordSize;
      m.putInode(to);
      return to;
    });
    for (const x of await sp.meta.listxattr(ctx, srcIno).catch(() => [] as string[])) {
      if (!x.startsWith('user.')) continue;
      await this.meta.setxattr(ctx, inode.ino, x, await sp.meta.getxattr(ctx, srcIno, x));
    }
    if (copy.worm) await this.meta.sealOnClose(copy.ino); // a copy into a retention directory is a closed file there
    this.entryChanged(ctx, parent, name, 'add', false);
    return this.toAttr(copy);
  }

  /** Flushes every open file (shutdown). */
  async flushAll(): Promise<void> {
    for (const f of this.files.values()) await f.flush().catch(() => undefined);
  }
}
