/**
 * NLM version 4 (program 100021), the Network Lock Manager of the Open Group's "Protocols for
 * Interworking: XNFS, Version 3W" chapters 10 and 14 (nlm_prot.x, version 4 with 64-bit offsets
 * and lengths): constants, every argument and result type with its decoder and encoder.
 * Sans-IO; every decoder goes through the bounds-checked XdrReader with explicit maxima:
 * caller_name ≤ LM_MAXSTRLEN (1024), netobj ≤ MAXNETOBJ_SZ (1024), the file handle ≤ 64
 * bytes (an NFSv3 nfs_fh3), the nlm4_notify name ≤ LM_MAXNAMELEN (1025).
 */
import { type XdrReader, XdrWriter } from './xdr.js';

export const NLM_PROG = 100021;
export const NLM_VERS4 = 4;
/** Procedure numbers of version 4 (XNFS chapter 14). */
export const NLM_PROC = {
  NULL: 0, TEST: 1, LOCK: 2, CANCEL: 3, UNLOCK: 4, GRANTED: 5,
  TEST_MSG: 6, LOCK_MSG: 7, CANCEL_MSG: 8, UNLOCK_MSG: 9, GRANTED_MSG: 10,
  TEST_RES: 11, LOCK_RES: 12, CANCEL_RES: 13, UNLOCK_RES: 14, GRANTED_RES: 15,
  SHARE: 20, UNSHARE: 21, NM_LOCK: 22, FREE_ALL: 23,
} as const;

/** nlm4_stats. */
export const NLM4 = {
  GRANTED: 0, DENIED: 1, DENIED_NOLOCKS: 2, BLOCKED: 3, DENIED_GRACE_PERIOD: 4, DEADLCK: 5,
  ROFS: 6, STALE_FH: 7, FBIG: 8, FAILED: 9,
} as const;
export type Nlm4Stat = (typeof NLM4)[keyof typeof NLM4];
const STATS = Object.values(NLM4) as Nlm4Stat[];

export const LM_MAXSTRLEN = 1024;
export const LM_MAXNAMELEN = 1025;
export const MAXNETOBJ_SZ = 1024;
/** Largest file handle taken in an NLM call: NFSv3's FHSIZE3. */
export const NLM_FH_MAX = 64;

/** fsh4_mode (deny modes) and fsh4_access, bit-encoded: read = 1, write = 2. */
export const FSM = { DN: 0, DR: 1, DW: 2, DRW: 3 } as const;
export const FSA = { NONE: 0, R: 1, W: 2, RW: 3 } as const;
const FOUR = [0, 1, 2, 3] as const;

/** nlm4_lock. offset and len are uint64; len 0 means "to the end of the file". */
export interface Nlm4Lock {
  callerName: string;
  fh: Buffer;
  oh: Buffer;
  svid: number;
  offset: bigint;
  len: bigint;
}
export interface Nlm4LockArgs { cookie: Buffer; block: boolean; exclusive: boolean; alock: Nlm4Lock; reclaim: boolean; state: number }
export interface Nlm4CancArgs { cookie: Buffer; block: boolean; exclusive: boolean; alock: Nlm4Lock }
/** nlm4_testargs; also the argument of GRANTED / GRANTED_MSG. */
export interface Nlm4TestArgs { cookie: Buffer; exclusive: boolean; alock: Nlm4Lock }
export interface Nlm4UnlockArgs { cookie: Buffer; alock: Nlm4Lock }
export interface Nlm4Holder { exclusive: boolean; svid: number; oh: Buffer; offset: bigint; len: bigint }
export interface Nlm4Res { cookie: Buffer; stat: Nlm4Stat }
/** nlm4_testres: holder present exactly when stat is NLM4_DENIED. */
export interface Nlm4TestRes { cookie: Buffer; stat: Nlm4Stat; holder?: Nlm4Holder }
export interface Nlm4Share { callerName: string; fh: Buffer; oh: Buffer; mode: number; access: number }
export interface Nlm4ShareArgs { cookie: Buffer; share: Nlm4Share; reclaim: boolean }
export interface Nlm4ShareRes { cookie: Buffer; stat: Nlm4Stat; sequence: number }
export interface Nlm4Notify { name: string; state: number }

const netobj = (r: XdrReader, what: string): Buffer => r.opaque(MAXNETOBJ_SZ, what);

export function decodeLock(r: XdrReader): Nlm4Lock {
  return {
    callerName: r.string(LM_MAXSTRLEN, 'caller_name'),
    fh: r.opaque(NLM_FH_MAX, 'fh'),
    oh: netobj(r, 'oh'),
    svid: r.int('svid'),
    offset: r.uhyper('l_offset'),
    len: r.uhyper('l_len'),
  };
}
export function encodeLock(w: XdrWriter, l: Nlm4Lock): void {
  w.string(l.callerName).opaque(l.fh).opaque(l.oh).int(l.svid).uhyper(l.offset).uhyper(l.len);
}

