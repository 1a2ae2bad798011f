/**
 * The data of the file-system controls a disk share answers in IOCTL (MS-SMB2 2.2.31.1–2.2.32.3,
 * MS-FSCC 2.3): previous versions (SRV_SNAPSHOT_ARRAY), server-side copy (resume key,
 * SRV_COPYCHUNK_COPY, SRV_COPYCHUNK_RESPONSE), sparse files (FILE_SET_SPARSE_BUFFER,
 * FILE_ZERO_DATA_INFORMATION, FILE_ALLOCATED_RANGE_BUFFER). Sans-IO; every decoder reads through
 * the bounded Reader and throws WireError on short or oversized input.
 */
import { Reader, WireError, Writer } from './reader.js';

/** Control codes (MS-SMB2 2.2.31, MS-FSCC 2.3). */
export const FSCTL_DATA = {
  SRV_ENUMERATE_SNAPSHOTS: 0x00144064,
  SRV_REQUEST_RESUME_KEY: 0x00140078,
  SRV_COPYCHUNK: 0x001440f2,
  SRV_COPYCHUNK_WRITE: 0x001480f2,
  SET_SPARSE: 0x000900c4,
  SET_ZERO_DATA: 0x000980c8,
  QUERY_ALLOCATED_RANGES: 0x000940cf,
  LMR_REQUEST_RESILIENCY: 0x001401d4,
  GET_COMPRESSION: 0x0009003c,
  SET_COMPRESSION: 0x0009c040,
} as const;

/** COMPRESSION_FORMAT_NONE (MS-FSCC 2.3.12): the only state a file has here. */
export const COMPRESSION_FORMAT_NONE = 0;

// ---------------------------------------------------------------------------------------------
// Previous versions (2.2.32.2)

/** A @GMT token's length in UTF-16 code units, "@GMT-YYYY.MM.DD-HH.MM.SS" (MS-SMB 2.2.1.1.1). */
export const GMT_TOKEN_CHARS = 24;
/** The fixed part of SRV_SNAPSHOT_ARRAY: NumberOfSnapShots, NumberOfSnapShotsReturned, SnapShotArraySize. */
export const SNAPSHOT_ARRAY_HEADER = 12;

/**
 * SRV_SNAPSHOT_ARRAY for `tokens` (newest first) within `maxOut` bytes (3.3.5.15.1): all of them as
 * a multi-string (each NUL-terminated, then one more NUL) when they fit; otherwise only the count
 * and the size needed, NumberOfSnapShotsReturned 0, padded to 16 bytes (the smallest answer a client
 * may ask for).
 */
export function encodeSnapshotArray(tokens: readonly string[], maxOut: number): Buffer {
  const arraySize = tokens.length ? tokens.reduce((n, t) => n + (t.length + 1) * 2, 0) + 2 : 0;
  const fits = tokens.length > 0 && SNAPSHOT_ARRAY_HEADER + arraySize <= maxOut;
  const w = new Writer(SNAPSHOT_ARRAY_HEADER + (fits ? arraySize : 4));
  w.u32(tokens.length).u32(fits ? tokens.length : 0).u32(arraySize);
  if (fits) {
    for (const t of tokens) w.utf16(t).u16(0);
    w.u16(0);
  } else {
    w.zeros(4);
  }
  return w.finish();
}

/** SRV_SNAPSHOT_ARRAY back into its counts and tokens (for tests and clients). */
export function decodeSnapshotArray(b: Buffer): { count: number; returned: number; arraySize: number; tokens: string[] } {
  const r = new Reader(b);
  const count = r.u32('NumberOfSnapShots'), returned = r.u32('NumberOfSnapShotsReturned'), arraySize = r.u32('SnapShotArraySize');
  const tokens: string[] = [];
  if (returned) {
    const all = r.utf16(arraySize, 1 << 20, 'SnapShotMultiSZ');
    tokens.push(...all.split('\0').filter((t) => t !== ''));
    if (tokens.length !== returned) throw new WireError(`SRV_SNAPSHOT_ARRAY: ${returned} returned, ${tokens.length} in the array`);
  }
  return { count, returned, arraySize, tokens };
}

/** "@GMT-YYYY.MM.DD-HH.MM.SS" for a time in ms since the Unix epoch (UTC, seconds truncated). */
export function gmtToken(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `@GMT-${d.getUTCFullYear()}.${p(d.getUTCMonth() + 1)}.${p(d.getUTCDate())}-${p(d.getUTCHours())}.${p(d.getUTCMinutes())}.${p(d.getUTCSeconds())}`;
}

const GMT_RE = /^@GMT-(\d{4})\.(\d{2})\.(\d{2})-(\d{2})\.(\d{2})\.(\d{2})$/;

/** A @GMT token's time in ms since the Unix epoch, or undefined when `s` is not one. */
export function parseGmtToken(s: string): number | undefined {
  const m = GMT_RE.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, se);
  return gmtToken(ms) === s ? ms : undefined; // rejects 2026.02.31 and the like
}

// ---------------------------------------------------------------------------------------------
// Server-side copy (2.2.31.1, 2.2.32.1, 2.2.32.3)

/** The resume key's length (2.2.32.3). */
export const RESUME_KEY_BYTES = 24;

/**
 * SRV_REQUEST_RESUME_KEY response (2.2.32.3): ResumeKey (24), ContextLength 0, then 4 bytes of
 * (empty) context, 32 bytes in all, as Windows sends it and clients (Samba's) expect.
 */
