/**
 * LOCK (lock.ts) and async requests (async.ts) through whole connections over a memory VFS:
 * element validation and statuses, stacking and unlock order, zero-length locks, rollback of a
 * request's earlier locks, READ/WRITE against locked ranges, blocking locks answered with an
 * interim STATUS_PENDING and a pushed final response (granted, CANCEL by AsyncId and by
 * MessageId, close of the waiting open, tree disconnect of the holder), signed and encrypted
 * final responses, two connections on one VFS, and conflicts with locks other protocols take in
 * the VFS lock table (both ways, waits included).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { createMemoryVfs, ROOT_CTX, type VfsInstance } from '../../vfs/index.js';
import type { Ctx } from '../../vfs/types.js';
import { VfsError } from '../../vfs/errno.js';
import { STATUS } from './errors.js';
import { shareFileService } from './server.js';
import { connection, message, TestClient, type Reply } from './testdata/client.js';
import { CIPHER, DIALECT } from './wire/negotiate.js';
import { Command, HDR_FLAGS } from './wire/header.js';
import { CREATE_OPTION, decodeCreateResponse, decodeReadResponse, DISPOSITION, writeCreateRequest, writeIoctlRequest, type FileId } from './wire/files.js';
import { FSCTL_DATA } from './wire/fsctl.js';
import { decodeLockRequest, LOCK_FLAG, writeLockRequest, type LockElement } from './wire/lock.js';
import { WireError } from './wire/reader.js';
import { MIRROR_CTX, MIRROR_OWNER, rangesOverlap } from './lock.js';
import type { FileService } from './files.js';

const RW = 0x0012019f;
const { SHARED, EXCLUSIVE, UNLOCK, FAIL_IMMEDIATELY: FI } = LOCK_FLAG;

interface Side {
  c: TestClient;
  tid: number;
  /** Frames the connection pushed on its own (final async responses). */
  pushed: Buffer[];
}

async function side(files: FileService, o: { dialect?: number; cipher?: boolean; sign?: boolean } = {}): Promise<Side> {
  const conn = connection({ shares: [{ name: 'Data', path: '/home', readOnly: false, requireEncryption: false }], files });
  const pushed: Buffer[] = [];
  conn.pushMessage = (m) => { pushed.push(m); return true; };
  const c = new TestClient(conn);
  await c.negotiate([o.dialect ?? DIALECT.SMB311], o.cipher ? { ciphers: [CIPHER.AES_128_GCM] } : {});
  assert.equal((await c.login('alice', 's3cret')).header.status, 0);
  if (o.sign) c.signing = true;
  const tid = await c.treeConnect('data', o.cipher ? { encrypt: true } : {});
  return { c, tid, pushed };
}

async function setup(): Promise<{ v: VfsInstance; files: FileService; a: Side }> {
  const v = await createMemoryVfs({ recordSize: 4096 });
  const home = await v.paths.mkdir(ROOT_CTX, '/home', 0o755);
  await v.vfs.setattr(ROOT_CTX, home.ino, { uid: 1000, gid: 1000 });
  const files = shareFileService(v.paths);
  return { v, files, a: await side(files) };
}

async function openFile(s: Side, name = 'f.txt', o: { encrypt?: boolean } = {}): Promise<FileId> {
  if (o.encrypt) {
    const r = await s.c.send(Command.CREATE, (w) => {
      writeCreateRequest(w, { name, desiredAccess: RW, disposition: DISPOSITION.OPEN_IF, options: CREATE_OPTION.NON_DIRECTORY_FILE, shareAccess: 7 });
    }, { treeId: s.tid, encrypt: true });
    assert.equal(r.header.status, 0);
    return decodeCreateResponse(r.message).fileId;
  }
  return (await s.c.open(s.tid, { name, desiredAccess: RW, disposition: DISPOSITION.OPEN_IF, options: CREATE_OPTION.NON_DIRECTORY_FILE, shareAccess: 7 })).fileId;
}

const el = (offset: number | bigint, length: number | bigint, flags: number): LockElement => ({ offset: BigInt(offset), length: BigInt(length), flags });

