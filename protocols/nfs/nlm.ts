/**
 * NLM version 4 (program 100021; XNFS "Protocols for Interworking: XNFS, Version 3W" chapters 10
 * and 14, nlm_prot.x) over the VFS's one lock table, so NLM locks conflict with those taken
 * through FUSE, WebDAV, SFTP and NFSv4. File handles are the NFSv3 ones (wire/fh.ts), resolved
 * through `Nfs3Service.resolve` with the same export checks (a handle of no export or a gone
 * file → NLM4_STALE_FH).
 *
 * Holders in the VFS: clientId `nlm:<caller_name>@<address>` (one per client host),
 * owner `nlm:<svid>:<hex of oh>` (one per client process/lock owner). Offsets and lengths are
 * uint64; length 0 is "to the end of the file"; an offset past 2^53 - 1 is NLM4_FBIG, an end
 * past it is "to the end of the file" (the VFS addresses no more).
 *
 * Blocking LOCK: a conflict answers NLM4_BLOCKED and the request waits in the VFS lock table
 * (woken when a conflicting lock goes, whichever protocol held it, in arrival order with the
 * other protocols' waiters); CANCEL, an UNLOCK of the same range, FREE_ALL or close end the
 * wait (an AbortSignal). When the lock is taken, the client's NLM (its port from the portmapper at its address) gets
 * NLM_GRANTED (or NLM_GRANTED_MSG when the request came as LOCK_MSG); a callback that fails,
 * times out or is answered with anything but NLM4_GRANTED releases the lock again.
 *
 * Grace (grace.ts): while the store is in grace only LOCK/NM_LOCK/SHARE with reclaim=true are
 * honoured; TEST, other LOCKs, CANCEL, UNLOCK, SHARE and UNSHARE answer NLM4_DENIED_GRACE_PERIOD.
 * Each client host that is granted a (monitored) lock is recorded in the store before the
 * answer, so NSM can notify it after a restart (nsm.ts).
 *
 * FREE_ALL (a client's lock manager restarted) releases every lock, share and queued request
 * of the hosts with that caller_name — only those at the caller's address unless it calls from
 * loopback.
 *
 * SHARE/UNSHARE (DOS share reservations) live in a table of their own (the VFS has none):
 * a share conflicts when its access meets another holder's deny mode or the other way round.
 */
import type { Logger } from 'pino';
import { Errno, VfsError } from '../../vfs/errno.js';
import type { Ctx, LockRange, Vfs } from '../../vfs/types.js';
import { Nfs3StatusError, nlm4Status, Nlm4StatusError } from './errors.js';
import { squashCtx } from './exports.js';
import type { GraceStore } from './grace.js';
import type { Nfs3Service, NfsCtx } from './nfs3.js';
import { callViaPortmap } from './nlm-rpc.js';
import { hostOf, procNames, type CallInfo, type Program, type Procedure } from './session.js';
import { decodeFh } from './wire/fh.js';
import {
  decodeCancArgs, decodeLockArgs, decodeNotify, decodeRes, decodeShareArgs, decodeTestArgs, decodeTestRes, decodeUnlockArgs,
  encodeRes, encodeShareRes, encodeTestArgs, encodeTestRes, MAXNETOBJ_SZ, NLM4, NLM_PROC, NLM_PROG, NLM_VERS4,
  type Nlm4Holder, type Nlm4Lock, type Nlm4LockArgs, type Nlm4Res, type Nlm4Stat, type Nlm4TestRes,
} from './wire/nlm.js';
import { AUTH, encodeAuthSys, type OpaqueAuth } from './wire/rpc.js';

const NLM_NAME = procNames(NLM_PROC);

const EMPTY = new Uint8Array(0);
const ANON = 65534;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export interface NlmOptions {
  /** The NFSv3 service whose handles and exports NLM shares. */
  nfs: Nfs3Service;
  /** Grace period and client records (grace.ts). */
  grace: GraceStore;
  /** Port of the portmapper on client hosts, for GRANTED and _RES callbacks (default 111). */
  peerPortmapPort?: number;
  /** Milliseconds each callback step may take (default 5,000). */
  callbackTimeoutMs?: number;
  /** Most blocked requests queued at once (default 1,024); beyond: NLM4_DENIED_NOLOCKS. */
  maxBlocked?: number;
  /** Most share reservations (default 4,096); beyond: NLM4_DENIED_NOLOCKS. */
  maxShares?: number;
  /** This server's name in callbacks' AUTH_SYS machinename. */
  serverName?: string;
  log?: Logger;
}

