/**
 * FileRenameInformation on a named stream (stream-rename.ts; MS-FSA 2.1.5.15.12; smbtorture
 * smb2.streams rename, rename2) over a memory VFS driven by the test client: ":NAME" renames the
 * stream and keeps its bytes, the old xattr goes; an existing empty stream is replaced only with
 * ReplaceIfExists, one with data is INVALID_PARAMETER, an open one SHARING_VIOLATION; the same
 * name is a no-op; a name with a file part is SHARING_VIOLATION; "::$DATA" moves the bytes into
 * the empty file.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ROOT_CTX } from '../../vfs/index.js';
import { STATUS } from './errors.js';
import { STREAM_XATTR_PREFIX } from './streams.js';
import { homeShare, renameInfo, TestClient } from './testdata/client.js';
import { DISPOSITION } from './wire/files.js';
import { FILE_INFO, INFO_TYPE } from './wire/fscc.js';

const ALL = 0x001f01ff;
const SHARE_ALL = 7;

describe('SMB2 stream rename', () => {
  test('renames within the file, replaces only what it may, and moves a stream into the empty file', async () => {
    const { v, c, tid } = await homeShare();
    const xattrs = async () => (await v.vfs.listxattr(ROOT_CTX, (await v.paths.stat(ROOT_CTX, '/home/f.txt')).ino)).filter((n) => n.startsWith(STREAM_XATTR_PREFIX)).map((n) => n.slice(STREAM_XATTR_PREFIX.length)).sort();
    const status = async (fileId: Parameters<TestClient['setInfo']>[1], name: string, replace: boolean) => (await c.setInfo(tid, fileId, INFO_TYPE.FILE, FILE_INFO.Rename, renameInfo(name, replace))).header.status;

    const one = await c.open(tid, { name: 'f.txt:One', desiredAccess: ALL, disposition: DISPOSITION.CREATE, shareAccess: SHARE_ALL });
    assert.equal((await c.write(tid, one.fileId, Buffer.from('payload'))).status, 0);
    assert.equal(await status(one.fileId, ':one:$DATA', false), 0, 'the same stream by another case: nothing to do');
    assert.equal(await status(one.fileId, ':Renamed', false), 0);
    assert.deepEqual(await xattrs(), ['Renamed']);
    const r = await c.read(tid, one.fileId, 100);
    assert.equal(r.data.toString(), 'payload', 'the open follows the stream');

    const empty = await c.open(tid, { name: 'f.txt:Empty', desiredAccess: ALL, disposition: DISPOSITION.CREATE, shareAccess: SHARE_ALL });
    assert.equal(await status(one.fileId, ':Empty:$DATA', true), STATUS.SHARING_VIOLATION, 'the target is open');
    await c.close(tid, empty.fileId);
    assert.equal(await status(one.fileId, ':Empty:$DATA', false), STATUS.OBJECT_NAME_COLLISION);
    assert.equal(await status(one.fileId, ':Empty:$DATA', true), 0);
    assert.deepEqual(await xattrs(), ['Empty']);

    const full = await c.open(tid, { name: 'f.txt:Full', desiredAccess: ALL, disposition: DISPOSITION.CREATE, shareAccess: SHARE_ALL });
    await c.write(tid, full.fileId, Buffer.from('x'));
    await c.close(tid, full.fileId);
    assert.equal(await status(one.fileId, ':Full', true), STATUS.INVALID_PARAMETER, 'a stream holding data is not replaced');
    assert.equal(await status(one.fileId, 'f.txt:Other', true), STATUS.SHARING_VIOLATION, 'a name with a file part');
    assert.equal(await status(one.fileId, ':bad:$FOO', true), STATUS.OBJECT_NAME_INVALID);

    assert.equal(await status(one.fileId, '::$DATA', false), STATUS.OBJECT_NAME_COLLISION);
    assert.equal(await status(one.fileId, '::$DATA', true), 0, 'into the empty file');
    assert.equal((await c.close(tid, one.fileId)).header.status, 0);
    const h = await v.paths.open(ROOT_CTX, '/home/f.txt', { read: true });
    assert.equal((await v.vfs.read(ROOT_CTX, h.fh, 0, 100)).toString(), 'payload');
    await v.vfs.release(ROOT_CTX, h.fh);
    assert.deepEqual(await xattrs(), ['Full']);
  });
});
