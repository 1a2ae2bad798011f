/**
 * The NFSv4 operations with state (RFC 7530 §9 and §16, RFC 8881 §8–9 and §18): SETCLIENTID,
 * SETCLIENTID_CONFIRM, RENEW (4.0), OPEN, OPEN_CONFIRM (4.0), OPEN_DOWNGRADE, CLOSE, READ,
 * WRITE, LOCK, LOCKT, LOCKU, RELEASE_LOCKOWNER (4.0), DELEGRETURN. In 4.0 every open-owner and
 * lock-owner op carries a seqid: the next one is processed, the last one replays its reply, any
 * other is NFS4ERR_BAD_SEQID. In 4.1 seqids are not checked (the session's slot orders calls).
 * Byte-range locks go to the VFS lock table (so they conflict with FUSE, WebDAV and NLM locks).
 */
import { randomBytes } from 'node:crypto';
import { Errno, VfsError } from '../../../vfs/errno.js';
import type { Attr, Ctx, Fh, LockRange } from '../../../vfs/types.js';
import { Nfs4Error } from '../errors.js';
import { FATTR4 } from '../wire/nfs4-attr.js';
import type { U } from '../wire/nfs4-xdr.js';
import {
  CLAIM, CREATEMODE4, LOCK_TYPE, NFS4, OP, OPEN4_CREATE, OPEN4_RESULT, OPEN4_SHARE_ACCESS, OPEN4_SHARE_ACCESS_MASK, OPEN_DELEGATE,
  STABLE4, writeChangeInfo, writeStateid, type Args4, type Fattr4, type StateOwner4, type Stateid4,
} from '../wire/nfs4.js';
import type { XdrWriter } from '../wire/xdr.js';
import { bitmapOf, changeOf, ctxOf, dirOf, fileName, setAttrOf, writable } from './common.js';
import { current, OpReplay, sessionClient, type Compound, type OpDef } from './compound.js';
import type { Node } from './service.js';
import { carve, isAnonymous, isBypass, isCurrent, StateManager, type Client, type LockState, type OpenState, type Owner, type State } from './state.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const ALL_ONES = 0xffffffffffffffffn;
const NS = 1_000_000_000n;

/** 4.0: checks an owner's seqid (next → go on, last → replay, else BAD_SEQID) and marks it for the reply. */
function seqid(c: Compound, owner: Owner, seq: number): void {
  if (c.minor >= 1) return;
  if (owner.seqid !== undefined) {
    if (seq === owner.seqid && owner.last && owner.last.seqid === seq) throw new OpReplay(owner.last.bytes);
    if (seq !== ((owner.seqid + 1) >>> 0)) throw new Nfs4Error(NFS4.ERR_BAD_SEQID, `seqid ${seq}, expected ${(owner.seqid + 1) >>> 0}`);
  }
  c.seqOwner = { owner, seqid: seq };
}

/** The client of a state-owner: the session's in 4.1, the confirmed clientid's in 4.0. */
function clientOf(c: Compound, clientid: bigint): Client {
  const sc = sessionClient(c);
  if (sc) return sc;
  const cl = c.s.state.client(clientid);
  if (!cl.confirmed) throw new Nfs4Error(NFS4.ERR_STALE_CLIENTID, 'clientid not confirmed');
  return cl;
}

function owner(map: Map<string, Owner>, client: Client, o: Buffer): Owner {
  const key = hex(o);
  let ow = map.get(key);
  if (!ow) {
    ow = { key, client, owner: Buffer.from(o), seqid: undefined, confirmed: client.minor >= 1, states: new Set() };
    map.set(key, ow);
  }
  return ow;
}

/** The stateid an op names, resolving 4.1's "current stateid". */
function sidOf(c: Compound, sid: Stateid4): Stateid4 {
  if (c.minor >= 1 && isCurrent(sid)) {
    if (!c.curStateid) throw new Nfs4Error(NFS4.ERR_BAD_STATEID, 'no current stateid');
    return c.curStateid;
  }
  return sid;
}

/**
 * The state a stateid names, of `kind`, for the file `n`. With `seq` (4.0 seqid-carrying ops),
 * the owner's seqid is checked first, so a retransmission replays its reply before the
 * stateid's own seqid (already advanced by the first copy) is checked.
 */
