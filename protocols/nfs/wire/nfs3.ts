/**
 * NFS version 3 (RFC 1813 section 2 and 3): the data types (nfs_fh3, fattr3, post_op_attr,
 * wcc_data, sattr3, …) and the arguments of every procedure, each with its decoder and
 * encoder (the encoders serve clients and tests), plus writers for the results. Sans-IO.
 */
import { XdrError, type XdrReader, XdrWriter } from './xdr.js';

export const NFS_PROG = 100003;
export const NFS_VERS = 3;
/** NFS3_FHSIZE (section 2.4). */
export const NFS3_FHSIZE = 64;
/** NFS3_COOKIEVERFSIZE, NFS3_CREATEVERFSIZE, NFS3_WRITEVERFSIZE (section 2.4). */
export const VERF_SIZE = 8;
/** Longest filename3 / nfspath3 a decoder accepts (the VFS then says ENAMETOOLONG past 255). */
export const MAX_NAME = 1024;
export const MAX_PATH = 4096;
/** Largest READ/WRITE payload (FSINFO rtmax/wtmax). */
export const MAX_IO = 1 << 20;

export const PROC = {
  NULL: 0, GETATTR: 1, SETATTR: 2, LOOKUP: 3, ACCESS: 4, READLINK: 5, READ: 6, WRITE: 7, CREATE: 8,
  MKDIR: 9, SYMLINK: 10, MKNOD: 11, REMOVE: 12, RMDIR: 13, RENAME: 14, LINK: 15, READDIR: 16,
  READDIRPLUS: 17, FSSTAT: 18, FSINFO: 19, PATHCONF: 20, COMMIT: 21,
} as const;

/** nfsstat3 (section 2.6). */
export const NFS3 = {
  OK: 0, ERR_PERM: 1, ERR_NOENT: 2, ERR_IO: 5, ERR_NXIO: 6, ERR_ACCES: 13, ERR_EXIST: 17, ERR_XDEV: 18,
  ERR_NODEV: 19, ERR_NOTDIR: 20, ERR_ISDIR: 21, ERR_INVAL: 22, ERR_FBIG: 27, ERR_NOSPC: 28, ERR_ROFS: 30,
  ERR_MLINK: 31, ERR_NAMETOOLONG: 63, ERR_NOTEMPTY: 66, ERR_DQUOT: 69, ERR_STALE: 70, ERR_REMOTE: 71,
  ERR_BADHANDLE: 10001, ERR_NOT_SYNC: 10002, ERR_BAD_COOKIE: 10003, ERR_NOTSUPP: 10004, ERR_TOOSMALL: 10005,
  ERR_SERVERFAULT: 10006, ERR_BADTYPE: 10007, ERR_JUKEBOX: 10008,
} as const;
export type Nfsstat3 = (typeof NFS3)[keyof typeof NFS3];

/** ftype3. */
export const FTYPE = { REG: 1, DIR: 2, BLK: 3, CHR: 4, LNK: 5, SOCK: 6, FIFO: 7 } as const;
const FTYPES = Object.values(FTYPE);
/** stable_how. */
export const STABLE = { UNSTABLE: 0, DATA_SYNC: 1, FILE_SYNC: 2 } as const;
/** createmode3. */
export const CREATE_MODE = { UNCHECKED: 0, GUARDED: 1, EXCLUSIVE: 2 } as const;
/** time_how. */
export const TIME_HOW = { DONT_CHANGE: 0, SET_TO_SERVER_TIME: 1, SET_TO_CLIENT_TIME: 2 } as const;
/** ACCESS3_* bits (section 3.3.4). */
export const ACCESS3 = { READ: 0x01, LOOKUP: 0x02, MODIFY: 0x04, EXTEND: 0x08, DELETE: 0x10, EXECUTE: 0x20 } as const;
/** FSINFO properties (section 3.3.19). */
export const FSF3 = { LINK: 0x01, SYMLINK: 0x02, HOMOGENEOUS: 0x08, CANSETTIME: 0x10 } as const;

