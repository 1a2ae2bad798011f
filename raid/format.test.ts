import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ABSENT, type BlockRow, decodeRow, decodeRowStrict, encodeRow } from './blocktable.js';
import { decodeSegmentHeader, decodeShardHeader, encodeSegmentHeader, encodeShardHeader, SHARD_HEADER_BYTES, type ShardHeader } from './format.js';
import { ByteReader, DecodeError } from './reader.js';
import { Errno, VfsError } from '../vfs/errno.js';

const header = fc.record({
  flags: fc.integer({ min: 0, max: 255 }),
  k: fc.integer({ min: 1, max: 16 }),
  m: fc.integer({ min: 0, max: 16 }),
  blockId: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  shardLength: fc.integer({ min: 0, max: 64 << 20 }),
  payloadSum: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  idx: fc.nat(),
  len: fc.nat(),
}).map(({ idx, len, ...h }): ShardHeader => ({ ...h, shardIndex: idx % (h.k + h.m), blockLength: len % (h.shardLength * h.k + 1) }));

describe('shard header', () => {
  test('property: encode then decode gives the same header, at any offset', () => {
    fc.assert(fc.property(header, fc.nat(64), (h, pad) => {
      const buf = Buffer.concat([Buffer.alloc(pad, 7), encodeShardHeader(h), Buffer.alloc(3)]);
      const d = decodeShardHeader(buf, pad);
      assert.ok(d.ok, !d.ok ? d.reason : '');
      assert.deepEqual(d.value, h);
    }), { numRuns: 1000 });
  });

  test('property: garbage never throws, and never decodes unless it is a valid header', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), fc.integer({ min: -5, max: 130 }), (bytes, off) => {
      const d = decodeShardHeader(bytes, off);
      if (d.ok) assert.deepEqual(encodeShardHeader(d.value), Buffer.from(bytes.subarray(off, off + SHARD_HEADER_BYTES)));
    }), { numRuns: 3000 });
  });

  test('property: any single flipped bit is detected', () => {
    fc.assert(fc.property(header, fc.nat(SHARD_HEADER_BYTES * 8 - 1), (h, bit) => {
      const b = encodeShardHeader(h);
      b[bit >> 3] = b[bit >> 3]! ^ (1 << (bit & 7));
      assert.equal(decodeShardHeader(b).ok, false);
    }), { numRuns: 1000 });
  });

  test('truncated and non-byte input are refused', () => {
    const b = encodeShardHeader({ flags: 0, shardIndex: 1, k: 4, m: 2, blockId: 9, blockLength: 10, shardLength: 8, payloadSum: 1n });
    for (let n = 0; n < SHARD_HEADER_BYTES; n++) assert.equal(decodeShardHeader(b.subarray(0, n)).ok, false);
    assert.equal(decodeShardHeader('nope' as unknown as Uint8Array).ok, false);
  });
});

describe('segment header', () => {
  test('round trip, and garbage never throws', () => {
    const h = { poolId: Buffer.alloc(16, 3), device: 5, segment: 77, created: 1_700_000_000_000 };
    const d = decodeSegmentHeader(encodeSegmentHeader(h));
    assert.ok(d.ok);
    assert.deepEqual(d.value, h);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
      decodeSegmentHeader(bytes);
    }), { numRuns: 2000 });
  });
});

const place = fc.record({
  device: fc.integer({ min: 0, max: 0xffff }),
  segment: fc.oneof(fc.integer({ min: 1, max: 0xfffffffe }), fc.constant(ABSENT)),
  offset: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  sum: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
});
const row = fc.record({
  kind: fc.constantFrom('rs', 'copy', 'stripe' as const),
  k: fc.integer({ min: 1, max: 16 }),
  m: fc.integer({ min: 0, max: 4 }),
  flags: fc.integer({ min: 0, max: 255 }),
  refs: fc.integer({ min: 0, max: 0xffffffff }),
  shardSize: fc.integer({ min: 8, max: 1 << 20 }),
  len: fc.nat(),
  alg: fc.constantFrom(1, 2),
  big: fc.integer({ min: 0, max: 0xffffffff }),
  places: fc.array(place, { minLength: 20, maxLength: 20 }),
}).map(({ len, alg, big, places, ...r }): BlockRow => {
  const shards = places.slice(0, r.k + r.m).map((p) => ({ ...p }));
  const fit = len % (r.shardSize * r.k + 1);
  // A compressed or encrypted row (flag bits 0, 1): any logical length, stored bytes fit the
  // shards; an algorithm only when compressed. Otherwise no algorithm and stored = length.
  if (r.flags & 3) return { ...r, alg: r.flags & 1 ? alg : 0, length: big, stored: fit, shards };
  return { ...r, alg: 0, length: fit, stored: fit, shards };
});

