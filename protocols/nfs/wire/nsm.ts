/**
 * NSM, the Network Status Monitor (program 100024, version 1; XNFS chapter 11, sm_inter.x):
 * constants, argument and result types with decoders and encoders. Sans-IO; names are
 * string<SM_MAXSTRLEN> (1024), priv is opaque[SM_PRIV_SZ] (16).
 */
import { type XdrReader, XdrWriter } from './xdr.js';

export const SM_PROG = 100024;
export const SM_VERS = 1;
export const SM_PROC = { NULL: 0, STAT: 1, MON: 2, UNMON: 3, UNMON_ALL: 4, SIMU_CRASH: 5, NOTIFY: 6 } as const;
export const SM_MAXSTRLEN = 1024;
export const SM_PRIV_SZ = 16;
/** enum res. */
export const SM_RES = { SUCC: 0, FAIL: 1 } as const;

export interface MyId { myName: string; prog: number; vers: number; proc: number }
export interface MonId { monName: string; myId: MyId }
export interface Mon { monId: MonId; priv: Buffer }
/** stat_chge: the argument of SM_NOTIFY (a host and its new state number). */
export interface StatChge { monName: string; state: number }
/** struct status: what a monitor's callback procedure (my_id) receives. */
export interface SmStatus { monName: string; state: number; priv: Buffer }

const name = (r: XdrReader, what: string): string => r.string(SM_MAXSTRLEN, what);
const readMyId = (r: XdrReader): MyId => ({ myName: name(r, 'my_name'), prog: r.int('my_prog'), vers: r.int('my_vers'), proc: r.int('my_proc') });
const writeMyId = (w: XdrWriter, m: MyId): XdrWriter => w.string(m.myName).int(m.prog).int(m.vers).int(m.proc);
const readMonId = (r: XdrReader): MonId => ({ monName: name(r, 'mon_name'), myId: readMyId(r) });

/** sm_name (SM_STAT). */
export function decodeSmName(r: XdrReader): string {
  const v = name(r, 'mon_name');
  r.end('sm_name');
  return v;
}
export function encodeSmName(n: string): Buffer {
  return new XdrWriter(16 + n.length).string(n).bytes();
}

export function decodeMon(r: XdrReader): Mon {
  const v = { monId: readMonId(r), priv: r.fixed(SM_PRIV_SZ, 'priv') };
  r.end('mon');
  return v;
}
export function encodeMon(m: Mon): Buffer {
  return writeMyId(new XdrWriter(64).string(m.monId.monName), m.monId.myId).fixed(m.priv).bytes();
}

export function decodeMonId(r: XdrReader): MonId {
  const v = readMonId(r);
  r.end('mon_id');
  return v;
}
export function encodeMonId(m: MonId): Buffer {
  return writeMyId(new XdrWriter(64).string(m.monName), m.myId).bytes();
}

export function decodeMyId(r: XdrReader): MyId {
  const v = readMyId(r);
  r.end('my_id');
  return v;
}
export function encodeMyId(m: MyId): Buffer {
  return writeMyId(new XdrWriter(64), m).bytes();
}

export function decodeStatChge(r: XdrReader): StatChge {
  const v = { monName: name(r, 'mon_name'), state: r.int('state') };
  r.end('stat_chge');
  return v;
}
export function encodeStatChge(s: StatChge): Buffer {
  return new XdrWriter(16 + s.monName.length).string(s.monName).int(s.state).bytes();
}

export function decodeStatus(r: XdrReader): SmStatus {
  const v = { monName: name(r, 'mon_name'), state: r.int('state'), priv: r.fixed(SM_PRIV_SZ, 'priv') };
  r.end('status');
  return v;
}
export function encodeStatus(s: SmStatus): Buffer {
  return new XdrWriter(48 + s.monName.length).string(s.monName).int(s.state).fixed(s.priv).bytes();
}

/** sm_stat_res (SM_STAT, SM_MON). */
export function encodeStatRes(res: number, state: number): Buffer {
  return new XdrWriter(8).int(res).int(state).bytes();
}
export function decodeStatRes(r: XdrReader): { res: number; state: number } {
  const v = { res: r.enumOf([SM_RES.SUCC, SM_RES.FAIL], 'res'), state: r.int('state') };
  r.end('sm_stat_res');
  return v;
}

/** sm_stat (SM_UNMON, SM_UNMON_ALL). */
export function encodeSmStat(state: number): Buffer {
  return new XdrWriter(4).int(state).bytes();
}
export function decodeSmStat(r: XdrReader): number {
  const v = r.int('state');
  r.end('sm_stat');
  return v;
}
