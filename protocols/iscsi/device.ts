/**
 * The contract between the iSCSI transport (server.ts, session.ts: PDUs, login, R2T/Data-Out,
 * task management) and the SCSI device layer (scsi/: SPC-4 and SBC-3 commands executed on a
 * BlockVolume). The transport gathers a command's Data-Out, calls `execute`, and turns the
 * result into Data-In PDUs and a SCSI Response; the device layer never sees a PDU.
 */
import type { BlockVolume } from '../../vfs/types.js';

/**
 * An I_T nexus (SAM-5 §4.6): one iSCSI session. `initiatorPort` is the iSCSI initiator port
 * name 'IQN,i,0xISID' (RFC 7143 §10.1, ISID as 12 hex digits), `targetPort` is
 * 'TARGETIQN,t,0xTPGT'. Equal strings name the same nexus.
 */
export interface Nexus {
  initiatorName: string;
  initiatorPort: string;
  targetPort: string;
  /** A small number unique per live nexus (relative target port identifiers, logs). */
  id: number;
}

/** A SCSI task as the transport hands it over (SAM-5 §5.1 Execute Command). */
export interface ScsiTask {
  nexus: Nexus;
  /** The LUN as a number (SAM-5 flat/peripheral addressing decoded by the transport). */
  lun: number;
  /** The whole CDB (extended CDB AHS appended). */
  cdb: Buffer;
  /** Data-Out, complete (Expected Data Transfer Length bytes or fewer if the initiator sent fewer). */
  dataOut?: Buffer;
  /** Expected Data Transfer Length of the read direction in bytes (the allocation the initiator made). */
  dataInLength: number;
  /** Task attribute as the SCSI Command's ATTR field has it (RFC 7143 §11.3.1.1: UNTAGGED 0, SIMPLE 1, ORDERED 2, HEAD OF QUEUE 3, ACA 4; tasks.ts TaskAttr): informational, the transport orders the tasks. */
  attr: number;
  /** Aborted by task management: the device stops as soon as it can and the result is dropped. */
  signal?: AbortSignal;
}

/** What a command produced (SAM-5 §5.1 Send Command Complete). */
export interface ScsiResult {
  /** SAM status: GOOD 0x00, CHECK CONDITION 0x02, CONDITION MET 0x04, BUSY 0x08, RESERVATION CONFLICT 0x18, TASK SET FULL 0x28. */
  status: number;
  /** Data-In (the transport truncates to dataInLength and reports the residual). */
  dataIn?: Buffer;
  /**
   * Data-In as pieces back to back, instead of `dataIn` (READ: lent bytes of the block cache,
   * never modified; the transport sends each piece as Data-In PDUs of its own, uncopied).
   */
  dataInParts?: Buffer[];
  /** Returns `dataInParts`' loan (BlockVolume.readLent): the transport calls it once, when they are sent or dropped. */
  giveBack?: () => void;
  /** Fixed-format sense bytes for CHECK CONDITION (wire/scsi.ts buildSense). */
  sense?: Buffer;
}

/** A logical unit as the transport sees it. */
export interface LogicalUnit {
  readonly volume: BlockVolume;
  /** Logical block length in bytes (512 when absent): the transport needs it for the residual of a write whose CDB transfer length differs from the Expected Data Transfer Length (RFC 7143 section 11.4.5). */
  readonly blockSize?: number;
  /** Runs one command. Never throws: every error is a status (and sense) in the result. */
  execute(task: ScsiTask): Promise<ScsiResult>;
  /** A nexus logged in (unit attention POWER ON/RESET for it) or went away (its RESERVE 6 is released; PR keys stay). */
  nexusAdded(n: Nexus): void;
  nexusRemoved(n: Nexus): void;
  /** LOGICAL UNIT RESET / TARGET WARM RESET (SAM-5 §7.7, §7.11): clears reservations of type RESERVE 6, sets unit attentions for every nexus, `from` included (SAM-5 §6.3.3). */
  reset(from: Nexus): void;
  /** The volume's size changed: unit attention CAPACITY DATA HAS CHANGED for every nexus. */
  capacityChanged(): void;
}

/** The device layer's entry for a target: executes commands for LUNs that exist, and the LUN-less ones (REPORT LUNS, INQUIRY/others to an absent LUN: SPC-4 §4.6.4). */
export interface TargetDevices {
  /** The LUNs, ascending. */
  luns(): number[];
  lu(lun: number): LogicalUnit | undefined;
  execute(task: ScsiTask): Promise<ScsiResult>;
}
