/**
 * CHANGE_NOTIFY over a memory VFS, driven by the test client with a push channel: an interim
 * STATUS_PENDING then the pushed answer naming the change (ADDED, REMOVED, RENAMED_OLD/NEW_NAME,
 * MODIFIED by another client's write through SMB), changes kept between requests and answered
 * at once, a burst answered together, the first request's size as the open's buffer
 * (NOTIFY_ENUM_DIR when overflown), WATCH_TREE paths, changes made outside SMB (the VFS),
 * CANCEL → CANCELLED, CLOSE → NOTIFY_CLEANUP, errors for files and too-large buffers, and the
 * codecs (round trip, fuzz).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { createMemoryVfs, ROOT_CTX, type VfsInstance } from '../../vfs/index.js';
import { STATUS } from './errors.js';
import { shareFileService } from './server.js';
import { connection, message, TestClient, type Reply } from './testdata/client.js';
import { DIALECT } from './wire/negotiate.js';
import { Command, HDR_FLAGS } from './wire/header.js';
import { CREATE_OPTION, decodeOutputBufferResponse, DISPOSITION, type FileId } from './wire/files.js';
import {
  decodeNotifyInformation, encodeNotifyInformation, FILE_ACTION, FILE_NOTIFY_CHANGE, SMB2_WATCH_TREE, writeChangeNotifyRequest,
} from './wire/notify.js';

const ALL = 0xfff;
const DIR_ALL = 0x001f01ff;

interface Side { c: TestClient; tid: number; pushed: Buffer[] }

async function side(v: VfsInstance): Promise<Side> {
  const conn = connection({ shares: [{ name: 'Data', path: '/home', readOnly: false, requireEncryption: false }], files: shareFileService(v.paths) });
  const pushed: Buffer[] = [];
  conn.pushMessage = (m) => { pushed.push(m); return true; };
  const c = new TestClient(conn);
  await c.negotiate([DIALECT.SMB311]);
  assert.equal((await c.login('alice', 's3cret')).header.status, 0);
  return { c, tid: await c.treeConnect('data'), pushed };
}

async function setup(): Promise<{ v: VfsInstance; a: Side; b: Side }> {
  const v = await createMemoryVfs({ recordSize: 4096 });
  await v.paths.mkdir(ROOT_CTX, '/home', 0o777);
  await v.paths.mkdir(ROOT_CTX, '/home/w', 0o777);
  return { v, a: await side(v), b: await side(v) };
}

const notify = (s: Side, fileId: FileId, o: { filter?: number; size?: number; tree?: boolean } = {}) => s.c.send(Command.CHANGE_NOTIFY, (w) => {
  writeChangeNotifyRequest(w, { flags: o.tree ? SMB2_WATCH_TREE : 0, outputBufferLength: o.size ?? 4096, fileId, completionFilter: o.filter ?? ALL });
}, { treeId: s.tid });

/** The next pushed frame (waiting a few turns). */
async function nextPush(s: Side): Promise<Reply> {
  for (let i = 0; i < 400 && !s.pushed.length; i++) await new Promise((r) => setImmediate(r));
  assert.ok(s.pushed.length, 'a pushed answer');
  const [m] = s.c.parse(s.pushed.shift()!);
  return m!;
}

/** Makes an empty file through the VFS (as another protocol would). */
async function mk(v: VfsInstance, path: string): Promise<void> {
  const { fh } = await v.paths.open(ROOT_CTX, path, { create: true, write: true });
  await v.vfs.release(ROOT_CTX, fh);
}

const changes = (r: Reply) => decodeNotifyInformation(decodeOutputBufferResponse(r.message)).map((e) => `${e.action}:${e.name}`);
const dirOpen = async (s: Side, name = 'w', access = DIR_ALL) => (await s.c.open(s.tid, { name, desiredAccess: access, options: CREATE_OPTION.DIRECTORY_FILE, shareAccess: 7 })).fileId;
/** What a client watching a folder asks (FILE_LIST_DIRECTORY, FILE_READ_ATTRIBUTES, SYNCHRONIZE): no DELETE, which would refuse renames into it. */
const WATCH = 0x00100081;

