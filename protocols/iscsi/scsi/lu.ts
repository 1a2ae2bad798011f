/**
 * A logical unit over a `BlockVolume` (protocols/iscsi/device.ts `LogicalUnit`): SAM-5 task
 * execution for one LU. `execute` decodes the CDB (wire/scsi.ts), reports a pending unit
 * attention (SAM-5 §5.14 / SPC-4 §5.14), checks reservations (SPC-2 RESERVE(6) and SPC-4 §5.12
 * persistent reservations), then runs the handler the opcode's row of the command table
 * (commands.ts) names. Every error comes back as a status and sense, never as a throw.
 *
 * State per LU: unit attentions per I_T nexus, the RESERVE(6) holder, the PR state (pr.ts), mode
 * parameters (WCE, SWP), stopped/started, and the range locks that make COMPARE AND WRITE atomic
 * against every other write of the LU (SBC-3 §5.2).
 */
import type { LogicalUnit, Nexus, ScsiResult, ScsiTask } from '../device.js';
import type { BlockVolume } from '../../../vfs/types.js';
import { senseForError } from '../errors.js';
import { Asc, CdbError, checkCondition, FIXED_SENSE_LENGTH, ScsiStatus, SenseKey, tryDecodeCdb, type AscPair, type Cdb } from '../wire/scsi.js';
import { commandFor, type CommandEntry } from './commands.js';
import { PrState } from './pr.js';
import type { CopyStatus } from './xcopy.js';

/** What the LU needs from its target: the other LUNs (REPORT LUNS) and the target's name. */
export interface TargetInfo {
  luns(): number[];
  /** The target IQN (VPD 0x83 SCSI name string of the target device). */
  readonly targetName?: string;
  /** The LU whose VPD 0x83 LU designator of `type` (3 NAA, 1 T10 vendor id) is `id` (EXTENDED COPY targets). */
  findLu?(type: number, id: Buffer): ScsiLu | undefined;
}

/** Options of an LU (fixed for its lifetime). */
export interface LuOptions {
  /** Logical block length in bytes: 512 (default) or 4096. */
  blockSize?: 512 | 4096;
  /** T10 VENDOR IDENTIFICATION, at most 8 ASCII characters ("DW" by default). */
  vendor?: string;
  /** PRODUCT IDENTIFICATION, at most 16 ASCII characters. */
  product?: string;
  /** PRODUCT REVISION LEVEL, at most 4 ASCII characters. */
  revision?: string;
  /** Unit serial number (VPD 0x80); derived from the target and volume names when absent. */
  serial?: string;
}

/** The context a command handler runs in. */
export interface Ctx {
  lu: ScsiLu;
  task: ScsiTask;
  cdb: Cdb;
  /** The nexus key (initiator port + target port). */
  key: string;
}

/** A handler: resolves to the result or throws a CdbError (or a VfsError, mapped by errors.ts). */
export type Handler = (c: Ctx) => Promise<ScsiResult> | ScsiResult;

/** The key under which state of a nexus is kept: initiator port and target port (SAM-5 §4.6). */
function nexusKey(n: Nexus): string {
  return `${n.initiatorPort}|${n.targetPort}`;
}

/** GOOD with data truncated to `allocationLength` (SPC-4 §4.2.5.6). */
export function good(data?: Buffer, allocationLength?: number): ScsiResult {
  if (!data) return { status: ScsiStatus.GOOD };
  return { status: ScsiStatus.GOOD, dataIn: allocationLength !== undefined && data.length > allocationLength ? data.subarray(0, allocationLength) : data };
}

interface Lock {
  start: bigint;
  end: bigint;
  exclusive: boolean;
  done: Promise<void>;
}

/**
 * Range locks over LBAs: shared for reads and writes (they may run concurrently, SAM-5 SIMPLE
 * tasks), exclusive for COMPARE AND WRITE and ORWRITE, so no write overlaps a compare-and-write's
 * read, compare and write. In arrival order: a lock waits for the overlapping conflicting locks
 * asked for before it, held or still waiting, so a stream of overlapping writes cannot starve a
 * waiting exclusive lock (and, each waiting only on older ones, no two wait for each other).
 */
