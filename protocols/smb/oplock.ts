/**
 * Oplocks (MS-SMB2 3.3.5.9 RequestedOplockLevel, 3.3.4.6 oplock break notification, 3.3.5.22.1
 * acknowledgment; MS-FSA 2.1.5.17 / 2.1.4.12 as far as a single-stream server needs them).
 *
 * Every open of a node may hold an oplock. Levels: NONE, LEVEL_II (shared read caching),
 * EXCLUSIVE and BATCH (one holder; BATCH also caches the handle). The rules implemented:
 *
 * - Grant (MS-FSA 2.1.5.17.2, simplified to the node's opens): BATCH or EXCLUSIVE when the open
 *   is the node's only open; otherwise LEVEL_II when the client asked for at least LEVEL_II and
 *   no other open holds (or is breaking from) EXCLUSIVE/BATCH; otherwise NONE. Directories get
 *   NONE (no directory oplocks, only leases can cache folders).
 * - Break on open (MS-FSA 2.1.5.1.2 / 2.1.4.12): an open that asks more than
 *   FILE_READ_ATTRIBUTES / FILE_WRITE_ATTRIBUTES / SYNCHRONIZE (a "stat open" breaks nothing) breaks the other opens' EXCLUSIVE/BATCH
 *   oplocks to LEVEL_II — to NONE when it overwrites or supersedes — and waits for the
 *   acknowledgment before the share-mode check, so a batch holder can close its cached handle
 *   first. When the share modes refuse the open anyway, only BATCH is broken (EXCLUSIVE stays
 *   and the open fails). An overwriting open also breaks LEVEL_II holders to NONE (no
 *   acknowledgment).
 * - Break on write (MS-FSA 2.1.4.12): every LEVEL_II holder goes to NONE, the writer included.
 * - The break is a server-initiated OPLOCK_BREAK notification (2.2.23.1: MessageId all ones,
 *   SessionId and TreeId 0, unsigned) on the holder's connection (`SmbConnection.push`). The
 *   conflicting CREATE waits for the acknowledgment, for the holder's close, or for
 *   `BREAK_TIMEOUT_MS` (35 s, Windows' value, 3.3.2.1 Oplock Break Acknowledgment Timer), after
 *   which the holder's oplock is NONE. The waiting CREATE goes async (STATUS_PENDING interim
 *   response, async.ts; CANCEL ends the wait), so the connection's other requests (such as the
 *   acknowledgment itself, when one connection holds both opens) go on.
 * - A disconnected durable open (durable.ts) cannot be told: breaking its oplock closes it
 *   (MS-SMB2 3.3.4.6).
 *
 * Leases are lease.ts's; this module calls it for the lease side of the same events. Not done:
 * breaks caused by rename, delete or byte-range locks.
 */
import { STATUS, SmbStatusError } from './errors.js';
import { Command, HDR_FLAGS, header as mkHeader, writeHeader } from './wire/header.js';
import { Reader, WireError, Writer } from './wire/reader.js';
import { SMB2_HEADER_SIZE } from './wire/header.js';
import { ACCESS } from './wire/security.js';
import { DISPOSITION, type CreateContext, type FileId } from './wire/files.js';
import { fileIdOf, openOf, type Node, type Open } from './files.js';
import type { Request, Response, SmbConnection } from './session.js';
import { grantLease, handleLeaseAck, isLeaseStatOpen, leaseBlocksLevelII, leaseBreaksForOpen, leaseBreaksForWrite, leaveLease, type LeaseKeyRef, type LeaseRequest } from './lease.js';

/** OplockLevel values (2.2.13). */
export const OPLOCK = { NONE: 0, LEVEL_II: 1, EXCLUSIVE: 8, BATCH: 9, LEASE: 0xff } as const;

/** How long a conflicting open waits for an acknowledgment (MS-SMB2 3.3.2.1: implementation-specific, Windows 35 s). */
export let BREAK_TIMEOUT_MS = 35_000;
/** For tests: a shorter wait. */
export function setBreakTimeout(ms: number): void {
  BREAK_TIMEOUT_MS = ms;
}

/** The oplock state of one open (3.3.1.10 Open.OplockLevel, Open.OplockState). */
interface Grant {
  level: number;
  /** Breaking: the level the notification named; waiters wake at the ack, close or timeout. */
  breakTo: number | undefined;
  waiters: (() => void)[];
  timer: NodeJS.Timeout | undefined;
  /** The connection to tell (undefined: a disconnected durable open). */
  conn: SmbConnection | undefined;
}

