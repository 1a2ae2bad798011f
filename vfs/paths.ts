import { Errno, VfsError } from './errno.js';
import { ROOT_INO } from './meta/keys.js';
import type { Attr, Ctx, DirEntry, Fh, OpenFlags, PathVfs, Resolved, SetAttr, StatFs } from './types.js';
import type { VfsImpl } from './vfs.js';

const MAX_PATH = 4096;
const MAX_SYMLINKS = 40;
const READDIR_BATCH = 1024;

/** Splits a path into checked components with '.' dropped and '..' clamped at the root. */
export function components(path: string): string[] {
  if (path.includes('\0')) throw new VfsError(Errno.EINVAL, 'path contains a NUL byte');
  if (Buffer.byteLength(path) > MAX_PATH) throw new VfsError(Errno.ENAMETOOLONG, 'path longer than 4096 bytes');
  const out: string[] = [];
  for (const c of path.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') { out.pop(); continue; }
    if (Buffer.byteLength(c) > 255) throw new VfsError(Errno.ENAMETOOLONG, 'path component longer than 255 bytes');
    out.push(c);
  }
  return out;
}

/**
 * The path layer (vfs/types.ts `PathVfs`) for WebDAV, SFTP and S3: every path is relative to the
 * export root and can never leave it; symlinks resolve inside the export.
 */
export class PathLayer implements PathVfs {
  constructor(readonly vfs: VfsImpl) {}

  normalize(path: string): string {
    return '/' + components(path).join('/');
  }

  /** Walks the path; `stack` holds the inodes of the directories walked so '..' in symlink targets pops. */
  async resolve(ctx: Ctx, path: string, opts: { followLast?: boolean } = {}): Promise<Resolved> {
    const follow = opts.followLast ?? true;
    let queue = components(path);
    const stack: number[] = [ROOT_INO];
    let links = 0;
    let attr = await this.vfs.getattr(ctx, ROOT_INO);
    let name = '';
    while (queue.length) {
      const c = queue.shift()!;
      const dir = stack[stack.length - 1]!;
      if (c === '..') {
        if (stack.length > 1) stack.pop();
        attr = await this.vfs.getattr(ctx, stack[stack.length - 1]!);
        name = '';
        continue;
      }
      const a = await this.vfs.lookup(ctx, dir, c);
      if (a.type === 'symlink' && (queue.length > 0 || follow)) {
        if (++links > MAX_SYMLINKS) throw new VfsError(Errno.ELOOP, 'too many levels of symbolic links');
        const target = await this.vfs.readlink(ctx, a.ino);
        if (target.startsWith('/')) stack.length = 1;
        queue = [...target.split('/').filter((x) => x !== '' && x !== '.'), ...queue];
        attr = await this.vfs.getattr(ctx, stack[stack.length - 1]!);
        name = '';
        continue;
      }
      if (queue.length > 0) {
        if (a.type !== 'dir') throw new VfsError(Errno.ENOTDIR, `${c} is not a directory`);
        stack.push(a.ino);
      }
      attr = a;
      name = c;
      if (queue.length === 0) return { attr, parent: dir, name };
    }
    return { attr, parent: stack.length > 1 ? stack[stack.length - 2]! : ROOT_INO, name };
  }

  /** The directory that holds the last component (symlinks before it followed) and that name. */
  async resolveParent(ctx: Ctx, path: string): Promise<{ parent: number; name: string }> {
    const parts = components(path);
    const name = parts.pop();
    if (name === undefined) throw new VfsError(Errno.EBUSY, 'the root cannot be changed this way');
    const dir = await this.resolve(ctx, '/' + parts.join('/'));
    if (dir.attr.type !== 'dir') throw new VfsError(Errno.ENOTDIR, 'parent is not a directory');
    return { parent: dir.attr.ino, name };
  }