function stateOf(c: Compound, sid: Stateid4, kind: State['kind'], n?: Node, seq?: number): State {
  sid = sidOf(c, sid);
  let st: State;
  try {
    st = c.s.state.find(sid, c.minor, seq === undefined);
  } catch (err) {
    // A retransmitted CLOSE finds its state gone: its owner replays the kept reply.
    const ow = seq !== undefined && c.minor === 0 ? c.s.state.closed.get(hex(sid.other)) : undefined;
    if (ow?.last && ow.seqid === seq && ow.last.seqid === seq) throw new OpReplay(ow.last.bytes);
    throw err;
  }
  if (seq !== undefined) {
    seqid(c, st.owner, seq);
    StateManager.checkSeqid(st, sid, c.minor);
  }
  if (st.kind !== kind) throw new Nfs4Error(NFS4.ERR_BAD_STATEID, `not a ${kind} stateid`);
  if (n && n.ino !== st.ino) throw new Nfs4Error(NFS4.ERR_BAD_STATEID, 'stateid of another file');
  return st;
}

function sidOut(c: Compound, st: State, w: XdrWriter): void {
  const sid = { seqid: st.seqid, other: st.other };
  writeStateid(w, sid);
  c.curStateid = sid;
}

/** A byte range of LOCK/LOCKT/LOCKU as a VFS range: length 0 or past 2^64 is NFS4ERR_INVAL. */
function range(offset: bigint, length: bigint): { start: number; end: number } {
  if (length === 0n) throw new Nfs4Error(NFS4.ERR_INVAL, 'zero-length lock');
  if (length !== ALL_ONES && offset + length > ALL_ONES + 1n) throw new Nfs4Error(NFS4.ERR_INVAL, 'lock range past 2^64');
  const start = offset > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(offset);
  const end = length === ALL_ONES || offset + length > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(offset + length);
  return { start, end };
}

/** LOCK4denied for a conflicting lock of the VFS table (RFC 7530 §16.10). */
function denied(conflict: LockRange & { clientId: string }): (w: XdrWriter) => void {
  return (w) => {
    w.uhyper(conflict.start).uhyper(conflict.end === Infinity ? ALL_ONES : BigInt(conflict.end - conflict.start));
    w.uint(conflict.type === 'write' ? LOCK_TYPE.WRITE_LT : LOCK_TYPE.READ_LT);
    const ours = /^nfs4:([0-9a-f]+)$/.exec(conflict.clientId), lo = /^nfs4lo:([0-9a-f]*)$/.exec(conflict.owner);
    if (ours && lo) w.uhyper(BigInt('0x' + ours[1])).opaque(Buffer.from(lo[1]!, 'hex'));
    else w.uhyper(0n).opaque(Buffer.from(`${conflict.clientId} ${conflict.owner}`.slice(0, 1024)));
  };
}

function lockCtx(o: Owner, ctx: Ctx): { ctx: Ctx; owner: string } {
  const id = StateManager.lockIdentity(o);
  return { ctx: Object.assign({}, ctx, { clientId: id.clientId }), owner: id.owner };
}

/**
 * Reclaims only in grace, and only by clients of the stable record that have not said
 * RECLAIM_COMPLETE; other OPENs and LOCKs wait for the end of grace, and in 4.1 for the
 * client's own RECLAIM_COMPLETE (RFC 8881 §18.51.3).
 */
function checkGrace(c: Compound, client: Client, reclaim: boolean): void {
  const grace = c.s.state.inGrace();
  if (reclaim) {
    if (!grace || !client.mayReclaim || client.reclaimComplete) throw new Nfs4Error(NFS4.ERR_NO_GRACE, 'not in grace for this client');
  } else if (grace) throw new Nfs4Error(NFS4.ERR_GRACE, 'in the grace period after a restart');
  else if (c.minor >= 1 && !client.reclaimComplete) throw new Nfs4Error(NFS4.ERR_GRACE, 'no RECLAIM_COMPLETE from this client yet');
}

/** Whether (access, deny) is the union of some of `modes` (RFC 8881 §18.18.3, RFC 7530 §16.19.4). */
function unionOfSome(modes: readonly { access: number; deny: number }[], access: number, deny: number): boolean {
  const reach = new Set<number>();
  for (const m of modes) {
    const code = m.access | (m.deny << 2);
    for (const r of [...reach]) reach.add(r | code);
    reach.add(code);
  }
  return reach.has(access | (deny << 2));
}

