/**
 * Byte-range work on open regular files, for the VFS calls that name it: lseek(2)
 * SEEK_DATA/SEEK_HOLE (seekData), fallocate(2) FALLOC_FL_PUNCH_HOLE (punchHole) and
 * copy_file_range(2) (copyRange).
 *
 * Holes are whole records (OpenFile.recordSize, 1 MiB by default): a record with no extent and
 * nothing in the open file's write buffers reads as zeros and is a hole; so is the end of the
 * file. A record with an extent is data from its first byte to its last, even where it holds
 * zeros (as ext4 reports written zeros as data).
 */
import { Errno, VfsError } from './errno.js';
import type { OpenFile } from './file.js';
import type { MetaStore } from './meta/metastore.js';
import { MAX_FILE_SIZE } from './meta/metastore.js';

/** Extent rows read per step while looking for a hole. */
const SCAN_PAGE = 1024;
/** Most bytes one copyRange call copies (a caller loops on a short count, as after a short write). */
export const MAX_COPY = 1 << 30;
/** Bytes per read+write step of a copy, and per flush (the count returned after a failure is committed). */
const COPY_CHUNK = 1 << 20;
const COPY_PIECE = 64 << 20;
/** Records shared per metadata transaction. */
const SHARE_BATCH = 256;

/** A file as the copy sees it: its metadata (the live tree's or a snapshot's) and its open file. */
export interface Side {
  meta: MetaStore;
  f: OpenFile;
  /** The file is in a snapshot: its extents are read there, then referenced in the live tree. */
  snapshot: boolean;
}

const int = (v: number) => Number.isSafeInteger(v) && v >= 0;

/**
 * The first byte offset ≥ `offset` that is data (`what` 'data') or in a hole ('hole'), as
 * lseek(2) SEEK_DATA / SEEK_HOLE answers it: a hole found at `offset` itself gives `offset`; the
 * end of the file is a hole, so 'hole' never answers more than the size. Buffered records count
 * as data without being flushed. Throws ENXIO when offset is negative or at or past the size, or
 * for 'data' when only holes follow.
 */
export async function seekData(meta: MetaStore, f: OpenFile, offset: number, what: 'data' | 'hole'): Promise<number> {
  const size = f.size;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= size) throw new VfsError(Errno.ENXIO, `offset ${offset} is not inside the file (${size} bytes)`);
  const rs = f.recordSize;
  // The buffers before the extents: a record committed in between has its extent by the time the scan reads it.
  const buffered = new Set(f.bufferedRecords);
  const idx = Math.floor(offset / rs);
  if (what === 'data') {
    let next = Infinity;
    for (const b of buffered) if (b >= idx && b < next) next = b;
    const [first] = await meta.extents(f.ino, idx * rs, next === Infinity ? Number.MAX_SAFE_INTEGER : next * rs, 1);
    if (first) next = Math.floor(first[0] / rs);
    if (next * rs >= size) throw new VfsError(Errno.ENXIO, `no data at or after offset ${offset}`);
    return Math.max(offset, next * rs);
  }
  let j = idx; // the first record not known to be data
  const skipBuffered = () => { while (buffered.has(j)) j++; };
  skipBuffered();
  scan: for (let from = idx * rs; j * rs < size; ) {
    const page = await meta.extents(f.ino, from, Number.MAX_SAFE_INTEGER, SCAN_PAGE);
    for (const [off] of page) {
      const k = Math.floor(off / rs);
      if (k < j) continue;
      if (k > j) break scan;
      j = k + 1;
      skipBuffered();
    }
    if (page.length < SCAN_PAGE) break;
    from = page[page.length - 1]![0] + 1;
  }
  return j === idx ? offset : Math.min(j * rs, size);
}

/**
 * fallocate(2) FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE on [offset, offset + length), clamped
 * to the size (which does not change): records wholly inside lose their extents (blocks released,
 * quota usage and st_blocks go down; snapshots keep theirs), the bytes of the edge records inside
 * the range are overwritten with zeros. Buffered writes are committed first. Throws EINVAL (bad
 * range), EPERM (retention, before anything changes), and what a flush throws (EDQUOT, EIO).
 */
