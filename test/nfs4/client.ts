/**
 * A small NFSv4.1 client for tests: ONC RPC over TCP with record marking (RFC 5531 §11),
 * AUTH_SYS credentials, replies matched by xid, and a session layer (EXCHANGE_ID,
 * CREATE_SESSION, then SEQUENCE on slot 0 in front of every COMPOUND) that keeps the slot's
 * sequence id. Nothing here hides a status: callers get every operation's status and check it.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { frameRecord, RecordDecoder } from '../../protocols/nfs/wire/record.js';
import { ACCEPT, AUTH, decodeReply, encodeAuthSys, encodeCall } from '../../protocols/nfs/wire/rpc.js';
import type { XdrReader } from '../../protocols/nfs/wire/xdr.js';
import {
  type ChannelAttrs, type Compound, decodeCompound, encodeCompound, EXCHGID4_FLAG, NFS4_PROGRAM, NFS_V4,
  NFS4ERR, type Op, ops, PROC4, resultOf, statusName,
} from './nfs4.js';

export interface Cred { uid: number; gid: number; gids?: number[] }
const ROOT: Cred = { uid: 0, gid: 0 };
/** Largest reply we accept: a few MiB of READ data plus headers. */
const MAX_REPLY = (4 << 20) + 64 * 1024;

/** One TCP connection carrying RPC calls; several may be outstanding. */
export class RpcConnection {
  private sock!: Socket;
  private dec = new RecordDecoder(MAX_REPLY);
  private nextXid = (randomBytes(4).readUInt32BE(0) & 0x7fffffff) >>> 0;
  private pending = new Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private closed: Error | undefined;

  static async open(host: string, port: number): Promise<RpcConnection> {
    const c = new RpcConnection();
    await new Promise<void>((resolve, reject) => {
      c.sock = connect({ host, port }, () => { c.sock.off('error', reject); resolve(); });
      c.sock.once('error', reject);
    });
    c.sock.setNoDelay(true);
    c.sock.on('data', (d: Buffer) => {
      let recs: Buffer[];
      try { recs = c.dec.push(d); } catch (e) { c.fail(e as Error); return; }
      for (const rec of recs) {
        if (rec.length < 4) continue;
        const xid = rec.readUInt32BE(0);
        const p = c.pending.get(xid);
        if (!p) continue; // a reply nobody waits for (timed out)
        c.pending.delete(xid);
        clearTimeout(p.timer);
        p.resolve(rec);
      }
    });
    c.sock.on('error', (e) => c.fail(e));
    c.sock.on('close', () => c.fail(new Error('connection closed by the server')));
    return c;
  }

  private fail(e: Error): void {
    if (!this.closed) this.closed = e;
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(e); }
    this.pending.clear();
  }

  /** Sends one call and resolves with the whole reply record. `xid` reuses a given xid (retransmissions). */
  callRaw(proc: number, args: Buffer, cred: Cred = ROOT, opts: { xid?: number; timeoutMs?: number } = {}): Promise<{ xid: number; reply: Buffer }> {
    if (this.closed) return Promise.reject(this.closed);
    const xid = opts.xid ?? (this.nextXid = (this.nextXid + 1) >>> 0);
    const body = encodeAuthSys({ stamp: 0, machinename: 'nfs4-suite', uid: cred.uid, gid: cred.gid, gids: cred.gids ?? [] });
    const msg = encodeCall({ xid, prog: NFS4_PROGRAM, vers: NFS_V4, proc, cred: { flavor: AUTH.SYS, body } }, args);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(xid); reject(new Error(`no reply to xid ${xid} in ${opts.timeoutMs ?? 15000} ms`)); }, opts.timeoutMs ?? 15000);
      this.pending.set(xid, { resolve: (reply) => resolve({ xid, reply }), reject, timer });
      this.sock.write(frameRecord(msg));
    });
  }

  /** A COMPOUND: the decoded result (throws on an RPC-level error). */
  async compound(list: readonly Op[], opts: { minor?: number; cred?: Cred; tag?: string; xid?: number } = {}): Promise<Compound & { raw: Buffer }> {
    const { reply } = await this.callRaw(PROC4.COMPOUND, encodeCompound(opts.tag ?? '', opts.minor ?? 1, list), opts.cred, { xid: opts.xid });
    const results = acceptedResults(reply);
    const raw = reply.subarray(results.offset());
    return { ...decodeCompound(results), raw };
  }

  async null(): Promise<void> {
    const { reply } = await this.callRaw(PROC4.NULL, Buffer.alloc(0));
    acceptedResults(reply).end('NULL reply');
  }

  close(): void {
    this.fail(new Error('connection closed'));
    this.sock.destroy();
  }
}

