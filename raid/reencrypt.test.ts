/**
 * `dw key reencrypt` at the raid level (raid/reencrypt.ts): the walk over raw, compressed and
 * dedup-container blocks on rs:2+1 (in-thread and worker codec), every block under the new key
 * afterwards (the key id read from the stored bytes on disk), resume after a stop, blocks
 * written or staged around the switch, dead space and reclaim, errors, and the strict decoder of
 * the pool row's reencrypt state (property test).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Errno, VfsError } from '../vfs/errno.js';
import type { KvStore } from '../vfs/meta/kv.js';
import { MemoryKv } from '../vfs/meta/memory.js';
import { openRocksKv } from '../vfs/meta/rocksdb.js';
import { SHARD_HEADER_BYTES } from './format.js';
import { createPool, openPool, poolKeyStatus, readPoolState, rotatePoolKey, type Secret } from './index.js';
import { decodeKeyRecord } from './keys.js';
import { decodePoolState, decodeReencryptState, POOL_KEY } from './poolstate.js';
import type { RaidBlockStore } from './store.js';
import type { BlockId, StagedBlock } from './types.js';

const FAST = { logN: 10, r: 8, p: 1 };
const pass = (passphrase: string): Secret => ({ kind: 'passphrase', passphrase });
const PW = pass('reencrypt pw');
const isErr = (errno: Errno, re?: RegExp) => (e: unknown) => e instanceof VfsError && e.errno === errno && (!re || re.test(e.message));

async function withPool(fn: (kv: KvStore, devs: string[]) => Promise<void>, engine: 'memory' | 'rocksdb' = 'memory', encrypted = true): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'dw-reenc-'));
  const kv: KvStore = engine === 'memory' ? new MemoryKv() : await openRocksKv(join(root, 'meta'));
  const devs = [0, 1, 2].map((i) => join(root, `d${i}`));
  try {
    await createPool(kv, { layout: 'rs:2+1', devices: devs, segmentBytes: 1 << 20, ...(encrypted ? { encryption: { secret: PW, scrypt: FAST } } : {}) });
    await fn(kv, devs);
  } finally {
    await kv.close();
    rmSync(root, { recursive: true, force: true });
  }
}

const open = async (kv: KvStore, codec: 'inline' | 'worker' = 'inline') => (await openPool(kv, { codec, workers: 2, unlock: async () => PW })) as RaidBlockStore;

async function commit(kv: KvStore, store: RaidBlockStore, s: StagedBlock): Promise<BlockId> {
  await kv.txn((tx) => store.commit(s, tx));
  return s.id;
}

/** The data key id at the start of a block's stored bytes, read from data shard 0 on disk. */
async function keyIdOnDisk(store: RaidBlockStore, devs: string[], id: BlockId): Promise<number> {
  const row = (await store.getRow(id))!;
  const s = row.shards[0]!;
  const fd = openSync(join(devs[s.device]!, `seg-${s.segment.toString(16).padStart(8, '0')}.dws`), 'r');
  try {
    const b = Buffer.alloc(4);
    readSync(fd, b, 0, 4, s.offset + SHARD_HEADER_BYTES);
    return b.readUInt32LE(0);
  } finally {
    closeSync(fd);
  }
}

const text = (i: number, n: number) => Buffer.from(`line ${i} of a compressible text block; `.repeat(Math.ceil(n / 30))).subarray(0, n);

/** The first dedup record fill() stored (cut at 20 000, 60 000, end). */
let dedupRecord = Buffer.alloc(0);

