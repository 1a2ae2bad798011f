/**
 * READ (MS-SMB2 3.3.5.12), WRITE (3.3.5.13) and FLUSH (3.3.5.11) on disk shares, through the
 * open's VFS handle. Lengths are capped by the MaxReadSize / MaxWriteSize the server announced
 * (SmbConnection.maxIo); CreditCharge is checked by the dispatcher. FLUSH is an fsync: answered
 * only once the data is durable (invariant 1 of ARCHITECTURE.md). A WRITE with
 * SMB2_WRITEFLAG_WRITE_THROUGH is fsynced before the answer too.
 */
import type { Vfs } from '../../vfs/types.js';
import { STATUS, SmbStatusError } from './errors.js';
import { openOf, type Open } from './files.js';
import { noteModified } from './dosattr.js';
import { MAX_STREAM_BYTES, resizedStream, setStreamData, streamData } from './streams.js';
import { checkIo } from './lock.js';
import { breakLevelIIForWrite } from './oplock.js';
import { beforeWrite, settleWriteTime } from './writetime.js';
import type { Request, Response, SmbConnection } from './session.js';
import { ACCESS } from './wire/security.js';
import {
  decodeFlushRequest, decodeReadRequest, decodeWriteRequest, READ_DATA_OFFSET, WRITE_FLAG, writeFlushResponse, writeReadResponse,
  writeReadResponseIn, writeWriteResponse, type ReadRequest,
} from './wire/files.js';
import { releaseReply, takeReplyBuffer } from './wire/reader.js';

const MAX_OFFSET = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * READ: up to Length bytes at Offset. Errors: a folder → INVALID_DEVICE_REQUEST; no
 * FILE_READ_DATA/EXECUTE on the open → ACCESS_DENIED; Length above MaxReadSize →
 * INVALID_PARAMETER; at or past the end of the file (or fewer bytes than MinimumCount) →
 * STATUS_END_OF_FILE; unknown FileId → FILE_CLOSED.
 */
export async function handleRead(c: SmbConnection, q: Request): Promise<Response> {
  const req = decodeReadRequest(q.message);
  const o = openOf(c, q, req.fileId);
  if (o.node.isDir) throw new SmbStatusError(STATUS.INVALID_DEVICE_REQUEST);
  if (!(o.access & (ACCESS.FILE_READ_DATA | ACCESS.FILE_EXECUTE)) || (o.fh === undefined && o.stream === undefined)) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  if (req.length > c.maxIo) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  if (req.offset > MAX_OFFSET) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  const vfs = c.fileService!.vfs;
  await checkIo(vfs, o, req.offset, req.length, false); // FILE_LOCK_CONFLICT (lock.ts)
  if (o.stream === undefined && req.length >= READ_INTO_REPLY_FROM) return readIntoReply(vfs, o, req);
  let data: Buffer;
  // Lent block cache bytes (Vfs.readLent), given back once the response holds its copy of them.
  let giveBack = (): void => undefined;
  if (req.length === 0) data = Buffer.alloc(0);
  else if (o.stream !== undefined) data = (await streamData(vfs, o.ctx, o.node.ino, o.stream)).subarray(Number(req.offset), Number(req.offset) + req.length);
  else ({ data, giveBack } = await vfs.readLent(o.ctx, o.fh!, Number(req.offset), req.length));
  if ((req.length > 0 && data.length === 0) || data.length < req.minimumCount) {
    giveBack();
    throw new SmbStatusError(STATUS.END_OF_FILE);
  }
  o.position = req.offset + BigInt(data.length);
  return {
    status: STATUS.SUCCESS,
    body: (w) => {
      writeReadResponse(w, data); // copies the bytes into the response (session.ts calls body once)
      giveBack();
    },
  };
}

/** READs of at least this many bytes read straight into their response's buffer. */
const READ_INTO_REPLY_FROM = 64 << 10;

/**
 * A large READ of a file: the data is read straight into the response's buffer at its offset
 * (one copy from the block cache; no buffer of the read's size of its own), and the response
 * is built around it (writeReadResponseIn). Errors as handleRead.
 */
async function readIntoReply(vfs: Vfs, o: Open, req: ReadRequest): Promise<Response> {
  const buf = takeReplyBuffer(READ_DATA_OFFSET + req.length);
  let n: number;
  try {
    // Vfs.read with `into` answers a view of it (vfs/types.ts): the bytes are in place.
    n = (await vfs.read(o.ctx, o.fh!, Number(req.offset), req.length, buf.subarray(READ_DATA_OFFSET))).length;
  } catch (err) {
    releaseReply(buf);
    throw err;
  }
  if (n === 0 || n < req.minimumCount) {
    releaseReply(buf);
    throw new SmbStatusError(STATUS.END_OF_FILE);
  }
  o.position = req.offset + BigInt(n);
  return { status: STATUS.SUCCESS, body: (w) => { writeReadResponseIn(w, buf, n); } };
}

