/**
 * Snapshots (vfs/meta/snapshots.ts, issue 3): a model-based random test, where snapshots taken
 * and deleted between random tree operations must each show exactly the model tree of their
 * moment, and space that returns exactly when the last snapshot goes; plus focused cases on the
 * erasure-coded pool and RocksDB (old content readable, writes refused, blocks freed).
 */
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { createPool, openPool } from '../raid/index.js';
import { cloneNode, compareTree, Model, type Node, type Op, opArb, run, treeOps } from '../test/model-tree.js';
import { createMemoryVfs, Errno, openVfs, ROOT_CTX, type VfsInstance } from './index.js';
import { openRocksKv } from './meta/rocksdb.js';
import { MemoryKv } from './meta/memory.js';
import { nameCipher } from './meta/names.js';
import { randomBytes } from 'node:crypto';
import { setChunkSizes } from '../raid/chunker.js';
import { decodeExtent } from './meta/inode.js';
import { keys, PREFIX, prefixEnd } from './meta/keys.js';
import { decodeCounter } from './meta/kv.js';
import { COUNTERS } from './meta/metatxn.js';

type SnapOp = { op: 'snap' } | { op: 'dropSnap'; pick: number } | { op: 'rollback'; pick: number };
/** Shallow paths and mostly successful operations, so that snapshots see trees that then change. */
const shallow = fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 2 }).map((p) => '/' + p.join('/'));
const treeOpArb: fc.Arbitrary<Op> = treeOps(shallow, { offset: 9000, len: 9000, size: 12000, seedMin: 1, weights: { mkdir: 2, write: 4, truncate: 1, unlink: 2, rmdir: 1, rename: 2 } });
const stepArb = fc.oneof(
  { weight: 5, arbitrary: fc.oneof(opArb, treeOpArb, treeOpArb) },
  { weight: 2, arbitrary: fc.constant<SnapOp>({ op: 'snap' }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('dropSnap' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('rollback' as const), pick: fc.nat() }) },
);

async function removeAll(v: VfsInstance, path: string): Promise<void> {
  for (const e of await v.paths.readdir(ROOT_CTX, path)) {
    const p = `${path === '/' ? '' : path}/${e.name}`;
    if (e.type === 'dir') {
      await removeAll(v, p);
      await v.paths.rmdir(ROOT_CTX, p);
    } else await v.paths.unlink(ROOT_CTX, p);
  }
}

/**
 * The model run: random steps, each snapshot compared with the model tree of its moment, then
 * everything removed: no block (and no dedup index row) may outlive its last reference.
 */
function snapshotModel(name: string, make: () => Promise<{ v: VfsInstance; done: () => Promise<void>; before?: () => Promise<void> }>, numRuns: number, after?: () => void): void {
  test(name, async () => {
    let seq = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 60 }), async (steps) => {
        const { v, done, before } = await make();
        try {
          const model = new Model();
          const snaps: { name: string; tree: Node }[] = [];
          for (const s of steps) {
            if (s.op === 'snap') {
              const name = `s${++seq}`;
              await v.snapshots.create(name);
              snaps.push({ name, tree: cloneNode(model.root) });
            } else if (s.op === 'dropSnap') {
              if (!snaps.length) continue;
              const [gone] = snaps.splice(s.pick % snaps.length, 1);
              await v.snapshots.delete(gone!.name);
            } else if (s.op === 'rollback') {
              if (!snaps.length) continue;
              const i = s.pick % snaps.length;
              await v.impl.exclusive(() => v.snapshots.rollback(snaps[i]!.name, { destroyNewer: true }));
              snaps.splice(i + 1);
              model.root = cloneNode(snaps[i]!.tree);
              await compareTree(v.vfs, v.paths, model.root, '/');
            } else {
              const want = model.apply(s);
              const got = await run(v.vfs, v.paths, s);
              assert.equal(got === 'ok' ? 'ok' : Errno[got], want === 'ok' ? 'ok' : Errno[want], JSON.stringify(s));
            }
          }
          await compareTree(v.vfs, v.paths, model.root, '/');
          for (const s of snaps) {
            const sv = v.snapshotVfs(s.name);
            await compareTree(sv.vfs, sv.paths, s.tree, '/');
          }
          assert.deepEqual(v.snapshots.list().map((s) => s.name), snaps.map((s) => s.name));
          await before?.();
          // Remove the live tree, then the snapshots: every block must be gone.
          await removeAll(v, '/');
          for (const s of snaps) await v.snapshots.delete(s.name);
          assert.equal((await v.impl.blocks.stats()).blocks, 0, 'no block outlives the last reference');
          assert.equal(decodeCounter(await v.impl.meta.kv.get(keys.counter(COUNTERS.inlineBytes))), 0n, 'no inline row\'s bytes left counted');
          const k = Buffer.of(PREFIX.dedup);
          for await (const [key] of v.impl.meta.kv.scan(k, prefixEnd(k))) assert.fail(`dedup index row left: ${key.toString('hex')}`);
        } finally {
          await done();
        }
      }),
      { numRuns },
    );
    after?.();
  });
}

