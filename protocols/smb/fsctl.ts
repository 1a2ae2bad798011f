/**
 * The file-system controls of a disk share (IOCTL, MS-SMB2 3.3.5.15): Previous Versions
 * (FSCTL_SRV_ENUMERATE_SNAPSHOTS, 3.3.5.15.1), server-side copy (FSCTL_SRV_REQUEST_RESUME_KEY
 * 3.3.5.15.7, FSCTL_SRV_COPYCHUNK and _WRITE 3.3.5.15.6, on the VFS's copy_file_range), and sparse
 * files (FSCTL_SET_SPARSE, FSCTL_SET_ZERO_DATA as a punched hole, FSCTL_QUERY_ALLOCATED_RANGES from
 * SEEK_DATA/SEEK_HOLE; MS-FSA 2.1.5.10.31, .37, .21), compression state (always none). Every
 * file is thin here underneath; the SPARSE_FILE attribute (kept with the DOS bits) decides what
 * a client sees: a file not marked sparse reports one allocated range and has zeros written by
 * SET_ZERO_DATA, a sparse one has holes punched and reports its data ranges.
 */
import { randomBytes } from 'node:crypto';
import { Errno, VfsError } from '../../vfs/errno.js';
import { ROOT_CTX, type Ctx, type Fh, type Vfs } from '../../vfs/types.js';
import { nodeDos, writeDos } from './dosattr.js';
import { FILE_ATTRIBUTE } from './wire/fscc.js';
import { STATUS, SmbStatusError } from './errors.js';
import { openOf, type Open } from './files.js';
import { shareTokens } from './previous.js';
import type { Request, Response, SmbConnection } from './session.js';
import { type IoctlRequest, writeIoctlResponse } from './wire/files.js';
import {
  decodeAllocatedRange, decodeCopyChunkCopy, decodeSetSparse, decodeZeroData, encodeAllocatedRanges, encodeCopyChunkResponse,
  COMPRESSION_FORMAT_NONE, encodeResumeKey, encodeSnapshotArray, FSCTL_DATA, RESUME_KEY_BYTES, type AllocatedRange,
} from './wire/fsctl.js';
import { ACCESS } from './wire/security.js';
import { DIALECT } from './wire/negotiate.js';

/** Server-side copy limits (3.3.1.5 ServerSideCopyMaxNumberofChunks, …MaxChunkSize, …MaxDataSize; Windows' values). */
export const COPYCHUNK_LIMITS = { chunks: 256, chunkBytes: 1 << 20, totalBytes: 16 << 20 } as const;

/** Resume keys handed out on a connection: hex key → open, and open → its key. */
const keys = new WeakMap<SmbConnection, { byKey: Map<string, Open>; byOpen: WeakMap<Open, Buffer> }>();

function ok(req: IoctlRequest, output: Buffer, status: number = STATUS.SUCCESS): Response {
  return { status, body: (w) => { writeIoctlResponse(w, req.ctlCode, req.fileId, output); } };
}

function vfsOf(c: SmbConnection) {
  const svc = c.fileService;
  if (!svc) throw new SmbStatusError(STATUS.NOT_SUPPORTED);
  return svc.vfs;
}

/** FSCTL_SRV_ENUMERATE_SNAPSHOTS: the share's @GMT tokens, newest first (MaxOutputResponse < 16 → INVALID_PARAMETER). */
function enumerateSnapshots(c: SmbConnection, q: Request, req: IoctlRequest): Response {
  const o = openOf(c, q, req.fileId);
  if (req.maxOutputResponse < 16) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  return ok(req, encodeSnapshotArray(shareTokens(vfsOf(c), o.share), req.maxOutputResponse));
}

/** FSCTL_SRV_REQUEST_RESUME_KEY: a 24-byte key naming this open for a later copychunk (one per open). */
function requestResumeKey(c: SmbConnection, q: Request, req: IoctlRequest): Response {
  const o = openOf(c, q, req.fileId);
  if (req.maxOutputResponse < RESUME_KEY_BYTES + 4) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  let k = keys.get(c);
  if (!k) keys.set(c, k = { byKey: new Map(), byOpen: new WeakMap() });
  let key = k.byOpen.get(o);
  if (!key) {
    key = randomBytes(RESUME_KEY_BYTES);
    k.byOpen.set(o, key);
    k.byKey.set(key.toString('hex'), o);
    // Forget closed opens' keys now and then, so the map stays as large as the open table.
    if (k.byKey.size > 2 * c.files.opens.size + 64) for (const [h, x] of k.byKey) if (c.files.opens.get(x.id) !== x) k.byKey.delete(h);
  }
  return ok(req, encodeResumeKey(key));
}

