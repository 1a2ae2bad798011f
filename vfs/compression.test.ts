// Per-directory compression (vfs/compression.ts) on the production engines: RocksDB metadata
// and a real rs:2+1 RaidBlockStore whose pool setting is lz4, so each case can tell by a block
// row's algorithm which setting stored it (0 raw, 1 lz4 = the pool's, 2 zstd = the directory's).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createPool, openPool } from '../raid/index.js';
import type { RaidBlockStore } from '../raid/store.js';
import { compressCode, compressionOfCode, formatDirCompression, parseDirCompression, treeBytes } from './compression.js';
import { openRocksKv } from './meta/rocksdb.js';
import { openVfs, ROOT_CTX, type VfsInstance } from './index.js';
import { fileOps } from '../test/vfs-files.js';

/** 600 KB of text: compresses well under lz4 and zstd. */
const TEXT = Buffer.from(Array.from({ length: 60_000 }, (_, i) => `line ${i % 997}\n`).join('')).subarray(0, 600_000);

describe('per-directory compression (RocksDB + rs:2+1 pool, pool setting lz4)', () => {
  let dir: string;
  let v: VfsInstance;
  let pool: RaidBlockStore;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dw-dirc-'));
    const kv = await openRocksKv(join(dir, 'meta'));
    await createPool(kv, { layout: 'rs:2+1', devices: [0, 1, 2].map((i) => join(dir, `d${i}`)), compression: 'lz4' });
    pool = (await openPool(kv, { codec: 'inline' })) as RaidBlockStore;
    v = await openVfs({ kv, blocks: pool });
  });
  after(async () => {
    await v.close();
    await rm(dir, { recursive: true, force: true });
  });

  const { ino, write, read } = fileOps(() => v);
  /** The algorithm of every block of a file, in offset order. */
  const algs = async (path: string) => {
    const out: number[] = [];
    for (const [, e] of await v.impl.meta.extents(await ino(path))) out.push((await pool.getRow(e.blockId))!.alg);
    return out;
  };
  const setDir = async (path: string, text: string) => v.impl.meta.setCompression(await ino(path), compressCode(parseDirCompression(text)));

  test('setting codes round-trip; inherit is 0; bad text is EINVAL naming inherit', () => {
    for (const t of ['off', 'lz4', 'zstd:1', 'zstd:3', 'zstd:19', 'inherit']) {
      assert.equal(formatDirCompression(compressionOfCode(compressCode(parseDirCompression(t)))), t);
    }
    assert.equal(compressCode(parseDirCompression('inherit')), 0);
    assert.equal(formatDirCompression(parseDirCompression('ZSTD')), 'zstd:3');
    for (const bad of ['gzip', 'zstd:20', '', 'inherit:1']) assert.throws(() => parseDirCompression(bad), /or inherit/, bad);
    assert.equal(compressionOfCode(3 | (40 << 8)), undefined, 'an unknown zstd level reads as the pool setting');
  });

  test('a file in a zstd directory stores zstd blocks; in an off directory raw; elsewhere the pool\'s lz4', async () => {
    await v.paths.mkdir(ROOT_CTX, '/z', 0o755);
    await v.paths.mkdir(ROOT_CTX, '/raw', 0o755);
    await setDir('/z', 'zstd:5');
    await setDir('/raw', 'off');
    await write('/z/a', TEXT);
    await write('/raw/a', TEXT);
    await write('/plain', TEXT);
    assert.deepEqual(await algs('/z/a'), [2]);
    assert.deepEqual(await algs('/raw/a'), [0]);
    assert.deepEqual(await algs('/plain'), [1]);
    assert.ok((await read('/z/a')).equals(TEXT));
    assert.ok((await read('/raw/a')).equals(TEXT));
    const blockOf = async (path: string) => (await v.impl.meta.extents(await ino(path)))[0]![1].blockId;
    assert.ok((await pool.sizes(await blockOf('/z/a')))!.stored < TEXT.length / 4, 'zstd block stored small');
    assert.deepEqual(await pool.sizes(await blockOf('/raw/a')), { length: TEXT.length, stored: TEXT.length }, 'raw block stored whole');
    assert.equal(await pool.sizes(10 ** 12), undefined);
  });

  test('what is created below later inherits it, to any depth; existing entries keep theirs', async () => {
    await v.paths.mkdir(ROOT_CTX, '/t', 0o755);
    await v.paths.mkdir(ROOT_CTX, '/t/before', 0o755);
    await write('/t/old', TEXT.subarray(0, 100_000));
    await setDir('/t', 'zstd');
    await v.paths.mkdir(ROOT_CTX, '/t/sub', 0o755);
    await v.paths.mkdir(ROOT_CTX, '/t/sub/deep', 0o755);
    await write('/t/sub/deep/f', TEXT);
    await write('/t/before/f', TEXT);
    assert.equal(formatDirCompression(compressionOfCode((await v.impl.meta.getInode(await ino('/t/sub/deep')))!.compress)), 'zstd:3');
    assert.deepEqual(await algs('/t/sub/deep/f'), [2]);
    assert.deepEqual(await algs('/t/before/f'), [1], 'a subdirectory made before the set keeps the pool setting');
    await write('/t/old', TEXT, 0, false);
    assert.deepEqual(await algs('/t/old'), [1], 'a file made before the set keeps its setting when rewritten');
  });

  test('inherit returns new files to the pool setting; files made meanwhile keep theirs', async () => {
    await v.paths.mkdir(ROOT_CTX, '/i', 0o755);
    await setDir('/i', 'zstd:1');
    await write('/i/during', TEXT);
    await setDir('/i', 'inherit');
    assert.equal((await v.impl.meta.getInode(await ino('/i')))!.compress, 0);
    await write('/i/after', TEXT);
    await write('/i/during', TEXT, TEXT.length, false); // a second record, appended after the change
    assert.deepEqual(await algs('/i/after'), [1]);
    assert.deepEqual(await algs('/i/during'), [2, 2]);
  });

  test('the setting survives a reopen (it is in the inode record)', async () => {
    await v.paths.mkdir(ROOT_CTX, '/keep', 0o755);
    await setDir('/keep', 'off');
    const n = await v.impl.meta.getInode(await ino('/keep'));
    assert.equal(formatDirCompression(compressionOfCode(n!.compress)), 'off');
    await v.close();
    const kv = await openRocksKv(join(dir, 'meta'));
    pool = (await openPool(kv, { codec: 'inline' })) as RaidBlockStore;
    v = await openVfs({ kv, blocks: pool });
    await write('/keep/f', TEXT);
    assert.deepEqual(await algs('/keep/f'), [0]);
  });

  test('setCompression refuses a file (ENOTDIR)', async () => {
    await assert.rejects(v.impl.meta.setCompression(await ino('/plain'), 1), /ENOTDIR|directory/);
  });

  test('treeBytes: logical vs stored bytes of a tree, from extents and block rows', async () => {
    const z = await treeBytes(v.impl.meta, pool, await ino('/z'));
    assert.equal(z.logical, TEXT.length);
    assert.ok(z.stored > 0 && z.stored < TEXT.length / 4, `stored ${z.stored}`);
    assert.equal(z.inodes, 2);
    assert.equal(z.missing, 0);
    const r = await treeBytes(v.impl.meta, pool, await ino('/raw'));
    assert.deepEqual(r, { inodes: 2, logical: TEXT.length, stored: TEXT.length, missing: 0, unique: TEXT.length });
    await v.paths.link(ROOT_CTX, '/raw/a', '/raw/hard');
    assert.equal((await treeBytes(v.impl.meta, pool, await ino('/raw'))).logical, TEXT.length, 'a hard link is counted once');
    const t = await treeBytes(v.impl.meta, pool, await ino('/t'));
    assert.equal(t.logical, 3 * TEXT.length);
    assert.ok(t.stored < t.logical);
  });
});