snapshotModel('snapshots (create, delete, rollback) agree with copies of a model tree over random operations; deleting them all frees every block',
  async () => {
    const v = await createMemoryVfs({ recordSize: 4096 });
    return { v, done: () => v.close() };
  }, 300);

// The same with dedup on and names encrypted, as on an encrypted pool (raid pool, in-thread
// codec; 4 KiB records cut into 64 B-1 KiB chunks):
// the model's writes are runs of one byte, so equal chunks abound, within a record and across
// files and snapshots, and every reference count is exercised.
snapshotModel('dedup: the snapshot model on a raid pool with dedup on and names encrypted; every block and index row goes with the last reference',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dw-dedup-model-'));
    const kv = new MemoryKv();
    await createPool(kv, { layout: 'rs:2+1', devices: [0, 1, 2].map((i) => join(dir, `d${i}`)), dedup: true });
    const pool = await openPool(kv, { codec: 'inline' });
    const putChunks = pool.putChunks.bind(pool);
    pool.putChunks = async (data, opts, ends) => {
      const s = await putChunks(data, opts, ends);
      const news = s.chunks.filter((c) => !c.hit);
      hits += s.chunks.length - new Set(news.map((c) => c.at)).size; // hits, and repeats stored once

      return s;
    };
    const v = await openVfs({ kv, blocks: pool, recordSize: 4096, names: nameCipher(randomBytes(32)) });
    const sizes = setChunkSizes({ min: 64, avg: 256, max: 1024 });
    const before = async () => {
      const e = Buffer.of(PREFIX.extent);
      for await (const [, val] of kv.scan(e, prefixEnd(e))) if (decodeExtent(val).chunks) chunked++;
    };
    return { v, before, done: async () => { setChunkSizes(sizes); await v.close(); await rm(dir, { recursive: true, force: true }); } };
  }, 60, () => assert.ok(chunked > 10 && hits > 10, `records were cut into chunks (${chunked} chunked extents seen at the ends) and chunks were shared (${hits} dedup hits)`));
let chunked = 0, hits = 0;

