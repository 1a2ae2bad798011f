/**
 * One SCSI task on the transport (RFC 7143 sections 4.2.2, 11.3-11.8): the SCSI Command PDU,
 * its write data gathered from immediate data, unsolicited Data-Out up to FirstBurstLength
 * (InitialR2T=No) and R2T-solicited Data-Out sequences of at most MaxBurstLength (one R2T
 * outstanding: MaxOutstandingR2T=1), checked as ErrorRecoveryLevel 0 requires (DataSN in order
 * within each sequence, BufferOffset contiguous, DataPDUInOrder/DataSequenceInOrder=Yes), then
 * the result turned into Data-In PDUs (split at the initiator's MaxRecvDataSegmentLength, status
 * in the last one when GOOD without sense: phase collapse, 11.7.4) or a SCSI Response with sense
 * and residuals (11.4).
 *
 * Data-Out is kept as the chunks that arrived (never allocated from the header's Expected Data
 * Transfer Length), and the session solicits a burst only when its byte budget allows. A plain
 * WRITE of at most DIRECT_MAX_BYTES, once data arrives, gathers into one buffer instead, taken from
 * a pool bounded by POOL_MAX_BYTES in use: the framer copies each Data-Out PDU's data straight
 * into its place there (`dataTarget`), so the command's data is copied once out of the socket's
 * chunks, not into a frame and then into one buffer, and no new buffer is allocated per PDU or
 * per command (before, 197 of the 248 scavenges during two 1 GiB qemu-img writes were for external
 * memory, 1.46 s in all; after, none of 256 in three, 1.16 s; 2026-12-02).
 */
import { dataInPdus, decodeLun, fullCdb, IscsiResponse, PduError, RejectReason, RESERVED_TAG, residual, scsiResponse, type DataIn,
  type DataOut, type ScsiCommand, type ScsiResponse, type SeqNumbers, bidiReadLength, BHS_SIZE, encodeBhs, type Pdu, type R2T, Op } from './wire/pdu.js';
import { BufferPool } from '../../vfs/bufpool.js';
import { buildSense, ScsiStatus, SenseKey, tryDecodeCdb } from './wire/scsi.js';
import type { ScsiResult } from './device.js';

/** Task attributes (RFC 7143 section 11.3.1.1 ATTR, SAM-5 section 8.9). */
export const TaskAttr = { UNTAGGED: 0, SIMPLE: 1, ORDERED: 2, HEAD_OF_QUEUE: 3, ACA: 4 } as const;

/** The LUN number handed to the device layer for a LUN field this target never hands out (no such LU). */
const NO_LUN = 0xffff;

export type TaskState = 'queued' | 'gathering' | 'ready' | 'running' | 'done';

/** What a task needs from the negotiated parameters. */
export interface TaskLimits {
  immediateData: boolean;
  initialR2T: boolean;
  firstBurstLength: number;
  maxBurstLength: number;
}

/** An R2T in flight: the solicited sequence [offset, offset+length) and how much of it arrived. */
interface OpenR2T {
  ttt: number;
  offset: number;
  length: number;
  got: number;
  nextDataSN: number;
}

/** ASCQs of ASC 0x4B under ABORTED COMMAND (SPC-4 annex D): why a task's Data-Out was refused. */
const DataPhase = { DATA_PHASE_ERROR: 0x00, INVALID_TTT: 0x01, TOO_MUCH_WRITE_DATA: 0x02, DATA_OFFSET_ERROR: 0x05 } as const;

/**
 * A violation of the Data-Out rules (DataSN, BufferOffset, TTT, length). The PDU gets a Reject
 * with `reason`; the task ends with CHECK CONDITION, ABORTED COMMAND, ASC 0x4B / `ascq`
 * (`dataPhaseSense`), and its further Data-Out is dropped. At ErrorRecoveryLevel 0 nothing can
 * be asked again (no recovery R2T, RFC 7143 section 7.2), but the connection stays up.
 */
export class DataOutError extends PduError {
  constructor(message: string, header: Buffer, readonly ascq: number = DataPhase.DATA_PHASE_ERROR, reason: number = RejectReason.PROTOCOL_ERROR) {
    super(message, reason, header, false);
    this.name = 'DataOutError';
  }
}

