/**
 * QUERY_INFO (MS-SMB2 3.3.5.20) and SET_INFO (3.3.5.21) on disk shares: file classes and file
 * system classes through wire/fscc.ts, security descriptors through wire/security.ts (owner,
 * group and DACL mapped to uid, gid and mode).
 *
 * Output that does not fit OutputBufferLength: below the class's fixed size →
 * STATUS_INFO_LENGTH_MISMATCH; a variable-length answer cut to the buffer →
 * STATUS_BUFFER_OVERFLOW with the cut data (3.3.5.20.1); a security descriptor larger than the
 * buffer → STATUS_BUFFER_TOO_SMALL with the needed size in the ERROR body (3.3.5.20.3).
 */
import { awaitAcks, breakLevelIIForWrite, pendingAcks } from './oplock.js';
import { leaseBreaksForHandle } from './lease.js';
import { setBasicTimes, settleWriteTime, smbAttr } from './writetime.js';
import { isStreamRename, renameStream } from './stream-rename.js';
import { createHash } from 'node:crypto';
import { ROOT_CTX, type SetAttr, type Vfs } from '../../vfs/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import { STATUS, SmbStatusError } from './errors.js';
import { nodesOf, openOf, splitPath, walk, type Node, type Open } from './files.js';
import { ensureEmpty } from './create.js';
import { readEas, writeEas } from './ea.js';
import { basicInfoDos, checkDeletable, mayChangeDos, noteModified, readDos, writeDos } from './dosattr.js';
import type { Request, Response, SmbConnection } from './session.js';
import { writeErrorResponse } from './wire/error.js';
import {
  decodeFileAllocationInformation, decodeFileBasicInformation, decodeFileFullEaInformation, decodeFileDispositionInformation, decodeFileDispositionInformationEx,
  decodeFileEndOfFileInformation, decodeFilePositionInformation, decodeFileRenameInformation, DEFAULT_FS_ATTRIBUTES,
  encodeFsAttributeInformation, encodeFsDeviceInformation, encodeFsFullSizeInformation, encodeFsObjectIdInformation,
  encodeFileFullEaInformation, encodeFileNameInformation, encodeFsSectorSizeInformation, encodeFsSizeInformation, encodeFsVolumeInformation, encodeQueryFileInfo, FILE_INFO, fileInfoOf,
  FS_INFO, fsSizeOf, INFO_TYPE, nsToFiletime, QUERY_FILE_MIN_SIZE, QUERY_FS_MIN_SIZE, type SetTime,
} from './wire/fscc.js';
import {
  ACCESS, decodeSecurityDescriptor, encodeSecurityDescriptor, posixFromSecurityDescriptor, securityDescriptorOf, selectSecurityInformation,
  UnmappableSidError,
} from './wire/security.js';
import { shortNameOf } from './wire/short-name.js';
import { afterSetSecurity, checkStorable, withStoredDacl } from './ntacl.js';
import { MAX_STREAM_BYTES, resizedStream, setStreamData, streamData, streamList } from './streams.js';
import { decodeQueryInfoRequest, decodeSetInfoRequest, writeOutputBufferResponse, writeSetInfoResponse } from './wire/files.js';

/** A stable 32-bit volume serial and 64-bit id per share name. */
function volumeSerial(share: string): bigint {
  return createHash('sha256').update(`dw-smb:${share.toUpperCase()}`).digest().readBigUInt64LE(0);
}

function answer(out: Buffer, max: number, minSize: number | undefined): Response {
  if (minSize !== undefined && max < minSize) throw new SmbStatusError(STATUS.INFO_LENGTH_MISMATCH);
  const cut = out.length > max ? out.subarray(0, max) : out;
  return { status: out.length > max ? STATUS.BUFFER_OVERFLOW : STATUS.SUCCESS, body: (w) => { writeOutputBufferResponse(w, cut); } };
}

/**
 * The right an open needs to query a file class (MS-FSA 2.1.5.12.x: Basic, All, NetworkOpen and
 * AttributeTag need FILE_READ_ATTRIBUTES, FullEa FILE_READ_EA); the other classes need none.
 */
const QUERY_FILE_RIGHT: Readonly<Record<number, number>> = {
  [FILE_INFO.Basic]: ACCESS.FILE_READ_ATTRIBUTES, [FILE_INFO.All]: ACCESS.FILE_READ_ATTRIBUTES, [FILE_INFO.NetworkOpen]: ACCESS.FILE_READ_ATTRIBUTES,
  [FILE_INFO.AttributeTag]: ACCESS.FILE_READ_ATTRIBUTES, [FILE_INFO.FullEa]: ACCESS.FILE_READ_EA,
};

