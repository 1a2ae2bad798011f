// Model-based property test of a block volume (vfs/volumes.ts): random sequences of 512-byte
// granular writes, unmaps, flushes, resizes, snapshots and clones against a plain Buffer per
// volume; every read and every snapshot must match the model. (It found a snapshot read racing
// a record's commit: vfs/meta/snapshots.ts SnapshotView.get.) VOL_RUNS=N runs more cases;
// VOL_SEED and VOL_PATH replay a failure; VOL_DEBUG=1 prints the error of each failing case.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createMemoryVfs, openVolumes } from './index.js';

const S = 512;
const MAXB = 1024; // the volume spans at most 1024 sectors (512 KiB)

type Op =
  | { t: 'write'; at: number; n: number; seed: number; fua: boolean }
  | { t: 'unmap'; at: number; n: number }
  | { t: 'flush' }
  | { t: 'resize'; sectors: number }
  | { t: 'snapshot' }
  | { t: 'clone' }
  | { t: 'rollback'; back: number }
  | { t: 'read'; at: number; n: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('write' as const), at: fc.nat(MAXB - 1), n: fc.integer({ min: 1, max: 160 }), seed: fc.nat(255), fua: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('unmap' as const), at: fc.nat(MAXB - 1), n: fc.integer({ min: 1, max: 400 }) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'flush' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('resize' as const), sectors: fc.integer({ min: 1, max: MAXB / 8 }).map((x) => x * 8) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'snapshot' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'clone' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('rollback' as const), back: fc.nat(2) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('read' as const), at: fc.nat(MAXB - 1), n: fc.integer({ min: 1, max: 300 }) }) },
);

test('a volume behaves as a byte array through writes, unmaps, resizes, snapshots and clones', async () => {
  let run = 0;
  await fc.assert(fc.asyncProperty(fc.constantFrom(4096, 16384, 65536), fc.array(op, { minLength: 5, maxLength: 40 }), (rs, ops) => check(rs, ops).catch((e: unknown) => {
    if (process.env.VOL_DEBUG) console.error(e);
    throw e;
  })), { numRuns: Number(process.env.VOL_RUNS) || 60, ...(process.env.VOL_SEED ? { seed: Number(process.env.VOL_SEED), path: process.env.VOL_PATH } : {}) });
  async function check(rs: number, ops: Op[]): Promise<void> {
    const inst = await createMemoryVfs();
    const vols = openVolumes(inst);
    const name = `m${++run}`;
    await vols.create(name, { sizeBytes: MAXB * S / 2, recordSize: rs });
    let vol = await vols.open(name);
    let model = Buffer.alloc(MAXB * S / 2);
    const snaps: { name: string; data: Buffer }[] = [];
    const clones: { name: string; data: Buffer }[] = [];
    const clamp = (at: number, n: number) => {
      const size = model.length / S;
      const a = Math.min(at, size - 1);
      return [a * S, Math.min(n, size - a) * S] as const;
    };
    for (const o of ops) {
      if (o.t === 'write') {
        const [at, n] = clamp(o.at, o.n);
        const data = Buffer.alloc(n, o.seed);
        for (let i = 0; i < n; i += 97) data[i] = (i + o.seed) & 0xff;
        await vol.write(at, data, { fua: o.fua });
        data.copy(model, at);
      } else if (o.t === 'unmap') {
        const [at, n] = clamp(o.at, o.n);
        await vol.unmap(at, n);
        model.fill(0, at, at + n);
      } else if (o.t === 'flush') {
        await vol.flush();
      } else if (o.t === 'resize') {
        const size = o.sectors * S;
        await vols.resize(name, size);
        const next = Buffer.alloc(size);
        model.copy(next, 0, 0, Math.min(size, model.length));
        model = next;
        assert.equal(vol.sizeBytes, size);
      } else if (o.t === 'snapshot') {
        const s = `s${snaps.length}`;
        await vols.snapshot(name, s);
        snaps.push({ name: s, data: Buffer.from(model) });
      } else if (o.t === 'clone') {
        if (!snaps.length) continue;
        const from = snaps[snaps.length - 1]!;
        const c = `${name}-c${clones.length}`;
        await vols.clone(`${name}@${from.name}`, c);
        clones.push({ name: c, data: from.data });
      } else if (o.t === 'rollback') {
        if (!snaps.length) continue;
        const k = Math.max(0, snaps.length - 1 - o.back);
        await vol.close();
        const r = await vols.rollback(name, snaps[k]!.name, { destroyNewer: true });
        assert.deepEqual(r.destroyed, snaps.slice(k + 1).map((x) => x.name));
        snaps.length = k + 1;
        model = Buffer.from(snaps[k]!.data);
        vol = await vols.open(name);
        assert.equal(vol.sizeBytes, model.length);
      } else {
        const [at, n] = clamp(o.at, o.n);
        assert.ok((await vol.read(at, n)).equals(model.subarray(at, at + n)), `read [${at}, ${at + n})`);
      }
    }
    assert.ok((await vol.read(0, model.length)).equals(model), 'the whole volume');
    const mapped = await vol.mapping(0, model.length);
    assert.equal(mapped.reduce((a, r) => a + r.length, 0), model.length, 'mapping covers the range');
    for (const r of mapped) if (!r.mapped) assert.ok(model.subarray(r.offset, r.offset + r.length).equals(Buffer.alloc(r.length)), 'unmapped runs are zeros');
    for (const s of snaps) {
      const h = await vols.open(`${name}@${s.name}`);
      const got = await h.read(0, s.data.length);
      assert.ok(got.equals(s.data), `snapshot ${s.name}`);
      await h.close();
    }
    for (const c of clones) {
      const h = await vols.open(c.name);
      assert.ok((await h.read(0, c.data.length)).equals(c.data), `clone ${c.name}`);
      await h.close();
      await vols.delete(c.name);
    }
    await vol.close();
    await vols.delete(name, { recursive: true });
    assert.equal((await inst.impl.blocks.stats()).logicalUsed, 0, 'every block freed at the end');
    assert.equal((await inst.impl.meta.usage()).usedBytes, 0, 'the used-bytes counter back to 0');
    assert.equal((await inst.impl.meta.getQuota('user', 0)).usage.bytes, 0, "root's quota usage back to 0");
    await inst.close();
  }
});
