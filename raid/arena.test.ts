/**
 * The record arena (arena.ts): slots handed out, given back and reused; bounded; views that do
 * not start a slot are refused; its memory is not counted as V8 external memory.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { Arena, arenaOf, copyBytes } from './arena.js';
import { adviseHugePages, hugePagesAvailable } from './hugepages.js';
import { SYS_ADDON_PATH, sysAddon } from './sysaddon.js';
import { prefaulted } from './prefault.js';
import { arenaStats, backingBytes, giveSpare, RecordMap, recyclable, resetRecordArena, takeSpare } from './spare.js';

const KIB = 1024;

test('arena: a slot given back is the next one taken of its size; other sizes get new slots', () => {
  const a = new Arena(1 << 20);
  const x = a.take(64 * KIB)!;
  const y = a.take(64 * KIB)!;
  assert.equal(x.length, 64 * KIB);
  x.fill(1);
  y.fill(2);
  assert.deepEqual(y, Buffer.alloc(64 * KIB, 2), 'slots do not overlap');
  assert.equal(a.give(x.subarray(0, 100)), true, 'a view from the first byte gives the whole slot back');
  assert.deepEqual(a.stats, { carved: 128 * KIB, free: 64 * KIB });
  const z = a.take(64 * KIB)!;
  assert.equal(z.byteOffset, x.byteOffset, 'the free slot is reused');
  assert.equal(a.stats.carved, 128 * KIB, 'nothing new carved');
  const w = a.take(100)!;
  assert.equal(w.length, 100);
  assert.equal(w.byteOffset % 4096, 0, 'slots start on pages');
  assert.equal(a.stats.carved, 128 * KIB + 4096);
});

test('arena: the slot given back last is taken first; one given back twice is listed once', () => {
  const a = new Arena(1 << 20);
  const [x, y, z] = [a.take(64 * KIB)!, a.take(64 * KIB)!, a.take(64 * KIB)!];
  a.give(x);
  a.give(y);
  a.give(y);
  assert.equal(a.stats.free, 128 * KIB, 'y counted once');
  assert.equal(a.take(64 * KIB)!.byteOffset, y.byteOffset, 'the last given back first');
  assert.equal(a.take(64 * KIB)!.byteOffset, x.byteOffset);
  assert.equal(a.take(64 * KIB)!.byteOffset, 3 * 64 * KIB, 'then a new slot: y is not handed out twice');
  assert.equal(a.stats.free, 0);
  a.give(z);
});

test('arena: full means undefined, and only slot starts are taken back', () => {
  const a = new Arena(256 * KIB);
  const got = [a.take(100 * KIB), a.take(100 * KIB)];
  assert.ok(got.every(Boolean));
  assert.equal(a.take(100 * KIB), undefined, 'past maxBytes: the caller allocates as before');
  assert.equal(a.give(got[0]!.subarray(1)), false, 'a view from inside a slot is refused');
  assert.equal(a.give(Buffer.alloc(100 * KIB)), false, 'a malloc buffer is not the arena\'s');
  assert.equal(a.slotSize(got[1]!), 100 * KIB);
  assert.equal(a.give(got[1]!), true);
  assert.equal(a.give(got[1]!), true, 'giving twice keeps one free entry');
  assert.deepEqual(a.stats.free, 100 * KIB);
  assert.ok(a.take(100 * KIB));
  assert.equal(a.take(100 * KIB), undefined);
});

test('arena: slots survive the memory growing (views made before a grow still read the same bytes)', () => {
  const a = new Arena(64 << 20);
  const first = a.take(64 * KIB)!.fill(7);
  const later: Buffer[] = [];
  for (let i = 0; i < 64; i++) later.push(a.take(512 * KIB)!.fill(i));
  assert.deepEqual(first, Buffer.alloc(64 * KIB, 7));
  later.forEach((b, i) => assert.equal(b[b.length - 1], i));
  assert.equal(a.owns(first), true, 'a view of the memory before it grew is still the arena\'s');
  assert.equal(a.give(first), true);
  assert.equal(a.take(64 * KIB)!.byteOffset, first.byteOffset);
});

/** The kernel's transparent huge page setting ("always [madvise] never"). */
const thp = existsSync('/sys/kernel/mm/transparent_hugepage/enabled') ? readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8') : '[never]';

