/**
 * NFSv4 state (RFC 7530 §9, RFC 8881 §8–9): clients and their leases, open-owners and
 * lock-owners with their seqids (4.0) and last replies, stateids, share reservations, the grace
 * period after a restart, and the stable-storage record of clients that may reclaim.
 *
 * clientid4 = boot epoch (high 32 bits) | client number; stateid4.other = epoch | client number
 * | state number (12 bytes). A stateid or clientid of another epoch is from before a restart:
 * NFS4ERR_STALE_STATEID / NFS4ERR_STALE_CLIENTID. A stateid of a client whose lease expired is
 * NFS4ERR_EXPIRED; any other unknown stateid NFS4ERR_BAD_STATEID.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Ctx, Fh, Vfs } from '../../../vfs/types.js';
import { Nfs4Error } from '../errors.js';
import { writeAtomic } from '../grace.js';
import { NFS4, OPEN4_SHARE_ACCESS, type Stateid4 } from '../wire/nfs4.js';

export interface Reply {
  seqid: number;
  /** The op's result from its status on. */
  bytes: Buffer;
}

export interface Owner {
  key: string;
  client: Client;
  owner: Buffer;
  /** Last seqid processed (4.0); undefined for a new owner. */
  seqid: number | undefined;
  last?: Reply;
  /** Open-owners (4.0): OPEN_CONFIRM done. */
  confirmed: boolean;
  states: Set<State>;
}

interface StateBase {
  other: Buffer;
  key: string;
  seqid: number;
  client: Client;
  owner: Owner;
  ino: number;
  gen: number;
  exportId: number;
}
export interface OpenState extends StateBase {
  kind: 'open';
  access: number;
  deny: number;
  /** The distinct (access, deny) pairs of the OPENs in effect: OPEN_DOWNGRADE may go to a union of some of them. */
  modes: { access: number; deny: number }[];
  /** The opener's identity, for the VFS handles. */
  ctx: Ctx;
  read?: Fh;
  write?: Fh;
  locks: Set<LockState>;
}
export interface LockState extends StateBase {
  kind: 'lock';
  open: OpenState;
  /** The ranges it holds, [start, end) (FREE_STATEID and RELEASE_LOCKOWNER refuse while any). */
  ranges: { start: number; end: number }[];
}
export type State = OpenState | LockState;

export interface Slot {
  seq: number;
  reply?: Buffer;
  busy: boolean;
  /** Digest of the request that took `seq` (its COMPOUND arguments and caller): tells a false retry. */
  sum?: number;
}
export interface Session {
  id: Buffer;
  key: string;
  client: Client;
  slots: Slot[];
  maxops: number;
  maxreq: number;
  maxresp: number;
  maxcached: number;
  flags: number;
}

export interface Client {
  idx: number;
  clientid: bigint;
  ownerId: Buffer;
  verifier: Buffer;
  confirmVerf: Buffer;
  confirmed: boolean;
  minor: number;
  lastRenew: number;
  /** Recorded, never used: we make no callbacks (no delegations). */
  callback?: unknown;
  principal: string;
  openOwners: Map<string, Owner>;
  lockOwners: Map<string, Owner>;
  sessions: Set<Session>;
  /** CREATE_SESSION sequence (4.1) and its last reply. */
  csSeq: number;
  csReply?: Buffer;
  reclaimComplete: boolean;
  /** In the stable record of the previous boot: may reclaim during grace. */
  mayReclaim: boolean;
}