/** A mix of blocks: raw random, compressed text (lz4 and zstd), and dedup containers; returns id → content. */
async function fill(kv: KvStore, store: RaidBlockStore): Promise<Map<BlockId, Buffer>> {
  const want = new Map<BlockId, Buffer>();
  for (const n of [100, 40_000, 300_000, 1 << 20]) {
    const b = randomBytes(n);
    want.set(await commit(kv, store, await store.put(b)), b);
  }
  for (const [c, n] of [[{ alg: 'lz4' as const }, 200_000], [{ alg: 'zstd' as const, level: 3 }, 1 << 20], [{ alg: 'zstd' as const, level: 3 }, 5000]] as const) {
    const b = text(n, n);
    const s = await store.put(b, { compress: c });
    want.set(await commit(kv, store, s), b);
  }
  // Dedup containers: two records, the second sharing chunks with the first.
  const rec = Buffer.concat([randomBytes(50_000), text(7, 50_000)]);
  dedupRecord = rec;
  for (const data of [rec, Buffer.concat([rec.subarray(0, 60_000), randomBytes(20_000)])]) {
    const ends = [20_000, 60_000, data.length];
    const st = await store.putChunks(data, {}, ends);
    await kv.txn((tx) => store.commitChunks(st, tx));
    if (st.container) want.set(st.container.id, (await store.get(st.container.id)));
  }
  return want;
}

async function checkAll(store: RaidBlockStore, devs: string[], want: Map<BlockId, Buffer>, key: number): Promise<void> {
  store.cache.clear();
  for (const [id, b] of want) {
    assert.ok((await store.get(id)).equals(b), `block ${id} reads back`);
    assert.equal(await keyIdOnDisk(store, devs, id), key, `block ${id} is under key ${key}`);
  }
}

for (const codec of ['inline', 'worker'] as const) {
  test(`reencrypt (${codec} codec): raw, compressed and dedup blocks move to the new key, read back (also after reopening), twice; only the first and the current key stay`, async () => {
    await withPool(async (kv, devs) => {
      let store = await open(kv, codec);
      let want: Map<BlockId, Buffer>;
      const dedupKey = Buffer.from(store.dedupKey!), namesKey = Buffer.from(store.namesKey!);
      try {
        want = await fill(kv, store);
        const rows = new Map<BlockId, { length: number; stored: number; shardSize: number; flags: number }>();
        for (const id of want.keys()) {
          const r = (await store.getRow(id))!;
          rows.set(id, { length: r.length, stored: r.stored, shardSize: r.shardSize, flags: r.flags });
          assert.equal(await keyIdOnDisk(store, devs, id), 1);
        }
        assert.ok([...rows.values()].some((r) => r.flags & 1), 'some blocks are compressed');
        assert.ok([...rows.values()].some((r) => r.flags & 4), 'some blocks are dedup containers');
        const start = await store.startReencrypt(PW);
        assert.equal(start.started, true);
        assert.deepEqual({ to: start.status.to, from: start.status.from, cursor: start.status.cursor }, { to: 2, from: [1], cursor: 0 });
        const seen: number[] = [];
        const r = await store.reencrypt((done) => seen.push(done));
        assert.deepEqual({ finished: r.finished, to: r.to, keys: r.keys, rewritten: r.rewritten }, { finished: true, to: 2, keys: [1, 2], rewritten: want.size });
        assert.ok(seen.length >= want.size, 'progress reported');
        await checkAll(store, devs, want, 2);
        for (const [id, before] of rows) {
          const now = (await store.getRow(id))!;
          assert.deepEqual({ length: now.length, stored: now.stored, shardSize: now.shardSize, flags: now.flags }, before, `block ${id}: same sizes and flags`);
        }
        // Dedup still hits: same keyed hashes (the dedup key comes from key 1, kept).
        assert.ok(store.dedupKey!.equals(dedupKey) && store.namesKey!.equals(namesKey));
        const again = await store.putChunks(dedupRecord, {}, [20_000, 60_000, dedupRecord.length]);
        assert.ok(again.chunks.every((c) => c.hit) && !again.container, 'chunks stored before the reencrypt are found by their hashes');
        const st = await poolKeyStatus(kv);
        assert.deepEqual({ keys: st.keys, current: st.current, reencrypt: st.reencrypt }, { keys: [1, 2], current: 2, reencrypt: undefined });
      } finally {
        await store.close();
      }
      // A fresh open (keys from the record only) reads everything; a second reencrypt drops key 2.
      store = await open(kv, codec);
      try {
        await checkAll(store, devs, want, 2);
        assert.equal((await store.startReencrypt(PW)).status.to, 3);
        const r = await store.reencrypt();
        assert.deepEqual(r.keys, [1, 3]);
        await checkAll(store, devs, want, 3);
      } finally {
        await store.close();
      }
      const rec = decodeKeyRecord((await readPoolState(kv))!.encryption!);
      assert.deepEqual(rec.keys.map((k) => k.id), [1, 3]);
      assert.equal(rec.current, 3);
      store = await open(kv, codec);
      try {
        await checkAll(store, devs, want, 3);
        assert.ok(store.dedupKey!.equals(dedupKey) && store.namesKey!.equals(namesKey), 'derived keys unchanged after key 2 went');
      } finally {
        await store.close();
      }
    }, codec === 'worker' ? 'rocksdb' : 'memory');
  });
}

