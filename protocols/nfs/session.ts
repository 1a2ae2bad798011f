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
import { ACCEPT, acceptedHeader, AUTH, AUTH_STAT, authErrorReply, decodeCall, errorReply, progMismatchReply, RpcBadCredError, RpcVersionError, rpcMismatchReply, successReply, type RpcCall } from './wire/rpc.js';
import { settleLoans, XdrError, XdrReader } from './wire/xdr.js';
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
  /** This server's own address the call came to (no port), when the transport knows it. */
  local?: string;
}

/** Encoded results: one buffer, or segments in order (XdrWriter.parts(): READ data uncopied). */
export type Results = Uint8Array | Uint8Array[];

/** A procedure: decodes its arguments from call.args (throwing XdrError → GARBAGE_ARGS) and returns the encoded results. */
export type Procedure = (c: CallInfo) => Promise<Results> | Results;

/** One program: its procedures by version. */
export interface Program {
  name: string;
  versions: Map<number, Partial<Record<number, Procedure>>>;
  /**
   * The non-idempotent procedures (of every version) whose replies the duplicate request cache
   * keeps, and which of their results to keep (default all; e.g. not "retry later").
   */
  drc?: {
    procs: ReadonlySet<number>;
    /** Whether to keep a reply: its results' first segment (the status), the call, all results' bytes. */
    keep?: (results: Uint8Array, call: RpcCall, size: number) => boolean;
    /**
     * Decides per call instead of `procs` (NFSv4.0 COMPOUNDs: by the operations inside). `args`
     * is a reader of its own over the arguments; a decoding error means "no" (the procedure's
     * own decoding answers GARBAGE_ARGS).
     */
    want?: (call: RpcCall, args: XdrReader) => boolean;
  };
  /** The name of a procedure of a version (for logs and metrics), e.g. 'READ'. */
  procName?: (version: number, proc: number) => string | undefined;
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
  const parts = await answerParts(programs, record, peer, log, drc);
  return parts && (parts.length === 1 ? parts[0] : Buffer.concat(parts));
}

/** Below this many bytes a reply's segments are joined into one buffer (one small write). */
const JOIN_BELOW = 64 * 1024;

/** How a call was answered, for metrics: SUCCESS or the RPC error (RFC 5531 §9). */
export type CallOutcome = 'success' | 'garbage_args' | 'system_err' | 'proc_unavail' | 'prog_mismatch' | 'prog_unavail' | 'auth_error' | 'rpc_mismatch';

/** One answered call: program name (or number), version, procedure name (or number), outcome, seconds from decoding to reply. */
export interface CallRecord { program: string; version: number; procedure: string; outcome: CallOutcome; seconds: number }

/** As `answer`, the reply as segments in order (large READ data is not copied). `observe` hears of every call answered. */
export async function answerParts(programs: Programs, record: Buffer, peer: string, log?: Logger, drc?: ReplyCache, observe?: (c: CallRecord) => void, local?: string): Promise<Buffer[] | undefined> {
  const t0 = observe ? performance.now() : 0;
  let call: RpcCall | undefined;
  let prog: Program | undefined;
  const report = (outcome: CallOutcome): void => observe?.({
    program: prog?.name ?? String(call?.prog ?? '?'), version: call?.vers ?? 0,
    procedure: call ? prog?.procName?.(call.vers, call.proc) ?? String(call.proc) : '?', outcome, seconds: (performance.now() - t0) / 1000,
  });
  /** An RPC-level error reply, reported. */
  const one = (b: Buffer, outcome: CallOutcome): Buffer[] => {
    report(outcome);
    return [b];
  };
  try {
    call = decodeCall(record);
  } catch (err) {
    if (err instanceof RpcVersionError) return one(rpcMismatchReply(err.xid), 'rpc_mismatch');
    if (err instanceof RpcBadCredError) return one(authErrorReply(err.xid, AUTH_STAT.BADCRED), 'auth_error');
    log?.debug({ err, peer }, 'nfs: undecodable RPC message dropped');
    return undefined;
  }
  if (call.cred.flavor !== AUTH.NONE && call.cred.flavor !== AUTH.SYS) return one(authErrorReply(call.xid, AUTH_STAT.BADCRED), 'auth_error');
  prog = programs.get(call.prog);
  if (!prog) return one(errorReply(call.xid, ACCEPT.PROG_UNAVAIL), 'prog_unavail');
  const procs = prog.versions.get(call.vers);
  if (!procs) {
    const vs = [...prog.versions.keys()];
    return one(progMismatchReply(call.xid, Math.min(...vs), Math.max(...vs)), 'prog_mismatch');
  }
  const proc = procs[call.proc];
  if (!proc) return one(errorReply(call.xid, ACCEPT.PROC_UNAVAIL), 'proc_unavail');
  const answered = await answerCall(prog, proc, call, record, peer, log, drc, local);
  report(answered.outcome);
  return answered.parts;
}

