/**
 * Client side of NFSv4.1 COMPOUND (RFC 8881 §16, §18; XDR of RFC 5662): the constants, an
 * encoder per operation the suite sends and a decoder per result it reads. Written from the
 * RFC text on purpose, independent from the server's code, so that it is a second reading
 * of the spec (the test oracle). Every decoder goes through the bounds-checked XdrReader
 * with explicit maximum lengths.
 */
import { XdrError, XdrReader, XdrWriter } from '../../protocols/nfs/wire/xdr.js';

export const NFS4_PROGRAM = 100003;
export const NFS_V4 = 4;
export const PROC4 = { NULL: 0, COMPOUND: 1 } as const;

/** Protocol limits (RFC 8881 §3.2 / RFC 5662). */
export const NFS4_FHSIZE = 128;
export const NFS4_OPAQUE_LIMIT = 1024;
export const NFS4_SESSIONID_SIZE = 16;
export const NFS4_VERIFIER_SIZE = 8;
export const NFS4_OTHER_SIZE = 12;
/** Our own decode limits (not protocol ones): big enough for anything a server sends to the suite. */
const MAX_OPS = 1024;
const MAX_BITMAP_WORDS = 16;
const MAX_ATTR_BYTES = 1 << 16;
const MAX_READ = 4 << 20;
const MAX_TAG = 1024;

/** nfs_opnum4 (RFC 8881 §16.2.1 / RFC 5662). */
export const OP = {
  ACCESS: 3, CLOSE: 4, COMMIT: 5, CREATE: 6, DELEGPURGE: 7, DELEGRETURN: 8, GETATTR: 9, GETFH: 10,
  LINK: 11, LOCK: 12, LOCKT: 13, LOCKU: 14, LOOKUP: 15, LOOKUPP: 16, NVERIFY: 17, OPEN: 18,
  OPENATTR: 19, OPEN_CONFIRM: 20, OPEN_DOWNGRADE: 21, PUTFH: 22, PUTPUBFH: 23, PUTROOTFH: 24,
  READ: 25, READDIR: 26, READLINK: 27, REMOVE: 28, RENAME: 29, RENEW: 30, RESTOREFH: 31,
  SAVEFH: 32, SECINFO: 33, SETATTR: 34, SETCLIENTID: 35, SETCLIENTID_CONFIRM: 36, VERIFY: 37,
  WRITE: 38, RELEASE_LOCKOWNER: 39, BACKCHANNEL_CTL: 40, BIND_CONN_TO_SESSION: 41,
  EXCHANGE_ID: 42, CREATE_SESSION: 43, DESTROY_SESSION: 44, FREE_STATEID: 45,
  GET_DIR_DELEGATION: 46, GETDEVICEINFO: 47, GETDEVICELIST: 48, LAYOUTCOMMIT: 49, LAYOUTGET: 50,
  LAYOUTRETURN: 51, SECINFO_NO_NAME: 52, SEQUENCE: 53, SET_SSV: 54, TEST_STATEID: 55,
  WANT_DELEGATION: 56, DESTROY_CLIENTID: 57, RECLAIM_COMPLETE: 58, ILLEGAL: 10044,
} as const;
export type OpName = keyof typeof OP;
const OP_NAME = new Map<number, OpName>(Object.entries(OP).map(([k, v]) => [v, k as OpName]));

