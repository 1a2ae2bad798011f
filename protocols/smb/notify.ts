/**
 * CHANGE_NOTIFY (MS-SMB2 3.3.5.19; MS-FSA 2.1.5.10 / 2.1.4.x change reporting) on folders of a
 * disk share, from the VFS's change feed (`Vfs.watch`), so changes made through FUSE, NFS,
 * WebDAV or SFTP are reported too.
 *
 * - The first CHANGE_NOTIFY on an open starts its watch: from then on matching changes are kept
 *   on the open (NotifyChange buffer), between requests too, up to the first request's
 *   OutputBufferLength; more than fits → the next request answers STATUS_NOTIFY_ENUM_DIR (the
 *   client re-reads the folder) and the buffer starts again.
 * - A request with changes kept answers at once; otherwise it goes async (interim
 *   STATUS_PENDING, async.ts) and completes with the changes that arrived by the end of the
 *   event-loop turn in which the first one came. Changes whose FILE_NOTIFY_INFORMATION exceeds
 *   the request's OutputBufferLength → STATUS_NOTIFY_ENUM_DIR, empty.
 * - Filters: FILE_NAME / DIR_NAME for entries made, removed or renamed (FILE_ACTION_ADDED,
 *   REMOVED, RENAMED_OLD_NAME/NEW_NAME); ATTRIBUTES, SIZE, LAST_WRITE, CREATION, SECURITY
 *   (an entry's inode changed: FILE_ACTION_MODIFIED), EA, STREAM_* and ATTRIBUTES for an xattr
 *   (EAs, streams and the DOS attributes are xattrs). An inode change is
 *   reported by name only for entries the SMB server has open (their node knows the name): a
 *   write through another protocol to a file no SMB client has open reports nothing.
 * - SMB2_WATCH_TREE: changes anywhere below; folder paths are learned by a walk at the first
 *   request (at most MAX_TREE_DIRS folders) and kept current from the change feed.
 * - Errors: not a folder → INVALID_PARAMETER; no FILE_LIST_DIRECTORY (FILE_READ_DATA on a folder) access → ACCESS_DENIED;
 *   OutputBufferLength above MaxTransactSize → INVALID_PARAMETER. CANCEL → STATUS_CANCELLED; the
 *   open's CLOSE (also by TREE_DISCONNECT, LOGOFF, the connection's end) → STATUS_NOTIFY_CLEANUP;
 *   the watched folder deleted → STATUS_DELETE_PENDING.
 */
import { ROOT_CTX, type Vfs, type VfsChange } from '../../vfs/types.js';
import { STATUS, SmbStatusError } from './errors.js';
import { nodesOf, openOf, type Open } from './files.js';
import type { Request, Response, SmbConnection } from './session.js';
import { writeOutputBufferResponse } from './wire/files.js';
import {
  decodeChangeNotifyRequest, encodeNotifyInformation, FILE_ACTION, FILE_NOTIFY_CHANGE, SMB2_WATCH_TREE, type NotifyEntry,
} from './wire/notify.js';
import { ACCESS } from './wire/security.js';

/** Most folders a WATCH_TREE request learns by its first walk. */
export const MAX_TREE_DIRS = 4096;
/** Most requests waiting on one open (beyond: INSUFFICIENT_RESOURCES). */
export const MAX_WAITERS = 64;

const NAME_FILTER = FILE_NOTIFY_CHANGE.FILE_NAME | FILE_NOTIFY_CHANGE.DIR_NAME;
const INODE_FILTER = FILE_NOTIFY_CHANGE.ATTRIBUTES | FILE_NOTIFY_CHANGE.SIZE | FILE_NOTIFY_CHANGE.LAST_WRITE | FILE_NOTIFY_CHANGE.CREATION
  | FILE_NOTIFY_CHANGE.SECURITY | FILE_NOTIFY_CHANGE.LAST_ACCESS;
const XATTR_FILTER = FILE_NOTIFY_CHANGE.EA | FILE_NOTIFY_CHANGE.STREAM_NAME | FILE_NOTIFY_CHANGE.STREAM_SIZE | FILE_NOTIFY_CHANGE.STREAM_WRITE;