/** The largest plain WRITE gathered into one pooled buffer (the block limits' maximum transfer, spc.ts). */
export const DIRECT_MAX_BYTES = 8 << 20;
/** Most bytes of pooled Data-Out buffers in use at once, over all sessions; past it tasks gather chunks. */
export const POOL_MAX_BYTES = 64 << 20;
/** WRITE (6), (10), (12), (16) (SBC-3): the device layer only copies their data out before it answers. */
const PLAIN_WRITES = new Set([0x0a, 0x2a, 0xaa, 0x8a]);

/** The spare buffers (vfs/bufpool.ts), and the bytes lent out now, which POOL_MAX_BYTES bounds. */
const pool = new BufferPool(4);
let pooledInUse = 0;

/** Bytes of pooled Data-Out buffers in use now (for tests). */
export function pooledDataBytes(): number {
  return pooledInUse;
}

function takePooled(n: number): Buffer | undefined {
  if (pooledInUse + n > POOL_MAX_BYTES) return undefined;
  pooledInUse += n;
  return pool.take(n);
}

function givePooled(b: Buffer): void {
  pooledInUse -= b.length;
  pool.give(b);
}

/** Fixed-format sense: ABORTED COMMAND, ASC 0x4B (data phase errors, SPC-4 annex D) with `ascq`. */
export function dataPhaseSense(ascq: number): Buffer {
  return buildSense({ key: SenseKey.ABORTED_COMMAND, asc: 0x4b, ascq });
}

/** One task from SCSI Command to response. */
export class Task {
  readonly itt: number;
  readonly lunField: bigint;
  readonly lun: number;
  readonly cmdSN: number;
  readonly immediate: boolean;
  readonly attr: number;
  readonly cdb: Buffer;
  readonly read: boolean;
  readonly write: boolean;
  /** Expected Data Transfer Length (write direction, or read when not a write). */
  readonly edtl: number;
  /** Bytes the initiator allocated for Data-In. */
  readonly readLength: number;
  state: TaskState = 'queued';
  /** Counted against the CmdSN window (non-immediate). */
  readonly counted: boolean;
  readonly abort = new AbortController();
  aborted = false;
  private chunks: Buffer[] = [];
  /** The pooled buffer a plain WRITE gathers into (see the file's comment), once data arrived. */
  private buf: Buffer | undefined;
  /** Whether takeData handed `buf` out: it goes back to the pool by releaseData, not by finish. */
  private handedOut = false;
  /** Data-Out bytes received, in order. */
  received = 0;
  /** Bytes the initiator may send unsolicited (immediate data included). */
  private readonly unsolicitedLimit: number;
  private unsolicitedOpen: boolean;
  private unsolicitedDataSN = 0;
  private r2t: OpenR2T | undefined;
  private r2tSN = 0;
  /** Bytes the session counts against its Data-Out budget for this task (session.ts). */
  budgeted = 0;
  /** Bytes reserved at the first R2T (0: none sent yet). */
  reserved = 0;
  /** R2Ts and Data-In PDUs sent: ExpDataSN of the SCSI Response (11.4.8). */
  dataSNs = 0;
  /** Settles when the task is finished or aborted (no more device work). */
  readonly settled: Promise<void>;
  private settle!: () => void;

  constructor(cmd: ScsiCommand, limits: TaskLimits) {
    this.itt = cmd.itt;
    this.lunField = cmd.lun;
    this.lun = decodeLun(cmd.lun) ?? NO_LUN;
    this.cmdSN = cmd.cmdSN;
    this.immediate = cmd.immediate;
    this.counted = !cmd.immediate;
    this.attr = cmd.attr;
    this.cdb = fullCdb(cmd);
    this.read = cmd.read;
    this.write = cmd.write;
    this.edtl = cmd.expectedDataTransferLength;
    this.readLength = cmd.read ? (cmd.write ? bidiReadLength(cmd) ?? 0 : cmd.expectedDataTransferLength) : 0;
    this.settled = new Promise((r) => { this.settle = r; });
    const header = headerOf(cmd);
    const imm = cmd.data;
    if (imm.length > 0) {
      if (!cmd.write) throw new PduError('data on a command without the W bit', RejectReason.PROTOCOL_ERROR, header);
      if (!limits.immediateData) throw new PduError('immediate data with ImmediateData=No', RejectReason.PROTOCOL_ERROR, header);
      if (imm.length > Math.min(limits.firstBurstLength, this.edtl)) {
        throw new PduError(`immediate data ${imm.length} above FirstBurstLength/EDTL`, RejectReason.PROTOCOL_ERROR, header);
      }
    }
    const wlen = cmd.write ? this.edtl : 0;
    if (cmd.write && !cmd.final && !limits.initialR2T) {
      this.unsolicitedLimit = Math.min(limits.firstBurstLength, wlen);
      this.unsolicitedOpen = imm.length < this.unsolicitedLimit;
    } else {
      this.unsolicitedLimit = imm.length;
      this.unsolicitedOpen = false;
    }
    if (imm.length) this.append(imm);
  }

