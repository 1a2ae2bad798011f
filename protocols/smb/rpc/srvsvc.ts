/**
 * MS-SRVS (srvsvc, interface 4b324fc8-1670-01d3-1278-5a47bf6ee188 v3.0) — the three calls that
 * list shares, over NDR 2.0, sans-IO:
 *
 * - NetrShareEnum (opnum 15, MS-SRVS 3.1.4.8): SHARE_ENUM_STRUCT levels 0, 1, 2 and 501; 502 and
 *   503 (and anything else) answer ERROR_INVALID_LEVEL. PreferedMaximumLength (0xFFFFFFFF = all)
 *   limits the entries returned by their estimated size (at least one entry); when entries
 *   remain the answer is ERROR_MORE_DATA with the resume handle at the next entry.
 * - NetrShareGetInfo (opnum 16, 3.1.4.10): levels 0, 1, 2, 501, 1005; other levels
 *   ERROR_INVALID_LEVEL; an unknown share NERR_NetNameNotFound (2310). Names match
 *   case-insensitively.
 * - NetrServerGetInfo (opnum 21, 3.1.4.17): levels 100 and 101.
 *
 * Every other opnum faults nca_s_op_rng_error (MS-RPCE 3.1.1.5.5 via dcerpc.ts). Share types
 * (2.2.2.4): STYPE_DISKTREE for disk shares, STYPE_IPC | STYPE_SPECIAL (0x80000003) for IPC$.
 * Level 2 (SHARE_INFO_2, 2.2.4.24) is filled as for a caller without admin rights on a server in
 * user-level security: permissions 0 (ignored in user-level security), max uses
 * SHI_USES_UNLIMITED, current uses from the share list (default 0), the path the share list
 * gives (default empty: the gateway's internal layout is nobody's business), password NULL.
 */
import { NCA, RpcPipe, type CallResult, type RpcInterface, type RpcPipeOptions, type SyntaxId } from './dcerpc.js';
import { NdrReader, NdrWriter } from './ndr.js';
import { WireError } from '../wire/reader.js';

/** The srvsvc abstract syntax (MS-SRVS 1.9): version 3.0. */
export const SRVSVC_SYNTAX: SyntaxId = { uuid: '4b324fc8-1670-01d3-1278-5a47bf6ee188', version: 3 };

export const OPNUM = { NetrShareEnum: 15, NetrShareGetInfo: 16, NetrServerGetInfo: 21 } as const;

/** Share types (MS-SRVS 2.2.2.4). */
export const STYPE = { DISKTREE: 0x00000000, IPC: 0x00000003, SPECIAL: 0x80000000 } as const;

/** Win32 error codes the calls return (MS-ERREF 2.2; NERR_* from MS-SRVS 2.2.2.*). */
export const WERR = {
  OK: 0, ACCESS_DENIED: 5, INVALID_PARAMETER: 87, INVALID_LEVEL: 124, MORE_DATA: 234, NERR_NetNameNotFound: 2310,
} as const;

/** SHI_USES_UNLIMITED (MS-SRVS 2.2.4.24). */
export const SHI_USES_UNLIMITED = 0xffffffff;
/** PLATFORM_ID_NT (MS-SRVS 2.2.2.6). */
export const PLATFORM_ID_NT = 500;
/** SV_TYPE_WORKSTATION | SV_TYPE_SERVER | SV_TYPE_NT | SV_TYPE_SERVER_NT (MS-SRVS 2.2.2.7). */
export const SERVER_TYPE = 0x00000001 | 0x00000002 | 0x00001000 | 0x00008000;

/** One share as the calls present it. */
export interface ShareEntry {
  name: string;
  type: 'disk' | 'ipc';
  remark: string;
  /** SHARE_INFO_2 shi2_path (default ''). */
  path?: string;
  /** SHARE_INFO_2 shi2_current_uses (default 0). */
  currentUses?: number;
}

/** What the srvsvc interface answers from. `shares` may be a function, read at each call. */
export interface SrvsvcConfig {
  /** NetBIOS-style server name for SERVER_INFO_100/101 (e.g. `DWGATEWAY`). */
  serverName: string;
  shares: readonly ShareEntry[] | (() => readonly ShareEntry[]);
  /** SERVER_INFO_101 comment (default ''). */
  comment?: string;
  /** SERVER_INFO_101 version (default 10.0). */
  versionMajor?: number;
  versionMinor?: number;
}

const MAX_NAME = 1024;
/** Union arms that exist in the IDL (so an error reply writes a NULL pointer for them and nothing otherwise). */
const SHARE_ENUM_ARMS = new Set([0, 1, 2, 501, 502, 503]);
const SHARE_INFO_ARMS = new Set([0, 1, 2, 501, 502, 503, 1004, 1005, 1006, 1501]);
const SERVER_INFO_ARMS = new Set([100, 101, 102, 103, 502, 503, 599]);
const ENUM_LEVELS = new Set([0, 1, 2, 501]);
const GETINFO_LEVELS = new Set([0, 1, 2, 501, 1005]);

