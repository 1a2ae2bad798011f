/**
 * Errno → nfsstat3 (RFC 1813 section 2.6) and → mountstat3 (appendix I). Both tables are
 * `Record<ErrnoName, …>`: a missing Errno is a type error, and errors.test.ts checks every
 * ERRNO_NAMES member. Quota is NFS3ERR_DQUOT, retention (EPERM) NFS3ERR_PERM, a file gone
 * under a handle NFS3ERR_STALE.
 */
import { Errno, VfsError, type ErrnoName } from '../../vfs/errno.js';
import { MNT3 } from './wire/mount.js';
import { NFS3, type Nfsstat3 } from './wire/nfs3.js';

export const ERRNO_TO_NFS3: Record<ErrnoName, Nfsstat3> = {
  EPERM: NFS3.ERR_PERM,
  ENOENT: NFS3.ERR_NOENT,
  EIO: NFS3.ERR_IO,
  ENXIO: NFS3.ERR_NXIO,
  // A handle the server does not know (an open-file number is never on the wire in NFSv3).
  EBADF: NFS3.ERR_BADHANDLE,
  // A lock or resource busy for now: the client retries later.
  EAGAIN: NFS3.ERR_JUKEBOX,
  ENOMEM: NFS3.ERR_SERVERFAULT,
  EACCES: NFS3.ERR_ACCES,
  // Removing a busy node (the root, a mount point): a permission problem for the client.
  EBUSY: NFS3.ERR_ACCES,
  EEXIST: NFS3.ERR_EXIST,
  EXDEV: NFS3.ERR_XDEV,
  ENOTDIR: NFS3.ERR_NOTDIR,
  EISDIR: NFS3.ERR_ISDIR,
  EINVAL: NFS3.ERR_INVAL,
  EFBIG: NFS3.ERR_FBIG,
  ENOSPC: NFS3.ERR_NOSPC,
  ESPIPE: NFS3.ERR_INVAL,
  EROFS: NFS3.ERR_ROFS,
  EMLINK: NFS3.ERR_MLINK,
  ERANGE: NFS3.ERR_INVAL,
  EDEADLK: NFS3.ERR_JUKEBOX,
  ENAMETOOLONG: NFS3.ERR_NAMETOOLONG,
  ENOLCK: NFS3.ERR_NOTSUPP,
  ENOSYS: NFS3.ERR_NOTSUPP,
  ENOTEMPTY: NFS3.ERR_NOTEMPTY,
  // Too many symlinks while resolving: the server never follows links in NFSv3, so a bad argument.
  ELOOP: NFS3.ERR_INVAL,
  ENODATA: NFS3.ERR_NOENT,
  EOVERFLOW: NFS3.ERR_FBIG,
  EOPNOTSUPP: NFS3.ERR_NOTSUPP,
  ETIMEDOUT: NFS3.ERR_JUKEBOX,
  ESTALE: NFS3.ERR_STALE,
  EDQUOT: NFS3.ERR_DQUOT,
};

type Mountstat3 = (typeof MNT3)[keyof typeof MNT3];

export const ERRNO_TO_MNT3: Record<ErrnoName, Mountstat3> = {
  EPERM: MNT3.ERR_PERM, ENOENT: MNT3.ERR_NOENT, EIO: MNT3.ERR_IO, ENXIO: MNT3.ERR_IO, EBADF: MNT3.ERR_IO,
  EAGAIN: MNT3.ERR_SERVERFAULT, ENOMEM: MNT3.ERR_SERVERFAULT, EACCES: MNT3.ERR_ACCES, EBUSY: MNT3.ERR_ACCES,
  EEXIST: MNT3.ERR_INVAL, EXDEV: MNT3.ERR_INVAL, ENOTDIR: MNT3.ERR_NOTDIR, EISDIR: MNT3.ERR_INVAL, EINVAL: MNT3.ERR_INVAL,
  EFBIG: MNT3.ERR_INVAL, ENOSPC: MNT3.ERR_IO, ESPIPE: MNT3.ERR_INVAL, EROFS: MNT3.ERR_ACCES, EMLINK: MNT3.ERR_INVAL,
  ERANGE: MNT3.ERR_INVAL, EDEADLK: MNT3.ERR_SERVERFAULT, ENAMETOOLONG: MNT3.ERR_NAMETOOLONG, ENOLCK: MNT3.ERR_NOTSUPP,
  ENOSYS: MNT3.ERR_NOTSUPP, ENOTEMPTY: MNT3.ERR_INVAL, ELOOP: MNT3.ERR_INVAL, ENODATA: MNT3.ERR_NOENT,
  EOVERFLOW: MNT3.ERR_INVAL, EOPNOTSUPP: MNT3.ERR_NOTSUPP, ETIMEDOUT: MNT3.ERR_SERVERFAULT, ESTALE: MNT3.ERR_NOENT,
  EDQUOT: MNT3.ERR_IO,
};

/** Thrown by a handler to answer with an nfsstat3 that no Errno names (BADHANDLE, TOOSMALL, NOT_SYNC, …). */
export class Nfs3StatusError extends Error {
  constructor(readonly status: Nfsstat3, message?: string) {
    super(message ?? `nfsstat3 ${status}`);
    this.name = 'Nfs3StatusError';
  }
}

/** The nfsstat3 for anything a handler threw: a VfsError by its Errno, SERVERFAULT for anything else. */
export function nfs3Status(err: unknown): Nfsstat3 {
  if (err instanceof Nfs3StatusError) return err.status;
  if (err instanceof VfsError) return ERRNO_TO_NFS3[Errno[err.errno] as ErrnoName] ?? NFS3.ERR_SERVERFAULT;
  return NFS3.ERR_SERVERFAULT;
}

export function mnt3Status(err: unknown): Mountstat3 {
  if (err instanceof VfsError) return ERRNO_TO_MNT3[Errno[err.errno] as ErrnoName] ?? MNT3.ERR_SERVERFAULT;
  return MNT3.ERR_SERVERFAULT;
}
