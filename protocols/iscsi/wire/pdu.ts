/**
 * iSCSI PDUs (RFC 7143 section 11): the 48-byte Basic Header Segment (11.2.1), Additional Header
 * Segments (11.2.2), header and data digests (CRC32C, 13.1), padding of every segment to 4
 * bytes (11.1), and the codecs of all eight initiator and ten target PDUs, table-driven and
 * keyed by opcode. `PduFramer` cuts a TCP byte stream into PDUs under the negotiated
 * MaxRecvDataSegmentLength and digests. Sans-IO: no sockets here.
 *
 * Errors: structure the target can name in a Reject PDU (11.17) throws `PduError` with its
 * `reason` and the offending 48-byte header (the Reject's data segment); a header digest
 * mismatch throws `DigestError` (the header, and so the PDU length, cannot be trusted: drop the
 * connection, 7.8); a data digest mismatch is reported on the frame (`dataDigestError`), since
 * the PDU boundary is still known and the target answers Reject reason 0x02 (7.8.2 / 11.17.1).
 */
import { crc32c } from '@node-rs/crc32';
import { Reader, WireError, Writer } from './reader.js';
import { ByteQueue } from '../../../vfs/bytequeue.js';

import { BHS_SIZE, MAX_DATA_SEGMENT_FIELD, MIN_RECV_DATA_SEGMENT_LENGTH, DEFAULT_RECV_DATA_SEGMENT_LENGTH, FRAMER_HARD_MAX_DATA, MAX_AHS_BYTES, RESERVED_TAG, Op, RejectReason, TmfFunction, IscsiResponse, Stage, LoginStatus, LogoutReason, SnackType, AhsType, PduError, DigestError } from './consts.js';

export * from './consts.js';

/** One Additional Header Segment: `data` is the AHS-specific field (AHSLength bytes, no padding). */
export interface Ahs {
  type: number;
  data: Buffer;
}

interface Base {
  /** Additional Header Segments in order (RFC 7143 11.2.2). Only SCSI Command uses them. */
  ahs: Ahs[];
  /** The data segment without padding or digest. */
  data: Buffer;
}

// ---- initiator PDUs -------------------------------------------------------------------------

/** NOP-Out (11.18): a ping (ITT ≠ 0xffffffff) or the answer to a NOP-In (TTT from it). */
export interface NopOut extends Base {
  op: typeof Op.NOP_OUT; immediate: boolean; lun: bigint; itt: number; ttt: number; cmdSN: number; expStatSN: number;
}
/** SCSI Command (11.3). `cdb` is the 16-byte BHS field; longer CDBs continue in an AHS type 1. */
export interface ScsiCommand extends Base {
  op: typeof Op.SCSI_COMMAND; immediate: boolean; final: boolean; read: boolean; write: boolean;
  /** Task attribute (11.3.1.3): 0 untagged, 1 simple, 2 ordered, 3 head of queue, 4 ACA. */
  attr: number; lun: bigint; itt: number;
  /** Bytes the initiator expects to move (11.3.4). */
  expectedDataTransferLength: number; cmdSN: number; expStatSN: number; cdb: Buffer;
}
/** Task Management Function Request (11.5). `func` from TmfFunction. */
export interface TaskMgmtRequest extends Base {
  op: typeof Op.TASK_MGMT_REQUEST; immediate: boolean; func: number; lun: bigint; itt: number; referencedTaskTag: number;
  cmdSN: number; expStatSN: number; refCmdSN: number; expDataSN: number;
}
/** Login Request (11.12). Stages from `Stage`; versions are 0 for RFC 7143 (11.12.4). */
export interface LoginRequest extends Base {
  op: typeof Op.LOGIN_REQUEST; immediate: boolean; transit: boolean; cont: boolean; csg: number; nsg: number;
  versionMax: number; versionMin: number; isid: Buffer; tsih: number; itt: number; cid: number; cmdSN: number; expStatSN: number;
}
/** Text Request (11.10). */
export interface TextRequest extends Base {
  op: typeof Op.TEXT_REQUEST; immediate: boolean; final: boolean; cont: boolean; lun: bigint; itt: number; ttt: number;
  cmdSN: number; expStatSN: number;
}
/** SCSI Data-Out (11.7). `bufferOffset` in bytes from the start of the task's data. */
export interface DataOut extends Base {
  op: typeof Op.SCSI_DATA_OUT; final: boolean; lun: bigint; itt: number; ttt: number; expStatSN: number; dataSN: number;
  bufferOffset: number;
}
/** Logout Request (11.14). `reason` from LogoutReason. */
export interface LogoutRequest extends Base {
  op: typeof Op.LOGOUT_REQUEST; immediate: boolean; reason: number; itt: number; cid: number; cmdSN: number; expStatSN: number;
}
/** SNACK Request (11.16). `type` from SnackType; `ttt` is the SNACK Tag for R-Data. */
export interface SnackRequest extends Base {
  op: typeof Op.SNACK_REQUEST; type: number; lun: bigint; itt: number; ttt: number; expStatSN: number; begRun: number;
  runLength: number;
}

// ---- target PDUs ----------------------------------------------------------------------------

