/**
 * The RPC dispatcher, PORTMAP, MOUNT and every NFSv3 procedure, driven through encoded RPC
 * calls over a memory VFS; fuzzed calls; and the TCP server with fragmented records.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { createMemoryVfs, ROOT_CTX, type VfsInstance } from '../../vfs/index.js';
import { Nfs3Service } from './nfs3.js';
import { mappings, mountProgram, portmapProgram } from './programs.js';
import { answer, answerParts, type CallRecord, type Programs } from './session.js';
import { startNfsServer } from './server.js';
import { decodeExports, decodeMntResult, encodeDirpath, MNT3, MOUNT_PROC, MOUNT_PROG } from './wire/mount.js';
import {
  CREATE_MODE, encodeArgs, FTYPE, NFS3, NFS_PROG, PROC, readDirList, readFattr3, readPostOpAttr, readWcc, STABLE, type ArgsOf, type Proc,
} from './wire/nfs3.js';
import {
  decodeDumpResult, decodeRpcbDumpResult, encodeMapping, encodeRpcb, parseUniversalAddress, PMAP_PROC, PMAP_PROG, RPCB_PROC, type Rpcb, universalAddress,
} from './wire/portmap.js';
import { frameRecord, RecordDecoder } from './wire/record.js';
import { ACCEPT, AUTH, decodeReply, encodeAuthSys, encodeCall, REJECT, type OpaqueAuth, type RpcReply } from './wire/rpc.js';
import { XdrReader, XdrWriter } from './wire/xdr.js';

const sys = (uid: number, gid: number, gids: number[] = []): OpaqueAuth => ({ flavor: AUTH.SYS, body: encodeAuthSys({ stamp: 1, machinename: 'test', uid, gid, gids }) });
const ROOT = sys(0, 0);
let xid = 1;

describe('NFS over encoded RPC calls (memory VFS)', () => {
  let v: VfsInstance;
  let nfs: Nfs3Service;
  let programs: Programs;

  before(async () => {
    v = await createMemoryVfs();
    nfs = new Nfs3Service(v.vfs, { exportId: 7, idleMs: 50 });
    programs = new Map([[PMAP_PROG, portmapProgram(() => mappings(2049))], [MOUNT_PROG, mountProgram(v.vfs, 7)], [NFS_PROG, nfs.program()]]);
  });
  after(async () => {
    await nfs.close();
    await v.close();
  });

  async function rpc(prog: number, vers: number, proc: number, args: Uint8Array = new Uint8Array(0), cred = ROOT): Promise<RpcReply> {
    const x = xid++;
    const out = await answer(programs, encodeCall({ xid: x, prog, vers, proc, cred }, args), '127.0.0.1:999');
    assert.ok(out, 'a reply');
    const r = decodeReply(out);
    assert.equal(r.xid, x);
    return r;
  }
  /** An NFSv3 call that must be accepted: its results, after the status. */
  async function nfs3<P extends Proc>(proc: P, args: ArgsOf[P], cred = ROOT): Promise<{ status: number; r: XdrReader }> {
    const rep = await rpc(NFS_PROG, 3, proc, encodeArgs(proc, args), cred);
    assert.ok(rep.kind === 'accepted' && rep.stat === ACCEPT.SUCCESS, `proc ${proc} accepted`);
    return { status: rep.results.uint(), r: rep.results };
  }
  async function rootFh(): Promise<Buffer> {
    const rep = await rpc(MOUNT_PROG, 3, MOUNT_PROC.MNT, encodeDirpath('/'));
    assert.ok(rep.kind === 'accepted');
    return decodeMntResult(rep.results).fh!;
  }
  /** LOOKUP → the handle. */
  async function lookup(dir: Buffer, name: string): Promise<Buffer> {
    const { status, r } = await nfs3(PROC.LOOKUP, { dir, name });
    assert.equal(status, NFS3.OK, `lookup ${name}`);
    return r.opaque(64);
  }
  async function getattr(fh: Buffer) {
    const { status, r } = await nfs3(PROC.GETATTR, fh);
    return status === NFS3.OK ? readFattr3(r) : status;
  }

  test('RPC errors: unknown program, version, procedure; garbage; RPC version; credentials; not a call', async () => {
    const a = await rpc(123456, 1, 0);
    assert.ok(a.kind === 'accepted' && a.stat === ACCEPT.PROG_UNAVAIL);
    const b = await rpc(NFS_PROG, 4, 0);
    assert.ok(b.kind === 'accepted' && b.stat === ACCEPT.PROG_MISMATCH && b.mismatch?.low === 3 && b.mismatch.high === 3);
    const c = await rpc(NFS_PROG, 3, 22);
    assert.ok(c.kind === 'accepted' && c.stat === ACCEPT.PROC_UNAVAIL);
    const d = await rpc(NFS_PROG, 3, PROC.GETATTR, Buffer.from([0, 0, 1, 0]));
    assert.ok(d.kind === 'accepted' && d.stat === ACCEPT.GARBAGE_ARGS);
    const msg = encodeCall({ xid: 9, prog: NFS_PROG, vers: 3, proc: 0 });
    msg.writeUInt32BE(3, 8);
    const e = decodeReply((await answer(programs, msg, 'x:1'))!);
    assert.ok(e.kind === 'denied' && e.reject === REJECT.RPC_MISMATCH);
    const f = await rpc(NFS_PROG, 3, 0, undefined, { flavor: 6, body: Buffer.alloc(8) });
    assert.ok(f.kind === 'denied' && f.reject === REJECT.AUTH_ERROR);
    assert.equal(await answer(programs, Buffer.from([0, 0, 0, 1, 0, 0, 0, 1]), 'x:1'), undefined);
    const g = await rpc(NFS_PROG, 3, PROC.NULL, undefined, { flavor: AUTH.NONE, body: Buffer.alloc(0) });
    assert.ok(g.kind === 'accepted' && g.stat === ACCEPT.SUCCESS && g.results.remaining() === 0);
  });

  test('every answered call is reported to the observer: program, version, procedure name, outcome, time', async () => {
    const seen: CallRecord[] = [];
    const call = (prog: number, vers: number, proc: number, args: Uint8Array = new Uint8Array(0)) =>
      answerParts(programs, encodeCall({ xid: xid++, prog, vers, proc, cred: ROOT }, args), '127.0.0.1:999', undefined, undefined, (c) => seen.push(c));
    await call(NFS_PROG, 3, PROC.FSINFO, encodeArgs(PROC.FSINFO, await rootFh()));
    await call(NFS_PROG, 3, PROC.GETATTR, Buffer.from([0, 0, 1, 0]));
    await call(NFS_PROG, 3, 22);
    await call(NFS_PROG, 9, 0);
    await call(123456, 1, 0);
    await call(MOUNT_PROG, 3, MOUNT_PROC.EXPORT);
    assert.deepEqual(seen.map((c) => [c.program, c.version, c.procedure, c.outcome]), [
      ['nfs', 3, 'FSINFO', 'success'], ['nfs', 3, 'GETATTR', 'garbage_args'], ['nfs', 3, '22', 'proc_unavail'],
      ['nfs', 9, '0', 'prog_mismatch'], ['123456', 1, '0', 'prog_unavail'], ['mount', 3, 'EXPORT', 'success'],
    ]);
    for (const c of seen) assert.ok(c.seconds >= 0 && c.seconds < 5);
    assert.equal(seen.length, 6, 'one report per call, none for the MNT of rootFh (answered without an observer)');
  });

  test('rpcbind v3/v4 (RFC 1833 section 2): GETADDR, GETVERSADDR, DUMP, GETTIME, SET refused, the rest unavailable', async () => {
    const q = (m: Partial<Rpcb>) => {
      const w = new XdrWriter();
      encodeRpcb(w, { prog: NFS_PROG, vers: 3, netid: 'tcp', addr: '', owner: '', ...m });
      return w.bytes();
    };
    const uaddr = async (vers: number, proc: number, m: Partial<Rpcb>) => {
      const rep = await rpc(PMAP_PROG, vers, proc, q(m));
      assert.ok(rep.kind === 'accepted' && rep.stat === ACCEPT.SUCCESS);
      return rep.results.string(255);
    };
    // 2049 = 8 * 256 + 1; the caller is on loopback, so is the address.
    assert.equal(await uaddr(3, RPCB_PROC.GETADDR, {}), '127.0.0.1.8.1');
    assert.equal(await uaddr(4, RPCB_PROC.GETADDR, { netid: '' }), '127.0.0.1.8.1', 'an empty netid is TCP');
    assert.equal(await uaddr(3, RPCB_PROC.GETADDR, { vers: 4 }), '', 'v3: that version only');
    assert.equal(await uaddr(4, RPCB_PROC.GETADDR, { vers: 4 }), '127.0.0.1.8.1', 'v4 GETADDR: another version of the program');
    assert.equal(await uaddr(4, RPCB_PROC.GETVERSADDR, { vers: 4 }), '', 'GETVERSADDR: exactly the version');
    assert.equal(await uaddr(4, RPCB_PROC.GETVERSADDR, { prog: MOUNT_PROG }), '127.0.0.1.8.1');
    assert.equal(await uaddr(4, RPCB_PROC.GETADDR, { netid: 'udp' }), '', 'no NFS over UDP');
    assert.equal(await uaddr(3, RPCB_PROC.GETADDR, { prog: 100099 }), '');
    assert.deepEqual(parseUniversalAddress('127.0.0.1.8.1'), { host: '127.0.0.1', port: 2049 });
    assert.deepEqual(parseUniversalAddress(universalAddress('::1', 65535)), { host: '::1', port: 65535 });

    const dump = await rpc(PMAP_PROG, 4, RPCB_PROC.DUMP);
    assert.ok(dump.kind === 'accepted');
    const list = decodeRpcbDumpResult(dump.results);
    assert.deepEqual(list.map((e) => `${e.prog}/${e.vers}/${e.netid}/${e.addr}/${e.owner}`).sort(), [
      '100000/2/tcp/127.0.0.1.8.1/superuser', '100000/3/tcp/127.0.0.1.8.1/superuser', '100000/4/tcp/127.0.0.1.8.1/superuser',
      '100003/3/tcp/127.0.0.1.8.1/superuser', '100005/3/tcp/127.0.0.1.8.1/superuser',
    ]);
    const set = await rpc(PMAP_PROG, 3, RPCB_PROC.SET, q({ prog: 200000, addr: '127.0.0.1.1.1', owner: 'x' }));
    assert.ok(set.kind === 'accepted' && set.results.bool() === false, 'SET answers FALSE');
    const t = await rpc(PMAP_PROG, 4, RPCB_PROC.GETTIME);
    assert.ok(t.kind === 'accepted' && Math.abs(t.results.uint() - Date.now() / 1000) < 5);
    for (const proc of [RPCB_PROC.CALLIT, RPCB_PROC.INDIRECT, RPCB_PROC.GETADDRLIST, RPCB_PROC.GETSTAT, RPCB_PROC.UADDR2TADDR]) {
      const r = await rpc(PMAP_PROG, 4, proc);
      assert.ok(r.kind === 'accepted' && r.stat === ACCEPT.PROC_UNAVAIL, `proc ${proc} unavailable`);
    }
    const v3vers = await rpc(PMAP_PROG, 3, RPCB_PROC.GETVERSADDR);
    assert.ok(v3vers.kind === 'accepted' && v3vers.stat === ACCEPT.PROC_UNAVAIL, 'GETVERSADDR is v4 only');
    const bad = await rpc(PMAP_PROG, 4, RPCB_PROC.GETADDR, q({}).subarray(0, 10));
    assert.ok(bad.kind === 'accepted' && bad.stat === ACCEPT.GARBAGE_ARGS);
    const tooNew = await rpc(PMAP_PROG, 5, RPCB_PROC.NULL);
    assert.ok(tooNew.kind === 'accepted' && tooNew.stat === ACCEPT.PROG_MISMATCH);
  });

  test('PORTMAP GETPORT and DUMP; MOUNT MNT, EXPORT, DUMP, UMNT', async () => {
    const w = new XdrWriter();
    encodeMapping(w, { prog: NFS_PROG, vers: 3, prot: 6, port: 0 });
    const gp = await rpc(PMAP_PROG, 2, PMAP_PROC.GETPORT, w.bytes());
    assert.ok(gp.kind === 'accepted' && gp.results.uint() === 2049);
    const w2 = new XdrWriter();
    encodeMapping(w2, { prog: NFS_PROG, vers: 4, prot: 6, port: 0 });
    const none = await rpc(PMAP_PROG, 2, PMAP_PROC.GETPORT, w2.bytes());
    assert.ok(none.kind === 'accepted' && none.results.uint() === 0);
    const dump = await rpc(PMAP_PROG, 2, PMAP_PROC.DUMP);
    // PORTMAP v2 and rpcbind v3 and v4, MOUNT v3, NFS v3.
    assert.ok(dump.kind === 'accepted' && decodeDumpResult(dump.results).length === 5);
    const fh = await rootFh();
    assert.equal(fh.length, 24);
    const miss = await rpc(MOUNT_PROG, 3, MOUNT_PROC.MNT, encodeDirpath('/nope'));
    assert.ok(miss.kind === 'accepted' && decodeMntResult(miss.results).status === MNT3.ERR_NOENT);
    const ex = await rpc(MOUNT_PROG, 3, MOUNT_PROC.EXPORT);
    assert.ok(ex.kind === 'accepted' && decodeExports(ex.results)[0]?.dir === '/');
    const dl = await rpc(MOUNT_PROG, 3, MOUNT_PROC.DUMP);
    assert.ok(dl.kind === 'accepted' && dl.results.bool() && dl.results.string(255) === '127.0.0.1');
    await rpc(MOUNT_PROG, 3, MOUNT_PROC.UMNT, encodeDirpath('/'));
    const dl2 = await rpc(MOUNT_PROG, 3, MOUNT_PROC.DUMP);
    assert.ok(dl2.kind === 'accepted' && !dl2.results.bool());
  });

  test('files: CREATE modes, WRITE stable and unstable, COMMIT, READ with eof, SETATTR with guard', async () => {
    const root = await rootFh();
    const c1 = await nfs3(PROC.CREATE, { where: { dir: root, name: 'a.txt' }, mode: CREATE_MODE.GUARDED, attr: { mode: 0o640 } });
    assert.equal(c1.status, NFS3.OK);
    assert.ok(c1.r.bool());
    const fh = c1.r.opaque(64);
    assert.equal((readPostOpAttr(c1.r))?.mode, 0o640);
    assert.equal((await nfs3(PROC.CREATE, { where: { dir: root, name: 'a.txt' }, mode: CREATE_MODE.GUARDED, attr: {} })).status, NFS3.ERR_EXIST);
    assert.equal((await nfs3(PROC.CREATE, { where: { dir: root, name: 'a.txt' }, mode: CREATE_MODE.UNCHECKED, attr: {} })).status, NFS3.OK);
    const verf = Buffer.from('verifier');
    assert.equal((await nfs3(PROC.CREATE, { where: { dir: root, name: 'x.txt' }, mode: CREATE_MODE.EXCLUSIVE, verf })).status, NFS3.OK);
    assert.equal((await nfs3(PROC.CREATE, { where: { dir: root, name: 'x.txt' }, mode: CREATE_MODE.EXCLUSIVE, verf })).status, NFS3.OK, 'a retransmission succeeds');
    assert.equal((await nfs3(PROC.CREATE, { where: { dir: root, name: 'x.txt' }, mode: CREATE_MODE.EXCLUSIVE, verf: Buffer.from('otherone') })).status, NFS3.ERR_EXIST);

    const w1 = await nfs3(PROC.WRITE, { fh, offset: 0n, count: 5, stable: STABLE.UNSTABLE, data: Buffer.from('hello') });
    assert.equal(w1.status, NFS3.OK);
    readWcc(w1.r);
    assert.equal(w1.r.uint(), 5);
    assert.equal(w1.r.uint(), STABLE.UNSTABLE);
    const verifier = w1.r.fixed(8);
    const w2 = await nfs3(PROC.WRITE, { fh, offset: 5n, count: 6, stable: STABLE.FILE_SYNC, data: Buffer.from(' world') });
    assert.equal(w2.status, NFS3.OK);
    assert.equal(readWcc(w2.r).post?.size, 11n);
    assert.equal(w2.r.uint(), 6);
    assert.equal(w2.r.uint(), STABLE.FILE_SYNC);
    assert.deepEqual(w2.r.fixed(8), verifier);
    const cm = await nfs3(PROC.COMMIT, { fh, offset: 0n, count: 0 });
    assert.equal(cm.status, NFS3.OK);
    readWcc(cm.r);
    assert.deepEqual(cm.r.fixed(8), verifier);

    const rd = await nfs3(PROC.READ, { fh, offset: 6n, count: 100 });
    assert.equal(rd.status, NFS3.OK);
    assert.equal(readPostOpAttr(rd.r)?.size, 11n);
    assert.equal(rd.r.uint(), 5);
    assert.equal(rd.r.bool(), true);
    assert.equal(rd.r.opaque(100).toString(), 'world');
    const rd2 = await nfs3(PROC.READ, { fh, offset: 0n, count: 2 });
    readPostOpAttr(rd2.r);
    assert.equal(rd2.r.uint(), 2);
    assert.equal(rd2.r.bool(), false);
    assert.equal((await nfs3(PROC.READ, { fh: root, offset: 0n, count: 2 })).status, NFS3.ERR_ISDIR);

    const sa = await nfs3(PROC.SETATTR, { fh, attr: { size: 4n, mtime: { sec: 1000, nsec: 5 } } });
    assert.equal(sa.status, NFS3.OK);
    const wcc = readWcc(sa.r);
    assert.equal(wcc.pre?.size, 11n);
    assert.equal(wcc.post?.size, 4n);
    assert.deepEqual(wcc.post?.mtime, { sec: 1000, nsec: 5 });
    assert.equal((await nfs3(PROC.SETATTR, { fh, attr: { mode: 0o600 }, guard: { sec: 1, nsec: 0 } })).status, NFS3.ERR_NOT_SYNC);
  });

  test('a large READ reply comes as segments with the data uncopied; joined, it is the reply answer() gives', async () => {
    const dir = await rootFh();
    const { status, r } = await nfs3(PROC.CREATE, { where: { dir, name: 'big-read' }, mode: CREATE_MODE.UNCHECKED, attr: {} });
    assert.equal(status, NFS3.OK);
    const fh = r.optional((x) => x.opaque(64))!;
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    assert.equal((await nfs3(PROC.WRITE, { fh, offset: 0n, count: data.length, stable: STABLE.FILE_SYNC, data })).status, NFS3.OK);
    const call = encodeCall({ xid: 4242, prog: NFS_PROG, vers: 3, proc: PROC.READ, cred: ROOT }, encodeArgs(PROC.READ, { fh, offset: 1000n, count: 200_000 }));
    const parts = await answerParts(programs, call, '127.0.0.1:999');
    assert.ok(parts && parts.length >= 3, 'header, results, data, padding/tail');
    assert.ok(parts.some((p) => p.length === 200_000), 'the data is one segment');
    const whole = await answer(programs, call, '127.0.0.1:999');
    assert.deepEqual(Buffer.concat(parts), whole);
    const rep = decodeReply(whole!);
    assert.ok(rep.kind === 'accepted' && rep.stat === ACCEPT.SUCCESS);
    assert.equal(rep.results.uint(), NFS3.OK);
    readPostOpAttr(rep.results);
    assert.equal(rep.results.uint(), 200_000);
    assert.equal(rep.results.bool(), false, 'not eof');
    assert.deepEqual(rep.results.opaque(1 << 20), data.subarray(1000, 201_000));
    rep.results.end();
  });

  test('names: MKDIR, LOOKUP, SYMLINK/READLINK, LINK, RENAME, REMOVE, RMDIR, MKNOD; stale and bad handles', async () => {
    const root = await rootFh();
    assert.equal((await nfs3(PROC.MKDIR, { where: { dir: root, name: 'd' }, attr: { mode: 0o750 } })).status, NFS3.OK);
    const d = await lookup(root, 'd');
    assert.equal((await getattr(d) as { mode: number }).mode, 0o750);
    assert.deepEqual(await lookup(d, '..'), root);
    assert.equal((await nfs3(PROC.LOOKUP, { dir: d, name: 'none' })).status, NFS3.ERR_NOENT);
    assert.equal((await nfs3(PROC.SYMLINK, { where: { dir: d, name: 'l' }, attr: {}, target: '../a.txt' })).status, NFS3.OK);
    const rl = await nfs3(PROC.READLINK, await lookup(d, 'l'));
    readPostOpAttr(rl.r);
    assert.equal(rl.r.string(100), '../a.txt');
    const f = await lookup(root, 'a.txt');
    assert.equal((await nfs3(PROC.LINK, { fh: f, link: { dir: d, name: 'hard' } })).status, NFS3.OK);
    assert.equal((await getattr(f) as { nlink: number }).nlink, 2);
    assert.equal((await nfs3(PROC.RENAME, { from: { dir: d, name: 'hard' }, to: { dir: root, name: 'moved' } })).status, NFS3.OK);
    assert.equal((await nfs3(PROC.RMDIR, { dir: root, name: 'd' })).status, NFS3.ERR_NOTEMPTY);
    assert.equal((await nfs3(PROC.MKNOD, { where: { dir: d, name: 'fifo' }, type: FTYPE.FIFO, attr: { mode: 0o600 } })).status, NFS3.OK);
    assert.equal((await getattr(await lookup(d, 'fifo')) as { type: number }).type, FTYPE.FIFO);
    assert.equal((await nfs3(PROC.MKNOD, { where: { dir: d, name: 'r' }, type: FTYPE.REG })).status, NFS3.ERR_BADTYPE);
    for (const n of ['l', 'fifo']) assert.equal((await nfs3(PROC.REMOVE, { dir: d, name: n })).status, NFS3.OK);
    assert.equal((await nfs3(PROC.RMDIR, { dir: root, name: 'd' })).status, NFS3.OK);
    assert.equal(await getattr(d), NFS3.ERR_STALE, 'a removed directory');
    const moved = await lookup(root, 'moved');
    assert.equal((await nfs3(PROC.REMOVE, { dir: root, name: 'moved' })).status, NFS3.OK);
    assert.equal((await nfs3(PROC.REMOVE, { dir: root, name: 'a.txt' })).status, NFS3.OK);
    await nfs.files.sweep(true);
    assert.equal(await getattr(moved), NFS3.ERR_STALE, 'a removed file');
    assert.equal(await getattr(Buffer.alloc(10)), NFS3.ERR_BADHANDLE);
    const other = Buffer.from(root);
    other.writeUInt32BE(8, 4);
    assert.equal(await getattr(other), NFS3.ERR_STALE, 'another export');
  });

  test('permissions come from AUTH_SYS; AUTH_NONE is nobody; ACCESS answers the bits allowed', async () => {
    const root = await rootFh();
    const alice = sys(1000, 1000);
    await nfs3(PROC.MKDIR, { where: { dir: root, name: 'home' }, attr: { mode: 0o755 } });
    const home = await lookup(root, 'home');
    assert.equal((await nfs3(PROC.MKDIR, { where: { dir: home, name: 'no' }, attr: {} }, alice)).status, NFS3.ERR_ACCES);
    const acc = await nfs3(PROC.ACCESS, { fh: home, access: 0x3f }, alice);
    readPostOpAttr(acc.r);
    assert.equal(acc.r.uint(), 0x01 | 0x02, 'read and lookup, no modify');
    assert.equal((await nfs3(PROC.SETATTR, { fh: home, attr: { uid: 1000, gid: 1000 } })).status, NFS3.OK);
    assert.equal((await nfs3(PROC.CREATE, { where: { dir: home, name: 'mine' }, mode: CREATE_MODE.UNCHECKED, attr: {} }, alice)).status, NFS3.OK);
    const acc2 = await nfs3(PROC.ACCESS, { fh: home, access: 0x3f }, alice);
    readPostOpAttr(acc2.r);
    assert.equal(acc2.r.uint(), 0x3f & ~0x20, 'everything on a directory of her own');
    const none = await nfs3(PROC.CREATE, { where: { dir: home, name: 'anon' }, mode: CREATE_MODE.UNCHECKED, attr: {} }, { flavor: AUTH.NONE, body: Buffer.alloc(0) });
    assert.equal(none.status, NFS3.ERR_ACCES);
  });

  test('READDIR and READDIRPLUS page through 150 entries with small counts, each name once', async () => {
    const root = await rootFh();
    await nfs3(PROC.MKDIR, { where: { dir: root, name: 'many' }, attr: {} });
    const dir = await lookup(root, 'many');
    for (let i = 0; i < 150; i++) await nfs3(PROC.CREATE, { where: { dir, name: `file-${i}` }, mode: CREATE_MODE.UNCHECKED, attr: {} });
    for (const plus of [false, true]) {
      const seen: string[] = [];
      let cookie = 0n, eof = false, calls = 0;
      while (!eof) {
        calls++;
        const res = plus
          ? await nfs3(PROC.READDIRPLUS, { fh: dir, cookie, verf: Buffer.alloc(8), dircount: 400, maxcount: 2000 })
          : await nfs3(PROC.READDIR, { fh: dir, cookie, verf: Buffer.alloc(8), count: 600 });
        assert.equal(res.status, NFS3.OK);
        readPostOpAttr(res.r);
        res.r.fixed(8);
        const list = readDirList(res.r, plus);
        res.r.end();
        assert.ok(list.entries.length > 0 || list.eof);
        for (const e of list.entries) {
          seen.push(e.name);
          if (plus && e.name !== '..') assert.ok(e.attr && e.fh, `attributes and handle of ${e.name}`);
        }
        eof = list.eof;
        cookie = list.entries.at(-1)?.cookie ?? cookie;
        assert.ok(calls < 100);
      }
      assert.ok(calls > 3, 'several pages');
      assert.deepEqual(seen.slice(0, 2), ['.', '..']);
      assert.deepEqual(seen.slice(2).sort(), Array.from({ length: 150 }, (_, i) => `file-${i}`).sort());
    }
    const small = await nfs3(PROC.READDIR, { fh: dir, cookie: 0n, verf: Buffer.alloc(8), count: 100 });
    assert.equal(small.status, NFS3.ERR_TOOSMALL);
    assert.equal((await nfs3(PROC.READDIR, { fh: await lookup(dir, 'file-1'), cookie: 0n, verf: Buffer.alloc(8), count: 4096 })).status, NFS3.ERR_NOTDIR);
  });

  test('FSSTAT, FSINFO, PATHCONF', async () => {
    const root = await rootFh();
    const st = await nfs3(PROC.FSSTAT, root);
    assert.equal(st.status, NFS3.OK);
    readPostOpAttr(st.r);
    assert.ok(st.r.uhyper() > 0n);
    const fi = await nfs3(PROC.FSINFO, root);
    readPostOpAttr(fi.r);
    assert.equal(fi.r.uint(), 1 << 20);
    const pc = await nfs3(PROC.PATHCONF, root);
    readPostOpAttr(pc.r);
    pc.r.uint();
    assert.equal(pc.r.uint(), 255);
  });

  test('fuzz: random arguments to every procedure and random records never break the dispatcher', async () => {
    const root = await rootFh();
    await fc.assert(fc.asyncProperty(fc.constantFrom(...Object.values(PROC)), fc.uint8Array({ maxLength: 200 }), fc.boolean(), async (proc, tail, withFh) => {
      const args = withFh ? Buffer.concat([new XdrWriter().opaque(root).bytes(), tail]) : Buffer.from(tail);
      const rep = await rpc(NFS_PROG, 3, proc, args.subarray(0, args.length & ~3));
      assert.equal(rep.kind, 'accepted');
      assert.ok(rep.kind === 'accepted' && (rep.stat === ACCEPT.SUCCESS || rep.stat === ACCEPT.GARBAGE_ARGS), `stat ${rep.kind === 'accepted' ? rep.stat : ''}`);
    }), { numRuns: 400 });
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (b) => {
      const out = await answer(programs, Buffer.from(b), 'x:1');
      if (out) decodeReply(out);
    }), { numRuns: 500 });
    // The VFS is intact afterwards.
    assert.equal(typeof (await v.vfs.getattr(ROOT_CTX, 1)).ino, 'number');
  });
});