test('arena: with `ahead` the memory grows that far past the slots, the helper faults it in, and slots written meanwhile keep their bytes', async () => {
  const ahead = 32 << 20;
  const a = new Arena(128 << 20, ahead);
  const slots: Buffer[] = [];
  // Written while the helper thread adds 0 to a word of each page of the same memory.
  for (let i = 0; i < 48; i++) {
    const s = a.take(1 << 20)!;
    for (let round = 0; round < 4; round++) s.fill((i + round) & 0xff);
    slots.push(s);
  }
  const grown = slots[47]!.buffer.byteLength; // the view made after the last grow
  assert.ok(grown >= 48 * (1 << 20) + ahead, `grown ${grown} bytes, ${ahead} past 48 MiB of slots`);
  const deadline = Date.now() + 30_000;
  while (prefaulted() < grown && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(prefaulted() >= grown, `the helper faulted in ${prefaulted()} of ${grown} bytes`);
  slots.forEach((s, i) => assert.ok(s.equals(Buffer.alloc(1 << 20, (i + 3) & 0xff)), `slot ${i} holds what was written last`));
  const past = a.take(64 * KIB)!;
  assert.equal(past.byteOffset, 48 * (1 << 20), 'memory grown ahead is carved in order');
  assert.ok(past.every((b) => b === 0), 'and the helper left it as it was (zero)');
});

test('arena: the helper faults each new page in once (a write, not a read first)', { skip: thp.includes('[always]') ? 'transparent huge pages "always": few faults to count' : false }, () => {
  // In a new process: memory of an arena that was let go may come back to the next one already
  // faulted in, which would leave nothing to count here.
  const script = `
    import { Arena } from ${JSON.stringify(new URL('./arena.js', import.meta.url).href)};
    import { prefaulted } from ${JSON.stringify(new URL('./prefault.js', import.meta.url).href)};
    const a = new Arena(64 << 20, 32 << 20);
    const before = process.resourceUsage().minorPageFault;
    const grown = a.take(4096).buffer.byteLength;
    const deadline = Date.now() + 30000;
    while (prefaulted() < grown && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    console.log(JSON.stringify({ grown, done: prefaulted(), faults: process.resourceUsage().minorPageFault - before }));`;
  // (From a file: with `-e` the helper worker would inherit --input-type=module and fail to start.)
  const dir = mkdtempSync(join(tmpdir(), 'dw-arena-'));
  let out: string;
  try {
    writeFileSync(join(dir, 'faults.mjs'), script);
    out = execFileSync(process.execPath, ['--import', 'tsx', join(dir, 'faults.mjs')], { encoding: 'utf8', env: { ...process.env, DW_HUGEPAGES: '0' } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const { grown, done, faults } = JSON.parse(out) as { grown: number; done: number; faults: number };
  assert.ok(done >= grown, `the helper faulted in ${done} of ${grown} bytes`);
  const pages = grown / 4096;
  // With Atomics.add the helper took two faults a page: about 2 × pages (19,280 for 8,704).
  assert.ok(faults < 1.5 * pages, `${faults} faults for ${pages} new pages`);
});

test('populateWrite (native/sys) makes new memory resident in one call and changes no byte', () => {
  const sys = sysAddon();
  assert.ok(sys, `the native/sys addon loads (${SYS_ADDON_PATH}; built by node scripts/build-native.mjs)`);
  const Wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number; shared: true }) => { buffer: SharedArrayBuffer; grow(n: number): number } } }).WebAssembly;
  const mem = new Wasm.Memory({ initial: 1, maximum: 1024, shared: true });
  mem.grow(512); // 32 MiB more, not touched yet
  const bytes = new Uint8Array(mem.buffer);
  bytes[100_000] = 7; // a page already written keeps its byte
  const before = rssBytes();
  const rc = sys.populateWrite(bytes.subarray(65536));
  if (rc === 22) return; // EINVAL: a kernel before 5.14 (the helper then touches alone)
  assert.equal(rc, 0, `madvise(MADV_POPULATE_WRITE) errno ${rc}`);
  const gained = rssBytes() - before;
  assert.ok(gained >= 24 << 20, `32 MiB populated, resident memory grew by ${gained} bytes`);
  assert.equal(bytes[100_000], 7);
  assert.ok(bytes.subarray(200_000).every((b) => b === 0), 'new memory reads as zero');
  assert.throws(() => sys.populateWrite('x' as unknown as Uint8Array), TypeError);
});

/** The process's resident memory, bytes (/proc/self/status VmRSS). */
function rssBytes(): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
}

