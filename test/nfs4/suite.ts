/**
 * nfs4Suite: NFSv4.1 behaviour every server we test must show (RFC 8881), driven by our own
 * client (client.ts, nfs4.ts). Call it with a factory that starts a server; it runs against
 * nfs-ganesha today (test/e2e/nfs4-ganesha.test.ts) and against our server when it lands.
 * Every expected status is the RFC's; where the RFC allows several, the assertion accepts
 * that set. A server that departs from the RFC in a known way lists the departure's id in
 * `deviations`, and the test then expects that departure explicitly (and fails when the server
 * behaves per spec after all, so that the entry gets removed).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Nfs4Session, RpcConnection } from './client.js';
import {
  ALL_ANY_REVOKED, bodyOf, type Compound, CLAIM, CREATEMODE, DELEG, EXCHGID4_FLAG, FATTR4, LOCK_TYPE, type LockOwner,
  NF4, NFS4ERR, type OpenHow, ops, REQUIRED_ATTRS, resultOf, SHARE_ACCESS, SHARE_DENY, STABLE, type Stateid, type StatusName, statusName,
} from './nfs4.js';

export interface Nfs4Server {
  host: string;
  port: number;
  /** Path of the export in the server's pseudo filesystem ('/export' for ganesha, '/' for ours). */
  root: string;
  /** The server's lease time in seconds (the lease test waits about twice this). */
  leaseSeconds: number;
  /** Kills and restarts the server keeping its data and its state records (grace tests). */
  restart?: () => Promise<void>;
  /** Whether a restart gives a grace period (RFC 8881 §8.4.2). */
  graceful?: boolean;
  /** Writes a file below the export directly (not through NFS); `path` is relative to the export, '/'-separated. */
  writeFile?: (path: string, bytes: Buffer) => Promise<void>;
  /** Takes a byte-range write lock on bytes [start, end) of `path` (relative to the export) by another protocol or a local process; resolves to its release. */
  lockOther?: (path: string, start: number, end: number) => Promise<() => Promise<void>>;
  /** Ids of known departures from the RFC (see README.md); each test that knows one expects it. */
  deviations?: ReadonlySet<string>;
  close(): Promise<void>;
}
export type Nfs4ServerFactory = () => Promise<Nfs4Server>;

/** Asserts that `got` (a status number) is one of `names`. */
function expectStatus(got: number | undefined, names: readonly StatusName[], what: string): void {
  const want = names.map((n) => NFS4ERR[n]);
  assert.ok(got !== undefined && want.includes(got as never), `${what}: got ${got === undefined ? 'no result' : statusName(got)}, want ${names.map((n) => statusName(NFS4ERR[n])).join(' or ')}`);
}
const statusOfOp = (c: Compound, name: string): number | undefined => c.results.find((e) => e.name === name)?.status;
const summary = (c: Compound): string => c.results.map((e) => `${e.name}:${statusName(e.status)}`).join(' ');

