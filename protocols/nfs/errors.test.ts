/** The Errno tables (NFSv3, MOUNT, NLM v4, NFSv4) are complete and hold only real status codes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Errno, ERRNO_NAMES, VfsError } from '../../vfs/errno.js';
import {
  ERRNO_TO_MNT3, ERRNO_TO_NFS3, ERRNO_TO_NFS4, ERRNO_TO_NLM4, mnt3Status, Nfs3StatusError, nfs3Status, Nfs4Error, nfs4Status, Nlm4StatusError, nlm4Status,
} from './errors.js';
import { NFS4 } from './wire/nfs4.js';
import { MNT3 } from './wire/mount.js';
import { NFS3 } from './wire/nfs3.js';
import { NLM4 } from './wire/nlm.js';

test('every Errno has an nfsstat3 and a mountstat3, errors all, and nothing else is in the tables', () => {
  assert.deepEqual(Object.keys(ERRNO_TO_NFS3).sort(), [...ERRNO_NAMES].sort());
  assert.deepEqual(Object.keys(ERRNO_TO_MNT3).sort(), [...ERRNO_NAMES].sort());
  const nfs = new Set<number>(Object.values(NFS3)), mnt = new Set<number>(Object.values(MNT3));
  for (const n of ERRNO_NAMES) {
    assert.ok(nfs.has(ERRNO_TO_NFS3[n]) && ERRNO_TO_NFS3[n] !== NFS3.OK, n);
    assert.ok(mnt.has(ERRNO_TO_MNT3[n]) && ERRNO_TO_MNT3[n] !== MNT3.OK, n);
  }
});

test('the statuses clients act on: quota, retention, stale handles, exists, not empty', () => {
  assert.equal(nfs3Status(new VfsError(Errno.EDQUOT)), NFS3.ERR_DQUOT);
  assert.equal(nfs3Status(new VfsError(Errno.EPERM, 'retention')), NFS3.ERR_PERM);
  assert.equal(nfs3Status(new VfsError(Errno.ESTALE)), NFS3.ERR_STALE);
  assert.equal(nfs3Status(new VfsError(Errno.EEXIST)), NFS3.ERR_EXIST);
  assert.equal(nfs3Status(new VfsError(Errno.ENOTEMPTY)), NFS3.ERR_NOTEMPTY);
  assert.equal(nfs3Status(new VfsError(Errno.EROFS)), NFS3.ERR_ROFS);
  assert.equal(nfs3Status(new Nfs3StatusError(NFS3.ERR_BADHANDLE)), NFS3.ERR_BADHANDLE);
  assert.equal(nfs3Status(new TypeError('bug')), NFS3.ERR_SERVERFAULT);
  assert.equal(mnt3Status(new VfsError(Errno.ENOENT)), MNT3.ERR_NOENT);
  assert.equal(mnt3Status(new Error('x')), MNT3.ERR_SERVERFAULT);
});

test('every Errno has an nlm4_stats that is not NLM4_GRANTED; the statuses NLM clients act on', () => {
  assert.deepEqual(Object.keys(ERRNO_TO_NLM4).sort(), [...ERRNO_NAMES].sort());
  const nlm = new Set<number>(Object.values(NLM4));
  for (const n of ERRNO_NAMES) assert.ok(nlm.has(ERRNO_TO_NLM4[n]) && ERRNO_TO_NLM4[n] !== NLM4.GRANTED && ERRNO_TO_NLM4[n] !== NLM4.BLOCKED, n);
  assert.equal(nlm4Status(new VfsError(Errno.EAGAIN)), NLM4.DENIED);
  assert.equal(nlm4Status(new VfsError(Errno.EDEADLK)), NLM4.DEADLCK);
  assert.equal(nlm4Status(new VfsError(Errno.ESTALE)), NLM4.STALE_FH);
  assert.equal(nlm4Status(new VfsError(Errno.EROFS)), NLM4.ROFS);
  assert.equal(nlm4Status(new VfsError(Errno.EFBIG)), NLM4.FBIG);
  assert.equal(nlm4Status(new VfsError(Errno.ENOLCK)), NLM4.DENIED_NOLOCKS);
  assert.equal(nlm4Status(new Nfs3StatusError(NFS3.ERR_STALE)), NLM4.STALE_FH);
  assert.equal(nlm4Status(new Nfs3StatusError(NFS3.ERR_BADHANDLE)), NLM4.STALE_FH);
  assert.equal(nlm4Status(new Nfs3StatusError(NFS3.ERR_ROFS)), NLM4.ROFS);
  assert.equal(nlm4Status(new Nlm4StatusError(NLM4.DENIED_GRACE_PERIOD)), NLM4.DENIED_GRACE_PERIOD);
  assert.equal(nlm4Status(new TypeError('bug')), NLM4.FAILED);
});

test('every Errno has an nfsstat4 error, and NFSv4 statuses clients act on', () => {
  assert.deepEqual(Object.keys(ERRNO_TO_NFS4).sort(), [...ERRNO_NAMES].sort());
  const v4 = new Set<number>(Object.values(NFS4));
  for (const n of ERRNO_NAMES) assert.ok(v4.has(ERRNO_TO_NFS4[n]) && ERRNO_TO_NFS4[n] !== NFS4.OK, n);
  assert.equal(nfs4Status(new VfsError(Errno.ESTALE)), NFS4.ERR_STALE);
  assert.equal(nfs4Status(new VfsError(Errno.EACCES)), NFS4.ERR_ACCESS);
  assert.equal(nfs4Status(new VfsError(Errno.EDQUOT)), NFS4.ERR_DQUOT);
  assert.equal(nfs4Status(new VfsError(Errno.EAGAIN)), NFS4.ERR_DELAY);
  assert.equal(nfs4Status(new VfsError(Errno.ENOTEMPTY)), NFS4.ERR_NOTEMPTY);
  assert.equal(nfs4Status(new Nfs4Error(NFS4.ERR_SHARE_DENIED)), NFS4.ERR_SHARE_DENIED);
  assert.equal(nfs4Status(new TypeError('bug')), NFS4.ERR_SERVERFAULT);
});