export class RangeLocks {
  private readonly held = new Set<Lock>();

  async acquire(start: bigint, blocks: number, exclusive: boolean): Promise<() => void> {
    const end = start + BigInt(blocks);
    const before = [...this.held].filter((l) => (exclusive || l.exclusive) && l.start < end && start < l.end);
    let release!: () => void;
    const lock: Lock = { start, end, exclusive, done: new Promise<void>((r) => (release = r)) };
    this.held.add(lock);
    await Promise.all(before.map((l) => l.done));
    return () => {
      if (this.held.delete(lock)) release();
    };
  }
}

/** Mode parameters that can change (SPC-4 §7.5, SBC-3 §6.4). */
export interface ModeState {
  /** Caching page WCE: writes are acknowledged before they are durable (flush on SYNCHRONIZE CACHE). */
  wce: boolean;
  /** Control page SWP: software write protect. */
  swp: boolean;
}

/** A logical unit. */
export class ScsiLu implements LogicalUnit {
  readonly blockSize: number;
  readonly vendor: string;
  readonly product: string;
  readonly revision: string;
  readonly serial: string;
  readonly mode: ModeState = { wce: true, swp: false };
  readonly locks = new RangeLocks();
  readonly pr = new PrState();
  /** Pending unit attentions per nexus key, oldest first. */
  private readonly ua = new Map<string, AscPair[]>();
  /** Nexus keys we know (logged in). */
  private readonly nexuses = new Map<string, Nexus>();
  /** The holder of a RESERVE(6) reservation (SPC-2 §7.21), by nexus key. */
  reserve6: string | undefined;
  /** Stopped by START STOP UNIT (START=0): media access commands are NOT READY. */
  stopped = false;
  /** EXTENDED COPY results held for RECEIVE COPY RESULTS, by nexus key and LIST IDENTIFIER. */
  readonly copyResults = new Map<string, CopyStatus>();

  constructor(readonly volume: BlockVolume, readonly lun: number, readonly target: TargetInfo, opts: LuOptions = {}) {
    this.blockSize = opts.blockSize ?? 512;
    this.vendor = opts.vendor ?? 'DW';
    this.product = opts.product ?? 'VOLUME';
    this.revision = opts.revision ?? '0001';
    this.serial = opts.serial ?? serialOf(`${target.targetName ?? ''}/${volume.name}/${lun}`);
  }

  /** Number of logical blocks (the capacity READ CAPACITY reports, plus one). */
  get blocks(): bigint {
    return BigInt(Math.floor(this.volume.sizeBytes / this.blockSize));
  }

  /** The nexuses logged in, by key. */
  nexusList(): Map<string, Nexus> {
    return this.nexuses;
  }

  nexusAdded(n: Nexus): void {
    const k = nexusKey(n);
    this.nexuses.set(k, n);
    this.ua.set(k, [Asc.POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED]);
  }

  nexusRemoved(n: Nexus): void {
    const k = nexusKey(n);
    this.nexuses.delete(k);
    this.ua.delete(k);
    // SPC-2 §5.5.1: a reservation is released when its I_T nexus is lost; held copy results go too.
    if (this.reserve6 === k) this.reserve6 = undefined;
    for (const id of [...this.copyResults.keys()]) if (id.startsWith(`${k}|`)) this.copyResults.delete(id);
  }

  /**
   * LOGICAL UNIT RESET / TARGET WARM RESET: RESERVE(6) released, the LU started, and a unit
   * attention POWER ON, RESET, OR BUS DEVICE RESET OCCURRED for every nexus, the one that asked
   * included (SAM-5 §6.3.3: the reset is an event every I_T nexus is told of; libiscsi's
   * MultipathIO.Reset checks both paths). Persistent reservations stay (SPC-4 §5.12.2).
   */
  reset(_from: Nexus): void {
    this.reserve6 = undefined;
    this.stopped = false;
    for (const k of this.nexuses.keys()) this.setUa(k, Asc.POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED);
  }

  capacityChanged(): void {
    for (const k of this.nexuses.keys()) this.setUa(k, Asc.CAPACITY_DATA_HAS_CHANGED);
  }

