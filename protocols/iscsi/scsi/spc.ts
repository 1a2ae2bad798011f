/**
 * SPC-4 primary commands of a block LU: INQUIRY (standard data §6.6.2 and the VPD pages
 * 0x00 §7.8.16, 0x80 §7.8.17, 0x83 §7.8.6, SBC-3's 0xB0 Block Limits §6.5.3, 0xB1 Block Device
 * Characteristics §6.5.2, 0xB2 Logical Block Provisioning §6.5.4), REPORT LUNS §6.33, TEST UNIT
 * READY §6.47, REQUEST SENSE §6.39, START STOP UNIT (SBC-3 §5.25). MODE SENSE/SELECT are in
 * mode.ts. Every builder returns the full data; `good()` truncates to the allocation length.
 */
import type { ScsiResult } from '../device.js';
import { Asc, buildSense, invalidFieldInCdb, SenseKey, type InquiryCdb, type ReportLunsCdb, type RequestSenseCdb, type StartStopCdb } from '../wire/scsi.js';
import { good, type Ctx, type ScsiLu } from './lu.js';

/** Version descriptors (SPC-4 table 31): SAM-5, iSCSI (RFC 7143 has none; 0x0960 is iSCSI), SPC-4, SBC-3. */
const VERSION_DESCRIPTORS = [0x00a0, 0x0960, 0x0460, 0x04c0];

/** VPD pages this LU answers, ascending (VPD 0x00). */
const VPD_PAGES = [0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2];

/** Limits the Block Limits VPD advertises and the commands enforce. */
export function blockLimits(lu: ScsiLu): {
  maxTransfer: number; optimalTransfer: number; granularity: number; maxUnmapLba: number; maxUnmapDescriptors: number; maxWriteSame: number;
  maxCompareAndWrite: number;
} {
  const bs = lu.blockSize;
  const granularity = Math.max(1, Math.floor(lu.volume.recordSize / bs));
  return {
    /** 8 MiB per READ/WRITE. */
    maxTransfer: (8 << 20) / bs,
    optimalTransfer: Math.max(granularity, (1 << 20) / bs),
    granularity,
    /** ≤ 1 Mi blocks (libiscsi holds an explicit limit to that) and ≤ 1 GiB. */
    maxUnmapLba: Math.min(1 << 20, (1 << 30) / bs),
    maxUnmapDescriptors: 256,
    /** WRITE SAME covers at most 32 MiB and fewer than 65536 blocks (a 4-byte length is then never needed). */
    maxWriteSame: Math.min(0xffff, (32 << 20) / bs),
    maxCompareAndWrite: 255,
  };
}

const ascii = (s: string, n: number): Buffer => {
  const b = Buffer.alloc(n, 0x20);
  b.write(s.replace(/[^\x20-\x7e]/g, '?').slice(0, n), 'ascii');
  return b;
};

/** Standard INQUIRY data (SPC-4 §6.6.2, table 142), 96 bytes. */
export function standardInquiry(lu: ScsiLu | undefined): Buffer {
  const b = Buffer.alloc(96);
  // Byte 0: PERIPHERAL QUALIFIER 011b + DEVICE TYPE 1Fh for an absent LUN (SPC-4 §6.6.2), else direct access.
  b[0] = lu ? 0x00 : 0x7f;
  b[2] = 0x06; // VERSION: SPC-4
  b[3] = 0x12; // HISUP, RESPONSE DATA FORMAT 2
  b[4] = b.length - 5;
  b[7] = 0x02; // CMDQUE
  ascii(lu?.vendor ?? 'DW', 8).copy(b, 8);
  ascii(lu?.product ?? 'VOLUME', 16).copy(b, 16);
  ascii(lu?.revision ?? '0001', 4).copy(b, 32);
  VERSION_DESCRIPTORS.forEach((v, i) => b.writeUInt16BE(v, 58 + 2 * i));
  return b;
}

const vpd = (page: number, body: Buffer): Buffer => {
  const h = Buffer.alloc(4);
  h[1] = page;
  h.writeUInt16BE(body.length, 2);
  return Buffer.concat([h, body]);
};

