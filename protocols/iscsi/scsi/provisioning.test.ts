/** UNMAP, WRITE SAME, GET LBA STATUS, COMPARE AND WRITE (atomic against overlapping writes), ORWRITE, REPORT SUPPORTED OPERATION CODES. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { encodeUnmapList, ScsiStatus, SenseKey } from '../wire/scsi.js';
import { cdb, ok, read10, rw16, senseOf, setup, write10 } from './test-util.js';

const unmapCdb = (len: number, anchor = false): Buffer => {
  const b = cdb(10, 0x42, anchor ? 1 : 0);
  b.writeUInt16BE(len, 7);
  return b;
};
const ws10 = (lba: number, blocks: number, flags = 0): Buffer => {
  const b = cdb(10, 0x41, flags);
  b.writeUInt32BE(lba, 2);
  b.writeUInt16BE(blocks, 7);
  return b;
};
const glbas = (lba: bigint, alloc = 4096): Buffer => {
  const b = cdb(16, 0x9e, 0x12);
  b.writeBigUInt64BE(lba, 2);
  b.writeUInt32BE(alloc, 10);
  return b;
};
const caw = (lba: bigint, blocks: number): Buffer => {
  const b = cdb(16, 0x89);
  b.writeBigUInt64BE(lba, 2);
  b[13] = blocks;
  return b;
};
const statuses = (d: Buffer): [bigint, number, number][] => {
  const out: [bigint, number, number][] = [];
  for (let o = 8; o + 16 <= d.length; o += 16) out.push([d.readBigUInt64BE(o), d.readUInt32BE(o + 8), d[o + 12]!]);
  return out;
};

test('UNMAP frees whole records (GET LBA STATUS shows deallocated), reads zeros; limits and ranges refused with nothing unmapped', async () => {
  const { run, volume } = await setup({ recordSize: 4096 }); // 8 blocks per record
  ok(await run(write10(0, 32), randomBytes(32 * 512)));
  assert.equal(volume.allocatedRecords(), 4);
  const list = encodeUnmapList([{ lba: 8n, blocks: 16 }, { lba: 30n, blocks: 1 }]);
  ok(await run(unmapCdb(list.length), list));
  assert.equal(volume.allocatedRecords(), 2);
  assert.deepEqual(ok(await run(read10(8, 16))), Buffer.alloc(16 * 512));
  assert.deepEqual(ok(await run(read10(30, 1))), Buffer.alloc(512));
  const st = statuses(ok(await run(glbas(0n))));
  assert.deepEqual(st.slice(0, 3), [[0n, 8, 0], [8n, 16, 1], [24n, 8, 0]]);
  assert.deepEqual(statuses(ok(await run(glbas(10n)))).slice(0, 1), [[10n, 14, 1]]);
  assert.equal(ok(await run(glbas(0n, 24))).length, 24);
  assert.equal(senseOf(await run(glbas(2048n))).asc, 0x21);
  // A bad descriptor anywhere: nothing unmapped.
  const bad = encodeUnmapList([{ lba: 0n, blocks: 8 }, { lba: 2047n, blocks: 2 }]);
  assert.equal(senseOf(await run(unmapCdb(bad.length), bad)).asc, 0x21);
  assert.equal(volume.allocatedRecords(), 2);
  const many = encodeUnmapList(Array.from({ length: 257 }, (_, i) => ({ lba: BigInt(i), blocks: 1 })));
  assert.equal(senseOf(await run(unmapCdb(many.length), many)).asc, 0x26);
  assert.equal(senseOf(await run(unmapCdb(list.length, true), list)).asc, 0x24);
  ok(await run(unmapCdb(0)));
  assert.equal(senseOf(await run(unmapCdb(6), Buffer.alloc(6))).asc, 0x1a);
  const ro = await setup({ readOnly: true });
  assert.equal(senseOf(await ro.run(unmapCdb(list.length), list)).key, SenseKey.DATA_PROTECT);
});

test('WRITE SAME(10/16): one block repeated, UNMAP=1 deallocates (reads zeros whatever the data), NDOB, 0 blocks and wrong Data-Out sizes refused', async () => {
  const { run, volume } = await setup({ recordSize: 4096 });
  const blk = randomBytes(512);
  ok(await run(ws10(5, 300), blk));
  const back = ok(await run(read10(5, 300)));
  for (let i = 0; i < 300; i++) assert.deepEqual(back.subarray(i * 512, (i + 1) * 512), blk);
  assert.deepEqual(ok(await run(read10(305, 1))), Buffer.alloc(512));
  ok(await run(ws10(8, 16, 0x08), Buffer.alloc(512, 0xff)));
  assert.deepEqual(ok(await run(read10(8, 16))), Buffer.alloc(16 * 512));
  assert.equal(statuses(ok(await run(glbas(8n))))[0]![2], 1);
  const ws16 = rw16(0x93, 400n, 8, 0x01); // NDOB
  ok(await run(ws16));
  assert.deepEqual(ok(await run(read10(400, 8))), Buffer.alloc(8 * 512));
  assert.equal(senseOf(await run(ws10(0, 0), blk)).asc, 0x24);
  assert.equal(senseOf(await run(ws10(0, 1, 0x08), Buffer.alloc(256))).asc, 0x24);
  assert.equal(senseOf(await run(ws10(0, 1, 0x08), Buffer.alloc(1024))).asc, 0x24);
  assert.equal(senseOf(await run(ws10(2048, 1), blk)).asc, 0x21);
  assert.equal(senseOf(await run(ws10(0, 1, 0x20), blk)).asc, 0x24);
  assert.equal(senseOf(await run(ws10(0, 1, 0x18), blk)).asc, 0x24); // ANCHOR
  const writes = volume.stats.writes;
  assert.equal(senseOf(await run(ws10(0, 65535), blk)).key, SenseKey.ILLEGAL_REQUEST);
  assert.equal(volume.stats.writes, writes);
});

test('COMPARE AND WRITE: equal → written; different → MISCOMPARE at the byte offset, nothing written; Data-Out size must be 2 × blocks', async () => {
  const { run } = await setup();
  const a = randomBytes(1024);
  const b = randomBytes(1024);
  ok(await run(write10(10, 2), a));
  ok(await run(caw(10n, 2), Buffer.concat([a, b])));
  assert.deepEqual(ok(await run(read10(10, 2))), b);
  const wrong = Buffer.from(b);
  wrong[600] = wrong[600]! ^ 0xff;
  assert.deepEqual(senseOf(await run(caw(10n, 2), Buffer.concat([wrong, a]))), { key: SenseKey.MISCOMPARE, asc: 0x1d, ascq: 0, information: 600 });
  assert.deepEqual(ok(await run(read10(10, 2))), b);
  assert.equal(senseOf(await run(caw(10n, 1), Buffer.alloc(4 * 512))).key, SenseKey.ILLEGAL_REQUEST);
  assert.equal(senseOf(await run(caw(10n, 3), Buffer.alloc(4 * 512))).key, SenseKey.ILLEGAL_REQUEST);
  assert.equal(senseOf(await run(caw(2047n, 2), Buffer.alloc(4 * 512))).asc, 0x21);
  ok(await run(caw(0n, 0)));
  // 256 blocks wrap the 8-bit field to 0: the Data-Out of 256 blocks then disagrees and is refused (libiscsi CompareAndWrite.Simple).
  assert.equal(senseOf(await run(caw(0n, 0), Buffer.alloc(2 * 256 * 512))).asc, 0x24);
});

test('COMPARE AND WRITE is atomic: overlapping writes issued while it runs wait; many concurrent CAWs on one block: exactly one wins per value', async () => {
  const { run, volume } = await setup();
  ok(await run(write10(0, 1), Buffer.alloc(512, 0)));
  // A slow volume read lets the writes race the compare.
  const origRead = volume.read.bind(volume);
  volume.read = async (o, l) => {
    const r = await origRead(o, l);
    await new Promise((res) => setTimeout(res, 5));
    return r;
  };
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => run(caw(0n, 1), Buffer.concat([Buffer.alloc(512, 0), Buffer.alloc(512, i + 1)]))));
  assert.equal(results.filter((r) => r.status === ScsiStatus.GOOD).length, 1);
  assert.equal(results.filter((r) => r.status === ScsiStatus.CHECK_CONDITION).length, 7);
  const winner = ok(await run(read10(0, 1)))[0]!;
  // A CAW and a plain write to the same block: the write lands after the CAW's compare-and-write, never between.
  const p1 = run(caw(0n, 1), Buffer.concat([Buffer.alloc(512, winner), Buffer.alloc(512, 0xaa)]));
  const p2 = run(write10(0, 1), Buffer.alloc(512, 0xbb));
  ok(await p1);
  ok(await p2);
  assert.equal(ok(await run(read10(0, 1)))[0], 0xbb);
});

test('ORWRITE(16) ORs the Data-Out into the medium', async () => {
  const { run } = await setup();
  ok(await run(write10(3, 1), Buffer.alloc(512, 0x0f)));
  ok(await run(rw16(0x8b, 3n, 1), Buffer.alloc(512, 0xf0)));
  assert.deepEqual(ok(await run(read10(3, 1))), Buffer.alloc(512, 0xff));
  assert.equal(senseOf(await run(rw16(0x8b, 2048n, 1), Buffer.alloc(512))).asc, 0x21);
});

test('REPORT SUPPORTED OPERATION CODES: all (with service actions, RCTD), one command with its usage data, unknown → not supported, wrong option → invalid', async () => {
  const { run } = await setup();
  const rsoc = (opts: number, op = 0, sa = 0): Buffer => {
    const b = cdb(12, 0xa3, 0x0c, opts, op);
    b.writeUInt16BE(sa, 4);
    b.writeUInt32BE(65535, 6);
    return b;
  };
  const all = ok(await run(rsoc(0)));
  assert.equal(all.readUInt32BE(0), all.length - 4);
  const descs = new Map<string, Buffer>();
  for (let o = 4; o < all.length; o += 8) descs.set(`${all[o]!.toString(16)}/${all.readUInt16BE(o + 2)}`, all.subarray(o, o + 8));
  assert.equal(descs.get('28/0')!.readUInt16BE(6), 10);
  assert.equal(descs.get('28/0')![5], 0);
  assert.equal(descs.get('9e/16')![5], 1);
  assert.equal(descs.get('9e/18')![5], 1);
  assert.ok(descs.has('5f/7') && descs.has('42/0') && descs.has('89/0'));
  const withTimeouts = ok(await run(rsoc(0x80)));
  assert.equal((withTimeouts.length - 4) % 20, 0);
  const one = ok(await run(rsoc(1, 0x28)));
  assert.equal(one[1]! & 7, 3);
  assert.equal(one.readUInt16BE(2), 10);
  assert.equal(one[4], 0x28);
  assert.equal(one[5]! & 0x18, 0x18); // DPO, FUA
  const sa = ok(await run(rsoc(2, 0x9e, 0x10)));
  assert.deepEqual([sa[1]! & 7, sa.readUInt16BE(2), sa[4], sa[5]], [3, 16, 0x9e, 0x10]);
  assert.equal(ok(await run(rsoc(1, 0xe7)))[1]! & 7, 1);
  assert.equal(senseOf(await run(rsoc(1, 0x9e))).asc, 0x24);
  assert.equal(senseOf(await run(rsoc(2, 0x28))).asc, 0x24);
  assert.equal(ok(await run(rsoc(0x81, 0x28))).length, 4 + 10 + 12);
});
