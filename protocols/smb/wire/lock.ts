/**
 * LOCK request and response (MS-SMB2 2.2.26, 2.2.26.1, 2.2.27): the server's decoder and
 * writer, and the client-side writer the tests use. Decoders throw only `WireError`.
 */
import { SMB2_HEADER_SIZE } from './header.js';
import { Reader, WireError, Writer } from './reader.js';
import type { FileId } from './files.js';

/** SMB2_LOCK_ELEMENT Flags (2.2.26.1). */
export const LOCK_FLAG = {
  SHARED: 0x00000001,
  EXCLUSIVE: 0x00000002,
  UNLOCK: 0x00000004,
  FAIL_IMMEDIATELY: 0x00000010,
} as const;

/** One SMB2_LOCK_ELEMENT (24 bytes): a range of `length` bytes at `offset` (both 64-bit unsigned). */
export interface LockElement {
  offset: bigint;
  length: bigint;
  flags: number;
}

export interface LockRequest {
  /** LockSequenceNumber (4 bits) and LockSequenceIndex (28 bits), as sent. */
  lockSequence: number;
  fileId: FileId;
  locks: LockElement[];
}

/**
 * LOCK request: StructureSize 48, LockCount, LockSequence, FileId, then LockCount elements.
 * LockCount 0 → WireError (STATUS_INVALID_PARAMETER, 3.3.5.14); elements past the message's
 * end → WireError.
 */
export function decodeLockRequest(msg: Buffer): LockRequest {
  const r = new Reader(msg, 0, msg.length, 0).skip(SMB2_HEADER_SIZE, 'header');
  const s = r.u16('LOCK request StructureSize');
  if (s !== 48) throw new WireError(`LOCK request: StructureSize ${s}, expected 48`);
  const count = r.u16('LockCount');
  const lockSequence = r.u32('LockSequence');
  const fileId = { persistent: r.u64('FileId.Persistent'), volatile: r.u64('FileId.Volatile') };
  if (count === 0) throw new WireError('LOCK request without lock elements');
  if (r.remaining() < count * 24) throw new WireError(`LOCK request: ${count} elements need ${count * 24} bytes, have ${r.remaining()}`);
  const locks: LockElement[] = [];
  for (let i = 0; i < count; i++) {
    const offset = r.u64('Offset'), length = r.u64('Length'), flags = r.u32('Flags');
    r.skip(4, 'Reserved');
    locks.push({ offset, length, flags });
  }
  return { lockSequence, fileId, locks };
}

/** Client side: a LOCK request body (tests). */
export function writeLockRequest(w: Writer, q: { fileId: FileId; locks: readonly LockElement[]; lockSequence?: number }): Writer {
  w.u16(48).u16(q.locks.length).u32(q.lockSequence ?? 0).u64(q.fileId.persistent).u64(q.fileId.volatile);
  for (const l of q.locks) w.u64(l.offset).u64(l.length).u32(l.flags).u32(0);
  return w;
}

/** LOCK response (2.2.27): StructureSize 4, Reserved. */
export function writeLockResponse(w: Writer): Writer {
  return w.u16(4).u16(0);
}
