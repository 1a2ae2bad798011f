/**
 * What SMB shows as a file's times beyond what the VFS inode keeps (smbtorture smb2.timestamps):
 *
 * 1. Times outside a signed 64-bit ns count (before 1677-09-21 or after 2262-04-11; FILETIME
 *    reaches 30828). MS-FSA 2.1.5.15.2 stores whatever FileBasicInformation sets; the inode keeps
 *    64-bit ns (vfs/meta/inode.ts). Such a time is stored clamped to the nearest end of the
 *    inode's range and its exact FILETIME in the xattr `user.dw.smbtimes` (four u64 LE:
 *    CreationTime, LastAccessTime, LastWriteTime, ChangeTime; 0 = not beyond range). A time read
 *    back that sits exactly on an end of the range is replaced by the stored FILETIME; any other
 *    value (the time changed since, through SMB or another protocol) makes the entry stale and
 *    ignored, so the xattr needs no cleanup. The xattr is read only for such a time: a listing
 *    of ordinary files costs nothing more.
 *
 * 2. Windows' delayed LastWriteTime update. The VFS moves mtime with every write; Windows (and
 *    Samba, which smbtorture checks against Windows 2016's behaviour) does not:
 *    - the first WRITE through an open leaves LastWriteTime as it was and schedules its update
 *      WRITE_TIME_DELAY_MS later (the "pending" state);
 *    - FLUSH, SET_INFO EndOfFile/Allocation and any SET_INFO FileBasicInformation (even with
 *      all times 0) on that open do the pending update at once;
 *    - after the update, further WRITEs through the open do not move LastWriteTime; its CLOSE
 *      does (to the time of the close);
 *    - a LastWriteTime set explicitly is "sticky" (MS-FSA 2.1.5.15.2 UserSetModificationTime;
 *      Samba applies it to the file, as here): writes through any open no longer move it until
 *      the file's last open closes, and that close puts the set time back if the VFS moved it.
 *    The shown LastWriteTime is kept per Node (files.ts: shared by every open of the inode, on
 *    every connection of the process), so CREATE, QUERY_INFO, QUERY_DIRECTORY and CLOSE answers
 *    agree. Writes through other protocols (FUSE, NFS, WebDAV) while an SMB open holds the state
 *    are shown at the next update or close. Named streams are left alone.
 *
 * Samba behaves the same way for both on this machine (smbtorture smb2.timestamps 15/0).
 */
import type { Attr, SetAttr, Vfs } from '../../vfs/types.js';
import { ROOT_CTX } from '../../vfs/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import { nowNs } from '../../vfs/index.js';
import { nodesOf, type Node, type Open } from './files.js';
import { nsToFiletime, filetimeToNs, type SetTime } from './wire/fscc.js';

/** The xattr with the exact FILETIMEs of times the inode holds clamped. */
export const FAR_TIMES_XATTR = 'user.dw.smbtimes';
/** The inode's range of times (a signed 64-bit ns count: vfs/meta/inode.ts, metastore.ts setattr). */
export const MIN_INODE_NS = -(2n ** 63n);
export const MAX_INODE_NS = 2n ** 63n - 1n;
/** Delay of the LastWriteTime update after an open's first WRITE (Samba's default is 2 s too). */
export const WRITE_TIME_DELAY_MS = 2000;

const FIELDS = ['birthtimeNs', 'atimeNs', 'mtimeNs', 'ctimeNs'] as const;
type Field = typeof FIELDS[number];

/** The four stored FILETIMEs (0: none) of `user.dw.smbtimes`. */
export function decodeFarTimes(v: Buffer): bigint[] {
  const out = [0n, 0n, 0n, 0n];
  if (v.length !== 32) return out;
  for (let i = 0; i < 4; i++) out[i] = v.readBigUInt64LE(i * 8);
  return out;
}

export function encodeFarTimes(t: bigint[]): Buffer {
  const b = Buffer.alloc(32);
  for (let i = 0; i < 4; i++) b.writeBigUInt64LE(t[i] ?? 0n, i * 8);
  return b;
}

