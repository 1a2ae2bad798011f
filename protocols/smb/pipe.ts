/**
 * Named pipes on IPC$ (MS-SMB2 3.3.5.9 CREATE, 3.3.5.10 CLOSE, 3.3.5.11 FLUSH, 3.3.5.12 READ,
 * 3.3.5.13 WRITE, 3.3.5.15 IOCTL with FSCTL_PIPE_TRANSCEIVE / FSCTL_PIPE_PEEK (MS-FSCC 2.3.33,
 * 2.3.35), 3.3.5.20 QUERY_INFO): the handlers `session.ts` registers as the `pipe` side of
 * `byShareType`. The only pipe is `srvsvc` (MS-SRVS), served by the sans-IO DCE/RPC endpoint
 * of `rpc/srvsvc.ts` over the connection's configured shares plus IPC$.
 *
 * Each open is a message-mode pipe: what the client writes goes to the endpoint at once
 * (`write(bytes) → reply PDUs`), each reply PDU is one message in the open's queue. A READ takes
 * the first message; one longer than the READ's Length gives Length bytes with
 * STATUS_BUFFER_OVERFLOW and keeps the rest for the next READ. A TRANSCEIVE writes its input and
 * returns the first reply message the same way, cut at MaxOutputResponse. Further messages (the
 * later fragments of a long reply) stay queued for READs.
 *
 * Opens live in a table per tree connect (so a FileId is only good on the tree and session that
 * opened it, and they go with TREE_DISCONNECT / LOGOFF); FileIds are 16 random bytes, so they
 * never collide with the disk opens of the same connection.
 *
 * Errors: unknown pipe name → STATUS_OBJECT_NAME_NOT_FOUND; a FileId not open on this tree
 * (also the related-compound FileId, not supported yet) → STATUS_FILE_CLOSED; READ with nothing
 * queued → STATUS_PIPE_EMPTY (3.3.5.12 lets a server pend such a read; this server has no async
 * responses yet, and its endpoint answers synchronously, so a waiting READ could never be
 * completed); TRANSCEIVE while replies are still queued → STATUS_PIPE_BUSY; more than
 * MAX_QUEUED_BYTES unread → STATUS_INSUFFICIENT_RESOURCES for the WRITE (nothing is consumed);
 * Length / MaxOutputResponse above MaxReadSize / MaxTransactSize, or a channel → STATUS_INVALID_PARAMETER;
 * IOCTL without SMB2_0_IOCTL_IS_FSCTL → STATUS_NOT_SUPPORTED; QUERY_INFO of anything but
 * FileStandardInformation → STATUS_NOT_SUPPORTED, an OutputBufferLength below 24 →
 * STATUS_INFO_LENGTH_MISMATCH. A body that does not decode throws `WireError` (the session
 * layer answers STATUS_INVALID_PARAMETER). Nothing else throws.
 */
import { randomBytes } from 'node:crypto';
import { STATUS, SmbStatusError } from './errors.js';
import { IPC_SHARE } from './shares.js';
import type { TreeConnect } from './state.js';
import type { Request, Response, SmbConnection } from './session.js';
import { srvsvcPipe, type ShareEntry } from './rpc/srvsvc.js';
import type { Writer } from './wire/reader.js';
import {
  decodeCloseRequest, decodeCreateRequest, decodeFlushRequest, decodeIoctlRequest, decodeQueryInfoRequest, decodeReadRequest,
  decodeWriteRequest, fileIdKey, IOCTL_IS_FSCTL, writeCloseResponse, writeCreateResponse, writeFlushResponse, writeIoctlResponse,
  writeOutputBufferResponse, writeReadResponse, writeWriteResponse, type FileId,
} from './wire/files.js';

/** Pipe FSCTL codes (MS-FSCC 2.3): FSCTL_PIPE_PEEK 2.3.33, FSCTL_PIPE_TRANSCEIVE 2.3.35. */
export const FSCTL_PIPE = { PEEK: 0x0011400c, TRANSCEIVE: 0x0011c017 } as const;
/** Most unread reply bytes per open before WRITE is refused. */
export const MAX_QUEUED_BYTES = 1 << 20;
/** Most pipe opens per tree connect. */
export const MAX_PIPE_OPENS = 128;
/** The remark of IPC$ in share listings. */
export const IPC_REMARK = 'IPC Service';

/** A pipe server endpoint (the `RpcPipe` of rpc/): client bytes in, reply messages out; never throws. */
export interface PipeEndpoint {
  write(bytes: Buffer): Buffer[];
}

/** One open of a pipe. */
interface PipeOpen {
  name: string;
  endpoint: PipeEndpoint;
  /** Reply messages not read yet, oldest first (the first may be the rest of a partly read one). */
  queue: Buffer[];
  queued: number;
}

const FILE_OPENED = 1;
const FILE_ATTRIBUTE_NORMAL = 0x80;
const INFO_FILE = 1;
const FILE_STANDARD_INFORMATION = 5;
const PIPE_ALLOCATION = 4096n;
/** FILE_PIPE_CONNECTED_STATE (MS-FSCC 2.3.34). */
const PIPE_CONNECTED = 3;