async function lock(s: Side, fileId: FileId, locks: LockElement[], o: { encrypt?: boolean } = {}): Promise<Reply> {
  return s.c.send(Command.LOCK, (w) => { writeLockRequest(w, { fileId, locks }); }, { treeId: s.tid, ...(o.encrypt ? { encrypt: true } : {}) });
}
const st = async (p: Promise<Reply>): Promise<number> => (await p).header.status;

/** Waits (a few event-loop turns) until `s` has pushed `n` frames. */
async function pushedFrames(s: Side, n: number): Promise<Reply[]> {
  for (let i = 0; i < 200 && s.pushed.length < n; i++) await new Promise((r) => setImmediate(r));
  assert.equal(s.pushed.length, n, `${n} pushed frame(s)`);
  return s.pushed.map((f) => { const [m] = s.c.parse(f); return m!; });
}

/** Some event-loop turns, for "nothing happens" checks. */
const settle = async (): Promise<void> => { for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r)); };

const FUSE: Ctx = { uid: 0, gid: 0, groups: [], clientId: 'fuse:test' };

describe('SMB2 LOCK', () => {
  test('rangesOverlap: zero-length ranges (MS-FSA, as Windows answers)', () => {
    const r = (offset: number, length: number) => ({ offset: BigInt(offset), length: BigInt(length) });
    assert.equal(rangesOverlap(r(10, 0), r(10, 0)), false);
    assert.equal(rangesOverlap(r(10, 0), r(9, 1)), false);
    assert.equal(rangesOverlap(r(10, 0), r(10, 1)), false);
    assert.equal(rangesOverlap(r(10, 0), r(9, 2)), true);
    assert.equal(rangesOverlap(r(9, 3), r(10, 0)), true);
    assert.equal(rangesOverlap(r(0, 4), r(2, 4)), true);
    assert.equal(rangesOverlap(r(0, 4), r(4, 4)), false);
  });

  test('element validation, stacking, unlock order and ranges', async () => {
    const { a } = await setup();
    const h = await openFile(a), h2 = await openFile(a);
    // Flags: NONE, UNLOCK mixed with a lock flag, unknown bits → INVALID_PARAMETER.
    assert.equal(await st(lock(a, h, [el(0, 1, 0)])), STATUS.INVALID_PARAMETER);
    assert.equal(await st(lock(a, h, [el(0, 1, UNLOCK | EXCLUSIVE)])), STATUS.INVALID_PARAMETER);
    assert.equal(await st(lock(a, h, [el(0, 1, UNLOCK | FI)])), STATUS.INVALID_PARAMETER);
    assert.equal(await st(lock(a, h, [el(0, 1, 0xffffffe8)])), STATUS.INVALID_PARAMETER);
    assert.equal(await st(lock(a, { persistent: 99n, volatile: 99n }, [el(0, 1, EXCLUSIVE | FI)])), STATUS.FILE_CLOSED);
    const dir = (await a.c.open(a.tid, { name: 'd', desiredAccess: 0x00120089, disposition: DISPOSITION.CREATE, options: CREATE_OPTION.DIRECTORY_FILE })).fileId;
    assert.equal(await st(lock(a, dir, [el(0, 1, EXCLUSIVE | FI)])), STATUS.INVALID_DEVICE_REQUEST);
    // offset + length above 2^64 → INVALID_LOCK_RANGE; exactly 2^64 is fine.
    assert.equal(await st(lock(a, h, [el(2n ** 64n - 1n, 2n ** 64n - 1n, EXCLUSIVE | FI)])), STATUS.INVALID_LOCK_RANGE);
    assert.equal(await st(lock(a, h, [el(2n ** 64n - 1n, 2, EXCLUSIVE | FI)])), STATUS.INVALID_LOCK_RANGE);
    assert.equal(await st(lock(a, h, [el(2n ** 64n - 1n, 1, EXCLUSIVE | FI)])), 0);
    assert.equal(await st(lock(a, h2, [el(2n ** 64n - 1n, 1, EXCLUSIVE | FI)])), STATUS.LOCK_NOT_GRANTED);
    assert.equal(await st(lock(a, h, [el(2n ** 64n - 1n, 1, UNLOCK)])), 0);
    // Adjacent high ranges of two opens stay distinct (exact 64-bit ranges).
    assert.equal(await st(lock(a, h, [el(2n ** 63n, 1, EXCLUSIVE | FI)])), 0);
    assert.equal(await st(lock(a, h2, [el(2n ** 63n - 1n, 1, EXCLUSIVE | FI)])), 0);
    assert.equal(await st(lock(a, h2, [el(2n ** 63n, 1, SHARED | FI)])), STATUS.LOCK_NOT_GRANTED);
    assert.equal(await st(lock(a, h, [el(2n ** 63n, 1, UNLOCK)])), 0);
    assert.equal(await st(lock(a, h2, [el(2n ** 63n - 1n, 1, UNLOCK)])), 0);
    // Shared stacks on the open's own exclusive; exclusive never stacks; another open's shared conflicts.
    assert.equal(await st(lock(a, h, [el(0, 10, EXCLUSIVE | FI)])), 0);
    assert.equal(await st(lock(a, h, [el(0, 10, SHARED | FI)])), 0);
    assert.equal(await st(lock(a, h, [el(0, 10, EXCLUSIVE | FI)])), STATUS.LOCK_NOT_GRANTED);
    assert.equal(await st(lock(a, h, [el(2, 3, EXCLUSIVE | FI)])), STATUS.LOCK_NOT_GRANTED);
    assert.equal(await st(lock(a, h2, [el(5, 10, SHARED | FI)])), STATUS.LOCK_NOT_GRANTED);
    // The unlock must name the range exactly, and takes the exclusive lock first.
    assert.equal(await st(lock(a, h, [el(0, 5, UNLOCK)])), STATUS.RANGE_NOT_LOCKED);
    assert.equal(await st(lock(a, h2, [el(0, 10, UNLOCK)])), STATUS.RANGE_NOT_LOCKED);
    assert.equal(await st(lock(a, h, [el(0, 10, UNLOCK)])), 0);
    assert.equal(await st(lock(a, h2, [el(5, 10, SHARED | FI)])), 0, 'only the shared lock is left');
    assert.equal(await st(lock(a, h, [el(0, 10, UNLOCK)])), 0);
    assert.equal(await st(lock(a, h, [el(0, 10, UNLOCK)])), STATUS.RANGE_NOT_LOCKED);
    assert.equal(await st(lock(a, h2, [el(5, 10, UNLOCK)])), 0);
    // Zero-length locks: conflict only with a range strictly around their offset.
    assert.equal(await st(lock(a, h, [el(10, 0, EXCLUSIVE | FI)])), 0);
    assert.equal(await st(lock(a, h2, [el(10, 0, EXCLUSIVE | FI)])), 0);
    assert.equal(await st(lock(a, h2, [el(10, 2, EXCLUSIVE | FI)])), 0);
    assert.equal(await st(lock(a, h2, [el(9, 2, SHARED | FI)])), STATUS.LOCK_NOT_GRANTED);
    assert.equal(await st(lock(a, h, [el(10, 0, UNLOCK)])), 0);
    assert.equal(await st(lock(a, h2, [el(10, 2, UNLOCK)])), 0);
    assert.equal(await st(lock(a, h2, [el(10, 0, UNLOCK)])), 0);
    assert.equal(await st(lock(a, h2, [el(10, 0, UNLOCK)])), STATUS.RANGE_NOT_LOCKED);
  });

  test('several elements: in order, earlier locks rolled back on failure, earlier unlocks kept', async () => {
    const { a } = await setup();
    const h = await openFile(a), h2 = await openFile(a);
    assert.equal(await st(lock(a, h2, [el(10, 10, EXCLUSIVE | FI)])), 0);
    assert.equal(await st(lock(a, h, [el(0, 10, EXCLUSIVE | FI), el(10, 10, EXCLUSIVE | FI)])), STATUS.LOCK_NOT_GRANTED);
    assert.equal(await st(lock(a, h2, [el(0, 10, EXCLUSIVE | FI)])), 0, 'the first range was given back');
    assert.equal(await st(lock(a, h2, [el(0, 10, UNLOCK), el(10, 10, UNLOCK)])), 0);
    // Blocking elements only alone.
    assert.equal(await st(lock(a, h, [el(0, 1, EXCLUSIVE), el(5, 1, EXCLUSIVE | FI)])), STATUS.INVALID_PARAMETER);
    assert.equal(await st(lock(a, h2, [el(0, 1, EXCLUSIVE | FI)])), 0, 'nothing kept from the refused request');
    assert.equal(await st(lock(a, h2, [el(0, 1, UNLOCK)])), 0);
    // Unlocks stop at the first range not held; the ones before it stay unlocked.
    assert.equal(await st(lock(a, h, [el(0, 10, EXCLUSIVE | FI), el(10, 10, EXCLUSIVE | FI)])), 0);
    assert.equal(await st(lock(a, h, [el(0, 10, UNLOCK), el(30, 10, UNLOCK), el(10, 10, UNLOCK)])), STATUS.RANGE_NOT_LOCKED);
    assert.equal(await st(lock(a, h2, [el(0, 10, EXCLUSIVE | FI)])), 0);
    assert.equal(await st(lock(a, h2, [el(10, 10, EXCLUSIVE | FI)])), STATUS.LOCK_NOT_GRANTED);
    // UNLOCK first, then a lock element → the unlock happens, then INVALID_PARAMETER.
    assert.equal(await st(lock(a, h, [el(10, 10, UNLOCK), el(50, 1, EXCLUSIVE | FI)])), STATUS.INVALID_PARAMETER);
    assert.equal(await st(lock(a, h2, [el(10, 10, EXCLUSIVE | FI)])), 0);
  });

  test('READ and WRITE against locked ranges: FILE_LOCK_CONFLICT (MS-FSA 2.1.4.10)', async () => {
    const { a } = await setup();
    const h1 = await openFile(a), h2 = await openFile(a);
    assert.equal(await st(a.c.writeFile(a.tid, h1, 0, Buffer.alloc(200, 1))), 0);
    assert.equal(await st(lock(a, h1, [el(100, 100, SHARED)])), 0);
    assert.equal(await st(a.c.writeFile(a.tid, h1, 150, Buffer.alloc(10))), STATUS.FILE_LOCK_CONFLICT, 'a shared lock stops its own open writing');
    assert.equal(await st(a.c.writeFile(a.tid, h2, 150, Buffer.alloc(10))), STATUS.FILE_LOCK_CONFLICT);
    assert.equal(await st(a.c.readFile(a.tid, h1, 150, 10)), 0);
    assert.equal(await st(a.c.readFile(a.tid, h2, 150, 10)), 0);
    assert.equal(await st(a.c.writeFile(a.tid, h2, 90, Buffer.alloc(10))), 0, 'next to the range');
    assert.equal(await st(lock(a, h1, [el(100, 100, UNLOCK)])), 0);
    assert.equal(await st(lock(a, h1, [el(100, 100, EXCLUSIVE)])), 0);
    assert.equal(await st(a.c.writeFile(a.tid, h1, 150, Buffer.alloc(10, 7))), 0);
    assert.equal(await st(a.c.readFile(a.tid, h1, 150, 10)), 0);
    assert.equal(await st(a.c.writeFile(a.tid, h2, 199, Buffer.alloc(10))), STATUS.FILE_LOCK_CONFLICT);
    assert.equal(await st(a.c.readFile(a.tid, h2, 95, 10)), STATUS.FILE_LOCK_CONFLICT);
    assert.equal(await st(a.c.readFile(a.tid, h2, 150, 0)), 0, 'zero-byte reads never conflict');
    assert.equal(await st(a.c.closeFile(a.tid, h1)), 0);
    const r = await a.c.readFile(a.tid, h2, 150, 10);
    assert.equal(r.header.status, 0, 'the close released the lock');
    assert.deepEqual(decodeReadResponse(r.message), Buffer.alloc(10, 7));
  });

  test('a blocking LOCK answers STATUS_PENDING, later requests go on, the final answer is pushed when granted', async () => {
    const { a } = await setup();
    const h = await openFile(a), h2 = await openFile(a);
    assert.equal(await st(lock(a, h, [el(100, 50, EXCLUSIVE)])), 0);
    const interim = await lock(a, h2, [el(100, 50, EXCLUSIVE)]);
    assert.equal(interim.header.status, STATUS.PENDING);
    assert.ok(interim.header.flags & HDR_FLAGS.ASYNC_COMMAND, 'async header');
    assert.notEqual(interim.header.asyncId, 0n);
    assert.ok(interim.header.credits >= 1, 'the interim response grants the credits');
    await settle();
    assert.equal(a.pushed.length, 0, 'still waiting');
    assert.equal(await st(lock(a, h2, [el(100, 50, UNLOCK)])), STATUS.RANGE_NOT_LOCKED, 'a waiting lock is not held');
    assert.equal(await st(a.c.readFile(a.tid, h2, 0, 1)), STATUS.END_OF_FILE, 'the connection serves other requests meanwhile');
    assert.equal(await st(lock(a, h, [el(100, 50, UNLOCK)])), 0);
    const [fin] = await pushedFrames(a, 1);
    assert.equal(fin!.header.status, 0);
    assert.equal(fin!.header.command, Command.LOCK);
    assert.equal(fin!.header.messageId, interim.header.messageId);
    assert.equal(fin!.header.asyncId, interim.header.asyncId);
    assert.ok(fin!.header.flags & HDR_FLAGS.ASYNC_COMMAND);
    assert.equal(fin!.header.credits, 0);
    assert.equal(await st(lock(a, h, [el(120, 1, SHARED | FI)])), STATUS.LOCK_NOT_GRANTED, 'h2 holds it now');
  });

  test('CANCEL by AsyncId and by MessageId → STATUS_CANCELLED; close of the waiting open → RANGE_NOT_LOCKED', async () => {
    const { a } = await setup();
    const h = await openFile(a), h2 = await openFile(a);
    assert.equal(await st(lock(a, h, [el(0, 10, EXCLUSIVE)])), 0);
    const i1 = await lock(a, h2, [el(0, 10, EXCLUSIVE)]);
    assert.equal(i1.header.status, STATUS.PENDING);
    const cancel = (h: Partial<{ flags: number; asyncId: bigint; messageId: bigint }>) => a.c.raw(message({ command: Command.CANCEL, sessionId: a.c.sessionId, ...h }, (w) => { w.u16(4).u16(0); }));
    assert.deepEqual(await cancel({ flags: HDR_FLAGS.ASYNC_COMMAND, asyncId: 777n }), { replies: [], close: false }, 'unknown AsyncId: nothing, no answer');
    await settle();
    assert.equal(a.pushed.length, 0);
    await cancel({ flags: HDR_FLAGS.ASYNC_COMMAND, asyncId: i1.header.asyncId, messageId: i1.header.messageId });
    let [fin] = await pushedFrames(a, 1);
    assert.equal(fin!.header.status, STATUS.CANCELLED);
    assert.equal(fin!.header.messageId, i1.header.messageId);
    // The sync form names the MessageId.
    const i2 = await lock(a, h2, [el(0, 10, EXCLUSIVE)]);
    assert.equal(i2.header.status, STATUS.PENDING);
    await cancel({ messageId: i2.header.messageId });
    [, fin] = await pushedFrames(a, 2);
    assert.equal(fin!.header.status, STATUS.CANCELLED);
    assert.equal(fin!.header.asyncId, i2.header.asyncId);
    // Closing the open that waits.
    const i3 = await lock(a, h2, [el(0, 10, EXCLUSIVE)]);
    assert.equal(await st(a.c.closeFile(a.tid, h2)), 0);
    [, , fin] = await pushedFrames(a, 3);
    assert.equal(fin!.header.status, STATUS.RANGE_NOT_LOCKED);
    assert.equal(fin!.header.messageId, i3.header.messageId);
    // Nothing was granted by any of them: a third open still conflicts only with h.
    const h3 = await openFile(a);
    assert.equal(await st(lock(a, h3, [el(0, 10, SHARED | FI)])), STATUS.LOCK_NOT_GRANTED);
    assert.equal(await st(lock(a, h, [el(0, 10, UNLOCK)])), 0);
    assert.equal(await st(lock(a, h3, [el(0, 10, EXCLUSIVE | FI)])), 0);
  });

  test('two connections on one VFS; TREE_DISCONNECT of the holder grants the waiter (as Windows answers)', async () => {
    const { files, a } = await setup();
    const b = await side(files);
    const ha = await openFile(a), hb = await openFile(b);
    assert.equal(await st(lock(a, ha, [el(0, 10, EXCLUSIVE | FI)])), 0);
    assert.equal(await st(lock(b, hb, [el(5, 10, SHARED | FI)])), STATUS.LOCK_NOT_GRANTED);
    assert.equal(await st(b.c.writeFile(b.tid, hb, 0, Buffer.from('x'))), STATUS.FILE_LOCK_CONFLICT);
    const wait = await lock(b, hb, [el(5, 10, SHARED)]);
    assert.equal(wait.header.status, STATUS.PENDING);
    assert.equal(await st(a.c.send(Command.TREE_DISCONNECT, (w) => { w.u16(4).u16(0); }, { treeId: a.tid })), 0);
    const [fin] = await pushedFrames(b, 1);
    assert.equal(fin!.header.status, 0);
    assert.equal(a.pushed.length, 0);
  });

  test('final responses are signed, or encrypted, like the request', async () => {
    const { files } = await setup();
    const s = await side(files, { sign: true });
    const h = await openFile(s), h2 = await openFile(s);
    assert.equal(await st(lock(s, h, [el(0, 1, EXCLUSIVE)])), 0);
    const i = await lock(s, h2, [el(0, 1, EXCLUSIVE)]);
    assert.equal(i.header.status, STATUS.PENDING);
    assert.ok(s.c.verify(i), 'interim signed');
    assert.equal(await st(lock(s, h, [el(0, 1, UNLOCK)])), 0);
    const [fin] = await pushedFrames(s, 1);
    assert.ok(s.c.verify(fin!), 'final response signed');

    const e = await side(files, { cipher: true });
    const f1 = await openFile(e, 'g.txt', { encrypt: true }), f2 = await openFile(e, 'g.txt', { encrypt: true });
    assert.equal(await st(lock(e, f1, [el(0, 1, EXCLUSIVE)], { encrypt: true })), 0);
    const ie = await lock(e, f2, [el(0, 1, EXCLUSIVE)], { encrypt: true });
    assert.equal(ie.header.status, STATUS.PENDING);
    assert.ok(ie.encrypted);
    assert.equal(await st(lock(e, f1, [el(0, 1, UNLOCK)], { encrypt: true })), 0);
    const [fe] = await pushedFrames(e, 1);
    assert.ok(fe!.encrypted, 'final response encrypted');
    assert.equal(fe!.header.status, 0);
  });

  test('SMB locks and the VFS lock table: FUSE/NFS/WebDAV-style holders conflict both ways', async () => {
    const { v, a } = await setup();
    const h = await openFile(a);
    const ino = (await v.paths.stat(ROOT_CTX, '/home/f.txt')).ino;
    // SMB → VFS: the mirror holds what SMB holds.
    assert.equal(await st(lock(a, h, [el(100, 10, SHARED | FI)])), 0);
    await v.vfs.lock(FUSE, ino, { type: 'read', start: 105, end: 106, owner: 'p1' });
    await assert.rejects(v.vfs.lock(FUSE, ino, { type: 'write', start: 109, end: 120, owner: 'p1' }), (e: unknown) => e instanceof VfsError && e.code === 'EAGAIN');
    const held = await v.vfs.testlock(FUSE, ino, { type: 'write', start: 0, end: Infinity, owner: 'p2' });
    assert.ok(held);
    await v.vfs.unlock(FUSE, ino, { owner: 'p1', start: 0, end: Infinity });
    assert.equal(await st(lock(a, h, [el(100, 10, EXCLUSIVE | FI)])), STATUS.LOCK_NOT_GRANTED, 'exclusive on its own shared range');
    assert.equal(await st(lock(a, h, [el(100, 10, UNLOCK)])), 0);
    assert.equal(await v.vfs.testlock(FUSE, ino, { type: 'write', start: 0, end: Infinity, owner: 'p2' }), null, 'the unlock cleared the mirror');
    // VFS → SMB: a foreign lock refuses LOCK, READ and WRITE.
    await v.vfs.lock(FUSE, ino, { type: 'write', start: 0, end: 50, owner: 'p1' });
    assert.equal(await st(lock(a, h, [el(40, 20, SHARED | FI)])), STATUS.LOCK_NOT_GRANTED);
    assert.equal(await st(a.c.writeFile(a.tid, h, 10, Buffer.from('x'))), STATUS.FILE_LOCK_CONFLICT);
    assert.equal(await st(a.c.readFile(a.tid, h, 10, 1)), STATUS.FILE_LOCK_CONFLICT);
    assert.equal(await st(lock(a, h, [el(50, 20, EXCLUSIVE | FI)])), 0, 'next to it');
    // A blocking SMB lock waits for the foreign one to go.
    const i = await lock(a, h, [el(0, 10, EXCLUSIVE)]);
    assert.equal(i.header.status, STATUS.PENDING);
    await settle();
    assert.equal(a.pushed.length, 0);
    await v.vfs.unlock(FUSE, ino, { owner: 'p1', start: 0, end: Infinity });
    const [fin] = await pushedFrames(a, 1);
    assert.equal(fin!.header.status, 0);
    await assert.rejects(v.vfs.lock(FUSE, ino, { type: 'read', start: 5, end: 6, owner: 'p1' }), (e: unknown) => e instanceof VfsError && e.code === 'EAGAIN');
    // A foreign waiter is woken when SMB lets go (close of the open).
    const waiting = v.vfs.lock(FUSE, ino, { type: 'write', start: 0, end: 100, owner: 'p1' }, true);
    assert.equal(await st(a.c.closeFile(a.tid, h)), 0);
    await waiting;
    assert.deepEqual((await v.vfs.testlock(MIRROR_CTX, ino, { type: 'read', start: 0, end: Infinity, owner: MIRROR_OWNER }))?.owner, 'p1');
  });

  test('a named stream has its own locks, not in the VFS table', async () => {
    const { v, a } = await setup();
    const h = await openFile(a);
    const s1 = await openFile(a, 'f.txt:st'), s2 = await openFile(a, 'f.txt:st');
    const ino = (await v.paths.stat(ROOT_CTX, '/home/f.txt')).ino;
    assert.equal(await st(lock(a, s1, [el(0, 10, EXCLUSIVE | FI)])), 0);
    assert.equal(await st(lock(a, s2, [el(0, 10, SHARED | FI)])), STATUS.LOCK_NOT_GRANTED);
    assert.equal(await st(a.c.writeFile(a.tid, s2, 0, Buffer.from('x'))), STATUS.FILE_LOCK_CONFLICT);
    assert.equal(await st(lock(a, h, [el(0, 10, EXCLUSIVE | FI)])), 0, 'the data stream is another stream');
    assert.equal(await st(lock(a, h, [el(0, 10, UNLOCK)])), 0);
    assert.equal(await v.vfs.testlock(FUSE, ino, { type: 'write', start: 0, end: Infinity, owner: 'p' }), null);
    assert.equal(await st(a.c.closeFile(a.tid, s1)), 0);
    assert.equal(await st(lock(a, s2, [el(0, 10, SHARED | FI)])), 0);
  });

  test('fuzz: the LOCK decoder throws only WireError; random LOCK requests on a live open always get an answer', async () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const m = Buffer.concat([Buffer.alloc(64), Buffer.from(bytes)]);
      try {
        decodeLockRequest(m);
      } catch (err) {
        assert.ok(err instanceof WireError, String(err));
      }
    }), { numRuns: 2000 });
    const { a } = await setup();
    const h = await openFile(a);
    const elements = fc.array(fc.record({
      offset: fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: 64n })),
      length: fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: 64n })),
      flags: fc.oneof(fc.constantFrom(SHARED | FI, EXCLUSIVE | FI, UNLOCK, SHARED, 0), fc.nat(0xff)),
    }), { minLength: 1, maxLength: 4 });
    const known = new Set<number>([0, STATUS.INVALID_PARAMETER, STATUS.LOCK_NOT_GRANTED, STATUS.RANGE_NOT_LOCKED, STATUS.INVALID_LOCK_RANGE, STATUS.PENDING]);
    await fc.assert(fc.asyncProperty(elements, async (locks) => {
      const r = await lock(a, h, locks);
      assert.ok(known.has(r.header.status), r.header.status.toString(16));
    }), { numRuns: 300 });
  });

  test('LockSequence: a resilient open\'s replayed LOCK succeeds without locking again (3.3.5.14); FSCTL_LMR_REQUEST_RESILIENCY checks', async () => {
    const { files } = await setup();
    const resiliency = (s: Side, h: FileId, input: Buffer) => s.c.send(Command.IOCTL, (w) => {
      writeIoctlRequest(w, { ctlCode: FSCTL_DATA.LMR_REQUEST_RESILIENCY, fileId: h, input, maxOutputResponse: 0, flags: 1 });
    }, { treeId: s.tid });
    const seqLock = (s: Side, h: FileId, seq: number) => s.c.send(Command.LOCK, (w) => {
      writeLockRequest(w, { fileId: h, locks: [el(0, 10, EXCLUSIVE | FI)], lockSequence: seq });
    }, { treeId: s.tid });
    const timeout = (ms: number) => { const b = Buffer.alloc(8); b.writeUInt32LE(ms); return b; };
    for (const dialect of [DIALECT.SMB210, DIALECT.SMB311]) {
      const s = await side(files, { dialect });
      const h = await openFile(s, `seq-${dialect}.txt`);
      assert.equal((await resiliency(s, h, Buffer.alloc(7))).header.status, STATUS.INVALID_PARAMETER);
      assert.equal((await resiliency(s, h, timeout(10 * 60 * 1000))).header.status, STATUS.INVALID_PARAMETER, 'above 5 minutes');
      assert.equal((await resiliency(s, h, timeout(60_000))).header.status, 0);
      const seq = (1 << 4) | 3; // index 1, number 3
      assert.equal((await seqLock(s, h, seq)).header.status, 0);
      assert.equal((await seqLock(s, h, seq)).header.status, 0, 'the same sequence again: a replay, answered without locking');
      assert.equal((await seqLock(s, h, (1 << 4) | 4)).header.status, STATUS.LOCK_NOT_GRANTED, 'another number at that index: a new request');
      assert.equal((await seqLock(s, h, seq)).header.status, STATUS.LOCK_NOT_GRANTED, 'the entry was cleared by the failed request');
      // Not resilient (nor durable): no sequences kept.
      const h2 = await openFile(s, `plain-${dialect}.txt`);
      assert.equal((await seqLock(s, h2, seq)).header.status, 0);
      assert.equal((await seqLock(s, h2, seq)).header.status, STATUS.LOCK_NOT_GRANTED);
    }
    const old = await side(files, { dialect: DIALECT.SMB202 });
    const h = await openFile(old, 'old.txt');
    assert.equal((await resiliency(old, h, timeout(1000))).header.status, STATUS.INVALID_DEVICE_REQUEST, '2.0.2 has no resiliency');
  });
});