describe('snapshots: focused cases (RocksDB + rs:4+2 pool, and memory)', () => {
  async function open(dir: string): Promise<VfsInstance> {
    const kv = await openRocksKv(join(dir, 'meta'));
    const devices = Array.from({ length: 6 }, (_, i) => join(dir, `d${i}`));
    if (!(await kv.get(Buffer.from('Ppool')))) {
      for (const d of devices) await mkdir(d, { recursive: true });
      await createPool(kv, { layout: 'rs:4+2', devices });
    }
    // Every record a block: these cases count the blocks and bytes snapshots keep and release.
    return openVfs({ kv, blocks: await openPool(kv, {}), inlineMax: 0 });
  }

  test('old content stays readable after overwrite, delete and rename; writes to a snapshot are EROFS; survives a reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dw-snap-'));
    try {
      let v = await open(dir);
      const put = async (p: string, data: Buffer) => {
        const { fh } = await v.paths.open(ROOT_CTX, p, { write: true, create: true, truncate: true });
        await v.vfs.write(ROOT_CTX, fh, 0, data);
        await v.vfs.release(ROOT_CTX, fh);
      };
      const get = async (x: { vfs: VfsInstance['vfs']; paths: VfsInstance['paths'] }, p: string) => {
        const { fh, attr } = await x.paths.open(ROOT_CTX, p, { read: true });
        try { return await x.vfs.read(ROOT_CTX, fh, 0, attr.size); } finally { await x.vfs.release(ROOT_CTX, fh); }
      };
      const big = Buffer.from(Buffer.alloc(3 << 20).map((_, i) => (i * 7) & 0xff));
      await v.paths.mkdir(ROOT_CTX, '/docs');
      await put('/docs/a.bin', big);
      await put('/docs/b.txt', Buffer.from('version one'));
      await v.paths.setxattr(ROOT_CTX, '/docs/b.txt', 'user.note', Buffer.from('old note'));
      await v.snapshots.create('before');
      await put('/docs/a.bin', Buffer.from('overwritten'));
      await v.paths.unlink(ROOT_CTX, '/docs/b.txt');
      await v.paths.rename(ROOT_CTX, '/docs', '/papers');
      await put('/papers/new.txt', Buffer.from('made after'));
      await v.close();

      v = await open(dir); // history and the snapshot record are durable
      const s = v.snapshotVfs('before');
      assert.ok((await get(s, '/docs/a.bin')).equals(big), 'overwritten file reads its old 3 MiB');
      assert.equal((await get(s, '/docs/b.txt')).toString(), 'version one', 'deleted file is still there');
      assert.equal((await s.paths.getxattr(ROOT_CTX, '/docs/b.txt', 'user.note')).toString(), 'old note');
      assert.deepEqual((await s.paths.readdir(ROOT_CTX, '/')).map((e) => e.name), ['docs'], 'the rename did not happen there');
      assert.deepEqual((await s.paths.readdir(ROOT_CTX, '/docs')).map((e) => e.name).sort(), ['a.bin', 'b.txt']);
      assert.equal((await get(v, '/papers/a.bin')).toString(), 'overwritten', 'the live tree moved on');
      await assert.rejects(s.paths.open(ROOT_CTX, '/docs/c.txt', { write: true, create: true }), (e: { errno?: Errno }) => e.errno === Errno.EROFS);
      await assert.rejects(s.paths.unlink(ROOT_CTX, '/docs/b.txt'), (e: { errno?: Errno }) => e.errno === Errno.EROFS);
      assert.ok((await v.snapshots.heldBytes('before')) >= big.length, 'the snapshot holds the overwritten file');

      // Space: the snapshot keeps the old blocks; deleting it releases them.
      const withSnap = await v.impl.blocks.stats();
      await v.snapshots.delete('before');
      const after = await v.impl.blocks.stats();
      assert.ok(withSnap.logicalUsed - after.logicalUsed >= big.length + 'version one'.length, `released ${withSnap.logicalUsed - after.logicalUsed} bytes`);
      assert.throws(() => v.snapshotVfs('before'), (e: { errno?: Errno }) => e.errno === Errno.ENOENT);
      await v.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('deleting a newer snapshot keeps what an older one reads through it; deleting the older one then frees it', async () => {
    const v = await createMemoryVfs({ recordSize: 4096, inlineMax: 0 }); // counts blocks
    const put = async (p: string, data: string) => {
      const { fh } = await v.paths.open(ROOT_CTX, p, { write: true, create: true, truncate: true });
      await v.vfs.write(ROOT_CTX, fh, 0, Buffer.from(data));
      await v.vfs.release(ROOT_CTX, fh);
    };
    const read = async (name: string, p: string) => {
      const s = v.snapshotVfs(name);
      const { fh, attr } = await s.paths.open(ROOT_CTX, p, { read: true });
      try { return (await s.vfs.read(ROOT_CTX, fh, 0, attr.size)).toString(); } finally { await s.vfs.release(ROOT_CTX, fh); }
    };
    await put('/a', 'one');
    await v.snapshots.create('s1');
    await v.snapshots.create('s2'); // nothing changed in between: s1 and s2 share every entry
    await put('/a', 'two');
    assert.equal(await read('s1', '/a'), 'one');
    await v.snapshots.delete('s2');
    assert.equal(await read('s1', '/a'), 'one', 'the entry s1 needed was relabelled, not dropped');
    const blocks = v.impl.blocks;
    assert.equal((await blocks.stats()).blocks, 2, 'old and new content');
    await v.snapshots.delete('s1');
    assert.equal((await blocks.stats()).blocks, 1, 'only the live content is left');
    await v.close();
  });

  test('/.snapshots through the live path layer: hidden from /, lists snapshots, reads old bytes, refuses writes, restores by copy', async () => {
    const v = await createMemoryVfs({ recordSize: 4096, inlineMax: 0 }); // counts blocks
    const { paths, vfs } = v;
    const put = async (p: string, data: string) => {
      const { fh } = await paths.open(ROOT_CTX, p, { write: true, create: true, truncate: true });
      await vfs.write(ROOT_CTX, fh, 0, Buffer.from(data));
      await vfs.release(ROOT_CTX, fh);
    };
    const read = async (p: string) => {
      const { fh, attr } = await paths.open(ROOT_CTX, p, { read: true });
      try { return (await vfs.read(ROOT_CTX, fh, 0, attr.size)).toString(); } finally { await vfs.release(ROOT_CTX, fh); }
    };
    const errno = (e: unknown) => (e as { errno?: Errno }).errno;
    await paths.mkdir(ROOT_CTX, '/d');
    await put('/d/f', 'first');
    await v.snapshots.create('mon');
    await put('/d/f', 'second version');
    await v.snapshots.create('tue');
    await paths.unlink(ROOT_CTX, '/d/f');

    assert.deepEqual((await paths.readdir(ROOT_CTX, '/')).map((e) => e.name), ['d'], '/.snapshots is hidden from the listing');
    assert.equal((await paths.stat(ROOT_CTX, '/.snapshots')).type, 'dir', 'but reachable by path');
    v.impl.showSnapshots = true; // dw serve --show-snapshots
    assert.deepEqual((await paths.readdir(ROOT_CTX, '/')).map((e) => e.name), ['d', '.snapshots'], 'listed when asked for');
    v.impl.showSnapshots = false;
    assert.deepEqual((await paths.readdir(ROOT_CTX, '/.snapshots')).map((e) => e.name), ['mon', 'tue']);
    assert.equal(await read('/.snapshots/mon/d/f'), 'first');
    assert.equal(await read('/.snapshots/tue/d/f'), 'second version');
    const a = await paths.stat(ROOT_CTX, '/.snapshots/mon/d/f');
    const b = await paths.stat(ROOT_CTX, '/.snapshots/tue/d/f');
    assert.notEqual(a.ino, b.ino, 'each snapshot has its own inode numbers');
    assert.equal((await vfs.getattr(ROOT_CTX, a.ino)).size, 5, 'inode-level calls reach the snapshot too');

    for (const [what, p] of [
      ['write', paths.open(ROOT_CTX, '/.snapshots/mon/d/f', { write: true })],
      ['create', paths.open(ROOT_CTX, '/.snapshots/mon/d/new', { write: true, create: true })],
      ['unlink', paths.unlink(ROOT_CTX, '/.snapshots/mon/d/f')],
      ['mkdir', paths.mkdir(ROOT_CTX, '/.snapshots/mon/x')],
      ['rename inside', paths.rename(ROOT_CTX, '/.snapshots/mon/d/f', '/.snapshots/mon/d/g')],
      ['chmod', paths.setattr(ROOT_CTX, '/.snapshots/mon/d/f', { mode: 0o600 })],
      ['setxattr', paths.setxattr(ROOT_CTX, '/.snapshots/mon/d/f', 'user.x', Buffer.from('1'))],
      ['rmdir a snapshot', paths.rmdir(ROOT_CTX, '/.snapshots/mon')],
      ['rmdir /.snapshots', paths.rmdir(ROOT_CTX, '/.snapshots')],
    ] as const) {
      await assert.rejects(p, (e) => errno(e) === Errno.EROFS, what);
    }
    await assert.rejects(paths.mkdir(ROOT_CTX, '/.snapshots'), (e) => errno(e) === Errno.EEXIST);
    await assert.rejects(paths.rename(ROOT_CTX, '/.snapshots/mon/d/f', '/g'), (e) => errno(e) === Errno.EXDEV, 'out of a snapshot: as across file systems');
    await assert.rejects(paths.link(ROOT_CTX, '/.snapshots/mon/d/f', '/hard'), (e) => errno(e) === Errno.EXDEV);
    await assert.rejects(paths.stat(ROOT_CTX, '/.snapshots/wed'), (e) => errno(e) === Errno.ENOENT);

    // Restore: copy the old version back into the live tree (blocks shared, not rewritten).
    await paths.copy(ROOT_CTX, '/.snapshots/mon/d/f', '/d/f', { overwrite: false, depth: 0 });
    assert.equal(await read('/d/f'), 'first');
    const blocks = v.impl.blocks;
    assert.equal((await blocks.stats()).blocks, 2, 'the copy shares the snapshot\'s block');

    // A snapshot deleted while its inode is known: ESTALE.
    await v.snapshots.delete('tue');
    await assert.rejects(vfs.getattr(ROOT_CTX, b.ino), (e) => errno(e) === Errno.ESTALE);
    await v.close();
  });

  test('rollback: the newest snapshot only, unless newer ones are destroyed; usage returns; refused while a file is open', async () => {
    const v = await createMemoryVfs({ recordSize: 4096 });
    const put = async (p: string, data: string) => {
      const { fh } = await v.paths.open(ROOT_CTX, p, { write: true, create: true, truncate: true });
      await v.vfs.write(ROOT_CTX, fh, 0, Buffer.from(data));
      await v.vfs.release(ROOT_CTX, fh);
    };
    const errno = (e: unknown) => (e as { errno?: Errno }).errno;
    await put('/keep', 'kept');
    await v.snapshots.create('a');
    const usage = await v.impl.statfs(ROOT_CTX, 1);
    await put('/keep', 'changed');
    await put('/new', 'made later');
    await v.snapshots.create('b');
    await assert.rejects(v.snapshots.rollback('a'), (e) => errno(e) === Errno.EBUSY && /\bb\b/.test(String(e)));
    const { fh } = await v.paths.open(ROOT_CTX, '/keep', { read: true });
    await assert.rejects(v.impl.exclusive(() => v.snapshots.rollback('a', { destroyNewer: true })), (e) => errno(e) === Errno.EBUSY);
    await v.vfs.release(ROOT_CTX, fh);
    const r = await v.impl.exclusive(() => v.snapshots.rollback('a', { destroyNewer: true }));
    assert.deepEqual(r.destroyed, ['b']);
    assert.deepEqual((await v.paths.readdir(ROOT_CTX, '/')).map((e) => e.name), ['keep']);
    const k = await v.paths.open(ROOT_CTX, '/keep', { read: true });
    assert.equal((await v.vfs.read(ROOT_CTX, k.fh, 0, 100)).toString(), 'kept');
    await v.vfs.release(ROOT_CTX, k.fh);
    assert.deepEqual(await v.impl.statfs(ROOT_CTX, 1), usage, 'usage is what it was at the snapshot');
    assert.deepEqual(v.snapshots.list().map((x) => x.name), ['a']);
    await v.close();
  });

  test('names: bad ones are EINVAL, a taken one EEXIST, an unknown one ENOENT', async () => {
    const v = await createMemoryVfs();
    for (const bad of ['', '.', '..', 'a/b', 'x\0y', 'n'.repeat(256)]) {
      await assert.rejects(v.snapshots.create(bad), (e: { errno?: Errno }) => e.errno === Errno.EINVAL, JSON.stringify(bad));
    }
    await v.snapshots.create('daily-2026-11-29');
    await assert.rejects(v.snapshots.create('daily-2026-11-29'), (e: { errno?: Errno }) => e.errno === Errno.EEXIST);
    await assert.rejects(v.snapshots.delete('nope'), (e: { errno?: Errno }) => e.errno === Errno.ENOENT);
    await v.close();
  });
});
