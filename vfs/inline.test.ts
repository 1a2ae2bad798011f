/**
 * Small records kept in their extent rows (vfs/file.ts INLINE_MAX, vfs/meta/inode.ts Extent
 * `inline`): which records go inline and which stay blocks, what reads, truncates, growth,
 * snapshots and copies see, the used-bytes accounting, and durability across a reopen — on
 * the memory engines and on RocksDB + an rs:4+2 pool; an encrypted pool never keeps data in rows.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createPool, openPool } from '../raid/index.js';
import { treeBytes } from './compression.js';
import { INLINE_MAX } from './file.js';
import { createMemoryVfs, openVfs, ROOT_CTX, type VfsInstance } from './index.js';
import { decodeCounter } from './meta/kv.js';
import { keys } from './meta/keys.js';
import { MemoryKv } from './meta/memory.js';
import { COUNTERS } from './meta/metatxn.js';
import { rocksPoolFixture } from '../test/suites/fixtures.js';

const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

async function put(v: VfsInstance, p: string, data: Buffer, at = 0): Promise<number> {
  const { fh, attr } = await v.paths.open(ROOT_CTX, p, { write: true, create: true });
  await v.vfs.write(ROOT_CTX, fh, at, data);
  await v.vfs.fsync(ROOT_CTX, fh);
  await v.vfs.release(ROOT_CTX, fh);
  return attr.ino;
}

async function get(v: Pick<VfsInstance, 'vfs' | 'paths'>, p: string): Promise<Buffer> {
  const { fh, attr } = await v.paths.open(ROOT_CTX, p, { read: true });
  try { return Buffer.from(await v.vfs.read(ROOT_CTX, fh, 0, attr.size + 10)); } finally { await v.vfs.release(ROOT_CTX, fh); }
}

/** The 'inlineBytes' counter: bytes in inline rows, live and in snapshots. */
async function inlineBytes(v: VfsInstance): Promise<number> {
  return Number(decodeCounter(await v.impl.meta.kv.get(keys.counter(COUNTERS.inlineBytes))));
}

/** The file's extents as [offset, 'inline' | 'block', length]. */
async function kinds(v: VfsInstance, ino: number): Promise<[number, string, number][]> {
  return (await v.impl.meta.extents(ino)).map(([off, e]) => [off, e.inline ? 'inline' : 'block', e.length]);
}

