import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ERRNO_NAMES, Errno, VfsError } from '../../vfs/errno.js';
import { DavError, ERRNO_TO_HTTP, REASON, statusOf, statusOfErrno } from './errors.js';

describe('webdav errors', () => {
  test('the Errno → HTTP table covers every ERRNO_NAMES member with a known 4xx/5xx status', () => {
    assert.deepEqual(Object.keys(ERRNO_TO_HTTP).sort(), [...ERRNO_NAMES].sort());
    for (const n of ERRNO_NAMES) {
      const s = ERRNO_TO_HTTP[n];
      assert.ok(s >= 400 && s < 600, `${n} → ${s}`);
      assert.ok(REASON[s], `${n} → ${s} has a reason phrase`);
    }
  });

  test('the brief’s fixed points', () => {
    assert.equal(statusOfErrno(Errno.ENOENT), 404);
    assert.equal(statusOfErrno(Errno.EACCES), 403);
    assert.equal(statusOfErrno(Errno.EPERM), 403);
    assert.equal(statusOfErrno(Errno.ENOTEMPTY), 409);
    assert.equal(statusOfErrno(Errno.EDQUOT), 507);
    assert.equal(statusOfErrno(Errno.ENOSPC), 507);
    assert.equal(statusOfErrno(Errno.EROFS), 403);
    assert.equal(statusOfErrno(Errno.EINVAL), 400);
    assert.equal(statusOfErrno(Errno.ENAMETOOLONG), 414);
    assert.equal(statusOfErrno(Errno.EEXIST), 405);
    assert.equal(statusOfErrno(Errno.EEXIST, 'copymove'), 412);
  });

  test('statusOf: DavError keeps its status, VfsError maps, anything else is 500', () => {
    assert.equal(statusOf(new DavError(423)), 423);
    assert.equal(statusOf(new VfsError(Errno.ENOTEMPTY)), 409);
    assert.equal(statusOf(new Error('boom')), 500);
    assert.equal(statusOf('x'), 500);
  });
});
