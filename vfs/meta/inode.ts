import { Errno, VfsError } from '../errno.js';

import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../types.js';

export { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG };

/**
 * An inode as stored under key 'I' ino (vfs/meta/keys.ts). Times are ns since the epoch.
 * `parent` is kept for directories only (they have one parent; rename checks ancestry with it).
 * `nextCookie` is the next readdir cookie a directory hands out (cookies 1, 2 stand for '.', '..').
 */
export interface Inode {
  ino: number;
  gen: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  /** Logical bytes held in extents (for st_blocks and quotas). */
  allocated: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  birthtimeNs: bigint;
  parent: number;
  nextCookie: number;
  /** Bytes per record for this file's extents. */
  recordSize: number;
  /** Symlink target ('' for others). */
  target: string;
  /**
   * The innermost directory quota the inode counts against (vfs/meta/quota.ts): that directory's
   * inode number, or 0. A directory with a quota of its own carries its own number. Set at
   * creation from the parent; older records without it read as 0.
   */
  project: number;
  /** The retention (WORM) directory the inode is under (vfs/meta/retention.ts), or 0; like project. */
  worm: number;
  /**
   * The compression setting new blocks of this file get (a directory: what is created in it
   * inherits), coded as COMPRESS_* below; 0 = none of its own, the pool's setting applies.
   * Set at creation from the parent, like project and worm; `dw compression set --dir` changes
   * a directory's only, so files already there keep the setting they were created with.
   * Older records without it read as 0.
   */
  compress: number;
  /**
   * Deduplication of this file's new records (a directory: of what is created in it), as
   * DEDUP_*: 0 = the pool's setting. Set at creation from the parent, like compress; changed on
   * a directory by `dw dedup set --dir`. Older records without it read as 0.
   */
  dedup: number;
}

/** Per-directory/per-file dedup setting (the u8 after compress in the inode trailer). */
export const DEDUP_INHERIT = 0, DEDUP_OFF = 1, DEDUP_ON = 2;

/**
 * A per-directory/per-file compression setting as the u16 of the inode trailer: low byte the
 * algorithm (0 none of its own: the pool's; 1 off; 2 lz4; 3 zstd), high byte the zstd level.
 * vfs/meta does not know the codecs (raid/compress.ts does); vfs/compression.ts converts.
 */
export const COMPRESS_INHERIT = 0, COMPRESS_OFF = 1, COMPRESS_LZ4 = 2, COMPRESS_ZSTD = 3;

const VERSION = 1;
const FIXED = 1 + 8 + 4 + 4 + 4 + 4 + 4 + 4 + 8 + 8 + 8 * 4 + 8 + 8 + 4 + 2;

/** Encodes an inode record: fixed little-endian fields then the symlink target (≤ 4095 bytes). */
export function encodeInode(n: Inode): Buffer {
  const target = Buffer.from(n.target, 'utf8');
  const trailer = n.dedup ? 19 : n.compress ? 18 : n.worm ? 16 : n.project ? 8 : 0;
  const b = Buffer.alloc(FIXED + target.length + trailer);
  let o = 0;
  b.writeUInt8(VERSION, o); o += 1;
  b.writeBigUInt64LE(BigInt(n.ino), o); o += 8;
  b.writeUInt32LE(n.gen >>> 0, o); o += 4;
  b.writeUInt32LE(n.mode >>> 0, o); o += 4;
  b.writeUInt32LE(n.nlink >>> 0, o); o += 4;
  b.writeUInt32LE(n.uid >>> 0, o); o += 4;
  b.writeUInt32LE(n.gid >>> 0, o); o += 4;
  b.writeUInt32LE(n.rdev >>> 0, o); o += 4;
  b.writeBigUInt64LE(BigInt(n.size), o); o += 8;
  b.writeBigUInt64LE(BigInt(n.allocated), o); o += 8;
  for (const t of [n.atimeNs, n.mtimeNs, n.ctimeNs, n.birthtimeNs]) { b.writeBigInt64LE(t, o); o += 8; }
  b.writeBigUInt64LE(BigInt(n.parent), o); o += 8;
  b.writeBigUInt64LE(BigInt(n.nextCookie), o); o += 8;
  b.writeUInt32LE(n.recordSize >>> 0, o); o += 4;
  b.writeUInt16LE(target.length, o); o += 2;
  target.copy(b, o); o += target.length;
  // Optional trailer (older records end before it, each field only as far as needed): project
  // u64, worm u64, compress u16, dedup u8. A reader ignores bytes past the fields it knows.
  if (trailer >= 8) b.writeBigUInt64LE(BigInt(n.project), o);
  if (trailer >= 16) b.writeBigUInt64LE(BigInt(n.worm), o + 8);
  if (trailer >= 18) b.writeUInt16LE(n.compress & 0xffff, o + 16);
  if (trailer >= 19) b.writeUInt8(n.dedup & 0xff, o + 18);
  return b;
}

