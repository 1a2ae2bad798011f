/**
 * The command table of a block LU: one row per operation code (service actions listed inside
 * their opcode's row), naming its handler, how it touches the medium (for the reservation
 * conflict tables of SPC-4 §5.12.1 / SBC-3 §4.17 and for SPC-2 RESERVE(6)), whether a pending
 * unit attention is reported first (SAM-5 §5.14: not for INQUIRY, REPORT LUNS, REQUEST SENSE),
 * and the CDB USAGE DATA that REPORT SUPPORTED OPERATION CODES returns (SPC-4 §6.35.3: the
 * bits of each CDB byte the device server looks at). An opcode that has no row is answered
 * INVALID COMMAND OPERATION CODE.
 */
import type { Handler } from './lu.js';
import type { Access } from './pr.js';
import { modeSelect, modeSense } from './mode.js';
import { compareAndWrite, getLbaStatus, orWrite, unmap, writeSame } from './provisioning.js';
import { reportSupportedOpcodes } from './rsoc.js';
import { extendedCopy, receiveCopyResults } from './xcopy.js';
import { persistentReserveIn, persistentReserveOut, release6, reserve6 } from './pr.js';
import { preFetch, read, readCapacity, readDefectData, synchronizeCache, verify, write } from './sbc.js';
import { inquiry, reportLuns, requestSense, startStopUnit, testUnitReady } from './spc.js';

/** One service action of an opcode (REPORT SUPPORTED OPERATION CODES lists them one by one). */
export interface ServiceActionEntry {
  sa: number;
  name: string;
  usage: number[];
  /** Overrides of the opcode row for this service action. */
  handler?: Handler;
  access?: Access;
}

export interface CommandEntry {
  op: number;
  name: string;
  handler: Handler;
  access: Access;
  /** INQUIRY, REPORT LUNS, REQUEST SENSE: run even with a unit attention pending. */
  ignoresUa?: boolean;
  /** Allowed while another nexus holds a RESERVE(6) reservation (SPC-2 §5.5.1). */
  allowedUnderReserve6?: boolean;
  /** NOT READY while the LU is stopped (START STOP UNIT). */
  media?: boolean;
  /** CDB USAGE DATA (byte 0 is the opcode), when the opcode has no service actions. */
  usage?: number[];
  serviceActions?: ServiceActionEntry[];
}

/** The table, keyed by opcode. Rows are added by the modules that implement them (see register()). */
export const COMMANDS = new Map<number, CommandEntry>();

/** The row for a CDB: its opcode's, with the overrides of its service action (byte 1, bits 4-0) when the opcode has them. */
export function commandFor(cdb: Buffer): CommandEntry | undefined {
  const e = COMMANDS.get(cdb[0]!);
  if (!e?.serviceActions) return e;
  const sa = e.serviceActions.find((s) => s.sa === (cdb[1]! & 0x1f));
  return sa ? Object.assign({}, e, { name: sa.name, handler: sa.handler ?? e.handler, access: sa.access ?? e.access }) : e;
}

/** Adds rows. */
export function register(...entries: CommandEntry[]): void {
  for (const e of entries) COMMANDS.set(e.op, e);
}

// Usage-data shorthands: F = every bit used.
const F = 0xff;

