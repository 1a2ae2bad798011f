/**
 * DOS file attributes (MS-FSCC 2.6: READONLY, HIDDEN, SYSTEM, ARCHIVE, TEMPORARY, OFFLINE,
 * NOT_CONTENT_INDEXED) kept per inode in the xattr `user.dw.dosattrib`, and the MS-FSA rules
 * that use them.
 *
 * Storage. The value is the attribute bits as ASCII hex, e.g. `0x21` (READONLY | ARCHIVE), so
 * `getfattr -n user.dw.dosattrib` over FUSE shows them. Only the settable bits above (and
 * SPARSE_FILE, which FSCTL_SET_SPARSE sets and clears) are kept;
 * DIRECTORY, NORMAL and REPARSE_POINT are always recomputed (wire/fscc.ts `fileAttributesOf`).
 * An inode without the xattr has the default bits: ARCHIVE for a regular file (what Windows and
 * Samba give a new file, and what a file written through FUSE, NFS or WebDAV should look like:
 * "changed since the last backup"), none for a directory. So a CREATE that asks nothing special
 * writes no xattr; the xattr appears only when the bits differ from what is stored or implied.
 * Symlinks (no `user.` xattrs in the VFS) have none. The xattr is read and written with the
 * VFS's root credentials: reading the attributes of a file needs no read permission on it (they
 * are stat-level information, listed in QUERY_DIRECTORY), and who may change them is decided
 * here (`mayChangeDos`: the owner, or anyone who may write the file — Samba maps the POSIX w bit
 * to FILE_WRITE_ATTRIBUTES the same way).
 *
 * Rules (MS-FSA):
 * - 2.1.5.1.1 new file: FileAttributes & settable, plus ARCHIVE for a data file; TEMPORARY with
 *   FILE_DIRECTORY_FILE → INVALID_PARAMETER; READONLY with FILE_DELETE_ON_CLOSE → CANNOT_DELETE.
 * - 2.1.5.1.2 open of an existing file: overwrite/supersede of a file that is HIDDEN (SYSTEM)
 *   when the request does not ask HIDDEN (SYSTEM) → ACCESS_DENIED; the overwritten file gets
 *   the requested bits plus ARCHIVE. 2.1.5.1.2.1: a READONLY data file refuses FILE_WRITE_DATA /
 *   FILE_APPEND_DATA (ACCESS_DENIED; MAXIMUM_ALLOWED just does not grant them) and
 *   FILE_DELETE_ON_CLOSE (CANNOT_DELETE).
 * - 2.1.5.15.2 FileBasicInformation: FileAttributes 0 leaves them alone; otherwise the settable
 *   bits replace the stored ones (NORMAL alone clears them); DIRECTORY on a file or TEMPORARY on
 *   a directory → INVALID_PARAMETER.
 * - 2.1.5.15.3 FileDispositionInformation on a READONLY file or directory → CANNOT_DELETE.
 * - 2.1.4.17 a file whose data changes (WRITE, end of file) gets ARCHIVE.
 */
import type { Attr, Ctx, Vfs } from '../../vfs/types.js';
import { ROOT_CTX } from '../../vfs/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import { STATUS, SmbStatusError } from './errors.js';
import type { Node } from './files.js';
import { FILE_ATTRIBUTE, SETTABLE_ATTRIBUTES } from './wire/fscc.js';

/** The xattr holding an inode's DOS attribute bits (ASCII hex). */
export const DOS_XATTR = 'user.dw.dosattrib';

/** The bits a client sets through CREATE and FileBasicInformation (MS-FSA 2.1.5.15.2's settable set). */
export const DOS_MASK = SETTABLE_ATTRIBUTES;

/** The bits kept in the xattr: the settable ones and SPARSE_FILE (set by FSCTL_SET_SPARSE only, fsctl.ts). */
export const STORED_MASK = (DOS_MASK | FILE_ATTRIBUTE.SPARSE_FILE) >>> 0;

