/**
 * Leases v1 and v2 (MS-SMB2 2.2.13.2.8 / 2.2.13.2.10 RqLs request, 2.2.14.2.10 / 2.2.14.2.11
 * response, 2.2.23.2 lease break notification, 2.2.24.2 / 2.2.25.2 acknowledgment and response,
 * 3.3.5.9.8 / 3.3.5.9.11, 3.3.4.7, 3.3.5.22.2; the caching rules of MS-FSA 2.1.5.17 as far as a
 * single-stream server and smbtorture's smb2.lease need them).
 *
 * A lease is (ClientGuid, LeaseKey) → one file and a state of R (read), H (handle) and W
 * (write) caching; every open a client makes with that key shares it. The rules:
 *
 * - Valid requests contain R (H, W, HW alone are granted as nothing). Folders get no lease (no
 *   CAP_DIRECTORY_LEASING): the response is OplockLevel NONE without a lease context.
 * - A new lease gets what it asked, without W when the file has opens outside the lease, and
 *   without H or W past an open holding an EXCLUSIVE/BATCH oplock. The same key on another
 *   file with opens → STATUS_INVALID_PARAMETER.
 * - The same key again (an "upgrade"): the state changes only to a valid, strictly larger
 *   state that the other opens allow (W only when no other opens); otherwise it stays.
 * - Breaks on open (oplock.ts `breakForOpen` calls `leaseBreaksForOpen`): other leases lose H
 *   when the share modes refuse the new open or it deletes on close (so the holder may close),
 *   W when they do not; an overwrite takes everything. Breaks on write/size change: other
 *   leases lose R (and W). A rename or a delete-pending set through an open takes H from the
 *   other leases of the file and waits for them (`leaseBreaksForHandle`, MS-FSA 2.1.5.15.12,
 *   2.1.5.15.3). Leaving W or H needs an acknowledgment
 *   (SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED); the new open waits for it (or the holder's
 *   close, or 35 s — then the lease has nothing left, as on Windows) only when the break takes
 *   W, or H when the share modes refuse it or it deletes on close; a break from R alone is
 *   applied at once. An open arriving while a break is unanswered narrows it for later
 *   (`deferred`): after the acknowledgment the lease is broken further, H first, under the
 *   same epoch, and the waiting opens go on at the end.
 * - v2 leases count an epoch: a new lease has the request's epoch + 1, every break and upgrade
 *   adds one (the continuation steps of one break none); responses and breaks carry it. v1
 *   responses and breaks carry 0.
 * - The break notification (2.2.23.2; unsigned, MessageId all ones, SessionId 0) goes to the
 *   client's oldest connection still up (leases belong to the ClientGuid; Windows does the
 *   same), else to the connection of one of the lease's opens. A disconnected durable open's
 *   lease with H being broken closes that open (3.3.4.7).
 * - Acknowledgment (3.3.5.22.2): unknown lease → OBJECT_NAME_NOT_FOUND; no break in progress
 *   → UNSUCCESSFUL; a state not within the break-to state → REQUEST_NOT_ACCEPTED.
 *
 * Not done: directory leases, parent lease keys (echoed, not used), lease break reasons and
 * hints, breaks caused by locks, breaks of a rename's target.
 */
import { STATUS, SmbStatusError } from './errors.js';
import { Command, HDR_FLAGS, header as mkHeader, SMB2_HEADER_SIZE, writeHeader } from './wire/header.js';
import { Reader, WireError, Writer } from './wire/reader.js';
import type { CreateContext } from './wire/files.js';
import type { Node, Open } from './files.js';
import type { Request, Response, SmbConnection } from './session.js';
import { BREAK_TIMEOUT_MS, connectionOf, inline, isInline, OPLOCK, oplockLevelOf } from './oplock.js';
import { DIALECT } from './wire/negotiate.js';

