import { Errno, VfsError } from './errno.js';
import type { BlockStore } from '../raid/types.js';
import { OpenFile } from './file.js';
import { LockTable } from './locks.js';
import type { Inode } from './meta/inode.js';
import { isDir, isReg, S_IFMT, S_IFREG } from './meta/inode.js';
import { MetaStore } from './meta/metastore.js';
import { checkAccess, R_OK, W_OK } from './meta/perm.js';
import type { Attr, Ctx, DirEntry, Fh, FileType, LockRange, OpenFlags, SetAttr, StatFs, Vfs } from './types.js';

const TYPES: Record<number, FileType> = { 0o10: 'file', 0o4: 'dir', 0o12: 'symlink', 0o1: 'fifo', 0o2: 'chr', 0o6: 'blk', 0o14: 'sock' };

export function typeOf(mode: number): FileType {
  return TYPES[(mode & S_IFMT) >> 12] ?? 'file';
}

interface Handle {
  ino: number;
  flags: OpenFlags;
  file: OpenFile | null;
}

/**
 * The inode-level VFS (vfs/types.ts `Vfs`): MetaStore for the namespace and its checks, open
 * file write buffers for the data path, the lock table, and statfs from the block store.
 */
export class VfsImpl implements Vfs {
  readonly locks = new LockTable();
  private handles = new Map<Fh, Handle>();
  private files = new Map<number, OpenFile>();
  private nextFh = 1;

  constructor(readonly meta: MetaStore, readonly blocks: BlockStore) {}

  /** Frees inodes left unlinked-but-open by a previous process. */
  async recover(): Promise<number> {
    const orphans = await this.meta.orphans();
    for (const ino of orphans) await this.meta.freeOrphan(ino);
    return orphans.length;
  }

  toAttr(n: Inode): Attr {
    const f = this.files.get(n.ino);
    const size = f ? Math.max(f.size, isReg(n) ? 0 : n.size) : n.size;
    const mtime = f?.pendingMtime ?? n.mtimeNs;
    return {
      ino: n.ino, gen: n.gen, mode: n.mode, type: typeOf(n.mode), nlink: n.nlink, uid: n.uid, gid: n.gid,
      size, blocks: Math.ceil(n.allocated / 512), rdev: n.rdev,
      atimeNs: n.atimeNs, mtimeNs: mtime, ctimeNs: mtime > n.ctimeNs ? mtime : n.ctimeNs, birthtimeNs: n.birthtimeNs,
    };
  }

  private isOpen = (ino: number) => (this.files.get(ino)?.handles ?? 0) > 0;

  async lookup(ctx: Ctx, parent: number, name: string): Promise<Attr> {
    return this.toAttr(await this.meta.lookup(ctx, parent, name));
  }

  async getattr(_ctx: Ctx, ino: number, gen?: number): Promise<Attr> {
    const n = await this.meta.getInode(ino);
    if (!n || (gen !== undefined && n.gen !== gen)) throw new VfsError(Errno.ESTALE, `stale file handle for inode ${ino}`);
    return this.toAttr(n);
  }

  async setattr(ctx: Ctx, ino: number, ch: SetAttr, handleWritable = false): Promise<Attr> {
    const f = this.files.get(ino);
    if (ch.size !== undefined && f) await f.flush();
    const n = await this.meta.setattr(ctx, ino, ch, { handleWritable });
    if (ch.size !== undefined && f) f.truncated(n.size);
    return this.toAttr(n);
  }

  async create(ctx: Ctx, parent: number, name: string, mode: number, flags: OpenFlags & { exclusive?: boolean }): Promise<{ attr: Attr; fh: Fh }> {
    const { inode, existed } = await this.meta.create(ctx, parent, name, S_IFREG | (mode & 0o7777), { exclusive: flags.exclusive, openExisting: true });
    if (existed) {
      const fh = await this.open(ctx, inode.ino, flags);
      return { attr: await this.getattr(ctx, inode.ino), fh };
    }
    const fh = this.addHandle(inode, { ...flags, truncate: false });
    return { attr: this.toAttr(inode), fh };
  }

