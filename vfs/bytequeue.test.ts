/** ByteQueue against a flat-buffer model: any chunking, any mix of peek, skip and take. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ByteQueue } from './bytequeue.js';

test('peek, skip and take read the bytes in order, whatever the chunks; views within a chunk, one copy across', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('push' as const), bytes: fc.uint8Array({ maxLength: 40 }) }),
    fc.record({ kind: fc.constantFrom('peek' as const, 'skip' as const, 'take' as const), n: fc.nat(60) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
    const q = new ByteQueue();
    let model = Buffer.alloc(0);
    for (const o of ops) {
      if (o.kind === 'push') {
        q.push(Buffer.from(o.bytes));
        model = Buffer.concat([model, o.bytes]);
      } else {
        const n = Math.min(o.n, model.length);
        if (o.kind === 'peek') assert.deepEqual(q.peek(n), model.subarray(0, n));
        else if (o.kind === 'skip') q.skip(n);
        else assert.deepEqual(q.take(n), model.subarray(0, n));
        if (o.kind !== 'peek') model = model.subarray(n);
      }
      assert.equal(q.length, model.length);
    }
  }), { numRuns: 500 });
});

test('take: a view of the chunk when the bytes lie in it; across chunks, the buffer alloc lends', () => {
  const q = new ByteQueue();
  const a = Buffer.from('abcdef');
  q.push(a);
  q.push(Buffer.from('ghij'));
  const v = q.take(3);
  assert.equal(v.buffer, a.buffer, 'within the first chunk: a view');
  const lent = Buffer.alloc(5);
  const x = q.take(5, (n) => lent.subarray(0, n));
  assert.equal(x.buffer, lent.buffer, 'across chunks: copied into the lent buffer');
  assert.equal(x.toString(), 'defgh');
  assert.equal(q.take(2).toString(), 'ij');
  assert.equal(q.length, 0);
});