/** One designation descriptor (SPC-4 §7.8.6.1, table 460). */
function designator(codeSet: number, piv: boolean, association: number, type: number, id: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = (piv ? 0x50 : 0) | codeSet; // PROTOCOL IDENTIFIER iSCSI (5) when PIV
  h[1] = (piv ? 0x80 : 0) | (association << 4) | type;
  h[3] = id.length;
  return Buffer.concat([h, id]);
}

/** The LU's NAA designator: NAA 3h (locally assigned, SPC-4 §7.8.6.6.4), 60 bits of the serial. */
export function naaId(lu: ScsiLu): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE((BigInt(`0x${lu.serial.slice(-16).padStart(16, '0')}`) & 0x0fffffffffffffffn) | (0x3n << 60n));
  return b;
}

/** The LU's T10 vendor ID designator (SPC-4 §7.8.6.4): vendor (8 bytes) and the unit serial number. */
export function t10Id(lu: ScsiLu): Buffer {
  return Buffer.concat([ascii(lu.vendor, 8), Buffer.from(lu.serial, 'ascii')]);
}

/** The relative target port identifier of a target port name ('IQN,t,0xTPGT': the TPGT, 1 at least). */
export function relativePortOf(targetPort: string): number {
  const m = /,t,0x([0-9a-f]+)$/i.exec(targetPort);
  const n = m ? Number.parseInt(m[1]!, 16) : 1;
  return n > 0 && n <= 0xffff ? n : 1;
}

/** VPD page for a code, or undefined when unsupported. */
function vpdPage(c: Ctx, page: number): Buffer | undefined {
  const lu = c.lu;
  switch (page) {
    case 0x00:
      return vpd(0x00, Buffer.from(VPD_PAGES));
    case 0x80:
      return vpd(0x80, ascii(lu.serial, lu.serial.length));
    case 0x83: {
      const t10 = t10Id(lu);
      const rel = Buffer.alloc(4);
      rel.writeUInt16BE(relativePortOf(c.task.nexus.targetPort), 2);
      const tpg = Buffer.alloc(4);
      tpg.writeUInt16BE(1, 2);
      const parts = [
        designator(1, false, 0, 0x3, naaId(lu)), // NAA, LU
        designator(2, false, 0, 0x1, t10), // T10 vendor ID, LU
        designator(1, true, 1, 0x4, rel), // relative target port, target port
        designator(1, true, 1, 0x5, tpg), // target port group, target port
      ];
      const port = c.task.nexus.targetPort;
      if (port) {
        // SCSI name string of the target port (UTF-8, NUL-terminated, padded to 4).
        const name = Buffer.from(port, 'utf8');
        const padded = Buffer.alloc(Math.ceil((name.length + 1) / 4) * 4);
        name.copy(padded);
        if (padded.length <= 252) parts.push(designator(3, true, 1, 0x8, padded));
      }
      return vpd(0x83, Buffer.concat(parts));
    }
    case 0xb0: {
      const l = blockLimits(lu);
      const b = Buffer.alloc(0x3c);
      b[0] = 0x01; // WSNZ: WRITE SAME with NUMBER OF LOGICAL BLOCKS 0 is refused
      b[1] = l.maxCompareAndWrite;
      b.writeUInt16BE(Math.min(0xffff, l.granularity), 2);
      b.writeUInt32BE(l.maxTransfer, 4);
      b.writeUInt32BE(l.optimalTransfer, 8);
      b.writeUInt32BE(l.maxTransfer, 12); // MAXIMUM PREFETCH LENGTH
      b.writeUInt32BE(l.maxUnmapLba, 16);
      b.writeUInt32BE(l.maxUnmapDescriptors, 20);
      b.writeUInt32BE(l.granularity, 24); // OPTIMAL UNMAP GRANULARITY
      b.writeUInt32BE(0x80000000, 28); // UGAVALID, alignment 0
      b.writeBigUInt64BE(BigInt(l.maxWriteSame), 32);
      return vpd(0xb0, b);
    }
    case 0xb1: {
      const b = Buffer.alloc(0x3c);
      b.writeUInt16BE(0x0001, 0); // MEDIUM ROTATION RATE: non-rotating medium
      return vpd(0xb1, b);
    }
    case 0xb2: {
      const b = Buffer.alloc(4);
      b[0] = 0; // THRESHOLD EXPONENT
      b[1] = 0x80 | 0x40 | 0x20 | 0x04; // LBPU, LBPWS, LBPWS10, LBPRZ (unmapped blocks read zeros)
      b[2] = 0x02; // PROVISIONING TYPE: thin
      return vpd(0xb2, b);
    }
  }
  return undefined;
}

