/**
 * Durable handles v1 (MS-SMB2 3.3.5.9.6 DHnQ request, 3.3.5.9.7 DHnC reconnect) and the session
 * side of reconnecting (3.3.5.5.3 PreviousSessionId).
 *
 * - A CREATE with a DHnQ context whose open got a BATCH oplock (or a lease with H) is durable (Open.IsDurable);
 *   the response carries a DHnQ context (8 reserved bytes). Without BATCH the request is
 *   ignored, as Windows does (smb2.durable-open.open-oplock).
 * - When its connection goes (or its session is replaced by a reconnect), a durable open that
 *   still holds its BATCH oplock (a broken one, or a break that could not be sent, ends the
 *   durability) is kept, with its VFS handle, share-mode place and oplock, for `DURABLE_TIMEOUT_MS` (60 s, as
 *   Samba; MS-SMB2 3.3.2.2 leaves the value to the server); then it is closed. Breaking its
 *   oplock meanwhile closes it at once (3.3.4.6).
 * - A CREATE with DHnC names the open by its FileId: one kept after a disconnect, of the same
 *   user, gets a new volatile id on the new connection, the same persistent id, its oplock, and
 *   a DHnQ response context. Anything else (unknown, still connected, closed meanwhile) →
 *   OBJECT_NAME_NOT_FOUND; another user → ACCESS_DENIED.
 * - Persistent FileIds come from one process-wide counter, so a FileId names one open among all
 *   connections of all servers of the process.
 *
 * - Durable v2 (3.3.5.9.10, 3.3.5.9.12): DH2Q the same way, with a timeout (0 → 60 s, at most
 *   300 s, Samba's values) that is the keeping time, answered in a DH2Q response context;
 *   DH2C must name the CreateGuid too (a v2 open may also come back by DHnC; a v1 open not by
 *   DH2C), and its response has no DH2Q. A reconnect ignores every CREATE field but its
 *   context. Contradictory contexts → INVALID_PARAMETER.
 *
 * - With leases: durability needs H instead of BATCH; a leased open reconnects only from its
 *   lease's ClientGuid, and the answer carries the lease.
 *
 * Not done: persistent handles (the PERSISTENT flag is never granted), replay
 * (SMB2_FLAGS_REPLAY_OPERATION, CreateGuid lookups of live opens), app instance ids, keeping
 * durable opens across a server restart.
 */
import { Reader } from './wire/reader.js';
import { STATUS, SmbStatusError } from './errors.js';
import { closeAll, closeOpen, ctxOf, fileIdOf, type Open } from './files.js';
import { onBreakDisconnected, oplockLevelOf, releaseOplock, setOplockConnection } from './oplock.js';
import { cachesHandle, clientGuidOf, leaseOf, leaseRequest, leaseResponse, onLeaseBreakDisconnected } from './lease.js';
import type { Request, Response, SmbConnection } from './session.js';
import type { SmbSession } from './state.js';
import { smbAttr } from './writetime.js';
import { fileInfoOf } from './wire/fscc.js';
import { readDos } from './dosattr.js';
import { CREATE_ACTION, writeCreateResponse, type CreateContext } from './wire/files.js';

export let DURABLE_TIMEOUT_MS = 60_000;
/** For tests. */
export function setDurableTimeout(ms: number): void {
  DURABLE_TIMEOUT_MS = ms;
}

let nextPersistent = (BigInt(Date.now()) << 16n) & 0x7fffffffffffffffn;
/** A process-wide unique persistent FileId half. */
export function newPersistentId(): bigint {
  nextPersistent += 1n;
  return nextPersistent;
}

interface Kept {
  open: Open;
  /** The connection the open lived on (its VFS and log are still needed to close it). */
  owner: SmbConnection;
  timer: NodeJS.Timeout;
}

/** Durable opens whose connection is gone, by persistent id. */
const kept = new Map<bigint, Kept>();
/** How an open was made durable: v1 (DHnQ) or v2 (DH2Q, with its CreateGuid and timeout). */
interface Durability {
  v2: { createGuid: Buffer; timeoutMs: number } | undefined;
}

