/**
 * Persistent reservations of one LU (SPC-4 §5.12): registrations per I_T nexus, one reservation
 * of any of the six types (WRITE EXCLUSIVE, EXCLUSIVE ACCESS, their REGISTRANTS ONLY and ALL
 * REGISTRANTS forms), LU scope only. PERSISTENT RESERVE IN (§6.14: READ KEYS, READ RESERVATION,
 * REPORT CAPABILITIES, READ FULL STATUS) and OUT (§6.15: REGISTER, REGISTER AND IGNORE EXISTING
 * KEY, RESERVE, RELEASE, CLEAR, PREEMPT, PREEMPT AND ABORT, REGISTER AND MOVE).
 *
 * Not supported, and REPORT CAPABILITIES says so: APTPL (PTPL_C 0: reservations do not survive a
 * restart of the gateway; APTPL=1 is INVALID FIELD IN PARAMETER LIST), SPEC_I_PT (SIP_C 0) and
 * ALL_TG_PT (ATP_C 0). PREEMPT AND ABORT preempts like PREEMPT; the tasks of the preempted
 * nexuses are not aborted here (the transport owns the task sets).
 *
 * Conflicts (SPC-4 §5.12.1 tables 63-64, SBC-3 §4.17 table 13), for a nexus that does not hold
 * the reservation: WRITE EXCLUSIVE refuses 'write' commands, EXCLUSIVE ACCESS 'read' and 'write'
 * ones; the REGISTRANTS ONLY and ALL REGISTRANTS types allow registered nexuses everything and
 * treat the others as WRITE EXCLUSIVE / EXCLUSIVE ACCESS do. 'always' commands (INQUIRY, REPORT
 * LUNS, REQUEST SENSE, READ CAPACITY, TEST UNIT READY, REPORT SUPPORTED OPERATION CODES) and PR
 * IN never conflict; PR OUT checks its reservation key itself. RESERVE(6)/RELEASE(6) conflict
 * while any registration exists (SPC-4 §5.13).
 */
import type { ScsiResult } from '../device.js';
import {
  Asc, checkCondition, decodePrOutList, invalidFieldInParameterList, parameterListLengthError, PrInAction, PrOutAction, PrType,
  PROTOCOL_ID_ISCSI, reservationConflict, SenseKey, type Cdb, type PrInCdb, type PrOutCdb,
} from '../wire/scsi.js';
import { good, type Ctx, type ScsiLu } from './lu.js';
import { relativePortOf } from './spc.js';

/** How a command touches the medium, for the conflict tables (SPC-4 §5.12.1, SBC-3 §4.17). */
export type Access = 'always' | 'read' | 'write' | 'pr-in' | 'pr-out' | 'reserve';

/** One registration: the I_T nexus (by its key and ports) and its reservation key. */
export interface Registration {
  key: bigint;
  initiatorPort: string;
  targetPort: string;
}

/** The reservation: its type and, except for the ALL REGISTRANTS types, the holding nexus. */
export interface Reservation {
  type: number;
  holder: string;
}

const allRegistrants = (type: number): boolean => type === PrType.WRITE_EXCLUSIVE_ALL_REGISTRANTS || type === PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
const registrantsOnly = (type: number): boolean => type === PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY || type === PrType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY;
const exclusiveAccess = (type: number): boolean =>
  type === PrType.EXCLUSIVE_ACCESS || type === PrType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY || type === PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS;

/**
 * Registrations one LU keeps. Each needs its own I_T nexus, and an initiator may log in with ever
 * new ISIDs: beyond this a new registration gets INSUFFICIENT REGISTRATION RESOURCES
 * (SPC-4 §5.12.7, §6.15.1) instead of growing memory without bound.
 */
export const MAX_REGISTRATIONS = 1024;

/** ILLEGAL REQUEST, INSUFFICIENT REGISTRATION RESOURCES (SPC-4 §5.12.7) when `pr` has no room for a new registration. */
function checkRoom(pr: PrState, key: string): void {
  if (!pr.registrations.has(key) && pr.registrations.size >= MAX_REGISTRATIONS) {
    throw checkCondition('too many registrations', SenseKey.ILLEGAL_REQUEST, Asc.INSUFFICIENT_REGISTRATION_RESOURCES);
  }
}

