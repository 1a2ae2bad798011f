/**
 * CREATE (MS-SMB2 3.3.5.9) and CLOSE (3.3.5.10) on disk shares.
 *
 * CREATE resolves the name from the share root case-insensitively (files.ts `walk`), applies
 * the disposition, checks the desired access against the VFS (MAXIMUM_ALLOWED → the maximal
 * access) and the share modes of the other opens, opens a VFS handle for data access and records
 * the open. Create contexts are parsed; MxAc (maximal access) and QFid (the on-disk id) are
 * answered, ExtA's EAs are set (ea.ts), DHnQ/DH2Q/DHnC/DH2C go to durable.ts, RqLs to lease.ts,
 * every other one is ignored. Oplocks and leases: oplock.ts/lease.ts break other opens'
 * caching before the share-mode check and grant the new open's.
 */
import { ROOT_CTX, type Attr, type Ctx, type Vfs } from '../../vfs/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import { STATUS, SmbStatusError } from './errors.js';
import {
  checkAccess, checkShareMode, closeOpen, ctxOf, fileIdOf, mapGeneric, MAX_OPENS, maximalAccess, nodeFor, nodesOf, openOf, splitPath, walk, WRITE_RIGHTS,
  type Node, type Open,
} from './files.js';
import type { Request, Response, SmbConnection } from './session.js';
import type { TreeConnect } from './state.js';
import { setCreateEas } from './ea-create.js';
import { smbAttr } from './writetime.js';
import { fileInfoOf } from './wire/fscc.js';
import { breakForOpen, grantCaching, MustWait } from './oplock.js';
import { checkLeaseKey, clientGuidOf, leaseRequest } from './lease.js';
import { durableRequest, grantDurable, newPersistentId, reconnectDurable, reconnectTarget } from './durable.js';
import { versionOf } from './previous.js';
import { checkStreamsShareDelete, splitStreamPath } from './streams.js';
import { createStream } from './create-stream.js';
import { ACCESS } from './wire/security.js';
import { checkStoredAccess, inheritOnCreate, storedAccess } from './ntacl.js';
import { cacheDos, checkCreateAttributes, checkExistingOpen, defaultDos, newDos, overwriteDos, readDos, writeDos } from './dosattr.js';
import {
  CLOSE_FLAG_POSTQUERY_ATTRIB, CREATE_ACTION, CREATE_OPTION, decodeCloseRequest, decodeCreateRequest, DISPOSITION, writeCloseResponse,
  writeCreateResponse, type CreateContext,
} from './wire/files.js';

/** Permission bits of new files and folders (0666/0777 less a umask of 022). */
export const NEW_FILE_MODE = 0o644;
export const NEW_DIR_MODE = 0o755;

const VALID_OPTIONS_MASK = 0x00ffffff;

function vfsErrno(err: unknown, errno: Errno): boolean {
  return err instanceof VfsError && err.errno === errno;
}

/**
 * CREATE. Errors: a leading '\\' or contradictory options → STATUS_INVALID_PARAMETER; a missing
 * folder on the way → OBJECT_PATH_NOT_FOUND; a missing last name with OPEN/OVERWRITE →
 * OBJECT_NAME_NOT_FOUND; CREATE on an existing name → OBJECT_NAME_COLLISION; FILE_DIRECTORY_FILE
 * on a file → NOT_A_DIRECTORY, FILE_NON_DIRECTORY_FILE on a folder → FILE_IS_A_DIRECTORY;
 * refused access, delete-on-close without DELETE, or any write on a read-only share →
 * ACCESS_DENIED; a share-mode conflict → SHARING_VIOLATION; a pending delete → DELETE_PENDING;
 * VFS errors through errors.ts.
 */
