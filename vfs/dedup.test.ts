// Deduplication (issue 5) on the production engines: RocksDB metadata and a real rs:2+1
// RaidBlockStore with dedup off at the pool, on for one directory: copies cost references,
// an insertion near the start keeps most chunks shared, and space returns with the last reference.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createPool, openPool } from '../raid/index.js';
import type { RaidBlockStore } from '../raid/store.js';
import { treeBytes } from './compression.js';
import { dedupOfCode, formatDirDedup, parseDirDedup } from './dedup.js';
import { PREFIX, prefixEnd } from './meta/keys.js';
import { openRocksKv } from './meta/rocksdb.js';
import { openVfs, ROOT_CTX, type VfsInstance } from './index.js';
import { fileOps } from '../test/vfs-files.js';

const MiB = 1 << 20;
/** 6 MiB + a bit of random bytes: six full records and a short one. */
const DATA = randomBytes(6 * MiB + 12_345);

describe('dedup (RocksDB + rs:2+1 pool, pool setting off, /d on)', () => {
  let dir: string;
  let v: VfsInstance;
  let pool: RaidBlockStore;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dw-dedup-'));
    const kv = await openRocksKv(join(dir, 'meta'));
    await createPool(kv, { layout: 'rs:2+1', devices: [0, 1, 2].map((i) => join(dir, `d${i}`)) });
    pool = (await openPool(kv, { codec: 'inline' })) as RaidBlockStore;
    v = await openVfs({ kv, blocks: pool });
    await v.paths.mkdir(ROOT_CTX, '/d', 0o755);
    await v.impl.meta.setDedup(await ino('/d'), parseDirDedup('on'));
  });
  after(async () => {
    await v.close();
    await rm(dir, { recursive: true, force: true });
  });

  const { ino, write, read } = fileOps(() => v);
  /** Every chunk (block:offset:length) or block a file's extents name, in order. */
  const blocksOf = async (path: string) => (await v.impl.meta.extents(await ino(path))).flatMap(([, e]) => e.chunks?.map((c) => `${c.blockId}:${c.offset}:${c.length}`) ?? [String(e.blockId)]);
  const dedupRows = async () => {
    let n = 0;
    const k = Buffer.of(PREFIX.dedup);
    for await (const _ of v.impl.meta.kv.scan(k, prefixEnd(k))) n++;
    return n;
  };

  test('setting text round-trips through the inode code; bad text is EINVAL naming the three', () => {
    for (const t of ['on', 'off', 'inherit']) assert.equal(formatDirDedup(parseDirDedup(t)), t);
    assert.equal(dedupOfCode(parseDirDedup('inherit')), undefined);
    assert.equal(dedupOfCode(parseDirDedup('ON')), true);
    assert.throws(() => parseDirDedup('yes'), /on, off or inherit/);
  });

  test('five copies under different names store the data once; outside /d a copy is stored again', async () => {
    const before = await pool.stats();
    for (let i = 0; i < 5; i++) await write(`/d/copy${i}`, DATA);
    const mid = await pool.stats();
    const once = mid.logicalUsed - before.logicalUsed;
    assert.ok(once >= DATA.length && once < DATA.length * 1.01, `unique logical bytes ${once} for 5 copies of ${DATA.length}`);
    for (let i = 0; i < 5; i++) assert.ok((await read(`/d/copy${i}`)).equals(DATA), `copy${i} reads back`);
    const ids = await blocksOf('/d/copy0');
    assert.ok(ids.length > 6 * 64, `records are cut into chunks (${ids.length} chunks)`);
    assert.equal(new Set(ids.map((x) => x.split(':')[0])).size, 7, 'the new chunks of a record are one block');
    assert.deepEqual(await blocksOf('/d/copy4'), ids, 'the same blocks, in the same order');
    await write('/plain', DATA);
    assert.equal((await blocksOf('/plain')).length, 7, 'a file outside /d: one block per record');
    assert.ok((await pool.stats()).logicalUsed - mid.logicalUsed >= DATA.length, 'and its data is stored again');
    const t = await treeBytes(v.impl.meta, pool, await ino('/d'));
    assert.equal(t.logical, 5 * DATA.length);
    assert.ok(Math.abs(t.stored - 5 * DATA.length) < 5 * 64, `each copy counts its chunks' share: ${t.stored}`);
    assert.equal(t.unique, DATA.length, 'distinct blocks counted once: one copy');
  });

  test('one byte inserted at offset 100: more than 95% of the chunks are shared', async () => {
    const ins = Buffer.concat([DATA.subarray(0, 100), Buffer.of(0x5a), DATA.subarray(100)]);
    await write('/d/inserted', ins);
    assert.ok((await read('/d/inserted')).equals(ins));
    const a = new Set(await blocksOf('/d/copy0'));
    const b = await blocksOf('/d/inserted');
    const shared = b.filter((id) => a.has(id)).length / b.length;
    assert.ok(shared > 0.95, `shared ${(shared * 100).toFixed(1)}% of ${b.length} chunks`);
  });

  test('rewrites inside a record, truncates and appends of a dedup file read back right', async () => {
    const want = Buffer.from(DATA.subarray(0, 3 * MiB));
    await write('/d/edit', want);
    const patch = randomBytes(5000);
    await write('/d/edit', patch, MiB + 777, false);
    patch.copy(want, MiB + 777);
    assert.ok((await read('/d/edit')).equals(want), 'a rewrite in the middle of a chunked record');
    await v.paths.setattr(ROOT_CTX, '/d/edit', { size: 2 * MiB + 4321 });
    assert.ok((await read('/d/edit')).equals(want.subarray(0, 2 * MiB + 4321)), 'truncated inside a record');
    const tail = randomBytes(70_000);
    await write('/d/edit', tail, 2 * MiB + 4321, false);
    assert.ok((await read('/d/edit')).equals(Buffer.concat([want.subarray(0, 2 * MiB + 4321), tail])), 'appended after the cut');
  });

  test('space returns only when the last copy and the last snapshot holding it are gone', async () => {
    await v.snapshots.create('keep');
    for (const name of (await v.paths.readdir(ROOT_CTX, '/d')).map((e) => e.name)) await v.paths.unlink(ROOT_CTX, `/d/${name}`);
    await v.paths.unlink(ROOT_CTX, '/plain');
    const held = await pool.stats();
    assert.ok(held.logicalUsed >= 2 * DATA.length, 'the snapshot holds the blocks');
    const sv = v.snapshotVfs('keep');
    const { fh, attr } = await sv.paths.open(ROOT_CTX, '/d/copy3', { read: true });
    assert.ok((await sv.vfs.read(ROOT_CTX, fh, 0, attr.size)).equals(DATA), 'a copy reads from the snapshot');
    await sv.vfs.release(ROOT_CTX, fh);
    await v.snapshots.delete('keep');
    const gone = await pool.stats();
    assert.equal(gone.blocks, 0);
    assert.equal(gone.logicalUsed, 0);
    assert.equal(await dedupRows(), 0, 'no dedup index row is left');
    const r = await pool.reclaim({ threshold: 0 });
    assert.ok(r.freedBytes >= DATA.length * 1.5, `compaction frees the dead shards (${r.freedBytes} bytes)`);
  });
});