/** A client host as NLM knows it: what it holds, so it can be released as a whole. */
interface Host {
  id: string;
  name: string;
  address: string;
  /** inode → lock owners that took locks there. */
  files: Map<number, Set<string>>;
}

interface Blocked {
  key: string;
  host: Host;
  ino: number;
  ctx: Ctx;
  range: LockRange;
  args: Nlm4LockArgs;
  viaMsg: boolean;
  /** Ends the request's wait in the lock table. */
  abort: AbortController;
}

interface Share {
  hostId: string;
  oh: string;
  mode: number;
  access: number;
}

/** True for a loopback address (a caller on this machine, trusted to speak for any host). */
export const isLoopback = (a: string): boolean => a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');

/** The VFS holder names of an NLM lock. */
export const nlmClientId = (callerName: string, address: string): string => `nlm:${callerName}@${address}`;
export const nlmOwner = (svid: number, oh: Uint8Array): string => `nlm:${svid}:${Buffer.from(oh).toString('hex')}`;
const OWNER_RE = /^nlm:(-?\d+):([0-9a-f]*)$/;

/** [start, end) of an nlm4_lock; NLM4_FBIG when the offset is beyond what the VFS addresses. */
export function rangeOf(l: Pick<Nlm4Lock, 'offset' | 'len'>): { start: number; end: number } {
  if (l.offset > MAX_SAFE) throw new Nlm4StatusError(NLM4.FBIG, 'offset beyond 2^53 - 1');
  const end = l.len === 0n || l.offset + l.len > MAX_SAFE ? Infinity : Number(l.offset + l.len);
  return { start: Number(l.offset), end };
}

export class NlmService {
  readonly vfs: Vfs;
  private hosts = new Map<string, Host>();
  private blocked = new Map<string, Blocked>();
  /** Locks granted by GRANTED_MSG, until the client's GRANTED_RES (keyed by host id and cookie). */
  private grantedMsg = new Map<string, Blocked>();
  private shares = new Map<number, Share[]>();
  private shareCount = 0;
  private closed = false;
  private readonly cred: OpaqueAuth;

  constructor(private readonly opts: NlmOptions) {
    this.vfs = opts.nfs.vfs;
    this.cred = { flavor: AUTH.SYS, body: encodeAuthSys({ stamp: 0, machinename: (opts.serverName ?? 'datawarehouse').slice(0, 255), uid: 0, gid: 0, gids: [] }) };
  }

  /** NLM version 4 for the RPC dispatcher. */
  program(): Program {
    const P = NLM_PROC;
    const procs: Partial<Record<number, Procedure>> = {
      [P.NULL]: ({ call }) => { call.args.end('NULL arguments'); return EMPTY; },
      [P.TEST]: async (c) => encodeTestRes(await this.test(c, decodeTestArgs(c.call.args))),
      [P.LOCK]: async (c) => encodeRes(await this.lock(c, decodeLockArgs(c.call.args), { monitored: true, viaMsg: false })),
      [P.CANCEL]: async (c) => encodeRes(await this.cancel(c, decodeCancArgs(c.call.args))),
      [P.UNLOCK]: async (c) => encodeRes(await this.unlock(c, decodeUnlockArgs(c.call.args))),
      [P.GRANTED]: (c) => encodeRes(this.granted(decodeTestArgs(c.call.args).cookie)),
      [P.TEST_MSG]: async (c) => this.reply(c, P.TEST_RES, encodeTestRes(await this.test(c, decodeTestArgs(c.call.args)))),
      [P.LOCK_MSG]: async (c) => this.reply(c, P.LOCK_RES, encodeRes(await this.lock(c, decodeLockArgs(c.call.args), { monitored: true, viaMsg: true }))),
      [P.CANCEL_MSG]: async (c) => this.reply(c, P.CANCEL_RES, encodeRes(await this.cancel(c, decodeCancArgs(c.call.args)))),
      [P.UNLOCK_MSG]: async (c) => this.reply(c, P.UNLOCK_RES, encodeRes(await this.unlock(c, decodeUnlockArgs(c.call.args)))),
      [P.GRANTED_MSG]: (c) => this.reply(c, P.GRANTED_RES, encodeRes(this.granted(decodeTestArgs(c.call.args).cookie))),
      [P.TEST_RES]: ({ call }) => { decodeTestRes(call.args); return EMPTY; },
      [P.LOCK_RES]: ({ call }) => { decodeRes(call.args); return EMPTY; },
      [P.CANCEL_RES]: ({ call }) => { decodeRes(call.args); return EMPTY; },
      [P.UNLOCK_RES]: ({ call }) => { decodeRes(call.args); return EMPTY; },
      [P.GRANTED_RES]: (c) => this.grantedRes(c, decodeRes(c.call.args)),
      [P.SHARE]: async (c) => this.share(c, decodeShareArgs(c.call.args)),
      [P.UNSHARE]: async (c) => this.unshare(c, decodeShareArgs(c.call.args)),
      [P.NM_LOCK]: async (c) => encodeRes(await this.lock(c, decodeLockArgs(c.call.args), { monitored: false, viaMsg: false })),
      [P.FREE_ALL]: async (c) => {
        const n = decodeNotify(c.call.args);
        const from = hostOf(c.peer);
        await this.releaseHosts((h) => h.name === n.name && (isLoopback(from) || h.address === from));
        return EMPTY;
      },
    };
    return { name: 'nlm', versions: new Map([[NLM_VERS4, procs]]), procName: (_v, p) => NLM_NAME(p) };
  }

