/**
 * Byte-range locks of SMB opens (MS-SMB2 3.3.5.14 LOCK; MS-FSA 2.1.5.7 byte-range lock,
 * 2.1.4.10 I/O against locked ranges) on the VFS's one lock table.
 *
 * SMB semantics differ from POSIX's: locks belong to an open (not a process), stack (the same
 * open may lock one range several times and must unlock it as often, exclusive first), an
 * unlock names exactly one earlier range (else STATUS_RANGE_NOT_LOCKED), a zero-length lock at
 * S conflicts only with a range strictly around S, and offsets are 64-bit unsigned. So each
 * inode keeps the SMB locks of every open of every connection (per VFS, like files.ts's nodes)
 * with exact bigint ranges, and decides SMB-against-SMB conflicts itself:
 *
 * - a new exclusive lock conflicts with any overlapping lock, the open's own included;
 * - a new shared lock conflicts with an overlapping exclusive lock of another open (a shared
 *   lock stacks on the open's own exclusive one).
 *
 * What SMB holds is mirrored into the VFS lock table (`Vfs.lock`) under one holder (clientId
 * `MIRROR_CTX.clientId`, owner `MIRROR_OWNER`): write where some SMB lock is exclusive, read
 * where only shared ones are, nothing for zero-length locks. That mirror is what FUSE, NFS
 * (NLM, v4) and WebDAV locks conflict with, and a new SMB lock is granted only once the mirror
 * could take its range (a foreign conflicting lock → LOCK_NOT_GRANTED or a wait). Offsets at or
 * above 2^53 (beyond a JS number's exact range and any real file) are mirrored as
 * [2^53, ∞): SMB-against-SMB stays exact, other protocols see such locks as one range.
 *
 * The mirror is rewritten whole after each change (unlock all, lock each segment). Both calls
 * act synchronously in the VFS's LockTable (its async methods do their work before the first
 * await when nothing conflicts), so no other holder can slip into a segment in between;
 * segments are cut at every lock edge, so a failing segment lock (a foreign conflict) only ever
 * concerns the range being added.
 *
 * READ/WRITE (3.3.5.12, 3.3.5.13) call `checkIo`: a read conflicts with another open's
 * exclusive lock, a write with another open's exclusive lock or anyone's shared lock, and both
 * with a conflicting foreign lock in the VFS table (SMB clients get mandatory locking) →
 * STATUS_FILE_LOCK_CONFLICT. A CLOSE (and so TREE_DISCONNECT, LOGOFF and the socket's end)
 * drops the open's locks and ends its waiting LOCKs with STATUS_RANGE_NOT_LOCKED.
 *
 * Named streams (streams.ts) have their own locks, not mirrored: no other protocol reaches them.
 *
 * LockSequence (3.3.5.14): on a resilient open (2.1 and later; FSCTL_LMR_REQUEST_RESILIENCY,
 * fsctl.ts) or a durable open of a 3.x connection, a LOCK whose
 * LockSequenceIndex (1–64) holds the LockSequenceNumber of an earlier successful LOCK is a replay
 * (the client resent it after a reconnect) and succeeds without locking again; the entry is
 * cleared before a LOCK is tried and set when it succeeds.
 */
import type { Ctx, LockRange, Vfs } from '../../vfs/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import { STATUS, SmbStatusError } from './errors.js';
import { openOf, type Open } from './files.js';
import { breakLevelIIForWrite } from './oplock.js';
import { isDurable } from './durable.js';
import { isResilient } from './fsctl.js';
import { DIALECT } from './wire/negotiate.js';
import type { Request, Response, SmbConnection } from './session.js';
import { decodeLockRequest, LOCK_FLAG, writeLockResponse } from './wire/lock.js';

/** The VFS holder of every SMB lock (the mirror). */
export const MIRROR_CTX: Ctx = { uid: 0, gid: 0, groups: [], clientId: 'smb-byte-range-locks' };
export const MIRROR_OWNER = 'smb';
/** Holder of the short-lived probes that wait for a foreign lock to go. */
const PROBE_CTX: Ctx = { uid: 0, gid: 0, groups: [], clientId: 'smb-lock-waiters' };