/** A VFS handle for I/O through a stateid: the open's own, or a fresh one (released by `done`). */
async function ioHandle(c: Compound, n: Node, sid: Stateid4, write: boolean): Promise<{ ctx: Ctx; fh: Fh; done: () => Promise<void> }> {
  const s = sidOf(c, sid);
  const none = async () => undefined;
  let open: OpenState | undefined;
  if (!isAnonymous(s) && !isBypass(s)) {
    const st = c.s.state.find(s, c.minor);
    if (st.ino !== n.ino) throw new Nfs4Error(NFS4.ERR_BAD_STATEID, 'stateid of another file');
    open = st.kind === 'open' ? st : st.open;
    if (write && !(open.access & OPEN4_SHARE_ACCESS.WRITE)) throw new Nfs4Error(NFS4.ERR_OPENMODE, 'not open for writing');
    const fh = write ? open.write : open.read;
    if (fh !== undefined) return { ctx: open.ctx, fh, done: none };
  } else {
    // Anonymous I/O meets the share reservations (RFC 7530 §9.1.4.3); the READ bypass only for reads.
    const bit = write ? OPEN4_SHARE_ACCESS.WRITE : OPEN4_SHARE_ACCESS.READ;
    if (!(isBypass(s) && !write)) for (const o of c.s.state.byIno.get(n.ino) ?? []) if (o.deny & bit) throw new Nfs4Error(NFS4.ERR_LOCKED, 'denied by a share reservation');
  }
  const ctx = ctxOf(c, n);
  const fh = await c.s.vfs.open(ctx, n.ino, write ? { write: true } : { read: true });
  return { ctx, fh, done: () => c.s.vfs.release(ctx, fh) };
}

async function fileOf(c: Compound, n: Node): Promise<Attr> {
  const a = await c.s.attr(ctxOf(c, n), n);
  if (a.type === 'dir') throw new Nfs4Error(NFS4.ERR_ISDIR, 'a directory');
  if (a.type === 'symlink') throw new Nfs4Error(NFS4.ERR_SYMLINK, 'a symlink');
  if (a.type !== 'file') throw new Nfs4Error(c.minor >= 1 ? NFS4.ERR_WRONG_TYPE : NFS4.ERR_INVAL, 'not a regular file');
  return a;
}

/** The exclusive-create verifier, kept in atime as NFSv3 does (RFC 7530 §16.16.5). */
const verfNs = (v: Buffer): bigint => BigInt(v.readUInt32BE(0)) * NS + BigInt(v.readUInt32BE(4) % 1e9);

