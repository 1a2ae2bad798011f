/**
 * ByteLru (lru.ts): the byte budget, least-recently-used order, what is not kept; copyRange's
 * clamping.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
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

test('copyRange: clamps to the source, copies into place, refuses negative ranges', () => {
  const src = Buffer.from('0123456789');
  const into = Buffer.alloc(8, '.');
  assert.equal(copyRange(src, 7, 10, into, 2), 3);
  assert.equal(into.toString(), '..789...');
  assert.equal(copyRange(src, 10, 5, into, 0), 0, 'past the end: nothing');
  assert.throws(() => copyRange(src, -1, 2, into, 0), RangeError);
});