const U64_END = 1n << 64n;
const SAFE = 1n << 53n;

/** One granted SMB lock: [offset, offset + length) of `open`. */
interface ByteLock {
  open: Open;
  offset: bigint;
  length: bigint;
  exclusive: boolean;
}

/** A LOCK waiting for a conflict to go. */
interface Waiter {
  open: Open;
  /** Tries again now (the SMB locks of the inode changed). */
  retry: () => void;
  /** Ends the wait with `reason` (close of the open). */
  abort: (reason: unknown) => void;
}

/** The SMB locks and waiters of one inode's data (or of one named stream of it). */
interface InodeLocks {
  vfs: Vfs;
  ino: number;
  /** `keyOf` of the opens. */
  key: string;
  /** Mirrored into the VFS lock table: the file's data, not a named stream (an xattr no other protocol locks). */
  mirror: boolean;
  locks: ByteLock[];
  waiters: Waiter[];
}

const tables = new WeakMap<Vfs, Map<string, InodeLocks>>();
const waitersOfOpen = new WeakMap<Open, Set<Waiter>>();
let probes = 0;

/** Locks are per stream: the file's data, or one named stream (streams.ts). */
const keyOf = (o: Open): string => (o.stream === undefined ? String(o.node.ino) : `${o.node.ino}\0${o.stream}`);

function stateOf(vfs: Vfs, o: Open): InodeLocks {
  let m = tables.get(vfs);
  if (!m) tables.set(vfs, (m = new Map()));
  const key = keyOf(o);
  let s = m.get(key);
  if (!s) m.set(key, (s = { vfs, ino: o.node.ino, key, mirror: o.stream === undefined, locks: [], waiters: [] }));
  return s;
}

function forget(s: InodeLocks): void {
  if (!s.locks.length && !s.waiters.length) tables.get(s.vfs)?.delete(s.key);
}

/**
 * Do two SMB ranges overlap? Non-empty ranges as usual; a zero-length range at S overlaps a
 * range that holds S strictly after its start; two zero-length ranges never do.
 */
export function rangesOverlap(a: { offset: bigint; length: bigint }, b: { offset: bigint; length: bigint }): boolean {
  if (a.length === 0n && b.length === 0n) return false;
  if (a.length === 0n) return b.offset < a.offset && a.offset < b.offset + b.length;
  if (b.length === 0n) return a.offset < b.offset && b.offset < a.offset + a.length;
  return a.offset < b.offset + b.length && b.offset < a.offset + a.length;
}

/** MS-FSA 2.1.5.7: does `want` (by `open`) conflict with the SMB locks of the inode? */
function smbConflict(s: InodeLocks, want: ByteLock): boolean {
  for (const l of s.locks) {
    if (!rangesOverlap(l, want)) continue;
    if (want.exclusive) return true;
    if (l.exclusive && l.open !== want.open) return true;
  }
  return false;
}

/** The VFS range of an SMB range (see the module comment for offsets at or above 2^53). */
function vfsRange(offset: bigint, length: bigint): { start: number; end: number } {
  const end = offset + length;
  return { start: offset >= SAFE ? Number(SAFE) : Number(offset), end: end > SAFE ? Infinity : Number(end) };
}

/**
 * Rewrites the mirror of the inode's SMB locks in the VFS table; resolves to false when a
 * segment could not be taken (a foreign lock conflicts).
 */
