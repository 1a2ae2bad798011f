/**
 * SMB2 packet header (MS-SMB2 2.2.1: 64 bytes, ProtocolId 0xFE 'S' 'M' 'B', sync 2.2.1.2 and
 * async 2.2.1.1 forms), command codes, flags, compound chains (NextCommand, 3.2.4.1.4 / 3.3.5.2.7)
 * and the SMB1 multi-protocol NEGOTIATE a client may open with (MS-SMB2 3.3.5.3, MS-CIFS 2.2.4.52).
 */
import { Reader, WireError, Writer } from './reader.js';

export const SMB2_HEADER_SIZE = 64;
/** 0xFE 'S' 'M' 'B' read as a little-endian uint32. */
export const SMB2_PROTOCOL_ID = 0x424d53fe;
/** 0xFF 'S' 'M' 'B' (SMB1). */
export const SMB1_PROTOCOL_ID = 0x424d53ff;
/** 0xFD 'S' 'M' 'B' (SMB2 TRANSFORM_HEADER, 2.2.41). */
export const SMB2_TRANSFORM_ID = 0x424d53fd;

/** Command codes (MS-SMB2 2.2.1.2, "Command"). */
export enum Command {
  NEGOTIATE = 0x0000,
  SESSION_SETUP = 0x0001,
  LOGOFF = 0x0002,
  TREE_CONNECT = 0x0003,
  TREE_DISCONNECT = 0x0004,
  CREATE = 0x0005,
  CLOSE = 0x0006,
  FLUSH = 0x0007,
  READ = 0x0008,
  WRITE = 0x0009,
  LOCK = 0x000a,
  IOCTL = 0x000b,
  CANCEL = 0x000c,
  ECHO = 0x000d,
  QUERY_DIRECTORY = 0x000e,
  CHANGE_NOTIFY = 0x000f,
  QUERY_INFO = 0x0010,
  SET_INFO = 0x0011,
  OPLOCK_BREAK = 0x0012,
}

/** Header flags (MS-SMB2 2.2.1.2, "Flags"). */
export const HDR_FLAGS = {
  SERVER_TO_REDIR: 0x00000001,
  ASYNC_COMMAND: 0x00000002,
  RELATED_OPERATIONS: 0x00000004,
  SIGNED: 0x00000008,
  PRIORITY_MASK: 0x00000070,
  DFS_OPERATIONS: 0x10000000,
  REPLAY_OPERATION: 0x20000000,
} as const;

/** Byte offset of the 16-byte Signature field inside the header. */
export const SIGNATURE_OFFSET = 48;

/**
 * One SMB2 header. `status` is the NTSTATUS of a response; in a request the same 4 bytes are
 * ChannelSequence (low 16 bits) and Reserved. Sync headers carry `processId` and `treeId`
 * (`asyncId` 0n); async headers (flag ASYNC_COMMAND) carry `asyncId` (`processId`/`treeId` 0).
 */
export interface Smb2Header {
  creditCharge: number;
  status: number;
  command: number;
  credits: number;
  flags: number;
  nextCommand: number;
  messageId: bigint;
  processId: number;
  treeId: number;
  asyncId: bigint;
  sessionId: bigint;
  /** 16 bytes (a view when decoded). */
  signature: Buffer;
}

/** A header with defaults for everything not given (a sync request, no signature). */
export function header(h: Partial<Smb2Header> & { command: number }): Smb2Header {
  return {
    creditCharge: 0, status: 0, credits: 0, flags: 0, nextCommand: 0, messageId: 0n, processId: 0, treeId: 0,
    asyncId: 0n, sessionId: 0n, signature: Buffer.alloc(16), ...h,
  };
}

/**
 * Decodes the 64-byte header at `offset` of `buf` (MS-SMB2 2.2.1). Throws WireError when fewer
 * than 64 bytes remain, the ProtocolId is not 0xFE 'SMB' or StructureSize is not 64. The command
 * is returned as a number: unknown commands are the caller's to answer (STATUS_INVALID_PARAMETER).
 */