  /**
   * Releases every lock, share and queued request of the client hosts `pred` picks (FREE_ALL,
   * an NSM notification that the host rebooted) and forgets their records. Resolves to the
   * number of hosts released.
   */
  async releaseHosts(pred: (h: { id: string; name: string; address: string }) => boolean): Promise<number> {
    const gone = [...this.hosts.values()].filter(pred);
    for (const h of gone) {
      this.hosts.delete(h.id);
      for (const b of [...this.blocked.values()]) if (b.host.id === h.id) this.dropBlocked(b.key);
      for (const [k, b] of this.grantedMsg) if (b.host.id === h.id) this.grantedMsg.delete(k);
      const ctx = this.holderCtx(h.id);
      for (const [ino, owners] of h.files) for (const owner of owners) await this.vfs.unlock(ctx, ino, { start: 0, end: Infinity, owner }).catch(() => undefined);
      for (const [ino, list] of this.shares) {
        const kept = list.filter((s) => s.hostId !== h.id);
        this.shareCount -= list.length - kept.length;
        if (kept.length) this.shares.set(ino, kept);
        else this.shares.delete(ino);
      }
    }
    // Hosts only recorded (from the previous run, not back yet) are forgotten too.
    const recorded = this.opts.grace.clients().filter((c) => c.kind === 'nlm' && pred({ id: c.id, name: c.name, address: c.address }));
    await this.opts.grace.remove(...gone.map((h) => h.id), ...recorded.map((c) => c.id)).catch((err: unknown) => this.opts.log?.warn({ err }, 'nlm: state file write failed'));
    return gone.length;
  }

  /** Ends the waits of blocked requests (they are dropped; locks stay in the VFS until it closes). */
  close(): void {
    this.closed = true;
    for (const key of [...this.blocked.keys()]) this.dropBlocked(key);
  }

  /** Forgets a blocked request and ends its wait; whether there was one. */
  private dropBlocked(key: string): boolean {
    const b = this.blocked.get(key);
    if (!b) return false;
    this.blocked.delete(key);
    b.abort.abort();
    return true;
  }

  /** The host of a call (registered by `track` once it holds something). */
  private host(callerName: string, peer: string): Host {
    const address = hostOf(peer);
    const id = nlmClientId(callerName, address);
    return this.hosts.get(id) ?? { id, name: callerName, address, files: new Map() };
  }

  private holderCtx(hostId: string, base?: Ctx): Ctx {
    return { uid: base?.uid ?? 0, gid: base?.gid ?? 0, groups: base?.groups ?? [], clientId: hostId };
  }

