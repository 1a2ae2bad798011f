/** EXTENDED COPY(LID1) between LUs of one target and RECEIVE COPY RESULTS: copies, limits, descriptor errors, copy aborts, held results. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { SenseKey } from '../wire/scsi.js';
import { createTargetDevices } from './index.js';
import { MemoryVolume } from './memory-volume.js';
import { naaId } from './spc.js';
import type { ScsiLu } from './lu.js';
import { cdb, nexus, ok, read10, senseOf, write10 } from './test-util.js';

function cscd(lu: ScsiLu, opts: { type?: number; nul?: boolean; blockLength?: number } = {}): Buffer {
  const d = Buffer.alloc(32);
  d[0] = opts.type ?? 0xe4;
  d[1] = opts.nul ? 0x20 : 0;
  d[4] = 0x01; // binary
  d[5] = 0x03; // NAA, LU
  const id = naaId(lu);
  d[7] = id.length;
  id.copy(d, 8);
  d.writeUIntBE(opts.blockLength ?? lu.blockSize, 29, 3);
  return d;
}
function b2b(src: number, dst: number, blocks: number, srcLba: bigint, dstLba: bigint, type = 0x02): Buffer {
  const d = Buffer.alloc(28);
  d[0] = type;
  d.writeUInt16BE(0x18, 2);
  d.writeUInt16BE(src, 4);
  d.writeUInt16BE(dst, 6);
  d.writeUInt16BE(blocks, 10);
  d.writeBigUInt64BE(srcLba, 12);
  d.writeBigUInt64BE(dstLba, 20);
  return d;
}
function list(targets: Buffer[], segments: Buffer[], listId = 1, usage = 0): Buffer {
  const h = Buffer.alloc(16);
  h[0] = listId;
  h[1] = usage << 3;
  const t = Buffer.concat(targets);
  const s = Buffer.concat(segments);
  h.writeUInt16BE(t.length, 2);
  h.writeUInt32BE(s.length, 8);
  return Buffer.concat([h, t, s]);
}
const xcopy = (len: number): Buffer => {
  const b = cdb(16, 0x83);
  b.writeUInt32BE(len, 10);
  return b;
};
const rcr = (sa: number, listId = 0): Buffer => {
  const b = cdb(16, 0x84, sa, listId);
  b.writeUInt32BE(1024, 10);
  return b;
};

async function twoLuns() {
  const v0 = new MemoryVolume({ sizeBytes: 1 << 20 });
  const v1 = new MemoryVolume({ sizeBytes: 1 << 20 });
  const dev = createTargetDevices(new Map([[0, v0], [1, v1]]), { targetName: 'iqn.2026-11.test:xcopy' });
  const n = nexus();
  for (const l of [0, 1]) dev.lu(l)!.nexusAdded(n);
  const run = (c: Buffer, data?: Buffer, lun = 0) => dev.execute({ nexus: n, lun, cdb: c, dataInLength: 1 << 20, attr: 0, ...(data ? { dataOut: data } : {}) });
  for (const l of [0, 1]) senseOf(await run(cdb(6, 0), undefined, l));
  return { dev, run, lu0: dev.lu(0) as ScsiLu, lu1: dev.lu(1) as ScsiLu };
}

test('EXTENDED COPY copies within an LU and to another LU of the target; COPY STATUS of a held list; OPERATING PARAMETERS', async () => {
  const { run, lu0, lu1 } = await twoLuns();
  const data = randomBytes(64 * 512);
  ok(await run(write10(0, 64), data));
  const l = list([cscd(lu0), cscd(lu1)], [b2b(0, 0, 64, 0n, 1000n), b2b(0, 1, 64, 0n, 5n)], 7);
  ok(await run(xcopy(l.length), l));
  assert.deepEqual(ok(await run(read10(1000, 64))), data);
  assert.deepEqual(ok(await run(read10(5, 64), undefined, 1)), data);
  const st = ok(await run(rcr(0, 7)));
  assert.deepEqual([st.readUInt32BE(0), st[4], st.readUInt16BE(5), st[7], st.readUInt32BE(8)], [8, 1, 2, 0xf1, 64]);
  assert.equal(senseOf(await run(rcr(0, 8))).asc, 0x24);
  const op = ok(await run(rcr(3)));
  assert.deepEqual([op.readUInt16BE(8), op.readUInt16BE(10), op.readUInt32BE(12), op[43], op[44], op[45]], [2, 8, 288, 2, 0x02, 0xe4]);
  ok(await run(xcopy(0)));
});

test('EXTENDED COPY errors: lengths, counts, descriptor types, then copy aborts (NUL, index, end of LU) with earlier segments kept', async () => {
  const { run, lu0 } = await twoLuns();
  const good = list([cscd(lu0)], [b2b(0, 0, 8, 0n, 100n)]);
  const s = async (l: Buffer, len = l.length) => senseOf(await run(xcopy(len), l));
  assert.equal((await s(good, 47)).asc, 0x1a);
  assert.equal((await s(good.subarray(0, 10), 10)).asc, 0x1a);
  assert.deepEqual([(await s(list([cscd(lu0), cscd(lu0), cscd(lu0)], [b2b(0, 0, 1, 0n, 1n)]))).ascq], [0x06]);
  assert.deepEqual([(await s(list([cscd(lu0)], Array.from({ length: 9 }, () => b2b(0, 0, 1, 0n, 1n))))).ascq], [0x08]);
  assert.equal((await s(list([cscd(lu0), cscd(lu0), cscd(lu0)], Array.from({ length: 9 }, () => b2b(0, 0, 1, 0n, 1n))))).asc, 0x1a);
  assert.deepEqual([(await s(list([cscd(lu0, { type: 0xe0 })], [b2b(0, 0, 1, 0n, 1n)]))).ascq], [0x07]);
  assert.deepEqual([(await s(list([cscd(lu0)], [b2b(0, 0, 1, 0n, 1n, 0x03)]))).ascq], [0x09]);
  const nul = await s(list([cscd(lu0, { nul: true })], [b2b(0, 0, 1, 0n, 1n)]));
  assert.deepEqual([nul.key, nul.asc, nul.ascq], [SenseKey.COPY_ABORTED, 0x0d, 0x02]);
  const idx = await s(list([cscd(lu0)], [b2b(0, 1, 1, 0n, 1n)]));
  assert.deepEqual([idx.key, idx.asc, idx.ascq], [SenseKey.COPY_ABORTED, 0x08, 0x04]);
  ok(await run(write10(0, 1), Buffer.alloc(512, 0x5a)));
  const eol = await s(list([cscd(lu0)], [b2b(0, 0, 1, 0n, 50n), b2b(0, 0, 8, 0n, 2047n)], 3));
  assert.deepEqual([eol.key, eol.information], [SenseKey.COPY_ABORTED, 1]);
  assert.equal(ok(await run(read10(50, 1)))[0], 0x5a);
  assert.deepEqual([ok(await run(rcr(0, 3)))[4], ok(await run(rcr(0, 3))).readUInt16BE(5)], [2, 1]);
  assert.equal((await s(list([cscd(lu0, { blockLength: 4096 })], [b2b(0, 0, 1, 0n, 1n)]))).asc, 0x26);
});

test('EXTENDED COPY to a read-only LU is WRITE PROTECTED', async () => {
  const v0 = new MemoryVolume({ sizeBytes: 1 << 20, readOnly: true });
  const dev = createTargetDevices(new Map([[0, v0]]));
  const n = nexus();
  dev.lu(0)!.nexusAdded(n);
  const lu0 = dev.lu(0) as ScsiLu;
  const run = (c: Buffer, data?: Buffer) => dev.execute({ nexus: n, lun: 0, cdb: c, dataInLength: 1 << 20, attr: 0, ...(data ? { dataOut: data } : {}) });
  senseOf(await run(cdb(6, 0)));
  const l = list([cscd(lu0)], [b2b(0, 0, 1, 0n, 1n)]);
  assert.equal(senseOf(await run(xcopy(l.length), l)).key, SenseKey.DATA_PROTECT);
});
