/**
 * Connection-oriented DCE/RPC (ncacn_np: DCE/RPC over an SMB named pipe), sans-IO: the PDU codecs
 * (C706 chapter 12.6, MS-RPCE 2.2.2) and `RpcPipe`, the per-pipe state machine a server feeds
 * with what the client wrote to the pipe (SMB2 WRITE or IOCTL FSCTL_PIPE_TRANSCEIVE input) and
 * that returns the PDUs to hand back (READ data or the IOCTL output).
 *
 * Covered: the 16-byte common header (version 5.0/5.1, drep little-endian only, frag_length,
 * auth_length, call_id, PFC_* flags); BIND / ALTER_CONTEXT with presentation-context negotiation
 * (NDR 2.0 accepted, NDR64 and unknown syntaxes rejected with the provider reason, the bind-time
 * feature negotiation context answered with negotiate_ack, MS-RPCE 3.3.1.5.3); BIND_ACK /
 * ALTER_CONTEXT_RESP (secondary address `\PIPE\<name>` in BIND_ACK, empty in ALTER_CONTEXT_RESP);
 * BIND_NAK; REQUEST reassembly (bounded) and RESPONSE fragmentation to the client's
 * max_recv_frag; FAULT. Not covered: authentication (auth_length ≠ 0 is refused), object UUIDs
 * are read and ignored, PFC_CONC_MPX calls are served one after the other.
 */
import { Reader, WireError, Writer } from '../wire/reader.js';
import { NDR20_SYNTAX, NDR64_SYNTAX, uuidFromBytes, uuidToBytes } from './ndr.js';

/** PDU types (C706 12.6.4; MS-RPCE 2.2.2.1). */
export const PTYPE = {
  REQUEST: 0, RESPONSE: 2, FAULT: 3, BIND: 11, BIND_ACK: 12, BIND_NAK: 13, ALTER_CONTEXT: 14,
  ALTER_CONTEXT_RESP: 15, AUTH3: 16, SHUTDOWN: 17, CO_CANCEL: 18, ORPHANED: 19,
} as const;

/** pfc_flags (C706 12.6.3.1; MS-RPCE 2.2.2.3). */
export const PFC = {
  FIRST_FRAG: 0x01, LAST_FRAG: 0x02, PENDING_CANCEL: 0x04, SUPPORT_HEADER_SIGN: 0x04, CONC_MPX: 0x10,
  DID_NOT_EXECUTE: 0x20, MAYBE: 0x40, OBJECT_UUID: 0x80,
} as const;

/** Fault status codes (C706 appendix E; MS-RPCE 2.2.2.11 / 3.1.1.5.5). */
export const NCA = {
  op_rng_error: 0x1c010002, unknown_if: 0x1c010003, proto_error: 0x1c01000b,
  /** RPC_X_BAD_STUB_DATA: the stub did not decode (MS-RPCE "nca_s_fault_ndr"). */
  fault_ndr: 0x000006f7,
  /** The reassembled request is larger than the pipe accepts. */
  fault_remote_no_memory: 0x1c000025,
} as const;

/** p_cont_def_result_t and p_provider_reason_t (C706 12.6.3.1), negotiate_ack from MS-RPCE 2.2.2.4. */
export const RESULT = { acceptance: 0, user_rejection: 1, provider_rejection: 2, negotiate_ack: 3 } as const;
export const PROVIDER_REASON = {
  not_specified: 0, abstract_syntax_not_supported: 1, proposed_transfer_syntaxes_not_supported: 2, local_limit_exceeded: 3,
} as const;
/** p_reject_reason_t of BIND_NAK (C706 12.6.3.1; MS-RPCE 2.2.2.5 adds 8 and 9). */
export const REJECT_REASON = {
  not_specified: 0, temporary_congestion: 1, local_limit_exceeded: 2, protocol_version_not_supported: 4,
  authentication_type_not_recognized: 8, invalid_checksum: 9,
} as const;