/**
 * FSCTL_SRV_COPYCHUNK / _WRITE (3.3.5.15.6): chunks copied in order from the open named by the
 * resume key into this open. Too many chunks, a chunk of 0 or over 1 MiB, or over 16 MiB in all →
 * STATUS_INVALID_PARAMETER with the limits as the response; no write access on the target (and
 * for COPYCHUNK no read access either), or no read access on the source → ACCESS_DENIED; an
 * unknown key → OBJECT_NAME_NOT_FOUND; a chunk reaching past the source's end →
 * INVALID_VIEW_SIZE (Windows' answer) with the counts of the chunks before it, which were copied.
 * Source and target may be one file, the ranges overlapping.
 */
async function copyChunk(c: SmbConnection, q: Request, req: IoctlRequest): Promise<Response> {
  const vfs = vfsOf(c);
  const dst = openOf(c, q, req.fileId);
  if (req.maxOutputResponse < 12 || req.input.length < RESUME_KEY_BYTES + 8) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  const copy = decodeCopyChunkCopy(req.input, COPYCHUNK_LIMITS.chunks);
  const limits = (): Response => ok(req, encodeCopyChunkResponse({
    chunksWritten: COPYCHUNK_LIMITS.chunks, chunkBytesWritten: COPYCHUNK_LIMITS.chunkBytes, totalBytesWritten: COPYCHUNK_LIMITS.totalBytes,
  }), STATUS.INVALID_PARAMETER);
  if (copy.tooMany) return limits();
  let total = 0;
  for (const k of copy.chunks) {
    if (k.length === 0 || k.length > COPYCHUNK_LIMITS.chunkBytes) return limits();
    total += k.length;
  }
  if (total > COPYCHUNK_LIMITS.totalBytes) return limits();
  const needRead = req.ctlCode === FSCTL_DATA.SRV_COPYCHUNK;
  if (!(dst.access & ACCESS.FILE_WRITE_DATA) || (needRead && !(dst.access & ACCESS.FILE_READ_DATA)) || dst.fh === undefined || !dst.fhWritable) {
    throw new SmbStatusError(STATUS.ACCESS_DENIED);
  }
  const src = keys.get(c)?.byKey.get(copy.sourceKey.toString('hex'));
  if (!src || c.files.opens.get(src.id) !== src) throw new SmbStatusError(STATUS.OBJECT_NAME_NOT_FOUND);
  if (!(src.access & ACCESS.FILE_READ_DATA) || src.fh === undefined) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  const size = (await vfs.getattr(src.ctx, src.node.ino)).size;
  let chunks = 0, bytes = 0, status: number = STATUS.SUCCESS;
  for (const k of copy.chunks) {
    if (k.sourceOffset + BigInt(k.length) > BigInt(size)) {
      status = STATUS.INVALID_VIEW_SIZE;
      break;
    }
    const srcOff = Number(k.sourceOffset), dstOff = Number(k.targetOffset);
    let done = 0;
    if (src.node.ino === dst.node.ino && srcOff < dstOff + k.length && dstOff < srcOff + k.length) {
      // Overlapping ranges of one file: copy_file_range refuses them; read the chunk (a copy), then write it.
      const data = await vfs.read(src.ctx, src.fh, srcOff, k.length, Buffer.allocUnsafe(k.length));
      done = data.length ? await vfs.write(dst.ctx, dst.fh, dstOff, data) : 0;
    } else {
      while (done < k.length) {
        const n = await vfs.copyFileRange(dst.ctx, src.fh, srcOff + done, dst.fh, dstOff + done, k.length - done);
        if (n <= 0) break;
        done += n;
      }
    }
    bytes += done;
    if (done < k.length) break;
    chunks++;
  }
  return ok(req, encodeCopyChunkResponse({ chunksWritten: chunks, chunkBytesWritten: 0, totalBytesWritten: bytes }), status);
}

/** Whether the file of open `o` carries FILE_ATTRIBUTE_SPARSE_FILE (dosattr.ts). */
async function isSparse(c: SmbConnection, o: Open): Promise<boolean> {
  return ((await nodeDos(vfsOf(c), o.node, { ino: o.node.ino, type: 'file' })) & FILE_ATTRIBUTE.SPARSE_FILE) !== 0;
}

/** Writes zeros over [from, to) through `fh`, a MiB at a time. */
async function writeZeros(vfs: Vfs, ctx: Ctx, fh: Fh, from: number, to: number): Promise<void> {
  const zeros = Buffer.alloc(Math.min(1 << 20, Math.max(0, to - from)));
  for (let at = from; at < to; at += zeros.length) await vfs.write(ctx, fh, at, zeros.subarray(0, Math.min(zeros.length, to - at)));
}

/**
 * FSCTL_SET_SPARSE (MS-FSA 2.1.5.10.31): sets or clears FILE_ATTRIBUTE_SPARSE_FILE (no input:
 * sets). Clearing it allocates the file's holes (zeros written into them), as NTFS does. Needs
 * write-data, write-attributes or append access (ACCESS_DENIED); not on a directory
 * (INVALID_PARAMETER).
 */
