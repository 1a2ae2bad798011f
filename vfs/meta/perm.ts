import { Errno, VfsError } from '../errno.js';
import type { Inode } from './inode.js';
import { isDir } from './inode.js';

/** Who asks: the part of a VFS context permission checks need. */
export interface Cred { uid: number; gid: number; groups: readonly number[] }

export const R_OK = 4, W_OK = 2, X_OK = 1;

export function inGroup(c: Cred, gid: number): boolean {
  return c.gid === gid || c.groups.includes(gid);
}

/**
 * POSIX access check (POSIX.1-2017 4.5 File Access Permissions): root may read and write
 * anything and execute what has any x bit (or is a directory); others get the owner, group
 * or other class of bits, the first that applies. Returns true when every bit of `mask` is granted.
 */
export function mayAccess(c: Cred, n: Inode, mask: number): boolean {
  if (c.uid === 0) {
    if (!(mask & X_OK)) return true;
    return isDir(n) || (n.mode & 0o111) !== 0;
  }
  let bits: number;
  if (c.uid === n.uid) bits = (n.mode >> 6) & 7;
  else if (inGroup(c, n.gid)) bits = (n.mode >> 3) & 7;
  else bits = n.mode & 7;
  return (bits & mask) === mask;
}

/** Throws EACCES unless mayAccess. */
export function checkAccess(c: Cred, n: Inode, mask: number, what = 'permission denied'): void {
  if (!mayAccess(c, n, mask)) throw new VfsError(Errno.EACCES, what);
}

/** Sticky directory rule: in a dir with mode 01000 only root, the dir's owner or the entry's owner may remove/rename it. */
export function checkSticky(c: Cred, dir: Inode, victim: Inode): void {
  if ((dir.mode & 0o1000) && c.uid !== 0 && c.uid !== dir.uid && c.uid !== victim.uid) {
    throw new VfsError(Errno.EPERM, 'sticky directory: only the owner may remove or rename this entry');
  }
}

/** Owner-only operations (chmod, explicit utimes, xattr on 'trusted.'): EPERM unless owner or root. */
export function checkOwner(c: Cred, n: Inode): void {
  if (c.uid !== 0 && c.uid !== n.uid) throw new VfsError(Errno.EPERM, 'operation permitted to the owner only');
}

/** Names are 1..255 bytes of UTF-8 without '/' or NUL, and not '.' or '..'. */
export function checkName(name: string): void {
  if (name.length === 0 || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new VfsError(Errno.EINVAL, `invalid file name ${JSON.stringify(name)}`);
  }
  if (Buffer.byteLength(name, 'utf8') > 255) throw new VfsError(Errno.ENAMETOOLONG, 'file name longer than 255 bytes');
}
