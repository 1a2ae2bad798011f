/**
 * Helpers the NFSv4 operations share: names (component4 checks), the caller's identity on a
 * node, read-only checks, change_info4, and fattr4 → VFS SetAttr for SETATTR/CREATE/OPEN.
 */
import { Errno, VfsError } from '../../../vfs/errno.js';
import type { Attr, Ctx, SetAttr } from '../../../vfs/types.js';
import { Nfs4Error } from '../errors.js';
import { AttrDecodeError, bitmapOf, decodeFattr, FATTR4, SETTABLE } from '../wire/nfs4-attr.js';
import { NFS4, type Fattr4, type Nfstime4 } from '../wire/nfs4.js';
import type { U } from '../wire/nfs4-xdr.js';
import { current, type Compound } from './compound.js';
import type { Node } from './service.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A component4 as a file name (RFC 7530 §12.7 / RFC 8881 §14.5): empty or not UTF-8 is
 * NFS4ERR_INVAL, "." / ".." NFS4ERR_BADNAME, "/" or NUL inside NFS4ERR_BADCHAR, over 255 bytes
 * NFS4ERR_NAMETOOLONG.
 */
export function fileName(b: Buffer): string {
  if (b.length === 0) throw new Nfs4Error(NFS4.ERR_INVAL, 'empty name');
  if (b.length > 255) throw new Nfs4Error(NFS4.ERR_NAMETOOLONG, 'name longer than 255 bytes');
  let s: string;
  try {
    s = utf8.decode(b);
  } catch {
    throw new Nfs4Error(NFS4.ERR_INVAL, 'name is not UTF-8');
  }
  if (s === '.' || s === '..') throw new Nfs4Error(NFS4.ERR_BADNAME, 'name is . or ..');
  if (s.includes('/') || s.includes('\0')) throw new Nfs4Error(NFS4.ERR_BADCHAR, 'name holds / or NUL');
  return s;
}

/** The identity an op on `n` (default: the current fh) runs as. */
export function ctxOf(c: Compound, n: Node | undefined = c.cur): Ctx {
  return c.s.ctxFor(c.rpc, c.authNone, n);
}

/** The current node when the op changes it: NFS4ERR_ROFS in the pseudo-fs and in a read-only export. */
export function writable(c: Compound, n: Node = current(c)): Node {
  if (!n.exp || n.exp.readOnly) throw new Nfs4Error(NFS4.ERR_ROFS, 'read-only');
  return n;
}

/** The current node as a directory (NOTDIR otherwise; SYMLINK for a symlink, RFC 7530 §16.13.4). */
export async function dirOf(c: Compound, n: Node = current(c)): Promise<Attr> {
  const a = await c.s.attr(ctxOf(c, n), n);
  if (a.type === 'symlink') throw new Nfs4Error(NFS4.ERR_SYMLINK, 'a symlink, not a directory');
  if (a.type !== 'dir') throw new Nfs4Error(NFS4.ERR_NOTDIR, 'not a directory');
  return a;
}

/** The change attribute of a directory (its ctime in ns), for change_info4. */
export async function changeOf(c: Compound, n: Node): Promise<bigint> {
  try {
    return BigInt.asUintN(64, (await c.s.attr(ctxOf(c, n), n)).ctimeNs);
  } catch {
    return 0n;
  }
}

const NS = 1_000_000_000n;
const timeNs = (t: Nfstime4): bigint => {
  if (t.nseconds >= 1e9) throw new Nfs4Error(NFS4.ERR_INVAL, 'nseconds over 999999999');
  return t.seconds * NS + BigInt(t.nseconds);
};

/** A uid/gid from an owner string: "1000", "1000@domain", "root"; anything else NFS4ERR_BADOWNER. */
export function idOf(s: string): number {
  const m = /^(\d{1,10})(@.*)?$/.exec(s);
  if (m) {
    const n = Number(m[1]);
    if (n <= 0xffffffff) return n;
  }
  if (s === 'root' || s.startsWith('root@')) return 0;
  throw new Nfs4Error(NFS4.ERR_BADOWNER, `owner "${s}" is not a numeric id`);
}

/** A fattr4 to set (SETATTR, CREATE, OPEN createattrs) as a VFS SetAttr, and the bitmap of what it sets. */
export function setAttrOf(f: Fattr4): { ch: SetAttr; set: number[] } {
  let vals: Map<number, unknown>;
  try {
    vals = decodeFattr(f, SETTABLE);
  } catch (err) {
    if (!(err instanceof AttrDecodeError)) throw err;
    throw new Nfs4Error(err.why === 'attrnotsupp' ? NFS4.ERR_ATTRNOTSUPP : err.why === 'inval' ? NFS4.ERR_INVAL : NFS4.ERR_BADXDR, err.message);
  }
  const ch: SetAttr = {};
  for (const [a, v] of vals) {
    switch (a) {
      case FATTR4.SIZE:
        if ((v as bigint) > BigInt(Number.MAX_SAFE_INTEGER)) throw new VfsError(Errno.EFBIG, 'size too large');
        ch.size = Number(v);
        break;
      case FATTR4.MODE: ch.mode = (v as number) & 0o7777; break;
      case FATTR4.OWNER: ch.uid = idOf(v as string); break;
      case FATTR4.OWNER_GROUP: ch.gid = idOf(v as string); break;
      case FATTR4.TIME_ACCESS_SET: ch.atimeNs = (v as U).tag === 0 ? 'now' : timeNs((v as U<Nfstime4>).v); break;
      case FATTR4.TIME_MODIFY_SET: ch.mtimeNs = (v as U).tag === 0 ? 'now' : timeNs((v as U<Nfstime4>).v); break;
    }
  }
  return { ch, set: [...vals.keys()] };
}

export { bitmapOf };
