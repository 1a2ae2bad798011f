/**
 * NFS version 4.0 (RFC 7530 / RFC 7531 XDR) and 4.1 (RFC 8881 / RFC 5662 XDR): the constants
 * under their RFC names, COMPOUND4args / COMPOUND4res framing, and the argument codec of every
 * operation (table `OP_ARGS`, keyed by nfs_opnum4; each codec decodes and encodes). Sans-IO.
 */
import { arrayOf, bool, fixed, i64, opaque, str, struct, u32, u64, union, voidT, type Codec, type U, type ValueOf } from './nfs4-xdr.js';
import { XdrError, type XdrReader, XdrWriter } from './xdr.js';

export const NFS4_VERSION = 4;
/** NFSPROC4_NULL, NFSPROC4_COMPOUND (RFC 7530 §16). */
export const NFSPROC4_NULL = 0;
export const NFSPROC4_COMPOUND = 1;
/** Constants of RFC 7531 §2 / RFC 5662. */
export const NFS4_FHSIZE = 128;
export const NFS4_VERIFIER_SIZE = 8;
export const NFS4_OTHER_SIZE = 12;
export const NFS4_OPAQUE_LIMIT = 1024;
export const NFS4_SESSIONID_SIZE = 16;
/** Our own bounds: the longest COMPOUND tag, the most operations per COMPOUND, name/path/data limits. */
export const MAX_TAG = 1024;
export const MAX_OPS = 128;
export const MAX_NAME = 1024;
export const MAX_LINKTEXT = 4096;
export const MAX_IO = 1 << 20;
export const MAX_BITMAP_WORDS = 8;
export const MAX_ATTRLIST = 64 * 1024;

/** nfs_opnum4 (RFC 7530 §16.1, RFC 8881 §18). */
export const OP = {
  ACCESS: 3, CLOSE: 4, COMMIT: 5, CREATE: 6, DELEGPURGE: 7, DELEGRETURN: 8, GETATTR: 9, GETFH: 10, LINK: 11,
  LOCK: 12, LOCKT: 13, LOCKU: 14, LOOKUP: 15, LOOKUPP: 16, NVERIFY: 17, OPEN: 18, OPENATTR: 19, OPEN_CONFIRM: 20,
  OPEN_DOWNGRADE: 21, PUTFH: 22, PUTPUBFH: 23, PUTROOTFH: 24, READ: 25, READDIR: 26, READLINK: 27, REMOVE: 28,
  RENAME: 29, RENEW: 30, RESTOREFH: 31, SAVEFH: 32, SECINFO: 33, SETATTR: 34, SETCLIENTID: 35,
  SETCLIENTID_CONFIRM: 36, VERIFY: 37, WRITE: 38, RELEASE_LOCKOWNER: 39,
  // NFSv4.1
  BACKCHANNEL_CTL: 40, BIND_CONN_TO_SESSION: 41, EXCHANGE_ID: 42, CREATE_SESSION: 43, DESTROY_SESSION: 44,
  FREE_STATEID: 45, GET_DIR_DELEGATION: 46, GETDEVICEINFO: 47, GETDEVICELIST: 48, LAYOUTCOMMIT: 49, LAYOUTGET: 50,
  LAYOUTRETURN: 51, SECINFO_NO_NAME: 52, SEQUENCE: 53, SET_SSV: 54, TEST_STATEID: 55, WANT_DELEGATION: 56,
  DESTROY_CLIENTID: 57, RECLAIM_COMPLETE: 58,
  ILLEGAL: 10044,
} as const;
export type OpNum = (typeof OP)[keyof typeof OP];
/** Op numbers known in minor version 0 (3..39) and 1 (3..58); anything else is OP_ILLEGAL. */
export const isKnownOp = (op: number, minor: number): boolean => op >= 3 && op <= (minor === 0 ? 39 : 58);

