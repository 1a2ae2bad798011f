/**
 * Durable handles v1 (MS-SMB2 3.3.5.9.6 DHnQ request, 3.3.5.9.7 DHnC reconnect) and the session
 * side of reconnecting (3.3.5.5.3 PreviousSessionId).
 *
 * - A CREATE with a DHnQ context whose open got a BATCH oplock is durable (Open.IsDurable);
 *   the response carries a DHnQ context (8 reserved bytes). Without BATCH the request is
 *   ignored, as Windows does (smb2.durable-open.open-oplock).
 * - When its connection goes (or its session is replaced by a reconnect), a durable open is
 *   kept, with its VFS handle, share-mode place and oplock, for `DURABLE_TIMEOUT_MS` (60 s, as
 *   Samba; MS-SMB2 3.3.2.2 leaves the value to the server); then it is closed. Breaking its
 *   oplock meanwhile closes it at once (3.3.4.6).
 * - A CREATE with DHnC names the open by its FileId: one kept after a disconnect, of the same
 *   user, gets a new volatile id on the new connection, the same persistent id, its oplock, and
 *   a DHnQ response context. Anything else (unknown, still connected, closed meanwhile) →
 *   OBJECT_NAME_NOT_FOUND; another user → ACCESS_DENIED.
 * - Persistent FileIds come from one process-wide counter, so a FileId names one open among all
 *   connections of all servers of the process.
 *
 * Not done: durable v2 (DH2Q/DH2C, CreateGuid, replay), persistent handles, leases on
 * reconnect, keeping durable opens across a server restart.
 */
import { STATUS, SmbStatusError } from './errors.js';
import { closeAll, closeOpen, ctxOf, fileIdOf, type Open } from './files.js';
import { onBreakDisconnected, oplockLevelOf, releaseOplock, setOplockConnection, OPLOCK } from './oplock.js';
import type { Request, Response, SmbConnection } from './session.js';
import type { SmbSession } from './state.js';
import { fileInfoOf } from './wire/fscc.js';
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
/** Opens granted durability (cleared when they close). */
const durable = new WeakSet<Open>();

export function isDurable(o: Open): boolean {
  return durable.has(o);
}

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

/** The DHnQ request context, if any (and not a reconnect). */
export function wantsDurable(contexts: readonly CreateContext[]): boolean {
  return contexts.some((x) => x.name === 'DHnQ') && !contexts.some((x) => x.name === 'DHnC');
}

/** Makes `o` durable if it qualifies (BATCH oplock): returns the response context to add, or undefined. */
export function grantDurable(o: Open): CreateContext | undefined {
  if (oplockLevelOf(o) !== OPLOCK.BATCH) return undefined;
  durable.add(o);
  return { name: 'DHnQ', data: Buffer.alloc(8) };
}

/**
 * Takes the durable opens of `c` matching `pred` out of its table and keeps them (connection
 * lost, or session replaced); returns how many. The caller closes the rest.
 */
export function detachDurable(c: SmbConnection, pred: (o: Open) => boolean): number {
  let n = 0;
  onBreakDisconnected(closeKept);
  for (const o of [...c.files.opens.values()]) {
    if (!pred(o) || !durable.has(o) || o.persistent === undefined) continue;
    c.files.opens.delete(o.id);
    setOplockConnection(o, undefined);
    const k: Kept = { open: o, owner: c, timer: setTimeout(() => { void expire(k, 'durable timeout'); }, DURABLE_TIMEOUT_MS) };
    k.timer.unref?.();
    kept.set(o.persistent, k);
    n++;
  }
  return n;
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

/** The DHnC context's FileId, if the CREATE is a durable reconnect (2.2.13.2.4). */
export function reconnectTarget(contexts: readonly CreateContext[]): { persistent: bigint; volatile: bigint } | undefined {
  const x = contexts.find((y) => y.name === 'DHnC');
  if (!x) return undefined;
  if (x.data.length < 16) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  return { persistent: x.data.readBigUInt64LE(0), volatile: x.data.readBigUInt64LE(8) };
}

/** CREATE with DHnC (3.3.5.9.7): reattaches a kept durable open to this connection, session and tree. */
export async function reconnectDurable(c: SmbConnection, q: Request, target: { persistent: bigint }): Promise<Response> {
  const k = kept.get(target.persistent);
  const s: SmbSession = q.session!;
  if (!k) throw new SmbStatusError(STATUS.OBJECT_NAME_NOT_FOUND);
  const o = k.open;
  const owner = o.ctx;
  const me = s.principal!;
  if (owner.uid !== me.uid) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  if (o.share !== q.tree!.share && o.share.name !== q.tree!.share?.name) throw new SmbStatusError(STATUS.OBJECT_NAME_NOT_FOUND);
  clearTimeout(k.timer);
  kept.delete(target.persistent);
  o.id = c.files.allocId();
  o.sessionId = s.id;
  o.treeId = q.tree!.treeId;
  o.ctx = ctxOf(c, s);
  c.files.opens.set(o.id, o);
  c.files.compoundFileId = fileIdOf(o);
  setOplockConnection(o, c);
  const attr = await c.fileService!.vfs.getattr(o.ctx, o.node.ino);
  const i = fileInfoOf(attr);
  c.log?.debug({ peer: c.opts.peer, name: o.node.path }, 'smb: durable reconnect');
  const level = oplockLevelOf(o);
  return {
    status: STATUS.SUCCESS,
    body: (wr) => {
      writeCreateResponse(wr, {
        oplockLevel: level, createAction: CREATE_ACTION.OPENED, creationTime: i.creationTime, lastAccessTime: i.lastAccessTime, lastWriteTime: i.lastWriteTime,
        changeTime: i.changeTime, allocationSize: i.allocationSize, endOfFile: i.endOfFile, fileAttributes: i.attributes, fileId: fileIdOf(o),
        contexts: [{ name: 'DHnQ', data: Buffer.alloc(8) }],
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