  /** The inode a handle names, with the export checks of NFSv3, and the caller's squashed identity. */
  private async resolve(c: CallInfo, fh: Buffer, hostId: string): Promise<{ ino: number; ctx: Ctx; readOnly: boolean }> {
    const host = hostOf(c.peer);
    const h = decodeFh(fh);
    const exp = h ? this.opts.nfs.exports.get(h.exportId) : undefined;
    const nctx: NfsCtx = exp && exp.allows(host)
      ? Object.assign({}, squashCtx(exp, c.ctx, !c.call.sys), { host, exp, modifies: false })
      : { uid: ANON, gid: ANON, groups: [], clientId: c.ctx.clientId, host, modifies: false };
    const attr = await this.opts.nfs.resolve(nctx, fh);
    return { ino: attr.ino, ctx: this.holderCtx(hostId, nctx), readOnly: !!exp?.readOnly };
  }

  private async test(c: CallInfo, a: { cookie: Buffer; exclusive: boolean; alock: Nlm4Lock }): Promise<Nlm4TestRes> {
    try {
      if (this.opts.grace.inGrace()) throw new Nlm4StatusError(NLM4.DENIED_GRACE_PERIOD);
      const hostId = nlmClientId(a.alock.callerName, hostOf(c.peer));
      const { ino, ctx } = await this.resolve(c, a.alock.fh, hostId);
      const r = rangeOf(a.alock);
      const hit = await this.vfs.testlock(ctx, ino, { type: a.exclusive ? 'write' : 'read', ...r, owner: nlmOwner(a.alock.svid, a.alock.oh) });
      if (!hit) return { cookie: a.cookie, stat: NLM4.GRANTED };
      return { cookie: a.cookie, stat: NLM4.DENIED, holder: holderOf(hit) };
    } catch (err) {
      return { cookie: a.cookie, stat: this.status(err) };
    }
  }

  private async lock(c: CallInfo, a: Nlm4LockArgs, how: { monitored: boolean; viaMsg: boolean }): Promise<Nlm4Res> {
    const res = (stat: Nlm4Stat): Nlm4Res => ({ cookie: a.cookie, stat });
    try {
      if (this.opts.grace.inGrace() && !a.reclaim) return res(NLM4.DENIED_GRACE_PERIOD);
      const host = this.host(a.alock.callerName, c.peer);
      const { ino, ctx, readOnly } = await this.resolve(c, a.alock.fh, host.id);
      if (a.exclusive && readOnly) return res(NLM4.ROFS);
      const range: LockRange = { type: a.exclusive ? 'write' : 'read', ...rangeOf(a.alock), owner: nlmOwner(a.alock.svid, a.alock.oh) };
      const key = `${host.id}|${range.owner}|${ino}|${range.start}|${range.end}`;
      if (this.blocked.has(key)) return res(NLM4.BLOCKED); // a retransmission
      try {
        await this.vfs.lock(ctx, ino, range, false);
      } catch (err) {
        if (!(err instanceof VfsError && err.errno === Errno.EAGAIN) || !a.block || !how.monitored) throw err;
        if (this.blocked.size >= (this.opts.maxBlocked ?? 1024)) return res(NLM4.DENIED_NOLOCKS);
        const b: Blocked = { key, host, ino, ctx, range, args: a, viaMsg: how.viaMsg, abort: new AbortController() };
        this.blocked.set(key, b);
        void this.wait(b);
        return res(NLM4.BLOCKED);
      }
      this.track(host, ino, range.owner);
      if (how.monitored && !(await this.monitor(host))) {
        await this.vfs.unlock(ctx, ino, range);
        return res(NLM4.DENIED_NOLOCKS);
      }
      return res(NLM4.GRANTED);
    } catch (err) {
      return res(this.status(err));
    }
  }

  private async cancel(c: CallInfo, a: { cookie: Buffer; alock: Nlm4Lock }): Promise<Nlm4Res> {
    try {
      if (this.opts.grace.inGrace()) throw new Nlm4StatusError(NLM4.DENIED_GRACE_PERIOD);
      const hostId = nlmClientId(a.alock.callerName, hostOf(c.peer));
      const { ino } = await this.resolve(c, a.alock.fh, hostId);
      const r = rangeOf(a.alock);
      const key = `${hostId}|${nlmOwner(a.alock.svid, a.alock.oh)}|${ino}|${r.start}|${r.end}`;
      return { cookie: a.cookie, stat: this.dropBlocked(key) ? NLM4.GRANTED : NLM4.DENIED };
    } catch (err) {
      return { cookie: a.cookie, stat: this.status(err) };
    }
  }