/** nfsstat4 (RFC 7530 §13, RFC 8881 §15). */
export const NFS4 = {
  OK: 0, ERR_PERM: 1, ERR_NOENT: 2, ERR_IO: 5, ERR_NXIO: 6, ERR_ACCESS: 13, ERR_EXIST: 17, ERR_XDEV: 18,
  ERR_NOTDIR: 20, ERR_ISDIR: 21, ERR_INVAL: 22, ERR_FBIG: 27, ERR_NOSPC: 28, ERR_ROFS: 30, ERR_MLINK: 31,
  ERR_NAMETOOLONG: 63, ERR_NOTEMPTY: 66, ERR_DQUOT: 69, ERR_STALE: 70, ERR_BADHANDLE: 10001, ERR_BAD_COOKIE: 10003,
  ERR_NOTSUPP: 10004, ERR_TOOSMALL: 10005, ERR_SERVERFAULT: 10006, ERR_BADTYPE: 10007, ERR_DELAY: 10008,
  ERR_SAME: 10009, ERR_DENIED: 10010, ERR_EXPIRED: 10011, ERR_LOCKED: 10012, ERR_GRACE: 10013, ERR_FHEXPIRED: 10014,
  ERR_SHARE_DENIED: 10015, ERR_WRONGSEC: 10016, ERR_CLID_INUSE: 10017, ERR_RESOURCE: 10018, ERR_MOVED: 10019,
  ERR_NOFILEHANDLE: 10020, ERR_MINOR_VERS_MISMATCH: 10021, ERR_STALE_CLIENTID: 10022, ERR_STALE_STATEID: 10023,
  ERR_OLD_STATEID: 10024, ERR_BAD_STATEID: 10025, ERR_BAD_SEQID: 10026, ERR_NOT_SAME: 10027, ERR_LOCK_RANGE: 10028,
  ERR_SYMLINK: 10029, ERR_RESTOREFH: 10030, ERR_LEASE_MOVED: 10031, ERR_ATTRNOTSUPP: 10032, ERR_NO_GRACE: 10033,
  ERR_RECLAIM_BAD: 10034, ERR_RECLAIM_CONFLICT: 10035, ERR_BADXDR: 10036, ERR_LOCKS_HELD: 10037, ERR_OPENMODE: 10038,
  ERR_BADOWNER: 10039, ERR_BADCHAR: 10040, ERR_BADNAME: 10041, ERR_BAD_RANGE: 10042, ERR_LOCK_NOTSUPP: 10043,
  ERR_OP_ILLEGAL: 10044, ERR_DEADLOCK: 10045, ERR_FILE_OPEN: 10046, ERR_ADMIN_REVOKED: 10047, ERR_CB_PATH_DOWN: 10048,
  // NFSv4.1
  ERR_BADIOMODE: 10049, ERR_BADLAYOUT: 10050, ERR_BAD_SESSION_DIGEST: 10051, ERR_BADSESSION: 10052, ERR_BADSLOT: 10053,
  ERR_COMPLETE_ALREADY: 10054, ERR_CONN_NOT_BOUND_TO_SESSION: 10055, ERR_DELEG_ALREADY_WANTED: 10056,
  ERR_BACK_CHAN_BUSY: 10057, ERR_LAYOUTTRYLATER: 10058, ERR_LAYOUTUNAVAILABLE: 10059, ERR_NOMATCHING_LAYOUT: 10060,
  ERR_RECALLCONFLICT: 10061, ERR_UNKNOWN_LAYOUTTYPE: 10062, ERR_SEQ_MISORDERED: 10063, ERR_SEQUENCE_POS: 10064,
  ERR_REQ_TOO_BIG: 10065, ERR_REP_TOO_BIG: 10066, ERR_REP_TOO_BIG_TO_CACHE: 10067, ERR_RETRY_UNCACHED_REP: 10068,
  ERR_UNSAFE_COMPOUND: 10069, ERR_TOO_MANY_OPS: 10070, ERR_OP_NOT_IN_SESSION: 10071, ERR_HASH_ALG_UNSUPP: 10072,
  ERR_CLIENTID_BUSY: 10074, ERR_PNFS_IO_HOLE: 10075, ERR_SEQ_FALSE_RETRY: 10076, ERR_BAD_HIGH_SLOT: 10077,
  ERR_DEADSESSION: 10078, ERR_ENCR_ALG_UNSUPP: 10079, ERR_PNFS_NO_LAYOUT: 10080, ERR_NOT_ONLY_OP: 10081,
  ERR_WRONG_CRED: 10082, ERR_WRONG_TYPE: 10083, ERR_DIRDELEG_UNAVAIL: 10084, ERR_REJECT_DELEG: 10085,
  ERR_RETURNCONFLICT: 10086, ERR_DELEG_REVOKED: 10087,
} as const;
export type Nfsstat4 = (typeof NFS4)[keyof typeof NFS4];

