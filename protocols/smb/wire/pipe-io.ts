/**
 * The request and response bodies a named-pipe open uses (MS-SMB2 2.2.13–2.2.22, 2.2.31,
 * 2.2.32, 2.2.37, 2.2.38): CREATE, CLOSE, FLUSH, READ, WRITE, IOCTL and QUERY_INFO — the fixed
 * fields and the one buffer each carries; CREATE contexts are not decoded here (a pipe ignores
 * them). Both directions, so the test client speaks them too. Decoders take the whole message
 * (header first: buffer offsets count from the header) and throw `WireError` on a wrong
 * StructureSize, a buffer outside the message or a buffer over its limit; encoders write the
 * body after a header the caller wrote at offset 0 of the message.
 */
import { SMB2_HEADER_SIZE } from './header.js';
import { Reader, WireError, Writer } from './reader.js';

/** SMB2_FILEID (2.2.14.1): Persistent ‖ Volatile, 16 bytes as sent. */
export type FileIdBytes = Buffer;
/** The FileId a related compound request uses for "the previous CREATE's open" (3.3.5.2.7.2). */
export const RELATED_FILE_ID = Buffer.alloc(16, 0xff);
/** Longest CREATE name accepted, in UTF-16 bytes (MS-FSCC 2.1.5: 32767 characters). */
export const MAX_CREATE_NAME_BYTES = 65534;

function body(msg: Buffer, size: number, what: string): Reader {
  const r = new Reader(msg).skip(SMB2_HEADER_SIZE, 'header');
  const s = r.u16('StructureSize');
  if (s !== size) throw new WireError(`${what} StructureSize ${s} (want ${size})`);
  return r;
}

/** The fields of a CREATE request (2.2.13) a pipe open looks at; contexts stay raw. */
export interface CreateRequest {
  oplockLevel: number;
  impersonationLevel: number;
  desiredAccess: number;
  fileAttributes: number;
  shareAccess: number;
  createDisposition: number;
  createOptions: number;
  /** The name relative to the share, as sent ('srvsvc'). */
  name: string;
  contexts: Buffer;
}

/** Decodes a CREATE request (2.2.13): StructureSize 57, name in UTF-16LE (even length), contexts kept raw. */
export function decodeCreateRequest(msg: Buffer): CreateRequest {
  const r = body(msg, 57, 'CREATE request');
  r.skip(1, 'SecurityFlags');
  const oplockLevel = r.u8();
  const impersonationLevel = r.u32();
  r.skip(16, 'SmbCreateFlags, Reserved');
  const desiredAccess = r.u32(), fileAttributes = r.u32(), shareAccess = r.u32(), createDisposition = r.u32(), createOptions = r.u32();
  const nameOffset = r.u16(), nameLength = r.u16(), ctxOffset = r.u32(), ctxLength = r.u32();
  if (nameLength % 2) throw new WireError('CREATE request: odd NameLength');
  const fixed = SMB2_HEADER_SIZE + 56;
  const name = r.at(nameOffset, nameLength, MAX_CREATE_NAME_BYTES, 'CREATE name', fixed);
  const contexts = r.at(ctxOffset, ctxLength, 65536, 'CREATE contexts', fixed);
  return { oplockLevel, impersonationLevel, desiredAccess, fileAttributes, shareAccess, createDisposition, createOptions, name: name.toString('utf16le'), contexts };
}

export function writeCreateRequest(w: Writer, q: Omit<CreateRequest, 'contexts'>): Writer {
  const name = Buffer.from(q.name, 'utf16le');
  w.u16(57).u8(0).u8(q.oplockLevel).u32(q.impersonationLevel).zeros(16)
    .u32(q.desiredAccess).u32(q.fileAttributes).u32(q.shareAccess).u32(q.createDisposition).u32(q.createOptions)
    .u16(SMB2_HEADER_SIZE + 56).u16(name.length).u32(0).u32(0);
  return w.bytes(name.length ? name : Buffer.alloc(1));
}

/** A CREATE response (2.2.14) without create contexts; times as FILETIME. */
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
  fileId: FileIdBytes;
}

export function writeCreateResponse(w: Writer, s: CreateResponse): Writer {
  return w.u16(89).u8(s.oplockLevel).u8(0).u32(s.createAction)
    .u64(s.creationTime).u64(s.lastAccessTime).u64(s.lastWriteTime).u64(s.changeTime)
    .u64(s.allocationSize).u64(s.endOfFile).u32(s.fileAttributes).u32(0).bytes(s.fileId).u32(0).u32(0).u8(0);
}

export function decodeCreateResponse(msg: Buffer): CreateResponse {
  const r = body(msg, 89, 'CREATE response');
  const oplockLevel = r.u8();
  r.skip(1);
  const createAction = r.u32();
  const [creationTime, lastAccessTime, lastWriteTime, changeTime, allocationSize, endOfFile] = [r.u64(), r.u64(), r.u64(), r.u64(), r.u64(), r.u64()];
  const fileAttributes = r.u32();
  r.skip(4);
  return { oplockLevel, createAction, creationTime, lastAccessTime, lastWriteTime, changeTime, allocationSize, endOfFile, fileAttributes, fileId: Buffer.from(r.bytes(16, 16)) };
}

