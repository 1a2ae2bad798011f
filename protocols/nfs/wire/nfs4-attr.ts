/**
 * NFSv4 file attributes (RFC 7530 §5, RFC 8881 §5): the FATTR4_* numbers, bitmap4 helpers, and
 * one codec per attribute we support, so fattr4 is encoded for GETATTR/READDIR and decoded for
 * SETATTR, CREATE, OPEN createattrs and VERIFY/NVERIFY from the same table. Sans-IO.
 */
import { bool, opaque, str, struct, u32, u64, union, voidT, type Codec } from './nfs4-xdr.js';
import { bitmap4, NFS4_FHSIZE, nfstime4, specdata4, type Fattr4 } from './nfs4.js';
import { XdrError, XdrReader, XdrWriter } from './xdr.js';

/** Attribute numbers (RFC 7530 §5.6–5.8, RFC 8881 §5.6–5.8). */
export const FATTR4 = {
  SUPPORTED_ATTRS: 0, TYPE: 1, FH_EXPIRE_TYPE: 2, CHANGE: 3, SIZE: 4, LINK_SUPPORT: 5, SYMLINK_SUPPORT: 6,
  NAMED_ATTR: 7, FSID: 8, UNIQUE_HANDLES: 9, LEASE_TIME: 10, RDATTR_ERROR: 11, ACL: 12, ACLSUPPORT: 13, ARCHIVE: 14,
  CANSETTIME: 15, CASE_INSENSITIVE: 16, CASE_PRESERVING: 17, CHOWN_RESTRICTED: 18, FILEHANDLE: 19, FILEID: 20,
  FILES_AVAIL: 21, FILES_FREE: 22, FILES_TOTAL: 23, FS_LOCATIONS: 24, HIDDEN: 25, HOMOGENEOUS: 26, MAXFILESIZE: 27,
  MAXLINK: 28, MAXNAME: 29, MAXREAD: 30, MAXWRITE: 31, MIMETYPE: 32, MODE: 33, NO_TRUNC: 34, NUMLINKS: 35, OWNER: 36,
  OWNER_GROUP: 37, QUOTA_AVAIL_HARD: 38, QUOTA_AVAIL_SOFT: 39, QUOTA_USED: 40, RAWDEV: 41, SPACE_AVAIL: 42,
  SPACE_FREE: 43, SPACE_TOTAL: 44, SPACE_USED: 45, SYSTEM: 46, TIME_ACCESS: 47, TIME_ACCESS_SET: 48, TIME_BACKUP: 49,
  TIME_CREATE: 50, TIME_DELTA: 51, TIME_METADATA: 52, TIME_MODIFY: 53, TIME_MODIFY_SET: 54, MOUNTED_ON_FILEID: 55,
  // NFSv4.1
  SUPPATTR_EXCLCREAT: 75,
} as const;

const fsid4 = struct({ major: u64, minor: u64 });
/** settime4: union on time_how4 (SET_TO_SERVER_TIME4 = 0 → void, SET_TO_CLIENT_TIME4 = 1 → nfstime4). */
export const settime4 = union({ 0: voidT, 1: nfstime4 }, undefined, 'settime4');
const utf8 = str(1024);

/** The codec of each supported attribute's value. */
export const ATTR_CODECS: Record<number, Codec<any>> = {
  [FATTR4.SUPPORTED_ATTRS]: bitmap4, [FATTR4.TYPE]: u32, [FATTR4.FH_EXPIRE_TYPE]: u32, [FATTR4.CHANGE]: u64,
  [FATTR4.SIZE]: u64, [FATTR4.LINK_SUPPORT]: bool, [FATTR4.SYMLINK_SUPPORT]: bool, [FATTR4.NAMED_ATTR]: bool,
  [FATTR4.FSID]: fsid4, [FATTR4.UNIQUE_HANDLES]: bool, [FATTR4.LEASE_TIME]: u32, [FATTR4.RDATTR_ERROR]: u32,
  [FATTR4.ACLSUPPORT]: u32, [FATTR4.CANSETTIME]: bool, [FATTR4.CASE_INSENSITIVE]: bool, [FATTR4.CASE_PRESERVING]: bool,
  [FATTR4.CHOWN_RESTRICTED]: bool, [FATTR4.FILEHANDLE]: opaque(NFS4_FHSIZE), [FATTR4.FILEID]: u64,
  [FATTR4.FILES_AVAIL]: u64, [FATTR4.FILES_FREE]: u64, [FATTR4.FILES_TOTAL]: u64, [FATTR4.HOMOGENEOUS]: bool,
  [FATTR4.MAXFILESIZE]: u64, [FATTR4.MAXLINK]: u32, [FATTR4.MAXNAME]: u32, [FATTR4.MAXREAD]: u64, [FATTR4.MAXWRITE]: u64,
  [FATTR4.MODE]: u32, [FATTR4.NO_TRUNC]: bool, [FATTR4.NUMLINKS]: u32, [FATTR4.OWNER]: utf8, [FATTR4.OWNER_GROUP]: utf8,
  [FATTR4.RAWDEV]: specdata4, [FATTR4.SPACE_AVAIL]: u64, [FATTR4.SPACE_FREE]: u64, [FATTR4.SPACE_TOTAL]: u64,
  [FATTR4.SPACE_USED]: u64, [FATTR4.TIME_ACCESS]: nfstime4, [FATTR4.TIME_ACCESS_SET]: settime4,
  [FATTR4.TIME_CREATE]: nfstime4, [FATTR4.TIME_DELTA]: nfstime4, [FATTR4.TIME_METADATA]: nfstime4,
  [FATTR4.TIME_MODIFY]: nfstime4, [FATTR4.TIME_MODIFY_SET]: settime4, [FATTR4.MOUNTED_ON_FILEID]: u64,
  [FATTR4.SUPPATTR_EXCLCREAT]: bitmap4,
};

