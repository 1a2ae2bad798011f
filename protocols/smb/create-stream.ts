/**
 * CREATE of a named stream ("file:name[:$DATA]", MS-SMB2 3.3.5.9, MS-FSA 2.1.5.1): the file is
 * found as any CREATE finds it (and made, empty, when the disposition creates and it is missing);
 * the stream then follows the disposition on its own — CREATE on an existing stream →
 * OBJECT_NAME_COLLISION, OPEN/OVERWRITE of a missing one → OBJECT_NAME_NOT_FOUND, OVERWRITE(_IF)
 * and SUPERSEDE empty it. Access is checked on the file; share modes per stream. A stream open
 * with FILE_DIRECTORY_FILE → NOT_A_DIRECTORY. Folders carry streams too (NTFS does; smbtorture
 * smb2.fileid-dir). MxAc and QFid are answered as for the file (QFid: the file's id). Storage and
 * the rest: streams.ts.
 */
import { Errno, VfsError } from '../../vfs/errno.js';
import { STATUS, SmbStatusError } from './errors.js';
import { checkAccess, checkShareMode, fileIdOf, maximalAccess, nodesOf, walk, WRITE_RIGHTS, type Open } from './files.js';
import type { Request, Response, SmbConnection } from './session.js';
import type { TreeConnect } from './state.js';
import { existingStreamNode, findStream, pinFile, setStreamData, STREAM_XATTR_PREFIX, streamData, streamNode } from './streams.js';
import { smbAttr } from './writetime.js';
import { readDos } from './dosattr.js';
import { fileInfoOf } from './wire/fscc.js';
import { CREATE_ACTION, CREATE_OPTION, DISPOSITION, writeCreateResponse, type CreateContext, type CreateRequest } from './wire/files.js';
import { ACCESS } from './wire/security.js';
import { breakForOpen, grantCaching } from './oplock.js';
import { clientGuidOf, leaseRequest } from './lease.js';
import type { Ctx } from '../../vfs/types.js';

/** What handleCreate has worked out before it sees the stream part. */
export interface StreamCreate {
  req: CreateRequest;
  tree: TreeConnect;
  ctx: Ctx;
  root: number;
  parts: string[];
  stream: string;
  readOnly: boolean;
  desired: number;
  newFileMode: number;
  /** The CREATE's second pass after going async for a break acknowledgment (oplock.ts `breakForOpen`). */
  wait?: { signal: AbortSignal } | undefined;
}