describe('reencrypt: stop, resume, writes around the switch, space', () => {
  test('a walk stopped half way (store closing) saves its cursor; a new open resumes from it and finishes', async () => {
    await withPool(async (kv, devs) => {
      let store = await open(kv);
      const want = new Map<BlockId, Buffer>();
      try {
        for (let i = 0; i < 300; i++) {
          const b = i % 2 ? randomBytes(3000 + i) : text(i, 3000 + i);
          want.set(await commit(kv, store, await store.put(b, i % 2 ? {} : { compress: { alg: 'lz4' } })), b);
        }
        await store.startReencrypt(PW);
        const r = await store.reencrypt((done) => { if (done === 140) store.closing = true; });
        assert.equal(r.finished, false);
        assert.equal(r.rewritten, 140);
      } finally {
        await store.close();
      }
      const st = (await readPoolState(kv))!.reencrypt!;
      assert.equal(st.done, 140);
      const ids = [...want.keys()];
      assert.equal(st.cursor, ids[139]! + 1, 'the cursor is just past the last block moved');
      store = await open(kv);
      try {
        for (const id of ids.slice(0, 140)) assert.equal(await keyIdOnDisk(store, devs, id), 2);
        for (const id of ids.slice(140)) assert.equal(await keyIdOnDisk(store, devs, id), 1);
        // Mid-walk (old and new keys mixed): everything reads.
        for (const [id, b] of want) assert.ok((await store.get(id)).equals(b));
        const again = await store.startReencrypt(PW);
        assert.equal(again.started, false, 'one recorded: resume, no new key');
        assert.equal(again.status.to, 2);
        await assert.rejects(store.startReencrypt(pass('wrong passphrase')), isErr(Errno.EACCES, /wrong passphrase/));
        const r = await store.reencrypt();
        assert.equal(r.finished, true);
        assert.equal(r.rewritten, 160);
        await checkAll(store, devs, want, 2);
        assert.equal((await readPoolState(kv))!.reencrypt, undefined);
      } finally {
        await store.close();
      }
    });
  });

  test('a crash between blocks (the walk throws) leaves old or new rows only; the next run resumes', async () => {
    await withPool(async (kv, devs) => {
      const store = await open(kv);
      const want = new Map<BlockId, Buffer>();
      try {
        for (let i = 0; i < 20; i++) {
          const b = randomBytes(10_000);
          want.set(await commit(kv, store, await store.put(b)), b);
        }
        await store.startReencrypt(PW);
        await assert.rejects(store.reencrypt((done) => { if (done === 7) throw new Error('simulated crash'); }), /simulated crash/);
        assert.equal((await readPoolState(kv))!.reencrypt!.done, 7);
        const r = await store.reencrypt();
        assert.equal(r.finished, true);
        assert.equal(r.rewritten, 13);
        await checkAll(store, devs, want, 2);
      } finally {
        await store.close();
      }
    });
  });

  test('blocks around the switch: staged before and committed before the walk passes it → moved; committed after the walk passed it → EAGAIN; written during the walk → new key', async () => {
    await withPool(async (kv, devs) => {
      const store = await open(kv);
      const want = new Map<BlockId, Buffer>();
      try {
        for (let i = 0; i < 10; i++) {
          const b = randomBytes(5000);
          want.set(await commit(kv, store, await store.put(b)), b);
        }
        const early = randomBytes(7000), late = randomBytes(7000);
        const sEarly = await store.put(early); // sealed with key 1
        const sLate = await store.put(late); // sealed with key 1
        await store.startReencrypt(PW);
        want.set(await commit(kv, store, sEarly), early); // before the walk: allowed, the walk will see it
        const during: BlockId[] = [];
        await store.reencrypt((done) => {
          if (done === 4) {
            const b = randomBytes(9000);
            void store.put(b).then((s) => commit(kv, store, s)).then((id) => { during.push(id); want.set(id, b); });
          }
        });
        await assert.rejects(kv.txn((tx) => store.commit(sLate, tx)), isErr(Errno.EAGAIN, /sealed with data key 1, which a reencrypt retires/));
        // Tried again (a group commit redoing its records one by one): the same answer, not EIO.
        await assert.rejects(kv.txn((tx) => store.commit(sLate, tx)), isErr(Errno.EAGAIN, /sealed with data key 1, which a reencrypt retires/));
        while (!during.length) await new Promise((r) => setTimeout(r, 5));
        assert.equal(await keyIdOnDisk(store, devs, during[0]!), 2, 'written during the walk: new key');
        await checkAll(store, devs, want, 2);
        // A block staged under key 1 after the walk finished cannot commit either.
        assert.equal(store.reenc, undefined);
      } finally {
        await store.close();
      }
    });
  });

  test('space: the old shards become dead; reclaim frees them and every block still reads', async () => {
    await withPool(async (kv, devs) => {
      const store = await open(kv);
      const want = new Map<BlockId, Buffer>();
      try {
        for (let i = 0; i < 12; i++) {
          const b = randomBytes(200_000);
          want.set(await commit(kv, store, await store.put(b)), b);
        }
        const before = await store.stats();
        await store.startReencrypt(PW);
        await store.reencrypt();
        const after = await store.stats();
        assert.equal(after.logicalUsed, before.logicalUsed);
        assert.equal(after.blocks, before.blocks);
        assert.ok(after.dead >= before.physicalUsed - before.dead - 3 * 64 * 3, `the old records are dead (${after.dead} of ${after.physicalUsed})`);
        const rc = await store.reclaim({ threshold: 0.1 });
        assert.ok(rc.freedBytes >= after.dead * 0.8, `reclaim freed ${rc.freedBytes} of ${after.dead}`);
        const end = await store.stats();
        assert.ok(end.physicalUsed < after.physicalUsed * 0.7, `space back: ${end.physicalUsed} vs ${after.physicalUsed}`);
        await checkAll(store, devs, want, 2);
        const s = await store.scrub({ repair: false });
        assert.equal(s.badShards, 0);
      } finally {
        await store.close();
      }
    });
  });

  test('errors: a plain pool refuses (EINVAL); a wrong secret is EACCES and changes nothing; rotate during a walk keeps it', async () => {
    await withPool(async (kv) => {
      const store = await open(kv);
      try {
        await assert.rejects(store.startReencrypt(PW), isErr(Errno.EINVAL, /is not encrypted/));
        assert.deepEqual(await store.reencrypt(), { finished: true, to: 0, keys: [], rewritten: 0, visited: 0 });
      } finally {
        await store.close();
      }
    }, 'memory', false);
    await withPool(async (kv) => {
      const store = await open(kv);
      try {
        await commit(kv, store, await store.put(randomBytes(1000)));
        const row = (await kv.get(POOL_KEY))!;
        await assert.rejects(store.startReencrypt(pass('not the passphrase')), isErr(Errno.EACCES));
        await assert.rejects(store.startReencrypt({ kind: 'keyfile', key: randomBytes(32) }), isErr(Errno.EINVAL, /locked with a passphrase/));
        assert.ok((await kv.get(POOL_KEY))!.equals(row), 'pool row unchanged');
        await store.startReencrypt(PW);
        const np = pass('another passphrase');
        await rotatePoolKey(kv, PW, np, FAST);
        assert.equal((await readPoolState(kv))!.reencrypt!.to, 2, 'rotate keeps the walk');
        const r = await store.reencrypt();
        assert.deepEqual(r.keys, [1, 2]);
      } finally {
        await store.close();
      }
    });
  });
});