/** Lease state bits (2.2.13.2.8). */
export const LEASE = { NONE: 0, READ: 1, HANDLE: 2, WRITE: 4 } as const;
const RWH = 7;
export const LEASE_FLAG_BREAK_IN_PROGRESS = 0x2;
export const LEASE_FLAG_PARENT_LEASE_KEY_SET = 0x4;
const BREAK_FLAG_ACK_REQUIRED = 0x1;

export interface Lease {
  clientGuid: string;
  key: Buffer;
  node: Node;
  state: number;
  /** Breaking: the state the notification named. */
  breakTo: number | undefined;
  version: 1 | 2;
  epoch: number;
  parentKey: Buffer | undefined;
  opens: Set<Open>;
  waiters: (() => void)[];
  timer: NodeJS.Timeout | undefined;
  /**
   * A narrower state an open asked for while a break was in progress: after the acknowledgment
   * the break goes on towards it (one more notification per step), and the opens waiting on
   * the lease wait until it is reached.
   */
  deferred: number | undefined;
}

/** What a CREATE's RqLs asked. */
export interface LeaseRequest {
  key: Buffer;
  state: number;
  flags: number;
  version: 1 | 2;
  parentKey: Buffer | undefined;
  epoch: number;
}

/** The requester's lease identity, so its own lease is not broken by its own open. */
export interface LeaseKeyRef {
  clientGuid: string;
  key: Buffer;
}

const leases = new Map<string, Lease>();
const leaseOfOpen = new WeakMap<Open, Lease>();
/** The connections each client (ClientGuid) leased through, oldest first (where its breaks go). */
const clientConnections = new Map<string, Set<SmbConnection>>();

function noteClientConnection(c: SmbConnection): void {
  const guid = clientGuidOf(c);
  let set = clientConnections.get(guid);
  if (!set) clientConnections.set(guid, (set = new Set()));
  set.add(c);
}

/**
 * Where a break of `l` goes (3.3.4.7: any connection of the lease's client): the client's
 * oldest connection still up — Windows does the same, smbtorture smb2.lease.v2_complex1 checks
 * that a break of a lease whose open is on a second connection of the same ClientGuid arrives
 * on the first — else the connection of one of the lease's opens.
 */
function breakTarget(l: Lease, live: Open): { c: SmbConnection; sessionId: bigint } {
  const own = connectionOf(live)!;
  const set = clientConnections.get(l.clientGuid);
  for (const c of set ?? []) {
    if (!c.pushMessage) { set!.delete(c); continue; }
    const sid = c === own ? live.sessionId : c.sessions.keys().next().value;
    if (sid !== undefined) return { c, sessionId: sid };
  }
  return { c: own, sessionId: live.sessionId };
}

const id = (clientGuid: string, key: Buffer) => `${clientGuid}:${key.toString('hex')}`;
export const clientGuidOf = (c: SmbConnection): string => c.clientGuid?.toString('hex') ?? '';

export function leaseOf(o: Open): Lease | undefined {
  return leaseOfOpen.get(o);
}

/**
 * The RqLs context of a CREATE, if the connection may lease (2.1 and later); v2 needs 3.x (a
 * 3.x client's 52-byte context), else it is read as v1. A context too short → undefined.
 */
export function leaseRequest(c: SmbConnection, contexts: readonly CreateContext[]): LeaseRequest | undefined {
  if (c.dialect === null || c.dialect < DIALECT.SMB210 || c.dialect === DIALECT.WILDCARD) return undefined;
  const x = contexts.find((y) => y.name === 'RqLs');
  if (!x || x.data.length < 32) return undefined;
  const v2 = x.data.length >= 52 && c.dialect >= DIALECT.SMB300;
  // SMB2_CREATE_REQUEST_LEASE(_V2), 2.2.13.2.8 / 2.2.13.2.10, through the bounded reader.
  const r = new Reader(x.data);
  const key = Buffer.from(r.bytes(16, 16, 'LeaseKey'));
  const state = r.u32('LeaseState') & RWH, flags = r.u32('LeaseFlags');
  r.skip(8, 'LeaseDuration');
  const parent = v2 ? Buffer.from(r.bytes(16, 16, 'ParentLeaseKey')) : undefined;
  const epoch = v2 ? r.u16('Epoch') : 0;
  return { key, state, flags, version: v2 ? 2 : 1, parentKey: parent && flags & LEASE_FLAG_PARENT_LEASE_KEY_SET ? parent : undefined, epoch };
}

