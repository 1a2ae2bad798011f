/**
 * The open table of the SMB2 file commands (MS-SMB2 3.3.1.10 Open, 3.3.1.7
 * Connection.OpenTable) and what CREATE needs around it: share roots, path resolution from the
 * share root through `Vfs.lookupCaseless`, the mapping of access masks to the VFS's r/w/x
 * checks (MS-SMB2 3.3.5.9, MS-FSA 2.1.5.1) and the share-mode rule (MS-FSA 2.1.5.1.2).
 *
 * Opens live in a per-connection table keyed by the volatile FileId (the persistent half is the
 * same number: no durable handles yet). Every open of one inode on one VFS shares a `Node` (its
 * current parent and name, the delete-pending flag, the list of opens), kept in a registry per
 * VFS, so share modes and delete-on-close work across connections of one server.
 */
import type { Attr, Ctx, Fh, Vfs } from '../../vfs/types.js';
import { ctxFor } from '../../vfs/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import { STATUS, SmbStatusError } from './errors.js';
import type { SmbShare } from './shares.js';
import type { SmbSession, TreeConnect } from './state.js';
import type { Request, SmbConnection } from './session.js';
import { ACCESS, FILE_ALL_ACCESS, FILE_GENERIC_EXECUTE, FILE_GENERIC_READ, FILE_GENERIC_WRITE } from './wire/security.js';
import { ALL_ONES_FILE_ID, SHARE_ACCESS, type FileId } from './wire/files.js';
import type { DirEntryInfo } from './wire/fscc-dir.js';
import { HDR_FLAGS } from './wire/header.js';
import { closeStream, streamOpensOf } from './streams.js';
import { endWatch } from './notify.js';
import { dropOpenLocks } from './lock.js';
import { releaseOplock } from './oplock.js';
import { forgetDurable } from './durable.js';
import { writeTimeAtClose } from './writetime.js';

/** What the VFS side of the file commands needs: the VFS and a way to find each share's root inode. */
export interface FileService {
  vfs: Vfs;
  /** The root inode of a share (resolved once and cached by the caller of this module). */
  shareRoot(share: SmbShare): Promise<number>;
}

/** Shared state of one inode among its opens (MS-FSA's Stream/File: delete pending, links). */
export interface Node {
  ino: number;
  /** Current parent and name (updated by renames through SMB). */
  parent: number;
  name: string;
  /** Path from the share root, '\\'-separated, '' for the root. */
  path: string;
  isDir: boolean;
  deletePending: boolean;
  opens: Set<Open>;
}

/** A directory enumeration cursor (3.3.1.10 Open.EnumerationLocation, Open.EnumerationSearchPattern). */
export interface DirCursor {
  pattern: string;
  /** 0: '.' next, 1: '..' next, 2: VFS entries. */
  dots: number;
  /** readdir cookie of the last entry taken from the VFS. */
  cookie: number;
  /** Entries read but not sent yet. */
  pending: DirEntryInfo[];
  /** The VFS has no more entries after `cookie`. */
  exhausted: boolean;
  /** Anything was returned since the scan (re)started. */
  returned: boolean;
}

/** One open (3.3.1.10). */
export interface Open {
  /** FileId.Volatile: this connection's number for the open (a durable reconnect gives a new one). */
  id: bigint;
  /** FileId.Persistent (durable.ts: process-wide unique); undefined: the same as `id`. */
  persistent?: bigint;
  sessionId: bigint;
  treeId: number;
  node: Node;
  /** VFS handle for files opened for data access; undefined for directories and attribute-only opens. */
  fh: Fh | undefined;
  fhWritable: boolean;
  /** Granted access (generic bits mapped). */
  access: number;
  shareAccess: number;
  /** CreateOptions FILE_DELETE_ON_CLOSE. */
  deleteOnClose: boolean;
  ctx: Ctx;
  position: bigint;
  mode: number;
  dir: DirCursor | undefined;
  /** The share this open belongs to. */
  share: SmbShare;
  /** For an open of a named stream: the xattr that holds it (streams.ts); `node` is the stream's. */
  stream?: string;
  /** A stream open's hold on its file (streams.ts pinFile), released at close. */
  streamPin?: Fh;
}

const registries = new WeakMap<Vfs, Map<number, Node>>();