/** NOP-In (11.19). */
export interface NopIn extends Base {
  op: typeof Op.NOP_IN; lun: bigint; itt: number; ttt: number; statSN: number; expCmdSN: number; maxCmdSN: number;
}
/** SCSI Response (11.4). `data` is `encodeSenseSegment(sense)` when `status` is CHECK CONDITION. */
export interface ScsiResponse extends Base {
  op: typeof Op.SCSI_RESPONSE; bidiOverflow: boolean; bidiUnderflow: boolean; overflow: boolean; underflow: boolean;
  response: number; status: number; itt: number; snackTag: number; statSN: number; expCmdSN: number; maxCmdSN: number;
  expDataSN: number; bidiResidualCount: number; residualCount: number;
}
/** Task Management Function Response (11.6). */
export interface TaskMgmtResponse extends Base {
  op: typeof Op.TASK_MGMT_RESPONSE; response: number; itt: number; statSN: number; expCmdSN: number; maxCmdSN: number;
}
/** Login Response (11.13). `status` is Status-Class << 8 | Status-Detail (LoginStatus). */
export interface LoginResponse extends Base {
  op: typeof Op.LOGIN_RESPONSE; transit: boolean; cont: boolean; csg: number; nsg: number; versionMax: number;
  versionActive: number; isid: Buffer; tsih: number; itt: number; statSN: number; expCmdSN: number; maxCmdSN: number;
  status: number;
}
/** Text Response (11.11). */
export interface TextResponse extends Base {
  op: typeof Op.TEXT_RESPONSE; final: boolean; cont: boolean; lun: bigint; itt: number; ttt: number; statSN: number;
  expCmdSN: number; maxCmdSN: number;
}
/** SCSI Data-In (11.7). With `statusPresent` it also ends the task with `status` (phase collapse). */
export interface DataIn extends Base {
  op: typeof Op.SCSI_DATA_IN; final: boolean; ack: boolean; overflow: boolean; underflow: boolean; statusPresent: boolean;
  status: number; lun: bigint; itt: number; ttt: number; statSN: number; expCmdSN: number; maxCmdSN: number; dataSN: number;
  bufferOffset: number; residualCount: number;
}
/** Logout Response (11.15). Times in seconds. */
export interface LogoutResponsePdu extends Base {
  op: typeof Op.LOGOUT_RESPONSE; response: number; itt: number; statSN: number; expCmdSN: number; maxCmdSN: number;
  time2Wait: number; time2Retain: number;
}
/** Ready To Transfer (11.8): asks for `desiredDataTransferLength` bytes at `bufferOffset`. */
export interface R2T extends Base {
  op: typeof Op.R2T; lun: bigint; itt: number; ttt: number; statSN: number; expCmdSN: number; maxCmdSN: number; r2tSN: number;
  bufferOffset: number; desiredDataTransferLength: number;
}
/** Asynchronous Message (11.9). `itt` is 0xffffffff; data is SenseLength + sense + iSCSI event data. */
export interface AsyncMessage extends Base {
  op: typeof Op.ASYNC_MESSAGE; lun: bigint; itt: number; statSN: number; expCmdSN: number; maxCmdSN: number;
  asyncEvent: number; asyncVCode: number; parameter1: number; parameter2: number; parameter3: number;
}
/** Reject (11.17). `itt` is 0xffffffff; `data` is the rejected PDU's 48-byte header. */
export interface Reject extends Base {
  op: typeof Op.REJECT; reason: number; itt: number; statSN: number; expCmdSN: number; maxCmdSN: number; dataSN: number;
}

export type InitiatorPdu = NopOut | ScsiCommand | TaskMgmtRequest | LoginRequest | TextRequest | DataOut | LogoutRequest | SnackRequest;
export type TargetPdu = NopIn | ScsiResponse | TaskMgmtResponse | LoginResponse | TextResponse | DataIn | LogoutResponsePdu | R2T | AsyncMessage | Reject;
export type Pdu = InitiatorPdu | TargetPdu;

// ---- the layout table -----------------------------------------------------------------------

export type Kind = 'u8' | 'u16' | 'u32' | 'u64' | 'isid' | 'cdb';
/** [name, byte offset in the BHS, kind]. */
type Field = readonly [string, number, Kind];
/** [name, mask in byte 1, shift]; shift -1 makes a boolean. */
type Bits = readonly [string, number, number];

interface Layout {
  name: string;
  initiator: boolean;
  /** Bits of byte 1 always set on encode (the F bit of PDUs that are always final). */
  fixed1: number;
  bits: readonly Bits[];
  fields: readonly Field[];
  /** May the PDU carry a data segment? (11.2.1.5 and each PDU's section.) */
  data: boolean;
  /** Does byte 0's I bit mean something (initiator PDUs other than Data-Out and SNACK)? */
  immediate: boolean;
}