/** The same key naming another file that still has opens → INVALID_PARAMETER (3.3.5.9.8). Call before creating anything. */
export function checkLeaseKey(c: SmbConnection, req: LeaseRequest | undefined, node: Node | undefined, ino: number | undefined): void {
  if (!req) return;
  const l = leases.get(id(clientGuidOf(c), req.key));
  if (l && l.opens.size && (ino === undefined || l.node.ino !== ino || (node !== undefined && l.node !== node))) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
}

const valid = (s: number) => (s & LEASE.READ ? s : 0);

/** Does `o` hold a lease that keeps others from any oplock (H or W, or breaking; smb2.lease.oplock)? */
export function leaseBlocksLevelII(o: Open): boolean {
  const l = leaseOfOpen.get(o);
  return !!l && ((l.state & (LEASE.WRITE | LEASE.HANDLE)) !== 0 || l.breakTo !== undefined);
}

/** For leases a "stat open" may also read the security descriptor (smb2.lease.statopen4; oplocks differ). */
const LEASE_STAT_ACCESS = 0x80 | 0x100 | 0x20000 | 0x100000; // FILE_READ/WRITE_ATTRIBUTES, READ_CONTROL, SYNCHRONIZE
export function isLeaseStatOpen(access: number): boolean {
  return (access & ~LEASE_STAT_ACCESS) === 0;
}

/**
 * Grants the lease of a new open `o` (after it joined node.opens) and returns the response
 * context and the OplockLevel to answer (LEASE, or NONE for folders).
 */
export function grantLease(c: SmbConnection, o: Open, req: LeaseRequest): { level: number; context: CreateContext | undefined } {
  if (o.node.isDir) return { level: OPLOCK.NONE, context: undefined };
  const key = id(clientGuidOf(c), req.key);
  let l = leases.get(key);
  if (l && (l.node !== o.node || !l.opens.size)) {
    // A lease left without opens (or on a file since gone) starts over.
    leases.delete(key);
    l = undefined;
  }
  // Stat opens do not count (smb2.lease.statopen3); an open holding any oplock leaves R only (smb2.lease.oplock).
  const others = [...o.node.opens].filter((x) => x !== o && (l === undefined || leaseOfOpen.get(x) !== l) && (!isLeaseStatOpen(x.access) || leaseOfOpen.has(x)));
  let allowed = others.length ? LEASE.READ | LEASE.HANDLE : RWH;
  if (others.some((x) => oplockLevelOf(x) !== OPLOCK.NONE)) allowed = LEASE.READ;
  const want = valid(req.state);
  if (!l) {
    l = {
      clientGuid: clientGuidOf(c), key: req.key, node: o.node, state: want & allowed, breakTo: undefined, version: req.version,
      epoch: req.version === 2 ? (req.epoch + 1) & 0xffff : 0, parentKey: req.parentKey, opens: new Set(), waiters: [], timer: undefined, deferred: undefined,
    };
    leases.set(key, l);
  } else if (l.breakTo === undefined && want !== l.state && (want & l.state) === l.state && (want & ~allowed) === 0) {
    // An upgrade: a valid, strictly larger state the other opens allow.
    l.state = want;
    if (l.version === 2) l.epoch = (l.epoch + 1) & 0xffff;
  }
  l.opens.add(o);
  leaseOfOpen.set(o, l);
  noteClientConnection(c);
  return { level: OPLOCK.LEASE, context: leaseResponse(l) };
}

