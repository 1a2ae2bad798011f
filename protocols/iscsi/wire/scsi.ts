/**
 * SCSI for a block target: CDB decoding for the commands of issue 8 (SPC-4 for the primary
 * commands, SBC-3 for block commands), their parameter lists (UNMAP, PERSISTENT RESERVE OUT,
 * MODE SELECT) and fixed-format sense data (SPC-4 section 4.5.3). Sans-IO.
 *
 * Errors: a CDB or parameter list that does not decode throws `CdbError`, which carries the
 * status (CHECK CONDITION) and the 18-byte sense data to answer with, never anything else.
 * Numbers: LBAs and reservation keys are bigints (64-bit fields), lengths are in logical blocks
 * for READ/WRITE/VERIFY/WRITE SAME/SYNCHRONIZE CACHE/PRE-FETCH and in bytes for allocation and
 * parameter list lengths.
 */
import { Reader, WireError, Writer } from './reader.js';

/** Operation codes (SPC-4 annex D / SBC-3 table 13), named as the standards name them. */
export const ScsiOp = {
  TEST_UNIT_READY: 0x00,
  REQUEST_SENSE: 0x03,
  READ_6: 0x08,
  WRITE_6: 0x0a,
  INQUIRY: 0x12,
  MODE_SELECT_6: 0x15,
  RESERVE_6: 0x16,
  RELEASE_6: 0x17,
  MODE_SENSE_6: 0x1a,
  START_STOP_UNIT: 0x1b,
  READ_CAPACITY_10: 0x25,
  READ_10: 0x28,
  WRITE_10: 0x2a,
  WRITE_AND_VERIFY_10: 0x2e,
  VERIFY_10: 0x2f,
  PRE_FETCH_10: 0x34,
  SYNCHRONIZE_CACHE_10: 0x35,
  WRITE_SAME_10: 0x41,
  UNMAP: 0x42,
  MODE_SELECT_10: 0x55,
  MODE_SENSE_10: 0x5a,
  PERSISTENT_RESERVE_IN: 0x5e,
  PERSISTENT_RESERVE_OUT: 0x5f,
  READ_16: 0x88,
  COMPARE_AND_WRITE: 0x89,
  WRITE_16: 0x8a,
  WRITE_AND_VERIFY_16: 0x8e,
  VERIFY_16: 0x8f,
  PRE_FETCH_16: 0x90,
  SYNCHRONIZE_CACHE_16: 0x91,
  WRITE_SAME_16: 0x93,
  /** SERVICE ACTION IN(16): READ CAPACITY(16) and GET LBA STATUS by service action. */
  SERVICE_ACTION_IN_16: 0x9e,
  REPORT_LUNS: 0xa0,
  READ_12: 0xa8,
  WRITE_12: 0xaa,
  WRITE_AND_VERIFY_12: 0xae,
  VERIFY_12: 0xaf,
  /** ORWRITE(16) (SBC-3 5.9): OR the Data-Out into the medium. */
  ORWRITE_16: 0x8b,
  /** THIRD-PARTY COPY OUT: EXTENDED COPY(LID1) by service action 0x00 (SPC-4 6.4). */
  EXTENDED_COPY: 0x83,
  /** THIRD-PARTY COPY IN: RECEIVE COPY RESULTS (SPC-4 6.18): COPY STATUS 0x00, OPERATING PARAMETERS 0x03. */
  RECEIVE_COPY_RESULTS: 0x84,
  READ_DEFECT_DATA_10: 0x37,
  READ_DEFECT_DATA_12: 0xb7,
  /** MAINTENANCE IN: REPORT SUPPORTED OPERATION CODES by service action 0x0C (SPC-4 6.35). */
  MAINTENANCE_IN: 0xa3,
} as const;
export type ScsiOpCode = (typeof ScsiOp)[keyof typeof ScsiOp];

/** RECEIVE COPY RESULTS service actions (SPC-4 6.18). */
export const ReceiveCopyResults = { COPY_STATUS: 0x00, OPERATING_PARAMETERS: 0x03 } as const;
/** MAINTENANCE IN service actions (SPC-4 6.35). */
export const MaintenanceIn = { REPORT_SUPPORTED_OPERATION_CODES: 0x0c } as const;
/** SERVICE ACTION IN(16) service actions (SBC-3 5.16 / 5.8). */
export const ServiceActionIn16 = { READ_CAPACITY_16: 0x10, GET_LBA_STATUS: 0x12 } as const;
/** PERSISTENT RESERVE IN service actions (SPC-4 6.14.1). */
export const PrInAction = { READ_KEYS: 0, READ_RESERVATION: 1, REPORT_CAPABILITIES: 2, READ_FULL_STATUS: 3 } as const;
/** PERSISTENT RESERVE OUT service actions (SPC-4 6.15.2). */
export const PrOutAction = {
  REGISTER: 0, RESERVE: 1, RELEASE: 2, CLEAR: 3, PREEMPT: 4, PREEMPT_AND_ABORT: 5, REGISTER_AND_IGNORE_EXISTING_KEY: 6,
  REGISTER_AND_MOVE: 7,
} as const;
/** Persistent reservation types (SPC-4 6.15.3, table 198). */
export const PrType = {
  WRITE_EXCLUSIVE: 1, EXCLUSIVE_ACCESS: 3, WRITE_EXCLUSIVE_REGISTRANTS_ONLY: 5, EXCLUSIVE_ACCESS_REGISTRANTS_ONLY: 6,
  WRITE_EXCLUSIVE_ALL_REGISTRANTS: 7, EXCLUSIVE_ACCESS_ALL_REGISTRANTS: 8,
} as const;

/** SCSI status codes (SAM-5 5.3.1). */
export const ScsiStatus = {
  GOOD: 0x00, CHECK_CONDITION: 0x02, CONDITION_MET: 0x04, BUSY: 0x08, RESERVATION_CONFLICT: 0x18, TASK_SET_FULL: 0x28,
  ACA_ACTIVE: 0x30, TASK_ABORTED: 0x40,
} as const;

/** Sense keys (SPC-4 4.5.6, table 54). */
export const SenseKey = {
  NO_SENSE: 0x0, RECOVERED_ERROR: 0x1, NOT_READY: 0x2, MEDIUM_ERROR: 0x3, HARDWARE_ERROR: 0x4, ILLEGAL_REQUEST: 0x5,
  UNIT_ATTENTION: 0x6, DATA_PROTECT: 0x7, BLANK_CHECK: 0x8, COPY_ABORTED: 0xa, ABORTED_COMMAND: 0xb, MISCOMPARE: 0xe,
} as const;