const opensByTree = new WeakMap<TreeConnect, Map<string, PipeOpen>>();

function table(tree: TreeConnect): Map<string, PipeOpen> {
  let t = opensByTree.get(tree);
  if (!t) opensByTree.set(tree, (t = new Map()));
  return t;
}

function lookup(q: Request, fileId: FileId): PipeOpen {
  const o = opensByTree.get(q.tree!)?.get(fileIdKey(fileId));
  if (!o) throw new SmbStatusError(STATUS.FILE_CLOSED);
  return o;
}

/** The share list srvsvc answers with: the configured disk shares (with their remarks), then IPC$. */
export function shareEntries(c: SmbConnection): ShareEntry[] {
  return [
    ...c.opts.shares.map((s): ShareEntry => ({ name: s.name, type: 'disk', remark: s.remark ?? '' })),
    { name: IPC_SHARE, type: 'ipc', remark: IPC_REMARK },
  ];
}

/** The endpoint for a pipe name (leading backslashes dropped, case ignored), or undefined. */
export function openEndpoint(c: SmbConnection, name: string): PipeEndpoint | undefined {
  const n = name.replace(/^\\+/, '').toLowerCase();
  if (n === 'srvsvc') return srvsvcPipe({ serverName: c.opts.identity.nbComputer, shares: () => shareEntries(c) });
  return undefined;
}

/** Takes up to `max` bytes of the first queued message: [data, whether the message had more]. */
function takeMessage(o: PipeOpen, max: number): [Buffer, boolean] {
  const m = o.queue[0]!;
  if (m.length <= max) {
    o.queue.shift();
    o.queued -= m.length;
    return [m, false];
  }
  o.queue[0] = m.subarray(max);
  o.queued -= max;
  return [m.subarray(0, max), true];
}

function feed(o: PipeOpen, bytes: Buffer): void {
  for (const m of o.endpoint.write(bytes)) {
    if (m.length === 0) continue;
    o.queue.push(m);
    o.queued += m.length;
  }
}

/** CREATE on IPC$ (3.3.5.9): opens a pipe by name; contexts (decoded, so checked) and oplocks are ignored (none granted). */
export function pipeCreate(c: SmbConnection, q: Request): Response {
  const req = decodeCreateRequest(q.message);
  const endpoint = openEndpoint(c, req.name);
  if (!endpoint) {
    c.log?.debug({ peer: c.opts.peer, pipe: req.name }, 'smb: open of an unknown pipe');
    throw new SmbStatusError(STATUS.OBJECT_NAME_NOT_FOUND);
  }
  const t = table(q.tree!);
  if (t.size >= MAX_PIPE_OPENS) throw new SmbStatusError(STATUS.INSUFFICIENT_RESOURCES);
  let fileId: FileId, raw: Buffer;
  do {
    raw = randomBytes(16);
    fileId = { persistent: raw.readBigUInt64LE(0), volatile: raw.readBigUInt64LE(8) };
  } while (t.has(fileIdKey(fileId)) || raw.every((b) => b === 0xff));
  t.set(fileIdKey(fileId), { name: req.name, endpoint, queue: [], queued: 0 });
  c.log?.debug({ peer: c.opts.peer, pipe: req.name }, 'smb: pipe opened');
  return {
    status: STATUS.SUCCESS,
    body: (w: Writer) => {
      writeCreateResponse(w, {
        oplockLevel: 0, createAction: FILE_OPENED, creationTime: 0n, lastAccessTime: 0n, lastWriteTime: 0n, changeTime: 0n,
        allocationSize: PIPE_ALLOCATION, endOfFile: 0n, fileAttributes: FILE_ATTRIBUTE_NORMAL, fileId, contexts: [],
      });
    },
  };
}

/** CLOSE (3.3.5.10): drops the open and whatever was unread. */
export function pipeClose(_c: SmbConnection, q: Request): Response {
  const { flags, fileId } = decodeCloseRequest(q.message);
  lookup(q, fileId);
  opensByTree.get(q.tree!)!.delete(fileIdKey(fileId));
  const post = (flags & 1) !== 0; // SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB
  return {
    status: STATUS.SUCCESS,
    body: (w) => {
      writeCloseResponse(w, post ? {
        creationTime: 0n, lastAccessTime: 0n, lastWriteTime: 0n, changeTime: 0n, allocationSize: PIPE_ALLOCATION, endOfFile: 0n, fileAttributes: FILE_ATTRIBUTE_NORMAL,
      } : undefined);
    },
  };
}

/** FLUSH (3.3.5.11): nothing is buffered on the server side of a pipe. */
export function pipeFlush(_c: SmbConnection, q: Request): Response {
  lookup(q, decodeFlushRequest(q.message).fileId);
  return { status: STATUS.SUCCESS, body: (w) => { writeFlushResponse(w); } };
}

