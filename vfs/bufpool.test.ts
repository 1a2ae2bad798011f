/** BufferPool: lent buffers come back only through give, are never lent twice, and stay bounded. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool } from './bufpool.js';

test('a given-back buffer is lent again; one still lent never is; the pool keeps at most `keep`', () => {
  const pool = new BufferPool(2);
  const a = pool.take(100, 1000);
  assert.equal(a.length, 100);
  assert.equal(a.buffer.byteLength, 1000, 'a new buffer of `size` bytes');
  const b = pool.take(100);
  assert.ok(pool.owns(a) && pool.owns(b.subarray(5)));
  pool.give(a);
  assert.ok(!pool.owns(a), 'given back: no longer lent');
  pool.give(a.subarray(10)); // a repeat (through another view): ignored
  assert.equal(pool.spareCount, 1);
  const c = pool.take(900);
  assert.equal(c.buffer, a.buffer, 'the spare is large enough: reused');
  const d = pool.take(50);
  assert.ok(d.buffer !== c.buffer && d.buffer !== b.buffer, 'lent buffers are not handed out twice');
  pool.give(Buffer.alloc(10)); // not from the pool: ignored
  assert.equal(pool.spareCount, 0);
  const small = pool.take(10);
  pool.give(small);
  const big = pool.take(5000);
  assert.notEqual(big.buffer, small.buffer, 'a spare too small is not used');
  for (const x of [b, c, d, big]) pool.give(x);
  assert.equal(pool.spareCount, 2, 'at most `keep` spares');
});

test('a shared pool lends views of SharedArrayBuffers and recycles them the same way', () => {
  const pool = new BufferPool(1, true);
  const a = pool.take(64, 256);
  assert.ok(a.buffer instanceof SharedArrayBuffer);
  assert.equal(a.buffer.byteLength, 256);
  pool.give(a.subarray(8));
  const b = pool.take(200);
  assert.equal(b.buffer, a.buffer, 'given back: reused');
  assert.ok(new BufferPool(1).take(8).buffer instanceof ArrayBuffer, 'not shared by default');
});
