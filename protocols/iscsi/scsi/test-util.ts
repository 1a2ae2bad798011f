/** Helpers of the SCSI device layer's tests: a nexus, CDB builders, running a command and reading its sense. */
import assert from 'node:assert/strict';
import type { Nexus, ScsiResult } from '../device.js';
import { parseSense, ScsiStatus, type Sense } from '../wire/scsi.js';
import { createTargetDevices, type ScsiTargetDevices, type TargetDevicesOptions } from './index.js';
import { MemoryVolume, type MemoryVolumeOptions } from './memory-volume.js';

let nextId = 1;
/** A nexus for initiator `name` with ISID `isid`. */
export function nexus(name = 'iqn.2026-11.test:init1', isid = '400001370000', tpgt = 1): Nexus {
  return { initiatorName: name, initiatorPort: `${name},i,0x${isid}`, targetPort: `iqn.2026-11.test:target,t,0x${tpgt.toString(16).padStart(4, '0')}`, id: nextId++ };
}

/** A CDB from hex (spaces allowed). */
export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** A CDB from bytes, padded to `len`. */
export function cdb(len: number, ...bytes: number[]): Buffer {
  const b = Buffer.alloc(len);
  bytes.forEach((v, i) => (b[i] = v));
  return b;
}

export const read10 = (lba: number, blocks: number, flags = 0): Buffer => {
  const b = cdb(10, 0x28, flags);
  b.writeUInt32BE(lba, 2);
  b.writeUInt16BE(blocks, 7);
  return b;
};
export const write10 = (lba: number, blocks: number, flags = 0): Buffer => {
  const b = cdb(10, 0x2a, flags);
  b.writeUInt32BE(lba, 2);
  b.writeUInt16BE(blocks, 7);
  return b;
};
export const rw16 = (op: number, lba: bigint, blocks: number, flags = 0): Buffer => {
  const b = cdb(16, op, flags);
  b.writeBigUInt64BE(lba, 2);
  b.writeUInt32BE(blocks, 10);
  return b;
};

/** A target with one LUN (0) on a memory volume, and a logged-in nexus whose POWER ON unit attention is consumed. */
export async function setup(vol: Partial<MemoryVolumeOptions> = {}, opts: TargetDevicesOptions = {}): Promise<{
  dev: ScsiTargetDevices; volume: MemoryVolume; n: Nexus; run: (c: Buffer, dataOut?: Buffer, n?: Nexus, lun?: number) => Promise<ScsiResult>;
}> {
  const volume = new MemoryVolume({ sizeBytes: 1 << 20, ...vol });
  const dev = createTargetDevices(new Map([[0, volume]]), { targetName: 'iqn.2026-11.test:target', ...opts });
  const n = nexus();
  dev.lu(0)!.nexusAdded(n);
  const run = (c: Buffer, dataOut?: Buffer, who: Nexus = n, lun = 0): Promise<ScsiResult> =>
    dev.execute({ nexus: who, lun, cdb: c, dataInLength: 1 << 24, attr: 0, ...(dataOut ? { dataOut } : {}) });
  const ua = await run(cdb(6, 0));
  assert.equal(ua.status, ScsiStatus.CHECK_CONDITION);
  return { dev, volume, n, run };
}

/** The sense of a CHECK CONDITION result (fails otherwise). */
export function senseOf(r: ScsiResult): Sense {
  assert.equal(r.status, ScsiStatus.CHECK_CONDITION, `status 0x${r.status.toString(16)}`);
  assert.ok(r.sense);
  return parseSense(r.sense);
}

/** Asserts GOOD and returns the Data-In. */
export function ok(r: ScsiResult): Buffer {
  assert.equal(r.status, ScsiStatus.GOOD, r.sense ? `sense ${r.sense.toString('hex')}` : `status 0x${r.status.toString(16)}`);
  return r.dataInParts ? Buffer.concat(r.dataInParts) : r.dataIn ?? Buffer.alloc(0);
}
