/**
 * Codecs of the SMB2 file commands (MS-SMB2 2.2.13–2.2.40): CREATE with its create contexts,
 * CLOSE, FLUSH, READ, WRITE, QUERY_DIRECTORY, QUERY_INFO, SET_INFO and IOCTL (with
 * FSCTL_VALIDATE_NEGOTIATE_INFO, 2.2.31.4 / 2.2.32.6). Decoders take the whole message (header
 * first; offsets count from the header's first byte) and throw only `WireError`; the request
 * writers are the client's side, used by the tests and fuzzers. Information-class payloads are
 * `fscc.ts`'s business: these codecs only cut them out and wrap them. Disk shares (create.ts,
 * io.ts, dir.ts, info.ts, ioctl.ts) and named pipes on IPC$ (pipe.ts) use the same codecs;
 * limits that differ per caller (WRITE data, IOCTL input) are the caller's argument.
 */
import { SMB2_HEADER_SIZE } from './header.js';
import { Reader, WireError, Writer } from './reader.js';

/** An SMB2 FileId (2.2.14.1): Persistent and Volatile halves. */
export interface FileId {
  persistent: bigint;
  volatile: bigint;
}

/** The FileId of a related compound request that means "the previous CREATE's" (3.3.5.2.7.2). */
export const ALL_ONES_FILE_ID: FileId = { persistent: 0xffffffffffffffffn, volatile: 0xffffffffffffffffn };

/** Largest name or path the server accepts in a CREATE (32767 UTF-16 units, MS-FSCC 2.1.5). */
export const MAX_PATH_BYTES = 65534;
/** Largest create-context chain, SET_INFO buffer and IOCTL input read (bytes). */
export const MAX_AUX_BYTES = 1 << 20;

function body(msg: Buffer, size: number, what: string): Reader {
  const r = new Reader(msg, 0, msg.length, 0).skip(SMB2_HEADER_SIZE, 'header');
  const s = r.u16(`${what} StructureSize`);
  if (s !== size) throw new WireError(`${what}: StructureSize ${s}, expected ${size}`);
  return r;
}

/** A FileId as a map key (`persistent:volatile` in hex). */
export function fileIdKey(f: FileId): string {
  return `${f.persistent.toString(16)}:${f.volatile.toString(16)}`;
}

function readFileId(r: Reader): FileId {
  return { persistent: r.u64('FileId.Persistent'), volatile: r.u64('FileId.Volatile') };
}

function writeFileId(w: Writer, f: FileId): Writer {
  return w.u64(f.persistent).u64(f.volatile);
}

// ---------------------------------------------------------------------------------------------
// CREATE (2.2.13, 2.2.14)

/** CreateDisposition (2.2.13). */
export const DISPOSITION = { SUPERSEDE: 0, OPEN: 1, CREATE: 2, OPEN_IF: 3, OVERWRITE: 4, OVERWRITE_IF: 5 } as const;
/** CreateOptions bits (2.2.13) the server looks at. */
export const CREATE_OPTION = {
  DIRECTORY_FILE: 0x1, WRITE_THROUGH: 0x2, SEQUENTIAL_ONLY: 0x4, NON_DIRECTORY_FILE: 0x40, DELETE_ON_CLOSE: 0x1000,
  OPEN_BY_FILE_ID: 0x2000, OPEN_REPARSE_POINT: 0x200000,
} as const;
/** CreateAction (2.2.14). */
export const CREATE_ACTION = { SUPERSEDED: 0, OPENED: 1, CREATED: 2, OVERWRITTEN: 3 } as const;
/** ShareAccess (2.2.13). */
export const SHARE_ACCESS = { READ: 1, WRITE: 2, DELETE: 4 } as const;

/** One create context (2.2.13.2): a 4-byte-or-longer ASCII name ("MxAc", "QFid", …) and its data. */
export interface CreateContext {
  name: string;
  data: Buffer;
}

export interface CreateRequest {
  oplockLevel: number;
  impersonationLevel: number;
  desiredAccess: number;
  fileAttributes: number;
  shareAccess: number;
  disposition: number;
  options: number;
  /** As sent: backslashes, no decoding of '.'/'..' (the server's part). */
  name: string;
  contexts: CreateContext[];
}