const F = 0x80;
const common = (...f: Field[]): Field[] => f;
const LAYOUTS: ReadonlyMap<number, Layout> = new Map<number, Layout>([
  [Op.NOP_OUT, { name: 'NOP-Out', initiator: true, immediate: true, fixed1: F, bits: [], data: true,
    fields: common(['lun', 8, 'u64'], ['itt', 16, 'u32'], ['ttt', 20, 'u32'], ['cmdSN', 24, 'u32'], ['expStatSN', 28, 'u32']) }],
  [Op.SCSI_COMMAND, { name: 'SCSI Command', initiator: true, immediate: true, fixed1: 0, data: true,
    bits: [['final', 0x80, -1], ['read', 0x40, -1], ['write', 0x20, -1], ['attr', 0x07, 0]],
    fields: common(['lun', 8, 'u64'], ['itt', 16, 'u32'], ['expectedDataTransferLength', 20, 'u32'], ['cmdSN', 24, 'u32'],
      ['expStatSN', 28, 'u32'], ['cdb', 32, 'cdb']) }],
  [Op.TASK_MGMT_REQUEST, { name: 'Task Management Function Request', initiator: true, immediate: true, fixed1: F, data: false,
    bits: [['func', 0x7f, 0]],
    fields: common(['lun', 8, 'u64'], ['itt', 16, 'u32'], ['referencedTaskTag', 20, 'u32'], ['cmdSN', 24, 'u32'],
      ['expStatSN', 28, 'u32'], ['refCmdSN', 32, 'u32'], ['expDataSN', 36, 'u32']) }],
  [Op.LOGIN_REQUEST, { name: 'Login Request', initiator: true, immediate: true, fixed1: 0, data: true,
    bits: [['transit', 0x80, -1], ['cont', 0x40, -1], ['csg', 0x0c, 2], ['nsg', 0x03, 0]],
    fields: common(['versionMax', 2, 'u8'], ['versionMin', 3, 'u8'], ['isid', 8, 'isid'], ['tsih', 14, 'u16'], ['itt', 16, 'u32'],
      ['cid', 20, 'u16'], ['cmdSN', 24, 'u32'], ['expStatSN', 28, 'u32']) }],
  [Op.TEXT_REQUEST, { name: 'Text Request', initiator: true, immediate: true, fixed1: 0, data: true,
    bits: [['final', 0x80, -1], ['cont', 0x40, -1]],
    fields: common(['lun', 8, 'u64'], ['itt', 16, 'u32'], ['ttt', 20, 'u32'], ['cmdSN', 24, 'u32'], ['expStatSN', 28, 'u32']) }],
  [Op.SCSI_DATA_OUT, { name: 'SCSI Data-Out', initiator: true, immediate: false, fixed1: 0, data: true,
    bits: [['final', 0x80, -1]],
    fields: common(['lun', 8, 'u64'], ['itt', 16, 'u32'], ['ttt', 20, 'u32'], ['expStatSN', 28, 'u32'], ['dataSN', 36, 'u32'],
      ['bufferOffset', 40, 'u32']) }],
  [Op.LOGOUT_REQUEST, { name: 'Logout Request', initiator: true, immediate: true, fixed1: F, data: false,
    bits: [['reason', 0x7f, 0]],
    fields: common(['itt', 16, 'u32'], ['cid', 20, 'u16'], ['cmdSN', 24, 'u32'], ['expStatSN', 28, 'u32']) }],
  [Op.SNACK_REQUEST, { name: 'SNACK Request', initiator: true, immediate: false, fixed1: F, data: false,
    bits: [['type', 0x0f, 0]],
    fields: common(['lun', 8, 'u64'], ['itt', 16, 'u32'], ['ttt', 20, 'u32'], ['expStatSN', 28, 'u32'], ['begRun', 40, 'u32'],
      ['runLength', 44, 'u32']) }],
  [Op.NOP_IN, { name: 'NOP-In', initiator: false, immediate: false, fixed1: F, bits: [], data: true,
    fields: common(['lun', 8, 'u64'], ['itt', 16, 'u32'], ['ttt', 20, 'u32'], ['statSN', 24, 'u32'], ['expCmdSN', 28, 'u32'],
      ['maxCmdSN', 32, 'u32']) }],
  [Op.SCSI_RESPONSE, { name: 'SCSI Response', initiator: false, immediate: false, fixed1: F, data: true,
    bits: [['bidiOverflow', 0x10, -1], ['bidiUnderflow', 0x08, -1], ['overflow', 0x04, -1], ['underflow', 0x02, -1]],
    fields: common(['response', 2, 'u8'], ['status', 3, 'u8'], ['itt', 16, 'u32'], ['snackTag', 20, 'u32'], ['statSN', 24, 'u32'],
      ['expCmdSN', 28, 'u32'], ['maxCmdSN', 32, 'u32'], ['expDataSN', 36, 'u32'], ['bidiResidualCount', 40, 'u32'],
      ['residualCount', 44, 'u32']) }],
  [Op.TASK_MGMT_RESPONSE, { name: 'Task Management Function Response', initiator: false, immediate: false, fixed1: F, bits: [],
    data: false,
    fields: common(['response', 2, 'u8'], ['itt', 16, 'u32'], ['statSN', 24, 'u32'], ['expCmdSN', 28, 'u32'], ['maxCmdSN', 32, 'u32']) }],
  [Op.LOGIN_RESPONSE, { name: 'Login Response', initiator: false, immediate: false, fixed1: 0, data: true,
    bits: [['transit', 0x80, -1], ['cont', 0x40, -1], ['csg', 0x0c, 2], ['nsg', 0x03, 0]],
    fields: common(['versionMax', 2, 'u8'], ['versionActive', 3, 'u8'], ['isid', 8, 'isid'], ['tsih', 14, 'u16'], ['itt', 16, 'u32'],
      ['statSN', 24, 'u32'], ['expCmdSN', 28, 'u32'], ['maxCmdSN', 32, 'u32'], ['status', 36, 'u16']) }],
  [Op.TEXT_RESPONSE, { name: 'Text Response', initiator: false, immediate: false, fixed1: 0, data: true,
    bits: [['final', 0x80, -1], ['cont', 0x40, -1]],
    fields: common(['lun', 8, 'u64'], ['itt', 16, 'u32'], ['ttt', 20, 'u32'], ['statSN', 24, 'u32'], ['expCmdSN', 28, 'u32'],
      ['maxCmdSN', 32, 'u32']) }],
  [Op.SCSI_DATA_IN, { name: 'SCSI Data-In', initiator: false, immediate: false, fixed1: 0, data: true,
    bits: [['final', 0x80, -1], ['ack', 0x40, -1], ['overflow', 0x04, -1], ['underflow', 0x02, -1], ['statusPresent', 0x01, -1]],
    fields: common(['status', 3, 'u8'], ['lun', 8, 'u64'], ['itt', 16, 'u32'], ['ttt', 20, 'u32'], ['statSN', 24, 'u32'],
      ['expCmdSN', 28, 'u32'], ['maxCmdSN', 32, 'u32'], ['dataSN', 36, 'u32'], ['bufferOffset', 40, 'u32'], ['residualCount', 44, 'u32']) }],
  [Op.LOGOUT_RESPONSE, { name: 'Logout Response', initiator: false, immediate: false, fixed1: F, bits: [], data: false,
    fields: common(['response', 2, 'u8'], ['itt', 16, 'u32'], ['statSN', 24, 'u32'], ['expCmdSN', 28, 'u32'], ['maxCmdSN', 32, 'u32'],
      ['time2Wait', 40, 'u16'], ['time2Retain', 42, 'u16']) }],
  [Op.R2T, { name: 'R2T', initiator: false, immediate: false, fixed1: F, bits: [], data: false,
    fields: common(['lun', 8, 'u64'], ['itt', 16, 'u32'], ['ttt', 20, 'u32'], ['statSN', 24, 'u32'], ['expCmdSN', 28, 'u32'],
      ['maxCmdSN', 32, 'u32'], ['r2tSN', 36, 'u32'], ['bufferOffset', 40, 'u32'], ['desiredDataTransferLength', 44, 'u32']) }],
  [Op.ASYNC_MESSAGE, { name: 'Asynchronous Message', initiator: false, immediate: false, fixed1: F, bits: [], data: true,
    fields: common(['lun', 8, 'u64'], ['itt', 16, 'u32'], ['statSN', 24, 'u32'], ['expCmdSN', 28, 'u32'], ['maxCmdSN', 32, 'u32'],
      ['asyncEvent', 36, 'u8'], ['asyncVCode', 37, 'u8'], ['parameter1', 38, 'u16'], ['parameter2', 40, 'u16'],
      ['parameter3', 42, 'u16']) }],
  [Op.REJECT, { name: 'Reject', initiator: false, immediate: false, fixed1: F, data: true, bits: [],
    fields: common(['reason', 2, 'u8'], ['itt', 16, 'u32'], ['statSN', 24, 'u32'], ['expCmdSN', 28, 'u32'], ['maxCmdSN', 32, 'u32'],
      ['dataSN', 36, 'u32']) }],
]);

