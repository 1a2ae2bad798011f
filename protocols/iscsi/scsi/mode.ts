/**
 * MODE SENSE(6)/(10) and MODE SELECT(6)/(10) (SPC-4 §6.11-6.14, §7.5) for a block LU: the
 * Read-Write Error Recovery page 0x01 and Caching page 0x08 (SBC-3 §6.4.4, §6.4.5), the Control
 * page 0x0A (SPC-4 §7.5.8) and the Informational Exceptions Control page 0x1C (SPC-4 §7.5.11),
 * all pages with 0x3F; page control current / changeable / default (saved values are not
 * supported: SAVING PARAMETERS NOT SUPPORTED); a short (or, with LLBAA, long) block descriptor
 * unless DBD. Changeable: WCE (caching) and SWP (control). The device-specific parameter
 * carries WP (write protected) and DPOFUA (SBC-3 §6.4.1).
 */
import type { ScsiResult } from '../device.js';
import {
  Asc, checkCondition, decodeModeSelectList, invalidFieldInCdb, invalidFieldInParameterList, parameterListLengthError, ScsiOp, SenseKey,
  type ModeSelectCdb, type ModeSenseCdb,
} from '../wire/scsi.js';
import { good, type Ctx, type ModeState, type ScsiLu } from './lu.js';

type PageControl = 'current' | 'changeable' | 'default';

/** Page codes in the order MODE SENSE returns them for 0x3F. */
const MODE_PAGES = [0x01, 0x08, 0x0a, 0x1c];

/** One mode page's bytes (with its 2-byte header) for a page control. */
function modePage(page: number, pc: PageControl, mode: ModeState): Buffer | undefined {
  const m: ModeState = pc === 'default' ? { wce: true, swp: false } : mode;
  switch (page) {
    case 0x01: {
      // Read-Write Error Recovery (SBC-3 §6.4.5): nothing changeable; AWRE/ARRE irrelevant on this medium.
      const b = Buffer.alloc(12);
      b[0] = 0x01;
      b[1] = 10;
      return b;
    }
    case 0x08: {
      // Caching (SBC-3 §6.4.4): WCE in byte 2 bit 2, RCD (bit 0) clear.
      const b = Buffer.alloc(20);
      b[0] = 0x08;
      b[1] = 18;
      if (pc === 'changeable') b[2] = 0x04;
      else b[2] = m.wce ? 0x04 : 0;
      return b;
    }
    case 0x0a: {
      // Control (SPC-4 §7.5.8): QUEUE ALGORITHM MODIFIER 1 (unrestricted), SWP in byte 4 bit 3,
      // TAS (byte 5 bit 6) set: aborted tasks of other nexuses end with TASK ABORTED.
      const b = Buffer.alloc(12);
      b[0] = 0x0a;
      b[1] = 10;
      if (pc === 'changeable') {
        b[4] = 0x08;
        return b;
      }
      b[3] = 0x10;
      b[4] = m.swp ? 0x08 : 0;
      b[5] = 0x40;
      b.writeUInt16BE(0xffff, 8); // BUSY TIMEOUT PERIOD: unlimited
      return b;
    }
    case 0x1c: {
      // Informational Exceptions Control (SPC-4 §7.5.11): DEXCPT set, no reporting.
      const b = Buffer.alloc(12);
      b[0] = 0x1c;
      b[1] = 10;
      if (pc !== 'changeable') b[2] = 0x08;
      return b;
    }
  }
  return undefined;
}

/** The device-specific parameter (SBC-3 §6.4.1): WP bit 7, DPOFUA bit 4. */
export function deviceSpecific(lu: ScsiLu): number {
  return (lu.writeProtected ? 0x80 : 0) | 0x10;
}

