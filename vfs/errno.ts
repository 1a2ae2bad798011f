/**
 * The one internal error currency of vfs/ and vfs/meta/ (and raid/ where it surfaces).
 * Values are the Linux errno numbers, so FUSE can return `-errno` unchanged.
 * Every protocol maps each member to its own status in `protocols/<name>/errors.ts`
 * through a `Record<ErrnoName, …>`, so a missing entry is a type error.
 */
export enum Errno {
  EPERM = 1,
  ENOENT = 2,
  EIO = 5,
  /** No such device or address; lseek(2) SEEK_DATA/SEEK_HOLE at or past the end of the file. */
  ENXIO = 6,
  EBADF = 9,
  EAGAIN = 11,
  ENOMEM = 12,
  EACCES = 13,
  EBUSY = 16,
  EEXIST = 17,
  EXDEV = 18,
  ENOTDIR = 20,
  EISDIR = 21,
  EINVAL = 22,
  EFBIG = 27,
  ENOSPC = 28,
  ESPIPE = 29,
  EROFS = 30,
  EMLINK = 31,
  ERANGE = 34,
  EDEADLK = 35,
  ENAMETOOLONG = 36,
  ENOLCK = 37,
  ENOSYS = 38,
  ENOTEMPTY = 39,
  ELOOP = 40,
  ENODATA = 61,
  EOVERFLOW = 75,
  EOPNOTSUPP = 95,
  ETIMEDOUT = 110,
  ESTALE = 116,
  EDQUOT = 122,
}

/** Names of all Errno members, e.g. 'ENOENT'. Protocol tables are `Record<ErrnoName, Status>`. */
export type ErrnoName = keyof typeof Errno;

/** Every member name, for tests that check a protocol's table is complete. */
export const ERRNO_NAMES: readonly ErrnoName[] = Object.keys(Errno).filter((k) => Number.isNaN(Number(k))) as ErrnoName[];

/** The error every vfs/ and vfs/meta/ call throws. `errno` says what; `message` says why, for logs and replies. */
export class VfsError extends Error {
  readonly errno: Errno;
  constructor(errno: Errno, message?: string) {
    super(message ?? Errno[errno]);
    this.name = 'VfsError';
    this.errno = errno;
  }
  /** 'ENOENT', etc. */
  get code(): ErrnoName {
    return Errno[this.errno] as ErrnoName;
  }
}

/** Throws a VfsError; handy in expressions: `x ?? fail(Errno.ENOENT, 'no such file')`. */
export function fail(errno: Errno, message?: string): never {
  throw new VfsError(errno, message);
}

/** The Errno of any thrown value: a VfsError's own, EIO for anything else (a bug or an I/O fault). */
export function errnoOf(err: unknown): Errno {
  return err instanceof VfsError ? err.errno : Errno.EIO;
}
