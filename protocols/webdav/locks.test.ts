import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LockDb, type DavLock } from './locks.js';

function mk(db: LockDb, root: string, scope: 'exclusive' | 'shared', depth: 0 | 'infinity', timeoutSec = 60): DavLock {
  return db.create({ root, rootIsCollection: true, depth, scope, ownerXml: '', principal: 'p', timeoutSec });
}

describe('webdav LockDb', () => {
  test('covering: the root itself, and descendants only for depth infinity', () => {
    const db = new LockDb();
    const a = mk(db, '/a', 'exclusive', 'infinity');
    const b = mk(db, '/b', 'exclusive', 0);
    assert.deepEqual(db.covering('/a/x/y'), [a]);
    assert.deepEqual(db.covering('/b'), [b]);
    assert.deepEqual(db.covering('/b/x'), []);
    assert.deepEqual(db.covering('/ab'), []);
    assert.match(a.token, /^urn:uuid:[0-9a-f-]{36}$/);
    assert.notEqual(a.token, b.token);
  });

  test('conflicts: exclusive vs anything, shared vs shared is fine, depth infinity sees locks below', () => {
    const db = new LockDb();
    mk(db, '/d/f', 'shared', 0);
    assert.equal(db.conflicts('/d/f', 'shared', 0).length, 0);
    assert.equal(db.conflicts('/d/f', 'exclusive', 0).length, 1);
    assert.equal(db.conflicts('/d', 'exclusive', 0).length, 0);
    assert.equal(db.conflicts('/d', 'exclusive', 'infinity').length, 1);
    assert.equal(db.conflicts('/d', 'shared', 'infinity').length, 0);
    mk(db, '/', 'exclusive', 'infinity');
    assert.equal(db.conflicts('/z', 'shared', 0).length, 1);
  });

  test('timeouts lapse and refresh restarts the clock; removeWithin drops a subtree', () => {
    let now = 1_000_000;
    const db = new LockDb(() => now);
    const l = mk(db, '/f', 'exclusive', 0, 10);
    assert.equal(db.secondsLeft(l), 10);
    now += 9_000;
    db.refresh(l, 10);
    now += 9_000;
    assert.equal(db.get(l.token), l);
    now += 2_000;
    assert.equal(db.get(l.token), undefined);
    assert.equal(db.size, 0);
    mk(db, '/t/a', 'shared', 0);
    mk(db, '/t/b/c', 'shared', 0);
    const keep = mk(db, '/tt', 'shared', 0);
    db.removeWithin('/t');
    assert.deepEqual(db.within('/'), [keep]);
    assert.equal(db.remove(keep.token), true);
    assert.equal(db.remove(keep.token), false);
  });
});