/** The node registry of a VFS (all servers of the process using that VFS share it). */
export function nodesOf(vfs: Vfs): Map<number, Node> {
  let m = registries.get(vfs);
  if (!m) registries.set(vfs, (m = new Map()));
  return m;
}

/** Per-connection file state, hung off SmbConnection (`c.files`). */
export class OpenTable {
  readonly opens = new Map<bigint, Open>();
  private next = 1n;
  /** 3.3.5.2.7.2: the FileId of the last CREATE in the compound being processed. */
  compoundFileId: FileId | undefined;

  allocId(): bigint {
    while (this.opens.has(this.next)) this.next++;
    return this.next++;
  }
}

/** Most opens per connection (past it: STATUS_TOO_MANY_OPENED_FILES). */
export const MAX_OPENS = 16384;

/** The VFS context of a session's user on this connection. */
export function ctxOf(c: SmbConnection, s: SmbSession): Ctx {
  return ctxFor(s.principal!, `smb:${c.opts.peer}`);
}

/**
 * The open named by `fileId` for request `q`: a related compound request's all-ones FileId
 * means the previous CREATE's (3.3.5.2.7.2); in an unrelated request it names nothing.
 * Unknown, another session's or another tree's → STATUS_FILE_CLOSED.
 */
export function openOf(c: SmbConnection, q: Request, fileId: FileId): Open {
  let id = fileId;
  if (id.volatile === ALL_ONES_FILE_ID.volatile && id.persistent === ALL_ONES_FILE_ID.persistent) {
    if (!c.files.compoundFileId || !(q.header.flags & HDR_FLAGS.RELATED_OPERATIONS)) throw new SmbStatusError(STATUS.FILE_CLOSED);
    id = c.files.compoundFileId;
  }
  const o = c.files.opens.get(id.volatile);
  if (!o || o.sessionId !== q.session!.id || o.treeId !== q.tree!.treeId || id.persistent !== (o.persistent ?? o.id)) throw new SmbStatusError(STATUS.FILE_CLOSED);
  return o;
}

/** The FileId of an open. */
export function fileIdOf(o: Open): FileId {
  return { persistent: o.persistent ?? o.id, volatile: o.id };
}

// ---------------------------------------------------------------------------------------------
// Names

