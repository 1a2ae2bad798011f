/**
 * MS-FSCC file information classes (2.4) and file system information classes (2.5) as QUERY_INFO
 * and SET_INFO carry them (MS-SMB2 2.2.37–2.2.40): encoders for what a server answers, decoders
 * for what a client sends in SET_INFO, FILETIME conversion (2.1.1) and the mapping from a VFS
 * `Attr` to the fields these structures share. Sans-IO: buffers in, values out. Every buffer
 * here is the class payload alone (the server cuts it out of the message with `Reader.at`).
 * Directory classes (QUERY_DIRECTORY) live in fscc-dir.ts.
 *
 * Decoders throw `WireError` for malformed input and its subclass `InfoLengthError` when the
 * buffer is shorter than the class's fixed part (the server answers STATUS_INFO_LENGTH_MISMATCH
 * for the latter, STATUS_INVALID_PARAMETER for the rest). Buffers longer than needed are
 * accepted, as Windows does.
 */
import { type Attr, type StatFs } from '../../../vfs/types.js';
import { Reader, WireError, Writer } from './reader.js';

/** The buffer is shorter than the information class's fixed part: STATUS_INFO_LENGTH_MISMATCH. */
export class InfoLengthError extends WireError {
  constructor(what: string, need: number, have: number) {
    super(`${what}: ${have} bytes, need at least ${need}`);
    this.name = 'InfoLengthError';
  }
}

/** SMB2 QUERY_INFO / SET_INFO InfoType (MS-SMB2 2.2.37). */
export const INFO_TYPE = { FILE: 0x01, FILESYSTEM: 0x02, SECURITY: 0x03, QUOTA: 0x04 } as const;

/** File information classes (MS-FSCC 2.4), including the directory ones QUERY_DIRECTORY takes. */
export const FILE_INFO = {
  Directory: 1, FullDirectory: 2, BothDirectory: 3, Basic: 4, Standard: 5, Internal: 6, Ea: 7, Access: 8, Name: 9,
  Rename: 10, Link: 11, Names: 12, Disposition: 13, Position: 14, FullEa: 15, Mode: 16, Alignment: 17, All: 18,
  Allocation: 19, EndOfFile: 20, AlternateName: 21, Stream: 22, Compression: 28, NetworkOpen: 34, AttributeTag: 35,
  IdBothDirectory: 37, IdFullDirectory: 38, NormalizedName: 48, Id: 59, IdExtdDirectory: 60, DispositionEx: 64,
} as const;

/** File system information classes (MS-FSCC 2.5). */
export const FS_INFO = { Volume: 1, Size: 3, Device: 4, Attribute: 5, FullSize: 7, ObjectId: 8, SectorSize: 11 } as const;

/** FILE_ATTRIBUTE_* (MS-FSCC 2.6). */
export const FILE_ATTRIBUTE = {
  READONLY: 0x1, HIDDEN: 0x2, SYSTEM: 0x4, DIRECTORY: 0x10, ARCHIVE: 0x20, NORMAL: 0x80, TEMPORARY: 0x100,
  SPARSE_FILE: 0x200, REPARSE_POINT: 0x400, COMPRESSED: 0x800, OFFLINE: 0x1000, NOT_CONTENT_INDEXED: 0x2000,
  ENCRYPTED: 0x4000, INTEGRITY_STREAM: 0x8000, NO_SCRUB_DATA: 0x20000, RECALL_ON_OPEN: 0x40000, PINNED: 0x80000,
  UNPINNED: 0x100000, RECALL_ON_DATA_ACCESS: 0x400000,
} as const;

/** The attribute bits a client may set through SET_INFO FileBasicInformation (MS-FSA 2.1.5.15.2). */
export const SETTABLE_ATTRIBUTES = FILE_ATTRIBUTE.READONLY | FILE_ATTRIBUTE.HIDDEN | FILE_ATTRIBUTE.SYSTEM | FILE_ATTRIBUTE.ARCHIVE
  | FILE_ATTRIBUTE.TEMPORARY | FILE_ATTRIBUTE.OFFLINE | FILE_ATTRIBUTE.NOT_CONTENT_INDEXED;

/** Reparse tags (MS-FSCC 2.1.2.1) this gateway reports. */
export const IO_REPARSE_TAG = { SYMLINK: 0xa000000c } as const;

/** FileSystemAttributes of FileFsAttributeInformation (MS-FSCC 2.5.1). */
export const FILE_FS = {
  CASE_SENSITIVE_SEARCH: 0x1, CASE_PRESERVED_NAMES: 0x2, UNICODE_ON_DISK: 0x4, PERSISTENT_ACLS: 0x8, FILE_COMPRESSION: 0x10,
  VOLUME_QUOTAS: 0x20, SUPPORTS_SPARSE_FILES: 0x40, SUPPORTS_REPARSE_POINTS: 0x80, SUPPORTS_REMOTE_STORAGE: 0x100,
  VOLUME_IS_COMPRESSED: 0x8000, SUPPORTS_OBJECT_IDS: 0x10000, SUPPORTS_ENCRYPTION: 0x20000, NAMED_STREAMS: 0x40000,
  READ_ONLY_VOLUME: 0x80000, SEQUENTIAL_WRITE_ONCE: 0x100000, SUPPORTS_TRANSACTIONS: 0x200000, SUPPORTS_HARD_LINKS: 0x400000,
  SUPPORTS_EXTENDED_ATTRIBUTES: 0x800000, SUPPORTS_OPEN_BY_FILE_ID: 0x1000000, SUPPORTS_USN_JOURNAL: 0x2000000,
  SUPPORTS_INTEGRITY_STREAMS: 0x4000000, SUPPORTS_BLOCK_REFCOUNTING: 0x8000000, SUPPORTS_SPARSE_VDL: 0x10000000,
} as const;

