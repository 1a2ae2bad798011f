/**
 * Windows' delayed LastWriteTime update (writetime.ts; smbtorture smb2.timestamps delayed-*),
 * over a memory VFS driven by the test client: a WRITE leaves LastWriteTime alone until FLUSH,
 * SET_INFO EndOfFile/Basic or WRITE_TIME_DELAY_MS later; later WRITEs through that open do not
 * move it until its CLOSE; a LastWriteTime set explicitly stays through writes of any open and is
 * what the inode holds after the last close.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_CTX } from '../../vfs/index.js';
import { homeShare } from './testdata/client.js';
import { CREATE_OPTION, decodeCloseResponse, decodeOutputBufferResponse, DISPOSITION } from './wire/files.js';
import { FILE_INFO, INFO_TYPE, nsToFiletime } from './wire/fscc.js';
import { WRITE_TIME_DELAY_MS } from './writetime.js';

const ALL = 0x001f01ff;

const setup = homeShare;

type Env = Awaited<ReturnType<typeof setup>>;

async function writeTime(e: Env, fileId: { persistent: bigint; volatile: bigint }): Promise<bigint> {
  return decodeOutputBufferResponse((await e.c.queryFileInfo(e.tid, fileId, INFO_TYPE.FILE, FILE_INFO.Basic)).message).readBigUInt64LE(16);
}

function basic(write: bigint): Buffer {
  const b = Buffer.alloc(40);
  b.writeBigUInt64LE(write, 16);
  return b;
}

const filetimeNow = () => nsToFiletime(BigInt(Date.now()) * 1_000_000n);

describe('SMB2 delayed LastWriteTime', () => {
  test('a WRITE does not move it; FLUSH does; CLOSE answers and stores the flushed time', async () => {
    const e = await setup();
    const f = await e.c.open(e.tid, { name: 'a.txt', desiredAccess: ALL, disposition: DISPOSITION.CREATE, options: CREATE_OPTION.NON_DIRECTORY_FILE });
    await sleep(5);
    assert.equal((await e.c.writeFile(e.tid, f.fileId, 0, Buffer.from('s'))).header.status, 0);
    assert.equal(await writeTime(e, f.fileId), f.lastWriteTime, 'unchanged right after the write');
    assert.equal((await e.c.flushFile(e.tid, f.fileId)).header.status, 0);
    const flushed = await writeTime(e, f.fileId);
    assert.ok(flushed > f.lastWriteTime, 'FLUSH did the update');
    const closed = decodeCloseResponse((await e.c.close(e.tid, f.fileId, { post: true })).message);
    assert.equal(closed.lastWriteTime, flushed);
    assert.equal(nsToFiletime((await e.v.paths.stat(ROOT_CTX, '/home/a.txt')).mtimeNs), flushed, 'the inode holds the shown time');
  });

  test('an update shows the time of the update, after the CreationTime, even when the monotonic clock lags the wall clock (a stepped clock)', async () => {
    const e = await setup();
    const f = await e.c.open(e.tid, { name: 'skew.txt', desiredAccess: ALL, disposition: DISPOSITION.CREATE });
    await e.c.writeFile(e.tid, f.fileId, 0, Buffer.from('s'));
    await sleep(5);
    const beforeFlush = filetimeNow();
    const realNow = performance.now.bind(performance);
    performance.now = () => realNow() - 5000; // the wall clock stepped 5 s forward after the start
    try {
      assert.equal((await e.c.flushFile(e.tid, f.fileId)).header.status, 0);
      const updated = await writeTime(e, f.fileId);
      assert.ok(updated > f.creationTime && updated >= beforeFlush, `updated ${updated}: the time of the FLUSH (${beforeFlush}), after created ${f.creationTime}`);
    } finally {
      performance.now = realNow;
    }
    await e.c.close(e.tid, f.fileId);
  });

  test('SET_INFO FileBasicInformation with all times 0 and EndOfFile of the same size do the update', async () => {
    const e = await setup();
    for (const how of ['basic', 'eof'] as const) {
      const f = await e.c.open(e.tid, { name: `${how}.txt`, desiredAccess: ALL, disposition: DISPOSITION.CREATE });
      await e.c.writeFile(e.tid, f.fileId, 0, Buffer.from('s'));
      assert.equal(await writeTime(e, f.fileId), f.lastWriteTime, how);
      const buf = how === 'basic' ? Buffer.alloc(40) : Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);
      assert.equal((await e.c.setInfo(e.tid, f.fileId, INFO_TYPE.FILE, how === 'basic' ? FILE_INFO.Basic : FILE_INFO.EndOfFile, buf)).header.status, 0);
      assert.ok(await writeTime(e, f.fileId) > f.lastWriteTime, `${how} did the update`);
      await e.c.close(e.tid, f.fileId);
    }
  });

  test(`the update comes by itself after ${WRITE_TIME_DELAY_MS} ms; a second WRITE then waits for the CLOSE`, async () => {
    const e = await setup();
    const f = await e.c.open(e.tid, { name: 'b.txt', desiredAccess: ALL, disposition: DISPOSITION.CREATE });
    await e.c.writeFile(e.tid, f.fileId, 0, Buffer.from('s'));
    await sleep(WRITE_TIME_DELAY_MS + 300);
    const updated = await writeTime(e, f.fileId);
    assert.ok(updated > f.lastWriteTime, 'updated by the timer');
    await e.c.writeFile(e.tid, f.fileId, 1, Buffer.from('t'));
    await sleep(20);
    assert.equal(await writeTime(e, f.fileId), updated, 'the second write did not move it');
    const beforeClose = filetimeNow();
    const closed = decodeCloseResponse((await e.c.close(e.tid, f.fileId, { post: true })).message);
    assert.ok(closed.lastWriteTime >= beforeClose, 'the CLOSE set it to the time of the close');
  });

  test('a LastWriteTime set on another open is sticky: writes do not move it, the last close keeps it', async () => {
    const e = await setup();
    const f = await e.c.open(e.tid, { name: 'c.txt', desiredAccess: ALL, disposition: DISPOSITION.CREATE });
    const g = await e.c.open(e.tid, { name: 'c.txt', desiredAccess: 0x100 /* FILE_WRITE_ATTRIBUTES */, disposition: DISPOSITION.OPEN });
    const set = f.lastWriteTime + 86400n * 10_000_000n;
    assert.equal((await e.c.setInfo(e.tid, g.fileId, INFO_TYPE.FILE, FILE_INFO.Basic, basic(set))).header.status, 0);
    await e.c.close(e.tid, g.fileId);
    await e.c.writeFile(e.tid, f.fileId, 0, Buffer.from('later'));
    assert.equal((await e.c.flushFile(e.tid, f.fileId)).header.status, 0);
    assert.equal(await writeTime(e, f.fileId), set);
    const closed = decodeCloseResponse((await e.c.close(e.tid, f.fileId, { post: true })).message);
    assert.equal(closed.lastWriteTime, set);
    assert.equal(nsToFiletime((await e.v.paths.stat(ROOT_CTX, '/home/c.txt')).mtimeNs), set);
  });

  test('create, write, close at once: the inode keeps the time of the write (no update was due)', async () => {
    const e = await setup();
    const f = await e.c.open(e.tid, { name: 'd.txt', desiredAccess: ALL, disposition: DISPOSITION.CREATE });
    await sleep(5);
    await e.c.writeFile(e.tid, f.fileId, 0, Buffer.from('x'));
    const closed = decodeCloseResponse((await e.c.close(e.tid, f.fileId, { post: true })).message);
    assert.ok(closed.lastWriteTime > f.lastWriteTime);
    assert.equal(nsToFiletime((await e.v.paths.stat(ROOT_CTX, '/home/d.txt')).mtimeNs), closed.lastWriteTime);
  });
});