/** Runs a decoded call's procedure (through the duplicate request cache when it keeps it). */
async function answerCall(prog: Program, proc: Procedure, call: RpcCall, record: Buffer, peer: string, log?: Logger, drc?: ReplyCache, local?: string): Promise<{ parts: Buffer[] | undefined; outcome: CallOutcome }> {
  let outcome: CallOutcome = 'success';
  let keep = true;
  const run = async (): Promise<Buffer[]> => {
    try {
      const results = await proc({ call, ctx: ctxOf(call, peer), peer, ...(local ? { local } : {}) });
      const list = Array.isArray(results) ? results : [results];
      const size = list.reduce((n, b) => n + b.length, 0);
      if (prog.drc?.keep && !prog.drc.keep(list[0] ?? new Uint8Array(0), call, size)) keep = false;
      if (list.length === 1 || size < JOIN_BELOW) {
        const one = successReply(call.xid, list.length === 1 ? list[0]! : Buffer.concat(list, size));
        settleLoans(list); // copied (lent READ data: XdrWriter.opaqueRef)
        return [one];
      }
      // The parts as they are: a lent one is given back by its identity once sent (server.ts).
      return [acceptedHeader(call.xid, ACCEPT.SUCCESS, 24).bytes(), ...list.map((b) => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length)))];
    } catch (err) {
      if (err instanceof XdrError) {
        log?.debug({ err: err.message, peer, prog: prog.name, proc: call.proc }, 'nfs: garbage arguments');
        outcome = 'garbage_args';
        return [errorReply(call.xid, ACCEPT.GARBAGE_ARGS)];
      }
      log?.error({ err, peer, prog: prog.name, proc: call.proc }, 'nfs: procedure failed unexpectedly');
      keep = false;
      outcome = 'system_err';
      return [errorReply(call.xid, ACCEPT.SYSTEM_ERR)];
    }
  };
  if (!drc || !prog.drc || !wantsCache(prog.drc, call, record)) return { parts: await run(), outcome };
  const key = ReplyCache.key(hostOf(peer), record, call.xid, call.prog, call.vers, call.proc);
  // The cache keeps whole replies (the procedures it keeps answer a few hundred bytes).
  const reply = await drc.run(key, async () => {
    const p = await run();
    if (p.length === 1) return p[0]!;
    const all = Buffer.concat(p);
    settleLoans(p);
    return all;
  }, () => keep);
  return { parts: reply && [reply], outcome };
}

/** Whether the duplicate request cache keeps this call's reply. */
function wantsCache(d: NonNullable<Program['drc']>, call: RpcCall, record: Buffer): boolean {
  if (!d.want) return d.procs.has(call.proc);
  try {
    return d.want(call, new XdrReader(record, call.args.offset()));
  } catch (err) {
    if (err instanceof XdrError) return false;
    throw err;
  }
}

/** A procedure-number → name lookup from a table of names (PROC, MOUNT_PROC …), for `Program.procName`. */
export function procNames(table: Readonly<Record<string, number>>): (proc: number) => string | undefined {
  const m = new Map(Object.entries(table).map(([k, v]) => [v, k]));
  return (proc) => m.get(proc);
}

/** The address part of 'address:port' (IPv6 addresses hold colons too). */
export function hostOf(peer: string): string {
  const i = peer.lastIndexOf(':');
  return i < 0 ? peer : peer.slice(0, i);
}