/** [ASC, ASCQ] pairs a block target answers with (SPC-4 annex D.2, table D.2). */
export const Asc = {
  NO_ADDITIONAL_SENSE: [0x00, 0x00],
  LOGICAL_UNIT_NOT_READY_CAUSE_NOT_REPORTABLE: [0x04, 0x00],
  LOGICAL_UNIT_IS_IN_PROCESS_OF_BECOMING_READY: [0x04, 0x01],
  LOGICAL_UNIT_NOT_READY_INITIALIZING_COMMAND_REQUIRED: [0x04, 0x02],
  LOGICAL_UNIT_NOT_READY_MANUAL_INTERVENTION_REQUIRED: [0x04, 0x03],
  LOGICAL_UNIT_COMMUNICATION_TIME_OUT: [0x08, 0x01],
  WRITE_ERROR: [0x0c, 0x00],
  UNRECOVERED_READ_ERROR: [0x11, 0x00],
  MISCOMPARE_DURING_VERIFY_OPERATION: [0x1d, 0x00],
  PARAMETER_LIST_LENGTH_ERROR: [0x1a, 0x00],
  INVALID_COMMAND_OPERATION_CODE: [0x20, 0x00],
  ACCESS_DENIED_NO_ACCESS_RIGHTS: [0x20, 0x02],
  LOGICAL_BLOCK_ADDRESS_OUT_OF_RANGE: [0x21, 0x00],
  INVALID_FIELD_IN_CDB: [0x24, 0x00],
  LOGICAL_UNIT_NOT_SUPPORTED: [0x25, 0x00],
  INVALID_FIELD_IN_PARAMETER_LIST: [0x26, 0x00],
  PARAMETER_NOT_SUPPORTED: [0x26, 0x01],
  PARAMETER_VALUE_INVALID: [0x26, 0x02],
  WRITE_PROTECTED: [0x27, 0x00],
  SPACE_ALLOCATION_FAILED_WRITE_PROTECT: [0x27, 0x07],
  POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED: [0x29, 0x00],
  MODE_PARAMETERS_CHANGED: [0x2a, 0x01],
  RESERVATIONS_PREEMPTED: [0x2a, 0x03],
  RESERVATIONS_RELEASED: [0x2a, 0x04],
  REGISTRATIONS_PREEMPTED: [0x2a, 0x05],
  CAPACITY_DATA_HAS_CHANGED: [0x2a, 0x09],
  COMMANDS_CLEARED_BY_ANOTHER_INITIATOR: [0x2f, 0x00],
  SAVING_PARAMETERS_NOT_SUPPORTED: [0x39, 0x00],
  MEDIUM_NOT_PRESENT: [0x3a, 0x00],
  REPORTED_LUNS_DATA_HAS_CHANGED: [0x3f, 0x0e],
  INTERNAL_TARGET_FAILURE: [0x44, 0x00],
  SYSTEM_RESOURCE_FAILURE: [0x55, 0x00],
  INSUFFICIENT_REGISTRATION_RESOURCES: [0x55, 0x04],
  UNREACHABLE_COPY_TARGET: [0x08, 0x04],
  COPY_TARGET_DEVICE_NOT_REACHABLE: [0x0d, 0x02],
  TOO_MANY_TARGET_DESCRIPTORS: [0x26, 0x06],
  UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE: [0x26, 0x07],
  TOO_MANY_SEGMENT_DESCRIPTORS: [0x26, 0x08],
  UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE: [0x26, 0x09],
} as const satisfies Record<string, readonly [number, number]>;
export type AscPair = readonly [number, number];

// ---- sense data -----------------------------------------------------------------------------

/** Length of the fixed-format sense data this target builds (SPC-4 4.5.3: 8 + additional 10). */
export const FIXED_SENSE_LENGTH = 18;

/**
 * Where in the CDB (or parameter list, `cd: false`) a bad field is, for the sense-key-specific
 * field pointer (SPC-4 4.5.2.4.2): `byte` offset and optionally the most significant `bit` of it.
 */
export interface FieldPointer {
  cd: boolean;
  byte: number;
  bit?: number;
}

/** Sense data as the target builds and the tests read it back. */
export interface Sense {
  key: number;
  asc: number;
  ascq: number;
  /** INFORMATION field (e.g. the first bad LBA, or the offset of a miscompare), sets VALID. */
  information?: number | bigint;
  /** ILLEGAL REQUEST: the field pointer. */
  field?: FieldPointer;
  /** Deferred error (0x71) rather than current (0x70). */
  deferred?: boolean;
}

/**
 * Fixed-format sense data (SPC-4 4.5.3, table 48), 18 bytes: response code 0x70 (VALID 0x80 when
 * `information` is given), sense key in byte 2, INFORMATION in bytes 3-6 (low 32 bits),
 * ADDITIONAL SENSE LENGTH 10, ASC/ASCQ in bytes 12-13, SKSV + field pointer in bytes 15-17.
 */
export function buildSense(s: Sense): Buffer {
  const b = Buffer.alloc(FIXED_SENSE_LENGTH);
  b[0] = (s.deferred ? 0x71 : 0x70) | (s.information !== undefined ? 0x80 : 0);
  b[2] = s.key & 0x0f;
  if (s.information !== undefined) b.writeUInt32BE(Number(BigInt(s.information) & 0xffffffffn), 3);
  b[7] = FIXED_SENSE_LENGTH - 8;
  b[12] = s.asc;
  b[13] = s.ascq;
  if (s.field) {
    b[15] = 0x80 | (s.field.cd ? 0x40 : 0) | (s.field.bit !== undefined ? 0x08 | (s.field.bit & 0x07) : 0);
    b.writeUInt16BE(s.field.byte & 0xffff, 16);
  }
  return b;
}