  private async unlock(c: CallInfo, a: { cookie: Buffer; alock: Nlm4Lock }): Promise<Nlm4Res> {
    try {
      if (this.opts.grace.inGrace()) throw new Nlm4StatusError(NLM4.DENIED_GRACE_PERIOD);
      const hostId = nlmClientId(a.alock.callerName, hostOf(c.peer));
      const { ino, ctx } = await this.resolve(c, a.alock.fh, hostId);
      const r = rangeOf(a.alock);
      const owner = nlmOwner(a.alock.svid, a.alock.oh);
      this.dropBlocked(`${hostId}|${owner}|${ino}|${r.start}|${r.end}`);
      await this.vfs.unlock(ctx, ino, Object.assign({}, r, { owner }));
      if (r.start === 0 && r.end === Infinity) this.untrack(hostId, ino, owner); // all of that owner's locks there are gone
      return { cookie: a.cookie, stat: NLM4.GRANTED };
    } catch (err) {
      return { cookie: a.cookie, stat: this.status(err) };
    }
  }

  /** GRANTED sent to us: this server asked no one for a lock, so it is not ours (NLM4_DENIED). */
  private granted(cookie: Buffer): Nlm4Res {
    return { cookie, stat: NLM4.DENIED };
  }

  /** The client's answer to our GRANTED_MSG: anything but NLM4_GRANTED releases the lock. */
  private async grantedRes(c: CallInfo, r: Nlm4Res): Promise<Uint8Array> {
    const addr = hostOf(c.peer);
    for (const [k, b] of this.grantedMsg) {
      if (b.host.address !== addr || !b.args.cookie.equals(r.cookie)) continue;
      this.grantedMsg.delete(k);
      if (r.stat !== NLM4.GRANTED) await this.vfs.unlock(b.ctx, b.ino, b.range).catch(() => undefined);
      break;
    }
    return EMPTY;
  }

  private async share(c: CallInfo, a: ReturnType<typeof decodeShareArgs>): Promise<Uint8Array> {
    const out = (stat: Nlm4Stat): Uint8Array => encodeShareRes({ cookie: a.cookie, stat, sequence: 0 });
    try {
      if (this.opts.grace.inGrace() && !a.reclaim) return out(NLM4.DENIED_GRACE_PERIOD);
      const host = this.host(a.share.callerName, c.peer);
      const { ino, readOnly } = await this.resolve(c, a.share.fh, host.id);
      if (readOnly && a.share.access & 2) return out(NLM4.ROFS);
      const oh = a.share.oh.toString('hex');
      const list = this.shares.get(ino) ?? [];
      const others = list.filter((s) => s.hostId !== host.id || s.oh !== oh);
      if (others.some((s) => (s.mode & a.share.access) || (s.access & a.share.mode))) return out(NLM4.DENIED);
      if (others.length === list.length && this.shareCount >= (this.opts.maxShares ?? 4096)) return out(NLM4.DENIED_NOLOCKS);
      this.shareCount += others.length + 1 - list.length;
      this.shares.set(ino, [...others, { hostId: host.id, oh, mode: a.share.mode, access: a.share.access }]);
      return out(NLM4.GRANTED);
    } catch (err) {
      return out(this.status(err));
    }
  }

  private async unshare(c: CallInfo, a: ReturnType<typeof decodeShareArgs>): Promise<Uint8Array> {
    const out = (stat: Nlm4Stat): Uint8Array => encodeShareRes({ cookie: a.cookie, stat, sequence: 0 });
    try {
      if (this.opts.grace.inGrace()) return out(NLM4.DENIED_GRACE_PERIOD);
      const hostId = nlmClientId(a.share.callerName, hostOf(c.peer));
      const { ino } = await this.resolve(c, a.share.fh, hostId);
      const oh = a.share.oh.toString('hex');
      const list = this.shares.get(ino) ?? [];
      const kept = list.filter((s) => s.hostId !== hostId || s.oh !== oh);
      this.shareCount -= list.length - kept.length;
      if (kept.length) this.shares.set(ino, kept);
      else this.shares.delete(ino);
      return out(NLM4.GRANTED);
    } catch (err) {
      return out(this.status(err));
    }
  }

  private status(err: unknown): Nlm4Stat {
    if (!(err instanceof VfsError) && !(err instanceof Nlm4StatusError) && !(err instanceof Nfs3StatusError)) this.opts.log?.error({ err }, 'nlm: call failed unexpectedly');
    return nlm4Status(err);
  }