/** The watch of one open (its NotifyChange state). */
interface Watch {
  vfs: Vfs;
  dir: number;
  filter: number;
  tree: boolean;
  /** Bytes the kept changes may take: the first request's OutputBufferLength. */
  capacity: number;
  changes: NotifyEntry[];
  bytes: number;
  overflow: boolean;
  /** Folder inode → its path below the watched folder ('' for the folder itself), for WATCH_TREE. */
  dirs: Map<number, string>;
  /** The open's folder in its parent (a delete of it ends the watch with DELETE_PENDING). */
  parent: number;
  name: string;
  /** Waiting requests, oldest first: each answers one batch of changes. */
  waiters: Waiter[];
  /** A batch answer is scheduled for the end of this event-loop turn. */
  scheduled: boolean;
  ended: number | undefined;
  stop: () => void;
}

interface Waiter {
  max: number;
  resolve: (r: Response) => void;
}

const watches = new WeakMap<Open, Watch>();

function entrySize(e: NotifyEntry): number {
  return (12 + Buffer.byteLength(e.name, 'utf16le') + 3) & ~3;
}

function add(w: Watch, e: NotifyEntry): void {
  if (w.overflow) return;
  const size = entrySize(e);
  if (w.bytes + size > w.capacity) {
    w.overflow = true;
    w.changes = [];
    w.bytes = 0;
  } else {
    w.changes.push(e);
    w.bytes += size;
  }
  schedule(w);
}

/** Answers the oldest waiting request with what has been kept, at the end of this turn (so a burst is one answer). */
function schedule(w: Watch): void {
  if (w.scheduled || !w.waiters.length || !(w.changes.length || w.overflow)) return;
  w.scheduled = true;
  setImmediate(() => {
    w.scheduled = false;
    if (!(w.changes.length || w.overflow)) return;
    const first = w.waiters.shift();
    if (first) first.resolve(answer(w, first.max));
  });
}

/** The path below the watched folder of entry `name` in folder `parent`, or undefined when outside the watch. */
function pathOf(w: Watch, parent: number, name: string): string | undefined {
  const base = w.dirs.get(parent);
  if (base === undefined) return undefined;
  return base === '' ? name : `${base}\\${name}`;
}

function onChange(w: Watch, o: Open, ch: VfsChange): void {
  if (ch.action === 'remove' && ch.ino === w.parent && ch.name === w.name) { // the watched folder itself went
    endWatch(o, STATUS.DELETE_PENDING);
    return;
  }
  if (ch.name !== undefined && ch.action !== undefined) {
    const path = pathOf(w, ch.ino, ch.name);
    if (path === undefined) return;
    const dir = ch.dir === true;
    if (w.tree && dir && ch.action !== 'remove' && ch.action !== 'rename-from') {
      // A folder below: learn its path (its inode from the name, lazily: the next lookup of it finds it in `dirs`).
      void w.vfs.lookup(ROOT_CTX, ch.ino, ch.name).then((a) => { w.dirs.set(a.ino, path); }, () => undefined);
    }
    if (!(w.filter & (dir ? FILE_NOTIFY_CHANGE.DIR_NAME : FILE_NOTIFY_CHANGE.FILE_NAME))) return;
    const action = ch.action === 'add' ? FILE_ACTION.ADDED : ch.action === 'remove' ? FILE_ACTION.REMOVED
      : ch.action === 'rename-from' ? FILE_ACTION.RENAMED_OLD_NAME : ch.action === 'rename-to' ? FILE_ACTION.RENAMED_NEW_NAME : undefined;
    if (action !== undefined) add(w, { action, name: path });
    return;
  }
  if (ch.name !== undefined) return;
  if (ch.ino === w.dir && ch.action === 'attr') return; // the folder's own times move with every entry change
  // An xattr may be an EA, a stream or the DOS attributes (dosattr.ts): any of those filters.
  const want = ch.action === 'xattr' ? XATTR_FILTER | FILE_NOTIFY_CHANGE.ATTRIBUTES : INODE_FILTER;
  if (!(w.filter & want)) return;
  // Which entry is it? Known for inodes the SMB server has open (their node keeps parent and name).
  const node = nodesOf(w.vfs).get(ch.ino);
  if (!node || node.ino === w.dir) return;
  const path = pathOf(w, node.parent, node.name);
  if (path !== undefined) add(w, { action: FILE_ACTION.MODIFIED, name: path });
}

