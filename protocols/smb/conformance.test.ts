/**
 * Behaviours found with smbtorture's basic set (issue 7), each driven through the connection
 * with the test client: credits up to 8192 and a skipped MessageId (smb2.credits), FILE_EXECUTE
 * on files granted by read permission (smb2.connect, smb2.read), and the others named in each
 * test.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMemoryVfs, ROOT_CTX, type VfsInstance } from '../../vfs/index.js';
import { STATUS } from './errors.js';
import { shareFileService } from './server.js';
import { DEFAULT_MAX_CREDITS } from './session.js';
import { SequenceWindow } from './state.js';
import { connection, message, TestClient } from './testdata/client.js';
import { DIALECT } from './wire/negotiate.js';
import { Command, HDR_FLAGS, joinCompound } from './wire/header.js';
import { writeEmptyBody, writeTreeConnectRequest } from './wire/session-setup.js';
import { ALL_ONES_FILE_ID, CREATE_OPTION, decodeReadResponse, decodeWriteResponse, QUERY_DIRECTORY_FLAG, decodeCreateResponse, DISPOSITION, writeCloseRequest, writeCreateRequest } from './wire/files.js';
import type { Writer } from './wire/reader.js';
import { decodeFileFullEaInformation, encodeFileFullEaInformation, FILE_INFO, INFO_TYPE } from './wire/fscc.js';
import { decodeOutputBufferResponse } from './wire/files.js';
import { isShortName, shortNameOf } from './wire/short-name.js';
import { decodeDirectory } from './wire/fscc-dir.js';

const SEC_RIGHTS_FILE_ALL = 0x001f01ff;
const FILE_EXECUTE = 0x20;
const READ = 0x00120089;
const empty = (w: Writer) => { writeEmptyBody(w); };
const status = (r: { header: { status: number } }) => r.header.status;

async function setup(): Promise<{ c: TestClient; tid: number; v: VfsInstance }> {
  const v = await createMemoryVfs({ recordSize: 4096 });
  const home = await v.paths.mkdir(ROOT_CTX, '/home', 0o755);
  await v.vfs.setattr(ROOT_CTX, home.ino, { uid: 1000, gid: 1000 });
  const conn = connection({ shares: [{ name: 'Data', path: '/home', readOnly: false, requireEncryption: false }], files: shareFileService(v.paths) });
  const c = new TestClient(conn);
  await c.negotiate([DIALECT.SMB311]);
  assert.equal((await c.login('alice', 's3cret')).header.status, 0);
  const tid = (await c.send(Command.TREE_CONNECT, (w: Writer) => { writeTreeConnectRequest(w, { flags: 0, path: '\\\\dw\\data' }); })).header.treeId;
  return { c, tid, v };
}

describe('smbtorture basic set: credits (3.3.1.1, 3.3.1.2)', () => {
  test('a client asking 65535 credits holds 8192 by default', async () => {
    assert.equal(DEFAULT_MAX_CREDITS, 8192);
    const c = new TestClient(connection());
    await c.negotiate([DIALECT.SMB311]);
    const e = await c.send(Command.ECHO, empty, { credits: 65535 });
    assert.equal(e.header.credits, 8192);
    assert.equal(c.conn.window.outstanding, 8192);
    const again = await c.send(Command.ECHO, empty, { credits: 65535 });
    assert.equal(again.header.credits, 1, 'the one it used comes back, no more');
  });

  test('a skipped MessageId: later ids still work; the window spans at most maxCredits until the gap is used', () => {
    const w = new SequenceWindow(8);
    w.consume(0n, 1);
    assert.equal(w.grant(100), 8);
    // ids 1..8 granted; the client skips 1 and uses 2..8, asking one credit back each time.
    const grants: number[] = [];
    for (let id = 2n; id <= 8n; id++) {
      assert.ok(w.accepts(id, 1), `id ${id}`);
      w.consume(id, 1);
      grants.push(w.grant(1));
    }
    assert.deepEqual(grants, [0, 0, 0, 0, 0, 0, 0], 'the span [1, 9) is full: nothing new while 1 is unused');
    assert.equal(w.outstanding, 1, 'the skipped id is the credit the client still holds');
    assert.ok(!w.accepts(9n, 1));
    w.consume(1n, 1);
    assert.equal(w.span, 0);
    assert.equal(w.grant(100), 8, 'using the gap reopens the full window');
    assert.ok(w.accepts(9n, 1) && w.accepts(16n, 1) && !w.accepts(17n, 1));
  });

  test('a skipped MessageId over the connection: the requests after it are answered, the gap id still accepted', async () => {
    const c = new TestClient(connection({ maxCredits: 32 }));
    await c.negotiate([DIALECT.SMB311]);
    await c.send(Command.ECHO, empty, { credits: 32 });
    const gap = c.nextId++;
    for (let i = 0; i < 31; i++) assert.equal(status(await c.send(Command.ECHO, empty, { credits: 1 })), 0);
    const r = await c.raw(message({ command: Command.ECHO, messageId: gap, credits: 32 }, empty));
    assert.equal(r.close, false);
    assert.equal(c.parse(r.replies[0]!)[0]!.header.credits, 32, 'the gap used: a full window again');
  });
});

describe('smbtorture basic set: access checks', () => {
  test('FILE_EXECUTE on a file is granted by read permission (SEC_RIGHTS_FILE_ALL on a 0644 file), not without it', async () => {
    const { c, tid, v } = await setup();
    const mk = await c.open(tid, { name: 'test9.dat', desiredAccess: SEC_RIGHTS_FILE_ALL, disposition: DISPOSITION.OPEN_IF });
    assert.equal((await v.paths.stat(ROOT_CTX, '/home/test9.dat')).mode & 0o777, 0o644);
    const again = await c.createFile(tid, { name: 'test9.dat', desiredAccess: SEC_RIGHTS_FILE_ALL, disposition: DISPOSITION.OPEN_IF, shareAccess: 7 });
    assert.equal(status(again), 0, 'the owner reopens with every right');
    await c.closeFile(tid, decodeCreateResponse(again.message).fileId);
    await c.closeFile(tid, mk.fileId);
    // Root-owned files: 0600 gives alice no read, so no execute either; 0644 gives both.
    for (const [mode, want] of [[0o600, STATUS.ACCESS_DENIED], [0o644, 0]] as const) {
      const f = await v.paths.open(ROOT_CTX, `/home/r${mode.toString(8)}`, { create: true, write: true }, mode);
      await v.vfs.release(ROOT_CTX, f.fh);
      assert.equal(status(await c.createFile(tid, { name: `r${mode.toString(8)}`, desiredAccess: FILE_EXECUTE })), want, mode.toString(8));
    }
    // A folder: FILE_EXECUTE is traverse, still x only.
    const d = await v.paths.mkdir(ROOT_CTX, '/home/d644', 0o644);
    void d;
    assert.equal(status(await c.createFile(tid, { name: 'd644', desiredAccess: FILE_EXECUTE | READ, options: CREATE_OPTION.DIRECTORY_FILE })), STATUS.ACCESS_DENIED);
  });
});

describe('smbtorture basic set: compounds (3.3.5.2.7)', () => {
  const ALL_ONES_SESSION = 0xffffffffffffffffn;
  async function compound(c: TestClient, tid: number, name: string, disposition: number, closes: boolean[]): Promise<number[]> {
    const id = c.nextId;
    const parts = [message({ command: Command.CREATE, messageId: id, sessionId: c.sessionId, treeId: tid, credits: 8 }, (w) => {
      writeCreateRequest(w, { name, desiredAccess: SEC_RIGHTS_FILE_ALL, disposition, shareAccess: 7, options: CREATE_OPTION.NON_DIRECTORY_FILE });
    })];
    closes.forEach((related, i) => {
      parts.push(message({
        command: Command.CLOSE, messageId: id + BigInt(i + 1), flags: related ? HDR_FLAGS.RELATED_OPERATIONS : 0,
        sessionId: related ? ALL_ONES_SESSION : c.sessionId, treeId: related ? 0xffffffff : tid, credits: 8,
      }, (w) => { writeCloseRequest(w, 0, ALL_ONES_FILE_ID); }));
    });
    c.nextId += BigInt(parts.length);
    const out = await c.raw(joinCompound(parts));
    return c.parse(out.replies[0]!).map((p) => p.header.status);
  }

  test('the all-ones FileId in an unrelated request names no open: FILE_CLOSED (smb2.compound.unrelated1)', async () => {
    const { c, tid } = await setup();
    assert.deepEqual(await compound(c, tid, 'u1.dat', DISPOSITION.OPEN_IF, [false, false, false, false]),
      [0, STATUS.FILE_CLOSED, STATUS.FILE_CLOSED, STATUS.FILE_CLOSED, STATUS.FILE_CLOSED]);
    assert.deepEqual(await compound(c, tid, 'u2.dat', DISPOSITION.OPEN_IF, [true, true]), [0, 0, STATUS.FILE_CLOSED], 'related: the CREATE\'s open, closed once');
  });

  test('a related request after a failed CREATE fails with its status; an unrelated one does not (smb2.compound.invalid1)', async () => {
    const { c, tid } = await setup();
    assert.deepEqual(await compound(c, tid, 'missing.dat', DISPOSITION.OPEN, [true, true, false]),
      [STATUS.OBJECT_NAME_NOT_FOUND, STATUS.OBJECT_NAME_NOT_FOUND, STATUS.OBJECT_NAME_NOT_FOUND, STATUS.FILE_CLOSED]);
    // A related first request is INVALID_PARAMETER, and so is the related CLOSE after it.
    const id = c.nextId;
    c.nextId += 3n;
    const mk = (command: number, i: bigint, related: boolean, body: (w: Writer) => void) => message({
      command, messageId: id + i, flags: related ? HDR_FLAGS.RELATED_OPERATIONS : 0, sessionId: c.sessionId, treeId: tid, credits: 8,
    }, body);
    const out = await c.raw(joinCompound([
      mk(Command.CREATE, 0n, true, (w) => { writeCreateRequest(w, { name: 'i1.dat', desiredAccess: SEC_RIGHTS_FILE_ALL, disposition: DISPOSITION.OPEN_IF }); }),
      mk(Command.CLOSE, 1n, true, (w) => { writeCloseRequest(w, 0, ALL_ONES_FILE_ID); }),
      mk(Command.CLOSE, 2n, false, (w) => { writeCloseRequest(w, 0, ALL_ONES_FILE_ID); }),
    ]));
    assert.deepEqual(c.parse(out.replies[0]!).map((p) => p.header.status), [STATUS.INVALID_PARAMETER, STATUS.INVALID_PARAMETER, STATUS.FILE_CLOSED]);
  });
});

describe('smbtorture basic set: QUERY_INFO file classes (3.3.5.20.1, MS-FSA 2.1.5.12)', () => {
  test('below the Windows structure size INFO_LENGTH_MISMATCH, then BUFFER_OVERFLOW up to the full answer (qfile_buffercheck)', async () => {
    const { c, tid } = await setup();
    const f = await c.open(tid, { name: 'bufsize.txt', desiredAccess: 0x02000000, disposition: DISPOSITION.OVERWRITE_IF });
    // class → the smallest buffer accepted (smbtorture's table: Windows' sizeof with the padded name array).
    for (const [cls, fixed] of [[FILE_INFO.All, 104], [FILE_INFO.Stream, 32], [FILE_INFO.AlternateName, 8], [FILE_INFO.Name, 8], [FILE_INFO.Basic, 40]] as const) {
      const full = await c.queryFileInfo(tid, f.fileId, INFO_TYPE.FILE, cls, 65535);
      assert.equal(status(full), 0, `class ${cls}`);
      const len = decodeOutputBufferResponse(full.message).length;
      for (let i = 0; i <= len; i++) {
        const want = i < fixed ? STATUS.INFO_LENGTH_MISMATCH : i < len ? STATUS.BUFFER_OVERFLOW : 0;
        assert.equal(status(await c.queryFileInfo(tid, f.fileId, INFO_TYPE.FILE, cls, i)), want, `class ${cls}, buffer ${i} of ${len}`);
      }
    }
  });

  test('FileAlternateNameInformation: the 8.3 name; the share root has none', async () => {
    const { c, tid } = await setup();
    const alt = async (name: string, options = 0) => {
      const f = await c.open(tid, { name, desiredAccess: READ, disposition: DISPOSITION.OPEN_IF, options });
      const r = await c.queryFileInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.AlternateName);
      await c.closeFile(tid, f.fileId);
      if (status(r)) return status(r);
      const b = decodeOutputBufferResponse(r.message);
      return b.subarray(4, 4 + b.readUInt32LE(0)).toString('utf16le');
    };
    assert.equal(await alt('bufsize.txt'), 'BUFSIZE.TXT');
    const long = await alt('A long name.jpeg');
    assert.match(long as string, /^ALONG~[0-9A-Z]{2}\.JPE$/);
    assert.equal(await alt('A long name.jpeg'), long, 'stable');
    assert.equal(await alt('', CREATE_OPTION.DIRECTORY_FILE), STATUS.OBJECT_NAME_NOT_FOUND);
    assert.ok(isShortName('abc.d') && isShortName('12345678.123') && !isShortName('123456789') && !isShortName('a.b.c') && !isShortName('a+b'));
    assert.equal(shortNameOf('.bashrc').endsWith('.BAS'), false, 'a leading dot is no extension');
    assert.match(shortNameOf('+++'), /^_~[0-9A-Z]{2}$/);
  });

  test('Basic, All, NetworkOpen, AttributeTag need FILE_READ_ATTRIBUTES; Standard, Internal, Name do not (getinfo_access)', async () => {
    const { c, tid } = await setup();
    const mk = await c.open(tid, { name: 'acc', desiredAccess: READ, disposition: DISPOSITION.OPEN_IF });
    await c.closeFile(tid, mk.fileId);
    const f = await c.open(tid, { name: 'acc', desiredAccess: 0x00100000 }); // SYNCHRONIZE only
    for (const cls of [FILE_INFO.Basic, FILE_INFO.All, FILE_INFO.NetworkOpen, FILE_INFO.AttributeTag, FILE_INFO.FullEa]) {
      assert.equal(status(await c.queryFileInfo(tid, f.fileId, INFO_TYPE.FILE, cls)), STATUS.ACCESS_DENIED, `class ${cls}`);
    }
    for (const cls of [FILE_INFO.Standard, FILE_INFO.Internal, FILE_INFO.Name, FILE_INFO.AlternateName, FILE_INFO.Access]) {
      assert.equal(status(await c.queryFileInfo(tid, f.fileId, INFO_TYPE.FILE, cls)), 0, `class ${cls}`);
    }
    const g = await c.open(tid, { name: 'acc', desiredAccess: 0x80 }); // FILE_READ_ATTRIBUTES
    assert.equal(status(await c.queryFileInfo(tid, g.fileId, INFO_TYPE.FILE, FILE_INFO.All)), 0);
  });
});

describe('smbtorture basic set: QUERY_DIRECTORY (3.3.5.18)', () => {
  test('INDEX_SPECIFIED continues the scan (FileIndex ignored); RESTART_SCANS starts over (smb2.dir.many)', async () => {
    const { c, tid } = await setup();
    const d = await c.open(tid, { name: 'many', desiredAccess: READ, disposition: DISPOSITION.CREATE, options: CREATE_OPTION.DIRECTORY_FILE });
    const names = Array.from({ length: 60 }, (_, i) => `t${String(i).padStart(3, '0')}-${i}.txt`);
    for (const n of names) await c.closeFile(tid, (await c.open(tid, { name: `many\\${n}`, desiredAccess: SEC_RIGHTS_FILE_ALL, disposition: DISPOSITION.CREATE })).fileId);
    const listing = async (then: number) => {
      const seen: string[] = [];
      let flags: number = QUERY_DIRECTORY_FLAG.RESTART_SCANS;
      for (let calls = 0; calls < 100; calls++) {
        const r = await c.queryDirectory(tid, d.fileId, { pattern: '*', flags, outputBufferLength: 0x400 });
        if (status(r) === STATUS.NO_MORE_FILES) return seen;
        assert.equal(status(r), 0);
        seen.push(...decodeDirectory(37, decodeOutputBufferResponse(r.message)).map((e) => e.name));
        flags = then;
      }
      throw new Error('the listing never ended');
    };
    for (const then of [QUERY_DIRECTORY_FLAG.INDEX_SPECIFIED, 0]) {
      const seen = await listing(then);
      assert.deepEqual(seen.filter((n) => n !== '.' && n !== '..').sort(), names, `continuing with flags ${then}`);
    }
  });
});

describe('smbtorture basic set: EAs (MS-FSCC 2.4.15, the ExtA create context)', () => {
  const eaList = (pairs: [string, string][]) => encodeFileFullEaInformation(pairs.map(([name, v]) => ({ flags: 0, name, value: Buffer.from(v) })));
  const names = (r: { message: Buffer }) => decodeFileFullEaInformation(decodeOutputBufferResponse(r.message)).map((e) => `${e.name}=${e.value.toString()}`);

  test('ExtA on a created file sets the EAs as user.* xattrs; FullEa answers them; SET_INFO adds and removes', async () => {
    const { c, tid, v } = await setup();
    const f = await c.open(tid, {
      name: 'eas.txt', desiredAccess: SEC_RIGHTS_FILE_ALL, disposition: DISPOSITION.OVERWRITE_IF,
      contexts: [{ name: 'ExtA', data: eaList([['EAONE', 'VALUE1'], ['SecondEA', 'ValueTwo']]) }],
    });
    const ino = (await v.paths.stat(ROOT_CTX, '/home/eas.txt')).ino;
    assert.deepEqual((await v.vfs.listxattr(ROOT_CTX, ino)).sort(), ['user.EAONE', 'user.SECONDEA']);
    await v.vfs.setxattr(ROOT_CTX, ino, 'user.dw.dosattrib', Buffer.from('20')); // the gateway's own: not an EA
    const q = await c.queryFileInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.FullEa);
    assert.equal(status(q), 0);
    assert.deepEqual(names(q).sort(), ['EAONE=VALUE1', 'SECONDEA=ValueTwo']);
    assert.equal(status(await c.setInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.FullEa, eaList([['eaone', ''], ['third', '3']]))), 0);
    assert.deepEqual(names(await c.queryFileInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.FullEa)).sort(), ['SECONDEA=ValueTwo', 'THIRD=3'], 'case-insensitive names; empty value removes');
    assert.equal(status(await c.setInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.FullEa, eaList([['dw.dosattrib', 'x']]))), STATUS.INVALID_EA_NAME);
    assert.equal(status(await c.setInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.FullEa, eaList([['a:b', 'x']]))), STATUS.INVALID_EA_NAME);
    assert.equal((await v.vfs.getxattr(ROOT_CTX, ino, 'user.dw.dosattrib')).toString(), '20');
    await c.closeFile(tid, f.fileId);
  });

  test('no EAs → NO_EAS_ON_FILE; FullEa needs FILE_READ_EA to read and FILE_WRITE_EA to set; ExtA on a plain open is ignored', async () => {
    const { c, tid, v } = await setup();
    const f = await c.open(tid, { name: 'plain', desiredAccess: SEC_RIGHTS_FILE_ALL, disposition: DISPOSITION.CREATE });
    assert.equal(status(await c.queryFileInfo(tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.FullEa)), STATUS.NO_EAS_ON_FILE);
    await c.closeFile(tid, f.fileId);
    const g = await c.open(tid, { name: 'plain', desiredAccess: READ & ~0x08, contexts: [{ name: 'ExtA', data: eaList([['X', '1']]) }] }); // READ without FILE_READ_EA
    assert.deepEqual(await v.vfs.listxattr(ROOT_CTX, (await v.paths.stat(ROOT_CTX, '/home/plain')).ino), []);
    assert.equal(status(await c.queryFileInfo(tid, g.fileId, INFO_TYPE.FILE, FILE_INFO.FullEa)), STATUS.ACCESS_DENIED);
    assert.equal(status(await c.setInfo(tid, g.fileId, INFO_TYPE.FILE, FILE_INFO.FullEa, eaList([['X', '1']]))), STATUS.ACCESS_DENIED);
  });
});

describe('smbtorture basic set: stream opens answer the file\'s id (smb2.fileid)', () => {
  const QFID = { name: 'QFid', data: Buffer.alloc(0) };
  const qfid = (r: { contexts: { name: string; data: Buffer }[] }) => r.contexts.find((x) => x.name === 'QFid')?.data.readBigUInt64LE(0);

  test('QFid of a stream open is the file\'s on-disk id, on a file and on a folder; a folder\'s stream holds data', async () => {
    const { c, tid, v } = await setup();
    for (const [name, options] of [['foo', 0], ['dir', CREATE_OPTION.DIRECTORY_FILE]] as const) {
      const base = await c.open(tid, { name, desiredAccess: SEC_RIGHTS_FILE_ALL, disposition: DISPOSITION.CREATE, options, contexts: [QFID] });
      const ino = BigInt((await v.paths.stat(ROOT_CTX, `/home/${name}`)).ino);
      assert.equal(qfid(base), ino);
      const s1 = await c.open(tid, { name: `${name}:bar`, desiredAccess: SEC_RIGHTS_FILE_ALL, disposition: DISPOSITION.CREATE, shareAccess: 7, contexts: [QFID] });
      assert.equal(qfid(s1), ino, `${name}: the stream answers the file's id`);
      assert.equal(decodeWriteResponse((await c.writeFile(tid, s1.fileId, 0, Buffer.from('foo'))).message), 3);
      assert.equal(decodeReadResponse((await c.readFile(tid, s1.fileId, 0, 10)).message).toString(), 'foo');
      const all = decodeOutputBufferResponse((await c.queryFileInfo(tid, s1.fileId, INFO_TYPE.FILE, FILE_INFO.Internal)).message);
      assert.equal(all.readBigUInt64LE(0), ino);
      await c.closeFile(tid, s1.fileId);
      const again = await c.open(tid, { name: `${name}:bar`, desiredAccess: READ, disposition: DISPOSITION.OPEN, shareAccess: 7, contexts: [QFID] });
      assert.equal(qfid(again), ino);
      await c.closeFile(tid, again.fileId);
      await c.closeFile(tid, base.fileId);
    }
  });
});