/** nfsstat4 (RFC 8881 §15.1). */
export const NFS4ERR = {
  OK: 0, PERM: 1, NOENT: 2, IO: 5, NXIO: 6, ACCESS: 13, EXIST: 17, XDEV: 18, NOTDIR: 20, ISDIR: 21,
  INVAL: 22, FBIG: 27, NOSPC: 28, ROFS: 30, MLINK: 31, NAMETOOLONG: 63, NOTEMPTY: 66, DQUOT: 69,
  STALE: 70, BADHANDLE: 10001, BAD_COOKIE: 10003, NOTSUPP: 10004, TOOSMALL: 10005,
  SERVERFAULT: 10006, BADTYPE: 10007, DELAY: 10008, SAME: 10009, DENIED: 10010, EXPIRED: 10011,
  LOCKED: 10012, GRACE: 10013, FHEXPIRED: 10014, SHARE_DENIED: 10015, WRONGSEC: 10016,
  CLID_INUSE: 10017, RESOURCE: 10018, MOVED: 10019, NOFILEHANDLE: 10020, MINOR_VERS_MISMATCH: 10021,
  STALE_CLIENTID: 10022, STALE_STATEID: 10023, OLD_STATEID: 10024, BAD_STATEID: 10025,
  BAD_SEQID: 10026, NOT_SAME: 10027, LOCK_RANGE: 10028, SYMLINK: 10029, RESTOREFH: 10030,
  LEASE_MOVED: 10031, ATTRNOTSUPP: 10032, NO_GRACE: 10033, RECLAIM_BAD: 10034,
  RECLAIM_CONFLICT: 10035, BADXDR: 10036, LOCKS_HELD: 10037, OPENMODE: 10038, BADOWNER: 10039,
  BADCHAR: 10040, BADNAME: 10041, BAD_RANGE: 10042, LOCK_NOTSUPP: 10043, OP_ILLEGAL: 10044,
  DEADLOCK: 10045, FILE_OPEN: 10046, ADMIN_REVOKED: 10047, CB_PATH_DOWN: 10048, BADIOMODE: 10049,
  BADLAYOUT: 10050, BAD_SESSION_DIGEST: 10051, BADSESSION: 10052, BADSLOT: 10053,
  COMPLETE_ALREADY: 10054, CONN_NOT_BOUND_TO_SESSION: 10055, DELEG_ALREADY_WANTED: 10056,
  BACK_CHAN_BUSY: 10057, LAYOUTTRYLATER: 10058, LAYOUTUNAVAILABLE: 10059, NOMATCHING_LAYOUT: 10060,
  RECALLCONFLICT: 10061, UNKNOWN_LAYOUTTYPE: 10062, SEQ_MISORDERED: 10063, SEQUENCE_POS: 10064,
  REQ_TOO_BIG: 10065, REP_TOO_BIG: 10066, REP_TOO_BIG_TO_CACHE: 10067, RETRY_UNCACHED_REP: 10068,
  UNSAFE_COMPOUND: 10069, TOO_MANY_OPS: 10070, OP_NOT_IN_SESSION: 10071, HASH_ALG_UNSUPP: 10072,
  CLIENTID_BUSY: 10074, PNFS_IO_HOLE: 10075, SEQ_FALSE_RETRY: 10076, BAD_HIGH_SLOT: 10077,
  DEADSESSION: 10078, ENCR_ALG_UNSUPP: 10079, PNFS_NO_LAYOUT: 10080, NOT_ONLY_OP: 10081,
  WRONG_CRED: 10082, WRONG_TYPE: 10083, DIRDELEG_UNAVAIL: 10084, REJECT_DELEG: 10085,
  RETURNCONFUSED: 10086, DELEG_REVOKED: 10087,
} as const;
export type StatusName = keyof typeof NFS4ERR;
const STATUS_NAME = new Map<number, StatusName>(Object.entries(NFS4ERR).map(([k, v]) => [v, k as StatusName]));
/** "NFS4_OK", "NFS4ERR_NOENT", or "nfsstat4(n)" for a number the RFC does not define. */
export function statusName(n: number): string {
  const s = STATUS_NAME.get(n);
  if (s === undefined) return `nfsstat4(${n})`;
  return s === 'OK' ? 'NFS4_OK' : `NFS4ERR_${s}`;
}

