/**
 * The one table from the VFS's Errno to the SCSI answer of the iSCSI target (ARCHITECTURE.md:
 * every protocol maps each Errno in `protocols/<name>/errors.ts`). The table is
 * `Record<ErrnoName, ErrnoSense>`: a missing Errno is a type error, and errors.test.ts checks
 * every ERRNO_NAMES member. Sense keys and ASC/ASCQ are SPC-4 §4.5.6 and annex D.
 *
 * - A full pool or quota (ENOSPC, EDQUOT): DATA PROTECT, SPACE ALLOCATION FAILED WRITE PROTECT
 *   (27h/07h, SBC-3 §4.7.3.6: what a thin-provisioned LU answers when it cannot allocate).
 * - A snapshot or read-only volume (EROFS): DATA PROTECT, WRITE PROTECTED.
 * - An I/O fault of the block store (EIO): MEDIUM ERROR, UNRECOVERED READ ERROR on reads and
 *   WRITE ERROR on writes, INFORMATION = the command's first LBA.
 * - A range outside the volume (EINVAL, ENXIO, EFBIG, EOVERFLOW, ERANGE): ILLEGAL REQUEST,
 *   LOGICAL BLOCK ADDRESS OUT OF RANGE (the device layer checks ranges first; this is a backstop).
 * - A volume deleted or closed under the LU (ESTALE, ENOENT, EBADF): NOT READY, MEDIUM NOT PRESENT.
 * - Transient states (EAGAIN, EBUSY): NOT READY, IN PROCESS OF BECOMING READY (initiators retry).
 * - Anything that cannot happen on a block volume (EEXIST, EISDIR, …): HARDWARE ERROR,
 *   INTERNAL TARGET FAILURE.
 */
import { Errno, errnoOf, VfsError, type ErrnoName } from '../../vfs/errno.js';
import { Asc, CdbError, checkCondition, SenseKey, type AscPair } from './wire/scsi.js';

/** The sense for one Errno: key and ASC/ASCQ; `onWrite` replaces `asc` for commands that write. */
export interface ErrnoSense {
  key: number;
  asc: AscPair;
  onWrite?: AscPair;
}

const internal: ErrnoSense = { key: SenseKey.HARDWARE_ERROR, asc: Asc.INTERNAL_TARGET_FAILURE };
const outOfRange: ErrnoSense = { key: SenseKey.ILLEGAL_REQUEST, asc: Asc.LOGICAL_BLOCK_ADDRESS_OUT_OF_RANGE };
const gone: ErrnoSense = { key: SenseKey.NOT_READY, asc: Asc.MEDIUM_NOT_PRESENT };
const becomingReady: ErrnoSense = { key: SenseKey.NOT_READY, asc: Asc.LOGICAL_UNIT_IS_IN_PROCESS_OF_BECOMING_READY };
const noSpace: ErrnoSense = { key: SenseKey.DATA_PROTECT, asc: Asc.SPACE_ALLOCATION_FAILED_WRITE_PROTECT };

/** Errno → sense, complete. */
export const ERRNO_TO_SENSE: Record<ErrnoName, ErrnoSense> = {
  EPERM: { key: SenseKey.DATA_PROTECT, asc: Asc.ACCESS_DENIED_NO_ACCESS_RIGHTS },
  ENOENT: gone,
  EIO: { key: SenseKey.MEDIUM_ERROR, asc: Asc.UNRECOVERED_READ_ERROR, onWrite: Asc.WRITE_ERROR },
  ENXIO: outOfRange,
  EBADF: gone,
  EAGAIN: becomingReady,
  ENOMEM: { key: SenseKey.ABORTED_COMMAND, asc: Asc.SYSTEM_RESOURCE_FAILURE },
  EACCES: { key: SenseKey.DATA_PROTECT, asc: Asc.ACCESS_DENIED_NO_ACCESS_RIGHTS },
  EBUSY: becomingReady,
  EEXIST: internal,
  EXDEV: internal,
  ENOTDIR: internal,
  EISDIR: internal,
  EINVAL: outOfRange,
  EFBIG: outOfRange,
  ENOSPC: noSpace,
  ESPIPE: internal,
  EROFS: { key: SenseKey.DATA_PROTECT, asc: Asc.WRITE_PROTECTED },
  EMLINK: internal,
  ERANGE: outOfRange,
  EDEADLK: { key: SenseKey.ABORTED_COMMAND, asc: Asc.NO_ADDITIONAL_SENSE },
  ENAMETOOLONG: internal,
  ENOLCK: { key: SenseKey.ABORTED_COMMAND, asc: Asc.SYSTEM_RESOURCE_FAILURE },
  ENOSYS: { key: SenseKey.ILLEGAL_REQUEST, asc: Asc.INVALID_COMMAND_OPERATION_CODE },
  ENOTEMPTY: internal,
  ELOOP: internal,
  ENODATA: internal,
  EOVERFLOW: outOfRange,
  EOPNOTSUPP: { key: SenseKey.ILLEGAL_REQUEST, asc: Asc.INVALID_COMMAND_OPERATION_CODE },
  ETIMEDOUT: { key: SenseKey.ABORTED_COMMAND, asc: Asc.LOGICAL_UNIT_COMMUNICATION_TIME_OUT },
  ESTALE: gone,
  EDQUOT: noSpace,
};

/**
 * The CdbError (CHECK CONDITION + fixed sense) for anything a volume call threw: a CdbError as
 * it is, a VfsError through ERRNO_TO_SENSE, anything else as EIO. `write` picks the write ASC;
 * `lba` fills INFORMATION for MEDIUM ERROR (SBC-3 §4.14: the first LBA in error, or the command's).
 */
export function senseForError(err: unknown, opts: { write?: boolean; lba?: bigint } = {}): CdbError {
  if (err instanceof CdbError) return err;
  const errno = errnoOf(err);
  const name = Errno[errno] as ErrnoName;
  const e = ERRNO_TO_SENSE[name];
  const asc = opts.write && e.onWrite ? e.onWrite : e.asc;
  const message = err instanceof VfsError ? `${name}: ${err.message}` : `EIO: ${String(err)}`;
  return checkCondition(message, e.key, asc, e.key === SenseKey.MEDIUM_ERROR && opts.lba !== undefined ? { information: opts.lba } : {});
}
