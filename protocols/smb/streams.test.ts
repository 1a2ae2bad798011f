/**
 * Alternate data streams over a memory VFS, driven by the test client: stream names (MS-FSCC
 * 2.1.5.3), creating a stream creates its file, READ/WRITE/EndOfFile on a stream, names found
 * by any case, FileStreamInformation, share modes per stream, delete-on-close of a stream, the
 * file's delete against open streams (SHARING_VIOLATION without FILE_SHARE_DELETE; deferred
 * until the last stream closes with it), the 64 KiB limit, and a fuzz of the name parser.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ROOT_CTX } from '../../vfs/index.js';
import { SmbStatusError, STATUS } from './errors.js';
import { splitStreamPath, STREAM_XATTR_PREFIX } from './streams.js';
import { homeShare } from './testdata/client.js';
import { CREATE_OPTION, decodeCreateResponse, decodeOutputBufferResponse, DISPOSITION, SHARE_ACCESS } from './wire/files.js';
import { FILE_INFO, INFO_TYPE } from './wire/fscc.js';

const RW = 0x0012019f; // generic read + write, no execute
const DELETE = 0x00010000;

const setup = homeShare;

/** FileStreamInformation's names and sizes. */
function streamNames(msg: Buffer): string[] {
  const b = decodeOutputBufferResponse(msg);
  const out: string[] = [];
  for (let off = 0; ;) {
    const next = b.readUInt32LE(off), len = b.readUInt32LE(off + 4), size = b.readBigUInt64LE(off + 8);
    out.push(`${b.subarray(off + 24, off + 24 + len).toString('utf16le')}=${size}`);
    if (!next) break;
    off += next;
  }
  return out.sort();
}