/** Reads fixed-format sense data back (tests, initiator side). Throws WireError for other formats. */
export function parseSense(b: Buffer): Sense {
  const r = new Reader(b);
  const code = r.u8('response code');
  if ((code & 0x7f) !== 0x70 && (code & 0x7f) !== 0x71) throw new WireError(`sense response code 0x${code.toString(16)} is not fixed format`);
  r.skip(1);
  const key = r.u8('sense key') & 0x0f;
  const info = r.u32('information');
  const addl = r.u8('additional length');
  if (addl < 6) throw new WireError(`additional sense length ${addl}`);
  const rest = r.bytes(Math.min(addl, r.remaining()), 244, 'additional sense');
  const s: Sense = { key, asc: rest[4] ?? 0, ascq: rest[5] ?? 0 };
  if (code & 0x80) s.information = info;
  if (code & 0x01) s.deferred = true;
  const sks = rest[7];
  if (sks !== undefined && sks & 0x80 && rest.length >= 10) {
    s.field = { cd: (sks & 0x40) !== 0, byte: rest.readUInt16BE(8) };
    if (sks & 0x08) s.field.bit = sks & 0x07;
  }
  return s;
}

/**
 * A command the target ends with a status other than GOOD: CHECK CONDITION with `sense`, or
 * (sense empty) RESERVATION CONFLICT / BUSY / TASK SET FULL. The server answers it as it is.
 */
export class CdbError extends WireError {
  constructor(message: string, readonly status: number, readonly sense: Buffer) {
    super(message);
    this.name = 'CdbError';
  }
}

/** CHECK CONDITION with the given sense key and ASC/ASCQ. */
export function checkCondition(message: string, key: number, asc: AscPair, extra: Omit<Sense, 'key' | 'asc' | 'ascq'> = {}): CdbError {
  return new CdbError(message, ScsiStatus.CHECK_CONDITION, buildSense({ key, asc: asc[0], ascq: asc[1], ...extra }));
}

/** ILLEGAL REQUEST, INVALID FIELD IN CDB, pointing at `byte` (and `bit`) of the CDB. */
export function invalidFieldInCdb(byte: number, bit?: number, message = `invalid field in CDB byte ${byte}`): CdbError {
  return checkCondition(message, SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB, { field: { cd: true, byte, ...(bit !== undefined ? { bit } : {}) } });
}

/** ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST, pointing at `byte` (and `bit`) of the list. */
export function invalidFieldInParameterList(byte: number, bit?: number, message = `invalid field in parameter list byte ${byte}`): CdbError {
  return checkCondition(message, SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_PARAMETER_LIST, { field: { cd: false, byte, ...(bit !== undefined ? { bit } : {}) } });
}

/** ILLEGAL REQUEST, PARAMETER LIST LENGTH ERROR. */
export function parameterListLengthError(message = 'parameter list length error'): CdbError {
  return checkCondition(message, SenseKey.ILLEGAL_REQUEST, Asc.PARAMETER_LIST_LENGTH_ERROR);
}

/** ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE (pointer at byte 0). */
export function invalidOpcode(op: number): CdbError {
  return checkCondition(`operation code 0x${op.toString(16).padStart(2, '0')} not supported`, SenseKey.ILLEGAL_REQUEST,
    Asc.INVALID_COMMAND_OPERATION_CODE, { field: { cd: true, byte: 0 } });
}

/** ILLEGAL REQUEST, LOGICAL BLOCK ADDRESS OUT OF RANGE (INFORMATION = the LBA). */
export function lbaOutOfRange(lba: bigint): CdbError {
  return checkCondition(`LBA ${lba} out of range`, SenseKey.ILLEGAL_REQUEST, Asc.LOGICAL_BLOCK_ADDRESS_OUT_OF_RANGE);
}

/** MISCOMPARE, MISCOMPARE DURING VERIFY OPERATION, INFORMATION = byte offset of the first difference (SBC-3 5.2). */
export function miscompare(offset: number): CdbError {
  return checkCondition(`miscompare at byte ${offset}`, SenseKey.MISCOMPARE, Asc.MISCOMPARE_DURING_VERIFY_OPERATION, { information: offset });
}

/** DATA PROTECT, WRITE PROTECTED (snapshots, read-only LUNs). */
export function writeProtected(): CdbError {
  return checkCondition('write protected', SenseKey.DATA_PROTECT, Asc.WRITE_PROTECTED);
}

/** MEDIUM ERROR, UNRECOVERED READ ERROR, INFORMATION = the LBA (an EIO from the block store). */
export function unrecoveredReadError(lba: bigint): CdbError {
  return checkCondition(`unrecovered read error at LBA ${lba}`, SenseKey.MEDIUM_ERROR, Asc.UNRECOVERED_READ_ERROR, { information: lba });
}

/** NOT READY, LOGICAL UNIT NOT READY (stopped by START STOP UNIT, volume offline). */
export function notReady(asc: AscPair = Asc.LOGICAL_UNIT_NOT_READY_CAUSE_NOT_REPORTABLE): CdbError {
  return checkCondition('logical unit not ready', SenseKey.NOT_READY, asc);
}

/** UNIT ATTENTION with the condition (POWER ON RESET, CAPACITY DATA HAS CHANGED, …). */
export function unitAttention(asc: AscPair): CdbError {
  return checkCondition('unit attention', SenseKey.UNIT_ATTENTION, asc);
}

/** RESERVATION CONFLICT status: no sense data (SPC-4 5.9.1). */
export function reservationConflict(): CdbError {
  return new CdbError('reservation conflict', ScsiStatus.RESERVATION_CONFLICT, Buffer.alloc(0));
}

// ---- CDBs -----------------------------------------------------------------------------------

