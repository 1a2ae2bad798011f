import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Errno, VfsError } from '../vfs/errno.js';
import { faultTolerance, parseLayout, recoverable } from './layout.js';

const isEinval = (e: unknown) => e instanceof VfsError && e.errno === Errno.EINVAL && /bad layout/.test(e.message);

describe('parseLayout', () => {
  test('the named layouts map to k data + m parity shards', () => {
    const cases: [string, string, number, number, string][] = [
      ['mirror:2', 'mirror:2', 1, 1, 'copy'],
      ['mirror:3', 'mirror:3', 1, 2, 'copy'],
      ['raid0:4', 'raid0:4', 4, 0, 'stripe'],
      ['raid5:5', 'raid5:5', 4, 1, 'rs'],
      ['raid6:6', 'raid6:6', 4, 2, 'rs'],
      ['raid10:4', 'raid10:4', 2, 2, 'copy'],
      ['rs:4+2', 'rs:4+2', 4, 2, 'rs'],
      [' RS:16+4 ', 'rs:16+4', 16, 4, 'rs'],
      ['rs:8+3', 'rs:8+3', 8, 3, 'rs'],
      ['rs:3+0', 'rs:3+0', 3, 0, 'stripe'],
      ['rs:1+2', 'rs:1+2', 1, 2, 'copy'],
    ];
    for (const [text, name, k, m, kind] of cases) {
      const l = parseLayout(text);
      assert.deepEqual({ name: l.name, k: l.k, m: l.m, kind: l.kind, devices: l.devices }, { name, k, m, kind, devices: k + m }, text);
    }
  });

  test('bad text gives EINVAL naming the problem', () => {
    const bad: [string, RegExp][] = [
      ['', /expected/], ['rs', /expected/], ['rs:4', /rs:K\+M/], ['rs:17+2', /K .* 1\.\.16/], ['rs:4+5', /M .* 0\.\.4/],
      ['rs:0+2', /K/], ['raid5:2', /3\.\.17/], ['raid6:3', /4\.\.18/], ['raid10:5', /even/], ['mirror:1', /2\.\.5/],
      ['mirror:6', /2\.\.5/], ['raid0:0', /1\.\.16/], ['zfs:3', /unknown kind/], ['rs:-1+2', /whole number/], ['rs:4+2+1', /rs:K\+M/],
      ['rs:1e1+2', /whole number/], ['raid5:0x5', /whole number/], ['x'.repeat(100), /too long/],
    ];
    for (const [text, re] of bad) {
      assert.throws(() => parseLayout(text), (e: unknown) => isEinval(e) && re.test((e as Error).message), text);
    }
  });

  test('property: any string either parses to a consistent layout or throws EINVAL', () => {
    const pieces = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.tuple(fc.constantFrom('rs', 'RS', 'mirror', 'raid0', 'raid5', 'raid6', 'raid10', 'x'), fc.constantFrom(':', '', '::'),
        fc.integer({ min: -3, max: 40 }), fc.constantFrom('+', '', '-'), fc.integer({ min: -3, max: 9 }))
        .map(([a, b, c, d, e]) => `${a}${b}${c}${d}${a.toLowerCase() === 'rs' ? e : ''}`),
    );
    fc.assert(fc.property(pieces, (text) => {
      let l;
      try {
        l = parseLayout(text);
      } catch (e) {
        assert.ok(isEinval(e), `unexpected error for ${JSON.stringify(text)}: ${e}`);
        return;
      }
      assert.ok(l.k >= 1 && l.k <= 16 && l.m >= 0 && l.devices === l.k + l.m);
      assert.ok(l.kind === 'copy' ? l.m % l.k === 0 : true);
      assert.ok(l.m <= 4 || l.kind === 'copy');
      // The canonical name parses to the same layout.
      assert.deepEqual(parseLayout(l.name), l);
    }), { numRuns: 2000 });
  });

  test('recoverable: rs needs any k, copy needs one copy of each, stripe needs all', () => {
    const rs = parseLayout('rs:4+2');
    assert.equal(recoverable(rs, [true, true, false, true, false, true]), true);
    assert.equal(recoverable(rs, [true, false, false, true, false, true]), false);
    const r10 = parseLayout('raid10:4'); // shards 0,1 data; 2 copies 0; 3 copies 1
    assert.equal(recoverable(r10, [false, true, true, false]), true);
    assert.equal(recoverable(r10, [false, true, false, true]), false);
    const st = parseLayout('raid0:2');
    assert.equal(recoverable(st, [true, false]), false);
    assert.equal(faultTolerance(rs), 2);
    assert.equal(faultTolerance(r10), 1);
    assert.equal(faultTolerance(parseLayout('mirror:3')), 2);
    assert.equal(faultTolerance(st), 0);
  });
});