/** DeviceType and Characteristics of FileFsDeviceInformation (MS-FSCC 2.5.10). */
export const FILE_DEVICE_DISK = 0x00000007;
export const FILE_DEVICE_CHARACTERISTICS = {
  REMOVABLE_MEDIA: 0x1, READ_ONLY_DEVICE: 0x2, FLOPPY_DISKETTE: 0x4, WRITE_ONCE_MEDIA: 0x8, REMOTE_DEVICE: 0x10,
  DEVICE_IS_MOUNTED: 0x20, VIRTUAL_VOLUME: 0x40, DEVICE_SECURE_OPEN: 0x100,
} as const;

/** Flags of FileFsSectorSizeInformation (MS-FSCC 2.5.8). */
export const SSINFO_FLAGS = { ALIGNED_DEVICE: 0x1, PARTITION_ALIGNED_ON_DEVICE: 0x2, NO_SEEK_PENALTY: 0x4, TRIM_ENABLED: 0x8 } as const;

/** FileModeInformation Mode bits (MS-FSCC 2.4.26). */
export const FILE_MODE = {
  WRITE_THROUGH: 0x2, SEQUENTIAL_ONLY: 0x4, NO_INTERMEDIATE_BUFFERING: 0x8, SYNCHRONOUS_IO_ALERT: 0x10,
  SYNCHRONOUS_IO_NONALERT: 0x20, DELETE_ON_CLOSE: 0x1000,
} as const;

/** FileDispositionInformationEx Flags (MS-FSCC 2.4.12). */
export const FILE_DISPOSITION = {
  DO_NOT_DELETE: 0x0, DELETE: 0x1, POSIX_SEMANTICS: 0x2, FORCE_IMAGE_SECTION_CHECK: 0x4, ON_CLOSE: 0x8,
  IGNORE_READONLY_ATTRIBUTE: 0x10,
} as const;

/** Longest name or path in any class, in UTF-16 bytes (32767 characters, the Windows path limit). */
export const MAX_NAME_BYTES = 65534;
const MAX_EAS = 1024;
const MAX_I64 = 2n ** 63n - 1n;

// ---------------------------------------------------------------------------------------------
// FILETIME (MS-FSCC 2.1.1; MS-DTYP 2.3.3)

/** FILETIME of 1970-01-01T00:00:00Z: 100 ns intervals since 1601-01-01. */
export const FILETIME_UNIX_EPOCH = 116444736000000000n;

/**
 * VFS time (ns since 1970, may be negative) → FILETIME (100 ns since 1601), rounded down to the
 * 100 ns tick and clamped to [0, 2^63-1]. Times before 1601 become 0, which SMB reads as
 * "unknown"; nothing in a VFS reaches that far back.
 */
export function nsToFiletime(ns: bigint): bigint {
  let ticks = ns / 100n;
  if (ns < 0n && ns % 100n !== 0n) ticks -= 1n; // floor, not truncation toward zero
  const ft = ticks + FILETIME_UNIX_EPOCH;
  return ft < 0n ? 0n : ft > MAX_I64 ? MAX_I64 : ft;
}

/** FILETIME → ns since 1970 (exact: a tick is 100 ns). Throws WireError outside 0..2^63-1 (negative as a signed LARGE_INTEGER). */
export function filetimeToNs(ft: bigint): bigint {
  if (ft < 0n || ft > MAX_I64) throw new WireError(`FILETIME ${ft} out of range`);
  return (ft - FILETIME_UNIX_EPOCH) * 100n;
}

/**
 * A time field of SET_INFO FileBasicInformation (MS-FSCC 2.4.7): 0 = leave unchanged; -1 = leave
 * unchanged and stop the server's automatic updates of it for the rest of this handle ('freeze');
 * -2 = resume them ('unfreeze'); otherwise set it to `ns` (ns since 1970).
 */
export type SetTime = { kind: 'keep' } | { kind: 'freeze' } | { kind: 'unfreeze' } | { kind: 'set'; ns: bigint };

/** Interprets a raw u64 SET_INFO time. Values below -2 (as a signed 64-bit integer) are a WireError (STATUS_INVALID_PARAMETER, MS-FSA 2.1.5.15.2). */
export function decodeSetTime(raw: bigint, what = 'time'): SetTime {
  if (raw === 0n) return { kind: 'keep' };
  if (raw === 0xffffffffffffffffn) return { kind: 'freeze' };
  if (raw === 0xfffffffffffffffen) return { kind: 'unfreeze' };
  if (raw > MAX_I64) throw new WireError(`${what}: negative FILETIME below -2`);
  return { kind: 'set', ns: filetimeToNs(raw) };
}