async function syncMirror(s: InodeLocks): Promise<boolean> {
  if (!s.mirror) return true;
  const ranges = s.locks.filter((l) => l.length > 0n).map((l) => Object.assign(vfsRange(l.offset, l.length), { exclusive: l.exclusive }));
  const edges = [...new Set(ranges.flatMap((r) => [r.start, r.end]))].sort((a, b) => a - b);
  const calls: Promise<void>[] = [s.vfs.unlock(MIRROR_CTX, s.ino, { owner: MIRROR_OWNER, start: 0, end: Infinity })];
  for (let i = 0; i + 1 < edges.length; i++) {
    const start = edges[i]!, end = edges[i + 1]!;
    let type: LockRange['type'] | undefined;
    for (const r of ranges) {
      if (r.start <= start && r.end >= end) type = r.exclusive ? 'write' : (type ?? 'read');
    }
    if (type) calls.push(s.vfs.lock(MIRROR_CTX, s.ino, { type, start, end, owner: MIRROR_OWNER }, false));
  }
  const res = await Promise.allSettled(calls);
  for (const r of res) {
    if (r.status === 'rejected' && !(r.reason instanceof VfsError && r.reason.errno === Errno.EAGAIN)) throw r.reason;
  }
  return res.every((r) => r.status === 'fulfilled');
}

/** Retries every waiter of the inode (its SMB locks changed), in arrival order. */
function wakeWaiters(s: InodeLocks): void {
  for (const w of s.waiters.splice(0)) w.retry();
}

/** Removes `l` and updates the mirror and the waiters. */
async function release(s: InodeLocks, l: ByteLock): Promise<void> {
  const i = s.locks.indexOf(l);
  if (i < 0) return;
  s.locks.splice(i, 1);
  const sync = syncMirror(s);
  wakeWaiters(s);
  forget(s);
  await sync;
}

/**
 * Takes `want` if nothing conflicts: 'smb' when an SMB lock does (nothing taken), 'vfs' when
 * a foreign lock in the VFS table does (nothing taken), else 'granted'. The SMB check and the
 * reservation happen before the first await.
 */
async function take(s: InodeLocks, want: ByteLock): Promise<'granted' | 'smb' | 'vfs'> {
  if (smbConflict(s, want)) return 'smb';
  s.locks.push(want);
  if (want.length === 0n) return 'granted';
  if (await syncMirror(s)) return 'granted';
  await release(s, want);
  return 'vfs';
}

/** Resolves when the VFS table could grant `want`'s range to someone other than SMB (a foreign lock went). */
async function waitForeign(s: InodeLocks, want: ByteLock, signal: AbortSignal): Promise<void> {
  const owner = `probe-${++probes}`;
  const r = vfsRange(want.offset, want.length);
  await s.vfs.lock(PROBE_CTX, s.ino, { type: want.exclusive ? 'write' : 'read', ...r, owner }, true, signal);
  await s.vfs.unlock(PROBE_CTX, s.ino, { owner, ...r });
}

/**
 * Waits until `want` is granted; rejects with the signal's reason (CANCEL) or the reason the
 * open's close gives (STATUS_RANGE_NOT_LOCKED).
 */
function takeWaiting(vfs: Vfs, want: ByteLock, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false;
    // The inode's state is looked up at each attempt: it is forgotten whenever it holds nothing.
    let s = stateOf(vfs, want.open);
    const probe = new AbortController();
    const mine = waitersOfOpen.get(want.open) ?? new Set<Waiter>();
    waitersOfOpen.set(want.open, mine);
    const finish = (err?: unknown): void => {
      if (done) return;
      done = true;
      probe.abort();
      mine.delete(w);
      const i = s.waiters.indexOf(w);
      if (i >= 0) s.waiters.splice(i, 1);
      signal.removeEventListener('abort', onAbort);
      forget(s);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onAbort = (): void => finish(signal.reason);
    const attempt = (): void => {
      if (done) return;
      s = stateOf(vfs, want.open);
      if (smbConflict(s, want)) {
        s.waiters.push(w); // retried when the SMB locks of the inode change
        return;
      }
      take(s, want).then((r) => {
        if (done) {
          if (r === 'granted') void release(s, want).catch(() => undefined); // ended meanwhile: give it back
          return;
        }
        if (r === 'granted') finish();
        else if (r === 'smb') attempt();
        else waitForeign(s, want, probe.signal).then(attempt, (err: unknown) => { if (!done) finish(err); });
      }, finish);
    };
    const w: Waiter = { open: want.open, retry: attempt, abort: finish };
    mine.add(w);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) return onAbort();
    attempt();
  });
}

