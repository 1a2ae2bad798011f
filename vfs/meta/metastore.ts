import { randomInt } from 'node:crypto';
import { Errno, VfsError } from '../errno.js';
import type { SetAttr } from '../types.js';
import type { KvStore, TxnOptions } from './kv.js';
import { keys, prefixEnd, ROOT_INO } from './keys.js';
import type { Extent, Inode } from './inode.js';
import { type NameCipher, PLAIN_NAMES } from './names.js';
import { findFolded, foldIndexRows, foldIndexUsable, prepareFoldIndex } from './foldindex.js';
import { DEDUP_INHERIT, DEDUP_OFF, DEDUP_ON, isDir, isLnk, isReg, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from './inode.js';
import type { BlockRefs } from './metatxn.js';
import { COUNTERS, MetaTxn, nowNs } from './metatxn.js';
import { addHold, checkMutable, getRetention, getSeal, listHolds, removeHold, sealOnClose, setRetention, type Hold, type RetentionRule, type SealState } from './retention.js';
import { charge, childProject, containerOf, getRule, getUsage, listRules, projectChain, putRule, setUsage, type QuotaKind, type QuotaLimits, type QuotaRule, type QuotaUsage } from './quota.js';
import type { Cred } from './perm.js';
import { checkAccess, checkName, checkOwner, checkSticky, inGroup, mayAccess, R_OK, W_OK, X_OK } from './perm.js';

export { MetaTxn, nowNs } from './metatxn.js';
export type { BlockRefs } from './metatxn.js';


const MAX_LINKS = 65000;
const MAX_TARGET = 4095;
const MAX_XATTR_VALUE = 64 * 1024;
export const MAX_FILE_SIZE = 2 ** 50;

/**
 * The namespace over the KV store: every public method is one serialized transaction and
 * applies POSIX checks (names, permissions, sticky bit, link counts) before it writes.
 * Errors are VfsError with the Errno each method of `Vfs` (vfs/types.ts) documents.
 */
/** The range of a stored time (a signed 64-bit count of ns since 1970). */
const MIN_TIME_NS = -(1n << 63n);
const MAX_TIME_NS = (1n << 63n) - 1n;

export class MetaStore {
  /** `names`: how names, xattrs and symlink targets are kept (vfs/meta/names.ts; encrypted pools seal them). */
  constructor(readonly kv: KvStore, private readonly refs: BlockRefs, readonly defaultRecordSize: number, readonly names: NameCipher = PLAIN_NAMES) {}

  /** Retention refusals (EPERM) so far, and a hook the gateway logs them with. */
  retentionRefusals = 0;
  onRetentionRefusal: ((message: string) => void) | undefined;

  private noteRefusal(err: unknown): never {
    if (err instanceof VfsError && err.errno === Errno.EPERM && err.message.startsWith('retention:')) {
      this.retentionRefusals++;
      this.onRetentionRefusal?.(err.message);
    }
    throw err;
  }

  /** Runs fn in one transaction with typed row access. */
  txn<T>(fn: (m: MetaTxn) => Promise<T>, opts?: TxnOptions): Promise<T> {
    return this.kv.txn((tx) => fn(new MetaTxn(tx, this.refs, this.names)), opts).catch((e: unknown) => this.noteRefusal(e));
  }

  /**
   * Creates the root directory (mode 01777, owned by root) on an empty store, and on a store
   * made before the caseless index, builds it (once; vfs/meta/foldindex.ts), with progress lines
   * to `log`. Idempotent. Throws EIO for a store of a newer metadata format.
   */
  async init(log?: (msg: string) => void): Promise<void> {
    await this.txn(async (m) => {
      if (await m.inode(ROOT_INO)) return;
      await m.tx.incrBy(keys.counter(COUNTERS.nextIno), BigInt(ROOT_INO));
      await m.tx.incrBy(keys.counter(COUNTERS.inodes), 1n);
      for (const [k, v] of await foldIndexRows(m.tx)) m.tx.set(k, v);
      m.tx.set(keys.superblock('volumeId'), Buffer.from(randomInt(1, 2 ** 31).toString()));
      const root = this.newInode(ROOT_INO, S_IFDIR | 0o1777, { uid: 0, gid: 0, groups: [] }, ROOT_INO);
      m.putInode(root);
      await charge(m.tx, root, 0, 1);
    });
    await prepareFoldIndex(this.kv, this.names, log);
  }

  /** Inodes unlinked while open when the process stopped; the VFS frees them at start. */
  async orphans(): Promise<number[]> {
    const out: number[] = [];
    const p = keys.orphanPrefix();
    for await (const [k] of this.kv.scan(p, prefixEnd(p))) out.push(Number(k.readBigUInt64BE(1)));
    return out;
  }

  private newInode(ino: number, mode: number, c: Cred, parent: number, dir?: Inode): Inode {
    const t = nowNs();
    let gid = c.gid;
    if (dir && dir.mode & 0o2000) {
      gid = dir.gid; // setgid directory: new entries take its group, new directories keep the bit
      if ((mode & S_IFMT) === S_IFDIR) mode |= 0o2000;
    }
    return {
      ino, gen: randomInt(1, 2 ** 31), mode, nlink: (mode & S_IFMT) === S_IFDIR ? 2 : 1, uid: c.uid, gid, rdev: 0,
      size: 0, allocated: 0, atimeNs: t, mtimeNs: t, ctimeNs: t, birthtimeNs: t, parent, nextCookie: 3,
      recordSize: this.defaultRecordSize, target: '', project: dir?.project ?? 0, worm: dir?.worm ?? 0, compress: dir?.compress ?? 0, dedup: dir?.dedup ?? 0,
    };
  }

  /** Extents of a file (all by default) with from <= offset < to, ascending, as [offset, extent], at most `limit` of them, from committed state. */
  async extents(ino: number, from = 0, to = Number.MAX_SAFE_INTEGER, limit?: number): Promise<[number, Extent][]> {
    return this.txnRead((m) => m.extents(ino, from, to, limit));
  }

  /**
   * fallocate(2) FALLOC_FL_PUNCH_HOLE on committed state: the extents lying wholly inside
   * [from, to) go (their blocks released as truncate releases them; a snapshot keeps its
   * copy), the size stays, mtime and ctime move. Bytes of a record only partly inside are the
   * caller's to zero. Retention: EPERM, as for a write. Returns the bytes freed.
   */
  async punchHole(ino: number, from: number, to: number): Promise<number> {
    return this.txn(async (m) => {
      const n = await m.mustInode(ino, Errno.ESTALE);
      if (!isReg(n)) throw new VfsError(Errno.EINVAL, 'holes are punched in regular files only');
      await checkMutable(m.tx, n, 'write');
      const freed = await m.dropExtents(n, from, to);
      n.mtimeNs = n.ctimeNs = nowNs();
      m.putInode(n);
      return freed;
    });
  }

  /**
   * copy_file_range(2) by reference: bytes [srcOff, srcOff + length) of file `src` become bytes
   * [dstOff, dstOff + length) of `dst`, record by record, each record's block shared (counted
   * once more); a hole in the source makes a hole in the destination. Both offsets start a
   * record (the files' record sizes are the same); the range ends at a record boundary, or at
   * or past the destination's size (nothing of the destination's last record is kept past it).
   * The source's extents are read in the same transaction, or given (`srcExtents`, read from a
   * snapshot). Quotas count as for a write (EDQUOT: nothing applied); retention EPERM on the
   * destination. Returns the destination's new size.
   */
  async shareRecords(src: number, srcOff: number, dst: number, dstOff: number, length: number, srcExtents?: [number, Extent][]): Promise<number> {
    return this.txn(async (m) => {
      const to = await m.mustInode(dst, Errno.ESTALE);
      if (!isReg(to)) throw new VfsError(Errno.EINVAL, 'records are shared between regular files only');
      await checkMutable(m.tx, to, 'write');
      const rs = to.recordSize;
      const end = dstOff + length;
      if (srcOff % rs || dstOff % rs || length <= 0 || (end % rs && end < to.size)) throw new VfsError(Errno.EINVAL, 'a shared range is whole records');
      const from = new Map(srcExtents ?? await m.extents(src, srcOff, srcOff + length));
      for (let d = dstOff, s = srcOff; d < end; d += rs, s += rs) {
        const e = from.get(s);
        if (e) await m.shareExtent(to, d, Object.assign({}, e, { length: Math.min(e.length, end - d) }));
        else await m.dropExtents(to, d, d + rs);
      }
      to.size = Math.max(to.size, end);
      to.mtimeNs = to.ctimeNs = nowNs();
      m.putInode(to);
      return to.size;
    });
  }

  async getInode(ino: number): Promise<Inode | undefined> {
    return this.txnRead((m) => m.inode(ino));
  }

  /**
   * Read-only work through the same typed view, on committed state, without queueing behind
   * write transactions. Each read sees the latest commit; a concurrent rename may be seen half
   * way between two reads (a lookup then reports ENOENT, as it would a moment later).
   */
  private txnRead<T>(fn: (m: MetaTxn) => Promise<T>): Promise<T> {
    const kv = this.kv;
    const ro = (): never => { throw new VfsError(Errno.EIO, 'write in a read-only view'); };
    return fn(new MetaTxn({
      get: (k) => kv.get(k), getMany: (ks) => kv.getMany(ks), scan: (b, e, o) => kv.scan(b, e, o),
      set: ro, delete: ro, incrBy: ro, addCounter: ro, onCommit: ro,
    }, this.refs, this.names));
  }

  private async dirFor(m: MetaTxn, c: Cred, ino: number, mask: number): Promise<Inode> {
    const dir = await m.mustInode(ino);
    if (!isDir(dir)) throw new VfsError(Errno.ENOTDIR, 'not a directory');
    checkAccess(c, dir, mask);
    return dir;
  }

  async lookup(c: Cred, parent: number, name: string): Promise<Inode> {
    return this.txnRead(async (m) => {
      const dir = await this.dirFor(m, c, parent, X_OK);
      if (name === '.') return dir;
      if (name === '..') return m.mustInode(dir.parent);
      checkName(name);
      const d = await m.dirent(parent, name);
      if (!d) throw new VfsError(Errno.ENOENT, `no entry ${JSON.stringify(name)}`);
      return m.mustInode(d.ino);
    });
  }

  /**
   * Case-insensitive, case-preserving lookup (issue 7, Windows naming): the entry named exactly
   * `name` if there is one, else the entry whose name folds like it (vfs/meta/fold.ts), found
   * through the 'F' index in one short prefix scan. Returns the inode and the entry's real name;
   * `ambiguous` is true when several entries fold like `name` and none is `name` itself (the
   * one returned is the first in index order, vfs/meta/keys.ts ²). '.' and '..' as lookup.
   * Errors as lookup: ENOENT, ENOTDIR, EACCES (no search permission), EINVAL, ENAMETOOLONG.
   */
  async lookupCaseless(c: Cred, parent: number, name: string): Promise<{ inode: Inode; name: string; ambiguous: boolean }> {
    return this.txnRead(async (m) => {
      const dir = await this.dirFor(m, c, parent, X_OK);
      if (name === '.') return { inode: dir, name, ambiguous: false };
      if (name === '..') return { inode: await m.mustInode(dir.parent), name, ambiguous: false };
      checkName(name);
      const exact = await m.dirent(parent, name);
      if (exact) return { inode: await m.mustInode(exact.ino), name, ambiguous: false };
      const hit = await findFolded(m, parent, name, await foldIndexUsable(this.kv));
      // (A read outside a transaction may fall between a rename's rows: ENOENT, as a moment later.)
      const d = hit && await m.dirent(parent, hit.name);
      if (!hit || !d) throw new VfsError(Errno.ENOENT, `no entry ${JSON.stringify(name)}, in any case`);
      return { inode: await m.mustInode(d.ino), name: hit.name, ambiguous: hit.ambiguous };
    });
  }

  /**
   * Creates a file, directory, symlink or node. With `openExisting`, an existing non-directory
   * entry is returned instead (existed=true) unless `exclusive`.
   */
  async create(c: Cred, parent: number, name: string, mode: number, opts: { rdev?: number; target?: string; exclusive?: boolean; openExisting?: boolean } = {}): Promise<{ inode: Inode; existed: boolean }> {
    checkName(name);
    if (opts.target !== undefined) {
      if (opts.target.length === 0) throw new VfsError(Errno.ENOENT, 'empty symlink target');
      if (Buffer.byteLength(opts.target) > MAX_TARGET || opts.target.includes('\0')) throw new VfsError(Errno.ENAMETOOLONG, 'symlink target too long');
    }
    return this.txn(async (m) => {
      const dir = await this.dirFor(m, c, parent, X_OK);
      const d = await m.dirent(parent, name);
      if (d) {
        if (!opts.openExisting || opts.exclusive) throw new VfsError(Errno.EEXIST, `${JSON.stringify(name)} exists`);
        const existing = await m.mustInode(d.ino);
        if (isDir(existing)) throw new VfsError(Errno.EISDIR, `${JSON.stringify(name)} is a directory`);
        return { inode: existing, existed: true };
      }
      checkAccess(c, dir, W_OK | X_OK);
      const ino = await m.allocIno();
      const n = this.newInode(ino, mode, c, parent, dir);
      await charge(m.tx, n, 0, 1);
      n.rdev = opts.rdev ?? 0;
      if (opts.target !== undefined) { n.target = opts.target; n.size = Buffer.byteLength(opts.target); }
      if (isDir(n)) dir.nlink++;
      m.addEntry(dir, name, n);
      dir.mtimeNs = dir.ctimeNs = n.ctimeNs;
      m.putInode(dir);
      m.putInode(n);
      return { inode: n, existed: false };
    });
  }

  async link(c: Cred, ino: number, newParent: number, newName: string): Promise<Inode> {
    checkName(newName);
    return this.txn(async (m) => {
      const n = await m.mustInode(ino);
      if (isDir(n)) throw new VfsError(Errno.EPERM, 'hard links to directories are not allowed');
      if (n.nlink === 0) throw new VfsError(Errno.ENOENT, 'file was removed');
      if (n.nlink >= MAX_LINKS) throw new VfsError(Errno.EMLINK, 'too many links');
      const dir = await this.dirFor(m, c, newParent, W_OK | X_OK);
      if (await m.dirent(newParent, newName)) throw new VfsError(Errno.EEXIST, `${JSON.stringify(newName)} exists`);
      n.nlink++;
      n.ctimeNs = nowNs();
      m.addEntry(dir, newName, n);
      dir.mtimeNs = dir.ctimeNs = n.ctimeNs;
      m.putInode(dir);
      m.putInode(n);
      return n;
    });
  }

  /** The directory (writable and searchable by c), the entry and its inode, for unlink/rmdir. */
  private async entryToRemove(m: MetaTxn, c: Cred, parent: number, name: string) {
    const dir = await this.dirFor(m, c, parent, W_OK | X_OK);
    const d = await m.dirent(parent, name);
    if (!d) throw new VfsError(Errno.ENOENT, `no entry ${JSON.stringify(name)}`);
    return { dir, d, n: await m.mustInode(d.ino) };
  }

  /**
   * The checks unlink (or rmdir, for a directory: not whether it is empty) would make before
   * removing entry `name` of `parent`: search and write permission on the parent, the sticky bit,
   * retention and holds. Removes nothing. Errno: ENOENT, EACCES, EPERM.
   */
  async mayDelete(c: Cred, parent: number, name: string): Promise<void> {
    checkName(name);
    await this.txnRead(async (m) => {
      const { dir, n } = await this.entryToRemove(m, c, parent, name);
      checkSticky(c, dir, n);
      await checkMutable(m.tx, n, 'delete');
    });
  }

  /**
   * Removes a non-directory entry. When the last link goes and `isOpen(ino)`, the inode stays
   * as an orphan until its last handle is released (POSIX unlink of an open file).
   */
  async unlink(c: Cred, parent: number, name: string, isOpen: (ino: number) => boolean): Promise<void> {
    checkName(name);
    await this.txn(async (m) => {
      const { dir, d, n } = await this.entryToRemove(m, c, parent, name);
      if (isDir(n)) throw new VfsError(Errno.EISDIR, `${JSON.stringify(name)} is a directory`);
      checkSticky(c, dir, n);
      await checkMutable(m.tx, n, 'delete');
      m.removeEntry(parent, name, d);
      dir.mtimeNs = dir.ctimeNs = nowNs();
      m.putInode(dir);
      await this.dropLink(m, n, isOpen);
    });
  }

  private async dropLink(m: MetaTxn, n: Inode, isOpen: (ino: number) => boolean): Promise<void> {
    n.nlink--;
    n.ctimeNs = nowNs();
    if (n.nlink > 0) m.putInode(n);
    else if (isOpen(n.ino)) {
      m.putInode(n);
      m.tx.set(keys.orphan(n.ino), Buffer.alloc(0));
    } else await m.freeInode(n);
  }

  async rmdir(c: Cred, parent: number, name: string): Promise<void> {
    if (name === '.') throw new VfsError(Errno.EINVAL, 'cannot remove "."');
    if (name === '..') throw new VfsError(Errno.ENOTEMPTY, 'cannot remove ".."');
    checkName(name);
    await this.txn(async (m) => {
      const { dir, d, n } = await this.entryToRemove(m, c, parent, name);
      if (!isDir(n)) throw new VfsError(Errno.ENOTDIR, `${JSON.stringify(name)} is not a directory`);
      if (!(await m.isEmptyDir(n.ino))) throw new VfsError(Errno.ENOTEMPTY, `${JSON.stringify(name)} is not empty`);
      checkSticky(c, dir, n);
      m.removeEntry(parent, name, d);
      dir.nlink--;
      dir.mtimeNs = dir.ctimeNs = nowNs();
      m.putInode(dir);
      await m.freeInode(n);
    });
  }

  /** POSIX rename(2) (POSIX.1-2017 rename): atomic replace of the target, with every rule's errno. */
  async rename(c: Cred, parent: number, name: string, newParent: number, newName: string, isOpen: (ino: number) => boolean, opts: { noreplace?: boolean } = {}): Promise<void> {
    if (name === '.' || name === '..' || newName === '.' || newName === '..') throw new VfsError(Errno.EINVAL, 'cannot rename "." or ".."');
    checkName(name);
    checkName(newName);
    await this.txn(async (m) => {
      const src = await this.dirFor(m, c, parent, W_OK | X_OK);
      const dst = parent === newParent ? src : await this.dirFor(m, c, newParent, W_OK | X_OK);
      const d = await m.dirent(parent, name);
      if (!d) throw new VfsError(Errno.ENOENT, `no entry ${JSON.stringify(name)}`);
      const n = await m.mustInode(d.ino);
      checkSticky(c, src, n);
      await checkMutable(m.tx, n, 'rename');
      const td = await m.dirent(newParent, newName);
      if (td && td.ino === n.ino) {
        if (opts.noreplace) throw new VfsError(Errno.EEXIST, `${JSON.stringify(newName)} exists`);
        return; // same file: POSIX says do nothing
      }
      const movingDir = isDir(n);
      if (movingDir && parent !== newParent) {
        // A directory may not move below itself; its '..' changes, so it needs write permission.
        for (let a = newParent; ; ) {
          if (a === n.ino) throw new VfsError(Errno.EINVAL, 'cannot move a directory into itself');
          if (a === ROOT_INO) break;
          a = (await m.mustInode(a)).parent;
        }
        checkAccess(c, n, W_OK);
      }
      const t = nowNs();
      if (td) {
        if (opts.noreplace) throw new VfsError(Errno.EEXIST, `${JSON.stringify(newName)} exists`);
        const victim = await m.mustInode(td.ino);
        checkSticky(c, dst, victim);
        await checkMutable(m.tx, victim, 'replace');
        if (movingDir && !isDir(victim)) throw new VfsError(Errno.ENOTDIR, `${JSON.stringify(newName)} is not a directory`);
        if (!movingDir && isDir(victim)) throw new VfsError(Errno.EISDIR, `${JSON.stringify(newName)} is a directory`);
        m.removeEntry(newParent, newName, td);
        if (isDir(victim)) {
          if (!(await m.isEmptyDir(victim.ino))) throw new VfsError(Errno.ENOTEMPTY, `${JSON.stringify(newName)} is not empty`);
          dst.nlink--;
          await m.freeInode(victim);
        } else await this.dropLink(m, victim, isOpen);
      }
      // (After the checks on the target, so that a protected target reports EPERM.)
      if (parent !== newParent && (await containerOf(m.tx, n)) !== childProject(dst)) {
        throw new VfsError(Errno.EXDEV, 'the move would cross a directory quota boundary; copy and delete instead');
      }
      if (parent !== newParent && n.worm !== n.ino && n.worm !== dst.worm) {
        throw new VfsError(Errno.EXDEV, 'the move would cross a retention directory boundary; copy instead');
      }
      m.removeEntry(parent, name, d);
      if (movingDir && parent !== newParent) {
        src.nlink--;
        dst.nlink++;
        n.parent = newParent;
      }
      m.addEntry(dst, newName, n);
      n.ctimeNs = t;
      src.mtimeNs = src.ctimeNs = dst.mtimeNs = dst.ctimeNs = t;
      m.putInode(n);
      m.putInode(src);
      if (dst !== src) m.putInode(dst);
    });
  }

  /**
   * chmod/chown/truncate/utimens with Linux's rules: chmod and explicit times by the owner;
   * chown to another user by root only, to another group by an owner who belongs to it; chown
   * clears set-id bits; truncate needs write permission; times 'now' need owner or write permission.
   */
  async setattr(c: Cred, ino: number, ch: SetAttr, opts: { handleWritable?: boolean } = {}): Promise<Inode> {
    for (const which of ['atimeNs', 'mtimeNs', 'birthtimeNs', 'ctimeNs'] as const) {
      const v = ch[which];
      if (typeof v === 'bigint' && (v < MIN_TIME_NS || v > MAX_TIME_NS)) throw new VfsError(Errno.EINVAL, `${which}: ${v} ns is outside the years 1678–2262 that a time can hold`);
    }
    return this.txn(async (m) => {
      const n = await m.mustInode(ino, Errno.ESTALE);
      const t = nowNs();
      if (ch.size !== undefined) {
        if (isDir(n)) throw new VfsError(Errno.EISDIR, 'cannot truncate a directory');
        if (!isReg(n)) throw new VfsError(Errno.EINVAL, 'can only truncate regular files');
        if (ch.size < 0 || !Number.isSafeInteger(ch.size)) throw new VfsError(Errno.EINVAL, 'bad size');
        if (ch.size > MAX_FILE_SIZE) throw new VfsError(Errno.EFBIG, 'file too large');
        if (!opts.handleWritable) checkAccess(c, n, W_OK);
        await checkMutable(m.tx, n, 'truncate');
        if (ch.size < n.size) await m.truncateExtents(n, ch.size);
        n.size = ch.size;
        n.mtimeNs = n.ctimeNs = t;
        if (c.uid !== 0) n.mode &= ~(0o4000 | (n.mode & 0o010 ? 0o2000 : 0)); // write clears set-id (Linux file_remove_privs)
      }
      if (ch.uid !== undefined || ch.gid !== undefined) {
        const uid = ch.uid ?? n.uid, gid = ch.gid ?? n.gid;
        if (c.uid !== 0) {
          if (uid !== n.uid) throw new VfsError(Errno.EPERM, 'only root may change the owner');
          if (c.uid !== n.uid) throw new VfsError(Errno.EPERM, 'only the owner may change the group');
          if (gid !== n.gid && !inGroup(c, gid)) throw new VfsError(Errno.EPERM, 'not a member of that group');
        }
        if (!isDir(n) && (uid !== n.uid || gid !== n.gid || c.uid !== 0)) n.mode &= ~(0o4000 | (n.mode & 0o010 ? 0o2000 : 0));
        if (uid !== n.uid || gid !== n.gid) {
          // The file's bytes and inode move to the new owner's and group's quotas.
          await charge(m.tx, { uid: n.uid, gid: n.gid, project: 0 }, -n.allocated, -1);
          await charge(m.tx, { uid, gid, project: 0 }, n.allocated, 1);
        }
        n.uid = uid;
        n.gid = gid;
        n.ctimeNs = t;
      }
      if (ch.mode !== undefined) {
        checkOwner(c, n);
        let mode = ch.mode & 0o7777;
        if (c.uid !== 0 && !inGroup(c, n.gid)) mode &= ~0o2000;
        n.mode = (n.mode & S_IFMT) | mode;
        n.ctimeNs = t;
      }
      for (const which of ['atimeNs', 'mtimeNs', 'birthtimeNs'] as const) {
        const v = ch[which];
        if (v === undefined) continue;
        if (v === 'now') {
          if (c.uid !== 0 && c.uid !== n.uid && !mayAccess(c, n, W_OK)) throw new VfsError(Errno.EACCES, 'permission denied');
          n[which] = t;
        } else {
          checkOwner(c, n);
          n[which] = v;
        }
        n.ctimeNs = t;
      }
      if (ch.ctimeNs !== undefined) { // SMB's ChangeTime, set on purpose: after every other change
        checkOwner(c, n);
        n.ctimeNs = ch.ctimeNs;
      }
      m.putInode(n);
      return n;
    });
  }

  /** Entries after cookie, at most limit, with their inodes when `plus`. */
  async readdir(c: Cred, ino: number, cookie: number, limit: number, plus: boolean): Promise<{ name: string; ino: number; type: number; cookie: number; inode?: Inode }[]> {
    return this.txnRead(async (m) => {
      await this.dirFor(m, c, ino, R_OK);
      const rows = await m.entries(ino, cookie, limit);
      if (!plus) return rows;
      const inodes = await m.tx.getMany(rows.map((r) => keys.inode(r.ino)));
      return rows.map((r, i) => Object.assign({}, r, { inode: inodes[i] ? m.decodeInode(inodes[i]!) : undefined })).filter((r) => r.inode !== undefined);
    });
  }

  async readlink(ino: number): Promise<string> {
    const n = await this.txnRead((m) => m.mustInode(ino, Errno.ESTALE));
    if (!isLnk(n)) throw new VfsError(Errno.EINVAL, 'not a symbolic link');
    return n.target;
  }

  // ---- extended attributes (Linux xattr(7) namespaces) ----

  private xattrCheck(c: Cred, n: Inode, name: string, write: boolean): void {
    if (name.length === 0 || Buffer.byteLength(name) > 255) throw new VfsError(Errno.ERANGE, 'bad attribute name length');
    const ns = name.slice(0, name.indexOf('.') + 1);
    if (ns === 'user.') {
      if (!isReg(n) && !isDir(n)) throw new VfsError(Errno.EPERM, 'user attributes only on files and directories');
      checkAccess(c, n, write ? W_OK : R_OK);
    } else if (ns === 'trusted.') {
      if (c.uid !== 0) throw new VfsError(Errno.EPERM, 'trusted attributes are root only');
    } else if (name === 'system.posix_acl_access' || name === 'system.posix_acl_default') {
      // POSIX ACLs are not implemented: say so, as ext4 mounted with noacl does, so that cp -a and
      // tar fall back to chmod (storing them inertly would leave modes that the ACL would have set).
      throw new VfsError(Errno.EOPNOTSUPP, 'POSIX ACLs are not supported');
    } else if (name === 'security.capability') {
      // File capabilities are not kept (as on NFS): the kernel asks for this attribute before
      // every write to a file, and FUSE answers "none" without a round trip (native/fuse3).
      if (write) throw new VfsError(Errno.EOPNOTSUPP, 'file capabilities (security.capability) are not supported');
      throw new VfsError(Errno.ENODATA, 'no file capabilities');
    } else if (ns === 'security.' || ns === 'system.') {
      if (write) checkOwner(c, n);
    } else throw new VfsError(Errno.EOPNOTSUPP, `attribute namespace of ${JSON.stringify(name)} not supported`);
  }

  async getxattr(c: Cred, ino: number, name: string): Promise<Buffer> {
    return this.txnRead(async (m) => {
      const n = await m.mustInode(ino, Errno.ESTALE);
      this.xattrCheck(c, n, name, false);
      const v = await m.getXattr(ino, name);
      if (!v) throw new VfsError(Errno.ENODATA, `no attribute ${JSON.stringify(name)}`);
      return v;
    });
  }

  async setxattr(c: Cred, ino: number, name: string, value: Uint8Array, flags: { create?: boolean; replace?: boolean } = {}): Promise<void> {
    if (value.length > MAX_XATTR_VALUE) throw new VfsError(Errno.ERANGE, 'attribute value larger than 64 KiB');
    await this.txn(async (m) => {
      const n = await m.mustInode(ino, Errno.ESTALE);
      this.xattrCheck(c, n, name, true);
      const exists = (await m.tx.get(m.xattrKey(ino, name))) !== undefined;
      if (flags.create && exists) throw new VfsError(Errno.EEXIST, 'attribute exists');
      if (flags.replace && !exists) throw new VfsError(Errno.ENODATA, 'no such attribute');
      m.setXattr(ino, name, value);
      n.ctimeNs = nowNs();
      m.putInode(n);
    });
  }

  async listxattr(c: Cred, ino: number): Promise<string[]> {
    return this.txnRead(async (m) => {
      const n = await m.mustInode(ino, Errno.ESTALE);
      const out: string[] = [];
      for (const name of await m.xattrNames(ino)) {
        if (name.startsWith('trusted.') && c.uid !== 0) continue;
        if (name.startsWith('user.') && !mayAccess(c, n, R_OK)) continue;
        out.push(name);
      }
      return out;
    });
  }

  async removexattr(c: Cred, ino: number, name: string): Promise<void> {
    await this.txn(async (m) => {
      const n = await m.mustInode(ino, Errno.ESTALE);
      this.xattrCheck(c, n, name, true);
      if (!(await m.tx.get(m.xattrKey(ino, name)))) throw new VfsError(Errno.ENODATA, `no attribute ${JSON.stringify(name)}`);
      m.tx.delete(m.xattrKey(ino, name));
      n.ctimeNs = nowNs();
      m.putInode(n);
    });
  }

  /** Frees an orphan whose last handle closed (or at start, after a crash). */
  async freeOrphan(ino: number): Promise<void> {
    await this.txn(async (m) => {
      const n = await m.inode(ino);
      if (n && n.nlink === 0) await m.freeInode(n);
      else m.tx.delete(keys.orphan(ino));
    });
  }

  /**
   * Sets (or replaces) a quota's limits. kind 'dir': id is a directory's inode number; the first
   * time, its subtree is tagged with it and counted, in one pass and one transaction (nested
   * quota directories below keep their own and now count in this one too). Throws ENOENT,
   * ENOTDIR, EINVAL (negative or non-integer limits).
   */
  async setQuota(kind: QuotaKind, id: number, limits: QuotaLimits, label?: string): Promise<QuotaRule> {
    for (const v of Object.values(limits)) if (!Number.isSafeInteger(v) || v < 0) throw new VfsError(Errno.EINVAL, 'quota limits are whole numbers ≥ 0 (0: no limit)');
    if (!Number.isSafeInteger(id) || id < 0) throw new VfsError(Errno.EINVAL, 'bad quota id');
    this.hardBytes = undefined;
    return this.txn(async (m) => {
      const old = await getRule(m.tx, kind, id);
      if (old || kind !== 'dir') {
        const r: QuotaRule = { kind, id, outer: old?.outer ?? 0, ...limits, ...(label ? { label } : {}) };
        putRule(m.tx, r);
        return r;
      }
      const dir = await m.mustInode(id);
      if (!isDir(dir)) throw new VfsError(Errno.ENOTDIR, 'a directory quota needs a directory');
      const outer = dir.project;
      const r: QuotaRule = { kind, id, outer, ...limits, ...(label ? { label } : {}) };
      let bytes = 0, inodes = 0;
      await walkTree(m, id, async (x) => {
        bytes += x.allocated;
        inodes++;
        if (x.project === outer) {
          x.project = id;
          m.putInode(x);
        } else if (x.project === x.ino) {
          const inner = await getRule(m.tx, 'dir', x.ino);
          if (inner && inner.outer === outer) putRule(m.tx, { ...inner, outer: id });
        }
      });
      putRule(m.tx, r);
      await setUsage(m.tx, 'dir', id, bytes, inodes);
      return r;
    });
  }

  /** A quota's rule (if any) and usage. */
  async getQuota(kind: QuotaKind, id: number): Promise<{ rule: QuotaRule | undefined; usage: QuotaUsage }> {
    return this.txnRead(async (m) => ({ rule: await getRule(m.tx, kind, id), usage: await getUsage(m.tx, kind, id) }));
  }

  /** Every rule with its usage. */
  async listQuotas(): Promise<{ rule: QuotaRule; usage: QuotaUsage }[]> {
    const out: { rule: QuotaRule; usage: QuotaUsage }[] = [];
    for (const rule of await listRules(this.kv)) out.push({ rule, usage: await getUsage(this.kv, rule.kind, rule.id) });
    return out;
  }

  /**
   * The byte limit that binds a user at inode `ino` (their own, their group's, or a directory
   * quota above ino), as the limit and its usage: the one with the least room left; undefined
   * if none applies. For statfs as seen by that user.
   */
  async quotaRoom(uid: number, gid: number, ino: number): Promise<{ limit: number; used: number } | undefined> {
    return this.txnRead(async (m) => {
      const n = await m.inode(ino);
      const t: [QuotaKind, number][] = [['user', uid], ['group', gid]];
      for (const p of await projectChain(m.tx, n?.project ?? 0)) t.push(['dir', p]);
      let best: { limit: number; used: number } | undefined;
      for (const [kind, id] of t) {
        const r = await getRule(m.tx, kind, id);
        const limit = r?.bytesHard || r?.bytesSoft || 0;
        if (!limit) continue;
        const used = (await getUsage(m.tx, kind, id)).bytes;
        if (!best || limit - used < best.limit - best.used) best = { limit, used };
      }
      return best;
    });
  }

  /** Whether some quota rule has a hard byte limit; undefined until asked (setQuota forgets it). */
  private hardBytes: boolean | undefined;

  /**
   * Bytes the owner of `ino` may still add under hard byte limits (the owner's user and group
   * quotas and the directory quotas above the file): the least room of them, Infinity when none
   * applies (at once, without a read, while no rule has a hard byte limit). For an early EDQUOT
   * on buffered writes (File.write); the charge at commit stays the authority.
   */
  async writeRoom(ino: number): Promise<number> {
    this.hardBytes ??= (await listRules(this.kv)).some((r) => r.bytesHard > 0);
    if (!this.hardBytes) return Infinity;
    return this.txnRead(async (m) => {
      const n = await m.inode(ino);
      if (!n) return Infinity;
      const t: [QuotaKind, number][] = [['user', n.uid], ['group', n.gid]];
      for (const p of await projectChain(m.tx, n.project)) t.push(['dir', p]);
      let room = Infinity;
      for (const [kind, id] of t) {
        const r = await getRule(m.tx, kind, id);
        if (r?.bytesHard) room = Math.min(room, r.bytesHard - (await getUsage(m.tx, kind, id)).bytes);
      }
      return room;
    });
  }

  /** EPERM if the file may not be opened for writing now (retention, legal hold). */
  async checkWritable(ino: number): Promise<void> {
    await this.txnRead(async (m) => {
      const n = await m.inode(ino);
      if (n) await checkMutable(m.tx, n, 'write');
    }).catch((e: unknown) => this.noteRefusal(e));
  }

  /** After the last writer closed the file: starts its retention if it is under a retention directory. */
  async sealOnClose(ino: number): Promise<void> {
    const n = await this.getInode(ino);
    if (!n?.worm) return;
    await this.txn(async (m) => {
      const cur = await m.inode(ino);
      if (cur) await sealOnClose(m.tx, cur);
    });
  }

  /** Sets a directory's retention period and grace (ms); see retention.ts. EPERM to shorten, ENOTDIR. */
  async setRetention(dir: number, periodMs: number, graceMs: number, label?: string): Promise<RetentionRule> {
    if (!Number.isSafeInteger(periodMs) || periodMs <= 0 || !Number.isSafeInteger(graceMs) || graceMs < 0) throw new VfsError(Errno.EINVAL, 'retention wants a period > 0 and a grace ≥ 0');
    return this.txn(async (m) => {
      const d = await m.mustInode(dir);
      return setRetention(m.tx, d, periodMs, graceMs, {
        label,
        put: (n) => m.putInode(n),
        walk: (visit) => walkTree(m, dir, visit),
      });
    });
  }

  /**
   * Sets a directory's compression code (inode.ts COMPRESS_*; 0 = the pool's). Kept on the
   * inode, not as a rule row like a quota: a file needs it at every record it stores, and the
   * inode is already read at open, so no extra lookup; and like project/worm it is copied to what
   * is created below at creation. Only this directory changes: entries already in it (files and
   * subdirectories) keep the setting they were created with. Throws ENOENT, ENOTDIR, EINVAL.
   */
  async setCompression(dir: number, code: number): Promise<Inode> {
    if (!Number.isInteger(code) || code < 0 || code > 0xffff) throw new VfsError(Errno.EINVAL, 'bad compression code');
    return this.setDirField(dir, 'compress', code);
  }

  /** Sets a directory's dedup code (inode.ts DEDUP_*; 0 = the pool's), as setCompression. */
  async setDedup(dir: number, code: number): Promise<Inode> {
    if (code !== DEDUP_INHERIT && code !== DEDUP_OFF && code !== DEDUP_ON) throw new VfsError(Errno.EINVAL, 'bad dedup code');
    return this.setDirField(dir, 'dedup', code);
  }

  private setDirField(dir: number, field: 'compress' | 'dedup', code: number): Promise<Inode> {
    return this.txn(async (m) => {
      const d = await m.mustInode(dir);
      if (!isDir(d)) throw new VfsError(Errno.ENOTDIR, `${field === 'compress' ? 'compression' : 'dedup'} is set on a directory`);
      d[field] = code;
      d.ctimeNs = nowNs();
      m.putInode(d);
      return d;
    });
  }

  /** A directory's retention rule and a file's seal and holds (for `dw retention get`). */
  async retentionOf(ino: number): Promise<{ rule: RetentionRule | undefined; seal: SealState | undefined; holds: Hold[]; worm: number }> {
    return this.txnRead(async (m) => {
      const n = await m.mustInode(ino);
      return { rule: await getRetention(m.tx, n.worm || ino), seal: await getSeal(m.tx, ino), holds: await listHolds(m.tx, ino), worm: n.worm };
    });
  }

  async addHold(ino: number, name: string): Promise<void> {
    await this.txn(async (m) => {
      const n = await m.mustInode(ino);
      if (!n.worm) throw new VfsError(Errno.EINVAL, 'a legal hold applies to a retention directory or a file under one (dw retention set first)');
      await addHold(m.tx, ino, name);
    });
  }

  async removeHold(ino: number, name: string): Promise<void> {
    await this.txn(async (m) => removeHold(m.tx, ino, name));
  }

  /** Counters for statfs: inodes in use and logical bytes in extents. */
  async usage(): Promise<{ inodes: number; usedBytes: number }> {
    return this.txnRead(async (m) => ({ inodes: await m.counter(COUNTERS.inodes), usedBytes: await m.counter(COUNTERS.usedBytes) }));
  }
}

/** Visits every inode of the tree under `root` (root first), each once (hard links), in one transaction. */
async function walkTree(m: MetaTxn, root: number, visit: (n: Inode) => Promise<void>): Promise<void> {
  const seen = new Set<number>();
  const stack = [root];
  while (stack.length) {
    const x = await m.mustInode(stack.pop()!);
    if (seen.has(x.ino)) continue;
    seen.add(x.ino);
    await visit(x);
    if (isDir(x)) for (const e of await m.entries(x.ino, 0, Number.MAX_SAFE_INTEGER)) stack.push(e.ino);
  }
}

export { S_IFDIR, S_IFLNK, S_IFREG, S_IFMT };