// ---------------------------------------------------------------------------------------------
// From a VFS Attr to the shared fields

/**
 * What the file classes share, in wire units: times as FILETIME, sizes in bytes (bigint).
 * `fileId` is the 64-bit IndexNumber (the VFS inode number).
 */
export interface FileInfo {
  creationTime: bigint;
  lastAccessTime: bigint;
  lastWriteTime: bigint;
  changeTime: bigint;
  endOfFile: bigint;
  allocationSize: bigint;
  /** FILE_ATTRIBUTE_* bits, never 0 (NORMAL when nothing else applies). */
  attributes: number;
  nlink: number;
  directory: boolean;
  fileId: bigint;
  /** IO_REPARSE_TAG_* when `attributes` has REPARSE_POINT, else 0. */
  reparseTag: number;
  /** Bytes the file's EAs take as FILE_FULL_EA_INFORMATION (0: none). */
  eaSize: number;
}

/** Default allocation unit (bytes): 8 sectors of 512, as FileFsSizeInformation advertises. */
export const ALLOCATION_UNIT = 4096;

/**
 * FILE_ATTRIBUTE_* bits of a VFS file: `dos` holds the DOS bits kept elsewhere (an xattr), of
 * which DIRECTORY, NORMAL and REPARSE_POINT are ignored and recomputed: a directory has
 * DIRECTORY, a symlink has REPARSE_POINT (tag IO_REPARSE_TAG_SYMLINK), and a result with no bit
 * set is NORMAL (MS-FSCC 2.6: NORMAL is valid only alone).
 */
export function fileAttributesOf(attr: Pick<Attr, 'type'>, dos = 0): number {
  let a = (dos >>> 0) & ~(FILE_ATTRIBUTE.DIRECTORY | FILE_ATTRIBUTE.NORMAL | FILE_ATTRIBUTE.REPARSE_POINT);
  if (attr.type === 'dir') a |= FILE_ATTRIBUTE.DIRECTORY;
  if (attr.type === 'symlink') a |= FILE_ATTRIBUTE.REPARSE_POINT;
  return a === 0 ? FILE_ATTRIBUTE.NORMAL : a >>> 0;
}

/**
 * AllocationSize in bytes. The choice: directories report 0 (as Samba does); a file reports its
 * stored bytes (`blocks` × 512) rounded up to `unit` (default 4096, the cluster size of
 * FileFsSizeInformation, not the record size: a 1 MiB record would make every small file look
 * like 1 MiB in Explorer's "size on disk"). A file not marked SPARSE_FILE reports at least its
 * EndOfFile rounded up, because Windows assumes AllocationSize ≥ EndOfFile for non-sparse files
 * and `blocks` may lag behind a write still in the handle's buffer.
 */
export function allocationSizeOf(attr: Pick<Attr, 'type' | 'size' | 'blocks'>, dos = 0, unit = ALLOCATION_UNIT): bigint {
  if (attr.type === 'dir') return 0n;
  const u = BigInt(Math.max(1, Math.trunc(unit)));
  let bytes = BigInt(Math.max(0, attr.blocks)) * 512n;
  if ((dos & FILE_ATTRIBUTE.SPARSE_FILE) === 0 && BigInt(Math.max(0, attr.size)) > bytes) bytes = BigInt(attr.size);
  return ((bytes + u - 1n) / u) * u;
}

/** Options for `fileInfoOf`. */
export interface FileInfoOptions {
  /** DOS attribute bits kept in an xattr (see fileAttributesOf). */
  dos?: number;
  /** Allocation unit in bytes (default 4096). */
  allocationUnit?: number;
  eaSize?: number;
}

/**
 * The shared fields of a VFS file. CreationTime is the birth time, ChangeTime the ctime (the
 * POSIX ctime is the closest thing to NTFS's ChangeTime: both move on metadata changes).
 * Directories report EndOfFile 0.
 */
export function fileInfoOf(attr: Attr, opts: FileInfoOptions = {}): FileInfo {
  const dos = opts.dos ?? 0;
  const attributes = fileAttributesOf(attr, dos);
  return {
    creationTime: nsToFiletime(attr.birthtimeNs),
    lastAccessTime: nsToFiletime(attr.atimeNs),
    lastWriteTime: nsToFiletime(attr.mtimeNs),
    changeTime: nsToFiletime(attr.ctimeNs),
    endOfFile: attr.type === 'dir' ? 0n : BigInt(Math.max(0, attr.size)),
    allocationSize: allocationSizeOf(attr, dos, opts.allocationUnit),
    attributes,
    nlink: attr.nlink,
    directory: attr.type === 'dir',
    fileId: BigInt(attr.ino),
    reparseTag: (attributes & FILE_ATTRIBUTE.REPARSE_POINT) !== 0 ? IO_REPARSE_TAG.SYMLINK : 0,
    eaSize: opts.eaSize ?? 0,
  };
}

// ---------------------------------------------------------------------------------------------
// File information classes: encoders (server answers)

function times(w: Writer, i: FileInfo): Writer {
  return w.u64(i.creationTime).u64(i.lastAccessTime).u64(i.lastWriteTime).u64(i.changeTime);
}