export async function handleCreate(c: SmbConnection, q: Request): Promise<Response> {
  try {
    return await createRetrying(c, q, undefined);
  } catch (err) {
    if (!(err instanceof MustWait)) throw err;
    // An oplock or lease break must be acknowledged first: answer STATUS_PENDING now and run
    // the CREATE again in the background, waiting this time (3.3.4.2; oplock.ts, async.ts).
    return { status: STATUS.SUCCESS, body: () => {}, goAsync: (signal) => createRetrying(c, q, { signal }) };
  }
}

async function createRetrying(c: SmbConnection, q: Request, wait: { signal: AbortSignal } | undefined): Promise<Response> {
  // A name that appeared between the lookup and the create (another connection's CREATE won the
  // race) is opened as existing when the disposition allows it (smb2.create.mkdir-dup).
  for (let attempt = 0; ; attempt++) {
    try {
      return await createOnce(c, q, attempt < 3, wait);
    } catch (err) {
      if (!(err instanceof LostRace)) throw err;
    }
  }
}

/** The name was created by someone else between the walk and the create. */
class LostRace extends Error {}

async function createOnce(c: SmbConnection, q: Request, mayRetry: boolean, wait: { signal: AbortSignal } | undefined): Promise<Response> {
  const svc = c.fileService;
  const tree = q.tree!;
  if (!svc || !tree.share) throw new SmbStatusError(STATUS.NOT_SUPPORTED);
  const req = decodeCreateRequest(q.message, true);
  // A durable reconnect (DHnC, DH2C) ignores every other field (3.3.5.9.7, 3.3.5.9.12).
  const reconnect = reconnectTarget(req.contexts);
  if (reconnect) return reconnectDurable(c, { ...q, contexts: req.contexts, name: req.name }, reconnect);
  if (req.disposition > DISPOSITION.OVERWRITE_IF) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  const opt = req.options;
  if ((opt & CREATE_OPTION.DIRECTORY_FILE) && (opt & CREATE_OPTION.NON_DIRECTORY_FILE)) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  if (opt & ~VALID_OPTIONS_MASK) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  if ((opt & CREATE_OPTION.DIRECTORY_FILE) && ![DISPOSITION.CREATE, DISPOSITION.OPEN, DISPOSITION.OPEN_IF].includes(req.disposition as 1)) {
    throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  }
  if (opt & CREATE_OPTION.OPEN_BY_FILE_ID) throw new SmbStatusError(STATUS.NOT_SUPPORTED);
  if (c.files.opens.size >= MAX_OPENS) throw new SmbStatusError(STATUS.TOO_MANY_OPENED_FILES);
  const lreq = leaseRequest(c, req.contexts); // RqLs (lease.ts)
  const vfs = svc.vfs;
  const ctx = ctxOf(c, q.session!);
  const share = tree.share;
  const version = await versionOf(vfs, ctx, share, req); // Previous Versions: read-only
  const readOnly = share.readOnly || version !== undefined;
  const root = version?.root ?? await svc.shareRoot(share);
  const sp = splitStreamPath(version?.name ?? req.name);
  const parts = splitPath(sp.path);
  if (sp.stream !== undefined) {
    return createStream(c, q, { req, tree, ctx, root, parts, stream: sp.stream, readOnly, desired: mapGeneric(req.desiredAccess), newFileMode: NEW_FILE_MODE, wait });
  }
  const w = await walk(vfs, ctx, root, parts);
  if (sp.defaultStream && (opt & CREATE_OPTION.DIRECTORY_FILE)) throw new SmbStatusError(STATUS.NOT_A_DIRECTORY);
  if (sp.defaultStream && w.found?.attr.type === 'dir') throw new SmbStatusError(STATUS.FILE_IS_A_DIRECTORY);
  let desired = mapGeneric(req.desiredAccess);
  const deleteOnClose = (opt & CREATE_OPTION.DELETE_ON_CLOSE) !== 0;
  if (deleteOnClose && !(desired & (ACCESS.DELETE | ACCESS.MAXIMUM_ALLOWED))) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  checkCreateAttributes(req.fileAttributes, (opt & CREATE_OPTION.DIRECTORY_FILE) !== 0, false);

  let attr: Attr;
  let action: number;
  let fh: number | undefined;
  let fhWritable = false;
  let dos: number;
  const wantDir = (opt & CREATE_OPTION.DIRECTORY_FILE) !== 0;
  let existing = w.found;
  if (existing && existing.attr.type === 'symlink') throw new SmbStatusError(STATUS.ACCESS_DENIED); // symlinks are not followed for clients (no reparse error contexts yet)
  if (existing) {
    const node = nodeForExisting(c, existing.attr.ino);
    if (node?.deletePending) throw new SmbStatusError(STATUS.DELETE_PENDING);
    const isDir = existing.attr.type === 'dir';
    if (req.disposition === DISPOSITION.CREATE) throw new SmbStatusError(STATUS.OBJECT_NAME_COLLISION);
    if (wantDir && !isDir) throw new SmbStatusError(STATUS.NOT_A_DIRECTORY);
    if ((opt & CREATE_OPTION.NON_DIRECTORY_FILE) && isDir) throw new SmbStatusError(STATUS.FILE_IS_A_DIRECTORY);
    const overwrite = req.disposition === DISPOSITION.OVERWRITE || req.disposition === DISPOSITION.OVERWRITE_IF || req.disposition === DISPOSITION.SUPERSEDE;
    if (overwrite && isDir) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
    const maximumAllowed = (desired & ACCESS.MAXIMUM_ALLOWED) !== 0;
    if (maximumAllowed) desired = (desired & ~ACCESS.MAXIMUM_ALLOWED) | await maximal(vfs, ctx, existing.attr, w.parent, tree);
    if (overwrite) desired |= ACCESS.FILE_WRITE_DATA;
    dos = await readDos(vfs, existing.attr);
    desired = checkExistingOpen({ dos, isDir, desired, maximumAllowed, overwrite, requested: req.fileAttributes, deleteOnClose });
    if (readOnly && desired & WRITE_RIGHTS) throw new SmbStatusError(STATUS.ACCESS_DENIED);
    if ((desired & ~tree.maximalAccess & ~ACCESS.ACCESS_SYSTEM_SECURITY) !== 0 && readOnly) throw new SmbStatusError(STATUS.ACCESS_DENIED);
    if (!(await checkStoredAccess(vfs, ctx, existing.attr, w.parent, desired))) await checkAccess(vfs, ctx, existing.attr, w.parent, desired); // a stored DACL decides (ntacl.ts)
    const shareConflict = (): boolean => {
      try {
        checkShareMode(nodeForExisting(c, existing!.attr.ino), desired, req.shareAccess);
        return false;
      } catch {
        return true;
      }
    };
    checkLeaseKey(c, lreq, node, existing.attr.ino);
    const mine = lreq ? { clientGuid: clientGuidOf(c), key: lreq.key } : undefined;
    await breakForOpen(c, node, desired, req.disposition, shareConflict, mine, wait, deleteOnClose); // oplocks and leases of other opens (oplock.ts, lease.ts)
    // The breaks closed the file's last open (a disconnected durable one, 3.3.4.6) and that
    // close may have deleted it (delete-on-close): then the CREATE starts over on the name
    // (smbtorture smb2.durable-open.delete_on_close1).
    if (node && mayRetry && !nodeForExisting(c, existing.attr.ino)
      && !(await vfs.lookupCaseless(ctx, w.parent, existing.name).then((r) => r.attr.ino === existing!.attr.ino, () => false))) throw new LostRace();
    checkShareMode(nodeForExisting(c, existing.attr.ino), desired, req.shareAccess);
    checkStreamsShareDelete(vfs, existing.attr.ino, desired | (deleteOnClose ? ACCESS.DELETE : 0));
    if (deleteOnClose && isDir) await ensureEmpty(c, existing.attr.ino);
    if (deleteOnClose && parts.length) await vfs.mayDelete(ctx, w.parent, existing.name); // retention, holds, sticky: refused now, not at close
    if (!isDir && (desired & (ACCESS.FILE_READ_DATA | ACCESS.FILE_WRITE_DATA | ACCESS.FILE_APPEND_DATA | ACCESS.FILE_EXECUTE) || overwrite)) {
      fhWritable = (desired & (ACCESS.FILE_WRITE_DATA | ACCESS.FILE_APPEND_DATA)) !== 0;
      fh = await vfs.open(ctx, existing.attr.ino, { read: (desired & (ACCESS.FILE_READ_DATA | ACCESS.FILE_EXECUTE)) !== 0, write: fhWritable, truncate: overwrite });
    }
    attr = overwrite ? await vfs.getattr(ctx, existing.attr.ino) : existing.attr;
    if (overwrite) {
      dos = overwriteDos(req.fileAttributes);
      await writeDos(vfs, attr, dos);
    }
    action = req.disposition === DISPOSITION.SUPERSEDE ? CREATE_ACTION.SUPERSEDED : overwrite ? CREATE_ACTION.OVERWRITTEN : CREATE_ACTION.OPENED;
  } else {
    if (!parts.length) throw new SmbStatusError(STATUS.OBJECT_NAME_INVALID);
    checkLeaseKey(c, lreq, undefined, undefined);
    if (req.disposition === DISPOSITION.OPEN || req.disposition === DISPOSITION.OVERWRITE) throw new SmbStatusError(STATUS.OBJECT_NAME_NOT_FOUND);
    if (readOnly) throw new SmbStatusError(STATUS.ACCESS_DENIED);
    checkCreateAttributes(req.fileAttributes, wantDir, deleteOnClose);
    const name = w.want;
    const collided = (err: unknown): never => {
      if (vfsErrno(err, Errno.EEXIST)) {
        if (mayRetry && req.disposition !== DISPOSITION.CREATE) throw new LostRace();
        throw new SmbStatusError(STATUS.OBJECT_NAME_COLLISION);
      }
      throw err;
    };
    if (wantDir) {
      attr = await vfs.mkdir(ctx, w.parent, name, NEW_DIR_MODE).catch(collided);
    } else {
      fhWritable = true;
      const r = await vfs.create(ctx, w.parent, name, NEW_FILE_MODE, { read: true, write: true, exclusive: true }).catch(collided);
      attr = r.attr;
      fh = r.fh;
    }
    attr = await inheritOnCreate(vfs, ctx, w.parent, attr); // the parent's inheritable stored ACEs (ntacl.ts)
    const bits = newDos(wantDir, req.fileAttributes);
    dos = bits ?? defaultDos(attr);
    if (bits !== undefined) await writeDos(vfs, attr, bits);
    existing = { attr, name };
    // The creator gets what it asked for (POSIX: creating grants the open, whatever the new mode says).
    if (desired & ACCESS.MAXIMUM_ALLOWED) desired = (desired & ~ACCESS.MAXIMUM_ALLOWED) | FILE_ALL_ACCESS_FOR(tree.maximalAccess);
    action = CREATE_ACTION.CREATED;
  }
  const realName = existing.name;
  const path = parts.length ? [w.parentPath, realName].filter((s) => s !== '').join('\\') : '';
  const node = nodeFor(vfs, attr.ino, { parent: w.parent, name: realName, path, isDir: attr.type === 'dir' });
  cacheDos(node, dos);
  const id = c.files.allocId();
  const o: Open = {
    id, persistent: newPersistentId(), sessionId: q.session!.id, treeId: tree.treeId, node, fh, fhWritable, access: desired, shareAccess: req.shareAccess,
    deleteOnClose, ctx, position: 0n, mode: 0, dir: undefined, share,
  };
  node.opens.add(o);
  c.files.opens.set(id, o);
  c.files.compoundFileId = fileIdOf(o);
  const ea = req.contexts.find((cc) => cc.name === 'ExtA');
  if (ea) await setCreateEas(c, o, ea.data, action);
  const contexts: CreateContext[] = [];
  const oplockLevel = grantCaching(c, o, req.oplockLevel, lreq, contexts);
  const dreq = durableRequest(req.contexts);
  if (dreq) {
    const dh = grantDurable(o, dreq);
    if (dh) contexts.push(dh);
  }
  for (const cc of req.contexts) {
    if (cc.name === 'MxAc') {
      const mx = await maximal(vfs, ctx, attr, w.parent, tree);
      contexts.push({ name: 'MxAc', data: Buffer.from([0, 0, 0, 0, mx & 0xff, (mx >>> 8) & 0xff, (mx >>> 16) & 0xff, mx >>> 24]) });
    } else if (cc.name === 'QFid') {
      const b = Buffer.alloc(32);
      b.writeBigUInt64LE(BigInt(attr.ino), 0);
      contexts.push({ name: 'QFid', data: b });
    }
  }
  const i = fileInfoOf(await smbAttr(vfs, attr), { dos });
  c.log?.debug({ peer: c.opts.peer, name: path, action, access: desired.toString(16) }, 'smb: create');
  return {
    status: STATUS.SUCCESS,
    body: (wr) => {
      writeCreateResponse(wr, {
        oplockLevel, createAction: action, creationTime: i.creationTime, lastAccessTime: i.lastAccessTime, lastWriteTime: i.lastWriteTime,
        changeTime: i.changeTime, allocationSize: i.allocationSize, endOfFile: i.endOfFile, fileAttributes: i.attributes, fileId: fileIdOf(o), contexts,
      });
    },
  };
}