/**
 * WRITE: the data at Offset (0xFFFFFFFFFFFFFFFF: at the end, for FILE_APPEND_DATA-only opens).
 * Errors: a folder → INVALID_DEVICE_REQUEST; no FILE_WRITE_DATA/APPEND_DATA → ACCESS_DENIED;
 * data longer than MaxWriteSize → INVALID_PARAMETER; VFS errors (DISK_FULL, QUOTA_EXCEEDED,
 * MEDIA_WRITE_PROTECTED, …) through errors.ts.
 */
export async function handleWrite(c: SmbConnection, q: Request): Promise<Response> {
  const req = decodeWriteRequest(q.message, c.maxIo);
  const o = openOf(c, q, req.fileId);
  if (o.node.isDir) throw new SmbStatusError(STATUS.INVALID_DEVICE_REQUEST);
  const vfs = c.fileService!.vfs;
  if (o.stream !== undefined) return writeStream(c, o, o.stream, req.offset, req.data);
  if (!(o.access & (ACCESS.FILE_WRITE_DATA | ACCESS.FILE_APPEND_DATA)) || o.fh === undefined || !o.fhWritable) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  let offset = req.offset;
  if (offset === 0xffffffffffffffffn) offset = BigInt((await vfs.getattr(o.ctx, o.node.ino)).size);
  if (offset > MAX_OFFSET) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  await checkIo(vfs, o, offset, req.data.length, true); // FILE_LOCK_CONFLICT (lock.ts)
  breakLevelIIForWrite(o); // LEVEL_II oplocks and other leases' R (oplock.ts)
  if (req.data.length) await beforeWrite(vfs, o); // LastWriteTime moves later (writetime.ts)
  const n = req.data.length ? await vfs.write(o.ctx, o.fh, Number(offset), req.data) : 0;
  if (n) await noteModified(vfs, o.node);
  if (req.flags & WRITE_FLAG.WRITE_THROUGH) await vfs.fsync(o.ctx, o.fh);
  o.position = offset + BigInt(n);
  return { status: STATUS.SUCCESS, body: (w) => { writeWriteResponse(w, n); } };
}

/**
 * WRITE to a named stream: its attribute read, patched and stored again (streams.ts; beyond
 * 64 KiB → DISK_FULL); offset all-ones appends.
 */
async function writeStream(c: SmbConnection, o: Open, xattr: string, offset: bigint, data: Buffer): Promise<Response> {
  if (!(o.access & (ACCESS.FILE_WRITE_DATA | ACCESS.FILE_APPEND_DATA))) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  const vfs = c.fileService!.vfs;
  const old = await streamData(vfs, o.ctx, o.node.ino, xattr);
  const at = offset === 0xffffffffffffffffn ? old.length : offset > BigInt(MAX_STREAM_BYTES) ? MAX_STREAM_BYTES + 1 : Number(offset);
  if (at + data.length > MAX_STREAM_BYTES) throw new SmbStatusError(STATUS.DISK_FULL);
  await checkIo(vfs, o, BigInt(at), data.length, true); // FILE_LOCK_CONFLICT (lock.ts)
  if (data.length) await setStreamData(vfs, o.ctx, o.node.ino, xattr, resizedStream(old, Math.max(old.length, at + data.length), at, data));
  o.position = BigInt(at + data.length);
  return { status: STATUS.SUCCESS, body: (w) => { writeWriteResponse(w, data.length); } };
}

/**
 * FLUSH: fsync of the open's handle (data and metadata durable when answered). A folder or an
 * attribute-only open has nothing buffered: SUCCESS. Unknown FileId → FILE_CLOSED.
 */
export async function handleFlush(c: SmbConnection, q: Request): Promise<Response> {
  const req = decodeFlushRequest(q.message);
  const o = openOf(c, q, req.fileId);
  if (o.fh !== undefined) await c.fileService!.vfs.fsync(o.ctx, o.fh);
  await settleWriteTime(c.fileService!.vfs, o); // a pending LastWriteTime update is done now (writetime.ts)
  return { status: STATUS.SUCCESS, body: (w) => { writeFlushResponse(w); } };
}
