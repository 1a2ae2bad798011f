/**
 * Exports: client lists (addresses, CIDRs, IPv4 and IPv6), squash, config errors; and through
 * the dispatcher, per-request checks: a client not listed cannot MNT or use a handle, read-only
 * exports answer NFS3ERR_ROFS, squashed callers create files as the anon identity, `..` stops at
 * the export's directory, EXPORT lists exports with their clients.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMemoryVfs, ROOT_CTX, type VfsInstance } from '../../vfs/index.js';
import { clientMatcher, ExportConfigError, ExportTable, exportIdOf, parseExports, squashCtx } from './exports.js';
import { Nfs3Service } from './nfs3.js';
import { mountProgram } from './programs.js';
import { answer, type Programs } from './session.js';
import { decodeFh } from './wire/fh.js';
import { decodeExports, decodeMntResult, encodeDirpath, MNT3, MOUNT_PROC, MOUNT_PROG } from './wire/mount.js';
import { ACCESS3, CREATE_MODE, encodeArgs, NFS3, NFS_PROG, PROC, readFattr3, readPostOpAttr, type ArgsOf, type Proc } from './wire/nfs3.js';
import { ACCEPT, AUTH, decodeReply, encodeAuthSys, encodeCall, type OpaqueAuth } from './wire/rpc.js';

const sys = (uid: number, gid: number): OpaqueAuth => ({ flavor: AUTH.SYS, body: encodeAuthSys({ stamp: 1, machinename: 't', uid, gid, gids: [0, 5] }) });

describe('export config', () => {
  test('client lists: addresses, CIDRs, IPv4-mapped IPv6, IPv6, "*"', () => {
    const m = clientMatcher(['127.0.0.1', '10.0.0.0/8', '192.168.1.128/25', 'fd00::/8', '::1']);
    for (const a of ['127.0.0.1', '::ffff:127.0.0.1', '10.255.0.1', '192.168.1.200', 'fd12:3456::1', '::1']) assert.ok(m(a), a);
    for (const a of ['127.0.0.2', '11.0.0.1', '192.168.1.127', 'fe80::1', '::2', 'not-an-ip', '']) assert.ok(!m(a), a);
    assert.ok(clientMatcher(['0.0.0.0/0'])('8.8.8.8'));
    assert.ok(!clientMatcher(['0.0.0.0/0'])('2001:db8::1'), 'an IPv4 CIDR does not match IPv6');
    assert.ok(clientMatcher(['*'])('2001:db8::1'));
    assert.ok(clientMatcher(['fe80::/10'])('fe80::1%eth0'), 'zone dropped');
  });

  test('squash: root (uid/gid 0 and group 0), all, none; AUTH_NONE is anon', () => {
    const e = { anonUid: 4242, anonGid: 4343 };
    const root = { uid: 0, gid: 0, groups: [0, 5], clientId: 'c' };
    const user = { uid: 1000, gid: 100, groups: [0, 5], clientId: 'c' };
    assert.deepEqual(squashCtx({ ...e, squash: 'root' }, root), { uid: 4242, gid: 4343, groups: [5], clientId: 'c' });
    assert.deepEqual(squashCtx({ ...e, squash: 'root' }, user), { uid: 1000, gid: 100, groups: [5], clientId: 'c' });
    assert.deepEqual(squashCtx({ ...e, squash: 'all' }, user), { uid: 4242, gid: 4343, groups: [], clientId: 'c' });
    assert.deepEqual(squashCtx({ ...e, squash: 'none' }, root), root);
    assert.deepEqual(squashCtx({ ...e, squash: 'none' }, root, true), { uid: 4242, gid: 4343, groups: [], clientId: 'c' });
  });

  test('defaults and stable ids', () => {
    const [e] = parseExports([{ path: '/a//b/' }]);
    assert.equal(e!.path, '/a/b');
    assert.equal(e!.id, exportIdOf('/a/b'));
    assert.deepEqual([e!.readOnly, e!.squash, e!.anonUid, e!.anonGid], [false, 'root', 65534, 65534]);
    assert.deepEqual(e!.clients, ['127.0.0.1', '::1']);
    assert.ok(e!.allows('127.0.0.1') && !e!.allows('10.0.0.1'));
    assert.equal(parseExports([{ path: '/x', id: 9 }])[0]!.id, 9);
  });

  test('bad values are refused with a message naming the field', () => {
    const bad: [unknown, RegExp][] = [
      [[], /exports must be a non-empty list/],
      [[{}], /exports\[0\]\.path must be a string/],
      [[{ path: 'rel' }], /exports\[0\]\.path: "rel" must be absolute/],
      [[{ path: '/a/../b' }], /exports\[0\]\.path/],
      [[{ path: '/', clients: [] }], /exports\[0\]\.clients must be a non-empty list/],
      [[{ path: '/', clients: ['host.example'] }], /exports\[0\]\.clients\[0\]: "host.example" is not/],
      [[{ path: '/', clients: ['10.0.0.0/33'] }], /exports\[0\]\.clients\[0\]: "10.0.0.0\/33" has a bad prefix length/],
      [[{ path: '/', clients: ['::/129'] }], /bad prefix length \(0\.\.128\)/],
      [[{ path: '/', clients: [5] }], /clients\[0\] must be a string/],
      [[{ path: '/', readOnly: 'yes' }], /exports\[0\]\.readOnly must be true or false/],
      [[{ path: '/', squash: 'root_squash' }], /exports\[0\]\.squash must be "root", "all" or "none"/],
      [[{ path: '/', anonUid: -1 }], /exports\[0\]\.anonUid must be an integer/],
      [[{ path: '/', anonGid: 1.5 }], /exports\[0\]\.anonGid must be an integer/],
      [[{ path: '/', id: 0 }], /exports\[0\]\.id must be an integer from 1/],
      [[{ path: '/', color: 'red' }], /exports\[0\]: unknown key "color"/],
      [[{ path: '/a' }, { path: '/a/' }], /exports\[1\]\.path: "\/a" is exported twice/],
      [[{ path: '/a', id: 3 }, { path: '/b', id: 3 }], /exports\[1\]\.id: 3 is also the id of exports\[0\]/],
    ];
    for (const [v, re] of bad) assert.throws(() => parseExports(v), (err: Error) => err instanceof ExportConfigError && re.test(err.message), JSON.stringify(v));
  });

  test('init: an export whose directory does not exist names it', async () => {
    const v = await createMemoryVfs();
    try {
      await assert.rejects(new ExportTable(parseExports([{ path: '/missing' }])).init(v.vfs), /NFS export "\/missing"/);
    } finally {
      await v.close();
    }
  });
});

describe('exports enforced per request', () => {
  let v: VfsInstance;
  let nfs: Nfs3Service;
  let programs: Programs;
  let xid = 1;
  const LOCAL = '127.0.0.1:800', LAN = '10.1.2.3:800', OUTSIDE = '192.0.2.9:800';

  before(async () => {
    v = await createMemoryVfs();
    const pub = await v.vfs.mkdir(ROOT_CTX, 1, 'pub', 0o777);
    await v.vfs.mkdir(ROOT_CTX, pub.ino, 'sub', 0o777);
    await v.vfs.mkdir(ROOT_CTX, 1, 'ro', 0o777);
    const table = new ExportTable(parseExports([
      { path: '/pub', clients: ['127.0.0.1', '10.0.0.0/8'] },
      { path: '/ro', clients: ['*'], readOnly: true, squash: 'none' },
      { path: '/pub/sub', clients: ['10.0.0.0/8'], squash: 'all', anonUid: 4242, anonGid: 4343 },
    ]));
    await table.init(v.vfs);
    nfs = new Nfs3Service(v.vfs, { exportId: 1, exports: table, idleMs: 50 });
    programs = new Map([[MOUNT_PROG, mountProgram(v.vfs, table)], [NFS_PROG, nfs.program()]]);
  });
  after(async () => {
    await nfs.close();
    await v.close();
  });

  async function rpc(peer: string, prog: number, proc: number, args: Uint8Array, cred = sys(0, 0)) {
    const out = await answer(programs, encodeCall({ xid: xid++, prog, vers: 3, proc, cred }, args), peer);
    const r = decodeReply(out!);
    assert.ok(r.kind === 'accepted' && r.stat === ACCEPT.SUCCESS);
    return r.results;
  }
  const mnt = async (peer: string, path: string) => decodeMntResult(await rpc(peer, MOUNT_PROG, MOUNT_PROC.MNT, encodeDirpath(path)));
  async function nfs3<P extends Proc>(peer: string, proc: P, args: ArgsOf[P], cred = sys(0, 0)) {
    const r = await rpc(peer, NFS_PROG, proc, encodeArgs(proc, args), cred);
    return { status: r.uint(), r };
  }

  test('MNT: a listed client gets the export\'s handle (export id inside); others and unexported paths MNT3ERR_ACCES', async () => {
    const a = await mnt(LOCAL, '/pub');
    assert.equal(a.status, MNT3.OK);
    assert.equal(decodeFh(a.fh!)!.exportId, exportIdOf('/pub'));
    assert.equal((await mnt(LAN, '/pub/sub')).status, MNT3.OK);
    assert.equal(decodeFh((await mnt(LAN, '/pub/sub')).fh!)!.exportId, exportIdOf('/pub/sub'), 'the longest exported prefix');
    assert.equal((await mnt(LOCAL, '/pub/sub')).status, MNT3.ERR_ACCES);
    assert.equal((await mnt(OUTSIDE, '/pub')).status, MNT3.ERR_ACCES);
    assert.equal((await mnt(LOCAL, '/')).status, MNT3.ERR_ACCES, '/ is not exported');
    assert.equal((await mnt(LOCAL, '/nothing')).status, MNT3.ERR_ACCES);
    assert.equal((await mnt(OUTSIDE, '/ro')).status, MNT3.OK);
  });

  test('a handle used by a client not listed for its export: NFS3ERR_ACCES', async () => {
    const fh = (await mnt(LOCAL, '/pub')).fh!;
    assert.equal((await nfs3(LOCAL, PROC.GETATTR, fh)).status, NFS3.OK);
    assert.equal((await nfs3(OUTSIDE, PROC.GETATTR, fh)).status, NFS3.ERR_ACCES);
    assert.equal((await nfs3(OUTSIDE, PROC.CREATE, { where: { dir: fh, name: 'x' }, mode: CREATE_MODE.UNCHECKED, attr: {} })).status, NFS3.ERR_ACCES);
  });

  test('read-only export: changes answer NFS3ERR_ROFS, reads work, ACCESS grants no MODIFY', async () => {
    const fh = (await mnt(LOCAL, '/ro')).fh!;
    assert.equal((await nfs3(LOCAL, PROC.CREATE, { where: { dir: fh, name: 'x' }, mode: CREATE_MODE.UNCHECKED, attr: {} })).status, NFS3.ERR_ROFS);
    assert.equal((await nfs3(LOCAL, PROC.MKDIR, { where: { dir: fh, name: 'd' }, attr: {} })).status, NFS3.ERR_ROFS);
    assert.equal((await nfs3(LOCAL, PROC.SETATTR, { fh, attr: { mode: 0o700 } })).status, NFS3.ERR_ROFS);
    assert.equal((await nfs3(LOCAL, PROC.GETATTR, fh)).status, NFS3.OK);
    const acc = await nfs3(LOCAL, PROC.ACCESS, { fh, access: 0x3f });
    assert.equal(acc.status, NFS3.OK);
    readPostOpAttr(acc.r);
    assert.equal(acc.r.uint() & (ACCESS3.MODIFY | ACCESS3.EXTEND | ACCESS3.DELETE), 0);
    // A RENAME from a writable export into the read-only one: two exports → XDEV.
    const pub = (await mnt(LOCAL, '/pub')).fh!;
    assert.equal((await nfs3(LOCAL, PROC.RENAME, { from: { dir: pub, name: 'a' }, to: { dir: fh, name: 'a' } })).status, NFS3.ERR_XDEV);
  });

  test('root squash makes root the anon user; all squash everyone; none keeps the caller', async () => {
    const pub = (await mnt(LOCAL, '/pub')).fh!;
    const c = await nfs3(LOCAL, PROC.CREATE, { where: { dir: pub, name: 'by-root' }, mode: CREATE_MODE.GUARDED, attr: {} });
    assert.equal(c.status, NFS3.OK);
    c.r.bool();
    c.r.opaque(64);
    assert.ok(c.r.bool());
    const a = readFattr3(c.r);
    assert.deepEqual([a.uid, a.gid], [65534, 65534]);
    const sub = (await mnt(LAN, '/pub/sub')).fh!;
    const d = await nfs3(LAN, PROC.MKDIR, { where: { dir: sub, name: 'by-user' }, attr: {} }, sys(1000, 100));
    assert.equal(d.status, NFS3.OK);
    d.r.bool();
    d.r.opaque(64);
    assert.ok(d.r.bool());
    const b = readFattr3(d.r);
    assert.deepEqual([b.uid, b.gid], [4242, 4343]);
  });

  test('".." at the export\'s directory is the directory itself', async () => {
    const sub = (await mnt(LAN, '/pub/sub')).fh!;
    const l = await nfs3(LAN, PROC.LOOKUP, { dir: sub, name: '..' });
    assert.equal(l.status, NFS3.OK);
    assert.deepEqual(l.r.opaque(64), sub);
  });

  test('EXPORT lists the exports with their clients', async () => {
    const list = decodeExports(await rpc(OUTSIDE, MOUNT_PROG, MOUNT_PROC.EXPORT, new Uint8Array(0)));
    assert.deepEqual(list, [
      { dir: '/pub', groups: ['127.0.0.1', '10.0.0.0/8'] },
      { dir: '/ro', groups: ['*'] },
      { dir: '/pub/sub', groups: ['10.0.0.0/8'] },
    ]);
  });
});