/**
 * QUERY_INFO. FILE: the classes of fscc.ts `encodeQueryFileInfo`, FileAlternateNameInformation
 * from short-name.ts (the share root → OBJECT_NAME_NOT_FOUND), FileFullEaInformation from ea.ts
 * (none → NO_EAS_ON_FILE); FILESYSTEM: Volume, Size, Device, Attribute,
 * FullSize, ObjectId, SectorSize; SECURITY: owner/group/DACL as AdditionalInformation asks
 * (needs READ_CONTROL). Unknown class → INVALID_INFO_CLASS; QUOTA → NOT_SUPPORTED.
 */
export async function handleQueryInfo(c: SmbConnection, q: Request): Promise<Response> {
  const req = decodeQueryInfoRequest(q.message);
  const o = openOf(c, q, req.fileId);
  const vfs = c.fileService!.vfs;
  const max = Math.min(req.outputBufferLength, c.maxIo);
  const attr = await vfs.getattr(o.ctx, o.node.ino);
  switch (req.infoType) {
    case INFO_TYPE.FILE: {
      const min = QUERY_FILE_MIN_SIZE[req.infoClass];
      if (min === undefined) throw new SmbStatusError(STATUS.INVALID_INFO_CLASS);
      const right = QUERY_FILE_RIGHT[req.infoClass];
      if (right !== undefined && !(o.access & right)) throw new SmbStatusError(STATUS.ACCESS_DENIED);
      if (req.infoClass === FILE_INFO.FullEa) {
        const eas = await readEas(vfs, o.ctx, o.node.ino);
        if (!eas.length) throw new SmbStatusError(STATUS.NO_EAS_ON_FILE);
        return answer(encodeFileFullEaInformation(eas), max, min);
      }
      if (req.infoClass === FILE_INFO.AlternateName) {
        if (o.node.path === '') throw new SmbStatusError(STATUS.OBJECT_NAME_NOT_FOUND); // the share root has no name of its own
        return answer(encodeFileNameInformation(shortNameOf(o.node.name)), max, min);
      }
      const name = req.infoClass === FILE_INFO.Name || req.infoClass === FILE_INFO.All ? `\\${o.node.path}` : o.node.path || '\\';
      let info = fileInfoOf(await smbAttr(vfs, attr), { dos: await readDos(vfs, attr) });
      const dataInfo = info;
      if (o.stream !== undefined) { // a named stream's own size (streams.ts)
        const size = BigInt((await streamData(vfs, o.ctx, o.node.ino, o.stream)).length);
        info = Object.assign({}, info, { endOfFile: size, allocationSize: (size + 4095n) & ~4095n });
      }
      const streams = req.infoClass === FILE_INFO.Stream ? await streamList(vfs, o.ctx, attr, dataInfo.endOfFile, dataInfo.allocationSize) : undefined;
      const out = encodeQueryFileInfo(req.infoClass, {
        info, name, volumeSerial: volumeSerial(o.share.name), ...(streams ? { streams } : {}),
        open: { accessMask: o.access, position: o.position, mode: o.mode, deletePending: o.node.deletePending },
      });
      if (!out) throw new SmbStatusError(STATUS.INVALID_INFO_CLASS);
      return answer(out, max, min);
    }
    case INFO_TYPE.FILESYSTEM: {
      const min = QUERY_FS_MIN_SIZE[req.infoClass];
      if (min === undefined) throw new SmbStatusError(STATUS.INVALID_INFO_CLASS);
      const serial = volumeSerial(o.share.name);
      let out: Buffer;
      switch (req.infoClass) {
        case FS_INFO.Volume: {
          const root = await vfs.getattr(o.ctx, await c.fileService!.shareRoot(o.share));
          out = encodeFsVolumeInformation({ creationTime: nsToFiletime(root.birthtimeNs), serialNumber: Number(serial & 0xffffffffn), label: o.share.name, supportsObjects: false });
          break;
        }
        case FS_INFO.Size: out = encodeFsSizeInformation(fsSizeOf(await vfs.statfs(o.ctx, o.node.ino))); break;
        case FS_INFO.FullSize: out = encodeFsFullSizeInformation(fsSizeOf(await vfs.statfs(o.ctx, o.node.ino))); break;
        case FS_INFO.Device: out = encodeFsDeviceInformation(); break;
        case FS_INFO.Attribute: out = encodeFsAttributeInformation({ attributes: DEFAULT_FS_ATTRIBUTES, maxComponentNameLength: 255, fileSystemName: 'NTFS' }); break;
        case FS_INFO.ObjectId: {
          const id = Buffer.alloc(16);
          id.writeBigUInt64LE(serial);
          out = encodeFsObjectIdInformation(id);
          break;
        }
        case FS_INFO.SectorSize: out = encodeFsSectorSizeInformation(); break;
        default: throw new SmbStatusError(STATUS.INVALID_INFO_CLASS);
      }
      return answer(out, max, min);
    }
    case INFO_TYPE.SECURITY: {
      if (!(o.access & ACCESS.READ_CONTROL)) throw new SmbStatusError(STATUS.ACCESS_DENIED);
      const sd = encodeSecurityDescriptor(selectSecurityInformation(await withStoredDacl(vfs, attr, securityDescriptorOf(attr)), req.additionalInformation)); // a stored DACL (ntacl.ts) when there is one
      if (sd.length > max) {
        const need = Buffer.alloc(4);
        need.writeUInt32LE(sd.length);
        return { status: STATUS.BUFFER_TOO_SMALL, body: (w) => { writeErrorResponse(w, { errorContextCount: 0, errorData: need }); } };
      }
      return answer(sd, max, undefined);
    }
    case INFO_TYPE.QUOTA: throw new SmbStatusError(STATUS.NOT_SUPPORTED);
    default: throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  }
}

