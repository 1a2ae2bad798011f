/**
 * ONC RPC version 2 messages (RFC 5531 section 9): the call header a server decodes and the
 * replies it encodes; AUTH_NONE and AUTH_SYS credentials (appendix A). Sans-IO.
 */
import { XdrError, XdrReader, XdrWriter } from './xdr.js';

export const RPC_VERSION = 2;
export const MSG = { CALL: 0, REPLY: 1 } as const;
export const REPLY_STAT = { MSG_ACCEPTED: 0, MSG_DENIED: 1 } as const;
/** accept_stat (section 9). */
export const ACCEPT = { SUCCESS: 0, PROG_UNAVAIL: 1, PROG_MISMATCH: 2, PROC_UNAVAIL: 3, GARBAGE_ARGS: 4, SYSTEM_ERR: 5 } as const;
/** reject_stat (section 9). */
export const REJECT = { RPC_MISMATCH: 0, AUTH_ERROR: 1 } as const;
/** auth_stat (section 9). */
export const AUTH_STAT = { OK: 0, BADCRED: 1, REJECTEDCRED: 2, BADVERF: 3, REJECTEDVERF: 4, TOOWEAK: 5 } as const;
/** auth_flavor (section 8.2, appendix A). */
export const AUTH = { NONE: 0, SYS: 1 } as const;

/** Longest opaque_auth body (section 8.2). */
export const MAX_AUTH_BYTES = 400;
/** AUTH_SYS limits (appendix A). */
export const MAX_MACHINE_NAME = 255;
export const MAX_GIDS = 16;

export interface OpaqueAuth {
  flavor: number;
  body: Buffer;
}

/** authsys_parms (appendix A). */
export interface AuthSys {
  stamp: number;
  machinename: string;
  uid: number;
  gid: number;
  gids: number[];
}

export interface RpcCall {
  xid: number;
  prog: number;
  vers: number;
  proc: number;
  cred: OpaqueAuth;
  verf: OpaqueAuth;
  /** Decoded AUTH_SYS credential when cred.flavor is AUTH_SYS. */
  sys?: AuthSys;
  /** The procedure's arguments: a reader positioned after the header. */
  args: XdrReader;
}

const readAuth = (r: XdrReader, what: string): OpaqueAuth => ({ flavor: r.uint(`${what} flavor`), body: r.opaque(MAX_AUTH_BYTES, `${what} body`) });

/** Decodes authsys_parms from a credential body (appendix A); the body must hold exactly it. */
export function decodeAuthSys(body: Buffer): AuthSys {
  const r = new XdrReader(body);
  const v: AuthSys = {
    stamp: r.uint('stamp'),
    machinename: r.string(MAX_MACHINE_NAME, 'machinename'),
    uid: r.uint('uid'),
    gid: r.uint('gid'),
    gids: r.array(MAX_GIDS, (x) => x.uint('gid'), 'gids'),
  };
  r.end('authsys_parms');
  return v;
}

export function encodeAuthSys(a: AuthSys): Buffer {
  return new XdrWriter(64).uint(a.stamp).string(a.machinename).uint(a.uid).uint(a.gid).array(a.gids, (w, g) => w.uint(g)).bytes();
}

/** Thrown when the header is a call of the wrong RPC version: answer MSG_DENIED RPC_MISMATCH. */
export class RpcVersionError extends XdrError {
  constructor(readonly xid: number, readonly version: number) {
    super(`rpc version ${version}`);
  }
}

/** Thrown when the credential is malformed: answer AUTH_ERROR AUTH_BADCRED. */
export class RpcBadCredError extends XdrError {
  constructor(readonly xid: number, message: string) {
    super(message);
  }
}

/**
 * Decodes a call message (section 9 `call_body`). Throws XdrError when it is not a call at all
 * (nothing can be answered), RpcVersionError / RpcBadCredError when it should be rejected.
 */
export function decodeCall(msg: Buffer): RpcCall {
  const r = new XdrReader(msg);
  const xid = r.uint('xid');
  const type = r.uint('msg_type');
  if (type !== MSG.CALL) throw new XdrError(`not a call: msg_type ${type}`);
  const rpcvers = r.uint('rpcvers');
  if (rpcvers !== RPC_VERSION) throw new RpcVersionError(xid, rpcvers);
  const prog = r.uint('prog'), vers = r.uint('vers'), proc = r.uint('proc');
  let cred: OpaqueAuth, verf: OpaqueAuth;
  try {
    cred = readAuth(r, 'cred');
    verf = readAuth(r, 'verf');
  } catch (err) {
    throw new RpcBadCredError(xid, (err as Error).message);
  }
  const call: RpcCall = { xid, prog, vers, proc, cred, verf, args: r };
  if (cred.flavor === AUTH.SYS) {
    try {
      call.sys = decodeAuthSys(cred.body);
    } catch (err) {
      throw new RpcBadCredError(xid, (err as Error).message);
    }
  }
  return call;
}