describe('cached open handles', () => {
  test('at most maxOpen handles stay open: the least recently used idle ones go first; reads and writes stay right', async () => {
    const v = await createMemoryVfs();
    const opened = new Set<number>();
    const vfs = new Proxy(v.vfs, {
      get(target, prop, recv) {
        const f = Reflect.get(target, prop, recv);
        if (prop === 'open') return async (...a: Parameters<typeof target.open>) => { const fh = await target.open(...a); opened.add(fh); return fh; };
        if (prop === 'release') return async (...a: Parameters<typeof target.release>) => { opened.delete(a[1]); return target.release(...a); };
        return typeof f === 'function' ? f.bind(target) : f;
      },
    });
    const nfs = new Nfs3Service(vfs, { exportId: 7, idleMs: 60_000, maxOpen: 4 });
    const programs: Programs = new Map([[MOUNT_PROG, mountProgram(vfs, 7)], [NFS_PROG, nfs.program()]]);
    let x = 1;
    const call = async <P extends Proc>(proc: P, args: ArgsOf[P]) => {
      const rep = decodeReply((await answer(programs, encodeCall({ xid: x++, prog: NFS_PROG, vers: 3, proc, cred: ROOT }, encodeArgs(proc, args)), '127.0.0.1:1'))!);
      assert.ok(rep.kind === 'accepted' && rep.stat === ACCEPT.SUCCESS, `proc ${proc} accepted: ${JSON.stringify(rep.kind === 'accepted' ? rep.stat : rep)}`);
      assert.equal(rep.results.uint(), NFS3.OK, `proc ${proc}`);
      return rep.results;
    };
    const mnt = decodeReply((await answer(programs, encodeCall({ xid: x++, prog: MOUNT_PROG, vers: 3, proc: MOUNT_PROC.MNT, cred: ROOT }, encodeDirpath('/')), '127.0.0.1:1'))!);
    assert.ok(mnt.kind === 'accepted', 'MNT accepted');
    const root = decodeMntResult(mnt.results).fh!;
    const fhs: Buffer[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await call(PROC.CREATE, { where: { dir: root, name: `f${i}` }, mode: CREATE_MODE.UNCHECKED, attr: {} });
      fhs.push(r.optional((y) => y.opaque(64))!);
    }
    for (let i = 0; i < 12; i++) {
      await call(PROC.WRITE, { fh: fhs[i]!, offset: 0n, count: 4, stable: STABLE.UNSTABLE, data: Buffer.from(`v${String(i).padStart(3, '0')}`) });
      assert.ok(nfs.files.size <= 4, `${nfs.files.size} cached after file ${i}`);
    }
    await new Promise((r) => setTimeout(r, 50)); // evicted handles finish their release (flush)
    assert.ok(opened.size <= 4, `${opened.size} VFS handles open`);
    for (let i = 0; i < 12; i++) {
      const r = await call(PROC.READ, { fh: fhs[i]!, offset: 0n, count: 100 });
      readPostOpAttr(r);
      r.uint();
      r.bool();
      assert.equal(r.opaque(100).toString(), `v${String(i).padStart(3, '0')}`, `file ${i} kept its unstable write`);
    }
    assert.ok(nfs.files.size <= 4);
    await nfs.close();
    assert.equal(opened.size, 0, 'close releases every handle');
    await v.close();
  });
});

