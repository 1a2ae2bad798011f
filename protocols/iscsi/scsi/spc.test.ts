/** SPC-4 commands of the device layer: INQUIRY (standard and VPD), REPORT LUNS, TEST UNIT READY, REQUEST SENSE, unit attentions, absent LUNs, MODE SENSE/SELECT. Bytes at their SPC-4/SBC-3 offsets. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Asc, ScsiStatus, SenseKey } from '../wire/scsi.js';
import { cdb, nexus, ok, senseOf, setup, write10 } from './test-util.js';

test('INQUIRY standard data: direct access, SPC-4, HISUP, CMDQUE, identification strings, version descriptors (SPC-4 6.6.2)', async () => {
  const { run } = await setup();
  const d = ok(await run(cdb(6, 0x12, 0, 0, 0, 96)));
  assert.equal(d.length, 96);
  assert.equal(d[0], 0x00);
  assert.equal(d[2], 0x06);
  assert.equal(d[3], 0x12);
  assert.equal(d[4], 91);
  assert.equal(d[7], 0x02);
  assert.equal(d.subarray(8, 16).toString(), 'DW      ');
  assert.equal(d.subarray(16, 32).toString().trim(), 'VOLUME');
  assert.deepEqual([0, 1, 2, 3].map((i) => d.readUInt16BE(58 + 2 * i)), [0x00a0, 0x0960, 0x0460, 0x04c0]);
  // Truncated to ALLOCATION LENGTH.
  assert.equal(ok(await run(cdb(6, 0x12, 0, 0, 0, 36))).length, 36);
  // Page code without EVPD, CMDDT: INVALID FIELD IN CDB.
  assert.deepEqual(senseOf(await run(cdb(6, 0x12, 0, 0x80, 0, 96))).asc, 0x24);
  assert.deepEqual(senseOf(await run(cdb(6, 0x12, 0x01, 0x99, 0, 96))).field, { cd: true, byte: 2 });
});

test('INQUIRY VPD 0x00, 0x80, 0x83 (NAA, T10, relative port, port group, name), 0xB0, 0xB1, 0xB2', async () => {
  const { run } = await setup({ recordSize: 65536 });
  const p0 = ok(await run(cdb(6, 0x12, 1, 0x00, 0, 255)));
  assert.deepEqual([...p0], [0, 0, 0, 6, 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2]);
  const p80 = ok(await run(cdb(6, 0x12, 1, 0x80, 0, 255)));
  assert.equal(p80[1], 0x80);
  assert.match(p80.subarray(4).toString(), /^[0-9a-f]{16}$/);
  const p83 = ok(await run(cdb(6, 0x12, 1, 0x83, 1, 0)));
  assert.equal(p83.readUInt16BE(2), p83.length - 4);
  const descs: { codeSet: number; assoc: number; type: number; id: Buffer }[] = [];
  for (let o = 4; o < p83.length;) {
    descs.push({ codeSet: p83[o]! & 0x0f, assoc: (p83[o + 1]! >> 4) & 3, type: p83[o + 1]! & 0x0f, id: p83.subarray(o + 4, o + 4 + p83[o + 3]!) });
    o += 4 + p83[o + 3]!;
  }
  const naa = descs.find((d) => d.type === 3)!;
  assert.equal(naa.assoc, 0);
  assert.equal(naa.id.length, 8);
  assert.equal(naa.id[0]! >> 4, 3);
  const t10 = descs.find((d) => d.type === 1)!;
  assert.equal(t10.id.subarray(0, 8).toString(), 'DW      ');
  assert.equal(t10.id.subarray(8).toString(), p80.subarray(4).toString());
  assert.equal(descs.find((d) => d.type === 4)!.id.readUInt16BE(2), 1);
  assert.equal(descs.find((d) => d.type === 5)!.assoc, 1);
  assert.match(descs.find((d) => d.type === 8)!.id.toString(), /^iqn\.2026-11\.test:target,t,0x0001\0/);

  const b0 = ok(await run(cdb(6, 0x12, 1, 0xb0, 0, 64)));
  assert.equal(b0[3], 0x3c);
  assert.equal(b0[5], 255); // MAXIMUM COMPARE AND WRITE LENGTH
  assert.equal(b0.readUInt16BE(6), 128); // 64 KiB records / 512
  assert.equal(b0.readUInt32BE(8), 16384); // 8 MiB
  assert.equal(b0.readUInt32BE(20), 1 << 20); // MAXIMUM UNMAP LBA COUNT
  assert.equal(b0.readUInt32BE(24), 256);
  assert.equal(b0.readUInt32BE(28), 128); // OPTIMAL UNMAP GRANULARITY
  assert.equal(b0.readBigUInt64BE(36), 65535n); // MAXIMUM WRITE SAME LENGTH (below 2^16)
  const b1 = ok(await run(cdb(6, 0x12, 1, 0xb1, 0, 64)));
  assert.equal(b1.readUInt16BE(4), 1);
  const b2 = ok(await run(cdb(6, 0x12, 1, 0xb2, 0, 64)));
  assert.equal(b2[5], 0xe4);
  assert.equal(b2[6]! & 7, 2);
  assert.equal(senseOf(await run(cdb(6, 0x12, 1, 0x99, 0, 64))).asc, 0x24);
});

test('REPORT LUNS lists the LUNs; an absent LUN answers INQUIRY with qualifier 011b and anything else LOGICAL UNIT NOT SUPPORTED', async () => {
  const { run } = await setup();
  const rl = cdb(12, 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0);
  const d = ok(await run(rl));
  assert.equal(d.readUInt32BE(0), 8);
  assert.deepEqual([...d.subarray(8, 16)], [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(ok(await run(rl, undefined, undefined, 7)), d);
  assert.equal(ok(await run(cdb(6, 0x12, 0, 0, 0, 96), undefined, undefined, 7))[0], 0x7f);
  const s = senseOf(await run(cdb(6, 0), undefined, undefined, 7));
  assert.deepEqual([s.key, s.asc], [SenseKey.ILLEGAL_REQUEST, 0x25]);
  assert.equal(ok(await run(cdb(6, 0x03, 0, 0, 0, 18), undefined, undefined, 7))[12], 0x25);
  assert.equal(senseOf(await run(cdb(12, 0xa0, 0, 9, 0, 0, 0, 0, 0, 1, 0))).asc, 0x24);
  assert.equal(senseOf(await run(cdb(12, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 8))).asc, 0x24);
});

test('unit attentions: POWER ON per nexus, reported once, REQUEST SENSE returns and clears one, INQUIRY ignores it; CAPACITY DATA HAS CHANGED', async () => {
  const { dev, run, n } = await setup();
  assert.equal(ok(await run(cdb(6, 0))).length, 0);
  const n2 = nexus('iqn.2026-11.test:init2');
  dev.lu(0)!.nexusAdded(n2);
  ok(await run(cdb(6, 0x12, 0, 0, 0, 36), undefined, n2));
  const rs = ok(await run(cdb(6, 0x03, 0, 0, 0, 252), undefined, n2));
  assert.deepEqual([rs[0], rs[2], rs[12], rs[13]], [0x70, SenseKey.UNIT_ATTENTION, 0x29, 0x00]);
  ok(await run(cdb(6, 0), undefined, n2));
  const rs2 = ok(await run(cdb(6, 0x03, 0, 0, 0, 252), undefined, n2));
  assert.deepEqual([rs2[2], rs2[12]], [SenseKey.NO_SENSE, 0]);
  dev.lu(0)!.capacityChanged();
  for (const who of [n, n2]) {
    const s = senseOf(await run(cdb(6, 0), undefined, who));
    assert.deepEqual([s.key, s.asc, s.ascq], [SenseKey.UNIT_ATTENTION, ...Asc.CAPACITY_DATA_HAS_CHANGED]);
    ok(await run(cdb(6, 0), undefined, who));
  }
  dev.lu(0)!.reset(n);
  assert.equal(senseOf(await run(cdb(6, 0))).asc, 0x29);
  assert.equal(senseOf(await run(cdb(6, 0), undefined, n2)).asc, 0x29);
  ok(await run(cdb(6, 0)));
  assert.equal(senseOf(await run(cdb(6, 0x03, 0x01, 0, 0, 18))).asc, 0x24); // DESC=1 not supported
});

test('unknown opcode: INVALID COMMAND OPERATION CODE with the pointer at byte 0', async () => {
  const { run } = await setup();
  const s = senseOf(await run(cdb(10, 0xe7)));
  assert.deepEqual(s, { key: SenseKey.ILLEGAL_REQUEST, asc: 0x20, ascq: 0, field: { cd: true, byte: 0 } });
});

test('MODE SENSE(6)/(10): header, block descriptor, caching/control/IE pages, all pages, changeable, DBD, LLBAA, saved refused', async () => {
  const { run } = await setup();
  const all6 = ok(await run(cdb(6, 0x1a, 0, 0x3f, 0, 255)));
  assert.equal(all6[0], all6.length - 1);
  assert.equal(all6[2], 0x10); // DPOFUA, not WP
  assert.equal(all6[3], 8);
  assert.equal(all6.readUInt32BE(4), 2048);
  assert.equal(all6.readUInt32BE(8) & 0xffffff, 512);
  const pages = new Map<number, Buffer>();
  for (let o = 12; o < all6.length; o += 2 + all6[o + 1]!) pages.set(all6[o]! & 0x3f, all6.subarray(o, o + 2 + all6[o + 1]!));
  assert.deepEqual([...pages.keys()], [0x01, 0x08, 0x0a, 0x1c]);
  assert.equal(pages.get(0x08)![1], 0x12);
  assert.equal(pages.get(0x08)![2]! & 0x04, 0x04); // WCE
  assert.equal(pages.get(0x0a)![1], 0x0a);
  const ch = ok(await run(cdb(6, 0x1a, 0x08, 0x48, 0, 255)));
  assert.equal(ch[3], 0);
  assert.deepEqual([ch[4], ch[5], ch[6]], [0x08, 0x12, 0x04]);
  const ten = ok(await run(cdb(10, 0x5a, 0x10, 0x0a, 0, 0, 0, 0, 0, 255)));
  assert.equal(ten.readUInt16BE(0), ten.length - 2);
  assert.equal(ten[4], 1);
  assert.equal(ten.readUInt16BE(6), 16);
  assert.equal(ten.readBigUInt64BE(8), 2048n);
  assert.equal(ten.readUInt32BE(20), 512);
  assert.equal(ten[24], 0x0a);
  assert.equal(senseOf(await run(cdb(6, 0x1a, 0, 0xc8, 0, 255))).asc, 0x39);
  assert.equal(senseOf(await run(cdb(6, 0x1a, 0, 0x19, 0, 255))).asc, 0x24);
  assert.equal(ok(await run(cdb(6, 0x1a, 0, 0x3f, 0, 4))).length, 4);
});

test('MODE SELECT: WCE off makes writes FUA, SWP makes the LU write protected; other nexuses see MODE PARAMETERS CHANGED; unchangeable bits refused', async () => {
  const { dev, run, volume } = await setup();
  const n2 = nexus('iqn.2026-11.test:init2');
  dev.lu(0)!.nexusAdded(n2);
  assert.equal(senseOf(await run(cdb(6, 0), undefined, n2)).asc, 0x29);
  const cur = ok(await run(cdb(6, 0x1a, 0x08, 0x08, 0, 255)));
  const page = Buffer.from(cur.subarray(4));
  page[2] = 0;
  const list = Buffer.concat([Buffer.alloc(4), page]);
  ok(await run(cdb(6, 0x15, 0x10, 0, 0, list.length), list));
  assert.equal(senseOf(await run(cdb(6, 0), undefined, n2)).asc, 0x2a);
  ok(await run(write10(0, 1), Buffer.alloc(512, 1)));
  assert.equal(volume.stats.fuaWrites, 1);
  const ctl = ok(await run(cdb(6, 0x1a, 0x08, 0x0a, 0, 255))).subarray(4);
  const swp = Buffer.from(ctl);
  swp[4] = 0x08;
  const l2 = Buffer.concat([Buffer.alloc(4), swp]);
  ok(await run(cdb(6, 0x15, 0x10, 0, 0, l2.length), l2));
  assert.equal(ok(await run(cdb(6, 0x1a, 0x08, 0x3f, 0, 255)))[2]! & 0x80, 0x80);
  assert.deepEqual(senseOf(await run(write10(0, 1), Buffer.alloc(512))).key, SenseKey.DATA_PROTECT);
  const bad = Buffer.from(swp);
  bad[3] = 0x00; // QUEUE ALGORITHM MODIFIER is not changeable
  const l3 = Buffer.concat([Buffer.alloc(4), bad]);
  assert.equal(senseOf(await run(cdb(6, 0x15, 0x10, 0, 0, l3.length), l3)).asc, 0x26);
  assert.equal(senseOf(await run(cdb(6, 0x15, 0x11, 0, 0, l3.length), l3)).asc, 0x24);
  assert.equal((await run(cdb(6, 0))).status, ScsiStatus.GOOD);
});
