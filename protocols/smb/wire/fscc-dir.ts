/**
 * QUERY_DIRECTORY output (MS-SMB2 2.2.34) in the MS-FSCC 2.4 directory information classes:
 * FileDirectoryInformation (1, 2.4.10), FileFullDirectoryInformation (2, 2.4.17),
 * FileBothDirectoryInformation (3, 2.4.8), FileNamesInformation (12, 2.4.28),
 * FileIdBothDirectoryInformation (37, 2.4.18), FileIdFullDirectoryInformation (38, 2.4.20) and
 * FileIdExtdDirectoryInformation (60, 2.4.19). Entries chain by NextEntryOffset, each starting
 * 8-byte aligned; the last has NextEntryOffset 0 and no padding after it.
 *
 * `packDirectory` fits entries into the client's OutputBufferLength and says how many fitted;
 * what the server answers when none fits (STATUS_BUFFER_OVERFLOW / STATUS_INFO_LENGTH_MISMATCH,
 * MS-SMB2 3.3.5.18) is its decision. `decodeDirectory` (a client's view, used by the tests and
 * fuzzers) throws only `WireError`.
 */
import { FILE_ATTRIBUTE, FILE_INFO, MAX_NAME_BYTES, utf16Bytes, type FileInfo } from './fscc.js';
import { Reader, WireError, Writer } from './reader.js';

/** The directory classes served. */
export const DIRECTORY_CLASSES: readonly number[] = [
  FILE_INFO.Directory, FILE_INFO.FullDirectory, FILE_INFO.BothDirectory, FILE_INFO.Names,
  FILE_INFO.IdBothDirectory, FILE_INFO.IdFullDirectory, FILE_INFO.IdExtdDirectory,
];

/** Offset of FileName in each class = the fixed part's size. */
export const DIRECTORY_FIXED_SIZE: Readonly<Record<number, number>> = {
  [FILE_INFO.Directory]: 64, [FILE_INFO.FullDirectory]: 68, [FILE_INFO.BothDirectory]: 94, [FILE_INFO.Names]: 12,
  [FILE_INFO.IdBothDirectory]: 104, [FILE_INFO.IdFullDirectory]: 80, [FILE_INFO.IdExtdDirectory]: 88,
};

/** Is `cls` a directory class this module encodes? */
export function isDirectoryClass(cls: number): boolean {
  return DIRECTORY_CLASSES.includes(cls);
}

/**
 * One directory entry. `info` supplies times, sizes, attributes, FileId, EaSize and the reparse
 * tag (fscc.ts `fileInfoOf`). `shortName` is the 8.3 name (≤ 12 characters; absent: 8.3 names
 * are off). `fileIndex` is 0 unless given (NTFS leaves it undefined too).
 */
export interface DirEntryInfo {
  name: string;
  info: FileInfo;
  shortName?: string;
  fileIndex?: number;
}

/** EaSize, or the reparse tag when the entry is a reparse point (MS-FSCC 2.4.17 EaSize). */
function eaOrTag(i: FileInfo): number {
  return (i.attributes & FILE_ATTRIBUTE.REPARSE_POINT) !== 0 ? i.reparseTag : i.eaSize;
}

/**
 * One entry of class `cls` with NextEntryOffset 0 and no trailing padding. Throws RangeError for
 * a class not in DIRECTORY_CLASSES, a name over MAX_NAME_BYTES or a short name over 24 bytes.
 */
export function encodeDirEntry(cls: number, e: DirEntryInfo): Buffer {
  const fixed = DIRECTORY_FIXED_SIZE[cls];
  if (fixed === undefined) throw new RangeError(`not a directory information class: ${cls}`);
  const name = utf16Bytes(e.name);
  const w = new Writer(fixed + name.length).u32(0).u32(e.fileIndex ?? 0);
  const i = e.info;
  if (cls === FILE_INFO.Names) return w.u32(name.length).bytes(name).finish();
  w.u64(i.creationTime).u64(i.lastAccessTime).u64(i.lastWriteTime).u64(i.changeTime).u64(i.endOfFile).u64(i.allocationSize)
    .u32(i.attributes).u32(name.length);
  switch (cls) {
    case FILE_INFO.Directory:
      break;
    case FILE_INFO.FullDirectory:
      w.u32(eaOrTag(i));
      break;
    case FILE_INFO.IdFullDirectory:
      w.u32(eaOrTag(i)).u32(0).u64(i.fileId);
      break;
    case FILE_INFO.BothDirectory:
    case FILE_INFO.IdBothDirectory: {
      const short = Buffer.from(e.shortName ?? '', 'utf16le');
      if (short.length > 24) throw new RangeError(`short name ${e.shortName} over 12 characters`);
      w.u32(eaOrTag(i)).u8(short.length).u8(0).bytes(short).zeros(24 - short.length);
      if (cls === FILE_INFO.IdBothDirectory) w.u16(0).u64(i.fileId);
      break;
    }
    case FILE_INFO.IdExtdDirectory:
      // EaSize and ReparsePointTag are separate fields here; FileId is 128-bit (inode in the low 8 bytes).
      w.u32(i.eaSize).u32((i.attributes & FILE_ATTRIBUTE.REPARSE_POINT) !== 0 ? i.reparseTag : 0).u64(i.fileId).u64(0n);
      break;
  }
  return w.bytes(name).finish();
}

