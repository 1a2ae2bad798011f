/**
 * Named data streams ("file:name" and "file:name:$DATA", MS-FSCC 2.1.5.3; MS-SMB2 3.3.5.9 with
 * MS-FSA 2.1.5.1) kept as one xattr per stream, `user.DosStream.<name>:$DATA` — the layout of
 * Samba's streams_xattr, so a stream is one VFS value of at most 64 KiB (the VFS's xattr limit;
 * a write past it → STATUS_DISK_FULL). Streams live on files and folders; they go with their
 * inode.
 *
 * A stream open shares the base file's inode number (FileId/QFid/IndexNumber are the base's, as
 * on Windows) but has its own Node (share modes and delete-on-close per stream), registered
 * apart from the base nodes. Reads and writes go to the xattr value; EndOfFile sets its length;
 * delete-on-close or a delete disposition removes the xattr at the last close. The base's
 * FileStreamInformation lists "::$DATA" (files) and every named stream. Not served: renaming a
 * stream (NOT_SUPPORTED), oplocks on streams.
 */
import type { Attr, Vfs } from '../../vfs/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import { STATUS, SmbStatusError } from './errors.js';
import {
  checkAccess, checkShareMode, ctxOf, fileIdOf, mapGeneric, MAX_OPENS, maximalAccess, splitPath, walk, type Node, type Open,
} from './files.js';
import { NEW_FILE_MODE } from './create.js';
import type { Request, Response, SmbConnection } from './session.js';
import { fileInfoOf, type StreamEntry } from './wire/fscc.js';
import { ACCESS } from './wire/security.js';
import { CREATE_ACTION, CREATE_OPTION, DISPOSITION, writeCreateResponse, type CreateContext, type CreateRequest } from './wire/files.js';

const PREFIX = 'user.DosStream.';
const SUFFIX = ':$DATA';
/** Longest stream name: the xattr name (≤ 255 bytes) less prefix and suffix. */
const MAX_NAME_BYTES = 255 - PREFIX.length - SUFFIX.length;
/** Characters a stream name may not hold (MS-FSCC 2.1.5.3: no '\\', '/', ':' or NUL). */
const BAD = /[\x00\\/:]/;

/** A CREATE name split into the file's path and the stream (undefined: the file's own data). */
export interface StreamName {
  path: string;
  stream: string | undefined;
}

/**
 * Splits "dir\\file:stream[:$DATA]": a ':' only in the last component; "file::$DATA" is the
 * default stream; another type than $DATA, an empty or bad stream name → OBJECT_NAME_INVALID.
 */
