/**
 * SftpSession against the memory VFS, packet in → packet out (no SSH): every request type,
 * the extensions, handle limits and release, confinement, and random packets after INIT.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { createMemoryVfs, ROOT_CTX, type Principal, type VfsInstance } from '../../vfs/index.js';
import { ctxFor } from '../../vfs/types.js';
import { trackHandles } from '../../test/e2e/sftp-harness.js';
import { ProtocolError, SftpSession } from './session.js';
import { SSH_FX, SSH_FXF, SSH_FXP } from './wire/constants.js';
import { encodeExtended, type ExtendedBodies, type ExtendedName } from './wire/extended.js';
import { PacketFramer } from './wire/framer.js';
import { Reader } from './wire/reader.js';
import { decodeReply, type Reply } from './wire/replies.js';
import { encodeInit, encodeRequest, type RequestBodies, type RequestType } from './wire/requests.js';

const USER: Principal = { name: 'u', uid: 1000, gid: 1000, groups: [] };

async function setup(opts: { maxHandles?: number; clientIdent?: string } = {}): Promise<{ vfs: VfsInstance; s: SftpSession; call: Call; ext: ExtCall; open: Set<number> }> {
  const vfs = await createMemoryVfs();
  await vfs.paths.setattr(ROOT_CTX, '/', { uid: USER.uid, gid: USER.gid });
  const tracked = trackHandles(vfs.paths);
  const s = new SftpSession({ paths: tracked.paths, ctx: ctxFor(USER, 'sftp:test'), clientIdent: opts.clientIdent ?? 'SSH-2.0-OpenSSH_9.2p1', ...(opts.maxHandles ? { maxHandles: opts.maxHandles } : {}) });
  const v = fromWire(await s.handlePacket(unframe(encodeInit(3))));
  assert.equal(v.type, SSH_FXP.VERSION);
  let id = 100;
  const call: Call = async (type, body) => {
    const myId = ++id;
    const r = fromWire(await s.handlePacket(unframe(encodeRequest(type, myId, body))));
    assert.equal((r as { id: number }).id, myId, 'reply carries the request id');
    return r;
  };
  const ext: ExtCall = (name, body) => call(SSH_FXP.EXTENDED, { request: name, data: encodeExtended(name, body) });
  return { vfs, s, call, ext, open: tracked.open };
}
type Call = <K extends RequestType>(type: K, body: RequestBodies[K]) => Promise<Reply>;
type ExtCall = <K extends ExtendedName>(name: K, body: ExtendedBodies[K]) => Promise<Reply>;

/** Decodes one framed server packet. */
function fromWire(b: Buffer): Reply {
  return decodeReply(unframe(b));
}
function unframe(b: Buffer): Buffer {
  const [p] = new PacketFramer().push(b);
  return p!;
}
function status(r: Reply): { code: number; message: string } {
  assert.equal(r.type, SSH_FXP.STATUS, `expected STATUS, got ${JSON.stringify(r)}`);
  return r as { code: number; message: string };
}
function handleOf(r: Reply): Buffer {
  assert.equal(r.type, SSH_FXP.HANDLE, `expected HANDLE, got ${JSON.stringify(r)}`);
  return (r as { handle: Buffer }).handle;
}
async function writeFile(call: Call, path: string, data: Buffer): Promise<void> {
  const h = handleOf(await call(SSH_FXP.OPEN, { filename: path, pflags: SSH_FXF.WRITE | SSH_FXF.CREAT | SSH_FXF.TRUNC, attrs: {} }));
  for (let off = 0; off < data.length; off += 65536) {
    assert.equal(status(await call(SSH_FXP.WRITE, { handle: h, offset: BigInt(off), data: data.subarray(off, off + 65536) })).code, SSH_FX.OK);
  }
  assert.equal(status(await call(SSH_FXP.CLOSE, { handle: h })).code, SSH_FX.OK);
}
async function readFile(call: Call, path: string): Promise<Buffer> {
  const h = handleOf(await call(SSH_FXP.OPEN, { filename: path, pflags: SSH_FXF.READ, attrs: {} }));
  const parts: Buffer[] = [];
  for (let off = 0n; ;) {
    const r = await call(SSH_FXP.READ, { handle: h, offset: off, len: 1 << 20 });
    if (r.type === SSH_FXP.STATUS) {
      assert.equal(r.code, SSH_FX.EOF);
      break;
    }
    assert.equal(r.type, SSH_FXP.DATA);
    parts.push(r.data);
    off += BigInt(r.data.length);
  }
  await call(SSH_FXP.CLOSE, { handle: h });
  return Buffer.concat(parts);
}