/** nfs_ftype4. */
export const NF4 = { REG: 1, DIR: 2, BLK: 3, CHR: 4, LNK: 5, SOCK: 6, FIFO: 7, ATTRDIR: 8, NAMEDATTR: 9 } as const;
/** ACCESS4_* (RFC 7530 §16.1). */
export const ACCESS4 = { READ: 0x01, LOOKUP: 0x02, MODIFY: 0x04, EXTEND: 0x08, DELETE: 0x10, EXECUTE: 0x20 } as const;
export const OPEN4_SHARE_ACCESS = { READ: 1, WRITE: 2, BOTH: 3 } as const;
export const OPEN4_SHARE_DENY = { NONE: 0, READ: 1, WRITE: 2, BOTH: 3 } as const;
/** The low byte of share_access; 4.1 puts OPEN4_SHARE_ACCESS_WANT_* bits above it (RFC 8881 §18.16.3). */
export const OPEN4_SHARE_ACCESS_MASK = 0xff;
export const OPEN4_NOCREATE = 0;
export const OPEN4_CREATE = 1;
export const CREATEMODE4 = { UNCHECKED4: 0, GUARDED4: 1, EXCLUSIVE4: 2, EXCLUSIVE4_1: 3 } as const;
export const CLAIM = { NULL: 0, PREVIOUS: 1, DELEGATE_CUR: 2, DELEGATE_PREV: 3, FH: 4, DELEG_CUR_FH: 5, DELEG_PREV_FH: 6 } as const;
export const OPEN_DELEGATE = { NONE: 0, READ: 1, WRITE: 2, NONE_EXT: 3 } as const;
/** why_no_delegation4 (4.1). */
export const WND4 = { NOT_WANTED: 0, CONTENTION: 1, RESOURCE: 2, NOT_SUPP_FTYPE: 3, WRITE_DELEG_NOT_SUPP_FTYPE: 4, NOT_SUPP_UPGRADE: 5, NOT_SUPP_DOWNGRADE: 6, CANCELLED: 7, IS_DIR: 8 } as const;
export const OPEN4_RESULT = { CONFIRM: 0x2, LOCKTYPE_POSIX: 0x4, PRESERVE_UNLINKED: 0x8, MAY_NOTIFY_LOCK: 0x20 } as const;
/** nfs_lock_type4. */
export const LOCK_TYPE = { READ_LT: 1, WRITE_LT: 2, READW_LT: 3, WRITEW_LT: 4 } as const;
/** stable_how4. */
export const STABLE4 = { UNSTABLE4: 0, DATA_SYNC4: 1, FILE_SYNC4: 2 } as const;
/** time_how4. */
export const TIME_HOW4 = { SET_TO_SERVER_TIME4: 0, SET_TO_CLIENT_TIME4: 1 } as const;
/** FH4_PERSISTENT (fh_expire_type). */
export const FH4_PERSISTENT = 0;
/** RPC auth flavors in SECINFO results. */
export const AUTH_NONE = 0;
export const AUTH_SYS = 1;
export const RPCSEC_GSS = 6;
/** EXCHGID4_FLAG_* (RFC 8881 §18.35). */
export const EXCHGID4_FLAG = {
  SUPP_MOVED_REFER: 0x1, SUPP_MOVED_MIGR: 0x2, BIND_PRINC_STATEID: 0x100, USE_NON_PNFS: 0x10000, USE_PNFS_MDS: 0x20000,
  USE_PNFS_DS: 0x40000, MASK_PNFS: 0x70000, UPD_CONFIRMED_REC_A: 0x40000000, CONFIRMED_R: 0x80000000,
} as const;
export const SP4 = { NONE: 0, MACH_CRED: 1, SSV: 2 } as const;
export const CREATE_SESSION4_FLAG = { PERSIST: 0x1, CONN_BACK_CHAN: 0x2, CONN_RDMA: 0x4 } as const;
export const CDFC4 = { FORE: 0x1, BACK: 0x2, FORE_OR_BOTH: 0x3, BACK_OR_BOTH: 0x7 } as const;
export const CDFS4 = { FORE: 0x1, BACK: 0x2, BOTH: 0x3 } as const;
export const SECINFO_STYLE4 = { CURRENT_FH: 0, PARENT: 1 } as const;