export interface NfsTime {
  sec: number;
  nsec: number;
}

/** fattr3 (section 2.6). */
export interface Fattr3 {
  type: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: bigint;
  used: bigint;
  rdev: [number, number];
  fsid: bigint;
  fileid: bigint;
  atime: NfsTime;
  mtime: NfsTime;
  ctime: NfsTime;
}

/** wcc_attr (section 2.6). */
export interface WccAttr {
  size: bigint;
  mtime: NfsTime;
  ctime: NfsTime;
}

/** sattr3 (section 2.6): absent fields are not set; 'server' = SET_TO_SERVER_TIME. */
export interface Sattr3 {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: bigint;
  atime?: NfsTime | 'server';
  mtime?: NfsTime | 'server';
}

export interface DirOp {
  dir: Buffer;
  name: string;
}

// ---- primitive types ----

export const readFh = (r: XdrReader): Buffer => r.opaque(NFS3_FHSIZE, 'nfs_fh3');
const readTime = (r: XdrReader): NfsTime => {
  const sec = r.uint('seconds'), nsec = r.uint('nseconds');
  if (nsec >= 1e9) throw new XdrError(`nseconds out of range: ${nsec}`);
  return { sec, nsec };
};
const writeTime = (w: XdrWriter, t: NfsTime): void => void w.uint(t.sec).uint(t.nsec);
const readName = (r: XdrReader): string => r.string(MAX_NAME, 'filename3');
const readDirOp = (r: XdrReader): DirOp => ({ dir: readFh(r), name: readName(r) });
const writeDirOp = (w: XdrWriter, d: DirOp): void => void w.opaque(d.dir).string(d.name);

export function readSattr3(r: XdrReader): Sattr3 {
  const s: Sattr3 = {};
  if (r.bool('set_mode')) s.mode = r.uint('mode');
  if (r.bool('set_uid')) s.uid = r.uint('uid');
  if (r.bool('set_gid')) s.gid = r.uint('gid');
  if (r.bool('set_size')) s.size = r.uhyper('size');
  for (const k of ['atime', 'mtime'] as const) {
    const how = r.enumOf([0, 1, 2], `set_${k}`);
    if (how === TIME_HOW.SET_TO_SERVER_TIME) s[k] = 'server';
    else if (how === TIME_HOW.SET_TO_CLIENT_TIME) s[k] = readTime(r);
  }
  return s;
}

export function writeSattr3(w: XdrWriter, s: Sattr3): void {
  w.optional(s.mode, (x, v) => x.uint(v)).optional(s.uid, (x, v) => x.uint(v)).optional(s.gid, (x, v) => x.uint(v)).optional(s.size, (x, v) => x.uhyper(v));
  for (const t of [s.atime, s.mtime]) {
    if (t === undefined) w.uint(TIME_HOW.DONT_CHANGE);
    else if (t === 'server') w.uint(TIME_HOW.SET_TO_SERVER_TIME);
    else writeTime(w.uint(TIME_HOW.SET_TO_CLIENT_TIME), t);
  }
}

export function writeFattr3(w: XdrWriter, a: Fattr3): void {
  w.uint(a.type).uint(a.mode).uint(a.nlink).uint(a.uid).uint(a.gid).uhyper(a.size).uhyper(a.used).uint(a.rdev[0]).uint(a.rdev[1]).uhyper(a.fsid).uhyper(a.fileid);
  writeTime(w, a.atime);
  writeTime(w, a.mtime);
  writeTime(w, a.ctime);
}

export function readFattr3(r: XdrReader): Fattr3 {
  return {
    type: r.enumOf(FTYPES, 'ftype3'), mode: r.uint('mode'), nlink: r.uint('nlink'), uid: r.uint('uid'), gid: r.uint('gid'),
    size: r.uhyper('size'), used: r.uhyper('used'), rdev: [r.uint('specdata1'), r.uint('specdata2')], fsid: r.uhyper('fsid'),
    fileid: r.uhyper('fileid'), atime: readTime(r), mtime: readTime(r), ctime: readTime(r),
  };
}

