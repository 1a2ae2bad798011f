/**
 * SET_INFO FileBasicInformation times over a memory VFS, driven by the test client: creation,
 * write and change times set on purpose read back as set (before 1970 too), a time beyond what a
 * 64-bit ns count holds (year 2446) reads back exactly, in QUERY_INFO and QUERY_DIRECTORY, and '/' in a
 * CREATE name separates components as '\' does (Samba's reading; smbtorture smb2.timestamps).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ROOT_CTX } from '../../vfs/index.js';
import { STATUS } from './errors.js';
import { homeShare } from './testdata/client.js';
import { CREATE_OPTION, decodeOutputBufferResponse, DISPOSITION } from './wire/files.js';
import { FILE_INFO, INFO_TYPE } from './wire/fscc.js';
import { decodeDirectory } from './wire/fscc-dir.js';

/** FileBasicInformation's four FILETIMEs from a QUERY_INFO response. */
function decodeFileBasic(msg: Buffer): { creationTime: bigint; lastAccessTime: bigint; lastWriteTime: bigint; changeTime: bigint } {
  const b = decodeOutputBufferResponse(msg);
  return { creationTime: b.readBigUInt64LE(0), lastAccessTime: b.readBigUInt64LE(8), lastWriteTime: b.readBigUInt64LE(16), changeTime: b.readBigUInt64LE(24) };
}

describe('SMB2 FileBasicInformation times', () => {
  test('creation, write and change times are stored as set, beyond 2262 too; "/" separates', async () => {
    const { v, c, tid } = await homeShare();
    const d = await c.open(tid, { name: 'dir', desiredAccess: 0x001f01ff, disposition: DISPOSITION.CREATE, options: CREATE_OPTION.DIRECTORY_FILE });
    await c.close(tid, d.fileId);
    const f = await c.open(tid, { name: 'dir/t.txt', desiredAccess: 0x001f01ff, disposition: DISPOSITION.OPEN_IF, options: CREATE_OPTION.NON_DIRECTORY_FILE });
    assert.equal((await v.paths.stat(ROOT_CTX, '/home/dir/t.txt')).type, 'file', '"dir/t.txt" made t.txt inside dir');
    const ft1968 = 116444736000000000n - 63158400n * 10_000_000n;
    const ft2100 = 116444736000000000n + 4102444800n * 10_000_000n;
    const basic = (create: bigint, write: bigint, change: bigint) => {
      const b = Buffer.alloc(40);
      b.writeBigUInt64LE(create, 0); b.writeBigUInt64LE(write, 16); b.writeBigUInt64LE(change, 24);
      return b;
    };
    assert.equal((await c.setInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.Basic, basic(ft1968, ft2100, ft1968))).header.status, 0);
    const got = decodeFileBasic((await c.queryFileInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.Basic)).message);
    assert.deepEqual([got.creationTime, got.lastWriteTime, got.changeTime], [ft1968, ft2100, ft1968]);
    // Year 2446 (smb2.timestamps time_t_15032385535): past a 64-bit ns count, kept clamped in the
    // inode with its FILETIME in user.dw.smbtimes (writetime.ts), read back exactly, listed too.
    const huge = 116444736000000000n + 15032385535n * 10_000_000n;
    assert.equal((await c.setInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.Basic, basic(huge, huge, huge))).header.status, 0);
    const after = decodeFileBasic((await c.queryFileInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.Basic)).message);
    assert.deepEqual([after.creationTime, after.lastWriteTime, after.changeTime], [huge, huge, huge]);
    const st = await v.paths.stat(ROOT_CTX, '/home/dir/t.txt');
    assert.equal(st.mtimeNs, 2n ** 63n - 1n, 'the inode holds the end of its range');
    await c.close(tid, f.fileId);
    const d2 = await c.open(tid, { name: 'dir', desiredAccess: 0x001f01ff, disposition: DISPOSITION.OPEN, options: CREATE_OPTION.DIRECTORY_FILE });
    const listed = decodeDirectory(37, decodeOutputBufferResponse((await c.queryDirectory(tid, d2.fileId, { pattern: 't.txt' })).message));
    assert.deepEqual([listed[0]!.creationTime, listed[0]!.lastWriteTime, listed[0]!.changeTime], [huge, huge, huge]);
    await c.close(tid, d2.fileId);
    // An ordinary time set afterwards replaces the far one (the stale entry is not consulted).
    const f2 = await c.open(tid, { name: 'dir/t.txt', desiredAccess: 0x001f01ff, disposition: DISPOSITION.OPEN });
    assert.equal((await c.setInfo(tid, f2.fileId, INFO_TYPE.FILE, FILE_INFO.Basic, basic(0n, ft2100, 0n))).header.status, 0);
    const last = decodeFileBasic((await c.queryFileInfo(tid, f2.fileId, INFO_TYPE.FILE, FILE_INFO.Basic)).message);
    assert.deepEqual([last.creationTime, last.lastWriteTime], [huge, ft2100]);
    // Below -2 as a signed value is still refused, and the connection answers after it.
    assert.equal((await c.setInfo(tid, f2.fileId, INFO_TYPE.FILE, FILE_INFO.Basic, basic(0n, 2n ** 64n - 3n, 0n))).header.status, STATUS.INVALID_PARAMETER);
    assert.equal((await c.close(tid, f2.fileId)).header.status, 0);
  });
});