async function learnTree(w: Watch, ctx: Open['ctx']): Promise<void> {
  const queue: [number, string][] = [[w.dir, '']];
  while (queue.length && w.dirs.size < MAX_TREE_DIRS) {
    const [ino, path] = queue.shift()!;
    for (let cookie = 0; ;) {
      const batch = await w.vfs.readdir(ctx, ino, cookie, 512).catch(() => []);
      if (!batch.length) break;
      for (const e of batch) {
        cookie = e.cookie;
        if (e.type !== 'dir') continue;
        const p = path === '' ? e.name : `${path}\\${e.name}`;
        w.dirs.set(e.ino, p);
        queue.push([e.ino, p]);
      }
    }
  }
}

/** Ends the watch of an open (its CLOSE): a waiting request answers `status`. */
export function endWatch(o: Open, status: number = STATUS.NOTIFY_CLEANUP): void {
  const w = watches.get(o);
  if (!w) return;
  watches.delete(o);
  w.stop();
  w.ended = status;
  for (const waiter of w.waiters.splice(0)) waiter.resolve({ status, body: (wr) => { writeOutputBufferResponse(wr, Buffer.alloc(0)); } });
}

function answer(w: Watch, max: number): Response {
  if (w.overflow || w.bytes > max) {
    w.overflow = false;
    w.changes = [];
    w.bytes = 0;
    return { status: STATUS.NOTIFY_ENUM_DIR, body: (wr) => { writeOutputBufferResponse(wr, Buffer.alloc(0)); } };
  }
  const out = encodeNotifyInformation(w.changes);
  w.changes = [];
  w.bytes = 0;
  return { status: STATUS.SUCCESS, body: (wr) => { writeOutputBufferResponse(wr, out); } };
}

/** CHANGE_NOTIFY on a disk share (see the module's comment). */
export async function handleChangeNotify(c: SmbConnection, q: Request): Promise<Response> {
  const req = decodeChangeNotifyRequest(q.message);
  const o = openOf(c, q, req.fileId);
  if (!o.node.isDir || o.stream !== undefined) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  if (!(o.access & ACCESS.FILE_READ_DATA)) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  if (req.outputBufferLength > c.maxIo) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  const vfs = c.fileService!.vfs;
  let w = watches.get(o);
  if (!w) {
    const nw: Watch = {
      vfs, dir: o.node.ino, filter: req.completionFilter, tree: (req.flags & SMB2_WATCH_TREE) !== 0, capacity: req.outputBufferLength,
      changes: [], bytes: 0, overflow: false, dirs: new Map([[o.node.ino, '']]), parent: o.node.parent, name: o.node.name,
      waiters: [], scheduled: false, ended: undefined, stop: () => undefined,
    };
    nw.stop = vfs.watch((ch) => onChange(nw, o, ch));
    watches.set(o, nw);
    w = nw;
    if (w.tree) await learnTree(w, o.ctx);
  }
  const watch = w;
  if (!watch.waiters.length && (watch.changes.length || watch.overflow)) return answer(watch, req.outputBufferLength);
  if (watch.waiters.length >= MAX_WAITERS) throw new SmbStatusError(STATUS.INSUFFICIENT_RESOURCES);
  return {
    status: STATUS.PENDING, body: () => undefined,
    goAsync: (signal) => new Promise<Response>((resolve, reject) => {
      const waiter: Waiter = {
        max: req.outputBufferLength,
        resolve: (r) => { signal.removeEventListener('abort', onAbort); resolve(r); },
      };
      const onAbort = () => {
        const i = watch.waiters.indexOf(waiter);
        if (i >= 0) watch.waiters.splice(i, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      if (watch.ended !== undefined) { waiter.resolve({ status: watch.ended, body: (wr) => { writeOutputBufferResponse(wr, Buffer.alloc(0)); } }); return; }
      watch.waiters.push(waiter);
      schedule(watch); // changes kept while the interim response went out
    }),
  };
}