  async mknod(ctx: Ctx, parent: number, name: string, mode: number, rdev: number): Promise<Attr> {
    const t = mode & S_IFMT;
    if (t === 0o040000 || t === 0o120000) throw new VfsError(Errno.EINVAL, 'use mkdir or symlink');
    const { inode } = await this.meta.create(ctx, parent, name, (t || S_IFREG) | (mode & 0o7777), { rdev });
    return this.toAttr(inode);
  }

  async mkdir(ctx: Ctx, parent: number, name: string, mode: number): Promise<Attr> {
    return this.toAttr((await this.meta.create(ctx, parent, name, 0o040000 | (mode & 0o7777))).inode);
  }

  async unlink(ctx: Ctx, parent: number, name: string): Promise<void> {
    await this.meta.unlink(ctx, parent, name, this.isOpen);
  }

  async rmdir(ctx: Ctx, parent: number, name: string): Promise<void> {
    await this.meta.rmdir(ctx, parent, name);
  }

  async rename(ctx: Ctx, parent: number, name: string, newParent: number, newName: string, opts?: { noreplace?: boolean }): Promise<void> {
    await this.meta.rename(ctx, parent, name, newParent, newName, this.isOpen, opts);
  }

  async link(ctx: Ctx, ino: number, newParent: number, newName: string): Promise<Attr> {
    return this.toAttr(await this.meta.link(ctx, ino, newParent, newName));
  }

  async symlink(ctx: Ctx, parent: number, name: string, target: string): Promise<Attr> {
    return this.toAttr((await this.meta.create(ctx, parent, name, 0o120777, { target })).inode);
  }

  async readlink(_ctx: Ctx, ino: number): Promise<string> {
    return this.meta.readlink(ino);
  }

  async open(ctx: Ctx, ino: number, flags: OpenFlags): Promise<Fh> {
    const n = await this.meta.getInode(ino);
    if (!n) throw new VfsError(Errno.ENOENT, `inode ${ino} does not exist`);
    const writing = flags.write || flags.append || flags.truncate;
    if (isDir(n) && writing) throw new VfsError(Errno.EISDIR, 'is a directory');
    checkAccess(ctx, n, (flags.read || !writing ? R_OK : 0) | (writing ? W_OK : 0));
    if (flags.truncate && isReg(n) && n.size > 0) {
      await this.setattr(ctx, ino, { size: 0 }, true);
    }
    return this.addHandle((await this.meta.getInode(ino)) ?? n, flags);
  }

  private addHandle(n: Inode, flags: OpenFlags): Fh {
    let file: OpenFile | null = null;
    if (isReg(n)) {
      file = this.files.get(n.ino) ?? new OpenFile(n.ino, n.recordSize, n.size, this.meta, this.blocks);
      this.files.set(n.ino, file);
      file.handles++;
    }
    const fh = this.nextFh++;
    this.handles.set(fh, { ino: n.ino, flags, file });
    return fh;
  }

  private handle(fh: Fh): Handle {
    const h = this.handles.get(fh);
    if (!h) throw new VfsError(Errno.EBADF, `bad file handle ${fh}`);
    return h;
  }

  async read(_ctx: Ctx, fh: Fh, offset: number, length: number): Promise<Buffer> {
    const h = this.handle(fh);
    if (!h.file) throw new VfsError(Errno.EISDIR, 'not a regular file');
    if (!h.flags.read && (h.flags.write || h.flags.append)) throw new VfsError(Errno.EBADF, 'handle not open for reading');
    return h.file.read(offset, length);
  }

  async write(_ctx: Ctx, fh: Fh, offset: number, data: Uint8Array): Promise<number> {
    const h = this.handle(fh);
    if (!h.file) throw new VfsError(Errno.EISDIR, 'not a regular file');
    if (!h.flags.write && !h.flags.append) throw new VfsError(Errno.EBADF, 'handle not open for writing');
    await h.file.write(h.flags.append ? h.file.size : offset, data);
    return data.length;
  }

  async flush(_ctx: Ctx, fh: Fh): Promise<void> {
    await this.handle(fh).file?.flush();
  }

