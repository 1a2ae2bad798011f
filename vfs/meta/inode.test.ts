// Inode record encode/decode: the optional trailer (project, worm, compress) and records written
// before each of its fields existed. Extent rows: plain, chunked and inline, and corrupt ones.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  COMPRESS_LZ4, COMPRESS_ZSTD, decodeExtent, decodeInode, encodeExtent, encodeInode, EXTENT_CHUNKED, EXTENT_INLINE, type Extent,
  extentBlocks, MAX_INLINE, S_IFDIR, S_IFLNK, type Inode,
} from './inode.js';

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

describe('extent row', () => {
  it('round-trips plain, chunked and inline extents; an inline one references no block', () => {
    fc.assert(fc.property(
      fc.oneof(
        fc.record({ blockId: fc.integer({ min: 1, max: 2 ** 40 }), length: fc.integer({ min: 0, max: 16 << 20 }) }).map((x): Extent => ({ ...x, flags: 0 })),
        fc.array(fc.record({ blockId: fc.integer({ min: 1, max: 2 ** 40 }), offset: fc.nat(1 << 20), length: fc.integer({ min: 1, max: 1 << 16 }) }), { minLength: 1, maxLength: 20 })
          .map((chunks): Extent => ({ blockId: chunks[0]!.blockId, length: chunks.reduce((a, c) => a + c.length, 0), flags: EXTENT_CHUNKED, chunks })),
        fc.uint8Array({ minLength: 1, maxLength: 5000 }).map((d): Extent => ({ blockId: 0, length: d.length, flags: EXTENT_INLINE, inline: Buffer.from(d) })),
      ),
      (e) => {
        const d = decodeExtent(encodeExtent(e));
        assert.equal(d.length, e.length);
        assert.equal(d.blockId, e.blockId);
        assert.deepEqual(d.chunks, e.chunks?.map((c) => ({ ...c })));
        if (e.inline) assert.ok(d.inline?.equals(e.inline));
        else assert.equal(d.inline, undefined);
        assert.deepEqual(extentBlocks(d), e.inline ? [] : e.chunks ? e.chunks.map((c) => c.blockId) : [e.blockId]);
      },
    ));
  });

  it('a shortened inline extent keeps its first bytes', () => {
    const data = Buffer.from('0123456789');
    const d = decodeExtent(encodeExtent({ blockId: 0, length: 4, flags: EXTENT_INLINE, inline: data }));
    assert.equal(d.inline?.toString(), '0123');
    assert.equal(d.length, 4);
    assert.throws(() => encodeExtent({ blockId: 0, length: 11, flags: EXTENT_INLINE, inline: data }), /inline extent/);
    assert.throws(() => encodeExtent({ blockId: 0, length: MAX_INLINE + 1, flags: EXTENT_INLINE, inline: Buffer.alloc(MAX_INLINE + 1) }), /inline extent/);
  });

  it('refuses corrupt inline rows as EIO: bytes missing or extra, chunked and inline at once, past the longest', () => {
    const row = encodeExtent({ blockId: 0, length: 6, flags: EXTENT_INLINE, inline: Buffer.from('abcdef') });
    for (const bad of [
      row.subarray(0, row.length - 1),
      Buffer.concat([row, Buffer.of(0)]),
      (() => { const b = Buffer.from(row); b.writeUInt32LE(EXTENT_INLINE | EXTENT_CHUNKED, 12); return b; })(),
      (() => { const b = Buffer.alloc(16 + MAX_INLINE + 1); b.writeUInt32LE(MAX_INLINE + 1, 8); b.writeUInt32LE(EXTENT_INLINE, 12); return b; })(),
    ]) {
      assert.throws(() => decodeExtent(bad), (e: unknown) => (e as { errno?: number }).errno === 5 && /corrupt extent/.test(String(e)));
    }
  });
});