/** Opens granted durability (cleared when they close). */
const durable = new WeakMap<Open, Durability>();

export function isDurable(o: Open): boolean {
  return durable.has(o);
}

/** Largest durable v2 timeout granted (ms), and the one for a request of 0 (3.3.5.9.10 leaves both to the server; Samba's values). */
export const DURABLE_V2_MAX_MS = 300_000;
export const DURABLE_V2_DEFAULT_MS = 60_000;

/** A durability request of a CREATE: v1 (DHnQ) or v2 (DH2Q, 2.2.13.2.11). */
export type DurableRequest = { v: 1 } | { v: 2; timeoutMs: number; createGuid: Buffer };

/** Breaking the oplock of a kept open closes it (registered when the first open is kept: no import-time side effects). */
async function closeKept(o: Open): Promise<void> {
  const k = o.persistent !== undefined ? kept.get(o.persistent) : undefined;
  if (k?.open === o) await expire(k, 'oplock broken while disconnected');
}

async function expire(k: Kept, why: string): Promise<void> {
  clearTimeout(k.timer);
  if (kept.get(k.open.persistent!) === k) kept.delete(k.open.persistent!);
  durable.delete(k.open);
  releaseOplock(k.open);
  k.owner.log?.info({ peer: k.owner.opts.peer, name: k.open.node.path, why }, 'smb: durable open closed');
  await closeOpen(k.owner, k.open, false).catch(() => undefined);
}

const has = (contexts: readonly CreateContext[], name: string) => contexts.some((x) => x.name === name);

/**
 * The durability a CREATE asks (undefined: none, or it is a reconnect). Contradictory contexts
 * (3.3.5.9.10, 3.3.5.9.12: DH2Q with DHnQ, DHnC or DH2C; DH2C with DHnQ or DHnC) or a short
 * DH2Q → STATUS_INVALID_PARAMETER.
 */
export function durableRequest(contexts: readonly CreateContext[]): DurableRequest | undefined {
  const q1 = has(contexts, 'DHnQ'), c1 = has(contexts, 'DHnC'), q2 = contexts.find((x) => x.name === 'DH2Q'), c2 = has(contexts, 'DH2C');
  if ((q2 && (q1 || c1 || c2)) || (c2 && (q1 || c1))) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  if (c1 || c2) return undefined;
  if (q2) {
    if (q2.data.length < 32) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
    const r = new Reader(q2.data); // SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2, 2.2.13.2.11
    const t = r.u32('Timeout');
    r.skip(12, 'Flags/Reserved');
    return { v: 2, timeoutMs: t === 0 ? DURABLE_V2_DEFAULT_MS : Math.min(t, DURABLE_V2_MAX_MS), createGuid: Buffer.from(r.bytes(16, 16, 'CreateGuid')) };
  }
  return q1 ? { v: 1 } : undefined;
}

/** Makes `o` durable if it qualifies (BATCH oplock): returns the response context to add, or undefined. */
export function grantDurable(o: Open, req: DurableRequest): CreateContext | undefined {
  if (!cachesHandle(o)) return undefined; // a BATCH oplock or a lease with H
  if (req.v === 1) {
    durable.set(o, { v2: undefined });
    return { name: 'DHnQ', data: Buffer.alloc(8) };
  }
  durable.set(o, { v2: { createGuid: req.createGuid, timeoutMs: req.timeoutMs } });
  return { name: 'DH2Q', data: dh2qResponse(req.timeoutMs) };
}

/** The DH2Q response context data (2.2.14.2.12): Timeout, Flags (never persistent here). */
function dh2qResponse(timeoutMs: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(timeoutMs, 0);
  return b;
}

/**
 * Takes the durable opens of `c` matching `pred` out of its table and keeps them (connection
 * lost, or session replaced); returns how many. The caller closes the rest.
 */