/** nfs_ftype4. */
export const NF4 = { REG: 1, DIR: 2, BLK: 3, CHR: 4, LNK: 5, SOCK: 6, FIFO: 7, ATTRDIR: 8, NAMEDATTR: 9 } as const;
export const SHARE_ACCESS = { READ: 1, WRITE: 2, BOTH: 3 } as const;
export const SHARE_DENY = { NONE: 0, READ: 1, WRITE: 2, BOTH: 3 } as const;
export const CREATEMODE = { UNCHECKED: 0, GUARDED: 1, EXCLUSIVE: 2, EXCLUSIVE4_1: 3 } as const;
export const CLAIM = { NULL: 0, PREVIOUS: 1, DELEGATE_CUR: 2, DELEGATE_PREV: 3, FH: 4 } as const;
export const DELEG = { NONE: 0, READ: 1, WRITE: 2, NONE_EXT: 3 } as const;
export const LOCK_TYPE = { READ: 1, WRITE: 2, READW: 3, WRITEW: 4 } as const;
export const STABLE = { UNSTABLE: 0, DATA_SYNC: 1, FILE_SYNC: 2 } as const;
/** EXCHANGE_ID flags (RFC 8881 §18.35). */
export const EXCHGID4_FLAG = { USE_NON_PNFS: 0x10000, UPD_CONFIRMED_REC_A: 0x40000000, CONFIRMED_R: 0x80000000 } as const;
/** sr_status_flags of SEQUENCE (RFC 8881 §18.46.3). */
export const SEQ4_STATUS = {
  CB_PATH_DOWN: 0x1, CB_GSS_CONTEXTS_EXPIRING: 0x2, CB_GSS_CONTEXTS_EXPIRED: 0x4,
  EXPIRED_ALL_STATE_REVOKED: 0x8, EXPIRED_SOME_STATE_REVOKED: 0x10, ADMIN_STATE_REVOKED: 0x20,
  RECALLABLE_STATE_REVOKED: 0x40, LEASE_MOVED: 0x80, RESTART_RECLAIM_NEEDED: 0x100,
  CB_PATH_DOWN_SESSION: 0x200, BACKCHANNEL_FAULT: 0x400, DEVID_CHANGED: 0x800, DEVID_DELETED: 0x1000,
} as const;
export const ALL_ANY_REVOKED = SEQ4_STATUS.EXPIRED_ALL_STATE_REVOKED | SEQ4_STATUS.EXPIRED_SOME_STATE_REVOKED | SEQ4_STATUS.ADMIN_STATE_REVOKED | SEQ4_STATUS.RECALLABLE_STATE_REVOKED;

/** Attribute numbers (RFC 8881 §5.6–5.8). */
export const FATTR4 = {
  SUPPORTED_ATTRS: 0, TYPE: 1, FH_EXPIRE_TYPE: 2, CHANGE: 3, SIZE: 4, LINK_SUPPORT: 5,
  SYMLINK_SUPPORT: 6, NAMED_ATTR: 7, FSID: 8, UNIQUE_HANDLES: 9, LEASE_TIME: 10, RDATTR_ERROR: 11,
  FILEHANDLE: 19, FILEID: 20, MODE: 33, NUMLINKS: 35, OWNER: 36, OWNER_GROUP: 37,
  SUPPATTR_EXCLCREAT: 75,
} as const;
/** The REQUIRED attributes of NFSv4.1 (RFC 8881 §5.6, table 4). */
export const REQUIRED_ATTRS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 19, 75] as const;

export interface Stateid { seqid: number; other: Buffer }
export const ANONYMOUS_STATEID: Stateid = { seqid: 0, other: Buffer.alloc(12) };
export interface LockOwner { clientid: bigint; owner: Buffer }
export interface Attrs {
  supportedAttrs?: number[]; type?: number; fhExpireType?: number; change?: bigint; size?: bigint;
  linkSupport?: boolean; symlinkSupport?: boolean; namedAttr?: boolean; fsid?: { major: bigint; minor: bigint };
  uniqueHandles?: boolean; leaseTime?: number; rdattrError?: number; filehandle?: Buffer; fileid?: bigint;
  mode?: number; numlinks?: number; owner?: string; ownerGroup?: string; suppattrExclcreat?: number[];
}
/** Attributes to set (CREATE, OPEN createattrs, SETATTR): only these few are encoded. */
export interface SetAttrs { size?: bigint; mode?: number }

// ---- bitmaps and fattr4 ----

export function bitmapOf(bits: readonly number[]): number[] {
  const words: number[] = [];
  for (const b of bits) {
    const w = b >>> 5;
    while (words.length <= w) words.push(0);
    words[w] = (words[w]! | (1 << (b & 31))) >>> 0;
  }
  return words;
}
export function bitsOf(words: readonly number[]): number[] {
  const out: number[] = [];
  words.forEach((w, i) => { for (let b = 0; b < 32; b++) if (w & (1 << b)) out.push(i * 32 + b); });
  return out;
}
const readBitmap = (r: XdrReader): number[] => r.array(MAX_BITMAP_WORDS, (x) => x.uint('bitmap word'), 'bitmap4');
const writeBitmap = (w: XdrWriter, words: readonly number[]): void => { w.array(words, (x, v) => x.uint(v)); };