/** What a creator may do with the file it made: everything the tree allows. */
function FILE_ALL_ACCESS_FOR(treeMax: number): number {
  return (0x001f01ff & treeMax) >>> 0;
}

/** The maximal access: from the stored DACL when the file has one (ntacl.ts), else from the mode. */
async function maximal(vfs: Vfs, ctx: Ctx, attr: Attr, parent: number, tree: TreeConnect): Promise<number> {
  const stored = await storedAccess(vfs, ctx, attr, parent);
  return stored === undefined ? maximalAccess(vfs, ctx, attr, parent, tree) : (stored & tree.maximalAccess) >>> 0;
}

function nodeForExisting(c: SmbConnection, ino: number): Node | undefined {
  return nodesOf(c.fileService!.vfs).get(ino);
}

/** A folder about to be deleted must be empty: STATUS_DIRECTORY_NOT_EMPTY otherwise (MS-FSA 2.1.5.14.3). */
export async function ensureEmpty(c: SmbConnection, ino: number): Promise<void> {
  const e = await c.fileService!.vfs.readdir(ROOT_CTX, ino, 0, 1);
  if (e.length) throw new SmbStatusError(STATUS.DIRECTORY_NOT_EMPTY);
}

/**
 * CLOSE (3.3.5.10): the open goes; with SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB the response carries
 * the attributes after the close (zeros when the close deleted the file). Unknown FileId →
 * STATUS_FILE_CLOSED.
 */
export async function handleClose(c: SmbConnection, q: Request): Promise<Response> {
  const req = decodeCloseRequest(q.message);
  const o = openOf(c, q, req.fileId);
  const want = (req.flags & CLOSE_FLAG_POSTQUERY_ATTRIB) !== 0;
  const attr = await closeOpen(c, o, want);
  const i = attr ? fileInfoOf(await smbAttr(c.fileService!.vfs, attr), { dos: await readDos(c.fileService!.vfs, attr) }) : undefined;
  return {
    status: STATUS.SUCCESS,
    body: (w) => {
      writeCloseResponse(w, i && want ? {
        creationTime: i.creationTime, lastAccessTime: i.lastAccessTime, lastWriteTime: i.lastWriteTime, changeTime: i.changeTime,
        allocationSize: i.allocationSize, endOfFile: i.endOfFile, fileAttributes: i.attributes,
      } : undefined);
    },
  };
}
