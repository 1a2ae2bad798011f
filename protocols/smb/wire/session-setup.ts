/**
 * SESSION_SETUP (MS-SMB2 2.2.5, 2.2.6), LOGOFF (2.2.7, 2.2.8), TREE_CONNECT (2.2.9, 2.2.10),
 * TREE_DISCONNECT (2.2.11, 2.2.12) and ECHO (2.2.28, 2.2.29) bodies. Decoders take the whole
 * message (header first) since buffer offsets count from the header; encoders write the body
 * after a header the caller wrote at `hdrStart`.
 */
import { SMB2_HEADER_SIZE } from './header.js';
import { Reader, WireError, Writer } from './reader.js';

const MAX_SECURITY_BUFFER = 65535;
/** Longest \\server\share path accepted, in UTF-16 bytes. */
export const MAX_TREE_PATH_BYTES = 1024;

/** SESSION_SETUP request Flags (2.2.5). */
export const SESSION_SETUP_FLAG_BINDING = 0x01;
/** SessionFlags of the response (2.2.6). */
export const SESSION_FLAG = { IS_GUEST: 0x0001, IS_NULL: 0x0002, ENCRYPT_DATA: 0x0004 } as const;

export interface SessionSetupRequest {
  flags: number;
  securityMode: number;
  capabilities: number;
  channel: number;
  previousSessionId: bigint;
  /** The GSS token (SPNEGO). */
  securityBuffer: Buffer;
}

export interface SessionSetupResponse {
  sessionFlags: number;
  securityBuffer: Buffer;
}

function body(msg: Buffer, size: number, what: string): Reader {
  const r = new Reader(msg).skip(SMB2_HEADER_SIZE, 'header');
  const s = r.u16('StructureSize');
  if (s !== size) throw new WireError(`${what} StructureSize ${s} (want ${size})`);
  return r;
}

/** Decodes a SESSION_SETUP request (2.2.5). Throws WireError on StructureSize ≠ 25 or a buffer outside the message. */
export function decodeSessionSetupRequest(msg: Buffer): SessionSetupRequest {
  const r = body(msg, 25, 'SESSION_SETUP request');
  const flags = r.u8(), securityMode = r.u8(), capabilities = r.u32(), channel = r.u32();
  const off = r.u16(), len = r.u16(), previousSessionId = r.u64();
  const securityBuffer = r.at(off, len, MAX_SECURITY_BUFFER, 'SecurityBuffer', SMB2_HEADER_SIZE + 24);
  return { flags, securityMode, capabilities, channel, previousSessionId, securityBuffer };
}

export function writeSessionSetupRequest(w: Writer, q: SessionSetupRequest, hdrStart = 0): Writer {
  const off = w.length - hdrStart + 24;
  w.u16(25).u8(q.flags).u8(q.securityMode).u32(q.capabilities).u32(q.channel)
    .u16(q.securityBuffer.length ? off : 0).u16(q.securityBuffer.length).u64(q.previousSessionId);
  return q.securityBuffer.length ? w.bytes(q.securityBuffer) : w.u8(0);
}

/** Decodes a SESSION_SETUP response (2.2.6). Throws WireError on StructureSize ≠ 9 or a buffer outside the message. */
export function decodeSessionSetupResponse(msg: Buffer): SessionSetupResponse {
  const r = body(msg, 9, 'SESSION_SETUP response');
  const sessionFlags = r.u16(), off = r.u16(), len = r.u16();
  return { sessionFlags, securityBuffer: r.at(off, len, MAX_SECURITY_BUFFER, 'SecurityBuffer', SMB2_HEADER_SIZE + 8) };
}

export function writeSessionSetupResponse(w: Writer, s: SessionSetupResponse, hdrStart = 0): Writer {
  const off = w.length - hdrStart + 8;
  w.u16(9).u16(s.sessionFlags).u16(s.securityBuffer.length ? off : 0).u16(s.securityBuffer.length);
  return s.securityBuffer.length ? w.bytes(s.securityBuffer) : w.u8(0);
}

/**
 * The 4-byte bodies of LOGOFF, TREE_DISCONNECT and ECHO requests and responses (StructureSize 4,
 * Reserved). Throws WireError if the StructureSize is not 4.
 */
export function decodeEmptyBody(msg: Buffer, what = 'request'): void {
  const r = body(msg, 4, what);
  r.skip(2, 'Reserved');
}

