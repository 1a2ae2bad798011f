/** iSCSI reader/writer, PDU codecs, digests and framer: RFC examples, real tgt/libiscsi bytes, round trips, fuzzing. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  AhsType, BHS_SIZE, bidiReadLength, decodeAhs, decodeInitiatorPdu, decodeLun, decodePduBytes, decodeSenseSegment, decodeTargetPdu,
  describePdu, digest, DigestError, dispatch, encodeAhs, encodeLun, encodePdu, encodeSenseSegment, fullCdb, INITIATOR_OPCODES,
  LoginStatus, Op, opName, PduError, PduFramer, r2tPdus, RejectReason, rejectFor, RESERVED_TAG, residual, scsiResponse, splitPdus,
  Stage, TARGET_OPCODES, dataInPdus,
  type Frame, type Kind, type LoginRequest, type Pdu, type ScsiCommand,
} from './pdu.js';
import { Reader, WireError, Writer } from './reader.js';
import { buildSense, decodeCdb, SenseKey } from './scsi.js';
import { CHAP_INQ, DISCOVERY, INQ, READCAP16 } from '../testdata/tgt-captures.js';

const CAPTURES = { INQ, READCAP16, DISCOVERY, CHAP_INQ };
const bytes = (max = 200) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
/** Runs `f`; anything thrown must be a WireError (PduError and DigestError are ones). */
const onlyWireErrors = (f: () => unknown): void => {
  try {
    f();
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
  }
};
/** A valid message with random byte flips, truncation or extension. */
const mutated = (valid: Buffer) => fc.tuple(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.integer({ min: -valid.length, max: 16 }))
  .map(([flips, cut]) => {
    const b = Buffer.from(valid);
    for (const [i, v] of flips) b[i] = v;
    return cut < 0 ? b.subarray(0, b.length + cut) : Buffer.concat([b, Buffer.alloc(cut, 0xa5)]);
  });

test('reader: big-endian integers, u24, u64 as bigint, bounded bytes, sub-readers', () => {
  const b = new Writer(4).u8(0xab).u16(0x1234).u24(0x56789a).u32(0xdeadbeef).u64(2n ** 64n - 1n).bytes(Buffer.from([9, 9])).align(4).finish();
  assert.deepEqual([...b.subarray(0, 10)], [0xab, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xde, 0xad, 0xbe, 0xef]);
  assert.equal(b.length % 4, 0);
  const r = new Reader(b);
  assert.equal(r.u8(), 0xab);
  assert.equal(r.u16(), 0x1234);
  assert.equal(r.u24(), 0x56789a);
  assert.equal(r.u32(), 0xdeadbeef);
  assert.equal(r.u64(), 2n ** 64n - 1n);
  assert.deepEqual([...r.bytes(2, 2)], [9, 9]);
  assert.throws(() => r.u32(), WireError);
  assert.throws(() => new Reader(b).bytes(3, 2), /too long/);
  assert.throws(() => new Reader(Buffer.alloc(3)).u32(), /truncated/);
  assert.throws(() => new Reader(Buffer.alloc(3), 2, 1), WireError);
  assert.throws(() => new Reader(Buffer.alloc(8)).sub(4).skip(5), WireError);
  assert.throws(() => new Reader(Buffer.alloc(2)).done(), /trailing/);
  assert.throws(() => new Writer().u64(-1n), RangeError);
  assert.throws(() => new Writer().patchU32(0, 1), RangeError);
});

test('reader: any bytes through any read give a value or a WireError', () => {
  fc.assert(fc.property(bytes(), fc.integer({ min: -2, max: 80 }), fc.nat(80), (b, a, n) => {
    for (const f of [(r: Reader) => r.bytes(n, 40), (r: Reader) => r.seek(a).u64(), (r: Reader) => r.sub(n).u24(), (r: Reader) => r.skip(a).u16()]) {
      onlyWireErrors(() => f(new Reader(b)));
    }
  }), { numRuns: 300 });
});