  async fsync(ctx: Ctx, fh: Fh): Promise<void> {
    await this.flush(ctx, fh);
    await this.blocks.sync();
    await this.meta.kv.sync();
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
        const n = await this.meta.getInode(h.ino);
        if (n && n.nlink === 0) await this.meta.freeOrphan(h.ino);
      }
      this.locks.releaseOwner(h.ino, `fh:${fh}`, ctx.clientId);
    }
  }

  async readdir(ctx: Ctx, ino: number, cookie: number, limit: number, plus = false): Promise<DirEntry[]> {
    const rows = await this.meta.readdir(ctx, ino, cookie, limit, plus);
    return rows.map((r) => ({
      name: r.name, ino: r.ino, type: TYPES[r.type] ?? 'file', cookie: r.cookie,
      ...(r.inode ? { attr: this.toAttr(r.inode) } : {}),
    }));
  }

  async statfs(_ctx: Ctx, _ino: number): Promise<StatFs> {
    const s = await this.blocks.stats();
    const u = await this.meta.usage();
    const bsize = 4096;
    const total = Math.max(s.capacity, u.usedBytes);
    const free = Math.max(0, Math.min(s.free, total - u.usedBytes));
    return {
      bsize, blocks: Math.floor(total / bsize), bfree: Math.floor(free / bsize), bavail: Math.floor(free / bsize),
      files: u.inodes + 2 ** 32, ffree: 2 ** 32, namemax: 255,
    };
  }

  async getxattr(ctx: Ctx, ino: number, name: string): Promise<Buffer> {
    return this.meta.getxattr(ctx, ino, name);
  }
  async setxattr(ctx: Ctx, ino: number, name: string, value: Uint8Array, flags?: { create?: boolean; replace?: boolean }): Promise<void> {
    await this.meta.setxattr(ctx, ino, name, value, flags);
  }
  async listxattr(ctx: Ctx, ino: number): Promise<string[]> {
    return this.meta.listxattr(ctx, ino);
  }
  async removexattr(ctx: Ctx, ino: number, name: string): Promise<void> {
    await this.meta.removexattr(ctx, ino, name);
  }

  async lock(ctx: Ctx, ino: number, range: LockRange, wait = false): Promise<void> {
    await this.locks.lock(ino, { ...range, clientId: ctx.clientId }, wait);
  }
  async unlock(ctx: Ctx, ino: number, range: Omit<LockRange, 'type'>): Promise<void> {
    this.locks.unlock(ino, { ...range, clientId: ctx.clientId });
  }
  async testlock(ctx: Ctx, ino: number, range: LockRange): Promise<(LockRange & { clientId: string }) | null> {
    return this.locks.conflict(ino, { ...range, clientId: ctx.clientId });
  }

  /**
   * Copies a regular file into a new entry by reference: same mode and xattrs, extents pointing
   * at the same blocks (each block's count goes up). Errno: as create, plus EISDIR.
   */
  async cloneFile(ctx: Ctx, ino: number, parent: number, name: string): Promise<Attr> {
    await this.files.get(ino)?.flush();
    const src = await this.meta.getInode(ino);
    if (!src) throw new VfsError(Errno.ENOENT, 'source vanished');
    if (!isReg(src)) throw new VfsError(Errno.EISDIR, 'not a regular file');
    checkAccess(ctx, src, R_OK);
    const { inode } = await this.meta.create(ctx, parent, name, S_IFREG | (src.mode & 0o777));
    const copy = await this.meta.txn(async (m) => {
      const from = await m.mustInode(ino);
      const to = await m.mustInode(inode.ino);
      await m.cloneExtents(from, to);
      to.size = from.size;
      to.recordSize = from.recordSize;
      m.putInode(to);
      return to;
    });
    for (const x of await this.meta.listxattr(ctx, ino).catch(() => [] as string[])) {
      if (!x.startsWith('user.')) continue;
      await this.meta.setxattr(ctx, inode.ino, x, await this.meta.getxattr(ctx, ino, x));
    }
    return this.toAttr(copy);
  }

  /** Flushes every open file (shutdown). */
  async flushAll(): Promise<void> {
    for (const f of this.files.values()) await f.flush().catch(() => undefined);
  }
}