describe('SMB2 CHANGE_NOTIFY', () => {
  test('a pending request is answered with the change another client made; later changes are kept and answered at once', async () => {
    const { a, b } = await setup();
    const d = await dirOpen(a, 'w', WATCH);
    const interim = await notify(a, d);
    assert.equal(interim.header.status, STATUS.PENDING);
    assert.ok(interim.header.flags & HDR_FLAGS.ASYNC_COMMAND);
    const f = await b.c.open(b.tid, { name: 'w\\new.txt', desiredAccess: 0x0012019f, disposition: DISPOSITION.CREATE });
    const fin = await nextPush(a);
    assert.equal(fin.header.status, 0);
    assert.equal(fin.header.asyncId, interim.header.asyncId);
    assert.deepEqual(changes(fin), [`${FILE_ACTION.ADDED}:new.txt`]);
    // Between requests: kept, then answered at once (no interim).
    await b.c.write(b.tid, f.fileId, Buffer.from('x'));
    await b.c.close(b.tid, f.fileId);
    const r1 = await b.c.open(b.tid, { name: 'w\\new.txt', desiredAccess: 0x00130197, shareAccess: 7 });
    const rename = Buffer.alloc(24 + 'w\\moved.txt'.length * 2);
    rename.writeUInt32LE('w\\moved.txt'.length * 2, 16);
    rename.write('w\\moved.txt', 20, 'utf16le');
    assert.equal((await b.c.setInfo(b.tid, r1.fileId, 1, 10, rename)).header.status, 0);
    await b.c.close(b.tid, r1.fileId);
    const now = await notify(a, d);
    assert.equal(now.header.status, 0);
    assert.deepEqual(changes(now), [`${FILE_ACTION.MODIFIED}:new.txt`, `${FILE_ACTION.RENAMED_OLD_NAME}:new.txt`, `${FILE_ACTION.RENAMED_NEW_NAME}:moved.txt`]);
  });

  test('a burst is one answer; too much for the buffer is NOTIFY_ENUM_DIR; the first size is the open\'s buffer', async () => {
    const { v, a } = await setup();
    const d = await dirOpen(a);
    assert.equal((await notify(a, d, { filter: FILE_NOTIFY_CHANGE.FILE_NAME })).header.status, STATUS.PENDING);
    await Promise.all(['p', 'q', 'r'].map((n) => mk(v, `/home/w/${n}`)));
    const fin = await nextPush(a);
    assert.deepEqual(changes(fin).sort(), ['1:p', '1:q', '1:r'], 'made through the VFS (another protocol), reported together');
    const small = await notify(a, d, { size: 0, filter: FILE_NOTIFY_CHANGE.FILE_NAME });
    assert.equal(small.header.status, STATUS.PENDING);
    await v.paths.unlink(ROOT_CTX, '/home/w/p');
    assert.equal((await nextPush(a)).header.status, STATUS.NOTIFY_ENUM_DIR);
    // A new open whose first request is 1 byte: everything overflows it.
    const d2 = await dirOpen(a);
    assert.equal((await notify(a, d2, { size: 1 })).header.status, STATUS.PENDING);
    await v.paths.unlink(ROOT_CTX, '/home/w/q');
    assert.equal((await nextPush(a)).header.status, STATUS.NOTIFY_ENUM_DIR);
    await v.paths.unlink(ROOT_CTX, '/home/w/r');
    assert.equal((await notify(a, d2, { size: 4096 })).header.status, STATUS.NOTIFY_ENUM_DIR);
  });

  test('WATCH_TREE reports paths below; without it a subfolder\'s changes are not reported', async () => {
    const { v, a } = await setup();
    await v.paths.mkdir(ROOT_CTX, '/home/w/sub', 0o777);
    const d = await dirOpen(a);
    assert.equal((await notify(a, d, { tree: true, filter: FILE_NOTIFY_CHANGE.FILE_NAME | FILE_NOTIFY_CHANGE.DIR_NAME })).header.status, STATUS.PENDING);
    await mk(v, '/home/w/sub/deep.txt');
    assert.deepEqual(changes(await nextPush(a)), ['1:sub\\deep.txt']);
    const d2 = await dirOpen(a);
    assert.equal((await notify(a, d2, { filter: FILE_NOTIFY_CHANGE.FILE_NAME })).header.status, STATUS.PENDING);
    await mk(v, '/home/w/sub/other.txt');
    await mk(v, '/home/w/top.txt');
    assert.deepEqual(changes(await nextPush(a)), ['1:top.txt']);
  });

  test('CANCEL → CANCELLED; CLOSE → NOTIFY_CLEANUP; the folder deleted → DELETE_PENDING; a file or a huge buffer → INVALID_PARAMETER', async () => {
    const { v, a, b } = await setup();
    const d = await dirOpen(a);
    const i1 = await notify(a, d);
    await a.c.raw(message({ command: Command.CANCEL, sessionId: a.c.sessionId, flags: HDR_FLAGS.ASYNC_COMMAND, asyncId: i1.header.asyncId }, (w) => { w.u16(4).u16(0); }));
    assert.equal((await nextPush(a)).header.status, STATUS.CANCELLED);
    const i2 = await notify(a, d);
    assert.equal(i2.header.status, STATUS.PENDING);
    assert.equal((await a.c.close(a.tid, d)).header.status, 0);
    assert.equal((await nextPush(a)).header.status, STATUS.NOTIFY_CLEANUP);
    await v.paths.mkdir(ROOT_CTX, '/home/gone', 0o777);
    const g = await dirOpen(a, 'gone');
    assert.equal((await notify(a, g)).header.status, STATUS.PENDING);
    await v.paths.rmdir(ROOT_CTX, '/home/gone');
    assert.equal((await nextPush(a)).header.status, STATUS.DELETE_PENDING);
    // Deleted through SMB while the watcher holds it open: delete-pending at the deleter's close.
    await v.paths.mkdir(ROOT_CTX, '/home/pend', 0o777);
    const p = await dirOpen(a, 'pend');
    assert.equal((await notify(a, p)).header.status, STATUS.PENDING);
    const del = await b.c.open(b.tid, { name: 'pend', desiredAccess: DIR_ALL, options: CREATE_OPTION.DIRECTORY_FILE | CREATE_OPTION.DELETE_ON_CLOSE, shareAccess: 7 });
    await b.c.close(b.tid, del.fileId);
    assert.equal((await nextPush(a)).header.status, STATUS.DELETE_PENDING);
    const f = await a.c.open(a.tid, { name: 'file.txt', desiredAccess: 0x0012019f, disposition: DISPOSITION.CREATE });
    assert.equal((await notify(a, f.fileId)).header.status, STATUS.INVALID_PARAMETER);
    const d3 = await dirOpen(a);
    assert.equal((await notify(a, d3, { size: (8 << 20) + 1 })).header.status, STATUS.INVALID_PARAMETER);
  });

  test('FILE_NOTIFY_INFORMATION round trips; the decoder takes any bytes', () => {
    fc.assert(fc.property(fc.array(fc.record({ action: fc.integer({ min: 1, max: 5 }), name: fc.string({ maxLength: 30 }) }), { maxLength: 20 }), (es) => {
      const back = decodeNotifyInformation(encodeNotifyInformation(es));
      assert.deepEqual(back, es.map((e) => ({ action: e.action, name: Buffer.from(e.name, 'utf16le').toString('utf16le') })));
    }));
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      try { decodeNotifyInformation(Buffer.from(b)); } catch (err) { assert.equal((err as Error).name, 'WireError'); }
    }));
  });
});