/** The RqLs response context (2.2.14.2.10 v1, 2.2.14.2.11 v2) of a lease's current state. */
export function leaseResponse(l: Lease): CreateContext {
  const v2 = l.version === 2;
  const d = Buffer.alloc(v2 ? 52 : 32);
  l.key.copy(d, 0);
  d.writeUInt32LE(l.state, 16);
  d.writeUInt32LE((l.breakTo !== undefined ? LEASE_FLAG_BREAK_IN_PROGRESS : 0) | (v2 && l.parentKey ? LEASE_FLAG_PARENT_LEASE_KEY_SET : 0), 20);
  if (v2) {
    l.parentKey?.copy(d, 32);
    d.writeUInt16LE(l.epoch, 48);
  }
  return { name: 'RqLs', data: d };
}

/** The open is gone: it leaves its lease (the lease goes with its last open; its waiters wake). */
export function leaveLease(o: Open): void {
  const l = leaseOfOpen.get(o);
  if (!l) return;
  leaseOfOpen.delete(o);
  l.opens.delete(o);
  if (!l.opens.size) {
    finish(l, LEASE.NONE);
    if (leases.get(id(l.clientGuid, l.key)) === l) leases.delete(id(l.clientGuid, l.key));
  }
}

function finish(l: Lease, state: number): void {
  l.state = state;
  l.breakTo = undefined;
  l.deferred = undefined;
  if (l.timer) clearTimeout(l.timer);
  l.timer = undefined;
  for (const f of l.waiters.splice(0)) f();
}

const waitFor = (l: Lease) => new Promise<void>((r) => { l.waiters.push(r); });

/** What closes a disconnected durable open whose handle caching must go (durable.ts registers it through oplock.ts). */
let closeDisconnected: ((o: Open) => Promise<void>) | undefined;
export function onLeaseBreakDisconnected(f: (o: Open) => Promise<void>): void {
  closeDisconnected = f;
}

/** Starts breaking `l` to `to` (a subset of its state); resolves when no more waiting is needed. */
function startBreak(l: Lease, to: number): Promise<void> {
  if (l.breakTo !== undefined) return waitFor(l);
  if (to === l.state) return inline();
  const live = [...l.opens].find((o) => connectionOf(o) !== undefined);
  if (!live) {
    // Every open of the lease is a disconnected durable one: nobody can hear the break, so
    // they are closed (3.3.4.7; smb2.durable-open.lease: the new open then gets RWH).
    const close = closeDisconnected;
    const gone = [...l.opens];
    finish(l, to);
    return inline(close ? Promise.all(gone.map((o) => close(o))).then(() => undefined) : undefined);
  }
  if (l.version === 2) l.epoch = (l.epoch + 1) & 0xffff;
  const p = waitFor(l);
  return sendBreak(l, live, to) ? p : inline(p);
}

/**
 * Sends the notification of a break of `l` from its state to `to` (the epoch already counted)
 * and, when it needs an acknowledgment, marks the lease breaking with its timer; otherwise (or
 * when nothing could be sent) the lease is `to` at once. Returns whether an acknowledgment is
 * awaited.
 */
function sendBreak(l: Lease, live: Open, to: number): boolean {
  const { c, sessionId } = breakTarget(l, live);
  const ackRequired = (l.state & (LEASE.WRITE | LEASE.HANDLE)) !== 0;
  const sent = c.push(leaseBreakNotification(l, l.state, to, ackRequired), sessionId);
  if (!sent || !ackRequired) {
    finish(l, to);
    return false;
  }
  l.breakTo = to;
  if (l.timer) clearTimeout(l.timer);
  l.timer = setTimeout(() => {
    // Not acknowledged in time: the lease loses all caching, not just what the break named
    // (Windows' behaviour; smbtorture smb2.lease.timeout reads the state back as none).
    c.log?.info({ peer: c.opts.peer }, 'smb: lease break not acknowledged in time');
    finish(l, LEASE.NONE);
  }, BREAK_TIMEOUT_MS);
  l.timer.unref?.();
  return true;
}