/** FileBasicInformation (2.4.7): 40 bytes — four FILETIMEs, FileAttributes, 4 reserved. */
export function encodeFileBasicInformation(i: FileInfo): Buffer {
  return times(new Writer(40), i).u32(i.attributes).u32(0).finish();
}

/** FileStandardInformation (2.4.41): 24 bytes — AllocationSize, EndOfFile, NumberOfLinks, DeletePending, Directory, 2 reserved. */
export function encodeFileStandardInformation(i: FileInfo, deletePending = false): Buffer {
  return new Writer(24).u64(i.allocationSize).u64(i.endOfFile).u32(i.nlink).u8(deletePending ? 1 : 0).u8(i.directory ? 1 : 0).u16(0).finish();
}

/** FileInternalInformation (2.4.22): 8 bytes — IndexNumber (the inode number). */
export function encodeFileInternalInformation(i: FileInfo): Buffer {
  return new Writer(8).u64(i.fileId).finish();
}

/** FileEaInformation (2.4.13): 4 bytes — EaSize. */
export function encodeFileEaInformation(i: FileInfo): Buffer {
  return new Writer(4).u32(i.eaSize).finish();
}

/** FileAccessInformation (2.4.1): 4 bytes — the open's granted AccessFlags. */
export function encodeFileAccessInformation(accessMask: number): Buffer {
  return new Writer(4).u32(accessMask).finish();
}

/**
 * FileNameInformation (2.4.27), also FileAlternateNameInformation (2.4.5) and
 * FileNormalizedNameInformation (2.4.30): FileNameLength (4) then the UTF-16 name, no terminator.
 * Throws RangeError for a name over MAX_NAME_BYTES.
 */
export function encodeFileNameInformation(name: string): Buffer {
  const n = utf16Bytes(name);
  return new Writer(4 + n.length).u32(n.length).bytes(n).finish();
}

/** FilePositionInformation (2.4.35): 8 bytes — CurrentByteOffset. */
export function encodeFilePositionInformation(position: bigint): Buffer {
  return new Writer(8).u64(position).finish();
}

/** FileModeInformation (2.4.26): 4 bytes — Mode (FILE_MODE bits). */
export function encodeFileModeInformation(mode: number): Buffer {
  return new Writer(4).u32(mode).finish();
}

/** FileAlignmentInformation (2.4.3): 4 bytes — AlignmentRequirement (0 = FILE_BYTE_ALIGNMENT). */
export function encodeFileAlignmentInformation(alignment = 0): Buffer {
  return new Writer(4).u32(alignment).finish();
}

/** The open-specific fields FileAllInformation adds to FileInfo. */
export interface OpenState {
  /** Granted access mask of the open. */
  accessMask: number;
  position: bigint;
  /** FILE_MODE bits. */
  mode: number;
  deletePending: boolean;
}

/** Size of FileAllInformation without the name: 40 + 24 + 8 + 4 + 4 + 8 + 4 + 4 + 4 (2.4.2). */
export const FILE_ALL_INFORMATION_FIXED = 100;

/**
 * FileAllInformation (2.4.2): Basic (40) ‖ Standard (24) ‖ Internal (8) ‖ Ea (4) ‖ Access (4) ‖
 * Position (8) ‖ Mode (4) ‖ Alignment (4) ‖ Name (4 + name). `name` is the path from the share
 * root, e.g. "\\dir\\file.txt".
 */
export function encodeFileAllInformation(i: FileInfo, open: OpenState, name: string): Buffer {
  return Buffer.concat([
    encodeFileBasicInformation(i), encodeFileStandardInformation(i, open.deletePending), encodeFileInternalInformation(i),
    encodeFileEaInformation(i), encodeFileAccessInformation(open.accessMask), encodeFilePositionInformation(open.position),
    encodeFileModeInformation(open.mode), encodeFileAlignmentInformation(0), encodeFileNameInformation(name),
  ]);
}

/** FileCompressionInformation (2.4.9): 16 bytes. Format 0 = COMPRESSION_FORMAT_NONE; shifts as NTFS reports for 4 KiB clusters. */
export function encodeFileCompressionInformation(i: FileInfo, format = 0): Buffer {
  const w = new Writer(16).u64(i.endOfFile).u16(format);
  return (format === 0 ? w.u8(0).u8(0).u8(0) : w.u8(4).u8(16).u8(12)).zeros(3).finish();
}

/** FileNetworkOpenInformation (2.4.29): 56 bytes — four FILETIMEs, AllocationSize, EndOfFile, FileAttributes, 4 reserved. */
export function encodeFileNetworkOpenInformation(i: FileInfo): Buffer {
  return times(new Writer(56), i).u64(i.allocationSize).u64(i.endOfFile).u32(i.attributes).u32(0).finish();
}

/** FileAttributeTagInformation (2.4.6): 8 bytes — FileAttributes, ReparseTag. */
export function encodeFileAttributeTagInformation(i: FileInfo): Buffer {
  return new Writer(8).u32(i.attributes).u32(i.reparseTag).finish();
}

/**
 * FileIdInformation (2.4.25): 24 bytes — VolumeSerialNumber (8), FileId (16). The 128-bit id is
 * the inode number in its low 8 bytes and zeros above, so it agrees with FileInternalInformation.
 */
