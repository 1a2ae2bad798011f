/** SCSI CDBs, parameter lists and sense data: captured CDBs, SPC-4/SBC-3 layouts field by field, errors as sense, fuzzing. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeInitiatorPdu, decodeSenseSegment, decodeTargetPdu, splitPdus, type ScsiCommand } from './pdu.js';
import { WireError } from './reader.js';
import {
  Asc, buildSense, cdbLength, CdbError, checkCondition, decodeCdb, decodeModeSelectList, decodePrOutList, decodeUnmapList, encodeUnmapList,
  FIXED_SENSE_LENGTH, invalidFieldInCdb, lbaOutOfRange, miscompare, notReady, parseSense, PrInAction, PrOutAction, PrType,
  reservationConflict, ScsiOp, scsiOpName, ScsiStatus, SenseKey, tryDecodeCdb, unitAttention, unrecoveredReadError, writeProtected,
  type Cdb, type Sense,
} from './scsi.js';
import { INQ, READCAP16 } from '../testdata/tgt-captures.js';

const cdb = (hex: string): Cdb => decodeCdb(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
const senseOf = (f: () => unknown): Sense => {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof CdbError, String(err));
    assert.equal(err.status, ScsiStatus.CHECK_CONDITION);
    return parseSense(err.sense);
  }
  assert.fail('no CdbError');
};
const onlyCdbErrors = (f: () => unknown): void => {
  try {
    f();
  } catch (err) {
    if (!(err instanceof CdbError)) throw err;
    assert.ok(err.status === ScsiStatus.CHECK_CONDITION && err.sense.length === FIXED_SENSE_LENGTH);
  }
};

test('captures: the CDBs libiscsi sent decode (TEST UNIT READY, INQUIRY, READ CAPACITY(16))', () => {
  const cmds = splitPdus(INQ.initiator).map(decodeInitiatorPdu).filter((p): p is ScsiCommand => p.op === 0x01);
  assert.equal(decodeCdb(cmds[0]!.cdb).kind, 'test-unit-ready');
  assert.deepEqual(decodeCdb(cmds[2]!.cdb), { op: 0x12, name: 'INQUIRY', kind: 'inquiry', evpd: false, page: 0, allocationLength: 64 });
  const rc = splitPdus(READCAP16.initiator).map(decodeInitiatorPdu).filter((p): p is ScsiCommand => p.op === 0x01)[2]!;
  assert.deepEqual(decodeCdb(rc.cdb), { op: 0x9e, name: 'READ_CAPACITY_16', kind: 'read-capacity-16', lba: 0n, allocationLength: 32, pmi: false });
});

test('sense: fixed format byte for byte as tgt sends it (SPC-4 4.5.3); field pointer, INFORMATION', () => {
  const ua = decodeTargetPdu(splitPdus(INQ.target)[1]!);
  const tgtSense = decodeSenseSegment(ua.data).sense;
  const ours = buildSense({ key: SenseKey.UNIT_ATTENTION, asc: Asc.POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED[0], ascq: 0 });
  assert.equal(ours.toString('hex'), '700006000000000a000000002900000000' + '00');
  assert.deepEqual(ours, tgtSense);
  const inv = invalidFieldInCdb(2).sense;
  assert.equal(inv.toString('hex'), '700005000000000a00000000240000c00002');
  assert.equal(invalidFieldInCdb(1, 4).sense.subarray(15).toString('hex'), 'cc0001');
  const mis = parseSense(miscompare(513).sense);
  assert.deepEqual(mis, { key: SenseKey.MISCOMPARE, asc: 0x1d, ascq: 0, information: 513 });
  assert.equal(miscompare(513).sense[0], 0xf0);
  assert.deepEqual(parseSense(lbaOutOfRange(10n).sense), { key: 5, asc: 0x21, ascq: 0 });
  assert.deepEqual(parseSense(writeProtected().sense), { key: 7, asc: 0x27, ascq: 0 });
  assert.deepEqual(parseSense(unrecoveredReadError(77n).sense), { key: 3, asc: 0x11, ascq: 0, information: 77 });
  assert.deepEqual(parseSense(notReady().sense), { key: 2, asc: 0x04, ascq: 0 });
  assert.deepEqual(parseSense(unitAttention(Asc.CAPACITY_DATA_HAS_CHANGED).sense), { key: 6, asc: 0x2a, ascq: 0x09 });
  const rc = reservationConflict();
  assert.equal(rc.status, 0x18);
  assert.equal(rc.sense.length, 0);
  assert.deepEqual(parseSense(checkCondition('x', SenseKey.ILLEGAL_REQUEST, Asc.PARAMETER_LIST_LENGTH_ERROR).sense), { key: 5, asc: 0x1a, ascq: 0 });
  assert.throws(() => parseSense(Buffer.from([0x72, 0, 5, 0x24])), WireError);
});

test('CDBs: READ/WRITE 6/10/12/16 with FUA and DPO (SBC-3 5.11-5.15, 5.30-5.34)', () => {
  assert.deepEqual(cdb('08 1f ff ff 00 00'), { op: 0x08, name: 'READ_6', kind: 'read', lba: 0x1fffffn, blocks: 256, fua: false, dpo: false, protect: 0, group: 0, bytchk: false });
  assert.equal((cdb('0a 00 00 10 08 00') as { blocks: number }).blocks, 8);
  assert.deepEqual(cdb('28 18 00 00 10 00 05 00 08 00'), { op: 0x28, name: 'READ_10', kind: 'read', lba: 4096n, blocks: 8, fua: true, dpo: true, protect: 0, group: 5, bytchk: false });
  assert.deepEqual(cdb('2a 08 ff ff ff ff 00 ff ff 00'), { op: 0x2a, name: 'WRITE_10', kind: 'write', lba: 0xffffffffn, blocks: 65535, fua: true, dpo: false, protect: 0, group: 0, bytchk: false });
  assert.deepEqual(cdb('a8 00 00 00 00 01 00 01 00 00 00 00'), { op: 0xa8, name: 'READ_12', kind: 'read', lba: 1n, blocks: 65536, fua: false, dpo: false, protect: 0, group: 0, bytchk: false });
  assert.equal((cdb('aa 08 00 00 00 01 00 00 00 02 00 00') as { fua: boolean }).fua, true);
  assert.deepEqual(cdb('88 08 ff ff ff ff ff ff ff fe 00 00 01 00 00 00'), { op: 0x88, name: 'READ_16', kind: 'read', lba: 0xfffffffffffffffen, blocks: 256, fua: true, dpo: false, protect: 0, group: 0, bytchk: false });
  assert.deepEqual(cdb('8a 20 00 00 00 00 00 00 00 10 00 00 00 04 00 00'), { op: 0x8a, name: 'WRITE_16', kind: 'write', lba: 16n, blocks: 4, fua: false, dpo: false, protect: 1, group: 0, bytchk: false });
});

test('CDBs: VERIFY, WRITE AND VERIFY, SYNCHRONIZE CACHE, PRE-FETCH, WRITE SAME, UNMAP, COMPARE AND WRITE, GET LBA STATUS', () => {
  assert.deepEqual(cdb('2f 02 00 00 00 64 00 00 08 00'), { op: 0x2f, name: 'VERIFY_10', kind: 'verify', lba: 100n, blocks: 8, fua: false, dpo: false, protect: 0, group: 0, bytchk: true });
  assert.equal((cdb('8f 00 00 00 00 00 00 00 00 64 00 00 00 08 00 00') as { bytchk: boolean }).bytchk, false);
  assert.equal(cdb('2e 12 00 00 00 64 00 00 08 00').kind, 'write-verify');
  assert.equal((cdb('8e 02 00 00 00 00 00 00 00 64 00 00 00 08 00 00') as { lba: bigint }).lba, 100n);
  assert.deepEqual(cdb('35 02 00 00 00 00 00 00 00 00'), { op: 0x35, name: 'SYNCHRONIZE_CACHE_10', kind: 'synchronize-cache', immed: true, lba: 0n, blocks: 0, group: 0 });
  assert.deepEqual(cdb('91 00 00 00 00 00 00 00 00 20 00 00 00 10 00 00'), { op: 0x91, name: 'SYNCHRONIZE_CACHE_16', kind: 'synchronize-cache', immed: false, lba: 32n, blocks: 16, group: 0 });
  assert.deepEqual(cdb('34 02 00 00 00 08 00 00 04 00'), { op: 0x34, name: 'PRE_FETCH_10', kind: 'pre-fetch', immed: true, lba: 8n, blocks: 4, group: 0 });
  assert.equal(cdb('90 00 00 00 00 00 00 00 00 08 00 00 00 04 00 00').kind, 'pre-fetch');
  assert.deepEqual(cdb('93 08 00 00 00 00 00 00 04 00 00 00 10 00 00 00'), { op: 0x93, name: 'WRITE_SAME_16', kind: 'write-same', lba: 1024n, blocks: 4096, unmap: true, anchor: false, ndob: false, protect: 0, group: 0 });
  assert.deepEqual(cdb('41 18 00 00 00 10 00 00 08 00'), { op: 0x41, name: 'WRITE_SAME_10', kind: 'write-same', lba: 16n, blocks: 8, unmap: true, anchor: true, ndob: false, protect: 0, group: 0 });
  assert.deepEqual(cdb('42 00 00 00 00 00 00 00 18 00'), { op: 0x42, name: 'UNMAP', kind: 'unmap', anchor: false, group: 0, parameterListLength: 24 });
  assert.deepEqual(cdb('89 08 00 00 00 00 00 00 00 07 00 00 00 01 00 00'), { op: 0x89, name: 'COMPARE_AND_WRITE', kind: 'compare-and-write', lba: 7n, blocks: 1, fua: true, dpo: false, protect: 0, group: 0 });
  assert.deepEqual(cdb('9e 12 00 00 00 00 00 00 00 00 00 00 10 00 00 00'), { op: 0x9e, name: 'GET_LBA_STATUS', kind: 'get-lba-status', lba: 0n, allocationLength: 4096 });
});

test('CDBs: INQUIRY, REPORT LUNS, REQUEST SENSE, READ CAPACITY(10), MODE SENSE/SELECT, PR IN/OUT, RESERVE/RELEASE, START STOP UNIT', () => {
  assert.deepEqual(cdb('12 01 83 00 ff 00'), { op: 0x12, name: 'INQUIRY', kind: 'inquiry', evpd: true, page: 0x83, allocationLength: 255 });
  assert.deepEqual(cdb('a0 00 00 00 00 00 00 00 10 00 00 00'), { op: 0xa0, name: 'REPORT_LUNS', kind: 'report-luns', selectReport: 0, allocationLength: 4096 });
  assert.deepEqual(cdb('03 01 00 00 fc 00'), { op: 0x03, name: 'REQUEST_SENSE', kind: 'request-sense', desc: true, allocationLength: 252 });
  assert.deepEqual(cdb('25 00 00 00 00 00 00 00 00 00'), { op: 0x25, name: 'READ_CAPACITY_10', kind: 'read-capacity-10', allocationLength: 8, pmi: false, lba: 0n });
  assert.deepEqual(cdb('1a 08 48 00 c0 00'), { op: 0x1a, name: 'MODE_SENSE_6', kind: 'mode-sense', dbd: true, llbaa: false, pc: 1, page: 8, subpage: 0, allocationLength: 192 });
  assert.deepEqual(cdb('5a 10 3f ff 00 00 00 10 00 00'), { op: 0x5a, name: 'MODE_SENSE_10', kind: 'mode-sense', dbd: false, llbaa: true, pc: 0, page: 0x3f, subpage: 0xff, allocationLength: 4096 });
  assert.deepEqual(cdb('15 10 00 00 18 00'), { op: 0x15, name: 'MODE_SELECT_6', kind: 'mode-select', pf: true, sp: false, parameterListLength: 24 });
  assert.deepEqual(cdb('55 11 00 00 00 00 00 00 1c 00'), { op: 0x55, name: 'MODE_SELECT_10', kind: 'mode-select', pf: true, sp: true, parameterListLength: 28 });
  assert.deepEqual(cdb('5e 03 00 00 00 00 00 20 00 00'), { op: 0x5e, name: 'PERSISTENT_RESERVE_IN', kind: 'persistent-reserve-in', action: PrInAction.READ_FULL_STATUS, allocationLength: 8192 });
  assert.deepEqual(cdb('5f 01 03 00 00 00 00 00 18 00'), { op: 0x5f, name: 'PERSISTENT_RESERVE_OUT', kind: 'persistent-reserve-out', action: PrOutAction.RESERVE, scope: 0, type: PrType.EXCLUSIVE_ACCESS, parameterListLength: 24 });
  assert.equal(cdb('5f 00 00 00 00 00 00 00 18 00').kind, 'persistent-reserve-out'); // REGISTER ignores type and scope
  assert.equal(cdb('16 00 00 00 00 00').kind, 'reserve-6');
  assert.equal(cdb('17 00 00 00 00 00').kind, 'release-6');
  assert.deepEqual(cdb('1b 01 00 00 03 00'), { op: 0x1b, name: 'START_STOP_UNIT', kind: 'start-stop-unit', immed: true, powerCondition: 0, noFlush: false, loej: true, start: true });
});

test('CDB errors become CHECK CONDITION sense with the field pointer (SPC-4 4.5.2.4.2)', () => {
  assert.deepEqual(senseOf(() => cdb('c0 00 00 00 00 00')), { key: 5, asc: 0x20, ascq: 0, field: { cd: true, byte: 0 } });
  assert.deepEqual(senseOf(() => cdb('12 00 80 00 ff 00')), { key: 5, asc: 0x24, ascq: 0, field: { cd: true, byte: 2 } });
  assert.deepEqual(senseOf(() => cdb('12 02 00 00 ff 00')), { key: 5, asc: 0x24, ascq: 0, field: { cd: true, byte: 1, bit: 1 } });
  assert.deepEqual(senseOf(() => cdb('a0 00 00 00 00 00 00 00 00 08 00 00')), { key: 5, asc: 0x24, ascq: 0, field: { cd: true, byte: 6 } });
  assert.deepEqual(senseOf(() => cdb('28 00 00 00 00 00 00 00 01 04')), { key: 5, asc: 0x24, ascq: 0, field: { cd: true, byte: 9, bit: 2 } });
  assert.deepEqual(senseOf(() => cdb('93 10 00 00 00 00 00 00 00 00 00 00 00 01 00 00')), { key: 5, asc: 0x24, ascq: 0, field: { cd: true, byte: 1, bit: 4 } });
  assert.deepEqual(senseOf(() => cdb('9e 11 00 00 00 00 00 00 00 00 00 00 00 20 00 00')).field, { cd: true, byte: 1, bit: 4 });
  assert.deepEqual(senseOf(() => cdb('5e 04 00 00 00 00 00 00 08 00')).asc, 0x24);
  assert.deepEqual(senseOf(() => cdb('5f 09 00 00 00 00 00 00 18 00')).asc, 0x24);
  assert.deepEqual(senseOf(() => cdb('5f 01 02 00 00 00 00 00 18 00')).field, { cd: true, byte: 2, bit: 3 });
  assert.deepEqual(senseOf(() => cdb('5f 01 21 00 00 00 00 00 18 00')).field, { cd: true, byte: 2, bit: 7 });
  assert.deepEqual(senseOf(() => cdb('28 00 00')).field, { cd: true, byte: 0 });
  assert.deepEqual(senseOf(() => decodeCdb(Buffer.alloc(0))).asc, 0x24);
  const r = tryDecodeCdb(Buffer.from([0xff]));
  assert.equal(r.ok, false);
  assert.equal(tryDecodeCdb(Buffer.alloc(6)).ok, true);
  assert.equal(cdbLength(0x7f), 0);
  assert.equal(scsiOpName(0x88), 'READ_16');
  assert.equal(ScsiOp.READ_16, 0x88);
});

test('UNMAP parameter list (SBC-3 5.28.2): round trip, partial descriptor ignored, length errors, descriptor limit', () => {
  const descs = [{ lba: 0n, blocks: 8 }, { lba: 2n ** 40n, blocks: 0xffffffff }];
  const list = encodeUnmapList(descs);
  assert.equal(list.toString('hex').slice(0, 16), '0026002000000000');
  assert.deepEqual(decodeUnmapList(list), descs);
  assert.deepEqual(decodeUnmapList(Buffer.alloc(0)), []);
  const partial = Buffer.concat([list, Buffer.alloc(8)]);
  partial.writeUInt16BE(6 + 40, 0);
  partial.writeUInt16BE(40, 2);
  assert.deepEqual(decodeUnmapList(partial), descs);
  assert.deepEqual(senseOf(() => decodeUnmapList(Buffer.alloc(4))), { key: 5, asc: 0x1a, ascq: 0 });
  const lying = Buffer.from(list);
  lying.writeUInt16BE(48, 2);
  assert.equal(senseOf(() => decodeUnmapList(lying)).asc, 0x1a);
  assert.deepEqual(senseOf(() => decodeUnmapList(list, 1)), { key: 5, asc: 0x26, ascq: 0, field: { cd: false, byte: 2 } });
});

test('PERSISTENT RESERVE OUT parameter list (SPC-4 6.15.3-4): basic, SPEC_I_PT TransportIDs, REGISTER AND MOVE', () => {
  const basic = Buffer.alloc(24);
  basic.writeBigUInt64BE(0x1122334455667788n, 0);
  basic.writeBigUInt64BE(0xabcdn, 8);
  basic[20] = 0x05; // ALL_TG_PT, APTPL
  assert.deepEqual(decodePrOutList(PrOutAction.REGISTER, basic), {
    reservationKey: 0x1122334455667788n, serviceActionReservationKey: 0xabcdn, specIPt: false, allTgPt: true, aptpl: true, transportIds: [],
  });
  assert.equal(senseOf(() => decodePrOutList(PrOutAction.REGISTER, Buffer.alloc(23))).asc, 0x1a);
  assert.equal(senseOf(() => decodePrOutList(PrOutAction.REGISTER, Buffer.alloc(28))).asc, 0x1a);
  const tid = (name: string, format = 0): Buffer => {
    const body = Buffer.from(`${name}\0`);
    const len = Math.max(20, body.length + ((4 - (body.length % 4)) % 4));
    const b = Buffer.alloc(4 + len);
    b[0] = (format << 6) | 0x05;
    b.writeUInt16BE(len, 2);
    body.copy(b, 4);
    return b;
  };
  const ids = Buffer.concat([tid('iqn.2026-11.example:host-a'), tid('iqn.2026-11.example:host-b,i,0x23d000000001', 1)]);
  const spec = Buffer.concat([basic, Buffer.alloc(4), ids]);
  spec[20] = 0x08;
  spec.writeUInt32BE(ids.length, 24);
  assert.deepEqual(decodePrOutList(PrOutAction.REGISTER, spec).transportIds, [
    { name: 'iqn.2026-11.example:host-a' }, { name: 'iqn.2026-11.example:host-b', isid: '23d000000001' },
  ]);
  assert.deepEqual(senseOf(() => decodePrOutList(PrOutAction.RESERVE, spec)).field, { cd: false, byte: 20, bit: 3 });
  const fc0 = Buffer.from(spec);
  fc0[28] = 0x06; // not iSCSI
  assert.equal(senseOf(() => decodePrOutList(PrOutAction.REGISTER, fc0)).asc, 0x26);
  const one = tid('iqn.2026-11.example:host-c');
  const move = Buffer.concat([basic.subarray(0, 16), Buffer.from([0, 0x02, 0, 1]), Buffer.alloc(4), one]);
  move.writeUInt32BE(one.length, 20);
  assert.deepEqual(decodePrOutList(PrOutAction.REGISTER_AND_MOVE, move), {
    reservationKey: 0x1122334455667788n, serviceActionReservationKey: 0xabcdn, specIPt: false, allTgPt: false, aptpl: false,
    transportIds: [{ name: 'iqn.2026-11.example:host-c' }], unreg: true, relativeTargetPortId: 1,
  });
});

test('MODE SELECT parameter lists (SPC-4 7.5.4-7.5.7): caching and control pages, subpage format, bad lengths', () => {
  const caching = Buffer.from([0x08, 0x12, 0x04, ...Buffer.alloc(17)]); // WCE set
  const control = Buffer.from([0x0a, 0x0a, 0x02, ...Buffer.alloc(9)]);
  const six = Buffer.concat([Buffer.from([0, 0, 0, 0]), caching, control]);
  const d = decodeModeSelectList(six, false);
  assert.deepEqual(d.pages.map((p) => [p.page, p.data.length, p.data[0]]), [[8, 18, 4], [10, 10, 2]]);
  const ten = Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 8]), Buffer.alloc(8), Buffer.from([0x4a, 0x01, 0x00, 0x02, 9, 9])]);
  const t = decodeModeSelectList(ten, true);
  assert.equal(t.blockDescriptors.length, 8);
  assert.deepEqual(t.pages, [{ page: 0x0a, subpage: 1, spf: true, data: Buffer.from([9, 9]) }]);
  assert.equal(senseOf(() => decodeModeSelectList(Buffer.from([0, 0, 0, 10]), false)).asc, 0x1a);
  assert.deepEqual(senseOf(() => decodeModeSelectList(Buffer.from([0, 0, 0, 0, 0x08, 0x12, 0]), false)).field, { cd: false, byte: 5 });
  assert.deepEqual(decodeModeSelectList(Buffer.alloc(0), true).pages, []);
});

test('fuzz: any bytes as a CDB or parameter list → a value or CHECK CONDITION, never anything else', () => {
  const knownOps = Object.values(ScsiOp) as number[];
  const anyCdb = fc.oneof(
    fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)),
    fc.tuple(fc.constantFrom(...knownOps), fc.uint8Array({ minLength: 0, maxLength: 16 })).map(([op, rest]) => Buffer.from([op, ...rest])),
  );
  fc.assert(fc.property(anyCdb, (b) => onlyCdbErrors(() => decodeCdb(b))), { numRuns: 3000 });
  const bytes = fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a));
  fc.assert(fc.property(bytes, fc.integer({ min: 0, max: 8 }), fc.boolean(), (b, action, ten) => {
    onlyCdbErrors(() => decodeUnmapList(b, 4));
    onlyCdbErrors(() => decodePrOutList(action, b));
    onlyCdbErrors(() => decodeModeSelectList(b, ten));
    try {
      parseSense(b);
    } catch (err) {
      assert.ok(err instanceof WireError);
    }
  }), { numRuns: 3000 });
});

test('CDBs: VERIFY(12), WRITE AND VERIFY(12), ORWRITE(16), READ DEFECT DATA(10/12), EXTENDED COPY, RECEIVE COPY RESULTS, REPORT SUPPORTED OPERATION CODES (SBC-3 5.9/5.18/5.19/5.29/5.37, SPC-4 6.4/6.18/6.35)', () => {
  assert.deepEqual(cdb('af 02 00 00 00 07 00 00 00 03 00 00'), { op: 0xaf, name: 'VERIFY_12', kind: 'verify', lba: 7n, blocks: 3, fua: false, dpo: false, protect: 0, group: 0, bytchk: true });
  assert.equal((cdb('ae 10 00 00 00 07 00 00 00 03 00 00') as { kind: string; dpo: boolean }).dpo, true);
  assert.equal(cdb('ae 10 00 00 00 07 00 00 00 03 00 00').kind, 'write-verify');
  assert.deepEqual(cdb('8b 08 00 00 00 00 00 00 00 09 00 00 00 02 00 00'), { op: 0x8b, name: 'ORWRITE_16', kind: 'orwrite', lba: 9n, blocks: 2, fua: true, dpo: false, protect: 0, group: 0, bytchk: false });
  assert.deepEqual(cdb('a3 0c 82 9e 00 10 00 00 01 00 00 00'), {
    op: 0xa3, name: 'REPORT_SUPPORTED_OPERATION_CODES', kind: 'report-supported-opcodes', rctd: true, options: 2, requestedOp: 0x9e, requestedSa: 0x10, allocationLength: 256,
  });
  assert.deepEqual(cdb('37 00 1d 00 00 00 00 00 20 00'), { op: 0x37, name: 'READ_DEFECT_DATA_10', kind: 'read-defect-data', plist: true, glist: true, format: 5, allocationLength: 32 });
  assert.deepEqual(cdb('b7 0c 00 00 00 00 00 01 00 00 00 00'), { op: 0xb7, name: 'READ_DEFECT_DATA_12', kind: 'read-defect-data', plist: false, glist: true, format: 4, allocationLength: 65536 });
  assert.deepEqual(cdb('83 00 00 00 00 00 00 00 00 00 00 00 00 4c 00 00'), { op: 0x83, name: 'EXTENDED_COPY', kind: 'extended-copy', parameterListLength: 76 });
  assert.deepEqual(senseOf(() => cdb('83 01 00 00 00 00 00 00 00 00 00 00 00 4c 00 00')).field, { cd: true, byte: 1, bit: 4 });
  assert.deepEqual(cdb('84 03 07 00 00 00 00 00 00 00 00 00 04 00 00 00'), { op: 0x84, name: 'RECEIVE_COPY_RESULTS', kind: 'receive-copy-results', action: 3, listId: 7, allocationLength: 1024 });
  assert.deepEqual(senseOf(() => cdb('84 05 00 00 00 00 00 00 00 00 00 00 04 00 00 00')).field, { cd: true, byte: 1, bit: 4 });
  assert.deepEqual(senseOf(() => cdb('a3 05 00 00 00 00 00 00 01 00 00 00')).field, { cd: true, byte: 1, bit: 4 });
  assert.deepEqual(senseOf(() => cdb('a3 0c 07 00 00 00 00 00 01 00 00 00')).field, { cd: true, byte: 2, bit: 2 });
  fc.assert(fc.property(fc.uint8Array({ minLength: 10, maxLength: 12 }), (rest) => onlyCdbErrors(() => decodeCdb(Buffer.from([0xa3, 0x0c, ...rest])))), { numRuns: 2000 });
});