/** The lease break notification (2.2.23.2), header included. */
export function leaseBreakNotification(l: Lease, from: number, to: number, ackRequired: boolean): Buffer {
  const w = new Writer(108);
  writeHeader(w, mkHeader({ command: Command.OPLOCK_BREAK, flags: HDR_FLAGS.SERVER_TO_REDIR, messageId: 0xffffffffffffffffn }));
  w.u16(44).u16(l.version === 2 ? l.epoch : 0).u32(ackRequired ? BREAK_FLAG_ACK_REQUIRED : 0).bytes(l.key).u32(from).u32(to).u32(0).u32(0).u32(0);
  return w.finish();
}

/** The leases of `node` other than `except` (each once). */
function leasesOn(node: Node, except: LeaseKeyRef | undefined): Lease[] {
  const out = new Set<Lease>();
  for (const o of node.opens) {
    const l = leaseOfOpen.get(o);
    if (l && !(except && l.clientGuid === except.clientGuid && l.key.equals(except.key))) out.add(l);
  }
  return [...out];
}

/**
 * Lease breaks for a new open of `node` (see the module comment); returns what to wait for.
 * The state a lease is broken to: without H when the share modes refuse the open or it asks
 * delete-on-close (the holder may close its handle), without W otherwise; an overwrite takes
 * R and W too. The open waits only when the break takes what it must not go on with: W, or H
 * when the share modes refuse it or it deletes on close (Windows: an overwrite of a file leased
 * RH breaks it to none and goes on at once; smbtorture smb2.lease.breaking4). A lease already
 * breaking gets no second notification: a narrower state is kept for after its
 * acknowledgment (`deferred`), and the open waits for the whole sequence when the lease still
 * holds what it must not keep (smb2.lease.breaking3).
 */
export function leaseBreaksForOpen(node: Node, o: { conflict: boolean; overwrite: boolean; deleteOnClose?: boolean; except: LeaseKeyRef | undefined }): Promise<void>[] {
  const waits: Promise<void>[] = [];
  const mask = o.conflict || o.deleteOnClose ? LEASE.HANDLE : LEASE.WRITE;
  for (const l of leasesOn(node, o.except)) {
    let to = l.state;
    if (o.conflict || o.deleteOnClose) to &= ~LEASE.HANDLE;
    if (!o.conflict) to &= ~LEASE.WRITE;
    if (o.overwrite) to &= ~(LEASE.READ | LEASE.HANDLE | LEASE.WRITE);
    to = valid(to);
    if (l.breakTo !== undefined) {
      if ((l.breakTo & ~to) !== 0) l.deferred = (l.deferred ?? l.breakTo) & to;
      if (l.state & mask) waits.push(waitFor(l));
      continue;
    }
    if (to === l.state) continue;
    const delays = (l.state & mask) !== 0;
    const p = startBreak(l, to);
    if (delays || isInline(p)) waits.push(p);
  }
  return waits;
}

/**
 * MS-FSA 2.1.5.15.12 / 2.1.5.15.3: a rename of the file, or its delete-pending set, through
 * `by` takes H from every other lease of the file (their holders may close their handles);
 * returns the breaks to wait for (smbtorture smb2.lease.rename_wait, v2_rename, unlink).
 */
export function leaseBreaksForHandle(by: Open): Promise<void>[] {
  const mine = leaseOfOpen.get(by);
  const waits: Promise<void>[] = [];
  for (const l of leasesOn(by.node, mine ? { clientGuid: mine.clientGuid, key: mine.key } : undefined)) {
    if (l.breakTo !== undefined) {
      if (l.breakTo & LEASE.HANDLE) l.deferred = (l.deferred ?? l.breakTo) & ~LEASE.HANDLE;
      if (l.state & LEASE.HANDLE) waits.push(waitFor(l));
      continue;
    }
    if (l.state & LEASE.HANDLE) waits.push(startBreak(l, valid(l.state & ~LEASE.HANDLE)));
  }
  return waits;
}

