/**
 * Per-directory compression (issue 5: "per pool or per directory, inherited by what is created
 * below it"). The setting lives on the inode (vfs/meta/inode.ts `compress`, a u16 code) and is
 * copied from the parent when a file or directory is created, as directory quotas and retention
 * tag a tree. A file keeps the setting it was created with: changing a directory's setting
 * affects what is created in it from then on, not files (or subdirectories) already there, and
 * blocks already stored keep their compression. Code 0 (`inherit`) means the pool's setting.
 * An open file stores each record with BlockStore.put(data, { compress }) when it has a setting.
 */
import type { BlockStore, Compression } from '../raid/types.js';
import { formatCompression, parseCompression } from '../raid/compress.js';
import { Errno, VfsError } from './errno.js';
import { COMPRESS_INHERIT, COMPRESS_LZ4, COMPRESS_OFF, COMPRESS_ZSTD, decodeDirent, decodeExtent, isDir } from './meta/inode.js';
import { keys, prefixEnd } from './meta/keys.js';
import type { MetaStore } from './meta/metastore.js';

/** The inode code of a setting; undefined (inherit) → 0. */
export function compressCode(c: Compression | undefined): number {
  if (!c) return COMPRESS_INHERIT;
  if (c.alg === 'off') return COMPRESS_OFF;
  if (c.alg === 'lz4') return COMPRESS_LZ4;
  return COMPRESS_ZSTD | (c.level << 8);
}

/** The setting of an inode code; undefined for 0 (the pool's) or a code this version does not know. */
export function compressionOfCode(code: number): Compression | undefined {
  switch (code & 0xff) {
    case COMPRESS_OFF: return { alg: 'off' };
    case COMPRESS_LZ4: return { alg: 'lz4' };
    case COMPRESS_ZSTD: {
      const level = code >> 8;
      return level >= 1 && level <= 19 ? { alg: 'zstd', level } : undefined;
    }
    default: return undefined;
  }
}

/** `inherit` (undefined) or a setting parsed as the pool's (off | lz4 | zstd[:LEVEL]); EINVAL otherwise. */
export function parseDirCompression(text: string): Compression | undefined {
  const t = String(text).trim().toLowerCase();
  if (t === 'inherit') return undefined;
  try {
    return parseCompression(t);
  } catch (e) {
    if (e instanceof VfsError) throw new VfsError(Errno.EINVAL, `${e.message}, or inherit (the pool's setting)`);
    throw e;
  }
}

/** 'inherit' or the setting's text form. */
export function formatDirCompression(c: Compression | undefined): string {
  return c ? formatCompression(c) : 'inherit';
}

/** Logical and stored bytes of a tree (see treeBytes). */
export interface TreeBytes {
  /** Directories, files and symlinks visited (each inode once, hard links included once). */
  inodes: number;
  /** Bytes in the files' extents (what the files hold, holes excluded). */
  logical: number;
  /** Bytes of their blocks as stored before parity: compressed length, or logical when raw (a dedup chunk: its share of its block's). */
  stored: number;
  /** Extents whose block had no row (should be 0; counted as stored raw). */
  missing: number;
  /**
   * Stored bytes of the distinct blocks (each counted once however many extents or chunks share
   * it: what deduplication and clones leave of `stored`).
   */
  unique: number;
}

/**
 * Walks the live tree under `root` and adds up its files' logical bytes and their blocks' stored
 * bytes (one extent row scan per file and one row read per distinct block: for 1 MiB records,
 * about one row read per MiB of data; no shard is read). A hard-linked file is counted once; a block
 * shared by several extents (a clone) is counted once per extent referring to it; blocks held
 * only by snapshots are not counted. A block is counted whole even when its extent was cut
 * shorter by a truncate (that is the space it holds). Not one transaction: a tree changing during the walk gives
 * approximate totals. `onProgress(inodesDone)` is called every 1000 inodes.
 */
export async function treeBytes(meta: MetaStore, blocks: BlockStore, root: number, onProgress?: (inodes: number) => void): Promise<TreeBytes> {
  const out: TreeBytes = { inodes: 0, logical: 0, stored: 0, missing: 0, unique: 0 };
  const seen = new Set<number>();
  const blocksSeen = new Set<number>();
  const sizesOf = new Map<number, { length: number; stored: number } | undefined>();
  const stack = [root];
  while (stack.length) {
    const ino = stack.pop()!;
    if (seen.has(ino)) continue;
    seen.add(ino);
    const n = await meta.getInode(ino);
    if (!n) continue; // removed during the walk
    out.inodes++;
    if (onProgress && out.inodes % 1000 === 0) onProgress(out.inodes);
    if (isDir(n)) {
      const p = keys.direntPrefix(ino);
      for await (const [, v] of meta.kv.scan(p, prefixEnd(p))) stack.push(decodeDirent(v).ino);
      continue;
    }
    const p = keys.extentPrefix(ino);
    for await (const [, v] of meta.kv.scan(p, prefixEnd(p))) {
      const e = decodeExtent(v);
      out.logical += e.length;
      if (e.inline) {
        // Kept in the row: its bytes as they are, one copy.
        out.stored += e.length;
        out.unique += e.length;
        continue;
      }
      for (const c of e.chunks ?? [e]) {
        // The chunks of a dedup record mostly share one block: one row read per block.
        let s = sizesOf.get(c.blockId);
        if (!sizesOf.has(c.blockId)) sizesOf.set(c.blockId, (s = await blocks.sizes(c.blockId)));
        if (s === undefined) out.missing++;
        // A chunk is a slice of its block: it counts its share of the block's stored bytes.
        out.stored += s ? (e.chunks ? Math.round((s.stored * c.length) / Math.max(1, s.length)) : s.stored) : c.length;
        if (!blocksSeen.has(c.blockId)) {
          blocksSeen.add(c.blockId);
          out.unique += s?.stored ?? c.length;
        }
      }
    }
  }
  return out;
}