// ---- shared types ----

export const verifier4 = fixed(NFS4_VERIFIER_SIZE);
/** stateid4 { seqid4 seqid; opaque other[12]; }. */
export const stateid4 = struct({ seqid: u32, other: fixed(NFS4_OTHER_SIZE) });
export type Stateid4 = ValueOf<typeof stateid4>;
export const nfs_fh4 = opaque(NFS4_FHSIZE);
/** component4 is utf8str_cs; kept as bytes so a bad name gets NFS4ERR_INVAL / BADNAME rather than BADXDR. */
export const component4 = opaque(MAX_NAME);
export const linktext4 = opaque(MAX_LINKTEXT);
export const bitmap4 = arrayOf(MAX_BITMAP_WORDS, u32);
/** fattr4 { bitmap4 attrmask; attrlist4 attr_vals; }. */
export const fattr4 = struct({ attrmask: bitmap4, attr_vals: opaque(MAX_ATTRLIST) });
export type Fattr4 = ValueOf<typeof fattr4>;
export const nfstime4 = struct({ seconds: i64, nseconds: u32 });
export type Nfstime4 = ValueOf<typeof nfstime4>;
export const specdata4 = struct({ specdata1: u32, specdata2: u32 });
/** state_owner4 (open_owner4, lock_owner4). */
export const state_owner4 = struct({ clientid: u64, owner: opaque(NFS4_OPAQUE_LIMIT) });
export type StateOwner4 = ValueOf<typeof state_owner4>;
export const sessionid4 = fixed(NFS4_SESSIONID_SIZE);
export const netaddr4 = struct({ na_r_netid: str(1024), na_r_addr: str(1024) });
export const channel_attrs4 = struct({
  ca_headerpadsize: u32, ca_maxrequestsize: u32, ca_maxresponsesize: u32, ca_maxresponsesize_cached: u32,
  ca_maxoperations: u32, ca_maxrequests: u32, ca_rdma_ird: arrayOf(1, u32),
});
export type ChannelAttrs4 = ValueOf<typeof channel_attrs4>;
const state_protect_ops4 = struct({ spo_must_enforce: bitmap4, spo_must_allow: bitmap4 });
const sec_oid4 = opaque(1024);
const authsys_parms = struct({ stamp: u32, machinename: str(255), uid: u32, gid: u32, gids: arrayOf(16, u32) });
const callback_sec_parms4 = union({
  [AUTH_NONE]: voidT,
  [AUTH_SYS]: authsys_parms,
  [RPCSEC_GSS]: struct({ gcbp_service: u32, gcbp_handle_from_server: opaque(1024), gcbp_handle_from_client: opaque(1024) }),
}, undefined, 'callback_sec_parms4');
const nfs_impl_id4 = struct({ nii_domain: str(1024), nii_name: str(1024), nii_date: nfstime4 });

/** createtype4: a union on nfs_ftype4 (RFC 7530 §16.4). */
const createtype4 = union({
  [NF4.LNK]: linktext4, [NF4.BLK]: specdata4, [NF4.CHR]: specdata4, [NF4.SOCK]: voidT, [NF4.FIFO]: voidT, [NF4.DIR]: voidT,
}, voidT, 'createtype4');
const createhow4 = union({
  [CREATEMODE4.UNCHECKED4]: fattr4, [CREATEMODE4.GUARDED4]: fattr4, [CREATEMODE4.EXCLUSIVE4]: verifier4,
  [CREATEMODE4.EXCLUSIVE4_1]: struct({ cva_verf: verifier4, cva_attrs: fattr4 }),
}, undefined, 'createhow4');
const openflag4 = union({ [OPEN4_NOCREATE]: voidT, [OPEN4_CREATE]: createhow4 }, undefined, 'openflag4');
const open_claim4 = union({
  [CLAIM.NULL]: component4, [CLAIM.PREVIOUS]: u32, [CLAIM.DELEGATE_CUR]: struct({ delegate_stateid: stateid4, file: component4 }),
  [CLAIM.DELEGATE_PREV]: component4, [CLAIM.FH]: voidT, [CLAIM.DELEG_CUR_FH]: stateid4, [CLAIM.DELEG_PREV_FH]: voidT,
}, undefined, 'open_claim4');
const locker4 = union({
  1: struct({ open_seqid: u32, open_stateid: stateid4, lock_seqid: u32, lock_owner: state_owner4 }),
  0: struct({ lock_stateid: stateid4, lock_seqid: u32 }),
}, undefined, 'locker4');
const lockType = { dec: (r: XdrReader) => r.enumOf([1, 2, 3, 4], 'nfs_lock_type4'), enc: (w: XdrWriter, v: number) => void w.uint(v) } as Codec<number>;
const stableHow = { dec: (r: XdrReader) => r.enumOf([0, 1, 2], 'stable_how4'), enc: (w: XdrWriter, v: number) => void w.uint(v) } as Codec<number>;