test('digest: CRC32C examples of RFC 3720 appendix B.4 (the digest RFC 7143 keeps), least significant byte first on the wire', () => {
  const wire = (...parts: Buffer[]): string => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(digest(...parts), 0);
    return b.toString('hex');
  };
  assert.equal(wire(Buffer.alloc(32)), 'aa36918a');
  assert.equal(wire(Buffer.alloc(32, 0xff)), '43aba862');
  assert.equal(wire(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), '4e79dd46');
  assert.equal(wire(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), '5cdb3f11');
  // The SCSI Read (10) Command PDU example of the same appendix: a 48-byte BHS.
  const read10 = Buffer.from('01c00000' + '00000000'.repeat(3) + '14000000' + '00000400' + '00000014' + '00000018' +
    '28000000' + '00000000' + '02000000' + '00000000', 'hex');
  assert.equal(wire(read10), '563a96d9');
  const pdu = decodeInitiatorPdu({ bhs: read10, ahs: Buffer.alloc(0), data: Buffer.alloc(0), dataDigestError: false }) as ScsiCommand;
  assert.equal(pdu.itt, 0x14000000);
  assert.equal(pdu.read && pdu.final, true);
  assert.equal(pdu.expectedDataTransferLength, 1024);
  assert.equal(pdu.cdb[0], 0x28);
  // With HeaderDigest=CRC32C the digest follows the BHS as computed.
  const withDigest = encodePdu(pdu, { header: true, data: false });
  assert.deepEqual(withDigest.subarray(0, BHS_SIZE), read10);
  assert.equal(withDigest.subarray(BHS_SIZE).toString('hex'), '563a96d9');
  // Computed over several parts equals computed over their concatenation.
  const x = Buffer.from('iSCSI digest over two parts');
  assert.equal(digest(x.subarray(0, 5), x.subarray(5)), digest(x));
});

test('captures: every PDU libiscsi and tgt exchanged decodes and re-encodes byte for byte', () => {
  let n = 0;
  for (const [name, cap] of Object.entries(CAPTURES)) {
    for (const [side, stream] of [['initiator', cap.initiator], ['target', cap.target]] as const) {
      let off = 0;
      for (const f of splitPdus(stream)) {
        const pdu = side === 'initiator' ? decodeInitiatorPdu(f) : decodeTargetPdu(f);
        const enc = encodePdu(pdu);
        assert.deepEqual(enc, stream.subarray(off, off + enc.length), `${name} ${side} ${opName(pdu.op)} at ${off}`);
        assert.deepEqual(decodePduBytes(enc), pdu);
        off += enc.length;
        n++;
      }
      assert.equal(off, stream.length);
    }
  }
  assert.equal(n, 46);
});

test('captures: the iscsi-inq login request, field by field (RFC 7143 section 11.12)', () => {
  const [login] = splitPdus(INQ.initiator);
  assert.deepEqual([...login!.bhs.subarray(0, 8)], [0x43, 0x87, 0x00, 0x00, 0x00, 0x00, 0x01, 0x94]);
  const p = decodeInitiatorPdu(login!) as LoginRequest;
  assert.equal(p.op, Op.LOGIN_REQUEST);
  assert.equal(p.immediate, true);
  assert.equal(p.transit, true);
  assert.equal(p.cont, false);
  assert.equal(p.csg, Stage.OPERATIONAL);
  assert.equal(p.nsg, Stage.FULL_FEATURE);
  assert.equal(p.versionMax, 0);
  assert.equal(p.isid.toString('hex'), '80f066ed0000');
  assert.equal(p.tsih, 0);
  assert.equal(p.itt, 0x47dd103a);
  assert.equal(p.cmdSN, 0x0bb6031f);
  assert.equal(p.expStatSN, 1);
  assert.equal(p.data.length, 0x194);
  assert.match(p.data.toString('latin1'), /^InitiatorName=iqn\.2026-11\.test:init\0TargetName=/);
  const rsp = decodeTargetPdu(splitPdus(INQ.target)[0]!);
  assert.equal(rsp.op, Op.LOGIN_RESPONSE);
  if (rsp.op !== Op.LOGIN_RESPONSE) return;
  assert.equal(rsp.status, LoginStatus.SUCCESS);
  assert.equal(rsp.tsih, 256);
  assert.equal(rsp.expCmdSN, p.cmdSN);
  assert.equal(rsp.transit && rsp.nsg, Stage.FULL_FEATURE);
});