function writeFattr(w: XdrWriter, a: SetAttrs = {}): void {
  const bits: number[] = [];
  const vals = new XdrWriter(32);
  // values in increasing attribute number: size (4), mode (33)
  if (a.size !== undefined) { bits.push(FATTR4.SIZE); vals.uhyper(a.size); }
  if (a.mode !== undefined) { bits.push(FATTR4.MODE); vals.uint(a.mode); }
  writeBitmap(w, bitmapOf(bits));
  w.opaque(vals.bytes());
}

/** Decodes fattr4; stops (keeping what it has) at the first attribute it cannot decode. */
export function readFattr(r: XdrReader): Attrs {
  const bits = bitsOf(readBitmap(r));
  const v = new XdrReader(r.opaque(MAX_ATTR_BYTES, 'attr_vals'));
  const a: Attrs = {};
  for (const b of bits) {
    switch (b) {
      case FATTR4.SUPPORTED_ATTRS: a.supportedAttrs = bitsOf(readBitmap(v)); break;
      case FATTR4.TYPE: a.type = v.uint('type'); break;
      case FATTR4.FH_EXPIRE_TYPE: a.fhExpireType = v.uint('fh_expire_type'); break;
      case FATTR4.CHANGE: a.change = v.uhyper('change'); break;
      case FATTR4.SIZE: a.size = v.uhyper('size'); break;
      case FATTR4.LINK_SUPPORT: a.linkSupport = v.bool('link_support'); break;
      case FATTR4.SYMLINK_SUPPORT: a.symlinkSupport = v.bool('symlink_support'); break;
      case FATTR4.NAMED_ATTR: a.namedAttr = v.bool('named_attr'); break;
      case FATTR4.FSID: a.fsid = { major: v.uhyper('fsid major'), minor: v.uhyper('fsid minor') }; break;
      case FATTR4.UNIQUE_HANDLES: a.uniqueHandles = v.bool('unique_handles'); break;
      case FATTR4.LEASE_TIME: a.leaseTime = v.uint('lease_time'); break;
      case FATTR4.RDATTR_ERROR: a.rdattrError = v.uint('rdattr_error'); break;
      case FATTR4.FILEHANDLE: a.filehandle = Buffer.from(v.opaque(NFS4_FHSIZE, 'filehandle')); break;
      case FATTR4.FILEID: a.fileid = v.uhyper('fileid'); break;
      case FATTR4.MODE: a.mode = v.uint('mode'); break;
      case FATTR4.NUMLINKS: a.numlinks = v.uint('numlinks'); break;
      case FATTR4.OWNER: a.owner = v.string(NFS4_OPAQUE_LIMIT, 'owner'); break;
      case FATTR4.OWNER_GROUP: a.ownerGroup = v.string(NFS4_OPAQUE_LIMIT, 'owner_group'); break;
      case FATTR4.SUPPATTR_EXCLCREAT: a.suppattrExclcreat = bitsOf(readBitmap(v)); break;
      default: return a; // an attribute we do not decode: the rest is unreadable
    }
  }
  v.end('attr_vals');
  return a;
}

// ---- operations (arguments) ----

/** One operation of a COMPOUND: its number and its argument encoder. */
export interface Op { op: number; enc: (w: XdrWriter) => void }
const op = (n: number, enc: (w: XdrWriter) => void = () => {}): Op => ({ op: n, enc });
const writeStateid = (w: XdrWriter, s: Stateid): void => { w.uint(s.seqid).fixed(s.other); };
const writeOwner = (w: XdrWriter, o: LockOwner): void => { w.uhyper(o.clientid).opaque(o.owner); };

export interface ChannelAttrs { headerPadSize: number; maxRequestSize: number; maxResponseSize: number; maxResponseSizeCached: number; maxOperations: number; maxRequests: number }
const writeChannel = (w: XdrWriter, c: ChannelAttrs): void => {
  w.uint(c.headerPadSize).uint(c.maxRequestSize).uint(c.maxResponseSize).uint(c.maxResponseSizeCached).uint(c.maxOperations).uint(c.maxRequests).uint(0);
};