export function detachDurable(c: SmbConnection, pred: (o: Open) => boolean): number {
  let n = 0;
  onBreakDisconnected(closeKept);
  onLeaseBreakDisconnected(closeKept);
  for (const o of [...c.files.opens.values()]) {
    const d = durable.get(o);
    // Durability rests on the BATCH oplock: an open whose oplock was broken is not kept.
    if (!pred(o) || !d || o.persistent === undefined || !cachesHandle(o)) continue;
    c.files.opens.delete(o.id);
    setOplockConnection(o, undefined);
    const k: Kept = { open: o, owner: c, timer: setTimeout(() => { void expire(k, 'durable timeout'); }, d.v2?.timeoutMs ?? DURABLE_TIMEOUT_MS) };
    k.timer.unref?.();
    kept.set(o.persistent, k);
    n++;
  }
  return n;
}

/** The server stops: every kept open of its connections (same ServerGuid buffer) is closed. */
export async function dropKept(serverGuid: Buffer): Promise<void> {
  for (const k of [...kept.values()]) {
    if (k.owner.opts.serverGuid === serverGuid) await expire(k, 'server stopping');
  }
}

/** A closed open is no longer durable. */
export function forgetDurable(o: Open): void {
  durable.delete(o);
  if (o.persistent !== undefined) {
    const k = kept.get(o.persistent);
    if (k?.open === o) {
      clearTimeout(k.timer);
      kept.delete(o.persistent);
    }
  }
}

/** What a reconnect names: the FileId, and for v2 the CreateGuid. */
export interface ReconnectTarget {
  persistent: bigint;
  volatile: bigint;
  createGuid: Buffer | undefined;
}

/** The DHnC (2.2.13.2.4) or DH2C (2.2.13.2.12) context's target, if the CREATE is a durable reconnect. */
export function reconnectTarget(contexts: readonly CreateContext[]): ReconnectTarget | undefined {
  durableRequest(contexts); // refuses contradictory contexts first
  const x = contexts.find((y) => y.name === 'DHnC' || y.name === 'DH2C');
  if (!x) return undefined;
  const v2 = x.name === 'DH2C';
  if (x.data.length < (v2 ? 36 : 16)) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  const r = new Reader(x.data); // DHnC 2.2.13.2.4 / DH2C 2.2.13.2.12: FileId, then CreateGuid
  const persistent = r.u64('FileId.Persistent'), volatile = r.u64('FileId.Volatile');
  return { persistent, volatile, createGuid: v2 ? Buffer.from(r.bytes(16, 16, 'CreateGuid')) : undefined };
}

const ZERO_GUID = Buffer.alloc(16);