/** post_op_attr. */
export const writePostOpAttr = (w: XdrWriter, a: Fattr3 | undefined): void => void w.optional(a, writeFattr3);
export const readPostOpAttr = (r: XdrReader): Fattr3 | undefined => r.optional(readFattr3, 'post_op_attr');

/** wcc_data: pre_op_attr (wcc_attr) then post_op_attr. */
export function writeWcc(w: XdrWriter, pre: WccAttr | undefined, post: Fattr3 | undefined): void {
  w.optional(pre, (x, p) => { x.uhyper(p.size); writeTime(x, p.mtime); writeTime(x, p.ctime); });
  writePostOpAttr(w, post);
}

export function readWcc(r: XdrReader): { pre?: WccAttr; post?: Fattr3 } {
  const pre = r.optional((x) => ({ size: x.uhyper('size'), mtime: readTime(x), ctime: readTime(x) }), 'pre_op_attr');
  const post = readPostOpAttr(r);
  return { ...(pre ? { pre } : {}), ...(post ? { post } : {}) };
}

/** post_op_fh3. */
export const writePostOpFh = (w: XdrWriter, fh: Uint8Array | undefined): void => void w.optional(fh, (x, v) => x.opaque(v));

// ---- procedure arguments (section 3.3) ----

export type SetattrArgs = { fh: Buffer; attr: Sattr3; guard?: NfsTime };
export type AccessArgs = { fh: Buffer; access: number };
export type ReadArgs = { fh: Buffer; offset: bigint; count: number };
export type WriteArgs = { fh: Buffer; offset: bigint; count: number; stable: number; data: Buffer };
export type CreateArgs = { where: DirOp; mode: number; attr?: Sattr3; verf?: Buffer };
export type MkdirArgs = { where: DirOp; attr: Sattr3 };
export type SymlinkArgs = { where: DirOp; attr: Sattr3; target: string };
export type MknodArgs = { where: DirOp; type: number; attr?: Sattr3; rdev?: [number, number] };
export type RenameArgs = { from: DirOp; to: DirOp };
export type LinkArgs = { fh: Buffer; link: DirOp };
export type ReaddirArgs = { fh: Buffer; cookie: bigint; verf: Buffer; count: number };
export type ReaddirplusArgs = { fh: Buffer; cookie: bigint; verf: Buffer; dircount: number; maxcount: number };
export type CommitArgs = { fh: Buffer; offset: bigint; count: number };

/** The argument type of each procedure. */
export interface ArgsOf {
  [PROC.NULL]: null;
  [PROC.GETATTR]: Buffer;
  [PROC.SETATTR]: SetattrArgs;
  [PROC.LOOKUP]: DirOp;
  [PROC.ACCESS]: AccessArgs;
  [PROC.READLINK]: Buffer;
  [PROC.READ]: ReadArgs;
  [PROC.WRITE]: WriteArgs;
  [PROC.CREATE]: CreateArgs;
  [PROC.MKDIR]: MkdirArgs;
  [PROC.SYMLINK]: SymlinkArgs;
  [PROC.MKNOD]: MknodArgs;
  [PROC.REMOVE]: DirOp;
  [PROC.RMDIR]: DirOp;
  [PROC.RENAME]: RenameArgs;
  [PROC.LINK]: LinkArgs;
  [PROC.READDIR]: ReaddirArgs;
  [PROC.READDIRPLUS]: ReaddirplusArgs;
  [PROC.FSSTAT]: Buffer;
  [PROC.FSINFO]: Buffer;
  [PROC.PATHCONF]: Buffer;
  [PROC.COMMIT]: CommitArgs;
}
export type Proc = keyof ArgsOf;

interface Codec<T> {
  decode(r: XdrReader): T;
  encode(w: XdrWriter, v: T): void;
}