describe('SMB2 alternate data streams', () => {
  test('stream names split as MS-FSCC says', () => {
    assert.deepEqual(splitStreamPath('d\\f.txt:Stream One'), { path: 'd\\f.txt', stream: 'Stream One', defaultStream: false });
    assert.deepEqual(splitStreamPath('f.txt:s:$DaTa'), { path: 'f.txt', stream: 's', defaultStream: false });
    assert.deepEqual(splitStreamPath('f.txt::$DATA'), { path: 'f.txt', stream: undefined, defaultStream: true });
    assert.deepEqual(splitStreamPath('d/f.txt'), { path: 'd/f.txt', stream: undefined, defaultStream: false });
    for (const bad of ['f.txt:s:', 'f.txt:s:$FOO', 'f.txt:s:?D*a', 'f.txt:', 'd:x\\f.txt', 'f.txt:a:b:c']) {
      assert.throws(() => splitStreamPath(bad), (e: unknown) => e instanceof SmbStatusError && e.status === STATUS.OBJECT_NAME_INVALID, bad);
    }
    fc.assert(fc.property(fc.string({ maxLength: 40 }), (s) => {
      try { splitStreamPath(s); } catch (e) { assert.ok(e instanceof SmbStatusError, String(e)); }
    }));
  });

  test('a stream is made with its file, written, read, listed, found by any case, and emptied by OVERWRITE', async () => {
    const { c, tid, v } = await setup();
    const s = await c.open(tid, { name: 'f.txt:Stream One', desiredAccess: RW, disposition: DISPOSITION.CREATE });
    assert.equal((await v.paths.stat(ROOT_CTX, '/home/f.txt')).size, 0, 'the file was made, empty');
    assert.equal((await c.write(tid, s.fileId, Buffer.from('test data'))).count, 9);
    assert.equal((await c.writeFile(tid, s.fileId, 5, Buffer.from('MORE DATA '))).header.status, 0);
    assert.deepEqual((await c.read(tid, s.fileId, 100)).data, Buffer.from('test MORE DATA '));
    await c.close(tid, s.fileId);
    assert.deepEqual(await v.paths.getxattr(ROOT_CTX, '/home/f.txt', `${STREAM_XATTR_PREFIX}Stream One`), Buffer.from('test MORE DATA '));
    const again = await c.open(tid, { name: 'f.txt:STREAM ONE:$DATA', desiredAccess: RW });
    assert.deepEqual((await c.read(tid, again.fileId, 100)).data, Buffer.from('test MORE DATA '), 'any case finds it');
    const two = await c.open(tid, { name: 'f.txt:Second', desiredAccess: RW, disposition: DISPOSITION.OPEN_IF });
    await c.write(tid, two.fileId, Buffer.from('2nd'));
    assert.deepEqual(streamNames((await c.queryFileInfo(tid, again.fileId, INFO_TYPE.FILE, FILE_INFO.Stream)).message),
      ['::$DATA=0', ':Second:$DATA=3', ':Stream One:$DATA=15']);
    const std = decodeOutputBufferResponse((await c.queryFileInfo(tid, two.fileId, INFO_TYPE.FILE, FILE_INFO.Standard)).message);
    assert.equal(std.readBigUInt64LE(8), 3n, 'EndOfFile of a stream open is the stream\'s');
    const eof = Buffer.alloc(8);
    eof.writeBigUInt64LE(1n);
    assert.equal((await c.setInfo(tid, two.fileId, INFO_TYPE.FILE, FILE_INFO.EndOfFile, eof)).header.status, 0);
    assert.deepEqual((await c.read(tid, two.fileId, 100)).data, Buffer.from('2'));
    assert.equal((await c.createFile(tid, { name: 'f.txt:Stream One', desiredAccess: RW, disposition: DISPOSITION.CREATE })).header.status, STATUS.OBJECT_NAME_COLLISION);
    assert.equal((await c.createFile(tid, { name: 'f.txt:none', desiredAccess: RW, disposition: DISPOSITION.OPEN })).header.status, STATUS.OBJECT_NAME_NOT_FOUND);
    const ow = await c.open(tid, { name: 'f.txt:Stream One', desiredAccess: RW, disposition: DISPOSITION.OVERWRITE, shareAccess: 7 });
    assert.equal((await c.read(tid, ow.fileId, 100)).status, STATUS.END_OF_FILE);
    assert.equal((await c.writeFile(tid, ow.fileId, 65530, Buffer.alloc(10))).header.status, STATUS.DISK_FULL, 'a stream holds 64 KiB');
    assert.equal((await c.createFile(tid, { name: 'f.txt:x', desiredAccess: RW, options: CREATE_OPTION.DIRECTORY_FILE })).header.status, STATUS.NOT_A_DIRECTORY);
    const d = await c.open(tid, { name: 'dir', desiredAccess: RW, disposition: DISPOSITION.CREATE, options: CREATE_OPTION.DIRECTORY_FILE });
    await c.close(tid, d.fileId);
    assert.equal((await c.createFile(tid, { name: 'dir::$DATA', desiredAccess: RW })).header.status, STATUS.FILE_IS_A_DIRECTORY);
  });

  test('share modes are per stream; delete-on-close removes a stream; the file\'s delete waits for its open streams', async () => {
    const { c, tid, v } = await setup();
    const a = await c.open(tid, { name: 'g.txt:one', desiredAccess: RW, disposition: DISPOSITION.CREATE, shareAccess: 0 });
    const b = await c.createFile(tid, { name: 'g.txt:two', desiredAccess: RW, disposition: DISPOSITION.CREATE, shareAccess: 0 });
    assert.equal(b.header.status, 0, 'another stream does not conflict');
    assert.equal((await c.createFile(tid, { name: 'g.txt:one', desiredAccess: RW, shareAccess: 7 })).header.status, STATUS.SHARING_VIOLATION);
    // Deleting the file conflicts with a stream open that does not share delete.
    const del = await c.createFile(tid, { name: 'g.txt', desiredAccess: DELETE, shareAccess: 7, options: CREATE_OPTION.DELETE_ON_CLOSE });
    assert.equal(del.header.status, STATUS.SHARING_VIOLATION);
    await c.close(tid, a.fileId);
    await c.close(tid, decodeCreateResponse(b.message).fileId);
    const twoId = (await c.open(tid, { name: 'g.txt:two', desiredAccess: RW | DELETE, shareAccess: 7, options: CREATE_OPTION.DELETE_ON_CLOSE })).fileId;
    await c.close(tid, twoId);
    const names = async () => (await v.paths.listxattr(ROOT_CTX, '/home/g.txt')).filter((n) => n.startsWith(STREAM_XATTR_PREFIX)).sort();
    assert.deepEqual(await names(), [`${STREAM_XATTR_PREFIX}one`], 'two was deleted on close, one stays');

    // With FILE_SHARE_DELETE the file can be deleted while a stream is open: the name answers
    // DELETE_PENDING, the stream still reads, and the file goes with the stream's last close.
    const s = await c.open(tid, { name: 'h.txt:st', desiredAccess: RW, disposition: DISPOSITION.CREATE, shareAccess: SHARE_ACCESS.READ | SHARE_ACCESS.WRITE | SHARE_ACCESS.DELETE });
    await c.write(tid, s.fileId, Buffer.from('kept'));
    const f = await c.open(tid, { name: 'h.txt', desiredAccess: DELETE, shareAccess: 7, options: CREATE_OPTION.DELETE_ON_CLOSE });
    await c.close(tid, f.fileId);
    assert.equal((await c.createFile(tid, { name: 'h.txt', desiredAccess: RW, disposition: DISPOSITION.OPEN_IF, shareAccess: 7 })).header.status, STATUS.DELETE_PENDING);
    assert.equal((await c.createFile(tid, { name: 'h.txt:st', desiredAccess: RW, disposition: DISPOSITION.OPEN_IF, shareAccess: 7 })).header.status, STATUS.DELETE_PENDING);
    assert.deepEqual((await c.read(tid, s.fileId, 10)).data, Buffer.from('kept'));
    await c.close(tid, s.fileId);
    await assert.rejects(v.paths.stat(ROOT_CTX, '/home/h.txt'), 'gone after the stream\'s close');
  });
});