/** A write or size change through `by`: every other lease loses R and W (no waiting). */
export function leaseBreaksForWrite(by: Open): void {
  const mine = leaseOfOpen.get(by);
  for (const l of leasesOn(by.node, mine ? { clientGuid: mine.clientGuid, key: mine.key } : undefined)) {
    if (l.breakTo === undefined && l.state & LEASE.READ) void startBreak(l, LEASE.NONE);
  }
}

/** Does `o` cache its handle (a durable open needs it): a BATCH oplock or a lease with H. */
export function cachesHandle(o: Open): boolean {
  return oplockLevelOf(o) === OPLOCK.BATCH || ((leaseOfOpen.get(o)?.state ?? 0) & LEASE.HANDLE) !== 0;
}

/**
 * The acknowledgment of a break that an open narrowed meanwhile (`deferred`): the lease is
 * `acked` now and the break goes on, H first when the target has none (an acknowledged RH
 * towards none is broken to R, then to none: Windows' steps, smbtorture smb2.lease.breaking3),
 * under the same epoch. The waiting opens go on when the target is reached.
 */
function continueBreak(l: Lease, acked: number): void {
  const target = l.deferred!;
  l.state = acked;
  l.breakTo = undefined;
  if (l.timer) clearTimeout(l.timer);
  l.timer = undefined;
  const next = acked & LEASE.HANDLE && !(target & LEASE.HANDLE) ? valid(acked & ~LEASE.HANDLE) : target;
  if (next === target) l.deferred = undefined;
  const live = [...l.opens].find((o) => connectionOf(o) !== undefined);
  if (!live) { finish(l, target); return; }
  sendBreak(l, live, next);
}

/** A lease break acknowledgment (2.2.24.2). */
export interface LeaseAck {
  flags: number;
  key: Buffer;
  state: number;
}

export function decodeLeaseAck(msg: Buffer): LeaseAck {
  const r = new Reader(msg, 0, msg.length, 0).skip(SMB2_HEADER_SIZE, 'header');
  if (r.u16('StructureSize') !== 36) throw new WireError('lease break acknowledgment: StructureSize');
  r.skip(2, 'Reserved');
  const flags = r.u32();
  const key = Buffer.from(r.bytes(16, 16));
  const state = r.u32();
  return { flags, key, state };
}

/** Client side, for tests. */
export function writeLeaseAck(w: Writer, a: LeaseAck): Writer {
  return w.u16(36).u16(0).u32(a.flags).bytes(a.key).u32(a.state).u64(0n);
}

/** Lease break acknowledgment (3.3.5.22.2); the response (2.2.25.2) echoes the acknowledged state. */
export function handleLeaseAck(c: SmbConnection, q: Request): Response {
  const ack = decodeLeaseAck(q.message);
  const l = leases.get(id(clientGuidOf(c), ack.key));
  if (!l || !l.opens.size) throw new SmbStatusError(STATUS.OBJECT_NAME_NOT_FOUND);
  if (l.breakTo === undefined) throw new SmbStatusError(STATUS.UNSUCCESSFUL);
  if ((ack.state & ~l.breakTo) !== 0) throw new SmbStatusError(STATUS.REQUEST_NOT_ACCEPTED);
  if (l.deferred !== undefined && (ack.state & ~l.deferred) !== 0) continueBreak(l, ack.state);
  else finish(l, ack.state);
  return {
    status: STATUS.SUCCESS,
    body: (w) => { w.u16(36).u16(0).u32(0).bytes(l.key).u32(ack.state).u64(0n); },
  };
}