/** Reads a create-context chain (2.2.13.2): 8-byte aligned entries, NameOffset/DataOffset from each entry's start. */
export function decodeCreateContexts(b: Buffer): CreateContext[] {
  const out: CreateContext[] = [];
  let pos = 0;
  for (;;) {
    if (out.length >= 64) throw new WireError('too many create contexts');
    if (b.length - pos < 16) throw new WireError('truncated create context');
    const r = new Reader(b, pos, b.length, pos);
    const next = r.u32('Next'), nameOff = r.u16('NameOffset'), nameLen = r.u16('NameLength');
    r.skip(2);
    const dataOff = r.u16('DataOffset'), dataLen = r.u32('DataLength');
    const end = next === 0 ? b.length : pos + next;
    if (next !== 0 && (next % 8 !== 0 || end > b.length || next < 16)) throw new WireError('create context Next out of range');
    const er = new Reader(b, pos, end, pos);
    const nameBytes = er.at(nameOff, nameLen, 256, 'create context name', 16);
    if (nameLen === 0) throw new WireError('create context without a name');
    const data = dataLen === 0 ? Buffer.alloc(0) : er.at(dataOff, dataLen, MAX_AUX_BYTES, 'create context data', 16);
    out.push({ name: nameBytes.toString('latin1'), data });
    if (next === 0) return out;
    pos = end;
  }
}

/** Writes a create-context chain (both directions share the layout). */
export function encodeCreateContexts(cs: readonly CreateContext[]): Buffer {
  const w = new Writer();
  cs.forEach((c, i) => {
    const start = w.length;
    const name = Buffer.from(c.name, 'latin1');
    const dataOff = c.data.length ? (16 + name.length + 7) & ~7 : 0;
    const len = dataOff ? dataOff + c.data.length : 16 + name.length;
    const next = i === cs.length - 1 ? 0 : (len + 7) & ~7;
    w.u32(next).u16(16).u16(name.length).u16(0).u16(dataOff).u32(c.data.length).bytes(name);
    if (dataOff) w.zeros(dataOff - 16 - name.length).bytes(c.data);
    if (next) w.zeros(start + next - w.length);
  });
  return w.finish();
}

/**
 * CREATE request (2.2.13), StructureSize 57. A CreateDisposition above OVERWRITE_IF is a
 * WireError unless `anyDisposition` (a durable reconnect ignores every field but its context,
 * MS-SMB2 3.3.5.9.7/3.3.5.9.12: the caller checks it otherwise).
 */
export function decodeCreateRequest(msg: Buffer, anyDisposition = false): CreateRequest {
  const r = body(msg, 57, 'CREATE request');
  r.skip(1, 'SecurityFlags');
  const oplockLevel = r.u8(), impersonationLevel = r.u32();
  r.skip(16, 'SmbCreateFlags/Reserved');
  const desiredAccess = r.u32(), fileAttributes = r.u32(), shareAccess = r.u32(), disposition = r.u32(), options = r.u32();
  const nameOff = r.u16('NameOffset'), nameLen = r.u16('NameLength');
  const ctxOff = r.u32('CreateContextsOffset'), ctxLen = r.u32('CreateContextsLength');
  if (nameLen % 2) throw new WireError('CREATE name length is odd');
  const nameBytes = r.at(nameOff, nameLen, MAX_PATH_BYTES, 'CREATE name', SMB2_HEADER_SIZE + 56);
  const name = new Reader(nameBytes).utf16(nameBytes.length, MAX_PATH_BYTES, 'CREATE name');
  const contexts = ctxLen ? decodeCreateContexts(r.at(ctxOff, ctxLen, MAX_AUX_BYTES, 'create contexts', SMB2_HEADER_SIZE + 56)) : [];
  if (disposition > DISPOSITION.OVERWRITE_IF && !anyDisposition) throw new WireError(`CREATE disposition ${disposition}`);
  return { oplockLevel, impersonationLevel, desiredAccess, fileAttributes, shareAccess, disposition, options, name, contexts };
}

