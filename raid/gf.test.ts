/**
 * Parity in the calling thread (gf.ts, native/sys/gf.cc) against @ronomon/reed-solomon, whose
 * arithmetic it mirrors: the same parity bytes for every layout and shard size, with the vector
 * and the portable loop, and the library rebuilding data from that parity.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { PACKETS, rsMatrix, SYNC_PARITY_MAX_BYTES, syncParityMatrix } from './gf.js';
import { sysAddon } from './sysaddon.js';

const RS: typeof import('@ronomon/reed-solomon') = createRequire(import.meta.url)('@ronomon/reed-solomon');
const addon = sysAddon();
const skip = addon ? false : 'the native/sys addon is not built (node scripts/build-native.mjs)';

/** The library's encode (or, with `present` short of all, rebuild) over shards laid back to back. */
function libraryRun(k: number, m: number, shards: Buffer, shard: number, sources: number, targets: number): Promise<void> {
  return new Promise((resolve, reject) => {
    RS.encode(RS.create(k, m), sources >>> 0, targets >>> 0, shards, 0, k * shard, shards, k * shard, m * shard, (err) => (err ? reject(err) : resolve()));
  });
}

describe('gf: parity in the calling thread', { skip }, () => {
  test('property: the same parity bytes as the library, vector and portable, for any layout and shard size', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 600 }), fc.boolean(), fc.integer(),
      async (k, m, words, simd, seed) => {
        const shard = words * 8; // whole 8-byte words, as the library takes them
        const data = Buffer.alloc(k * shard);
        let x = seed >>> 0 || 1;
        for (let i = 0; i < data.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; data[i] = x & 0xff; }
        const want = Buffer.concat([data, Buffer.alloc(m * shard)]);
        await libraryRun(k, m, want, shard, 2 ** k - 1, (2 ** m - 1) * 2 ** k);
        const parity = Buffer.alloc(m * shard, 0xa5); // stale bytes must not leak into the result
        addon!.rsParity(await rsMatrix(k, m), data, parity, k, m, shard, simd);
        assert.deepEqual(parity, want.subarray(k * shard));
      },
    ), { numRuns: 60 });
  });

  test('the library rebuilds lost data shards from parity computed here', async () => {
    const k = 4, m = 2, shard = 16 << 10;
    const shards = Buffer.alloc((k + m) * shard);
    for (let i = 0; i < k * shard; i++) shards[i] = (i * 131 + (i >> 9)) & 0xff;
    const original = Buffer.from(shards.subarray(0, k * shard));
    addon!.rsParity(await rsMatrix(k, m), shards.subarray(0, k * shard), shards.subarray(k * shard), k, m, shard);
    shards.fill(0, shard, 3 * shard); // data shards 1 and 2 lost
    await libraryRun(k, m, shards, shard, 0b111001, 0b000110);
    assert.deepEqual(shards.subarray(0, k * shard), original);
  });

  test('bad arguments are a TypeError, never a write out of bounds', async () => {
    const t = await rsMatrix(4, 2);
    const data = Buffer.alloc(4 * 64), parity = Buffer.alloc(2 * 64);
    assert.throws(() => addon!.rsParity(t, data, parity.subarray(0, 100), 4, 2, 64), TypeError);
    assert.throws(() => addon!.rsParity(t.subarray(0, 100), data, parity, 4, 2, 64), TypeError);
    assert.throws(() => addon!.rsParity(t, data, parity, 0, 2, 64), TypeError);
    assert.throws(() => addon!.rsParity(t, data, parity, 4, 2, 0), TypeError);
    assert.throws(() => addon!.rsParity(t, data, data.subarray(64), 4, 2, 64), TypeError); // overlap
    assert.throws(() => addon!.rsParity(t, [1, 2] as unknown as Uint8Array, parity, 4, 2, 64), TypeError);
  });

  test('syncParityMatrix: known layouts at once after the first, large blocks and odd shards left to the library', async () => {
    const first = syncParityMatrix(3, 2, 16 << 10);
    const t = first instanceof Promise ? await first : first;
    assert.ok(t instanceof Buffer && t.length === 2 * PACKETS * 3 * PACKETS);
    assert.equal(syncParityMatrix(3, 2, 16 << 10), t);
    assert.equal(syncParityMatrix(3, 2, Math.floor(SYNC_PARITY_MAX_BYTES / 3 / 8) * 8 + 8), null);
    assert.equal(syncParityMatrix(3, 2, 1020), null);
    assert.equal(syncParityMatrix(3, 0, 1024), null);
    assert.equal(await syncParityMatrix(25, 2, 64), null); // beyond the library's 24 data shards: its create throws, the derivation fails
  });

  test('shard sizes up to the in-thread limit, for the layouts the pool offers', async () => {
    for (const [k, m] of [[4, 2], [8, 3], [2, 1], [6, 2], [16, 4], [1, 1]] as const) {
      for (const shard of [8, 16 << 10, Math.floor(SYNC_PARITY_MAX_BYTES / k / 8) * 8]) {
        const data = Buffer.alloc(k * shard);
        for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
        const want = Buffer.concat([data, Buffer.alloc(m * shard)]);
        await libraryRun(k, m, want, shard, 2 ** k - 1, (2 ** m - 1) * 2 ** k);
        const parity = Buffer.alloc(m * shard);
        addon!.rsParity(await rsMatrix(k, m), data, parity, k, m, shard);
        assert.ok(parity.equals(want.subarray(k * shard)), `rs:${k}+${m} shards of ${shard}`);
      }
    }
  });
});