/** The UUID prefix of the bind-time feature negotiation "transfer syntax" (MS-RPCE 3.3.1.5.3). */
export const BIND_TIME_FEATURE_PREFIX = '6cb71c2c-9812-4540-';
/** Features this server supports (MS-RPCE 2.2.2.14): KeepConnectionOnOrphanSupported (0x02) only. */
const SUPPORTED_FEATURES = 0x02;

/** C706 12.6.3.1: every implementation receives fragments of at least 1432 bytes. */
export const MUST_RECV_FRAG_SIZE = 1432;
/** The largest fragment this side sends or accepts (Windows and Samba both offer 4280). */
export const SERVER_MAX_FRAG = 4280;
/** Cap on one reassembled request stub. */
export const MAX_REQUEST_STUB = 256 * 1024;
/** Cap on presentation contexts / transfer syntaxes in one BIND. */
const MAX_CONTEXTS = 32;
const MAX_TRANSFER_SYNTAXES = 16;

const HEADER_SIZE = 16;

/** Common header fields (C706 12.6.3.1). */
export interface PduHeader {
  ptype: number;
  flags: number;
  /** 0 or 1 (rpc_vers_minor); rpc_vers is always 5. */
  minor: number;
  fragLength: number;
  authLength: number;
  callId: number;
}

/** An interface id or transfer syntax id: UUID (canonical text) and version (major in the low 16 bits). */
export interface SyntaxId {
  uuid: string;
  version: number;
}

export interface ContextElement {
  contextId: number;
  abstract: SyntaxId;
  transfers: SyntaxId[];
}

/** BIND and ALTER_CONTEXT body (C706 12.6.4.3, 12.6.4.1). */
export interface Bind {
  maxXmitFrag: number;
  maxRecvFrag: number;
  assocGroupId: number;
  contexts: ContextElement[];
}

export interface ContextResult {
  result: number;
  reason: number;
  transfer: SyntaxId;
}

/** BIND_ACK and ALTER_CONTEXT_RESP body (C706 12.6.4.4, 12.6.4.2). */
export interface BindAck {
  maxXmitFrag: number;
  maxRecvFrag: number;
  assocGroupId: number;
  /** e.g. `\PIPE\srvsvc`; '' for none (length 0). */
  secondaryAddress: string;
  results: ContextResult[];
}

/** REQUEST body (C706 12.6.4.9). */
export interface Request {
  allocHint: number;
  contextId: number;
  opnum: number;
  /** Present when PFC_OBJECT_UUID is set. */
  object?: string;
  stub: Buffer;
}

const ZERO_SYNTAX: SyntaxId = { uuid: '00000000-0000-0000-0000-000000000000', version: 0 };

/**
 * Decodes the common header of a PDU at the start of `b` (MS-RPCE 2.2.2.1 / C706 12.6.3.1).
 * Throws WireError unless rpc_vers is 5 with minor 0 or 1, the data representation is
 * little-endian ASCII IEEE (drep[0] = 0x10, drep[1] = 0), frag_length ≥ 16 + auth_length.
 */
export function decodeHeader(b: Buffer): PduHeader {
  const r = new Reader(b);
  const vers = r.u8('rpc_vers'), minor = r.u8('rpc_vers_minor'), ptype = r.u8('PTYPE'), flags = r.u8('pfc_flags');
  const drep0 = r.u8('drep'), drep1 = r.u8('drep');
  r.skip(2, 'drep');
  const fragLength = r.u16('frag_length'), authLength = r.u16('auth_length'), callId = r.u32('call_id');
  if (vers !== 5 || minor > 1) throw new WireError(`DCE/RPC version ${vers}.${minor}`);
  if ((drep0 & 0xf0) !== 0x10 || (drep0 & 0x0f) !== 0 || drep1 !== 0) throw new WireError(`unsupported data representation ${drep0.toString(16)}/${drep1}`);
  if (fragLength < HEADER_SIZE + authLength) throw new WireError(`frag_length ${fragLength} too short`);
  return { ptype, flags, minor, fragLength, authLength, callId };
}