/** CLOSE request (2.2.15): Flags (POSTQUERY_ATTRIB = 1) and the FileId. */
export function decodeCloseRequest(msg: Buffer): { flags: number; fileId: FileIdBytes } {
  const r = body(msg, 24, 'CLOSE request');
  const flags = r.u16();
  r.skip(4);
  return { flags, fileId: r.bytes(16, 16) };
}

export function writeCloseRequest(w: Writer, flags: number, fileId: FileIdBytes): Writer {
  return w.u16(24).u16(flags).u32(0).bytes(fileId);
}

/** CLOSE response (2.2.16): 60 bytes; the attribute fields are zero unless `attrs` is given. */
export function writeCloseResponse(w: Writer, attrs?: { flags: number; allocationSize: bigint; endOfFile: bigint; fileAttributes: number }): Writer {
  w.u16(60).u16(attrs?.flags ?? 0).u32(0).zeros(32);
  return w.u64(attrs?.allocationSize ?? 0n).u64(attrs?.endOfFile ?? 0n).u32(attrs?.fileAttributes ?? 0);
}

/** FLUSH request (2.2.17): the FileId. */
export function decodeFlushRequest(msg: Buffer): { fileId: FileIdBytes } {
  const r = body(msg, 24, 'FLUSH request');
  r.skip(6);
  return { fileId: r.bytes(16, 16) };
}

export function writeFlushRequest(w: Writer, fileId: FileIdBytes): Writer {
  return w.u16(24).u16(0).u32(0).bytes(fileId);
}

/** FLUSH response (2.2.18). */
export function writeFlushResponse(w: Writer): Writer {
  return w.u16(4).u16(0);
}

/** READ request (2.2.19). */
export interface ReadRequest {
  flags: number;
  length: number;
  offset: bigint;
  fileId: FileIdBytes;
  minimumCount: number;
  channel: number;
}

export function decodeReadRequest(msg: Buffer): ReadRequest {
  const r = body(msg, 49, 'READ request');
  r.skip(1, 'Padding');
  const flags = r.u8(), length = r.u32(), offset = r.u64();
  const fileId = r.bytes(16, 16);
  const minimumCount = r.u32(), channel = r.u32();
  return { flags, length, offset, fileId, minimumCount, channel };
}

export function writeReadRequest(w: Writer, q: Pick<ReadRequest, 'length' | 'fileId'> & Partial<ReadRequest>): Writer {
  return w.u16(49).u8(0).u8(q.flags ?? 0).u32(q.length).u64(q.offset ?? 0n).bytes(q.fileId)
    .u32(q.minimumCount ?? 0).u32(q.channel ?? 0).u32(0).u16(0).u16(0).u8(0);
}

/** READ response (2.2.20): the data right after the 16-byte fixed part (DataOffset 0x50). */
export function writeReadResponse(w: Writer, data: Buffer, remaining = 0): Writer {
  w.u16(17).u8(SMB2_HEADER_SIZE + 16).u8(0).u32(data.length).u32(remaining).u32(0);
  return w.bytes(data.length ? data : Buffer.alloc(1));
}

export function decodeReadResponse(msg: Buffer): { data: Buffer; remaining: number } {
  const r = body(msg, 17, 'READ response');
  const off = r.u8();
  r.skip(1);
  const len = r.u32(), remaining = r.u32();
  return { data: r.at(off, len, 1 << 24, 'READ data', SMB2_HEADER_SIZE + 16), remaining };
}

/** WRITE request (2.2.21). */
export interface WriteRequest {
  offset: bigint;
  fileId: FileIdBytes;
  channel: number;
  flags: number;
  data: Buffer;
}

/** Decodes a WRITE request; `maxData` bounds Length (the connection's MaxWriteSize). */
export function decodeWriteRequest(msg: Buffer, maxData: number): WriteRequest {
  const r = body(msg, 49, 'WRITE request');
  const dataOffset = r.u16(), length = r.u32(), offset = r.u64();
  const fileId = r.bytes(16, 16);
  const channel = r.u32();
  r.skip(8, 'RemainingBytes, WriteChannelInfo');
  const flags = r.u32();
  return { offset, fileId, channel, flags, data: r.at(dataOffset, length, maxData, 'WRITE data', SMB2_HEADER_SIZE + 48) };
}

export function writeWriteRequest(w: Writer, fileId: FileIdBytes, data: Buffer, offset = 0n): Writer {
  w.u16(49).u16(SMB2_HEADER_SIZE + 48).u32(data.length).u64(offset).bytes(fileId).u32(0).u32(0).u16(0).u16(0).u32(0);
  return w.bytes(data.length ? data : Buffer.alloc(1));
}

/** WRITE response (2.2.22): Count written. */
export function writeWriteResponse(w: Writer, count: number): Writer {
  return w.u16(17).u16(0).u32(count).u32(0).u16(0).u16(0);
}