/** OPEN (RFC 7530 §16.16, RFC 8881 §18.16). */
async function open(c: Compound, a: Args4<typeof OP.OPEN>, w: XdrWriter): Promise<void> {
  const claim = a.claim as U;
  const client = clientOf(c, a.owner.clientid);
  const ow = owner(client.openOwners, client, a.owner.owner);
  if (c.minor === 0 && !ow.confirmed && ow.seqid !== undefined && !(a.seqid === ow.seqid && ow.last)) {
    // A new OPEN by an owner never confirmed: its earlier opens are dropped and it starts anew (§16.18.5).
    for (const st of [...ow.states]) if (st.kind === 'open') await c.s.state.dropOpen(st);
    ow.seqid = undefined;
  }
  seqid(c, ow, a.seqid);
  const access = a.share_access & OPEN4_SHARE_ACCESS_MASK, deny = a.share_deny;
  if (access < 1 || access > 3 || deny > 3) throw new Nfs4Error(NFS4.ERR_INVAL, 'bad share_access / share_deny');
  // CLAIM_FH, its delegation forms and EXCLUSIVE4_1 are 4.1's (RFC 8881 §18.16).
  const how0 = a.openhow as U;
  if (c.minor === 0 && (claim.tag > CLAIM.DELEGATE_PREV || (how0.tag === OPEN4_CREATE && (how0.v as U).tag === CREATEMODE4.EXCLUSIVE4_1))) throw new Nfs4Error(NFS4.ERR_INVAL, 'a 4.1 form of OPEN in 4.0');
  const reclaim = claim.tag === CLAIM.PREVIOUS;
  if (claim.tag !== CLAIM.NULL && claim.tag !== CLAIM.PREVIOUS && claim.tag !== CLAIM.FH) throw new Nfs4Error(NFS4.ERR_NOTSUPP, 'delegation claims are not supported');
  checkGrace(c, client, reclaim);
  if (reclaim && (claim.v as number) !== OPEN_DELEGATE.NONE) throw new Nfs4Error(NFS4.ERR_RECLAIM_BAD, 'no delegation to reclaim');

  const cur = current(c);
  let fileNode: Node, attr: Attr, fh: Fh | undefined;
  let before = 0n, after = 0n, attrset: number[] = [];
  const ctx = ctxOf(c, cur);
  const flags = StateManager.flags(access);
  if (claim.tag === CLAIM.NULL) {
    await dirOf(c, cur);
    if (!cur.exp) {
      // The pseudo-fs holds directories only.
      if ((a.openhow as U).tag === OPEN4_CREATE) throw new Nfs4Error(NFS4.ERR_ROFS, 'the pseudo-fs is read-only');
      throw new Nfs4Error(cur.pseudo!.children.has(fileName(claim.v as Buffer)) ? NFS4.ERR_ISDIR : NFS4.ERR_NOENT, 'not a file of an export');
    }
    const name = fileName(claim.v as Buffer);
    before = await changeOf(c, cur);
    const how = a.openhow as U;
    if (how.tag === OPEN4_CREATE) {
      writable(c, cur);
      const cm = how.v as U;
      const verf = cm.tag === CREATEMODE4.EXCLUSIVE4 ? (cm.v as Buffer) : cm.tag === CREATEMODE4.EXCLUSIVE4_1 ? (cm.v as { cva_verf: Buffer }).cva_verf : undefined;
      const fattr: Fattr4 | undefined = cm.tag === CREATEMODE4.UNCHECKED4 || cm.tag === CREATEMODE4.GUARDED4 ? cm.v as Fattr4 : cm.tag === CREATEMODE4.EXCLUSIVE4_1 ? (cm.v as { cva_attrs: Fattr4 }).cva_attrs : undefined;
      const { ch, set } = fattr ? setAttrOf(fattr) : { ch: {}, set: [] as number[] };
      try {
        const r = await c.s.vfs.create(ctx, cur.ino, name, ch.mode ?? 0o644, { read: true, write: true, exclusive: true });
        fh = r.fh;
        attr = r.attr;
        const { mode: _m, ...rest } = ch;
        if (verf) {
          const v = verfNs(verf);
          attr = await c.s.vfs.setattr(ctx, attr.ino, Object.assign({}, rest, { atimeNs: v, mtimeNs: v }), true);
          attrset = cm.tag === CREATEMODE4.EXCLUSIVE4_1 ? [...set, FATTR4.TIME_ACCESS] : [FATTR4.TIME_ACCESS, FATTR4.TIME_MODIFY];
        } else {
          if (rest.uid === attr.uid) delete rest.uid;
          if (rest.gid === attr.gid) delete rest.gid;
          if (rest.size === 0) delete rest.size;
          if (Object.keys(rest).length) attr = await c.s.vfs.setattr(ctx, attr.ino, rest, true);
          attrset = set;
        }
      } catch (err) {
        if (fh !== undefined) {
          // Created, then a setattr failed (e.g. EPERM for an owner change): no handle left open.
          await c.s.vfs.release(ctx, fh).catch(() => undefined);
          fh = undefined;
          throw err;
        }
        if (!(err instanceof VfsError && err.errno === Errno.EEXIST) || cm.tag === CREATEMODE4.GUARDED4) throw err;
        attr = await c.s.vfs.lookup(ctx, cur.ino, name);
        if (verf) {
          // A retransmitted exclusive create finds its own file by the verifier.
          if (attr.type !== 'file' || attr.atimeNs !== verfNs(verf)) throw err;
        } else if (ch.size === 0 && attr.type === 'file') {
          attr = await c.s.vfs.setattr(ctx, attr.ino, { size: 0 });
          attrset = [FATTR4.SIZE];
        }
      }
    } else attr = await c.s.vfs.lookup(ctx, cur.ino, name);
    fileNode = c.s.node(cur.exp!, attr);
    after = await changeOf(c, cur);
  } else {
    fileNode = cur;
    attr = await c.s.attr(ctx, cur);
  }
  try {
    await fileOf(c, fileNode);
    if (flags.write) writable(c, fileNode);
    c.s.state.checkShare(attr.ino, access, deny, ow);
    let st = [...ow.states].find((x): x is OpenState => x.kind === 'open' && x.ino === attr.ino);
    const fctx = ctxOf(c, fileNode);
    // The VFS handles first (the permission check), so a refused OPEN leaves no state behind.
    let rd = st?.read ?? fh, wr = st?.write ?? fh;
    const opened: Fh[] = [];
    try {
      if (flags.read && rd === undefined) opened.push(rd = await c.s.vfs.open(fctx, attr.ino, { read: true }));
      if (flags.write && wr === undefined) opened.push(wr = await c.s.vfs.open(fctx, attr.ino, { write: true }));
    } catch (err) {
      for (const x of opened) await c.s.vfs.release(fctx, x).catch(() => undefined);
      throw err;
    }
    if (!st) {
      st = {
        kind: 'open', other: c.s.state.newStateid(), key: '', seqid: 0, client, owner: ow, ino: attr.ino, gen: attr.gen,
        exportId: fileNode.exp!.id, access: 0, deny: 0, modes: [], ctx: fctx, locks: new Set(),
      };
      c.s.state.addState(st);
    }
    st.read = rd;
    st.write = wr;
    if (fh !== undefined && (st.read === fh || st.write === fh)) fh = undefined;
    st.access |= access;
    st.deny |= deny;
    if (!st.modes.some((m) => m.access === access && m.deny === deny)) st.modes.push({ access, deny });
    st.seqid++;
    sidOut(c, st, w);
    writeChangeInfo(w, before, after);
    w.uint(OPEN4_RESULT.LOCKTYPE_POSIX | (c.minor === 0 && !ow.confirmed ? OPEN4_RESULT.CONFIRM : 0));
    w.array(bitmapOf(attrset), (x, v) => x.uint(v));
    w.uint(OPEN_DELEGATE.NONE);
    c.cur = fileNode;
  } finally {
    if (fh !== undefined) await c.s.vfs.release(ctx, fh);
  }
}