/** The process's anonymous memory in transparent huge pages, bytes (/proc/self/smaps_rollup). */
function anonHugeBytes(): number {
  const m = /^AnonHugePages:\s+(\d+) kB/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

test('arena: with DW_HUGEPAGES=1 its memory is advised into 2 MiB pages (native/sys built by npm ci), and slots in them work as any', { skip: thp.includes('[never]') ? 'transparent huge pages off on this machine' : false }, (t) => {
  const was = process.env.DW_HUGEPAGES;
  process.env.DW_HUGEPAGES = '1';
  t.after(() => { if (was === undefined) delete process.env.DW_HUGEPAGES; else process.env.DW_HUGEPAGES = was; });
  assert.ok(hugePagesAvailable(), `the native/sys addon loads (${SYS_ADDON_PATH}; built by node scripts/build-native.mjs)`);
  const before = anonHugeBytes();
  const a = new Arena(64 << 20);
  const slots: Buffer[] = [];
  for (let i = 0; i < 32; i++) slots.push(a.take(1 << 20)!.fill(i + 1));
  const gained = anonHugeBytes() - before;
  // Each 2 MiB page wholly inside the grown memory can be huge; the kernel may still fall back to
  // small pages for some (no free huge page at hand), so not all 32 MiB are asked for.
  assert.ok(gained >= 8 << 20, `32 MiB of slots touched, ${gained} bytes more in huge pages`);
  slots.forEach((s, i) => assert.ok(s.equals(Buffer.alloc(1 << 20, i + 1)), `slot ${i}`));
  assert.equal(adviseHugePages(new Uint8Array(4096)), true, 'a view under 2 MiB advises nothing and is no error');
});

test('arena memory is not V8 external memory (the point of it)', () => {
  const a = new Arena(256 << 20);
  const before = process.memoryUsage().arrayBuffers;
  const held: Buffer[] = [];
  for (let i = 0; i < 128; i++) held.push(a.take(1 << 20)!.fill(i));
  const grown = process.memoryUsage().arrayBuffers - before;
  assert.ok(grown < 16 << 20, `128 MiB of slots counted ${grown} bytes of array buffers`);
  assert.equal(held[127]![0], 127);
});

test('spares: arena slots by memory, not by backing buffer', () => {
  const s = takeSpare(96 * KIB);
  assert.ok(arenaStats().carved > 0);
  assert.equal(recyclable(s.subarray(0, 10)), true, 'a view from a slot start is recyclable');
  assert.equal(recyclable(s.subarray(10)), false);
  assert.equal(backingBytes(s.subarray(0, 10)), 96 * KIB, 'a partial view is charged its whole slot');
  const set = new RecordMap<number>();
  set.set(s.subarray(0, 10), 1);
  assert.equal(set.get(s), 1, 'found by its memory');
  assert.equal(set.delete(s), true);
  assert.equal(set.delete(s), false);
  assert.equal(set.get(s), undefined);
  const m = Buffer.allocUnsafeSlow(4096);
  set.set(m, 2);
  assert.equal(set.get(m.subarray(0, 1)), 2);
  assert.equal(set.delete(m.subarray(0, 1)), true);
  const free = arenaStats().free;
  giveSpare(s);
  assert.equal(arenaStats().free, free + 96 * KIB);
  assert.equal(takeSpare(96 * KIB).byteOffset, s.byteOffset, 'and reused');
});

test('arena: a retired arena takes no slot and keeps none given back', () => {
  const a = new Arena(1 << 20);
  const x = a.take(64 * KIB)!;
  a.retire();
  assert.equal(a.take(64 * KIB), undefined);
  assert.equal(a.give(x), true, 'still recognised as its own');
  assert.equal(a.stats.free, 0, 'but not kept');
});

test('spares: a full record arena is retired for a new one; slots of the old one are never reused', () => {
  const before = arenaStats().max;
  resetRecordArena(256 * KIB);
  try {
    const first = [takeSpare(128 * KIB), takeSpare(128 * KIB)];
    const next = takeSpare(128 * KIB); // the arena is full: a new one
    assert.equal(arenaOf(next) === arenaOf(first[0]!), false);
    assert.equal(recyclable(first[0]!), true);
    assert.equal(backingBytes(first[0]!.subarray(0, 1)), 128 * KIB);
    giveSpare(first[0]!); // back to a retired arena: dropped
    const again = takeSpare(128 * KIB);
    assert.equal(arenaOf(again), arenaOf(next), 'from the new arena');
    assert.equal(takeSpare(512 * KIB).buffer instanceof SharedArrayBuffer, false, 'larger than an arena: malloc');
  } finally {
    resetRecordArena(before);
  }
});

test('copyBytes: every alignment of source and target, into and out of arena memory, copies exactly the bytes', () => {
  const a = new Arena(4 << 20);
  const slot = a.take(1 << 20)!;
  const plain = Buffer.allocUnsafeSlow((1 << 20) + 64);
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 200 * KIB }), fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 15 }), fc.boolean(), fc.integer(),
    (n, srcOff, at, intoArena, seed) => {
      const src = Buffer.allocUnsafeSlow(n + 16).subarray(srcOff, srcOff + n);
      for (let i = 0; i < n; i++) src[i] = (i * 31 + seed) & 0xff;
      const from = intoArena ? src : copyOut(src, slot, srcOff);
      const dst = intoArena ? slot : plain;
      dst.fill(0xee);
      assert.equal(copyBytes(from, dst, at), n);
      assert.ok(dst.subarray(at, at + n).equals(src), 'the bytes, in place');
      assert.equal(at > 0 ? dst[at - 1] : 0xee, 0xee, 'nothing before');
      assert.equal(dst[at + n], 0xee, 'nothing after');
    },
  ), { numRuns: 150 });
});

/** src's bytes placed in `slot` at `off` (a misaligned source in arena memory). */
function copyOut(src: Buffer, slot: Buffer, off: number): Buffer {
  src.copy(slot, off);
  return slot.subarray(off, off + src.length);
}
