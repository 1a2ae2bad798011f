/**
 * The SMB2 ERROR response body (MS-SMB2 2.2.2): StructureSize 9, ErrorContextCount, Reserved,
 * ByteCount, ErrorData. Sent, after a header carrying the NTSTATUS, for every failed request
 * whose command has no error-specific body.
 */
import { SMB2_HEADER_SIZE } from './header.js';
import { Reader, WireError, Writer } from './reader.js';

export interface ErrorResponse {
  errorContextCount: number;
  /** ErrorData; empty here (the one byte the StructureSize counts is written as zero). */
  errorData: Buffer;
}

/** Writes an ERROR body; with no ErrorData, ByteCount 0 and a single zero byte (2.2.2). */
export function writeErrorResponse(w: Writer, e: ErrorResponse = { errorContextCount: 0, errorData: Buffer.alloc(0) }): Writer {
  w.u16(9).u8(e.errorContextCount).u8(0).u32(e.errorData.length);
  return e.errorData.length ? w.bytes(e.errorData) : w.u8(0);
}

/** Decodes an ERROR body from a whole message (header first). Throws WireError on StructureSize ≠ 9 or a short ErrorData. */
export function decodeErrorResponse(msg: Buffer): ErrorResponse {
  const r = new Reader(msg).skip(SMB2_HEADER_SIZE, 'header');
  if (r.u16('StructureSize') !== 9) throw new WireError('ERROR response StructureSize is not 9');
  const errorContextCount = r.u8();
  r.skip(1, 'Reserved');
  const n = r.u32('ByteCount');
  return { errorContextCount, errorData: n ? r.bytes(n, 65536, 'ErrorData') : Buffer.alloc(0) };
}