describe('reencrypt state decoder', () => {
  const rec = { source: 'passphrase' as const, kdf: { kind: 'hkdf' as const }, salt: Buffer.alloc(16), current: 3, keys: [1, 2, 3].map((id) => ({ id, nonce: Buffer.alloc(12), wrapped: Buffer.alloc(48) })) };
  const good = { to: 3, from: [1, 2], cursor: 17, done: 9, started: 1_700_000_000_000 };

  test('a good state decodes; each kind of garbage is EIO naming the reason', () => {
    assert.deepEqual(decodeReencryptState(good, rec), good);
    const bad: [unknown, RegExp][] = [
      [null, /not an object/], [[1], /not an object/], ['x', /not an object/],
      [{ ...good, extra: 1 }, /fields/], [{ to: 3, from: [1], cursor: 0, done: 0 }, /fields/],
      [{ ...good, to: 2 }, /current key is 3/], [{ ...good, to: 0 }, /not a key id/], [{ ...good, to: 1.5 }, /not a key id/],
      [{ ...good, from: [] }, /`from`/], [{ ...good, from: [1, 1] }, /repeats/], [{ ...good, from: [3] }, /repeats a key id or names `to`/],
      [{ ...good, from: [9] }, /does not hold/], [{ ...good, from: '1' }, /`from`/],
      [{ ...good, cursor: -1 }, /cursor/], [{ ...good, cursor: 2 ** 60 }, /cursor/], [{ ...good, done: 'x' }, /done/], [{ ...good, started: null }, /started/],
    ];
    for (const [v, re] of bad) assert.throws(() => decodeReencryptState(v, rec), (e: unknown) => isErr(Errno.EIO, /corrupt reencrypt state/)(e) && re.test((e as Error).message), JSON.stringify(v));
    assert.throws(() => decodeReencryptState(good, undefined), isErr(Errno.EIO, /not encrypted/));
  });

  test('property: random values and random mutations of a good state decode or fail with EIO, nothing else', () => {
    const atoms = (): unknown => [0, 1, 2, 3, -1, 1.5, 2 ** 53, 0xffffffff + 1, '', '3', null, true, [], {}, [1, 2], [2], [1, 2, 3]][Math.floor(Math.random() * 17)];
    const fields = ['to', 'from', 'cursor', 'done', 'started', 'x'];
    for (let i = 0; i < 5000; i++) {
      let v: unknown;
      if (i % 3 === 0) v = atoms();
      else {
        const o: Record<string, unknown> = { ...good };
        for (let n = 1 + (i % 3); n > 0; n--) {
          const f = fields[Math.floor(Math.random() * fields.length)]!;
          if (Math.random() < 0.2) delete o[f];
          else o[f] = atoms();
        }
        v = o;
      }
      try {
        const s = decodeReencryptState(v, rec);
        assert.equal(s.to, 3);
        assert.ok(s.from.length >= 1 && s.from.every((id) => id === 1 || id === 2));
      } catch (e) {
        assert.ok(isErr(Errno.EIO)(e), `${JSON.stringify(v)}: ${String(e)}`);
      }
    }
  });

  test('a pool row with a garbage reencrypt state is EIO at open', async () => {
    await withPool(async (kv) => {
      const s = JSON.parse((await kv.get(POOL_KEY))!.toString());
      for (const r of [{ to: 1 }, 'walk', { ...good, to: 1, from: [2] }]) {
        const v = Buffer.from(JSON.stringify({ ...s, reencrypt: r }));
        assert.throws(() => decodePoolState(v), isErr(Errno.EIO, /corrupt reencrypt state/));
        await kv.txn(async (tx) => tx.set(POOL_KEY, v));
        await assert.rejects(open(kv), isErr(Errno.EIO, /corrupt reencrypt state/));
      }
    });
  });
});