/** Writes a common header; frag_length is patched by `finishPdu`. */
function startPdu(ptype: number, flags: number, callId: number, minor = 0): Writer {
  return new Writer(128).u8(5).u8(minor).u8(ptype).u8(flags).u8(0x10).u8(0).u8(0).u8(0).u16(0).u16(0).u32(callId);
}

function finishPdu(w: Writer): Buffer {
  if (w.length > 0xffff) throw new RangeError('PDU longer than 65535 bytes');
  return w.patchU16(8, w.length).finish();
}

function readSyntax(r: Reader, what: string): SyntaxId {
  return { uuid: uuidFromBytes(r.bytes(16, 16, what)), version: r.u32(`${what} version`) };
}

function writeSyntax(w: Writer, s: SyntaxId): void {
  w.bytes(uuidToBytes(s.uuid)).u32(s.version);
}

/** The PDU's body after the 16-byte header, without the auth verifier; frag_length must equal b.length. */
function body(b: Buffer, h: PduHeader): Reader {
  if (h.fragLength !== b.length) throw new WireError(`frag_length ${h.fragLength} ≠ PDU length ${b.length}`);
  const authTrailer = h.authLength === 0 ? 0 : h.authLength + 8;
  if (HEADER_SIZE + authTrailer > b.length) throw new WireError('auth verifier longer than the PDU');
  return new Reader(b, HEADER_SIZE, b.length - authTrailer, 0);
}

/**
 * Decodes a BIND or ALTER_CONTEXT PDU (C706 12.6.4.3). Throws WireError on a wrong type, more
 * than 32 contexts or 16 transfer syntaxes per context, a context without transfer syntaxes, or
 * any overrun.
 */
export function decodeBind(b: Buffer): { header: PduHeader; bind: Bind } {
  const header = decodeHeader(b);
  if (header.ptype !== PTYPE.BIND && header.ptype !== PTYPE.ALTER_CONTEXT) throw new WireError(`PTYPE ${header.ptype} is not BIND/ALTER_CONTEXT`);
  const r = body(b, header);
  const maxXmitFrag = r.u16('max_xmit_frag'), maxRecvFrag = r.u16('max_recv_frag'), assocGroupId = r.u32('assoc_group_id');
  const n = r.u8('n_context_elem');
  r.skip(3, 'p_context_elem reserved');
  if (n > MAX_CONTEXTS) throw new WireError(`${n} presentation contexts (max ${MAX_CONTEXTS})`);
  const contexts: ContextElement[] = [];
  for (let i = 0; i < n; i++) {
    const contextId = r.u16('p_cont_id'), nt = r.u8('n_transfer_syn');
    r.skip(1, 'reserved');
    if (nt === 0 || nt > MAX_TRANSFER_SYNTAXES) throw new WireError(`context ${contextId}: ${nt} transfer syntaxes`);
    const abstract = readSyntax(r, 'abstract_syntax');
    const transfers: SyntaxId[] = [];
    for (let j = 0; j < nt; j++) transfers.push(readSyntax(r, 'transfer_syntax'));
    contexts.push({ contextId, abstract, transfers });
  }
  return { header, bind: { maxXmitFrag, maxRecvFrag, assocGroupId, contexts } };
}

/** Encodes a BIND (or, with `ptype`, ALTER_CONTEXT) PDU without auth (a client's; for tests and tools). */
export function encodeBind(callId: number, bind: Bind, ptype: number = PTYPE.BIND): Buffer {
  const w = startPdu(ptype, PFC.FIRST_FRAG | PFC.LAST_FRAG, callId);
  w.u16(bind.maxXmitFrag).u16(bind.maxRecvFrag).u32(bind.assocGroupId).u8(bind.contexts.length).u8(0).u16(0);
  for (const c of bind.contexts) {
    w.u16(c.contextId).u8(c.transfers.length).u8(0);
    writeSyntax(w, c.abstract);
    c.transfers.forEach((t) => writeSyntax(w, t));
  }
  return finishPdu(w);
}

/**
 * Encodes a BIND_ACK or ALTER_CONTEXT_RESP (C706 12.6.4.4): sec_addr is a port_any_t (u16
 * length including the NUL, ASCII, NUL), then padding to a 4-byte boundary, then the result list.
 */