/** The name of an opcode ("SCSI Command"), or undefined for an unknown one. */
export function opName(op: number): string | undefined {
  return LAYOUTS.get(op)?.name;
}

/**
 * The shape of one PDU's BHS as the codec table has it (tests, tools): each field's name and
 * kind, each byte-1 flag's name and width (0 for a boolean), whether it has the I bit and data.
 */
export function describePdu(op: number): { name: string; initiator: boolean; immediate: boolean; data: boolean;
  fields: Array<[string, Kind]>; bits: Array<[string, number]> } | undefined {
  const l = LAYOUTS.get(op);
  if (!l) return undefined;
  return {
    name: l.name, initiator: l.initiator, immediate: l.immediate, data: l.data,
    fields: l.fields.map(([n, , k]) => [n, k]),
    bits: l.bits.map(([n, mask, shift]) => [n, shift < 0 ? 0 : Math.log2((mask >>> shift) + 1)]),
  };
}

/** The opcodes a target accepts from an initiator, the dispatch table's keys. */
export const INITIATOR_OPCODES: readonly number[] = [...LAYOUTS].filter(([, l]) => l.initiator).map(([op]) => op);
/** The opcodes a target sends. */
export const TARGET_OPCODES: readonly number[] = [...LAYOUTS].filter(([, l]) => !l.initiator).map(([op]) => op);

// ---- digests and padding --------------------------------------------------------------------

/** Zero bytes that pad a segment of `n` bytes to a multiple of 4 (RFC 7143 section 11.1). */
export function padLength(n: number): number {
  return (4 - (n % 4)) % 4;
}

/**
 * CRC32C (Castagnoli, 13.1) of `parts` in order, as the number the RFC's examples show. On the
 * wire it goes least significant byte first: 32 zero bytes give 0x8a9136aa, sent aa 36 91 8a
 * (the examples of RFC 3720 appendix B.4; RFC 7143 keeps the digest). `writeDigest` does that.
 */
export function digest(...parts: Uint8Array[]): number {
  let crc = 0;
  for (const p of parts) crc = crc32c(p, crc);
  return crc >>> 0;
}

/** Writes a digest as it travels (little-endian byte order, see `digest`). */
export function writeDigest(w: Writer, crc: number): Writer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(crc >>> 0, 0);
  return w.bytes(b);
}

/** Digest settings of one connection (HeaderDigest/DataDigest = CRC32C, 13.1). */
export interface Digests {
  header: boolean;
  data: boolean;
}
export const NO_DIGESTS: Digests = Object.freeze({ header: false, data: false });

// ---- the frame ------------------------------------------------------------------------------

/**
 * One PDU cut out of the stream, not yet decoded: `bhs` (48 bytes), `ahs` (TotalAHSLength*4
 * bytes), `data` (DataSegmentLength bytes, padding dropped). `dataDigestError` marks a data
 * digest mismatch: answer Reject reason DATA_DIGEST_ERROR (or a recovery R2T) and discard it.
 */
export interface Frame {
  bhs: Buffer;
  ahs: Buffer;
  data: Buffer;
  dataDigestError: boolean;
}

/** Opcode, TotalAHSLength and DataSegmentLength of a 48-byte header (11.2.1). */
export function peekHeader(bhs: Buffer): { op: number; immediate: boolean; ahsBytes: number; dataLength: number } {
  if (bhs.length < BHS_SIZE) throw new WireError(`truncated BHS: ${bhs.length} bytes`);
  return {
    op: bhs[0]! & 0x3f,
    immediate: (bhs[0]! & 0x40) !== 0,
    ahsBytes: bhs[4]! * 4,
    dataLength: (bhs[5]! << 16) | (bhs[6]! << 8) | bhs[7]!,
  };
}

/** Options of a `PduFramer`; change them between PDUs with `setOptions` (digests start after login). */
export interface FramerOptions {
  /** Our declared MaxRecvDataSegmentLength (13.12), 512..2^24-1; 8192 during login. */
  maxRecvDataSegmentLength: number;
  digests: Digests;
}

/**
 * Cuts a byte stream into PDUs. `push(chunk)` stores bytes; `next()` returns one complete frame
 * or null. Holds at most one PDU (≤ 48 + 1020 + 4 + MaxRecvDataSegmentLength + 3 + 4 bytes)
 * beyond what the caller pushed and has not yet taken.
 * Throws `DigestError` (header digest, fatal) and fatal `PduError` PROTOCOL_ERROR when a
 * DataSegmentLength exceeds our MaxRecvDataSegmentLength (7.12: the target closes the connection).
 */