/** INQUIRY (SPC-4 §6.6). */
export function inquiry(c: Ctx): ScsiResult {
  const cdb = c.cdb as InquiryCdb;
  if (!cdb.evpd) return good(standardInquiry(c.lu), cdb.allocationLength);
  const page = vpdPage(c, cdb.page);
  if (!page) throw invalidFieldInCdb(2, undefined, `VPD page 0x${cdb.page.toString(16)} not supported`);
  return good(page, cdb.allocationLength);
}

/** REPORT LUNS parameter data (SPC-4 §6.33): peripheral addressing below 256, flat space addressing above (SAM-5 §4.7). */
export function reportLunsData(luns: readonly number[], cdb: ReportLunsCdb): Buffer {
  // SELECT REPORT 0: LUNs of the LU inventory; 1: well-known LUNs (none); 2: all.
  if (cdb.selectReport > 2) throw invalidFieldInCdb(2, undefined, `SELECT REPORT 0x${cdb.selectReport.toString(16)}`);
  const list = cdb.selectReport === 1 ? [] : luns;
  const b = Buffer.alloc(8 + 8 * list.length);
  b.writeUInt32BE(8 * list.length, 0);
  list.forEach((lun, i) => {
    const o = 8 + 8 * i;
    if (lun < 256) b[o + 1] = lun;
    else b.writeUInt16BE(0x4000 | (lun & 0x3fff), o);
  });
  return b;
}

export function reportLuns(c: Ctx): ScsiResult {
  const cdb = c.cdb as ReportLunsCdb;
  return good(reportLunsData(c.lu.target.luns(), cdb), cdb.allocationLength);
}

/** TEST UNIT READY (SPC-4 §6.47): GOOD unless stopped (checked by the dispatcher). */
export function testUnitReady(): ScsiResult {
  return good();
}

/**
 * REQUEST SENSE (SPC-4 §6.39): a pending unit attention of the nexus as fixed-format sense (and
 * it is cleared), NOT READY when stopped, else NO SENSE. DESC=1 (descriptor format) is not
 * supported: INVALID FIELD IN CDB.
 */
export function requestSense(c: Ctx): ScsiResult {
  const cdb = c.cdb as RequestSenseCdb;
  if (cdb.desc) throw invalidFieldInCdb(1, 0, 'descriptor format sense not supported');
  const ua = c.lu.takeUa(c.key);
  let s: Buffer;
  if (ua) s = buildSense({ key: SenseKey.UNIT_ATTENTION, asc: ua[0], ascq: ua[1] });
  else if (c.lu.stopped) s = buildSense({ key: SenseKey.NOT_READY, asc: Asc.LOGICAL_UNIT_NOT_READY_INITIALIZING_COMMAND_REQUIRED[0], ascq: Asc.LOGICAL_UNIT_NOT_READY_INITIALIZING_COMMAND_REQUIRED[1] });
  else s = buildSense({ key: SenseKey.NO_SENSE, asc: 0, ascq: 0 });
  return good(s, cdb.allocationLength);
}

/**
 * START STOP UNIT (SBC-3 §5.25): START=0 stops (media access is NOT READY, INITIALIZING COMMAND
 * REQUIRED, until START=1). A POWER CONDITION other
 * than 0 (START_VALID) is accepted and changes nothing. LOEJ (the medium is not removable) is an
 * INVALID FIELD IN CDB.
 */
export async function startStopUnit(c: Ctx): Promise<ScsiResult> {
  const cdb = c.cdb as StartStopCdb;
  if (cdb.powerCondition !== 0) return good();
  // The medium is not removable: load/eject is an invalid field (SBC-3 §5.25).
  if (cdb.loej) throw invalidFieldInCdb(4, 1, 'LOEJ: the medium is not removable');
  if (!cdb.start && !cdb.noFlush) await c.lu.volume.flush();
  c.lu.stopped = !cdb.start;
  return good();
}