/** Fields every decoded CDB has: the opcode, its name and the CONTROL byte's NACA bit is refused. */
interface CdbBase {
  op: number;
  name: string;
}
/** READ/WRITE/VERIFY family: LBA and length in blocks; `protect` is RD/WR/VRPROTECT (must be 0 here). */
export interface RwCdb extends CdbBase {
  kind: 'read' | 'write' | 'write-verify' | 'verify' | 'orwrite';
  lba: bigint;
  blocks: number;
  fua: boolean;
  dpo: boolean;
  protect: number;
  group: number;
  /** VERIFY / WRITE AND VERIFY byte-by-byte compare (BYTCHK, SBC-3 bit 1 of byte 1). */
  bytchk: boolean;
}
export interface InquiryCdb extends CdbBase { kind: 'inquiry'; evpd: boolean; page: number; allocationLength: number }
export interface ReportLunsCdb extends CdbBase { kind: 'report-luns'; selectReport: number; allocationLength: number }
export interface TurCdb extends CdbBase { kind: 'test-unit-ready' }
export interface RequestSenseCdb extends CdbBase { kind: 'request-sense'; desc: boolean; allocationLength: number }
export interface ReadCapacityCdb extends CdbBase { kind: 'read-capacity-10' | 'read-capacity-16'; allocationLength: number; pmi: boolean; lba: bigint }
export interface SyncCacheCdb extends CdbBase { kind: 'synchronize-cache'; immed: boolean; lba: bigint; blocks: number; group: number }
export interface PrefetchCdb extends CdbBase { kind: 'pre-fetch'; immed: boolean; lba: bigint; blocks: number; group: number }
export interface ModeSenseCdb extends CdbBase {
  kind: 'mode-sense';
  dbd: boolean;
  llbaa: boolean;
  /** Page control (SPC-4 6.11.2): 0 current, 1 changeable, 2 default, 3 saved. */
  pc: number;
  page: number;
  subpage: number;
  allocationLength: number;
}
export interface ModeSelectCdb extends CdbBase { kind: 'mode-select'; pf: boolean; sp: boolean; parameterListLength: number }
export interface UnmapCdb extends CdbBase { kind: 'unmap'; anchor: boolean; group: number; parameterListLength: number }
export interface WriteSameCdb extends CdbBase {
  kind: 'write-same';
  lba: bigint;
  /** 0 means "to the end of the medium" when the device allows it (SBC-3 5.42, WSNZ). */
  blocks: number;
  unmap: boolean;
  anchor: boolean;
  ndob: boolean;
  protect: number;
  group: number;
}
export interface CompareAndWriteCdb extends CdbBase { kind: 'compare-and-write'; lba: bigint; blocks: number; fua: boolean; dpo: boolean; protect: number; group: number }
export interface GetLbaStatusCdb extends CdbBase { kind: 'get-lba-status'; lba: bigint; allocationLength: number }
export interface PrInCdb extends CdbBase { kind: 'persistent-reserve-in'; action: number; allocationLength: number }
export interface PrOutCdb extends CdbBase { kind: 'persistent-reserve-out'; action: number; scope: number; type: number; parameterListLength: number }
export interface ReserveReleaseCdb extends CdbBase { kind: 'reserve-6' | 'release-6' }
/**
 * REPORT SUPPORTED OPERATION CODES (SPC-4 6.35): RCTD (return command timeouts descriptors),
 * REPORTING OPTIONS (0 all, 1 one opcode, 2 opcode + service action, 3 opcode with or without
 * one), the requested opcode and service action.
 */
export interface ReportOpcodesCdb extends CdbBase { kind: 'report-supported-opcodes'; rctd: boolean; options: number; requestedOp: number; requestedSa: number; allocationLength: number }
/** EXTENDED COPY(LID1) (SPC-4 6.4): the parameter list length in bytes. */
export interface ExtendedCopyCdb extends CdbBase { kind: 'extended-copy'; parameterListLength: number }
/** RECEIVE COPY RESULTS (SPC-4 6.18): service action, LIST IDENTIFIER, allocation length. */
export interface ReceiveCopyResultsCdb extends CdbBase { kind: 'receive-copy-results'; action: number; listId: number; allocationLength: number }
/** READ DEFECT DATA(10)/(12) (SBC-3 5.18, 5.19): which lists (REQ_PLIST, REQ_GLIST) in which DEFECT LIST FORMAT. */
export interface ReadDefectDataCdb extends CdbBase { kind: 'read-defect-data'; plist: boolean; glist: boolean; format: number; allocationLength: number }
export interface StartStopCdb extends CdbBase { kind: 'start-stop-unit'; immed: boolean; powerCondition: number; noFlush: boolean; loej: boolean; start: boolean }

export type Cdb = RwCdb | InquiryCdb | ReportLunsCdb | TurCdb | RequestSenseCdb | ReadCapacityCdb | SyncCacheCdb | PrefetchCdb |
  ModeSenseCdb | ModeSelectCdb | UnmapCdb | WriteSameCdb | CompareAndWriteCdb | GetLbaStatusCdb | PrInCdb | PrOutCdb |
  ReserveReleaseCdb | StartStopCdb | ReportOpcodesCdb | ReadDefectDataCdb | ExtendedCopyCdb | ReceiveCopyResultsCdb;

/** CDB length by group code (SPC-4 4.2.5.1, the top three bits of the opcode); 0 for reserved/variable groups. */
export function cdbLength(op: number): number {
  switch (op >>> 5) {
    case 0: return 6;
    case 1: case 2: return 10;
    case 4: return 16;
    case 5: return 12;
    default: return 0;
  }
}

const NAMES = new Map<number, string>(Object.entries(ScsiOp).map(([k, v]) => [v, k]));
/** The standard name of an opcode ("READ_16"), or undefined. */
export function scsiOpName(op: number): string | undefined {
  return NAMES.get(op);
}

const bit = (b: number, n: number): boolean => ((b >>> n) & 1) === 1;

/**
 * A READ/WRITE family CDB's fields (SBC-3 5.x): the common bits of byte 1 (RDPROTECT/WRPROTECT,
 * DPO, FUA, BYTCHK where the command has them) and the GROUP NUMBER. (Built as one literal, at
 * module level: a spread of a shared base object and a closure made per call cost ~4 µs per CDB.)
 */
function rw(op: number, name: string, b1: number, kind: RwCdb['kind'], lba: bigint, blocks: number, group: number): RwCdb {
  return {
    op, name, kind, lba, blocks, group: group & 0x1f, protect: b1 >>> 5, dpo: bit(b1, 4),
    fua: kind === 'read' || kind === 'write' || kind === 'orwrite' ? bit(b1, 3) : false, bytchk: kind === 'verify' || kind === 'write-verify' ? bit(b1, 1) : false,
  };
}

/**
 * Decodes a CDB (16 bytes from the SCSI Command BHS, longer with an Extended CDB AHS). Throws
 * `CdbError` only: an unknown opcode → INVALID COMMAND OPERATION CODE; a CDB shorter than its
 * group's length, a NACA bit in CONTROL (no ACA here), or a field this target refuses (INQUIRY
 * CMDDT, page code without EVPD; REPORT LUNS allocation < 16; unknown service action; reserved
 * PR type; ANCHOR without UNMAP) → INVALID FIELD IN CDB with the field pointer.
 */
