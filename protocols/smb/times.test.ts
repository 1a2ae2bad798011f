/**
 * SET_INFO FileBasicInformation times over a memory VFS, driven by the test client: creation,
 * write and change times set on purpose read back as set (before 1970 too), a time beyond what a
 * 64-bit ns count holds is STATUS_INVALID_PARAMETER and leaves the connection up, and '/' in a
 * CREATE name separates components as '\' does (Samba's reading; smbtorture smb2.timestamps).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMemoryVfs, ROOT_CTX } from '../../vfs/index.js';
import { STATUS } from './errors.js';
import { shareFileService } from './server.js';
import { connection, TestClient } from './testdata/client.js';
import { DIALECT } from './wire/negotiate.js';
import { CREATE_OPTION, decodeOutputBufferResponse, DISPOSITION } from './wire/files.js';
import { FILE_INFO, INFO_TYPE } from './wire/fscc.js';

/** FileBasicInformation's four FILETIMEs from a QUERY_INFO response. */
function decodeFileBasic(msg: Buffer): { creationTime: bigint; lastAccessTime: bigint; lastWriteTime: bigint; changeTime: bigint } {
  const b = decodeOutputBufferResponse(msg);
  return { creationTime: b.readBigUInt64LE(0), lastAccessTime: b.readBigUInt64LE(8), lastWriteTime: b.readBigUInt64LE(16), changeTime: b.readBigUInt64LE(24) };
}

describe('SMB2 FileBasicInformation times', () => {
  test('creation, write and change times are stored as set; out-of-range times are refused; "/" separates', async () => {
    const v = await createMemoryVfs({ recordSize: 4096 });
    await v.paths.mkdir(ROOT_CTX, '/home', 0o777);
    const c = new TestClient(connection({ shares: [{ name: 'Data', path: '/home', readOnly: false, requireEncryption: false }], files: shareFileService(v.paths) }, []));
    await c.negotiate([DIALECT.SMB311]);
    await c.login('alice', 's3cret');
    const tid = await c.treeConnect('data');
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
    const huge = 116444736000000000n + 15032385535n * 10_000_000n; // year 2446: past 64-bit ns
    assert.equal((await c.setInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.Basic, basic(huge, huge, huge))).header.status, STATUS.INVALID_PARAMETER);
    const after = decodeFileBasic((await c.queryFileInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.Basic)).message);
    assert.deepEqual([after.creationTime, after.lastWriteTime], [ft1968, ft2100], 'nothing changed, and the connection still answers');
  });
});