export function encodeFileIdInformation(i: FileInfo, volumeSerial: bigint): Buffer {
  return new Writer(24).u64(volumeSerial).u64(i.fileId).u64(0n).finish();
}

/** One alternate data stream (FileStreamInformation). `name` as Windows shows it, e.g. "::$DATA", ":tag:$DATA". */
export interface StreamEntry {
  name: string;
  size: bigint;
  allocationSize: bigint;
}

/**
 * FileStreamInformation (2.4.43): entries of NextEntryOffset (4), StreamNameLength (4),
 * StreamSize (8), StreamAllocationSize (8), StreamName, each starting 8-byte aligned; the last
 * has NextEntryOffset 0 and no padding after it. An empty list is an empty buffer (a directory
 * without named streams).
 */
export function encodeFileStreamInformation(streams: readonly StreamEntry[]): Buffer {
  const w = new Writer(64);
  let prev = -1;
  for (const s of streams) {
    if (prev >= 0) {
      w.align(8);
      w.patchU32(prev, w.length - prev);
    }
    prev = w.length;
    const n = utf16Bytes(s.name);
    w.u32(0).u32(n.length).u64(s.size).u64(s.allocationSize).bytes(n);
  }
  return w.finish();
}

/** One extended attribute (FILE_FULL_EA_INFORMATION, 2.4.15). Name: 1–255 bytes of ASCII without NUL. */
export interface Ea {
  /** FILE_NEED_EA (0x80) or 0. */
  flags: number;
  name: string;
  value: Buffer;
}

/**
 * FileFullEaInformation (2.4.15): entries of NextEntryOffset (4), Flags (1), EaNameLength (1),
 * EaValueLength (2), EaName, NUL, EaValue, each starting 4-byte aligned. An empty list is an
 * empty buffer (the server may answer STATUS_NO_EAS_ON_FILE instead). Throws RangeError for a
 * name that is empty, over 255 bytes or not printable ASCII, or a value over 65535 bytes.
 */
export function encodeFileFullEaInformation(eas: readonly Ea[]): Buffer {
  const w = new Writer(64);
  let prev = -1;
  for (const ea of eas) {
    if (!/^[\x20-\x7e]{1,255}$/.test(ea.name)) throw new RangeError(`EA name ${JSON.stringify(ea.name)} is not 1-255 ASCII characters`);
    if (ea.value.length > 0xffff) throw new RangeError('EA value over 65535 bytes');
    if (prev >= 0) {
      w.align(4);
      w.patchU32(prev, w.length - prev);
    }
    prev = w.length;
    w.u32(0).u8(ea.flags).u8(ea.name.length).u16(ea.value.length).bytes(Buffer.from(ea.name, 'latin1')).u8(0).bytes(ea.value);
  }
  return w.finish();
}

/** Everything `encodeQueryFileInfo` may need besides the class. */
export interface QueryFileSource {
  info: FileInfo;
  open: OpenState;
  /** Path from the share root with backslashes ("\\" for the root). */
  name: string;
  volumeSerial: bigint;
  /** Named streams; default: "::$DATA" for a file, none for a directory. */
  streams?: readonly StreamEntry[];
  eas?: readonly Ea[];
}

/**
 * The QUERY_INFO (SMB2_0_INFO_FILE) answer for `cls`, or undefined for a class not served here
 * (the server answers STATUS_INVALID_INFO_CLASS; FileAlternateNameInformation is among them:
 * the server makes it from short-name.ts). The server truncates
 * variable-length answers to OutputBufferLength (STATUS_BUFFER_OVERFLOW) per MS-SMB2 3.3.5.20.1.
 */
export function encodeQueryFileInfo(cls: number, s: QueryFileSource): Buffer | undefined {
  const i = s.info;
  switch (cls) {
    case FILE_INFO.Basic: return encodeFileBasicInformation(i);
    case FILE_INFO.Standard: return encodeFileStandardInformation(i, s.open.deletePending);
    case FILE_INFO.Internal: return encodeFileInternalInformation(i);
    case FILE_INFO.Ea: return encodeFileEaInformation(i);
    case FILE_INFO.Access: return encodeFileAccessInformation(s.open.accessMask);
    case FILE_INFO.Position: return encodeFilePositionInformation(s.open.position);
    case FILE_INFO.Mode: return encodeFileModeInformation(s.open.mode);
    case FILE_INFO.Alignment: return encodeFileAlignmentInformation(0);
    case FILE_INFO.All: return encodeFileAllInformation(i, s.open, s.name);
    case FILE_INFO.Name: case FILE_INFO.NormalizedName: return encodeFileNameInformation(s.name);
    case FILE_INFO.Stream:
      return encodeFileStreamInformation(s.streams ?? (i.directory ? [] : [{ name: '::$DATA', size: i.endOfFile, allocationSize: i.allocationSize }]));
    case FILE_INFO.FullEa: return encodeFileFullEaInformation(s.eas ?? []);
    case FILE_INFO.Compression: return encodeFileCompressionInformation(i);
    case FILE_INFO.NetworkOpen: return encodeFileNetworkOpenInformation(i);
    case FILE_INFO.AttributeTag: return encodeFileAttributeTagInformation(i);
    case FILE_INFO.Id: return encodeFileIdInformation(i, s.volumeSerial);
    default: return undefined;
  }
}