const ok = (): Response => ({ status: STATUS.SUCCESS, body: (w) => { writeSetInfoResponse(w); } });

function need(o: Open, rights: number): void {
  if (!(o.access & rights)) throw new SmbStatusError(STATUS.ACCESS_DENIED);
}

/**
 * SET_INFO. FILE: Basic (creation, access, write and change times; DOS attributes through
 * dosattr.ts), EndOfFile (truncate/extend), Allocation (below the size truncates, else no
 * effect; both set ARCHIVE), Rename (within the share, ReplaceIfExists, case-only renames; a
 * folder with opens below it → ACCESS_DENIED), FullEa (ea.ts; needs FILE_WRITE_EA),
 * Disposition(Ex) (delete pending; READONLY → CANNOT_DELETE; a non-empty folder →
 * DIRECTORY_NOT_EMPTY), Position; SECURITY: owner/group/DACL → uid/gid/mode (a SID outside the
 * mapping → ACCESS_DENIED). Writes on a read-only share → ACCESS_DENIED; others through errors.ts.
 */
export async function handleSetInfo(c: SmbConnection, q: Request): Promise<Response> {
  const req = decodeSetInfoRequest(q.message);
  const o = openOf(c, q, req.fileId);
  const vfs = c.fileService!.vfs;
  if (o.share.readOnly && !(req.infoType === INFO_TYPE.FILE && req.infoClass === FILE_INFO.Position)) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  if (req.infoType === INFO_TYPE.SECURITY) {
    need(o, ACCESS.WRITE_DAC | ACCESS.WRITE_OWNER);
    const attr = await vfs.getattr(o.ctx, o.node.ino);
    let ch;
    const sd = decodeSecurityDescriptor(req.buffer);
    checkStorable(sd, req.additionalInformation);
    try {
      ch = posixFromSecurityDescriptor(sd, req.additionalInformation, attr);
    } catch (err) {
      if (err instanceof UnmappableSidError) throw new SmbStatusError(STATUS.ACCESS_DENIED);
      throw err;
    }
    const s: SetAttr = {};
    if (ch.uid !== undefined && ch.uid !== attr.uid) s.uid = ch.uid;
    if (ch.gid !== undefined && ch.gid !== attr.gid) s.gid = ch.gid;
    if (ch.mode !== undefined && (ch.mode & 0o7777) !== (attr.mode & 0o7777)) s.mode = ch.mode;
    const after = Object.keys(s).length ? await vfs.setattr(o.ctx, o.node.ino, s) : attr;
    await afterSetSecurity(vfs, attr, after, sd, req.additionalInformation); // keep the DACL itself for SMB (ntacl.ts)
    return ok();
  }
  if (req.infoType !== INFO_TYPE.FILE) throw new SmbStatusError(req.infoType === INFO_TYPE.FILESYSTEM || req.infoType === INFO_TYPE.QUOTA ? STATUS.NOT_SUPPORTED : STATUS.INVALID_PARAMETER);
  switch (req.infoClass) {
    case FILE_INFO.Basic: {
      need(o, ACCESS.FILE_WRITE_ATTRIBUTES);
      const b = decodeFileBasicInformation(req.buffer);
      const attr = await vfs.getattr(o.ctx, o.node.ino);
      const bits = basicInfoDos(o.node.isDir, b.attributes, await readDos(vfs, attr));
      if (bits !== undefined) {
        if (!(await mayChangeDos(vfs, o.ctx, attr))) throw new SmbStatusError(STATUS.ACCESS_DENIED);
        await writeDos(vfs, attr, bits, o.node);
      }
      await setBasicTimes(vfs, o, b); // writetime.ts: delayed/sticky LastWriteTime, times beyond 2262
      return ok();
    }
    case FILE_INFO.EndOfFile: case FILE_INFO.Allocation: {
      need(o, ACCESS.FILE_WRITE_DATA);
      if (o.node.isDir) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
      const eof = req.infoClass === FILE_INFO.EndOfFile;
      const v = eof ? decodeFileEndOfFileInformation(req.buffer) : decodeFileAllocationInformation(req.buffer);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new SmbStatusError(STATUS.DISK_FULL);
      breakLevelIIForWrite(o); // LEVEL_II oplocks and other leases' R go (oplock.ts)
      if (o.stream !== undefined) { // a named stream: cut or zero-extend its attribute
        const old = await streamData(vfs, o.ctx, o.node.ino, o.stream);
        if (v > BigInt(MAX_STREAM_BYTES)) throw new SmbStatusError(STATUS.DISK_FULL);
        if (eof ? Number(v) !== old.length : Number(v) < old.length) await setStreamData(vfs, o.ctx, o.node.ino, o.stream, resizedStream(old, Number(v)));
        return ok();
      }
      if (o.fh !== undefined) await vfs.flush(o.ctx, o.fh);
      const size = (await vfs.getattr(o.ctx, o.node.ino)).size;
      if (eof ? Number(v) !== size : Number(v) < size) {
        await vfs.setattr(o.ctx, o.node.ino, { size: Number(v) }, o.fhWritable);
        await noteModified(vfs, o.node);
      }
      await settleWriteTime(vfs, o); // a pending LastWriteTime update is done now (writetime.ts)
      return ok();
    }
    case FILE_INFO.Position: {
      o.position = decodeFilePositionInformation(req.buffer);
      return ok();
    }
    case FILE_INFO.Disposition: case FILE_INFO.DispositionEx: {
      const del = req.infoClass === FILE_INFO.Disposition ? decodeFileDispositionInformation(req.buffer).deletePending : (decodeFileDispositionInformationEx(req.buffer).flags & 1) !== 0;
      need(o, ACCESS.DELETE);
      if (del) checkDeletable(await readDos(vfs, await vfs.getattr(o.ctx, o.node.ino)));
      if (del && o.node.isDir) await ensureEmpty(c, o.node.ino);
      if (del && o.node.path === '') throw new SmbStatusError(STATUS.CANNOT_DELETE);
      if (del && o.stream === undefined) await vfs.mayDelete(o.ctx, o.node.parent, o.node.name); // retention, holds, sticky: refused now, not at close
      const acks = del && !o.node.deletePending ? await pendingAcks(leaseBreaksForHandle(o)) : []; // other leases lose H (lease.ts)
      if (acks.length) return { status: STATUS.SUCCESS, body: () => {}, goAsync: async (signal) => { await awaitAcks(acks, signal); o.node.deletePending = del; return ok(); } };
      o.node.deletePending = del;
      return ok();
    }
    case FILE_INFO.Rename: return rename(c, o, req.buffer);
    case FILE_INFO.FullEa: {
      need(o, ACCESS.FILE_WRITE_EA);
      await writeEas(vfs, o.ctx, o.node.ino, decodeFileFullEaInformation(req.buffer));
      return ok();
    }
    default: {
      if (req.infoClass === FILE_INFO.Link) throw new SmbStatusError(STATUS.NOT_SUPPORTED);
      throw new SmbStatusError(STATUS.INVALID_INFO_CLASS);
    }
  }
}

