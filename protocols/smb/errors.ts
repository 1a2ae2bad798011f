/**
 * NTSTATUS values (MS-ERREF 2.3.1) the SMB2 server answers with, and the one table from the
 * VFS's Errno to NTSTATUS. The table is `Record<ErrnoName, NtStatus>`: a missing Errno is a type
 * error, and errors.test.ts checks every ERRNO_NAMES member. Quota is STATUS_QUOTA_EXCEEDED
 * (a full pool STATUS_DISK_FULL), retention (EPERM) STATUS_ACCESS_DENIED, a read-only
 * snapshot or pool (EROFS) STATUS_MEDIA_WRITE_PROTECTED, as issue 7 asks.
 */
import { Errno, VfsError, type ErrnoName } from '../../vfs/errno.js';

/** NTSTATUS codes by their MS-ERREF names without the "STATUS_" prefix. */
export const STATUS = {
  SUCCESS: 0x00000000,
  PENDING: 0x00000103,
  NOTIFY_CLEANUP: 0x0000010b,
  NOTIFY_ENUM_DIR: 0x0000010c,
  BUFFER_OVERFLOW: 0x80000005,
  NO_MORE_FILES: 0x80000006,
  INVALID_EA_NAME: 0x80000013,
  STOPPED_ON_SYMLINK: 0x8000002d,
  UNSUCCESSFUL: 0xc0000001,
  NOT_IMPLEMENTED: 0xc0000002,
  INVALID_INFO_CLASS: 0xc0000003,
  INFO_LENGTH_MISMATCH: 0xc0000004,
  INVALID_HANDLE: 0xc0000008,
  INVALID_PARAMETER: 0xc000000d,
  NO_SUCH_FILE: 0xc000000f,
  INVALID_DEVICE_REQUEST: 0xc0000010,
  END_OF_FILE: 0xc0000011,
  INVALID_VIEW_SIZE: 0xc000001f,
  MORE_PROCESSING_REQUIRED: 0xc0000016,
  ACCESS_DENIED: 0xc0000022,
  BUFFER_TOO_SMALL: 0xc0000023,
  OBJECT_NAME_INVALID: 0xc0000033,
  OBJECT_NAME_NOT_FOUND: 0xc0000034,
  OBJECT_NAME_COLLISION: 0xc0000035,
  OBJECT_PATH_INVALID: 0xc0000039,
  OBJECT_PATH_NOT_FOUND: 0xc000003a,
  OBJECT_PATH_SYNTAX_BAD: 0xc000003b,
  DATA_ERROR: 0xc000003e,
  SHARING_VIOLATION: 0xc0000043,
  QUOTA_EXCEEDED: 0xc0000044,
  EAS_NOT_SUPPORTED: 0xc000004f,
  NO_EAS_ON_FILE: 0xc0000052,
  FILE_LOCK_CONFLICT: 0xc0000054,
  LOCK_NOT_GRANTED: 0xc0000055,
  DELETE_PENDING: 0xc0000056,
  PRIVILEGE_NOT_HELD: 0xc0000061,
  LOGON_FAILURE: 0xc000006d,
  PASSWORD_EXPIRED: 0xc0000071,
  ACCOUNT_DISABLED: 0xc0000072,
  RANGE_NOT_LOCKED: 0xc000007e,
  DISK_FULL: 0xc000007f,
  INSUFFICIENT_RESOURCES: 0xc000009a,
  MEDIA_WRITE_PROTECTED: 0xc00000a2,
  PIPE_BUSY: 0xc00000ae,
  PIPE_DISCONNECTED: 0xc00000b0,
  IO_TIMEOUT: 0xc00000b5,
  FILE_IS_A_DIRECTORY: 0xc00000ba,
  NOT_SUPPORTED: 0xc00000bb,
  NETWORK_NAME_DELETED: 0xc00000c9,
  NETWORK_ACCESS_DENIED: 0xc00000ca,
  BAD_NETWORK_NAME: 0xc00000cc,
  REQUEST_NOT_ACCEPTED: 0xc00000d0,
  NOT_SAME_DEVICE: 0xc00000d4,
  FILE_RENAMED: 0xc00000d5,
  PIPE_EMPTY: 0xc00000d9,
  INVALID_OPLOCK_PROTOCOL: 0xc00000e3,
  INTERNAL_ERROR: 0xc00000e5,
  DIRECTORY_NOT_EMPTY: 0xc0000101,
  FILE_CORRUPT_ERROR: 0xc0000102,
  NOT_A_DIRECTORY: 0xc0000103,
  NAME_TOO_LONG: 0xc0000106,
  TOO_MANY_OPENED_FILES: 0xc000011f,
  CANCELLED: 0xc0000120,
  CANNOT_DELETE: 0xc0000121,
  FILE_CLOSED: 0xc0000128,
  INVALID_DEVICE_STATE: 0xc0000184,
  POSSIBLE_DEADLOCK: 0xc0000194,
  INVALID_LOCK_RANGE: 0xc00001a1,
  USER_SESSION_DELETED: 0xc0000203,
  NOT_FOUND: 0xc0000225,
  PATH_NOT_COVERED: 0xc0000257,
  TOO_MANY_LINKS: 0xc0000265,
  NOT_A_REPARSE_POINT: 0xc0000275,
  NETWORK_SESSION_EXPIRED: 0xc000035c,
  FILE_SYSTEM_LIMITATION: 0xc0000427,
  FILE_TOO_LARGE: 0xc0000904,
  SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP: 0xc05d0000,
} as const;