test('captures: SCSI Command INQUIRY, its Data-In with status, the UNIT ATTENTION tgt answered first', () => {
  const cmds = splitPdus(INQ.initiator).map(decodeInitiatorPdu).filter((p): p is ScsiCommand => p.op === Op.SCSI_COMMAND);
  assert.equal(cmds.length, 4);
  assert.equal(decodeLun(cmds[0]!.lun), 1);
  const inq = cmds[2]!;
  assert.equal(inq.read, true);
  assert.equal(inq.final, true);
  assert.equal(inq.attr, 1);
  assert.equal(inq.expectedDataTransferLength, 64);
  const cdb = decodeCdb(fullCdb(inq));
  assert.equal(cdb.kind, 'inquiry');
  const rsps = splitPdus(INQ.target).map(decodeTargetPdu);
  const ua = rsps[1]!;
  assert.equal(ua.op, Op.SCSI_RESPONSE);
  if (ua.op !== Op.SCSI_RESPONSE) return;
  assert.equal(ua.status, 0x02);
  const { sense } = decodeSenseSegment(ua.data);
  assert.deepEqual(sense, buildSense({ key: SenseKey.UNIT_ATTENTION, asc: 0x29, ascq: 0x00 }));
  const din = rsps[3]!;
  assert.equal(din.op, Op.SCSI_DATA_IN);
  if (din.op !== Op.SCSI_DATA_IN) return;
  assert.equal(din.statusPresent && din.final, true);
  assert.equal(din.ttt, RESERVED_TAG);
  assert.equal(din.data.subarray(8, 16).toString('latin1'), 'IET     ');
  assert.equal(din.data.length, 64);
  const rc = decodeTargetPdu(splitPdus(READCAP16.target)[3]!);
  assert.equal(rc.op, Op.SCSI_DATA_IN);
  assert.equal(rc.data.readBigUInt64BE(0), 2097151n);
  assert.equal(rc.data.readUInt32BE(8), 512);
});

/** An arbitrary valid PDU of opcode `op`, built from its table description. */
function arbPdu(op: number): fc.Arbitrary<Pdu> {
  const d = describePdu(op)!;
  const kinds: Record<Kind, fc.Arbitrary<unknown>> = {
    u8: fc.integer({ min: 0, max: 255 }),
    u16: fc.integer({ min: 0, max: 0xffff }),
    u32: fc.integer({ min: 0, max: 0xffffffff }),
    u64: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    isid: fc.uint8Array({ minLength: 6, maxLength: 6 }).map((a) => Buffer.from(a)),
    cdb: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)),
  };
  const rec: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [n, k] of d.fields) rec[n] = kinds[k];
  for (const [n, w] of d.bits) rec[n] = w === 0 ? fc.boolean() : fc.integer({ min: 0, max: 2 ** w - 1 });
  if (d.immediate) rec.immediate = fc.boolean();
  rec.data = d.data ? bytes(40) : fc.constant(Buffer.alloc(0));
  rec.ahs = op === Op.SCSI_COMMAND
    ? fc.array(fc.tuple(fc.integer({ min: 0, max: 255 }), bytes(30)).map(([type, data]) => ({ type, data })), { maxLength: 3 })
    : fc.constant([]);
  return fc.record(rec).map((r) => ({ op, ...r }) as unknown as Pdu);
}

test('round trip: every initiator and target PDU, every field, with and without digests', () => {
  assert.equal(INITIATOR_OPCODES.length, 8);
  assert.equal(TARGET_OPCODES.length, 10);
  for (const op of [...INITIATOR_OPCODES, ...TARGET_OPCODES]) {
    fc.assert(fc.property(arbPdu(op), fc.boolean(), fc.boolean(), (pdu, h, d) => {
      const digests = { header: h, data: d };
      const wire = encodePdu(pdu, digests);
      assert.equal(wire.length % 4, 0);
      assert.deepEqual(decodePduBytes(wire, digests), pdu);
    }), { numRuns: 60 });
  }
});

