/**
 * WebDAV error currency: the one Errno → HTTP status table (ARCHITECTURE.md, "Errno") and
 * `DavError`, the error every handler and wire decoder throws to answer with a status.
 */
import { Errno, VfsError, type ErrnoName } from '../../vfs/errno.js';

/**
 * HTTP status for each Errno (RFC 9110 §15, RFC 4918 §11). A missing entry is a type error.
 * EEXIST depends on the method: 405 for MKCOL on a mapped URL (RFC 4918 §9.3.1), 412 for
 * COPY/MOVE with Overwrite: F (§9.8.5, §9.9.4) — see `statusOfErrno`.
 */
export const ERRNO_TO_HTTP: Record<ErrnoName, number> = {
  EPERM: 403,
  ENOENT: 404,
  EIO: 500,
  // A position past the end of the data (RFC 9110 §15.5.17).
  ENXIO: 416,
  EBADF: 500,
  EAGAIN: 503,
  ENOMEM: 503,
  EACCES: 403,
  EBUSY: 409,
  EEXIST: 405,
  EXDEV: 502,
  ENOTDIR: 409,
  EISDIR: 405,
  EINVAL: 400,
  EFBIG: 413,
  ENOSPC: 507,
  ESPIPE: 400,
  EROFS: 403,
  EMLINK: 507,
  ERANGE: 507,
  EDEADLK: 409,
  ENAMETOOLONG: 414,
  ENOLCK: 503,
  ENOSYS: 501,
  ENOTEMPTY: 409,
  ELOOP: 508,
  ENODATA: 404,
  EOVERFLOW: 500,
  EOPNOTSUPP: 501,
  ETIMEDOUT: 503,
  ESTALE: 404,
  EDQUOT: 507,
};

/** Where an Errno surfaced, for the few codes whose status depends on the method. */
export type ErrnoContext = 'default' | 'copymove';

/** HTTP status for an Errno; EEXIST is 412 for COPY/MOVE destinations, 405 elsewhere. */
export function statusOfErrno(errno: Errno, where: ErrnoContext = 'default'): number {
  if (errno === Errno.EEXIST && where === 'copymove') return 412;
  const name = Errno[errno] as ErrnoName | undefined;
  return name ? ERRNO_TO_HTTP[name] : 500;
}

/**
 * A request that ends with an HTTP status. `condition` is an RFC 4918 §16 precondition /
 * postcondition element name in the DAV: namespace (e.g. 'lock-token-submitted'), sent in a
 * DAV:error body; `hrefs` are its DAV:href children (already percent-encoded).
 */
export class DavError extends Error {
  readonly status: number;
  readonly condition: string | undefined;
  readonly hrefs: readonly string[];
  constructor(status: number, message?: string, condition?: string, hrefs: readonly string[] = []) {
    super(message ?? `HTTP ${status}`);
    this.name = 'DavError';
    this.status = status;
    this.condition = condition;
    this.hrefs = hrefs;
  }
}

/** Throws a DavError; for expressions: `x ?? davFail(400, 'bad Depth')`. */
export function davFail(status: number, message?: string, condition?: string, hrefs?: readonly string[]): never {
  throw new DavError(status, message, condition, hrefs);
}

/** Status of any thrown value: DavError's own, the Errno table for VfsError, 500 otherwise. */
export function statusOf(err: unknown, where: ErrnoContext = 'default'): number {
  if (err instanceof DavError) return err.status;
  if (err instanceof VfsError) return statusOfErrno(err.errno, where);
  return 500;
}

/** Reason phrases for the statuses this server sends (multistatus needs them in text). */
export const REASON: Record<number, string> = {
  100: 'Continue', 200: 'OK', 201: 'Created', 204: 'No Content', 206: 'Partial Content',
  207: 'Multi-Status', 304: 'Not Modified', 400: 'Bad Request', 401: 'Unauthorized',
  403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  411: 'Length Required', 412: 'Precondition Failed', 413: 'Content Too Large', 414: 'URI Too Long',
  415: 'Unsupported Media Type', 416: 'Range Not Satisfiable', 422: 'Unprocessable Content',
  423: 'Locked', 424: 'Failed Dependency', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway',
  503: 'Service Unavailable', 507: 'Insufficient Storage', 508: 'Loop Detected',
};

/** 'HTTP/1.1 404 Not Found' as used in DAV:status elements (RFC 4918 §14.28). */
export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${REASON[status] ?? 'Unknown'}`;
}
