/**
 * REPORT SUPPORTED OPERATION CODES (SPC-4 §6.35), from the command table (commands.ts): with
 * REPORTING OPTIONS 000b every command (one descriptor per opcode, or per service action for the
 * opcodes that have them, SERVACTV set), 001b one opcode without service actions, 010b one
 * opcode and service action, 011b either. A requested command that does not exist is answered
 * with SUPPORT 001b (not supported); asking 001b for an opcode with service actions, or 010b for
 * one without, is INVALID FIELD IN CDB. RCTD adds the 12-byte command timeouts descriptor
 * (no timeouts: both 0, "not specified").
 */
import type { ScsiResult } from '../device.js';
import { cdbLength, invalidFieldInCdb, type ReportOpcodesCdb } from '../wire/scsi.js';
import { COMMANDS } from './commands.js';
import { good, type Ctx } from './lu.js';

/** The command timeouts descriptor (SPC-4 §6.35.4): DESCRIPTOR LENGTH 0x0A, nominal and recommended timeouts 0. */
const timeouts = (): Buffer => {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(0x0a, 0);
  return b;
};

export function reportSupportedOpcodes(c: Ctx): ScsiResult {
  const cdb = c.cdb as ReportOpcodesCdb;
  if (cdb.options === 0) {
    const descs: Buffer[] = [];
    for (const e of [...COMMANDS.values()].sort((a, b) => a.op - b.op)) {
      const rows = e.serviceActions ? e.serviceActions.map((s) => ({ sa: s.sa, servactv: true })) : [{ sa: 0, servactv: false }];
      for (const r of rows) {
        const d = Buffer.alloc(8);
        d[0] = e.op;
        d.writeUInt16BE(r.sa, 2);
        d[5] = (cdb.rctd ? 0x02 : 0) | (r.servactv ? 0x01 : 0);
        d.writeUInt16BE(cdbLength(e.op), 6);
        descs.push(cdb.rctd ? Buffer.concat([d, timeouts()]) : d);
      }
    }
    const body = Buffer.concat(descs);
    const h = Buffer.alloc(4);
    h.writeUInt32BE(body.length, 0);
    return good(Buffer.concat([h, body]), cdb.allocationLength);
  }
  const e = COMMANDS.get(cdb.requestedOp);
  let usage: number[] | undefined;
  if (e) {
    if (cdb.options === 1 && e.serviceActions) throw invalidFieldInCdb(3, undefined, 'the opcode has service actions');
    if (cdb.options === 2 && !e.serviceActions) throw invalidFieldInCdb(3, undefined, 'the opcode has no service actions');
    usage = e.serviceActions ? e.serviceActions.find((s) => s.sa === cdb.requestedSa)?.usage : e.usage;
  }
  const h = Buffer.alloc(4);
  if (!usage) {
    h[1] = (cdb.rctd ? 0x80 : 0) | 0x01; // SUPPORT 001b: not supported
    return good(h, cdb.allocationLength);
  }
  h[1] = (cdb.rctd ? 0x80 : 0) | 0x03; // SUPPORT 011b: supported as the standard says
  h.writeUInt16BE(usage.length, 2);
  return good(Buffer.concat([h, Buffer.from(usage), ...(cdb.rctd ? [timeouts()] : [])]), cdb.allocationLength);
}