const grants = new WeakMap<Open, Grant>();
/** The connection of every disk open (undefined while a durable open is disconnected). */
const conns = new WeakMap<Open, SmbConnection | undefined>();

/** The connection to send an open's breaks to (undefined: none, e.g. a disconnected durable open). */
export function connectionOf(o: Open): SmbConnection | undefined {
  return conns.get(o);
}

/** The open's oplock level (NONE when it has none). */
export function oplockLevelOf(o: Open): number {
  return grants.get(o)?.level ?? OPLOCK.NONE;
}

/** The connection an open's breaks go to; durable.ts moves it on reconnect and clears it on disconnect. */
export function setOplockConnection(o: Open, conn: SmbConnection | undefined): void {
  conns.set(o, conn);
  const g = grants.get(o);
  if (g) g.conn = conn;
}

/** What closes a disconnected durable open whose oplock must break (durable.ts registers it). */
let closeDisconnected: ((o: Open) => Promise<void>) | undefined;
export function onBreakDisconnected(f: (o: Open) => Promise<void>): void {
  closeDisconnected = f;
}

/** A "stat open" asks nothing but these and breaks no oplock (what Windows and smb2.oplock.statopen1 show). */
const STAT_ACCESS = ACCESS.FILE_READ_ATTRIBUTES | ACCESS.FILE_WRITE_ATTRIBUTES | ACCESS.SYNCHRONIZE;

/**
 * Breaks what a new open of `node` conflicts with and waits for the acknowledgments (see the
 * module comment). `access` is the new open's granted access, `disposition` its
 * CreateDisposition (the file existed). Called before the share-mode check.
 */
/**
 * Promises of breaks that need no acknowledgment (nothing to wait for, or a disconnected
 * durable open being closed): awaited in place, never a reason to go async.
 */
const INLINE = new WeakSet<Promise<void>>();
/** Whether a break promise is one that needs no acknowledgment (`inline`). */
export function isInline(p: Promise<void>): boolean {
  return INLINE.has(p);
}
export function inline(p: Promise<void> = Promise.resolve()): Promise<void> {
  INLINE.add(p);
  return p;
}

/** Thrown by `breakForOpen` when the open must wait for acknowledgments but may not yet (the CREATE goes async first). */
export class MustWait extends Error {
  constructor() {
    super('the CREATE waits for a break acknowledgment');
    this.name = 'MustWait';
  }
}

/**
 * `wait`: undefined on the CREATE's first pass — breaks are sent, and if one must be waited
 * for, MustWait is thrown (create.ts answers STATUS_PENDING and runs the CREATE again async,
 * async.ts); on that second pass the waits are awaited, ended early by `wait.signal` (CANCEL,
 * the connection's end) with its reason.
 */
export async function breakForOpen(
  c: SmbConnection, node: Node | undefined, access: number, disposition: number, shareConflict: () => boolean,
  leaseKey: LeaseKeyRef | undefined, wait: { signal: AbortSignal } | undefined, deleteOnClose = false,
): Promise<void> {
  if (!node || node.isDir) return;
  const overwrite = disposition === DISPOSITION.OVERWRITE || disposition === DISPOSITION.OVERWRITE_IF || disposition === DISPOSITION.SUPERSEDE;
  const statForOplocks = (access & ~STAT_ACCESS) === 0 && !overwrite; // a stat open breaks nothing
  const statForLeases = isLeaseStatOpen(access) && !overwrite;
  if (statForOplocks && statForLeases) return;
  // MS-FSA 2.1.5.1.2: when the share modes refuse the open, only BATCH oplocks are broken (the
  // holder may close its cached handle); EXCLUSIVE ones are left alone and the open fails.
  const conflict = shareConflict();
  const waits: Promise<void>[] = statForLeases ? [] : leaseBreaksForOpen(node, { conflict, overwrite, deleteOnClose, except: leaseKey });
  for (const o of statForOplocks ? [] : [...node.opens]) {
    const g = grants.get(o);
    if (!g) continue;
    if (g.level === OPLOCK.BATCH || (g.level === OPLOCK.EXCLUSIVE && !conflict)) {
      waits.push(startBreak(o, g, overwrite ? OPLOCK.NONE : OPLOCK.LEVEL_II));
    } else if (g.breakTo !== undefined) {
      waits.push(waitFor(g));
    } else if (g.level === OPLOCK.LEVEL_II && overwrite && !conflict) {
      void startBreak(o, g, OPLOCK.NONE);
    }
  }
  await Promise.all(waits.filter((p) => INLINE.has(p)));
  const acks = waits.filter((p) => !INLINE.has(p));
  if (!acks.length) return;
  if (!wait) throw new MustWait();
  await awaitAcks(acks, wait.signal);
}