describe('SftpSession', () => {
  test('VERSION advertises 3 and the OpenSSH extensions', async () => {
    const vfs = await createMemoryVfs();
    const s = new SftpSession({ paths: vfs.paths, ctx: ROOT_CTX });
    const v = fromWire(await s.handlePacket(unframe(encodeInit(3))));
    assert.equal(v.type, SSH_FXP.VERSION);
    if (v.type !== SSH_FXP.VERSION) return;
    assert.equal(v.version, 3);
    const names = new Map(v.extensions);
    for (const n of ['posix-rename@openssh.com', 'statvfs@openssh.com', 'fstatvfs@openssh.com', 'hardlink@openssh.com', 'fsync@openssh.com']) {
      assert.ok(names.has(n), n);
    }
    await assert.rejects(s.handlePacket(unframe(encodeInit(3))), ProtocolError, 'duplicate INIT closes the channel');
    await vfs.close();
  });

  test('a request before INIT is a protocol error', async () => {
    const vfs = await createMemoryVfs();
    const s = new SftpSession({ paths: vfs.paths, ctx: ROOT_CTX });
    await assert.rejects(s.handlePacket(unframe(encodeRequest(SSH_FXP.STAT, 1, { path: '/' }))), ProtocolError);
    await vfs.close();
  });

  test('write, read in pieces, stat, append, truncate, exclusive create', async () => {
    const { vfs, call } = await setup();
    const data = Buffer.from('hello sftp world');
    await writeFile(call, 'f.txt', data);
    assert.deepEqual(await readFile(call, '/f.txt'), data);
    const st = await call(SSH_FXP.STAT, { path: 'f.txt' });
    assert.equal(st.type, SSH_FXP.ATTRS);
    if (st.type === SSH_FXP.ATTRS) {
      assert.equal(st.attrs.size, BigInt(data.length));
      assert.equal(st.attrs.permissions, 0o100644, 'default mode 0666 under umask 022');
      assert.equal(st.attrs.uid, 1000);
    }
    // APPEND writes go to the end whatever the offset
    const h = handleOf(await call(SSH_FXP.OPEN, { filename: 'f.txt', pflags: SSH_FXF.WRITE | SSH_FXF.APPEND, attrs: {} }));
    await call(SSH_FXP.WRITE, { handle: h, offset: 0n, data: Buffer.from('!') });
    await call(SSH_FXP.CLOSE, { handle: h });
    assert.equal((await readFile(call, 'f.txt')).toString(), 'hello sftp world!');
    // EXCL on an existing file fails with 'file exists'
    const ex = status(await call(SSH_FXP.OPEN, { filename: 'f.txt', pflags: SSH_FXF.WRITE | SSH_FXF.CREAT | SSH_FXF.EXCL, attrs: {} }));
    assert.deepEqual(ex, { ...ex, code: SSH_FX.FAILURE, message: 'file exists' });
    // SETSTAT size truncates
    assert.equal(status(await call(SSH_FXP.SETSTAT, { path: 'f.txt', attrs: { size: 5n } })).code, SSH_FX.OK);
    assert.equal((await readFile(call, 'f.txt')).toString(), 'hello');
    // reading a missing file
    assert.equal(status(await call(SSH_FXP.OPEN, { filename: 'nope', pflags: SSH_FXF.READ, attrs: {} })).code, SSH_FX.NO_SUCH_FILE);
    await vfs.close();
  });

  test('READ answers at most MAX_READ bytes and EOF past the end', async () => {
    const { vfs, call } = await setup();
    const big = Buffer.alloc(600_000, 7);
    await writeFile(call, 'big', big);
    const h = handleOf(await call(SSH_FXP.OPEN, { filename: 'big', pflags: SSH_FXF.READ, attrs: {} }));
    const r = await call(SSH_FXP.READ, { handle: h, offset: 0n, len: 0xffffffff });
    assert.equal(r.type, SSH_FXP.DATA);
    if (r.type === SSH_FXP.DATA) assert.equal(r.data.length, 256 * 1024 - 1024);
    assert.equal(status(await call(SSH_FXP.READ, { handle: h, offset: 600_000n, len: 10 })).code, SSH_FX.EOF);
    assert.equal(status(await call(SSH_FXP.READ, { handle: h, offset: 1n << 62n, len: 10 })).code, SSH_FX.EOF);
    await call(SSH_FXP.CLOSE, { handle: h });
    await vfs.close();
  });

  test('FSTAT, FSETSTAT (chmod, times), fsync and fstatvfs on a handle', async () => {
    const { vfs, call, ext } = await setup();
    const h = handleOf(await call(SSH_FXP.OPEN, { filename: 'g', pflags: SSH_FXF.WRITE | SSH_FXF.CREAT, attrs: { permissions: 0o600 } }));
    await call(SSH_FXP.WRITE, { handle: h, offset: 10n, data: Buffer.from('x') });
    assert.equal(status(await ext('fsync@openssh.com', { handle: h })).code, SSH_FX.OK);
    assert.equal(status(await call(SSH_FXP.FSETSTAT, { handle: h, attrs: { permissions: 0o640, atime: 1_000_000, mtime: 2_000_000 } })).code, SSH_FX.OK);
    const st = await call(SSH_FXP.FSTAT, { handle: h });
    assert.equal(st.type, SSH_FXP.ATTRS);
    if (st.type === SSH_FXP.ATTRS) {
      assert.equal(st.attrs.size, 11n);
      assert.equal(st.attrs.permissions, 0o100640);
      assert.equal(st.attrs.mtime, 2_000_000);
      assert.equal(st.attrs.atime, 1_000_000);
    }
    const sv = await ext('fstatvfs@openssh.com', { handle: h });
    assert.equal(sv.type, SSH_FXP.EXTENDED_REPLY);
    await call(SSH_FXP.CLOSE, { handle: h });
    await vfs.close();
  });

  test('directories: MKDIR, OPENDIR/READDIR in batches with . and .., RMDIR', async () => {
    const { vfs, call } = await setup();
    assert.equal(status(await call(SSH_FXP.MKDIR, { path: 'd', attrs: { permissions: 0o777 } })).code, SSH_FX.OK);
    const st = await call(SSH_FXP.STAT, { path: 'd' });
    if (st.type === SSH_FXP.ATTRS) assert.equal(st.attrs.permissions, 0o040755, 'umask 022 applies');
    for (let i = 0; i < 250; i++) await vfs.paths.mkdir(ctxFor(USER, 't'), `/d/e${i}`);
    const h = handleOf(await call(SSH_FXP.OPENDIR, { path: 'd' }));
    const names: string[] = [];
    let batches = 0;
    for (;;) {
      const r = await call(SSH_FXP.READDIR, { handle: h });
      if (r.type === SSH_FXP.STATUS) {
        assert.equal(r.code, SSH_FX.EOF);
        break;
      }
      assert.equal(r.type, SSH_FXP.NAME);
      if (r.type !== SSH_FXP.NAME) break;
      batches++;
      for (const e of r.entries) {
        names.push(e.filename);
        assert.match(e.longname, new RegExp(`^d[rwxsStT-]{9} +\\d+ 1000 +1000 .* ${e.filename.replace(/\./g, '\\.')}$`));
      }
    }
    assert.ok(batches >= 3, 'more than one batch');
    assert.deepEqual(names.slice(0, 2), ['.', '..']);
    assert.deepEqual(names.slice(2).sort(), Array.from({ length: 250 }, (_, i) => `e${i}`).sort());
    await call(SSH_FXP.CLOSE, { handle: h });
    assert.equal(status(await call(SSH_FXP.RMDIR, { path: 'd' })).message, 'directory not empty');
    assert.equal(status(await call(SSH_FXP.RMDIR, { path: 'd/e0' })).code, SSH_FX.OK);
    assert.equal(status(await call(SSH_FXP.OPENDIR, { path: 'nope' })).code, SSH_FX.NO_SUCH_FILE);
    await vfs.close();
  });

  test('RENAME refuses an existing target; posix-rename replaces it; hardlink links', async () => {
    const { vfs, call, ext } = await setup();
    await writeFile(call, 'a', Buffer.from('A'));
    await writeFile(call, 'b', Buffer.from('B'));
    assert.deepEqual(status(await call(SSH_FXP.RENAME, { oldpath: 'a', newpath: 'b' })).message, 'file exists');
    assert.equal((await readFile(call, 'b')).toString(), 'B');
    assert.equal(status(await ext('posix-rename@openssh.com', { oldpath: 'a', newpath: 'b' })).code, SSH_FX.OK);
    assert.equal((await readFile(call, 'b')).toString(), 'A');
    assert.equal(status(await call(SSH_FXP.RENAME, { oldpath: 'b', newpath: 'c' })).code, SSH_FX.OK);
    assert.equal(status(await ext('hardlink@openssh.com', { oldpath: 'c', newpath: 'd' })).code, SSH_FX.OK);
    const st = await call(SSH_FXP.LSTAT, { path: 'd' });
    if (st.type === SSH_FXP.ATTRS) assert.equal(st.attrs.size, 1n);
    const d = (await vfs.paths.stat(ROOT_CTX, '/d'));
    assert.equal(d.nlink, 2);
    assert.equal(status(await call(SSH_FXP.REMOVE, { path: 'c' })).code, SSH_FX.OK);
    assert.equal(status(await call(SSH_FXP.REMOVE, { path: 'c' })).code, SSH_FX.NO_SUCH_FILE);
    await vfs.close();
  });

  test('SYMLINK: OpenSSH order (target first) for OpenSSH clients, draft order for ssh2js', async () => {
    for (const [ident, body] of [
      ['SSH-2.0-OpenSSH_9.2p1', { first: 'target/file', second: 'link' }],
      ['SSH-2.0-ssh2js1.17.0', { first: 'link', second: 'target/file' }],
    ] as const) {
      const { vfs, call } = await setup({ clientIdent: ident });
      assert.equal(status(await call(SSH_FXP.SYMLINK, body)).code, SSH_FX.OK);
      const r = await call(SSH_FXP.READLINK, { path: 'link' });
      assert.equal(r.type, SSH_FXP.NAME);
      if (r.type === SSH_FXP.NAME) assert.equal(r.entries[0]?.filename, 'target/file');
      const l = await call(SSH_FXP.LSTAT, { path: 'link' });
      if (l.type === SSH_FXP.ATTRS) assert.equal((l.attrs.permissions ?? 0) & 0o170000, 0o120000);
      await vfs.close();
    }
  });

  test('REALPATH normalizes inside the export', async () => {
    const { vfs, call } = await setup();
    const rp = async (p: string): Promise<string | undefined> => {
      const r = await call(SSH_FXP.REALPATH, { path: p });
      return r.type === SSH_FXP.NAME ? r.entries[0]?.filename : undefined;
    };
    assert.equal(await rp('.'), '/');
    assert.equal(await rp(''), '/');
    assert.equal(await rp('a/./b/../c'), '/a/c');
    assert.equal(await rp('../../..'), '/');
    assert.equal(await rp('/../etc/passwd'), '/etc/passwd');
    await vfs.close();
  });

  test('confinement: .., absolute paths and symlinks to /etc stay in the export', async () => {
    const { vfs, call } = await setup();
    await vfs.paths.mkdir(ROOT_CTX, '/etc');
    await vfs.paths.setattr(ROOT_CTX, '/etc', { uid: 1000 });
    await writeFile(call, '/etc/passwd', Buffer.from('export-local passwd'));
    assert.equal((await readFile(call, '../../../etc/passwd')).toString(), 'export-local passwd');
    await call(SSH_FXP.SYMLINK, { first: '/etc', second: 'hostetc' });
    await call(SSH_FXP.SYMLINK, { first: '../../../../etc/hostname', second: 'hostname' });
    assert.equal((await readFile(call, 'hostetc/passwd')).toString(), 'export-local passwd');
    assert.equal(status(await call(SSH_FXP.OPEN, { filename: 'hostname', pflags: SSH_FXF.READ, attrs: {} })).code, SSH_FX.NO_SUCH_FILE);
    assert.equal(status(await call(SSH_FXP.STAT, { path: '/etc/shadow' })).code, SSH_FX.NO_SUCH_FILE);
    await vfs.close();
  });

  test('handles: bad handles fail, the limit holds, close() releases every open file', async () => {
    const { vfs, s, call, open } = await setup({ maxHandles: 3 });
    assert.equal(status(await call(SSH_FXP.READ, { handle: Buffer.from('nope'), offset: 0n, len: 1 })).message, 'invalid handle');
    assert.equal(status(await call(SSH_FXP.CLOSE, { handle: Buffer.alloc(12) })).message, 'invalid handle');
    const hs: Buffer[] = [];
    for (let i = 0; i < 3; i++) hs.push(handleOf(await call(SSH_FXP.OPEN, { filename: `h${i}`, pflags: SSH_FXF.WRITE | SSH_FXF.CREAT, attrs: {} })));
    assert.match(status(await call(SSH_FXP.OPEN, { filename: 'h9', pflags: SSH_FXF.WRITE | SSH_FXF.CREAT, attrs: {} })).message, /too many open handles/);
    assert.match(status(await call(SSH_FXP.OPENDIR, { path: '/' })).message, /too many open handles/);
    // a directory handle is not a file handle
    await call(SSH_FXP.CLOSE, { handle: hs.pop()! });
    const dh = handleOf(await call(SSH_FXP.OPENDIR, { path: '/' }));
    assert.equal(status(await call(SSH_FXP.READ, { handle: dh, offset: 0n, len: 1 })).code, SSH_FX.FAILURE);
    assert.equal(status(await call(SSH_FXP.READDIR, { handle: hs[0]! })).code, SSH_FX.NO_SUCH_FILE);
    await call(SSH_FXP.WRITE, { handle: hs[0]!, offset: 0n, data: Buffer.from('pending') });
    assert.equal(s.openHandles, 3);
    assert.equal(open.size, 2, 'two files (and one directory) open in the VFS');
    await s.close();
    assert.equal(s.openHandles, 0);
    assert.equal(open.size, 0, 'every VFS file handle released');
    assert.equal((await vfs.paths.stat(ROOT_CTX, '/h0')).size, 7);
    await vfs.close();
  });

  test('statvfs, limits, lsetstat, unknown extension and unknown packet type', async () => {
    const { vfs, call, ext } = await setup();
    const sv = await ext('statvfs@openssh.com', { path: '/' });
    assert.equal(sv.type, SSH_FXP.EXTENDED_REPLY);
    if (sv.type === SSH_FXP.EXTENDED_REPLY) {
      const r = new Reader(sv.body);
      const f = Array.from({ length: 11 }, () => r.u64());
      const fs = await vfs.paths.statfs(ROOT_CTX, '/');
      assert.equal(f[0], BigInt(fs.bsize));
      assert.equal(f[2], BigInt(fs.blocks));
      assert.equal(f[10], BigInt(fs.namemax));
    }
    const lim = await ext('limits@openssh.com', {});
    if (lim.type === SSH_FXP.EXTENDED_REPLY) assert.equal(new Reader(lim.body).u64(), 256n * 1024n);
    await writeFile(call, 't', Buffer.from('t'));
    await call(SSH_FXP.SYMLINK, { first: 't', second: 'lt' });
    assert.equal(status(await ext('lsetstat@openssh.com', { path: 'lt', attrs: { atime: 5, mtime: 6 } })).code, SSH_FX.OK);
    const lt = await call(SSH_FXP.LSTAT, { path: 'lt' });
    if (lt.type === SSH_FXP.ATTRS) assert.equal(lt.attrs.mtime, 6);
    const t = await call(SSH_FXP.STAT, { path: 't' });
    if (t.type === SSH_FXP.ATTRS) assert.notEqual(t.attrs.mtime, 6, 'the target is untouched');
    const un = status(await call(SSH_FXP.EXTENDED, { request: 'copy-data', data: Buffer.alloc(8) }));
    assert.equal(un.code, SSH_FX.OP_UNSUPPORTED);
    const bad = status(await call(SSH_FXP.EXTENDED, { request: 'statvfs@openssh.com', data: Buffer.from([0xff, 0xff, 0xff, 0xff]) }));
    assert.equal(bad.code, SSH_FX.BAD_MESSAGE);
    const r = fromWire(await (await setup()).s.handlePacket(Buffer.from([99, 0, 0, 0, 42])));
    assert.deepEqual([r.type, (r as { id: number }).id, (r as { code: number }).code], [SSH_FXP.STATUS, 42, SSH_FX.OP_UNSUPPORTED]);
    await vfs.close();
  });

  test('random packets after INIT: always one reply with the request id, or a ProtocolError', async () => {
    const { vfs, s } = await setup();
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ maxLength: 120 }), async (type, id, body) => {
      const pkt = Buffer.alloc(5 + body.length);
      pkt[0] = type;
      pkt.writeUInt32BE(id, 1);
      pkt.set(body, 5);
      try {
        const r = fromWire(await s.handlePacket(pkt));
        assert.equal((r as { id: number }).id, id);
      } catch (e) {
        assert.ok(e instanceof ProtocolError && type === SSH_FXP.INIT, `only a second INIT may end the session, got ${String(e)}`);
      }
    }), { numRuns: 1500 });
    await s.close();
    await vfs.close();
  });
});
