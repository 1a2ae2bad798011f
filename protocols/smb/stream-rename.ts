/**
 * SET_INFO FileRenameInformation on an open of a named stream (MS-FSA 2.1.5.15.12; smbtorture
 * smb2.streams rename, rename2): a new name ":NAME" or ":NAME:$DATA" renames the stream within
 * its file (streams.ts keeps each stream in the xattr `user.dw.stream.NAME`), "::$DATA" makes the
 * stream the file's data.
 *
 * - The same stream (any case) → SUCCESS, nothing changes.
 * - Another stream exists: ReplaceIfExists FALSE → OBJECT_NAME_COLLISION; open → SHARING_VIOLATION;
 *   holding data → INVALID_PARAMETER (only an empty stream is replaced, as Windows does);
 *   otherwise it is replaced.
 * - "::$DATA": ReplaceIfExists FALSE → OBJECT_NAME_COLLISION (the default stream always exists);
 *   the file open through SMB → SHARING_VIOLATION; the file holding data → INVALID_PARAMETER;
 *   otherwise the stream's bytes become the file's and the stream goes; the open becomes an
 *   attribute open of the file (no data access through it any more).
 * - A name with a file part ("dir\\file:NAME") → SHARING_VIOLATION: a stream cannot move to
 *   another file, and the file named is held by this very open (Samba's and Windows' answer).
 * - Other opens of the stream that do not share delete → SHARING_VIOLATION (2.1.5.15.12.1).
 * The rename of the file's own data open to a stream name is not built (OBJECT_NAME_INVALID).
 */
import { ROOT_CTX } from '../../vfs/types.js';
import { STATUS, SmbStatusError } from './errors.js';
import { nodeFor, nodesOf, type Open } from './files.js';
import { existingStreamNode, findStream, renameStreamNode, setStreamData, splitStreamPath, STREAM_XATTR_PREFIX, streamData } from './streams.js';
import type { SmbConnection } from './session.js';
import { SHARE_ACCESS } from './wire/files.js';

/** Whether a FileRenameInformation name is for renameStream (it names a stream). */
export function isStreamRename(o: Open, fileName: string): boolean {
  return (o.stream !== undefined && fileName.includes(':')) || fileName.startsWith(':');
}

export async function renameStream(c: SmbConnection, o: Open, fileName: string, replaceIfExists: boolean): Promise<void> {
  const vfs = c.fileService!.vfs;
  if (!fileName.startsWith(':')) throw new SmbStatusError(STATUS.SHARING_VIOLATION);
  if (o.stream === undefined) throw new SmbStatusError(STATUS.OBJECT_NAME_INVALID);
  const src = o.stream;
  const ino = o.node.ino;
  const target = splitStreamPath(fileName); // OBJECT_NAME_INVALID for a bad name or type
  for (const other of o.node.opens) if (other !== o && !(other.shareAccess & SHARE_ACCESS.DELETE)) throw new SmbStatusError(STATUS.SHARING_VIOLATION);
  if (target.stream === undefined) return toDefaultStream(c, o, src, replaceIfExists);
  const existing = await findStream(vfs, o.ctx, ino, target.stream);
  if (existing === src) return;
  if (existing !== undefined) {
    if (!replaceIfExists) throw new SmbStatusError(STATUS.OBJECT_NAME_COLLISION);
    if (existingStreamNode(vfs, ino, existing)?.opens.size) throw new SmbStatusError(STATUS.SHARING_VIOLATION);
    if ((await streamData(vfs, o.ctx, ino, existing)).length > 0) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  }
  const dst = STREAM_XATTR_PREFIX + target.stream;
  await setStreamData(vfs, o.ctx, ino, dst, await streamData(vfs, o.ctx, ino, src));
  if (existing !== undefined && existing !== dst) await vfs.removexattr(o.ctx, ino, existing);
  await vfs.removexattr(o.ctx, ino, src);
  renameStreamNode(vfs, ino, src, dst);
}

async function toDefaultStream(c: SmbConnection, o: Open, src: string, replaceIfExists: boolean): Promise<void> {
  const vfs = c.fileService!.vfs;
  const ino = o.node.ino;
  if (!replaceIfExists) throw new SmbStatusError(STATUS.OBJECT_NAME_COLLISION);
  if (nodesOf(vfs).get(ino)?.opens.size) throw new SmbStatusError(STATUS.SHARING_VIOLATION);
  if ((await vfs.getattr(o.ctx, ino)).size > 0) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  const data = await streamData(vfs, o.ctx, ino, src);
  if (data.length) {
    const fh = await vfs.open(o.ctx, ino, { write: true });
    try {
      await vfs.write(o.ctx, fh, 0, data);
    } finally {
      await vfs.release(o.ctx, fh);
    }
  }
  await vfs.removexattr(o.ctx, ino, src);
  // The open now stands for the file's data: off the stream's node, onto the file's.
  const streamNodeOf = o.node;
  streamNodeOf.opens.delete(o);
  renameStreamNode(vfs, ino, src, undefined);
  if (o.streamPin !== undefined) await vfs.release(ROOT_CTX, o.streamPin).catch(() => undefined);
  o.streamPin = undefined;
  o.stream = undefined;
  o.node = nodeFor(vfs, ino, { parent: streamNodeOf.parent, name: streamNodeOf.name, path: streamNodeOf.path, isDir: false });
  o.node.opens.add(o);
}