export interface StateOptions {
  /** Lease time in seconds (default 90). */
  leaseSeconds?: number;
  /** Grace period after a restart, seconds (default: the lease time). */
  graceSeconds?: number;
  /** Folder of the stable client record (nfs4-clients.json); none = no grace period. */
  stateDir?: string;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const STATE_FILE = 'nfs4-clients.json';
/** Statuses after which a 4.0 owner's seqid does not advance (RFC 7530 §9.1.7). */
export const NO_SEQID_BUMP: ReadonlySet<number> = new Set([
  NFS4.ERR_STALE_CLIENTID, NFS4.ERR_STALE_STATEID, NFS4.ERR_BAD_STATEID, NFS4.ERR_BAD_SEQID, NFS4.ERR_BADXDR,
  NFS4.ERR_RESOURCE, NFS4.ERR_NOFILEHANDLE, NFS4.ERR_MOVED,
]);

export const isAnonymous = (s: Stateid4) => s.seqid === 0 && s.other.every((b) => b === 0);
export const isBypass = (s: Stateid4) => s.seqid === 0xffffffff && s.other.every((b) => b === 0xff);
/** 4.1 "current stateid" (RFC 8881 §16.2.3.1.2). */
export const isCurrent = (s: Stateid4) => s.seqid === 1 && s.other.every((b) => b === 0);

export class StateManager {
  readonly leaseMs: number;
  readonly epoch: number;
  readonly clients = new Map<number, Client>();
  readonly states = new Map<string, State>();
  readonly sessions = new Map<string, Session>();
  /** Open states per inode (share reservations). */
  readonly byIno = new Map<number, Set<OpenState>>();
  /** Closed open stateids → their owner (bounded), so a retransmitted CLOSE (4.0) replays its reply. */
  readonly closed = new Map<string, Owner>();
  /** Client numbers whose lease expired (bounded), for NFS4ERR_EXPIRED. */
  readonly expired = new Set<number>();
  private nextClient = 1;
  private nextState = 1;
  private graceUntil: number;
  private readonly reclaimed = new Set<string>();
  private readonly previous: Set<string>;
  private readonly recorded = new Set<string>();
  private readonly file: string | undefined;
  private timer: NodeJS.Timeout;

  constructor(private readonly vfs: Vfs, opts: StateOptions, private readonly log?: Logger) {
    this.leaseMs = (opts.leaseSeconds ?? 90) * 1000;
    let prevEpoch = -1;
    this.previous = new Set();
    if (opts.stateDir) {
      mkdirSync(opts.stateDir, { recursive: true });
      this.file = join(opts.stateDir, STATE_FILE);
      try {
        const j = JSON.parse(readFileSync(this.file, 'utf8')) as { epoch?: number; clients?: string[] };
        prevEpoch = typeof j.epoch === 'number' ? j.epoch : -1;
        for (const c of j.clients ?? []) if (typeof c === 'string') this.previous.add(c);
      } catch {
        // No record (first start) or unreadable: nobody may reclaim.
      }
    }
    let e = randomBytes(4).readUInt32BE(0);
    if (e === prevEpoch) e = (e + 1) >>> 0;
    this.epoch = e;
    const graceMs = (opts.graceSeconds ?? this.leaseMs / 1000) * 1000;
    this.graceUntil = this.previous.size ? Date.now() + graceMs : 0;
    for (const c of this.previous) this.recorded.add(c);
    this.save().catch((err: unknown) => this.log?.error({ err }, 'nfs4: writing the client record failed'));
    this.timer = setInterval(() => {
      this.sweep().catch((err: unknown) => this.log?.error({ err }, 'nfs4: lease sweep failed'));
    }, Math.max(200, Math.min(this.leaseMs / 4, 10_000)));
    this.timer.unref();
  }

  /**
   * Another grace period on the same lock table (NLM's, set by startNfsServer): while it runs
   * NFSv4 honours only reclaims too, so that an NLM client's reclaim meets no new v4 lock.
   */
  sharedGrace: (() => boolean) | undefined;

  /** True while this manager's own grace period runs (after a restart with recorded clients). */
  ownGrace(): boolean {
    return Date.now() < this.graceUntil;
  }

  /** True while only reclaims are honoured: this manager's grace or the shared one. */
  inGrace(): boolean {
    return this.ownGrace() || (this.sharedGrace?.() ?? false);
  }

  /**
   * A 4.1 client of the stable record said RECLAIM_COMPLETE: once every recorded client has,
   * the grace period ends early (RFC 8881 §8.4.2 allows it).
   */
  reclaimDone(c: Client): void {
    this.reclaimed.add(hex(c.ownerId));
    if ([...this.previous].every((p) => this.reclaimed.has(p))) this.graceUntil = 0;
  }

  /** Stable-record writes in order (each writes the record as it stands when its turn comes). */
  private writing: Promise<void> = Promise.resolve();

  /**
   * Writes the stable record atomically (grace.ts's writeAtomic: temp file, fsync, rename, fsync
   * of the folder), after the writes before it; resolves when this one is on disk.
   */
  private save(): Promise<void> {
    const file = this.file;
    if (!file) return Promise.resolve();
    const run = this.writing.catch(() => undefined).then(() => writeAtomic(file, JSON.stringify({ epoch: this.epoch, clients: [...this.recorded] })));
    this.writing = run;
    return run;
  }