/**
 * The breaks of `waits` that need no acknowledgment are awaited here; returns those that do
 * (a handler answers STATUS_PENDING and waits for them with `awaitAcks`).
 */
export async function pendingAcks(waits: Promise<void>[]): Promise<Promise<void>[]> {
  await Promise.all(waits.filter((p) => INLINE.has(p)));
  return waits.filter((p) => !INLINE.has(p));
}

/** Waits for break acknowledgments, ended early by `signal` (CANCEL, the connection's end) with its reason. */
export async function awaitAcks(acks: Promise<void>[], signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([Promise.all(acks), aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}

/**
 * MS-FSA 2.1.4.12 for a write or a size change through `by`: every LEVEL_II oplock of the
 * file goes to NONE, the writer's own included (no acknowledgment).
 */
export function breakLevelIIForWrite(by: Open): void {
  leaseBreaksForWrite(by);
  for (const o of [...by.node.opens]) {
    const g = grants.get(o);
    if (g && g.level === OPLOCK.LEVEL_II && g.breakTo === undefined) void startBreak(o, g, OPLOCK.NONE);
  }
}

/**
 * A new open's caching, as its CREATE asked (call after `o` joined node.opens): the lease of
 * `lease` when OplockLevel is LEASE and a lease context came (its response context is pushed
 * onto `contexts`), else the oplock asked for (LEASE without a lease context counts as NONE).
 * Returns the OplockLevel for the CREATE response (MS-SMB2 3.3.5.9, 3.3.5.9.8, 3.3.5.9.11).
 */
export function grantCaching(c: SmbConnection, o: Open, requested: number, lease: LeaseRequest | undefined, contexts: CreateContext[]): number {
  if (!lease || requested !== OPLOCK.LEASE) return grantOplock(c, o, requested === OPLOCK.LEASE ? OPLOCK.NONE : requested);
  setOplockConnection(o, c);
  const g = grantLease(c, o, lease);
  if (g.context) contexts.push(g.context);
  return g.level;
}

/**
 * The level granted to a new open `o` that asked for `requested` (call after it joined
 * node.opens). Records the grant and returns the level for the CREATE response.
 */
export function grantOplock(c: SmbConnection, o: Open, requested: number): number {
  conns.set(o, c);
  let level: number = OPLOCK.NONE;
  if (!o.node.isDir && requested !== OPLOCK.NONE && requested !== OPLOCK.LEASE) {
    const others = [...o.node.opens].filter((x) => x !== o);
    const strong = others.some((x) => {
      const g = grants.get(x);
      return (g !== undefined && (g.level === OPLOCK.BATCH || g.level === OPLOCK.EXCLUSIVE || g.breakTo !== undefined)) || leaseBlocksLevelII(x);
    });
    if ((requested === OPLOCK.BATCH || requested === OPLOCK.EXCLUSIVE) && others.length === 0) level = requested;
    else if (!strong && (requested === OPLOCK.LEVEL_II || requested === OPLOCK.BATCH || requested === OPLOCK.EXCLUSIVE)) level = OPLOCK.LEVEL_II;
  }
  if (level !== OPLOCK.NONE) grants.set(o, { level, breakTo: undefined, waiters: [], timer: undefined, conn: c });
  return level;
}

/** The open is gone (closed, or its connection and durability with it): waiters wake. */
export function releaseOplock(o: Open): void {
  leaveLease(o);
  const g = grants.get(o);
  if (!g) return;
  grants.delete(o);
  finish(g, OPLOCK.NONE);
}

function finish(g: Grant, level: number): void {
  g.level = level;
  g.breakTo = undefined;
  if (g.timer) clearTimeout(g.timer);
  g.timer = undefined;
  const w = g.waiters.splice(0);
  for (const f of w) f();
}

function waitFor(g: Grant): Promise<void> {
  return new Promise((resolve) => { g.waiters.push(resolve); });
}

/** Sends the break notification for `o` and returns when it is acknowledged (or closed, or timed out). */
function startBreak(o: Open, g: Grant, to: number): Promise<void> {
  if (g.breakTo !== undefined) return waitFor(g);
  if (!g.conn) {
    // 3.3.4.6: a durable open whose connection is gone cannot hear the break: it is closed.
    const close = closeDisconnected;
    releaseOplock(o);
    return inline(close ? close(o) : undefined);
  }
  const sent = g.conn.push(breakNotification(fileIdOf(o), to), o.sessionId);
  if (!sent) {
    finish(g, OPLOCK.NONE);
    return inline();
  }
  if (g.level === OPLOCK.LEVEL_II) {
    // 3.3.4.6: a break from LEVEL_II to NONE is not acknowledged.
    finish(g, OPLOCK.NONE);
    if (to === OPLOCK.NONE) grants.delete(o);
    return inline();
  }
  g.breakTo = to;
  const p = waitFor(g);
  g.timer = setTimeout(() => {
    g.conn?.log?.info({ peer: g.conn.opts.peer, fileId: o.id.toString() }, 'smb: oplock break not acknowledged in time, oplock dropped');
    finish(g, OPLOCK.NONE);
  }, BREAK_TIMEOUT_MS);
  g.timer.unref?.();
  return p;
}

/** The OPLOCK_BREAK notification message (2.2.23.1), header included, unsigned. */
export function breakNotification(fileId: FileId, level: number): Buffer {
  const w = new Writer(88);
  writeHeader(w, mkHeader({ command: Command.OPLOCK_BREAK, flags: HDR_FLAGS.SERVER_TO_REDIR, messageId: 0xffffffffffffffffn }));
  w.u16(24).u8(level).u8(0).u32(0).u64(fileId.persistent).u64(fileId.volatile);
  return w.finish();
}

/** An oplock break acknowledgment (2.2.24.1). */
export interface OplockAck {
  level: number;
  fileId: FileId;
}

export function decodeOplockAck(msg: Buffer): OplockAck {
  const r = new Reader(msg, 0, msg.length, 0).skip(SMB2_HEADER_SIZE, 'header');
  const size = r.u16('StructureSize');
  if (size !== 24) throw new WireError(`OPLOCK_BREAK acknowledgment: StructureSize ${size}`);
  const level = r.u8();
  r.skip(5, 'Reserved');
  return { level, fileId: { persistent: r.u64('FileId.Persistent'), volatile: r.u64('FileId.Volatile') } };
}

/** Client side, for tests: an acknowledgment body. */
export function writeOplockAck(w: Writer, a: OplockAck): Writer {
  return w.u16(24).u8(a.level).u8(0).u32(0).u64(a.fileId.persistent).u64(a.fileId.volatile);
}

/**
 * OPLOCK_BREAK acknowledgment (3.3.5.22.1). Unknown FileId → FILE_CLOSED; an open whose oplock
 * is not breaking → INVALID_OPLOCK_PROTOCOL (the ack is late: the timer already dropped it, or
 * there was no break); a level other than NONE/LEVEL_II → INVALID_PARAMETER; acknowledging
 * LEVEL_II to a break to NONE → INVALID_OPLOCK_PROTOCOL and the oplock is NONE. Otherwise the
 * open's level becomes the acknowledged one, the waiting CREATE goes on, and the response
 * (2.2.25.1) carries the new level.
 */
export function handleOplockBreak(c: SmbConnection, q: Request): Response {
  if (q.message.length >= SMB2_HEADER_SIZE + 2 && q.message.readUInt16LE(SMB2_HEADER_SIZE) === 36) return handleLeaseAck(c, q);
  const ack = decodeOplockAck(q.message);
  const o = openOf(c, q, ack.fileId);
  const g = grants.get(o);
  if (ack.level !== OPLOCK.NONE && ack.level !== OPLOCK.LEVEL_II) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  if (!g || g.breakTo === undefined) throw new SmbStatusError(STATUS.INVALID_OPLOCK_PROTOCOL);
  if (ack.level === OPLOCK.LEVEL_II && g.breakTo === OPLOCK.NONE) {
    finish(g, OPLOCK.NONE);
    grants.delete(o);
    throw new SmbStatusError(STATUS.INVALID_OPLOCK_PROTOCOL);
  }
  finish(g, ack.level);
  if (ack.level === OPLOCK.NONE) grants.delete(o);
  const id = fileIdOf(o);
  return {
    status: STATUS.SUCCESS,
    body: (w) => { w.u16(24).u8(ack.level).u8(0).u32(0).u64(id.persistent).u64(id.volatile); },
  };
}