function acceptedResults(reply: Buffer): XdrReader {
  const r = decodeReply(reply);
  if (r.kind !== 'accepted') throw new Error(`RPC call denied (reject_stat ${r.reject}${r.authStat !== undefined ? `, auth_stat ${r.authStat}` : ''})`);
  if (r.stat !== ACCEPT.SUCCESS) throw new Error(`RPC call not accepted: accept_stat ${r.stat}`);
  return r.results;
}

export const DEFAULT_CHANNEL: ChannelAttrs = {
  headerPadSize: 0, maxRequestSize: (1 << 20) + 16384, maxResponseSize: (1 << 20) + 16384,
  maxResponseSizeCached: 64 * 1024, maxOperations: 16, maxRequests: 8,
};

/** A client id with one session on one connection; `seq()` runs COMPOUNDs behind SEQUENCE on slot 0. */
export class Nfs4Session {
  clientid = 0n;
  sessionid: Buffer = Buffer.alloc(16);
  /** The sequence id the next SEQUENCE on each slot sends. */
  slotSeq: number[] = [];
  highestSlot = 0;
  lastStatusFlags = 0;
  private renewTimer: NodeJS.Timeout | undefined;

  constructor(readonly conn: RpcConnection, readonly ownerId: Buffer, readonly verifier: Buffer, readonly cred: Cred = ROOT) {}

  /** Connects, EXCHANGE_ID, CREATE_SESSION. `ownerId` names the client (same id after a restart = the same client). */
  static async create(host: string, port: number, o: { ownerId?: Buffer; verifier?: Buffer; cred?: Cred } = {}): Promise<Nfs4Session> {
    const conn = await RpcConnection.open(host, port);
    const s = new Nfs4Session(conn, o.ownerId ?? Buffer.from(`nfs4-suite-${randomBytes(8).toString('hex')}`), o.verifier ?? randomBytes(8), o.cred ?? ROOT);
    await s.establish();
    return s;
  }

  /** EXCHANGE_ID + CREATE_SESSION (again after a restart or a lost session). */
  async establish(): Promise<void> {
    const ex = await this.conn.compound([ops.exchangeId(this.verifier, this.ownerId, EXCHGID4_FLAG.USE_NON_PNFS)], { cred: this.cred });
    const e = resultOf(ex, 'EXCHANGE_ID');
    this.clientid = e.clientid;
    const cs = await this.conn.compound([ops.createSession(e.clientid, e.sequenceid, DEFAULT_CHANNEL, { ...DEFAULT_CHANNEL, maxRequests: 1 }, this.cred.uid, this.cred.gid)], { cred: this.cred });
    const c = resultOf(cs, 'CREATE_SESSION');
    this.sessionid = c.sessionid;
    this.highestSlot = Math.max(0, c.fore.maxRequests - 1);
    this.slotSeq = Array.from({ length: c.fore.maxRequests }, () => 1);
  }

  /** SEQUENCE (slot `slot`, its next seqid unless given) then `list`. The slot's seqid advances when SEQUENCE succeeded. */
  async seq(list: readonly Op[], o: { slot?: number; seqid?: number; cacheThis?: boolean; xid?: number } = {}): Promise<Compound & { raw: Buffer }> {
    const slot = o.slot ?? 0;
    const seqid = o.seqid ?? this.slotSeq[slot] ?? 1;
    const c = await this.conn.compound([ops.sequence(this.sessionid, seqid, slot, this.highestSlot, o.cacheThis ?? false), ...list], { cred: this.cred, xid: o.xid });
    const s = c.results[0];
    if (s?.status === NFS4ERR.OK && o.seqid === undefined) this.slotSeq[slot] = (seqid + 1) >>> 0;
    if (s?.status === NFS4ERR.OK) this.lastStatusFlags = resultOf(c, 'SEQUENCE').statusFlags;
    return c;
  }

  /** seq() that throws unless the whole COMPOUND succeeded. */
  async ok(list: readonly Op[]): Promise<Compound & { raw: Buffer }> {
    const c = await this.seq(list);
    if (c.status !== NFS4ERR.OK) throw new Error(`COMPOUND failed: ${c.results.map((e) => `${e.name}:${statusName(e.status)}`).join(' ')}`);
    return c;
  }

  /** Sends a lone SEQUENCE every `ms` (keeps the lease while a test waits for another client's to expire). */
  keepAlive(ms: number): void {
    this.stopKeepAlive();
    this.renewTimer = setInterval(() => { this.seq([]).catch(() => {}); }, ms);
    this.renewTimer.unref();
  }
  stopKeepAlive(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = undefined;
  }

  /** DESTROY_SESSION + DESTROY_CLIENTID (best effort), then closes the connection. */
  async destroy(): Promise<void> {
    this.stopKeepAlive();
    try {
      await this.conn.compound([ops.destroySession(this.sessionid)], { cred: this.cred });
      await this.conn.compound([ops.destroyClientid(this.clientid)], { cred: this.cred });
    } catch { /* the connection may already be gone */ }
    this.conn.close();
  }
}