/** Encodes a call (clients and tests). */
export function encodeCall(c: { xid: number; prog: number; vers: number; proc: number; cred?: OpaqueAuth; verf?: OpaqueAuth }, args?: Uint8Array): Buffer {
  const w = new XdrWriter(64 + (args?.length ?? 0));
  w.uint(c.xid).uint(MSG.CALL).uint(RPC_VERSION).uint(c.prog).uint(c.vers).uint(c.proc);
  for (const a of [c.cred, c.verf]) w.uint(a?.flavor ?? AUTH.NONE).opaque(a?.body ?? Buffer.alloc(0));
  if (args) w.fixed(args); // already a multiple of four when it is XDR
  return w.bytes();
}

/** A writer that starts with the MSG_ACCEPTED header (null verifier) and accept_stat. */
export function acceptedHeader(xid: number, stat: number, sizeHint = 128): XdrWriter {
  return new XdrWriter(sizeHint).uint(xid).uint(MSG.REPLY).uint(REPLY_STAT.MSG_ACCEPTED).uint(AUTH.NONE).uint(0).uint(stat);
}

/** A SUCCESS reply with the procedure's results already encoded. */
export function successReply(xid: number, results: Uint8Array): Buffer {
  return acceptedHeader(xid, ACCEPT.SUCCESS, 32 + results.length).fixed(results).bytes();
}

/** PROG_UNAVAIL, PROC_UNAVAIL, GARBAGE_ARGS or SYSTEM_ERR. */
export function errorReply(xid: number, stat: typeof ACCEPT.PROG_UNAVAIL | typeof ACCEPT.PROC_UNAVAIL | typeof ACCEPT.GARBAGE_ARGS | typeof ACCEPT.SYSTEM_ERR): Buffer {
  return acceptedHeader(xid, stat).bytes();
}

/** PROG_MISMATCH with the versions supported. */
export function progMismatchReply(xid: number, low: number, high: number): Buffer {
  return acceptedHeader(xid, ACCEPT.PROG_MISMATCH).uint(low).uint(high).bytes();
}

/** MSG_DENIED RPC_MISMATCH (we speak version 2 only). */
export function rpcMismatchReply(xid: number): Buffer {
  return new XdrWriter(32).uint(xid).uint(MSG.REPLY).uint(REPLY_STAT.MSG_DENIED).uint(REJECT.RPC_MISMATCH).uint(RPC_VERSION).uint(RPC_VERSION).bytes();
}

/** MSG_DENIED AUTH_ERROR with an auth_stat. */
export function authErrorReply(xid: number, stat: number): Buffer {
  return new XdrWriter(32).uint(xid).uint(MSG.REPLY).uint(REPLY_STAT.MSG_DENIED).uint(REJECT.AUTH_ERROR).uint(stat).bytes();
}

/** A decoded reply (clients and tests). */
export type RpcReply =
  | { xid: number; kind: 'accepted'; stat: number; mismatch?: { low: number; high: number }; results: XdrReader }
  | { xid: number; kind: 'denied'; reject: number; mismatch?: { low: number; high: number }; authStat?: number };

export function decodeReply(msg: Buffer): RpcReply {
  const r = new XdrReader(msg);
  const xid = r.uint('xid');
  if (r.uint('msg_type') !== MSG.REPLY) throw new XdrError('not a reply');
  const rs = r.uint('reply_stat');
  if (rs === REPLY_STAT.MSG_ACCEPTED) {
    readAuth(r, 'verf');
    const stat = r.uint('accept_stat');
    if (stat === ACCEPT.PROG_MISMATCH) return { xid, kind: 'accepted', stat, mismatch: { low: r.uint(), high: r.uint() }, results: r };
    return { xid, kind: 'accepted', stat, results: r };
  }
  if (rs !== REPLY_STAT.MSG_DENIED) throw new XdrError(`bad reply_stat ${rs}`);
  const reject = r.uint('reject_stat');
  if (reject === REJECT.RPC_MISMATCH) return { xid, kind: 'denied', reject, mismatch: { low: r.uint(), high: r.uint() } };
  if (reject === REJECT.AUTH_ERROR) return { xid, kind: 'denied', reject, authStat: r.uint() };
  throw new XdrError(`bad reject_stat ${reject}`);
}