export function decodeWriteResponse(msg: Buffer): { count: number } {
  const r = body(msg, 17, 'WRITE response');
  r.skip(2);
  return { count: r.u32() };
}

/** SMB2_0_IOCTL_IS_FSCTL (2.2.31 Flags). */
export const IOCTL_IS_FSCTL = 0x00000001;

/** IOCTL request (2.2.31). */
export interface IoctlRequest {
  ctlCode: number;
  fileId: FileIdBytes;
  input: Buffer;
  maxInputResponse: number;
  maxOutputResponse: number;
  flags: number;
}

/** Decodes an IOCTL request; `maxInput` bounds InputCount (MaxTransactSize). The output buffer of the request is ignored. */
export function decodeIoctlRequest(msg: Buffer, maxInput: number): IoctlRequest {
  const r = body(msg, 57, 'IOCTL request');
  r.skip(2);
  const ctlCode = r.u32();
  const fileId = r.bytes(16, 16);
  const inOff = r.u32(), inCount = r.u32(), maxInputResponse = r.u32();
  r.skip(8, 'OutputOffset, OutputCount');
  const maxOutputResponse = r.u32(), flags = r.u32();
  const input = r.at(inOff, inCount, maxInput, 'IOCTL input', SMB2_HEADER_SIZE + 56);
  return { ctlCode, fileId, input, maxInputResponse, maxOutputResponse, flags };
}

export function writeIoctlRequest(w: Writer, q: Pick<IoctlRequest, 'ctlCode' | 'fileId' | 'input' | 'maxOutputResponse'> & Partial<IoctlRequest>): Writer {
  const off = SMB2_HEADER_SIZE + 56;
  w.u16(57).u16(0).u32(q.ctlCode).bytes(q.fileId).u32(q.input.length ? off : 0).u32(q.input.length).u32(q.maxInputResponse ?? 0)
    .u32(0).u32(0).u32(q.maxOutputResponse).u32(q.flags ?? IOCTL_IS_FSCTL).u32(0);
  return w.bytes(q.input.length ? q.input : Buffer.alloc(1));
}

/** IOCTL response (2.2.32): no input echoed, the output right after the 48-byte fixed part (0x70). */
export function writeIoctlResponse(w: Writer, ctlCode: number, fileId: FileIdBytes, output: Buffer): Writer {
  const off = SMB2_HEADER_SIZE + 48;
  w.u16(49).u16(0).u32(ctlCode).bytes(fileId).u32(off).u32(0).u32(off).u32(output.length).u32(0).u32(0);
  return w.bytes(output);
}

export function decodeIoctlResponse(msg: Buffer): { ctlCode: number; fileId: Buffer; output: Buffer } {
  const r = body(msg, 49, 'IOCTL response');
  r.skip(2);
  const ctlCode = r.u32();
  const fileId = Buffer.from(r.bytes(16, 16));
  r.skip(8, 'InputOffset, InputCount');
  const outOff = r.u32(), outCount = r.u32();
  return { ctlCode, fileId, output: r.at(outOff, outCount, 1 << 24, 'IOCTL output', SMB2_HEADER_SIZE + 48) };
}

/** QUERY_INFO request (2.2.37), input buffer ignored. */
export interface QueryInfoRequest {
  infoType: number;
  fileInfoClass: number;
  outputBufferLength: number;
  additionalInformation: number;
  flags: number;
  fileId: FileIdBytes;
}

export function decodeQueryInfoRequest(msg: Buffer): QueryInfoRequest {
  const r = body(msg, 41, 'QUERY_INFO request');
  const infoType = r.u8(), fileInfoClass = r.u8(), outputBufferLength = r.u32();
  r.skip(8, 'InputBufferOffset, Reserved, InputBufferLength');
  const additionalInformation = r.u32(), flags = r.u32();
  return { infoType, fileInfoClass, outputBufferLength, additionalInformation, flags, fileId: r.bytes(16, 16) };
}

export function writeQueryInfoRequest(w: Writer, q: Pick<QueryInfoRequest, 'infoType' | 'fileInfoClass' | 'outputBufferLength' | 'fileId'>): Writer {
  return w.u16(41).u8(q.infoType).u8(q.fileInfoClass).u32(q.outputBufferLength).u16(0).u16(0).u32(0).u32(0).u32(0).bytes(q.fileId).u8(0);
}

/** QUERY_INFO response (2.2.38): the buffer after the 8-byte fixed part (0x48). */
export function writeQueryInfoResponse(w: Writer, out: Buffer): Writer {
  w.u16(9).u16(SMB2_HEADER_SIZE + 8).u32(out.length);
  return w.bytes(out.length ? out : Buffer.alloc(1));
}

export function decodeQueryInfoResponse(msg: Buffer): Buffer {
  const r = body(msg, 9, 'QUERY_INFO response');
  const off = r.u16(), len = r.u32();
  return r.at(off, len, 1 << 24, 'QUERY_INFO output', SMB2_HEADER_SIZE + 8);
}
