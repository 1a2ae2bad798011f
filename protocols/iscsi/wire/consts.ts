/**
 * iSCSI constants (RFC 7143): header and segment sizes, opcodes (11.2.1.2), and the codes of
 * Reject reasons, task management functions and responses, iSCSI response, login stages and
 * status, logout reasons and responses, SNACK types, asynchronous events and AHS types, with the
 * errors the PDU codecs throw (`PduError` for a Reject, `DigestError` for a bad header digest).
 * pdu.ts re-exports all of it.
 */
import { WireError } from './reader.js';

/** Size of the Basic Header Segment in bytes (RFC 7143 section 11.2.1). */
export const BHS_SIZE = 48;
/** Largest DataSegmentLength the 24-bit field can carry (11.2.1.5). */
export const MAX_DATA_SEGMENT_FIELD = 0xffffff;
/** MaxRecvDataSegmentLength bounds (13.12): 512 .. 2^24-1, default 8192 (also during login). */
export const MIN_RECV_DATA_SEGMENT_LENGTH = 512;
export const DEFAULT_RECV_DATA_SEGMENT_LENGTH = 8192;
/**
 * The framer's hard cap on one data segment, whatever a policy declares: 1 MiB. The field
 * allows 16 MiB - 1, which per connection and per PDU in flight is too large a lever for a peer.
 */
export const FRAMER_HARD_MAX_DATA = 1024 * 1024;
/** Longest AHS region: TotalAHSLength is a byte counting 4-byte words (11.2.1.4). */
export const MAX_AHS_BYTES = 255 * 4;
/** The reserved tag value (11.2.1.8 / 11.4): "no task" ITT / "no transfer" TTT. */
export const RESERVED_TAG = 0xffffffff;