  private append(b: Buffer): void {
    if (b.length === 0) return;
    const buf = this.buf ?? (this.chunks.length === 0 ? this.takeBuffer() : undefined);
    if (buf) {
      if (this.received + b.length > buf.length) throw new RangeError('Data-Out past the Expected Data Transfer Length'); // checked before: cannot happen
      // Data the framer copied into its place already (dataTarget) is not copied again.
      if (b.buffer !== buf.buffer || b.byteOffset !== buf.byteOffset + this.received) b.copy(buf, this.received);
    } else this.chunks.push(b);
    this.received += b.length;
  }

  /** The pooled buffer for a plain WRITE of at most DIRECT_MAX_BYTES, while the pool has room; else undefined (chunks). */
  private takeBuffer(): Buffer | undefined {
    if (!this.write || this.edtl === 0 || this.edtl > DIRECT_MAX_BYTES || this.state === 'done' || !PLAIN_WRITES.has(this.cdb[0]!)) return undefined;
    this.buf = takePooled(this.edtl);
    return this.buf;
  }

  /**
   * Where the data of a Data-Out PDU (`ttt`, `bufferOffset`, `length` bytes) goes if it is the
   * next in order for this task: a view of the task's pooled buffer at that offset, for the framer
   * to copy the data into (the PDU is then checked by dataOut as any other, and its data not
   * copied again). Undefined when it is not next in order, or the task gathers chunks: the framer
   * then hands the data over as usual.
   */
  dataTarget(ttt: number, bufferOffset: number, length: number): Buffer | undefined {
    if (bufferOffset !== this.received || length === 0) return undefined;
    if (ttt === RESERVED_TAG) {
      if (!this.unsolicitedOpen || this.received + length > this.unsolicitedLimit) return undefined;
    } else {
      const r = this.r2t;
      if (!r || r.ttt !== ttt || r.got + length > r.length) return undefined;
    }
    const buf = this.buf ?? (this.chunks.length === 0 ? this.takeBuffer() : undefined);
    return buf?.subarray(this.received, this.received + length);
  }

  /** Write bytes the command still needs. */
  get missing(): number {
    return this.write ? this.edtl - this.received : 0;
  }

  /** True while unsolicited Data-Out may still come (no R2T before it ends). */
  get awaitingUnsolicited(): boolean {
    return this.unsolicitedOpen;
  }

  /** True while an R2T is outstanding. */
  get soliciting(): boolean {
    return this.r2t !== undefined;
  }