export class PduFramer {
  /** Received bytes; a PDU within one socket chunk comes out as a view of it, one across chunks copied once. */
  private readonly q = new ByteQueue();
  private opts: FramerOptions;
  /** Where a Data-Out PDU's data may go (session.ts Session.dataTarget); none: every frame as it comes. */
  private target: ((bhs: Buffer, dataLength: number) => Buffer | undefined) | undefined;

  constructor(opts: Partial<FramerOptions> = {}) {
    this.opts = { maxRecvDataSegmentLength: DEFAULT_RECV_DATA_SEGMENT_LENGTH, digests: NO_DIGESTS };
    this.setOptions(opts);
  }

  /** Changes limits or digests for the PDUs not yet returned. */
  setOptions(opts: Partial<FramerOptions>): void {
    const max = opts.maxRecvDataSegmentLength ?? this.opts.maxRecvDataSegmentLength;
    if (!Number.isInteger(max) || max < MIN_RECV_DATA_SEGMENT_LENGTH || max > FRAMER_HARD_MAX_DATA) {
      throw new RangeError(`MaxRecvDataSegmentLength ${max} outside ${MIN_RECV_DATA_SEGMENT_LENGTH}..${FRAMER_HARD_MAX_DATA}`);
    }
    this.opts = { maxRecvDataSegmentLength: max, digests: { ...(opts.digests ?? this.opts.digests) } };
  }

  /**
   * Lets `fn` place SCSI Data-Out data: for each complete Data-Out PDU it is asked, with the
   * 48-byte header and the data length, for a buffer of exactly that length; given one, the data
   * is copied there from the received chunks (once) and the frame's `data` is that buffer. The
   * header is not checked first: `fn` reads only the fields it trusts (ITT, TTT, BufferOffset) and
   * the frame is decoded and checked afterwards as any other.
   */
  setDataTarget(fn: ((bhs: Buffer, dataLength: number) => Buffer | undefined) | undefined): void {
    this.target = fn;
  }

  /** Bytes received and not yet returned in a frame. */
  get buffered(): number {
    return this.q.length;
  }

  push(chunk: Buffer): void {
    this.q.push(chunk);
  }

  /** The next complete PDU, or null until more bytes arrive. */
  next(): Frame | null {
    if (this.q.length < BHS_SIZE) return null;
    const { digests, maxRecvDataSegmentLength } = this.opts;
    const bhs = this.q.peek(BHS_SIZE);
    const { ahsBytes, dataLength } = peekHeader(bhs);
    const headerLen = BHS_SIZE + ahsBytes + (digests.header ? 4 : 0);
    if (this.q.length < headerLen) return null;
    if (digests.header) {
      const h = this.q.peek(headerLen);
      const want = digest(h.subarray(0, BHS_SIZE + ahsBytes));
      if (h.readUInt32LE(BHS_SIZE + ahsBytes) !== want) throw new DigestError('header digest mismatch', Buffer.from(h.subarray(0, BHS_SIZE)));
    }
    if (dataLength > maxRecvDataSegmentLength) {
      throw new PduError(`DataSegmentLength ${dataLength} exceeds MaxRecvDataSegmentLength ${maxRecvDataSegmentLength}`,
        RejectReason.PROTOCOL_ERROR, Buffer.from(bhs), true);
    }
    const padded = dataLength + padLength(dataLength);
    const dataDigestLen = digests.data && dataLength > 0 ? 4 : 0;
    const total = headerLen + padded + dataDigestLen;
    if (this.q.length < total) return null;
    const dst = this.target && dataLength > 0 && (bhs[0]! & 0x3f) === Op.SCSI_DATA_OUT ? this.target(bhs, dataLength) : undefined;
    if (dst && dst.length === dataLength) {
      const head = this.q.take(headerLen);
      this.q.takeInto(dst);
      const tail = this.q.take(padded - dataLength + dataDigestLen); // padding, data digest
      const frame: Frame = { bhs: head.subarray(0, BHS_SIZE), ahs: head.subarray(BHS_SIZE, BHS_SIZE + ahsBytes), data: dst, dataDigestError: false };
      if (dataDigestLen) frame.dataDigestError = tail.readUInt32LE(padded - dataLength) !== digest(dst, tail.subarray(0, padded - dataLength));
      return frame;
    }
    const all = this.q.take(total);
    const frame: Frame = {
      bhs: all.subarray(0, BHS_SIZE),
      ahs: all.subarray(BHS_SIZE, BHS_SIZE + ahsBytes),
      data: all.subarray(headerLen, headerLen + dataLength),
      dataDigestError: false,
    };
    if (dataDigestLen) {
      const seg = all.subarray(headerLen, headerLen + padded);
      frame.dataDigestError = all.readUInt32LE(headerLen + padded) !== digest(seg);
    }
    return frame;
  }
}

// ---- decode ---------------------------------------------------------------------------------

/** Parses the AHS region (11.2.2): AHSLength u16, AHSType u8, AHS-specific (AHSLength bytes), padding. */
export function decodeAhs(ahs: Buffer, bhs: Buffer = Buffer.alloc(BHS_SIZE)): Ahs[] {
  const out: Ahs[] = [];
  const r = new Reader(ahs);
  try {
    while (r.remaining() > 0) {
      const len = r.u16('AHSLength');
      const type = r.u8('AHSType');
      const data = Buffer.from(r.bytes(len, MAX_AHS_BYTES, 'AHS'));
      r.skip(padLength(3 + len), 'AHS padding');
      out.push({ type, data });
    }
  } catch (err) {
    if (err instanceof PduError || !(err instanceof WireError)) throw err;
    throw new PduError(`bad AHS: ${err.message}`, RejectReason.INVALID_PDU_FIELD, Buffer.from(bhs.subarray(0, BHS_SIZE)));
  }
  return out;
}