export function splitStreamName(name: string): StreamName {
  const slash = Math.max(name.lastIndexOf('\\'), name.lastIndexOf('/')); // '/' separates too (files.ts splitPath)
  const last = name.slice(slash + 1);
  const colon = last.indexOf(':');
  if (colon < 0) return { path: name, stream: undefined };
  const path = name.slice(0, slash + 1) + last.slice(0, colon);
  const rest = last.slice(colon + 1);
  const c2 = rest.indexOf(':');
  const stream = c2 < 0 ? rest : rest.slice(0, c2);
  if (c2 >= 0 && rest.slice(c2 + 1).toUpperCase() !== '$DATA') throw new SmbStatusError(STATUS.OBJECT_NAME_INVALID);
  if (stream === '') {
    if (c2 < 0) throw new SmbStatusError(STATUS.OBJECT_NAME_INVALID); // "file:"
    return { path, stream: undefined }; // "file::$DATA"
  }
  if (BAD.test(stream) || Buffer.byteLength(stream) > MAX_NAME_BYTES || /[*?<>"|]/.test(stream)) throw new SmbStatusError(STATUS.OBJECT_NAME_INVALID);
  return { path, stream };
}

const xattrOf = (stream: string) => PREFIX + stream + SUFFIX;

/** The stream names of an inode (as created). */
export async function streamNames(vfs: Vfs, o: { ctx: Open['ctx'] }, ino: number): Promise<string[]> {
  const out: string[] = [];
  for (const x of await vfs.listxattr(o.ctx, ino)) if (x.startsWith(PREFIX) && x.endsWith(SUFFIX)) out.push(x.slice(PREFIX.length, -SUFFIX.length));
  return out;
}

/** FileStreamInformation entries of an inode: "::$DATA" for a file, then each named stream. */
export async function streamEntries(vfs: Vfs, o: { ctx: Open['ctx'] }, attr: Attr): Promise<StreamEntry[]> {
  const out: StreamEntry[] = [];
  if (attr.type !== 'dir') {
    const i = fileInfoOf(attr);
    out.push({ name: '::$DATA', size: i.endOfFile, allocationSize: i.allocationSize });
  }
  for (const s of await streamNames(vfs, o, attr.ino)) {
    const v = await vfs.getxattr(o.ctx, attr.ino, xattrOf(s)).catch(() => undefined);
    if (v) out.push({ name: `:${s}:$DATA`, size: BigInt(v.length), allocationSize: BigInt((v.length + 4095) & ~4095) });
  }
  return out;
}

const streamNodes = new WeakMap<Vfs, Map<string, Node>>();
function registry(vfs: Vfs): Map<string, Node> {
  let m = streamNodes.get(vfs);
  if (!m) streamNodes.set(vfs, (m = new Map()));
  return m;
}
const keyOf = (ino: number, stream: string) => `${ino}:${stream.toUpperCase()}`;

async function value(vfs: Vfs, o: Open): Promise<Buffer> {
  try {
    return await vfs.getxattr(o.ctx, o.node.ino, xattrOf(o.node.stream!));
  } catch (err) {
    if (err instanceof VfsError && err.errno === Errno.ENODATA) return Buffer.alloc(0); // removed behind our back
    throw err;
  }
}

async function store(vfs: Vfs, o: Open, v: Buffer): Promise<void> {
  try {
    await vfs.setxattr(o.ctx, o.node.ino, xattrOf(o.node.stream!), v);
  } catch (err) {
    if (err instanceof VfsError && err.errno === Errno.ERANGE) throw new SmbStatusError(STATUS.DISK_FULL);
    throw err;
  }
}

/** The attributes to answer for a stream open: the base's, as a file of the stream's length. */
export async function streamAttr(vfs: Vfs, o: Open): Promise<Attr> {
  const base = await vfs.getattr(o.ctx, o.node.ino);
  const size = (await value(vfs, o)).length;
  return { ...base, type: 'file', size, blocks: Math.ceil(size / 512) };
}

/** READ on a stream open. */
export async function streamRead(vfs: Vfs, o: Open, offset: number, length: number): Promise<Buffer> {
  const v = await value(vfs, o);
  return v.subarray(Math.min(offset, v.length), Math.min(v.length, offset + length));
}

/** WRITE on a stream open (offset -1: at the end). Returns the bytes written. */
export async function streamWrite(vfs: Vfs, o: Open, offset: number, data: Buffer): Promise<number> {
  const v = await value(vfs, o);
  const at = offset < 0 ? v.length : offset;
  const end = at + data.length;
  if (end > 0xffff + 1) throw new SmbStatusError(STATUS.DISK_FULL);
  const out = Buffer.alloc(Math.max(v.length, end));
  v.copy(out);
  Buffer.from(data).copy(out, at);
  await store(vfs, o, out);
  return data.length;
}

/** EndOfFile on a stream open. */
export async function streamTruncate(vfs: Vfs, o: Open, size: number): Promise<void> {
  if (size > 0xffff + 1) throw new SmbStatusError(STATUS.DISK_FULL);
  const v = await value(vfs, o);
  if (size === v.length) return;
  const out = Buffer.alloc(size);
  v.copy(out, 0, 0, Math.min(size, v.length));
  await store(vfs, o, out);
}

/** Closes a stream open; the last close of a delete-pending stream removes it. */
export async function closeStreamOpen(c: SmbConnection, o: Open): Promise<void> {
  const vfs = c.fileService!.vfs;
  const n = o.node;
  n.opens.delete(o);
  if (o.deleteOnClose) n.deletePending = true;
  if (n.opens.size) return;
  registry(vfs).delete(keyOf(n.ino, n.stream!));
  if (n.deletePending) {
    await vfs.removexattr(o.ctx, n.ino, xattrOf(n.stream!)).catch((e: unknown) => {
      c.log?.info({ peer: c.opts.peer, name: n.path, err: (e as Error).message }, 'smb: delete of a stream failed');
    });
  }
}

/**
 * CREATE of a named stream (called by create.ts when the name has one). The base file must exist
 * (or is created as an empty file by a creating disposition; a missing folder on the way →
 * OBJECT_PATH_NOT_FOUND); FILE_DIRECTORY_FILE → NOT_A_DIRECTORY; dispositions as for files
 * (missing with OPEN/OVERWRITE → OBJECT_NAME_NOT_FOUND, CREATE on an existing stream →
 * OBJECT_NAME_COLLISION); access checked against the base (read data → r, write → w); share
 * modes among the opens of the same stream.
 */
export async function createStream(c: SmbConnection, q: Request, req: CreateRequest, sn: StreamName & { stream: string }): Promise<Response> {
  const svc = c.fileService!;
  const tree = q.tree!;
  const share = tree.share!;
  const vfs = svc.vfs;
  const ctx = ctxOf(c, q.session!);
  const opt = req.options;
  if (opt & CREATE_OPTION.DIRECTORY_FILE) throw new SmbStatusError(STATUS.NOT_A_DIRECTORY);
  if (c.files.opens.size >= MAX_OPENS) throw new SmbStatusError(STATUS.TOO_MANY_OPENED_FILES);
  const parts = splitPath(sn.path);
  if (!parts.length) throw new SmbStatusError(STATUS.OBJECT_NAME_INVALID); // the share root has no streams here
  const w = await walk(vfs, ctx, await svc.shareRoot(share), parts);
  const creates = req.disposition === DISPOSITION.CREATE || req.disposition === DISPOSITION.OPEN_IF || req.disposition === DISPOSITION.OVERWRITE_IF || req.disposition === DISPOSITION.SUPERSEDE;
  let base = w.found;
  if (base && base.attr.type === 'symlink') throw new SmbStatusError(STATUS.ACCESS_DENIED);
  if (!base) {
    if (!creates) throw new SmbStatusError(STATUS.OBJECT_NAME_NOT_FOUND);
    if (share.readOnly) throw new SmbStatusError(STATUS.ACCESS_DENIED);
    const r = await vfs.create(ctx, w.parent, w.want, NEW_FILE_MODE, { read: false, write: false, exclusive: true });
    await vfs.release(ctx, r.fh);
    base = { attr: r.attr, name: w.want };
  }
  const ino = base.attr.ino;
  const existing = (await streamNames(vfs, { ctx }, ino)).find((s) => s.toUpperCase() === sn.stream.toUpperCase());
  const overwrite = req.disposition === DISPOSITION.OVERWRITE || req.disposition === DISPOSITION.OVERWRITE_IF || req.disposition === DISPOSITION.SUPERSEDE;
  let desired = mapGeneric(req.desiredAccess);
  if (desired & ACCESS.MAXIMUM_ALLOWED) desired = (desired & ~ACCESS.MAXIMUM_ALLOWED) | await maximalAccess(vfs, ctx, base.attr, w.parent, tree);
  const deleteOnClose = (opt & CREATE_OPTION.DELETE_ON_CLOSE) !== 0;
  if (deleteOnClose && !(desired & ACCESS.DELETE)) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  let action: number;
  if (existing) {
    if (req.disposition === DISPOSITION.CREATE) throw new SmbStatusError(STATUS.OBJECT_NAME_COLLISION);
    action = req.disposition === DISPOSITION.SUPERSEDE ? CREATE_ACTION.SUPERSEDED : overwrite ? CREATE_ACTION.OVERWRITTEN : CREATE_ACTION.OPENED;
    if (overwrite) desired |= ACCESS.FILE_WRITE_DATA;
  } else {
    if (!creates) throw new SmbStatusError(STATUS.OBJECT_NAME_NOT_FOUND);
    action = CREATE_ACTION.CREATED;
  }
  const writes = (desired & (ACCESS.FILE_WRITE_DATA | ACCESS.FILE_APPEND_DATA | ACCESS.DELETE)) !== 0 || action !== CREATE_ACTION.OPENED;
  if (share.readOnly && writes) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  await checkAccess(vfs, ctx, base.attr, w.parent, desired & ~ACCESS.DELETE); // deleting a stream writes the file, not its folder
  if (desired & ACCESS.DELETE || action !== CREATE_ACTION.OPENED) await checkAccess(vfs, ctx, base.attr, w.parent, ACCESS.FILE_WRITE_DATA);
  const name = existing ?? sn.stream;
  const reg = registry(vfs);
  const key = keyOf(ino, name);
  const known = reg.get(key);
  if (known?.deletePending) throw new SmbStatusError(STATUS.DELETE_PENDING);
  checkShareMode(known, desired, req.shareAccess);
  if (action !== CREATE_ACTION.OPENED) {
    try {
      await vfs.setxattr(ctx, ino, xattrOf(name), Buffer.alloc(0));
    } catch (err) {
      if (err instanceof VfsError && err.errno === Errno.ERANGE) throw new SmbStatusError(STATUS.OBJECT_NAME_INVALID);
      throw err;
    }
  }
  const basePath = [w.parentPath, base.name].filter((s) => s !== '').join('\\');
  const node: Node = known ?? { ino, parent: w.parent, name: base.name, path: `${basePath}:${name}`, isDir: false, deletePending: false, opens: new Set(), stream: name };
  reg.set(key, node);
  const id = c.files.allocId();
  const o: Open = {
    id, sessionId: q.session!.id, treeId: tree.treeId, node, fh: undefined, fhWritable: false, access: desired, shareAccess: req.shareAccess,
    deleteOnClose, ctx, position: 0n, mode: 0, dir: undefined, share,
  };
  node.opens.add(o);
  c.files.opens.set(id, o);
  c.files.compoundFileId = fileIdOf(o);
  const attr = await streamAttr(vfs, o);
  const contexts: CreateContext[] = [];
  for (const cc of req.contexts) {
    if (cc.name === 'MxAc') {
      const mx = await maximalAccess(vfs, ctx, base.attr, w.parent, tree);
      contexts.push({ name: 'MxAc', data: Buffer.from([0, 0, 0, 0, mx & 0xff, (mx >>> 8) & 0xff, (mx >>> 16) & 0xff, mx >>> 24]) });
    } else if (cc.name === 'QFid') {
      const b = Buffer.alloc(32);
      b.writeBigUInt64LE(BigInt(ino), 0);
      contexts.push({ name: 'QFid', data: b });
    }
  }
  const i = fileInfoOf(attr);
  c.log?.debug({ peer: c.opts.peer, name: node.path, action, access: desired.toString(16) }, 'smb: create stream');
  return {
    status: STATUS.SUCCESS,
    body: (wr) => {
      writeCreateResponse(wr, {
        oplockLevel: 0, createAction: action, creationTime: i.creationTime, lastAccessTime: i.lastAccessTime, lastWriteTime: i.lastWriteTime,
        changeTime: i.changeTime, allocationSize: i.allocationSize, endOfFile: i.endOfFile, fileAttributes: i.attributes, fileId: fileIdOf(o), contexts,
      });
    },
  };
}