/** Decodes a record written by encodeInode; a short or unknown record is EIO (corrupt metadata). */
export function decodeInode(b: Buffer): Inode {
  if (b.length < FIXED || b[0] !== VERSION) throw new VfsError(Errno.EIO, 'corrupt inode record');
  let o = 1;
  const u64 = () => { const v = Number(b.readBigUInt64LE(o)); o += 8; return v; };
  const u32 = () => { const v = b.readUInt32LE(o); o += 4; return v; };
  const i64 = () => { const v = b.readBigInt64LE(o); o += 8; return v; };
  const ino = u64(), gen = u32(), mode = u32(), nlink = u32(), uid = u32(), gid = u32(), rdev = u32();
  const size = u64(), allocated = u64();
  const atimeNs = i64(), mtimeNs = i64(), ctimeNs = i64(), birthtimeNs = i64();
  const parent = u64(), nextCookie = u64(), recordSize = u32();
  const tlen = b.readUInt16LE(o); o += 2;
  if (o + tlen > b.length) throw new VfsError(Errno.EIO, 'corrupt inode record');
  const target = b.toString('utf8', o, o + tlen);
  o += tlen;
  const project = b.length >= o + 8 ? Number(b.readBigUInt64LE(o)) : 0;
  const worm = b.length >= o + 16 ? Number(b.readBigUInt64LE(o + 8)) : 0;
  const compress = b.length >= o + 18 ? b.readUInt16LE(o + 16) : 0;
  const dedup = b.length >= o + 19 ? b.readUInt8(o + 18) : 0;
  return { ino, gen, mode, nlink, uid, gid, rdev, size, allocated, atimeNs, mtimeNs, ctimeNs, birthtimeNs, parent, nextCookie, recordSize, target, project, worm, compress, dedup };
}

export const isDir = (n: Inode) => (n.mode & S_IFMT) === S_IFDIR;
export const isReg = (n: Inode) => (n.mode & S_IFMT) === S_IFREG;
export const isLnk = (n: Inode) => (n.mode & S_IFMT) === S_IFLNK;

/** A directory entry as stored under 'D' parent name: ino, type bits (mode >> 12), cookie. */
export interface Dirent { ino: number; type: number; cookie: number }

export function encodeDirent(d: Dirent): Buffer {
  const b = Buffer.alloc(17);
  b.writeBigUInt64LE(BigInt(d.ino), 0);
  b.writeUInt8(d.type, 8);
  b.writeBigUInt64LE(BigInt(d.cookie), 9);
  return b;
}
export function decodeDirent(b: Buffer): Dirent {
  if (b.length < 17) throw new VfsError(Errno.EIO, 'corrupt directory entry');
  return { ino: Number(b.readBigUInt64LE(0)), type: b.readUInt8(8), cookie: Number(b.readBigUInt64LE(9)) };
}
/** The readdir index row under 'd' parent cookie: ino, type, name (utf8, or sealed: vfs/meta/names.ts). */
export function encodeCookieRow(ino: number, type: number, name: Buffer): Buffer {
  const n = name;
  const b = Buffer.alloc(9 + n.length);
  b.writeBigUInt64LE(BigInt(ino), 0);
  b.writeUInt8(type, 8);
  n.copy(b, 9);
  return b;
}
export function decodeCookieRow(b: Buffer): { ino: number; type: number; name: Buffer } {
  if (b.length < 9) throw new VfsError(Errno.EIO, 'corrupt directory index');
  return { ino: Number(b.readBigUInt64LE(0)), type: b.readUInt8(8), name: b.subarray(9) };
}

/** One chunk of a chunked extent: bytes [offset, offset+length) of a block, in record order. */
export interface Chunk { blockId: number; offset: number; length: number }

/**
 * An extent under 'E' ino offset: the block holding bytes [offset, offset+length) of the file.
 * A record of a deduplicated file is cut into chunks (raid/chunker.ts), each a slice of a block
 * (raid/dedup.ts: the new chunks of a record share one block): its extent lists them in order
 * (`chunks`; `blockId` is then the first one's) and the bytes are their concatenation, cut at
 * `length` (a truncate may leave the last chunk longer). Every chunk holds one reference to its
 * block, the same block as often as it is listed.
 *
 * A small record (a file of a few KiB, a large file's short last record) may instead be kept in
 * the row itself (`inline`, EXTENT_INLINE: no block, no reference; vfs/file.ts INLINE_MAX): its
 * bytes reach the disk with the metadata commit (one WAL write and fdatasync) instead of as k+m
 * shards on k+m devices, each appended and synced — as Btrfs keeps small files in its metadata
 * tree (max_inline) and Ceph BlueStore defers small writes through its RocksDB WAL.
 *
 * Value, little-endian: blockId u64 | length u32 | flags u32, and when flags has
 * EXTENT_CHUNKED: count u32 (1..MAX_CHUNKS) | count × (blockId u64 | offset u32 | length u32);
 * when flags has EXTENT_INLINE (blockId 0): the record's `length` bytes.
 */