  /** The gathered Data-Out (undefined for a command without write data). */
  takeData(): Buffer | undefined {
    if (!this.write) return undefined;
    if (this.buf) {
      this.handedOut = true;
      return this.buf.subarray(0, this.received);
    }
    const d = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.received);
    this.chunks = [];
    return d;
  }

  /** After the device layer answered (it no longer reads the data takeData gave): a pooled buffer goes back. */
  releaseData(): void {
    if (!this.buf) return;
    givePooled(this.buf);
    this.buf = undefined;
  }

  /**
   * Takes one Data-Out PDU (11.7). Returns the bytes added. Throws DataOutError on a sequence
   * error: wrong TTT, DataSN, BufferOffset, or more data than the sequence allows.
   */
  dataOut(d: DataOut): number {
    const header = headerOf(d);
    if (!this.write) throw new DataOutError('Data-Out for a command without the W bit', header);
    if (d.ttt === RESERVED_TAG) {
      if (!this.unsolicitedOpen) throw new DataOutError('unsolicited Data-Out not expected', header);
      if (d.dataSN !== this.unsolicitedDataSN) throw new DataOutError(`DataSN ${d.dataSN}, expected ${this.unsolicitedDataSN}`, header);
      if (d.bufferOffset !== this.received) throw new DataOutError(`BufferOffset ${d.bufferOffset}, expected ${this.received}`, header, DataPhase.DATA_OFFSET_ERROR);
      if (this.received + d.data.length > this.unsolicitedLimit) throw new DataOutError('unsolicited data beyond FirstBurstLength', header, DataPhase.TOO_MUCH_WRITE_DATA);
      this.unsolicitedDataSN++;
      this.append(d.data);
      if (d.final || this.received === this.unsolicitedLimit) {
        if (!d.final) throw new DataOutError('unsolicited sequence longer than FirstBurstLength', header);
        this.unsolicitedOpen = false;
      }
      return d.data.length;
    }
    const r = this.r2t;
    if (!r || d.ttt !== r.ttt) throw new DataOutError(`Data-Out with TTT 0x${d.ttt.toString(16)} matches no R2T`, header, DataPhase.INVALID_TTT, RejectReason.INVALID_PDU_FIELD);
    if (d.dataSN !== r.nextDataSN) throw new DataOutError(`DataSN ${d.dataSN}, expected ${r.nextDataSN}`, header);
    if (d.bufferOffset !== r.offset + r.got) throw new DataOutError(`BufferOffset ${d.bufferOffset}, expected ${r.offset + r.got}`, header, DataPhase.DATA_OFFSET_ERROR);
    if (r.got + d.data.length > r.length) throw new DataOutError('Data-Out beyond the R2T\'s Desired Data Transfer Length', header, DataPhase.TOO_MUCH_WRITE_DATA);
    r.nextDataSN++;
    r.got += d.data.length;
    this.append(d.data);
    if (r.got === r.length) {
      if (!d.final) throw new DataOutError('solicited sequence without the F bit at its end', header);
      this.r2t = undefined;
    } else if (d.final) {
      throw new DataOutError(`F bit after ${r.got} of ${r.length} solicited bytes`, header);
    }
    return d.data.length;
  }

  /** The next burst to solicit: [offset, offset+length) of at most MaxBurstLength bytes. Caller sends the R2T. */
  nextR2T(maxBurst: number, ttt: number, seq: SeqNumbers): R2T {
    const offset = this.received;
    const length = Math.min(maxBurst, this.edtl - offset);
    this.r2t = { ttt, offset, length, got: 0, nextDataSN: 0 };
    this.dataSNs++;
    return {
      op: Op.R2T, lun: this.lunField, itt: this.itt, ttt, statSN: seq.statSN, expCmdSN: seq.expCmdSN, maxCmdSN: seq.maxCmdSN,
      r2tSN: this.r2tSN++, bufferOffset: offset, desiredDataTransferLength: length, ahs: [], data: Buffer.alloc(0),
    };
  }

  /** Marks the task finished (or aborted) and releases what it holds. */
  finish(): void {
    this.state = 'done';
    this.chunks = [];
    // Not handed to the device layer: nothing reads it. (Handed out, run() gives it back once the device answered.)
    if (!this.handedOut) this.releaseData();
    this.settle();
  }
}

/** The 48-byte header of a decoded PDU, re-encoded (reserved fields zero): a Reject's data segment. */
export function headerOf(p: Pdu): Buffer {
  try {
    return encodeBhs(p, 0, p.data?.length ?? 0);
  } catch {
    return Buffer.alloc(BHS_SIZE);
  }
}

/**
 * The PDUs that end a task (11.4, 11.7): Data-In split at `maxSegment` bytes, one sequence (F
 * bit) per `maxBurst` bytes, with the status in the last when it is GOOD without sense (phase
 * collapse), else Data-In without status and a SCSI Response carrying status, sense and the
 * residuals (a write's against what the CDB asks for, `dataOutWanted` with `blockSize`).
 * StatSN and the window numbers are stamped when sent; DataSN continues from `task.dataSNs`
 * (its R2Ts), which this advances.
 */