export function writeCreateRequest(w: Writer, q: Partial<CreateRequest> & { name: string; desiredAccess: number; disposition: number }, hdrStart = 0): Writer {
  const name = Buffer.from(q.name, 'utf16le');
  const ctx = encodeCreateContexts(q.contexts ?? []);
  const nameOff = w.length - hdrStart + 56;
  const ctxOff = ctx.length ? (nameOff + name.length + 7) & ~7 : 0;
  w.u16(57).u8(0).u8(q.oplockLevel ?? 0).u32(q.impersonationLevel ?? 2).zeros(16)
    .u32(q.desiredAccess).u32(q.fileAttributes ?? 0).u32(q.shareAccess ?? 7).u32(q.disposition).u32(q.options ?? 0)
    .u16(nameOff).u16(name.length).u32(ctxOff).u32(ctx.length);
  w.bytes(name.length ? name : Buffer.alloc(1));
  if (ctx.length) w.zeros(ctxOff + hdrStart - w.length).bytes(ctx);
  return w;
}

/** The fields of a CREATE response (2.2.14) besides the FileId. */
export interface CreateResponse {
  oplockLevel: number;
  createAction: number;
  creationTime: bigint;
  lastAccessTime: bigint;
  lastWriteTime: bigint;
  changeTime: bigint;
  allocationSize: bigint;
  endOfFile: bigint;
  fileAttributes: number;
  fileId: FileId;
  contexts: CreateContext[];
}

/** CREATE response, StructureSize 89; contexts 8-byte aligned after the 88-byte fixed part. */
export function writeCreateResponse(w: Writer, a: CreateResponse): Writer {
  const ctx = encodeCreateContexts(a.contexts);
  w.u16(89).u8(a.oplockLevel).u8(0).u32(a.createAction)
    .u64(a.creationTime).u64(a.lastAccessTime).u64(a.lastWriteTime).u64(a.changeTime)
    .u64(a.allocationSize).u64(a.endOfFile).u32(a.fileAttributes).u32(0);
  writeFileId(w, a.fileId).u32(ctx.length ? SMB2_HEADER_SIZE + 88 : 0).u32(ctx.length);
  return ctx.length ? w.bytes(ctx) : w.u8(0);
}

export function decodeCreateResponse(msg: Buffer): CreateResponse {
  const r = body(msg, 89, 'CREATE response');
  const oplockLevel = r.u8();
  r.skip(1);
  const createAction = r.u32();
  const [creationTime, lastAccessTime, lastWriteTime, changeTime, allocationSize, endOfFile] = [r.u64(), r.u64(), r.u64(), r.u64(), r.u64(), r.u64()];
  const fileAttributes = r.u32();
  r.skip(4);
  const fileId = readFileId(r);
  const off = r.u32(), len = r.u32();
  const contexts = len ? decodeCreateContexts(r.at(off, len, MAX_AUX_BYTES, 'create contexts')) : [];
  return { oplockLevel, createAction, creationTime, lastAccessTime, lastWriteTime, changeTime, allocationSize, endOfFile, fileAttributes, fileId, contexts };
}

// ---------------------------------------------------------------------------------------------
// CLOSE (2.2.15, 2.2.16), FLUSH (2.2.17, 2.2.18)

export const CLOSE_FLAG_POSTQUERY_ATTRIB = 0x0001;

export function decodeCloseRequest(msg: Buffer): { flags: number; fileId: FileId } {
  const r = body(msg, 24, 'CLOSE request');
  const flags = r.u16();
  r.skip(4);
  return { flags, fileId: readFileId(r) };
}

export function writeCloseRequest(w: Writer, flags: number, f: FileId): Writer {
  return writeFileId(w.u16(24).u16(flags).u32(0), f);
}

/** CLOSE response: with POSTQUERY_ATTRIB the attributes, else zeros (`a` undefined). */
export interface CloseAttributes {
  creationTime: bigint;
  lastAccessTime: bigint;
  lastWriteTime: bigint;
  changeTime: bigint;
  allocationSize: bigint;
  endOfFile: bigint;
  fileAttributes: number;
}