register(
  { op: 0x00, name: 'TEST UNIT READY', handler: testUnitReady, access: 'always', media: true, usage: [0x00, 0, 0, 0, 0, 0] },
  { op: 0x03, name: 'REQUEST SENSE', handler: requestSense, access: 'always', ignoresUa: true, allowedUnderReserve6: true, usage: [0x03, 0x01, 0, 0, F, 0] },
  { op: 0x12, name: 'INQUIRY', handler: inquiry, access: 'always', ignoresUa: true, allowedUnderReserve6: true, usage: [0x12, 0x01, F, F, F, 0] },
  { op: 0xa0, name: 'REPORT LUNS', handler: reportLuns, access: 'always', ignoresUa: true, allowedUnderReserve6: true, usage: [0xa0, 0, F, 0, 0, 0, F, F, F, F, 0, 0] },
  { op: 0x1a, name: 'MODE SENSE(6)', handler: modeSense, access: 'read', usage: [0x1a, 0x08, F, F, F, 0] },
  { op: 0x5a, name: 'MODE SENSE(10)', handler: modeSense, access: 'read', usage: [0x5a, 0x18, F, F, 0, 0, 0, F, F, 0] },
  { op: 0x15, name: 'MODE SELECT(6)', handler: modeSelect, access: 'write', usage: [0x15, 0x11, 0, 0, F, 0] },
  { op: 0x55, name: 'MODE SELECT(10)', handler: modeSelect, access: 'write', usage: [0x55, 0x11, 0, 0, 0, 0, 0, F, F, 0] },
  { op: 0x1b, name: 'START STOP UNIT', handler: startStopUnit, access: 'write', usage: [0x1b, 0x01, 0, 0x0f, 0xf7, 0] },
  { op: 0x25, name: 'READ CAPACITY(10)', handler: readCapacity, access: 'always', media: true, usage: [0x25, 0, F, F, F, F, 0, 0, 0x01, 0] },
  {
    op: 0x9e, name: 'SERVICE ACTION IN(16)', handler: readCapacity, access: 'always', media: true,
    serviceActions: [
      { sa: 0x10, name: 'READ CAPACITY(16)', usage: [0x9e, 0x10, F, F, F, F, F, F, F, F, F, F, F, F, 0x01, 0] },
      { sa: 0x12, name: 'GET LBA STATUS', handler: getLbaStatus, access: 'read', usage: [0x9e, 0x12, F, F, F, F, F, F, F, F, F, F, F, F, 0, 0] },
    ],
  },
  {
    op: 0x5e, name: 'PERSISTENT RESERVE IN', handler: persistentReserveIn, access: 'pr-in',
    serviceActions: ['READ KEYS', 'READ RESERVATION', 'REPORT CAPABILITIES', 'READ FULL STATUS'].map((name, sa) => ({
      sa, name: `PERSISTENT RESERVE IN ${name}`, usage: [0x5e, sa, 0, 0, 0, 0, 0, F, F, 0],
    })),
  },
  {
    op: 0x5f, name: 'PERSISTENT RESERVE OUT', handler: persistentReserveOut, access: 'pr-out',
    serviceActions: ['REGISTER', 'RESERVE', 'RELEASE', 'CLEAR', 'PREEMPT', 'PREEMPT AND ABORT', 'REGISTER AND IGNORE EXISTING KEY', 'REGISTER AND MOVE']
      .map((name, sa) => ({ sa, name: `PERSISTENT RESERVE OUT ${name}`, usage: [0x5f, sa, F, 0, 0, F, F, F, F, 0] })),
  },
  { op: 0x16, name: 'RESERVE(6)', handler: reserve6, access: 'reserve', usage: [0x16, 0, 0, 0, 0, 0] },
  { op: 0x17, name: 'RELEASE(6)', handler: release6, access: 'reserve', allowedUnderReserve6: true, usage: [0x17, 0, 0, 0, 0, 0] },
  { op: 0x42, name: 'UNMAP', handler: unmap, access: 'write', media: true, usage: [0x42, 0, 0, 0, 0, 0, 0, F, F, 0] },
  { op: 0x41, name: 'WRITE SAME(10)', handler: writeSame, access: 'write', media: true, usage: [0x41, 0x08, F, F, F, F, 0, F, F, 0] },
  { op: 0x93, name: 'WRITE SAME(16)', handler: writeSame, access: 'write', media: true, usage: [0x93, 0x09, F, F, F, F, F, F, F, F, F, F, F, F, 0, 0] },
  { op: 0x89, name: 'COMPARE AND WRITE', handler: compareAndWrite, access: 'write', media: true, usage: [0x89, 0x18, F, F, F, F, F, F, F, F, 0, 0, 0, F, 0, 0] },
  { op: 0x08, name: 'READ(6)', handler: read, access: 'read', media: true, usage: [0x08, 0x1f, F, F, F, 0] },
  { op: 0x28, name: 'READ(10)', handler: read, access: 'read', media: true, usage: [0x28, 0x18, F, F, F, F, 0, F, F, 0] },
  { op: 0xa8, name: 'READ(12)', handler: read, access: 'read', media: true, usage: [0xa8, 0x18, F, F, F, F, F, F, F, F, 0, 0] },
  { op: 0x88, name: 'READ(16)', handler: read, access: 'read', media: true, usage: [0x88, 0x18, F, F, F, F, F, F, F, F, F, F, F, F, 0, 0] },
  { op: 0x0a, name: 'WRITE(6)', handler: write, access: 'write', media: true, usage: [0x0a, 0x1f, F, F, F, 0] },
  { op: 0x2a, name: 'WRITE(10)', handler: write, access: 'write', media: true, usage: [0x2a, 0x18, F, F, F, F, 0, F, F, 0] },
  { op: 0xaa, name: 'WRITE(12)', handler: write, access: 'write', media: true, usage: [0xaa, 0x18, F, F, F, F, F, F, F, F, 0, 0] },
  { op: 0x8a, name: 'WRITE(16)', handler: write, access: 'write', media: true, usage: [0x8a, 0x18, F, F, F, F, F, F, F, F, F, F, F, F, 0, 0] },
  { op: 0x2e, name: 'WRITE AND VERIFY(10)', handler: write, access: 'write', media: true, usage: [0x2e, 0x12, F, F, F, F, 0, F, F, 0] },
  { op: 0x8e, name: 'WRITE AND VERIFY(16)', handler: write, access: 'write', media: true, usage: [0x8e, 0x12, F, F, F, F, F, F, F, F, F, F, F, F, 0, 0] },
  { op: 0xae, name: 'WRITE AND VERIFY(12)', handler: write, access: 'write', media: true, usage: [0xae, 0x12, F, F, F, F, F, F, F, F, 0, 0] },
  { op: 0xaf, name: 'VERIFY(12)', handler: verify, access: 'read', media: true, usage: [0xaf, 0x16, F, F, F, F, F, F, F, F, 0, 0] },
  { op: 0x8b, name: 'ORWRITE(16)', handler: orWrite, access: 'write', media: true, usage: [0x8b, 0x18, F, F, F, F, F, F, F, F, F, F, F, F, 0, 0] },
  {
    op: 0xa3, name: 'MAINTENANCE IN', handler: reportSupportedOpcodes, access: 'always', allowedUnderReserve6: true,
    serviceActions: [{ sa: 0x0c, name: 'REPORT SUPPORTED OPERATION CODES', usage: [0xa3, 0x0c, 0x87, F, F, F, F, F, F, F, 0, 0] }],
  },
  {
    op: 0x83, name: 'THIRD-PARTY COPY OUT', handler: extendedCopy, access: 'write', media: true,
    serviceActions: [{ sa: 0x00, name: 'EXTENDED COPY(LID1)', usage: [0x83, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, F, F, F, F, 0, 0] }],
  },
  {
    op: 0x84, name: 'THIRD-PARTY COPY IN', handler: receiveCopyResults, access: 'read',
    serviceActions: [
      { sa: 0x00, name: 'RECEIVE COPY RESULTS COPY STATUS', usage: [0x84, 0x00, F, 0, 0, 0, 0, 0, 0, 0, F, F, F, F, 0, 0] },
      { sa: 0x03, name: 'RECEIVE COPY RESULTS OPERATING PARAMETERS', usage: [0x84, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, F, F, F, F, 0, 0] },
    ],
  },
  { op: 0x37, name: 'READ DEFECT DATA(10)', handler: readDefectData, access: 'read', media: true, usage: [0x37, 0, 0x1f, 0, 0, 0, 0, F, F, 0] },
  { op: 0xb7, name: 'READ DEFECT DATA(12)', handler: readDefectData, access: 'read', media: true, usage: [0xb7, 0x1f, 0, 0, 0, 0, F, F, F, F, 0, 0] },
  { op: 0x2f, name: 'VERIFY(10)', handler: verify, access: 'read', media: true, usage: [0x2f, 0x16, F, F, F, F, 0, F, F, 0] },
  { op: 0x8f, name: 'VERIFY(16)', handler: verify, access: 'read', media: true, usage: [0x8f, 0x16, F, F, F, F, F, F, F, F, F, F, F, F, 0, 0] },
  { op: 0x35, name: 'SYNCHRONIZE CACHE(10)', handler: synchronizeCache, access: 'read', media: true, usage: [0x35, 0x02, F, F, F, F, 0, F, F, 0] },
  { op: 0x91, name: 'SYNCHRONIZE CACHE(16)', handler: synchronizeCache, access: 'read', media: true, usage: [0x91, 0x02, F, F, F, F, F, F, F, F, F, F, F, F, 0, 0] },
  { op: 0x34, name: 'PRE-FETCH(10)', handler: preFetch, access: 'read', media: true, usage: [0x34, 0x02, F, F, F, F, 0, F, F, 0] },
  { op: 0x90, name: 'PRE-FETCH(16)', handler: preFetch, access: 'read', media: true, usage: [0x90, 0x02, F, F, F, F, F, F, F, F, F, F, F, F, 0, 0] },
);