  async stat(ctx: Ctx, path: string): Promise<Attr> {
    return (await this.resolve(ctx, path)).attr;
  }
  async lstat(ctx: Ctx, path: string): Promise<Attr> {
    return (await this.resolve(ctx, path, { followLast: false })).attr;
  }

  async readdir(ctx: Ctx, path: string): Promise<DirEntry[]> {
    const dir = (await this.resolve(ctx, path)).attr;
    if (dir.type !== 'dir') throw new VfsError(Errno.ENOTDIR, 'not a directory');
    const out: DirEntry[] = [];
    for (let cookie = 0; ; ) {
      const batch = await this.vfs.readdir(ctx, dir.ino, cookie, READDIR_BATCH, true);
      out.push(...batch);
      if (batch.length < READDIR_BATCH) return out;
      cookie = batch[batch.length - 1]!.cookie;
    }
  }

  async mkdir(ctx: Ctx, path: string, mode = 0o755): Promise<Attr> {
    const { parent, name } = await this.resolveParent(ctx, path);
    return this.vfs.mkdir(ctx, parent, name, mode);
  }

  async open(ctx: Ctx, path: string, flags: OpenFlags & { create?: boolean; exclusive?: boolean }, mode = 0o644): Promise<{ attr: Attr; fh: Fh }> {
    if (flags.create) {
      const { parent, name } = await this.resolveParent(ctx, path);
      let existing: Attr | null = null;
      try {
        existing = (await this.resolve(ctx, path)).attr;
      } catch (e) {
        if (!(e instanceof VfsError) || e.errno !== Errno.ENOENT) throw e;
      }
      if (existing && flags.exclusive) throw new VfsError(Errno.EEXIST, 'file exists');
      if (!existing) return this.vfs.create(ctx, parent, name, mode, flags);
      if (existing.type === 'dir') throw new VfsError(Errno.EISDIR, 'is a directory');
      const fh = await this.vfs.open(ctx, existing.ino, flags);
      return { attr: await this.vfs.getattr(ctx, existing.ino), fh };
    }
    const { attr } = await this.resolve(ctx, path);
    const fh = await this.vfs.open(ctx, attr.ino, flags);
    return { attr: await this.vfs.getattr(ctx, attr.ino), fh };
  }

  async unlink(ctx: Ctx, path: string): Promise<void> {
    const { parent, name } = await this.resolveParent(ctx, path);
    await this.vfs.unlink(ctx, parent, name);
  }

  async rmdir(ctx: Ctx, path: string): Promise<void> {
    const { parent, name } = await this.resolveParent(ctx, path);
    await this.vfs.rmdir(ctx, parent, name);
  }

  async removeTree(ctx: Ctx, path: string): Promise<void> {
    const { parent, name } = await this.resolveParent(ctx, path);
    await this.removeEntry(ctx, parent, name);
  }

  private async removeEntry(ctx: Ctx, parent: number, name: string): Promise<void> {
    const a = await this.vfs.lookup(ctx, parent, name);
    if (a.type !== 'dir') return this.vfs.unlink(ctx, parent, name);
    for (;;) {
      const batch = await this.vfs.readdir(ctx, a.ino, 0, READDIR_BATCH);
      for (const e of batch) await this.removeEntry(ctx, a.ino, e.name);
      if (batch.length < READDIR_BATCH) break;
    }
    await this.vfs.rmdir(ctx, parent, name);
  }

  async rename(ctx: Ctx, from: string, to: string, opts?: { noreplace?: boolean }): Promise<void> {
    const a = await this.resolveParent(ctx, from);
    const b = await this.resolveParent(ctx, to);
    await this.vfs.rename(ctx, a.parent, a.name, b.parent, b.name, opts);
  }

