/** The Errno → NTSTATUS table is complete, holds only error codes, and maps what clients act on. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Errno, ERRNO_NAMES, VfsError } from '../../vfs/errno.js';
import { ERRNO_TO_NTSTATUS, isError, ntStatus, SmbStatusError, STATUS } from './errors.js';

test('every Errno has an NTSTATUS, each a known error (or the symlink warning), and nothing else is in the table', () => {
  assert.deepEqual(Object.keys(ERRNO_TO_NTSTATUS).sort(), [...ERRNO_NAMES].sort());
  const known = new Set<number>(Object.values(STATUS));
  for (const n of ERRNO_NAMES) {
    const s = ERRNO_TO_NTSTATUS[n];
    assert.ok(known.has(s), n);
    assert.ok(isError(s) || s === STATUS.STOPPED_ON_SYMLINK, `${n} → 0x${s.toString(16)} is not an error`);
  }
});

test('NTSTATUS values are unique and have MS-ERREF severities', () => {
  const values = Object.values(STATUS);
  assert.equal(new Set(values).size, values.length);
  assert.equal(isError(STATUS.SUCCESS), false);
  assert.equal(isError(STATUS.BUFFER_OVERFLOW), false);
  assert.equal(isError(STATUS.MORE_PROCESSING_REQUIRED), true);
  assert.equal(STATUS.LOGON_FAILURE, 0xc000006d);
  assert.equal(STATUS.OBJECT_NAME_NOT_FOUND, 0xc0000034);
});

test('the statuses clients act on: quota, full disk, retention, read-only, exists, not empty, locks', () => {
  assert.equal(ntStatus(new VfsError(Errno.EDQUOT)), STATUS.QUOTA_EXCEEDED);
  assert.equal(ntStatus(new VfsError(Errno.ENOSPC)), STATUS.DISK_FULL);
  assert.equal(ntStatus(new VfsError(Errno.EPERM, 'retention')), STATUS.ACCESS_DENIED);
  assert.equal(ntStatus(new VfsError(Errno.EROFS)), STATUS.MEDIA_WRITE_PROTECTED);
  assert.equal(ntStatus(new VfsError(Errno.EEXIST)), STATUS.OBJECT_NAME_COLLISION);
  assert.equal(ntStatus(new VfsError(Errno.ENOTEMPTY)), STATUS.DIRECTORY_NOT_EMPTY);
  assert.equal(ntStatus(new VfsError(Errno.ENOENT)), STATUS.OBJECT_NAME_NOT_FOUND);
  assert.equal(ntStatus(new VfsError(Errno.EAGAIN)), STATUS.LOCK_NOT_GRANTED);
  assert.equal(ntStatus(new VfsError(Errno.EISDIR)), STATUS.FILE_IS_A_DIRECTORY);
  assert.equal(ntStatus(new SmbStatusError(STATUS.BAD_NETWORK_NAME)), STATUS.BAD_NETWORK_NAME);
  assert.equal(ntStatus(new TypeError('bug')), STATUS.INTERNAL_ERROR);
  assert.match(new SmbStatusError(STATUS.LOGON_FAILURE).message, /c000006d/);
});