/** Characters that cannot appear in a Windows file name (MS-FSCC 2.1.5.2 plus the wildcards; '/' separates, below). */
const BAD_CHARS = /[\x00-\x1f"*:<>?|]/;

/**
 * Splits a CREATE name (MS-SMB2 2.2.13: relative to the share root, '\\'-separated) into
 * components ('/' separates too, as Samba takes it: no POSIX name can hold one), dropping '.' and
 * resolving '..' lexically. A leading '\\' → STATUS_INVALID_PARAMETER
 * (3.3.5.9); '..' above the root → STATUS_OBJECT_PATH_SYNTAX_BAD; an empty inner component or a
 * bad character → STATUS_OBJECT_NAME_INVALID. A trailing "::$DATA" (the default stream) is
 * dropped; other stream names → STATUS_OBJECT_NAME_INVALID (streams are not served yet).
 */
export function splitPath(name: string, opts: { leadingSlash?: boolean } = {}): string[] {
  let n = name;
  if (n.startsWith('\\')) {
    if (!opts.leadingSlash) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
    n = n.replace(/^\\+/, '');
  }
  if (n.endsWith('::$DATA')) n = n.slice(0, -7);
  if (n.endsWith('\\')) n = n.slice(0, -1);
  if (n === '') return [];
  const out: string[] = [];
  for (const p of n.split(/[\\/]/)) {
    if (p === '' ) throw new SmbStatusError(STATUS.OBJECT_NAME_INVALID);
    if (p === '.') continue;
    if (p === '..') {
      if (!out.length) throw new SmbStatusError(STATUS.OBJECT_PATH_SYNTAX_BAD);
      out.pop();
      continue;
    }
    if (BAD_CHARS.test(p)) throw new SmbStatusError(STATUS.OBJECT_NAME_INVALID);
    if (Buffer.byteLength(p) > 255) throw new SmbStatusError(STATUS.NAME_TOO_LONG);
    out.push(p);
  }
  return out;
}

/** The result of walking a path: the parent directory and the last component. */
export interface Walked {
  /** Parent directory inode (the share root for a one-component path; for the root itself, the root). */
  parent: number;
  /** Path of the parent from the share root, '\\'-separated ('' for the root). */
  parentPath: string;
  /** The last component as the client wrote it ('' for the share root). */
  want: string;
  /** The existing entry (its real name), or undefined when there is none. */
  found: { attr: Attr; name: string } | undefined;
}

/**
 * Walks `parts` from `root` case-insensitively. A missing or non-directory intermediate
 * component → STATUS_OBJECT_PATH_NOT_FOUND (MS-FSA 2.1.5.1); the last may be missing.
 */
export async function walk(vfs: Vfs, ctx: Ctx, root: number, parts: readonly string[]): Promise<Walked> {
  if (!parts.length) return { parent: root, parentPath: '', want: '', found: { attr: await vfs.getattr(ctx, root), name: '' } };
  let dir = root;
  const real: string[] = [];
  for (const p of parts.slice(0, -1)) {
    let r;
    try {
      r = await vfs.lookupCaseless(ctx, dir, p);
    } catch (err) {
      if (err instanceof VfsError && (err.errno === Errno.ENOENT || err.errno === Errno.ENOTDIR)) throw new SmbStatusError(STATUS.OBJECT_PATH_NOT_FOUND);
      throw err;
    }
    if (r.attr.type !== 'dir') throw new SmbStatusError(STATUS.OBJECT_PATH_NOT_FOUND);
    dir = r.attr.ino;
    real.push(r.name);
  }
  const want = parts[parts.length - 1]!;
  let found: Walked['found'];
  try {
    const r = await vfs.lookupCaseless(ctx, dir, want);
    found = { attr: r.attr, name: r.name };
  } catch (err) {
    if (!(err instanceof VfsError && err.errno === Errno.ENOENT)) throw err;
  }
  return { parent: dir, parentPath: real.join('\\'), want, found };
}

// ---------------------------------------------------------------------------------------------
// Access

/** Maps GENERIC_* bits to the file-specific rights (MS-SMB2 2.2.13.1.1, MS-DTYP 2.4.3). */
export function mapGeneric(mask: number): number {
  let m = mask & ~(ACCESS.GENERIC_ALL | ACCESS.GENERIC_EXECUTE | ACCESS.GENERIC_WRITE | ACCESS.GENERIC_READ);
  if (mask & ACCESS.GENERIC_ALL) m |= FILE_ALL_ACCESS;
  if (mask & ACCESS.GENERIC_READ) m |= FILE_GENERIC_READ;
  if (mask & ACCESS.GENERIC_WRITE) m |= FILE_GENERIC_WRITE;
  if (mask & ACCESS.GENERIC_EXECUTE) m |= FILE_GENERIC_EXECUTE;
  return m >>> 0;
}

/** Rights that change data or the namespace: refused on read-only shares. */
export const WRITE_RIGHTS = ACCESS.FILE_WRITE_DATA | ACCESS.FILE_APPEND_DATA | ACCESS.FILE_WRITE_EA | ACCESS.FILE_WRITE_ATTRIBUTES
  | ACCESS.FILE_DELETE_CHILD | ACCESS.DELETE | ACCESS.WRITE_DAC | ACCESS.WRITE_OWNER;

const READ_BITS = ACCESS.FILE_READ_DATA;
const WRITE_BITS = ACCESS.FILE_WRITE_DATA | ACCESS.FILE_APPEND_DATA | ACCESS.FILE_WRITE_EA;
const EXEC_BITS = ACCESS.FILE_EXECUTE;

/** Whether the mode bits let ctx read (4), write (2), execute/search (1) `ino`: access(2) as a boolean (EACCES, EROFS, EPERM → false; other errors thrown). */
export async function allowed(vfs: Vfs, ctx: Ctx, ino: number, mask: number): Promise<boolean> {
  try {
    await vfs.access(ctx, ino, mask);
    return true;
  } catch (err) {
    if (err instanceof VfsError && (err.errno === Errno.EACCES || err.errno === Errno.EROFS || err.errno === Errno.EPERM)) return false;
    throw err;
  }
}

/**
 * The maximal access of `ctx` to `attr` (MxAc, MAXIMUM_ALLOWED; 3.3.5.9): the POSIX r/w/x bits
 * as FILE_GENERIC_READ/WRITE/EXECUTE (EXECUTE on a file also from r, see checkAccess), DELETE when the parent is writable, the owner's
 * WRITE_DAC/WRITE_OWNER/FILE_WRITE_ATTRIBUTES, cut to the tree's maximal access.
 */
export async function maximalAccess(vfs: Vfs, ctx: Ctx, attr: Attr, parent: number, tree: TreeConnect): Promise<number> {
  let m = ACCESS.READ_CONTROL | ACCESS.SYNCHRONIZE | ACCESS.FILE_READ_ATTRIBUTES | ACCESS.FILE_READ_EA;
  if (await allowed(vfs, ctx, attr.ino, 4)) m |= FILE_GENERIC_READ;
  if (await allowed(vfs, ctx, attr.ino, 2)) m |= FILE_GENERIC_WRITE | (attr.type === 'dir' ? ACCESS.FILE_DELETE_CHILD : 0);
  if (await allowed(vfs, ctx, attr.ino, 1) || (attr.type !== 'dir' && m & ACCESS.FILE_READ_DATA)) m |= FILE_GENERIC_EXECUTE;
  if (parent !== attr.ino && await allowed(vfs, ctx, parent, 3)) m |= ACCESS.DELETE;
  if (ctx.uid === 0 || ctx.uid === attr.uid) m |= ACCESS.WRITE_DAC | ACCESS.WRITE_OWNER | ACCESS.FILE_WRITE_ATTRIBUTES;
  return (m & tree.maximalAccess) >>> 0;
}

/**
 * Checks a desired access (generic bits mapped, MAXIMUM_ALLOWED resolved by the caller) against
 * the VFS: read → r, write/append/EA → w, execute → x on the object; DELETE → w+x on the parent.
 * FILE_EXECUTE on a file is also granted by r: over SMB it only lets the client read the data to
 * run it (MS-SMB2 3.3.5.12 accepts it for READ), and a file made through SMB is 0644, so Windows
 * clients asking GENERIC_ALL or FILE_EXECUTE on their own files must not be refused (Samba gets the
 * same result from its 0744 create mask). On a directory it is FILE_TRAVERSE: x.
 * Refused → STATUS_ACCESS_DENIED. Attribute and control rights are not checked here (the VFS
 * refuses the change itself when it comes).
 */
export async function checkAccess(vfs: Vfs, ctx: Ctx, attr: Attr, parent: number, access: number): Promise<void> {
  let mask = 0;
  if (access & READ_BITS) mask |= 4;
  if (access & WRITE_BITS) mask |= 2;
  const exec = (access & EXEC_BITS) !== 0;
  if (exec && attr.type === 'dir') mask |= 1;
  if (mask && !(await allowed(vfs, ctx, attr.ino, mask))) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  if (exec && attr.type !== 'dir' && !(mask & 4 || await allowed(vfs, ctx, attr.ino, 4) || await allowed(vfs, ctx, attr.ino, 1))) {
    throw new SmbStatusError(STATUS.ACCESS_DENIED);
  }
  if (access & ACCESS.DELETE && parent !== attr.ino && !(await allowed(vfs, ctx, parent, 3))) throw new SmbStatusError(STATUS.ACCESS_DENIED);
}

const DATA_ACCESS = ACCESS.FILE_READ_DATA | ACCESS.FILE_WRITE_DATA | ACCESS.FILE_APPEND_DATA | ACCESS.FILE_EXECUTE | ACCESS.DELETE;

/**
 * The share-mode check (MS-FSA 2.1.5.1.2, MS-SMB2 3.3.5.9): an open asking data or delete access
 * conflicts with an existing open that does not share what it asks, or that uses what the new
 * open does not share. Attribute-only opens never conflict. Conflict → STATUS_SHARING_VIOLATION.
 */
export function checkShareMode(node: Node | undefined, access: number, share: number): void {
  if (!node || !(access & DATA_ACCESS)) return;
  const uses = (a: number) => ({
    read: (a & (ACCESS.FILE_READ_DATA | ACCESS.FILE_EXECUTE)) !== 0,
    write: (a & (ACCESS.FILE_WRITE_DATA | ACCESS.FILE_APPEND_DATA)) !== 0,
    del: (a & ACCESS.DELETE) !== 0,
  });
  const n = uses(access);
  for (const o of node.opens) {
    if (!(o.access & DATA_ACCESS)) continue;
    const e = uses(o.access);
    if ((e.read && !(share & SHARE_ACCESS.READ)) || (e.write && !(share & SHARE_ACCESS.WRITE)) || (e.del && !(share & SHARE_ACCESS.DELETE))
      || (n.read && !(o.shareAccess & SHARE_ACCESS.READ)) || (n.write && !(o.shareAccess & SHARE_ACCESS.WRITE)) || (n.del && !(o.shareAccess & SHARE_ACCESS.DELETE))) {
      throw new SmbStatusError(STATUS.SHARING_VIOLATION);
    }
  }
}

/** The node of `ino` (creating it with the given place), registered in the VFS's registry. */
export function nodeFor(vfs: Vfs, ino: number, place: { parent: number; name: string; path: string; isDir: boolean }): Node {
  const nodes = nodesOf(vfs);
  let n = nodes.get(ino);
  if (!n) nodes.set(ino, (n = { ino, ...place, deletePending: false, opens: new Set() }));
  return n;
}

/**
 * Closes an open (3.3.5.10): releases the VFS handle and, at the last close of a node marked
 * delete-pending, removes the name (unlink, or rmdir for a directory; a directory that is no
 * longer empty stays, as Windows does). Returns the attributes after the close when asked.
 */
export async function closeOpen(c: SmbConnection, o: Open, wantAttr: boolean): Promise<Attr | undefined> {
  if (c.files.opens.get(o.id) === o) c.files.opens.delete(o.id); // a kept durable open's id may be reused by then
  endWatch(o); // a waiting CHANGE_NOTIFY answers STATUS_NOTIFY_CLEANUP
  releaseOplock(o);
  forgetDurable(o);
  const vfs = c.fileService!.vfs;
  await dropOpenLocks(vfs, o); // byte-range locks and waiting LOCKs go with the open (lock.ts)
  const n = o.node;
  n.opens.delete(o);
  if (o.deleteOnClose) n.deletePending = true;
  // A folder left delete-pending by this close while others hold it open: their waiting
  // CHANGE_NOTIFYs answer STATUS_DELETE_PENDING now (MS-FSA), not when the last one closes.
  if (n.deletePending && n.isDir && o.stream === undefined) for (const other of n.opens) endWatch(other, STATUS.DELETE_PENDING);
  const removeFile = async (file: Node): Promise<void> => {
    nodesOf(vfs).delete(file.ino);
    try {
      if (file.isDir) await vfs.rmdir(o.ctx, file.parent, file.name);
      else await vfs.unlink(o.ctx, file.parent, file.name);
    } catch (e) {
      c.log?.info({ peer: c.opts.peer, name: file.path, err: (e as Error).message }, 'smb: delete on close failed');
    }
  };
  if (o.stream !== undefined) {
    const gone = await closeStream(vfs, o as Open & { stream: string }, removeFile);
    return wantAttr && !gone ? vfs.getattr(o.ctx, n.ino).catch(() => undefined) : undefined;
  }
  let err: unknown;
  await writeTimeAtClose(vfs, o).catch((e: unknown) => { c.log?.info({ peer: c.opts.peer, name: n.path, err: (e as Error).message }, 'smb: LastWriteTime at close failed'); }); // delayed/sticky (writetime.ts)
  if (o.fh !== undefined) await vfs.release(o.ctx, o.fh).catch((e: unknown) => { err = e; });
  let attr: Attr | undefined;
  if (n.opens.size === 0) {
    if (n.deletePending) {
      // Open streams of the file keep it (and its delete-pending name) until the last one closes.
      if (!streamOpensOf(vfs, n.ino).length) await removeFile(n);
      return undefined;
    }
    nodesOf(vfs).delete(n.ino);
  }
  if (err) throw err;
  if (wantAttr) attr = await vfs.getattr(o.ctx, n.ino).catch(() => undefined);
  return attr;
}

/** Closes every open of a session (LOGOFF) or of a tree (TREE_DISCONNECT), or all of them (connection gone). */
export async function closeAll(c: SmbConnection, pred: (o: Open) => boolean): Promise<void> {
  for (const o of [...c.files.opens.values()]) {
    if (pred(o)) await closeOpen(c, o, false).catch(() => undefined);
  }
}