export function writeEmptyBody(w: Writer): Writer {
  return w.u16(4).u16(0);
}

/** TREE_CONNECT request Flags (2.2.9, 3.1.1 only). */
export const TREE_CONNECT_FLAG = { CLUSTER_RECONNECT: 0x0001, REDIRECT_TO_OWNER: 0x0002, EXTENSION_PRESENT: 0x0004 } as const;

export interface TreeConnectRequest {
  flags: number;
  /** As sent: \\server\share. */
  path: string;
  server: string;
  share: string;
}

/**
 * Splits a UNC share path "\\server\share" (MS-SMB2 2.2.9) into server and share. Throws
 * WireError unless there are exactly two non-empty components after the leading "\\".
 */
export function parseSharePath(path: string): { server: string; share: string } {
  const m = /^\\\\([^\\]+)\\([^\\]+)$/.exec(path);
  if (!m) throw new WireError(`tree connect path is not \\\\server\\share: ${JSON.stringify(path.slice(0, 80))}`);
  return { server: m[1]!, share: m[2]! };
}

/**
 * Decodes a TREE_CONNECT request (2.2.9). Throws WireError on StructureSize ≠ 9, a path outside
 * the message or longer than MAX_TREE_PATH_BYTES, bad UTF-16, a path not of the form
 * \\server\share, or the 3.1.1 extension flag (the extension is not supported yet).
 */
export function decodeTreeConnectRequest(msg: Buffer): TreeConnectRequest {
  const r = body(msg, 9, 'TREE_CONNECT request');
  const flags = r.u16(), off = r.u16(), len = r.u16();
  if (flags & TREE_CONNECT_FLAG.EXTENSION_PRESENT) throw new WireError('TREE_CONNECT extension is not supported');
  if (len % 2) throw new WireError('TREE_CONNECT path length is odd');
  const raw = r.at(off, len, MAX_TREE_PATH_BYTES, 'PathName', SMB2_HEADER_SIZE + 8);
  const path = new Reader(raw).utf16(raw.length, MAX_TREE_PATH_BYTES, 'PathName');
  return { flags, path, ...parseSharePath(path) };
}

export function writeTreeConnectRequest(w: Writer, q: { flags: number; path: string }, hdrStart = 0): Writer {
  const p = Buffer.from(q.path, 'utf16le');
  const off = w.length - hdrStart + 8;
  return w.u16(9).u16(q.flags).u16(off).u16(p.length).bytes(p.length ? p : Buffer.alloc(1));
}

/** ShareType (2.2.10). */
export const SHARE_TYPE = { DISK: 0x01, PIPE: 0x02, PRINT: 0x03 } as const;
/** ShareFlags (2.2.10), the ones a disk share of ours may set. */
export const SHARE_FLAG = {
  MANUAL_CACHING: 0x00000000, AUTO_CACHING: 0x00000010, VDO_CACHING: 0x00000020, NO_CACHING: 0x00000030,
  DFS: 0x00000001, DFS_ROOT: 0x00000002, ACCESS_BASED_DIRECTORY_ENUM: 0x00000800,
  ENCRYPT_DATA: 0x00008000, COMPRESS_DATA: 0x00100000,
} as const;
/** Share Capabilities (2.2.10). */
export const SHARE_CAP = { DFS: 0x08, CONTINUOUS_AVAILABILITY: 0x10, SCALEOUT: 0x20, CLUSTER: 0x40, ASYMMETRIC: 0x80 } as const;

export interface TreeConnectResponse {
  shareType: number;
  shareFlags: number;
  capabilities: number;
  /** An ACCESS_MASK (MS-DTYP 2.4.3). */
  maximalAccess: number;
}

/** Decodes a TREE_CONNECT response (2.2.10). Throws WireError on StructureSize ≠ 16. */
export function decodeTreeConnectResponse(msg: Buffer): TreeConnectResponse {
  const r = body(msg, 16, 'TREE_CONNECT response');
  const shareType = r.u8();
  r.skip(1, 'Reserved');
  return { shareType, shareFlags: r.u32(), capabilities: r.u32(), maximalAccess: r.u32() };
}

export function writeTreeConnectResponse(w: Writer, s: TreeConnectResponse): Writer {
  return w.u16(16).u8(s.shareType).u8(0).u32(s.shareFlags).u32(s.capabilities).u32(s.maximalAccess);
}
