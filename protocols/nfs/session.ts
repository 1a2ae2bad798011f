/**
 * The RPC side of one server (RFC 5531): each record from a connection is decoded as a call and
 * answered by the table of programs keyed by program number, then version, then procedure.
 * An unknown program is PROG_UNAVAIL, an unknown version PROG_MISMATCH (with the range served),
 * an unknown procedure PROC_UNAVAIL, arguments that do not decode GARBAGE_ARGS, a credential
 * that is not AUTH_NONE or AUTH_SYS AUTH_ERROR (AUTH_BADCRED / TOOWEAK), a handler fault
 * SYSTEM_ERR. Sans-IO: a record in, a reply record (or nothing) out; never throws.
 */
import type { Logger } from 'pino';
import type { Ctx } from '../../vfs/types.js';
import { ACCEPT, AUTH, AUTH_STAT, authErrorReply, decodeCall, errorReply, progMismatchReply, RpcBadCredError, RpcVersionError, rpcMismatchReply, successReply, type RpcCall } from './wire/rpc.js';
import { XdrError } from './wire/xdr.js';
import { ReplyCache } from './drc.js';

/** uid/gid of AUTH_NONE callers (nobody / nogroup). */
export const ANON_UID = 65534;
export const ANON_GID = 65534;

/** Who is calling, on which connection. */
export interface CallInfo {
  call: RpcCall;
  ctx: Ctx;
  /** 'address:port' of the client. */
  peer: string;
}

/** A procedure: decodes its arguments from call.args (throwing XdrError → GARBAGE_ARGS) and returns the encoded results. */
export type Procedure = (c: CallInfo) => Promise<Uint8Array> | Uint8Array;

/** One program: its procedures by version. */
export interface Program {
  name: string;
  versions: Map<number, Partial<Record<number, Procedure>>>;
  /**
   * The non-idempotent procedures (of every version) whose replies the duplicate request cache
   * keeps, and which of their results to keep (default all; e.g. not "retry later").
   */
  drc?: { procs: ReadonlySet<number>; keep?: (results: Uint8Array) => boolean };
}

export type Programs = Map<number, Program>;

/** The ctx of a call: AUTH_SYS's uid/gid/gids, AUTH_NONE as nobody. */
export function ctxOf(call: RpcCall, peer: string): Ctx {
  const clientId = `nfs:${peer}`;
  if (call.sys) return { uid: call.sys.uid, gid: call.sys.gid, groups: call.sys.gids.filter((g) => g !== call.sys!.gid), clientId };
  return { uid: ANON_UID, gid: ANON_GID, groups: [], clientId };
}

/**
 * Answers one record. Returns the reply record, or undefined when the record is not a call at
 * all (nothing to answer; the connection stays open).
 */
export async function answer(programs: Programs, record: Buffer, peer: string, log?: Logger, drc?: ReplyCache): Promise<Buffer | undefined> {
  let call: RpcCall;
  try {
    call = decodeCall(record);
  } catch (err) {
    if (err instanceof RpcVersionError) return rpcMismatchReply(err.xid);
    if (err instanceof RpcBadCredError) return authErrorReply(err.xid, AUTH_STAT.BADCRED);
    log?.debug({ err, peer }, 'nfs: undecodable RPC message dropped');
    return undefined;
  }
  if (call.cred.flavor !== AUTH.NONE && call.cred.flavor !== AUTH.SYS) return authErrorReply(call.xid, AUTH_STAT.BADCRED);
  const prog = programs.get(call.prog);
  if (!prog) return errorReply(call.xid, ACCEPT.PROG_UNAVAIL);
  const procs = prog.versions.get(call.vers);
  if (!procs) {
    const vs = [...prog.versions.keys()];
    return progMismatchReply(call.xid, Math.min(...vs), Math.max(...vs));
  }
  const proc = procs[call.proc];
  if (!proc) return errorReply(call.xid, ACCEPT.PROC_UNAVAIL);
  let keep = true;
  const run = async (): Promise<Buffer> => {
    try {
      const results = await proc({ call, ctx: ctxOf(call, peer), peer });
      if (prog.drc?.keep && !prog.drc.keep(results)) keep = false;
      return successReply(call.xid, results);
    } catch (err) {
      if (err instanceof XdrError) {
        log?.debug({ err: err.message, peer, prog: prog.name, proc: call.proc }, 'nfs: garbage arguments');
        return errorReply(call.xid, ACCEPT.GARBAGE_ARGS);
      }
      log?.error({ err, peer, prog: prog.name, proc: call.proc }, 'nfs: procedure failed unexpectedly');
      keep = false;
      return errorReply(call.xid, ACCEPT.SYSTEM_ERR);
    }
  };
  if (!drc || !prog.drc?.procs.has(call.proc)) return run();
  const key = ReplyCache.key(hostOf(peer), record, call.xid, call.prog, call.vers, call.proc);
  return drc.run(key, run, () => keep);
}

/** The address part of 'address:port' (IPv6 addresses hold colons too). */
export function hostOf(peer: string): string {
  const i = peer.lastIndexOf(':');
  return i < 0 ? peer : peer.slice(0, i);
}
