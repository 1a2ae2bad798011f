/**
 * The COMPOUND procedure (RFC 7530 §15.2 / §16.2, RFC 8881 §16.2): operations run in order
 * against the current (and saved) file handle until one fails; the reply carries the status of
 * the last operation run and one result per operation run. Dispatch is the table `OPS` keyed by
 * opcode. An opcode not in the minor version is OP_ILLEGAL (answered as OP_ILLEGAL /
 * NFS4ERR_OP_ILLEGAL), a known one we do not implement NFS4ERR_NOTSUPP, arguments that do not
 * decode NFS4ERR_BADXDR, a minor version other than 0 or 1 NFS4ERR_MINOR_VERS_MISMATCH with no
 * results. In 4.1 every COMPOUND starts with SEQUENCE (or is one of the session-less operations
 * alone), and its reply is kept in the session's slot for retransmissions.
 */
import { crc32c } from '@node-rs/crc32';
import type { Ctx } from '../../../vfs/types.js';
import { Nfs4Error, nfs4Status } from '../errors.js';
import type { CallInfo } from '../session.js';
import { hostOf } from '../session.js';
import { decodeCompoundHeader, decodeOpArgs, isKnownOp, MAX_IO, NFS4, OP, type Stateid4 } from '../wire/nfs4.js';
import { settleLoans, XdrError, XdrWriter } from '../wire/xdr.js';
import { FS_OPS } from './ops-fs.js';
import { SESSION_OPS } from './ops-session.js';
import { STATE_OPS } from './ops-state.js';
import type { Nfs4Service, Node } from './service.js';
import { NO_SEQID_BUMP, type Client, type Owner, type Session, type Slot } from './state.js';
import { VfsError } from '../../../vfs/errno.js';

/** The state of one COMPOUND while it runs. */
export interface Compound {
  s: Nfs4Service;
  minor: number;
  /** The RPC caller (before the export's squash). */
  rpc: Ctx;
  authNone: boolean;
  host: string;
  peer: string;
  numOps: number;
  cur?: Node;
  saved?: Node;
  /** 4.1 current and saved stateid (RFC 8881 §16.2.3.1.2). */
  curStateid?: Stateid4;
  savedStateid?: Stateid4;
  session?: Session;
  slot?: Slot;
  cacheThis?: boolean;
  /** 4.1: digest of this request's COMPOUND arguments and caller (SEQUENCE tells a false retry by it). */
  requestSum?: number;
  /** A 4.0 seqid-carrying op sets this; the loop then advances the owner's seqid and keeps the reply. */
  seqOwner?: { owner: Owner; seqid: number };
}

export type OpHandler = (c: Compound, args: any, w: XdrWriter) => Promise<void> | void;
export interface OpDef {
  run: OpHandler;
  /** 0: in 4.0 only (SETCLIENTID, RENEW, OPEN_CONFIRM …); 1: 4.1 only. Absent: both. */
  only?: 0 | 1;
}

/** Thrown to answer an op with bytes kept from before (4.0 seqid replay): its status and body. */
export class OpReplay extends Error {
  constructor(readonly bytes: Buffer) {
    super('replay');
  }
}
/** Thrown by SEQUENCE to answer the whole COMPOUND from the slot's reply cache. */
export class CompoundReplay extends Error {
  constructor(readonly bytes: Buffer) {
    super('replay');
  }
}

/** The largest COMPOUND reply without a session (a 1 MiB READ and its headers fit). */
export const MAX_REPLY = MAX_IO + 64 * 1024;

/** The operations, by opcode. */
export const OPS: Partial<Record<number, OpDef>> = { ...FS_OPS, ...STATE_OPS, ...SESSION_OPS };

/** Operations that may start a 4.1 COMPOUND without SEQUENCE, as its only operation (RFC 8881 §2.10.6.2 …). */
const SESSIONLESS: ReadonlySet<number> = new Set([OP.EXCHANGE_ID, OP.CREATE_SESSION, OP.DESTROY_SESSION, OP.BIND_CONN_TO_SESSION, OP.DESTROY_CLIENTID]);

