/**
 * The SCSI device layer of the iSCSI target: `createTargetDevices(luns, opts)` makes the
 * `TargetDevices` (protocols/iscsi/device.ts) of one target from its LUN → BlockVolume map.
 * Commands to a LUN that exists go to its `ScsiLu` (lu.ts); to a LUN that does not (SPC-4
 * §4.6.4 / SAM-5 §5.8): REPORT LUNS and INQUIRY are answered (INQUIRY with PERIPHERAL
 * QUALIFIER 011b, device type 1Fh), REQUEST SENSE returns LOGICAL UNIT NOT SUPPORTED as sense
 * data, anything else is CHECK CONDITION, ILLEGAL REQUEST, LOGICAL UNIT NOT SUPPORTED.
 */
import type { LogicalUnit, ScsiResult, ScsiTask, TargetDevices } from '../device.js';
import type { BlockVolume } from '../../../vfs/types.js';
import { Asc, buildSense, checkCondition, ScsiOp, SenseKey, tryDecodeCdb, type InquiryCdb, type ReportLunsCdb, type RequestSenseCdb } from '../wire/scsi.js';
import { senseForError } from '../errors.js';
import { errorResult, good, ScsiLu, type LuOptions } from './lu.js';
import { naaId, reportLunsData, standardInquiry, t10Id } from './spc.js';

export { ScsiLu, type LuOptions } from './lu.js';
export { MemoryVolume, type MemoryVolumeOptions } from './memory-volume.js';

export interface TargetDevicesOptions extends LuOptions {
  /** The target's IQN (identification VPD, serial numbers). */
  targetName?: string;
  /** Per-LUN options over the common ones. */
  perLun?: Map<number, LuOptions>;
}

/** The devices of one target, with LUNs that can be added and removed while it runs. */
export class ScsiTargetDevices implements TargetDevices {
  private readonly units = new Map<number, ScsiLu>();
  readonly targetName: string | undefined;

  constructor(luns: Map<number, BlockVolume>, private readonly opts: TargetDevicesOptions = {}) {
    this.targetName = opts.targetName;
    for (const [lun, vol] of luns) this.add(lun, vol);
  }

  /** Adds (or replaces) a LUN. LUN numbers 0..16383 (flat space addressing). */
  add(lun: number, volume: BlockVolume): ScsiLu {
    if (!Number.isInteger(lun) || lun < 0 || lun > 0x3fff) throw new RangeError(`LUN ${lun} outside 0..16383`);
    const lu = new ScsiLu(volume, lun, this, { ...this.opts, ...this.opts.perLun?.get(lun) });
    this.units.set(lun, lu);
    for (const other of this.units.values()) if (other !== lu) other.setUaOthers(undefined, Asc.REPORTED_LUNS_DATA_HAS_CHANGED);
    return lu;
  }

  /** Removes a LUN; the others see REPORTED LUNS DATA HAS CHANGED. */
  remove(lun: number): boolean {
    const had = this.units.delete(lun);
    if (had) for (const lu of this.units.values()) lu.setUaOthers(undefined, Asc.REPORTED_LUNS_DATA_HAS_CHANGED);
    return had;
  }

  /** The LU of a VPD 0x83 LU designator: NAA (type 3) or T10 vendor id (type 1). */
  findLu(type: number, id: Buffer): ScsiLu | undefined {
    for (const lu of this.units.values()) {
      if (type === 3 && naaId(lu).equals(id)) return lu;
      if (type === 1 && t10Id(lu).equals(id)) return lu;
    }
    return undefined;
  }

  luns(): number[] {
    return [...this.units.keys()].sort((a, b) => a - b);
  }

  lu(lun: number): LogicalUnit | undefined {
    return this.units.get(lun);
  }

  async execute(task: ScsiTask): Promise<ScsiResult> {
    const lu = this.units.get(task.lun);
    if (lu) return lu.execute(task);
    const d = tryDecodeCdb(task.cdb);
    if (!d.ok) return errorResult(d.error);
    const cdb = d.cdb;
    switch (cdb.op) {
      case ScsiOp.REPORT_LUNS:
        try {
          return good(reportLunsData(this.luns(), cdb as ReportLunsCdb), (cdb as ReportLunsCdb).allocationLength);
        } catch (err) {
          return errorResult(senseForError(err));
        }
      case ScsiOp.INQUIRY: {
        const inq = cdb as InquiryCdb;
        if (!inq.evpd) return good(standardInquiry(undefined), inq.allocationLength);
        break;
      }
      case ScsiOp.REQUEST_SENSE:
        return good(buildSense({ key: SenseKey.ILLEGAL_REQUEST, asc: Asc.LOGICAL_UNIT_NOT_SUPPORTED[0], ascq: 0 }), (cdb as RequestSenseCdb).allocationLength);
    }
    return errorResult(checkCondition(`LUN ${task.lun} not supported`, SenseKey.ILLEGAL_REQUEST, Asc.LOGICAL_UNIT_NOT_SUPPORTED));
  }
}

/**
 * The TargetDevices of one target: `luns` maps LUN numbers to open BlockVolumes; `opts` gives
 * the logical block length (512 by default, or 4096), INQUIRY strings and the target's IQN.
 */
export function createTargetDevices(luns: Map<number, BlockVolume>, opts: TargetDevicesOptions = {}): ScsiTargetDevices {
  return new ScsiTargetDevices(luns, opts);
}