export function encodeResumeKey(key: Buffer): Buffer {
  if (key.length !== RESUME_KEY_BYTES) throw new RangeError('resume key must be 24 bytes');
  return new Writer(32).bytes(key).u32(0).zeros(4).finish();
}

export interface CopyChunk {
  sourceOffset: bigint;
  targetOffset: bigint;
  length: number;
}

/** SRV_COPYCHUNK_COPY (2.2.31.1): SourceKey (24), ChunkCount, Reserved, then 24-byte chunks. */
export interface CopyChunkCopy {
  sourceKey: Buffer;
  chunks: CopyChunk[];
}

/**
 * Decodes SRV_COPYCHUNK_COPY. Chunk counts above `maxChunks` are reported, not read (the server
 * answers them with its limits, 3.3.5.15.6): `tooMany` is then true and `chunks` empty.
 */
export function decodeCopyChunkCopy(b: Buffer, maxChunks: number): CopyChunkCopy & { tooMany: boolean } {
  const r = new Reader(b);
  const sourceKey = Buffer.from(r.bytes(RESUME_KEY_BYTES, RESUME_KEY_BYTES, 'SourceKey'));
  const count = r.u32('ChunkCount');
  r.skip(4, 'Reserved');
  if (count > maxChunks) return { sourceKey, chunks: [], tooMany: true };
  const chunks: CopyChunk[] = [];
  for (let i = 0; i < count; i++) {
    const sourceOffset = r.u64('SourceOffset'), targetOffset = r.u64('TargetOffset'), length = r.u32('Length');
    r.skip(4, 'Reserved');
    chunks.push({ sourceOffset, targetOffset, length });
  }
  return { sourceKey, chunks, tooMany: false };
}

export function encodeCopyChunkCopy(c: CopyChunkCopy): Buffer {
  const w = new Writer(32 + c.chunks.length * 24).bytes(c.sourceKey).u32(c.chunks.length).u32(0);
  for (const k of c.chunks) w.u64(k.sourceOffset).u64(k.targetOffset).u32(k.length).u32(0);
  return w.finish();
}

/** SRV_COPYCHUNK_RESPONSE (2.2.32.1): what was copied, or on STATUS_INVALID_PARAMETER the server's limits. */
export interface CopyChunkResponse {
  chunksWritten: number;
  chunkBytesWritten: number;
  totalBytesWritten: number;
}

export function encodeCopyChunkResponse(v: CopyChunkResponse): Buffer {
  return new Writer(12).u32(v.chunksWritten).u32(v.chunkBytesWritten).u32(v.totalBytesWritten).finish();
}

export function decodeCopyChunkResponse(b: Buffer): CopyChunkResponse {
  const r = new Reader(b);
  return { chunksWritten: r.u32('ChunksWritten'), chunkBytesWritten: r.u32('ChunkBytesWritten'), totalBytesWritten: r.u32('TotalBytesWritten') };
}

// ---------------------------------------------------------------------------------------------
// Sparse files (MS-FSCC 2.3.64, 2.3.67, 2.3.33/2.3.34)

/** FILE_SET_SPARSE_BUFFER: SetSparse (1 byte, optional: no input means TRUE; MS-FSCC 2.3.64). */
export function decodeSetSparse(b: Buffer): boolean {
  if (b.length === 0) return true;
  return new Reader(b).u8('SetSparse') !== 0;
}

/** FILE_ZERO_DATA_INFORMATION: FileOffset, BeyondFinalZero (2.3.67), both signed 64-bit on the wire. */
export function decodeZeroData(b: Buffer): { fileOffset: bigint; beyondFinalZero: bigint } {
  const r = new Reader(b);
  return { fileOffset: BigInt.asIntN(64, r.u64('FileOffset')), beyondFinalZero: BigInt.asIntN(64, r.u64('BeyondFinalZero')) };
}

export function encodeZeroData(v: { fileOffset: bigint; beyondFinalZero: bigint }): Buffer {
  return new Writer(16).u64(BigInt.asUintN(64, v.fileOffset)).u64(BigInt.asUintN(64, v.beyondFinalZero)).finish();
}

/** FILE_ALLOCATED_RANGE_BUFFER: FileOffset, Length (2.3.33), signed 64-bit. */
export interface AllocatedRange {
  offset: bigint;
  length: bigint;
}

export function decodeAllocatedRange(b: Buffer): AllocatedRange {
  const r = new Reader(b);
  return { offset: BigInt.asIntN(64, r.u64('FileOffset')), length: BigInt.asIntN(64, r.u64('Length')) };
}

export function encodeAllocatedRanges(rs: readonly AllocatedRange[]): Buffer {
  const w = new Writer(rs.length * 16 || 1);
  for (const x of rs) w.u64(BigInt.asUintN(64, x.offset)).u64(BigInt.asUintN(64, x.length));
  return w.finish();
}

export function decodeAllocatedRanges(b: Buffer): AllocatedRange[] {
  if (b.length % 16) throw new WireError(`allocated ranges: ${b.length} bytes is not a multiple of 16`);
  const out: AllocatedRange[] = [];
  for (let i = 0; i < b.length; i += 16) out.push(decodeAllocatedRange(b.subarray(i, i + 16)));
  return out;
}