export function nfs4Suite(name: string, factory: Nfs4ServerFactory): void {
  describe(`nfs4Suite: ${name}`, () => {
    let fx: Nfs4Server;
    let live: Nfs4Session[] = [];
    let rootPath: string[] = [];
    before(async () => {
      fx = await factory();
      rootPath = fx.root.split('/').filter(Boolean);
    });
    after(async () => { await fx?.close(); });
    afterEach(async () => {
      for (const s of live) await s.destroy();
      live = [];
    });

    const client = async (o: { ownerId?: Buffer } = {}): Promise<Nfs4Session> => {
      const s = await Nfs4Session.create(fx.host, fx.port, o);
      live.push(s);
      return s;
    };
    const deviates = (id: string): boolean => fx.deviations?.has(id) ?? false;
    const toRoot = () => [ops.putrootfh(), ...rootPath.map((n) => ops.lookup(n))];
    let dirs = 0;
    /** A fresh directory below the export for one test: its name and handle. */
    const home = async (s: Nfs4Session): Promise<{ name: string; fh: Buffer }> => {
      const name = `t${++dirs}-${randomBytes(3).toString('hex')}`;
      const c = await s.ok([...toRoot(), ops.mkdir(name), ops.getfh()]);
      return { name, fh: resultOf(c, 'GETFH').fh };
    };
    const owner = (s: Nfs4Session, tag: string): LockOwner => ({ clientid: s.clientid, owner: Buffer.from(`${tag}-${randomBytes(4).toString('hex')}`) });
    /** OPEN by name in `dir` (CLAIM_NULL), then GETFH: the raw reply. */
    const openIn = (s: Nfs4Session, dir: Buffer, fname: string, o: { access?: number; deny?: number; owner?: LockOwner; how?: OpenHow } = {}) =>
      s.seq([ops.putfh(dir), ops.open({
        access: o.access ?? SHARE_ACCESS.BOTH, deny: o.deny ?? SHARE_DENY.NONE, owner: o.owner ?? owner(s, 'open'),
        how: o.how ?? { create: true, mode: CREATEMODE.UNCHECKED }, claim: { claim: CLAIM.NULL, name: fname },
      }), ops.getfh()]);
    const mustOpen = async (s: Nfs4Session, dir: Buffer, fname: string, o: Parameters<typeof openIn>[3] = {}) => {
      const c = await openIn(s, dir, fname, o);
      assert.equal(c.status, NFS4ERR.OK, `OPEN ${fname}: ${summary(c)}`);
      return { stateid: resultOf(c, 'OPEN').stateid, fh: resultOf(c, 'GETFH').fh };
    };
    const newLock = (open: Stateid, lo: LockOwner) => ({ newOwner: true as const, openSeqid: 0, openStateid: open, lockSeqid: 0, owner: lo });

    describe('sessions', () => {
      test('EXCHANGE_ID, CREATE_SESSION and SEQUENCE; a second EXCHANGE_ID finds the confirmed client', async () => {
        const s = await client();
        const c = await s.seq([ops.putrootfh(), ops.getfh()]);
        assert.equal(c.status, NFS4ERR.OK, summary(c));
        const sq = resultOf(c, 'SEQUENCE');
        assert.ok(sq.sessionid.equals(s.sessionid), 'SEQUENCE echoes the session id');
        assert.equal(sq.seqid, 1);
        assert.equal(sq.slot, 0);
        assert.ok(sq.highestSlot >= 0 && sq.targetHighestSlot >= 0);
        const again = await s.conn.compound([ops.exchangeId(s.verifier, s.ownerId, EXCHGID4_FLAG.USE_NON_PNFS)]);
        const e = resultOf(again, 'EXCHANGE_ID');
        assert.equal(e.clientid, s.clientid, 'same owner and verifier: same client id (RFC 8881 §18.35.4)');
        assert.ok(e.flags & EXCHGID4_FLAG.CONFIRMED_R, 'EXCHGID4_FLAG_CONFIRMED_R once CREATE_SESSION confirmed it');
        const next = await s.seq([]);
        assert.equal(resultOf(next, 'SEQUENCE').seqid, 2);
      });

      test('a sequence id ahead of the slot answers NFS4ERR_SEQ_MISORDERED and the slot stays usable', async () => {
        const s = await client();
        await s.ok([ops.putrootfh()]);
        const bad = await s.seq([ops.putrootfh()], { seqid: (s.slotSeq[0]! + 1) >>> 0 });
        expectStatus(bad.results[0]?.status, ['SEQ_MISORDERED'], 'SEQUENCE seqid+2');
        assert.equal(bad.results.length, 1, 'nothing after a failed SEQUENCE runs');
        const old = await s.seq([ops.putrootfh()], { seqid: (s.slotSeq[0]! - 2) >>> 0 });
        expectStatus(old.results[0]?.status, ['SEQ_MISORDERED'], 'SEQUENCE with an older seqid');
        await s.ok([ops.putrootfh()]);
      });

      test('a retransmission on the same slot and seqid gets the cached reply (a replayed CREATE is not run twice)', async () => {
        const s = await client();
        const h = await home(s);
        const seqid = s.slotSeq[0]!;
        const first = await s.seq([ops.putfh(h.fh), ops.mkdir('once'), ops.getfh()], { cacheThis: true });
        assert.equal(first.status, NFS4ERR.OK, summary(first));
        const replay = await s.seq([ops.putfh(h.fh), ops.mkdir('once'), ops.getfh()], { seqid, cacheThis: true });
        assert.equal(summary(replay), summary(first), 'the replay answers what the first call answered, not NFS4ERR_EXIST');
        assert.ok(replay.raw.equals(first.raw), 'the replayed reply is the cached one, byte for byte');
        const fresh = await s.seq([ops.putfh(h.fh), ops.mkdir('once')]);
        expectStatus(statusOfOp(fresh, 'CREATE'), ['EXIST'], 'the same CREATE with a new seqid');
      });

      test('a slot beyond the session\'s highest answers NFS4ERR_BADSLOT', async () => {
        const s = await client();
        const c = await s.seq([ops.putrootfh()], { slot: s.slotSeq.length, seqid: 1 });
        expectStatus(c.results[0]?.status, ['BADSLOT'], `SEQUENCE on slot ${s.slotSeq.length}`);
      });

      test('an operation before SEQUENCE answers NFS4ERR_OP_NOT_IN_SESSION; SEQUENCE not first answers NFS4ERR_SEQUENCE_POS', async () => {
        const s = await client();
        const c = await s.conn.compound([ops.putrootfh(), ops.getfh()]);
        expectStatus(c.status, ['OP_NOT_IN_SESSION'], 'COMPOUND status');
        // RFC 8881 §18.46.3: such an operation MUST yield NFS4ERR_OP_NOT_IN_SESSION; §16.2.3: the result
        // array holds every evaluated operation up to and including the failing one
        if (deviates('op-not-in-session-empty-resarray')) {
          assert.equal(c.results.length, 0, 'known deviation op-not-in-session-empty-resarray no longer shows: remove it from the server\'s deviations');
        } else {
          assert.equal(c.results.length, 1, 'one result: the first operation\'s');
          expectStatus(c.results[0]?.status, ['OP_NOT_IN_SESSION'], 'PUTROOTFH');
        }
        const pos = await s.seq([ops.sequence(s.sessionid, s.slotSeq[0]!, 0, 0, false)]);
        expectStatus(pos.results[1]?.status, ['SEQUENCE_POS'], 'a second SEQUENCE');
      });

      test('DESTROY_SESSION, then SEQUENCE on it answers NFS4ERR_BADSESSION', async () => {
        const s = await client();
        const d = await s.conn.compound([ops.destroySession(s.sessionid)]);
        assert.equal(d.status, NFS4ERR.OK, summary(d));
        const c = await s.seq([ops.putrootfh()]);
        expectStatus(c.results[0]?.status, ['BADSESSION'], 'SEQUENCE on a destroyed session');
      });

      test('DESTROY_CLIENTID: NFS4ERR_CLIENTID_BUSY while a session exists, then the client id is gone', async () => {
        const s = await client();
        const busy = await s.conn.compound([ops.destroyClientid(s.clientid)]);
        expectStatus(busy.status, ['CLIENTID_BUSY'], 'DESTROY_CLIENTID with a session');
        assert.equal((await s.conn.compound([ops.destroySession(s.sessionid)])).status, NFS4ERR.OK);
        const d = await s.conn.compound([ops.destroyClientid(s.clientid)]);
        assert.equal(d.status, NFS4ERR.OK, summary(d));
        const cs = await s.conn.compound([ops.createSession(s.clientid, 2, { headerPadSize: 0, maxRequestSize: 65536, maxResponseSize: 65536, maxResponseSizeCached: 4096, maxOperations: 8, maxRequests: 1 }, { headerPadSize: 0, maxRequestSize: 4096, maxResponseSize: 4096, maxResponseSizeCached: 0, maxOperations: 2, maxRequests: 1 })]);
        expectStatus(cs.status, ['STALE_CLIENTID'], 'CREATE_SESSION for a destroyed client id');
      });

      test('OPEN before RECLAIM_COMPLETE answers NFS4ERR_GRACE; RECLAIM_COMPLETE once, a second time NFS4ERR_COMPLETE_ALREADY', async () => {
        const s = await client();
        const h = await home(s);
        // RFC 8881 §18.51.3: non-reclaim locking operations before the RECLAIM_COMPLETE get NFS4ERR_GRACE
        const early = await openIn(s, h.fh, 'early');
        expectStatus(statusOfOp(early, 'OPEN'), ['GRACE'], 'OPEN of a new client before RECLAIM_COMPLETE');
        const c = await s.seq([ops.reclaimComplete()]);
        assert.equal(c.status, NFS4ERR.OK, summary(c));
        const again = await s.seq([ops.reclaimComplete()]);
        expectStatus(statusOfOp(again, 'RECLAIM_COMPLETE'), ['COMPLETE_ALREADY'], 'second RECLAIM_COMPLETE');
        await mustOpen(s, h.fh, 'early');
      });
    });

    describe('open and close', () => {
      test('OPEN UNCHECKED creates a regular file and opens an existing one', async () => {
        const s = await client();
        await s.ok([ops.reclaimComplete()]);
        const h = await home(s);
        const a = await mustOpen(s, h.fh, 'u');
        const attrs = resultOf(await s.ok([ops.putfh(a.fh), ops.getattr([FATTR4.TYPE, FATTR4.SIZE])]), 'GETATTR').attrs;
        assert.equal(attrs.type, NF4.REG);
        assert.equal(attrs.size, 0n);
        await mustOpen(s, h.fh, 'u', { owner: owner(s, 'second') });
      });

      test('OPEN GUARDED of an existing name answers NFS4ERR_EXIST', async () => {
        const s = await client();
        await s.ok([ops.reclaimComplete()]);
        const h = await home(s);
        await mustOpen(s, h.fh, 'g', { how: { create: true, mode: CREATEMODE.GUARDED } });
        const c = await openIn(s, h.fh, 'g', { how: { create: true, mode: CREATEMODE.GUARDED } });
        expectStatus(statusOfOp(c, 'OPEN'), ['EXIST'], 'second GUARDED OPEN');
      });

      test('OPEN EXCLUSIVE4_1: a retry with the same verifier opens the file, another verifier answers NFS4ERR_EXIST', async () => {
        const s = await client();
        await s.ok([ops.reclaimComplete()]);
        const h = await home(s);
        const verifier = randomBytes(8);
        const o = owner(s, 'excl');
        const a = await mustOpen(s, h.fh, 'x', { owner: o, how: { create: true, mode: CREATEMODE.EXCLUSIVE4_1, verifier } });
        const b = await mustOpen(s, h.fh, 'x', { owner: o, how: { create: true, mode: CREATEMODE.EXCLUSIVE4_1, verifier } });
        assert.ok(a.fh.equals(b.fh), 'the retry opens the same file');
        const c = await openIn(s, h.fh, 'x', { owner: o, how: { create: true, mode: CREATEMODE.EXCLUSIVE4_1, verifier: randomBytes(8) } });
        expectStatus(statusOfOp(c, 'OPEN'), ['EXIST'], 'EXCLUSIVE4_1 with another verifier');
      });

      test('OPEN without create of a missing name answers NFS4ERR_NOENT', async () => {
        const s = await client();
        await s.ok([ops.reclaimComplete()]);
        const h = await home(s);
        const c = await openIn(s, h.fh, 'missing', { how: { create: false } });
        expectStatus(statusOfOp(c, 'OPEN'), ['NOENT'], 'OPEN NOCREATE');
      });

      test('WRITE then READ a few MiB in pieces with the open stateid, byte-identical', async () => {
        const s = await client();
        await s.ok([ops.reclaimComplete()]);
        const h = await home(s);
        const { stateid, fh } = await mustOpen(s, h.fh, 'big');
        const data = randomBytes(3 * (1 << 20) + 12345);
        const piece = 256 * 1024;
        let verifier: Buffer | undefined;
        for (let off = 0; off < data.length; off += piece) {
          const chunk = data.subarray(off, off + piece);
          const w = resultOf(await s.ok([ops.putfh(fh), ops.write(stateid, off, chunk, STABLE.UNSTABLE)]), 'WRITE');
          assert.equal(w.count, chunk.length, `WRITE at ${off} wrote everything`);
          verifier ??= w.verifier;
        }
        const cm = resultOf(await s.ok([ops.putfh(fh), ops.commit()]), 'COMMIT');
        assert.ok(verifier && cm.verifier.equals(verifier), 'COMMIT verifier equals the WRITE verifier (no restart)');
        const back: Buffer[] = [];
        let off = 0, eof = false;
        while (!eof) {
          const r = resultOf(await s.ok([ops.putfh(fh), ops.read(stateid, off, 300 * 1024)]), 'READ');
          back.push(r.data);
          off += r.data.length;
          eof = r.eof;
          assert.ok(r.data.length > 0 || eof, 'a short READ before EOF still returns bytes');
          assert.ok(off <= data.length);
        }
        assert.ok(Buffer.concat(back).equals(data), 'content read back byte-identical');
        const attrs = resultOf(await s.ok([ops.putfh(fh), ops.getattr([FATTR4.SIZE])]), 'GETATTR').attrs;
        assert.equal(attrs.size, BigInt(data.length));
      });

      test('a file written directly on the server reads back through OPEN and READ', async (t: TestContext) => {
        if (!fx.writeFile) { t.skip('the factory has no writeFile'); return; }
        const s = await client();
        await s.ok([ops.reclaimComplete()]);
        const h = await home(s);
        const data = randomBytes(100_000);
        await fx.writeFile(`${h.name}/direct.bin`, data);
        const { stateid, fh } = await mustOpen(s, h.fh, 'direct.bin', { access: SHARE_ACCESS.READ, how: { create: false } });
        const r = resultOf(await s.ok([ops.putfh(fh), ops.read(stateid, 0, 200_000)]), 'READ');
        assert.ok(r.eof);
        assert.ok(r.data.equals(data));
      });

      test('CLOSE, then the closed stateid answers NFS4ERR_BAD_STATEID', async () => {
        const s = await client();
        await s.ok([ops.reclaimComplete()]);
        const h = await home(s);
        const { stateid, fh } = await mustOpen(s, h.fh, 'c');
        await s.ok([ops.putfh(fh), ops.write(stateid, 0, Buffer.from('hello'))]);
        const cl = await s.ok([ops.putfh(fh), ops.close(stateid)]);
        assert.ok(resultOf(cl, 'CLOSE'));
        const r = await s.seq([ops.putfh(fh), ops.read(stateid, 0, 5)]);
        // RFC 8881 §8.2.4 and §18.2.3: once closed, the stateid's "other" designates no state
        expectStatus(statusOfOp(r, 'READ'), ['BAD_STATEID'], 'READ with a closed stateid');
        const again = await s.seq([ops.putfh(fh), ops.close(stateid)]);
        if (deviates('close-of-closed-stateid-ok')) {
          assert.equal(statusOfOp(again, 'CLOSE'), NFS4ERR.OK, 'known deviation close-of-closed-stateid-ok no longer shows: remove it from the server\'s deviations');
        } else expectStatus(statusOfOp(again, 'CLOSE'), ['BAD_STATEID'], 'second CLOSE (NFSv4.1 has no seqid replay of CLOSE: the slot\'s reply cache does that)');
      });

      test('share reservations: an open denying WRITE makes another owner\'s OPEN for WRITE answer NFS4ERR_SHARE_DENIED', async () => {
        const a = await client(), b = await client();
        await a.ok([ops.reclaimComplete()]);
        await b.ok([ops.reclaimComplete()]);
        const h = await home(a);
        await mustOpen(a, h.fh, 'share', { access: SHARE_ACCESS.READ, deny: SHARE_DENY.WRITE });
        const w = await openIn(b, h.fh, 'share', { access: SHARE_ACCESS.WRITE, how: { create: false } });
        expectStatus(statusOfOp(w, 'OPEN'), ['SHARE_DENIED'], 'OPEN for WRITE against DENY_WRITE');
        const w2 = await openIn(a, h.fh, 'share', { access: SHARE_ACCESS.WRITE, owner: owner(a, 'other'), how: { create: false } });
        expectStatus(statusOfOp(w2, 'OPEN'), ['SHARE_DENIED'], 'OPEN for WRITE by another owner of the same client');
        const rb = await mustOpen(b, h.fh, 'share', { access: SHARE_ACCESS.READ, how: { create: false } });
        const w3 = await b.seq([ops.putfh(rb.fh), ops.write(rb.stateid, 0, Buffer.from('no'))]);
        expectStatus(statusOfOp(w3, 'WRITE'), ['OPENMODE'], 'WRITE with an open for READ only');
        const d = await openIn(b, h.fh, 'share', { access: SHARE_ACCESS.READ, deny: SHARE_DENY.READ, how: { create: false } });
        expectStatus(statusOfOp(d, 'OPEN'), ['SHARE_DENIED'], 'OPEN denying READ while another owner reads');
      });

      test('OPEN_DOWNGRADE to the modes of an earlier OPEN of the same owner; then another owner may open for WRITE', async () => {
        const a = await client(), b = await client();
        await a.ok([ops.reclaimComplete()]);
        await b.ok([ops.reclaimComplete()]);
        const h = await home(a);
        const oo = owner(a, 'dg');
        const first = await mustOpen(a, h.fh, 'dg', { owner: oo, access: SHARE_ACCESS.READ, deny: SHARE_DENY.NONE });
        const o = await mustOpen(a, h.fh, 'dg', { owner: oo, access: SHARE_ACCESS.BOTH, deny: SHARE_DENY.WRITE, how: { create: false } });
        assert.ok(o.stateid.other.equals(first.stateid.other), 'a second OPEN by the same open-owner upgrades the same open state');
        assert.ok(o.stateid.seqid > first.stateid.seqid);
        expectStatus(statusOfOp(await openIn(b, h.fh, 'dg', { access: SHARE_ACCESS.WRITE, how: { create: false } }), 'OPEN'), ['SHARE_DENIED'], 'before the downgrade');
        // RFC 8881 §18.18.3: the new modes must be the union of the modes of some subset of the
        // owner's OPENs: READ/NONE (the first OPEN) is; WRITE/NONE and BOTH/BOTH are not
        const bad = await a.seq([ops.putfh(o.fh), ops.openDowngrade(o.stateid, SHARE_ACCESS.WRITE, SHARE_DENY.NONE)]);
        expectStatus(statusOfOp(bad, 'OPEN_DOWNGRADE'), ['INVAL'], 'OPEN_DOWNGRADE to WRITE/NONE');
        const up = await a.seq([ops.putfh(o.fh), ops.openDowngrade(o.stateid, SHARE_ACCESS.BOTH, SHARE_DENY.BOTH)]);
        expectStatus(statusOfOp(up, 'OPEN_DOWNGRADE'), ['INVAL'], 'OPEN_DOWNGRADE to a deny mode never held');
        const dg = resultOf(await a.ok([ops.putfh(o.fh), ops.openDowngrade(o.stateid, SHARE_ACCESS.READ, SHARE_DENY.NONE)]), 'OPEN_DOWNGRADE');
        assert.ok(dg.stateid.other.equals(o.stateid.other), 'same open state');
        assert.ok(dg.stateid.seqid > o.stateid.seqid, 'the stateid seqid advances');
        const w = await a.seq([ops.putfh(o.fh), ops.write(dg.stateid, 0, Buffer.from('x'))]);
        // the downgraded modes replace the old ones (§18.18.3); a WRITE the open does not allow is OPENMODE (§15.1, NFS4ERR_OPENMODE)
        if (deviates('write-after-downgrade-ok')) {
          assert.equal(statusOfOp(w, 'WRITE'), NFS4ERR.OK, 'known deviation write-after-downgrade-ok no longer shows: remove it from the server\'s deviations');
        } else expectStatus(statusOfOp(w, 'WRITE'), ['OPENMODE'], 'WRITE after downgrading to READ');
        await mustOpen(b, h.fh, 'dg', { access: SHARE_ACCESS.WRITE, how: { create: false } });
      });
    });

    describe('byte-range locks', () => {
      /** Two clients with the same file open for read and write. */
      const twoOpeners = async () => {
        const a = await client(), b = await client();
        await a.ok([ops.reclaimComplete()]);
        await b.ok([ops.reclaimComplete()]);
        const h = await home(a);
        const oa = await mustOpen(a, h.fh, 'locked');
        const ob = await mustOpen(b, h.fh, 'locked', { how: { create: false } });
        return { a, b, h, oa, ob, fh: oa.fh };
      };

      test('LOCK a write range; LOCKT by another lock-owner answers NFS4ERR_DENIED naming the holder', async () => {
        const { a, b, oa, fh } = await twoOpeners();
        const la = owner(a, 'lockA');
        const l = resultOf(await a.ok([ops.putfh(fh), ops.lock(LOCK_TYPE.WRITE, false, 0, 100, newLock(oa.stateid, la))]), 'LOCK');
        assert.ok(l.stateid && !l.stateid.other.equals(oa.stateid.other), 'a lock stateid, not the open one');
        const lb = owner(b, 'lockB');
        const t = await b.seq([ops.putfh(fh), ops.lockt(LOCK_TYPE.WRITE, 50, 10, lb)]);
        expectStatus(statusOfOp(t, 'LOCKT'), ['DENIED'], 'LOCKT over a held write lock');
        const d = bodyOf(t, 'LOCKT')?.denied;
        assert.ok(d, 'LOCK4denied body');
        // RFC 8881 §18.10.4: the conflicting lock's range, or the requested range if the server cannot tell
        assert.ok((d.offset === 0n && d.length === 100n) || (d.offset === 50n && d.length === 10n), `denied range ${d.offset}+${d.length}`);
        assert.equal(d.type, LOCK_TYPE.WRITE);
        assert.equal(d.owner.clientid, a.clientid, 'the holder\'s client id');
        assert.ok(d.owner.owner.equals(la.owner), 'the holder\'s owner');
        const own = await a.seq([ops.putfh(fh), ops.lockt(LOCK_TYPE.WRITE, 50, 10, la)]);
        assert.equal(statusOfOp(own, 'LOCKT'), NFS4ERR.OK, 'LOCKT by the holder itself finds no conflict');
        const free = await b.seq([ops.putfh(fh), ops.lockt(LOCK_TYPE.WRITE, 100, 50, lb)]);
        assert.equal(statusOfOp(free, 'LOCKT'), NFS4ERR.OK, 'LOCKT just past the held range');
      });

      test('read locks of two owners share a range; a write lock over them answers NFS4ERR_DENIED', async () => {
        const { a, b, oa, ob, fh } = await twoOpeners();
        const ra = resultOf(await a.ok([ops.putfh(fh), ops.lock(LOCK_TYPE.READ, false, 200, 100, newLock(oa.stateid, owner(a, 'ra')))]), 'LOCK');
        assert.ok(ra.stateid);
        const rb = resultOf(await b.ok([ops.putfh(fh), ops.lock(LOCK_TYPE.READ, false, 250, 100, newLock(ob.stateid, owner(b, 'rb')))]), 'LOCK');
        assert.ok(rb.stateid);
        const w = await b.seq([ops.putfh(fh), ops.lock(LOCK_TYPE.WRITE, false, 0, 1000, newLock(ob.stateid, owner(b, 'wb')))]);
        expectStatus(statusOfOp(w, 'LOCK'), ['DENIED'], 'write lock over read locks');
        const d = bodyOf(w, 'LOCK')?.denied;
        assert.ok(d);
        assert.equal(d.type, LOCK_TYPE.READ, 'the conflicting lock is a read lock');
      });

      test('LOCKU, then the other owner\'s LOCK succeeds', async () => {
        const { a, b, oa, ob, fh } = await twoOpeners();
        const l = resultOf(await a.ok([ops.putfh(fh), ops.lock(LOCK_TYPE.WRITE, false, 0, 100, newLock(oa.stateid, owner(a, 'la')))]), 'LOCK');
        const lb = owner(b, 'lb');
        const denied = await b.seq([ops.putfh(fh), ops.lock(LOCK_TYPE.WRITE, false, 0, 100, newLock(ob.stateid, lb))]);
        expectStatus(statusOfOp(denied, 'LOCK'), ['DENIED'], 'LOCK while held');
        const u = resultOf(await a.ok([ops.putfh(fh), ops.locku(LOCK_TYPE.WRITE, l.stateid!, 0, 100)]), 'LOCKU');
        assert.ok(u.stateid.other.equals(l.stateid!.other));
        assert.ok(u.stateid.seqid > l.stateid!.seqid, 'LOCKU advances the lock stateid seqid');
        const got = await b.seq([ops.putfh(fh), ops.lock(LOCK_TYPE.WRITE, false, 0, 100, newLock(ob.stateid, lb))]);
        assert.equal(statusOfOp(got, 'LOCK'), NFS4ERR.OK, summary(got));
      });

      test('a lock taken by another protocol makes LOCK answer NFS4ERR_DENIED', async (t: TestContext) => {
        if (!fx.lockOther) { t.skip('the factory has no lockOther'); return; }
        const s = await client();
        await s.ok([ops.reclaimComplete()]);
        const h = await home(s);
        const o = await mustOpen(s, h.fh, 'other');
        const release = await fx.lockOther(`${h.name}/other`, 0, 100);
        try {
          const lo = owner(s, 'lo');
          const c = await s.seq([ops.putfh(o.fh), ops.lock(LOCK_TYPE.WRITE, false, 10, 10, newLock(o.stateid, lo))]);
          expectStatus(statusOfOp(c, 'LOCK'), ['DENIED'], 'LOCK over another protocol\'s lock');
          const ok = await s.seq([ops.putfh(o.fh), ops.lock(LOCK_TYPE.WRITE, false, 100, 10, newLock(o.stateid, lo))]);
          assert.equal(statusOfOp(ok, 'LOCK'), NFS4ERR.OK, `LOCK just past it: ${summary(ok)}`);
        } finally {
          await release();
        }
      });
    });

    describe('lease expiry', () => {
      test('a client that stops renewing loses its lock to another client, and its next SEQUENCE says so', async (t: TestContext) => {
        const { a, b, oa, ob, fh } = await (async () => {
          const a = await client(), b = await client();
          await a.ok([ops.reclaimComplete()]);
          await b.ok([ops.reclaimComplete()]);
          const h = await home(a);
          const oa = await mustOpen(a, h.fh, 'lease');
          const ob = await mustOpen(b, h.fh, 'lease', { how: { create: false } });
          return { a, b, oa, ob, fh: oa.fh };
        })();
        const la = resultOf(await a.ok([ops.putfh(fh), ops.lock(LOCK_TYPE.WRITE, false, 0, 100, newLock(oa.stateid, owner(a, 'la')))]), 'LOCK');
        const lastRenew = Date.now();
        b.keepAlive(Math.max(500, (fx.leaseSeconds * 1000) / 4));
        const lb = owner(b, 'lb');
        let locked: Stateid | undefined, first = true, lastStatus = '';
        const deadline = lastRenew + (3 * fx.leaseSeconds + 10) * 1000;
        let lockB: ReturnType<typeof newLock> | { newOwner: false; lockStateid: Stateid; lockSeqid: number } = newLock(ob.stateid, lb);
        while (!locked && Date.now() < deadline) {
          const c = await b.seq([ops.putfh(fh), ops.lock(LOCK_TYPE.WRITE, false, 0, 100, lockB)]);
          const st = statusOfOp(c, 'LOCK');
          lastStatus = st === undefined ? summary(c) : statusName(st);
          if (st === NFS4ERR.OK) { locked = resultOf(c, 'LOCK').stateid; break; }
          if (first) {
            expectStatus(st, ['DENIED'], 'LOCK while the holder\'s lease runs');
            first = false;
          } else expectStatus(st, ['DENIED', 'DELAY'], 'LOCK while waiting for the lease to end');
          await sleep(1000);
        }
        b.stopKeepAlive();
        assert.ok(locked, `the other client's LOCK never succeeded within 3 leases (last: ${lastStatus})`);
        assert.ok(Date.now() - lastRenew >= fx.leaseSeconds * 1000 - 500, 'the lock was not given away before the lease ended');
        // RFC 8881 §8.3, §18.46.3: the expired client's session may be gone (BADSESSION, DEADSESSION)
        // or SEQUENCE succeeds and sr_status_flags report revoked state
        const sq = await a.seq([]);
        t.diagnostic(`the expired client's SEQUENCE: ${summary(sq)}${sq.results[0]?.status === NFS4ERR.OK ? ` flags 0x${resultOf(sq, 'SEQUENCE').statusFlags.toString(16)}` : ''}`);
        const st = sq.results[0]?.status;
        if (st === NFS4ERR.OK) {
          const flags = resultOf(sq, 'SEQUENCE').statusFlags;
          assert.ok(flags & ALL_ANY_REVOKED, `SEQUENCE succeeded without a *_STATE_REVOKED flag (flags 0x${flags.toString(16)})`);
          const u = await a.seq([ops.putfh(fh), ops.locku(LOCK_TYPE.WRITE, la.stateid!, 0, 100)]);
          expectStatus(statusOfOp(u, 'LOCKU'), ['EXPIRED', 'BAD_STATEID', 'ADMIN_REVOKED', 'DELEG_REVOKED'], 'LOCKU of the revoked lock');
        } else expectStatus(st, ['BADSESSION', 'DEADSESSION'], 'SEQUENCE of the expired client');
      });
    });

    describe('grace period', () => {
      test('after a restart: non-reclaim OPEN answers NFS4ERR_GRACE, CLAIM_PREVIOUS and reclaim LOCK work, after grace NFS4ERR_NO_GRACE', async (t: TestContext) => {
        if (!fx.restart) { t.skip('the factory cannot restart the server'); return; }
        if (!fx.graceful) { t.skip('the server gives no grace period after a restart'); return; }
        const ownerId = Buffer.from(`nfs4-suite-grace-${randomBytes(4).toString('hex')}`);
        const a = await client({ ownerId });
        await a.ok([ops.reclaimComplete()]);
        const h = await home(a);
        const oo = owner(a, 'oo');
        const o = await mustOpen(a, h.fh, 'kept', { owner: oo });
        await a.ok([ops.putfh(o.fh), ops.lock(LOCK_TYPE.WRITE, false, 0, 10, newLock(o.stateid, owner(a, 'lo')))]);
        await fx.restart();
        a.conn.close();
        live = live.filter((x) => x !== a);
        const r = await client({ ownerId });
        const other = await client();
        await other.ok([ops.reclaimComplete()]); // nothing to reclaim (RFC 8881 §18.51.3)
        const ng = await openIn(other, h.fh, 'new-in-grace');
        expectStatus(statusOfOp(ng, 'OPEN'), ['GRACE'], 'non-reclaim OPEN during grace');
        const rc = await r.seq([ops.putfh(o.fh), ops.open({ access: SHARE_ACCESS.BOTH, deny: SHARE_DENY.NONE, owner: { ...oo, clientid: r.clientid }, how: { create: false }, claim: { claim: CLAIM.PREVIOUS, delegType: DELEG.NONE } })]);
        assert.equal(rc.status, NFS4ERR.OK, `reclaim OPEN: ${summary(rc)}`);
        const st = resultOf(rc, 'OPEN').stateid;
        const rl = await r.seq([ops.putfh(o.fh), ops.lock(LOCK_TYPE.WRITE, true, 0, 10, newLock(st, owner(r, 'lo')))]);
        assert.equal(statusOfOp(rl, 'LOCK'), NFS4ERR.OK, `reclaim LOCK: ${summary(rl)}`);
        await r.ok([ops.reclaimComplete()]);
        const late = await r.seq([ops.putfh(o.fh), ops.open({ access: SHARE_ACCESS.READ, deny: SHARE_DENY.NONE, owner: owner(r, 'late'), how: { create: false }, claim: { claim: CLAIM.PREVIOUS, delegType: DELEG.NONE } })]);
        expectStatus(statusOfOp(late, 'OPEN'), ['NO_GRACE'], 'reclaim after this client\'s RECLAIM_COMPLETE (RFC 8881 §18.51.3)');
        const until = Date.now() + 200_000;
        for (;;) {
          const c = await openIn(other, h.fh, 'after-grace');
          if (statusOfOp(c, 'OPEN') !== NFS4ERR.GRACE) { assert.equal(c.status, NFS4ERR.OK, summary(c)); break; }
          assert.ok(Date.now() < until, 'grace never ended');
          await sleep(1000);
        }
        const fresh = await client();
        const nog = await fresh.seq([ops.putfh(o.fh), ops.open({ access: SHARE_ACCESS.READ, deny: SHARE_DENY.NONE, owner: owner(fresh, 'x'), how: { create: false }, claim: { claim: CLAIM.PREVIOUS, delegType: DELEG.NONE } })]);
        expectStatus(statusOfOp(nog, 'OPEN'), ['NO_GRACE'], 'reclaim after the grace period');
      });

      test('a server restarted without grace answers a reclaim with NFS4ERR_NO_GRACE', async (t: TestContext) => {
        if (!fx.restart) { t.skip('the factory cannot restart the server'); return; }
        if (fx.graceful) { t.skip('the server gives a grace period (the test above covers it)'); return; }
        const ownerId = Buffer.from(`nfs4-suite-nograce-${randomBytes(4).toString('hex')}`);
        const a = await client({ ownerId });
        await a.ok([ops.reclaimComplete()]);
        const h = await home(a);
        const o = await mustOpen(a, h.fh, 'kept');
        await fx.restart();
        a.conn.close();
        live = live.filter((x) => x !== a);
        const r = await client({ ownerId });
        const c = await r.seq([ops.putfh(o.fh), ops.open({ access: SHARE_ACCESS.BOTH, deny: SHARE_DENY.NONE, owner: owner(r, 'oo'), how: { create: false }, claim: { claim: CLAIM.PREVIOUS, delegType: DELEG.NONE } })]);
        expectStatus(statusOfOp(c, 'OPEN'), ['NO_GRACE'], 'CLAIM_PREVIOUS with no grace period');
        // RFC 8881 §18.51.3: a client sends RECLAIM_COMPLETE before its first non-reclaim lock or open
        await r.ok([ops.reclaimComplete()]);
        const n = await openIn(r, h.fh, 'fresh');
        assert.equal(n.status, NFS4ERR.OK, `a normal OPEN right after the restart: ${summary(n)}`);
      });
    });

    describe('file handles', () => {
      test('the handle of a removed file answers NFS4ERR_STALE', async () => {
        const s = await client();
        await s.ok([ops.reclaimComplete()]);
        const h = await home(s);
        const o = await mustOpen(s, h.fh, 'gone');
        await s.ok([ops.putfh(o.fh), ops.close(o.stateid)]);
        await s.ok([ops.putfh(h.fh), ops.remove('gone')]);
        const c = await s.seq([ops.putfh(o.fh), ops.getattr([FATTR4.TYPE])]);
        // RFC 8881 §18.19.3 lets PUTFH already answer STALE, or the first use of the handle does
        const failed = c.results.find((e) => e.status !== NFS4ERR.OK);
        assert.ok(failed && (failed.name === 'PUTFH' || failed.name === 'GETATTR'), summary(c));
        expectStatus(failed.status, ['STALE'], `${failed.name} of a removed file's handle`);
      });

      test('a malformed handle answers NFS4ERR_BADHANDLE (a random full-size one BADHANDLE or STALE)', async () => {
        const s = await client();
        const short = await s.seq([ops.putfh(Buffer.from([1, 2, 3])), ops.getattr([FATTR4.TYPE])]);
        // RFC 8881 §15.1.2 (filehandle errors): a handle that fails the server's consistency checks
        // is BADHANDLE; STALE is for a well-formed handle of a file that no longer exists
        const f = short.results.find((e) => e.status !== NFS4ERR.OK);
        assert.ok(f, 'a 3-byte handle was accepted');
        expectStatus(f.status, ['BADHANDLE'], `${f.name} of a 3-byte handle`);
        const empty = await s.seq([ops.putfh(Buffer.alloc(0)), ops.getattr([FATTR4.TYPE])]);
        const e = empty.results.find((x) => x.status !== NFS4ERR.OK);
        assert.ok(e, 'an empty handle was accepted');
        expectStatus(e.status, ['BADHANDLE'], `${e.name} of an empty handle`);
        // 128 random bytes may or may not pass a server's consistency checks: BADHANDLE or STALE
        const rnd = await s.seq([ops.putfh(randomBytes(128)), ops.getattr([FATTR4.TYPE])]);
        const x = rnd.results.find((y) => y.status !== NFS4ERR.OK);
        assert.ok(x, 'a random 128-byte handle was accepted');
        expectStatus(x.status, ['BADHANDLE', 'STALE'], `${x.name} of a random 128-byte handle`);
      });

      test('GETATTR with no current filehandle answers NFS4ERR_NOFILEHANDLE', async () => {
        const s = await client();
        const c = await s.seq([ops.getattr([FATTR4.TYPE])]);
        expectStatus(statusOfOp(c, 'GETATTR'), ['NOFILEHANDLE'], 'GETATTR first');
        const g = await s.seq([ops.getfh()]);
        expectStatus(statusOfOp(g, 'GETFH'), ['NOFILEHANDLE'], 'GETFH first');
      });
    });

    describe('attributes', () => {
      test('supported_attrs lists every REQUIRED attribute (RFC 8881 §5.6)', async () => {
        const s = await client();
        const a = resultOf(await s.ok([...toRoot(), ops.getattr([FATTR4.SUPPORTED_ATTRS, FATTR4.TYPE, FATTR4.LEASE_TIME, FATTR4.FH_EXPIRE_TYPE])]), 'GETATTR').attrs;
        const missing = REQUIRED_ATTRS.filter((n) => !a.supportedAttrs?.includes(n));
        assert.deepEqual(missing, [], `REQUIRED attributes missing from supported_attrs: ${missing.join(', ')}`);
        assert.equal(a.type, NF4.DIR);
        assert.equal(a.leaseTime, fx.leaseSeconds, 'lease_time is the factory\'s lease');
      });

      test('type, size, change, fileid, mode and owner of a new file; filehandle equals GETFH', async () => {
        const s = await client();
        await s.ok([ops.reclaimComplete()]);
        const h = await home(s);
        const o = await mustOpen(s, h.fh, 'attrs', { how: { create: true, mode: CREATEMODE.GUARDED, attrs: { mode: 0o640 } } });
        await s.ok([ops.putfh(o.fh), ops.write(o.stateid, 0, Buffer.alloc(1234, 7))]);
        const a = resultOf(await s.ok([ops.putfh(o.fh), ops.getattr([FATTR4.TYPE, FATTR4.CHANGE, FATTR4.SIZE, FATTR4.FILEHANDLE, FATTR4.FILEID, FATTR4.MODE, FATTR4.NUMLINKS, FATTR4.OWNER])]), 'GETATTR').attrs;
        assert.equal(a.type, NF4.REG);
        assert.equal(a.size, 1234n);
        assert.equal(typeof a.change, 'bigint');
        assert.ok(a.filehandle?.equals(o.fh), 'the filehandle attribute is the GETFH handle');
        assert.equal(typeof a.fileid, 'bigint');
        assert.equal(a.mode, 0o640, 'mode from the createattrs');
        assert.equal(a.numlinks, 1);
        assert.ok(a.owner && a.owner.length > 0, 'an owner string');
        const d = resultOf(await s.ok([ops.putfh(h.fh), ops.getattr([FATTR4.FILEID])]), 'GETATTR').attrs;
        assert.notEqual(d.fileid, a.fileid, 'the directory and the file have different fileids');
      });

      test('the change attribute changes after a WRITE', async () => {
        const s = await client();
        await s.ok([ops.reclaimComplete()]);
        const h = await home(s);
        const o = await mustOpen(s, h.fh, 'chg');
        const before = resultOf(await s.ok([ops.putfh(o.fh), ops.getattr([FATTR4.CHANGE])]), 'GETATTR').attrs.change;
        await s.ok([ops.putfh(o.fh), ops.write(o.stateid, 0, Buffer.from('changed'))]);
        const after = resultOf(await s.ok([ops.putfh(o.fh), ops.getattr([FATTR4.CHANGE, FATTR4.SIZE])]), 'GETATTR').attrs;
        assert.notEqual(after.change, before, 'change attribute after WRITE');
        assert.equal(after.size, 7n);
      });
    });

    test('NULL procedure answers', async () => {
      const c = await RpcConnection.open(fx.host, fx.port);
      try { await c.null(); } finally { c.close(); }
    });
  });
}