async function lock(c: Compound, a: Args4<typeof OP.LOCK>, w: XdrWriter): Promise<void> {
  const n = current(c);
  const locker = a.locker as U;
  let ls: LockState | undefined, open: OpenState, lo: Owner;
  if (locker.tag === 1) {
    const v = locker.v as { open_seqid: number; open_stateid: Stateid4; lock_seqid: number; lock_owner: StateOwner4 };
    open = stateOf(c, v.open_stateid, 'open', n, v.open_seqid) as OpenState;
    if (c.minor === 0 && v.lock_owner.clientid !== open.client.clientid) throw new Nfs4Error(NFS4.ERR_BAD_STATEID, 'lock owner of another client');
    lo = owner(open.client.lockOwners, open.client, v.lock_owner.owner);
    if (c.minor === 0) lo.seqid = v.lock_seqid;
  } else {
    const v = locker.v as { lock_stateid: Stateid4; lock_seqid: number };
    ls = stateOf(c, v.lock_stateid, 'lock', n, v.lock_seqid) as LockState;
    open = ls.open;
    lo = ls.owner;
  }
  checkGrace(c, open.client, a.reclaim);
  const write = a.locktype === LOCK_TYPE.WRITE_LT || a.locktype === LOCK_TYPE.WRITEW_LT;
  if (write && !(open.access & OPEN4_SHARE_ACCESS.WRITE)) throw new Nfs4Error(NFS4.ERR_OPENMODE, 'write lock on a file not open for writing');
  const r = range(a.offset, a.length);
  const id = lockCtx(lo, open.ctx);
  const want: LockRange = { type: write ? 'write' : 'read', ...r, owner: id.owner };
  try {
    await c.s.vfs.lock(id.ctx, n.ino, want, false);
  } catch (err) {
    if (!(err instanceof VfsError && err.errno === Errno.EAGAIN)) throw err;
    const conflict = await c.s.vfs.testlock(id.ctx, n.ino, want);
    throw new Nfs4Error(NFS4.ERR_DENIED, 'lock conflict', conflict ? denied(conflict) : denied({ ...want, clientId: '?' }));
  }
  if (!ls) ls = [...lo.states].find((x): x is LockState => x.kind === 'lock' && x.ino === n.ino);
  if (!ls) {
    ls = { kind: 'lock', other: c.s.state.newStateid(), key: '', seqid: 0, client: open.client, owner: lo, ino: n.ino, gen: n.gen, exportId: open.exportId, open, ranges: [] };
    c.s.state.addState(ls);
  }
  ls.ranges = [...carve(ls.ranges, r), r];
  ls.seqid++;
  sidOut(c, ls, w);
}