export function responsePdus(task: Task, result: ScsiResult, maxSegment: number, blockSize = 512, maxBurst = Number.MAX_SAFE_INTEGER): Array<DataIn | ScsiResponse> {
  const out: Array<DataIn | ScsiResponse> = [];
  const pieces = !task.read ? [] : result.dataInParts ?? (result.dataIn ? [result.dataIn] : []);
  let fullLength = 0;
  for (const p of pieces) fullLength += p.length;
  const sentLength = Math.min(fullLength, task.readLength);
  const collapse = result.status === ScsiStatus.GOOD && !(result.sense && result.sense.length) && sentLength > 0;
  if (sentLength > 0) {
    // Each Data-In PDU carries at most `maxSegment` bytes of one piece, and one Data-In
    // sequence ends (F bit) at every MaxBurstLength bytes (RFC 7143 section 13.13) and at the end.
    const pdus: DataIn[] = [];
    let offset = 0;
    for (const piece of pieces) {
      for (let at = 0; at < piece.length && offset < sentLength;) {
        const burstEnd = (Math.floor(offset / maxBurst) + 1) * maxBurst;
        const n = Math.min(maxSegment, piece.length - at, sentLength - offset, burstEnd - offset);
        const end = offset + n;
        const last = end >= sentLength;
        // (Options written out, not spread from a shared object: with spreads, Task plus
        // responsePdus took 7.3 µs per READ, 0.75 without; README "object literal".)
        const o: Parameters<typeof dataInPdus>[1] = { statSN: 0, expCmdSN: 0, maxCmdSN: 0, itt: task.itt, lun: task.lunField, maxSegment: n,
          firstDataSN: task.dataSNs + pdus.length };
        if (collapse && last) {
          o.status = result.status;
          o.expected = task.readLength - offset;
        }
        const [pdu] = dataInPdus(piece.subarray(at, at + n), o);
        pdu!.bufferOffset = offset;
        pdu!.final = last || end === burstEnd;
        pdus.push(pdu!);
        at += n;
        offset = end;
      }
    }
    if (collapse && fullLength > task.readLength) {
      const last = pdus[pdus.length - 1]!;
      last.overflow = true;
      last.underflow = false;
      last.residualCount = fullLength - task.readLength;
    }
    task.dataSNs += pdus.length;
    out.push(...pdus);
    if (collapse) return out;
  }
  const expected = task.read && !task.write ? task.readLength : task.write ? task.edtl : 0;
  const wanted = task.write ? dataOutWanted(task.cdb, blockSize) : undefined;
  const actual = task.read && !task.write ? fullLength : task.write ? wanted ?? task.edtl : 0;
  const r = residual(expected, actual);
  const o: Parameters<typeof scsiResponse>[0] = { statSN: 0, expCmdSN: 0, maxCmdSN: 0, itt: task.itt, status: result.status, expected, actual, expDataSN: task.dataSNs };
  if (result.sense && result.sense.length) o.sense = result.sense;
  const res = scsiResponse(o);
  res.overflow = r.overflow;
  res.underflow = r.underflow;
  res.residualCount = r.residualCount;
  if (task.read && task.write) {
    const br = residual(task.readLength, fullLength);
    res.bidiOverflow = br.overflow;
    res.bidiUnderflow = br.underflow;
    res.bidiResidualCount = br.residualCount;
    const w = residual(task.edtl, wanted ?? task.edtl);
    res.overflow = w.overflow;
    res.underflow = w.underflow;
    res.residualCount = w.residualCount;
  }
  out.push(res);
  return out;
}

/**
 * The Data-Out bytes a CDB's own fields ask for (SBC-3 transfer length × block length, or a
 * parameter list length), or undefined for a command this does not know. The write residual
 * (RFC 7143 section 11.4.5) is Expected Data Transfer Length against this number.
 */
function dataOutWanted(cdb: Buffer, blockSize: number): number | undefined {
  const d = tryDecodeCdb(cdb);
  if (!d.ok) return undefined;
  const c = d.cdb;
  switch (c.kind) {
    case 'write':
    case 'write-verify':
    case 'orwrite':
      return c.blocks * blockSize;
    case 'verify': {
      const bytchk = (cdb[1]! >> 1) & 3;
      return bytchk === 0 ? 0 : bytchk === 3 ? blockSize : c.blocks * blockSize;
    }
    case 'compare-and-write':
      return 2 * c.blocks * blockSize;
    case 'write-same':
      return c.ndob ? 0 : blockSize;
    case 'unmap':
    case 'mode-select':
    case 'persistent-reserve-out':
      return c.parameterListLength;
    default:
      return undefined;
  }
}

/** A SCSI Response for a task the target could not run (iSCSI Response TARGET_FAILURE, 11.4.3). */
export function targetFailure(task: Task): ScsiResponse {
  return scsiResponse({ statSN: 0, expCmdSN: 0, maxCmdSN: 0, itt: task.itt, status: 0, response: IscsiResponse.TARGET_FAILURE });
}