export class PrState {
  /** PRGENERATION (SPC-4 §6.14.2): counts REGISTER, CLEAR, PREEMPT and REGISTER AND MOVE. */
  generation = 0;
  readonly registrations = new Map<string, Registration>();
  reservation: Reservation | undefined;

  /** True when nexus `key` holds the reservation (every registrant does for the ALL REGISTRANTS types). */
  isHolder(key: string): boolean {
    const r = this.reservation;
    if (!r) return false;
    return allRegistrants(r.type) ? this.registrations.has(key) : r.holder === key;
  }

  /** True when `access` by nexus `key` conflicts with the persistent reservation (or, for RESERVE/RELEASE(6), with any registration). */
  conflicts(access: Access, _cdb: Cdb, key: string): boolean {
    if (access === 'reserve') return this.registrations.size > 0 || this.reservation !== undefined;
    const r = this.reservation;
    if (!r || access === 'always' || access === 'pr-in' || access === 'pr-out') return false;
    if (this.isHolder(key)) return false;
    if ((registrantsOnly(r.type) || allRegistrants(r.type)) && this.registrations.has(key)) return false;
    return access === 'write' || (access === 'read' && exclusiveAccess(r.type));
  }
}

// ---- PERSISTENT RESERVE IN --------------------------------------------------------------------

/** The iSCSI TransportID of an initiator port 'IQN,i,0xISID' (SPC-4 §7.6.4.6, format 01b, padded to 4, 20 bytes at least). */
function transportIdOf(initiatorPort: string): Buffer {
  const name = Buffer.from(initiatorPort, 'utf8');
  const len = Math.max(20, Math.ceil((name.length + 1) / 4) * 4);
  const b = Buffer.alloc(4 + len);
  b[0] = 0x40 | PROTOCOL_ID_ISCSI;
  b.writeUInt16BE(len, 2);
  name.copy(b, 4);
  return b;
}