  /** Records the host in stable storage (so NSM notifies it after a restart); false when that failed. */
  private async monitor(h: Host): Promise<boolean> {
    try {
      await this.opts.grace.add({ id: h.id, kind: 'nlm', name: h.name, address: h.address });
      return true;
    } catch (err) {
      this.opts.log?.error({ err, host: h.id }, 'nlm: could not record the client host');
      return false;
    }
  }

  private track(h: Host, ino: number, owner: string): void {
    let owners = h.files.get(ino);
    if (!owners) h.files.set(ino, (owners = new Set()));
    owners.add(owner);
    if (!this.hosts.has(h.id)) this.hosts.set(h.id, h);
  }

  private untrack(hostId: string, ino: number, owner: string): void {
    const owners = this.hosts.get(hostId)?.files.get(ino);
    if (owners?.delete(owner) && !owners.size) this.hosts.get(hostId)!.files.delete(ino);
  }

  /** Sends a _RES call back to the caller of a _MSG procedure, in the background. */
  private reply(c: CallInfo, proc: number, results: Uint8Array): Uint8Array {
    void this.callback(hostOf(c.peer), proc, results).catch((err: unknown) => this.opts.log?.info({ err: (err as Error).message, peer: c.peer, proc }, 'nlm: _RES callback not delivered'));
    return EMPTY;
  }

  private callback(address: string, proc: number, args: Uint8Array) {
    return callViaPortmap(address, this.opts.peerPortmapPort ?? 111, { prog: NLM_PROG, vers: NLM_VERS4, proc, cred: this.cred }, args, this.opts.callbackTimeoutMs ?? 5000);
  }

  /** Waits in the lock table for a blocked request's lock; once taken, the client is told. */
  private async wait(b: Blocked): Promise<void> {
    try {
      await this.vfs.lock(b.ctx, b.ino, b.range, true, b.abort.signal);
    } catch {
      // Ended (CANCEL, UNLOCK, FREE_ALL, close): nothing was taken, nothing to tell.
      if (this.blocked.get(b.key) === b) this.blocked.delete(b.key);
      return;
    }
    if (this.blocked.get(b.key) !== b || this.closed) {
      await this.vfs.unlock(b.ctx, b.ino, b.range).catch(() => undefined);
      return;
    }
    this.blocked.delete(b.key);
    this.track(b.host, b.ino, b.range.owner);
    void this.grant(b);
  }

  /** Tells the client its blocked lock is granted; releases it when that cannot be delivered. */
  private async grant(b: Blocked): Promise<void> {
    const args = encodeTestArgs({ cookie: b.args.cookie, exclusive: b.args.exclusive, alock: b.args.alock });
    try {
      if (!(await this.monitor(b.host))) throw new Error('client host not recorded');
      if (b.viaMsg) {
        if (this.grantedMsg.size >= 1024) this.grantedMsg.delete(this.grantedMsg.keys().next().value!); // the oldest stays granted
        this.grantedMsg.set(`${b.host.id}|${b.args.cookie.toString('hex')}`, b);
        await this.callback(b.host.address, NLM_PROC.GRANTED_MSG, args);
      } else {
        const r = decodeRes(await this.callback(b.host.address, NLM_PROC.GRANTED, args));
        if (r.stat !== NLM4.GRANTED) throw new Error(`client answered GRANTED with ${r.stat}`);
      }
    } catch (err) {
      this.opts.log?.info({ err: (err as Error).message, host: b.host.id }, 'nlm: GRANTED callback failed, lock released');
      this.grantedMsg.delete(`${b.host.id}|${b.args.cookie.toString('hex')}`);
      await this.vfs.unlock(b.ctx, b.ino, b.range).catch(() => undefined);
    }
  }
}

/** The nlm4_holder of a conflicting lock: an NLM holder's own svid and oh, else svid 0 and its client id. */
function holderOf(hit: LockRange & { clientId: string }): Nlm4Holder {
  const m = OWNER_RE.exec(hit.owner);
  const oh = m ? Buffer.from(m[2]!, 'hex') : Buffer.from(hit.clientId, 'utf8').subarray(0, MAXNETOBJ_SZ);
  const svid = m ? Number(m[1]) | 0 : 0;
  return {
    exclusive: hit.type === 'write', svid, oh,
    offset: BigInt(hit.start),
    len: hit.end === Infinity ? 0n : BigInt(hit.end - hit.start),
  };
}