/** The current file handle, or NFS4ERR_NOFILEHANDLE. */
export function current(c: Compound): Node {
  if (!c.cur) throw new Nfs4Error(NFS4.ERR_NOFILEHANDLE, 'no current file handle');
  return c.cur;
}

/** The 4.1 client of the COMPOUND's session (after SEQUENCE), if any. */
export function sessionClient(c: Compound): Client | undefined {
  return c.session?.client;
}

/**
 * COMPOUND4res as segments: the header, then each op's result segments in order (READ data is
 * one of them, uncopied: XdrWriter.opaqueRef).
 */
function results(status: number, tag: Buffer, ops: Buffer[][]): Buffer[] {
  const head = new XdrWriter(16 + tag.length).uint(status).opaque(tag).uint(ops.length).bytes();
  return [head, ...ops.flat()];
}

const size = (parts: readonly Buffer[]): number => parts.reduce((n, b) => n + b.length, 0);

/** Answers one COMPOUND call: the encoded COMPOUND4res, as segments. */
export async function compound(s: Nfs4Service, ci: CallInfo): Promise<Buffer[]> {
  const r = ci.call.args;
  const body = r.rest();
  const hdr = decodeCompoundHeader(r); // XdrError: GARBAGE_ARGS
  if (hdr.minorversion > 1) return results(NFS4.ERR_MINOR_VERS_MISMATCH, hdr.tag, []);
  const c: Compound = {
    s, minor: hdr.minorversion, rpc: ci.ctx, authNone: !ci.call.sys, host: hostOf(ci.peer), peer: ci.peer, numOps: hdr.numOps,
    // 4.1: what SEQUENCE compares a retry with (CRC-32C, hardware: ~0.05 ms per MiB of WRITE data).
    ...(hdr.minorversion >= 1 ? { requestSum: requestSum(body, ci) } : {}),
  };
  const note = (op: number, st: number): void => s.onOp?.({ minor: c.minor, op: OP_NAME.get(op) ?? String(op), status: STATUS_NAME.get(st) ?? String(st) });
  /** Each op's result (nfs_resop4) as segments. */
  const out: Buffer[][] = [];
  let status: number = NFS4.OK;
  let replyBytes = 0;
  try {
    for (let i = 0; i < hdr.numOps; i++) {
      let op: number;
      try {
        op = r.uint('opnum');
      } catch {
        out.push([opResult(OP.ILLEGAL, NFS4.ERR_BADXDR)]);
        status = NFS4.ERR_BADXDR;
        note(OP.ILLEGAL, status);
        break;
      }
      if (!isKnownOp(op, c.minor)) {
        out.push([opResult(OP.ILLEGAL, NFS4.ERR_OP_ILLEGAL)]);
        status = NFS4.ERR_OP_ILLEGAL;
        note(OP.ILLEGAL, status);
        break;
      }
      if (c.minor >= 1) {
        let bad: number | undefined;
        if (i === 0 && op !== OP.SEQUENCE && !SESSIONLESS.has(op)) bad = NFS4.ERR_OP_NOT_IN_SESSION;
        else if (i === 0 && SESSIONLESS.has(op) && hdr.numOps > 1) bad = NFS4.ERR_NOT_ONLY_OP;
        else if (i > 0 && op === OP.SEQUENCE) bad = NFS4.ERR_SEQUENCE_POS;
        if (bad !== undefined) {
          out.push([opResult(op, bad)]);
          status = bad;
          note(op, status);
          break;
        }
      }
      const def = OPS[op];
      if (!def || (def.only !== undefined && def.only !== Math.min(c.minor, 1))) {
        out.push([opResult(op, NFS4.ERR_NOTSUPP)]);
        status = NFS4.ERR_NOTSUPP;
        note(op, status);
        break;
      }
      let args: unknown;
      try {
        args = decodeOpArgs(op, r);
      } catch (err) {
        if (!(err instanceof XdrError)) throw err;
        s.log?.debug({ err: err.message, op, peer: ci.peer }, 'nfs4: bad op arguments');
        out.push([opResult(op, NFS4.ERR_BADXDR)]);
        status = NFS4.ERR_BADXDR;
        break;
      }
      // The op's result from its status on (nfs_resop4 after the opcode), as segments.
      let bytes: Buffer[];
      c.seqOwner = undefined;
      try {
        const body = new XdrWriter(128).uint(NFS4.OK);
        await def.run(c, args, body);
        status = NFS4.OK;
        bytes = body.parts();
      } catch (err) {
        if (err instanceof CompoundReplay) return [err.bytes];
        if (err instanceof OpReplay) {
          bytes = [err.bytes];
          status = err.bytes.readUInt32BE(0);
        } else {
          if (!(err instanceof Nfs4Error) && !(err instanceof VfsError)) {
            s.log?.error({ err, op, peer: ci.peer }, 'nfs4: operation failed unexpectedly');
          }
          status = nfs4Status(err);
          const w = new XdrWriter(64).uint(status);
          if (err instanceof Nfs4Error && err.body) err.body(w);
          bytes = [w.bytes()];
        }
      }
      const so = c.seqOwner as Compound['seqOwner'];
      if (so && c.minor === 0 && !NO_SEQID_BUMP.has(status)) {
        so.owner.seqid = so.seqid;
        // Seqid ops (OPEN, CLOSE, LOCK …) answer a few dozen bytes: kept whole for their replay.
        so.owner.last = { seqid: so.seqid, bytes: bytes.length === 1 ? bytes[0]! : Buffer.concat(bytes) };
      }
      replyBytes += size(bytes) + 4;
      // A COMPOUND of many READs could build a reply of gigabytes: stop at the reply limit.
      const limit = c.session ? c.session.maxresp : MAX_REPLY;
      if (replyBytes > limit && status === NFS4.OK) {
        status = c.session ? NFS4.ERR_REP_TOO_BIG : NFS4.ERR_RESOURCE;
        settleLoans(bytes); // a READ's lent data, dropped
        bytes = [u32(status)];
      }
      out.push([u32(op), ...bytes]);
      note(op, status);
      if (status !== NFS4.OK) break;
    }
  } finally {
    if (c.slot) c.slot.busy = false; // whatever happens, the slot takes the next request
  }
  s.log?.trace({ peer: ci.peer, minor: c.minor, ops: out.map((b) => `${b[0]!.readUInt32BE(0)}:${(b.length > 1 ? b[1]! : b[0]!.subarray(4)).readUInt32BE(0)}`) }, 'nfs4: COMPOUND (op:status)');
  const reply = results(status, hdr.tag, out);
  if (c.slot) {
    const sess = c.session!;
    // Every reply that fits is kept (cachethis or not); a retransmission of a larger one gets
    // NFS4ERR_RETRY_UNCACHED_REP from SEQUENCE (RFC 8881 §2.10.6.1.3).
    c.slot.reply = size(reply) <= sess.maxcached ? Buffer.concat(reply) : undefined;
  }
  return reply;
}

/** Operation and status names as RFC 8881 spells them ('READ', 'NFS4ERR_NOENT'), for metrics. */
const OP_NAME = new Map(Object.entries(OP).map(([k, v]) => [v as number, k]));
const STATUS_NAME = new Map(Object.entries(NFS4).map(([k, v]) => [v as number, k === 'OK' ? 'NFS4_OK' : `NFS4${k}`]));

/** The COMPOUND arguments' CRC-32C, chained with the caller's identity (uid, gid, AUTH flavour). */
function requestSum(body: Buffer, ci: CallInfo): number {
  const who = Buffer.from(`${ci.call.sys ? 'sys' : 'none'}:${ci.ctx.uid}:${ci.ctx.gid}`);
  return crc32c(who, crc32c(body));
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

function opResult(op: number, status: number): Buffer {
  return Buffer.concat([u32(op), u32(status)]);
}