/**
 * The smallest OutputBufferLength each QUERY_INFO file class accepts: below it the server answers
 * STATUS_INFO_LENGTH_MISMATCH; above it and below the answer's length, it truncates and answers
 * STATUS_BUFFER_OVERFLOW (MS-SMB2 3.3.5.20.1, MS-FSA 2.1.5.12). For the classes ending in a
 * name MS-FSA names sizeof() of the Windows structure, whose one-character name array pads it
 * to its alignment: FILE_NAME_INFORMATION 8, FILE_STREAM_INFORMATION 32, FILE_ALL_INFORMATION
 * 104 (Windows and Samba answer so; smbtorture smb2.getinfo.qfile_buffercheck checks it).
 */
export const QUERY_FILE_MIN_SIZE: Readonly<Record<number, number>> = {
  [FILE_INFO.Basic]: 40, [FILE_INFO.Standard]: 24, [FILE_INFO.Internal]: 8, [FILE_INFO.Ea]: 4, [FILE_INFO.Access]: 4,
  [FILE_INFO.Position]: 8, [FILE_INFO.Mode]: 4, [FILE_INFO.Alignment]: 4, [FILE_INFO.All]: 104,
  [FILE_INFO.Name]: 8, [FILE_INFO.NormalizedName]: 8, [FILE_INFO.AlternateName]: 8, [FILE_INFO.Stream]: 32, [FILE_INFO.FullEa]: 0,
  [FILE_INFO.Compression]: 16, [FILE_INFO.NetworkOpen]: 56, [FILE_INFO.AttributeTag]: 8, [FILE_INFO.Id]: 24,
};

// ---------------------------------------------------------------------------------------------
// File information classes: decoders (SET_INFO input)

function fixed(b: Buffer, need: number, what: string): Reader {
  if (b.length < need) throw new InfoLengthError(what, need, b.length);
  return new Reader(b);
}

function i64(r: Reader, what: string): bigint {
  const v = r.u64(what);
  if (v > MAX_I64) throw new WireError(`${what}: negative value`);
  return v;
}

/** SET_INFO FileBasicInformation (2.4.7): each time a SetTime; `attributes` 0 = leave unchanged. Needs 36 bytes (the trailing Reserved may be absent). */
export interface SetBasicInformation {
  creationTime: SetTime;
  lastAccessTime: SetTime;
  lastWriteTime: SetTime;
  changeTime: SetTime;
  attributes: number;
}

export function decodeFileBasicInformation(b: Buffer): SetBasicInformation {
  const r = fixed(b, 36, 'FileBasicInformation');
  return {
    creationTime: decodeSetTime(r.u64(), 'CreationTime'), lastAccessTime: decodeSetTime(r.u64(), 'LastAccessTime'),
    lastWriteTime: decodeSetTime(r.u64(), 'LastWriteTime'), changeTime: decodeSetTime(r.u64(), 'ChangeTime'), attributes: r.u32(),
  };
}

/**
 * SET_INFO FileRenameInformation (2.4.37.2, the SMB2 layout) and FileLinkInformation (2.4.24.2):
 * ReplaceIfExists (1), Reserved (7), RootDirectory (8; MUST be 0 over SMB2 — the server refuses
 * others), FileNameLength (4), FileName (UTF-16, a path from the share root or a bare name).
 */
export interface SetRenameInformation {
  replaceIfExists: boolean;
  rootDirectory: bigint;
  fileName: string;
}

function decodeRenameLike(b: Buffer, what: string): SetRenameInformation {
  const r = fixed(b, 20, what);
  const replaceIfExists = r.u8() !== 0;
  r.skip(7);
  const rootDirectory = r.u64('RootDirectory');
  const len = r.u32('FileNameLength');
  if (len === 0) throw new WireError(`${what}: empty FileName`);
  return { replaceIfExists, rootDirectory, fileName: r.utf16(len, MAX_NAME_BYTES, 'FileName') };
}

export function decodeFileRenameInformation(b: Buffer): SetRenameInformation {
  return decodeRenameLike(b, 'FileRenameInformation');
}

export function decodeFileLinkInformation(b: Buffer): SetRenameInformation {
  return decodeRenameLike(b, 'FileLinkInformation');
}

/** SET_INFO FileDispositionInformation (2.4.11): DeletePending (1 byte, nonzero = true). */
export function decodeFileDispositionInformation(b: Buffer): { deletePending: boolean } {
  return { deletePending: fixed(b, 1, 'FileDispositionInformation').u8() !== 0 };
}

/** SET_INFO FileDispositionInformationEx (2.4.12): Flags (4; FILE_DISPOSITION bits, unknown bits kept for the server to refuse). */
export function decodeFileDispositionInformationEx(b: Buffer): { flags: number } {
  return { flags: fixed(b, 4, 'FileDispositionInformationEx').u32() };
}