  /** Records a confirmed client in stable storage (it may reclaim after a restart); resolves once durable. */
  async record(c: Client): Promise<void> {
    const k = hex(c.ownerId);
    if (this.recorded.has(k)) return;
    this.recorded.add(k);
    await this.save();
  }

  private unrecord(c: Client): void {
    if (this.recorded.delete(hex(c.ownerId))) {
      this.save().catch((err: unknown) => this.log?.error({ err }, 'nfs4: writing the client record failed'));
    }
  }

  newClient(ownerId: Buffer, verifier: Buffer, minor: number, principal: string): Client {
    const idx = this.nextClient++;
    const c: Client = {
      idx, clientid: (BigInt(this.epoch) << 32n) | BigInt(idx), ownerId: Buffer.from(ownerId), verifier: Buffer.from(verifier),
      confirmVerf: randomBytes(8), confirmed: false, minor, lastRenew: Date.now(), principal, openOwners: new Map(),
      lockOwners: new Map(), sessions: new Set(), csSeq: 1, reclaimComplete: false, mayReclaim: this.previous.has(hex(ownerId)),
    };
    this.clients.set(idx, c);
    return c;
  }

  /** Clients with this owner id (confirmed first). */
  byOwner(ownerId: Buffer): Client[] {
    return [...this.clients.values()].filter((c) => c.ownerId.equals(ownerId)).sort((a, b) => Number(b.confirmed) - Number(a.confirmed));
  }

  /** The client of a clientid4: STALE_CLIENTID for another epoch or an unknown one, EXPIRED for one whose lease ran out. */
  client(clientid: bigint, renew = true): Client {
    const epoch = Number(clientid >> 32n), idx = Number(clientid & 0xffffffffn);
    if (epoch !== this.epoch) throw new Nfs4Error(NFS4.ERR_STALE_CLIENTID, 'clientid of another server instance');
    const c = this.clients.get(idx);
    if (!c) throw new Nfs4Error(this.expired.has(idx) ? NFS4.ERR_EXPIRED : NFS4.ERR_STALE_CLIENTID, 'unknown clientid');
    if (renew) c.lastRenew = Date.now();
    return c;
  }

  newStateid(): Buffer {
    const b = Buffer.alloc(12);
    b.writeUInt32BE(this.epoch, 0);
    b.writeUInt32BE(this.nextState++ >>> 0, 8);
    return b;
  }

  addState(st: State): void {
    st.other.writeUInt32BE(st.client.idx, 4);
    st.key = hex(st.other);
    this.states.set(st.key, st);
    st.owner.states.add(st);
    if (st.kind === 'open') {
      const set = this.byIno.get(st.ino) ?? new Set();
      set.add(st);
      this.byIno.set(st.ino, set);
    } else st.open.locks.add(st);
  }

  /**
   * The state a stateid names (not a special one), checked: STALE_STATEID, BAD_STATEID,
   * EXPIRED, OLD_STATEID (an older seqid; seqid 0 in 4.1 means "the current one"). Renews the lease.
   */
  find(sid: Stateid4, minor: number, checkSeqid = true): State {
    if (sid.other.readUInt32BE(0) !== this.epoch) throw new Nfs4Error(NFS4.ERR_STALE_STATEID, 'stateid of another server instance');
    const st = this.states.get(hex(sid.other));
    if (!st) throw new Nfs4Error(this.expired.has(sid.other.readUInt32BE(4)) ? NFS4.ERR_EXPIRED : NFS4.ERR_BAD_STATEID, 'unknown stateid');
    if (checkSeqid) StateManager.checkSeqid(st, sid, minor);
    st.client.lastRenew = Date.now();
    return st;
  }

  /** A stateid's seqid against its state's: newer is BAD_STATEID, older OLD_STATEID; 0 in 4.1 is "the current one". */
  static checkSeqid(st: State, sid: Stateid4, minor: number): void {
    if (minor >= 1 && sid.seqid === 0) return;
    if (sid.seqid > st.seqid) throw new Nfs4Error(NFS4.ERR_BAD_STATEID, 'stateid seqid from the future');
    if (sid.seqid < st.seqid) throw new Nfs4Error(NFS4.ERR_OLD_STATEID, 'old stateid');
  }

