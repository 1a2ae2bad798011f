/**
 * Alternate data streams (MS-FSCC 2.1.5.3 stream names, MS-FSA 2.1.5.1 opening a stream), kept in
 * extended attributes of the file, one per stream: `user.dw.stream.NAME` holds the bytes of
 * stream NAME (as the client first wrote the name; opened again by any case). A stream is
 * therefore at most 64 KiB (the VFS's xattr limit): a write beyond that → STATUS_DISK_FULL, as
 * Samba's streams_xattr answers when its xattrs are full. The default stream ("::$DATA") is the
 * file's data; only files carry named streams here (a directory's → STATUS_NOT_A_DIRECTORY for
 * DIRECTORY_FILE opens, OBJECT_NAME_INVALID otherwise).
 *
 * Opens of a stream have their own share-mode node (per file and stream, MS-FSA: sharing is per
 * stream) and no VFS handle: READ/WRITE/SET_INFO EndOfFile read and rewrite the attribute; CLOSE
 * after delete-on-close (or a disposition) removes it. FileStreamInformation lists "::$DATA" and
 * every ":NAME:$DATA". Other protocols see the attributes as ordinary user xattrs.
 */
import { ROOT_CTX, type Attr, type Ctx, type Fh, type Vfs } from '../../vfs/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import { STATUS, SmbStatusError } from './errors.js';
import { nodesOf, type Node, type Open } from './files.js';
import { SHARE_ACCESS } from './wire/files.js';
import type { StreamEntry } from './wire/fscc.js';
import { ACCESS } from './wire/security.js';

/** The xattr name prefix of named streams. */
export const STREAM_XATTR_PREFIX = 'user.dw.stream.';
/** The most bytes a stream holds (the VFS's xattr value limit). */
export const MAX_STREAM_BYTES = 64 * 1024;
const BAD_STREAM_CHARS = /[\x00\\/:]/;

/** A CREATE name split at its stream part. */
export interface StreamPath {
  /** The file's path, '\\'-separated, without the stream part. */
  path: string;
  /** The stream's name, undefined for the file itself (no stream part, or "::$DATA"). */
  stream: string | undefined;
  /** The name ended in "::$DATA" (the default stream named explicitly). */
  defaultStream: boolean;
}

/**
 * Splits "dir\\file:name:$DATA", "dir\\file:name" and "dir\\file::$DATA" (MS-FSCC 2.1.5.3). The
 * type must be $DATA (any case); a colon before the last component, an empty type after a
 * second colon, an empty name without the type, or a name with '\\', '/' or NUL →
 * STATUS_OBJECT_NAME_INVALID.
 */
export function splitStreamPath(name: string): StreamPath {
  const cut = Math.max(name.lastIndexOf('\\'), name.lastIndexOf('/'));
  const last = name.slice(cut + 1);
  const colon = last.indexOf(':');
  if (colon < 0) {
    if (name.slice(0, cut + 1).includes(':')) throw new SmbStatusError(STATUS.OBJECT_NAME_INVALID);
    return { path: name, stream: undefined, defaultStream: false };
  }
  if (name.slice(0, cut + 1).includes(':')) throw new SmbStatusError(STATUS.OBJECT_NAME_INVALID);
  const path = name.slice(0, cut + 1) + last.slice(0, colon);
  const rest = last.slice(colon + 1).split(':');
  if (rest.length > 2) throw new SmbStatusError(STATUS.OBJECT_NAME_INVALID);
  const [sname, type] = rest as [string, string | undefined];
  if (type !== undefined && type.toUpperCase() !== '$DATA') throw new SmbStatusError(STATUS.OBJECT_NAME_INVALID);
  if (sname === '') {
    if (type === undefined) throw new SmbStatusError(STATUS.OBJECT_NAME_INVALID);
    return { path, stream: undefined, defaultStream: true };
  }
  if (BAD_STREAM_CHARS.test(sname) || Buffer.byteLength(sname) > 255 - STREAM_XATTR_PREFIX.length) throw new SmbStatusError(STATUS.OBJECT_NAME_INVALID);
  return { path, stream: sname, defaultStream: false };
}

const fold = (s: string) => s.toUpperCase();

/** The xattr holding stream `stream` of `ino` (found by any case), or undefined. */
export async function findStream(vfs: Vfs, ctx: Ctx, ino: number, stream: string): Promise<string | undefined> {
  const want = fold(stream);
  const names = await vfs.listxattr(ctx, ino);
  return names.find((n) => n === STREAM_XATTR_PREFIX + stream)
    ?? names.find((n) => n.startsWith(STREAM_XATTR_PREFIX) && fold(n.slice(STREAM_XATTR_PREFIX.length)) === want);
}

/** A stream's bytes (empty when the attribute is gone). */
export async function streamData(vfs: Vfs, ctx: Ctx, ino: number, xattr: string): Promise<Buffer> {
  try {
    return await vfs.getxattr(ctx, ino, xattr);
  } catch (err) {
    if (err instanceof VfsError && err.errno === Errno.ENODATA) return Buffer.alloc(0);
    throw err;
  }
}

