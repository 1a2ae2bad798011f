// Inode record encode/decode: the optional trailer (project, worm, compress) and records written
// before each of its fields existed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMPRESS_LZ4, COMPRESS_ZSTD, decodeInode, encodeInode, S_IFDIR, S_IFLNK, type Inode } from './inode.js';

const base: Inode = {
  ino: 42, gen: 7, mode: S_IFDIR | 0o755, nlink: 2, uid: 1000, gid: 100, rdev: 0, size: 0, allocated: 0,
  atimeNs: 1n, mtimeNs: 2n, ctimeNs: 3n, birthtimeNs: 4n, parent: 1, nextCookie: 3, recordSize: 1 << 20,
  target: '', project: 0, worm: 0, compress: 0, dedup: 0,
};

describe('inode record', () => {
  it('round-trips every trailer length: none, project, worm, compress', () => {
    const cases: [Partial<Inode>, number][] = [
      [{}, 0], [{ project: 9 }, 8], [{ project: 9, worm: 11 }, 16], [{ worm: 11 }, 16],
      [{ compress: COMPRESS_LZ4 }, 18], [{ project: 9, worm: 11, compress: COMPRESS_ZSTD | (19 << 8) }, 18],
    ];
    const bare = encodeInode(base).length;
    for (const [extra, trailer] of cases) {
      const n = { ...base, ...extra };
      const b = encodeInode(n);
      assert.equal(b.length, bare + trailer, JSON.stringify(extra));
      assert.deepEqual(decodeInode(b), n);
    }
  });

  it('reads older records (no trailer, project only, project + worm) with compress 0', () => {
    const full = encodeInode({ ...base, project: 9, worm: 11, compress: COMPRESS_LZ4 });
    const bare = full.length - 18;
    assert.deepEqual(decodeInode(full.subarray(0, bare)), { ...base });
    assert.deepEqual(decodeInode(full.subarray(0, bare + 8)), { ...base, project: 9 });
    assert.deepEqual(decodeInode(full.subarray(0, bare + 16)), { ...base, project: 9, worm: 11 });
  });

  it('keeps the symlink target before the trailer', () => {
    const n = { ...base, mode: S_IFLNK | 0o777, target: 'a/b/ç', compress: COMPRESS_ZSTD | (3 << 8) };
    assert.deepEqual(decodeInode(encodeInode(n)), n);
  });

  it('refuses a record cut inside the fixed part or the target (EIO)', () => {
    const b = encodeInode({ ...base, mode: S_IFLNK | 0o777, target: 'abcdef' });
    assert.throws(() => decodeInode(b.subarray(0, 20)), /corrupt inode record/);
    assert.throws(() => decodeInode(b.subarray(0, b.length - 3)), /corrupt inode record/);
  });
});
