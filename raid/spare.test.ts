/**
 * Spare buffers (spare.ts) and the block cache giving back what it adopted: an adopted record
 * evicted without anyone having seen it (BlockStore.view) is reused for a later record; one a
 * view handed out never is, and neither is a view of a larger buffer. Blocks read from the devices
 * land in arena slots too: reused once evicted, unless viewed, or while lent (BlockStore.lend).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MemoryKv } from '../vfs/meta/memory.js';
import { createPool, openPool } from './index.js';
import { backingBytes, giveSpare, recyclable, SPARE_BYTES, spareCount, takeSpare } from './spare.js';

const MIB = 1 << 20;

function drain(size: number): Buffer[] {
  const out: Buffer[] = [];
  while (spareCount() > 0) out.push(takeSpare(size));
  return out;
}

test('spares: whole buffers of one size, bounded; views and other sizes are not kept', () => {
  drain(MIB);
  const a = Buffer.allocUnsafeSlow(MIB);
  giveSpare(a);
  giveSpare(Buffer.allocUnsafeSlow(2 * MIB).subarray(0, MIB)); // a view: ignored
  assert.equal(spareCount(), 1);
  assert.equal(takeSpare(MIB), a);
  giveSpare(a);
  const other = takeSpare(4096); // another size: a new buffer, and the old size's spares dropped
  assert.equal(other.length, 4096);
  assert.notEqual(other.buffer, a.buffer);
  assert.equal(spareCount(), 0);
  for (let i = 0; i < SPARE_BYTES / MIB + 5; i++) giveSpare(Buffer.allocUnsafeSlow(MIB));
  assert.equal(spareCount(), SPARE_BYTES / MIB, 'at most SPARE_BYTES held');
  drain(MIB);
});

type Store = Awaited<ReturnType<typeof openPool>>;

/** A pool over six folders with a 4 MiB block cache, spares drained, for `fn`; closed and removed after. */
async function withSmallCache(fn: (store: Store, kv: MemoryKv) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'dw-spare-'));
  const kv = new MemoryKv();
  try {
    const devices = Array.from({ length: 6 }, (_, i) => join(root, `d${i}`));
    await createPool(kv, { layout: 'rs:4+2', devices, segmentBytes: 16 * MIB });
    const store = await openPool(kv, { codec: 'inline', cacheBytes: 4 * MIB });
    drain(MIB);
    try {
      await fn(store, kv);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Stores and commits `data`, then hands it to the block cache, as a writer does; returns the block id. */
async function putAdopted(store: Store, kv: MemoryKv, data: Buffer): Promise<number> {
  const s = await store.put(data);
  await kv.txn((tx) => store.commit(s, tx));
  store.adopt(s.id, data);
  return s.id;
}

test('the block cache gives an evicted adopted record back unless a view handed it out', () => withSmallCache(async (store, kv) => {
  const put = async (fill: number): Promise<{ id: number; buf: Buffer }> => {
    const buf = Buffer.allocUnsafeSlow(MIB).fill(fill);
    return { id: await putAdopted(store, kv, buf), buf };
  };
  const a = await put(1);
  const b = await put(2);
  assert.deepEqual(await store.view(b.id), Buffer.alloc(MIB, 2), 'b is served from the cache');
  const into = Buffer.alloc(10);
  await store.readInto(a.id, 5, 10, into, 0); // a copy: a stays reusable
  assert.deepEqual(into, Buffer.alloc(10, 1));
  for (let i = 3; i < 9; i++) await put(i); // pushes a and b out of the 4 MiB cache
  const back = drain(MIB).map((x) => x.buffer);
  assert.ok(back.includes(a.buf.buffer), 'the unseen record came back as a spare');
  assert.ok(!back.includes(b.buf.buffer), 'the record a view handed out did not');
  assert.deepEqual(b.buf, Buffer.alloc(MIB, 2), 'and its bytes are intact');
  assert.deepEqual(await store.get(a.id), Buffer.alloc(MIB, 1), 'a still reads back from the devices');
}));

test('arena records: the block cache gives an evicted adopted slot back unless a view handed it out', () => withSmallCache(async (store, kv) => {
  const size = MIB - 4096; // a size no other test takes, so that the slots seen are ours
  const put = async (fill: number): Promise<{ id: number; buf: Buffer }> => {
    const buf = takeSpare(size).fill(fill);
    assert.ok(recyclable(buf), 'an arena slot');
    return { id: await putAdopted(store, kv, buf.subarray(0, size - 100)), buf }; // a partial record: still its slot
  };
  const a = await put(1);
  const b = await put(2);
  assert.deepEqual(await store.view(b.id), Buffer.alloc(size - 100, 2));
  const later: Buffer[] = [];
  for (let i = 3; i < 9; i++) later.push((await put(i)).buf); // pushes a and b out of the 4 MiB cache (each charged its whole slot)
  const again = Array.from({ length: 6 }, () => takeSpare(size));
  const offsets = [...later, ...again].map((x) => x.byteOffset);
  assert.ok(offsets.includes(a.buf.byteOffset), 'the unseen record\'s slot was reused');
  assert.ok(!offsets.includes(b.buf.byteOffset), 'the slot a view handed out was not');
  assert.deepEqual(b.buf, Buffer.alloc(size, 2), 'and its bytes are intact');
  for (const x of again) giveSpare(x);
}));

test('read records: a block loaded from the devices lands in an arena slot; lent, it is reused only after giveBack; viewed, never; copied, once evicted', () => withSmallCache(async (store, kv) => {
  const BLOCK = 200 * 1024; // rs:4+2: 50 KiB shards, a 300 KiB job slot
  const ids: number[] = [];
  for (let i = 0; i < 3 + 30; i++) {
    // Three blocks under test, then 30 of another size (other slots) to push them out of the 4 MiB cache.
    const s = await store.put(Buffer.alloc(i < 3 ? BLOCK : 120 * 1024, i + 1));
    await kv.txn((tx) => store.commit(s, tx));
    ids.push(s.id); // not adopted: every read below loads from the devices
  }
  const lent = await store.lend(ids[0]!);
  assert.deepEqual(lent.data, Buffer.alloc(BLOCK, 1));
  assert.ok(recyclable(lent.data), 'read into an arena slot');
  const slotSize = backingBytes(lent.data);
  const viewed = await store.view(ids[1]!);
  const into = Buffer.alloc(BLOCK);
  await store.readInto(ids[2]!, 0, BLOCK, into, 0);
  const copiedSlot = await store.lend(ids[2]!); // the cached block read just now, its memory
  copiedSlot.giveBack();
  await new Promise((r) => setImmediate(r)); // the loads' hand-over lends end
  for (let i = 3; i < ids.length; i++) await store.readInto(ids[i]!, 0, 10, into, 0); // pushes 0, 1 and 2 out of the cache
  const taken = Array.from({ length: 3 }, () => takeSpare(slotSize));
  const offsets = new Set(taken.map((b) => b.byteOffset));
  assert.ok(offsets.has(copiedSlot.data.byteOffset), 'the copied block\'s slot was reused once evicted');
  assert.ok(!offsets.has(lent.data.byteOffset), 'the lent slot was not, evicted but still lent');
  assert.ok(!offsets.has(viewed.byteOffset), 'the viewed slot was not');
  assert.deepEqual(lent.data, Buffer.alloc(BLOCK, 1), 'the lent bytes are intact');
  assert.deepEqual(viewed, Buffer.alloc(BLOCK, 2), 'the viewed bytes are intact');
  for (const b of taken) giveSpare(b);
  lent.giveBack();
  lent.giveBack(); // a second call does nothing
  const again = Array.from({ length: 8 }, () => takeSpare(slotSize)); // the slots given back above first, then the lent one
  assert.ok(again.some((b) => b.byteOffset === lent.data.byteOffset), 'given back: its slot is reused');
  assert.ok(!again.some((b) => b.byteOffset === viewed.byteOffset), 'the viewed slot never is');
  for (const b of again) giveSpare(b);
}));

test('read records: a block too large for the cache goes back to the arena once its readers are done, unless one viewed it', () => withSmallCache(async (store, kv) => {
  const BLOCK = 900 * 1024; // a 1.35 MiB job slot: more than a quarter of the 4 MiB cache, never kept
  const ids: number[] = [];
  for (let i = 0; i < 2; i++) {
    const s = await store.put(Buffer.alloc(BLOCK, i + 1));
    await kv.txn((tx) => store.commit(s, tx));
    ids.push(s.id);
  }
  const lentA = await store.lend(ids[0]!);
  const slotSize = backingBytes(lentA.data);
  const a = lentA.data.byteOffset;
  lentA.giveBack();
  const viewed = await store.view(ids[1]!);
  await new Promise((r) => setImmediate(r));
  const taken = Array.from({ length: 2 }, () => takeSpare(slotSize));
  assert.ok(taken.some((b) => b.byteOffset === a), 'the uncached block\'s slot came back');
  assert.ok(!taken.some((b) => b.byteOffset === viewed.byteOffset), 'the viewed one did not');
  assert.deepEqual(viewed, Buffer.alloc(BLOCK, 2));
  for (const b of taken) giveSpare(b);
}));

test('read records: a borrower giving back twice does not end another borrower\'s loan of the same block', () => withSmallCache(async (store, kv) => {
  const ids: number[] = [];
  for (let i = 0; i < 1 + 30; i++) {
    // One block under test (a 270 KiB slot, a size no other test reads), then 30 of another size to push it out of the 4 MiB cache.
    const s = await store.put(Buffer.alloc(i === 0 ? 180 * 1024 : 120 * 1024, i + 1));
    await kv.txn((tx) => store.commit(s, tx));
    ids.push(s.id);
  }
  const first = await store.lend(ids[0]!);
  const second = await store.lend(ids[0]!);
  assert.equal(first.data, second.data, 'the same cached bytes');
  first.giveBack();
  first.giveBack(); // must not count as the second borrower's
  await new Promise((r) => setImmediate(r));
  const into = Buffer.alloc(10);
  for (let i = 1; i < ids.length; i++) await store.readInto(ids[i]!, 0, 10, into, 0); // evicts block 0
  const slotSize = backingBytes(second.data);
  const taken = Array.from({ length: 3 }, () => takeSpare(slotSize));
  assert.ok(!taken.some((b) => b.byteOffset === second.data.byteOffset), 'still lent to the second borrower: not reused');
  assert.deepEqual(second.data, Buffer.alloc(180 * 1024, 1));
  for (const b of taken) giveSpare(b);
  second.giveBack();
  const again = Array.from({ length: 8 }, () => takeSpare(slotSize));
  assert.ok(again.some((b) => b.byteOffset === second.data.byteOffset), 'both given back: reused');
  for (const b of again) giveSpare(b);
}));

test('drop-behind: a block a read loaded leaves the cache and its slot is reused once given back; a block a write left stays', () => withSmallCache(async (store, kv) => {
  const BLOCK = 160 * 1024; // rs:4+2: 40 KiB shards, a 240 KiB job slot (a size no other test reads)
  const s = await store.put(Buffer.alloc(BLOCK, 7));
  await kv.txn((tx) => store.commit(s, tx)); // not adopted: the read below loads it
  const lent = await store.lend(s.id);
  await new Promise((r) => setImmediate(r)); // the load's hand-over lend ends
  const slotSize = backingBytes(lent.data);
  store.dropBehind(s.id);
  const before = takeSpare(slotSize);
  assert.notEqual(before.byteOffset, lent.data.byteOffset, 'not reused while lent');
  assert.deepEqual(lent.data, Buffer.alloc(BLOCK, 7), 'the lent bytes are intact');
  lent.giveBack();
  const after = takeSpare(slotSize);
  assert.equal(after.byteOffset, lent.data.byteOffset, 'given back: its slot is the next one taken');
  giveSpare(before);
  giveSpare(after);
  assert.deepEqual(await store.get(s.id), Buffer.alloc(BLOCK, 7), 'read again from the devices');

  const written = Buffer.allocUnsafeSlow(BLOCK).fill(9);
  const id = await putAdopted(store, kv, written);
  store.dropBehind(id);
  const again = await store.lend(id);
  assert.equal(again.data, written, 'the block the write left is still the cached one');
  again.giveBack();
}));
