/** The FUSE Errno table is complete and every entry is a valid Linux errno. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERRNO_NAMES, Errno, VfsError } from '../../vfs/errno.js';
import { ERRNO_TO_FUSE, fuseErrno } from './errors.js';

test('every Errno has a FUSE errno, a positive Linux number', () => {
  for (const n of ERRNO_NAMES) assert.ok(Number.isInteger(ERRNO_TO_FUSE[n]) && ERRNO_TO_FUSE[n] > 0 && ERRNO_TO_FUSE[n] < 4096, n);
  assert.equal(fuseErrno(new VfsError(Errno.EDQUOT)), 122);
  assert.equal(fuseErrno(new Error('boom')), Errno.EIO);
});
