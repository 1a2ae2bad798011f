/**
 * Errno → SSH_FX_* status of SFTP v3 (draft-ietf-secsh-filexfer-02 section 7). Version 3 has
 * only nine codes, so most errors become SSH_FX_FAILURE and the status message says what
 * happened ('file exists', 'quota exceeded', …). Both tables are `Record<ErrnoName, …>`: a
 * missing Errno is a type error, and errors.test.ts checks every ERRNO_NAMES member.
 */
import { Errno, VfsError, type ErrnoName } from '../../vfs/errno.js';
import { SSH_FX, type SshFxCode } from './wire/constants.js';
import { WireError } from './wire/reader.js';

/** Status code per Errno. */
export const ERRNO_TO_SSH_FX: Record<ErrnoName, SshFxCode> = {
  EPERM: SSH_FX.PERMISSION_DENIED,
  ENOENT: SSH_FX.NO_SUCH_FILE,
  EIO: SSH_FX.FAILURE,
  ENXIO: SSH_FX.FAILURE,
  EBADF: SSH_FX.FAILURE,
  EAGAIN: SSH_FX.FAILURE,
  ENOMEM: SSH_FX.FAILURE,
  EACCES: SSH_FX.PERMISSION_DENIED,
  EBUSY: SSH_FX.FAILURE,
  EEXIST: SSH_FX.FAILURE,
  EXDEV: SSH_FX.FAILURE,
  // A path component that is not a directory: the named file does not exist (as OpenSSH maps it).
  ENOTDIR: SSH_FX.NO_SUCH_FILE,
  EISDIR: SSH_FX.FAILURE,
  EINVAL: SSH_FX.BAD_MESSAGE,
  EFBIG: SSH_FX.FAILURE,
  ENOSPC: SSH_FX.FAILURE,
  ESPIPE: SSH_FX.FAILURE,
  EROFS: SSH_FX.PERMISSION_DENIED,
  EMLINK: SSH_FX.FAILURE,
  ERANGE: SSH_FX.FAILURE,
  EDEADLK: SSH_FX.FAILURE,
  ENAMETOOLONG: SSH_FX.BAD_MESSAGE,
  ENOLCK: SSH_FX.FAILURE,
  ENOSYS: SSH_FX.OP_UNSUPPORTED,
  ENOTEMPTY: SSH_FX.FAILURE,
  ELOOP: SSH_FX.NO_SUCH_FILE,
  ENODATA: SSH_FX.FAILURE,
  EOVERFLOW: SSH_FX.FAILURE,
  EOPNOTSUPP: SSH_FX.OP_UNSUPPORTED,
  ETIMEDOUT: SSH_FX.FAILURE,
  ESTALE: SSH_FX.NO_SUCH_FILE,
  EDQUOT: SSH_FX.FAILURE,
};

/** Status message per Errno: what happened, in the words a user expects. */
export const ERRNO_MESSAGE: Record<ErrnoName, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  EIO: 'input/output error',
  ENXIO: 'no such device or address',
  EBADF: 'invalid handle',
  EAGAIN: 'resource temporarily unavailable',
  ENOMEM: 'out of memory',
  EACCES: 'permission denied',
  EBUSY: 'device or resource busy',
  EEXIST: 'file exists',
  EXDEV: 'cross-device link',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EINVAL: 'invalid argument',
  EFBIG: 'file too large',
  ENOSPC: 'no space left on device',
  ESPIPE: 'illegal seek',
  EROFS: 'read-only file system',
  EMLINK: 'too many links',
  ERANGE: 'result out of range',
  EDEADLK: 'resource deadlock avoided',
  ENAMETOOLONG: 'file name too long',
  ENOLCK: 'no locks available',
  ENOSYS: 'operation not supported',
  ENOTEMPTY: 'directory not empty',
  ELOOP: 'too many levels of symbolic links',
  ENODATA: 'no data available',
  EOVERFLOW: 'value too large',
  EOPNOTSUPP: 'operation not supported',
  ETIMEDOUT: 'timed out',
  ESTALE: 'stale file handle',
  EDQUOT: 'quota exceeded',
};

export interface SftpStatus {
  code: SshFxCode;
  message: string;
}

/** Thrown by a request handler to answer with a given status (e.g. 'too many open handles'). */
export class SftpStatusError extends Error {
  constructor(readonly code: SshFxCode, message: string) {
    super(message);
    this.name = 'SftpStatusError';
  }
}

/** The STATUS for an Errno. */
export function statusForErrno(errno: Errno): SftpStatus {
  const name = Errno[errno] as ErrnoName | undefined;
  if (!name) return { code: SSH_FX.FAILURE, message: 'failure' };
  return { code: ERRNO_TO_SSH_FX[name], message: ERRNO_MESSAGE[name] };
}

/**
 * The STATUS for anything a request handler threw: a VfsError by its Errno, an SftpStatusError
 * as it says, a WireError
 * (malformed request body) as SSH_FX_BAD_MESSAGE with its reason, anything else
 * (a bug or a storage fault) as SSH_FX_FAILURE without internals.
 */
export function statusForError(err: unknown): SftpStatus {
  if (err instanceof VfsError) return statusForErrno(err.errno);
  if (err instanceof SftpStatusError) return { code: err.code, message: err.message };
  if (err instanceof WireError) return { code: SSH_FX.BAD_MESSAGE, message: `bad message: ${err.message}` };
  return { code: SSH_FX.FAILURE, message: 'internal error' };
}