async function setSparse(c: SmbConnection, q: Request, req: IoctlRequest): Promise<Response> {
  const vfs = vfsOf(c);
  const o = openOf(c, q, req.fileId);
  const set = decodeSetSparse(req.input);
  if (o.node.isDir) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  if (!(o.access & (ACCESS.FILE_WRITE_DATA | ACCESS.FILE_WRITE_ATTRIBUTES | ACCESS.FILE_APPEND_DATA))) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  const file = { ino: o.node.ino, type: 'file' as const };
  const bits = await nodeDos(vfs, o.node, file);
  if (set === ((bits & FILE_ATTRIBUTE.SPARSE_FILE) !== 0)) return ok(req, Buffer.alloc(0));
  if (!set) {
    // The holes become allocated zeros, through a handle of the gateway's own (the open may lack write-data access).
    const fh = await vfs.open(ROOT_CTX, o.node.ino, { write: true, read: true });
    try {
      const size = (await vfs.getattr(ROOT_CTX, o.node.ino)).size;
      for (let pos = 0; pos < size;) {
        const hole = await vfs.seekData(ROOT_CTX, fh, pos, 'hole');
        if (hole >= size) break;
        let data = size;
        try { data = await vfs.seekData(ROOT_CTX, fh, hole, 'data'); } catch (err) { if (!(err instanceof VfsError && err.errno === Errno.ENXIO)) throw err; }
        await writeZeros(vfs, ROOT_CTX, fh, hole, Math.min(data, size));
        pos = data;
      }
    } finally {
      await vfs.release(ROOT_CTX, fh);
    }
  }
  await writeDos(vfs, file, set ? bits | FILE_ATTRIBUTE.SPARSE_FILE : bits & ~FILE_ATTRIBUTE.SPARSE_FILE, o.node);
  return ok(req, Buffer.alloc(0));
}

/** FSCTL_SET_ZERO_DATA: [FileOffset, BeyondFinalZero) reads as zeros after, its records freed (MS-FSA 2.1.5.10.37). */
async function setZeroData(c: SmbConnection, q: Request, req: IoctlRequest): Promise<Response> {
  const vfs = vfsOf(c);
  const o = openOf(c, q, req.fileId);
  if (req.input.length < 16) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  const z = decodeZeroData(req.input);
  if (z.fileOffset < 0n || z.beyondFinalZero < 0n || z.fileOffset > z.beyondFinalZero || z.beyondFinalZero > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  }
  if (o.node.isDir) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  if (!(o.access & ACCESS.FILE_WRITE_DATA) || o.fh === undefined || !o.fhWritable) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  const len = Number(z.beyondFinalZero - z.fileOffset);
  if (len > 0) {
    if (await isSparse(c, o)) {
      await vfs.punchHole(o.ctx, o.fh, Number(z.fileOffset), len);
    } else { // a file not marked sparse keeps its space: zeros written within its size
      const size = (await vfs.getattr(o.ctx, o.node.ino)).size;
      await writeZeros(vfs, o.ctx, o.fh, Number(z.fileOffset), Math.min(size, Number(z.beyondFinalZero)));
    }
  }
  return ok(req, Buffer.alloc(0));
}

/**
 * FSCTL_QUERY_ALLOCATED_RANGES: the ranges holding data within the asked range, from SEEK_DATA
 * and SEEK_HOLE (MS-FSA 2.1.5.10.21). Output below 16 bytes → BUFFER_TOO_SMALL; more ranges than
 * fit → BUFFER_OVERFLOW with those that do; a negative offset or length → INVALID_PARAMETER.
 */
async function queryAllocatedRanges(c: SmbConnection, q: Request, req: IoctlRequest): Promise<Response> {
  const vfs = vfsOf(c);
  const o = openOf(c, q, req.fileId);
  if (req.input.length < 16) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  const want = decodeAllocatedRange(req.input);
  if (want.offset < 0n || want.length < 0n) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  if (o.node.isDir) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  if (!(o.access & ACCESS.FILE_READ_DATA) || o.fh === undefined) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  const max = Math.floor(req.maxOutputResponse / 16);
  const size = (await vfs.getattr(o.ctx, o.node.ino)).size;
  const asked = want.offset + want.length;
  const end = Math.min(size, Number(asked > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : asked));
  const out: AllocatedRange[] = [];
  let pos = Number(want.offset > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : want.offset);
  let overflow = false;
  if (!(await isSparse(c, o))) { // not sparse: allocated throughout (MS-FSA 2.1.5.10.22)
    if (pos >= end) return ok(req, Buffer.alloc(0));
    if (max === 0) throw new SmbStatusError(STATUS.BUFFER_TOO_SMALL);
    return ok(req, encodeAllocatedRanges([{ offset: BigInt(pos), length: BigInt(end - pos) }]));
  }
  while (pos < end) {
    let data: number;
    try {
      data = await vfs.seekData(o.ctx, o.fh, pos, 'data');
    } catch (err) {
      if (err instanceof VfsError && err.errno === Errno.ENXIO) break; // no data from pos on
      throw err;
    }
    if (data >= end) break;
    const hole = await vfs.seekData(o.ctx, o.fh, data, 'hole');
    if (max === 0) throw new SmbStatusError(STATUS.BUFFER_TOO_SMALL);
    if (out.length === max) { overflow = true; break; }
    out.push({ offset: BigInt(data), length: BigInt(Math.min(hole, end) - data) });
    pos = hole;
  }
  return ok(req, out.length ? encodeAllocatedRanges(out) : Buffer.alloc(0), overflow ? STATUS.BUFFER_OVERFLOW : STATUS.SUCCESS);
}