export function encodeBindAck(callId: number, ack: BindAck, ptype: number = PTYPE.BIND_ACK, minor = 0): Buffer {
  const w = startPdu(ptype, PFC.FIRST_FRAG | PFC.LAST_FRAG, callId, minor);
  w.u16(ack.maxXmitFrag).u16(ack.maxRecvFrag).u32(ack.assocGroupId);
  if (ack.secondaryAddress === '') w.u16(0);
  else w.u16(ack.secondaryAddress.length + 1).bytes(Buffer.from(`${ack.secondaryAddress}\0`, 'latin1'));
  w.align(4);
  w.u8(ack.results.length).u8(0).u16(0);
  for (const res of ack.results) {
    w.u16(res.result).u16(res.reason);
    writeSyntax(w, res.transfer);
  }
  return finishPdu(w);
}

/** Decodes a BIND_ACK / ALTER_CONTEXT_RESP (for tests and the real-bytes check). */
export function decodeBindAck(b: Buffer): { header: PduHeader; ack: BindAck } {
  const header = decodeHeader(b);
  if (header.ptype !== PTYPE.BIND_ACK && header.ptype !== PTYPE.ALTER_CONTEXT_RESP) throw new WireError(`PTYPE ${header.ptype} is not BIND_ACK`);
  const r = body(b, header);
  const maxXmitFrag = r.u16(), maxRecvFrag = r.u16(), assocGroupId = r.u32();
  const len = r.u16('sec_addr length');
  const addr = r.bytes(len, 256, 'sec_addr');
  const secondaryAddress = addr.subarray(0, Math.max(0, len - 1)).toString('latin1');
  r.align(4);
  const n = r.u8('n_results');
  r.skip(3);
  if (n > MAX_CONTEXTS) throw new WireError(`${n} results`);
  const results: ContextResult[] = [];
  for (let i = 0; i < n; i++) results.push({ result: r.u16('result'), reason: r.u16('reason'), transfer: readSyntax(r, 'transfer_syntax') });
  return { header, ack: { maxXmitFrag, maxRecvFrag, assocGroupId, secondaryAddress, results } };
}

/** BIND_NAK (C706 12.6.4.5): reject reason, then the versions supported (5.0), padded to 4 bytes. */
export function encodeBindNak(callId: number, reason: number): Buffer {
  const w = startPdu(PTYPE.BIND_NAK, PFC.FIRST_FRAG | PFC.LAST_FRAG, callId);
  w.u16(reason).u8(1).u8(5).u8(0).align(4);
  return finishPdu(w);
}

/**
 * Decodes a REQUEST fragment (C706 12.6.4.9): alloc_hint, p_cont_id, opnum, the object UUID
 * when PFC_OBJECT_UUID is set, and the stub. Throws WireError on anything malformed.
 */
export function decodeRequest(b: Buffer): { header: PduHeader; request: Request } {
  const header = decodeHeader(b);
  if (header.ptype !== PTYPE.REQUEST) throw new WireError(`PTYPE ${header.ptype} is not REQUEST`);
  const r = body(b, header);
  const allocHint = r.u32('alloc_hint'), contextId = r.u16('p_cont_id'), opnum = r.u16('opnum');
  const object = header.flags & PFC.OBJECT_UUID ? uuidFromBytes(r.bytes(16, 16, 'object')) : undefined;
  const stub = r.bytes(r.remaining(), 0xffff, 'stub');
  return { header, request: object === undefined ? { allocHint, contextId, opnum, stub } : { allocHint, contextId, opnum, object, stub } };
}

/** Encodes one REQUEST fragment (client side; tests and tools). */
export function encodeRequest(callId: number, contextId: number, opnum: number, stub: Buffer, flags: number = PFC.FIRST_FRAG | PFC.LAST_FRAG, allocHint = stub.length): Buffer {
  const w = startPdu(PTYPE.REQUEST, flags, callId);
  w.u32(allocHint).u16(contextId).u16(opnum).bytes(stub);
  return finishPdu(w);
}