export async function punchHole(meta: MetaStore, f: OpenFile, offset: number, length: number): Promise<void> {
  if (!int(offset) || !int(length) || length === 0) throw new VfsError(Errno.EINVAL, 'bad hole range');
  await meta.checkWritable(f.ino);
  await f.flush();
  const end = Math.min(offset + length, f.size);
  if (end <= offset) return;
  const rs = f.recordSize;
  let zeroed = false;
  for (const idx of new Set([Math.floor(offset / rs), Math.floor((end - 1) / rs)])) {
    const at = idx * rs;
    const [x] = await meta.extents(f.ino, at, at + 1);
    if (!x) continue; // a hole already
    const dataEnd = at + x[1].length;
    if (at >= offset && dataEnd <= end) continue; // wholly inside: dropped below
    const from = Math.max(at, offset), to = Math.min(dataEnd, end);
    if (to > from) {
      await f.write(from, Buffer.alloc(to - from));
      zeroed = true;
    }
  }
  if (zeroed) await f.flush();
  await meta.punchHole(f.ino, offset, end);
}

/** One step of a copy: bytes read and written, or whole records shared by reference. */
interface Piece { at: number; len: number; share: boolean }

/**
 * The steps of copying n bytes: by reference where source and destination records line up
 * (same record size, offsets equal modulo it), for each whole destination record, and for a last
 * partial one when the copy ends at the source's end and reaches the destination's; by read and
 * write elsewhere. Offsets relative to the start of the copy.
 */
function plan(src: OpenFile, offIn: number, dst: OpenFile, offOut: number, n: number): Piece[] {
  const rs = dst.recordSize;
  const out: Piece[] = [];
  const bytes = (at: number, len: number) => { for (let i = 0; i < len; i += COPY_PIECE) out.push({ at: at + i, len: Math.min(COPY_PIECE, len - i), share: false }); };
  if (src.recordSize !== rs || (offIn - offOut) % rs !== 0) {
    bytes(0, n);
    return out;
  }
  const head = Math.min(n, (rs - (offOut % rs)) % rs);
  let whole = Math.floor((n - head) / rs) * rs;
  let tail = n - head - whole;
  if (tail && offIn + n === src.size && offOut + n >= dst.size) {
    whole += tail;
    tail = 0;
  }
  bytes(0, head);
  for (let i = 0; i < whole; i += SHARE_BATCH * rs) out.push({ at: head + i, len: Math.min(SHARE_BATCH * rs, whole - i), share: true });
  bytes(head + whole, tail);
  return out;
}

/**
 * copy_file_range(2): copies up to `length` bytes from offset offIn of `src` to offset offOut of
 * `dst` (a live file, open for writing) and returns how many: fewer at the source's end (0 at or
 * past it), at most MAX_COPY. Records that line up are shared by block reference (a hole stays a
 * hole), the rest is read and written in 1 MiB steps; see plan(). Quotas (EDQUOT) and retention
 * (EPERM) apply to the destination as for a write. After a failure the count of bytes already
 * committed is returned, or the error if there are none. Throws EINVAL (bad offsets, or
 * overlapping ranges of one file), EFBIG.
 */
export async function copyRange(src: Side, offIn: number, dst: Side, offOut: number, length: number): Promise<number> {
  if (!int(offIn) || !int(offOut) || !(length >= 0)) throw new VfsError(Errno.EINVAL, 'bad copy range');
  await src.f.flush();
  if (dst.f !== src.f) await dst.f.flush();
  await dst.meta.checkWritable(dst.f.ino);
  const n = Math.min(length, src.f.size - offIn, MAX_COPY);
  if (n <= 0) return 0;
  if (offOut + n > MAX_FILE_SIZE) throw new VfsError(Errno.EFBIG, 'file too large');
  if (src.f === dst.f && offOut < offIn + n && offIn < offOut + n) throw new VfsError(Errno.EINVAL, 'source and destination ranges overlap');
  const rs = dst.f.recordSize;
  const step = Math.min(rs, COPY_CHUNK);
  let done = 0;
  try {
    for (const p of plan(src.f, offIn, dst.f, offOut, n)) {
      if (p.share) {
        const from = offIn + p.at;
        const given = src.snapshot ? await src.meta.extents(src.f.ino, from, from + p.len) : undefined;
        dst.f.grown(await dst.meta.shareRecords(src.f.ino, from, dst.f.ino, offOut + p.at, p.len, given));
      } else {
        for (let at = p.at; at < p.at + p.len; ) {
          const len = Math.min(p.at + p.len - at, step - ((offOut + at) % step)); // ends on a destination record boundary
          await dst.f.write(offOut + at, await src.f.read(offIn + at, len));
          at += len;
        }
        await dst.f.flush();
      }
      done += p.len;
    }
  } catch (e) {
    if (done > 0) return done;
    throw e;
  }
  return done;
}