export function writeCloseResponse(w: Writer, a: CloseAttributes | undefined): Writer {
  w.u16(60).u16(a ? CLOSE_FLAG_POSTQUERY_ATTRIB : 0).u32(0);
  if (!a) return w.zeros(52);
  return w.u64(a.creationTime).u64(a.lastAccessTime).u64(a.lastWriteTime).u64(a.changeTime).u64(a.allocationSize).u64(a.endOfFile).u32(a.fileAttributes);
}

export function decodeCloseResponse(msg: Buffer): { flags: number } & CloseAttributes {
  const r = body(msg, 60, 'CLOSE response');
  const flags = r.u16();
  r.skip(4);
  return {
    flags, creationTime: r.u64(), lastAccessTime: r.u64(), lastWriteTime: r.u64(), changeTime: r.u64(),
    allocationSize: r.u64(), endOfFile: r.u64(), fileAttributes: r.u32(),
  };
}

export function decodeFlushRequest(msg: Buffer): { fileId: FileId } {
  const r = body(msg, 24, 'FLUSH request');
  r.skip(6);
  return { fileId: readFileId(r) };
}

export function writeFlushRequest(w: Writer, f: FileId): Writer {
  return writeFileId(w.u16(24).zeros(6), f);
}

/** FLUSH response (2.2.18): StructureSize 4, Reserved. */
export function writeFlushResponse(w: Writer): Writer {
  return w.u16(4).u16(0);
}

// ---------------------------------------------------------------------------------------------
// READ (2.2.19, 2.2.20), WRITE (2.2.21, 2.2.22)

export interface ReadRequest {
  flags: number;
  length: number;
  offset: bigint;
  fileId: FileId;
  minimumCount: number;
  /** Channel (2.2.19): SMB2_CHANNEL_NONE (0) unless RDMA. */
  channel: number;
}

export function decodeReadRequest(msg: Buffer): ReadRequest {
  const r = body(msg, 49, 'READ request');
  r.skip(1, 'Padding');
  const flags = r.u8(), length = r.u32(), offset = r.u64(), fileId = readFileId(r), minimumCount = r.u32(), channel = r.u32();
  return { flags, length, offset, fileId, minimumCount, channel };
}

export function writeReadRequest(w: Writer, q: { length: number; offset: bigint; fileId: FileId; minimumCount?: number }): Writer {
  w.u16(49).u8(0x50).u8(0).u32(q.length).u64(q.offset);
  return writeFileId(w, q.fileId).u32(q.minimumCount ?? 0).u32(0).u32(0).u16(0).u16(0).u8(0);
}

/** READ response: the data right after the 16-byte fixed part (DataOffset 80); DataRemaining `remaining`. */
export function writeReadResponse(w: Writer, data: Uint8Array, remaining = 0): Writer {
  readResponseFixed(w, data.length, remaining);
  return data.length ? w.bytes(data) : w.u8(0);
}

/** The READ response's fixed part (2.2.20): StructureSize 17, DataOffset, DataLength, DataRemaining. */
function readResponseFixed(w: Writer, n: number, remaining: number): void {
  w.u16(17).u8(READ_DATA_OFFSET).u8(0).u32(n).u32(remaining).u32(0);
}

/** Where a READ response's data starts (DataOffset: the SMB2 header and the 16-byte fixed part). */
export const READ_DATA_OFFSET = SMB2_HEADER_SIZE + 16;

/**
 * writeReadResponse for `n` (> 0) bytes of data already placed at READ_DATA_OFFSET of `buf` (a
 * takeReplyBuffer of at least READ_DATA_OFFSET + n bytes): the writer, holding just the SMB2
 * header, goes on in `buf` (Writer.adopt). Throws RangeError unless the writer is at the data's
 * offset after the fixed part.
 */
export function writeReadResponseIn(w: Writer, buf: Buffer, n: number, remaining = 0): Writer {
  readResponseFixed(w, n, remaining);
  if (w.length !== READ_DATA_OFFSET) throw new RangeError(`READ data at ${w.length}, not ${READ_DATA_OFFSET}`);
  return w.adopt(buf, n);
}

