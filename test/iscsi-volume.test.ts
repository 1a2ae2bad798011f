// The SCSI device layer (protocols/iscsi/scsi) over real block volumes (vfs/volumes.ts) instead
// of its MemoryVolume: READ/WRITE with FUA, UNMAP and GET LBA STATUS against the volume's
// records and used bytes, SYNCHRONIZE CACHE, a snapshot LUN that is write protected, and a
// resize reported as CAPACITY DATA HAS CHANGED through Volumes.watch.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { createTargetDevices } from '../protocols/iscsi/scsi/index.js';
import { cdb, ok, senseOf as sense } from '../protocols/iscsi/scsi/test-util.js';
import type { Nexus, ScsiResult } from '../protocols/iscsi/device.js';
import { parseSense, ScsiStatus, SenseKey } from '../protocols/iscsi/wire/scsi.js';
import { createMemoryVfs, openVolumes } from '../vfs/index.js';

const nexus: Nexus = { initiatorName: 'iqn.2026-11.test:init', initiatorPort: 'iqn.2026-11.test:init,i,0x400001370000', targetPort: 'iqn.2026-11.test:t,t,0x0001', id: 1 };

const rw10 = (op: number, lba: number, blocks: number, flags = 0) => {
  const b = cdb(10, op, flags);
  b.writeUInt32BE(lba, 2);
  b.writeUInt16BE(blocks, 7);
  return b;
};
const readCapacity16 = () => {
  const b = cdb(16, 0x9e, 0x10);
  b.writeUInt32BE(32, 10);
  return b;
};
const getLbaStatus = (lba: number) => {
  const b = cdb(16, 0x9e, 0x12);
  b.writeBigUInt64BE(BigInt(lba), 2);
  b.writeUInt32BE(4096, 10);
  return b;
};
function unmap(ranges: [lba: number, blocks: number][]): [Buffer, Buffer] {
  const list = Buffer.alloc(8 + 16 * ranges.length);
  list.writeUInt16BE(6 + 16 * ranges.length, 0);
  list.writeUInt16BE(16 * ranges.length, 2);
  ranges.forEach(([lba, n], i) => {
    list.writeBigUInt64BE(BigInt(lba), 8 + 16 * i);
    list.writeUInt32BE(n, 16 + 16 * i);
  });
  const c = cdb(10, 0x42);
  c.writeUInt16BE(list.length, 7);
  return [c, list];
}
/** GET LBA STATUS descriptors as [lba, blocks, status] (0 mapped, 1 deallocated). */
function statuses(d: Buffer): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let o = 8; o + 16 <= d.length; o += 16) out.push([Number(d.readBigUInt64BE(o)), d.readUInt32BE(o + 8), d[o + 12]! & 0xf]);
  return out;
}

test('the SCSI layer on real volumes: I/O, UNMAP, GET LBA STATUS, snapshot LUN, resize unit attention', async () => {
  const inst = await createMemoryVfs();
  const vols = openVolumes(inst);
  await vols.create('lun0', { sizeBytes: 1 << 20, recordSize: 4096 }); // 2048 blocks of 512, 8 per record
  const vol = await vols.open('lun0');
  const dev = createTargetDevices(new Map([[0, vol]]), { targetName: 'iqn.2026-11.test:t' });
  const lu = dev.lu(0)!;
  lu.nexusAdded(nexus);
  const run = (c: Buffer, dataOut?: Buffer, lun = 0): Promise<ScsiResult> => dev.execute({ nexus, lun, cdb: c, dataInLength: 1 << 24, attr: 0, ...(dataOut ? { dataOut } : {}) });
  sense(await run(cdb(6, 0))); // POWER ON unit attention, consumed

  const data = randomBytes(40 * 512);
  ok(await run(rw10(0x2a, 3, 40, 0x08), data)); // WRITE(10) FUA at an LBA not aligned to a record
  assert.ok(ok(await run(rw10(0x28, 3, 40))).equals(data));
  assert.ok((await vol.read(3 * 512, 40 * 512)).equals(data), 'the bytes are in the volume');
  ok(await run(cdb(10, 0x35))); // SYNCHRONIZE CACHE(10)
  const used = (await vols.get('lun0')).usedBytes;
  assert.ok(used > 5 * 4096 && used <= 6 * 4096, `records 0..5 hold LBAs 3..42 (${used} bytes)`);

  const [uc, ul] = unmap([[8, 24]]); // records 1..3 wholly
  ok(await run(uc, ul));
  assert.equal((await vols.get('lun0')).usedBytes, used - 3 * 4096);
  assert.ok(ok(await run(rw10(0x28, 8, 24))).equals(Buffer.alloc(24 * 512)));
  assert.deepEqual(statuses(ok(await run(getLbaStatus(0)))).slice(0, 4), [[0, 8, 0], [8, 24, 1], [32, 16, 0], [48, 2000, 1]]);

  // A snapshot LUN: old bytes, write protected.
  await vols.snapshot('lun0', 's');
  ok(await run(rw10(0x2a, 0, 8), Buffer.alloc(4096, 0xee)));
  const snap = await vols.open('lun0@s');
  dev.add(1, snap);
  lu.nexusAdded(nexus);
  dev.lu(1)!.nexusAdded(nexus);
  sense(await run(cdb(6, 0), undefined, 1)); // its POWER ON unit attention
  assert.ok(ok(await run(rw10(0x28, 3, 5, 0), undefined, 1)).equals(data.subarray(0, 5 * 512)));
  const s = sense(await run(rw10(0x2a, 0, 1), Buffer.alloc(512), 1));
  assert.equal(s.key, SenseKey.DATA_PROTECT);
  assert.equal(s.asc, 0x27); // WRITE PROTECTED

  // Resize: the watcher tells the LU, the initiator sees CAPACITY DATA HAS CHANGED, then the new size.
  const stop = vols.watch((name, what) => { if (name === 'lun0' && what === 'resize') lu.capacityChanged(); });
  await vols.resize('lun0', 2 << 20);
  let r = await run(readCapacity16());
  while (r.status === ScsiStatus.CHECK_CONDITION && parseSense(r.sense!).asc !== 0x2a) r = await run(readCapacity16()); // (REPORTED LUNS DATA HAS CHANGED first)
  const ua = sense(r);
  assert.equal(ua.key, SenseKey.UNIT_ATTENTION);
  assert.deepEqual([ua.asc, ua.ascq], [0x2a, 0x09]);
  const cap = ok(await run(readCapacity16()));
  assert.equal(Number(cap.readBigUInt64BE(0)), (2 << 20) / 512 - 1);
  assert.equal(cap.readUInt32BE(8), 512);
  stop();
  await snap.close();
  await vol.close();
  await inst.close();
});