/**
 * The RESPONSE PDUs for one call's stub (C706 12.6.4.10), each at most `maxFrag` bytes; every
 * fragment but the last carries a multiple of 8 stub bytes (NDR alignment survives the split).
 * alloc_hint is the stub bytes from that fragment on. An empty stub is one fragment.
 */
export function encodeResponse(callId: number, contextId: number, stub: Buffer, maxFrag: number): Buffer[] {
  const room = Math.floor((maxFrag - 24) / 8) * 8;
  if (room <= 0) throw new RangeError(`max fragment ${maxFrag} too small`);
  const out: Buffer[] = [];
  let at = 0;
  do {
    const n = Math.min(room, stub.length - at);
    const flags = (at === 0 ? PFC.FIRST_FRAG : 0) | (at + n === stub.length ? PFC.LAST_FRAG : 0);
    const w = startPdu(PTYPE.RESPONSE, flags, callId);
    w.u32(stub.length - at).u16(contextId).u8(0).u8(0).bytes(stub.subarray(at, at + n));
    out.push(finishPdu(w));
    at += n;
  } while (at < stub.length);
  return out;
}

/** Decodes a RESPONSE fragment (tests). */
export function decodeResponse(b: Buffer): { header: PduHeader; allocHint: number; contextId: number; stub: Buffer } {
  const header = decodeHeader(b);
  if (header.ptype !== PTYPE.RESPONSE) throw new WireError(`PTYPE ${header.ptype} is not RESPONSE`);
  const r = body(b, header);
  const allocHint = r.u32(), contextId = r.u16();
  r.skip(2, 'cancel_count, reserved');
  return { header, allocHint, contextId, stub: r.bytes(r.remaining(), 0xffff, 'stub') };
}

/** FAULT (C706 12.6.4.7; MS-RPCE 2.2.2.11): 32 bytes, status at offset 24. */
export function encodeFault(callId: number, contextId: number, status: number, didNotExecute = true): Buffer {
  const w = startPdu(PTYPE.FAULT, PFC.FIRST_FRAG | PFC.LAST_FRAG | (didNotExecute ? PFC.DID_NOT_EXECUTE : 0), callId);
  w.u32(0).u16(contextId).u8(0).u8(0).u32(status).u32(0);
  return finishPdu(w);
}

/** The status of a FAULT PDU (tests). */
export function decodeFault(b: Buffer): { header: PduHeader; contextId: number; status: number } {
  const header = decodeHeader(b);
  if (header.ptype !== PTYPE.FAULT) throw new WireError(`PTYPE ${header.ptype} is not FAULT`);
  const r = body(b, header);
  r.skip(4, 'alloc_hint');
  const contextId = r.u16();
  r.skip(2);
  return { header, contextId, status: r.u32('status') };
}

/** What an interface's operation returns: the response stub, or a fault status (e.g. NCA.op_rng_error). */
export type CallResult = { stub: Buffer } | { fault: number };

/** An RPC interface served on a pipe. `call` may throw WireError for an undecodable stub (→ fault_ndr). */
export interface RpcInterface {
  /** Abstract syntax, e.g. srvsvc 4b324fc8-1670-01d3-1278-5a47bf6ee188 version 3 (3.0). */
  syntax: SyntaxId;
  /** Pipe name without `\PIPE\`, e.g. `srvsvc`, for the BIND_ACK secondary address. */
  pipeName: string;
  call(opnum: number, stub: Buffer): CallResult;
}

/** Versions compare as major equal and minor ≤ ours (C706 12.6.3.1 version_t). */
function versionMatches(offered: number, ours: number): boolean {
  return (offered & 0xffff) === (ours & 0xffff) && offered >>> 16 <= ours >>> 16;
}

const sameUuid = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/** Options of one pipe. */
export interface RpcPipeOptions {
  /** assoc_group_id answered to a BIND with 0 (default 0x12345). */
  assocGroupId?: number;
}