export function decodeReadResponse(msg: Buffer): Buffer {
  const r = body(msg, 17, 'READ response');
  const off = r.u8();
  r.skip(1);
  const len = r.u32();
  return r.at(off, len, 1 << 24, 'READ data', SMB2_HEADER_SIZE + 16);
}

export interface WriteRequest {
  offset: bigint;
  fileId: FileId;
  /** Channel (2.2.21): SMB2_CHANNEL_NONE (0) unless RDMA. */
  channel: number;
  flags: number;
  data: Buffer;
}

/** WRITE_FLAG (2.2.21). */
export const WRITE_FLAG = { WRITE_THROUGH: 0x1, WRITE_UNBUFFERED: 0x2 } as const;

/** WRITE request (2.2.21); `maxLength` bounds Length (the connection's MaxWriteSize). */
export function decodeWriteRequest(msg: Buffer, maxLength: number): WriteRequest {
  const r = body(msg, 49, 'WRITE request');
  const dataOff = r.u16('DataOffset'), length = r.u32('Length'), offset = r.u64(), fileId = readFileId(r), channel = r.u32('Channel');
  r.skip(8, 'RemainingBytes/WriteChannelInfo');
  const flags = r.u32();
  const data = r.at(dataOff, length, maxLength, 'WRITE data', SMB2_HEADER_SIZE + 48);
  return { offset, fileId, channel, flags, data };
}

export function writeWriteRequest(w: Writer, q: { offset: bigint; fileId: FileId; data: Uint8Array; flags?: number }, hdrStart = 0): Writer {
  w.u16(49).u16(w.length - hdrStart + 46).u32(q.data.length).u64(q.offset);
  return writeFileId(w, q.fileId).u32(0).u32(0).u16(0).u16(0).u32(q.flags ?? 0).bytes(q.data.length ? q.data : Buffer.alloc(1));
}

/** WRITE response (2.2.22): StructureSize 17, Count. */
export function writeWriteResponse(w: Writer, count: number): Writer {
  return w.u16(17).u16(0).u32(count).u32(0).u16(0).u16(0);
}

export function decodeWriteResponse(msg: Buffer): number {
  const r = body(msg, 17, 'WRITE response');
  r.skip(2);
  return r.u32();
}

// ---------------------------------------------------------------------------------------------
// QUERY_DIRECTORY (2.2.33, 2.2.34)

/** QUERY_DIRECTORY Flags (2.2.33). */
export const QUERY_DIRECTORY_FLAG = { RESTART_SCANS: 0x01, RETURN_SINGLE_ENTRY: 0x02, INDEX_SPECIFIED: 0x04, REOPEN: 0x10 } as const;

export interface QueryDirectoryRequest {
  infoClass: number;
  flags: number;
  fileIndex: number;
  fileId: FileId;
  /** The search pattern; '' when absent. */
  pattern: string;
  outputBufferLength: number;
}

export function decodeQueryDirectoryRequest(msg: Buffer): QueryDirectoryRequest {
  const r = body(msg, 33, 'QUERY_DIRECTORY request');
  const infoClass = r.u8(), flags = r.u8(), fileIndex = r.u32(), fileId = readFileId(r);
  const off = r.u16(), len = r.u16(), outputBufferLength = r.u32();
  if (len % 2) throw new WireError('QUERY_DIRECTORY pattern length is odd');
  const b = r.at(off, len, MAX_PATH_BYTES, 'QUERY_DIRECTORY pattern', SMB2_HEADER_SIZE + 32);
  return { infoClass, flags, fileIndex, fileId, pattern: new Reader(b).utf16(b.length, MAX_PATH_BYTES, 'pattern'), outputBufferLength };
}

export function writeQueryDirectoryRequest(w: Writer, q: Omit<QueryDirectoryRequest, 'fileIndex'> & { fileIndex?: number }, hdrStart = 0): Writer {
  const p = Buffer.from(q.pattern, 'utf16le');
  w.u16(33).u8(q.infoClass).u8(q.flags).u32(q.fileIndex ?? 0);
  return writeFileId(w, q.fileId).u16(p.length ? w.length - hdrStart + 8 : 0).u16(p.length).u32(q.outputBufferLength).bytes(p.length ? p : Buffer.alloc(1));
}