/** The result of packing: the bytes for the response's output buffer and how many entries they hold. */
export interface PackedDirectory {
  buffer: Buffer;
  /** Entries taken from the front of the input. 0: not even the first fitted (or there were none). */
  count: number;
}

/**
 * Packs entries of class `cls` into at most `maxBytes` bytes (the request's OutputBufferLength),
 * at most `maxCount` of them (1 for SMB2_RETURN_SINGLE_ENTRY), 8-byte aligned and chained. Stops
 * at the first entry that does not fit, so the caller resumes from entry `count` next time.
 * Throws RangeError like `encodeDirEntry`.
 */
export function packDirectory(cls: number, entries: Iterable<DirEntryInfo>, maxBytes: number, maxCount = Infinity): PackedDirectory {
  const parts: Buffer[] = [];
  let used = 0, count = 0, prev: Buffer | undefined;
  for (const e of entries) {
    if (count >= maxCount) break;
    const enc = encodeDirEntry(cls, e);
    const pad = (8 - (used % 8)) % 8;
    if (used + pad + enc.length > maxBytes) break;
    if (prev) {
      prev.writeUInt32LE(prev.length + pad, 0);
      if (pad) parts.push(Buffer.alloc(pad));
    }
    parts.push(enc);
    used += pad + enc.length;
    prev = enc;
    count++;
  }
  return { buffer: Buffer.concat(parts, used), count };
}

/** An entry as `decodeDirectory` reads it back. Fields a class lacks are absent. */
export interface DecodedDirEntry {
  fileIndex: number;
  name: string;
  creationTime?: bigint;
  lastAccessTime?: bigint;
  lastWriteTime?: bigint;
  changeTime?: bigint;
  endOfFile?: bigint;
  allocationSize?: bigint;
  attributes?: number;
  /** EaSize field (a reparse tag when attributes has REPARSE_POINT, except in class 60). */
  eaSize?: number;
  reparseTag?: number;
  shortName?: string;
  /** 64-bit FileId (class 60: the low 8 bytes of the 128-bit id). */
  fileId?: bigint;
  /** Class 60: the high 8 bytes of the 128-bit id. */
  fileIdHigh?: bigint;
}

const MAX_DIR_ENTRIES = 65536;

/**
 * Walks a QUERY_DIRECTORY output buffer of class `cls`. Throws WireError for an unknown class, an
 * entry past the buffer, a NextEntryOffset that is not 8-aligned or does not pass its entry, a
 * ShortNameLength over 24, odd or invalid UTF-16, or more than 65536 entries.
 */
export function decodeDirectory(cls: number, b: Buffer): DecodedDirEntry[] {
  const fixed = DIRECTORY_FIXED_SIZE[cls];
  if (fixed === undefined) throw new WireError(`not a directory information class: ${cls}`);
  const out: DecodedDirEntry[] = [];
  if (b.length === 0) return out;
  let pos = 0;
  for (;;) {
    if (out.length >= MAX_DIR_ENTRIES) throw new WireError('too many directory entries');
    const r = new Reader(b, pos);
    const next = r.u32('NextEntryOffset');
    const e: DecodedDirEntry = { fileIndex: r.u32('FileIndex'), name: '' };
    let nameLen: number;
    if (cls === FILE_INFO.Names) {
      nameLen = r.u32('FileNameLength');
    } else {
      e.creationTime = r.u64(); e.lastAccessTime = r.u64(); e.lastWriteTime = r.u64(); e.changeTime = r.u64();
      e.endOfFile = r.u64(); e.allocationSize = r.u64(); e.attributes = r.u32();
      nameLen = r.u32('FileNameLength');
      if (cls !== FILE_INFO.Directory) e.eaSize = r.u32('EaSize');
      if (cls === FILE_INFO.IdFullDirectory) e.fileId = r.skip(4).u64('FileId');
      if (cls === FILE_INFO.BothDirectory || cls === FILE_INFO.IdBothDirectory) {
        const sl = r.u8('ShortNameLength');
        r.skip(1);
        const short = r.bytes(24, 24, 'ShortName');
        if (sl > 24) throw new WireError(`ShortNameLength ${sl} over 24`);
        e.shortName = new Reader(short).utf16(sl, 24, 'ShortName');
        if (cls === FILE_INFO.IdBothDirectory) e.fileId = r.skip(2).u64('FileId');
      }
      if (cls === FILE_INFO.IdExtdDirectory) {
        e.reparseTag = r.u32('ReparsePointTag');
        e.fileId = r.u64('FileId');
        e.fileIdHigh = r.u64('FileId');
      }
    }
    e.name = r.utf16(nameLen, MAX_NAME_BYTES, 'FileName');
    out.push(e);
    if (next === 0) return out;
    if (next % 8 !== 0 || next < fixed + nameLen) throw new WireError(`bad NextEntryOffset ${next}`);
    pos += next;
    if (pos >= b.length) throw new WireError('NextEntryOffset past the buffer');
  }
}
