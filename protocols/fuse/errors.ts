/**
 * Errno → the errno a FUSE reply carries (fuse_reply_err takes a positive Linux errno; the
 * kernel hands it to the caller as -errno). The VFS's Errno values are already Linux numbers,
 * so the table is the identity except where the kernel has no better meaning; it is a complete
 * `Record<ErrnoName, number>` (a missing entry is a type error; errors.test.ts checks it).
 */
import { Errno, VfsError, type ErrnoName } from '../../vfs/errno.js';

export const ERRNO_TO_FUSE: Record<ErrnoName, number> = {
  EPERM: Errno.EPERM, ENOENT: Errno.ENOENT, EIO: Errno.EIO, ENXIO: Errno.ENXIO, EBADF: Errno.EBADF, EAGAIN: Errno.EAGAIN,
  ENOMEM: Errno.ENOMEM, EACCES: Errno.EACCES, EBUSY: Errno.EBUSY, EEXIST: Errno.EEXIST, EXDEV: Errno.EXDEV,
  ENOTDIR: Errno.ENOTDIR, EISDIR: Errno.EISDIR, EINVAL: Errno.EINVAL, EFBIG: Errno.EFBIG, ENOSPC: Errno.ENOSPC,
  ESPIPE: Errno.ESPIPE, EROFS: Errno.EROFS, EMLINK: Errno.EMLINK, ERANGE: Errno.ERANGE, EDEADLK: Errno.EDEADLK,
  ENAMETOOLONG: Errno.ENAMETOOLONG, ENOLCK: Errno.ENOLCK, ENOSYS: Errno.ENOSYS, ENOTEMPTY: Errno.ENOTEMPTY,
  ELOOP: Errno.ELOOP, ENODATA: Errno.ENODATA, EOVERFLOW: Errno.EOVERFLOW, EOPNOTSUPP: Errno.EOPNOTSUPP,
  ETIMEDOUT: Errno.ETIMEDOUT, ESTALE: Errno.ESTALE, EDQUOT: Errno.EDQUOT,
};

/** The errno to reply with for any thrown value (EIO for what is not a VfsError). */
export function fuseErrno(err: unknown): number {
  if (err instanceof VfsError) return ERRNO_TO_FUSE[Errno[err.errno] as ErrnoName] ?? Errno.EIO;
  return Errno.EIO;
}