function shareType(s: ShareEntry): number {
  return s.type === 'ipc' ? (STYPE.IPC | STYPE.SPECIAL) >>> 0 : STYPE.DISKTREE;
}

/** Fixed part of one SHARE_INFO_<level> and its deferred strings; `write` puts the fixed part and queues the strings. */
function writeShareInfo(n: NdrWriter, level: number, s: ShareEntry): void {
  if (level === 1005) {
    n.u32(0); // shi1005_flags: no DFS, manual caching (MS-SRVS 2.2.4.29)
    return;
  }
  n.stringPointer(s.name);
  if (level === 0) return;
  n.u32(shareType(s));
  n.stringPointer(s.remark);
  if (level === 501) {
    n.u32(0); // shi501_flags: CSC_CACHE_MANUAL_REINT
  } else if (level === 2) {
    n.u32(0).u32(SHI_USES_UNLIMITED).u32(s.currentUses ?? 0);
    n.stringPointer(s.path ?? '');
    n.stringPointer(undefined);
  }
}

/** Estimated wire size of one entry, for PreferedMaximumLength (fixed part + strings with terminators). */
function entrySize(level: number, s: ShareEntry): number {
  const str = (x: string): number => 12 + (x.length + 1) * 2;
  switch (level) {
    case 0: return 4 + str(s.name);
    case 1: return 12 + str(s.name) + str(s.remark);
    case 501: return 16 + str(s.name) + str(s.remark);
    default: return 40 + str(s.name) + str(s.remark) + str(s.path ?? '');
  }
}

/** `[in, string, unique] SRVSVC_HANDLE ServerName` (MS-SRVS 2.2.1.1). */
const serverName = (r: NdrReader): string | undefined => r.stringPointer(MAX_NAME, 'ServerName');

/** Decoded NetrShareEnum input (MS-SRVS 3.1.4.8). */
export interface ShareEnumArgs {
  server: string | undefined;
  level: number;
  /** Whether the client sent a container pointer (echoed in error replies). */
  hasContainer: boolean;
  preferedMaximumLength: number;
  /** undefined when the client passed a NULL ResumeHandle. */
  resumeHandle: number | undefined;
}

/**
 * Decodes NetrShareEnum's [in] stub. Throws WireError when the union switch differs from Level
 * or the client sent a non-empty container (clients send EntriesRead 0, Buffer NULL).
 */
export function decodeShareEnumArgs(stub: Buffer): ShareEnumArgs {
  const r = new NdrReader(stub);
  const server = serverName(r);
  const level = r.u32('Level'), sw = r.u32('union switch');
  if (sw !== level) throw new WireError(`SHARE_ENUM_STRUCT switch ${sw} ≠ Level ${level}`);
  let hasContainer = false;
  if (SHARE_ENUM_ARMS.has(level) && r.pointer('container') !== 0) {
    hasContainer = true;
    r.u32('EntriesRead');
    if (r.pointer('Buffer') !== 0) throw new WireError('NetrShareEnum with a non-NULL input buffer');
  }
  const preferedMaximumLength = r.u32('PreferedMaximumLength');
  const resumeHandle = r.pointer('ResumeHandle') === 0 ? undefined : r.u32('ResumeHandle value');
  return { server, level, hasContainer, preferedMaximumLength, resumeHandle };
}

/** Decoded NetrShareGetInfo input (MS-SRVS 3.1.4.10). */
export interface ShareGetInfoArgs {
  server: string | undefined;
  netName: string;
  level: number;
}

export function decodeShareGetInfoArgs(stub: Buffer): ShareGetInfoArgs {
  const r = new NdrReader(stub);
  const server = serverName(r);
  const netName = r.string(MAX_NAME, 'NetName');
  return { server, netName, level: r.u32('Level') };
}

/** Decoded NetrServerGetInfo input (MS-SRVS 3.1.4.17). */
export function decodeServerGetInfoArgs(stub: Buffer): { server: string | undefined; level: number } {
  const r = new NdrReader(stub);
  const server = serverName(r);
  return { server, level: r.u32('Level') };
}

/**
 * NetrShareEnum's [out] stub: SHARE_ENUM_STRUCT (Level, switch, container pointer →
 * {EntriesRead, Buffer → conformant array of SHARE_INFO_<level>}), TotalEntries, ResumeHandle,
 * WERROR (MS-SRVS 2.2.4.38, 2.2.4.32–2.2.4.36).
 */
