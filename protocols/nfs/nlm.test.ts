/**
 * NLM v4 and NSM through the RPC dispatcher (`answer()`) over a memory VFS: conflicts between
 * NLM hosts and with locks taken straight on the VFS (as FUSE, WebDAV or SFTP do), blocked
 * locks granted by a callback to a fake client-side NLM on a loopback port, CANCEL, the _MSG
 * variants, grace, SM_NOTIFY and FREE_ALL releasing a host, SHARE conflicts, bad handles and
 * fuzzed calls.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { Errno, VfsError } from '../../vfs/errno.js';
import { createMemoryVfs, ROOT_CTX, type VfsInstance } from '../../vfs/index.js';
import type { HeldLock, LockTable } from '../../vfs/locks.js';
import type { Ctx } from '../../vfs/types.js';
import { GraceStore } from './grace.js';
import { Nfs3Service } from './nfs3.js';
import { NlmService } from './nlm.js';
import { serveRpc } from './nlm-rpc.js';
import { NsmService } from './nsm.js';
import { portmapProgram } from './programs.js';
import { answer, type Procedure, type Programs } from './session.js';
import { encodeFh } from './wire/fh.js';
import {
  decodeRes, decodeShareRes, decodeTestArgs, decodeTestRes, encodeCancArgs, encodeLockArgs, encodeNotify, encodeShareArgs, encodeTestArgs,
  encodeUnlockArgs, FSA, FSM, NLM4, NLM_PROC, NLM_PROG, type Nlm4Lock, type Nlm4TestArgs,
} from './wire/nlm.js';
import { decodeStatChge, decodeStatRes, encodeSmName, encodeStatChge, SM_PROC, SM_PROG, SM_RES, type StatChge } from './wire/nsm.js';
import { IPPROTO_TCP } from './wire/portmap.js';
import { ACCEPT, AUTH, decodeReply, encodeAuthSys, encodeCall, type RpcReply } from './wire/rpc.js';
import { type XdrReader, XdrWriter } from './wire/xdr.js';

const CRED = { flavor: AUTH.SYS, body: encodeAuthSys({ stamp: 1, machinename: 'client', uid: 0, gid: 0, gids: [] }) };
const PEER = '127.0.0.1:801';
const FUSE: Ctx = { ...ROOT_CTX, clientId: 'fuse' };
let xid = 1;
/** The VFS lock table's holders of an inode (the memory VFS is the real one, with its table). */
const held = (v: VfsInstance, ino: number): readonly HeldLock[] => (v.vfs as unknown as { locks: LockTable }).locks.held(ino);
const until = async (cond: () => boolean, ms = 3000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** A client host's side: a portmapper, an NLM that answers GRANTED as told, an NSM that records SM_NOTIFY. */
async function fakeClient() {
  const seen = { granted: [] as Nlm4TestArgs[], grantedMsg: [] as Nlm4TestArgs[], res: [] as { proc: number; stat: number }[], notify: [] as StatChge[] };
  let answerGranted: number = NLM4.GRANTED;
  let port = 0;
  const nlm: Partial<Record<number, Procedure>> = {
    [NLM_PROC.GRANTED]: ({ call }) => {
      const a = decodeTestArgs(call.args);
      seen.granted.push(a);
      return new XdrWriter().opaque(a.cookie).int(answerGranted).bytes();
    },
    [NLM_PROC.GRANTED_MSG]: ({ call }) => { seen.grantedMsg.push(decodeTestArgs(call.args)); return new Uint8Array(0); },
  };
  for (const p of [NLM_PROC.LOCK_RES, NLM_PROC.CANCEL_RES, NLM_PROC.UNLOCK_RES]) nlm[p] = ({ call }) => { seen.res.push({ proc: p, stat: decodeRes(call.args).stat }); return new Uint8Array(0); };
  nlm[NLM_PROC.TEST_RES] = ({ call }) => { seen.res.push({ proc: NLM_PROC.TEST_RES, stat: decodeTestRes(call.args).stat }); return new Uint8Array(0); };
  const programs: Programs = new Map([
    [100000, portmapProgram(() => [{ prog: NLM_PROG, vers: 4, prot: IPPROTO_TCP, port }, { prog: SM_PROG, vers: 1, prot: IPPROTO_TCP, port }])],
    [NLM_PROG, { name: 'fake-nlm', versions: new Map([[4, nlm]]) }],
    [SM_PROG, { name: 'fake-sm', versions: new Map([[1, { [SM_PROC.NOTIFY]: ({ call }) => { seen.notify.push(decodeStatChge(call.args)); return new Uint8Array(0); } }]]) }],
  ]);
  const srv = await serveRpc(programs);
  port = srv.port;
  return { seen, port, close: srv.close, answerGrantedWith: (s: number) => { answerGranted = s; } };
}

/** A server side: NFSv3 + NLM + NSM over one memory VFS and a grace store. */
async function server(grace: GraceStore, peerPortmapPort: number) {
  const v = await createMemoryVfs();
  const nfs = new Nfs3Service(v.vfs, { exportId: 7, idleMs: 50 });
  const nlm = new NlmService({ nfs, grace, peerPortmapPort, callbackTimeoutMs: 1000 });
  const nsm = new NsmService({ grace, nlm, peerPortmapPort, serverName: 'dwserver', timeoutMs: 1000, attempts: 2, retryDelayMs: 20 });
  const programs: Programs = new Map([[NLM_PROG, nlm.program()], [SM_PROG, nsm.program()]]);
  const file = async (name: string) => {
    const { attr, fh } = await v.vfs.create(ROOT_CTX, 1, name, 0o644, { write: true });
    await v.vfs.release(ROOT_CTX, fh);
    return { ino: attr.ino, fh: encodeFh({ exportId: 7, ino: attr.ino, gen: attr.gen }) };
  };
  async function rpc(prog: number, proc: number, args: Uint8Array, peer = PEER, vers = prog === SM_PROG ? 1 : 4): Promise<RpcReply> {
    const x = xid++;
    const out = await answer(programs, encodeCall({ xid: x, prog, vers, proc, cred: CRED }, args), peer);
    assert.ok(out);
    const r = decodeReply(out);
    assert.equal(r.xid, x);
    return r;
  }
  const ok = (r: RpcReply): XdrReader => {
    assert.ok(r.kind === 'accepted' && r.stat === ACCEPT.SUCCESS, 'accepted');
    return r.results;
  };
  const lk = (fh: Buffer, who: string, offset = 0n, len = 0n, svid = 1): Nlm4Lock => ({ callerName: who, fh, oh: Buffer.from(`${svid}@${who}`), svid, offset, len });
  return {
    v, nfs, nlm, nsm, programs, file, rpc, lk,
    lock: async (l: Nlm4Lock, o: { exclusive?: boolean; block?: boolean; reclaim?: boolean; proc?: number; cookie?: Buffer } = {}) => decodeRes(ok(await rpc(NLM_PROG, o.proc ?? NLM_PROC.LOCK, encodeLockArgs({ cookie: o.cookie ?? Buffer.from('c1'), block: o.block ?? false, exclusive: o.exclusive ?? true, alock: l, reclaim: o.reclaim ?? false, state: 1 })))).stat,
    test: async (l: Nlm4Lock, exclusive = true) => decodeTestRes(ok(await rpc(NLM_PROG, NLM_PROC.TEST, encodeTestArgs({ cookie: Buffer.from('t'), exclusive, alock: l })))),
    unlock: async (l: Nlm4Lock) => decodeRes(ok(await rpc(NLM_PROG, NLM_PROC.UNLOCK, encodeUnlockArgs({ cookie: Buffer.from('u'), alock: l })))).stat,
    cancel: async (l: Nlm4Lock) => decodeRes(ok(await rpc(NLM_PROG, NLM_PROC.CANCEL, encodeCancArgs({ cookie: Buffer.from('x'), block: true, exclusive: true, alock: l })))).stat,
    share: async (fh: Buffer, who: string, mode: number, access: number, proc: number = NLM_PROC.SHARE) =>
      decodeShareRes(ok(await rpc(NLM_PROG, proc, encodeShareArgs({ cookie: Buffer.from('s'), share: { callerName: who, fh, oh: Buffer.from(who), mode, access }, reclaim: false })))).stat,
    ok,
    async close() {
      nlm.close();
      nsm.close();
      await nfs.close();
      await v.close();
    },
  };
}

describe('NLM v4 over encoded RPC calls (memory VFS)', () => {
  let client: Awaited<ReturnType<typeof fakeClient>>;
  let s: Awaited<ReturnType<typeof server>>;
  before(async () => {
    client = await fakeClient();
    s = await server(await GraceStore.open({}), client.port);
  });
  after(async () => {
    await s.close();
    await client.close();
  });

  test('TEST / LOCK / UNLOCK between two NLM hosts: exclusive and shared, ranges, 64-bit lengths', async () => {
    const { fh } = await s.file('a');
    const A = s.lk(fh, 'clientA', 0n, 100n), B = s.lk(fh, 'clientB', 50n, 10n);
    assert.equal(await s.lock(A), NLM4.GRANTED);
    assert.equal(await s.lock(A), NLM4.GRANTED, 'the same holder again');
    const t = await s.test(B);
    assert.equal(t.stat, NLM4.DENIED);
    assert.deepEqual(t.holder, { exclusive: true, svid: 1, oh: Buffer.from('1@clientA'), offset: 0n, len: 100n });
    assert.equal(await s.lock(B), NLM4.DENIED);
    assert.equal(await s.lock(s.lk(fh, 'clientB', 100n, 2n ** 64n - 1n)), NLM4.GRANTED, 'beyond A, to the end of the file');
    assert.equal((await s.test(s.lk(fh, 'clientA', 2n ** 50n, 1n))).holder?.len, 0n, 'B holds to the end of the file');
    assert.equal(await s.unlock(A), NLM4.GRANTED);
    assert.equal((await s.test(B)).stat, NLM4.GRANTED);
    assert.equal(await s.lock(B), NLM4.GRANTED);
    // Read locks share.
    const { fh: f2 } = await s.file('shared');
    assert.equal(await s.lock(s.lk(f2, 'clientA'), { exclusive: false }), NLM4.GRANTED);
    assert.equal(await s.lock(s.lk(f2, 'clientB'), { exclusive: false }), NLM4.GRANTED);
    assert.equal((await s.test(s.lk(f2, 'clientC'), false)).stat, NLM4.GRANTED);
    assert.equal((await s.test(s.lk(f2, 'clientC'), true)).stat, NLM4.DENIED);
    // Two processes (svids) of one host are two holders.
    const { fh: f3 } = await s.file('procs');
    assert.equal(await s.lock(s.lk(f3, 'clientA', 0n, 0n, 10)), NLM4.GRANTED);
    assert.equal(await s.lock(s.lk(f3, 'clientA', 0n, 0n, 11)), NLM4.DENIED);
    assert.equal(await s.lock(s.lk(f3, 'clientA', 2n ** 60n, 1n)), NLM4.FBIG);
  });

  test('a lock on the VFS under another clientId (FUSE, WebDAV) denies NLM, and the reverse', async () => {
    const { ino, fh } = await s.file('cross');
    await s.v.vfs.lock({ ...ROOT_CTX, clientId: 'webdav' }, ino, { type: 'write', start: 10, end: 20, owner: 'opaquelocktoken:x' });
    assert.equal(await s.lock(s.lk(fh, 'clientA', 0n, 15n)), NLM4.DENIED);
    const t = await s.test(s.lk(fh, 'clientA', 0n, 0n), false);
    assert.equal(t.stat, NLM4.DENIED);
    assert.deepEqual(t.holder, { exclusive: true, svid: 0, oh: Buffer.from('webdav'), offset: 10n, len: 10n });
    assert.equal(await s.lock(s.lk(fh, 'clientA', 20n, 5n)), NLM4.GRANTED, 'next to it');
    await s.v.vfs.unlock({ ...ROOT_CTX, clientId: 'webdav' }, ino, { start: 0, end: Infinity, owner: 'opaquelocktoken:x' });
    assert.equal(await s.lock(s.lk(fh, 'clientA', 0n, 15n)), NLM4.GRANTED);
    await assert.rejects(s.v.vfs.lock(FUSE, ino, { type: 'read', start: 5, end: 6, owner: 'pid:1' }), (e: unknown) => e instanceof VfsError && e.errno === Errno.EAGAIN);
    const hit = await s.v.vfs.testlock(FUSE, ino, { type: 'read', start: 0, end: Infinity, owner: 'pid:1' });
    assert.equal(hit?.clientId, 'nlm:clientA@127.0.0.1');
    assert.equal(hit?.owner, `nlm:1:${Buffer.from('1@clientA').toString('hex')}`);
    assert.equal(await s.unlock(s.lk(fh, 'clientA', 0n, 0n)), NLM4.GRANTED);
    await s.v.vfs.lock(FUSE, ino, { type: 'write', start: 0, end: Infinity, owner: 'pid:1' });
    await s.v.vfs.unlock(FUSE, ino, { start: 0, end: Infinity, owner: 'pid:1' });
  });

  test('a blocked LOCK answers NLM4_BLOCKED, then the client gets NLM_GRANTED when the holder lets go', async () => {
    const { ino, fh } = await s.file('blocked');
    await s.v.vfs.lock(FUSE, ino, { type: 'write', start: 0, end: Infinity, owner: 'pid:2' });
    const l = s.lk(fh, 'clientA', 0n, 10n, 77);
    assert.equal(await s.lock(l, { block: true, cookie: Buffer.from('wait-1') }), NLM4.BLOCKED);
    assert.equal(await s.lock(l, { block: true, cookie: Buffer.from('wait-1') }), NLM4.BLOCKED, 'a retransmission');
    const before = client.seen.granted.length;
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(client.seen.granted.length, before, 'no callback while the holder holds');
    await s.v.vfs.unlock(FUSE, ino, { start: 0, end: Infinity, owner: 'pid:2' });
    await until(() => client.seen.granted.length > before);
    const g = client.seen.granted.at(-1)!;
    assert.deepEqual([g.cookie.toString(), g.exclusive, g.alock.svid, g.alock.offset, g.alock.len], ['wait-1', true, 77, 0n, 10n]);
    assert.equal((await s.v.vfs.testlock(FUSE, ino, { type: 'read', start: 0, end: 1, owner: 'pid:2' }))?.clientId, 'nlm:clientA@127.0.0.1');
    assert.equal(await s.unlock(l), NLM4.GRANTED);

    // A client that answers the callback with NLM4_DENIED does not keep the lock.
    client.answerGrantedWith(NLM4.DENIED);
    await s.v.vfs.lock(FUSE, ino, { type: 'write', start: 0, end: Infinity, owner: 'pid:2' });
    assert.equal(await s.lock(l, { block: true }), NLM4.BLOCKED);
    const n = client.seen.granted.length;
    await s.v.vfs.unlock(FUSE, ino, { start: 0, end: Infinity, owner: 'pid:2' });
    await until(() => client.seen.granted.length > n);
    await until(() => held(s.v, ino).length === 0);
    client.answerGrantedWith(NLM4.GRANTED);

    // CANCEL takes the request out of the queue: no callback, no lock.
    await s.v.vfs.lock(FUSE, ino, { type: 'write', start: 0, end: Infinity, owner: 'pid:2' });
    assert.equal(await s.lock(l, { block: true }), NLM4.BLOCKED);
    assert.equal(await s.cancel(l), NLM4.GRANTED);
    assert.equal(await s.cancel(l), NLM4.DENIED, 'nothing left to cancel');
    const m = client.seen.granted.length;
    await s.v.vfs.unlock(FUSE, ino, { start: 0, end: Infinity, owner: 'pid:2' });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(client.seen.granted.length, m);
    assert.equal(held(s.v, ino).length, 0);

    // Waiters of every protocol queue in one line: the NLM request that blocked first gets the
    // lock before a FUSE waiter that came after it, and the FUSE waiter gets it next.
    await s.v.vfs.lock(FUSE, ino, { type: 'write', start: 0, end: Infinity, owner: 'pid:2' });
    assert.equal(await s.lock(l, { block: true, cookie: Buffer.from('first') }), NLM4.BLOCKED);
    const other = { ...FUSE, clientId: 'fuse:other' };
    let fuseGot = false;
    const fuseWait = s.v.vfs.lock(other, ino, { type: 'write', start: 0, end: Infinity, owner: 'pid:3' }, true).then(() => { fuseGot = true; });
    const k = client.seen.granted.length;
    await s.v.vfs.unlock(FUSE, ino, { start: 0, end: Infinity, owner: 'pid:2' });
    await until(() => client.seen.granted.length > k);
    assert.equal(client.seen.granted.at(-1)!.cookie.toString(), 'first');
    assert.equal(fuseGot, false, 'the later FUSE waiter still waits');
    assert.equal(await s.unlock(l), NLM4.GRANTED);
    await fuseWait;
    assert.equal(held(s.v, ino)[0]?.clientId, 'fuse:other');
    await s.v.vfs.unlock(other, ino, { start: 0, end: Infinity, owner: 'pid:3' });
  });

  test('_MSG procedures answer void and send the _RES call back; a LOCK_MSG that blocks gets GRANTED_MSG', async () => {
    const { ino, fh } = await s.file('msg');
    const l = s.lk(fh, 'clientA', 0n, 0n, 5);
    const r0 = client.seen.res.length;
    const rep = await s.rpc(NLM_PROG, NLM_PROC.LOCK_MSG, encodeLockArgs({ cookie: Buffer.from('m1'), block: false, exclusive: true, alock: l, reclaim: false, state: 1 }));
    assert.equal(s.ok(rep).remaining(), 0);
    await until(() => client.seen.res.length > r0);
    assert.deepEqual(client.seen.res.at(-1), { proc: NLM_PROC.LOCK_RES, stat: NLM4.GRANTED });
    await s.rpc(NLM_PROG, NLM_PROC.TEST_MSG, encodeTestArgs({ cookie: Buffer.from('m2'), exclusive: true, alock: s.lk(fh, 'clientB') }));
    await until(() => client.seen.res.length > r0 + 1);
    assert.deepEqual(client.seen.res.at(-1), { proc: NLM_PROC.TEST_RES, stat: NLM4.DENIED });
    await s.rpc(NLM_PROG, NLM_PROC.UNLOCK_MSG, encodeUnlockArgs({ cookie: Buffer.from('m3'), alock: l }));
    await until(() => client.seen.res.length > r0 + 2);
    assert.deepEqual(client.seen.res.at(-1), { proc: NLM_PROC.UNLOCK_RES, stat: NLM4.GRANTED });
    // Blocked through LOCK_MSG: LOCK_RES says BLOCKED, later GRANTED_MSG; a GRANTED_RES with DENIED releases.
    await s.v.vfs.lock(FUSE, ino, { type: 'write', start: 0, end: Infinity, owner: 'pid:3' });
    await s.rpc(NLM_PROG, NLM_PROC.LOCK_MSG, encodeLockArgs({ cookie: Buffer.from('m4'), block: true, exclusive: true, alock: l, reclaim: false, state: 1 }));
    await until(() => client.seen.res.length > r0 + 3);
    assert.deepEqual(client.seen.res.at(-1), { proc: NLM_PROC.LOCK_RES, stat: NLM4.BLOCKED });
    await s.v.vfs.unlock(FUSE, ino, { start: 0, end: Infinity, owner: 'pid:3' });
    await until(() => client.seen.grantedMsg.length > 0);
    assert.equal(client.seen.grantedMsg.at(-1)!.cookie.toString(), 'm4');
    assert.equal(held(s.v, ino).length, 1);
    await s.rpc(NLM_PROG, NLM_PROC.GRANTED_RES, new XdrWriter().opaque(Buffer.from('m4')).int(NLM4.DENIED).bytes());
    assert.equal(held(s.v, ino).length, 0);
    // GRANTED sent to the server: it asked for nothing.
    const g = await s.rpc(NLM_PROG, NLM_PROC.GRANTED, encodeTestArgs({ cookie: Buffer.from('g'), exclusive: true, alock: l }));
    assert.equal(decodeRes(s.ok(g)).stat, NLM4.DENIED);
  });

  test('SHARE reservations conflict by access and deny mode; UNSHARE; FREE_ALL releases a host', async () => {
    const { fh } = await s.file('share');
    assert.equal(await s.share(fh, 'clientA', FSM.DN, FSA.RW), NLM4.GRANTED);
    assert.equal(await s.share(fh, 'clientB', FSM.DW, FSA.R), NLM4.DENIED, 'B denies writes, A writes');
    assert.equal(await s.share(fh, 'clientB', FSM.DN, FSA.R), NLM4.GRANTED);
    assert.equal(await s.share(fh, 'clientC', FSM.DR, FSA.R), NLM4.DENIED, 'C denies reads, A and B read');
    assert.equal(await s.share(fh, 'clientA', FSM.DN, FSA.RW, NLM_PROC.UNSHARE), NLM4.GRANTED);
    assert.equal(await s.share(fh, 'clientC', FSM.DW, FSA.R), NLM4.GRANTED, 'nobody writes now');
    // FREE_ALL: clientC's shares and locks go, others stay.
    const { ino, fh: f2 } = await s.file('freeall');
    assert.equal(await s.lock(s.lk(f2, 'clientC', 0n, 10n)), NLM4.GRANTED);
    assert.equal(await s.lock(s.lk(f2, 'clientB', 10n, 10n)), NLM4.GRANTED);
    s.ok(await s.rpc(NLM_PROG, NLM_PROC.FREE_ALL, encodeNotify({ name: 'clientC', state: 3 })));
    assert.deepEqual(held(s.v, ino).map((h) => h.clientId), ['nlm:clientB@127.0.0.1']);
    assert.equal(await s.share(fh, 'clientA', FSM.DN, FSA.W), NLM4.GRANTED, "C's deny-write is gone");
  });

  test('SM_NOTIFY from a rebooted client releases its locks only; SM_STAT, SM_MON from afar refused', async () => {
    const { ino, fh } = await s.file('notify');
    assert.equal(await s.lock(s.lk(fh, 'rebooter', 0n, 10n)), NLM4.GRANTED);
    assert.equal(await s.lock(s.lk(fh, 'stayer', 10n, 10n)), NLM4.GRANTED);
    // From another machine, a notification cannot free this host's locks…
    s.ok(await s.rpc(SM_PROG, SM_PROC.NOTIFY, encodeStatChge({ monName: 'rebooter', state: 5 }), '10.9.9.9:800'));
    s.ok(await s.rpc(NLM_PROG, NLM_PROC.FREE_ALL, encodeNotify({ name: 'rebooter', state: 5 }), '10.9.9.9:800'));
    assert.equal(held(s.v, ino).length, 2);
    // …but a host's own notification (or a local statd's) does.
    const far = s.lk(fh, 'farhost', 100n, 10n);
    assert.equal(decodeRes(s.ok(await s.rpc(NLM_PROG, NLM_PROC.LOCK, encodeLockArgs({ cookie: Buffer.from('f'), block: false, exclusive: true, alock: far, reclaim: false, state: 1 }), '10.9.9.9:800'))).stat, NLM4.GRANTED);
    s.ok(await s.rpc(SM_PROG, SM_PROC.NOTIFY, encodeStatChge({ monName: 'farhost', state: 3 }), '10.9.9.9:800'));
    assert.equal(held(s.v, ino).length, 2);
    s.ok(await s.rpc(SM_PROG, SM_PROC.NOTIFY, encodeStatChge({ monName: 'rebooter', state: 5 })));
    assert.deepEqual(held(s.v, ino).map((h) => h.clientId), ['nlm:stayer@127.0.0.1']);
    assert.equal(await s.lock(s.lk(fh, 'other', 0n, 10n)), NLM4.GRANTED);
    const st = decodeStatRes(s.ok(await s.rpc(SM_PROG, SM_PROC.STAT, encodeSmName('x'))));
    assert.deepEqual(st, { res: SM_RES.SUCC, state: 1 });
    const mon = new XdrWriter().string('h').string('localhost').int(NLM_PROG).int(4).int(16).fixed(Buffer.alloc(16)).bytes();
    assert.equal(decodeStatRes(s.ok(await s.rpc(SM_PROG, SM_PROC.MON, mon, '10.1.2.3:700'))).res, SM_RES.FAIL);
    assert.equal(decodeStatRes(s.ok(await s.rpc(SM_PROG, SM_PROC.MON, mon))).res, SM_RES.SUCC);
  });

  test('NM_LOCK is not recorded and never blocks; LOCK records its host before answering', async () => {
    const { ino, fh } = await s.file('nm');
    const grace = (s.nlm as unknown as { opts: { grace: GraceStore } }).opts.grace;
    const before = grace.clients().length;
    assert.equal(await s.lock(s.lk(fh, 'nmclient', 0n, 100n), { proc: NLM_PROC.NM_LOCK }), NLM4.GRANTED);
    assert.equal(grace.clients().length, before, 'not monitored');
    await s.v.vfs.lock(FUSE, ino, { type: 'write', start: 500, end: 600, owner: 'pid:9' });
    assert.equal(await s.lock(s.lk(fh, 'nmclient', 500n, 1n), { proc: NLM_PROC.NM_LOCK, block: true }), NLM4.DENIED, 'no queue for NM_LOCK');
    assert.equal(await s.lock(s.lk(fh, 'recorded', 1000n, 1n)), NLM4.GRANTED);
    assert.ok(grace.clients().some((c) => c.id === 'nlm:recorded@127.0.0.1' && c.kind === 'nlm' && c.name === 'recorded' && c.address === '127.0.0.1'));
    await s.v.vfs.unlock(FUSE, ino, { start: 0, end: Infinity, owner: 'pid:9' });
  });

  test('bad handles, garbage, versions; fuzzed calls never crash', async () => {
    const { fh } = await s.file('gone');
    await s.v.vfs.unlink(ROOT_CTX, 1, 'gone');
    assert.equal(await s.lock(s.lk(fh, 'clientA')), NLM4.STALE_FH);
    assert.equal((await s.test(s.lk(Buffer.alloc(24, 9), 'clientA'))).stat, NLM4.STALE_FH);
    assert.equal(await s.unlock(s.lk(encodeFh({ exportId: 99, ino: 1, gen: 0 }), 'clientA')), NLM4.STALE_FH);
    const g = await s.rpc(NLM_PROG, NLM_PROC.LOCK, Buffer.from([0, 0, 0, 1]));
    assert.ok(g.kind === 'accepted' && g.stat === ACCEPT.GARBAGE_ARGS);
    const v1 = await s.rpc(NLM_PROG, NLM_PROC.NULL, new Uint8Array(0), PEER, 1);
    assert.ok(v1.kind === 'accepted' && v1.stat === ACCEPT.PROG_MISMATCH && v1.mismatch?.low === 4 && v1.mismatch.high === 4);
    const p = await s.rpc(NLM_PROG, 16, new Uint8Array(0));
    assert.ok(p.kind === 'accepted' && p.stat === ACCEPT.PROC_UNAVAIL);
    const { fh: f } = await s.file('fuzz');
    const valid: [number, number, Buffer][] = [
      [NLM_PROG, NLM_PROC.LOCK, encodeLockArgs({ cookie: Buffer.from('z'), block: false, exclusive: true, alock: s.lk(f, 'fz'), reclaim: false, state: 1 })],
      [NLM_PROG, NLM_PROC.TEST, encodeTestArgs({ cookie: Buffer.from('z'), exclusive: true, alock: s.lk(f, 'fz') })],
      [NLM_PROG, NLM_PROC.UNLOCK, encodeUnlockArgs({ cookie: Buffer.from('z'), alock: s.lk(f, 'fz') })],
      [NLM_PROG, NLM_PROC.SHARE, encodeShareArgs({ cookie: Buffer.from('z'), share: { callerName: 'fz', fh: f, oh: Buffer.from('o'), mode: 0, access: 1 }, reclaim: false })],
      [NLM_PROG, NLM_PROC.FREE_ALL, encodeNotify({ name: 'nobody', state: 1 })],
      [SM_PROG, SM_PROC.NOTIFY, encodeStatChge({ monName: 'nobody', state: 1 })],
      [SM_PROG, SM_PROC.STAT, encodeSmName('x')],
    ];
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: valid.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(), async (i, flips, cut) => {
      const [prog, proc, args] = valid[i]!;
      const b = Buffer.from(args);
      for (const [at, val] of flips) b[at % b.length] = val;
      for (const a of [b, b.subarray(0, cut % (b.length + 1))]) {
        const r = await s.rpc(prog, proc, a);
        assert.ok(r.kind === 'accepted' && (r.stat === ACCEPT.SUCCESS || r.stat === ACCEPT.GARBAGE_ARGS), `stat ${r.kind === 'accepted' ? r.stat : r.reject}`);
      }
    }), { numRuns: 300 });
  });
});