export async function createStream(c: SmbConnection, q: Request, s: StreamCreate): Promise<Response> {
  const vfs = c.fileService!.vfs;
  const { req, tree, ctx } = s;
  if (req.options & CREATE_OPTION.DIRECTORY_FILE) throw new SmbStatusError(STATUS.NOT_A_DIRECTORY);
  if (!s.parts.length) throw new SmbStatusError(STATUS.OBJECT_NAME_INVALID);
  const creates = req.disposition !== DISPOSITION.OPEN && req.disposition !== DISPOSITION.OVERWRITE;
  const w = await walk(vfs, ctx, s.root, s.parts);
  let file = w.found;
  let madeFile = false;
  if (!file) {
    if (!creates) throw new SmbStatusError(STATUS.OBJECT_NAME_NOT_FOUND);
    if (s.readOnly) throw new SmbStatusError(STATUS.ACCESS_DENIED);
    const r = await vfs.create(ctx, w.parent, w.want, s.newFileMode, { read: true, write: true, exclusive: true }).catch((err: unknown) => {
      if (err instanceof VfsError && err.errno === Errno.EEXIST) throw new SmbStatusError(STATUS.OBJECT_NAME_COLLISION);
      throw err;
    });
    await vfs.release(ctx, r.fh);
    file = { attr: r.attr, name: w.want };
    madeFile = true;
  }
  if (file.attr.type !== 'file' && file.attr.type !== 'dir') throw new SmbStatusError(STATUS.ACCESS_DENIED);
  if (nodesOf(vfs).get(file.attr.ino)?.deletePending) throw new SmbStatusError(STATUS.DELETE_PENDING);
  const ino = file.attr.ino;
  let xattr = await findStream(vfs, ctx, ino, s.stream);
  const overwrite = req.disposition === DISPOSITION.OVERWRITE || req.disposition === DISPOSITION.OVERWRITE_IF || req.disposition === DISPOSITION.SUPERSEDE;
  let desired = s.desired;
  if (desired & ACCESS.MAXIMUM_ALLOWED) desired = (desired & ~ACCESS.MAXIMUM_ALLOWED) | await maximalAccess(vfs, ctx, file.attr, w.parent, tree);
  if (s.readOnly && (desired & WRITE_RIGHTS || !xattr || overwrite)) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  if (!madeFile) await checkAccess(vfs, ctx, file.attr, w.parent, desired);
  let action: number;
  if (xattr) {
    if (req.disposition === DISPOSITION.CREATE) throw new SmbStatusError(STATUS.OBJECT_NAME_COLLISION);
    const node = existingStreamNode(vfs, ino, xattr);
    if (node?.deletePending) throw new SmbStatusError(STATUS.DELETE_PENDING);
    // Oplocks and leases are per stream, as share modes (smb2.oplock.stream1).
    const lreq = leaseRequest(c, req.contexts);
    const conflict = (): boolean => {
      try {
        checkShareMode(existingStreamNode(vfs, ino, xattr!), desired, req.shareAccess);
        return false;
      } catch {
        return true;
      }
    };
    await breakForOpen(c, node, desired, req.disposition, conflict, lreq ? { clientGuid: clientGuidOf(c), key: lreq.key } : undefined, s.wait);
    checkShareMode(existingStreamNode(vfs, ino, xattr), desired, req.shareAccess);
    if (overwrite) await setStreamData(vfs, ctx, ino, xattr, Buffer.alloc(0));
    action = req.disposition === DISPOSITION.SUPERSEDE ? CREATE_ACTION.SUPERSEDED : overwrite ? CREATE_ACTION.OVERWRITTEN : CREATE_ACTION.OPENED;
  } else {
    if (!creates) throw new SmbStatusError(STATUS.OBJECT_NAME_NOT_FOUND);
    xattr = STREAM_XATTR_PREFIX + s.stream;
    await setStreamData(vfs, ctx, ino, xattr, Buffer.alloc(0));
    action = CREATE_ACTION.CREATED;
  }
  const deleteOnClose = (req.options & CREATE_OPTION.DELETE_ON_CLOSE) !== 0;
  if (deleteOnClose && !(desired & ACCESS.DELETE)) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  const path = [w.parentPath, file.name].filter((x) => x !== '').join('\\');
  const node = streamNode(vfs, ino, xattr, { parent: w.parent, name: file.name, path: `${path}:${xattr.slice(STREAM_XATTR_PREFIX.length)}` });
  const id = c.files.allocId();
  const o: Open = {
    id, sessionId: q.session!.id, treeId: tree.treeId, node, fh: undefined, fhWritable: false, access: desired, shareAccess: req.shareAccess,
    deleteOnClose, ctx, position: 0n, mode: 0, dir: undefined, share: tree.share!, stream: xattr,
    streamPin: file.attr.type === 'dir' ? undefined : await pinFile(vfs, ino), // a folder cannot be opened for reading: not pinned
  };
  node.opens.add(o);
  c.files.opens.set(id, o);
  c.files.compoundFileId = fileIdOf(o);
  // Made or emptied just now: 0 bytes; opened as it was: its length (one read).
  const size = action === CREATE_ACTION.OPENED ? BigInt((await streamData(vfs, ctx, ino, xattr)).length) : 0n;
  const fattr = await vfs.getattr(ctx, ino);
  const i = fileInfoOf(await smbAttr(vfs, fattr), { dos: await readDos(vfs, fattr) }); // a stream answers its file's attributes (ARCHIVE …), as Windows does
  // MxAc and QFid as for the file itself (QFid: the file's on-disk id, as Windows answers for a stream).
  const contexts: CreateContext[] = [];
  const lreq = leaseRequest(c, req.contexts);
  const oplockLevel = grantCaching(c, o, req.oplockLevel, lreq, contexts);
  for (const cc of req.contexts) {
    if (cc.name === 'MxAc') {
      const mx = await maximalAccess(vfs, ctx, file.attr, w.parent, tree);
      contexts.push({ name: 'MxAc', data: Buffer.from([0, 0, 0, 0, mx & 0xff, (mx >>> 8) & 0xff, (mx >>> 16) & 0xff, mx >>> 24]) });
    } else if (cc.name === 'QFid') {
      const b = Buffer.alloc(32);
      b.writeBigUInt64LE(BigInt(ino), 0);
      contexts.push({ name: 'QFid', data: b });
    }
  }
  return {
    status: STATUS.SUCCESS,
    body: (wr) => {
      writeCreateResponse(wr, {
        oplockLevel, createAction: action, creationTime: i.creationTime, lastAccessTime: i.lastAccessTime, lastWriteTime: i.lastWriteTime,
        changeTime: i.changeTime, allocationSize: (size + 4095n) & ~4095n, endOfFile: size, fileAttributes: i.attributes, fileId: fileIdOf(o), contexts,
      });
    },
  };
}