const fhCodec: Codec<Buffer> = { decode: readFh, encode: (w, v) => void w.opaque(v) };
const dirOpCodec: Codec<DirOp> = { decode: readDirOp, encode: writeDirOp };

/** Decoder and encoder of every procedure's arguments. */
export const ARGS: { [P in Proc]: Codec<ArgsOf[P]> } = {
  [PROC.NULL]: { decode: () => null, encode: () => undefined },
  [PROC.GETATTR]: fhCodec,
  [PROC.SETATTR]: {
    decode: (r) => {
      const fh = readFh(r), attr = readSattr3(r);
      const guard = r.optional(readTime, 'sattrguard3');
      return guard ? { fh, attr, guard } : { fh, attr };
    },
    encode: (w, v) => { w.opaque(v.fh); writeSattr3(w, v.attr); w.optional(v.guard, writeTime); },
  },
  [PROC.LOOKUP]: dirOpCodec,
  [PROC.ACCESS]: { decode: (r) => ({ fh: readFh(r), access: r.uint('access') }), encode: (w, v) => void w.opaque(v.fh).uint(v.access) },
  [PROC.READLINK]: fhCodec,
  [PROC.READ]: {
    decode: (r) => ({ fh: readFh(r), offset: r.uhyper('offset'), count: r.uint('count') }),
    encode: (w, v) => void w.opaque(v.fh).uhyper(v.offset).uint(v.count),
  },
  [PROC.WRITE]: {
    decode: (r) => {
      const fh = readFh(r), offset = r.uhyper('offset'), count = r.uint('count');
      const stable = r.enumOf([0, 1, 2], 'stable_how');
      const data = r.opaque(MAX_IO, 'data');
      if (data.length !== count) throw new XdrError(`WRITE count ${count} but ${data.length} data bytes`);
      return { fh, offset, count, stable, data };
    },
    encode: (w, v) => void w.opaque(v.fh).uhyper(v.offset).uint(v.count).uint(v.stable).opaque(v.data),
  },
  [PROC.CREATE]: {
    decode: (r) => {
      const where = readDirOp(r);
      const mode = r.enumOf([0, 1, 2], 'createmode3');
      return mode === CREATE_MODE.EXCLUSIVE ? { where, mode, verf: r.fixed(VERF_SIZE, 'createverf3') } : { where, mode, attr: readSattr3(r) };
    },
    encode: (w, v) => {
      writeDirOp(w, v.where);
      w.uint(v.mode);
      if (v.mode === CREATE_MODE.EXCLUSIVE) w.fixed(v.verf ?? Buffer.alloc(VERF_SIZE));
      else writeSattr3(w, v.attr ?? {});
    },
  },
  [PROC.MKDIR]: { decode: (r) => ({ where: readDirOp(r), attr: readSattr3(r) }), encode: (w, v) => { writeDirOp(w, v.where); writeSattr3(w, v.attr); } },
  [PROC.SYMLINK]: {
    decode: (r) => ({ where: readDirOp(r), attr: readSattr3(r), target: r.string(MAX_PATH, 'nfspath3') }),
    encode: (w, v) => { writeDirOp(w, v.where); writeSattr3(w, v.attr); w.string(v.target); },
  },
  [PROC.MKNOD]: {
    decode: (r) => {
      const where = readDirOp(r);
      const type = r.enumOf(FTYPES, 'ftype3');
      if (type === FTYPE.CHR || type === FTYPE.BLK) return { where, type, attr: readSattr3(r), rdev: [r.uint('specdata1'), r.uint('specdata2')] };
      if (type === FTYPE.SOCK || type === FTYPE.FIFO) return { where, type, attr: readSattr3(r) };
      return { where, type };
    },
    encode: (w, v) => {
      writeDirOp(w, v.where);
      w.uint(v.type);
      if (v.type === FTYPE.CHR || v.type === FTYPE.BLK) { writeSattr3(w, v.attr ?? {}); w.uint(v.rdev?.[0] ?? 0).uint(v.rdev?.[1] ?? 0); }
      else if (v.type === FTYPE.SOCK || v.type === FTYPE.FIFO) writeSattr3(w, v.attr ?? {});
    },
  },
  [PROC.REMOVE]: dirOpCodec,
  [PROC.RMDIR]: dirOpCodec,
  [PROC.RENAME]: { decode: (r) => ({ from: readDirOp(r), to: readDirOp(r) }), encode: (w, v) => { writeDirOp(w, v.from); writeDirOp(w, v.to); } },
  [PROC.LINK]: { decode: (r) => ({ fh: readFh(r), link: readDirOp(r) }), encode: (w, v) => { w.opaque(v.fh); writeDirOp(w, v.link); } },
  [PROC.READDIR]: {
    decode: (r) => ({ fh: readFh(r), cookie: r.uhyper('cookie'), verf: r.fixed(VERF_SIZE, 'cookieverf3'), count: r.uint('count') }),
    encode: (w, v) => void w.opaque(v.fh).uhyper(v.cookie).fixed(v.verf).uint(v.count),
  },
  [PROC.READDIRPLUS]: {
    decode: (r) => ({ fh: readFh(r), cookie: r.uhyper('cookie'), verf: r.fixed(VERF_SIZE, 'cookieverf3'), dircount: r.uint('dircount'), maxcount: r.uint('maxcount') }),
    encode: (w, v) => void w.opaque(v.fh).uhyper(v.cookie).fixed(v.verf).uint(v.dircount).uint(v.maxcount),
  },
  [PROC.FSSTAT]: fhCodec,
  [PROC.FSINFO]: fhCodec,
  [PROC.PATHCONF]: fhCodec,
  [PROC.COMMIT]: {
    decode: (r) => ({ fh: readFh(r), offset: r.uhyper('offset'), count: r.uint('count') }),
    encode: (w, v) => void w.opaque(v.fh).uhyper(v.offset).uint(v.count),
  },
};

