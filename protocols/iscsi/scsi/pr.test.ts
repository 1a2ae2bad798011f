/** Persistent reservations (SPC-4 5.12, 6.14, 6.15) across two nexuses: keys, every type's access table, ownership on unregister, PREEMPT, CLEAR, REGISTER AND MOVE, unit attentions; RESERVE(6)/RELEASE(6). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Nexus } from '../device.js';
import { Asc, PrType, ScsiStatus, SenseKey } from '../wire/scsi.js';
import { MAX_REGISTRATIONS } from './pr.js';
import { cdb, nexus, ok, read10, senseOf, setup, write10 } from './test-util.js';

const prOut = (action: number, type = 0): Buffer => {
  const b = cdb(10, 0x5f, action, type);
  b.writeUInt32BE(24, 5);
  return b;
};
const params = (rk: bigint, sark: bigint, flags = 0): Buffer => {
  const b = Buffer.alloc(24);
  b.writeBigUInt64BE(rk, 0);
  b.writeBigUInt64BE(sark, 8);
  b[20] = flags;
  return b;
};
const prIn = (action: number, alloc = 8192): Buffer => {
  const b = cdb(10, 0x5e, action);
  b.writeUInt16BE(alloc, 7);
  return b;
};

async function two() {
  const s = await setup();
  const n2 = nexus('iqn.2026-11.test:init2', '400001370001');
  s.dev.lu(0)!.nexusAdded(n2);
  assert.equal(senseOf(await s.run(cdb(6, 0), undefined, n2)).asc, 0x29);
  const as = (n: Nexus) => ({
    out: (action: number, rk: bigint, sark: bigint, type = 0, flags = 0) => s.run(prOut(action, type), params(rk, sark, flags), n),
    in: (action: number, alloc?: number) => s.run(prIn(action, alloc), undefined, n),
    read: () => s.run(read10(0, 1), undefined, n),
    write: () => s.run(write10(0, 1), Buffer.alloc(512), n),
  });
  return { ...s, n2, i1: as(s.n), i2: as(n2) };
}

const reservationOf = (d: Buffer): { gen: number; key?: bigint; type?: number } =>
  d.readUInt32BE(4) === 0 ? { gen: d.readUInt32BE(0) } : { gen: d.readUInt32BE(0), key: d.readBigUInt64BE(8), type: d[21]! & 0x0f };

test('REGISTER, READ KEYS (generation, truncation), re-register with the wrong key conflicts, REGISTER AND IGNORE, unregister', async () => {
  const { i1, i2, run, n2 } = await two();
  ok(await i1.out(0, 0n, 0xa1n));
  ok(await i2.out(6, 0n, 0xb2n));
  const keys = ok(await i1.in(0));
  assert.equal(keys.readUInt32BE(0), 2);
  assert.equal(keys.readUInt32BE(4), 16);
  assert.deepEqual([keys.readBigUInt64BE(8), keys.readBigUInt64BE(16)], [0xa1n, 0xb2n]);
  assert.equal(ok(await i1.in(0, 12)).length, 12);
  assert.equal((await i1.out(0, 0x99n, 0xa3n)).status, ScsiStatus.RESERVATION_CONFLICT);
  ok(await i1.out(0, 0xa1n, 0xa3n));
  ok(await i1.out(6, 0n, 0xa4n));
  ok(await i2.out(0, 0xb2n, 0n));
  const k2 = ok(await i2.in(0));
  assert.equal(k2.readUInt32BE(4), 8);
  assert.equal(k2.readBigUInt64BE(8), 0xa4n);
  assert.equal(k2.readUInt32BE(0), 5);
  // Not registered: RESERVE conflicts; APTPL / ALL_TG_PT / SPEC_I_PT are refused; a short list is a length error.
  assert.equal((await i2.out(1, 0xb2n, 0n, PrType.WRITE_EXCLUSIVE)).status, ScsiStatus.RESERVATION_CONFLICT);
  assert.equal(senseOf(await i2.out(0, 0n, 1n, 0, 0x01)).asc, 0x26);
  assert.equal(senseOf(await i2.out(0, 0n, 1n, 0, 0x04)).asc, 0x26);
  const short = prOut(0);
  short.writeUInt32BE(20, 5);
  assert.equal(senseOf(await run(short, params(0n, 1n).subarray(0, 20), n2)).asc, 0x1a);
});

test('REGISTER beyond MAX_REGISTRATIONS nexuses: INSUFFICIENT REGISTRATION RESOURCES, nothing stored; a registered nexus still changes its key', async () => {
  const { i1, run } = await two();
  ok(await i1.out(0, 0n, 1n));
  const reg = (i: number, rk = 0n, sark = 7n) => run(prOut(0), params(rk, sark), nexus('iqn.2026-11.test:many', (0x400000000000 + i).toString(16)));
  for (let i = 1; i < MAX_REGISTRATIONS; i++) ok(await reg(i));
  const full = await reg(MAX_REGISTRATIONS);
  assert.equal(full.status, ScsiStatus.CHECK_CONDITION);
  const s = senseOf(full);
  assert.deepEqual([s.key, s.asc, s.ascq], [SenseKey.ILLEGAL_REQUEST, 0x55, 0x04]);
  const keys = ok(await i1.in(0, 65535));
  assert.equal(keys.readUInt32BE(4), 8 * MAX_REGISTRATIONS);
  ok(await reg(1, 7n, 8n));
  ok(await i1.out(0, 1n, 0n));
  ok(await reg(MAX_REGISTRATIONS));
});

test('REPORT CAPABILITIES: CRH, TMV and the six types; PTPL_C, SIP_C, ATP_C clear', async () => {
  const { i1 } = await two();
  const d = ok(await i1.in(2));
  assert.equal(d.toString('hex'), '00081080ea010000');
});

for (const [name, type, regRead, regWrite, unregRead, unregWrite] of [
  ['WRITE EXCLUSIVE', PrType.WRITE_EXCLUSIVE, true, false, true, false],
  ['EXCLUSIVE ACCESS', PrType.EXCLUSIVE_ACCESS, false, false, false, false],
  ['WRITE EXCLUSIVE – REGISTRANTS ONLY', PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY, true, true, true, false],
  ['EXCLUSIVE ACCESS – REGISTRANTS ONLY', PrType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY, true, true, false, false],
  ['WRITE EXCLUSIVE – ALL REGISTRANTS', PrType.WRITE_EXCLUSIVE_ALL_REGISTRANTS, true, true, true, false],
  ['EXCLUSIVE ACCESS – ALL REGISTRANTS', PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS, true, true, false, false],
] as const) {
  test(`access under ${name}: holder reads and writes; registered and unregistered others as SPC-4 5.12.1 says; INQUIRY and PR IN always`, async () => {
    const { i1, i2, run, n2 } = await two();
    ok(await i1.out(6, 0n, 0x11n));
    ok(await i2.out(6, 0n, 0x22n));
    ok(await i1.out(1, 0x11n, 0n, type));
    const rr = reservationOf(ok(await i1.in(1)));
    assert.equal(rr.type, type);
    assert.equal(rr.key, type >= 7 ? 0n : 0x11n);
    ok(await i1.read());
    ok(await i1.write());
    const st = async (p: Promise<{ status: number }>) => (await p).status;
    assert.equal(await st(i2.read()), regRead ? ScsiStatus.GOOD : ScsiStatus.RESERVATION_CONFLICT);
    assert.equal(await st(i2.write()), regWrite ? ScsiStatus.GOOD : ScsiStatus.RESERVATION_CONFLICT);
    ok(await i2.out(0, 0x22n, 0n));
    assert.equal(await st(i2.read()), unregRead ? ScsiStatus.GOOD : ScsiStatus.RESERVATION_CONFLICT);
    assert.equal(await st(i2.write()), unregWrite ? ScsiStatus.GOOD : ScsiStatus.RESERVATION_CONFLICT);
    ok(await run(cdb(6, 0x12, 0, 0, 0, 36), undefined, n2));
    ok(await run(cdb(10, 0x25), undefined, n2));
    ok(await run(cdb(6, 0), undefined, n2));
    ok(await i2.in(0));
    // Another RESERVE of a different type by the holder conflicts; RELEASE with the wrong type is INVALID RELEASE.
    assert.equal((await i1.out(1, 0x11n, 0n, type === 1 ? 3 : 1)).status, ScsiStatus.RESERVATION_CONFLICT);
    ok(await i1.out(1, 0x11n, 0n, type));
    assert.deepEqual([senseOf(await i1.out(2, 0x11n, 0n, type === 1 ? 3 : 1)).asc, senseOf(await i1.out(2, 0x11n, 0n, type === 1 ? 3 : 1)).ascq], [0x26, 0x04]);
    ok(await i1.out(2, 0x11n, 0n, type));
    assert.deepEqual(reservationOf(ok(await i1.in(1))).type, undefined);
    ok(await i2.read());
    ok(await i2.write());
  });
}

test('ownership: the holder unregistering releases a RO reservation (others get RESERVATIONS RELEASED) and keeps an AR one for the other registrants', async () => {
  for (const type of [PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY, PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS, PrType.EXCLUSIVE_ACCESS]) {
    const { i1, i2, run, n2 } = await two();
    ok(await i1.out(6, 0n, 1n));
    ok(await i2.out(6, 0n, 2n));
    ok(await i1.out(1, 1n, 0n, type));
    ok(await i1.out(0, 1n, 0n));
    const rr = reservationOf(ok(await i1.in(1)));
    if (type === PrType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS) {
      assert.equal(rr.type, type);
      ok(await i2.out(2, 2n, 0n, type));
      continue;
    }
    assert.equal(rr.type, undefined);
    const next = await run(cdb(6, 0), undefined, n2);
    if (type === PrType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY) assert.deepEqual([senseOf(next).asc, senseOf(next).ascq], [...Asc.RESERVATIONS_RELEASED]);
    else ok(next);
  }
});

test('PREEMPT: of the holder takes the reservation and removes its registration (REGISTRATIONS PREEMPTED); of a key nobody has conflicts; CLEAR removes everything', async () => {
  const { i1, i2, run, n } = await two();
  ok(await i1.out(6, 0n, 1n));
  ok(await i2.out(6, 0n, 2n));
  ok(await i1.out(1, 1n, 0n, PrType.EXCLUSIVE_ACCESS));
  ok(await i2.out(4, 2n, 1n, PrType.WRITE_EXCLUSIVE));
  const rr = reservationOf(ok(await i2.in(1)));
  assert.deepEqual([rr.key, rr.type], [2n, PrType.WRITE_EXCLUSIVE]);
  const ua = senseOf(await run(cdb(6, 0), undefined, n));
  assert.deepEqual([ua.key, ua.asc, ua.ascq], [SenseKey.UNIT_ATTENTION, ...Asc.REGISTRATIONS_PREEMPTED]);
  assert.equal(ok(await i1.in(0)).readUInt32BE(4), 8);
  assert.equal((await i1.write()).status, ScsiStatus.RESERVATION_CONFLICT);
  assert.equal((await i2.out(4, 2n, 0x77n, PrType.WRITE_EXCLUSIVE)).status, ScsiStatus.RESERVATION_CONFLICT);
  // A registration without the reservation (PREEMPT removes it only).
  ok(await i1.out(6, 0n, 3n));
  ok(await i2.out(5, 2n, 3n, PrType.WRITE_EXCLUSIVE));
  assert.equal(ok(await i2.in(0)).readUInt32BE(4), 8);
  assert.equal(senseOf(await run(cdb(6, 0), undefined, n)).ascq, 0x05);
  ok(await i1.out(6, 0n, 4n));
  ok(await i2.out(3, 2n, 0n));
  assert.equal(ok(await i2.in(0)).readUInt32BE(4), 0);
  assert.equal(reservationOf(ok(await i2.in(1))).type, undefined);
  assert.equal(senseOf(await run(cdb(6, 0), undefined, n)).ascq, 0x03);
});

test('READ FULL STATUS: one descriptor per registration with R_HOLDER, type, relative port and the iSCSI TransportID', async () => {
  const { i1, i2, n } = await two();
  ok(await i1.out(6, 0n, 0x10n));
  ok(await i2.out(6, 0n, 0x20n));
  ok(await i1.out(1, 0x10n, 0n, PrType.WRITE_EXCLUSIVE));
  const d = ok(await i2.in(3));
  assert.equal(d.readUInt32BE(4), d.length - 8);
  assert.equal(d.readBigUInt64BE(8), 0x10n);
  assert.deepEqual([d[20], d[21], d.readUInt16BE(26)], [1, PrType.WRITE_EXCLUSIVE, 1]);
  const tidLen = d.readUInt32BE(28);
  const tid = d.subarray(32, 32 + tidLen);
  assert.equal(tid[0], 0x45);
  assert.equal(tid.subarray(4).toString().replace(/\0+$/, ''), n.initiatorPort);
  const second = 32 + tidLen;
  assert.deepEqual([d.readBigUInt64BE(second), d[second + 12]], [0x20n, 0]);
});

test('REGISTER AND MOVE hands the reservation to another I_T nexus by TransportID', async () => {
  const { i1, n2, run } = await two();
  ok(await i1.out(6, 0n, 0x10n));
  ok(await i1.out(1, 0x10n, 0n, PrType.EXCLUSIVE_ACCESS));
  const name = Buffer.from(`${n2.initiatorPort}\0`);
  const tidLen = Math.ceil(name.length / 4) * 4;
  const list = Buffer.alloc(24 + 4 + tidLen);
  list.writeBigUInt64BE(0x10n, 0);
  list.writeBigUInt64BE(0x20n, 8);
  list[17] = 0x02; // UNREG
  list.writeUInt16BE(1, 18);
  list.writeUInt32BE(4 + tidLen, 20);
  list[24] = 0x45;
  list.writeUInt16BE(tidLen, 26);
  name.copy(list, 28);
  const c = cdb(10, 0x5f, 7, PrType.EXCLUSIVE_ACCESS);
  c.writeUInt32BE(list.length, 5);
  ok(await run(c, list));
  const rr = reservationOf(ok(await run(prIn(1), undefined, n2)));
  assert.deepEqual([rr.key, rr.type], [0x20n, PrType.EXCLUSIVE_ACCESS]);
  ok(await run(write10(0, 1), Buffer.alloc(512), n2));
  assert.equal((await i1.read()).status, ScsiStatus.RESERVATION_CONFLICT);
});

test('RESERVE(6)/RELEASE(6): the other nexus conflicts (MODE SENSE too) but may RELEASE as a no-op; released on nexus loss and reset; conflicts with PR registrations', async () => {
  const { run, n, n2, dev, i1 } = await two();
  ok(await run(cdb(6, 0x16)));
  ok(await run(cdb(6, 0x16)));
  assert.equal((await run(cdb(6, 0x16), undefined, n2)).status, ScsiStatus.RESERVATION_CONFLICT);
  ok(await run(cdb(6, 0x17), undefined, n2));
  ok(await run(cdb(6, 0x1a, 0, 0x3f, 0, 255)));
  assert.equal((await run(cdb(6, 0x1a, 0, 0x3f, 0, 255), undefined, n2)).status, ScsiStatus.RESERVATION_CONFLICT);
  ok(await run(cdb(6, 0x12, 0, 0, 0, 36), undefined, n2));
  ok(await run(cdb(6, 0x17)));
  ok(await run(cdb(6, 0x16), undefined, n2));
  dev.lu(0)!.nexusRemoved(n2);
  ok(await run(cdb(6, 0x16)));
  dev.lu(0)!.reset(n);
  assert.equal(senseOf(await run(cdb(6, 0))).asc, 0x29);
  dev.lu(0)!.nexusAdded(n2);
  assert.equal(senseOf(await run(cdb(6, 0x16), undefined, n2)).asc, 0x29);
  ok(await run(cdb(6, 0x16), undefined, n2));
  ok(await run(cdb(6, 0x17), undefined, n2));
  ok(await i1.out(6, 0n, 5n));
  assert.equal((await run(cdb(6, 0x16), undefined, n)).status, ScsiStatus.RESERVATION_CONFLICT);
});