  async copy(ctx: Ctx, from: string, to: string, opts: { overwrite: boolean; depth: 0 | 'infinity' }): Promise<void> {
    const src = this.normalize(from), dst = this.normalize(to);
    if (dst === src || dst.startsWith(src === '/' ? '/' : src + '/')) throw new VfsError(Errno.EINVAL, 'cannot copy a directory into itself');
    const s = await this.resolve(ctx, src, { followLast: false });
    const d = await this.resolveParent(ctx, dst);
    try {
      await this.vfs.lookup(ctx, d.parent, d.name);
      if (!opts.overwrite) throw new VfsError(Errno.EEXIST, 'destination exists');
      await this.removeEntry(ctx, d.parent, d.name);
    } catch (e) {
      if (!(e instanceof VfsError) || e.errno !== Errno.ENOENT) throw e;
    }
    await this.copyEntry(ctx, s.attr, d.parent, d.name, opts.depth);
  }

  private async copyEntry(ctx: Ctx, a: Attr, parent: number, name: string, depth: 0 | 'infinity'): Promise<void> {
    if (a.type === 'file') {
      await this.vfs.cloneFile(ctx, a.ino, parent, name);
      return;
    }
    if (a.type === 'symlink') {
      await this.vfs.symlink(ctx, parent, name, await this.vfs.readlink(ctx, a.ino));
      return;
    }
    if (a.type !== 'dir') {
      await this.vfs.mknod(ctx, parent, name, a.mode, a.rdev);
      return;
    }
    const made = await this.vfs.mkdir(ctx, parent, name, a.mode & 0o7777);
    for (const x of await this.vfs.listxattr(ctx, a.ino)) {
      if (x.startsWith('user.')) await this.vfs.setxattr(ctx, made.ino, x, await this.vfs.getxattr(ctx, a.ino, x));
    }
    if (depth === 0) return;
    for (let cookie = 0; ; ) {
      const batch = await this.vfs.readdir(ctx, a.ino, cookie, READDIR_BATCH, true);
      for (const e of batch) if (e.attr) await this.copyEntry(ctx, e.attr, made.ino, e.name, depth);
      if (batch.length < READDIR_BATCH) break;
      cookie = batch[batch.length - 1]!.cookie;
    }
  }

  async symlink(ctx: Ctx, target: string, path: string): Promise<Attr> {
    const { parent, name } = await this.resolveParent(ctx, path);
    return this.vfs.symlink(ctx, parent, name, target);
  }

  async readlink(ctx: Ctx, path: string): Promise<string> {
    const { attr } = await this.resolve(ctx, path, { followLast: false });
    return this.vfs.readlink(ctx, attr.ino);
  }

  async link(ctx: Ctx, existing: string, path: string): Promise<Attr> {
    const { attr } = await this.resolve(ctx, existing, { followLast: false });
    const { parent, name } = await this.resolveParent(ctx, path);
    return this.vfs.link(ctx, attr.ino, parent, name);
  }

  async setattr(ctx: Ctx, path: string, changes: SetAttr, opts: { followLast?: boolean } = {}): Promise<Attr> {
    const { attr } = await this.resolve(ctx, path, opts);
    return this.vfs.setattr(ctx, attr.ino, changes);
  }

  async statfs(ctx: Ctx, path: string): Promise<StatFs> {
    const { attr } = await this.resolve(ctx, path);
    return this.vfs.statfs(ctx, attr.ino);
  }

  async getxattr(ctx: Ctx, path: string, name: string): Promise<Buffer> {
    return this.vfs.getxattr(ctx, (await this.resolve(ctx, path)).attr.ino, name);
  }
  async setxattr(ctx: Ctx, path: string, name: string, value: Uint8Array): Promise<void> {
    await this.vfs.setxattr(ctx, (await this.resolve(ctx, path)).attr.ino, name, value);
  }
  async listxattr(ctx: Ctx, path: string): Promise<string[]> {
    return this.vfs.listxattr(ctx, (await this.resolve(ctx, path)).attr.ino);
  }
  async removexattr(ctx: Ctx, path: string, name: string): Promise<void> {
    await this.vfs.removexattr(ctx, (await this.resolve(ctx, path)).attr.ino, name);
  }
}