/** QUERY_DIRECTORY and QUERY_INFO responses share one layout (2.2.34, 2.2.38): StructureSize 9, offset, length, buffer at 72. */
export function writeOutputBufferResponse(w: Writer, out: Uint8Array): Writer {
  w.u16(9).u16(out.length ? SMB2_HEADER_SIZE + 8 : 0).u32(out.length);
  return out.length ? w.bytes(out) : w.u8(0);
}

export function decodeOutputBufferResponse(msg: Buffer): Buffer {
  const r = body(msg, 9, 'QUERY_DIRECTORY/QUERY_INFO response');
  const off = r.u16(), len = r.u32();
  return r.at(off, len, 1 << 24, 'OutputBuffer', SMB2_HEADER_SIZE + 8);
}

// ---------------------------------------------------------------------------------------------
// QUERY_INFO (2.2.37), SET_INFO (2.2.39, 2.2.40)

export interface QueryInfoRequest {
  infoType: number;
  infoClass: number;
  outputBufferLength: number;
  input: Buffer;
  additionalInformation: number;
  flags: number;
  fileId: FileId;
}

export function decodeQueryInfoRequest(msg: Buffer): QueryInfoRequest {
  const r = body(msg, 41, 'QUERY_INFO request');
  const infoType = r.u8(), infoClass = r.u8(), outputBufferLength = r.u32(), inOff = r.u16();
  r.skip(2);
  const inLen = r.u32(), additionalInformation = r.u32(), flags = r.u32(), fileId = readFileId(r);
  const input = r.at(inOff, inLen, MAX_AUX_BYTES, 'QUERY_INFO input', SMB2_HEADER_SIZE + 40);
  return { infoType, infoClass, outputBufferLength, input, additionalInformation, flags, fileId };
}

export function writeQueryInfoRequest(w: Writer, q: Omit<QueryInfoRequest, 'input' | 'flags' | 'additionalInformation'> & { additionalInformation?: number }): Writer {
  w.u16(41).u8(q.infoType).u8(q.infoClass).u32(q.outputBufferLength).u16(0).u16(0).u32(0).u32(q.additionalInformation ?? 0).u32(0);
  return writeFileId(w, q.fileId).u8(0);
}

export interface SetInfoRequest {
  infoType: number;
  infoClass: number;
  buffer: Buffer;
  additionalInformation: number;
  fileId: FileId;
}

export function decodeSetInfoRequest(msg: Buffer): SetInfoRequest {
  const r = body(msg, 33, 'SET_INFO request');
  const infoType = r.u8(), infoClass = r.u8(), len = r.u32(), off = r.u16();
  r.skip(2);
  const additionalInformation = r.u32(), fileId = readFileId(r);
  const buffer = r.at(off, len, MAX_AUX_BYTES, 'SET_INFO buffer', SMB2_HEADER_SIZE + 32);
  return { infoType, infoClass, buffer, additionalInformation, fileId };
}

export function writeSetInfoRequest(w: Writer, q: SetInfoRequest, hdrStart = 0): Writer {
  w.u16(33).u8(q.infoType).u8(q.infoClass).u32(q.buffer.length).u16(w.length - hdrStart + 24).u16(0).u32(q.additionalInformation);
  return writeFileId(w, q.fileId).bytes(q.buffer.length ? q.buffer : Buffer.alloc(1));
}

/** SET_INFO response (2.2.40): StructureSize 2. */
export function writeSetInfoResponse(w: Writer): Writer {
  return w.u16(2);
}

// ---------------------------------------------------------------------------------------------
// IOCTL (2.2.31, 2.2.32)

export const FSCTL = { VALIDATE_NEGOTIATE_INFO: 0x00140204, PIPE_TRANSCEIVE: 0x0011c017 } as const;
export const IOCTL_IS_FSCTL = 0x00000001;

export interface IoctlRequest {
  ctlCode: number;
  fileId: FileId;
  input: Buffer;
  maxInputResponse: number;
  maxOutputResponse: number;
  flags: number;
}