/** Decodes the arguments of `proc` from the whole rest of the call (trailing bytes are garbage). */
export function decodeArgs<P extends Proc>(proc: P, r: XdrReader): ArgsOf[P] {
  const v = ARGS[proc].decode(r);
  r.end('arguments');
  return v;
}

export function encodeArgs<P extends Proc>(proc: P, v: ArgsOf[P]): Buffer {
  const w = new XdrWriter(128);
  ARGS[proc].encode(w, v);
  return w.bytes();
}

// ---- directory listings (sections 3.3.16, 3.3.17) ----

/** Bytes an entry3 takes in a READDIR reply: value-follows, fileid, name, cookie. */
export const entry3Size = (nameBytes: number): number => 4 + 8 + 4 + ((nameBytes + 3) & ~3) + 8;
/** Bytes an entryplus3 takes with attributes and a handle of `fhLen` bytes. */
export const entryplus3Size = (nameBytes: number, fhLen: number): number => entry3Size(nameBytes) + 4 + 84 + 4 + 4 + ((fhLen + 3) & ~3);

export interface Entry3 {
  fileid: bigint;
  name: string;
  cookie: bigint;
}

export interface EntryPlus3 extends Entry3 {
  attr?: Fattr3;
  fh?: Buffer;
}

/** Decodes a READDIR(PLUS) dirlist (clients and tests); at most `max` entries. */
export function readDirList(r: XdrReader, plus: boolean, max = 65536): { entries: EntryPlus3[]; eof: boolean } {
  const entries: EntryPlus3[] = [];
  while (r.bool('entry')) {
    if (entries.length >= max) throw new XdrError('too many entries');
    const e: EntryPlus3 = { fileid: r.uhyper('fileid'), name: readName(r), cookie: r.uhyper('cookie') };
    if (plus) {
      const attr = readPostOpAttr(r);
      const fh = r.optional(readFh, 'post_op_fh3');
      if (attr) e.attr = attr;
      if (fh) e.fh = fh;
    }
    entries.push(e);
  }
  return { entries, eof: r.bool('eof') };
}

export { XdrWriter };