function readField(bhs: Buffer, off: number, kind: Kind): number | bigint | Buffer {
  switch (kind) {
    case 'u8': return bhs[off]!;
    case 'u16': return bhs.readUInt16BE(off);
    case 'u32': return bhs.readUInt32BE(off);
    case 'u64': return bhs.readBigUInt64BE(off);
    case 'isid': return Buffer.from(bhs.subarray(off, off + 6));
    case 'cdb': return Buffer.from(bhs.subarray(off, off + 16));
  }
}

function decodeWith(layout: Layout, f: Frame): Pdu {
  const { bhs } = f;
  const op = bhs[0]! & 0x3f;
  const header = Buffer.from(bhs.subarray(0, BHS_SIZE));
  if (!layout.data && f.data.length > 0) {
    throw new PduError(`${layout.name} carries ${f.data.length} data bytes`, RejectReason.INVALID_PDU_FIELD, header);
  }
  const out: Record<string, unknown> = { op };
  if (layout.immediate) out.immediate = (bhs[0]! & 0x40) !== 0;
  const b1 = bhs[1]!;
  for (const [name, mask, shift] of layout.bits) out[name] = shift < 0 ? (b1 & mask) !== 0 : (b1 & mask) >>> shift;
  for (const [name, off, kind] of layout.fields) out[name] = readField(bhs, off, kind);
  out.ahs = decodeAhs(f.ahs, header);
  out.data = f.data;
  return out as unknown as Pdu;
}