export interface Extent { blockId: number; length: number; flags: number; chunks?: Chunk[]; inline?: Buffer }

/** Extent flag: the extent lists chunks (see Extent). */
export const EXTENT_CHUNKED = 1;
/** Extent flag: the record's bytes are in the row (see Extent). */
export const EXTENT_INLINE = 2;
/** Longest inline record a row may hold (decodeExtent refuses longer ones as corrupt). */
export const MAX_INLINE = 64 << 10;
/** Bytes of one chunk entry. */
const ENTRY = 16;
/** Most chunks one extent lists: a 16 MiB record cut at the 2 KiB minimum chunk size (raid/chunker.ts). */
export const MAX_CHUNKS = 8192;

/** The blocks an extent holds a reference to, once per reference. */
export function extentBlocks(e: Extent): number[] {
  if (e.inline) return [];
  return e.chunks ? e.chunks.map((c) => c.blockId) : [e.blockId];
}

export function encodeExtent(e: Extent): Buffer {
  if (e.inline) {
    // A shortened copy of an inline extent (truncate, a shared range's end) keeps its first `length` bytes.
    if (e.length > e.inline.length || e.length > MAX_INLINE) throw new VfsError(Errno.EIO, `an inline extent of ${e.length} bytes holding ${e.inline.length}`);
    const b = Buffer.allocUnsafe(16 + e.length);
    b.writeBigUInt64LE(0n, 0);
    b.writeUInt32LE(e.length, 8);
    b.writeUInt32LE(EXTENT_INLINE, 12);
    b.set(e.inline.subarray(0, e.length), 16);
    return b;
  }
  const chunks = e.chunks && e.chunks.length > 0 ? e.chunks : undefined;
  if (chunks && chunks.length > MAX_CHUNKS) throw new VfsError(Errno.EFBIG, `an extent of ${chunks.length} chunks`);
  const b = Buffer.alloc(16 + (chunks ? 4 + ENTRY * chunks.length : 0));
  b.writeBigUInt64LE(BigInt(chunks ? chunks[0]!.blockId : e.blockId), 0);
  b.writeUInt32LE(e.length, 8);
  b.writeUInt32LE(chunks ? (e.flags | EXTENT_CHUNKED) >>> 0 : (e.flags & ~EXTENT_CHUNKED) >>> 0, 12);
  if (chunks) {
    b.writeUInt32LE(chunks.length, 16);
    chunks.forEach((c, i) => {
      b.writeBigUInt64LE(BigInt(c.blockId), 20 + ENTRY * i);
      b.writeUInt32LE(c.offset, 28 + ENTRY * i);
      b.writeUInt32LE(c.length, 32 + ENTRY * i);
    });
  }
  return b;
}

/** Decodes an extent row; anything malformed (short, a bad chunk count, trailing bytes) is EIO. */
export function decodeExtent(b: Buffer): Extent {
  if (b.length < 16) throw new VfsError(Errno.EIO, 'corrupt extent');
  const e: Extent = { blockId: Number(b.readBigUInt64LE(0)), length: b.readUInt32LE(8), flags: b.readUInt32LE(12) };
  if (e.flags & EXTENT_INLINE) {
    if (e.flags & EXTENT_CHUNKED || e.length > MAX_INLINE || b.length !== 16 + e.length) throw new VfsError(Errno.EIO, 'corrupt extent: bad inline record');
    e.inline = b.subarray(16);
    return e;
  }
  if (!(e.flags & EXTENT_CHUNKED)) return e;
  const count = b.length >= 20 ? b.readUInt32LE(16) : 0;
  if (count < 1 || count > MAX_CHUNKS || b.length !== 20 + ENTRY * count) throw new VfsError(Errno.EIO, 'corrupt extent: bad chunk list');
  const chunks: Chunk[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) {
    const c = { blockId: Number(b.readBigUInt64LE(20 + ENTRY * i)), offset: b.readUInt32LE(28 + ENTRY * i), length: b.readUInt32LE(32 + ENTRY * i) };
    total += c.length;
    chunks.push(c);
  }
  if (total < e.length) throw new VfsError(Errno.EIO, 'corrupt extent: chunks shorter than the extent');
  e.chunks = chunks;
  return e;
}