/**
 * One open pipe's DCE/RPC association (MS-RPCE 3.3.1, C706 12.4 server state machine, trimmed):
 * `write(bytes)` takes whatever the client wrote (partial PDUs, several PDUs) and returns the
 * PDUs to give back, in order. Before a successful BIND only BIND is accepted (a REQUEST gets
 * FAULT nca_s_proto_error); after it, REQUESTs on accepted context ids are dispatched to the
 * interface and ALTER_CONTEXT may add contexts. Unknown opnums fault nca_s_op_rng_error,
 * undecodable stubs nca_s_fault_ndr, unknown context ids nca_s_unknown_if, malformed PDUs
 * nca_s_proto_error (a header that does not parse also discards what was buffered). Never throws.
 */
export class RpcPipe {
  private buffered = Buffer.alloc(0);
  private bound = false;
  private maxXmit = MUST_RECV_FRAG_SIZE;
  private maxRecv = SERVER_MAX_FRAG;
  private assocGroupId = 0;
  private readonly contexts = new Set<number>();
  private pending: { callId: number; contextId: number; opnum: number; parts: Buffer[]; size: number } | undefined;

  constructor(private readonly iface: RpcInterface, private readonly opts: RpcPipeOptions = {}) {}

  /** Whether a BIND was acknowledged. */
  get isBound(): boolean {
    return this.bound;
  }

  /** Feeds client bytes; returns the reply PDUs (possibly none, e.g. for a non-last fragment). */
  write(bytes: Buffer): Buffer[] {
    this.buffered = this.buffered.length === 0 ? Buffer.from(bytes) : Buffer.concat([this.buffered, bytes]);
    const out: Buffer[] = [];
    while (this.buffered.length >= HEADER_SIZE) {
      let h: PduHeader;
      try {
        h = decodeHeader(this.buffered);
      } catch {
        // No way to find the next PDU boundary: answer and drop everything buffered.
        const callId = this.buffered.readUInt32LE(12);
        this.buffered = Buffer.alloc(0);
        this.pending = undefined;
        out.push(encodeFault(callId, 0, NCA.proto_error));
        break;
      }
      const limit = this.bound ? this.maxRecv : 0xffff;
      if (h.fragLength > limit) {
        this.buffered = Buffer.alloc(0);
        this.pending = undefined;
        out.push(encodeFault(h.callId, 0, NCA.proto_error));
        break;
      }
      if (this.buffered.length < h.fragLength) break;
      const pdu = this.buffered.subarray(0, h.fragLength);
      this.buffered = this.buffered.subarray(h.fragLength);
      out.push(...this.onPdu(pdu, h));
    }
    return out;
  }

  private onPdu(pdu: Buffer, h: PduHeader): Buffer[] {
    try {
      switch (h.ptype) {
        case PTYPE.BIND:
          return [this.onBind(pdu, false)];
        case PTYPE.ALTER_CONTEXT:
          return this.bound ? [this.onBind(pdu, true)] : [encodeFault(h.callId, 0, NCA.proto_error)];
        case PTYPE.REQUEST:
          return this.onRequest(pdu);
        case PTYPE.AUTH3:
          return [];
        case PTYPE.CO_CANCEL:
        case PTYPE.ORPHANED:
          if (this.pending?.callId === h.callId) this.pending = undefined;
          return [];
        default:
          return [encodeFault(h.callId, 0, NCA.proto_error)];
      }
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      if (h.ptype === PTYPE.BIND) return [encodeBindNak(h.callId, REJECT_REASON.not_specified)];
      return [encodeFault(h.callId, 0, NCA.proto_error)];
    }
  }