/** SET_INFO FilePositionInformation (2.4.35): CurrentByteOffset, 0..2^63-1. */
export function decodeFilePositionInformation(b: Buffer): bigint {
  return i64(fixed(b, 8, 'FilePositionInformation'), 'CurrentByteOffset');
}

/** SET_INFO FileModeInformation (2.4.26): Mode (FILE_MODE bits; validity is the server's check). */
export function decodeFileModeInformation(b: Buffer): number {
  return fixed(b, 4, 'FileModeInformation').u32();
}

/** SET_INFO FileAllocationInformation (2.4.4): AllocationSize, 0..2^63-1. */
export function decodeFileAllocationInformation(b: Buffer): bigint {
  return i64(fixed(b, 8, 'FileAllocationInformation'), 'AllocationSize');
}

/** SET_INFO FileEndOfFileInformation (2.4.14): EndOfFile, 0..2^63-1. */
export function decodeFileEndOfFileInformation(b: Buffer): bigint {
  return i64(fixed(b, 8, 'FileEndOfFileInformation'), 'EndOfFile');
}

/**
 * SET_INFO FileFullEaInformation (2.4.15): the EA list. Throws WireError on an entry running past
 * the buffer, a NextEntryOffset that is not 4-aligned or does not move past its entry, a missing
 * NUL after EaName, an empty or non-ASCII name, or more than 1024 entries.
 */
export function decodeFileFullEaInformation(b: Buffer): Ea[] {
  const out: Ea[] = [];
  let pos = 0;
  for (;;) {
    if (out.length >= MAX_EAS) throw new WireError(`FileFullEaInformation: more than ${MAX_EAS} entries`);
    const r = new Reader(b, pos);
    const next = r.u32('NextEntryOffset'), flags = r.u8('Flags'), nameLen = r.u8('EaNameLength'), valueLen = r.u16('EaValueLength');
    if (nameLen === 0) throw new WireError('FileFullEaInformation: empty EaName');
    const name = r.bytes(nameLen, 255, 'EaName');
    if (r.u8('EaName terminator') !== 0) throw new WireError('FileFullEaInformation: EaName not NUL-terminated');
    if (!name.every((c) => c >= 0x20 && c < 0x7f)) throw new WireError('FileFullEaInformation: EaName is not printable ASCII');
    out.push({ flags, name: name.toString('latin1'), value: r.bytes(valueLen, 0xffff, 'EaValue') });
    if (next === 0) return out;
    if (next % 4 !== 0 || next < 9 + nameLen + valueLen) throw new WireError(`FileFullEaInformation: bad NextEntryOffset ${next}`);
    pos += next;
    if (pos >= b.length) throw new WireError('FileFullEaInformation: NextEntryOffset past the buffer');
  }
}

// ---------------------------------------------------------------------------------------------
// File system information classes (2.5): encoders

/** FileFsVolumeInformation (2.5.9): VolumeCreationTime (8), VolumeSerialNumber (4), VolumeLabelLength (4), SupportsObjects (1), Reserved (1), VolumeLabel. */
export interface FsVolumeInfo {
  /** FILETIME. */
  creationTime: bigint;
  serialNumber: number;
  label: string;
  supportsObjects: boolean;
}

export function encodeFsVolumeInformation(v: FsVolumeInfo): Buffer {
  const n = utf16Bytes(v.label);
  return new Writer(18 + n.length).u64(v.creationTime).u32(v.serialNumber).u32(n.length).u8(v.supportsObjects ? 1 : 0).u8(0).bytes(n).finish();
}

/** Space on the volume in allocation units (FileFsSizeInformation / FileFsFullSizeInformation). */
export interface FsSizeInfo {
  totalUnits: bigint;
  /** Free units available to the caller (quota-limited). */
  callerAvailableUnits: bigint;
  /** Free units on the volume. */
  actualAvailableUnits: bigint;
  sectorsPerUnit: number;
  bytesPerSector: number;
}

/**
 * The sizes of a VFS StatFs in units of `unit` bytes (default 4096 = 8 sectors of 512, matching
 * ALLOCATION_UNIT): bavail → caller, bfree → actual. Rounds totals down (never promises space
 * that is not there).
 */
export function fsSizeOf(st: StatFs, unit = ALLOCATION_UNIT): FsSizeInfo {
  const u = BigInt(unit), bs = BigInt(Math.max(0, st.bsize));
  const conv = (n: number): bigint => (BigInt(Math.max(0, n)) * bs) / u;
  return { totalUnits: conv(st.blocks), callerAvailableUnits: conv(st.bavail), actualAvailableUnits: conv(st.bfree), sectorsPerUnit: unit / 512, bytesPerSector: 512 };
}

/** FileFsSizeInformation (2.5.8): 24 bytes — TotalAllocationUnits, AvailableAllocationUnits (the caller's), SectorsPerAllocationUnit, BytesPerSector. */
export function encodeFsSizeInformation(s: FsSizeInfo): Buffer {
  return new Writer(24).u64(s.totalUnits).u64(s.callerAvailableUnits).u32(s.sectorsPerUnit).u32(s.bytesPerSector).finish();
}

