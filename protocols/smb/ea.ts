/**
 * Extended attributes (MS-FSCC 2.4.15 FILE_FULL_EA_INFORMATION, MS-FSA 2.1.5.12.x / 2.1.5.15.x
 * FileFullEaInformation, MS-SMB2 2.2.13.2.1 the "ExtA" create context) kept as VFS xattrs
 * `user.<NAME>`, as Samba keeps them, so FUSE and NFS see the same ones. EA names are
 * case-insensitive: they are stored and answered in upper case (as NTFS does). The gateway's own
 * xattrs (`user.dw.*`, WebDAV's `user.dav.*`) are not EAs and cannot be written as EAs.
 *
 * Setting an EA with an empty value removes it (MS-FSA 2.1.5.15.x). EaSize in FileEaInformation
 * and in directory listings stays 0 (not computed per query yet).
 */
import type { Ctx, Vfs } from '../../vfs/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import { STATUS, SmbStatusError } from './errors.js';
import type { Ea } from './wire/fscc.js';

const PREFIX = 'user.';
/** xattr name prefixes (after `user.`) the gateway uses for itself. */
const RESERVED = ['DW.', 'DAV.'];
/** Characters MS-FSCC 2.4.15.1 does not allow in an EA name. */
const BAD = /["*/:<>?\\|,;=+[\]]/;

function reserved(upper: string): boolean {
  return RESERVED.some((p) => upper.startsWith(p));
}

/** The xattr of EA `name`; an invalid or reserved name → STATUS_INVALID_EA_NAME. */
export function eaXattrName(name: string): string {
  const upper = name.toUpperCase();
  if (!/^[\x20-\x7e]{1,255}$/.test(name) || BAD.test(name) || reserved(upper)) throw new SmbStatusError(STATUS.INVALID_EA_NAME);
  return PREFIX + upper;
}

/** The EAs of an inode, in xattr-list order. */
export async function readEas(vfs: Vfs, ctx: Ctx, ino: number): Promise<Ea[]> {
  const out: Ea[] = [];
  for (const x of await vfs.listxattr(ctx, ino)) {
    if (!x.startsWith(PREFIX)) continue;
    const name = x.slice(PREFIX.length);
    if (!name || reserved(name.toUpperCase()) || !/^[\x20-\x7e]{1,255}$/.test(name) || BAD.test(name)) continue;
    let value: Buffer;
    try {
      value = await vfs.getxattr(ctx, ino, x);
    } catch (err) {
      if (err instanceof VfsError && err.errno === Errno.ENODATA) continue; // removed meanwhile
      throw err;
    }
    if (value.length > 0xffff) continue; // not representable as an EA
    out.push({ flags: 0, name: name.toUpperCase(), value });
  }
  return out;
}

/** Sets (or, with an empty value, removes) each EA of `eas` on an inode. */
export async function writeEas(vfs: Vfs, ctx: Ctx, ino: number, eas: readonly Ea[]): Promise<void> {
  const names = eas.map((ea) => eaXattrName(ea.name)); // all names checked before anything changes
  for (const [i, ea] of eas.entries()) {
    if (ea.value.length) await vfs.setxattr(ctx, ino, names[i]!, ea.value);
    else {
      await vfs.removexattr(ctx, ino, names[i]!).catch((err: unknown) => {
        if (!(err instanceof VfsError && err.errno === Errno.ENODATA)) throw err;
      });
    }
  }
}