/** Stores a stream's bytes: over 64 KiB → STATUS_DISK_FULL. */
export async function setStreamData(vfs: Vfs, ctx: Ctx, ino: number, xattr: string, data: Uint8Array): Promise<void> {
  if (data.length > MAX_STREAM_BYTES) throw new SmbStatusError(STATUS.DISK_FULL);
  await vfs.setxattr(ctx, ino, xattr, data);
}

/** `old` cut or zero-extended to `size` bytes, with `data` (if any) written at `at`: a stream's next value. */
export function resizedStream(old: Buffer, size: number, at = 0, data?: Uint8Array): Buffer {
  const next = Buffer.alloc(size);
  old.copy(next, 0, 0, Math.min(old.length, size));
  if (data) next.set(data, at);
  return next;
}

/** FileStreamInformation's entries: the file's data, then each named stream with its size. */
export async function streamList(vfs: Vfs, ctx: Ctx, attr: Attr, dataSize: bigint, dataAlloc: bigint): Promise<StreamEntry[]> {
  const out: StreamEntry[] = attr.type === 'dir' ? [] : [{ name: '::$DATA', size: dataSize, allocationSize: dataAlloc }];
  for (const n of await vfs.listxattr(ctx, attr.ino)) {
    if (!n.startsWith(STREAM_XATTR_PREFIX)) continue;
    const size = BigInt((await streamData(vfs, ctx, attr.ino, n)).length);
    out.push({ name: `:${n.slice(STREAM_XATTR_PREFIX.length)}:$DATA`, size, allocationSize: (size + 4095n) & ~4095n });
  }
  return out;
}

const streamNodes = new WeakMap<Vfs, Map<string, Node>>();

/** The share-mode node of stream `xattr` of `ino`. */
export function streamNode(vfs: Vfs, ino: number, xattr: string, place: { parent: number; name: string; path: string }): Node {
  let m = streamNodes.get(vfs);
  if (!m) streamNodes.set(vfs, m = new Map());
  const key = `${ino}\0${xattr}`;
  let n = m.get(key);
  if (!n) m.set(key, n = { ino, ...place, isDir: false, deletePending: false, opens: new Set() });
  return n;
}

/**
 * A stream renamed (stream-rename.ts): its node (and every open of it) now under `to`; `to`
 * undefined: the node is dropped (the stream became the file's data).
 */
export function renameStreamNode(vfs: Vfs, ino: number, from: string, to: string | undefined): void {
  const m = streamNodes.get(vfs);
  const n = m?.get(`${ino}\0${from}`);
  if (!m || !n) return;
  m.delete(`${ino}\0${from}`);
  if (to === undefined) return;
  m.set(`${ino}\0${to}`, n);
  for (const o of n.opens) o.stream = to;
}

/** The existing node of a stream, if any open holds it. */
export function existingStreamNode(vfs: Vfs, ino: number, xattr: string): Node | undefined {
  return streamNodes.get(vfs)?.get(`${ino}\0${xattr}`);
}

/** Every open of a named stream of `ino`. */
export function streamOpensOf(vfs: Vfs, ino: number): Open[] {
  const out: Open[] = [];
  const prefix = `${ino}\0`;
  for (const [k, n] of streamNodes.get(vfs) ?? []) if (k.startsWith(prefix)) out.push(...n.opens);
  return out;
}

/**
 * Deleting a file deletes its streams: an open of the file asking DELETE conflicts with a stream
 * open that does not share delete (MS-FSA 2.1.5.1.2.1) → SHARING_VIOLATION.
 */
export function checkStreamsShareDelete(vfs: Vfs, ino: number, access: number): void {
  if (!(access & ACCESS.DELETE)) return;
  for (const o of streamOpensOf(vfs, ino)) if (!(o.shareAccess & SHARE_ACCESS.DELETE)) throw new SmbStatusError(STATUS.SHARING_VIOLATION);
}

/**
 * The last step of closing a stream open: its pin on the file goes; at the last close of a
 * delete-pending stream, its attribute goes; and when this was the last open of any stream of
 * a file whose own last open left it delete-pending (closeOpen waits for the streams, as
 * Windows does), the file goes now. Returns whether the file was removed.
 */
export async function closeStream(vfs: Vfs, o: Open & { stream: string }, removeFile: (file: Node) => Promise<void>): Promise<boolean> {
  const n = o.node;
  if (o.streamPin !== undefined) await vfs.release(ROOT_CTX, o.streamPin).catch(() => undefined);
  if (n.opens.size > 0) return false;
  streamNodes.get(vfs)?.delete(`${n.ino}\0${o.stream}`);
  if (n.deletePending) await vfs.removexattr(o.ctx, n.ino, o.stream).catch(() => undefined);
  const file = nodesOf(vfs).get(n.ino);
  if (file && file.opens.size === 0 && file.deletePending && streamOpensOf(vfs, n.ino).length === 0) {
    await removeFile(file);
    return true;
  }
  return false;
}

/**
 * Holds the file while a stream of it is open, so that its attributes outlive the name when the
 * file is deleted meanwhile: a read-only VFS handle under the gateway's own identity (the open's
 * access was checked already; the handle is never used for data).
 */
export async function pinFile(vfs: Vfs, ino: number): Promise<Fh> {
  return vfs.open(ROOT_CTX, ino, { read: true });
}