export function decodeHeader(buf: Buffer, offset = 0): Smb2Header {
  const r = new Reader(buf, offset);
  if (r.remaining() < SMB2_HEADER_SIZE) throw new WireError(`SMB2 header truncated: ${r.remaining()} bytes`);
  if (r.u32('ProtocolId') !== SMB2_PROTOCOL_ID) throw new WireError('not an SMB2 header (ProtocolId)');
  if (r.u16('StructureSize') !== SMB2_HEADER_SIZE) throw new WireError('SMB2 header StructureSize is not 64');
  const creditCharge = r.u16(), status = r.u32(), command = r.u16(), credits = r.u16(), flags = r.u32();
  const nextCommand = r.u32(), messageId = r.u64();
  let processId = 0, treeId = 0, asyncId = 0n;
  if (flags & HDR_FLAGS.ASYNC_COMMAND) asyncId = r.u64('AsyncId');
  else {
    processId = r.u32();
    treeId = r.u32();
  }
  const sessionId = r.u64();
  const signature = r.bytes(16, 16, 'Signature');
  return { creditCharge, status, command, credits, flags, nextCommand, messageId, processId, treeId, asyncId, sessionId, signature };
}

/** Writes the 64-byte header (async form when `flags` has ASYNC_COMMAND). */
export function writeHeader(w: Writer, h: Smb2Header): Writer {
  if (h.signature.length !== 16) throw new RangeError('signature must be 16 bytes');
  w.u32(SMB2_PROTOCOL_ID).u16(SMB2_HEADER_SIZE).u16(h.creditCharge).u32(h.status).u16(h.command).u16(h.credits)
    .u32(h.flags).u32(h.nextCommand).u64(h.messageId);
  if (h.flags & HDR_FLAGS.ASYNC_COMMAND) w.u64(h.asyncId);
  else w.u32(h.processId).u32(h.treeId);
  return w.u64(h.sessionId).bytes(h.signature);
}

/** The header alone as 64 bytes. */
export function encodeHeader(h: Smb2Header): Buffer {
  return writeHeader(new Writer(SMB2_HEADER_SIZE), h).finish();
}

/** One member of a compound: its header and its bytes (a view, header included, padding included). */
export interface CompoundPart {
  header: Smb2Header;
  /** Offset of this part in the message. */
  offset: number;
  bytes: Buffer;
}

/** At most this many requests in one compound (a guard against chains of tiny headers). */
export const MAX_COMPOUND = 128;

/**
 * Splits a (possibly compounded) SMB2 message into its parts by NextCommand (MS-SMB2 2.2.1,
 * 3.3.5.2.7). NextCommand must be 0 (last) or a multiple of 8 that leaves room for another
 * 64-byte header; the last part runs to the end. Throws WireError on any violation or on more
 * than `max` parts.
 */
export function splitCompound(msg: Buffer, max = MAX_COMPOUND): CompoundPart[] {
  const parts: CompoundPart[] = [];
  let off = 0;
  for (;;) {
    if (parts.length >= max) throw new WireError(`compound longer than ${max} parts`);
    const h = decodeHeader(msg, off);
    if (h.nextCommand === 0) {
      parts.push({ header: h, offset: off, bytes: msg.subarray(off) });
      return parts;
    }
    if (h.nextCommand % 8 !== 0) throw new WireError(`NextCommand ${h.nextCommand} is not 8-byte aligned`);
    if (h.nextCommand < SMB2_HEADER_SIZE || off + h.nextCommand + SMB2_HEADER_SIZE > msg.length) {
      throw new WireError(`NextCommand ${h.nextCommand} points outside the message`);
    }
    parts.push({ header: h, offset: off, bytes: msg.subarray(off, off + h.nextCommand) });
    off += h.nextCommand;
  }
}