/** The bits of an inode without the xattr: ARCHIVE for a regular file, none otherwise. */
export function defaultDos(attr: Pick<Attr, 'type'>): number {
  return attr.type === 'file' ? FILE_ATTRIBUTE.ARCHIVE : 0;
}

/** The xattr value of `bits`. */
export function encodeDos(bits: number): Buffer {
  return Buffer.from(`0x${((bits & STORED_MASK) >>> 0).toString(16)}`, 'ascii');
}

/** The bits of an xattr value; anything unreadable → undefined (then the default applies). */
export function decodeDos(v: Buffer): number | undefined {
  const s = v.toString('ascii').trim();
  if (!/^(0x[0-9a-f]{1,8}|[0-9]{1,10})$/i.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? (n & STORED_MASK) >>> 0 : undefined;
}

/** Cached bits of the nodes open through SMB (kept current by this module's writes). */
const cache = new WeakMap<Node, number>();

function absent(err: unknown): boolean {
  return err instanceof VfsError && (err.errno === Errno.ENODATA || err.errno === Errno.EOPNOTSUPP || err.errno === Errno.EPERM || err.errno === Errno.ENOENT || err.errno === Errno.ESTALE);
}

/** The DOS bits of an inode (stored, or the default). */
export async function readDos(vfs: Vfs, attr: Pick<Attr, 'ino' | 'type'>): Promise<number> {
  if (attr.type !== 'file' && attr.type !== 'dir') return 0;
  try {
    return decodeDos(await vfs.getxattr(ROOT_CTX, attr.ino, DOS_XATTR)) ?? defaultDos(attr);
  } catch (err) {
    if (absent(err)) return defaultDos(attr);
    throw err;
  }
}

/** The DOS bits of an open node: the cached value, else read (and cached). */
export async function nodeDos(vfs: Vfs, node: Node, attr?: Pick<Attr, 'ino' | 'type'>): Promise<number> {
  const hit = cache.get(node);
  if (hit !== undefined) return hit;
  const bits = await readDos(vfs, attr ?? { ino: node.ino, type: node.isDir ? 'dir' : 'file' });
  cache.set(node, bits);
  return bits;
}

/** Remembers `bits` as the node's current value (after a CREATE read them). */
export function cacheDos(node: Node, bits: number): void {
  cache.set(node, (bits & STORED_MASK) >>> 0);
}

/** Stores `bits` on an inode (a regular file or directory); no write when they are already what is stored. */
export async function writeDos(vfs: Vfs, attr: Pick<Attr, 'ino' | 'type'>, bits: number, node?: Node): Promise<void> {
  if (attr.type !== 'file' && attr.type !== 'dir') return;
  const want = (bits & STORED_MASK) >>> 0;
  const now = node ? await nodeDos(vfs, node, attr) : await readDos(vfs, attr);
  if (now === want) return;
  await vfs.setxattr(ROOT_CTX, attr.ino, DOS_XATTR, encodeDos(want));
  if (node) cache.set(node, want);
}

/**
 * MS-FSA 2.1.4.17: a data file whose contents changed gets ARCHIVE. Cheap when the node's bits
 * are cached with ARCHIVE (the usual case: every new file has it).
 */
export async function noteModified(vfs: Vfs, node: Node): Promise<void> {
  if (node.isDir) return;
  const bits = await nodeDos(vfs, node);
  if (bits & FILE_ATTRIBUTE.ARCHIVE) return;
  await writeDos(vfs, { ino: node.ino, type: 'file' }, bits | FILE_ATTRIBUTE.ARCHIVE, node);
}

/**
 * The bits a new inode gets from CREATE's FileAttributes (MS-FSA 2.1.5.1.1), or undefined when
 * they are the default (nothing to store).
 */
export function newDos(isDir: boolean, requested: number): number | undefined {
  const bits = ((requested & DOS_MASK) | (isDir ? 0 : FILE_ATTRIBUTE.ARCHIVE)) >>> 0;
  return bits === (isDir ? 0 : FILE_ATTRIBUTE.ARCHIVE) ? undefined : bits;
}

/** CREATE's checks of FileAttributes against the options, before anything is made (MS-FSA 2.1.5.1). */
export function checkCreateAttributes(requested: number, wantDir: boolean, deleteOnClose: boolean): void {
  if (wantDir && requested & FILE_ATTRIBUTE.TEMPORARY) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  if (deleteOnClose && requested & FILE_ATTRIBUTE.READONLY) throw new SmbStatusError(STATUS.CANNOT_DELETE);
}

/**
 * The checks of an open of an existing inode with DOS bits `dos` (MS-FSA 2.1.5.1.2 and
 * 2.1.5.1.2.1). Returns the desired access to use (MAXIMUM_ALLOWED on a READONLY file loses the
 * data-write rights instead of failing).
 */
export function checkExistingOpen(o: {
  dos: number; isDir: boolean; desired: number; maximumAllowed: boolean; overwrite: boolean; requested: number; deleteOnClose: boolean;
}): number {
  const { dos, isDir } = o;
  let desired = o.desired;
  if (o.overwrite && (((dos & FILE_ATTRIBUTE.HIDDEN) && !(o.requested & FILE_ATTRIBUTE.HIDDEN)) || ((dos & FILE_ATTRIBUTE.SYSTEM) && !(o.requested & FILE_ATTRIBUTE.SYSTEM)))) {
    throw new SmbStatusError(STATUS.ACCESS_DENIED);
  }
  if (dos & FILE_ATTRIBUTE.READONLY) {
    if (o.deleteOnClose) throw new SmbStatusError(STATUS.CANNOT_DELETE);
    if (!isDir) {
      const WRITE = 0x2 | 0x4; // FILE_WRITE_DATA | FILE_APPEND_DATA
      if (o.maximumAllowed && !o.overwrite) desired &= ~WRITE;
      else if (desired & WRITE) throw new SmbStatusError(STATUS.ACCESS_DENIED);
    }
  }
  return desired >>> 0;
}

/** The bits an overwritten or superseded file gets (MS-FSA 2.1.5.1.2): the requested ones plus ARCHIVE. */
export function overwriteDos(requested: number): number {
  return ((requested & DOS_MASK) | FILE_ATTRIBUTE.ARCHIVE) >>> 0;
}

/**
 * FileBasicInformation's FileAttributes (MS-FSA 2.1.5.15.2): 0 → undefined (no change);
 * DIRECTORY on a file or TEMPORARY on a directory → INVALID_PARAMETER; else the new bits.
 */
export function basicInfoDos(isDir: boolean, requested: number, current: number): number | undefined {
  if (requested === 0) return undefined;
  if (!isDir && requested & FILE_ATTRIBUTE.DIRECTORY) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  if (isDir && requested & FILE_ATTRIBUTE.TEMPORARY) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
  return ((requested & DOS_MASK) | (current & ~DOS_MASK)) >>> 0;
}

/** MS-FSA 2.1.5.15.3: a READONLY file or directory cannot be marked for deletion. */
export function checkDeletable(dos: number): void {
  if (dos & FILE_ATTRIBUTE.READONLY) throw new SmbStatusError(STATUS.CANNOT_DELETE);
}

/**
 * Whether `ctx` may change the DOS attributes of `attr`: root, the owner, or whoever may write
 * the file (a refusal is ACCESS_DENIED).
 */
export async function mayChangeDos(vfs: Vfs, ctx: Ctx, attr: Pick<Attr, 'ino' | 'uid'>): Promise<boolean> {
  if (ctx.uid === 0 || ctx.uid === attr.uid) return true;
  try {
    await vfs.access(ctx, attr.ino, 2);
    return true;
  } catch (err) {
    if (err instanceof VfsError && (err.errno === Errno.EACCES || err.errno === Errno.EPERM || err.errno === Errno.EROFS)) return false;
    throw err;
  }
}
