/** The Errno → sense table is complete, uses known sense keys and ASC/ASCQ pairs, and maps what initiators act on. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Errno, ERRNO_NAMES, VfsError } from '../../vfs/errno.js';
import { ERRNO_TO_SENSE, senseForError } from './errors.js';
import { Asc, CdbError, invalidFieldInCdb, parseSense, ScsiStatus, SenseKey } from './wire/scsi.js';

test('every Errno has a sense, each with a known sense key and ASC/ASCQ, and nothing else is in the table', () => {
  assert.deepEqual(Object.keys(ERRNO_TO_SENSE).sort(), [...ERRNO_NAMES].sort());
  const keys = new Set<number>(Object.values(SenseKey));
  const ascs = new Set(Object.values(Asc).map((a) => `${a[0]},${a[1]}`));
  for (const n of ERRNO_NAMES) {
    const e = ERRNO_TO_SENSE[n];
    assert.ok(keys.has(e.key) && e.key !== SenseKey.NO_SENSE, n);
    assert.ok(ascs.has(`${e.asc[0]},${e.asc[1]}`), n);
    const err = senseForError(new VfsError(Errno[n]));
    assert.equal(err.status, ScsiStatus.CHECK_CONDITION);
    assert.equal(parseSense(err.sense).key, e.key);
  }
});

test('what initiators act on: full pool and quota, read-only, I/O errors by direction with the LBA, a deleted volume, bugs', () => {
  const s = (e: unknown, o: { write?: boolean; lba?: bigint } = {}) => parseSense(senseForError(e, o).sense);
  assert.deepEqual(s(new VfsError(Errno.ENOSPC)), { key: SenseKey.DATA_PROTECT, asc: 0x27, ascq: 0x07 });
  assert.deepEqual(s(new VfsError(Errno.EDQUOT)), { key: SenseKey.DATA_PROTECT, asc: 0x27, ascq: 0x07 });
  assert.deepEqual(s(new VfsError(Errno.EROFS)), { key: SenseKey.DATA_PROTECT, asc: 0x27, ascq: 0 });
  assert.deepEqual(s(new VfsError(Errno.EIO), { lba: 5n }), { key: SenseKey.MEDIUM_ERROR, asc: 0x11, ascq: 0, information: 5 });
  assert.deepEqual(s(new VfsError(Errno.EIO), { write: true, lba: 6n }), { key: SenseKey.MEDIUM_ERROR, asc: 0x0c, ascq: 0, information: 6 });
  assert.deepEqual(s(new VfsError(Errno.ESTALE)), { key: SenseKey.NOT_READY, asc: 0x3a, ascq: 0 });
  assert.deepEqual(s(new VfsError(Errno.EINVAL)), { key: SenseKey.ILLEGAL_REQUEST, asc: 0x21, ascq: 0 });
  assert.deepEqual(s(new TypeError('bug'), { lba: 1n }), { key: SenseKey.MEDIUM_ERROR, asc: 0x11, ascq: 0, information: 1 });
  const c = invalidFieldInCdb(3);
  assert.equal(senseForError(c), c);
  assert.ok(senseForError(new VfsError(Errno.EAGAIN)) instanceof CdbError);
});