export type OpenHow =
  | { create: false }
  | { create: true; mode: typeof CREATEMODE.UNCHECKED | typeof CREATEMODE.GUARDED; attrs?: SetAttrs }
  | { create: true; mode: typeof CREATEMODE.EXCLUSIVE; verifier: Buffer }
  | { create: true; mode: typeof CREATEMODE.EXCLUSIVE4_1; verifier: Buffer; attrs?: SetAttrs };
export type OpenClaim = { claim: typeof CLAIM.NULL; name: string } | { claim: typeof CLAIM.PREVIOUS; delegType: number } | { claim: typeof CLAIM.FH };
export type Locker = { newOwner: true; openSeqid: number; openStateid: Stateid; lockSeqid: number; owner: LockOwner } | { newOwner: false; lockStateid: Stateid; lockSeqid: number };

export const ops = {
  putrootfh: (): Op => op(OP.PUTROOTFH),
  putfh: (fh: Buffer): Op => op(OP.PUTFH, (w) => w.opaque(fh)),
  getfh: (): Op => op(OP.GETFH),
  savefh: (): Op => op(OP.SAVEFH),
  restorefh: (): Op => op(OP.RESTOREFH),
  lookup: (name: string): Op => op(OP.LOOKUP, (w) => w.string(name)),
  getattr: (bits: readonly number[]): Op => op(OP.GETATTR, (w) => writeBitmap(w, bitmapOf(bits))),
  remove: (name: string): Op => op(OP.REMOVE, (w) => w.string(name)),
  mkdir: (name: string, attrs: SetAttrs = { mode: 0o777 }): Op => op(OP.CREATE, (w) => { w.uint(NF4.DIR).string(name); writeFattr(w, attrs); }),
  setattr: (stateid: Stateid, attrs: SetAttrs): Op => op(OP.SETATTR, (w) => { writeStateid(w, stateid); writeFattr(w, attrs); }),
  sequence: (sessionid: Buffer, seqid: number, slot: number, highestSlot: number, cacheThis: boolean): Op =>
    op(OP.SEQUENCE, (w) => w.fixed(sessionid).uint(seqid).uint(slot).uint(highestSlot).bool(cacheThis)),
  exchangeId: (verifier: Buffer, ownerId: Buffer, flags: number): Op => op(OP.EXCHANGE_ID, (w) => {
    w.fixed(verifier).opaque(ownerId).uint(flags);
    w.uint(0); // state_protect4_a: SP4_NONE
    w.uint(0); // client_impl_id<1>: none
  }),
  createSession: (clientid: bigint, sequence: number, fore: ChannelAttrs, back: ChannelAttrs, uid = 0, gid = 0): Op => op(OP.CREATE_SESSION, (w) => {
    w.uhyper(clientid).uint(sequence).uint(0 /* flags: no persistence, no back channel on this connection */);
    writeChannel(w, fore);
    writeChannel(w, back);
    w.uint(0x40000000); // csa_cb_program (unused: no back channel)
    w.uint(1).uint(1); // csa_sec_parms: one AUTH_SYS entry
    w.uint(0).string('nfs4-suite').uint(uid).uint(gid).uint(0);
  }),
  destroySession: (sessionid: Buffer): Op => op(OP.DESTROY_SESSION, (w) => w.fixed(sessionid)),
  destroyClientid: (clientid: bigint): Op => op(OP.DESTROY_CLIENTID, (w) => w.uhyper(clientid)),
  reclaimComplete: (oneFs = false): Op => op(OP.RECLAIM_COMPLETE, (w) => w.bool(oneFs)),
  open: (a: { seqid?: number; access: number; deny: number; owner: LockOwner; how: OpenHow; claim: OpenClaim }): Op => op(OP.OPEN, (w) => {
    w.uint(a.seqid ?? 0).uint(a.access).uint(a.deny);
    writeOwner(w, a.owner);
    w.uint(a.how.create ? 1 : 0);
    if (a.how.create) {
      w.uint(a.how.mode);
      if (a.how.mode === CREATEMODE.EXCLUSIVE) w.fixed(a.how.verifier);
      else if (a.how.mode === CREATEMODE.EXCLUSIVE4_1) { w.fixed(a.how.verifier); writeFattr(w, a.how.attrs); }
      else writeFattr(w, a.how.attrs);
    }
    w.uint(a.claim.claim);
    if (a.claim.claim === CLAIM.NULL) w.string(a.claim.name);
    else if (a.claim.claim === CLAIM.PREVIOUS) w.uint(a.claim.delegType);
  }),
  close: (stateid: Stateid, seqid = 0): Op => op(OP.CLOSE, (w) => { w.uint(seqid); writeStateid(w, stateid); }),
  openDowngrade: (stateid: Stateid, access: number, deny: number, seqid = 0): Op => op(OP.OPEN_DOWNGRADE, (w) => { writeStateid(w, stateid); w.uint(seqid).uint(access).uint(deny); }),
  read: (stateid: Stateid, offset: bigint | number, count: number): Op => op(OP.READ, (w) => { writeStateid(w, stateid); w.uhyper(offset).uint(count); }),
  write: (stateid: Stateid, offset: bigint | number, data: Buffer, stable: number = STABLE.FILE_SYNC): Op => op(OP.WRITE, (w) => { writeStateid(w, stateid); w.uhyper(offset).uint(stable).opaque(data); }),
  commit: (offset: bigint | number = 0, count = 0): Op => op(OP.COMMIT, (w) => w.uhyper(offset).uint(count)),
  lock: (type: number, reclaim: boolean, offset: bigint | number, length: bigint | number, locker: Locker): Op => op(OP.LOCK, (w) => {
    w.uint(type).bool(reclaim).uhyper(offset).uhyper(length).bool(locker.newOwner);
    if (locker.newOwner) { w.uint(locker.openSeqid); writeStateid(w, locker.openStateid); w.uint(locker.lockSeqid); writeOwner(w, locker.owner); }
    else { writeStateid(w, locker.lockStateid); w.uint(locker.lockSeqid); }
  }),
  lockt: (type: number, offset: bigint | number, length: bigint | number, owner: LockOwner): Op => op(OP.LOCKT, (w) => { w.uint(type).uhyper(offset).uhyper(length); writeOwner(w, owner); }),
  locku: (type: number, stateid: Stateid, offset: bigint | number, length: bigint | number, seqid = 0): Op => op(OP.LOCKU, (w) => { w.uint(type).uint(seqid); writeStateid(w, stateid); w.uhyper(offset).uhyper(length); }),
  freeStateid: (s: Stateid): Op => op(OP.FREE_STATEID, (w) => writeStateid(w, s)),
  testStateid: (list: Stateid[]): Op => op(OP.TEST_STATEID, (w) => w.array(list, writeStateid)),
  /** Raw bytes as an operation (malformed or unknown operations). */
  raw: (n: number, bytes: Buffer = Buffer.alloc(0)): Op => op(n, (w) => w.fixed(bytes)),
};