export function decodeCdb(cdb: Buffer): Cdb {
  if (cdb.length === 0) throw invalidFieldInCdb(0, undefined, 'empty CDB');
  const op = cdb[0]!;
  const name = NAMES.get(op);
  if (name === undefined) throw invalidOpcode(op);
  const len = cdbLength(op);
  if (cdb.length < len) throw invalidFieldInCdb(0, undefined, `CDB of ${cdb.length} bytes for ${name} (needs ${len})`);
  const control = cdb[len - 1]!;
  if (control & 0x04) throw invalidFieldInCdb(len - 1, 2, 'NACA not supported');
  const b1 = cdb[1]!;
  switch (op) {
    case ScsiOp.TEST_UNIT_READY:
      return { op, name, kind: 'test-unit-ready' };
    case ScsiOp.REQUEST_SENSE:
      return { op, name, kind: 'request-sense', desc: bit(b1, 0), allocationLength: cdb[4]! };
    case ScsiOp.READ_6:
    case ScsiOp.WRITE_6: {
      // SBC-3 5.11 / 5.30: 21-bit LBA; a TRANSFER LENGTH of 0 means 256 blocks.
      const lba = BigInt(((b1 & 0x1f) << 16) | cdb.readUInt16BE(2));
      const blocks = cdb[4]! === 0 ? 256 : cdb[4]!;
      return { op, name, kind: op === ScsiOp.READ_6 ? 'read' : 'write', lba, blocks, fua: false, dpo: false, protect: 0, group: 0, bytchk: false };
    }
    case ScsiOp.INQUIRY: {
      if (bit(b1, 1)) throw invalidFieldInCdb(1, 1, 'CMDDT not supported');
      const evpd = bit(b1, 0);
      if (!evpd && cdb[2]! !== 0) throw invalidFieldInCdb(2, undefined, 'page code without EVPD');
      return { op, name, kind: 'inquiry', evpd, page: cdb[2]!, allocationLength: cdb.readUInt16BE(3) };
    }
    case ScsiOp.MODE_SELECT_6:
      return { op, name, kind: 'mode-select', pf: bit(b1, 4), sp: bit(b1, 0), parameterListLength: cdb[4]! };
    case ScsiOp.MODE_SELECT_10:
      return { op, name, kind: 'mode-select', pf: bit(b1, 4), sp: bit(b1, 0), parameterListLength: cdb.readUInt16BE(7) };
    case ScsiOp.RESERVE_6:
      return { op, name, kind: 'reserve-6' };
    case ScsiOp.RELEASE_6:
      return { op, name, kind: 'release-6' };
    case ScsiOp.MODE_SENSE_6:
    case ScsiOp.MODE_SENSE_10:
      return {
        op, name, kind: 'mode-sense', dbd: bit(b1, 3), llbaa: op === ScsiOp.MODE_SENSE_10 && bit(b1, 4), pc: cdb[2]! >>> 6,
        page: cdb[2]! & 0x3f, subpage: cdb[3]!, allocationLength: op === ScsiOp.MODE_SENSE_6 ? cdb[4]! : cdb.readUInt16BE(7),
      };
    case ScsiOp.START_STOP_UNIT:
      return {
        op, name, kind: 'start-stop-unit', immed: bit(b1, 0), powerCondition: cdb[4]! >>> 4, noFlush: bit(cdb[4]!, 2),
        loej: bit(cdb[4]!, 1), start: bit(cdb[4]!, 0),
      };
    case ScsiOp.READ_CAPACITY_10:
      return { op, name, kind: 'read-capacity-10', allocationLength: 8, pmi: bit(cdb[8]!, 0), lba: BigInt(cdb.readUInt32BE(2)) };
    case ScsiOp.READ_10: return rw(op, name, b1, 'read', BigInt(cdb.readUInt32BE(2)), cdb.readUInt16BE(7), cdb[6]!);
    case ScsiOp.WRITE_10: return rw(op, name, b1, 'write', BigInt(cdb.readUInt32BE(2)), cdb.readUInt16BE(7), cdb[6]!);
    case ScsiOp.WRITE_AND_VERIFY_10: return rw(op, name, b1, 'write-verify', BigInt(cdb.readUInt32BE(2)), cdb.readUInt16BE(7), cdb[6]!);
    case ScsiOp.VERIFY_10: return rw(op, name, b1, 'verify', BigInt(cdb.readUInt32BE(2)), cdb.readUInt16BE(7), cdb[6]!);
    case ScsiOp.READ_12: return rw(op, name, b1, 'read', BigInt(cdb.readUInt32BE(2)), cdb.readUInt32BE(6), cdb[10]!);
    case ScsiOp.WRITE_AND_VERIFY_12: return rw(op, name, b1, 'write-verify', BigInt(cdb.readUInt32BE(2)), cdb.readUInt32BE(6), cdb[10]!);
    case ScsiOp.VERIFY_12: return rw(op, name, b1, 'verify', BigInt(cdb.readUInt32BE(2)), cdb.readUInt32BE(6), cdb[10]!);
    case ScsiOp.ORWRITE_16: return rw(op, name, b1, 'orwrite', cdb.readBigUInt64BE(2), cdb.readUInt32BE(10), cdb[14]!);
    case ScsiOp.EXTENDED_COPY:
      if ((b1 & 0x1f) !== 0) throw invalidFieldInCdb(1, 4, `THIRD-PARTY COPY OUT service action 0x${(b1 & 0x1f).toString(16)} not supported`);
      return { op, name, kind: 'extended-copy', parameterListLength: cdb.readUInt32BE(10) };
    case ScsiOp.RECEIVE_COPY_RESULTS: {
      const action = b1 & 0x1f;
      if (action !== ReceiveCopyResults.COPY_STATUS && action !== ReceiveCopyResults.OPERATING_PARAMETERS) {
        throw invalidFieldInCdb(1, 4, `RECEIVE COPY RESULTS service action 0x${action.toString(16)} not supported`);
      }
      return { op, name, kind: 'receive-copy-results', action, listId: cdb[2]!, allocationLength: cdb.readUInt32BE(10) };
    }
    case ScsiOp.READ_DEFECT_DATA_10:
      return { op, name, kind: 'read-defect-data', plist: bit(cdb[2]!, 4), glist: bit(cdb[2]!, 3), format: cdb[2]! & 0x07, allocationLength: cdb.readUInt16BE(7) };
    case ScsiOp.READ_DEFECT_DATA_12:
      return { op, name, kind: 'read-defect-data', plist: bit(b1, 4), glist: bit(b1, 3), format: b1 & 0x07, allocationLength: cdb.readUInt32BE(6) };
    case ScsiOp.MAINTENANCE_IN: {
      const sa = b1 & 0x1f;
      if (sa !== MaintenanceIn.REPORT_SUPPORTED_OPERATION_CODES) throw invalidFieldInCdb(1, 4, `MAINTENANCE IN service action 0x${sa.toString(16)} not supported`);
      const options = cdb[2]! & 0x07;
      if (options > 3) throw invalidFieldInCdb(2, 2, `REPORTING OPTIONS ${options}`);
      return {
        op, name: 'REPORT_SUPPORTED_OPERATION_CODES', kind: 'report-supported-opcodes', rctd: bit(cdb[2]!, 7), options, requestedOp: cdb[3]!,
        requestedSa: cdb.readUInt16BE(4), allocationLength: cdb.readUInt32BE(6),
      };
    }
    case ScsiOp.WRITE_12: return rw(op, name, b1, 'write', BigInt(cdb.readUInt32BE(2)), cdb.readUInt32BE(6), cdb[10]!);
    case ScsiOp.READ_16: return rw(op, name, b1, 'read', cdb.readBigUInt64BE(2), cdb.readUInt32BE(10), cdb[14]!);
    case ScsiOp.WRITE_16: return rw(op, name, b1, 'write', cdb.readBigUInt64BE(2), cdb.readUInt32BE(10), cdb[14]!);
    case ScsiOp.WRITE_AND_VERIFY_16: return rw(op, name, b1, 'write-verify', cdb.readBigUInt64BE(2), cdb.readUInt32BE(10), cdb[14]!);
    case ScsiOp.VERIFY_16: return rw(op, name, b1, 'verify', cdb.readBigUInt64BE(2), cdb.readUInt32BE(10), cdb[14]!);
    case ScsiOp.PRE_FETCH_10:
      return { op, name, kind: 'pre-fetch', immed: bit(b1, 1), lba: BigInt(cdb.readUInt32BE(2)), blocks: cdb.readUInt16BE(7), group: cdb[6]! & 0x1f };
    case ScsiOp.PRE_FETCH_16:
      return { op, name, kind: 'pre-fetch', immed: bit(b1, 1), lba: cdb.readBigUInt64BE(2), blocks: cdb.readUInt32BE(10), group: cdb[14]! & 0x1f };
    case ScsiOp.SYNCHRONIZE_CACHE_10:
      return { op, name, kind: 'synchronize-cache', immed: bit(b1, 1), lba: BigInt(cdb.readUInt32BE(2)), blocks: cdb.readUInt16BE(7), group: cdb[6]! & 0x1f };
    case ScsiOp.SYNCHRONIZE_CACHE_16:
      return { op, name, kind: 'synchronize-cache', immed: bit(b1, 1), lba: cdb.readBigUInt64BE(2), blocks: cdb.readUInt32BE(10), group: cdb[14]! & 0x1f };
    case ScsiOp.WRITE_SAME_10:
    case ScsiOp.WRITE_SAME_16: {
      const long = op === ScsiOp.WRITE_SAME_16;
      const unmap = bit(b1, 3);
      const anchor = bit(b1, 4);
      // SBC-3 5.42: ANCHOR set with UNMAP clear is an invalid field; PBDATA/LBDATA (bits 2, 1) are not supported here.
      if (anchor && !unmap) throw invalidFieldInCdb(1, 4, 'ANCHOR without UNMAP');
      if (b1 & 0x06) throw invalidFieldInCdb(1, b1 & 0x04 ? 2 : 1, 'PBDATA/LBDATA not supported');
      return {
        op, name, kind: 'write-same', lba: long ? cdb.readBigUInt64BE(2) : BigInt(cdb.readUInt32BE(2)), blocks: long ? cdb.readUInt32BE(10) : cdb.readUInt16BE(7), unmap, anchor,
        ndob: long && bit(b1, 0), protect: b1 >>> 5, group: cdb[long ? 14 : 6]! & 0x1f,
      };
    }
    case ScsiOp.UNMAP:
      return { op, name, kind: 'unmap', anchor: bit(b1, 0), group: cdb[6]! & 0x1f, parameterListLength: cdb.readUInt16BE(7) };
    case ScsiOp.COMPARE_AND_WRITE:
      return { op, name, kind: 'compare-and-write', lba: cdb.readBigUInt64BE(2), blocks: cdb[13]!, fua: bit(b1, 3), dpo: bit(b1, 4), protect: b1 >>> 5, group: cdb[14]! & 0x1f };
    case ScsiOp.SERVICE_ACTION_IN_16: {
      const sa = b1 & 0x1f;
      if (sa === ServiceActionIn16.READ_CAPACITY_16) {
        return { op, name: 'READ_CAPACITY_16', kind: 'read-capacity-16', lba: cdb.readBigUInt64BE(2), allocationLength: cdb.readUInt32BE(10), pmi: bit(cdb[14]!, 0) };
      }
      if (sa === ServiceActionIn16.GET_LBA_STATUS) return { op, name: 'GET_LBA_STATUS', kind: 'get-lba-status', lba: cdb.readBigUInt64BE(2), allocationLength: cdb.readUInt32BE(10) };
      throw invalidFieldInCdb(1, 4, `SERVICE ACTION IN(16) service action 0x${sa.toString(16)} not supported`);
    }
    case ScsiOp.PERSISTENT_RESERVE_IN: {
      const action = b1 & 0x1f;
      if (action > PrInAction.READ_FULL_STATUS) throw invalidFieldInCdb(1, 4, `PERSISTENT RESERVE IN service action ${action}`);
      return { op, name, kind: 'persistent-reserve-in', action, allocationLength: cdb.readUInt16BE(7) };
    }
    case ScsiOp.PERSISTENT_RESERVE_OUT: {
      const action = b1 & 0x1f;
      if (action > PrOutAction.REGISTER_AND_MOVE) throw invalidFieldInCdb(1, 4, `PERSISTENT RESERVE OUT service action ${action}`);
      const scope = cdb[2]! >>> 4;
      const type = cdb[2]! & 0x0f;
      // The type and scope matter for RESERVE, RELEASE, PREEMPT(_AND_ABORT) and REGISTER AND MOVE (SPC-4 6.15.2).
      const typed = action === PrOutAction.RESERVE || action === PrOutAction.RELEASE || action === PrOutAction.PREEMPT ||
        action === PrOutAction.PREEMPT_AND_ABORT || action === PrOutAction.REGISTER_AND_MOVE;
      if (typed && scope !== 0) throw invalidFieldInCdb(2, 7, `PR scope ${scope} (only LU_SCOPE)`);
      if (typed && !(Object.values(PrType) as number[]).includes(type)) throw invalidFieldInCdb(2, 3, `PR type ${type}`);
      return { op, name, kind: 'persistent-reserve-out', action, scope, type, parameterListLength: cdb.readUInt32BE(5) };
    }
    case ScsiOp.REPORT_LUNS: {
      const allocationLength = cdb.readUInt32BE(6);
      // SPC-4 6.33: an ALLOCATION LENGTH below 16 is an invalid field.
      if (allocationLength < 16) throw invalidFieldInCdb(6, undefined, 'REPORT LUNS allocation length below 16');
      return { op, name, kind: 'report-luns', selectReport: cdb[2]!, allocationLength };
    }
  }
  throw invalidOpcode(op);
}