export const STATE_OPS: Partial<Record<number, OpDef>> = {
  [OP.SETCLIENTID]: {
    only: 0,
    run: (c, a: Args4<typeof OP.SETCLIENTID>, w) => {
      const st = c.s.state;
      const same = st.byOwner(a.client.id);
      const confirmed = same.find((x) => x.confirmed);
      const principal = `${c.authNone ? 'none' : 'sys'}:${c.rpc.uid}`;
      if (confirmed && confirmed.principal !== principal && Date.now() - confirmed.lastRenew <= st.leaseMs
        && [...confirmed.openOwners.values(), ...confirmed.lockOwners.values()].some((o) => o.states.size > 0)) {
        // Another principal's live client with state holds this id (RFC 7530 §16.33.5): its address.
        const loc = (confirmed.callback as { cb_location?: { na_r_netid: string; na_r_addr: string } } | undefined)?.cb_location;
        throw new Nfs4Error(NFS4.ERR_CLID_INUSE, 'client id in use by another principal', (x) => void x.string(loc?.na_r_netid ?? 'tcp').string(loc?.na_r_addr ?? ''));
      }
      for (const x of same) if (!x.confirmed) st.dropClient(x, false).catch(() => undefined); // an unconfirmed client holds no state
      let cl: Client;
      if (confirmed && confirmed.verifier.equals(a.client.verifier)) {
        // The same client instance updating its callback: same clientid, a new confirm verifier.
        cl = confirmed;
        cl.confirmVerf = randomBytes(8);
      } else cl = st.newClient(a.client.id, a.client.verifier, 0, principal);
      cl.callback = { ...a.callback, ident: a.callback_ident };
      w.uhyper(cl.clientid).fixed(cl.confirmVerf);
    },
  },
  [OP.SETCLIENTID_CONFIRM]: {
    only: 0,
    run: async (c, a: Args4<typeof OP.SETCLIENTID_CONFIRM>) => {
      const st = c.s.state;
      const cl = st.client(a.clientid);
      if (!cl.confirmVerf.equals(a.setclientid_confirm)) throw new Nfs4Error(NFS4.ERR_STALE_CLIENTID, 'wrong confirm verifier');
      if (!cl.confirmed) {
        // A rebooted client's new instance replaces the old one and its state (RFC 7530 §16.34.5).
        for (const old of st.byOwner(cl.ownerId)) if (old !== cl) await st.dropClient(old, false);
        cl.confirmed = true;
        await st.record(cl);
      }
    },
  },
  [OP.RENEW]: {
    only: 0,
    run: (c, clientid: Args4<typeof OP.RENEW>) => {
      c.s.state.client(clientid);
    },
  },
  [OP.OPEN]: { run: (c, a: Args4<typeof OP.OPEN>, w) => open(c, a, w) },
  [OP.OPEN_CONFIRM]: {
    only: 0,
    run: (c, a: Args4<typeof OP.OPEN_CONFIRM>, w) => {
      const st = stateOf(c, a.open_stateid, 'open', current(c), a.seqid);
      if (st.owner.confirmed) throw new Nfs4Error(NFS4.ERR_BAD_STATEID, 'open-owner already confirmed');
      st.owner.confirmed = true;
      st.seqid++;
      sidOut(c, st, w);
    },
  },
  [OP.OPEN_DOWNGRADE]: {
    run: (c, a: Args4<typeof OP.OPEN_DOWNGRADE>, w) => {
      const st = stateOf(c, a.open_stateid, 'open', current(c), a.seqid) as OpenState;
      const access = a.share_access & OPEN4_SHARE_ACCESS_MASK;
      if (access < 1 || !unionOfSome(st.modes, access, a.share_deny)) throw new Nfs4Error(NFS4.ERR_INVAL, 'not the modes of some of the OPENs');
      st.access = access;
      st.deny = a.share_deny;
      st.modes = [{ access, deny: a.share_deny }];
      st.seqid++;
      sidOut(c, st, w);
    },
  },
  [OP.CLOSE]: {
    run: async (c, a: Args4<typeof OP.CLOSE>, w) => {
      const st = stateOf(c, a.open_stateid, 'open', current(c), a.seqid) as OpenState;
      await c.s.state.dropOpen(st);
      st.seqid++;
      writeStateid(w, { seqid: st.seqid, other: st.other });
      c.curStateid = undefined;
    },
  },
  [OP.READ]: {
    run: async (c, a: Args4<typeof OP.READ>, w) => {
      const n = current(c);
      await fileOf(c, n);
      const io = await ioHandle(c, n, a.stateid, false);
      try {
        const size = (await c.s.attr(io.ctx, n)).size;
        const count = Math.min(a.count, 1 << 20);
        const off = a.offset > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(a.offset);
        // Lent (Vfs.readLent): given back once the reply is sent (server.ts, XdrWriter.opaqueRef).
        const lent = off >= size || count === 0 ? undefined : await c.s.vfs.readLent(io.ctx, io.fh, off, count);
        const data = lent?.data ?? Buffer.alloc(0);
        w.bool(off + data.length >= size).opaqueRef(data, lent?.giveBack);
      } finally {
        await io.done();
      }
    },
  },
  [OP.WRITE]: {
    run: async (c, a: Args4<typeof OP.WRITE>, w) => {
      const n = writable(c);
      await fileOf(c, n);
      if (a.offset + BigInt(a.data.length) > BigInt(Number.MAX_SAFE_INTEGER)) throw new Nfs4Error(NFS4.ERR_FBIG, 'offset too large');
      const io = await ioHandle(c, n, a.stateid, true);
      try {
        await c.s.vfs.write(io.ctx, io.fh, Number(a.offset), a.data);
        if (a.stable !== STABLE4.UNSTABLE4) await c.s.vfs.fsync(io.ctx, io.fh, a.stable === STABLE4.DATA_SYNC4);
      } finally {
        await io.done();
      }
      w.uint(a.data.length).uint(a.stable).fixed(c.s.verifier);
    },
  },
  [OP.LOCK]: { run: (c, a: Args4<typeof OP.LOCK>, w) => lock(c, a, w) },
  [OP.LOCKT]: {
    run: async (c, a: Args4<typeof OP.LOCKT>) => {
      const n = current(c);
      await fileOf(c, n);
      const client = clientOf(c, a.owner.clientid);
      if (c.s.state.inGrace()) throw new Nfs4Error(NFS4.ERR_GRACE, 'in the grace period');
      const lo: Owner = client.lockOwners.get(hex(a.owner.owner)) ?? { key: '', client, owner: a.owner.owner, seqid: undefined, confirmed: true, states: new Set() };
      const id = lockCtx(lo, ctxOf(c, n));
      const write = a.locktype === LOCK_TYPE.WRITE_LT || a.locktype === LOCK_TYPE.WRITEW_LT;
      const conflict = await c.s.vfs.testlock(id.ctx, n.ino, { type: write ? 'write' : 'read', ...range(a.offset, a.length), owner: id.owner });
      if (conflict) throw new Nfs4Error(NFS4.ERR_DENIED, 'lock conflict', denied(conflict));
    },
  },
  [OP.LOCKU]: {
    run: async (c, a: Args4<typeof OP.LOCKU>, w) => {
      const n = current(c);
      const ls = stateOf(c, a.lock_stateid, 'lock', n, a.seqid) as LockState;
      const id = lockCtx(ls.owner, ls.open.ctx);
      const r = range(a.offset, a.length);
      await c.s.vfs.unlock(id.ctx, n.ino, Object.assign({}, r, { owner: id.owner }));
      ls.ranges = carve(ls.ranges, r);
      ls.seqid++;
      sidOut(c, ls, w);
    },
  },
  [OP.RELEASE_LOCKOWNER]: {
    only: 0,
    run: async (c, a: Args4<typeof OP.RELEASE_LOCKOWNER>) => {
      const client = c.s.state.client(a.clientid);
      const lo = client.lockOwners.get(hex(a.owner));
      if (!lo) return;
      if ([...lo.states].some((st) => st.kind === 'lock' && st.ranges.length)) throw new Nfs4Error(NFS4.ERR_LOCKS_HELD, 'the lock-owner holds locks');
      for (const st of [...lo.states]) if (st.kind === 'lock') await c.s.state.dropLock(st);
      client.lockOwners.delete(lo.key);
    },
  },
  [OP.DELEGRETURN]: {
    run: (c, sid: Args4<typeof OP.DELEGRETURN>) => {
      // We hand out no delegations: any stateid here is not one.
      c.s.state.find(sidOf(c, sid), c.minor);
      throw new Nfs4Error(NFS4.ERR_BAD_STATEID, 'not a delegation stateid');
    },
  },
};