/** Attributes a client may set (SETATTR, CREATE, OPEN): size, mode, owner, owner_group, atime, mtime. */
export const SETTABLE: ReadonlySet<number> = new Set([FATTR4.SIZE, FATTR4.MODE, FATTR4.OWNER, FATTR4.OWNER_GROUP, FATTR4.TIME_ACCESS_SET, FATTR4.TIME_MODIFY_SET]);
/** Write-only attributes (no GETATTR value). */
export const WRITE_ONLY: ReadonlySet<number> = new Set([FATTR4.TIME_ACCESS_SET, FATTR4.TIME_MODIFY_SET]);

/** The attribute numbers set in a bitmap4, ascending. */
export function bitsOf(words: readonly number[]): number[] {
  const out: number[] = [];
  words.forEach((w, i) => {
    for (let b = 0; b < 32; b++) if ((w >>> b) & 1) out.push(i * 32 + b);
  });
  return out;
}

/** A bitmap4 with the given attribute numbers set (no trailing zero words). */
export function bitmapOf(attrs: Iterable<number>): number[] {
  const words: number[] = [];
  for (const a of attrs) {
    const i = a >>> 5;
    while (words.length <= i) words.push(0);
    words[i] = (words[i]! | (1 << (a & 31))) >>> 0;
  }
  return words;
}

/**
 * Encodes fattr4 for `requested` attributes (any order; encoded ascending): for each that `value` answers (not
 * undefined), its value goes into attr_vals and its bit into attrmask.
 */
export function encodeFattr(requested: readonly number[], value: (attr: number) => unknown): Fattr4 {
  const w = new XdrWriter(256);
  const set: number[] = [];
  for (const a of [...new Set(requested)].sort((x, y) => x - y)) {
    const c = ATTR_CODECS[a];
    if (!c) continue;
    const v = value(a);
    if (v === undefined) continue;
    c.enc(w, v);
    set.push(a);
  }
  return { attrmask: bitmapOf(set), attr_vals: Buffer.from(w.bytes()) };
}

/** Writes a fattr4. */
export function writeFattr(w: XdrWriter, f: Fattr4): void {
  w.array(f.attrmask, (x, v) => x.uint(v)).opaque(f.attr_vals);
}

/** Why a fattr4 cannot be taken: ATTRNOTSUPP (attr unknown to us), INVAL (read-only), BADXDR (values do not decode). */
export class AttrDecodeError extends Error {
  constructor(readonly why: 'attrnotsupp' | 'inval' | 'badxdr', message: string) {
    super(message);
  }
}

/**
 * Decodes the values of a fattr4. With `only`, an attribute outside it is an error
 * ('inval' if we know it — read-only in SETATTR — else 'attrnotsupp') before any value is read.
 */
export function decodeFattr(f: Fattr4, only?: ReadonlySet<number>): Map<number, unknown> {
  const bits = bitsOf(f.attrmask);
  for (const a of bits) {
    if (!ATTR_CODECS[a]) throw new AttrDecodeError('attrnotsupp', `attribute ${a} not supported`);
    if (only && !only.has(a)) throw new AttrDecodeError('inval', `attribute ${a} cannot be set`);
  }
  const r = new XdrReader(f.attr_vals);
  const out = new Map<number, unknown>();
  try {
    for (const a of bits) out.set(a, ATTR_CODECS[a]!.dec(r));
    r.end('attrlist4');
  } catch (err) {
    if (err instanceof XdrError) throw new AttrDecodeError('badxdr', err.message);
    throw err;
  }
  return out;
}
