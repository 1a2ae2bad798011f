import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Errno, ERRNO_NAMES, VfsError } from '../../vfs/errno.js';
import { ERRNO_MESSAGE, ERRNO_TO_SSH_FX, SftpStatusError, statusForErrno, statusForError } from './errors.js';
import { SSH_FX } from './wire/constants.js';
import { WireError } from './wire/reader.js';

const CODES = new Set<number>(Object.values(SSH_FX));

test('every Errno has an SSH_FX_* status and a message, and nothing else is in the tables', () => {
  assert.deepEqual(Object.keys(ERRNO_TO_SSH_FX).sort(), [...ERRNO_NAMES].sort());
  assert.deepEqual(Object.keys(ERRNO_MESSAGE).sort(), [...ERRNO_NAMES].sort());
  for (const name of ERRNO_NAMES) {
    const code = ERRNO_TO_SSH_FX[name];
    assert.ok(CODES.has(code), `${name} maps to a real SSH_FX code`);
    assert.notEqual(code, SSH_FX.OK, `${name} is an error`);
    assert.notEqual(code, SSH_FX.EOF, `${name} is not EOF`);
    assert.ok(ERRNO_MESSAGE[name].length > 3, `${name} has a message`);
  }
});

test('the statuses a client acts on', () => {
  assert.deepEqual(statusForErrno(Errno.ENOENT), { code: SSH_FX.NO_SUCH_FILE, message: 'no such file or directory' });
  assert.deepEqual(statusForErrno(Errno.EACCES), { code: SSH_FX.PERMISSION_DENIED, message: 'permission denied' });
  assert.deepEqual(statusForErrno(Errno.EPERM).code, SSH_FX.PERMISSION_DENIED);
  assert.deepEqual(statusForErrno(Errno.EEXIST), { code: SSH_FX.FAILURE, message: 'file exists' });
  assert.deepEqual(statusForErrno(Errno.EDQUOT), { code: SSH_FX.FAILURE, message: 'quota exceeded' });
  assert.deepEqual(statusForErrno(Errno.ENOSPC), { code: SSH_FX.FAILURE, message: 'no space left on device' });
  assert.deepEqual(statusForErrno(Errno.ENOTEMPTY), { code: SSH_FX.FAILURE, message: 'directory not empty' });
  assert.equal(statusForErrno(Errno.ENOSYS).code, SSH_FX.OP_UNSUPPORTED);
  assert.equal(statusForErrno(Errno.EINVAL).code, SSH_FX.BAD_MESSAGE);
});

test('statusForError: VfsError by errno, WireError as BAD_MESSAGE, explicit statuses, anything else FAILURE without internals', () => {
  assert.equal(statusForError(new VfsError(Errno.ENOENT, '/secret/path missing')).message, 'no such file or directory');
  const bad = statusForError(new WireError('handle too long'));
  assert.equal(bad.code, SSH_FX.BAD_MESSAGE);
  assert.match(bad.message, /handle too long/);
  assert.deepEqual(statusForError(new SftpStatusError(SSH_FX.FAILURE, 'too many open handles')), { code: SSH_FX.FAILURE, message: 'too many open handles' });
  assert.deepEqual(statusForError(new TypeError('x is undefined at foo.ts:12')), { code: SSH_FX.FAILURE, message: 'internal error' });
});
