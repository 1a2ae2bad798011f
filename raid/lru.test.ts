/**
 * ByteLru (lru.ts): the byte budget, least-recently-used order, what is not kept, the same
 * evictions as a plain model over long random runs (the eviction iterator is kept across calls);
 * copyRange's clamping.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ByteLru, copyRange } from './lru.js';

function lru(max: number): { c: ByteLru<string, number>; evicted: string[] } {
  const evicted: string[] = [];
  return { c: new ByteLru<string, number>(max, (k) => evicted.push(k)), evicted };
}

test('lru: the budget holds; the least recently used goes first; a get refreshes', () => {
  const { c, evicted } = lru(100);
  c.set('a', 1, 25);
  c.set('b', 2, 25);
  c.set('c', 3, 25);
  c.set('d', 4, 25);
  assert.equal(c.get('a'), 1);
  c.set('e', 5, 25);
  assert.deepEqual(evicted, ['b'], 'b was the oldest once a was read');
  assert.equal(c.size, 100);
  c.set('big', 6, 26);
  assert.equal(c.get('big'), undefined, 'over a quarter of the budget: not kept');
  c.delete('c');
  assert.deepEqual(evicted, ['b', 'c']);
  c.clear();
  assert.equal(c.size, 0);
  assert.deepEqual(evicted.slice(2).sort(), ['a', 'd', 'e']);
});

test('lru: long random runs of set, get, delete and clear evict as a plain LRU model does', () => {
  type Op = { op: 'set'; k: number; size: number } | { op: 'get'; k: number } | { op: 'delete'; k: number } | { op: 'clear' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 120, arbitrary: fc.record({ op: fc.constant('set' as const), k: fc.integer({ min: 0, max: 60 }), size: fc.integer({ min: 1, max: 25 }) }) },
    { weight: 60, arbitrary: fc.record({ op: fc.constant('get' as const), k: fc.integer({ min: 0, max: 60 }) }) },
    { weight: 20, arbitrary: fc.record({ op: fc.constant('delete' as const), k: fc.integer({ min: 0, max: 60 }) }) },
    { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
  );
  fc.assert(fc.property(fc.array(op, { minLength: 1, maxLength: 3000 }), (ops) => {
    const { c, evicted } = lru(100);
    // The model: keys oldest first, with sizes.
    let model: { k: string; size: number }[] = [];
    const want: string[] = [];
    const drop = (k: string) => {
      const i = model.findIndex((e) => e.k === k);
      if (i >= 0) {
        model.splice(i, 1);
        want.push(k);
      }
    };
    for (const o of ops) {
      if (o.op === 'set') {
        const k = String(o.k);
        c.set(k, o.k, o.size);
        drop(k);
        if (o.size <= 25) {
          model.push({ k, size: o.size });
          let bytes = model.reduce((n, e) => n + e.size, 0);
          while (bytes > 100) {
            const e = model.shift()!;
            bytes -= e.size;
            want.push(e.k);
          }
        }
      } else if (o.op === 'get') {
        const k = String(o.k);
        const i = model.findIndex((e) => e.k === k);
        assert.equal(c.get(k), i >= 0 ? o.k : undefined);
        if (i >= 0) model.push(...model.splice(i, 1));
      } else if (o.op === 'delete') {
        c.delete(String(o.k));
        drop(String(o.k));
      } else {
        c.clear();
        want.push(...model.map((e) => e.k)); // oldest first, as the map holds them
        model = [];
      }
      assert.equal(c.size, model.reduce((n, e) => n + e.size, 0));
    }
    assert.deepEqual(evicted, want);
  }), { numRuns: 200 });
});

test('copyRange: clamps to the source, copies into place, refuses negative ranges', () => {
  const src = Buffer.from('0123456789');
  const into = Buffer.alloc(8, '.');
  assert.equal(copyRange(src, 7, 10, into, 2), 3);
  assert.equal(into.toString(), '..789...');
  assert.equal(copyRange(src, 10, 5, into, 0), 0, 'past the end: nothing');
  assert.throws(() => copyRange(src, -1, 2, into, 0), RangeError);
});