/** Opcodes (RFC 7143 section 11.2.1.2). Initiator opcodes are 0x00-0x1f, target 0x20-0x3f. */
export const Op = {
  NOP_OUT: 0x00,
  SCSI_COMMAND: 0x01,
  TASK_MGMT_REQUEST: 0x02,
  LOGIN_REQUEST: 0x03,
  TEXT_REQUEST: 0x04,
  SCSI_DATA_OUT: 0x05,
  LOGOUT_REQUEST: 0x06,
  SNACK_REQUEST: 0x10,
  NOP_IN: 0x20,
  SCSI_RESPONSE: 0x21,
  TASK_MGMT_RESPONSE: 0x22,
  LOGIN_RESPONSE: 0x23,
  TEXT_RESPONSE: 0x24,
  SCSI_DATA_IN: 0x25,
  LOGOUT_RESPONSE: 0x26,
  R2T: 0x31,
  ASYNC_MESSAGE: 0x32,
  REJECT: 0x3f,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

/** Reject reasons (RFC 7143 section 11.17.1). */
export const RejectReason = {
  DATA_DIGEST_ERROR: 0x02,
  SNACK_REJECT: 0x03,
  PROTOCOL_ERROR: 0x04,
  COMMAND_NOT_SUPPORTED: 0x05,
  IMMEDIATE_COMMAND_REJECT: 0x06,
  TASK_IN_PROGRESS: 0x07,
  INVALID_DATA_ACK: 0x08,
  INVALID_PDU_FIELD: 0x09,
  LONG_OP_REJECT: 0x0a,
  WAITING_FOR_LOGOUT: 0x0c,
} as const;

/** Task management functions (11.5.1). */
export const TmfFunction = {
  ABORT_TASK: 1,
  ABORT_TASK_SET: 2,
  CLEAR_ACA: 3,
  CLEAR_TASK_SET: 4,
  LOGICAL_UNIT_RESET: 5,
  TARGET_WARM_RESET: 6,
  TARGET_COLD_RESET: 7,
  TASK_REASSIGN: 8,
} as const;

/** Task management responses (11.6.1). */
export const TmfResponse = {
  FUNCTION_COMPLETE: 0,
  TASK_DOES_NOT_EXIST: 1,
  LUN_DOES_NOT_EXIST: 2,
  TASK_STILL_ALLEGIANT: 3,
  TASK_REASSIGNMENT_NOT_SUPPORTED: 4,
  FUNCTION_NOT_SUPPORTED: 5,
  AUTHORIZATION_FAILED: 6,
  FUNCTION_REJECTED: 255,
} as const;

/** iSCSI Response codes of a SCSI Response (11.4.3). */
export const IscsiResponse = { COMMAND_COMPLETED: 0x00, TARGET_FAILURE: 0x01 } as const;

/** Login stages, CSG/NSG (11.12.3): 2 is reserved. */
export const Stage = { SECURITY: 0, OPERATIONAL: 1, FULL_FEATURE: 3 } as const;

/** Login Response Status-Class/Status-Detail pairs (11.13.5), as `class << 8 | detail`. */
export const LoginStatus = {
  SUCCESS: 0x0000,
  TARGET_MOVED_TEMPORARILY: 0x0101,
  TARGET_MOVED_PERMANENTLY: 0x0102,
  INITIATOR_ERROR: 0x0200,
  AUTHENTICATION_FAILURE: 0x0201,
  AUTHORIZATION_FAILURE: 0x0202,
  NOT_FOUND: 0x0203,
  TARGET_REMOVED: 0x0204,
  UNSUPPORTED_VERSION: 0x0205,
  TOO_MANY_CONNECTIONS: 0x0206,
  MISSING_PARAMETER: 0x0207,
  CANT_INCLUDE_IN_SESSION: 0x0208,
  SESSION_TYPE_NOT_SUPPORTED: 0x0209,
  SESSION_DOES_NOT_EXIST: 0x020a,
  INVALID_DURING_LOGIN: 0x020b,
  TARGET_ERROR: 0x0300,
  SERVICE_UNAVAILABLE: 0x0301,
  OUT_OF_RESOURCES: 0x0302,
} as const;

/** Logout reason codes (11.14.1) and responses (11.15.1). */
export const LogoutReason = { CLOSE_SESSION: 0, CLOSE_CONNECTION: 1, REMOVE_CONNECTION_FOR_RECOVERY: 2 } as const;
export const LogoutResponse = { SUCCESS: 0, CID_NOT_FOUND: 1, RECOVERY_NOT_SUPPORTED: 2, CLEANUP_FAILED: 3 } as const;
/** SNACK types (11.16.1). */
export const SnackType = { DATA_R2T: 0, STATUS: 1, DATA_ACK: 2, R_DATA: 3 } as const;
/** AsyncEvent codes (11.9.1). */
export const AsyncEvent = {
  SCSI_EVENT: 0,
  LOGOUT_REQUEST: 1,
  CONNECTION_DROP: 2,
  SESSION_DROP: 3,
  NEGOTIATION_REQUEST: 4,
  TASK_TERMINATION: 5,
  VENDOR: 255,
} as const;
/** AHS types (11.2.2.1). */
export const AhsType = { EXTENDED_CDB: 1, BIDI_READ_LENGTH: 2 } as const;

/**
 * A PDU the target answers with a Reject (RFC 7143 section 11.17) carrying `reason` and, as its
 * data segment, `header` (the 48-byte BHS of the bad PDU, all zeros when not even that arrived).
 * `fatal` says the byte stream cannot be resynchronised after it: drop the connection after the
 * Reject (7.8, 7.12).
 */
export class PduError extends WireError {
  constructor(message: string, readonly reason: number, readonly header: Buffer, readonly fatal = false) {
    super(message);
    this.name = 'PduError';
  }
}

/** Header digest mismatch (RFC 7143 section 7.8): the PDU length is unknown, drop the connection. */
export class DigestError extends WireError {
  constructor(message: string, readonly header: Buffer) {
    super(message);
    this.name = 'DigestError';
  }
}