/**
 * Chains encoded messages into one compound: each but the last is padded to 8 bytes and gets
 * its NextCommand patched (the bytes are copied; the inputs stay unchanged).
 */
export function joinCompound(parts: readonly Buffer[]): Buffer {
  const w = new Writer(parts.reduce((n, p) => n + p.length + 8, 0));
  parts.forEach((p, i) => {
    const start = w.length;
    w.bytes(p);
    if (i < parts.length - 1) {
      w.align(8, start);
      w.patchU32(start + 20, w.length - start);
    } else w.patchU32(start + 20, 0);
  });
  return w.finish();
}

/** Dialect strings of an SMB1 NEGOTIATE that name SMB2 (MS-SMB2 3.3.5.3.1). */
export const SMB1_DIALECT_2_002 = 'SMB 2.002';
export const SMB1_DIALECT_2_WILDCARD = 'SMB 2.???';
const SMB1_COM_NEGOTIATE = 0x72;
const MAX_SMB1_DIALECTS = 64;

/**
 * Decodes an SMB1 NEGOTIATE request (MS-CIFS 2.2.4.52.1: 32-byte header, WordCount 0, ByteCount,
 * then dialects as 0x02 + NUL-terminated OEM strings) into its dialect strings. Throws WireError
 * when the bytes are not an SMB1 NEGOTIATE.
 */
export function decodeSmb1Negotiate(buf: Buffer): string[] {
  const r = new Reader(buf);
  if (r.u32('ProtocolId') !== SMB1_PROTOCOL_ID) throw new WireError('not an SMB1 header');
  if (r.u8('Command') !== SMB1_COM_NEGOTIATE) throw new WireError('SMB1 command is not NEGOTIATE');
  r.skip(27, 'SMB1 header');
  if (r.u8('WordCount') !== 0) throw new WireError('SMB1 NEGOTIATE WordCount is not 0');
  const data = r.sub(r.u16('ByteCount'), 'SMB1 NEGOTIATE dialects');
  const dialects: string[] = [];
  while (data.remaining() > 0) {
    if (dialects.length >= MAX_SMB1_DIALECTS) throw new WireError('too many SMB1 dialects');
    if (data.u8('BufferFormat') !== 0x02) throw new WireError('SMB1 dialect BufferFormat is not 0x02');
    let name = '';
    for (let c = data.u8('dialect'); c !== 0; c = data.u8('dialect')) {
      if (name.length >= 64) throw new WireError('SMB1 dialect string too long');
      name += String.fromCharCode(c);
    }
    dialects.push(name);
  }
  return dialects;
}

/**
 * What a server answers to an SMB1 NEGOTIATE (MS-SMB2 3.3.5.3.1): 0x02FF (the SMB2 wildcard
 * revision; the client then sends an SMB2 NEGOTIATE) when "SMB 2.???" is offered and the server
 * speaks anything above 2.0.2, 0x0202 when only "SMB 2.002" fits, null when SMB2 is not offered.
 */
export function smb1NegotiateAnswer(dialects: readonly string[], serverAbove202 = true): 0x02ff | 0x0202 | null {
  if (serverAbove202 && dialects.includes(SMB1_DIALECT_2_WILDCARD)) return 0x02ff;
  if (dialects.includes(SMB1_DIALECT_2_002)) return 0x0202;
  return null;
}

/** The first four bytes of a message: 'smb2', 'smb1', 'transform' (0xFD), 'compressed' (0xFC) or null. */
export function protocolOf(msg: Buffer): 'smb2' | 'smb1' | 'transform' | 'compressed' | null {
  if (msg.length < 4 || msg[1] !== 0x53 || msg[2] !== 0x4d || msg[3] !== 0x42) return null;
  switch (msg[0]) {
    case 0xfe: return 'smb2';
    case 0xff: return 'smb1';
    case 0xfd: return 'transform';
    case 0xfc: return 'compressed';
    default: return null;
  }
}