/** Decodes a CDB, or gives the CdbError to answer with (never throws). */
export function tryDecodeCdb(cdb: Buffer): { ok: true; cdb: Cdb } | { ok: false; error: CdbError } {
  try {
    return { ok: true, cdb: decodeCdb(cdb) };
  } catch (err) {
    if (err instanceof CdbError) return { ok: false, error: err };
    throw err;
  }
}

// ---- parameter lists ------------------------------------------------------------------------

/** One UNMAP block descriptor (SBC-3 5.28.2, table 80): blocks from `lba`. */
export interface UnmapDescriptor {
  lba: bigint;
  blocks: number;
}

/**
 * The UNMAP parameter list (SBC-3 5.28.2): UNMAP DATA LENGTH u16, BLOCK DESCRIPTOR DATA LENGTH
 * u16, 4 reserved, then 16-byte descriptors (LBA u64, NUMBER OF LOGICAL BLOCKS u32, 4 reserved).
 * An empty list unmaps nothing; a list of 1-7 bytes, or lengths that point beyond it, is a
 * PARAMETER LIST LENGTH ERROR; a partial last descriptor is ignored (SBC-3); more than
 * `maxDescriptors` is INVALID FIELD IN PARAMETER LIST (the Block Limits VPD limit).
 */
export function decodeUnmapList(list: Buffer, maxDescriptors = 4096): UnmapDescriptor[] {
  if (list.length === 0) return [];
  if (list.length < 8) throw parameterListLengthError('UNMAP parameter list shorter than 8 bytes');
  const dataLength = list.readUInt16BE(0);
  const descLength = list.readUInt16BE(2);
  if (dataLength + 2 > list.length || descLength + 8 > list.length || descLength + 6 > dataLength + 2) {
    throw parameterListLengthError('UNMAP lengths disagree with the parameter list');
  }
  const count = Math.floor(descLength / 16);
  if (count > maxDescriptors) throw invalidFieldInParameterList(2, undefined, `${count} UNMAP descriptors (max ${maxDescriptors})`);
  const out: UnmapDescriptor[] = [];
  for (let i = 0; i < count; i++) {
    const o = 8 + i * 16;
    out.push({ lba: list.readBigUInt64BE(o), blocks: list.readUInt32BE(o + 8) });
  }
  return out;
}