for (const engine of ['memory', 'rocksdb'] as const) {
  describe(`inline records (${engine})`, () => {
    const open = async (): Promise<{ v: VfsInstance; reopen: () => Promise<VfsInstance>; done: () => Promise<void> }> => {
      if (engine === 'memory') {
        const v = await createMemoryVfs();
        return { v, reopen: async () => v, done: () => v.close() };
      }
      const f = await rocksPoolFixture('dw-inline-');
      return { v: f.inst, reopen: () => f.reopen!(), done: () => f.cleanup() };
    };

    test('a small file is kept in its row: no block, reads back, survives a reopen', async () => {
      const t = await open();
      try {
        const before = (await t.v.impl.blocks.stats()).blocks;
        const data = bytes(INLINE_MAX, 1);
        const ino = await put(t.v, '/small', data);
        assert.deepEqual(await kinds(t.v, ino), [[0, 'inline', INLINE_MAX]]);
        assert.equal((await t.v.impl.blocks.stats()).blocks, before, 'no block stored');
        assert.ok((await get(t.v, '/small')).equals(data));
        assert.equal((await t.v.vfs.getattr(ROOT_CTX, ino)).size, INLINE_MAX);
        const tb = await treeBytes(t.v.impl.meta, t.v.impl.blocks, 1);
        assert.deepEqual([tb.logical, tb.stored, tb.missing], [INLINE_MAX, INLINE_MAX, 0], 'dw du: the row\'s bytes, stored as they are');
        const v2 = await t.reopen();
        assert.ok((await get(v2, '/small')).equals(data), 'durable once fsync answered');
      } finally {
        await t.done();
      }
    });

    test('growth past INLINE_MAX makes a block, shrinking back an inline row again; usage follows the size', async () => {
      const t = await open();
      try {
        const a = bytes(3000, 2);
        const ino = await put(t.v, '/grow', a);
        assert.deepEqual(await kinds(t.v, ino), [[0, 'inline', 3000]]);
        assert.equal(await inlineBytes(t.v), 3000);
        const b = bytes(3000, 3);
        await put(t.v, '/grow', b, 3000); // read-modify-write of the inline record: 6000 bytes
        assert.deepEqual(await kinds(t.v, ino), [[0, 'block', 6000]]);
        assert.equal(await inlineBytes(t.v), 0, 'the row became a block');
        assert.ok((await get(t.v, '/grow')).equals(Buffer.concat([a, b])));
        await t.v.paths.setattr(ROOT_CTX, '/grow', { size: 100 });
        assert.deepEqual(await kinds(t.v, ino), [[0, 'block', 100]], 'a truncate shortens the extent it has');
        await put(t.v, '/grow', bytes(50, 4), 10); // rewritten: now short enough for the row
        assert.deepEqual(await kinds(t.v, ino), [[0, 'inline', 100]]);
        const want = Buffer.concat([a.subarray(0, 10), bytes(50, 4), a.subarray(60, 100)]);
        assert.ok((await get(t.v, '/grow')).equals(want));
        await t.v.paths.setattr(ROOT_CTX, '/grow', { size: 40 });
        assert.deepEqual(await kinds(t.v, ino), [[0, 'inline', 40]]);
        assert.equal(await inlineBytes(t.v), 40, 'a truncate counts the bytes cut off');
        assert.ok((await get(t.v, '/grow')).equals(want.subarray(0, 40)));
        assert.equal((await t.v.impl.meta.getInode(ino))!.allocated, 40, 'the inode counts the row\'s bytes');
        const usedBytes = decodeCounter(await t.v.impl.meta.kv.get(keys.counter(COUNTERS.usedBytes)));
        assert.equal(usedBytes, 40n, 'and so does the used-bytes counter (statfs, quotas)');
        await t.v.paths.unlink(ROOT_CTX, '/grow');
        assert.deepEqual(await kinds(t.v, ino), []);
        assert.equal(await inlineBytes(t.v), 0);
      } finally {
        await t.done();
      }
    });

    test('a large file: whole records are blocks, its short last record is inline; a hole before it reads zeros', async () => {
      const t = await open();
      try {
        const rs = 1 << 20;
        const data = bytes(rs + 700, 5);
        const ino = await put(t.v, '/big', data);
        assert.deepEqual(await kinds(t.v, ino), [[0, 'block', rs], [rs, 'inline', 700]]);
        assert.ok((await get(t.v, '/big')).equals(data));
        const sparse = await put(t.v, '/sparse', bytes(10, 6), 3 * rs + 5);
        assert.deepEqual(await kinds(t.v, sparse), [[3 * rs, 'inline', 15]]);
        const back = await get(t.v, '/sparse');
        assert.equal(back.length, 3 * rs + 15);
        assert.ok(back.subarray(0, 3 * rs + 5).every((x) => x === 0));
        assert.ok(back.subarray(3 * rs + 5).equals(bytes(10, 6)));
        const v2 = await t.reopen();
        assert.ok((await get(v2, '/big')).equals(data));
      } finally {
        await t.done();
      }
    });

    test('snapshots keep an overwritten inline record; a copy out of the snapshot reads it', async () => {
      const t = await open();
      try {
        await put(t.v, '/f', Buffer.from('first version'));
        await t.v.snapshots.create('s');
        assert.equal(await inlineBytes(t.v), 13);
        const { fh } = await t.v.paths.open(ROOT_CTX, '/f', { write: true, truncate: true });
        await t.v.vfs.write(ROOT_CTX, fh, 0, Buffer.from('second'));
        await t.v.vfs.release(ROOT_CTX, fh);
        assert.equal((await get(t.v.snapshotVfs('s'), '/f')).toString(), 'first version');
        assert.equal((await get(t.v, '/f')).toString(), 'second');
        assert.equal(await inlineBytes(t.v), 13 + 6, 'the snapshot\'s row and the live one');
        await t.v.paths.copy(ROOT_CTX, '/.snapshots/s/f', '/restored', { overwrite: false, depth: 0 });
        assert.equal((await get(t.v, '/restored')).toString(), 'first version');
        assert.equal(await inlineBytes(t.v), 13 + 6 + 13);
        await t.v.snapshots.delete('s');
        assert.equal((await get(t.v, '/restored')).toString(), 'first version', 'the copy has its own row');
        assert.equal(await inlineBytes(t.v), 6 + 13, 'the snapshot\'s row went with it');
      } finally {
        await t.done();
      }
    });
  });
}

test('inline records: a whole record of a small record size, a deduplicated file and inlineMax 0 stay blocks', async () => {
  const v = await createMemoryVfs({ recordSize: 4096 });
  try {
    const whole = await put(v, '/whole', bytes(4096, 7));
    assert.deepEqual(await kinds(v, whole), [[0, 'block', 4096]]);
    const part = await put(v, '/part', bytes(4095, 7));
    assert.deepEqual(await kinds(v, part), [[0, 'inline', 4095]]);
  } finally {
    await v.close();
  }
  const off = await createMemoryVfs({ inlineMax: 0 });
  try {
    assert.deepEqual(await kinds(off, await put(off, '/x', bytes(10, 8))), [[0, 'block', 10]]);
  } finally {
    await off.close();
  }
  const dir = await mkdtemp(join(tmpdir(), 'dw-inline-dedup-'));
  const kv = new MemoryKv();
  await createPool(kv, { layout: 'rs:2+1', devices: [0, 1, 2].map((i) => join(dir, `d${i}`)), dedup: true });
  const d = await openVfs({ kv, blocks: await openPool(kv, { codec: 'inline' }) });
  try {
    const ino = await put(d, '/dd', bytes(1000, 9));
    const [first] = await d.impl.meta.extents(ino);
    const e = first![1];
    assert.equal(e.inline, undefined);
    assert.ok(e.chunks, 'cut into dedup chunks');
  } finally {
    await d.close();
    await rm(dir, { recursive: true, force: true });
  }
});
