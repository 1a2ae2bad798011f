/**
 * Compression module: the setting's text form, the "worth it" rule, and a fuzz of the
 * decompression input path (any bytes in, exactly `length` bytes or EIO out, never a crash).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Errno, VfsError } from '../vfs/errno.js';
import { randomBytes } from 'node:crypto';
import { Alg, compressBytes, compressStats, decompressBlock, formatCompression, looksIncompressible, parseCompression, worthIt } from './compress.js';
import { fillJob, jobBytes, packJob } from './codec-core.js';

const isEio = (e: unknown) => e instanceof VfsError && e.errno === Errno.EIO;

function sample(n: number, seed: number): Buffer {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'shard', 'block', 'pool', 'zstd', 'lz4', '\n'];
  let x = seed >>> 0 || 1;
  const out: string[] = [];
  let len = 0;
  while (len < n) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    const w = words[x % words.length]!;
    out.push(w, ' ');
    len += w.length + 1;
  }
  return Buffer.from(out.join('')).subarray(0, n);
}

describe('compression setting', () => {
  test('parses off, lz4, zstd and zstd:LEVEL; refuses the rest with EINVAL', () => {
    assert.deepEqual(parseCompression('off'), { alg: 'off' });
    assert.deepEqual(parseCompression('none'), { alg: 'off' });
    assert.deepEqual(parseCompression('LZ4'), { alg: 'lz4' });
    assert.deepEqual(parseCompression('zstd'), { alg: 'zstd', level: 3 });
    assert.deepEqual(parseCompression('zstd:19'), { alg: 'zstd', level: 19 });
    for (const bad of ['zstd:0', 'zstd:20', 'zstd:-1', 'zstd:', 'gzip', '', 'lz4:1', 'zstd:3.5']) {
      assert.throws(() => parseCompression(bad), (e: unknown) => e instanceof VfsError && e.errno === Errno.EINVAL, bad);
    }
    for (const t of ['off', 'lz4', 'zstd:1', 'zstd:9']) assert.equal(formatCompression(parseCompression(t)), t);
  });

  test('worthIt: only when the shards get smaller by at least one 8-byte unit', () => {
    assert.equal(worthIt(100, 100, 4), false);
    assert.equal(worthIt(97, 128, 4), false, 'ceil(97/4)=25 → 32, ceil(128/4)=32 → 32: no change');
    assert.equal(worthIt(96, 128, 4), true, '24 < 32');
    assert.equal(worthIt(1, 8, 1), false, 'the minimum shard is 8 bytes');
  });
});

describe('early abort', () => {
  test('looksIncompressible: random data yes; text, small blocks and a block with any compressible part no', () => {
    const rnd = randomBytes(1 << 20);
    assert.equal(looksIncompressible(rnd), true);
    assert.equal(looksIncompressible(sample(1 << 20, 3)), false);
    assert.equal(looksIncompressible(rnd.subarray(0, 100_000)), false, 'under 128 KiB: not sampled, compressed as before');
    const half = Buffer.concat([rnd.subarray(0, 600_000), sample(448_576, 4)]);
    assert.equal(looksIncompressible(half), false, 'text in the last part: the block is tried');
  });

  test('packJob stores a random block raw without compressing it (same result as before, zero cost)', async () => {
    const rnd = randomBytes(512 << 10);
    const q = { kind: 'rs' as const, k: 4, m: 2, shardSize: (512 << 10) / 4 };
    const buf = Buffer.alloc(jobBytes(q));
    fillJob(q, buf, rnd);
    const calls = compressStats.compressCalls;
    const r = await packJob(q, buf, rnd.length, { alg: Alg.Zstd, level: 3 });
    assert.equal(compressStats.compressCalls, calls, 'the compressor was not called');
    assert.deepEqual(r.packed, { alg: 0, stored: rnd.length, shardSize: q.shardSize });
  });
});

describe('packJob', () => {
  test('compressible data is laid out compressed with smaller shards; incompressible stays raw', async () => {
    const p = { kind: 'rs' as const, k: 4, m: 2, shardSize: 0 };
    for (const [data, expectPacked] of [[sample(200_000, 7), true], [Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251)), true]] as const) {
      const q = { ...p, shardSize: Math.ceil(Math.ceil(data.length / 4) / 8) * 8 };
      const buf = Buffer.alloc(jobBytes(q));
      fillJob(q, buf, data);
      const r = await packJob(q, buf, data.length, { alg: Alg.Zstd, level: 3 });
      assert.equal(r.packed.alg !== 0, expectPacked);
      assert.ok(r.packed.shardSize < q.shardSize);
      assert.equal(r.sums.length, 6);
      const back = await decompressBlock(r.packed.alg, buf.subarray(0, r.packed.stored), data.length);
      assert.ok(back.equals(data));
    }
    const rnd = Buffer.from(Array.from({ length: 4096 }, () => Math.floor(Math.random() * 256)));
    const q = { ...p, shardSize: 1024 };
    const buf = Buffer.alloc(jobBytes(q));
    fillJob(q, buf, rnd);
    const r = await packJob(q, buf, rnd.length, { alg: Alg.Lz4, level: 0 });
    assert.equal(r.packed.alg, 0);
    assert.equal(r.packed.stored, rnd.length);
    assert.ok(buf.subarray(0, rnd.length).equals(rnd), 'raw bytes left in place');
  });
});

describe('decompression input path (fuzz)', () => {
  test('property: arbitrary bytes under any algorithm id give exactly `length` bytes or EIO', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 1 << 20 }), async (bytes, alg, length) => {
      try {
        const out = await decompressBlock(alg, bytes, length);
        assert.equal(out.length, length);
      } catch (e) {
        assert.ok(isEio(e), String(e));
      }
    }), { numRuns: 1500 });
  });

  test('property: valid frames with flipped, cut or spliced bytes give the original or EIO, never a crash', async () => {
    const data = sample(70_000, 11);
    const frames = new Map<number, Buffer>([
      [Alg.Lz4, await compressBytes({ alg: Alg.Lz4, level: 0 }, data)],
      [Alg.Zstd, await compressBytes({ alg: Alg.Zstd, level: 3 }, data)],
    ]);
    const mutation = fc.record({
      alg: fc.constantFrom(Alg.Lz4, Alg.Zstd),
      flips: fc.array(fc.record({ at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }), { minLength: 1, maxLength: 8 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      junk: fc.uint8Array({ maxLength: 64 }),
    });
    await fc.assert(fc.asyncProperty(mutation, async ({ alg, flips, cut, junk }) => {
      const f = Buffer.from(frames.get(alg)!);
      for (const { at, bit } of flips) f[at % f.length] = f[at % f.length]! ^ (1 << bit);
      const input = Buffer.concat([cut === undefined ? f : f.subarray(0, cut % f.length), junk]);
      try {
        const out = await decompressBlock(alg, input, data.length);
        assert.equal(out.length, data.length, 'never a short or long result');
      } catch (e) {
        assert.ok(isEio(e), String(e));
      }
    }), { numRuns: 1500 });
  });

  test('an lz4 size prefix that disagrees with the row is refused before the binding sees it', async () => {
    const data = sample(10_000, 3);
    const f = Buffer.from(await compressBytes({ alg: Alg.Lz4, level: 0 }, data));
    f.writeUInt32LE(0xffffffff, 0);
    await assert.rejects(decompressBlock(Alg.Lz4, f, data.length), (e: unknown) => isEio(e) && /size prefix/.test((e as Error).message));
    await assert.rejects(decompressBlock(Alg.Zstd, await compressBytes({ alg: Alg.Zstd, level: 1 }, data), data.length - 1), isEio);
  });
});