export function shareEnum(shares: readonly ShareEntry[], a: ShareEnumArgs): Buffer {
  const n = new NdrWriter();
  if (!ENUM_LEVELS.has(a.level)) {
    n.u32(a.level).u32(a.level);
    if (SHARE_ENUM_ARMS.has(a.level)) {
      if (n.pointer(a.hasContainer)) n.u32(0).pointer(false);
    }
    n.u32(0);
    if (n.pointer(a.resumeHandle !== undefined)) n.u32(a.resumeHandle!);
    return n.u32(WERR.INVALID_LEVEL).finish();
  }
  const start = Math.min(a.resumeHandle ?? 0, shares.length);
  const picked: ShareEntry[] = [];
  let budget = a.preferedMaximumLength === 0xffffffff ? Infinity : a.preferedMaximumLength;
  for (let i = start; i < shares.length; i++) {
    const cost = entrySize(a.level, shares[i]!);
    if (picked.length > 0 && cost > budget) break;
    picked.push(shares[i]!);
    budget -= cost;
  }
  const more = start + picked.length < shares.length;
  n.u32(a.level).u32(a.level);
  n.pointer(true);
  n.u32(picked.length);
  if (n.pointer(picked.length > 0)) {
    n.defer(() => {
      n.u32(picked.length);
      for (const s of picked) writeShareInfo(n, a.level, s);
    });
  }
  n.flush();
  n.u32(shares.length);
  // [in, out, unique]: NULL stays NULL (the client then cannot resume).
  if (n.pointer(a.resumeHandle !== undefined)) n.u32(more ? start + picked.length : 0);
  return n.u32(more ? WERR.MORE_DATA : WERR.OK).finish();
}

/** NetrShareGetInfo's [out] stub: LPSHARE_INFO union (switch, pointer → SHARE_INFO_<level>), WERROR. */
export function shareGetInfo(shares: readonly ShareEntry[], a: ShareGetInfoArgs): Buffer {
  const n = new NdrWriter();
  const want = a.netName.toLowerCase();
  const share = shares.find((s) => s.name.toLowerCase() === want);
  const status = !GETINFO_LEVELS.has(a.level) ? WERR.INVALID_LEVEL : share === undefined ? WERR.NERR_NetNameNotFound : WERR.OK;
  n.u32(a.level);
  if (status === WERR.OK) {
    n.pointer(true);
    writeShareInfo(n, a.level, share!);
    n.flush();
  } else if (SHARE_INFO_ARMS.has(a.level)) {
    n.pointer(false);
  }
  return n.u32(status).finish();
}

/** NetrServerGetInfo's [out] stub: LPSERVER_INFO union (switch, pointer → SERVER_INFO_100/101), WERROR (2.2.4.40/41). */
export function serverGetInfo(cfg: SrvsvcConfig, level: number): Buffer {
  const n = new NdrWriter();
  n.u32(level);
  if (level === 100 || level === 101) {
    n.pointer(true);
    n.u32(PLATFORM_ID_NT).stringPointer(cfg.serverName);
    if (level === 101) n.u32(cfg.versionMajor ?? 10).u32(cfg.versionMinor ?? 0).u32(SERVER_TYPE).stringPointer(cfg.comment ?? '');
    n.flush();
    return n.u32(WERR.OK).finish();
  }
  if (SERVER_INFO_ARMS.has(level)) n.pointer(false);
  return n.u32(WERR.INVALID_LEVEL).finish();
}

/** The srvsvc interface for `RpcPipe`: decodes the stub, answers, faults nca_s_op_rng_error for other opnums. */
export function srvsvcInterface(cfg: SrvsvcConfig): RpcInterface {
  const list = (): readonly ShareEntry[] => (typeof cfg.shares === 'function' ? cfg.shares() : cfg.shares);
  return {
    syntax: SRVSVC_SYNTAX,
    pipeName: 'srvsvc',
    call(opnum: number, stub: Buffer): CallResult {
      switch (opnum) {
        case OPNUM.NetrShareEnum:
          return { stub: shareEnum(list(), decodeShareEnumArgs(stub)) };
        case OPNUM.NetrShareGetInfo:
          return { stub: shareGetInfo(list(), decodeShareGetInfoArgs(stub)) };
        case OPNUM.NetrServerGetInfo:
          return { stub: serverGetInfo(cfg, decodeServerGetInfoArgs(stub).level) };
        default:
          return { fault: NCA.op_rng_error };
      }
    },
  };
}

/**
 * A `\PIPE\srvsvc` endpoint: `write(bytes)` takes what the client wrote to the pipe and returns
 * the PDUs to answer with (see `RpcPipe`). One per open of the pipe file on IPC$.
 */
export function srvsvcPipe(cfg: SrvsvcConfig, opts: RpcPipeOptions = {}): RpcPipe {
  return new RpcPipe(srvsvcInterface(cfg), opts);
}
