/**
 * The duplicate request cache: bounds, age, joining a running call, replies not kept; and through
 * the dispatcher, a retransmitted REMOVE / RENAME / MKDIR answers as the first call did; over
 * TCP, a retransmitted NFSv4.0 COMPOUND with a REMOVE too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createMemoryVfs, type VfsInstance } from '../../vfs/index.js';
import { ReplyCache } from './drc.js';
import { Nfs3Service } from './nfs3.js';
import { mountProgram } from './programs.js';
import { answer, hostOf, type Programs } from './session.js';
import { decodeMntResult, encodeDirpath, MOUNT_PROC, MOUNT_PROG } from './wire/mount.js';
import { CREATE_MODE, encodeArgs, NFS3, NFS_PROG, PROC, type ArgsOf, type Proc } from './wire/nfs3.js';
import { ACCEPT, AUTH, decodeReply, encodeAuthSys, encodeCall } from './wire/rpc.js';
import { ROOT_CTX } from '../../vfs/index.js';
import { startNfsServer } from './server.js';
import { Nfs4Service } from './v4/service.js';
import { encodeCompound, NFS4, NFSPROC4_COMPOUND, OP, op, type Op4 } from './wire/nfs4.js';
import { decodeCompoundRes } from './wire/nfs4-res.js';
import { XdrError, XdrReader } from './wire/xdr.js';
import { rpcRaw } from '../../test/e2e/nfs-harness.js';

const ROOT = { flavor: AUTH.SYS, body: encodeAuthSys({ stamp: 1, machinename: 'test', uid: 0, gid: 0, gids: [] }) };
const buf = (s: string) => Buffer.from(s);

describe('ReplyCache', () => {
  test('a second call with the same key gets the first reply; the call runs once', async () => {
    const c = new ReplyCache();
    let runs = 0;
    const run = async () => buf(`reply ${++runs}`);
    assert.equal(String(await c.run('k', run)), 'reply 1');
    assert.equal(String(await c.run('k', run)), 'reply 1');
    assert.equal(String(await c.run('other', run)), 'reply 2');
    assert.equal(c.hits, 1);
  });

  test('a retransmission while the call runs waits for the same reply', async () => {
    const c = new ReplyCache();
    let release!: () => void;
    let runs = 0;
    const run = () => new Promise<Buffer>((r) => { runs++; release = () => r(buf('done')); });
    const a = c.run('k', run);
    const b = c.run('k', run);
    release();
    assert.deepEqual((await Promise.all([a, b])).map(String), ['done', 'done']);
    assert.equal(runs, 1);
  });

  test('bounded by entries (oldest dropped) and by age', async () => {
    let t = 0;
    const c = new ReplyCache({ maxEntries: 3, maxAgeMs: 1000, now: () => t });
    for (const k of ['a', 'b', 'c', 'd']) await c.run(k, async () => buf(k));
    assert.equal(c.size, 3);
    assert.equal(String(await c.run('a', async () => buf('a again'))), 'a again', 'a was dropped');
    t = 999;
    assert.equal(String(await c.run('c', async () => buf('c again'))), 'c', 'c still kept');
    t = 1000;
    assert.equal(String(await c.run('c', async () => buf('c again'))), 'c again', 'c expired');
    assert.ok(c.size <= 3);
  });

  test('replies not kept, failures and no reply run again', async () => {
    const c = new ReplyCache();
    let n = 0;
    const run = async () => buf(`r${++n}`);
    await c.run('k', run, () => false);
    assert.equal(String(await c.run('k', run, () => false)), 'r2');
    await assert.rejects(c.run('f', async () => { throw new Error('boom'); }));
    assert.equal(String(await c.run('f', run)), 'r3');
    await c.run('u', async () => undefined);
    assert.equal(String(await c.run('u', run)), 'r4');
  });

  test('the key: host without port, xid, program, version, procedure, body', () => {
    const rec = (xid: number, arg: string) => encodeCall({ xid, prog: NFS_PROG, vers: 3, proc: PROC.REMOVE, cred: ROOT }, buf(arg.padEnd(8)));
    const k = (host: string, r: Buffer, xid = 1) => ReplyCache.key(host, r, xid, NFS_PROG, 3, PROC.REMOVE);
    assert.equal(k('10.0.0.1', rec(1, 'x')), k('10.0.0.1', rec(1, 'x')));
    assert.notEqual(k('10.0.0.1', rec(1, 'x')), k('10.0.0.2', rec(1, 'x')));
    assert.notEqual(k('10.0.0.1', rec(1, 'x')), k('10.0.0.1', rec(1, 'y')));
    assert.notEqual(k('10.0.0.1', rec(1, 'x')), k('10.0.0.1', rec(2, 'x'), 2));
    assert.equal(hostOf('127.0.0.1:700'), '127.0.0.1');
    assert.equal(hostOf('::1:700'), '::1');
  });
});

describe('duplicate request cache in the dispatcher', () => {
  let v: VfsInstance;
  let nfs: Nfs3Service;
  let programs: Programs;
  let root: Buffer;
  const drc = new ReplyCache();
  let xid = 100;

  before(async () => {
    v = await createMemoryVfs();
    nfs = new Nfs3Service(v.vfs, { exportId: 1, idleMs: 50 });
    programs = new Map([[MOUNT_PROG, mountProgram(v.vfs, 1)], [NFS_PROG, nfs.program()]]);
    const out = await answer(programs, encodeCall({ xid: xid++, prog: MOUNT_PROG, vers: 3, proc: MOUNT_PROC.MNT, cred: ROOT }, encodeDirpath('/')), '127.0.0.1:1');
    const rep = decodeReply(out!);
    assert.ok(rep.kind === 'accepted');
    root = decodeMntResult(rep.results).fh!;
  });
  after(async () => {
    await nfs.close();
    await v.close();
  });

  /** Sends one encoded call (from `peer`, through `cache`) and returns the nfsstat3 and the raw reply. */
  async function send(record: Buffer, peer = '127.0.0.1:900', cache: ReplyCache | null = drc): Promise<{ status: number; raw: Buffer }> {
    const out = await answer(programs, record, peer, undefined, cache ?? undefined);
    const rep = decodeReply(out!);
    assert.ok(rep.kind === 'accepted' && rep.stat === ACCEPT.SUCCESS);
    return { status: rep.results.uint(), raw: out! };
  }
  const call = <P extends Proc>(proc: P, args: ArgsOf[P], x = xid++) => encodeCall({ xid: x, prog: NFS_PROG, vers: 3, proc, cred: ROOT }, encodeArgs(proc, args));

  test('the same encoded REMOVE twice answers NFS3_OK twice, byte for byte (even from another port)', async () => {
    assert.equal((await send(call(PROC.CREATE, { where: { dir: root, name: 'f' }, mode: CREATE_MODE.GUARDED, attr: {} }))).status, NFS3.OK);
    const rm = call(PROC.REMOVE, { dir: root, name: 'f' });
    const a = await send(rm);
    const b = await send(rm, '127.0.0.1:901');
    assert.equal(a.status, NFS3.OK);
    assert.deepEqual(b.raw, a.raw);
    // A new call (new xid) does run again; another client's same xid is not confused with ours.
    assert.equal((await send(call(PROC.REMOVE, { dir: root, name: 'f' }))).status, NFS3.ERR_NOENT);
    assert.equal((await send(rm, '127.0.0.2:900')).status, NFS3.ERR_NOENT);
    // Without the cache, the retransmission answers NOENT (what clients saw before).
    assert.equal((await send(call(PROC.CREATE, { where: { dir: root, name: 'g' }, mode: CREATE_MODE.GUARDED, attr: {} }))).status, NFS3.OK);
    const rm2 = call(PROC.REMOVE, { dir: root, name: 'g' });
    assert.equal((await send(rm2, undefined, null)).status, NFS3.OK);
    assert.equal((await send(rm2, undefined, null)).status, NFS3.ERR_NOENT);
  });

  test('RENAME, MKDIR, RMDIR retransmitted at once run once', async () => {
    const mk = call(PROC.MKDIR, { where: { dir: root, name: 'd' }, attr: {} });
    const both = await Promise.all([send(mk), send(mk)]);
    assert.deepEqual(both.map((r) => r.status), [NFS3.OK, NFS3.OK]);
    const mv = call(PROC.RENAME, { from: { dir: root, name: 'd' }, to: { dir: root, name: 'e' } });
    assert.equal((await send(mv)).status, NFS3.OK);
    assert.equal((await send(mv)).status, NFS3.OK);
    const rd = call(PROC.RMDIR, { dir: root, name: 'e' });
    assert.equal((await send(rd)).status, NFS3.OK);
    assert.equal((await send(rd)).status, NFS3.OK);
  });

  test('idempotent procedures are not cached', async () => {
    const before = drc.size;
    const look = call(PROC.LOOKUP, { dir: root, name: 'nothing' });
    assert.equal((await send(look)).status, NFS3.ERR_NOENT);
    assert.equal((await send(look)).status, NFS3.ERR_NOENT);
    assert.equal(drc.size, before);
  });
});