/** The arguments of each operation. Ops with no arguments use voidT. */
export const OP_ARGS = {
  [OP.ACCESS]: u32,
  [OP.CLOSE]: struct({ seqid: u32, open_stateid: stateid4 }),
  [OP.COMMIT]: struct({ offset: u64, count: u32 }),
  [OP.CREATE]: struct({ objtype: createtype4, objname: component4, createattrs: fattr4 }),
  [OP.DELEGPURGE]: u64,
  [OP.DELEGRETURN]: stateid4,
  [OP.GETATTR]: bitmap4,
  [OP.GETFH]: voidT,
  [OP.LINK]: component4,
  [OP.LOCK]: struct({ locktype: lockType, reclaim: bool, offset: u64, length: u64, locker: locker4 }),
  [OP.LOCKT]: struct({ locktype: lockType, offset: u64, length: u64, owner: state_owner4 }),
  [OP.LOCKU]: struct({ locktype: lockType, seqid: u32, lock_stateid: stateid4, offset: u64, length: u64 }),
  [OP.LOOKUP]: component4,
  [OP.LOOKUPP]: voidT,
  [OP.NVERIFY]: fattr4,
  [OP.OPEN]: struct({ seqid: u32, share_access: u32, share_deny: u32, owner: state_owner4, openhow: openflag4, claim: open_claim4 }),
  [OP.OPENATTR]: bool,
  [OP.OPEN_CONFIRM]: struct({ open_stateid: stateid4, seqid: u32 }),
  [OP.OPEN_DOWNGRADE]: struct({ open_stateid: stateid4, seqid: u32, share_access: u32, share_deny: u32 }),
  [OP.PUTFH]: nfs_fh4,
  [OP.PUTPUBFH]: voidT,
  [OP.PUTROOTFH]: voidT,
  [OP.READ]: struct({ stateid: stateid4, offset: u64, count: u32 }),
  [OP.READDIR]: struct({ cookie: u64, cookieverf: verifier4, dircount: u32, maxcount: u32, attr_request: bitmap4 }),
  [OP.READLINK]: voidT,
  [OP.REMOVE]: component4,
  [OP.RENAME]: struct({ oldname: component4, newname: component4 }),
  [OP.RENEW]: u64,
  [OP.RESTOREFH]: voidT,
  [OP.SAVEFH]: voidT,
  [OP.SECINFO]: component4,
  [OP.SETATTR]: struct({ stateid: stateid4, obj_attributes: fattr4 }),
  [OP.SETCLIENTID]: struct({
    client: struct({ verifier: verifier4, id: opaque(NFS4_OPAQUE_LIMIT) }),
    callback: struct({ cb_program: u32, cb_location: netaddr4 }),
    callback_ident: u32,
  }),
  [OP.SETCLIENTID_CONFIRM]: struct({ clientid: u64, setclientid_confirm: verifier4 }),
  [OP.VERIFY]: fattr4,
  [OP.WRITE]: struct({ stateid: stateid4, offset: u64, stable: stableHow, data: opaque(MAX_IO) }),
  [OP.RELEASE_LOCKOWNER]: state_owner4,
  // NFSv4.1
  [OP.BACKCHANNEL_CTL]: struct({ cb_program: u32, sec_parms: arrayOf(16, callback_sec_parms4) }),
  [OP.BIND_CONN_TO_SESSION]: struct({ sessid: sessionid4, dir: u32, use_conn_in_rdma_mode: bool }),
  [OP.EXCHANGE_ID]: struct({
    clientowner: struct({ co_verifier: verifier4, co_ownerid: opaque(NFS4_OPAQUE_LIMIT) }),
    flags: u32,
    state_protect: union({
      [SP4.NONE]: voidT, [SP4.MACH_CRED]: state_protect_ops4,
      [SP4.SSV]: struct({ ssp_ops: state_protect_ops4, ssp_hash_algs: arrayOf(16, sec_oid4), ssp_encr_algs: arrayOf(16, sec_oid4), ssp_window: u32, ssp_num_gss_handles: u32 }),
    }, undefined, 'state_protect4_a'),
    client_impl_id: arrayOf(1, nfs_impl_id4),
  }),
  [OP.CREATE_SESSION]: struct({
    clientid: u64, sequence: u32, flags: u32, fore_chan_attrs: channel_attrs4, back_chan_attrs: channel_attrs4,
    cb_program: u32, sec_parms: arrayOf(16, callback_sec_parms4),
  }),
  [OP.DESTROY_SESSION]: sessionid4,
  [OP.FREE_STATEID]: stateid4,
  [OP.SECINFO_NO_NAME]: { dec: (r: XdrReader) => r.enumOf([0, 1], 'secinfo_style4'), enc: (w: XdrWriter, v: number) => void w.uint(v) } as Codec<number>,
  [OP.SEQUENCE]: struct({ sessionid: sessionid4, sequenceid: u32, slotid: u32, highest_slotid: u32, cachethis: bool }),
  [OP.TEST_STATEID]: arrayOf(1024, stateid4),
  [OP.DESTROY_CLIENTID]: u64,
  [OP.RECLAIM_COMPLETE]: bool,
} as const;
export type ArgsOp = keyof typeof OP_ARGS;
export type Args4<O extends ArgsOp> = ValueOf<(typeof OP_ARGS)[O]>;
export type { U };