/**
 * Drops every lock of `o` and ends its waiting LOCKs with STATUS_RANGE_NOT_LOCKED (the open is
 * being closed). Locks of the other opens waiting on them are granted before this returns
 * (their reservation is synchronous), as Windows answers a LOCK pending when the holder's tree
 * is disconnected.
 */
export async function dropOpenLocks(vfs: Vfs, o: Open): Promise<void> {
  for (const w of [...(waitersOfOpen.get(o) ?? [])]) w.abort(new SmbStatusError(STATUS.RANGE_NOT_LOCKED));
  waitersOfOpen.delete(o);
  const s = tables.get(vfs)?.get(keyOf(o));
  if (!s) return;
  const before = s.locks.length;
  s.locks = s.locks.filter((l) => l.open !== o);
  if (s.locks.length === before) return;
  const sync = syncMirror(s);
  wakeWaiters(s);
  forget(s);
  await sync.catch(() => undefined);
}

/**
 * MS-SMB2 3.3.5.12/3.3.5.13 with MS-FSA 2.1.4.10: STATUS_FILE_LOCK_CONFLICT when `length`
 * bytes at `offset` are locked against this read (another open's exclusive lock) or write
 * (another open's exclusive lock, or any shared lock), or a foreign VFS lock conflicts.
 * Zero-length I/O and zero-length locks never conflict.
 */
export async function checkIo(vfs: Vfs, o: Open, offset: bigint, length: number, write: boolean): Promise<void> {
  if (length === 0) return;
  const io = { offset, length: BigInt(length) };
  const s = tables.get(vfs)?.get(keyOf(o));
  for (const l of s?.locks ?? []) {
    if (l.length === 0n || !rangesOverlap(l, io)) continue;
    if ((l.exclusive && l.open !== o) || (write && !l.exclusive)) throw new SmbStatusError(STATUS.FILE_LOCK_CONFLICT);
  }
  if (o.stream !== undefined) return;
  const r = vfsRange(io.offset, io.length);
  if (await vfs.testlock(MIRROR_CTX, o.node.ino, { type: write ? 'write' : 'read', ...r, owner: MIRROR_OWNER })) {
    throw new SmbStatusError(STATUS.FILE_LOCK_CONFLICT);
  }
}

const ok = (): Response => ({ status: STATUS.SUCCESS, body: (w) => { writeLockResponse(w); } });

/**
 * LOCK (3.3.5.14). The first element decides: with SMB2_LOCKFLAG_UNLOCK every element must be
 * exactly UNLOCK and releases the open's lock of exactly that range (exclusive before shared),
 * in order, stopping at the first that is not held (STATUS_RANGE_NOT_LOCKED; the ones before
 * stay unlocked) or not UNLOCK (INVALID_PARAMETER). Otherwise every element must be SHARED or
 * EXCLUSIVE, with FAIL_IMMEDIATELY when there are several (INVALID_PARAMETER), offset + length
 * at most 2^64 (STATUS_INVALID_LOCK_RANGE); a conflict → STATUS_LOCK_NOT_GRANTED and the
 * request's earlier locks are released again. A single blocking element that conflicts goes
 * async (an interim STATUS_PENDING, then the final answer when granted; CANCEL →
 * STATUS_CANCELLED, a close of the open → STATUS_RANGE_NOT_LOCKED). A folder →
 * STATUS_INVALID_DEVICE_REQUEST.
 */
/** Each durable open's LockSequenceArray (3.3.1.10): index 1–64 → the number last completed there. */
const lockSequences = new WeakMap<Open, Map<number, number>>();

