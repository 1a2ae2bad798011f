/** Runs the shared KvStore suite (test/suites/kvSuite.ts) against every engine; CachedKv coherence when reads race commits. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kvSuite } from '../../test/suites/kvSuite.js';
import { CachedKv } from './cache.js';
import { MemoryKv } from './memory.js';
import { openRocksKv } from './rocksdb.js';

kvSuite('memory', async () => {
  const kv = new MemoryKv();
  return { kv, cleanup: () => kv.close() };
});

kvSuite('memory behind the read cache (tiny, so entries are evicted)', async () => {
  const kv = new CachedKv(new MemoryKv(), 4096);
  return { kv, cleanup: () => kv.close() };
});

kvSuite('memory behind the read cache, with scan-only prefixes', async () => {
  const kv = new CachedKv(new MemoryKv(), 4096, [0x00, 0x47, 0xff]);
  return { kv, cleanup: () => kv.close() };
});

test('CachedKv leaves scan-only rows out: a change made under it shows at once for them, not for cached rows', async () => {
  const inner = new MemoryKv();
  const kv = new CachedKv(inner, 1 << 20, [0x47]);
  const g = Buffer.from([0x47, 1, 2]), e = Buffer.from([0x45, 1, 2]);
  await kv.txn(async (tx) => { tx.set(g, Buffer.from('g1')); tx.set(e, Buffer.from('e1')); });
  assert.equal((await kv.get(g))?.toString(), 'g1');
  assert.equal((await kv.get(e))?.toString(), 'e1');
  // Behind the cache's back (nothing does this in the gateway: it shows what is cached).
  await inner.txn(async (tx) => { tx.set(g, Buffer.from('g2')); tx.set(e, Buffer.from('e2')); });
  assert.equal((await kv.get(g))?.toString(), 'g2', 'a scan-only row is read from the engine');
  assert.equal((await kv.get(e))?.toString(), 'e1', 'a cached row comes from the cache');
  assert.deepEqual((await kv.getMany([g, e])).map((v) => v?.toString()), ['g2', 'e1']);
  assert.equal(await kv.txn(async (tx) => (await tx.get(g))?.toString()), 'g2');
  await kv.close();
});

kvSuite('rocksdb (uncached)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-kv-'));
  const kv = await openRocksKv(join(dir, 'meta'), { cacheBytes: 0 });
  return {
    kv,
    async cleanup() {
      await kv.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

kvSuite('rocksdb (with its default read cache)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-kv-'));
  const kv = await openRocksKv(join(dir, 'meta'));
  return {
    kv,
    async cleanup() {
      await kv.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('CachedKv coherence with reads racing commits', () => {
  /** A MemoryKv whose committed reads take a while, so commits can land while one is under way. */
  function slowInner(): { kv: MemoryKv; reads: () => number; gate: () => () => void } {
    const kv = new MemoryKv();
    let reads = 0;
    let hold: Promise<void> | undefined;
    const get = kv.get.bind(kv);
    kv.get = async (k) => {
      reads++;
      const v = await get(k); // the value as of the read's start
      if (hold) await hold;
      return v;
    };
    return {
      kv, reads: () => reads,
      gate: () => {
        let open!: () => void;
        hold = new Promise((r) => (open = r));
        return () => { hold = undefined; open(); };
      },
    };
  }
  const K = Buffer.from('Dkey'), OTHER = Buffer.from('Dother');

  test('a read that a commit of the same key overtakes does not cache the old value', async () => {
    const s = slowInner();
    const kv = new CachedKv(s.kv);
    await kv.txn(async (tx) => tx.set(K, Buffer.from('old')));
    const cold = new CachedKv(s.kv); // a cache that has not seen K
    const open = s.gate();
    const reading = cold.get(K);
    await cold.txn(async (tx) => tx.set(K, Buffer.from('new')));
    open();
    assert.equal((await reading)?.toString(), 'old', 'the read saw the state at its start');
    assert.equal((await cold.get(K))?.toString(), 'new', 'the cache kept the committed value');
  });

  test('an absent key read while other keys commit is cached as absent', async () => {
    const s = slowInner();
    const kv = new CachedKv(s.kv);
    const open = s.gate();
    const reading = kv.get(K);
    await kv.txn(async (tx) => tx.set(OTHER, Buffer.from('x')));
    open();
    assert.equal(await reading, undefined);
    const before = s.reads();
    assert.equal(await kv.get(K), undefined);
    assert.equal(s.reads(), before, 'answered from the cache');
  });
});
