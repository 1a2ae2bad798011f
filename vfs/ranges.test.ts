/**
 * vfs/ranges.ts against a model, over random operations (fast-check) on two open files with
 * 4 KiB records: writes, punched holes, copies (aligned offsets often, so that records are
 * shared; within one file too), truncates, flushes and snapshots. After every step each file
 * reads as its model buffer; SEEK_DATA never skips a non-zero byte and SEEK_HOLE never lands
 * on one; the quota usage equals the files' allocated bytes; each snapshot still reads as the
 * model of its moment; and once everything is deleted, no block is left.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { MemoryBlockStore } from '../raid/memory.js';
import { createMemoryVfs, Errno, ROOT_CTX, VfsError, type VfsInstance } from './index.js';

const RS = 4096;
const MAX = 12 * RS;
const off = fc.oneof(fc.integer({ min: 0, max: MAX }), fc.integer({ min: 0, max: MAX / RS }).map((k) => k * RS));
const len = fc.oneof(fc.integer({ min: 1, max: 3 * RS }), fc.integer({ min: 1, max: 4 }).map((k) => k * RS));
const file = fc.constantFrom(0, 1);
type Step =
  | { op: 'write'; f: number; off: number; len: number; seed: number }
  | { op: 'punch'; f: number; off: number; len: number }
  | { op: 'copy'; from: number; to: number; offIn: number; offOut: number; len: number }
  | { op: 'truncate'; f: number; size: number }
  | { op: 'flush'; f: number }
  | { op: 'snap' };
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('write' as const), f: file, off, len, seed: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('punch' as const), f: file, off, len }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('copy' as const), from: file, to: file, offIn: off, offOut: off, len }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), f: file, size: fc.integer({ min: 0, max: MAX }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('flush' as const), f: file }) },
  { weight: 1, arbitrary: fc.constant({ op: 'snap' as const }) },
);

/**
 * A file's model: its bytes up to its size, and what is certain of each record: a hole ('h':
 * never written, wholly punched, cut off by a truncate), data ('d': written since), or unknown
 * ('?': partly punched, or copied over, where the copy may share a hole or write bytes).
 */
class Model {
  buf = Buffer.alloc(0);
  private state = new Map<number, 'h' | 'd' | '?'>();
  get size(): number { return this.buf.length; }
  at(r: number): 'h' | 'd' | '?' { return this.state.get(r) ?? 'h'; }
  mark(from: number, to: number, s: 'd' | '?'): void {
    for (let r = Math.floor(from / RS); r * RS < to; r++) this.state.set(r, s);
  }
  put(at: number, data: Buffer, s: 'd' | '?' = 'd'): void {
    if (at + data.length > this.buf.length) this.resize(at + data.length);
    data.copy(this.buf, at);
    this.mark(at, at + data.length, s);
  }
  punch(off: number, len: number): void {
    const end = Math.min(off + len, this.size);
    if (end <= off) return;
    this.buf.fill(0, off, end);
    for (let r = Math.floor(off / RS); r * RS < end; r++) {
      const whole = r * RS >= off && Math.min((r + 1) * RS, this.size) <= end;
      this.state.set(r, whole ? 'h' : '?');
    }
  }
  resize(size: number): void {
    const b = Buffer.alloc(size);
    this.buf.copy(b, 0, 0, Math.min(size, this.buf.length));
    this.buf = b;
    for (const r of this.state.keys()) if (r * RS >= size) this.state.delete(r);
  }
  /** The offset ≥ o of the first record certain to be `s`, or the size. */
  first(o: number, s: 'h' | 'd'): number {
    for (let r = Math.floor(o / RS); r * RS < this.size; r++) if (this.at(r) === s) return Math.max(o, r * RS);
    return this.size;
  }
}

const zeros = (b: Buffer, from: number, to: number) => b.subarray(from, to).every((x) => x === 0);

async function checkFile(v: VfsInstance, fh: number, m: Model, where: string, probes: number[]): Promise<void> {
  const got = await v.vfs.read(ROOT_CTX, fh, 0, MAX * 3);
  assert.ok(got.equals(m.buf), `${where}: content (${got.length} vs ${m.buf.length} bytes)`);
  const size = m.buf.length;
  for (const p of probes) {
    const o = size ? p % size : 0;
    if (!size) {
      await assert.rejects(v.vfs.seekData(ROOT_CTX, fh, 0, 'data'), (e) => e instanceof VfsError && e.errno === Errno.ENXIO);
      continue;
    }
    let d = size;
    try { d = await v.vfs.seekData(ROOT_CTX, fh, o, 'data'); } catch (e) { if (!(e instanceof VfsError) || e.errno !== Errno.ENXIO) throw e; }
    assert.ok(d >= o && d <= size && zeros(m.buf, o, d), `${where}: SEEK_DATA from ${o} gave ${d}, skipping data`);
    assert.ok(d <= m.first(o, 'd'), `${where}: SEEK_DATA from ${o} gave ${d}, past a written record at ${m.first(o, 'd')}`);
    const h = await v.vfs.seekData(ROOT_CTX, fh, o, 'hole');
    assert.ok(h >= o && h <= size && zeros(m.buf, h, Math.min(size, (Math.floor(h / RS) + 1) * RS)), `${where}: SEEK_HOLE from ${o} gave ${h}, on data`);
    assert.ok(h <= m.first(o, 'h'), `${where}: SEEK_HOLE from ${o} gave ${h}, past a hole at ${m.first(o, 'h')}`);
  }
}