  /** Queues a unit attention for one nexus (a repeated condition is kept once). */
  setUa(key: string, asc: AscPair): void {
    const q = this.ua.get(key) ?? [];
    if (!q.some((a) => a[0] === asc[0] && a[1] === asc[1])) q.push(asc);
    this.ua.set(key, q);
  }

  /** Queues a unit attention for every nexus but `except`. */
  setUaOthers(except: string | undefined, asc: AscPair): void {
    for (const k of this.nexuses.keys()) if (k !== except) this.setUa(k, asc);
  }

  /** Takes the oldest pending unit attention of a nexus. */
  takeUa(key: string): AscPair | undefined {
    const q = this.ua.get(key);
    const a = q?.shift();
    if (q && q.length === 0) this.ua.delete(key);
    return a;
  }

  /** True when the volume cannot be written (snapshot, read-only open, or SWP set). */
  get writeProtected(): boolean {
    return this.volume.readOnly || this.mode.swp;
  }

  async execute(task: ScsiTask): Promise<ScsiResult> {
    const key = nexusKey(task.nexus);
    const decoded = tryDecodeCdb(task.cdb);
    if (!decoded.ok) return errorResult(decoded.error);
    const cdb = decoded.cdb;
    const entry: CommandEntry | undefined = commandFor(task.cdb);
    try {
      if (!entry) throw checkCondition(`${cdb.name} not supported`, SenseKey.ILLEGAL_REQUEST, Asc.INVALID_COMMAND_OPERATION_CODE, { field: { cd: true, byte: 0 } });
      // SAM-5 §5.14: a pending unit attention ends any command but INQUIRY, REPORT LUNS and REQUEST SENSE.
      if (!entry.ignoresUa) {
        const ua = this.takeUa(key);
        if (ua) throw checkCondition('unit attention', SenseKey.UNIT_ATTENTION, ua);
      }
      this.checkReservations(entry, cdb, key);
      if (this.stopped && entry.media) throw checkCondition('stopped', SenseKey.NOT_READY, Asc.LOGICAL_UNIT_NOT_READY_INITIALIZING_COMMAND_REQUIRED);
      if (task.signal?.aborted) return { status: ScsiStatus.TASK_ABORTED };
      return await entry.handler({ lu: this, task, cdb, key });
    } catch (err) {
      const write = entry?.access === 'write';
      const lba = 'lba' in cdb ? cdb.lba : undefined;
      return errorResult(senseForError(err, { write, ...(lba !== undefined ? { lba } : {}) }));
    }
  }

  /**
   * Reservation checks before a command runs. RESERVE(6) held by another nexus: every command
   * but the ones SPC-2 §5.5.1 allows conflicts. A persistent reservation: SPC-4 §5.12.1 table
   * (pr.ts `prConflict`).
   */
  private checkReservations(entry: CommandEntry, cdb: Cdb, key: string): void {
    if (this.reserve6 !== undefined && this.reserve6 !== key && !entry.allowedUnderReserve6) {
      throw new CdbError('reserved by another initiator (RESERVE 6)', ScsiStatus.RESERVATION_CONFLICT, Buffer.alloc(0));
    }
    if (this.pr.conflicts(entry.access, cdb, key)) {
      throw new CdbError('persistent reservation conflict', ScsiStatus.RESERVATION_CONFLICT, Buffer.alloc(0));
    }
  }
}

/** The ScsiResult of a CdbError. */
export function errorResult(e: CdbError): ScsiResult {
  if (e.status === ScsiStatus.CHECK_CONDITION) return { status: e.status, sense: e.sense.length ? e.sense : Buffer.alloc(FIXED_SENSE_LENGTH) };
  return { status: e.status };
}

/** A 16-character hex serial from a name (FNV-1a 64). */
function serialOf(name: string): string {
  let h = 0xcbf29ce484222325n;
  for (const c of Buffer.from(name, 'utf8')) h = BigInt.asUintN(64, (h ^ BigInt(c)) * 0x100000001b3n);
  return h.toString(16).padStart(16, '0');
}