test('framer: cuts a stream fed byte by byte, with digests switched on between PDUs as after login', () => {
  const login = splitPdus(INQ.initiator)[0]!;
  const cmd: ScsiCommand = {
    op: Op.SCSI_COMMAND, immediate: false, final: true, read: false, write: true, attr: 1, lun: encodeLun(1), itt: 7,
    expectedDataTransferLength: 5, cmdSN: 2, expStatSN: 1, cdb: Buffer.from('2a000000000000000100000000000000', 'hex'), ahs: [],
    data: Buffer.from('hello'),
  };
  const digests = { header: true, data: true };
  const stream = Buffer.concat([encodePdu(decodeInitiatorPdu(login)), encodePdu(cmd, digests), encodePdu(cmd, digests)]);
  const fr = new PduFramer();
  const got: Frame[] = [];
  for (const byte of stream) {
    fr.push(Buffer.from([byte]));
    const f = fr.next();
    if (f) {
      got.push(f);
      if (got.length === 1) fr.setOptions({ digests, maxRecvDataSegmentLength: 65536 });
    }
  }
  assert.equal(got.length, 3);
  assert.equal(fr.buffered, 0);
  assert.deepEqual(decodeInitiatorPdu(got[2]!), cmd);
  assert.equal(got[1]!.dataDigestError, false);
});

test('framer: digest errors, the MaxRecvDataSegmentLength limit, option checks', () => {
  const nop = encodePdu({ op: Op.NOP_OUT, immediate: true, lun: 0n, itt: 1, ttt: RESERVED_TAG, cmdSN: 1, expStatSN: 1, ahs: [], data: Buffer.from('ping!') },
    { header: true, data: true });
  const badHeader = Buffer.from(nop);
  badHeader[20] = badHeader[20]! ^ 1;
  const fr = new PduFramer({ digests: { header: true, data: true } });
  fr.push(badHeader);
  assert.throws(() => fr.next(), DigestError);
  const badData = Buffer.from(nop);
  badData[BHS_SIZE + 4] = badData[BHS_SIZE + 4]! ^ 1;
  const fr2 = new PduFramer({ digests: { header: true, data: true } });
  fr2.push(badData);
  assert.equal(fr2.next()!.dataDigestError, true);
  assert.throws(() => decodePduBytes(badData, { header: true, data: true }), (e: unknown) => e instanceof PduError && e.reason === RejectReason.DATA_DIGEST_ERROR);
  const big = encodePdu({ op: Op.NOP_OUT, immediate: true, lun: 0n, itt: 1, ttt: RESERVED_TAG, cmdSN: 1, expStatSN: 1, ahs: [], data: Buffer.alloc(600) });
  const fr3 = new PduFramer({ maxRecvDataSegmentLength: 512 });
  fr3.push(big.subarray(0, BHS_SIZE));
  assert.throws(() => fr3.next(), (e: unknown) => e instanceof PduError && e.reason === RejectReason.PROTOCOL_ERROR && e.fatal && e.header.equals(big.subarray(0, BHS_SIZE)));
  assert.throws(() => new PduFramer({ maxRecvDataSegmentLength: 511 }), RangeError);
  assert.throws(() => new PduFramer({ maxRecvDataSegmentLength: 2 ** 24 }), RangeError);
});

test('errors: unknown opcode → Reject "Command not supported" with the header; wrong direction, stray data, bad AHS', () => {
  const bhs = Buffer.alloc(BHS_SIZE);
  bhs[0] = 0x1c; // vendor-specific initiator opcode: we support none
  const f: Frame = { bhs, ahs: Buffer.alloc(0), data: Buffer.alloc(0), dataDigestError: false };
  assert.throws(() => decodeInitiatorPdu(f), (e: unknown) => e instanceof PduError && e.reason === RejectReason.COMMAND_NOT_SUPPORTED && e.header.equals(bhs));
  const rsp = Buffer.from(bhs);
  rsp[0] = Op.SCSI_RESPONSE;
  assert.throws(() => decodeInitiatorPdu({ ...f, bhs: rsp }), (e: unknown) => e instanceof PduError && e.reason === RejectReason.PROTOCOL_ERROR);
  const tmf = Buffer.from(bhs);
  tmf[0] = Op.TASK_MGMT_REQUEST;
  assert.throws(() => decodeInitiatorPdu({ ...f, bhs: tmf, data: Buffer.from('x') }), (e: unknown) => e instanceof PduError && e.reason === RejectReason.INVALID_PDU_FIELD);
  const cmd = Buffer.from(bhs);
  cmd[0] = Op.SCSI_COMMAND;
  assert.throws(() => decodeInitiatorPdu({ ...f, bhs: cmd, ahs: Buffer.from([0, 9, 1, 0]) }), (e: unknown) => e instanceof PduError && e.reason === RejectReason.INVALID_PDU_FIELD);
  // The Reject a target sends back carries the bad header as its data (RFC 7143 11.17).
  try {
    decodeInitiatorPdu(f);
  } catch (err) {
    const rej = rejectFor(err as PduError, { statSN: 5, expCmdSN: 6, maxCmdSN: 7 });
    const wire = encodePdu(rej);
    assert.deepEqual([...wire.subarray(0, 4)], [0x3f, 0x80, 0x05, 0x00]);
    assert.equal(wire.readUInt32BE(16), RESERVED_TAG);
    assert.deepEqual(wire.subarray(BHS_SIZE, BHS_SIZE * 2), bhs);
  }
});

