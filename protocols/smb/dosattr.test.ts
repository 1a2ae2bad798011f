/**
 * DOS attributes (dosattr.ts) through whole connections over a memory VFS: ARCHIVE on new files,
 * the xattr `user.dw.dosattrib`, FileAttributes of CREATE, SET_INFO FileBasicInformation,
 * QUERY_INFO and QUERY_DIRECTORY, ARCHIVE again after a WRITE, READONLY against write opens
 * and deletion, HIDDEN/SYSTEM against overwrites (MS-FSA 2.1.5.1.x, 2.1.5.15.2/3); and the
 * other CREATE/SET_INFO rules of this slice: FILE_EXECUTE granted by r on files, the loser of a
 * create race opening the winner's folder, no rename of a folder with an open file below it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMemoryVfs, ROOT_CTX, type VfsInstance } from '../../vfs/index.js';
import { STATUS } from './errors.js';
import { shareFileService } from './server.js';
import { connection, TestClient } from './testdata/client.js';
import { DIALECT } from './wire/negotiate.js';
import { Command } from './wire/header.js';
import { writeTreeConnectRequest } from './wire/session-setup.js';
import { CREATE_ACTION, CREATE_OPTION, decodeCloseResponse, decodeCreateResponse, decodeOutputBufferResponse, DISPOSITION, CLOSE_FLAG_POSTQUERY_ATTRIB, type FileId } from './wire/files.js';
import { decodeDirectory } from './wire/fscc-dir.js';
import { FILE_ATTRIBUTE as A, FILE_INFO, INFO_TYPE } from './wire/fscc.js';
import type { Writer } from './wire/reader.js';
import { basicInfoDos, decodeDos, DOS_XATTR, encodeDos, mayChangeDos, newDos } from './dosattr.js';

const RW = 0x0012019f;
const READ = 0x00120089;
const READ_ATTR = 0x00000080;
const WRITE_ATTR = 0x00000100;
const DELETE = 0x00010000;
const GENERIC_ALL = 0x10000000;
const MAXIMUM_ALLOWED = 0x02000000;

interface Env { c: TestClient; tid: number; v: VfsInstance; home: number }

async function login(v: VfsInstance, files: ReturnType<typeof shareFileService>): Promise<{ c: TestClient; tid: number }> {
  const conn = connection({ shares: [{ name: 'Data', path: '/home', readOnly: false, requireEncryption: false }], files }, []);
  const c = new TestClient(conn);
  await c.negotiate([DIALECT.SMB311]);
  assert.equal((await c.login('alice', 's3cret')).header.status, 0);
  const tid = (await c.send(Command.TREE_CONNECT, (w: Writer) => { writeTreeConnectRequest(w, { flags: 0, path: '\\\\dw\\data' }); })).header.treeId;
  return { c, tid };
}

async function setup(): Promise<Env> {
  const v = await createMemoryVfs({ recordSize: 4096 });
  const home = await v.paths.mkdir(ROOT_CTX, '/home', 0o755);
  await v.vfs.setattr(ROOT_CTX, home.ino, { uid: 1000, gid: 1000 });
  const { c, tid } = await login(v, shareFileService(v.paths));
  return { c, tid, v, home: home.ino };
}

const status = (r: { header: { status: number } }) => r.header.status;

function basic(attributes: number): Buffer {
  const b = Buffer.alloc(40);
  b.writeUInt32LE(attributes, 32);
  return b;
}

async function attrsOf(e: Env, fileId: FileId): Promise<number> {
  const r = await e.c.queryFileInfo(e.tid, fileId, INFO_TYPE.FILE, FILE_INFO.Basic);
  assert.equal(status(r), 0);
  return decodeOutputBufferResponse(r.message).readUInt32LE(32);
}

/** Attributes by name: open for READ_ATTRIBUTES, query FileBasicInformation, close. */
async function getatr(e: Env, name: string): Promise<number> {
  const f = await e.c.open(e.tid, { name, desiredAccess: READ_ATTR });
  const a = await attrsOf(e, f.fileId);
  await e.c.closeFile(e.tid, f.fileId);
  return a;
}