async function readFarTimes(vfs: Vfs, ino: number): Promise<bigint[]> {
  try {
    return decodeFarTimes(await vfs.getxattr(ROOT_CTX, ino, FAR_TIMES_XATTR));
  } catch (err) {
    if (err instanceof VfsError && (err.errno === Errno.ENODATA || err.errno === Errno.EOPNOTSUPP || err.errno === Errno.ENOENT || err.errno === Errno.ESTALE || err.errno === Errno.EPERM)) return [0n, 0n, 0n, 0n];
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Delayed LastWriteTime (per Node and per Open)

interface NodeWriteTime {
  /** The LastWriteTime SMB shows (ns; may be the clamped end of the range, see above). */
  shownNs: bigint;
  /** Set explicitly through SET_INFO: writes do not move it. */
  sticky: boolean;
  /** Written to since it became sticky (the last close puts it back). */
  stickyDirty: boolean;
}

interface OpenWriteTime {
  state: 'pending' | 'updated';
  /** Written to after the update (its CLOSE moves LastWriteTime). */
  dirty: boolean;
  timer?: NodeJS.Timeout;
}

const nodeState = new WeakMap<Node, NodeWriteTime>();
const openState = new WeakMap<Open, OpenWriteTime>();

/** The attributes SMB shows for `attr`: the delayed LastWriteTime and times beyond the inode's range. */
export async function smbAttr(vfs: Vfs, attr: Attr): Promise<Attr> {
  let a = attr;
  const w = nodeWriteTime(vfs, attr.ino);
  if (w !== undefined) a = Object.assign({}, a, { mtimeNs: w });
  if (FIELDS.some((f) => a[f] === MAX_INODE_NS || a[f] === MIN_INODE_NS)) {
    const far = await readFarTimes(vfs, a.ino);
    const b = { ...a };
    FIELDS.forEach((f, i) => { if ((b[f] === MAX_INODE_NS || b[f] === MIN_INODE_NS) && far[i] !== 0n) b[f] = filetimeToNs(far[i]!); });
    a = b;
  }
  return a;
}

/** The LastWriteTime (ns) SMB shows for an inode instead of the VFS's, if any. */
export function nodeWriteTime(vfs: Vfs, ino: number): bigint | undefined {
  const node = nodesOf(vfs).get(ino);
  return node ? nodeState.get(node)?.shownNs : undefined;
}

/** Pushes buffered writes of the node's file into the inode (a later flush would set mtime again). */
async function flushNode(vfs: Vfs, o: Open): Promise<void> {
  const withFh = o.fh !== undefined ? o : [...o.node.opens].find((x) => x.fh !== undefined && x.stream === undefined);
  if (withFh?.fh !== undefined) await vfs.flush(withFh.ctx, withFh.fh);
}

/** Before a WRITE of data through `o` (io.ts): starts the delay on the open's first write. */
export async function beforeWrite(vfs: Vfs, o: Open): Promise<void> {
  if (o.stream !== undefined || o.node.isDir) return;
  const n = nodeState.get(o.node);
  if (n?.sticky) { n.stickyDirty = true; return; }
  const s = openState.get(o);
  if (s) { if (s.state === 'updated') s.dirty = true; return; }
  if (!n) {
    const shownNs = (await vfs.getattr(o.ctx, o.node.ino)).mtimeNs;
    if (!nodeState.has(o.node)) nodeState.set(o.node, { shownNs, sticky: false, stickyDirty: false });
  }
  const st: OpenWriteTime = { state: 'pending', dirty: false };
  st.timer = setTimeout(() => { void settleWriteTime(vfs, o).catch(() => undefined); }, WRITE_TIME_DELAY_MS);
  st.timer.unref?.();
  openState.set(o, st);
}

/**
 * The current time in ns with sub-millisecond precision (the VFS's clock counts whole ms, and a
 * FILETIME tick is 100 ns: an update right after a CREATE must still read as later, as on
 * Windows, where it is the time of the update).
 */
function preciseNowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

/**
 * The time an update shows: now, and never before what the VFS holds or any time its clock gave
 * (a CreationTime, say). The precise clock runs on the monotonic clock from the process's start;
 * the VFS's clock is the wall clock: when the wall clock is stepped forward after the start (a
 * virtual machine's clock set right), the precise clock lags by the step, and an update two
 * seconds after a CREATE could show a time before the CreationTime. (smbtorture smb2.timestamps
 * delayed-2write failed with "Write-time not updated" in one CI run, the likely cause this; with
 * the monotonic clock held back 5 s it fails so every time, and passes with the wall clock here.)
 */
async function updateTime(vfs: Vfs, o: Open): Promise<bigint> {
  const precise = preciseNowNs(), stored = (await vfs.getattr(o.ctx, o.node.ino)).mtimeNs, wall = nowNs();
  let t = precise > stored ? precise : stored;
  if (wall > t) t = wall;
  return t;
}

/** Does `o`'s pending LastWriteTime update now (the timer, FLUSH, SET_INFO EndOfFile/Allocation/Basic). */
export async function settleWriteTime(vfs: Vfs, o: Open): Promise<void> {
  const s = openState.get(o);
  if (!s || s.state !== 'pending') return;
  if (s.timer) clearTimeout(s.timer);
  s.timer = undefined;
  s.state = 'updated';
  s.dirty = false;
  const n = nodeState.get(o.node);
  if (n && !n.sticky) n.shownNs = await updateTime(vfs, o);
}

/**
 * CLOSE of `o` (files.ts closeOpen, after `o` left node.opens and before its handle is
 * released): an open written to after its update sets LastWriteTime to now; when no open of
 * the file holds a state any more the shown time is stored in the inode (one setattr, only
 * when it differs: after an update; an open closed before its update leaves the inode's time,
 * its last write's); the last close of a sticky time written to since puts the set time back.
 */
export async function writeTimeAtClose(vfs: Vfs, o: Open): Promise<void> {
  const s = openState.get(o);
  openState.delete(o);
  if (s?.timer) clearTimeout(s.timer);
  const node = o.node;
  const n = nodeState.get(node);
  if (!n || node.deletePending) { if (node.opens.size === 0) nodeState.delete(node); return; }
  if (n.sticky) {
    if (node.opens.size > 0) return;
    nodeState.delete(node);
    if (n.stickyDirty) {
      await flushNode(vfs, o);
      await vfs.setattr(ROOT_CTX, node.ino, { mtimeNs: n.shownNs });
    }
    return;
  }
  if (s?.state === 'pending') {
    // No update was due yet: the inode's mtime (the last write's time) is what shows now —
    // nothing to store (a plain create-write-close costs no more than the one getattr of its
    // first WRITE).
    for (const x of node.opens) {
      if (openState.has(x)) { n.shownNs = (await vfs.getattr(o.ctx, node.ino)).mtimeNs; return; }
    }
    nodeState.delete(node);
    return;
  }
  if (s?.state === 'updated' && s.dirty) n.shownNs = await updateTime(vfs, o);
  for (const x of node.opens) if (openState.has(x)) return; // another open still holds a state
  nodeState.delete(node);
  // The shown time becomes the inode's (the server's own update, as the VFS's on a write: root's credentials).
  if ((await vfs.getattr(o.ctx, node.ino)).mtimeNs !== n.shownNs) {
    await flushNode(vfs, o);
    await vfs.setattr(ROOT_CTX, node.ino, { mtimeNs: n.shownNs });
  }
}

// ---------------------------------------------------------------------------------------------
// SET_INFO FileBasicInformation times

export interface BasicTimes { creationTime: SetTime; lastAccessTime: SetTime; lastWriteTime: SetTime; changeTime: SetTime }

/**
 * Applies the times of a SET_INFO FileBasicInformation on `o` (info.ts): times beyond the
 * inode's range clamped with their FILETIME kept in `user.dw.smbtimes`; the open's pending
 * LastWriteTime update done first (MS-FSA: any FileBasicInformation, even all zero, does it);
 * an explicit LastWriteTime becomes sticky for the file.
 */
export async function setBasicTimes(vfs: Vfs, o: Open, b: BasicTimes): Promise<void> {
  if (o.stream === undefined) await settleWriteTime(vfs, o);
  const given: (SetTime)[] = [b.creationTime, b.lastAccessTime, b.lastWriteTime, b.changeTime];
  const s: SetAttr = {};
  const far: (bigint | undefined)[] = [undefined, undefined, undefined, undefined];
  given.forEach((t, i) => {
    if (t.kind !== 'set') return;
    let ns = t.ns;
    far[i] = 0n;
    if (ns > MAX_INODE_NS) { far[i] = nsToFiletime(ns); ns = MAX_INODE_NS; }
    else if (ns < MIN_INODE_NS) { far[i] = nsToFiletime(ns); ns = MIN_INODE_NS; }
    (s as Record<Field, bigint>)[FIELDS[i]!] = ns;
  });
  if (far.some((v) => v !== undefined && v !== 0n)) {
    // Before the times: setting an xattr moves ctime, which a set ChangeTime must come after.
    const old = await readFarTimes(vfs, o.node.ino);
    const next = old.map((v, i) => far[i] ?? v);
    await vfs.setxattr(ROOT_CTX, o.node.ino, FAR_TIMES_XATTR, encodeFarTimes(next));
  }
  const sticky = s.mtimeNs !== undefined && o.stream === undefined && !o.node.isDir;
  if (sticky) await flushNode(vfs, o); // buffered writes would set mtime again when stored
  if (Object.keys(s).length) await vfs.setattr(o.ctx, o.node.ino, s, o.fhWritable);
  if (sticky) {
    for (const x of o.node.opens) {
      const st = openState.get(x);
      if (st?.timer) clearTimeout(st.timer);
      openState.delete(x);
    }
    nodeState.set(o.node, { shownNs: s.mtimeNs as bigint, sticky: true, stickyDirty: false });
  }
}
