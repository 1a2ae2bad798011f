/**
 * The codec contract, run against the in-thread and the worker-pool codec: parity from data,
 * checksum verification, and reconstruction from any recoverable subset of shards.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { allocBytes, type Codec, encodeSplit, fillJob, INLINE_PLAIN_MAX_BYTES, InlineCodec, WorkerCodec } from './codec.js';
import { shardSizeFor } from './format.js';
import { parseLayout, recoverable } from './layout.js';

const LAYOUTS = ['rs:4+2', 'rs:8+3', 'raid5:3', 'raid6:6', 'rs:16+4', 'mirror:3', 'raid10:6', 'raid0:3', 'rs:1+1'];

const codecs: Codec[] = [new InlineCodec(), new WorkerCodec(2)];
after(async () => { for (const c of codecs) await c.close(); });

for (const codec of codecs) {
  describe(`codec: ${codec.name}`, () => {
    test('property: any recoverable set of good shards rebuilds every shard exactly; others report not ok', async () => {
      await fc.assert(fc.asyncProperty(
        fc.constantFrom(...LAYOUTS),
        fc.uint8Array({ minLength: 0, maxLength: 70_000 }),
        fc.array(fc.constantFrom('good', 'absent', 'corrupt'), { minLength: 20, maxLength: 20 }),
        async (name, data, fate) => {
          const l = parseLayout(name);
          const n = l.k + l.m;
          const p = { kind: l.kind, k: l.k, m: l.m, shardSize: shardSizeFor(data.length, l.k) };
          let buf = codec.alloc(p);
          fillJob(p, buf, data);
          const enc = await codec.encode(p, buf);
          buf = enc.buf;
          assert.equal(enc.sums.length, n);
          const original = Buffer.from(buf.subarray(0, n * p.shardSize));
          let present = 0;
          const good: boolean[] = [];
          for (let j = 0; j < n; j++) {
            const f = fate[j]!;
            const slot = buf.subarray(j * p.shardSize, (j + 1) * p.shardSize);
            if (f === 'absent') slot.fill(0);
            else present |= 2 ** j;
            if (f === 'corrupt') slot[j % p.shardSize] = slot[j % p.shardSize]! ^ 0xff;
            good.push(f === 'good');
          }
          present >>>= 0;
          const all = (2 ** n - 1) >>> 0;
          const r = await codec.decode(p, buf, present, all, enc.sums);
          for (let j = 0; j < n; j++) assert.equal(((r.good >>> j) & 1) === 1, good[j], `shard ${j} verified as ${fate[j]}`);
          assert.equal(r.ok, recoverable(l, good));
          if (!r.ok) return;
          assert.ok(r.buf.subarray(0, data.length).equals(data), 'data identical');
          for (let j = 0; j < n; j++) {
            assert.ok(r.buf.subarray(j * p.shardSize, (j + 1) * p.shardSize).equals(original.subarray(j * p.shardSize, (j + 1) * p.shardSize)), `shard ${j} identical`);
            assert.equal(r.sums[j], enc.sums[j]);
          }
        },
      ), { numRuns: codec.name === 'worker' ? 150 : 300 });
    });
  });
}

test('codec: a plain job past INLINE_PLAIN_MAX_BYTES is encoded by a worker exactly as in the calling thread', async () => {
  const [inline, worker] = codecs as [Codec, Codec];
  const data = Buffer.alloc(INLINE_PLAIN_MAX_BYTES, 0).map((_, i) => (i * 2654435761) >>> 24);
  const l = parseLayout('rs:4+2');
  const p = { kind: l.kind, k: l.k, m: l.m, shardSize: shardSizeFor(data.length, l.k) };
  const encode = async (c: Codec) => {
    const buf = c.alloc(p);
    fillJob(p, buf, data);
    const r = await c.encode(p, buf);
    // A job sent to a worker is transferred: the caller's buffer is detached (empty) after it.
    return { sums: r.sums, shards: Buffer.from(r.buf.subarray(0, (l.k + l.m) * p.shardSize)), moved: buf.length === 0 };
  };
  const a = await encode(inline);
  const b = await encode(worker);
  assert.equal(a.moved, false);
  assert.equal(b.moved, true, 'the worker codec sent it to a worker');
  assert.deepEqual(b.sums, a.sums);
  assert.ok(b.shards.equals(a.shards), 'same parity');
  // A 1 MiB record's block (a 1.5 MiB job) stays in the calling thread with the worker codec too.
  const q = { kind: l.kind, k: l.k, m: l.m, shardSize: shardSizeFor(1 << 20, l.k) };
  const small = worker.alloc(q);
  fillJob(q, small, data.subarray(0, 1 << 20));
  await worker.encode(q, small);
  assert.equal(small.length > 0, true, 'not transferred');
});

test('encodeSplit: straight from the block\'s bytes, the same shards and sums as a job buffer; data shards are views of the data, the data untouched', async () => {
  const inline = codecs[0]!;
  await fc.assert(fc.asyncProperty(
    fc.constantFrom(...LAYOUTS),
    fc.integer({ min: 1, max: 4096 }),
    fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    fc.integer({ min: 0, max: 3 }),
    async (name, words, seed, lead) => {
      const l = parseLayout(name);
      const shardSize = Math.ceil(words / l.k) * 8;
      const p = { kind: l.kind, k: l.k, m: l.m, shardSize };
      // The data sits at an 8-byte boundary inside a larger buffer, as a record slot's view does.
      const whole = Buffer.alloc(lead * 8 + l.k * shardSize + 16);
      const data = whole.subarray(lead * 8, lead * 8 + l.k * shardSize);
      for (let i = 0; i < data.length; i++) data[i] = (Math.imul(i + seed, 2654435761) >>> 24) & 0xff;
      const before = Buffer.from(whole);
      const job = inline.alloc(p);
      fillJob(p, job, data);
      const want = await inline.encode(p, job);
      const parity = allocBytes(Math.max(1, l.m * shardSize)).fill(0xee);
      const got = await encodeSplit(p, data, parity);
      assert.equal(got.shards.length, l.k + l.m);
      assert.deepEqual(got.sums, want.sums);
      for (let j = 0; j < l.k + l.m; j++) {
        assert.ok(got.shards[j]!.equals(want.buf.subarray(j * shardSize, (j + 1) * shardSize)), `${name} shard ${j}`);
        if (j < l.k) assert.equal(got.shards[j]!.buffer, whole.buffer, 'a data shard is a view of the data');
      }
      assert.ok(whole.equals(before), 'the data and the bytes around it are untouched');
    },
  ), { numRuns: 300 });
  const p = { kind: 'rs' as const, k: 4, m: 2, shardSize: 64 };
  await assert.rejects(encodeSplit(p, Buffer.alloc(4 * 64 - 8), Buffer.alloc(128)), RangeError, 'not k whole shards');
  await assert.rejects(encodeSplit(p, Buffer.alloc(4 * 64 + 4).subarray(4), Buffer.alloc(128)), RangeError, 'not 8-byte aligned');
  await assert.rejects(encodeSplit(p, Buffer.alloc(4 * 64), Buffer.alloc(64)), RangeError, 'parity too small');
  // Where each codec runs a plain job: the worker codec only past INLINE_PLAIN_MAX_BYTES elsewhere.
  const [, worker] = codecs as [Codec, Codec];
  const big = { kind: 'rs' as const, k: 4, m: 2, shardSize: INLINE_PLAIN_MAX_BYTES / 4 };
  assert.equal(inline.plainInThread(big), true);
  assert.equal(worker.plainInThread(big), false);
  assert.equal(worker.plainInThread({ ...big, shardSize: shardSizeFor(1 << 20, 4) }), true);
});