export function encodeCompound(tag: string, minor: number, list: readonly Op[]): Buffer {
  const w = new XdrWriter(256);
  w.string(tag).uint(minor).uint(list.length);
  for (const o of list) { w.uint(o.op); o.enc(w); }
  return w.bytes();
}

// ---- results ----

export interface LockDenied { offset: bigint; length: bigint; type: number; owner: LockOwner }
export interface ResBodies {
  SEQUENCE: { sessionid: Buffer; seqid: number; slot: number; highestSlot: number; targetHighestSlot: number; statusFlags: number };
  EXCHANGE_ID: { clientid: bigint; sequenceid: number; flags: number; serverOwnerMinor: bigint; serverOwnerMajor: Buffer; serverScope: Buffer };
  CREATE_SESSION: { sessionid: Buffer; sequence: number; flags: number; fore: ChannelAttrs; back: ChannelAttrs };
  GETFH: { fh: Buffer };
  GETATTR: { attrs: Attrs };
  OPEN: { stateid: Stateid; rflags: number; attrset: number[]; delegType: number; delegStateid?: Stateid };
  CLOSE: { stateid: Stateid };
  OPEN_DOWNGRADE: { stateid: Stateid };
  READ: { eof: boolean; data: Buffer };
  WRITE: { count: number; committed: number; verifier: Buffer };
  COMMIT: { verifier: Buffer };
  LOCK: { stateid?: Stateid; denied?: LockDenied };
  LOCKT: { denied?: LockDenied };
  LOCKU: { stateid: Stateid };
  REMOVE: { atomic: boolean; before: bigint; after: bigint };
  CREATE: { atomic: boolean; before: bigint; after: bigint; attrset: number[] };
  SETATTR: { attrset: number[] };
  TEST_STATEID: { codes: number[] };
}
export interface OpResult { op: number; name: string; status: number; body?: unknown }