/** One decoded operation of a COMPOUND. */
export interface Op4 {
  op: number;
  args: unknown;
}

/** The COMPOUND4args header (RFC 7530 §16.2): tag, minorversion, and the count of operations that follow. */
export interface CompoundHeader {
  tag: Buffer;
  minorversion: number;
  numOps: number;
}

/**
 * Reads the COMPOUND4args header. The tag is kept as bytes (echoed back as sent); an op count
 * over `MAX_OPS` is an XdrError (RFC 8881 answers NFS4ERR_TOO_MANY_OPS for sessions, see compound.ts).
 */
export function decodeCompoundHeader(r: XdrReader): CompoundHeader {
  const tag = Buffer.from(r.opaque(MAX_TAG, 'tag'));
  const minorversion = r.uint('minorversion');
  const numOps = r.uint('argarray count');
  if (numOps > MAX_OPS * 8) throw new XdrError(`argarray too long: ${numOps}`);
  return { tag, minorversion, numOps };
}

/** Reads one nfs_argop4's arguments (after its opnum), or throws XdrError. Undefined when the op has no codec. */
export function decodeOpArgs(op: number, r: XdrReader): unknown {
  const c = (OP_ARGS as Record<number, Codec<unknown>>)[op];
  if (!c) throw new XdrError(`no arguments codec for op ${op}`);
  return c.dec(r);
}

/** Encodes a COMPOUND4args (clients and tests). */
export function encodeCompound(tag: string | Buffer, minorversion: number, ops: readonly Op4[]): Buffer {
  const w = new XdrWriter(256);
  w.opaque(typeof tag === 'string' ? Buffer.from(tag) : tag).uint(minorversion).uint(ops.length);
  for (const o of ops) {
    w.uint(o.op);
    const c = (OP_ARGS as Record<number, Codec<unknown>>)[o.op];
    if (c) c.enc(w, o.args);
  }
  return w.bytes();
}

/** A typed op for encodeCompound. */
export const op = <O extends ArgsOp>(o: O, args: Args4<O>): Op4 => ({ op: o, args });

/** change_info4 { bool atomic; changeid4 before; changeid4 after; }. */
export function writeChangeInfo(w: XdrWriter, before: bigint, after: bigint, atomic = false): void {
  w.bool(atomic).uhyper(before).uhyper(after);
}

export function writeStateid(w: XdrWriter, s: Stateid4): void {
  w.uint(s.seqid).fixed(s.other);
}