/** MODE SENSE(6)/(10). */
export function modeSense(c: Ctx): ScsiResult {
  const cdb = c.cdb as ModeSenseCdb;
  const ten = cdb.op === ScsiOp.MODE_SENSE_10;
  if (cdb.pc === 3) throw checkCondition('saved values not supported', SenseKey.ILLEGAL_REQUEST, Asc.SAVING_PARAMETERS_NOT_SUPPORTED);
  const pc: PageControl = cdb.pc === 0 ? 'current' : cdb.pc === 1 ? 'changeable' : 'default';
  // Subpages: 0x00 only, and 0xFF (all subpages) with any page.
  if (cdb.subpage !== 0 && cdb.subpage !== 0xff) throw invalidFieldInCdb(3, undefined, `subpage 0x${cdb.subpage.toString(16)}`);
  let pages: Buffer[];
  if (cdb.page === 0x3f) pages = MODE_PAGES.map((p) => modePage(p, pc, c.lu.mode)!);
  else {
    const p = modePage(cdb.page, pc, c.lu.mode);
    if (!p) throw invalidFieldInCdb(2, 5, `mode page 0x${cdb.page.toString(16)} not supported`);
    pages = [p];
  }
  const lu = c.lu;
  let bd = Buffer.alloc(0);
  if (!cdb.dbd) {
    if (ten && cdb.llbaa) {
      bd = Buffer.alloc(16);
      bd.writeBigUInt64BE(lu.blocks, 0);
      bd.writeUInt32BE(lu.blockSize, 12);
    } else {
      bd = Buffer.alloc(8);
      bd.writeUInt32BE(lu.blocks > 0xffffffffn ? 0xffffffff : Number(lu.blocks), 0);
      bd.writeUInt32BE(lu.blockSize & 0xffffff, 4);
    }
  }
  const body = Buffer.concat([bd, ...pages]);
  let hdr: Buffer;
  if (ten) {
    hdr = Buffer.alloc(8);
    hdr.writeUInt16BE(6 + body.length, 0);
    hdr[3] = deviceSpecific(lu);
    hdr[4] = bd.length === 16 ? 0x01 : 0;
    hdr.writeUInt16BE(bd.length, 6);
  } else {
    hdr = Buffer.alloc(4);
    hdr[0] = Math.min(0xff, 3 + body.length);
    hdr[2] = deviceSpecific(lu);
    hdr[3] = bd.length;
  }
  return good(Buffer.concat([hdr, body]), cdb.allocationLength);
}

/**
 * MODE SELECT(6)/(10): PF must be 1, SP 0 (no saved pages). Each page must be one MODE SENSE
 * returns, with its length, and may change only the changeable bits (WCE, SWP); a block
 * descriptor may only restate the block length. A change raises MODE PARAMETERS CHANGED for
 * the other nexuses (SPC-4 §5.14 / §6.13).
 */
export function modeSelect(c: Ctx): ScsiResult {
  const cdb = c.cdb as ModeSelectCdb;
  const ten = cdb.op === ScsiOp.MODE_SELECT_10;
  if (!cdb.pf) throw invalidFieldInCdb(1, 4, 'PF must be 1');
  if (cdb.sp) throw invalidFieldInCdb(1, 0, 'saving pages not supported');
  const data = c.task.dataOut ?? Buffer.alloc(0);
  if (data.length < cdb.parameterListLength) throw parameterListLengthError('MODE SELECT Data-Out shorter than PARAMETER LIST LENGTH');
  const list = decodeModeSelectList(data.subarray(0, cdb.parameterListLength), ten);
  const lu = c.lu;
  const hdr = ten ? 8 : 4;
  const bdLen = list.longLba ? 16 : 8;
  for (let o = 0; o + bdLen <= list.blockDescriptors.length; o += bdLen) {
    const len = list.longLba ? list.blockDescriptors.readUInt32BE(o + 12) : list.blockDescriptors.readUInt32BE(o + 4) & 0xffffff;
    if (len !== lu.blockSize) throw invalidFieldInParameterList(hdr + o + (list.longLba ? 12 : 5), undefined, `block length ${len}`);
  }
  const next: ModeState = { ...lu.mode };
  let o = hdr + list.blockDescriptors.length;
  for (const p of list.pages) {
    const cur = p.spf ? undefined : modePage(p.page, 'current', lu.mode);
    const mask = p.spf ? undefined : modePage(p.page, 'changeable', lu.mode);
    if (!cur || !mask) throw invalidFieldInParameterList(o, 5, `mode page 0x${p.page.toString(16)} not supported`);
    if (p.data.length !== cur.length - 2) throw invalidFieldInParameterList(o + 1, undefined, `page 0x${p.page.toString(16)} length ${p.data.length}`);
    for (let i = 0; i < p.data.length; i++) {
      if (((p.data[i]! ^ cur[i + 2]!) & ~mask[i + 2]!) !== 0) throw invalidFieldInParameterList(o + 2 + i, undefined, `page 0x${p.page.toString(16)} byte ${i + 2} not changeable`);
    }
    if (p.page === 0x08) next.wce = (p.data[0]! & 0x04) !== 0;
    if (p.page === 0x0a) next.swp = (p.data[2]! & 0x08) !== 0;
    o += 2 + p.data.length;
  }
  if (next.wce !== lu.mode.wce || next.swp !== lu.mode.swp) {
    Object.assign(lu.mode, next);
    lu.setUaOthers(c.key, Asc.MODE_PARAMETERS_CHANGED);
  }
  return good();
}