describe('grace and restart: NSM notifies the previous clients, only reclaims during grace', () => {
  let dir: string;
  let client: Awaited<ReturnType<typeof fakeClient>>;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dw-nlm-'));
    client = await fakeClient();
  });
  after(async () => {
    await client.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a lock recorded in run 1; run 2 notifies the client, denies others in grace, honours the reclaim', async () => {
    const file = join(dir, 'state.json');
    const g1 = await GraceStore.open({ file, graceMs: 60_000 });
    const s1 = await server(g1, client.port);
    const { fh } = await s1.file('f');
    assert.equal(await s1.lock(s1.lk(fh, 'clientA', 0n, 10n)), NLM4.GRANTED);
    assert.deepEqual(g1.clients().map((c) => c.id), ['nlm:clientA@127.0.0.1']);
    const nm = await s1.nsm.notifyAll();
    assert.deepEqual(nm, { delivered: [], failed: [] }, 'nothing to notify on a first start');
    await g1.close();
    await s1.close();

    // Restart: a new VFS stands in for the restarted one (its locks are gone, as after a real restart).
    const g2 = await GraceStore.open({ file, graceMs: 60_000 });
    assert.equal(g2.state, g1.state + 2);
    assert.ok(g2.inGrace());
    const s2 = await server(g2, client.port);
    const done = await s2.nsm.notifyAll();
    assert.deepEqual(done, { delivered: ['127.0.0.1'], failed: [] });
    assert.deepEqual(client.seen.notify.at(-1), { monName: 'dwserver', state: g2.state });
    const { fh: f2 } = await s2.file('f');
    assert.equal(await s2.lock(s2.lk(f2, 'clientB', 20n, 10n)), NLM4.DENIED_GRACE_PERIOD);
    assert.equal((await s2.test(s2.lk(f2, 'clientB'))).stat, NLM4.DENIED_GRACE_PERIOD);
    assert.equal(await s2.unlock(s2.lk(f2, 'clientB')), NLM4.DENIED_GRACE_PERIOD);
    assert.equal(await s2.share(f2, 'clientB', 0, 1), NLM4.DENIED_GRACE_PERIOD);
    assert.equal(await s2.lock(s2.lk(f2, 'clientA', 0n, 10n), { reclaim: true }), NLM4.GRANTED);
    assert.equal(await s2.lock(s2.lk(f2, 'clientA', 0n, 10n, 2), { reclaim: true }), NLM4.DENIED, 'a reclaim still meets conflicts');
    await g2.endGrace();
    assert.equal(await s2.lock(s2.lk(f2, 'clientB', 20n, 10n)), NLM4.GRANTED);
    assert.deepEqual(g2.clients().map((c) => c.id).sort(), ['nlm:clientA@127.0.0.1', 'nlm:clientB@127.0.0.1']);
    await g2.close();
    await s2.close();

    // A GRANTED callback that cannot be delivered (no portmapper there) releases the lock.
    const g4 = await GraceStore.open({});
    const s4 = await server(g4, 1);
    const { ino: i4, fh: f4 } = await s4.file('f');
    await s4.v.vfs.lock(FUSE, i4, { type: 'write', start: 0, end: Infinity, owner: 'pid:4' });
    assert.equal(await s4.lock(s4.lk(f4, 'clientA'), { block: true }), NLM4.BLOCKED);
    await s4.v.vfs.unlock(FUSE, i4, { start: 0, end: Infinity, owner: 'pid:4' });
    // Taken off the queue (nothing left to cancel) and released when the callback failed.
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await s4.cancel(s4.lk(f4, 'clientA')), NLM4.DENIED);
    assert.equal(held(s4.v, i4).length, 0);
    await s4.close();

    // A client whose statd cannot be reached: retried, then reported failed.
    const g3 = await GraceStore.open({ file, graceMs: 10 });
    const s3 = await server(g3, 1);
    const r = await s3.nsm.notifyAll();
    assert.deepEqual(r, { delivered: [], failed: ['127.0.0.1'] });
    await g3.close();
    await s3.close();
  });
});