const readStateid = (r: XdrReader): Stateid => ({ seqid: r.uint('stateid seqid'), other: Buffer.from(r.fixed(NFS4_OTHER_SIZE, 'stateid other')) });
const readOwner = (r: XdrReader): LockOwner => ({ clientid: r.uhyper('owner clientid'), owner: Buffer.from(r.opaque(NFS4_OPAQUE_LIMIT, 'owner')) });
const readChannel = (r: XdrReader): ChannelAttrs => {
  const c = { headerPadSize: r.uint(), maxRequestSize: r.uint(), maxResponseSize: r.uint(), maxResponseSizeCached: r.uint(), maxOperations: r.uint(), maxRequests: r.uint() };
  r.array(1, (x) => x.uint(), 'ca_rdma_ird');
  return c;
};
const readDenied = (r: XdrReader): LockDenied => ({ offset: r.uhyper(), length: r.uhyper(), type: r.uint('locktype'), owner: readOwner(r) });
const readChangeInfo = (r: XdrReader) => ({ atomic: r.bool('atomic'), before: r.uhyper('before'), after: r.uhyper('after') });
const skipAce = (r: XdrReader): void => { r.uint(); r.uint(); r.uint(); r.opaque(NFS4_OPAQUE_LIMIT, 'ace who'); };

/** Decoders of the OK bodies (and LOCK/LOCKT's DENIED body) of the results the suite reads. */
const DECODE: Partial<Record<number, (r: XdrReader, status: number) => unknown>> = {
  [OP.SEQUENCE]: (r) => ({ sessionid: Buffer.from(r.fixed(16, 'sessionid')), seqid: r.uint(), slot: r.uint(), highestSlot: r.uint(), targetHighestSlot: r.uint(), statusFlags: r.uint() }),
  [OP.EXCHANGE_ID]: (r) => {
    const clientid = r.uhyper('clientid'), sequenceid = r.uint(), flags = r.uint();
    const how = r.uint('spr_how');
    if (how !== 0) throw new XdrError(`state protection ${how} not decoded (we asked for SP4_NONE)`);
    const serverOwnerMinor = r.uhyper(), serverOwnerMajor = Buffer.from(r.opaque(NFS4_OPAQUE_LIMIT, 'so_major_id'));
    const serverScope = Buffer.from(r.opaque(NFS4_OPAQUE_LIMIT, 'server_scope'));
    r.array(1, (x) => { x.string(NFS4_OPAQUE_LIMIT, 'nii_domain'); x.string(NFS4_OPAQUE_LIMIT, 'nii_name'); x.hyper(); x.uint(); }, 'server_impl_id');
    return { clientid, sequenceid, flags, serverOwnerMinor, serverOwnerMajor, serverScope };
  },
  [OP.CREATE_SESSION]: (r) => ({ sessionid: Buffer.from(r.fixed(16, 'sessionid')), sequence: r.uint(), flags: r.uint(), fore: readChannel(r), back: readChannel(r) }),
  [OP.GETFH]: (r) => ({ fh: Buffer.from(r.opaque(NFS4_FHSIZE, 'fh')) }),
  [OP.GETATTR]: (r) => ({ attrs: readFattr(r) }),
  [OP.OPEN]: (r) => {
    const stateid = readStateid(r);
    readChangeInfo(r);
    const rflags = r.uint('rflags'), attrset = bitsOf(readBitmap(r));
    const delegType = r.uint('delegation_type');
    let delegStateid: Stateid | undefined;
    if (delegType === DELEG.READ) { delegStateid = readStateid(r); r.bool(); skipAce(r); }
    else if (delegType === DELEG.WRITE) {
      delegStateid = readStateid(r); r.bool();
      const by = r.uint('limitby');
      if (by === 1) r.uhyper(); else if (by === 2) { r.uint(); r.uint(); } else throw new XdrError(`bad limitby ${by}`);
      skipAce(r);
    } else if (delegType === DELEG.NONE_EXT) {
      const why = r.uint('ond_why');
      if (why === 1 || why === 2) r.bool();
    } else if (delegType !== DELEG.NONE) throw new XdrError(`bad delegation type ${delegType}`);
    return { stateid, rflags, attrset, delegType, delegStateid };
  },
  [OP.CLOSE]: (r) => ({ stateid: readStateid(r) }),
  [OP.OPEN_DOWNGRADE]: (r) => ({ stateid: readStateid(r) }),
  [OP.READ]: (r) => ({ eof: r.bool('eof'), data: Buffer.from(r.opaque(MAX_READ, 'data')) }),
  [OP.WRITE]: (r) => ({ count: r.uint(), committed: r.uint(), verifier: Buffer.from(r.fixed(8, 'writeverf')) }),
  [OP.COMMIT]: (r) => ({ verifier: Buffer.from(r.fixed(8, 'writeverf')) }),
  [OP.LOCK]: (r, s) => (s === NFS4ERR.DENIED ? { denied: readDenied(r) } : { stateid: readStateid(r) }),
  [OP.LOCKT]: (r, s) => (s === NFS4ERR.DENIED ? { denied: readDenied(r) } : {}),
  [OP.LOCKU]: (r) => ({ stateid: readStateid(r) }),
  [OP.REMOVE]: (r) => readChangeInfo(r),
  [OP.CREATE]: (r) => ({ ...readChangeInfo(r), attrset: bitsOf(readBitmap(r)) }),
  [OP.TEST_STATEID]: (r) => ({ codes: r.array(MAX_OPS, (x) => x.uint(), 'tsr_status_codes') }),
};
/** Operations whose OK result is the status alone. */
const STATUS_ONLY = new Set<number>([OP.PUTFH, OP.PUTROOTFH, OP.PUTPUBFH, OP.SAVEFH, OP.RESTOREFH, OP.LOOKUP, OP.LOOKUPP,
  OP.DESTROY_SESSION, OP.DESTROY_CLIENTID, OP.RECLAIM_COMPLETE, OP.FREE_STATEID, OP.RELEASE_LOCKOWNER, OP.DELEGRETURN, OP.ILLEGAL, OP.VERIFY, OP.NVERIFY]);