/** FileFsFullSizeInformation (2.5.4): 32 bytes — Total, CallerAvailable, ActualAvailable units, SectorsPerAllocationUnit, BytesPerSector. */
export function encodeFsFullSizeInformation(s: FsSizeInfo): Buffer {
  return new Writer(32).u64(s.totalUnits).u64(s.callerAvailableUnits).u64(s.actualAvailableUnits).u32(s.sectorsPerUnit).u32(s.bytesPerSector).finish();
}

/** FileFsDeviceInformation (2.5.10): 8 bytes — DeviceType (FILE_DEVICE_DISK), Characteristics. */
export function encodeFsDeviceInformation(characteristics: number = FILE_DEVICE_CHARACTERISTICS.DEVICE_IS_MOUNTED, deviceType = FILE_DEVICE_DISK): Buffer {
  return new Writer(8).u32(deviceType).u32(characteristics).finish();
}

/** FileFsAttributeInformation (2.5.1): FileSystemAttributes (FILE_FS bits), MaximumComponentNameLength, FileSystemNameLength, FileSystemName (UTF-16, e.g. "NTFS"). */
export interface FsAttributeInfo {
  attributes: number;
  maxComponentNameLength: number;
  fileSystemName: string;
}

/** What this gateway announces: case-preserving, Unicode, ACLs, sparse files, named streams, object ids (issue 7). */
export const DEFAULT_FS_ATTRIBUTES = FILE_FS.CASE_PRESERVED_NAMES | FILE_FS.UNICODE_ON_DISK | FILE_FS.PERSISTENT_ACLS
  | FILE_FS.SUPPORTS_SPARSE_FILES | FILE_FS.NAMED_STREAMS | FILE_FS.SUPPORTS_OBJECT_IDS;

export function encodeFsAttributeInformation(a: FsAttributeInfo): Buffer {
  const n = utf16Bytes(a.fileSystemName);
  return new Writer(12 + n.length).u32(a.attributes).u32(a.maxComponentNameLength).u32(n.length).bytes(n).finish();
}

/** FileFsObjectIdInformation (2.5.6): 64 bytes — ObjectId (a 16-byte GUID), ExtendedInfo (48 bytes, zeros by default). Throws RangeError for wrong sizes. */
export function encodeFsObjectIdInformation(objectId: Buffer, extendedInfo: Buffer = Buffer.alloc(48)): Buffer {
  if (objectId.length !== 16 || extendedInfo.length !== 48) throw new RangeError('ObjectId is 16 bytes and ExtendedInfo 48');
  return Buffer.concat([objectId, extendedInfo]);
}

/** FileFsSectorSizeInformation (2.5.7): 28 bytes, seven u32 fields. */
export interface FsSectorSizeInfo {
  logicalBytesPerSector: number;
  physicalBytesPerSectorForAtomicity: number;
  physicalBytesPerSectorForPerformance: number;
  fileSystemEffectivePhysicalBytesPerSectorForAtomicity: number;
  /** SSINFO_FLAGS bits. */
  flags: number;
  byteOffsetForSectorAlignment: number;
  byteOffsetForPartitionAlignment: number;
}

/** 512-byte logical sectors, 4 KiB physical ones, aligned. */
export const DEFAULT_SECTOR_SIZE: FsSectorSizeInfo = {
  logicalBytesPerSector: 512, physicalBytesPerSectorForAtomicity: 4096, physicalBytesPerSectorForPerformance: 4096,
  fileSystemEffectivePhysicalBytesPerSectorForAtomicity: 4096,
  flags: SSINFO_FLAGS.ALIGNED_DEVICE | SSINFO_FLAGS.PARTITION_ALIGNED_ON_DEVICE, byteOffsetForSectorAlignment: 0, byteOffsetForPartitionAlignment: 0,
};

export function encodeFsSectorSizeInformation(s: FsSectorSizeInfo = DEFAULT_SECTOR_SIZE): Buffer {
  return new Writer(28).u32(s.logicalBytesPerSector).u32(s.physicalBytesPerSectorForAtomicity).u32(s.physicalBytesPerSectorForPerformance)
    .u32(s.fileSystemEffectivePhysicalBytesPerSectorForAtomicity).u32(s.flags).u32(s.byteOffsetForSectorAlignment)
    .u32(s.byteOffsetForPartitionAlignment).finish();
}

/** The smallest OutputBufferLength per file system class (MS-FSA 2.1.5.13; FileFsVolumeInformation: BlockAlign(18, 8) = 24), as QUERY_FILE_MIN_SIZE. */
export const QUERY_FS_MIN_SIZE: Readonly<Record<number, number>> = {
  [FS_INFO.Volume]: 24, [FS_INFO.Size]: 24, [FS_INFO.Device]: 8, [FS_INFO.Attribute]: 12, [FS_INFO.FullSize]: 32,
  [FS_INFO.ObjectId]: 64, [FS_INFO.SectorSize]: 28,
};

// ---------------------------------------------------------------------------------------------

/** UTF-16LE bytes of a name; RangeError above MAX_NAME_BYTES (an encoder's caller bug, not wire input). */
export function utf16Bytes(s: string): Buffer {
  const b = Buffer.from(s, 'utf16le');
  if (b.length > MAX_NAME_BYTES) throw new RangeError(`name of ${b.length} UTF-16 bytes (max ${MAX_NAME_BYTES})`);
  return b;
}