  /** NFS4ERR_SHARE_DENIED when access/deny conflict with another owner's opens of ino (RFC 7530 §9.9). */
  checkShare(ino: number, access: number, deny: number, owner: Owner): void {
    for (const o of this.byIno.get(ino) ?? []) {
      if (o.owner === owner) continue;
      if ((access & o.deny) || (deny & o.access)) throw new Nfs4Error(NFS4.ERR_SHARE_DENIED, 'share reservation conflict');
    }
  }

  /** The VFS lock identity of a lock-owner: ctx.clientId and LockRange.owner. */
  static lockIdentity(o: Owner): { clientId: string; owner: string } {
    return { clientId: `nfs4:${o.client.clientid.toString(16)}`, owner: `nfs4lo:${hex(o.owner)}` };
  }

  /** Releases a lock state's ranges and forgets it. */
  async dropLock(l: LockState): Promise<void> {
    const id = StateManager.lockIdentity(l.owner);
    await this.vfs.unlock(Object.assign({}, l.open.ctx, { clientId: id.clientId }), l.ino, { owner: id.owner, start: 0, end: Infinity }).catch(() => undefined);
    this.states.delete(l.key);
    l.owner.states.delete(l);
    l.open.locks.delete(l);
  }

  /** Closes an open state: its locks, its VFS handles (flushing), its share reservation. */
  async dropOpen(o: OpenState): Promise<void> {
    this.closed.set(o.key, o.owner);
    if (this.closed.size > 4096) this.closed.delete(this.closed.keys().next().value!);
    for (const l of [...o.locks]) await this.dropLock(l);
    this.states.delete(o.key);
    o.owner.states.delete(o);
    const set = this.byIno.get(o.ino);
    set?.delete(o);
    if (set && !set.size) this.byIno.delete(o.ino);
    const fhs = [o.read, o.write].filter((x): x is Fh => x !== undefined);
    o.read = o.write = undefined;
    for (const fh of new Set(fhs)) await this.vfs.release(o.ctx, fh).catch(() => undefined);
  }

  /** Forgets a client and everything it holds; `expired` marks its ids for NFS4ERR_EXPIRED. */
  async dropClient(c: Client, expired: boolean): Promise<void> {
    if (this.clients.get(c.idx) !== c) return;
    this.clients.delete(c.idx);
    for (const s of c.sessions) this.sessions.delete(s.key);
    c.sessions.clear();
    for (const o of c.openOwners.values()) for (const st of [...o.states]) if (st.kind === 'open') await this.dropOpen(st);
    for (const o of c.lockOwners.values()) for (const st of [...o.states]) if (st.kind === 'lock') await this.dropLock(st);
    if (expired) {
      this.expired.add(c.idx);
      if (this.expired.size > 4096) this.expired.delete(this.expired.values().next().value!);
    }
    if (c.confirmed && !this.byOwner(c.ownerId).some((x) => x.confirmed)) this.unrecord(c);
    if (expired) this.log?.info({ clientid: c.clientid.toString(16) }, 'nfs4: lease expired, state released');
  }

  /** Expires clients whose lease ran out (unconfirmed ones too). */
  async sweep(now = Date.now()): Promise<void> {
    for (const c of [...this.clients.values()]) if (now - c.lastRenew > this.leaseMs) await this.dropClient(c, true);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.writing.catch(() => undefined);
    for (const c of [...this.clients.values()]) {
      for (const o of c.openOwners.values()) for (const st of [...o.states]) if (st.kind === 'open') await this.dropOpen(st);
    }
  }

  /** Access bits of an open as VFS open flags. */
  static flags(access: number): { read: boolean; write: boolean } {
    return { read: (access & OPEN4_SHARE_ACCESS.READ) !== 0, write: (access & OPEN4_SHARE_ACCESS.WRITE) !== 0 };
  }
}

/** Removes [start, end) from a list of ranges, keeping the parts outside it. */
export function carve(list: { start: number; end: number }[], r: { start: number; end: number }): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (const l of list) {
    if (l.end <= r.start || r.end <= l.start) { out.push(l); continue; }
    if (l.start < r.start) out.push({ start: l.start, end: r.start });
    if (l.end > r.end) out.push({ start: r.end, end: l.end });
  }
  return out;
}