function layoutFor(f: Frame, initiator: boolean): Layout {
  if (f.bhs.length < BHS_SIZE) throw new PduError('truncated BHS', RejectReason.PROTOCOL_ERROR, Buffer.alloc(BHS_SIZE), true);
  const op = f.bhs[0]! & 0x3f;
  const layout = LAYOUTS.get(op);
  const header = Buffer.from(f.bhs.subarray(0, BHS_SIZE));
  if (!layout) {
    throw new PduError(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`, RejectReason.COMMAND_NOT_SUPPORTED, header);
  }
  if (layout.initiator !== initiator) {
    throw new PduError(`${layout.name} (0x${op.toString(16)}) sent by the ${initiator ? 'target' : 'initiator'}`,
      RejectReason.PROTOCOL_ERROR, header);
  }
  return layout;
}

/**
 * Decodes a frame an initiator sent (what a target receives). Throws `PduError`: unknown
 * opcode → COMMAND_NOT_SUPPORTED (0x05); a target opcode → PROTOCOL_ERROR (0x04); data on a
 * PDU that carries none, or a malformed AHS → INVALID_PDU_FIELD (0x09).
 */
export function decodeInitiatorPdu(f: Frame): InitiatorPdu {
  return decodeWith(layoutFor(f, true), f) as InitiatorPdu;
}

/** Decodes a frame a target sent (initiator side, tests, tools); errors as `decodeInitiatorPdu`. */
export function decodeTargetPdu(f: Frame): TargetPdu {
  return decodeWith(layoutFor(f, false), f) as TargetPdu;
}

/**
 * Dispatch-ready: `dispatch(frame, handlers)` decodes and calls the handler for the opcode.
 * A missing handler is COMMAND_NOT_SUPPORTED, as an unknown opcode is.
 */
export type Handlers<R> = { [K in InitiatorPdu['op']]?: (pdu: Extract<InitiatorPdu, { op: K }>) => R };
export function dispatch<R>(f: Frame, handlers: Handlers<R>): R {
  const pdu = decodeInitiatorPdu(f);
  const h = handlers[pdu.op] as ((p: InitiatorPdu) => R) | undefined;
  if (!h) throw new PduError(`${opName(pdu.op)} not supported`, RejectReason.COMMAND_NOT_SUPPORTED, Buffer.from(f.bhs.subarray(0, BHS_SIZE)));
  return h(pdu);
}

/** Frames and decodes one whole PDU held in `buf` (tests, captures); trailing bytes are an error. */
export function decodePduBytes(buf: Buffer, digests: Digests = NO_DIGESTS, maxData = FRAMER_HARD_MAX_DATA): Pdu {
  const fr = new PduFramer({ maxRecvDataSegmentLength: maxData, digests });
  fr.push(buf);
  const f = fr.next();
  if (!f) throw new WireError(`truncated PDU: ${buf.length} bytes`);
  if (fr.buffered) throw new WireError(`${fr.buffered} bytes after the PDU`);
  if (f.dataDigestError) throw new PduError('data digest mismatch', RejectReason.DATA_DIGEST_ERROR, Buffer.from(f.bhs));
  const op = f.bhs[0]! & 0x3f;
  return LAYOUTS.get(op)?.initiator === false ? decodeTargetPdu(f) : decodeInitiatorPdu(f);
}

/** Every PDU in a byte stream (a capture), in order; throws on a partial last PDU. */
export function splitPdus(buf: Buffer, digests: Digests = NO_DIGESTS, maxData = FRAMER_HARD_MAX_DATA): Frame[] {
  const fr = new PduFramer({ maxRecvDataSegmentLength: maxData, digests });
  fr.push(buf);
  const out: Frame[] = [];
  for (let f = fr.next(); f; f = fr.next()) out.push(f);
  if (fr.buffered) throw new WireError(`${fr.buffered} bytes of a partial PDU at the end`);
  return out;
}

// ---- encode ---------------------------------------------------------------------------------

/** Encodes AHS entries with their padding (11.2.2). */
export function encodeAhs(ahs: readonly Ahs[]): Buffer {
  const w = new Writer();
  for (const a of ahs) {
    if (a.data.length > 0xffff) throw new RangeError('AHS too long');
    w.u16(a.data.length).u8(a.type).bytes(a.data).zeros(padLength(3 + a.data.length));
  }
  return w.finish();
}

/**
 * The 48-byte BHS of `pdu` with TotalAHSLength and DataSegmentLength filled in from `ahsBytes`
 * and `dataLength`. Throws RangeError for an unknown opcode or out-of-range numbers.
 */
export function encodeBhs(pdu: Pdu, ahsBytes: number, dataLength: number): Buffer {
  const layout = LAYOUTS.get(pdu.op);
  if (!layout) throw new RangeError(`unknown opcode ${pdu.op}`);
  if (ahsBytes % 4 !== 0 || ahsBytes > MAX_AHS_BYTES) throw new RangeError(`AHS length ${ahsBytes}`);
  if (dataLength > MAX_DATA_SEGMENT_FIELD) throw new RangeError(`data segment ${dataLength} bytes`);
  const p = pdu as unknown as Record<string, unknown>;
  const bhs = Buffer.alloc(BHS_SIZE);
  bhs[0] = pdu.op | (layout.immediate && p.immediate ? 0x40 : 0);
  let b1 = layout.fixed1;
  for (const [name, mask, shift] of layout.bits) {
    const v = p[name];
    b1 |= shift < 0 ? (v ? mask : 0) : ((Number(v) << shift) & mask);
  }
  bhs[1] = b1;
  bhs[4] = ahsBytes / 4;
  bhs[5] = (dataLength >>> 16) & 0xff;
  bhs[6] = (dataLength >>> 8) & 0xff;
  bhs[7] = dataLength & 0xff;
  for (const [name, off, kind] of layout.fields) {
    const v = p[name];
    switch (kind) {
      case 'u8': bhs[off] = Number(v) & 0xff; break;
      case 'u16': bhs.writeUInt16BE(Number(v) & 0xffff, off); break;
      case 'u32': bhs.writeUInt32BE(Number(v) >>> 0, off); break;
      case 'u64': bhs.writeBigUInt64BE(BigInt(v as bigint), off); break;
      case 'isid':
      case 'cdb': {
        const b = v as Buffer;
        const n = kind === 'isid' ? 6 : 16;
        if (!Buffer.isBuffer(b) || b.length > n) throw new RangeError(`${name}: ${n} bytes at most`);
        b.copy(bhs, off);
        break;
      }
    }
  }
  return bhs;
}

/** One PDU as it goes on the wire: BHS, AHS, header digest, data, padding, data digest (11.1). */
export function encodePdu(pdu: Pdu, digests: Digests = NO_DIGESTS): Buffer {
  const ahs = encodeAhs(pdu.ahs ?? []);
  const data = pdu.data ?? Buffer.alloc(0);
  const bhs = encodeBhs(pdu, ahs.length, data.length);
  const w = new Writer(BHS_SIZE + ahs.length + data.length + 12);
  w.bytes(bhs).bytes(ahs);
  if (digests.header) writeDigest(w, digest(bhs, ahs));
  if (data.length) {
    const pad = Buffer.alloc(padLength(data.length));
    w.bytes(data).bytes(pad);
    if (digests.data) writeDigest(w, digest(data, pad));
  }
  return w.finish();
}

// ---- helpers for the server -----------------------------------------------------------------

/** The full CDB of a SCSI Command: the 16-byte field plus an Extended CDB AHS (11.2.2.3). */
export function fullCdb(cmd: ScsiCommand): Buffer {
  const ext = cmd.ahs.find((a) => a.type === AhsType.EXTENDED_CDB);
  // The AHS-specific field starts with one reserved byte, then the CDB bytes beyond 16.
  return ext && ext.data.length > 1 ? Buffer.concat([cmd.cdb, ext.data.subarray(1)]) : cmd.cdb;
}

/** The Bidirectional Read Expected Data Transfer Length AHS (11.2.2.4), if present. */
export function bidiReadLength(cmd: ScsiCommand): number | undefined {
  const a = cmd.ahs.find((x) => x.type === AhsType.BIDI_READ_LENGTH);
  return a && a.data.length >= 5 ? a.data.readUInt32BE(1) : undefined;
}

/** Data segment of a SCSI Response or Async Message (11.4.7): SenseLength u16, sense data, rest. */
export function encodeSenseSegment(sense: Buffer, rest: Buffer = Buffer.alloc(0)): Buffer {
  if (sense.length > 0xffff) throw new RangeError('sense data too long');
  return new Writer(2 + sense.length + rest.length).u16(sense.length).bytes(sense).bytes(rest).finish();
}

/** Splits a SCSI Response data segment into sense data and response data (11.4.7); WireError if short. */
export function decodeSenseSegment(data: Buffer): { sense: Buffer; rest: Buffer } {
  if (data.length === 0) return { sense: data, rest: data };
  const r = new Reader(data);
  const sense = r.bytes(r.u16('SenseLength'), 0xffff, 'sense data');
  return { sense, rest: r.bytes(r.remaining(), data.length, 'response data') };
}

/** The Reject (11.17) a target sends for `err` (PduError): reason and the bad header as data. */
export function rejectFor(err: PduError, sn: { statSN: number; expCmdSN: number; maxCmdSN: number; dataSN?: number }): Reject {
  return {
    op: Op.REJECT, reason: err.reason, itt: RESERVED_TAG, statSN: sn.statSN, expCmdSN: sn.expCmdSN, maxCmdSN: sn.maxCmdSN,
    dataSN: sn.dataSN ?? 0, ahs: [], data: Buffer.from(err.header.subarray(0, BHS_SIZE)),
  };
}

/**
 * A single-level LUN (SAM-5 4.7): peripheral addressing (method 00b) for 0..255 and flat
 * addressing (method 01b) for 256..16383, as Linux and libiscsi expect.
 */
export function encodeLun(n: number): bigint {
  if (!Number.isInteger(n) || n < 0 || n > 0x3fff) throw new RangeError(`LUN ${n} outside 0..16383`);
  const first = n < 256 ? 0 : (0x40 | (n >>> 8));
  return (BigInt(first) << 56n) | (BigInt(n & 0xff) << 48n);
}

/** The LUN number of an 8-byte LUN field, or undefined for a format this target never hands out. */
export function decodeLun(lun: bigint): number | undefined {
  if ((lun & 0xffffffffffffn) !== 0n) return undefined;
  const b0 = Number(lun >> 56n);
  const b1 = Number((lun >> 48n) & 0xffn);
  const method = b0 >>> 6;
  if (method === 0 && (b0 & 0x3f) === 0) return b1;
  if (method === 1) return ((b0 & 0x3f) << 8) | b1;
  return undefined;
}

// ---- response builders (pure; the server fills in the sequence numbers) ---------------------

/** StatSN/ExpCmdSN/MaxCmdSN as a target stamps them on a response (RFC 7143 section 4.2.2). */
export interface SeqNumbers {
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
}

/**
 * Residual of a transfer (RFC 7143 section 11.4.5): `expected` is the initiator's Expected Data
 * Transfer Length, `actual` what the command wanted to move. Fewer → underflow with the
 * difference; more → overflow with the bytes not transferred.
 */
export function residual(expected: number, actual: number): { overflow: boolean; underflow: boolean; residualCount: number } {
  if (actual < expected) return { overflow: false, underflow: true, residualCount: expected - actual };
  if (actual > expected) return { overflow: true, underflow: false, residualCount: actual - expected };
  return { overflow: false, underflow: false, residualCount: 0 };
}

/**
 * A SCSI Response (11.4) ending task `itt` with SCSI `status`; with `sense` (CHECK CONDITION)
 * the data segment is SenseLength + sense (11.4.7). `expected`/`actual` in bytes set the
 * residual flags and count.
 */
export function scsiResponse(o: SeqNumbers & { itt: number; status: number; sense?: Buffer; expected?: number; actual?: number;
  expDataSN?: number; response?: number }): ScsiResponse {
  const r = residual(o.expected ?? 0, o.actual ?? o.expected ?? 0);
  return {
    op: Op.SCSI_RESPONSE, bidiOverflow: false, bidiUnderflow: false, overflow: r.overflow, underflow: r.underflow,
    response: o.response ?? IscsiResponse.COMMAND_COMPLETED, status: o.status, itt: o.itt, snackTag: 0, statSN: o.statSN,
    expCmdSN: o.expCmdSN, maxCmdSN: o.maxCmdSN, expDataSN: o.expDataSN ?? 0, bidiResidualCount: 0, residualCount: r.residualCount,
    ahs: [], data: o.sense && o.sense.length ? encodeSenseSegment(o.sense) : Buffer.alloc(0),
  };
}

/**
 * The Data-In PDUs (11.7) that carry `data` for task `itt`, each at most `maxSegment` bytes (the
 * initiator's MaxRecvDataSegmentLength), DataSN from `firstDataSN`, BufferOffset counting up.
 * With `status` the last PDU also carries it (S bit, phase collapse, 11.7.4; only when there is
 * no sense data to send) and the residual against `expected`. Only that PDU carries `statSN`;
 * without the S bit the field is reserved (11.7.4) and goes as 0.
 */
export function dataInPdus(data: Buffer, o: SeqNumbers & { itt: number; lun: bigint; maxSegment: number; firstDataSN?: number;
  status?: number; expected?: number }): DataIn[] {
  if (!Number.isInteger(o.maxSegment) || o.maxSegment < 1) throw new RangeError(`bad segment size ${o.maxSegment}`);
  const out: DataIn[] = [];
  const n = Math.max(1, Math.ceil(data.length / o.maxSegment));
  for (let i = 0; i < n; i++) {
    const last = i === n - 1;
    const withStatus = last && o.status !== undefined;
    const r = withStatus ? residual(o.expected ?? data.length, data.length) : { overflow: false, underflow: false, residualCount: 0 };
    out.push({
      op: Op.SCSI_DATA_IN, final: last, ack: false, overflow: r.overflow, underflow: r.underflow, statusPresent: withStatus,
      status: withStatus ? o.status! : 0, lun: o.lun, itt: o.itt, ttt: RESERVED_TAG, statSN: withStatus ? o.statSN : 0,
      expCmdSN: o.expCmdSN, maxCmdSN: o.maxCmdSN, dataSN: (o.firstDataSN ?? 0) + i, bufferOffset: i * o.maxSegment,
      residualCount: r.residualCount, ahs: [], data: data.subarray(i * o.maxSegment, (i + 1) * o.maxSegment),
    });
  }
  return out;
}

/**
 * The R2Ts (11.8) that ask for bytes [offset, offset + length) of task `itt`, each for at most
 * `maxBurst` bytes (MaxBurstLength), R2TSN from `firstR2TSN`, TTT from `ttt` upwards (one per
 * R2T, so the Data-Out sequences can be told apart). StatSN is reserved in R2T: carry the next one.
 */
export function r2tPdus(o: SeqNumbers & { itt: number; lun: bigint; ttt: number; offset: number; length: number; maxBurst: number;
  firstR2TSN?: number }): R2T[] {
  if (!Number.isInteger(o.maxBurst) || o.maxBurst < 1) throw new RangeError(`bad burst size ${o.maxBurst}`);
  const out: R2T[] = [];
  for (let done = 0, i = 0; done < o.length; done += o.maxBurst, i++) {
    out.push({
      op: Op.R2T, lun: o.lun, itt: o.itt, ttt: (o.ttt + i) >>> 0, statSN: o.statSN, expCmdSN: o.expCmdSN, maxCmdSN: o.maxCmdSN,
      r2tSN: (o.firstR2TSN ?? 0) + i, bufferOffset: o.offset + done, desiredDataTransferLength: Math.min(o.maxBurst, o.length - done),
      ahs: [], data: Buffer.alloc(0),
    });
  }
  return out;
}