describe('NFS TCP server', () => {
  test('fragmented records in, replies out; a too-large record closes the connection; close() ends all', async () => {
    const v = await createMemoryVfs();
    const s = await startNfsServer({ vfs: v.vfs, host: '127.0.0.1', port: 0, maxRecord: 4096 });
    try {
      const sock = connect(s.port, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      const dec = new RecordDecoder();
      const replies: Buffer[] = [];
      sock.on('data', (d) => replies.push(...dec.push(d)));
      // A MOUNT MNT split into two fragments, sent byte by byte at the seam.
      const msg = encodeCall({ xid: 77, prog: MOUNT_PROG, vers: 3, proc: MOUNT_PROC.MNT, cred: ROOT }, encodeDirpath('/'));
      const h1 = Buffer.alloc(4), h2 = Buffer.alloc(4);
      h1.writeUInt32BE(10);
      h2.writeUInt32BE((0x80000000 | (msg.length - 10)) >>> 0);
      const stream = Buffer.concat([h1, msg.subarray(0, 10), h2, msg.subarray(10), frameRecord(encodeCall({ xid: 78, prog: NFS_PROG, vers: 3, proc: 0 }))]);
      for (let i = 0; i < stream.length; i += 7) sock.write(stream.subarray(i, i + 7));
      for (let i = 0; i < 100 && replies.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      const rs = replies.map(decodeReply).sort((a, b) => a.xid - b.xid);
      assert.deepEqual(rs.map((r) => r.xid), [77, 78]);
      assert.ok(rs[0]!.kind === 'accepted' && decodeMntResult(rs[0]!.results).status === MNT3.OK);
      const closed = new Promise((r) => sock.once('close', r));
      const big = Buffer.alloc(4);
      big.writeUInt32BE((0x80000000 | 5000) >>> 0);
      sock.write(big);
      await closed;
      const sock2 = connect(s.port, '127.0.0.1');
      await new Promise((r) => sock2.once('connect', r));
      const gone = new Promise((r) => sock2.once('close', r));
      await s.close();
      await gone;
    } finally {
      await s.close().catch(() => undefined);
      await v.close();
    }
  });
});
