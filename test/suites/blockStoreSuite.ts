import assert from 'node:assert/strict';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SHARD_HEADER_BYTES, segmentFileName, shardSizeFor } from '../../raid/format.js';
import type { BlockId, BlockStore, StagedBlock } from '../../raid/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import { keys, prefixEnd } from '../../vfs/meta/keys.js';
import { putCommit, rowOf, isEio, bytes, corrupt, segFiles, pairs, text, type Harness, type BlockStoreFactory } from './blockStoreHelpers.js';
import { blockStorePackingCases } from './blockStorePacking.js';

/**
 * The one BlockStore suite (ARCHITECTURE.md, "BlockStore"): run against the raid store with the
 * in-thread codec, with the worker-pool codec, on each KV engine, and — for the parts that
 * apply (no devices, no redundancy) — against MemoryBlockStore. Its dedup and compression cases
 * are in blockStorePacking.ts.
 */
export type { BlockStoreFactory, Harness } from './blockStoreHelpers.js';

const SIZES = [0, 1, 7, 8, 9, 100, 4095, 4096, 4097, 65536, 100_003, 1 << 20, (1 << 20) + 3];

export function blockStoreSuite(factory: BlockStoreFactory): void {
  describe(`BlockStore suite: ${factory.name}`, () => {
    test('round trips blocks of many sizes, 0 and 1 byte to 1 MiB + 3', async () => {
      const h = await factory.create();
      try {
        const ids: BlockId[] = [];
        for (const [i, n] of SIZES.entries()) ids.push(await putCommit(h, bytes(n, i + 1)));
        assert.equal(new Set(ids).size, ids.length, 'ids are distinct');
        for (const [i, n] of SIZES.entries()) {
          const got = await h.store.get(ids[i]!);
          assert.equal(got.length, n);
          assert.ok(got.equals(bytes(n, i + 1)), `block of ${n} bytes reads back identical`);
        }
        // A caller may modify the returned buffer without changing the block.
        const first = await h.store.get(ids[5]!);
        first.fill(0);
        assert.ok((await h.store.get(ids[5]!)).equals(bytes(SIZES[5]!, 6)));
        const st = await h.store.stats();
        assert.equal(st.blocks, SIZES.length);
        assert.equal(st.logicalUsed, SIZES.reduce((a, b) => a + b, 0));
      } finally {
        await h.cleanup();
      }
    });

    test('view and lend: the block\'s bytes, shared; adopt keeps a committed block\'s bytes for reads, and ignores staged or unknown blocks', async () => {
      const h = await factory.create();
      try {
        const data = bytes(100_003, 77);
        const id = await putCommit(h, data);
        const v1 = await h.store.view(id);
        assert.ok(v1.equals(data), 'view reads the block');
        assert.ok((await h.store.view(id)).equals(data), 'twice');
        const lent = await h.store.lend(id);
        assert.ok(lent.data.equals(data), 'lend reads the block too');
        lent.giveBack();
        lent.giveBack(); // once; a second call does nothing
        assert.ok((await h.store.get(id)).equals(data), 'and it still reads back after the loan');
        await assert.rejects(h.store.lend(999_999), isEio);
        // A staged block is not adopted: the bytes offered are not what commit makes visible.
        const s = await h.store.put(bytes(5000, 78));
        h.store.adopt(s.id, bytes(5000, 79));
        await h.kv.txn((tx) => h.store.commit(s, tx));
        assert.ok((await h.store.view(s.id)).equals(bytes(5000, 78)), 'a staged block keeps its own bytes');
        // Unknown ids stay unknown.
        h.store.adopt(999_999, bytes(10, 1));
        await assert.rejects(h.store.view(999_999), isEio);
        if (h.devices) {
          // Adopted after commit: read back from memory even when every shard is gone.
          const d2 = bytes(70_000, 80);
          const s2 = await h.store.put(d2);
          await h.kv.txn((tx) => h.store.commit(s2, tx));
          h.store.adopt(s2.id, Buffer.from(d2));
          for (const dir of h.devices) for (const f of segFiles(dir)) rmSync(f);
          assert.ok((await h.store.view(s2.id)).equals(d2), 'an adopted block is served from the cache');
          assert.ok((await h.store.get(s2.id)).equals(d2));
        }
      } finally {
        await h.cleanup();
      }
    });

    test('readInto copies just the asked range, clamped to the block; concurrent readers of a cold block agree', async () => {
      const h = await factory.create();
      try {
        const data = bytes((1 << 20) + 3, 42);
        const id = await putCommit(h, data);
        const out = Buffer.alloc(300_000, 0xee);
        assert.equal(await h.store.readInto(id, 5, 200_000, out, 7), 200_000);
        assert.ok(out.subarray(7, 200_007).equals(data.subarray(5, 200_005)));
        assert.equal(out[6], 0xee, 'nothing written before `at`');
        assert.equal(out[200_007], 0xee, 'nothing written past the range');
        assert.equal(await h.store.readInto(id, data.length - 10, 100, out, 0), 10, 'clamped at the end of the block');
        assert.ok(out.subarray(0, 10).equals(data.subarray(data.length - 10)));
        assert.equal(await h.store.readInto(id, data.length + 5, 100, out, 0), 0, 'past the end: nothing');
        await assert.rejects(h.store.readInto(id, -1, 10, out, 0), RangeError);
        // Many readers at once (as pipelined SFTP READs of one record): one load, same bytes.
        const other = await putCommit(h, bytes(700_001, 43));
        const parts = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
          const b = Buffer.alloc(100_000);
          const n = await h.store.readInto(other, i * 100_000, 100_000, b, 0);
          return b.subarray(0, n);
        }));
        assert.ok(Buffer.concat(parts).equals(bytes(700_001, 43)));
      } finally {
        await h.cleanup();
      }
    });

    test('concurrent puts and commits all read back', async () => {
      const h = await factory.create();
      try {
        const datas = Array.from({ length: 24 }, (_, i) => bytes(1000 + i * 777, 100 + i));
        const ids = await Promise.all(datas.map((d) => putCommit(h, d)));
        for (const [i, id] of ids.entries()) assert.ok((await h.store.get(id)).equals(datas[i]!));
      } finally {
        await h.cleanup();
      }
    });

    test('refcounts: ref adds references, release drops them, the last release frees the block', async () => {
      const h = await factory.create();
      try {
        const data = bytes(5000, 7);
        const id = await putCommit(h, data);
        const other = await putCommit(h, bytes(300, 8));
        await h.kv.txn(async (tx) => { await h.store.ref(id, tx); await h.store.ref(id, tx); });
        await h.kv.txn((tx) => h.store.release(id, tx));
        await h.kv.txn((tx) => h.store.release(id, tx));
        assert.ok((await h.store.get(id)).equals(data), 'still referenced once');
        assert.equal((await h.store.stats()).blocks, 2);
        await h.kv.txn((tx) => h.store.release(id, tx));
        assert.equal(await h.kv.get(keys.block(id)), undefined, 'row deleted at zero');
        await assert.rejects(h.store.get(id), isEio);
        const st = await h.store.stats();
        assert.equal(st.blocks, 1);
        assert.equal(st.logicalUsed, 300);
        await assert.rejects(h.kv.txn((tx) => h.store.release(id, tx)), isEio, 'release of a freed block');
        await assert.rejects(h.kv.txn((tx) => h.store.ref(id, tx)), isEio, 'ref of a freed block');
        assert.ok((await h.store.get(other)).equals(bytes(300, 8)));
      } finally {
        await h.cleanup();
      }
    });

    test('a commit in a failed transaction leaves no row', async () => {
      const h = await factory.create();
      try {
        const s = await h.store.put(bytes(1234, 9));
        await assert.rejects(h.kv.txn(async (tx) => {
          await h.store.commit(s, tx);
          throw new Error('caller fails');
        }), /caller fails/);
        assert.equal(await h.kv.get(keys.block(s.id)), undefined);
        if (factory.faults) assert.equal((await h.store.stats()).blocks, 0);
        // The staged block can still be committed by a later transaction.
        await h.kv.txn((tx) => h.store.commit(s, tx));
        assert.ok((await h.store.get(s.id)).equals(bytes(1234, 9)));
      } finally {
        await h.cleanup();
      }
    });

    test('stats report capacity and usage', async () => {
      const h = await factory.create();
      try {
        await putCommit(h, bytes(50_000, 10));
        const st = await h.store.stats();
        assert.ok(st.capacity > 0 && st.free >= 0 && st.free <= st.capacity);
        assert.equal(st.logicalUsed, 50_000);
        assert.ok(st.physicalUsed >= 50_000);
        assert.equal(st.layout, h.store.layout.name);
      } finally {
        await h.cleanup();
      }
    });

    if (!factory.faults) return;

    test('stats: every device online, capacity scaled by k/(k+m)', async () => {
      const h = await factory.create();
      try {
        const st = await h.store.stats();
        const { k, m } = h.store.layout;
        assert.equal(st.devices.length, k + m);
        for (const d of st.devices) assert.equal(d.state, 'online');
        // All test devices share one file system: usable free = fs free * k/(k+m).
        const fsFree = st.devices[0]!.free;
        assert.ok(Math.abs(st.free - (fsFree * k) / (k + m)) < fsFree * 0.01 + 1e6);
      } finally {
        await h.cleanup();
      }
    });

    test('scrub finds every injected corruption, says how many and repairs them', async () => {
      const h = await factory.create();
      try {
        const datas = Array.from({ length: 10 }, (_, i) => bytes(20_000 + i * 3001, 200 + i));
        const ids: BlockId[] = [];
        for (const d of datas) ids.push(await putCommit(h, d));
        await h.store.close();
        // Corrupt 2 shards in each of blocks 0..4 (payload), 1 shard header in blocks 5..7.
        let injected = 0;
        for (const [b, id] of ids.entries()) {
          const row = await rowOf(h.kv, id);
          const targets = b < 5 ? [b % 6, (b + 3) % 6] : b < 8 ? [b % 6] : [];
          for (const j of targets) {
            const s = row.shards[j]!;
            const file = join(h.devices![s.device]!, segmentFileName(s.segment));
            corrupt(file, b < 5 ? s.offset + SHARD_HEADER_BYTES + 17 + j : s.offset + 14);
            injected++;
          }
        }
        h.store = await h.reopen!();
        const r1 = await h.store.scrub({ repair: true });
        assert.equal(r1.blocksChecked, ids.length);
        assert.equal(r1.shardsChecked, ids.length * 6);
        assert.equal(r1.badShards, injected, 'every corruption found');
        assert.equal(r1.repaired, injected, 'every corruption repaired');
        assert.equal(r1.unrecoverable, 0);
        const r2 = await h.store.scrub({ repair: false });
        assert.equal(r2.badShards, 0, 'clean after repair');
        for (const [i, id] of ids.entries()) assert.ok((await h.store.get(id)).equals(datas[i]!));
      } finally {
        await h.cleanup();
      }
    });

    test('scrub with progress, and repair=false reports without rewriting', async () => {
      const h = await factory.create();
      try {
        const ids: BlockId[] = [];
        for (let i = 0; i < 5; i++) ids.push(await putCommit(h, bytes(9000, 300 + i)));
        await h.store.close();
        const row = await rowOf(h.kv, ids[2]!);
        const s = row.shards[1]!;
        corrupt(join(h.devices![s.device]!, segmentFileName(s.segment)), s.offset + SHARD_HEADER_BYTES + 5);
        h.store = await h.reopen!();
        const seen: [number, number][] = [];
        const r = await h.store.scrub({ repair: false, onProgress: (d, t) => seen.push([d, t]) });
        assert.equal(r.badShards, 1);
        assert.equal(r.repaired, 0);
        assert.deepEqual(seen[seen.length - 1], [5, 5]);
        assert.equal((await h.store.scrub({ repair: true })).repaired, 1);
        assert.equal((await h.store.scrub({ repair: false })).badShards, 0);
      } finally {
        await h.cleanup();
      }
    });

    test('a bad shard read by get is repaired in the background', async () => {
      const h = await factory.create();
      try {
        const data = bytes(40_000, 400);
        const id = await putCommit(h, data);
        await h.store.close();
        const row = await rowOf(h.kv, id);
        const s = row.shards[0]!; // a data shard: get reads it first
        corrupt(join(h.devices![s.device]!, segmentFileName(s.segment)), s.offset + SHARD_HEADER_BYTES + 3);
        h.store = await h.reopen!();
        assert.ok((await h.store.get(id)).equals(data));
        h.store = await h.reopen!(); // close waits for background repairs
        const r = await h.store.scrub({ repair: false });
        assert.equal(r.badShards, 0, 'repaired by the read');
        assert.notDeepEqual((await rowOf(h.kv, id)).shards[0], s, 'the row names the new place');
      } finally {
        await h.cleanup();
      }
    });

    for (const [a, b] of pairs(6)) {
      test(`rs:4+2 loses devices ${a} and ${b} (folders deleted): every block reads back identical`, async () => {
        const h = await factory.create({ layout: 'rs:4+2' });
        try {
          const datas = [0, 1, 4096, 33_333, 200_000].map((n, i) => bytes(n, 500 + i + a * 10 + b));
          const ids: BlockId[] = [];
          for (const d of datas) ids.push(await putCommit(h, d));
          await h.store.close();
          rmSync(h.devices![a]!, { recursive: true });
          rmSync(h.devices![b]!, { recursive: true });
          h.store = await h.reopen!();
          const st = await h.store.stats();
          assert.equal(st.devices[a]!.state, 'missing');
          assert.equal(st.devices[b]!.state, 'missing');
          for (const [i, id] of ids.entries()) assert.ok((await h.store.get(id)).equals(datas[i]!), `block ${i}`);
        } finally {
          await h.cleanup();
        }
      });
    }

    for (const [a, b] of [[0, 1], [2, 5], [3, 4]] as const) {
      test(`rs:4+2: random bytes overwritten in every segment of devices ${a} and ${b}: reads identical, scrub repairs`, async () => {
        const h = await factory.create({ layout: 'rs:4+2', segmentBytes: 64 << 10 });
        try {
          const datas = Array.from({ length: 12 }, (_, i) => bytes(10_000 + i * 5000, 600 + i));
          const ids: BlockId[] = [];
          for (const d of datas) ids.push(await putCommit(h, d));
          await h.store.close();
          for (const dev of [a, b]) {
            for (const f of segFiles(h.devices![dev]!)) {
              const size = statSync(f).size;
              // Every shard record of the file gets hit: one overwrite per 4 KiB.
              for (let pos = 0; pos + 8 < size; pos += 4096) corrupt(f, pos + Math.floor(Math.random() * Math.min(4096, size - pos - 8)), 8);
            }
          }
          h.store = await h.reopen!();
          // Count before any read: reads repair what they trip over in the background.
          const found = await h.store.scrub({ repair: false });
          assert.equal(found.unrecoverable, 0);
          assert.ok(found.badShards >= ids.length, `the overwrites hit shards of every block (${found.badShards} bad)`);
          for (const [i, id] of ids.entries()) assert.ok((await h.store.get(id)).equals(datas[i]!), `block ${i}`);
          h.store = await h.reopen!(); // waits for the background repairs the reads started
          const r = await h.store.scrub({ repair: true });
          assert.equal(r.unrecoverable, 0);
          assert.equal(r.repaired, r.badShards);
          assert.equal((await h.store.scrub({ repair: false })).badShards, 0);
          for (const [i, id] of ids.entries()) assert.ok((await h.store.get(id)).equals(datas[i]!));
        } finally {
          await h.cleanup();
        }
      });
    }

    test('rs:4+2 with 3 devices lost: get throws EIO, scrub counts the blocks unrecoverable', async () => {
      const h = await factory.create({ layout: 'rs:4+2' });
      try {
        const id = await putCommit(h, bytes(10_000, 700));
        await h.store.close();
        for (const d of [0, 2, 4]) rmSync(h.devices![d]!, { recursive: true });
        h.store = await h.reopen!();
        await assert.rejects(h.store.get(id), isEio);
        const r = await h.store.scrub({ repair: true });
        assert.equal(r.unrecoverable, 1);
        assert.equal(r.badShards, 3);
      } finally {
        await h.cleanup();
      }
    });

    test('replaceDevice rebuilds a lost device; afterwards any 2 others can be lost', async () => {
      const h = await factory.create({ layout: 'rs:4+2', segmentBytes: 64 << 10 });
      try {
        const datas = Array.from({ length: 9 }, (_, i) => bytes(i * 9000, 800 + i));
        const ids: BlockId[] = [];
        for (const d of datas) ids.push(await putCommit(h, d));
        await h.store.close();
        rmSync(h.devices![1]!, { recursive: true });
        h.store = await h.reopen!();
        const spare = h.spareFolder!();
        const seen: number[] = [];
        const r = await h.store.replaceDevice(1, spare, (d) => seen.push(d));
        assert.equal(r.rebuiltShards, ids.length, 'one shard per block on each device');
        assert.equal(seen[seen.length - 1], ids.length);
        h.devices![1] = spare;
        const st = await h.store.stats();
        assert.equal(st.devices[1]!.state, 'online');
        assert.equal(st.devices[1]!.path, spare);
        await h.store.close();
        rmSync(h.devices![0]!, { recursive: true });
        rmSync(h.devices![4]!, { recursive: true });
        h.store = await h.reopen!();
        assert.equal((await h.store.stats()).devices[1]!.path, spare, 'the new path persists');
        for (const [i, id] of ids.entries()) assert.ok((await h.store.get(id)).equals(datas[i]!), `block ${i}`);
      } finally {
        await h.cleanup();
      }
    });

    test('replaceDevice refuses a folder of another device', async () => {
      const h = await factory.create({ layout: 'rs:4+2' });
      try {
        await assert.rejects(h.store.replaceDevice(2, h.devices![3]!), (e: unknown) => e instanceof VfsError);
        await assert.rejects(h.store.replaceDevice(9, h.spareFolder!()), (e: unknown) => e instanceof VfsError && e.errno === Errno.EINVAL);
      } finally {
        await h.cleanup();
      }
    });

    test('writes with a device missing are degraded, readable, and completed by replaceDevice', async () => {
      const h = await factory.create({ layout: 'rs:4+2' });
      try {
        await h.store.close();
        rmSync(h.devices![5]!, { recursive: true });
        h.store = await h.reopen!();
        const datas = Array.from({ length: 6 }, (_, i) => bytes(3000 + i, 900 + i));
        const ids: BlockId[] = [];
        for (const d of datas) ids.push(await putCommit(h, d));
        for (const [i, id] of ids.entries()) assert.ok((await h.store.get(id)).equals(datas[i]!));
        const r = await h.store.scrub({ repair: true });
        assert.equal(r.badShards, ids.length, 'each block lacks its shard on the missing device');
        assert.equal(r.repaired, 0, 'nowhere to write them');
        const rb = await h.store.replaceDevice(5, h.spareFolder!());
        assert.equal(rb.rebuiltShards, ids.length);
        assert.equal((await h.store.scrub({ repair: false })).badShards, 0);
      } finally {
        await h.cleanup();
      }
    });

    test('reclaim returns used space to the baseline once blocks are released', async () => {
      const h = await factory.create({ layout: 'rs:4+2', segmentBytes: 64 << 10 });
      try {
        const base = await h.store.stats();
        const datas = Array.from({ length: 16 }, (_, i) => bytes(7000 + i * 1500, 1000 + i));
        const ids: BlockId[] = [];
        for (const d of datas) ids.push(await putCommit(h, d));
        const full = await h.store.stats();
        assert.ok(full.physicalUsed > base.physicalUsed);
        // Free every other block; compaction keeps the rest readable.
        for (let i = 0; i < ids.length; i += 2) await h.kv.txn((tx) => h.store.release(ids[i]!, tx));
        const half = await h.store.stats();
        assert.ok(half.dead > 0, 'released shards are dead space');
        const r1 = await h.store.reclaim({ threshold: 0 });
        assert.ok(r1.segmentsCompacted > 0 && r1.freedBytes > 0);
        const after = await h.store.stats();
        assert.equal(after.dead, 0);
        assert.ok(after.physicalUsed < half.physicalUsed);
        for (let i = 1; i < ids.length; i += 2) assert.ok((await h.store.get(ids[i]!)).equals(datas[i]!), `block ${i} after compaction`);
        assert.equal((await h.store.scrub({ repair: false })).badShards, 0);
        for (let i = 1; i < ids.length; i += 2) await h.kv.txn((tx) => h.store.release(ids[i]!, tx));
        await h.store.reclaim({ threshold: 0 });
        const end = await h.store.stats();
        assert.equal(end.physicalUsed, base.physicalUsed, 'back to the baseline');
        assert.equal(end.blocks, 0);
        assert.equal(end.logicalUsed, 0);
        for (const d of h.devices!) assert.deepEqual(segFiles(d), [], 'no segment files left');
        const g = Buffer.from('G');
        let indexRows = 0;
        for await (const _ of h.kv.scan(g, prefixEnd(g))) indexRows++;
        assert.equal(indexRows, 0, 'no segment index rows left (those of freed blocks dropped by compaction)');
      } finally {
        await h.cleanup();
      }
    });

    test('shards of blocks never committed are reclaimed (after a restart)', async () => {
      const h = await factory.create({ layout: 'rs:4+2', segmentBytes: 64 << 10 });
      try {
        const keep = bytes(12_345, 1100);
        const keepId = await putCommit(h, keep);
        const staged: StagedBlock[] = [];
        for (let i = 0; i < 8; i++) staged.push(await h.store.put(bytes(20_000, 1200 + i)));
        // Not committed: still pinned while this process may commit them.
        const pinned = await h.store.reclaim({ threshold: 0 });
        assert.equal(pinned.freedBytes, 0, 'staged blocks are not reclaimed under the writer');
        h.store = await h.reopen!();
        const before = await h.store.stats();
        assert.ok(before.dead > 0, 'orphan shards count as dead');
        const r = await h.store.reclaim({ threshold: 0 });
        assert.ok(r.freedBytes > 0);
        const after = await h.store.stats();
        assert.equal(after.dead, 0);
        const row = await rowOf(h.kv, keepId);
        const rec = SHARD_HEADER_BYTES + row.shardSize;
        assert.equal(after.physicalUsed, 6 * (rec + 64), 'only the committed block remains (one record + segment header per device)');
        assert.ok((await h.store.get(keepId)).equals(keep));
        await assert.rejects(h.kv.txn((tx) => h.store.commit(staged[0]!, tx)), isEio, 'an orphan cannot be committed after restart');
      } finally {
        await h.cleanup();
      }
    });

    test('segments roll over at the segment size', async () => {
      const h = await factory.create({ layout: 'rs:4+2', segmentBytes: 64 << 10 });
      try {
        const datas = Array.from({ length: 6 }, (_, i) => bytes(200_000, 1300 + i));
        const ids: BlockId[] = [];
        for (const d of datas) ids.push(await putCommit(h, d));
        for (const d of h.devices!) assert.ok(segFiles(d).length >= 6, 'one 50 KB shard per 64 KiB segment');
        for (const [i, id] of ids.entries()) assert.ok((await h.store.get(id)).equals(datas[i]!));
      } finally {
        await h.cleanup();
      }
    });

    test('sync makes written segments durable (fdatasync) without error', async () => {
      const h = await factory.create();
      try {
        const id = await putCommit(h, bytes(1000, 1400));
        await h.store.sync();
        await h.store.sync();
        assert.ok((await h.store.get(id)).equals(bytes(1000, 1400)));
      } finally {
        await h.cleanup();
      }
    });

    for (const [layout, lose] of [['mirror:3', [0, 2]], ['raid10:4', [0, 3]], ['raid5:4', [1]], ['raid6:5', [0, 4]], ['rs:8+3', [1, 5, 9]], ['raid0:3', []], ['rs:1+2', [0, 1]]] as const) {
      test(`${layout}: round trips, and survives losing devices ${lose.join(', ') || '(none)'}`, async () => {
        const h = await factory.create({ layout });
        try {
          const datas = [0, 1, 999, 65_536, 300_001].map((n, i) => bytes(n, 1500 + i));
          const ids: BlockId[] = [];
          for (const d of datas) ids.push(await putCommit(h, d));
          for (const [i, id] of ids.entries()) assert.ok((await h.store.get(id)).equals(datas[i]!));
          await h.store.close();
          for (const d of lose) rmSync(h.devices![d]!, { recursive: true });
          h.store = await h.reopen!();
          for (const [i, id] of ids.entries()) assert.ok((await h.store.get(id)).equals(datas[i]!), `${layout} block ${i}`);
          const r = await h.store.scrub({ repair: false });
          assert.equal(r.unrecoverable, 0);
          assert.equal(r.badShards, lose.length * ids.length);
        } finally {
          await h.cleanup();
        }
      });
    }

    for (const setting of ['lz4', 'zstd:3']) {
      test(`compression ${setting}: text round trips in fewer stored bytes; random data is stored raw; mixed`, async () => {
        const h = await factory.create({ compression: setting });
        try {
          const sizes = [1, 100, 4096, 65_536, 100_003, 1 << 20];
          const texts = sizes.map((n, i) => text(n, 2000 + i));
          const randoms = sizes.map((n, i) => bytes(n, 2100 + i));
          const tIds: BlockId[] = [], rIds: BlockId[] = [];
          for (let i = 0; i < sizes.length; i++) { // mixed: text and random blocks interleaved
            tIds.push(await putCommit(h, texts[i]!));
            rIds.push(await putCommit(h, randoms[i]!));
          }
          const k = h.store.layout.k;
          let storedText = 0;
          for (const [i, id] of tIds.entries()) {
            assert.ok((await h.store.get(id)).equals(texts[i]!), `text block of ${sizes[i]} bytes reads back`);
            const row = await rowOf(h.kv, id);
            if (sizes[i]! >= 4096) {
              assert.equal(row.flags & 1, 1, `text block of ${sizes[i]} bytes is compressed`);
              assert.equal(row.alg, setting === 'lz4' ? 1 : 2);
              assert.ok(row.stored < row.length * 0.6, `stored ${row.stored} < 60% of ${row.length}`);
              assert.ok(row.shardSize < shardSizeFor(row.length, k), 'smaller shards');
            }
            if (sizes[i]! < 8 * k) assert.equal(row.flags & 1, 0, 'a block that fits one alignment unit per shard stays raw');
            storedText += row.stored;
          }
          for (const [i, id] of rIds.entries()) {
            assert.ok((await h.store.get(id)).equals(randoms[i]!), `random block of ${sizes[i]} bytes reads back`);
            const row = await rowOf(h.kv, id);
            assert.equal(row.flags & 1, 0, 'random data is stored raw');
            assert.equal(row.stored, row.length);
            assert.equal(row.shardSize, shardSizeFor(row.length, k), 'no overhead: the raw layout');
          }
          const total = sizes.reduce((a, b) => a + b, 0);
          const st = await h.store.stats();
          assert.equal(st.compression, setting);
          assert.equal(st.logicalUsed, 2 * total);
          assert.equal(st.storedUsed, storedText + total, 'stored = compressed text + raw random');
          assert.ok(storedText < total / 2, `text saved more than half (${storedText} of ${total})`);
          // Dropping the cache forces reads from the shards again (decompressing).
          h.store = await h.reopen!();
          for (const [i, id] of tIds.entries()) assert.ok((await h.store.get(id)).equals(texts[i]!));
        } finally {
          await h.cleanup();
        }
      });
    }

    blockStorePackingCases(factory);
  });
}