  /** Result for one presentation context (C706 12.6.4.4; MS-RPCE 3.3.1.5.3). */
  private negotiate(c: ContextElement): ContextResult {
    const feature = c.transfers.find((t) => t.uuid.toLowerCase().startsWith(BIND_TIME_FEATURE_PREFIX));
    if (feature !== undefined) {
      const bits = uuidToBytes(feature.uuid)[8]!;
      return { result: RESULT.negotiate_ack, reason: bits & SUPPORTED_FEATURES, transfer: ZERO_SYNTAX };
    }
    if (!sameUuid(c.abstract.uuid, this.iface.syntax.uuid) || !versionMatches(c.abstract.version, this.iface.syntax.version)) {
      return { result: RESULT.provider_rejection, reason: PROVIDER_REASON.abstract_syntax_not_supported, transfer: ZERO_SYNTAX };
    }
    const ndr = c.transfers.find((t) => sameUuid(t.uuid, NDR20_SYNTAX.uuid) && t.version === NDR20_SYNTAX.version);
    if (ndr === undefined) {
      return { result: RESULT.provider_rejection, reason: PROVIDER_REASON.proposed_transfer_syntaxes_not_supported, transfer: ZERO_SYNTAX };
    }
    this.contexts.add(c.contextId);
    return { result: RESULT.acceptance, reason: PROVIDER_REASON.not_specified, transfer: { uuid: NDR20_SYNTAX.uuid, version: NDR20_SYNTAX.version } };
  }

  private onBind(pdu: Buffer, alter: boolean): Buffer {
    const { header, bind } = decodeBind(pdu);
    if (!alter) {
      if (this.bound) return encodeBindNak(header.callId, REJECT_REASON.not_specified);
      if (header.authLength !== 0) return encodeBindNak(header.callId, REJECT_REASON.authentication_type_not_recognized);
      if (bind.maxXmitFrag < MUST_RECV_FRAG_SIZE || bind.maxRecvFrag < MUST_RECV_FRAG_SIZE) {
        return encodeBindNak(header.callId, REJECT_REASON.local_limit_exceeded);
      }
    } else if (header.authLength !== 0) {
      return encodeFault(header.callId, 0, NCA.proto_error);
    }
    const results = bind.contexts.map((c) => this.negotiate(c));
    if (!alter) {
      this.maxXmit = Math.min(bind.maxRecvFrag, SERVER_MAX_FRAG);
      this.maxRecv = Math.min(bind.maxXmitFrag, SERVER_MAX_FRAG);
      this.assocGroupId = bind.assocGroupId !== 0 ? bind.assocGroupId : (this.opts.assocGroupId ?? 0x12345);
      this.bound = results.some((r) => r.result === RESULT.acceptance);
    }
    const ack: BindAck = {
      maxXmitFrag: this.maxXmit, maxRecvFrag: this.maxRecv, assocGroupId: this.assocGroupId,
      secondaryAddress: alter ? '' : `\\PIPE\\${this.iface.pipeName}`, results,
    };
    return encodeBindAck(header.callId, ack, alter ? PTYPE.ALTER_CONTEXT_RESP : PTYPE.BIND_ACK, header.minor);
  }

  private onRequest(pdu: Buffer): Buffer[] {
    const { header, request } = decodeRequest(pdu);
    const fault = (status: number): Buffer[] => {
      this.pending = undefined;
      return [encodeFault(header.callId, request.contextId, status)];
    };
    if (!this.bound || header.authLength !== 0) return fault(NCA.proto_error);
    const first = (header.flags & PFC.FIRST_FRAG) !== 0, last = (header.flags & PFC.LAST_FRAG) !== 0;
    if (first) {
      if (!this.contexts.has(request.contextId)) return fault(NCA.unknown_if);
      this.pending = { callId: header.callId, contextId: request.contextId, opnum: request.opnum, parts: [], size: 0 };
    } else if (this.pending === undefined || this.pending.callId !== header.callId) {
      return fault(NCA.proto_error);
    }
    const call = this.pending!;
    call.size += request.stub.length;
    if (call.size > MAX_REQUEST_STUB) return fault(NCA.fault_remote_no_memory);
    call.parts.push(request.stub);
    if (!last) return [];
    this.pending = undefined;
    const stub = call.parts.length === 1 ? call.parts[0]! : Buffer.concat(call.parts);
    let result: CallResult;
    try {
      result = this.iface.call(call.opnum, stub);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      result = { fault: NCA.fault_ndr };
    }
    if ('fault' in result) return [encodeFault(header.callId, call.contextId, result.fault, result.fault === NCA.op_rng_error)];
    return encodeResponse(header.callId, call.contextId, result.stub, this.maxXmit);
  }
}