test('dispatch: a handler per opcode; a missing handler is "Command not supported"', () => {
  const [login, , , , , logout] = splitPdus(INQ.initiator);
  assert.equal(dispatch(login!, { [Op.LOGIN_REQUEST]: (p) => p.isid.toString('hex') }), '80f066ed0000');
  assert.throws(() => dispatch(logout!, { [Op.LOGIN_REQUEST]: () => 1 }), (e: unknown) => e instanceof PduError && e.reason === RejectReason.COMMAND_NOT_SUPPORTED);
});

test('AHS: extended CDB (32 bytes) and bidirectional read length (RFC 7143 11.2.2.3-4)', () => {
  const long = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1));
  const bidi = Buffer.alloc(5);
  bidi.writeUInt32BE(4096, 1);
  const cmd: ScsiCommand = {
    op: Op.SCSI_COMMAND, immediate: false, final: true, read: true, write: true, attr: 0, lun: 0n, itt: 1,
    expectedDataTransferLength: 512, cmdSN: 1, expStatSN: 1, cdb: long.subarray(0, 16),
    ahs: [{ type: AhsType.EXTENDED_CDB, data: Buffer.concat([Buffer.alloc(1), long.subarray(16)]) }, { type: AhsType.BIDI_READ_LENGTH, data: bidi }],
    data: Buffer.alloc(0),
  };
  const wire = encodePdu(cmd);
  assert.equal(wire[4], (20 + 8) / 4); // 32-byte CDB: AHSLength 17 → 20 bytes; bidi: 8 bytes
  assert.deepEqual(wire.subarray(BHS_SIZE, BHS_SIZE + 3), Buffer.from([0x00, 0x11, 0x01]));
  const back = decodePduBytes(wire) as ScsiCommand;
  assert.deepEqual(fullCdb(back), long);
  assert.equal(bidiReadLength(back), 4096);
  assert.deepEqual(decodeAhs(encodeAhs(cmd.ahs)), cmd.ahs);
});

test('LUNs: peripheral (0-255) and flat (256-16383) single-level addressing', () => {
  assert.equal(encodeLun(1), 0x0001000000000000n);
  assert.equal(encodeLun(300), 0x412c000000000000n);
  for (const n of [0, 1, 255, 256, 1000, 16383]) assert.equal(decodeLun(encodeLun(n)), n);
  assert.equal(decodeLun(0x0001000000000001n), undefined);
  assert.equal(decodeLun(0x8001000000000000n), undefined);
  assert.throws(() => encodeLun(16384), RangeError);
});

test('sense segment: SenseLength, sense data, response data (RFC 7143 11.4.7)', () => {
  const s = buildSense({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x24, ascq: 0 });
  const seg = encodeSenseSegment(s);
  assert.equal(seg.readUInt16BE(0), 18);
  assert.deepEqual(decodeSenseSegment(seg).sense, s);
  assert.throws(() => decodeSenseSegment(Buffer.from([0, 20, 1])), WireError);
});