export function decodeLockArgs(r: XdrReader): Nlm4LockArgs {
  const v = { cookie: netobj(r, 'cookie'), block: r.bool('block'), exclusive: r.bool('exclusive'), alock: decodeLock(r), reclaim: r.bool('reclaim'), state: r.int('state') };
  r.end('nlm4_lockargs');
  return v;
}
export function encodeLockArgs(a: Nlm4LockArgs): Buffer {
  const w = new XdrWriter(256).opaque(a.cookie).bool(a.block).bool(a.exclusive);
  encodeLock(w, a.alock);
  return w.bool(a.reclaim).int(a.state).bytes();
}

export function decodeCancArgs(r: XdrReader): Nlm4CancArgs {
  const v = { cookie: netobj(r, 'cookie'), block: r.bool('block'), exclusive: r.bool('exclusive'), alock: decodeLock(r) };
  r.end('nlm4_cancargs');
  return v;
}
export function encodeCancArgs(a: Nlm4CancArgs): Buffer {
  const w = new XdrWriter(256).opaque(a.cookie).bool(a.block).bool(a.exclusive);
  encodeLock(w, a.alock);
  return w.bytes();
}

export function decodeTestArgs(r: XdrReader): Nlm4TestArgs {
  const v = { cookie: netobj(r, 'cookie'), exclusive: r.bool('exclusive'), alock: decodeLock(r) };
  r.end('nlm4_testargs');
  return v;
}
export function encodeTestArgs(a: Nlm4TestArgs): Buffer {
  const w = new XdrWriter(256).opaque(a.cookie).bool(a.exclusive);
  encodeLock(w, a.alock);
  return w.bytes();
}

export function decodeUnlockArgs(r: XdrReader): Nlm4UnlockArgs {
  const v = { cookie: netobj(r, 'cookie'), alock: decodeLock(r) };
  r.end('nlm4_unlockargs');
  return v;
}
export function encodeUnlockArgs(a: Nlm4UnlockArgs): Buffer {
  const w = new XdrWriter(256).opaque(a.cookie);
  encodeLock(w, a.alock);
  return w.bytes();
}

export function decodeRes(r: XdrReader): Nlm4Res {
  const v = { cookie: netobj(r, 'cookie'), stat: r.enumOf(STATS, 'nlm4_stats') };
  r.end('nlm4_res');
  return v;
}
export function encodeRes(a: Nlm4Res): Buffer {
  return new XdrWriter(16 + a.cookie.length).opaque(a.cookie).int(a.stat).bytes();
}

export function decodeTestRes(r: XdrReader): Nlm4TestRes {
  const cookie = netobj(r, 'cookie');
  const stat = r.enumOf(STATS, 'nlm4_stats');
  const v: Nlm4TestRes = { cookie, stat };
  if (stat === NLM4.DENIED) v.holder = { exclusive: r.bool('exclusive'), svid: r.int('svid'), oh: netobj(r, 'oh'), offset: r.uhyper('l_offset'), len: r.uhyper('l_len') };
  r.end('nlm4_testres');
  return v;
}
export function encodeTestRes(a: Nlm4TestRes): Buffer {
  const w = new XdrWriter(64 + a.cookie.length).opaque(a.cookie).int(a.stat);
  if (a.stat === NLM4.DENIED) {
    const h = a.holder;
    if (!h) throw new RangeError('NLM4_DENIED needs a holder');
    w.bool(h.exclusive).int(h.svid).opaque(h.oh).uhyper(h.offset).uhyper(h.len);
  }
  return w.bytes();
}

export function decodeShareArgs(r: XdrReader): Nlm4ShareArgs {
  const cookie = netobj(r, 'cookie');
  const share: Nlm4Share = {
    callerName: r.string(LM_MAXSTRLEN, 'caller_name'), fh: r.opaque(NLM_FH_MAX, 'fh'), oh: netobj(r, 'oh'),
    mode: r.enumOf(FOUR, 'fsh4_mode'), access: r.enumOf(FOUR, 'fsh4_access'),
  };
  const v = { cookie, share, reclaim: r.bool('reclaim') };
  r.end('nlm4_shareargs');
  return v;
}
export function encodeShareArgs(a: Nlm4ShareArgs): Buffer {
  const s = a.share;
  return new XdrWriter(256).opaque(a.cookie).string(s.callerName).opaque(s.fh).opaque(s.oh).int(s.mode).int(s.access).bool(a.reclaim).bytes();
}

export function decodeShareRes(r: XdrReader): Nlm4ShareRes {
  const v = { cookie: netobj(r, 'cookie'), stat: r.enumOf(STATS, 'nlm4_stats'), sequence: r.int('sequence') };
  r.end('nlm4_shareres');
  return v;
}
export function encodeShareRes(a: Nlm4ShareRes): Buffer {
  return new XdrWriter(16 + a.cookie.length).opaque(a.cookie).int(a.stat).int(a.sequence).bytes();
}

export function decodeNotify(r: XdrReader): Nlm4Notify {
  const v = { name: r.string(LM_MAXNAMELEN, 'name'), state: r.int('state') };
  r.end('nlm4_notify');
  return v;
}
export function encodeNotify(a: Nlm4Notify): Buffer {
  return new XdrWriter(16 + a.name.length).string(a.name).int(a.state).bytes();
}