export interface Compound { status: number; tag: string; results: OpResult[] }

/** Decodes COMPOUND4res. Results after one we cannot decode are not read (the compound stops at a failure anyway). */
export function decodeCompound(r: XdrReader): Compound {
  const status = r.uint('status');
  const tag = r.string(MAX_TAG, 'tag');
  const n = r.uint('resarray count');
  if (n > MAX_OPS) throw new XdrError(`resarray too long: ${n}`);
  const results: OpResult[] = [];
  for (let i = 0; i < n; i++) {
    const opnum = r.uint('resop');
    const st = r.uint('op status');
    const res: OpResult = { op: opnum, name: OP_NAME.get(opnum) ?? `op${opnum}`, status: st };
    results.push(res);
    if (opnum === OP.SETATTR) { res.body = { attrset: bitsOf(readBitmap(r)) }; continue; }
    const dec = DECODE[opnum];
    if (st === NFS4ERR.OK || (st === NFS4ERR.DENIED && (opnum === OP.LOCK || opnum === OP.LOCKT))) {
      if (dec) res.body = dec(r, st);
      else if (!STATUS_ONLY.has(opnum)) break; // cannot skip an undecoded body
    }
  }
  if (results.length === n) r.end('COMPOUND4res');
  return { status, tag, results };
}

/** The OK body of the first result of `name`; throws with the status names otherwise. */
export function resultOf<K extends keyof ResBodies>(c: Compound, name: K): ResBodies[K] {
  const x = c.results.find((e) => e.name === name);
  if (!x) throw new Error(`no ${name} result in the reply (compound status ${statusName(c.status)}, results ${c.results.map((e) => `${e.name}:${statusName(e.status)}`).join(' ')})`);
  if (x.status !== NFS4ERR.OK) throw new Error(`${name} answered ${statusName(x.status)}`);
  return x.body as ResBodies[K];
}
/** The body of a result whatever its status (LOCK/LOCKT DENIED). */
export function bodyOf<K extends keyof ResBodies>(c: Compound, name: K): ResBodies[K] | undefined {
  return c.results.find((e) => e.name === name)?.body as ResBodies[K] | undefined;
}