describe('block row', () => {
  test('property: encode then decode gives the same row', () => {
    fc.assert(fc.property(row, (r) => {
      assert.deepEqual(decodeRowStrict(encodeRow(r)), r);
    }), { numRuns: 1000 });
  });

  test('raw rows keep the version 1 bytes; compressed rows are version 2 with alg and stored length', () => {
    const shards = [{ device: 0, segment: 1, offset: 64, sum: 5n }];
    const raw = encodeRow({ kind: 'rs', k: 1, m: 0, flags: 0, alg: 0, refs: 1, length: 100, stored: 100, shardSize: 104, shards });
    assert.equal(raw[0], 1);
    assert.equal(raw.length, 18 + 22);
    const packed = encodeRow({ kind: 'rs', k: 1, m: 0, flags: 1, alg: 2, refs: 1, length: 5000, stored: 100, shardSize: 104, shards });
    assert.equal(packed[0], 2);
    assert.equal(packed[5], 2, 'alg byte');
    assert.equal(packed.readUInt32LE(18), 100, 'stored length after shardSize');
    assert.equal(packed.length, 22 + 22);
    assert.deepEqual(decodeRowStrict(packed).stored, 100);
    // Deduped (index rows point into it): version 2, so that a build without dedup refuses it.
    const deduped = encodeRow({ kind: 'rs', k: 1, m: 0, flags: 4, alg: 0, refs: 1, length: 100, stored: 100, shardSize: 104, shards });
    assert.equal(deduped[0], 2);
    assert.equal(deduped.length, 22 + 22);
    // A version-1 row with the compressed flag, or a version-2 row without it, is corrupt.
    const bad1 = Buffer.from(raw); bad1[4] = 1;
    assert.throws(() => decodeRowStrict(bad1), DecodeError);
    const bad2 = Buffer.from(packed); bad2[4] = 0;
    assert.throws(() => decodeRowStrict(bad2), DecodeError);
    const bad3 = Buffer.from(packed); bad3[5] = 9;
    assert.throws(() => decodeRowStrict(bad3), /unknown compression algorithm 9/);
  });

  test('property: garbage and truncation give DecodeError (EIO through decodeRow), never anything else', () => {
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), row.chain((r) => {
      const b = encodeRow(r);
      return fc.nat(b.length - 1).map((n) => new Uint8Array(b.subarray(0, n)));
    })), (bytes) => {
      try {
        decodeRowStrict(bytes);
      } catch (e) {
        assert.ok(e instanceof DecodeError, String(e));
        assert.throws(() => decodeRow(bytes, 1), (x: unknown) => x instanceof VfsError && x.errno === Errno.EIO);
      }
    }), { numRuns: 3000 });
  });
});

describe('ByteReader', () => {
  test('never reads past its window and enforces explicit maxima', () => {
    const r = new ByteReader(Buffer.from([1, 2, 3, 4, 5]), 1, 3);
    assert.equal(r.u8(), 2);
    assert.equal(r.u16(), 3 | (4 << 8));
    assert.throws(() => r.u8(), DecodeError);
    assert.throws(() => new ByteReader(Buffer.alloc(2), 3), DecodeError);
    assert.throws(() => new ByteReader(Buffer.alloc(2), 0, 3), DecodeError);
    assert.throws(() => new ByteReader(Buffer.alloc(10)).bytes(8, 4), DecodeError);
    const big = Buffer.alloc(8, 0xff);
    assert.throws(() => new ByteReader(big).u53(), DecodeError);
  });
});