export type NtStatus = (typeof STATUS)[keyof typeof STATUS];

/** MS-ERREF 2.3: severity is the top two bits; 3 = error, 2 = warning (data may still follow). */
export function isError(status: number): boolean {
  return status >>> 30 === 3;
}

export const ERRNO_TO_NTSTATUS: Record<ErrnoName, NtStatus> = {
  // Retention (WORM) and other "not even root may" refusals.
  EPERM: STATUS.ACCESS_DENIED,
  ENOENT: STATUS.OBJECT_NAME_NOT_FOUND,
  // A checksum mismatch that redundancy could not repair (invariant 4), or an I/O fault.
  EIO: STATUS.DATA_ERROR,
  // SEEK_DATA/SEEK_HOLE at or past the end of the file.
  ENXIO: STATUS.END_OF_FILE,
  // The VFS open behind a FileId is gone.
  EBADF: STATUS.FILE_CLOSED,
  // A byte-range lock held by someone else; I/O against a locked range is FILE_LOCK_CONFLICT,
  // chosen by the READ/WRITE handlers themselves.
  EAGAIN: STATUS.LOCK_NOT_GRANTED,
  ENOMEM: STATUS.INSUFFICIENT_RESOURCES,
  EACCES: STATUS.ACCESS_DENIED,
  // A busy node (the root, a snapshot mount point): Windows says "in use".
  EBUSY: STATUS.SHARING_VIOLATION,
  EEXIST: STATUS.OBJECT_NAME_COLLISION,
  EXDEV: STATUS.NOT_SAME_DEVICE,
  // The named object is not a directory; a non-directory inside a path is the handler's
  // OBJECT_PATH_NOT_FOUND (MS-FSA 2.1.5.1), decided where the path is walked.
  ENOTDIR: STATUS.NOT_A_DIRECTORY,
  EISDIR: STATUS.FILE_IS_A_DIRECTORY,
  EINVAL: STATUS.INVALID_PARAMETER,
  EFBIG: STATUS.FILE_TOO_LARGE,
  ENOSPC: STATUS.DISK_FULL,
  ESPIPE: STATUS.INVALID_PARAMETER,
  // A read-only pool or snapshot.
  EROFS: STATUS.MEDIA_WRITE_PROTECTED,
  EMLINK: STATUS.TOO_MANY_LINKS,
  // An xattr (stream, EA) value larger than the buffer.
  ERANGE: STATUS.BUFFER_TOO_SMALL,
  EDEADLK: STATUS.POSSIBLE_DEADLOCK,
  ENAMETOOLONG: STATUS.NAME_TOO_LONG,
  ENOLCK: STATUS.INSUFFICIENT_RESOURCES,
  ENOSYS: STATUS.NOT_IMPLEMENTED,
  ENOTEMPTY: STATUS.DIRECTORY_NOT_EMPTY,
  // The server does not follow symlinks for clients: the handler adds the symlink error
  // response (MS-SMB2 2.2.2.2.1) to this status.
  ELOOP: STATUS.STOPPED_ON_SYMLINK,
  // A missing xattr: a named stream or EA that does not exist.
  ENODATA: STATUS.OBJECT_NAME_NOT_FOUND,
  EOVERFLOW: STATUS.FILE_TOO_LARGE,
  EOPNOTSUPP: STATUS.NOT_SUPPORTED,
  ETIMEDOUT: STATUS.IO_TIMEOUT,
  // The inode behind a durable handle or FileId vanished: as for a name that is not there.
  ESTALE: STATUS.OBJECT_NAME_NOT_FOUND,
  EDQUOT: STATUS.QUOTA_EXCEEDED,
};

/** Thrown by a handler to answer with a status no Errno names (LOGON_FAILURE, BAD_NETWORK_NAME, …). */
export class SmbStatusError extends Error {
  constructor(readonly status: NtStatus, message?: string) {
    super(message ?? `NTSTATUS 0x${status.toString(16).padStart(8, '0')}`);
    this.name = 'SmbStatusError';
  }
}

/** The NTSTATUS of anything a handler threw: its own, a VfsError by its Errno, else STATUS_INTERNAL_ERROR. */
export function ntStatus(err: unknown): NtStatus {
  if (err instanceof SmbStatusError) return err.status;
  if (err instanceof VfsError) return ERRNO_TO_NTSTATUS[Errno[err.errno] as ErrnoName] ?? STATUS.INTERNAL_ERROR;
  return STATUS.INTERNAL_ERROR;
}
