/**
 * The file commands over a memory VFS, driven by the test client: CREATE dispositions and
 * options, case-insensitive resolution, '..' containment, access and share modes, READ/WRITE/
 * FLUSH, CLOSE with post-query, delete on close, QUERY_DIRECTORY (classes, wildcards, cursor,
 * flags), QUERY_INFO (file, file system, security; small buffers), SET_INFO (times, end of
 * file, rename, disposition, security), VALIDATE_NEGOTIATE_INFO, related compounds, read-only
 * shares, and fuzzing of the new request decoders through the connection.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { createMemoryVfs, ROOT_CTX, type VfsInstance } from '../../vfs/index.js';
import { STATUS } from './errors.js';
import { shareFileService } from './server.js';
import { connection, message, renameInfo, TestClient } from './testdata/client.js';
import { CAP, DIALECT, SECURITY_MODE } from './wire/negotiate.js';
import { Command, HDR_FLAGS, joinCompound } from './wire/header.js';
import { writeTreeConnectRequest, decodeTreeConnectResponse } from './wire/session-setup.js';
import {
  ALL_ONES_FILE_ID, CLOSE_FLAG_POSTQUERY_ATTRIB, CREATE_ACTION, CREATE_OPTION, decodeCloseResponse, decodeCreateResponse, decodeIoctlResponse,
  decodeOutputBufferResponse, decodeReadResponse, decodeWriteResponse, DISPOSITION, encodeValidateNegotiateInfo, FSCTL, QUERY_DIRECTORY_FLAG,
  writeCloseRequest, writeCreateRequest, writeQueryInfoRequest, type FileId,
} from './wire/files.js';
import { decodeDirectory } from './wire/fscc-dir.js';
import { FILE_INFO, FS_INFO, INFO_TYPE } from './wire/fscc.js';
import { decodeSecurityDescriptor, encodeSecurityDescriptor, sidToString, securityDescriptorOf, SECURITY_INFORMATION } from './wire/security.js';
import { wildcardMatch } from './dir.js';
import { decodeErrorResponse } from './wire/error.js';
import type { Writer } from './wire/reader.js';

const RW = 0x0012019f; // FILE_GENERIC_READ | FILE_GENERIC_WRITE
const READ = 0x00120089;
const DELETE = 0x00010000;

async function setup(dialect: number = DIALECT.SMB311, maxIo?: number): Promise<{ c: TestClient; tid: number; ro: number; v: VfsInstance; logs: string[] }> {
  const logs: string[] = [];
  const v = await createMemoryVfs({ recordSize: 4096 });
  const home = await v.paths.mkdir(ROOT_CTX, '/home', 0o755);
  await v.vfs.setattr(ROOT_CTX, home.ino, { uid: 1000, gid: 1000 });
  const conn = connection({
    shares: [{ name: 'Data', path: '/home', readOnly: false, requireEncryption: false }, { name: 'ro', path: '/home', readOnly: true, requireEncryption: false }],
    files: shareFileService(v.paths), ...(maxIo ? { maxIo } : {}),
  }, logs);
  const c = new TestClient(conn);
  await c.negotiate([dialect]);
  assert.equal((await c.login('alice', 's3cret')).header.status, 0);
  const tc = async (path: string) => (await c.send(Command.TREE_CONNECT, (w: Writer) => { writeTreeConnectRequest(w, { flags: 0, path }); })).header.treeId;
  return { c, tid: await tc('\\\\dw\\data'), ro: await tc('\\\\dw\\RO'), v, logs };
}

const status = (r: { header: { status: number } }) => r.header.status;

async function putFile(c: TestClient, tid: number, name: string, data: Buffer): Promise<void> {
  const f = await c.open(tid, { name, desiredAccess: RW, disposition: DISPOSITION.OVERWRITE_IF, options: CREATE_OPTION.NON_DIRECTORY_FILE });
  if (data.length) assert.equal(decodeWriteResponse((await c.writeFile(tid, f.fileId, 0, data)).message), data.length);
  assert.equal(status(await c.closeFile(tid, f.fileId)), 0);
}

async function list(c: TestClient, tid: number, dir: string, pattern = '*'): Promise<string[]> {
  const d = await c.open(tid, { name: dir, desiredAccess: READ, options: CREATE_OPTION.DIRECTORY_FILE });
  const names: string[] = [];
  for (;;) {
    const r = await c.queryDirectory(tid, d.fileId, { pattern, outputBufferLength: 1024 });
    if (status(r) !== 0) {
      assert.ok(status(r) === STATUS.NO_MORE_FILES || status(r) === STATUS.NO_SUCH_FILE, status(r).toString(16));
      break;
    }
    names.push(...decodeDirectory(37, decodeOutputBufferResponse(r.message)).map((e) => e.name));
  }
  await c.closeFile(tid, d.fileId);
  return names;
}

describe('SMB2 file commands', () => {
  test('CREATE dispositions, CreateAction, options and names', async () => {
    const { c, tid } = await setup();
    const mk = (name: string, disposition: number, options = 0) => c.createFile(tid, { name, desiredAccess: RW, disposition, options });
    assert.equal(status(await mk('a.txt', DISPOSITION.OPEN)), STATUS.OBJECT_NAME_NOT_FOUND);
    assert.equal(status(await mk('nodir\\a.txt', DISPOSITION.OPEN_IF)), STATUS.OBJECT_PATH_NOT_FOUND);
    assert.equal(status(await mk('a.txt', DISPOSITION.OVERWRITE)), STATUS.OBJECT_NAME_NOT_FOUND);
    const expectAction = async (name: string, disp: number, action: number, options = 0) => {
      const r = await mk(name, disp, options);
      assert.equal(status(r), 0, `${name} ${disp}`);
      const cr = decodeCreateResponse(r.message);
      assert.equal(cr.createAction, action, `${name} disposition ${disp}`);
      await c.closeFile(tid, cr.fileId);
      return cr;
    };
    await expectAction('A.txt', DISPOSITION.CREATE, CREATE_ACTION.CREATED);
    assert.equal(status(await mk('a.TXT', DISPOSITION.CREATE)), STATUS.OBJECT_NAME_COLLISION, 'case-insensitive collision');
    await expectAction('a.txt', DISPOSITION.OPEN, CREATE_ACTION.OPENED);
    await expectAction('a.txt', DISPOSITION.OPEN_IF, CREATE_ACTION.OPENED);
    await expectAction('b.txt', DISPOSITION.OPEN_IF, CREATE_ACTION.CREATED);
    await putFile(c, tid, 'a.txt', Buffer.from('hello'));
    const ow = await expectAction('a.txt', DISPOSITION.OVERWRITE, CREATE_ACTION.OVERWRITTEN);
    assert.equal(ow.endOfFile, 0n, 'overwrite truncates');
    await expectAction('a.txt', DISPOSITION.OVERWRITE_IF, CREATE_ACTION.OVERWRITTEN);
    await expectAction('c.txt', DISPOSITION.OVERWRITE_IF, CREATE_ACTION.CREATED);
    await expectAction('a.txt', DISPOSITION.SUPERSEDE, CREATE_ACTION.SUPERSEDED);
    await expectAction('Sub', DISPOSITION.CREATE, CREATE_ACTION.CREATED, CREATE_OPTION.DIRECTORY_FILE);
    assert.equal(status(await mk('sub', DISPOSITION.OPEN, CREATE_OPTION.NON_DIRECTORY_FILE)), STATUS.FILE_IS_A_DIRECTORY);
    assert.equal(status(await mk('A.TXT', DISPOSITION.OPEN, CREATE_OPTION.DIRECTORY_FILE)), STATUS.NOT_A_DIRECTORY);
    assert.equal(status(await mk('sub', DISPOSITION.OVERWRITE_IF, CREATE_OPTION.DIRECTORY_FILE)), STATUS.INVALID_PARAMETER);
    assert.equal(status(await mk('x', DISPOSITION.OPEN, CREATE_OPTION.DIRECTORY_FILE | CREATE_OPTION.NON_DIRECTORY_FILE)), STATUS.INVALID_PARAMETER);
    assert.equal(status(await mk('\\a.txt', DISPOSITION.OPEN)), STATUS.INVALID_PARAMETER, 'leading backslash');
    assert.equal(status(await mk('..\\etc', DISPOSITION.OPEN)), STATUS.OBJECT_PATH_SYNTAX_BAD, 'nothing leaves the share');
    assert.equal(status(await mk('sub\\..\\..\\x', DISPOSITION.OPEN)), STATUS.OBJECT_PATH_SYNTAX_BAD);
    await expectAction('SUB\\.\\..\\a.txt', DISPOSITION.OPEN, CREATE_ACTION.OPENED);
    assert.equal(status(await mk('a*b', DISPOSITION.CREATE)), STATUS.OBJECT_NAME_INVALID);
    assert.equal(status(await mk('a.txt\\x', DISPOSITION.OPEN_IF)), STATUS.OBJECT_PATH_NOT_FOUND, 'a file on the way');
    await expectAction('sub\\deep.txt', DISPOSITION.CREATE, CREATE_ACTION.CREATED);
    await expectAction('SUB\\DEEP.TXT', DISPOSITION.OPEN, CREATE_ACTION.OPENED);
    // The share root: '' opens it.
    await expectAction('', DISPOSITION.OPEN, CREATE_ACTION.OPENED, CREATE_OPTION.DIRECTORY_FILE);
    assert.deepEqual((await list(c, tid, '')).sort(), ['.', '..', 'A.txt', 'Sub', 'b.txt', 'c.txt'].sort(), 'case preserved');
  });

  test('READ, WRITE, FLUSH, CLOSE post-query, END_OF_FILE, large I/O', async () => {
    const { c, tid, v } = await setup();
    const f = await c.open(tid, { name: 'data.bin', desiredAccess: RW, disposition: DISPOSITION.CREATE });
    const big = Buffer.alloc(3 * 65536 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 9)) & 0xff;
    assert.equal(decodeWriteResponse((await c.writeFile(tid, f.fileId, 0, big)).message), big.length);
    assert.equal(status(await c.writeFile(tid, f.fileId, 0, Buffer.alloc(1))), 0);
    big[0] = 0;
    assert.equal(status(await c.flushFile(tid, f.fileId)), 0);
    assert.deepEqual(decodeReadResponse((await c.readFile(tid, f.fileId, 0, big.length)).message), big);
    assert.deepEqual(decodeReadResponse((await c.readFile(tid, f.fileId, big.length - 5, 100)).message), big.subarray(big.length - 5), 'short read at the end');
    assert.equal(status(await c.readFile(tid, f.fileId, big.length, 10)), STATUS.END_OF_FILE);
    assert.equal(status(await c.readFile(tid, f.fileId, big.length - 5, 100, 50)), STATUS.END_OF_FILE, 'fewer than MinimumCount');
    // Reads of 64 KiB or more go straight into the response's buffer (io.ts readIntoReply).
    assert.deepEqual(decodeReadResponse((await c.readFile(tid, f.fileId, 70000, 200000)).message), big.subarray(70000), 'a large short read');
    assert.equal(status(await c.readFile(tid, f.fileId, big.length, 100000)), STATUS.END_OF_FILE, 'a large read at the end');
    assert.equal(status(await c.readFile(tid, f.fileId, 70000, 200000, 150000)), STATUS.END_OF_FILE, 'a large read short of MinimumCount');
    const cl = await c.closeFile(tid, f.fileId, CLOSE_FLAG_POSTQUERY_ATTRIB);
    const ca = decodeCloseResponse(cl.message);
    assert.equal(ca.flags, CLOSE_FLAG_POSTQUERY_ATTRIB);
    assert.equal(ca.endOfFile, BigInt(big.length));
    assert.equal(status(await c.readFile(tid, f.fileId, 0, 1)), STATUS.FILE_CLOSED);
    assert.equal(status(await c.closeFile(tid, f.fileId)), STATUS.FILE_CLOSED);
    // The one namespace: the same bytes through the VFS path layer.
    const r = await v.paths.open(ROOT_CTX, '/home/data.bin', { read: true });
    assert.deepEqual(await v.vfs.read(ROOT_CTX, r.fh, 0, big.length + 10), big);
    await v.vfs.release(ROOT_CTX, r.fh);
    // Read-only open refuses WRITE; a directory refuses READ.
    const ro = await c.open(tid, { name: 'DATA.BIN', desiredAccess: READ });
    assert.equal(status(await c.writeFile(tid, ro.fileId, 0, Buffer.from('x'))), STATUS.ACCESS_DENIED);
    const d = await c.open(tid, { name: '', desiredAccess: READ, options: CREATE_OPTION.DIRECTORY_FILE });
    assert.equal(status(await c.readFile(tid, d.fileId, 0, 1)), STATUS.INVALID_DEVICE_REQUEST);
    // Zero-byte file.
    await putFile(c, tid, 'empty', Buffer.alloc(0));
    const e = await c.open(tid, { name: 'EMPTY', desiredAccess: READ });
    assert.equal(e.endOfFile, 0n);
    assert.equal(status(await c.readFile(tid, e.fileId, 0, 10)), STATUS.END_OF_FILE);
  });

  test('MaxReadSize / MaxWriteSize', async () => {
    const { c, tid } = await setup(DIALECT.SMB311, 65536);
    const f = await c.open(tid, { name: 'm', desiredAccess: RW, disposition: DISPOSITION.CREATE });
    assert.equal(status(await c.writeFile(tid, f.fileId, 0, Buffer.alloc(65536, 1))), 0);
    assert.equal(status(await c.readFile(tid, f.fileId, 0, 65537)), STATUS.INVALID_PARAMETER, 'above MaxReadSize');
    assert.equal(status(await c.writeFile(tid, f.fileId, 0, Buffer.alloc(65537))), STATUS.INVALID_PARAMETER, 'above MaxWriteSize');
  });

  test('share modes, access checks, read-only share, delete on close', async () => {
    const { c, tid, ro, v } = await setup();
    await putFile(c, tid, 'f', Buffer.from('abc'));
    const a = await c.open(tid, { name: 'f', desiredAccess: READ, shareAccess: 1 });
    assert.equal(status(await c.createFile(tid, { name: 'F', desiredAccess: RW, shareAccess: 7 })), STATUS.SHARING_VIOLATION, 'the first open shares read only');
    const b = await c.open(tid, { name: 'f', desiredAccess: READ, shareAccess: 1 });
    assert.equal(status(await c.createFile(tid, { name: 'f', desiredAccess: DELETE, shareAccess: 7 })), STATUS.SHARING_VIOLATION, 'delete not shared');
    const a2 = await c.open(tid, { name: 'f', desiredAccess: 0x80, shareAccess: 0 }); // attribute-only opens never conflict
    for (const x of [a, b, a2]) await c.closeFile(tid, x.fileId);
    // Permissions: a root-owned 0644 file is read-only to alice.
    const rootFile = await v.paths.open(ROOT_CTX, '/home/rootfile', { create: true, write: true }, 0o644);
    await v.vfs.release(ROOT_CTX, rootFile.fh);
    assert.equal(status(await c.createFile(tid, { name: 'rootfile', desiredAccess: RW })), STATUS.ACCESS_DENIED);
    const mx = await c.open(tid, { name: 'rootfile', desiredAccess: 0x02000000, contexts: [{ name: 'MxAc', data: Buffer.alloc(0) }, { name: 'QFid', data: Buffer.alloc(0) }, { name: 'ZZZZ', data: Buffer.alloc(3) }] });
    const mxac = mx.contexts.find((x) => x.name === 'MxAc')!;
    const max = mxac.data.readUInt32LE(4);
    assert.equal(mxac.data.readUInt32LE(0), 0);
    assert.ok(max & 1 && !(max & 2), `read, no write: ${max.toString(16)}`);
    assert.equal(mx.contexts.find((x) => x.name === 'QFid')!.data.readBigUInt64LE(0), BigInt(rootFile.attr.ino));
    // Read-only share.
    assert.equal(status(await c.createFile(ro, { name: 'new', desiredAccess: RW, disposition: DISPOSITION.CREATE })), STATUS.ACCESS_DENIED);
    assert.equal(status(await c.createFile(ro, { name: 'f', desiredAccess: RW })), STATUS.ACCESS_DENIED);
    const rf = await c.open(ro, { name: 'F', desiredAccess: READ });
    assert.equal(decodeReadResponse((await c.readFile(ro, rf.fileId, 0, 10)).message).toString(), 'abc');
    assert.equal(status(await c.createFile(ro, { name: 'f', desiredAccess: DELETE, options: CREATE_OPTION.DELETE_ON_CLOSE })), STATUS.ACCESS_DENIED);
    // Delete on close: needs DELETE; the name goes at the last close; a pending delete refuses new opens.
    assert.equal(status(await c.createFile(tid, { name: 'f', desiredAccess: READ, options: CREATE_OPTION.DELETE_ON_CLOSE })), STATUS.ACCESS_DENIED);
    const d1 = await c.open(tid, { name: 'F', desiredAccess: DELETE | READ, shareAccess: 7, options: CREATE_OPTION.DELETE_ON_CLOSE });
    const d2 = await c.open(tid, { name: 'f', desiredAccess: READ, shareAccess: 7 });
    await c.closeFile(tid, d1.fileId);
    assert.equal(status(await c.createFile(tid, { name: 'f', desiredAccess: READ, shareAccess: 7 })), STATUS.DELETE_PENDING);
    await c.closeFile(tid, d2.fileId);
    await c.closeFile(ro, rf.fileId);
    assert.equal(status(await c.createFile(tid, { name: 'f', desiredAccess: READ })), STATUS.OBJECT_NAME_NOT_FOUND);
    // Folders: delete-on-close of a non-empty folder is refused at CREATE.
    await c.open(tid, { name: 'dir', desiredAccess: RW, disposition: DISPOSITION.CREATE, options: CREATE_OPTION.DIRECTORY_FILE });
    await putFile(c, tid, 'dir\\x', Buffer.from('1'));
    assert.equal(status(await c.createFile(tid, { name: 'dir', desiredAccess: DELETE, options: CREATE_OPTION.DIRECTORY_FILE | CREATE_OPTION.DELETE_ON_CLOSE })), STATUS.DIRECTORY_NOT_EMPTY);
  });

  test('QUERY_DIRECTORY: classes, wildcards, cursor, single entry, restart, reopen, errors', async () => {
    const { c, tid } = await setup();
    await c.open(tid, { name: 'd', desiredAccess: RW, disposition: DISPOSITION.CREATE, options: CREATE_OPTION.DIRECTORY_FILE });
    const names = Array.from({ length: 300 }, (_, i) => `File${String(i).padStart(3, '0')}.txt`);
    for (const n of names) await putFile(c, tid, `d\\${n}`, Buffer.from(n));
    await putFile(c, tid, 'd\\readme', Buffer.alloc(0));
    const all = await list(c, tid, 'd');
    assert.deepEqual(all.slice(0, 2), ['.', '..'], 'dots first');
    assert.deepEqual(all.slice(2).sort(), [...names, 'readme'].sort());
    assert.deepEqual((await list(c, tid, 'd', 'file01?.TXT')).sort(), names.slice(10, 20));
    assert.deepEqual(await list(c, tid, 'd', 'README'), ['readme'], 'exact name through the caseless index');
    assert.deepEqual(await list(c, tid, 'd', 'nothing*'), []);
    const dir = await c.open(tid, { name: 'D', desiredAccess: READ, options: CREATE_OPTION.DIRECTORY_FILE });
    assert.equal(status(await c.queryDirectory(tid, dir.fileId, { pattern: 'zzz*' })), STATUS.NO_SUCH_FILE);
    const one = await c.queryDirectory(tid, dir.fileId, { pattern: '*', flags: QUERY_DIRECTORY_FLAG.REOPEN | QUERY_DIRECTORY_FLAG.RETURN_SINGLE_ENTRY });
    assert.deepEqual(decodeDirectory(37, decodeOutputBufferResponse(one.message)).map((e) => e.name), ['.']);
    const two = await c.queryDirectory(tid, dir.fileId, { flags: QUERY_DIRECTORY_FLAG.RETURN_SINGLE_ENTRY });
    assert.deepEqual(decodeDirectory(37, decodeOutputBufferResponse(two.message)).map((e) => e.name), ['..']);
    const again = await c.queryDirectory(tid, dir.fileId, { flags: QUERY_DIRECTORY_FLAG.RESTART_SCANS | QUERY_DIRECTORY_FLAG.RETURN_SINGLE_ENTRY });
    assert.deepEqual(decodeDirectory(37, decodeOutputBufferResponse(again.message)).map((e) => e.name), ['.']);
    for (const cls of [1, 2, 3, 12, 37, 38, 60]) {
      const r = await c.queryDirectory(tid, dir.fileId, { pattern: 'file000.txt', infoClass: cls, flags: QUERY_DIRECTORY_FLAG.REOPEN });
      assert.equal(status(r), 0, `class ${cls}`);
      const e = decodeDirectory(cls, decodeOutputBufferResponse(r.message));
      assert.deepEqual(e.map((x) => x.name), ['File000.txt']);
    }
    assert.equal(status(await c.queryDirectory(tid, dir.fileId, { infoClass: 4, flags: QUERY_DIRECTORY_FLAG.REOPEN })), STATUS.INVALID_INFO_CLASS);
    assert.equal(status(await c.queryDirectory(tid, dir.fileId, { flags: QUERY_DIRECTORY_FLAG.REOPEN, outputBufferLength: 20 })), STATUS.INFO_LENGTH_MISMATCH);
    const f = await c.open(tid, { name: 'd\\readme', desiredAccess: READ });
    assert.equal(status(await c.queryDirectory(tid, f.fileId)), STATUS.INVALID_PARAMETER);
    // Sizes in the listing.
    const r = await c.queryDirectory(tid, dir.fileId, { pattern: 'File299.txt', flags: QUERY_DIRECTORY_FLAG.REOPEN });
    assert.equal(decodeDirectory(37, decodeOutputBufferResponse(r.message))[0]!.endOfFile, 11n);
  });

  test('wildcards: *, ?, DOS_STAR, DOS_QM, DOS_DOT, case', () => {
    const t = (p: string, n: string) => wildcardMatch(p, n);
    assert.ok(t('*', 'anything') && t('*.*', 'noext') && t('*.TXT', 'a.txt') && t('a?c', 'ABC'));
    assert.ok(!t('a?c', 'ac') && !t('*.txt', 'a.txt.bak'));
    assert.ok(t('<.txt', 'a.b.txt') && !t('<.txt', 'a.txt.b'));
    assert.ok(t('<', 'abc') && t('a>', 'a') && t('a>', 'ab') && !t('a>', 'abc'));
    assert.ok(t('abc"', 'abc') && t('abc"', 'abc.') && !t('abc"', 'abcd'));
    assert.ok(t('>>>>>>>>.>>>', 'readme.txt') && t('file<.txt', 'file1.txt'));
    fc.assert(fc.property(fc.string({ maxLength: 20 }), fc.string({ maxLength: 12 }), (n, p) => {
      t(p, n); // never throws
      const lit = n.replace(/[*?<>"]/g, '');
      return t('*', n) && t(lit, lit.toUpperCase()) && t(lit.toLowerCase(), lit);
    }));
  });

  test('QUERY_INFO: file classes, file system classes, security, small buffers', async () => {
    const { c, tid } = await setup();
    await putFile(c, tid, 'q.txt', Buffer.from('0123456789'));
    const f = await c.open(tid, { name: 'Q.TXT', desiredAccess: RW });
    const q = async (type: number, cls: number, len = 4096, add = 0) => c.queryFileInfo(tid, f.fileId, type, cls, len, add);
    const std = decodeOutputBufferResponse((await q(INFO_TYPE.FILE, FILE_INFO.Standard)).message);
    assert.equal(std.length, 24);
    assert.equal(std.readBigUInt64LE(8), 10n, 'EndOfFile');
    const all = decodeOutputBufferResponse((await q(INFO_TYPE.FILE, FILE_INFO.All)).message);
    assert.equal(all.subarray(100).toString('utf16le'), '\\q.txt');
    assert.equal(status(await q(INFO_TYPE.FILE, FILE_INFO.Basic, 39)), STATUS.INFO_LENGTH_MISMATCH);
    const cut = await q(INFO_TYPE.FILE, FILE_INFO.All, 104);
    assert.equal(status(cut), STATUS.BUFFER_OVERFLOW);
    assert.equal(decodeOutputBufferResponse(cut.message).length, 104);
    assert.equal(status(await q(INFO_TYPE.FILE, 99)), STATUS.INVALID_INFO_CLASS);
    for (const cls of [4, 5, 6, 7, 8, 9, 14, 16, 17, 22, 34, 35, 59]) assert.equal(status(await q(INFO_TYPE.FILE, cls)), 0, `class ${cls}`);
    for (const cls of [FS_INFO.Volume, FS_INFO.Size, FS_INFO.Device, FS_INFO.Attribute, FS_INFO.FullSize, FS_INFO.ObjectId, FS_INFO.SectorSize]) {
      assert.equal(status(await q(INFO_TYPE.FILESYSTEM, cls)), 0, `fs class ${cls}`);
    }
    const attr = decodeOutputBufferResponse((await q(INFO_TYPE.FILESYSTEM, FS_INFO.Attribute)).message);
    assert.equal(attr.subarray(12).toString('utf16le'), 'NTFS');
    const sdr = await q(INFO_TYPE.SECURITY, 0, 4096, SECURITY_INFORMATION.OWNER | SECURITY_INFORMATION.GROUP | SECURITY_INFORMATION.DACL);
    const sd = decodeSecurityDescriptor(decodeOutputBufferResponse(sdr.message));
    assert.equal(sidToString(sd.owner!), 'S-1-22-1-1000');
    assert.equal(sidToString(sd.group!), 'S-1-22-2-1000');
    const only = decodeSecurityDescriptor(decodeOutputBufferResponse((await q(INFO_TYPE.SECURITY, 0, 4096, SECURITY_INFORMATION.OWNER)).message));
    assert.ok(only.owner && !only.group && only.dacl === undefined);
    const small = await q(INFO_TYPE.SECURITY, 0, 8, SECURITY_INFORMATION.DACL);
    assert.equal(status(small), STATUS.BUFFER_TOO_SMALL);
    assert.ok(decodeErrorResponse(small.message).errorData.readUInt32LE(0) > 8);
  });

  test('SET_INFO: times, end of file, rename (case-only, replace, collision), disposition, security', async () => {
    const { c, tid, v } = await setup();
    await putFile(c, tid, 'a', Buffer.from('0123456789'));
    await putFile(c, tid, 'b', Buffer.from('b'));
    const f = await c.open(tid, { name: 'a', desiredAccess: RW | DELETE | 0xc0000 }); // + WRITE_DAC | WRITE_OWNER
    const basic = Buffer.alloc(40);
    basic.writeBigUInt64LE(132000000000000000n, 16); // LastWriteTime 2019-04-12
    assert.equal(status(await c.setInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.Basic, basic)), 0);
    assert.equal((await v.paths.stat(ROOT_CTX, '/home/a')).mtimeNs, (132000000000000000n - 116444736000000000n) * 100n);
    const eof = Buffer.alloc(8);
    eof.writeBigUInt64LE(4n);
    assert.equal(status(await c.setInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.EndOfFile, eof)), 0);
    assert.equal((await v.paths.stat(ROOT_CTX, '/home/a')).size, 4);
    eof.writeBigUInt64LE(100n);
    assert.equal(status(await c.setInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.EndOfFile, eof)), 0);
    assert.equal((await v.paths.stat(ROOT_CTX, '/home/a')).size, 100);
    assert.equal(status(await c.setInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.EndOfFile, Buffer.alloc(4))), STATUS.INFO_LENGTH_MISMATCH);
    const ren = renameInfo;
    assert.equal(status(await c.setInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.Rename, ren('B'))), STATUS.OBJECT_NAME_COLLISION);
    assert.equal(status(await c.setInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.Rename, ren('A'))), 0, 'case-only rename');
    assert.deepEqual((await list(c, tid, '')).filter((n) => n !== '.' && n !== '..').sort(), ['A', 'b']);
    await c.open(tid, { name: 'sub', desiredAccess: RW, disposition: DISPOSITION.CREATE, options: CREATE_OPTION.DIRECTORY_FILE });
    assert.equal(status(await c.setInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.Rename, ren('\\sub\\moved'))), 0);
    assert.equal((await v.paths.stat(ROOT_CTX, '/home/sub/moved')).size, 100);
    assert.equal(decodeOutputBufferResponse((await c.queryFileInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.Name)).message).subarray(4).toString('utf16le'), '\\sub\\moved');
    assert.equal(status(await c.setInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.Rename, ren('..\\..\\out'))), STATUS.OBJECT_PATH_SYNTAX_BAD);
    // The target folder held open with DELETE access: SHARING_VIOLATION (smb2.oplock.exclusive6, batch19).
    const held = await c.open(tid, { name: 'sub', desiredAccess: DELETE | READ, options: CREATE_OPTION.DIRECTORY_FILE });
    assert.equal(status(await c.setInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.Rename, ren('\\sub\\moved2'))), STATUS.SHARING_VIOLATION);
    await c.closeFile(tid, held.fileId);
    assert.equal(status(await c.setInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.Rename, ren('b', true))), 0, 'replace');
    assert.equal((await v.paths.stat(ROOT_CTX, '/home/b')).size, 100);
    // Security: chmod through a DACL.
    const sd = securityDescriptorOf({ uid: 1000, gid: 1000, mode: 0o600, type: 'file' });
    assert.equal(status(await c.setInfo(tid, f.fileId, INFO_TYPE.SECURITY, 0, encodeSecurityDescriptor({ control: sd.control, dacl: sd.dacl! }), SECURITY_INFORMATION.DACL)), 0);
    assert.equal((await v.paths.stat(ROOT_CTX, '/home/b')).mode & 0o777, 0o600);
    const bad = { control: sd.control, owner: { authority: 5, subAuthorities: [32, 544] } };
    assert.equal(status(await c.setInfo(tid, f.fileId, INFO_TYPE.SECURITY, 0, encodeSecurityDescriptor(bad), SECURITY_INFORMATION.OWNER)), STATUS.ACCESS_DENIED);
    // Disposition: delete pending, gone at close; a non-empty folder refuses at set time.
    const del = Buffer.from([1]);
    assert.equal(status(await c.setInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.Disposition, del)), 0);
    const std = decodeOutputBufferResponse((await c.queryFileInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.Standard)).message);
    assert.equal(std[20], 1, 'DeletePending');
    await c.closeFile(tid, f.fileId);
    await assert.rejects(v.paths.stat(ROOT_CTX, '/home/b'));
    await putFile(c, tid, 'sub\\x', Buffer.from('x'));
    const d = await c.open(tid, { name: 'sub', desiredAccess: DELETE | READ, options: CREATE_OPTION.DIRECTORY_FILE });
    assert.equal(status(await c.setInfo(tid, d.fileId, INFO_TYPE.FILE, FILE_INFO.Disposition, del)), STATUS.DIRECTORY_NOT_EMPTY);
  });

  test('VALIDATE_NEGOTIATE_INFO (3.0), other IOCTLs, related compound CREATE+QUERY_INFO+CLOSE', async () => {
    const { c, tid } = await setup(DIALECT.SMB300);
    const input = encodeValidateNegotiateInfo({ capabilities: CAP.ENCRYPTION | CAP.LARGE_MTU, guid: c.clientGuid, securityMode: SECURITY_MODE.SIGNING_ENABLED, dialects: [DIALECT.SMB300] });
    const r = await c.ioctlFile(tid, FSCTL.VALIDATE_NEGOTIATE_INFO, input);
    assert.equal(status(r), 0);
    const out = decodeIoctlResponse(r.message).output;
    assert.equal(out.readUInt16LE(22), DIALECT.SMB300);
    assert.equal(status(await c.ioctlFile(tid, 0x00090000, Buffer.alloc(0))), STATUS.INVALID_DEVICE_REQUEST);
    await putFile(c, tid, 'cmp', Buffer.from('12345'));
    // Related compound: CREATE, QUERY_INFO and CLOSE on the all-ones FileId.
    const m1 = message({ command: Command.CREATE, messageId: c.nextId, sessionId: c.sessionId, treeId: tid, credits: 8 }, (w) => { writeCreateRequest(w, { name: 'CMP', desiredAccess: READ, disposition: DISPOSITION.OPEN }); });
    const m2 = message({ command: Command.QUERY_INFO, messageId: c.nextId + 1n, flags: HDR_FLAGS.RELATED_OPERATIONS, sessionId: 0xffffffffffffffffn, treeId: 0xffffffff, credits: 8 }, (w) => { writeQueryInfoRequest(w, { fileId: ALL_ONES_FILE_ID, infoType: 1, infoClass: FILE_INFO.Standard, outputBufferLength: 100 }); });
    const m3 = message({ command: Command.CLOSE, messageId: c.nextId + 2n, flags: HDR_FLAGS.RELATED_OPERATIONS, sessionId: 0xffffffffffffffffn, treeId: 0xffffffff, credits: 8 }, (w) => { writeCloseRequest(w, 0, ALL_ONES_FILE_ID); });
    c.nextId += 3n;
    const out3 = await c.raw(joinCompound([m1, m2, m3]));
    const parts = c.parse(out3.replies[0]!);
    assert.deepEqual(parts.map((p) => p.header.status), [0, 0, 0]);
    assert.equal(decodeOutputBufferResponse(parts[1]!.message).readBigUInt64LE(8), 5n);
    // A VALIDATE_NEGOTIATE_INFO that disagrees drops the connection.
    const bad = encodeValidateNegotiateInfo({ capabilities: 0, guid: c.clientGuid, securityMode: SECURITY_MODE.SIGNING_ENABLED, dialects: [DIALECT.SMB300] });
    const m = message({ command: Command.IOCTL, messageId: c.nextId++, sessionId: c.sessionId, treeId: tid, credits: 1 }, (w) => {
      w.u16(57).u16(0).u32(FSCTL.VALIDATE_NEGOTIATE_INFO).u64(ALL_ONES_FILE_ID.persistent).u64(ALL_ONES_FILE_ID.volatile).u32(120).u32(bad.length).u32(0).u32(0).u32(0).u32(24).u32(1).u32(0).bytes(bad);
    });
    assert.equal((await c.raw(m)).close, true);
  });

  test('TREE_DISCONNECT and LOGOFF close the opens', async () => {
    const { c, tid, v } = await setup();
    const f = await c.open(tid, { name: 'x', desiredAccess: RW | DELETE, disposition: DISPOSITION.CREATE, options: CREATE_OPTION.DELETE_ON_CLOSE });
    void f;
    assert.equal(status(await c.send(Command.TREE_DISCONNECT, (w) => { w.u16(4).u16(0); }, { treeId: tid })), 0);
    await assert.rejects(v.paths.stat(ROOT_CTX, '/home/x'), 'deleted at the close the disconnect made');
  });

  test('fuzz: random and mutated file-command requests give a status or a dropped connection, never a throw', async () => {
    const { c, tid, logs } = await setup();
    await putFile(c, tid, 'z', Buffer.from('zz'));
    const f = await c.open(tid, { name: 'z', desiredAccess: RW });
    const fidBytes = Buffer.alloc(16);
    fidBytes.writeBigUInt64LE(f.fileId.persistent, 0);
    fidBytes.writeBigUInt64LE(f.fileId.volatile, 8);
    const cmds = [Command.CREATE, Command.CLOSE, Command.FLUSH, Command.READ, Command.WRITE, Command.QUERY_DIRECTORY, Command.QUERY_INFO, Command.SET_INFO, Command.IOCTL];
    const sizes: Record<number, number> = { 5: 57, 6: 24, 7: 24, 8: 49, 9: 49, 14: 33, 16: 41, 17: 33, 11: 57 };
    await fc.assert(fc.asyncProperty(fc.constantFrom(...cmds), fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.boolean(), async (cmd, bytes, withId) => {
      const m = message({ command: cmd, messageId: c.nextId++, sessionId: c.sessionId, treeId: tid, credits: 1 }, (w) => {
        const b = Buffer.from(bytes);
        if (b.length >= 2) b.writeUInt16LE(sizes[cmd]!, 0);
        if (withId && b.length >= 40) fidBytes.copy(b, cmd === Command.CLOSE || cmd === Command.FLUSH ? 8 : 16);
        w.bytes(b.length ? b : Buffer.alloc(1));
      });
      const out = await c.raw(m);
      if (!out.close) assert.equal(out.replies.length, 1);
      return true;
    }), { numRuns: 400 });
    assert.ok(!logs.some((l) => l.includes('internal error')), 'no handler threw anything but a status');
  });
});