test('punch, copy and seek agree with a model over random operations; usage exact; snapshots keep their bytes; no block left behind', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), fc.array(fc.nat(), { minLength: 3, maxLength: 3 }), async (steps, probes) => {
      const v = await createMemoryVfs({ recordSize: RS });
      const names = ['/a', '/b'];
      const models = [new Model(), new Model()];
      const fhs: number[] = [];
      for (const n of names) fhs.push((await v.paths.open(ROOT_CTX, n, { read: true, write: true, create: true })).fh);
      const snaps: { name: string; bufs: Buffer[] }[] = [];
      for (const [i, s] of steps.entries()) {
        const where = `step ${i} ${JSON.stringify(s)}`;
        if (s.op === 'write') {
          const data = Buffer.alloc(s.len, s.seed);
          await v.vfs.write(ROOT_CTX, fhs[s.f]!, s.off, data);
          models[s.f]!.put(s.off, data);
        } else if (s.op === 'punch') {
          await v.vfs.punchHole(ROOT_CTX, fhs[s.f]!, s.off, s.len);
          models[s.f]!.punch(s.off, s.len);
        } else if (s.op === 'copy') {
          const src = models[s.from]!, dst = models[s.to]!;
          const n = Math.max(0, Math.min(s.len, src.buf.length - s.offIn));
          if (s.from === s.to && n > 0 && s.offOut < s.offIn + n && s.offIn < s.offOut + n) {
            await assert.rejects(v.vfs.copyFileRange(ROOT_CTX, fhs[s.from]!, s.offIn, fhs[s.to]!, s.offOut, s.len), (e) => e instanceof VfsError && e.errno === Errno.EINVAL, where);
            continue;
          }
          assert.equal(await v.vfs.copyFileRange(ROOT_CTX, fhs[s.from]!, s.offIn, fhs[s.to]!, s.offOut, s.len), n, where);
          if (n) dst.put(s.offOut, Buffer.from(src.buf.subarray(s.offIn, s.offIn + n)), '?');
        } else if (s.op === 'truncate') {
          await v.vfs.setattr(ROOT_CTX, (await v.paths.stat(ROOT_CTX, names[s.f]!)).ino, { size: s.size });
          models[s.f]!.resize(s.size);
        } else if (s.op === 'flush') {
          await v.vfs.flush(ROOT_CTX, fhs[s.f]!);
        } else {
          for (const fh of fhs) await v.vfs.flush(ROOT_CTX, fh); // a snapshot sees committed data
          const name = `s${snaps.length}`;
          await v.snapshots.create(name);
          snaps.push({ name, bufs: models.map((m) => Buffer.from(m.buf)) });
        }
        for (const f of [0, 1]) await checkFile(v, fhs[f]!, models[f]!, `${where}, file ${names[f]}`, probes);
      }
      for (const fh of fhs) await v.vfs.release(ROOT_CTX, fh);
      let allocated = 0;
      for (const n of names) allocated += (await v.impl.meta.getInode((await v.paths.stat(ROOT_CTX, n)).ino))!.allocated;
      assert.equal((await v.impl.meta.getQuota('user', 0)).usage.bytes, allocated, 'quota usage = bytes in extents');
      for (const s of snaps) {
        const sv = v.snapshotVfs(s.name);
        for (const [i, n] of names.entries()) {
          const { fh, attr } = await sv.paths.open(ROOT_CTX, n, { read: true });
          assert.ok((await sv.vfs.read(ROOT_CTX, fh, 0, attr.size + 1)).equals(s.bufs[i]!), `snapshot ${s.name}: ${n}`);
          await sv.vfs.release(ROOT_CTX, fh);
        }
      }
      for (const n of names) await v.paths.unlink(ROOT_CTX, n);
      for (const s of snaps) await v.snapshots.delete(s.name);
      assert.equal((await (v.impl.blocks as MemoryBlockStore).stats()).blocks, 0, 'no block outlives the last reference');
      await v.close();
    }),
    { numRuns: 200 },
  );
});