/** WRITE (3.3.5.13): the data goes to the endpoint; its replies are queued. Offset is ignored. */
export function pipeWrite(c: SmbConnection, q: Request): Response {
  const req = decodeWriteRequest(q.message, c.maxIo);
  const o = lookup(q, req.fileId);
  if (req.channel !== 0) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  if (o.queued > MAX_QUEUED_BYTES) throw new SmbStatusError(STATUS.INSUFFICIENT_RESOURCES);
  feed(o, req.data);
  const count = req.data.length;
  return { status: STATUS.SUCCESS, body: (w) => { writeWriteResponse(w, count); } };
}

/** READ (3.3.5.12): one queued message, or its first Length bytes with STATUS_BUFFER_OVERFLOW. */
export function pipeRead(c: SmbConnection, q: Request): Response {
  const req = decodeReadRequest(q.message);
  const o = lookup(q, req.fileId);
  if (req.length > c.maxIo || req.channel !== 0) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  if (o.queue.length === 0) throw new SmbStatusError(STATUS.PIPE_EMPTY);
  const [data, more] = takeMessage(o, req.length);
  return { status: more ? STATUS.BUFFER_OVERFLOW : STATUS.SUCCESS, body: (w) => { writeReadResponse(w, data); } };
}

/**
 * IOCTL (3.3.5.15) on a pipe: FSCTL_PIPE_TRANSCEIVE (3.3.5.15.4: write, then read one message
 * into at most MaxOutputResponse bytes, STATUS_BUFFER_OVERFLOW when it does not fit) and
 * FSCTL_PIPE_PEEK (3.3.5.15.3: FILE_PIPE_PEEK_BUFFER, the first message's bytes, nothing
 * consumed; below 16 bytes of output STATUS_BUFFER_TOO_SMALL). Returns null for every other
 * control code, which `byShareType` then hands to the disk side (FSCTL_VALIDATE_NEGOTIATE_INFO
 * arrives on IPC$ too).
 */
export function pipeIoctl(c: SmbConnection, q: Request): Response | null {
  const req = decodeIoctlRequest(q.message, c.maxIo);
  if (req.ctlCode !== FSCTL_PIPE.TRANSCEIVE && req.ctlCode !== FSCTL_PIPE.PEEK) return null;
  if (req.flags !== IOCTL_IS_FSCTL) throw new SmbStatusError(STATUS.NOT_SUPPORTED);
  if (req.maxOutputResponse > c.maxIo || req.maxInputResponse > c.maxIo) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  const o = lookup(q, req.fileId);
  const fileId = req.fileId;
  const answer = (status: number, out: Buffer): Response => ({ status, body: (w) => { writeIoctlResponse(w, req.ctlCode, fileId, out); } });
  if (req.ctlCode === FSCTL_PIPE.PEEK) {
    if (req.maxOutputResponse < 16) throw new SmbStatusError(STATUS.BUFFER_TOO_SMALL);
    const first = o.queue[0] ?? Buffer.alloc(0);
    const data = first.subarray(0, req.maxOutputResponse - 16);
    const head = Buffer.alloc(16);
    head.writeUInt32LE(PIPE_CONNECTED, 0);
    head.writeUInt32LE(o.queued, 4);
    head.writeUInt32LE(o.queue.length, 8);
    head.writeUInt32LE(first.length, 12);
    return answer(data.length < first.length ? STATUS.BUFFER_OVERFLOW : STATUS.SUCCESS, Buffer.concat([head, data]));
  }
  if (o.queue.length) throw new SmbStatusError(STATUS.PIPE_BUSY);
  feed(o, req.input);
  if (o.queue.length === 0) throw new SmbStatusError(STATUS.PIPE_EMPTY);
  const [data, more] = takeMessage(o, req.maxOutputResponse);
  return answer(more ? STATUS.BUFFER_OVERFLOW : STATUS.SUCCESS, data);
}

/** QUERY_INFO (3.3.5.20) on a pipe: FileStandardInformation (MS-FSCC 2.4.41) only. */
export function pipeQueryInfo(_c: SmbConnection, q: Request): Response {
  const req = decodeQueryInfoRequest(q.message);
  const o = lookup(q, req.fileId);
  if (req.infoType !== INFO_FILE || req.infoClass !== FILE_STANDARD_INFORMATION) throw new SmbStatusError(STATUS.NOT_SUPPORTED);
  if (req.outputBufferLength < 24) throw new SmbStatusError(STATUS.INFO_LENGTH_MISMATCH);
  const out = Buffer.alloc(24);
  out.writeBigUInt64LE(PIPE_ALLOCATION, 0); // AllocationSize
  out.writeBigUInt64LE(BigInt(o.queued), 8); // EndOfFile: the bytes waiting to be read
  out.writeUInt32LE(1, 16); // NumberOfLinks; DeletePending, Directory 0
  return { status: STATUS.SUCCESS, body: (w) => { writeOutputBufferResponse(w, out); } };
}

/** The number of pipe opens on a tree (for tests and logs). */
export function pipeOpenCount(tree: TreeConnect): number {
  return opensByTree.get(tree)?.size ?? 0;
}