/** PERSISTENT RESERVE IN (SPC-4 §6.14). */
export function persistentReserveIn(c: Ctx): ScsiResult {
  const cdb = c.cdb as PrInCdb;
  const pr = c.lu.pr;
  const head = (additional: number): Buffer => {
    const h = Buffer.alloc(8);
    h.writeUInt32BE(pr.generation >>> 0, 0);
    h.writeUInt32BE(additional, 4);
    return h;
  };
  let data: Buffer;
  switch (cdb.action) {
    case PrInAction.READ_KEYS: {
      const keys = [...pr.registrations.values()].map((r) => {
        const b = Buffer.alloc(8);
        b.writeBigUInt64BE(r.key);
        return b;
      });
      data = Buffer.concat([head(8 * keys.length), ...keys]);
      break;
    }
    case PrInAction.READ_RESERVATION: {
      const r = pr.reservation;
      if (!r) {
        data = head(0);
        break;
      }
      const d = Buffer.alloc(16);
      if (!allRegistrants(r.type)) d.writeBigUInt64BE(pr.registrations.get(r.holder)?.key ?? 0n, 0);
      d[13] = r.type; // SCOPE 0 (LU_SCOPE)
      data = Buffer.concat([head(16), d]);
      break;
    }
    case PrInAction.REPORT_CAPABILITIES: {
      data = Buffer.alloc(8);
      data.writeUInt16BE(8, 0);
      data[2] = 0x10; // CRH: RESERVE/RELEASE handled as SPC-4 §5.13 says; SIP_C, ATP_C, PTPL_C 0
      data[3] = 0x80; // TMV: the type mask is valid; PTPL_A 0
      data[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02; // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
      data[5] = 0x01; // EX_AC_AR
      break;
    }
    default: {
      // READ FULL STATUS (SPC-4 §6.14.5): one descriptor per registration.
      const descs = [...pr.registrations.entries()].map(([k, r]) => {
        const tid = transportIdOf(r.initiatorPort);
        const d = Buffer.alloc(24);
        d.writeBigUInt64BE(r.key, 0);
        if (pr.isHolder(k)) {
          d[12] = 0x01; // R_HOLDER
          d[13] = pr.reservation!.type;
        }
        d.writeUInt16BE(relativePortOf(r.targetPort), 18);
        d.writeUInt32BE(tid.length, 20);
        return Buffer.concat([d, tid]);
      });
      const body = Buffer.concat(descs);
      data = Buffer.concat([head(body.length), body]);
    }
  }
  return good(data, cdb.allocationLength);
}

// ---- PERSISTENT RESERVE OUT -------------------------------------------------------------------

/** Removes a registration; releases the reservation when its holder goes (SPC-4 §5.12.11.2.3). */
function unregister(lu: ScsiLu, key: string): void {
  const pr = lu.pr;
  const wasHolder = pr.reservation !== undefined && !allRegistrants(pr.reservation.type) && pr.reservation.holder === key;
  pr.registrations.delete(key);
  const r = pr.reservation;
  if (!r) return;
  if (allRegistrants(r.type)) {
    if (pr.registrations.size === 0) pr.reservation = undefined;
    return;
  }
  if (wasHolder) {
    pr.reservation = undefined;
    if (registrantsOnly(r.type)) for (const k of pr.registrations.keys()) lu.setUa(k, Asc.RESERVATIONS_RELEASED);
  }
}

/** Removes every registration with reservation key `sark` but the caller's; UA REGISTRATIONS PREEMPTED for them. Returns how many. */
function preemptKey(lu: ScsiLu, sark: bigint, self: string): number {
  let n = 0;
  for (const [k, r] of [...lu.pr.registrations]) {
    if (r.key !== sark || k === self) continue;
    lu.pr.registrations.delete(k);
    lu.setUa(k, Asc.REGISTRATIONS_PREEMPTED);
    n++;
  }
  return n;
}

/** The nexus key a REGISTER AND MOVE TransportID and relative port name: a logged-in nexus, or one on this target port. */
function destinationOf(c: Ctx, name: string, isid: string | undefined, relPort: number): { key: string; initiatorPort: string; targetPort: string } {
  if (isid === undefined) throw invalidFieldInParameterList(24, 7, 'REGISTER AND MOVE needs a TransportID with an ISID (format 01b)');
  const initiatorPort = `${name},i,0x${isid}`;
  for (const n of c.lu.nexusList().values()) {
    if (n.initiatorPort.toLowerCase() === initiatorPort.toLowerCase() && relativePortOf(n.targetPort) === relPort) {
      return { key: `${n.initiatorPort}|${n.targetPort}`, initiatorPort: n.initiatorPort, targetPort: n.targetPort };
    }
  }
  const targetPort = c.task.nexus.targetPort;
  if (relativePortOf(targetPort) !== relPort) throw invalidFieldInParameterList(18, undefined, `relative target port ${relPort} unknown`);
  return { key: `${initiatorPort}|${targetPort}`, initiatorPort, targetPort };
}

/** PERSISTENT RESERVE OUT (SPC-4 §6.15, §5.12.5-5.12.11). */
export function persistentReserveOut(c: Ctx): ScsiResult {
  const cdb = c.cdb as PrOutCdb;
  const lu = c.lu;
  const pr = lu.pr;
  const data = c.task.dataOut ?? Buffer.alloc(0);
  if (data.length < cdb.parameterListLength) throw parameterListLengthError('PR OUT Data-Out shorter than PARAMETER LIST LENGTH');
  const p = decodePrOutList(cdb.action, data.subarray(0, cdb.parameterListLength));
  if (p.specIPt) throw invalidFieldInParameterList(20, 3, 'SPEC_I_PT not supported');
  if (p.allTgPt) throw invalidFieldInParameterList(20, 2, 'ALL_TG_PT not supported');
  if (p.aptpl) throw invalidFieldInParameterList(cdb.action === PrOutAction.REGISTER_AND_MOVE ? 17 : 20, 0, 'APTPL not supported');
  const self = c.key;
  const reg = pr.registrations.get(self);
  const nexus = c.task.nexus;

  if (cdb.action === PrOutAction.REGISTER || cdb.action === PrOutAction.REGISTER_AND_IGNORE_EXISTING_KEY) {
    if (cdb.action === PrOutAction.REGISTER && p.reservationKey !== (reg?.key ?? 0n)) throw reservationConflict();
    if (p.serviceActionReservationKey === 0n) {
      if (reg) unregister(lu, self);
    } else if (reg) reg.key = p.serviceActionReservationKey;
    else {
      checkRoom(pr, self);
      pr.registrations.set(self, { key: p.serviceActionReservationKey, initiatorPort: nexus.initiatorPort, targetPort: nexus.targetPort });
    }
    pr.generation = (pr.generation + 1) >>> 0;
    return good();
  }

  // Every other service action needs a registration whose key is RESERVATION KEY.
  if (!reg || reg.key !== p.reservationKey) throw reservationConflict();
  const r = pr.reservation;
  switch (cdb.action) {
    case PrOutAction.RESERVE:
      if (r) {
        if (pr.isHolder(self) && r.type === cdb.type) return good();
        throw reservationConflict();
      }
      pr.reservation = { type: cdb.type, holder: self };
      return good();
    case PrOutAction.RELEASE:
      if (!r || !pr.isHolder(self)) return good();
      if (r.type !== cdb.type) throw checkCondition('RELEASE of another type', SenseKey.ILLEGAL_REQUEST, [0x26, 0x04]);
      pr.reservation = undefined;
      if (registrantsOnly(r.type) || allRegistrants(r.type)) for (const k of pr.registrations.keys()) if (k !== self) lu.setUa(k, Asc.RESERVATIONS_RELEASED);
      return good();
    case PrOutAction.CLEAR:
      for (const k of pr.registrations.keys()) if (k !== self) lu.setUa(k, Asc.RESERVATIONS_PREEMPTED);
      pr.registrations.clear();
      pr.reservation = undefined;
      pr.generation = (pr.generation + 1) >>> 0;
      return good();
    case PrOutAction.PREEMPT:
    case PrOutAction.PREEMPT_AND_ABORT: {
      const sark = p.serviceActionReservationKey;
      if (r && allRegistrants(r.type) && sark === 0n) {
        // Every other registration goes; the caller holds a new reservation of the CDB's type.
        for (const k of [...pr.registrations.keys()]) {
          if (k === self) continue;
          pr.registrations.delete(k);
          lu.setUa(k, Asc.REGISTRATIONS_PREEMPTED);
        }
        pr.reservation = { type: cdb.type, holder: self };
      } else if (r && !allRegistrants(r.type) && pr.registrations.get(r.holder)?.key === sark) {
        // Preempting the holder: its registrations go and the caller takes the reservation.
        const typeChanged = r.type !== cdb.type;
        preemptKey(lu, sark, self);
        pr.reservation = { type: cdb.type, holder: self };
        if (typeChanged) for (const k of pr.registrations.keys()) if (k !== self) lu.setUa(k, Asc.RESERVATIONS_RELEASED);
      } else {
        if (sark === 0n) throw invalidFieldInParameterList(8, undefined, 'SERVICE ACTION RESERVATION KEY 0');
        if (preemptKey(lu, sark, self) === 0) throw reservationConflict();
      }
      pr.generation = (pr.generation + 1) >>> 0;
      return good();
    }
    default: {
      // REGISTER AND MOVE (SPC-4 §5.12.8): the caller must hold a reservation that is not of an ALL REGISTRANTS type.
      if (!r || allRegistrants(r.type) || r.holder !== self) throw reservationConflict();
      if (p.serviceActionReservationKey === 0n) throw invalidFieldInParameterList(8, undefined, 'SERVICE ACTION RESERVATION KEY 0');
      const tid = p.transportIds[0]!;
      const dest = destinationOf(c, tid.name, tid.isid, p.relativeTargetPortId ?? 0);
      if (dest.key === self) throw invalidFieldInParameterList(24, undefined, 'REGISTER AND MOVE to the same I_T nexus');
      checkRoom(pr, dest.key);
      pr.registrations.set(dest.key, { key: p.serviceActionReservationKey, initiatorPort: dest.initiatorPort, targetPort: dest.targetPort });
      pr.reservation = { type: r.type, holder: dest.key };
      if (p.unreg) pr.registrations.delete(self);
      pr.generation = (pr.generation + 1) >>> 0;
      return good();
    }
  }
}

// ---- RESERVE(6) / RELEASE(6) (SPC-2 §7.21, §7.18) ----------------------------------------------

/** RESERVE(6): the LU is reserved for this nexus (again is fine); held by another: RESERVATION CONFLICT (checked by the dispatcher). */
export function reserve6(c: Ctx): ScsiResult {
  if (c.lu.reserve6 !== undefined && c.lu.reserve6 !== c.key) throw reservationConflict();
  c.lu.reserve6 = c.key;
  return good();
}

/** RELEASE(6): releases this nexus's reservation; from another nexus it does nothing and answers GOOD (SPC-2 §7.18). */
export function release6(c: Ctx): ScsiResult {
  if (c.lu.reserve6 === c.key) c.lu.reserve6 = undefined;
  return good();
}