/**
 * FSCTL_GET_COMPRESSION answers COMPRESSION_FORMAT_NONE (the pool compresses below the files,
 * unseen); FSCTL_SET_COMPRESSION accepts NONE and refuses a format with NOT_SUPPORTED
 * (MS-FSA 2.1.5.10.5, .10.33; the file system does not claim FILE_FILE_COMPRESSION).
 */
function getCompression(c: SmbConnection, q: Request, req: IoctlRequest): Response {
  openOf(c, q, req.fileId);
  if (req.maxOutputResponse < 2) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  return ok(req, Buffer.from([COMPRESSION_FORMAT_NONE, 0]));
}

function setCompression(c: SmbConnection, q: Request, req: IoctlRequest): Response {
  const o = openOf(c, q, req.fileId);
  if (req.input.length < 2) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  if (!(o.access & (ACCESS.FILE_WRITE_DATA | ACCESS.FILE_WRITE_ATTRIBUTES))) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  if (req.input.readUInt16LE(0) !== COMPRESSION_FORMAT_NONE) throw new SmbStatusError(STATUS.NOT_SUPPORTED);
  return ok(req, Buffer.alloc(0));
}

/** The longest resiliency timeout a client may ask (ms; Windows' MaxResiliencyTimeout, 5 minutes). */
export const MAX_RESILIENCY_MS = 5 * 60 * 1000;

/** Opens a client made resilient (FSCTL_LMR_REQUEST_RESILIENCY): lock.ts keeps their LockSequences. */
const resilient = new WeakSet<Open>();

export function isResilient(o: Open): boolean {
  return resilient.has(o);
}

/**
 * FSCTL_LMR_REQUEST_RESILIENCY (MS-SMB2 3.3.5.15.9; NETWORK_RESILIENCY_REQUEST 2.2.31.3): marks the
 * open resilient so its LOCK requests are checked for replays (3.3.5.14). 2.0.2 →
 * INVALID_DEVICE_REQUEST; input below 8 bytes or a Timeout above 5 minutes → INVALID_PARAMETER.
 * The open does not yet outlive its connection the way a durable one does.
 */
function requestResiliency(c: SmbConnection, q: Request, req: IoctlRequest): Response {
  const o = openOf(c, q, req.fileId);
  if (c.dialect === DIALECT.SMB202) throw new SmbStatusError(STATUS.INVALID_DEVICE_REQUEST);
  if (req.input.length < 8) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  if (req.input.readUInt32LE(0) > MAX_RESILIENCY_MS) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  resilient.add(o);
  return ok(req, Buffer.alloc(0));
}

/** The disk-share FSCTLs this module answers, by control code. */
export const FSCTL_HANDLERS: ReadonlyMap<number, (c: SmbConnection, q: Request, req: IoctlRequest) => Response | Promise<Response>> = new Map<
  number, (c: SmbConnection, q: Request, req: IoctlRequest) => Response | Promise<Response>
>([
  [FSCTL_DATA.SRV_ENUMERATE_SNAPSHOTS, enumerateSnapshots],
  [FSCTL_DATA.SRV_REQUEST_RESUME_KEY, requestResumeKey],
  [FSCTL_DATA.SRV_COPYCHUNK, copyChunk],
  [FSCTL_DATA.SRV_COPYCHUNK_WRITE, copyChunk],
  [FSCTL_DATA.SET_SPARSE, setSparse],
  [FSCTL_DATA.SET_ZERO_DATA, setZeroData],
  [FSCTL_DATA.QUERY_ALLOCATED_RANGES, queryAllocatedRanges],
  [FSCTL_DATA.LMR_REQUEST_RESILIENCY, requestResiliency],
  [FSCTL_DATA.GET_COMPRESSION, getCompression],
  [FSCTL_DATA.SET_COMPRESSION, setCompression],
]);