/** Encodes an UNMAP parameter list (initiator side, tests). */
export function encodeUnmapList(descs: readonly UnmapDescriptor[]): Buffer {
  const w = new Writer(8 + descs.length * 16);
  w.u16(6 + descs.length * 16).u16(descs.length * 16).zeros(4);
  for (const d of descs) w.u64(d.lba).u32(d.blocks).zeros(4);
  return w.finish();
}

/** An iSCSI TransportID (SPC-4 7.6.4.6): the initiator name, and the ISID for format 01b. */
export interface IscsiTransportId {
  name: string;
  /** Hex ISID of an initiator port ("iqn…,i,0x<isid>"), format 01b; absent for format 00b. */
  isid?: string;
}

/** PROTOCOL IDENTIFIER of iSCSI (SPC-4 7.6.1, table 361). */
export const PROTOCOL_ID_ISCSI = 0x5;

/**
 * One iSCSI TransportID at `r`: byte 0 FORMAT CODE (bits 6-7) and PROTOCOL IDENTIFIER (bits 0-3),
 * ADDITIONAL LENGTH u16 at 2 (a multiple of 4, ≥ 20), then the NUL-terminated name. Other
 * protocols or formats → INVALID FIELD IN PARAMETER LIST at `base`.
 */
function readTransportId(r: Reader, base: number): IscsiTransportId {
  const b0 = r.u8('TransportID');
  r.skip(1);
  const len = r.u16('TransportID length');
  if ((b0 & 0x0f) !== PROTOCOL_ID_ISCSI) throw invalidFieldInParameterList(base, 3, 'TransportID is not iSCSI');
  const format = b0 >>> 6;
  if (format > 1) throw invalidFieldInParameterList(base, 7, `TransportID format ${format}`);
  if (len % 4 !== 0 || len < 20) throw invalidFieldInParameterList(base + 2, undefined, `TransportID additional length ${len}`);
  const body = r.bytes(len, 4096, 'TransportID name');
  const nul = body.indexOf(0);
  if (nul < 0) throw invalidFieldInParameterList(base + 4, undefined, 'TransportID name not NUL-terminated');
  const text = body.subarray(0, nul).toString('utf8');
  if (format === 0) return { name: text };
  const m = /^(.+),i,0x([0-9a-fA-F]{12})$/.exec(text);
  if (!m) throw invalidFieldInParameterList(base + 4, undefined, 'TransportID without ",i,0x<ISID>"');
  return { name: m[1]!, isid: m[2]!.toLowerCase() };
}

