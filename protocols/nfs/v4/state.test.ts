/**
 * NFSv4 state through the dispatcher over a memory VFS: 4.0 clients, open-owner seqids and the
 * replay of the last reply, stateid checks, share reservations, byte-range locks (also against a
 * lock taken directly in the VFS by another client id), lease expiry with a short lease, the
 * grace period after a restart with a state folder, and the 4.1 sessions (SEQUENCE slots and
 * their reply cache, session rules, RECLAIM_COMPLETE, TEST_STATEID, FREE_STATEID, DESTROY_*).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMemoryVfs, ROOT_CTX, type VfsInstance } from '../../../vfs/index.js';
import { encodeFattr, FATTR4 } from '../wire/nfs4-attr.js';
import {
  CLAIM, CREATEMODE4, LOCK_TYPE, NFS4, OP, op, OPEN4_CREATE, OPEN4_NOCREATE, OPEN4_RESULT, SP4, STABLE4, type Op4, type Stateid4,
  encodeCompound,
} from '../wire/nfs4.js';
import { sysCred, V4Harness } from './testkit.js';

const name = (s: string) => Buffer.from(s);
const ALL = 0xffffffffffffffffn;
const noAttrs = encodeFattr([], () => undefined);

function openArgs(clientid: bigint, owner: string, seqid: number, file: string, opts: { access?: number; deny?: number; create?: boolean; claim?: number } = {}) {
  return op(OP.OPEN, {
    seqid, share_access: opts.access ?? 3, share_deny: opts.deny ?? 0, owner: { clientid, owner: Buffer.from(owner) },
    openhow: opts.create ? { tag: OPEN4_CREATE, v: { tag: CREATEMODE4.UNCHECKED4, v: noAttrs } } : { tag: OPEN4_NOCREATE, v: undefined },
    claim: opts.claim === CLAIM.PREVIOUS ? { tag: CLAIM.PREVIOUS, v: 0 } : { tag: CLAIM.NULL, v: name(file) },
  });
}
const root: Op4 = op(OP.PUTROOTFH, undefined);
const lockNew = (clientid: bigint, openSid: Stateid4, openSeq: number, lockOwner: string, type: number, offset: bigint, length: bigint, reclaim = false) =>
  op(OP.LOCK, { locktype: type, reclaim, offset, length, locker: { tag: 1, v: { open_seqid: openSeq, open_stateid: openSid, lock_seqid: 0, lock_owner: { clientid, owner: Buffer.from(lockOwner) } } } });

describe('NFSv4.0 state', () => {
  let v: VfsInstance;
  let h: V4Harness;
  before(async () => {
    v = await createMemoryVfs();
    h = await V4Harness.open(v.vfs);
  });
  after(async () => {
    await h.close();
    await v.close();
  });

  test('SETCLIENTID: unconfirmed clientids are refused; a wrong confirm verifier is STALE_CLIENTID', async () => {
    const [sc] = await h.ok([op(OP.SETCLIENTID, { client: { verifier: Buffer.from('verifier'), id: name('x') }, callback: { cb_program: 0, cb_location: { na_r_netid: 'tcp', na_r_addr: '' } }, callback_ident: 0 })]);
    assert.equal((await h.compound([root, openArgs(sc.clientid, 'o', 1, 'f', { create: true })])).status, NFS4.ERR_STALE_CLIENTID);
    assert.equal((await h.compound([op(OP.SETCLIENTID_CONFIRM, { clientid: sc.clientid, setclientid_confirm: Buffer.from('wrongvrf') })])).status, NFS4.ERR_STALE_CLIENTID);
    await h.ok([op(OP.SETCLIENTID_CONFIRM, { clientid: sc.clientid, setclientid_confirm: sc.confirm })]);
    await h.ok([op(OP.SETCLIENTID_CONFIRM, { clientid: sc.clientid, setclientid_confirm: sc.confirm })]); // retransmission
    await h.ok([op(OP.RENEW, sc.clientid)]);
    assert.equal((await h.compound([op(OP.RENEW, 0x12345678_00000001n)])).status, NFS4.ERR_STALE_CLIENTID);
    // The same id with the same verifier keeps the clientid; a new verifier (a reboot) gets a new one.
    const again = await h.client40('x', Buffer.from('verifier'));
    assert.equal(again, sc.clientid);
    const rebooted = await h.client40('x', Buffer.from('rebooted'));
    assert.notEqual(rebooted, sc.clientid);
    assert.equal((await h.compound([op(OP.RENEW, sc.clientid)])).status, NFS4.ERR_STALE_CLIENTID);
    // Another principal may not take over an id whose client holds state.
    const [, o] = await h.ok([root, openArgs(rebooted, 'o', 1, 'inuse', { create: true })]);
    assert.ok(o.stateid);
    const inuse = await h.compound([op(OP.SETCLIENTID, { client: { verifier: Buffer.from('verifier'), id: name('x') }, callback: { cb_program: 0, cb_location: { na_r_netid: 'tcp', na_r_addr: '' } }, callback_ident: 0 })], { cred: sysCred(1000, 1000) });
    assert.equal(inuse.status, NFS4.ERR_CLID_INUSE);
    assert.deepEqual(inuse.results[0]!.res, { netid: 'tcp', addr: '127.0.0.1.0.0' });
  });

  test('OPEN, OPEN_CONFIRM, WRITE, READ, CLOSE; seqid replay, BAD_SEQID, OLD and BAD stateids', async () => {
    const cid = await h.client40('c1');
    const r1 = await h.ok([root, openArgs(cid, 'owner-1', 7, 'f1', { create: true }), op(OP.GETFH, undefined)]);
    const o = r1[1];
    assert.ok(o.rflags & OPEN4_RESULT.CONFIRM);
    assert.ok(o.rflags & OPEN4_RESULT.LOCKTYPE_POSIX);
    assert.equal(o.stateid.seqid, 1);
    const fh = r1[2] as Buffer;
    const states = h.v4.state.states.size;
    // The same OPEN again (same seqid): the kept reply, no new state.
    const again = await h.ok([root, openArgs(cid, 'owner-1', 7, 'f1', { create: true })]);
    assert.deepEqual(again[1], o);
    assert.equal(h.v4.state.states.size, states);
    const [, conf] = await h.ok([op(OP.PUTFH, fh), op(OP.OPEN_CONFIRM, { open_stateid: o.stateid, seqid: 8 })]);
    assert.equal(conf.seqid, 2);
    // The retransmitted OPEN_CONFIRM gets the same answer.
    const [, conf2] = await h.ok([op(OP.PUTFH, fh), op(OP.OPEN_CONFIRM, { open_stateid: o.stateid, seqid: 8 })]);
    assert.deepEqual(conf2, conf);
    assert.equal((await h.compound([root, openArgs(cid, 'owner-1', 10, 'f1')])).status, NFS4.ERR_BAD_SEQID);
    const [, w] = await h.ok([op(OP.PUTFH, fh), op(OP.WRITE, { stateid: conf, offset: 0n, stable: STABLE4.FILE_SYNC4, data: Buffer.from('state data') })]);
    assert.equal(w.count, 10);
    assert.equal((await h.compound([op(OP.PUTFH, fh), op(OP.READ, { stateid: o.stateid, offset: 0n, count: 10 })])).status, NFS4.ERR_OLD_STATEID);
    assert.equal((await h.compound([op(OP.PUTFH, fh), op(OP.READ, { stateid: { seqid: 5, other: conf.other }, offset: 0n, count: 10 })])).status, NFS4.ERR_BAD_STATEID);
    const other = Buffer.from(conf.other);
    other.writeUInt32BE(999, 8);
    assert.equal((await h.compound([op(OP.PUTFH, fh), op(OP.READ, { stateid: { seqid: 1, other }, offset: 0n, count: 10 })])).status, NFS4.ERR_BAD_STATEID);
    const [, rd] = await h.ok([op(OP.PUTFH, fh), op(OP.READ, { stateid: conf, offset: 0n, count: 100 })]);
    assert.equal(rd.data.toString(), 'state data');
    // A second OPEN of the same file by the same owner upgrades the same stateid.
    const [, , up] = await h.ok([root, openArgs(cid, 'owner-1', 9, 'f1', { access: 1 }), op(OP.GETFH, undefined)]);
    void up;
    const [, cl] = await h.ok([op(OP.PUTFH, fh), op(OP.CLOSE, { seqid: 10, open_stateid: { seqid: 3, other: conf.other } })]);
    assert.equal(cl.seqid, 4);
    const [, cl2] = await h.ok([op(OP.PUTFH, fh), op(OP.CLOSE, { seqid: 10, open_stateid: { seqid: 3, other: conf.other } })]);
    assert.deepEqual(cl2, cl, 'a retransmitted CLOSE replays its reply');
    assert.equal((await h.compound([op(OP.PUTFH, fh), op(OP.READ, { stateid: { seqid: 3, other: conf.other }, offset: 0n, count: 1 })])).status, NFS4.ERR_BAD_STATEID);
    // Errors that do not advance the seqid (BAD_STATEID) leave the next seqid at 11.
    assert.equal((await h.compound([op(OP.PUTFH, fh), op(OP.CLOSE, { seqid: 11, open_stateid: conf })])).status, NFS4.ERR_BAD_STATEID);
    await h.ok([root, openArgs(cid, 'owner-1', 11, 'f1')]);
  });

  test('share reservations: DENY against other owners, anonymous I/O gets LOCKED', async () => {
    const cid = await h.client40('c2');
    const [, a, fh] = await h.ok([root, openArgs(cid, 'A', 1, 'shared', { create: true, access: 3, deny: 2 }), op(OP.GETFH, undefined)]);
    await h.ok([op(OP.PUTFH, fh), op(OP.OPEN_CONFIRM, { open_stateid: a.stateid, seqid: 2 })]);
    assert.equal((await h.compound([root, openArgs(cid, 'B', 1, 'shared', { access: 2 })])).status, NFS4.ERR_SHARE_DENIED);
    assert.equal((await h.compound([root, openArgs(cid, 'C', 1, 'shared', { access: 1, deny: 1 })])).status, NFS4.ERR_SHARE_DENIED, 'deny READ while A reads');
    const rb = await h.ok([root, openArgs(cid, 'D', 1, 'shared', { access: 1 })]);
    assert.ok(rb[1].stateid);
    const anon = { seqid: 0, other: Buffer.alloc(12) };
    assert.equal((await h.compound([op(OP.PUTFH, fh), op(OP.WRITE, { stateid: anon, offset: 0n, stable: 0, data: Buffer.from('x') })])).status, NFS4.ERR_LOCKED);
    await h.ok([op(OP.PUTFH, fh), op(OP.READ, { stateid: anon, offset: 0n, count: 1 })]);
    // OPEN_DOWNGRADE goes only to the modes of some of the owner's OPENs: E opened READ, then BOTH.
    const [, up, fe] = await h.ok([root, openArgs(cid, 'E', 1, 'downgrade', { access: 1, create: true }), op(OP.GETFH, undefined)]);
    const [, ec] = await h.ok([op(OP.PUTFH, fe), op(OP.OPEN_CONFIRM, { open_stateid: up.stateid, seqid: 2 })]);
    const [, e2] = await h.ok([root, openArgs(cid, 'E', 3, 'downgrade', { access: 3 })]);
    assert.deepEqual(e2.stateid.other, ec.other);
    assert.equal((await h.compound([op(OP.PUTFH, fe), op(OP.OPEN_DOWNGRADE, { open_stateid: e2.stateid, seqid: 4, share_access: 2, share_deny: 0 })])).status, NFS4.ERR_INVAL);
    const [, dg] = await h.ok([op(OP.PUTFH, fe), op(OP.OPEN_DOWNGRADE, { open_stateid: e2.stateid, seqid: 5, share_access: 1, share_deny: 0 })]);
    assert.equal((await h.compound([op(OP.PUTFH, fe), op(OP.WRITE, { stateid: dg, offset: 0n, stable: 0, data: Buffer.from('x') })])).status, NFS4.ERR_OPENMODE);
  });

  test('byte-range locks: conflicts between owners and with a VFS lock of another client; LOCKT, LOCKU, RELEASE_LOCKOWNER', async () => {
    const cid = await h.client40('c3');
    const [, oa, fh] = await h.ok([root, openArgs(cid, 'OA', 1, 'locked', { create: true }), op(OP.GETFH, undefined)]);
    const [, ca] = await h.ok([op(OP.PUTFH, fh), op(OP.OPEN_CONFIRM, { open_stateid: oa.stateid, seqid: 2 })]);
    const [, ob] = await h.ok([root, openArgs(cid, 'OB', 1, 'locked')]);
    const [, cb] = await h.ok([op(OP.PUTFH, fh), op(OP.OPEN_CONFIRM, { open_stateid: ob.stateid, seqid: 2 })]);
    const [, la] = await h.ok([op(OP.PUTFH, fh), lockNew(cid, ca, 3, 'LA', LOCK_TYPE.WRITE_LT, 0n, 100n)]);
    assert.equal(la.seqid, 1);
    const den = await h.compound([op(OP.PUTFH, fh), lockNew(cid, cb, 3, 'LB', LOCK_TYPE.WRITE_LT, 50n, 10n)]);
    assert.equal(den.status, NFS4.ERR_DENIED);
    assert.deepEqual(den.results[1]!.res, { offset: 0n, length: 100n, locktype: LOCK_TYPE.WRITE_LT, owner: { clientid: cid, owner: Buffer.from('LA') } });
    const lt = await h.compound([op(OP.PUTFH, fh), op(OP.LOCKT, { locktype: LOCK_TYPE.READ_LT, offset: 99n, length: ALL, owner: { clientid: cid, owner: Buffer.from('LB') } })]);
    assert.equal(lt.status, NFS4.ERR_DENIED);
    await h.ok([op(OP.PUTFH, fh), op(OP.LOCKT, { locktype: LOCK_TYPE.WRITE_LT, offset: 100n, length: 10n, owner: { clientid: cid, owner: Buffer.from('LB') } })]);
    // The VFS lock table is shared: a lock taken there by another protocol conflicts.
    const ino = (await v.paths.stat(ROOT_CTX, '/locked')).ino;
    await v.vfs.lock({ ...ROOT_CTX, clientId: 'fuse:1' }, ino, { type: 'read', start: 200, end: 300, owner: 'pid-42' });
    const den2 = await h.compound([op(OP.PUTFH, fh), op(OP.LOCK, { locktype: LOCK_TYPE.WRITE_LT, reclaim: false, offset: 250n, length: 1n, locker: { tag: 0, v: { lock_stateid: la, lock_seqid: 1 } } })]);
    assert.equal(den2.status, NFS4.ERR_DENIED);
    assert.equal(den2.results[1]!.res.offset, 200n);
    assert.equal(den2.results[1]!.res.owner.owner.toString(), 'fuse:1 pid-42');
    // NFSv4 locks are seen by the other protocols too.
    assert.equal((await v.vfs.testlock({ ...ROOT_CTX, clientId: 'fuse:1' }, ino, { type: 'read', start: 10, end: 11, owner: 'pid-42' }))?.type, 'write');
    assert.equal((await h.compound([op(OP.RELEASE_LOCKOWNER, { clientid: cid, owner: Buffer.from('LA') })])).status, NFS4.ERR_LOCKS_HELD);
    const [, lu] = await h.ok([op(OP.PUTFH, fh), op(OP.LOCKU, { locktype: LOCK_TYPE.WRITE_LT, seqid: 2, lock_stateid: { seqid: 1, other: la.other }, offset: 0n, length: ALL })]);
    assert.equal(lu.seqid, 2);
    // The DENIED LOCK used OB's seqid 3 (a failed LOCK advances it); 3 again would replay DENIED.
    assert.equal((await h.compound([op(OP.PUTFH, fh), lockNew(cid, cb, 3, 'LB', LOCK_TYPE.WRITE_LT, 50n, 10n)])).status, NFS4.ERR_DENIED);
    await h.ok([op(OP.PUTFH, fh), lockNew(cid, cb, 4, 'LB', LOCK_TYPE.WRITE_LT, 50n, 10n)]);
    await h.ok([op(OP.RELEASE_LOCKOWNER, { clientid: cid, owner: Buffer.from('LA') })]);
    assert.equal((await h.compound([op(OP.PUTFH, fh), op(OP.LOCKU, { locktype: 1, seqid: 3, lock_stateid: lu, offset: 0n, length: 1n })])).status, NFS4.ERR_BAD_STATEID);
    assert.equal((await h.compound([op(OP.PUTFH, fh), lockNew(cid, cb, 5, 'LC', LOCK_TYPE.WRITE_LT, 5n, 0n)])).status, NFS4.ERR_INVAL);
    // CLOSE releases the open's locks.
    await h.ok([op(OP.PUTFH, fh), op(OP.CLOSE, { seqid: 6, open_stateid: { seqid: 2, other: cb.other } })]);
    assert.equal(await v.vfs.testlock({ ...ROOT_CTX, clientId: 'fuse:1' }, ino, { type: 'write', start: 50, end: 60, owner: 'x' }), null);
    await v.vfs.unlock({ ...ROOT_CTX, clientId: 'fuse:1' }, ino, { start: 0, end: Infinity, owner: 'pid-42' });
  });
});

describe('NFSv4 leases and grace', () => {
  let v: VfsInstance;
  const hs: V4Harness[] = [];
  let dir: string;
  before(async () => {
    v = await createMemoryVfs();
    dir = await mkdtemp(join(tmpdir(), 'dw-nfs4-state-'));
  });
  afterEach(async () => {
    for (const h of hs.splice(0)) await h.close();
  });
  after(async () => {
    await v.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('an expired lease releases opens and locks; its stateids answer EXPIRED; RENEW keeps a lease', async () => {
    const h = await V4Harness.open(v.vfs, { leaseSeconds: 1 });
    hs.push(h);
    const cid = await h.client40('short');
    const keep = await h.client40('kept');
    const [, o, fh] = await h.ok([root, openArgs(cid, 'o', 1, 'lease', { create: true, deny: 2 }), op(OP.GETFH, undefined)]);
    const [, c] = await h.ok([op(OP.PUTFH, fh), op(OP.OPEN_CONFIRM, { open_stateid: o.stateid, seqid: 2 })]);
    await h.ok([op(OP.PUTFH, fh), lockNew(cid, c, 3, 'l', LOCK_TYPE.WRITE_LT, 0n, ALL)]);
    const ino = (await v.paths.stat(ROOT_CTX, '/lease')).ino;
    assert.ok(await v.vfs.testlock({ ...ROOT_CTX, clientId: 'other' }, ino, { type: 'read', start: 0, end: 1, owner: 'x' }));
    for (let i = 0; i < 6; i++) {
      await sleep(300);
      await h.ok([op(OP.RENEW, keep)]);
    }
    assert.equal(await v.vfs.testlock({ ...ROOT_CTX, clientId: 'other' }, ino, { type: 'read', start: 0, end: 1, owner: 'x' }), null, 'locks released');
    assert.equal((await h.compound([op(OP.PUTFH, fh), op(OP.READ, { stateid: c, offset: 0n, count: 1 })])).status, NFS4.ERR_EXPIRED);
    assert.equal((await h.compound([op(OP.RENEW, cid)])).status, NFS4.ERR_EXPIRED);
    await h.ok([op(OP.RENEW, keep)]);
    // The share reservation went with it.
    await h.ok([root, openArgs(keep, 'k', 1, 'lease', { access: 2 })]);
  });

  test('after a restart with a state folder: STALE ids, grace for reclaims only, then NO_GRACE', async () => {
    const h1 = await V4Harness.open(v.vfs, { stateDir: dir, leaseSeconds: 5 });
    hs.push(h1);
    const cid = await h1.client40('survivor');
    const [, o, fh] = await h1.ok([root, openArgs(cid, 'o', 1, 'reclaim', { create: true }), op(OP.GETFH, undefined)]);
    const [, c] = await h1.ok([op(OP.PUTFH, fh), op(OP.OPEN_CONFIRM, { open_stateid: o.stateid, seqid: 2 })]);
    const rec = JSON.parse(await readFile(join(dir, 'nfs4-clients.json'), 'utf8'));
    assert.deepEqual(rec.clients, [Buffer.from('survivor').toString('hex')]);
    await h1.close();
    hs.length = 0;

    const h2 = await V4Harness.open(v.vfs, { stateDir: dir, leaseSeconds: 5, graceSeconds: 1.5 });
    hs.push(h2);
    assert.equal((await h2.compound([op(OP.PUTFH, fh), op(OP.READ, { stateid: c, offset: 0n, count: 1 })])).status, NFS4.ERR_STALE_STATEID);
    assert.equal((await h2.compound([op(OP.RENEW, cid)])).status, NFS4.ERR_STALE_CLIENTID);
    const cid2 = await h2.client40('survivor', Buffer.from('newboot!'));
    const stranger = await h2.client40('stranger');
    assert.equal((await h2.compound([root, openArgs(cid2, 'o', 1, 'reclaim')])).status, NFS4.ERR_GRACE);
    assert.equal((await h2.compound([op(OP.PUTFH, fh), openArgs(stranger, 's', 1, '', { claim: CLAIM.PREVIOUS, access: 1 })])).status, NFS4.ERR_NO_GRACE);
    // The refused OPEN used owner o's seqid 1.
    const [, ro] = await h2.ok([op(OP.PUTFH, fh), openArgs(cid2, 'o', 2, '', { claim: CLAIM.PREVIOUS })]);
    const [, rc] = await h2.ok([op(OP.PUTFH, fh), op(OP.OPEN_CONFIRM, { open_stateid: ro.stateid, seqid: 3 })]);
    assert.equal((await h2.compound([op(OP.PUTFH, fh), lockNew(cid2, rc, 4, 'l', LOCK_TYPE.WRITE_LT, 0n, 10n)])).status, NFS4.ERR_GRACE);
    const [, lk] = await h2.ok([op(OP.PUTFH, fh), lockNew(cid2, rc, 5, 'l', LOCK_TYPE.WRITE_LT, 0n, 10n, true)]);
    assert.ok(lk.other);
    await sleep(1600);
    assert.equal((await h2.compound([op(OP.PUTFH, fh), openArgs(cid2, 'o2', 1, '', { claim: CLAIM.PREVIOUS })])).status, NFS4.ERR_NO_GRACE);
    await h2.ok([root, openArgs(cid2, 'o3', 1, 'reclaim', { access: 1 })]);
  });

  test('without a state folder there is no grace period: reclaims get NO_GRACE at once', async () => {
    const h = await V4Harness.open(v.vfs, {});
    hs.push(h);
    const cid = await h.client40('nograce');
    const [, , fh] = await h.ok([root, openArgs(cid, 'o', 1, 'ng', { create: true }), op(OP.GETFH, undefined)]);
    assert.equal((await h.compound([op(OP.PUTFH, fh), openArgs(cid, 'p', 1, '', { claim: CLAIM.PREVIOUS })])).status, NFS4.ERR_NO_GRACE);
  });
});

describe('NFSv4.1 sessions', () => {
  let v: VfsInstance;
  let h: V4Harness;
  before(async () => {
    v = await createMemoryVfs();
    h = await V4Harness.open(v.vfs);
  });
  after(async () => {
    await h.close();
    await v.close();
  });
  const chan = { ca_headerpadsize: 0, ca_maxrequestsize: 1 << 20, ca_maxresponsesize: 1 << 20, ca_maxresponsesize_cached: 8192, ca_maxoperations: 8, ca_maxrequests: 4, ca_rdma_ird: [] };
  async function session(owner = 'c41'): Promise<{ clientid: bigint; sid: Buffer }> {
    const [ex] = await h.ok([op(OP.EXCHANGE_ID, { clientowner: { co_verifier: Buffer.from('verifier'), co_ownerid: name(owner) }, flags: 0, state_protect: { tag: SP4.NONE, v: undefined }, client_impl_id: [] })], { minor: 1 });
    const [cs] = await h.ok([op(OP.CREATE_SESSION, { clientid: ex.clientid, sequence: ex.sequenceid, flags: 0, fore_chan_attrs: chan, back_chan_attrs: chan, cb_program: 0, sec_parms: [{ tag: 0, v: undefined }] })], { minor: 1 });
    assert.equal(cs.fore.ca_maxrequests, 4);
    return { clientid: ex.clientid, sid: cs.sessionid };
  }
  const seq = (sid: Buffer, sequenceid: number, slotid = 0, cachethis = true) => op(OP.SEQUENCE, { sessionid: sid, sequenceid, slotid, highest_slotid: 3, cachethis });

  test('session rules: OP_NOT_IN_SESSION, SEQUENCE_POS, NOT_ONLY_OP, 4.0-only ops NOTSUPP, BADSESSION', async () => {
    assert.equal((await h.compound([root], { minor: 1 })).status, NFS4.ERR_OP_NOT_IN_SESSION);
    const claimsConfirmed = await h.compound([op(OP.EXCHANGE_ID, { clientowner: { co_verifier: Buffer.from('verifier'), co_ownerid: name('bad') }, flags: 0x80000000, state_protect: { tag: SP4.NONE, v: undefined }, client_impl_id: [] })], { minor: 1 });
    assert.equal(claimsConfirmed.status, NFS4.ERR_INVAL);
    const { sid, clientid } = await session('rules');
    assert.equal((await h.compound([seq(sid, 1), seq(sid, 2)], { minor: 1 })).status, NFS4.ERR_SEQUENCE_POS);
    assert.equal((await h.compound([op(OP.DESTROY_CLIENTID, clientid), root], { minor: 1 })).status, NFS4.ERR_NOT_ONLY_OP);
    assert.equal((await h.compound([seq(sid, 2), op(OP.RENEW, clientid)], { minor: 1 })).status, NFS4.ERR_NOTSUPP);
    assert.equal((await h.compound([seq(Buffer.alloc(16, 9), 1)], { minor: 1 })).status, NFS4.ERR_BADSESSION);
    assert.equal((await h.compound([seq(sid, 1, 4)], { minor: 1 })).status, NFS4.ERR_BADSLOT);
    assert.equal((await h.compound([seq(sid, 3), ...Array.from({ length: 8 }, () => root)], { minor: 1 })).status, NFS4.ERR_TOO_MANY_OPS);
    assert.equal((await h.compound([seq(sid, 3), op(OP.LAYOUTGET as never, undefined as never)], { minor: 1 })).results[1]!.status, NFS4.ERR_NOTSUPP);
  });

  test('SEQUENCE: the reply cache answers a retransmission; misordered ids; slots are independent', async () => {
    const { sid, clientid } = await session('seq');
    const first = await h.ok([seq(sid, 1), root, op(OP.CREATE, { objtype: { tag: 2, v: undefined }, objname: name('once'), createattrs: noAttrs })], { minor: 1 });
    // The same request again: the cached reply, not a second CREATE (which would be EXIST).
    const again = await h.ok([seq(sid, 1), root, op(OP.CREATE, { objtype: { tag: 2, v: undefined }, objname: name('once'), createattrs: noAttrs })], { minor: 1 });
    assert.deepEqual(again, first);
    // Another request under the same slot and sequence id is a false retry (RFC 8881 §2.10.6.1.3.1), not the cached reply.
    const other = await h.compound([seq(sid, 1), root, op(OP.CREATE, { objtype: { tag: 2, v: undefined }, objname: name('twice'), createattrs: noAttrs })], { minor: 1 });
    assert.equal(other.status, NFS4.ERR_SEQ_FALSE_RETRY);
    assert.equal((await h.compound([seq(sid, 1)], { minor: 1 })).status, NFS4.ERR_SEQ_FALSE_RETRY, 'fewer operations');
    assert.deepEqual(await h.ok([seq(sid, 1), root, op(OP.CREATE, { objtype: { tag: 2, v: undefined }, objname: name('once'), createattrs: noAttrs })], { minor: 1 }), first, 'the true retry still replays');
    assert.equal((await h.compound([seq(sid, 3)], { minor: 1 })).status, NFS4.ERR_SEQ_MISORDERED);
    await h.ok([seq(sid, 1, 1)], { minor: 1 });
    await h.ok([seq(sid, 2)], { minor: 1 });
    // A 4.1 client's first OPEN waits for its RECLAIM_COMPLETE (RFC 8881 §18.51.3).
    assert.equal((await h.compound([seq(sid, 3), root, openArgs(clientid, 'o', 0, 'f41', { create: true })], { minor: 1 })).results[2]!.status, NFS4.ERR_GRACE);
    await h.ok([seq(sid, 4), op(OP.RECLAIM_COMPLETE, false)], { minor: 1 });
    // 4.1 opens: no seqid checks, no OPEN_CONFIRM; the current stateid flows to READ in the same COMPOUND.
    const cur = { seqid: 1, other: Buffer.alloc(12) };
    const r = await h.ok([seq(sid, 5), root, openArgs(clientid, 'o', 0, 'f41', { create: true }), op(OP.WRITE, { stateid: cur, offset: 0n, stable: 2, data: Buffer.from('v41') }), op(OP.READ, { stateid: cur, offset: 0n, count: 10 }), op(OP.GETFH, undefined)], { minor: 1 });
    assert.equal(r[2].rflags & OPEN4_RESULT.CONFIRM, 0);
    assert.equal(r[4].data.toString(), 'v41');
    const r2 = await h.ok([seq(sid, 6), root, openArgs(clientid, 'o', 0, 'f41')], { minor: 1 });
    assert.deepEqual(r2[2].stateid.other, r[2].stateid.other);
    const [, ts] = await h.ok([seq(sid, 7), op(OP.TEST_STATEID, [r2[2].stateid, { seqid: 0, other: Buffer.alloc(12) }, { seqid: 1, other: Buffer.alloc(12, 3) }])], { minor: 1 });
    assert.deepEqual(ts, [NFS4.OK, NFS4.ERR_BAD_STATEID, NFS4.ERR_STALE_STATEID]);
    // A lock stateid with no ranges left can be freed; an open cannot.
    const fh = r[5] as Buffer;
    const [, , lk] = await h.ok([seq(sid, 8), op(OP.PUTFH, fh), lockNew(clientid, r2[2].stateid, 0, 'L', LOCK_TYPE.WRITE_LT, 0n, 5n)], { minor: 1 });
    assert.equal((await h.compound([seq(sid, 9), op(OP.FREE_STATEID, lk)], { minor: 1 })).results[1]!.status, NFS4.ERR_LOCKS_HELD);
    await h.ok([seq(sid, 10), op(OP.PUTFH, fh), op(OP.LOCKU, { locktype: 2, seqid: 0, lock_stateid: lk, offset: 0n, length: 5n })], { minor: 1 });
    await h.ok([seq(sid, 11), op(OP.FREE_STATEID, { seqid: 0, other: lk.other })], { minor: 1 });
    assert.equal((await h.compound([seq(sid, 12), op(OP.FREE_STATEID, r2[2].stateid)], { minor: 1 })).results[1]!.status, NFS4.ERR_LOCKS_HELD);
  });

  test('CREATE_SESSION replay and misorder; RECLAIM_COMPLETE once; DESTROY_SESSION; DESTROY_CLIENTID', async () => {
    const [ex] = await h.ok([op(OP.EXCHANGE_ID, { clientowner: { co_verifier: Buffer.from('verifier'), co_ownerid: name('life') }, flags: 0, state_protect: { tag: SP4.NONE, v: undefined }, client_impl_id: [] })], { minor: 1 });
    assert.equal(ex.flags & 0x80000000, 0, 'not confirmed yet');
    const csArgs = { clientid: ex.clientid, sequence: ex.sequenceid, flags: 0, fore_chan_attrs: chan, back_chan_attrs: chan, cb_program: 0, sec_parms: [] };
    const [cs] = await h.ok([op(OP.CREATE_SESSION, csArgs)], { minor: 1 });
    const [cs2] = await h.ok([op(OP.CREATE_SESSION, csArgs)], { minor: 1 });
    assert.deepEqual(cs2, cs, 'replayed');
    assert.equal((await h.compound([op(OP.CREATE_SESSION, { ...csArgs, sequence: ex.sequenceid + 5 })], { minor: 1 })).status, NFS4.ERR_SEQ_MISORDERED);
    const [ex2] = await h.ok([op(OP.EXCHANGE_ID, { clientowner: { co_verifier: Buffer.from('verifier'), co_ownerid: name('life') }, flags: 0, state_protect: { tag: SP4.NONE, v: undefined }, client_impl_id: [] })], { minor: 1 });
    assert.equal(ex2.clientid, ex.clientid);
    assert.ok(ex2.flags & 0x80000000, 'confirmed');
    const sid = cs.sessionid as Buffer;
    await h.ok([seq(sid, 1), op(OP.RECLAIM_COMPLETE, false)], { minor: 1 });
    assert.equal((await h.compound([seq(sid, 2), op(OP.RECLAIM_COMPLETE, false)], { minor: 1 })).results[1]!.status, NFS4.ERR_COMPLETE_ALREADY);
    const [bc] = await h.ok([op(OP.BIND_CONN_TO_SESSION, { sessid: sid, dir: 3, use_conn_in_rdma_mode: false })], { minor: 1 });
    assert.deepEqual(bc.sessid, sid);
    assert.equal((await h.compound([op(OP.DESTROY_CLIENTID, ex.clientid)], { minor: 1 })).status, NFS4.ERR_CLIENTID_BUSY);
    await h.ok([op(OP.DESTROY_SESSION, sid)], { minor: 1 });
    assert.equal((await h.compound([seq(sid, 3)], { minor: 1 })).status, NFS4.ERR_BADSESSION);
    await h.ok([op(OP.DESTROY_CLIENTID, ex.clientid)], { minor: 1 });
    assert.equal((await h.compound([op(OP.CREATE_SESSION, { ...csArgs, sequence: 2 })], { minor: 1 })).status, NFS4.ERR_STALE_CLIENTID);
  });
});

describe('NFSv4 OPEN permissions', () => {
  test('OPEN create (UNCHECKED) of an existing file the caller may only read opens it for reading; a refused OPEN leaves no state', async () => {
    const v = await createMemoryVfs();
    const h = await V4Harness.open(v.vfs);
    try {
      await v.paths.setattr(ROOT_CTX, '/', { mode: 0o777 });
      const { fh } = await v.paths.open(ROOT_CTX, '/ro.txt', { write: true, create: true }, 0o644);
      await v.vfs.write(ROOT_CTX, fh, 0, Buffer.from('read only'));
      await v.vfs.release(ROOT_CTX, fh);
      const user = { cred: sysCred(1000, 1000) };
      const cid = await h.client40('perm');
      const r = await h.ok([root, openArgs(cid, 'u', 1, 'ro.txt', { create: true, access: 1 }), op(OP.READ, { stateid: { seqid: 0, other: Buffer.alloc(12) }, offset: 0n, count: 100 })], user);
      assert.equal(r[2].data.toString(), 'read only');
      const before = h.v4.state.states.size;
      const denied = await h.compound([root, openArgs(cid, 'u2', 1, 'ro.txt', { access: 2 })], user);
      assert.equal(denied.status, NFS4.ERR_ACCESS);
      assert.equal(h.v4.state.states.size, before);
      // A create whose attributes cannot be applied (a non-root owner change) fails as a whole.
      const chown = op(OP.OPEN, { seqid: 2, share_access: 3, share_deny: 0, owner: { clientid: cid, owner: name('u3') }, openhow: { tag: OPEN4_CREATE, v: { tag: CREATEMODE4.UNCHECKED4, v: encodeFattr([FATTR4.OWNER], () => '0') } }, claim: { tag: CLAIM.NULL, v: name('chown.txt') } });
      assert.equal((await h.compound([root, chown], user)).status, NFS4.ERR_PERM);
      assert.equal(h.v4.state.states.size, before);
      const claimFh = op(OP.OPEN, { seqid: 2, share_access: 1, share_deny: 0, owner: { clientid: cid, owner: name('u2') }, openhow: { tag: OPEN4_NOCREATE, v: undefined }, claim: { tag: CLAIM.FH, v: undefined } });
      assert.equal((await h.compound([root, op(OP.LOOKUP, name('ro.txt')), claimFh], user)).status, NFS4.ERR_INVAL, 'CLAIM_FH is 4.1 only');
    } finally {
      await h.close();
      await v.close();
    }
  });
});

describe('NFSv4 fuzzed stateful COMPOUNDs', () => {
  test('mutated OPEN/LOCK/CLOSE and 4.1 session COMPOUNDs get a reply and never SERVERFAULT', async () => {
    const fc = (await import('fast-check')).default;
    const v = await createMemoryVfs();
    const h = await V4Harness.open(v.vfs, { leaseSeconds: 30 });
    try {
      const cid = await h.client40('fuzz');
      const [, o, fh] = await h.ok([root, openArgs(cid, 'fo', 1, 'fz', { create: true }), op(OP.GETFH, undefined)]);
      const chan = { ca_headerpadsize: 0, ca_maxrequestsize: 1 << 20, ca_maxresponsesize: 1 << 20, ca_maxresponsesize_cached: 8192, ca_maxoperations: 8, ca_maxrequests: 4, ca_rdma_ird: [] };
      const valid = [
        encodeCompound('f', 0, [root, openArgs(cid, 'fo2', 1, 'fz2', { create: true, deny: 1 }), op(OP.GETFH, undefined)]),
        encodeCompound('f', 0, [op(OP.PUTFH, fh), lockNew(cid, o.stateid, 2, 'fl', LOCK_TYPE.WRITE_LT, 0n, 10n), op(OP.LOCKU, { locktype: 1, seqid: 1, lock_stateid: o.stateid, offset: 0n, length: 1n })]),
        encodeCompound('f', 0, [op(OP.PUTFH, fh), op(OP.OPEN_CONFIRM, { open_stateid: o.stateid, seqid: 2 }), op(OP.CLOSE, { seqid: 3, open_stateid: o.stateid }), op(OP.RELEASE_LOCKOWNER, { clientid: cid, owner: name('fl') })]),
        encodeCompound('f', 1, [op(OP.EXCHANGE_ID, { clientowner: { co_verifier: Buffer.from('verifier'), co_ownerid: name('fz41') }, flags: 0, state_protect: { tag: SP4.NONE, v: undefined }, client_impl_id: [] })]),
        encodeCompound('f', 1, [op(OP.CREATE_SESSION, { clientid: cid, sequence: 1, flags: 0, fore_chan_attrs: chan, back_chan_attrs: chan, cb_program: 0, sec_parms: [] })]),
        encodeCompound('f', 1, [op(OP.SEQUENCE, { sessionid: Buffer.alloc(16), sequenceid: 1, slotid: 0, highest_slotid: 0, cachethis: true }), root, op(OP.TEST_STATEID, [o.stateid]), op(OP.FREE_STATEID, o.stateid), op(OP.RECLAIM_COMPLETE, false)]),
      ];
      await fc.assert(fc.asyncProperty(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 5 }), async (b0, flips) => {
        const b = Buffer.from(b0);
        for (const [i, x] of flips) b[i % b.length] = x;
        const rep = await h.raw(b);
        assert.equal(rep.kind, 'accepted');
        if (rep.kind === 'accepted' && rep.stat === 0) assert.notEqual(rep.results.uint(), NFS4.ERR_SERVERFAULT, 'no unexpected fault');
      }), { numRuns: Number(process.env.FUZZ_RUNS ?? 600) });
    } finally {
      await h.close();
      await v.close();
    }
  });
});
