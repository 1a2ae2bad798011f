/**
 * What crosses the native binding (native/fuse3/binding.cc), sans IO: op codes, the number
 * layouts of attributes and statfs, FUSE_SET_ATTR_* bits (libfuse3 fuse_lowlevel.h) and open(2)
 * flags. Every decoder checks what it reads; the binding hands over plain numbers and strings.
 */
import type { Attr, OpenFlags, SetAttr, StatFs } from '../../../vfs/types.js';

/** Op codes, as `enum Op` in binding.cc (FUSE low-level operations, fuse_lowlevel.h). */
export const OP = {
  LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, READLINK: 5, MKNOD: 6, MKDIR: 7, UNLINK: 8,
  RMDIR: 9, SYMLINK: 10, RENAME: 11, LINK: 12, OPEN: 13, READ: 14, WRITE: 15, FLUSH: 16, RELEASE: 17,
  FSYNC: 18, OPENDIR: 19, READDIR: 20, RELEASEDIR: 21, FSYNCDIR: 22, STATFS: 23, SETXATTR: 24,
  GETXATTR: 25, LISTXATTR: 26, REMOVEXATTR: 27, ACCESS: 28, CREATE: 29, GETLK: 30, SETLK: 31,
  FLOCK: 32, FALLOCATE: 33, READDIRPLUS: 34, LSEEK: 35, COPY_FILE_RANGE: 36,
} as const;
export type OpCode = (typeof OP)[keyof typeof OP];
export const OP_NAMES: Record<number, string> = Object.fromEntries(Object.entries(OP).map(([k, v]) => [v, k]));

/** FUSE_SET_ATTR_* (fuse_lowlevel.h). */
export const SETATTR = { MODE: 1 << 0, UID: 1 << 1, GID: 1 << 2, SIZE: 1 << 3, ATIME: 1 << 4, MTIME: 1 << 5, ATIME_NOW: 1 << 7, MTIME_NOW: 1 << 8, CTIME: 1 << 10, KILL_SUID: 1 << 11, KILL_SGID: 1 << 12 } as const;

/** open(2) flags on Linux x86-64/arm64. */
export const O = { ACCMODE: 0o3, WRONLY: 0o1, RDWR: 0o2, CREAT: 0o100, EXCL: 0o200, TRUNC: 0o1000, APPEND: 0o2000, DIRECT: 0o40000 } as const;

/** Decodes open(2) flags into the VFS's OpenFlags. */
export function openFlags(flags: number): OpenFlags & { exclusive: boolean; direct: boolean } {
  const acc = flags & O.ACCMODE;
  return {
    read: acc === 0 || acc === O.RDWR,
    write: acc === O.WRONLY || acc === O.RDWR,
    append: (flags & O.APPEND) !== 0,
    truncate: (flags & O.TRUNC) !== 0,
    exclusive: (flags & O.EXCL) !== 0,
    direct: (flags & O.DIRECT) !== 0,
  };
}

const NS = 1_000_000_000n;

/** An Attr as the binding's attribute list (fill_stat in binding.cc). */
export function attrList(a: Attr): number[] {
  const t = (ns: bigint) => [Number(ns / NS), Number(ns % NS)];
  return [a.ino, a.mode, a.nlink, a.uid, a.gid, a.rdev, a.size, a.blocks, ...t(a.atimeNs), ...t(a.mtimeNs), ...t(a.ctimeNs), 4096];
}

/** The binding's statfs list (ReplyStatfs in binding.cc). */
export function statfsList(s: StatFs): number[] {
  return [s.bsize, s.bsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.ffree, s.namemax];
}

/**
 * Decodes a SETATTR request: [ino, toSet, mode, uid, gid, size, atimeS, atimeNs, mtimeS, mtimeNs, fh].
 * UTIME_NOW arrives as the *_NOW bits; UTIME_OMIT as the bit being absent.
 */
export function decodeSetattr(n: readonly number[]): SetAttr {
  const [, valid = 0, mode = 0, uid = 0, gid = 0, size = 0, as = 0, ans = 0, ms = 0, mns = 0] = n;
  const ch: SetAttr = {};
  if (valid & SETATTR.MODE) ch.mode = mode & 0o7777;
  if (valid & SETATTR.UID) ch.uid = uid;
  if (valid & SETATTR.GID) ch.gid = gid;
  if (valid & SETATTR.SIZE) ch.size = size;
  if (valid & SETATTR.ATIME_NOW) ch.atimeNs = 'now';
  else if (valid & SETATTR.ATIME) ch.atimeNs = BigInt(as) * NS + BigInt(ans);
  if (valid & SETATTR.MTIME_NOW) ch.mtimeNs = 'now';
  else if (valid & SETATTR.MTIME) ch.mtimeNs = BigInt(ms) * NS + BigInt(mns);
  return ch;
}