describe('duplicate request cache for NFSv4.0 COMPOUNDs', () => {
  const over = rpcRaw;
  const status = (reply: Buffer): number => {
    const r = decodeReply(reply);
    assert.ok(r.kind === 'accepted' && r.stat === ACCEPT.SUCCESS);
    return decodeCompoundRes(r.results).status;
  };
  const removeCall = (xid: number, minor: number, name: string) => encodeCall(
    { xid, prog: NFS_PROG, vers: 4, proc: NFSPROC4_COMPOUND, cred: ROOT },
    encodeCompound('drc', minor, [op(OP.PUTROOTFH, undefined), op(OP.REMOVE, Buffer.from(name))]),
  );

  test('a retransmitted 4.0 REMOVE answers NFS4_OK again (NFS4ERR_NOENT without the cache); reads are not kept', async () => {
    for (const drc of [true, false]) {
      const v = await createMemoryVfs();
      const srv = await startNfsServer({ vfs: v.vfs, host: '127.0.0.1', port: 0, nlm: false, udp: false, ...(drc ? {} : { drc: false as const }) });
      try {
        for (const n of ['a', 'b']) {
          const { fh } = await v.paths.open(ROOT_CTX, `/${n}`, { write: true, create: true });
          await v.vfs.release(ROOT_CTX, fh);
        }
        const call = removeCall(77, 0, 'a');
        const first = await over(srv.port, call);
        assert.equal(status(first), NFS4.OK);
        const again = await over(srv.port, call);
        if (drc) {
          assert.equal(status(again), NFS4.OK, 'the cached reply');
          assert.deepEqual(again, first, 'byte for byte');
        } else assert.equal(status(again), NFS4.ERR_NOENT, 'without the cache the REMOVE runs twice');
        // A new xid is a new call: NOENT now.
        assert.equal(status(await over(srv.port, removeCall(78, 0, 'a'))), NFS4.ERR_NOENT);
      } finally {
        await srv.close();
        await v.close();
      }
    }
  });

  test('wantsReplyCache: 4.0 with a namespace or data change yes; reads, 4.1 and garbage no', () => {
    const args = (minor: number, ops: Op4[]) => new XdrReader(encodeCompound('t', minor, ops));
    assert.equal(Nfs4Service.wantsReplyCache(args(0, [op(OP.PUTROOTFH, undefined), op(OP.REMOVE, Buffer.from('x'))])), true);
    assert.equal(Nfs4Service.wantsReplyCache(args(0, [op(OP.PUTROOTFH, undefined), op(OP.GETFH, undefined)])), false);
    assert.equal(Nfs4Service.wantsReplyCache(args(1, [op(OP.PUTROOTFH, undefined), op(OP.REMOVE, Buffer.from('x'))])), false);
    assert.throws(() => Nfs4Service.wantsReplyCache(new XdrReader(Buffer.from([0, 0, 0, 9]))), XdrError);
  });
});