test('fuzz: any bytes through the framer and both decoders give PDUs or WireErrors', () => {
  fc.assert(fc.property(bytes(400), fc.boolean(), fc.boolean(), (b, h, d) => {
    onlyWireErrors(() => {
      const fr = new PduFramer({ digests: { header: h, data: d }, maxRecvDataSegmentLength: 1024 });
      fr.push(b);
      for (let f = fr.next(); f; f = fr.next()) {
        onlyWireErrors(() => decodeInitiatorPdu(f!));
        onlyWireErrors(() => decodeTargetPdu(f!));
      }
    });
    onlyWireErrors(() => decodePduBytes(b));
    onlyWireErrors(() => decodeAhs(b));
  }), { numRuns: 2000 });
});

test('fuzz: mutated real PDUs give PDUs or WireErrors, never anything else', () => {
  for (const cap of Object.values(CAPTURES)) {
    for (const stream of [cap.initiator, cap.target]) {
      fc.assert(fc.property(mutated(stream.subarray(0, 600)), (b) => {
        onlyWireErrors(() => {
          for (const f of splitPdus(b)) {
            onlyWireErrors(() => decodeInitiatorPdu(f));
            onlyWireErrors(() => decodeTargetPdu(f));
          }
        });
      }), { numRuns: 150 });
    }
  }
});

test('login request with every header bit set decodes to the documented ranges', () => {
  const bhs = Buffer.alloc(BHS_SIZE, 0xff);
  bhs[0] = 0x43;
  bhs[4] = 0;
  bhs.fill(0, 5, 8);
  const p = decodeInitiatorPdu({ bhs, ahs: Buffer.alloc(0), data: Buffer.alloc(0), dataDigestError: false }) as LoginRequest;
  assert.equal(p.csg, 3);
  assert.equal(p.nsg, 3);
  assert.equal(p.transit && p.cont, true);
  assert.equal(p.tsih, 0xffff);
  assert.equal(p.cid, 0xffff);
});

test('builders: SCSI Response with sense and residuals, Data-In split with phase collapse, R2Ts per burst', () => {
  const sn = { statSN: 10, expCmdSN: 20, maxCmdSN: 84 };
  const sense = buildSense({ key: SenseKey.ILLEGAL_REQUEST, asc: 0x24, ascq: 0 });
  const rsp = scsiResponse({ ...sn, itt: 5, status: 0x02, sense, expected: 512, actual: 0 });
  const back = decodePduBytes(encodePdu(rsp));
  assert.deepEqual(back, rsp);
  assert.deepEqual(decodeSenseSegment(rsp.data).sense, sense);
  assert.equal(rsp.underflow && rsp.residualCount === 512, true);
  assert.deepEqual(residual(100, 150), { overflow: true, underflow: false, residualCount: 50 });
  assert.deepEqual(residual(8, 8), { overflow: false, underflow: false, residualCount: 0 });
  const data = Buffer.from(Array.from({ length: 2500 }, (_, i) => i & 0xff));
  const ins = dataInPdus(data, { ...sn, itt: 6, lun: encodeLun(1), maxSegment: 1024, status: 0, expected: 4096, firstDataSN: 3 });
  assert.deepEqual(ins.map((p) => [p.dataSN, p.bufferOffset, p.data.length, p.final, p.statusPresent, p.statSN]),
    [[3, 0, 1024, false, false, 0], [4, 1024, 1024, false, false, 0], [5, 2048, 452, true, true, 10]]);
  assert.equal(ins[2]!.underflow && ins[2]!.residualCount === 4096 - 2500, true);
  assert.deepEqual(Buffer.concat(ins.map((p) => p.data)), data);
  for (const p of ins) assert.deepEqual(decodePduBytes(encodePdu(p)), p);
  assert.equal(dataInPdus(Buffer.alloc(0), { ...sn, itt: 1, lun: 0n, maxSegment: 8192, status: 0 }).length, 1);
  const r2ts = r2tPdus({ ...sn, itt: 7, lun: 0n, ttt: 0x100, offset: 65536, length: 300000, maxBurst: 262144, firstR2TSN: 0 });
  assert.deepEqual(r2ts.map((r) => [r.ttt, r.r2tSN, r.bufferOffset, r.desiredDataTransferLength]),
    [[0x100, 0, 65536, 262144], [0x101, 1, 327680, 37856]]);
  assert.throws(() => r2tPdus({ ...sn, itt: 7, lun: 0n, ttt: 1, offset: 0, length: 1, maxBurst: 0 }), RangeError);
});