/**
 * The LockSequence check of 3.3.5.14 for `o`: 'replay' when the request repeats one that
 * completed, else a function that records it as completed (a no-op when the open does not keep
 * sequences: neither resilient nor durable on 3.x).
 */
function lockSequence(c: SmbConnection, o: Open, seq: number): 'replay' | (() => void) {
  const d = c.dialect;
  const keeps = d !== null && d !== DIALECT.WILDCARD && ((d >= DIALECT.SMB210 && isResilient(o)) || (d >= DIALECT.SMB300 && isDurable(o)));
  if (!keeps) return () => undefined;
  const num = seq & 0xf, index = seq >>> 4;
  if (index < 1 || index > 64) return () => undefined;
  let arr = lockSequences.get(o);
  if (!arr) lockSequences.set(o, arr = new Map());
  if (arr.get(index) === num) return 'replay';
  arr.delete(index);
  const a = arr;
  return () => { a.set(index, num); };
}

export async function handleLock(c: SmbConnection, q: Request): Promise<Response> {
  const req = decodeLockRequest(q.message);
  const o = openOf(c, q, req.fileId);
  if (o.node.isDir) throw new SmbStatusError(STATUS.INVALID_DEVICE_REQUEST); // as READ and WRITE on a folder
  const seq = lockSequence(c, o, req.lockSequence);
  if (seq === 'replay') return ok();
  const r = await lockNow(c, o, req);
  if (r.goAsync) {
    const wait = r.goAsync;
    return { ...r, goAsync: (signal) => wait(signal).then((x) => { if (x.status === STATUS.SUCCESS) seq(); return x; }) };
  }
  if (r.status === STATUS.SUCCESS) seq();
  return r;
}

async function lockNow(c: SmbConnection, o: Open, req: ReturnType<typeof decodeLockRequest>): Promise<Response> {
  const vfs = c.fileService!.vfs;
  const s = stateOf(vfs, o);
  try {
    if (req.locks[0]!.flags & LOCK_FLAG.UNLOCK) {
      for (const el of req.locks) {
        if (el.flags !== LOCK_FLAG.UNLOCK) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
        const mine = s.locks.filter((l) => l.open === o && l.offset === el.offset && l.length === el.length);
        const l = mine.find((x) => x.exclusive) ?? mine[0];
        if (!l) throw new SmbStatusError(STATUS.RANGE_NOT_LOCKED);
        await release(s, l);
      }
      return ok();
    }
    // MS-FSA 2.1.5.7: taking a byte-range lock breaks every LEVEL_II oplock (the locker's own
    // too) and other leases' R, as a write does (smb2.oplock.brl1, brl3; oplock.ts).
    breakLevelIIForWrite(o);
    const taken: ByteLock[] = [];
    try {
      for (const el of req.locks) {
        const kind = el.flags & ~LOCK_FLAG.FAIL_IMMEDIATELY;
        if (kind !== LOCK_FLAG.SHARED && kind !== LOCK_FLAG.EXCLUSIVE) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
        const failNow = (el.flags & LOCK_FLAG.FAIL_IMMEDIATELY) !== 0;
        if (!failNow && req.locks.length > 1) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
        if (el.offset + el.length > U64_END) throw new SmbStatusError(STATUS.INVALID_LOCK_RANGE);
        const want: ByteLock = { open: o, offset: el.offset, length: el.length, exclusive: kind === LOCK_FLAG.EXCLUSIVE };
        const r = await take(s, want);
        if (r === 'granted') {
          taken.push(want);
          continue;
        }
        if (failNow) throw new SmbStatusError(STATUS.LOCK_NOT_GRANTED);
        // One blocking element: wait for it asynchronously (3.3.4.2).
        return { ...ok(), goAsync: (signal) => takeWaiting(vfs, want, signal).then(ok) };
      }
    } catch (err) {
      for (const l of taken) await release(s, l);
      throw err;
    }
    return ok();
  } finally {
    forget(s);
  }
}