/** IOCTL request (2.2.31); `maxInput` bounds InputCount (pipes pass MaxTransactSize). The request's output buffer is ignored. */
export function decodeIoctlRequest(msg: Buffer, maxInput = MAX_AUX_BYTES): IoctlRequest {
  const r = body(msg, 57, 'IOCTL request');
  r.skip(2);
  const ctlCode = r.u32(), fileId = readFileId(r), inOff = r.u32(), inLen = r.u32(), maxInputResponse = r.u32();
  r.skip(8, 'OutputOffset/OutputCount');
  const maxOutputResponse = r.u32(), flags = r.u32();
  const input = r.at(inOff, inLen, maxInput, 'IOCTL input', SMB2_HEADER_SIZE + 56);
  return { ctlCode, fileId, input, maxInputResponse, maxOutputResponse, flags };
}

export function writeIoctlRequest(w: Writer, q: Omit<IoctlRequest, 'maxInputResponse'> & { maxInputResponse?: number }, hdrStart = 0): Writer {
  const inOff = w.length - hdrStart + 56;
  w.u16(57).u16(0).u32(q.ctlCode);
  return writeFileId(w, q.fileId).u32(q.input.length ? inOff : 0).u32(q.input.length).u32(q.maxInputResponse ?? 0).u32(0).u32(0).u32(q.maxOutputResponse).u32(q.flags).u32(0)
    .bytes(q.input.length ? q.input : Buffer.alloc(1));
}

/** IOCTL response: no input echoed, the output right after the 48-byte fixed part. */
export function writeIoctlResponse(w: Writer, ctlCode: number, fileId: FileId, output: Uint8Array): Writer {
  w.u16(49).u16(0).u32(ctlCode);
  writeFileId(w, fileId).u32(SMB2_HEADER_SIZE + 48).u32(0).u32(SMB2_HEADER_SIZE + 48).u32(output.length).u32(0).u32(0);
  return output.length ? w.bytes(output) : w;
}

export function decodeIoctlResponse(msg: Buffer): { ctlCode: number; fileId: FileId; output: Buffer } {
  const r = body(msg, 49, 'IOCTL response');
  r.skip(2);
  const ctlCode = r.u32();
  const fileId = readFileId(r);
  r.skip(8, 'InputOffset/InputCount');
  const off = r.u32(), len = r.u32();
  return { ctlCode, fileId, output: r.at(off, len, 1 << 24, 'IOCTL output', SMB2_HEADER_SIZE + 48) };
}

/** VALIDATE_NEGOTIATE_INFO request (2.2.31.4). */
export interface ValidateNegotiateInfo {
  capabilities: number;
  guid: Buffer;
  securityMode: number;
  dialects: number[];
}

export function decodeValidateNegotiateInfo(b: Buffer): ValidateNegotiateInfo {
  const r = new Reader(b);
  const capabilities = r.u32(), guid = Buffer.from(r.bytes(16, 16, 'Guid')), securityMode = r.u16(), count = r.u16();
  if (count === 0 || count > 64) throw new WireError(`VALIDATE_NEGOTIATE_INFO: ${count} dialects`);
  const dialects: number[] = [];
  for (let i = 0; i < count; i++) dialects.push(r.u16('Dialect'));
  return { capabilities, guid, securityMode, dialects };
}

export function encodeValidateNegotiateInfo(v: ValidateNegotiateInfo): Buffer {
  const w = new Writer().u32(v.capabilities).bytes(v.guid).u16(v.securityMode).u16(v.dialects.length);
  for (const d of v.dialects) w.u16(d);
  return w.finish();
}

/** VALIDATE_NEGOTIATE_INFO response (2.2.32.6): Capabilities, Guid, SecurityMode, Dialect — 24 bytes. */
export function encodeValidateNegotiateResponse(v: { capabilities: number; guid: Buffer; securityMode: number; dialect: number }): Buffer {
  return new Writer(24).u32(v.capabilities).bytes(v.guid).u16(v.securityMode).u16(v.dialect).finish();
}
