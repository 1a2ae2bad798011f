import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { compressStats, parseCompression } from '../../raid/compress.js';
import { SHARD_HEADER_BYTES, segmentFileName } from '../../raid/format.js';
import { chunkEnds } from '../../raid/chunker.js';
import type { BlockId, Slice } from '../../raid/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import { keys } from '../../vfs/meta/keys.js';
import { putCommit, rowOf, isEio, bytes, corrupt, text, type BlockStoreFactory } from './blockStoreHelpers.js';

/**
 * The BlockStore suite's cases for dedup and compression (blockStoreSuite.ts runs them inside
 * its describe, for every factory).
 */
export function blockStorePackingCases(factory: BlockStoreFactory): void {
    test('dedup: a record\'s new chunks are one container; the same chunks again are hits; index rows go with the last reference', async () => {
      const h = await factory.create();
      try {
        const d = bytes(70_000, 2100);
        const ends = [10_000, 30_000, 70_000];
        const read = async (sl: Slice[]) => {
          const out = Buffer.alloc(sl.reduce((a, x) => a + x.length, 0));
          let at = 0;
          for (const x of sl) at += await h.store.readInto(x.blockId, x.offset, x.length, out, at);
          return out;
        };
        const s1 = await h.store.putChunks(d, {}, ends);
        assert.ok(s1.container && s1.chunks.every((c) => !c.hit));
        const a = await h.kv.txn((tx) => h.store.commitChunks(s1, tx));
        assert.deepEqual(a.map((x) => [x.offset, x.length]), [[0, 10_000], [10_000, 20_000], [30_000, 40_000]]);
        const id = a[0]!.blockId;
        assert.ok(a.every((x) => x.blockId === id), 'one container block');
        assert.equal((await rowOf(h.kv, id)).refs, 3);
        assert.equal((await rowOf(h.kv, id)).flags & 4, 4, 'deduped flag');
        assert.ok((await read(a)).equals(d));
        // The same content again: every chunk a hit, nothing written, three more references.
        const s2 = await h.store.putChunks(Buffer.from(d), {}, ends);
        assert.equal(s2.container, undefined);
        assert.deepEqual(await h.kv.txn((tx) => h.store.commitChunks(s2, tx)), a);
        assert.equal((await rowOf(h.kv, id)).refs, 6);
        assert.equal((await h.store.stats()).blocks, 1);
        // Two old chunks and a new one; and a record with two equal new chunks stored once.
        const d2 = Buffer.concat([d.subarray(0, 30_000), bytes(20_000, 2101)]);
        const b = await h.kv.txn(async (tx) => h.store.commitChunks(await h.store.putChunks(d2, {}, [10_000, 30_000, 50_000]), tx));
        assert.deepEqual(b.slice(0, 2), a.slice(0, 2));
        assert.notEqual(b[2]!.blockId, id);
        assert.ok((await read(b)).equals(d2));
        const twice = Buffer.concat([bytes(5000, 2102), bytes(5000, 2102)]);
        const t = await h.kv.txn(async (tx) => h.store.commitChunks(await h.store.putChunks(twice, {}, [5000, 10_000]), tx));
        assert.deepEqual(t[0], t[1], 'equal chunks of one record: one copy');
        assert.equal((await rowOf(h.kv, t[0]!.blockId)).length, 5000);
        // Release every reference to the first container: its row, index rows and list go.
        await h.kv.txn(async (tx) => { for (let i = 0; i < 8; i++) await h.store.release(id, tx); });
        assert.equal(await h.kv.get(keys.block(id)), undefined);
        const left: string[] = [];
        for await (const [k] of h.kv.scan(Buffer.of(0x4b), Buffer.of(0x4c))) left.push(k.toString('hex'));
        assert.equal(left.length, 2, 'only the other containers\' chunks are indexed');
        assert.equal(await h.kv.get(keys.dedupOf(id)), undefined, 'the k row of the freed block is gone');
        assert.equal((await h.kv.get(keys.dedupOf(b[2]!.blockId)))?.length, 32, 'a container lists the hashes it indexed');
        // Its content is new again.
        const again = await h.store.putChunks(d, {}, ends);
        assert.equal(again.chunks.filter((c) => c.hit).length, 0);
      } finally {
        await h.cleanup();
      }
    });

    test('dedup: without ends the codec cuts content-defined chunks (as chunkEnds does) and hashes them; equal records are all hits', async () => {
      const h = await factory.create();
      try {
        const d = bytes(1 << 20, 2120);
        const s1 = await h.store.putChunks(d);
        let at = 0;
        assert.deepEqual(s1.chunks.map((c) => (at += c.length)), chunkEnds(d), 'the cuts are chunkEnds\'');
        assert.ok(s1.chunks.length > 64, `${s1.chunks.length} chunks`);
        const a = await h.kv.txn((tx) => h.store.commitChunks(s1, tx));
        const s2 = await h.store.putChunks(Buffer.from(d));
        assert.ok(s2.chunks.every((c) => c.hit), 'every chunk a hit');
        assert.deepEqual(await h.kv.txn((tx) => h.store.commitChunks(s2, tx)), a);
        await assert.rejects(h.store.putChunks(Buffer.alloc(0)), /empty/);
      } finally {
        await h.cleanup();
      }
    });

    test('dedup: two puts of one content before either commits; a hit whose block went before commit is EAGAIN', async () => {
      const h = await factory.create();
      try {
        const d = bytes(40_000, 2110);
        const [x, y] = await Promise.all([h.store.putChunks(d, {}, [40_000]), h.store.putChunks(d, {}, [40_000])]);
        assert.ok(x.container && y.container && x.container.id !== y.container.id);
        const [sx, sy] = await h.kv.txn(async (tx) => [await h.store.commitChunks(x, tx), await h.store.commitChunks(y, tx)]);
        assert.equal(sx![0]!.blockId, x.container.id);
        assert.equal(sy![0]!.blockId, y.container.id, 'the second keeps its own copy (not indexed)');
        const hit = await h.store.putChunks(d, {}, [40_000]);
        assert.deepEqual(hit.chunks[0]!.hit, sx![0], 'the index names the first committed');
        await h.kv.txn((tx) => h.store.release(x.container!.id, tx));
        await assert.rejects(h.kv.txn((tx) => h.store.commitChunks(hit, tx)), (e: unknown) => e instanceof VfsError && e.errno === Errno.EAGAIN);
        assert.ok((await h.store.get(y.container.id)).equals(d));
        await assert.rejects(h.store.putChunks(d, {}, [10, 5]), /ascend/);
      } finally {
        await h.cleanup();
      }
    });

    test('compression: random data costs no extra space against a pool with compression off (< 1%)', async () => {
      const on = await factory.create({ compression: 'zstd:3' });
      const off = await factory.create({ compression: 'off' });
      try {
        for (let i = 0; i < 8; i++) {
          const d = bytes(50_000 + i * 40_000, 2200 + i);
          await putCommit(on, d);
          await putCommit(off, d);
        }
        const a = await on.store.stats(), b = await off.store.stats();
        assert.equal(a.storedUsed, a.logicalUsed);
        assert.equal(b.storedUsed, b.logicalUsed);
        assert.ok(a.physicalUsed <= b.physicalUsed * 1.01, `${a.physicalUsed} vs ${b.physicalUsed}`);
      } finally {
        await on.cleanup();
        await off.cleanup();
      }
    });

    test('compression: a per-put setting overrides the pool (off on a zstd pool, lz4 on an off pool)', async () => {
      const h = await factory.create({ compression: 'zstd:3' });
      try {
        const d = text(200_000, 2300);
        const raw = (await h.store.put(d, { compress: parseCompression('off') }));
        await h.kv.txn((tx) => h.store.commit(raw, tx));
        assert.equal((await rowOf(h.kv, raw.id)).flags & 1, 0);
        assert.equal(raw.stored, d.length);
        await h.store.setCompression(parseCompression('off'));
        const lz = await h.store.put(d, { compress: parseCompression('lz4') });
        await h.kv.txn((tx) => h.store.commit(lz, tx));
        assert.equal((await rowOf(h.kv, lz.id)).alg, 1);
        assert.ok(lz.stored! < d.length / 2);
        assert.ok((await h.store.get(raw.id)).equals(d));
        assert.ok((await h.store.get(lz.id)).equals(d));
      } finally {
        await h.cleanup();
      }
    });

    test('compression: scrub finds and repairs a flipped byte in a compressed shard (data and parity)', async () => {
      const h = await factory.create({ compression: 'zstd:3' });
      try {
        const datas = [text(300_000, 2400), text(80_000, 2401)];
        const ids: BlockId[] = [];
        for (const d of datas) ids.push(await putCommit(h, d));
        await h.store.close();
        for (const [b, id] of ids.entries()) {
          const row = await rowOf(h.kv, id);
          assert.equal(row.flags & 1, 1);
          const s = row.shards[b === 0 ? 1 : 5]!; // a data shard of one block, a parity shard of the other
          corrupt(join(h.devices![s.device]!, segmentFileName(s.segment)), s.offset + SHARD_HEADER_BYTES + 11, 1);
        }
        h.store = await h.reopen!();
        const r1 = await h.store.scrub({ repair: true });
        assert.equal(r1.badShards, 2);
        assert.equal(r1.repaired, 2);
        assert.equal((await h.store.scrub({ repair: false })).badShards, 0);
        h.store = await h.reopen!();
        for (const [i, id] of ids.entries()) assert.ok((await h.store.get(id)).equals(datas[i]!));
      } finally {
        await h.cleanup();
      }
    });

    test('compression: replaceDevice rebuilds compressed blocks; then any 2 others can go', async () => {
      const h = await factory.create({ layout: 'rs:4+2', compression: 'lz4', segmentBytes: 64 << 10 });
      try {
        const datas = Array.from({ length: 6 }, (_, i) => (i % 2 ? bytes(30_000 + i, 2500 + i) : text(150_000 + i * 1000, 2500 + i)));
        const ids: BlockId[] = [];
        for (const d of datas) ids.push(await putCommit(h, d));
        await h.store.close();
        rmSync(h.devices![2]!, { recursive: true });
        h.store = await h.reopen!();
        const spare = h.spareFolder!();
        assert.equal((await h.store.replaceDevice(2, spare)).rebuiltShards, ids.length);
        h.devices![2] = spare;
        assert.equal((await h.store.scrub({ repair: false })).badShards, 0);
        await h.store.close();
        rmSync(h.devices![0]!, { recursive: true });
        rmSync(h.devices![5]!, { recursive: true });
        h.store = await h.reopen!();
        for (const [i, id] of ids.entries()) assert.ok((await h.store.get(id)).equals(datas[i]!), `block ${i}`);
      } finally {
        await h.cleanup();
      }
    });

    test('compression: reclaim moves compressed shards as they are; blocks still read', async () => {
      const h = await factory.create({ layout: 'rs:4+2', compression: 'zstd:3', segmentBytes: 64 << 10 });
      try {
        const datas = Array.from({ length: 10 }, (_, i) => text(60_000 + i * 7000, 2600 + i));
        const ids: BlockId[] = [];
        for (const d of datas) ids.push(await putCommit(h, d));
        for (let i = 0; i < ids.length; i += 2) await h.kv.txn((tx) => h.store.release(ids[i]!, tx));
        const r = await h.store.reclaim({ threshold: 0 });
        assert.ok(r.segmentsCompacted > 0);
        h.store = await h.reopen!();
        for (let i = 1; i < ids.length; i += 2) assert.ok((await h.store.get(ids[i]!)).equals(datas[i]!));
        const st = await h.store.stats();
        assert.equal(st.logicalUsed, datas.filter((_, i) => i % 2).reduce((a, d) => a + d.length, 0));
        assert.ok(st.storedUsed < st.logicalUsed / 2);
      } finally {
        await h.cleanup();
      }
    });

    test('compression: the setting survives reopen; blocks written off stay readable after on, and the reverse', async () => {
      const h = await factory.create({ compression: 'zstd:5' });
      try {
        const a = text(120_000, 2700), b = text(120_000, 2701), c = text(120_000, 2702);
        const idA = await putCommit(h, a);
        h.store = await h.reopen!();
        assert.equal((await h.store.stats()).compression, 'zstd:5', 'kept across reopen');
        await h.store.setCompression(parseCompression('off'));
        const idB = await putCommit(h, b);
        h.store = await h.reopen!();
        assert.equal((await h.store.stats()).compression, 'off');
        await h.store.setCompression(parseCompression('lz4'));
        const idC = await putCommit(h, c);
        h.store = await h.reopen!();
        assert.equal((await h.store.stats()).compression, 'lz4');
        assert.deepEqual([(await rowOf(h.kv, idA)).alg, (await rowOf(h.kv, idB)).alg, (await rowOf(h.kv, idC)).alg], [2, 0, 1]);
        assert.ok((await h.store.get(idA)).equals(a));
        assert.ok((await h.store.get(idB)).equals(b));
        assert.ok((await h.store.get(idC)).equals(c));
        const st = await h.store.stats();
        const rows = [await rowOf(h.kv, idA), await rowOf(h.kv, idB), await rowOf(h.kv, idC)];
        assert.equal(st.storedUsed, rows.reduce((x, r) => x + r.stored, 0));
        // Releasing compressed blocks takes their saving off the counter again.
        await h.kv.txn(async (tx) => { await h.store.release(idA, tx); await h.store.release(idC, tx); });
        const st2 = await h.store.stats();
        assert.equal(st2.storedUsed, st2.logicalUsed);
        assert.equal(st2.logicalUsed, b.length);
      } finally {
        await h.cleanup();
      }
    });

    test('compression: a compressed block with too few good shards is EIO and is never decompressed', async () => {
      const h = await factory.create({ layout: 'rs:4+2', compression: 'zstd:3' });
      try {
        const d = text(400_000, 2800);
        const id = await putCommit(h, d);
        await h.store.close();
        const row = await rowOf(h.kv, id);
        for (const j of [0, 2, 4]) {
          const s = row.shards[j]!;
          corrupt(join(h.devices![s.device]!, segmentFileName(s.segment)), s.offset + SHARD_HEADER_BYTES + 100, 16);
        }
        h.store = await h.reopen!();
        const before = compressStats.decompressCalls;
        await assert.rejects(h.store.get(id), isEio);
        assert.equal(compressStats.decompressCalls, before, 'no decompression of unverified bytes');
        assert.equal((await h.store.scrub({ repair: true })).unrecoverable, 1);
      } finally {
        await h.cleanup();
      }
    });
}