/**
 * FileRenameInformation (MS-SMB2 2.2.39, MS-FSA 2.1.5.15.15): FileName is a path from the share
 * root (a leading '\\' allowed), or a bare name. RootDirectory ≠ 0 → INVALID_PARAMETER; an
 * existing target without ReplaceIfExists → OBJECT_NAME_COLLISION; an existing folder as target,
 * or a target open by anyone → ACCESS_DENIED; the open needs DELETE. A rename to a name that
 * differs only in case renames in place.
 */
async function rename(c: SmbConnection, o: Open, buf: Buffer, afterBreaks = false): Promise<Response> {
  const vfs = c.fileService!.vfs;
  const r = decodeFileRenameInformation(buf);
  if (r.rootDirectory !== 0n) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  need(o, ACCESS.DELETE);
  if (isStreamRename(o, r.fileName)) { await renameStream(c, o, r.fileName, r.replaceIfExists); return ok(); } // stream-rename.ts
  if (o.node.path === '') throw new SmbStatusError(STATUS.ACCESS_DENIED);
  const parts = splitPath(r.fileName, { leadingSlash: true });
  if (!parts.length) throw new SmbStatusError(STATUS.OBJECT_NAME_INVALID);
  const root = await c.fileService!.shareRoot(o.share);
  const w = await walk(vfs, o.ctx, root, parts);
  // Other opens of this file that do not share delete refuse the rename (MS-FSA 2.1.5.15.15).
  for (const other of o.node.opens) if (other !== o && !(other.shareAccess & 4)) throw new SmbStatusError(STATUS.SHARING_VIOLATION);
  // A folder with anything open below it cannot move (Windows answers ACCESS_DENIED; smb2.rename.rename_dir_openfile).
  if (o.node.isDir && await hasOpenBelow(vfs, o.node)) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  // The target folder open with DELETE access by anyone: SHARING_VIOLATION, before any break
  // (Windows opens the target folder to add the name without sharing delete; Samba the same;
  // smbtorture smb2.oplock.exclusive6, batch19).
  for (const x of nodesOf(vfs).get(w.parent)?.opens ?? []) if (x.access & ACCESS.DELETE) throw new SmbStatusError(STATUS.SHARING_VIOLATION);
  if (!afterBreaks) { // other leases lose H first; the rename waits for their acknowledgments (lease.ts)
    const acks = await pendingAcks(leaseBreaksForHandle(o));
    if (acks.length) return { status: STATUS.SUCCESS, body: () => {}, goAsync: async (signal) => { await awaitAcks(acks, signal); return rename(c, o, buf, true); } };
  }
  const t = w.found;
  if (t && t.attr.ino === o.node.ino) {
    if (t.name === w.want) return ok(); // same name: nothing to do
  } else if (t) {
    if (!r.replaceIfExists) throw new SmbStatusError(STATUS.OBJECT_NAME_COLLISION);
    if (t.attr.type === 'dir') throw new SmbStatusError(STATUS.ACCESS_DENIED);
    if (nodesOf(vfs).get(t.attr.ino)?.opens.size) throw new SmbStatusError(STATUS.ACCESS_DENIED);
    await vfs.rename(o.ctx, o.node.parent, o.node.name, w.parent, t.name);
    if (t.name !== w.want) await vfs.rename(o.ctx, w.parent, t.name, w.parent, w.want);
    return moved(o, w.parent, w.parentPath, w.want);
  }
  try {
    await vfs.rename(o.ctx, o.node.parent, o.node.name, w.parent, w.want, { noreplace: !(t && t.attr.ino === o.node.ino) });
  } catch (err) {
    if (err instanceof VfsError && err.errno === Errno.EEXIST) throw new SmbStatusError(STATUS.OBJECT_NAME_COLLISION);
    throw err;
  }
  return moved(o, w.parent, w.parentPath, w.want);
}

/**
 * Whether an inode below folder `dir` is open through SMB (any connection of this VFS): each open
 * node's ancestors are followed by '..' lookups (root credentials; memoized for this call) until
 * `dir` or the VFS root.
 */
export async function hasOpenBelow(vfs: Vfs, dir: Node): Promise<boolean> {
  const up = new Map<number, number>();
  for (const n of nodesOf(vfs).values()) {
    if (n === dir || !n.opens.size) continue;
    let p = n.parent;
    for (let depth = 0; depth < 4096; depth++) {
      if (p === dir.ino) return true;
      let q = up.get(p);
      if (q === undefined) {
        q = await vfs.lookup(ROOT_CTX, p, '..').then((a) => a.ino, () => p);
        up.set(p, q);
      }
      if (q === p) break;
      p = q;
    }
  }
  return false;
}

function moved(o: Open, parent: number, parentPath: string, name: string): Response {
  o.node.parent = parent;
  o.node.name = name;
  o.node.path = [parentPath, name].filter((s) => s !== '').join('\\');
  return ok();
}