async function setatr(e: Env, name: string, attributes: number): Promise<number> {
  const f = await e.c.open(e.tid, { name, desiredAccess: READ_ATTR | WRITE_ATTR });
  const r = await e.c.setInfo(e.tid, f.fileId, INFO_TYPE.FILE, FILE_INFO.Basic, basic(attributes));
  await e.c.closeFile(e.tid, f.fileId);
  return status(r);
}

async function xattr(e: Env, name: string): Promise<string | undefined> {
  try {
    return (await e.v.paths.getxattr(ROOT_CTX, `/home/${name}`, DOS_XATTR)).toString();
  } catch {
    return undefined;
  }
}

describe('SMB2 DOS attributes', () => {
  test('codec and rules: hex value, default bits, FileBasicInformation attribute rules', () => {
    assert.equal(encodeDos(A.READONLY | A.ARCHIVE).toString(), '0x21');
    assert.equal(encodeDos(A.DIRECTORY | A.HIDDEN).toString(), '0x2', 'DIRECTORY is never stored');
    assert.equal(decodeDos(Buffer.from('0x21')), 0x21);
    assert.equal(decodeDos(Buffer.from('junk')), undefined);
    assert.equal(newDos(false, 0), undefined, 'a plain new file is the default (ARCHIVE): nothing to store');
    assert.equal(newDos(false, A.NORMAL), undefined);
    assert.equal(newDos(false, A.HIDDEN), A.HIDDEN | A.ARCHIVE);
    assert.equal(newDos(true, A.DIRECTORY), undefined);
    assert.equal(newDos(true, A.SYSTEM | A.DIRECTORY), A.SYSTEM);
    assert.equal(basicInfoDos(false, 0, A.ARCHIVE), undefined, '0 leaves them alone');
    assert.equal(basicInfoDos(false, A.NORMAL, A.ARCHIVE | A.HIDDEN), 0, 'NORMAL clears');
    assert.throws(() => basicInfoDos(false, A.DIRECTORY, 0), (e: { status: number }) => e.status === STATUS.INVALID_PARAMETER);
    assert.throws(() => basicInfoDos(true, A.TEMPORARY, 0), (e: { status: number }) => e.status === STATUS.INVALID_PARAMETER);
  });

  test('new files read back ARCHIVE, folders DIRECTORY; requested bits are stored in the xattr', async () => {
    const e = await setup();
    const f = await e.c.open(e.tid, { name: 'a.txt', desiredAccess: RW, disposition: DISPOSITION.CREATE, fileAttributes: A.NORMAL });
    assert.equal(f.fileAttributes, A.ARCHIVE, 'CREATE response');
    assert.equal(await attrsOf(e, f.fileId), A.ARCHIVE, 'QUERY_INFO');
    const cl = decodeCloseResponse((await e.c.closeFile(e.tid, f.fileId, CLOSE_FLAG_POSTQUERY_ATTRIB)).message);
    assert.equal(cl.fileAttributes, A.ARCHIVE, 'CLOSE post-query');
    assert.equal(await xattr(e, 'a.txt'), undefined, 'the default needs no xattr');

    const h = await e.c.open(e.tid, { name: 'h.txt', desiredAccess: RW, disposition: DISPOSITION.CREATE, fileAttributes: A.HIDDEN | A.SYSTEM });
    assert.equal(h.fileAttributes, A.HIDDEN | A.SYSTEM | A.ARCHIVE);
    await e.c.closeFile(e.tid, h.fileId);
    assert.equal(await xattr(e, 'h.txt'), '0x26');

    const d = await e.c.open(e.tid, { name: 'dir', desiredAccess: READ, disposition: DISPOSITION.CREATE, options: CREATE_OPTION.DIRECTORY_FILE, fileAttributes: A.DIRECTORY });
    assert.equal(d.fileAttributes, A.DIRECTORY);
    await e.c.closeFile(e.tid, d.fileId);
    assert.equal(status(await e.c.createFile(e.tid, { name: 'tmpdir', disposition: DISPOSITION.CREATE, options: CREATE_OPTION.DIRECTORY_FILE, fileAttributes: A.TEMPORARY })),
      STATUS.INVALID_PARAMETER, 'TEMPORARY folder');

    // A file made outside SMB (FUSE, WebDAV …) has the default bits too.
    await e.v.paths.open(ROOT_CTX, '/home/outside.txt', { write: true, create: true }, 0o644).then((r) => e.v.vfs.release(ROOT_CTX, r.fh));
    assert.equal(await getatr(e, 'outside.txt'), A.ARCHIVE);

    // QUERY_DIRECTORY (FileIdBothDirectoryInformation) shows the same bits.
    const dir = await e.c.open(e.tid, { name: '', desiredAccess: READ, options: CREATE_OPTION.DIRECTORY_FILE });
    const q = await e.c.queryDirectory(e.tid, dir.fileId);
    const byName = new Map(decodeDirectory(37, decodeOutputBufferResponse(q.message)).map((x) => [x.name, x.attributes]));
    await e.c.closeFile(e.tid, dir.fileId);
    assert.equal(byName.get('a.txt'), A.ARCHIVE);
    assert.equal(byName.get('h.txt'), A.HIDDEN | A.SYSTEM | A.ARCHIVE);
    assert.equal(byName.get('dir'), A.DIRECTORY);
    assert.equal(byName.get('.'), A.DIRECTORY);
  });

  test('SET_INFO FileBasicInformation sets the bits (smb2.winattr); a WRITE or a size change sets ARCHIVE again', async () => {
    const e = await setup();
    await e.c.open(e.tid, { name: 'w.txt', desiredAccess: RW, disposition: DISPOSITION.CREATE }).then((f) => e.c.closeFile(e.tid, f.fileId));
    for (const bits of [A.NORMAL, A.ARCHIVE, A.READONLY, A.HIDDEN, A.SYSTEM, A.ARCHIVE | A.READONLY | A.HIDDEN, A.READONLY | A.HIDDEN | A.SYSTEM]) {
      assert.equal(await setatr(e, 'w.txt', bits), 0);
      assert.equal(await getatr(e, 'w.txt'), bits, `set 0x${bits.toString(16)}`);
    }
    assert.equal(await setatr(e, 'w.txt', 0), 0);
    assert.equal(await getatr(e, 'w.txt'), A.READONLY | A.HIDDEN | A.SYSTEM, '0 changes nothing');
    assert.equal(await setatr(e, 'w.txt', A.DIRECTORY), STATUS.INVALID_PARAMETER);
    assert.equal(await setatr(e, 'w.txt', A.NORMAL), 0);
    assert.equal(await getatr(e, 'w.txt'), A.NORMAL);
    assert.equal(await xattr(e, 'w.txt'), '0x0');

    const f = await e.c.open(e.tid, { name: 'w.txt', desiredAccess: RW });
    assert.equal(status(await e.c.writeFile(e.tid, f.fileId, 0, Buffer.from('x'))), 0);
    assert.equal(await attrsOf(e, f.fileId), A.ARCHIVE, 'MS-FSA 2.1.4.17: modified → ARCHIVE');
    await e.c.closeFile(e.tid, f.fileId);
    assert.equal(await xattr(e, 'w.txt'), '0x20');

    assert.equal(await setatr(e, 'w.txt', A.HIDDEN), 0);
    const g = await e.c.open(e.tid, { name: 'w.txt', desiredAccess: RW });
    const eof = Buffer.alloc(8);
    eof.writeBigUInt64LE(100n);
    assert.equal(status(await e.c.setInfo(e.tid, g.fileId, INFO_TYPE.FILE, FILE_INFO.EndOfFile, eof)), 0);
    assert.equal(await attrsOf(e, g.fileId), A.HIDDEN | A.ARCHIVE);
    await e.c.closeFile(e.tid, g.fileId);

    // Folders keep what is set, plus DIRECTORY.
    await e.c.open(e.tid, { name: 'd', desiredAccess: READ, disposition: DISPOSITION.CREATE, options: CREATE_OPTION.DIRECTORY_FILE }).then((x) => e.c.closeFile(e.tid, x.fileId));
    assert.equal(await setatr(e, 'd', A.READONLY | A.ARCHIVE), 0);
    assert.equal(await getatr(e, 'd'), A.READONLY | A.ARCHIVE | A.DIRECTORY);
    assert.equal(await setatr(e, 'd', A.TEMPORARY), STATUS.INVALID_PARAMETER);
  });

  test('READONLY refuses write opens, overwrites and deletion; HIDDEN/SYSTEM refuse an overwrite that drops them (smb2.openattr)', async () => {
    const e = await setup();
    const mk = (name: string, q: Record<string, number>) => e.c.createFile(e.tid, { name, ...q });
    const ro = await e.c.open(e.tid, { name: 'ro.txt', desiredAccess: RW, disposition: DISPOSITION.CREATE, fileAttributes: A.READONLY });
    assert.equal(status(await e.c.writeFile(e.tid, ro.fileId, 0, Buffer.from('made before it was read-only'))), 0, 'the creating open keeps its write access');
    await e.c.closeFile(e.tid, ro.fileId);
    assert.equal(status(await mk('ro.txt', { desiredAccess: RW })), STATUS.ACCESS_DENIED, 'write open');
    assert.equal(status(await mk('ro.txt', { desiredAccess: 0x4 })), STATUS.ACCESS_DENIED, 'append open');
    assert.equal(status(await mk('ro.txt', { desiredAccess: READ, disposition: DISPOSITION.OVERWRITE, fileAttributes: A.READONLY })), STATUS.ACCESS_DENIED, 'overwrite');
    assert.equal(status(await mk('ro.txt', { desiredAccess: READ | DELETE, options: CREATE_OPTION.DELETE_ON_CLOSE })), STATUS.CANNOT_DELETE);
    const mx = await e.c.open(e.tid, { name: 'ro.txt', desiredAccess: MAXIMUM_ALLOWED });
    assert.equal(status(await e.c.writeFile(e.tid, mx.fileId, 0, Buffer.from('x'))), STATUS.ACCESS_DENIED, 'MAXIMUM_ALLOWED grants no write');
    await e.c.closeFile(e.tid, mx.fileId);
    const rd = await e.c.open(e.tid, { name: 'ro.txt', desiredAccess: READ | DELETE });
    const disp = Buffer.from([1]);
    assert.equal(status(await e.c.setInfo(e.tid, rd.fileId, INFO_TYPE.FILE, FILE_INFO.Disposition, disp)), STATUS.CANNOT_DELETE);
    await e.c.closeFile(e.tid, rd.fileId);
    assert.equal(status(await mk('new.txt', { desiredAccess: RW | DELETE, disposition: DISPOSITION.CREATE, fileAttributes: A.READONLY, options: CREATE_OPTION.DELETE_ON_CLOSE })),
      STATUS.CANNOT_DELETE, 'a new READONLY file cannot be delete-on-close');
    assert.equal(status(await mk('new.txt', { desiredAccess: READ })), STATUS.OBJECT_NAME_NOT_FOUND, 'and was not made');
    // Cleared, it can go.
    assert.equal(await setatr(e, 'ro.txt', A.NORMAL), 0);
    const del = await e.c.open(e.tid, { name: 'ro.txt', desiredAccess: DELETE, options: CREATE_OPTION.DELETE_ON_CLOSE });
    await e.c.closeFile(e.tid, del.fileId);
    assert.equal(status(await mk('ro.txt', { desiredAccess: READ })), STATUS.OBJECT_NAME_NOT_FOUND);

    await e.c.open(e.tid, { name: 'h.txt', desiredAccess: RW, disposition: DISPOSITION.CREATE, fileAttributes: A.HIDDEN }).then((f) => e.c.closeFile(e.tid, f.fileId));
    assert.equal(status(await mk('h.txt', { desiredAccess: RW, disposition: DISPOSITION.OVERWRITE, fileAttributes: A.NORMAL })), STATUS.ACCESS_DENIED);
    assert.equal(status(await mk('h.txt', { desiredAccess: RW, disposition: DISPOSITION.SUPERSEDE, fileAttributes: A.SYSTEM })), STATUS.ACCESS_DENIED);
    const ow = decodeCreateResponse((await mk('h.txt', { desiredAccess: RW, disposition: DISPOSITION.OVERWRITE_IF, fileAttributes: A.HIDDEN | A.READONLY })).message);
    assert.equal(ow.createAction, CREATE_ACTION.OVERWRITTEN);
    assert.equal(ow.fileAttributes, A.HIDDEN | A.READONLY | A.ARCHIVE, 'requested bits plus ARCHIVE');
    await e.c.closeFile(e.tid, ow.fileId);
    assert.equal(await getatr(e, 'h.txt'), A.HIDDEN | A.READONLY | A.ARCHIVE);
  });

  test('only the owner or a writer may change the bits', async () => {
    const e = await setup();
    const f = await e.v.paths.open(ROOT_CTX, '/home/x', { write: true, create: true }, 0o644);
    await e.v.vfs.release(ROOT_CTX, f.fh);
    const bob = { uid: 2000, gid: 2000, groups: [], clientId: 't' };
    const owner = { uid: f.attr.uid, gid: 0, groups: [], clientId: 't' };
    assert.equal(await mayChangeDos(e.v.vfs, owner, f.attr), true);
    assert.equal(await mayChangeDos(e.v.vfs, bob, f.attr), false);
    await e.v.vfs.setattr(ROOT_CTX, f.attr.ino, { mode: 0o666 });
    assert.equal(await mayChangeDos(e.v.vfs, bob, f.attr), true, 'w for others');
    // Through SMB: alice (uid 1000) does not own root's 0644 file.
    await e.v.vfs.setattr(ROOT_CTX, f.attr.ino, { mode: 0o644 });
    assert.equal(await setatr(e, 'x', A.HIDDEN), STATUS.ACCESS_DENIED);
    assert.equal(await getatr(e, 'x'), A.ARCHIVE);
  });

  test('FILE_EXECUTE on a readable file is granted (GENERIC_ALL on a 0644 file, smb2.sharemode)', async () => {
    const e = await setup();
    await e.c.open(e.tid, { name: 'f', desiredAccess: RW, disposition: DISPOSITION.CREATE }).then((f) => e.c.closeFile(e.tid, f.fileId));
    const all = await e.c.open(e.tid, { name: 'f', desiredAccess: GENERIC_ALL, contexts: [{ name: 'MxAc', data: Buffer.alloc(0) }] });
    const mx = all.contexts.find((x) => x.name === 'MxAc')!.data.readUInt32LE(4);
    assert.ok(mx & 0x20, 'MxAc has FILE_EXECUTE');
    await e.c.closeFile(e.tid, all.fileId);
    const fi = await e.v.paths.stat(ROOT_CTX, '/home/f');
    await e.v.vfs.setattr(ROOT_CTX, fi.ino, { mode: 0o200 });
    assert.equal(status(await e.c.createFile(e.tid, { name: 'f', desiredAccess: 0x20 })), STATUS.ACCESS_DENIED, 'neither r nor x');
    await e.v.vfs.setattr(ROOT_CTX, fi.ino, { mode: 0o400 });
    const x = await e.c.open(e.tid, { name: 'f', desiredAccess: 0x20 });
    await e.c.closeFile(e.tid, x.fileId);
    // A folder's FILE_TRAVERSE is still x.
    const d = await e.v.paths.mkdir(ROOT_CTX, '/home/d', 0o644);
    await e.v.vfs.setattr(ROOT_CTX, d.ino, { uid: 1000 });
    assert.equal(status(await e.c.createFile(e.tid, { name: 'd', desiredAccess: 0x20 })), STATUS.ACCESS_DENIED);
  });

  test('two connections racing to OPEN_IF one folder: one CREATED, one OPENED (smb2.create.mkdir-dup)', async () => {
    const e = await setup();
    const files = shareFileService(e.v.paths);
    const second = await login(e.v, files);
    // Hold both CREATEs after their lookups so that both try to make the folder.
    const vfs = e.v.vfs;
    const orig = vfs.lookupCaseless.bind(vfs);
    let waiting: (() => void)[] = [];
    vfs.lookupCaseless = async (...a: Parameters<typeof vfs.lookupCaseless>) => {
      try {
        return await orig(...a);
      } finally {
        if (a[2] === 'race' && waiting.length < 2) {
          await new Promise<void>((res) => { waiting.push(res); if (waiting.length === 2) for (const w of waiting) w(); });
        }
      }
    };
    try {
      const q = { name: 'race', desiredAccess: 0x001f01ff, disposition: DISPOSITION.OPEN_IF, options: CREATE_OPTION.DIRECTORY_FILE };
      const [r1, r2] = await Promise.all([e.c.createFile(e.tid, q), second.c.createFile(second.tid, q)]);
      assert.equal(status(r1), 0);
      assert.equal(status(r2), 0);
      const actions = [decodeCreateResponse(r1.message).createAction, decodeCreateResponse(r2.message).createAction].sort();
      assert.deepEqual(actions, [CREATE_ACTION.OPENED, CREATE_ACTION.CREATED].sort());
    } finally {
      vfs.lookupCaseless = orig;
      waiting = [];
    }
    // CREATE still collides.
    assert.equal(status(await e.c.createFile(e.tid, { name: 'race', disposition: DISPOSITION.CREATE, options: CREATE_OPTION.DIRECTORY_FILE })), STATUS.OBJECT_NAME_COLLISION);
  });

  test('a folder with an open file below it cannot be renamed (smb2.rename.rename_dir_openfile)', async () => {
    const e = await setup();
    const d = await e.c.open(e.tid, { name: 'base', desiredAccess: 0x0017019f, disposition: DISPOSITION.CREATE, options: CREATE_OPTION.DIRECTORY_FILE, shareAccess: 0 });
    await e.c.open(e.tid, { name: 'base\\sub', desiredAccess: READ, disposition: DISPOSITION.CREATE, options: CREATE_OPTION.DIRECTORY_FILE }).then((x) => e.c.closeFile(e.tid, x.fileId));
    const f = await e.c.open(e.tid, { name: 'base\\sub\\file.txt', desiredAccess: RW, disposition: DISPOSITION.CREATE, shareAccess: 0 });
    const rename = (to: string) => {
      const name = Buffer.from(to, 'utf16le');
      const b = Buffer.alloc(20 + name.length);
      b.writeUInt32LE(name.length, 16);
      name.copy(b, 20);
      return e.c.setInfo(e.tid, d.fileId, INFO_TYPE.FILE, FILE_INFO.Rename, b);
    };
    assert.equal(status(await rename('base-new')), STATUS.ACCESS_DENIED, 'an open two levels down');
    await e.c.closeFile(e.tid, f.fileId);
    assert.equal(status(await rename('base-new')), 0, 'nothing open below');
    await e.c.closeFile(e.tid, d.fileId);
    assert.equal(status(await e.c.createFile(e.tid, { name: 'base-new\\sub\\file.txt', desiredAccess: READ })), 0);
  });
});