/** The PERSISTENT RESERVE OUT parameter list (SPC-4 6.15.3 basic, 6.15.4 for REGISTER AND MOVE). */
export interface PrOutParams {
  reservationKey: bigint;
  serviceActionReservationKey: bigint;
  specIPt: boolean;
  allTgPt: boolean;
  aptpl: boolean;
  /** SPEC_I_PT / REGISTER AND MOVE: the initiators named. */
  transportIds: IscsiTransportId[];
  /** REGISTER AND MOVE only. */
  unreg?: boolean;
  relativeTargetPortId?: number;
}

/**
 * Decodes the PR OUT parameter list for service action `action` with the CDB's PARAMETER LIST
 * LENGTH. Basic format: 24 bytes exactly unless SPEC_I_PT (then 24 + 4 + TransportIDs);
 * REGISTER AND MOVE: 24 + TransportID. Wrong lengths → PARAMETER LIST LENGTH ERROR; bad fields
 * → INVALID FIELD IN PARAMETER LIST; SPEC_I_PT with anything but REGISTER(_AND_IGNORE) → invalid.
 */
export function decodePrOutList(action: number, list: Buffer): PrOutParams {
  if (list.length < 24) throw parameterListLengthError(`PR OUT parameter list of ${list.length} bytes`);
  const r = new Reader(list);
  const reservationKey = r.u64();
  const serviceActionReservationKey = r.u64();
  try {
    if (action === PrOutAction.REGISTER_AND_MOVE) {
      r.skip(1);
      const flags = r.u8();
      const relativeTargetPortId = r.u16();
      const tidLength = r.u32();
      if (24 + tidLength !== list.length) throw parameterListLengthError('REGISTER AND MOVE TransportID length disagrees');
      const transportIds = [readTransportId(r.sub(tidLength), 24)];
      return {
        reservationKey, serviceActionReservationKey, specIPt: false, allTgPt: false, aptpl: bit(flags, 0), transportIds,
        unreg: bit(flags, 1), relativeTargetPortId,
      };
    }
    r.skip(4);
    const flags = r.u8();
    r.skip(3);
    const specIPt = bit(flags, 3);
    const out: PrOutParams = { reservationKey, serviceActionReservationKey, specIPt, allTgPt: bit(flags, 2), aptpl: bit(flags, 0), transportIds: [] };
    if (!specIPt) {
      if (list.length !== 24) throw parameterListLengthError(`PR OUT parameter list of ${list.length} bytes (24 without SPEC_I_PT)`);
      return out;
    }
    if (action !== PrOutAction.REGISTER && action !== PrOutAction.REGISTER_AND_IGNORE_EXISTING_KEY) {
      throw invalidFieldInParameterList(20, 3, 'SPEC_I_PT with a service action other than REGISTER');
    }
    if (list.length < 28) throw parameterListLengthError('SPEC_I_PT without TRANSPORTID PARAMETER DATA LENGTH');
    const tidLength = r.u32();
    if (28 + tidLength !== list.length) throw parameterListLengthError('TRANSPORTID PARAMETER DATA LENGTH disagrees');
    const tr = r.sub(tidLength);
    while (tr.remaining() > 0) {
      if (out.transportIds.length >= 256) throw invalidFieldInParameterList(24, undefined, 'too many TransportIDs');
      out.transportIds.push(readTransportId(tr, tr.position()));
    }
    return out;
  } catch (err) {
    if (err instanceof CdbError || !(err instanceof WireError)) throw err;
    throw parameterListLengthError(`PR OUT parameter list: ${err.message}`);
  }
}

/** One mode page of a MODE SELECT parameter list (SPC-4 7.5.7): page, subpage (SPF) and its bytes after the header. */
export interface ModePage {
  page: number;
  subpage: number;
  spf: boolean;
  /** The page's parameter bytes (after the 2- or 4-byte page header). */
  data: Buffer;
}

/** A MODE SELECT parameter list (SPC-4 7.5.4 / 7.5.5): header fields, block descriptors (raw), pages. */
export interface ModeSelectList {
  mediumType: number;
  deviceSpecific: number;
  longLba: boolean;
  blockDescriptors: Buffer;
  pages: ModePage[];
}

/**
 * Decodes a MODE SELECT(6) (`ten` false) or (10) parameter list: the 4- or 8-byte mode
 * parameter header, BLOCK DESCRIPTOR LENGTH bytes of descriptors, then mode pages with
 * PS/SPF/page code and 1- or 2-byte page length. Structure errors → PARAMETER LIST LENGTH ERROR
 * or INVALID FIELD IN PARAMETER LIST with the pointer.
 */
export function decodeModeSelectList(list: Buffer, ten: boolean): ModeSelectList {
  const hdr = ten ? 8 : 4;
  if (list.length === 0) return { mediumType: 0, deviceSpecific: 0, longLba: false, blockDescriptors: Buffer.alloc(0), pages: [] };
  if (list.length < hdr) throw parameterListLengthError('MODE SELECT list shorter than its header');
  const mediumType = list[ten ? 2 : 1]!;
  const deviceSpecific = list[ten ? 3 : 2]!;
  const longLba = ten && bit(list[4]!, 0);
  const bdl = ten ? list.readUInt16BE(6) : list[3]!;
  if (hdr + bdl > list.length) throw parameterListLengthError('BLOCK DESCRIPTOR LENGTH beyond the list');
  const pages: ModePage[] = [];
  let o = hdr + bdl;
  while (o < list.length) {
    const b0 = list[o]!;
    const spf = bit(b0, 6);
    const pageHdr = spf ? 4 : 2;
    if (o + pageHdr > list.length) throw parameterListLengthError('truncated mode page header');
    const len = spf ? list.readUInt16BE(o + 2) : list[o + 1]!;
    if (o + pageHdr + len > list.length) throw invalidFieldInParameterList(o + (spf ? 2 : 1), undefined, 'PAGE LENGTH beyond the list');
    if (pages.length >= 64) throw invalidFieldInParameterList(o, undefined, 'too many mode pages');
    pages.push({ page: b0 & 0x3f, subpage: spf ? list[o + 1]! : 0, spf, data: list.subarray(o + pageHdr, o + pageHdr + len) });
    o += pageHdr + len;
  }
  return { mediumType, deviceSpecific, longLba, blockDescriptors: list.subarray(hdr, hdr + bdl), pages };
}
