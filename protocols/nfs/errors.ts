/**
 * Errno → nfsstat3 (RFC 1813 section 2.6) and → mountstat3 (appendix I). Both tables are
 * `Record<ErrnoName, …>`: a missing Errno is a type error, and errors.test.ts checks every
 * ERRNO_NAMES member. Quota is NFS3ERR_DQUOT, retention (EPERM) NFS3ERR_PERM, a file gone
 * under a handle NFS3ERR_STALE.
 */
import { Errno, VfsError, type ErrnoName } from '../../vfs/errno.js';
import { MNT3 } from './wire/mount.js';
import { NFS3, type Nfsstat3 } from './wire/nfs3.js';
import { NLM4, type Nlm4Stat } from './wire/nlm.js';
import { NFS4, type Nfsstat4 } from './wire/nfs4.js';

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

/**
 * Errno → nlm4_stats (XNFS chapter 10, NLM v4) for the errors a lock call can meet: a conflict is
 * NLM4_DENIED, a file gone NLM4_STALE_FH, a range beyond what the VFS addresses NLM4_FBIG, no
 * room for more locks NLM4_DENIED_NOLOCKS, anything else the client cannot act on NLM4_FAILED.
 */
export const ERRNO_TO_NLM4: Record<ErrnoName, Nlm4Stat> = {
  EPERM: NLM4.FAILED, ENOENT: NLM4.STALE_FH, EIO: NLM4.FAILED, ENXIO: NLM4.FAILED, EBADF: NLM4.STALE_FH,
  EAGAIN: NLM4.DENIED, ENOMEM: NLM4.DENIED_NOLOCKS, EACCES: NLM4.FAILED, EBUSY: NLM4.DENIED, EEXIST: NLM4.FAILED,
  EXDEV: NLM4.FAILED, ENOTDIR: NLM4.FAILED, EISDIR: NLM4.FAILED, EINVAL: NLM4.FAILED, EFBIG: NLM4.FBIG,
  ENOSPC: NLM4.DENIED_NOLOCKS, ESPIPE: NLM4.FAILED, EROFS: NLM4.ROFS, EMLINK: NLM4.FAILED, ERANGE: NLM4.FBIG,
  EDEADLK: NLM4.DEADLCK, ENAMETOOLONG: NLM4.FAILED, ENOLCK: NLM4.DENIED_NOLOCKS, ENOSYS: NLM4.FAILED,
  ENOTEMPTY: NLM4.FAILED, ELOOP: NLM4.FAILED, ENODATA: NLM4.FAILED, EOVERFLOW: NLM4.FBIG, EOPNOTSUPP: NLM4.FAILED,
  ETIMEDOUT: NLM4.DENIED, ESTALE: NLM4.STALE_FH, EDQUOT: NLM4.DENIED_NOLOCKS,
};

/** Thrown by an NLM handler to answer with an nlm4_stats no Errno names (e.g. NLM4_DENIED_GRACE_PERIOD). */
export class Nlm4StatusError extends Error {
  constructor(readonly status: Nlm4Stat, message?: string) {
    super(message ?? `nlm4_stats ${status}`);
    this.name = 'Nlm4StatusError';
  }
}

/**
 * The nlm4_stats for anything an NLM handler threw: its own status, a VfsError by its Errno, an
 * NFSv3 handle status (BADHANDLE / STALE → NLM4_STALE_FH, ROFS → NLM4_ROFS, ACCES → NLM4_FAILED),
 * NLM4_FAILED for anything else.
 */
export function nlm4Status(err: unknown): Nlm4Stat {
  if (err instanceof Nlm4StatusError) return err.status;
  if (err instanceof VfsError) return ERRNO_TO_NLM4[Errno[err.errno] as ErrnoName] ?? NLM4.FAILED;
  if (err instanceof Nfs3StatusError) {
    if (err.status === NFS3.ERR_STALE || err.status === NFS3.ERR_BADHANDLE) return NLM4.STALE_FH;
    if (err.status === NFS3.ERR_ROFS) return NLM4.ROFS;
  }
  return NLM4.FAILED;
}

/**
 * Errno → nfsstat4 (RFC 7530 §13, RFC 8881 §15). Busy resources (EAGAIN, ETIMEDOUT) are
 * NFS4ERR_DELAY (retry later); ESTALE NFS4ERR_STALE; EBADF (a VFS open-file number that went
 * away under us, never a client's handle) NFS4ERR_DELAY too, so the client retries.
 */
export const ERRNO_TO_NFS4: Record<ErrnoName, Nfsstat4> = {
  EPERM: NFS4.ERR_PERM,
  ENOENT: NFS4.ERR_NOENT,
  EIO: NFS4.ERR_IO,
  ENXIO: NFS4.ERR_NXIO,
  EBADF: NFS4.ERR_DELAY,
  EAGAIN: NFS4.ERR_DELAY,
  ENOMEM: NFS4.ERR_RESOURCE,
  EACCES: NFS4.ERR_ACCESS,
  // Removing a busy node (the root, a mount point).
  EBUSY: NFS4.ERR_FILE_OPEN,
  EEXIST: NFS4.ERR_EXIST,
  EXDEV: NFS4.ERR_XDEV,
  ENOTDIR: NFS4.ERR_NOTDIR,
  EISDIR: NFS4.ERR_ISDIR,
  EINVAL: NFS4.ERR_INVAL,
  EFBIG: NFS4.ERR_FBIG,
  ENOSPC: NFS4.ERR_NOSPC,
  ESPIPE: NFS4.ERR_INVAL,
  EROFS: NFS4.ERR_ROFS,
  EMLINK: NFS4.ERR_MLINK,
  ERANGE: NFS4.ERR_INVAL,
  EDEADLK: NFS4.ERR_DEADLOCK,
  ENAMETOOLONG: NFS4.ERR_NAMETOOLONG,
  ENOLCK: NFS4.ERR_LOCK_NOTSUPP,
  ENOSYS: NFS4.ERR_NOTSUPP,
  ENOTEMPTY: NFS4.ERR_NOTEMPTY,
  // A symlink where a directory was needed (RFC 7530 §16.12.4: LOOKUP through a symlink).
  ELOOP: NFS4.ERR_SYMLINK,
  ENODATA: NFS4.ERR_NOENT,
  EOVERFLOW: NFS4.ERR_FBIG,
  EOPNOTSUPP: NFS4.ERR_NOTSUPP,
  ETIMEDOUT: NFS4.ERR_DELAY,
  ESTALE: NFS4.ERR_STALE,
  EDQUOT: NFS4.ERR_DQUOT,
};

/**
 * Thrown by an NFSv4 operation to answer with a status no Errno names (NOFILEHANDLE,
 * BAD_STATEID, SHARE_DENIED …). `body` writes the operation's result body for that status when
 * it has one (LOCK4denied, SETATTR's attrsset, SETCLIENTID's clientaddr4).
 */
export class Nfs4Error extends Error {
  constructor(readonly status: Nfsstat4, message?: string, readonly body?: (w: import('./wire/xdr.js').XdrWriter) => void) {
    super(message ?? `nfsstat4 ${status}`);
    this.name = 'Nfs4Error';
  }
}

/** The nfsstat4 of anything an operation threw: Nfs4Error's own, a VfsError by its Errno, else SERVERFAULT. */
export function nfs4Status(err: unknown): Nfsstat4 {
  if (err instanceof Nfs4Error) return err.status;
  if (err instanceof VfsError) return ERRNO_TO_NFS4[Errno[err.errno] as ErrnoName] ?? NFS4.ERR_SERVERFAULT;
  return NFS4.ERR_SERVERFAULT;
}