/** CREATE with DHnC (3.3.5.9.7): reattaches a kept durable open to this connection, session and tree. */
export async function reconnectDurable(c: SmbConnection, q: Request & { contexts?: readonly CreateContext[]; name?: string }, target: ReconnectTarget): Promise<Response> {
  const k = kept.get(target.persistent);
  const s: SmbSession = q.session!;
  if (!k) throw new SmbStatusError(STATUS.OBJECT_NAME_NOT_FOUND);
  const o = k.open;
  // A v1 open needs DHnC; a v2 open DH2C with its CreateGuid, or DHnC (smb2.durable-v2-open.reopen2b).
  const v2 = durable.get(o)?.v2;
  // A v1 open's CreateGuid is empty: DH2C with a zero CreateGuid reattaches it (3.3.5.9.12;
  // smbtorture smb2.durable-open.reopen2-lease).
  if (target.createGuid && !(v2?.createGuid ?? ZERO_GUID).equals(target.createGuid)) throw new SmbStatusError(STATUS.OBJECT_NAME_NOT_FOUND);
  const owner = o.ctx;
  const me = s.principal!;
  if (owner.uid !== me.uid) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  if (o.share !== q.tree!.share && o.share.name !== q.tree!.share?.name) throw new SmbStatusError(STATUS.OBJECT_NAME_NOT_FOUND);
  // A leased open comes back only to the client that holds the lease (3.3.5.9.7: ClientGuid),
  // with the same lease key; right so far but another name → INVALID_PARAMETER (3.3.5.9.7,
  // 3.3.5.9.12: "Open.FileName does not match"; unlike an oplocked open, as Windows answers:
  // smbtorture smb2.durable-v2-open.reopen2-lease).
  const lease = leaseOf(o);
  if (lease) {
    const want = leaseRequest(c, q.contexts ?? []);
    if (lease.clientGuid !== clientGuidOf(c) || !want || !want.key.equals(lease.key)) throw new SmbStatusError(STATUS.OBJECT_NAME_NOT_FOUND);
    if (q.name !== undefined && q.name.replace(/^\\+/, '').toLowerCase() !== o.node.path.toLowerCase()) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  }
  clearTimeout(k.timer);
  kept.delete(target.persistent);
  o.id = c.files.allocId();
  o.sessionId = s.id;
  o.treeId = q.tree!.treeId;
  o.ctx = ctxOf(c, s);
  c.files.opens.set(o.id, o);
  c.files.compoundFileId = fileIdOf(o);
  setOplockConnection(o, c);
  const vfs = c.fileService!.vfs;
  const attr = await vfs.getattr(o.ctx, o.node.ino);
  const i = fileInfoOf(await smbAttr(vfs, attr), { dos: await readDos(vfs, attr) });
  c.log?.debug({ peer: c.opts.peer, name: o.node.path }, 'smb: durable reconnect');
  const level = lease ? 0xff : oplockLevelOf(o);
  return {
    status: STATUS.SUCCESS,
    body: (wr) => {
      writeCreateResponse(wr, {
        oplockLevel: level, createAction: CREATE_ACTION.OPENED, creationTime: i.creationTime, lastAccessTime: i.lastAccessTime, lastWriteTime: i.lastWriteTime,
        changeTime: i.changeTime, allocationSize: i.allocationSize, endOfFile: i.endOfFile, fileAttributes: i.attributes, fileId: fileIdOf(o),
        // A reconnect answers no durable context (3.3.5.9.7 sends none; Windows and Samba the
        // same: smb2.durable-open.reopen1a-lease, delete_on_close2), a leased one its lease.
        contexts: lease ? [leaseResponse(lease)] : [],
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Sessions across connections (3.3.1.5 GlobalSessionTable, as far as PreviousSessionId needs it)

interface Registered {
  conn: SmbConnection;
  session: SmbSession;
}

/** One table per server: every connection of a server shares its ServerGuid buffer. */
const registries = new WeakMap<Buffer, Map<bigint, Registered>>();

function registryOf(c: SmbConnection): Map<bigint, Registered> {
  let m = registries.get(c.opts.serverGuid);
  if (!m) registries.set(c.opts.serverGuid, (m = new Map()));
  return m;
}

/** A session became valid on `c`. */
export function registerSession(c: SmbConnection, s: SmbSession): void {
  registryOf(c).set(s.id, { conn: c, session: s });
}

/** The connection is gone: its sessions leave the table. */
export function unregisterSessions(c: SmbConnection): void {
  const m = registryOf(c);
  for (const id of c.sessions.keys()) if (m.get(id)?.conn === c) m.delete(id);
}

/**
 * 3.3.5.5.3: a SESSION_SETUP that authenticated with PreviousSessionId ≠ 0 ends that session
 * when it belongs to the same user: it leaves its connection (whose later requests on it get
 * USER_SESSION_DELETED), its durable opens are kept for a reconnect and its other opens
 * closed. Another user's session, or an unknown one, is left alone.
 */
export async function replacePreviousSession(c: SmbConnection, s: SmbSession, previousId: bigint): Promise<void> {
  if (previousId === 0n || previousId === s.id) return;
  const m = registryOf(c);
  const prev = m.get(previousId);
  if (!prev) return;
  if (prev.conn.sessions.get(previousId) !== prev.session) {
    m.delete(previousId);
    return;
  }
  if (prev.session.principal?.uid !== s.principal?.uid || prev.session.principal?.name !== s.principal?.name) return;
  m.delete(previousId);
  prev.conn.sessions.delete(previousId);
  detachDurable(prev.conn, (o) => o.sessionId === previousId);
  await closeAll(prev.conn, (o) => o.sessionId === previousId);
  c.log?.info({ peer: c.opts.peer, previous: prev.conn.opts.peer }, 'smb: previous session of the user ended by a reconnect');
}
