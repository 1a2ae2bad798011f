/**
 * responsePdus (tasks.ts): Data-In built from pieces (READ's BlockVolume.readLent pieces) —
 * each PDU within one piece and at most MaxRecvDataSegmentLength, sequences ending (F) at every
 * MaxBurstLength bytes, offsets and DataSN contiguous, the status collapsed into the last PDU,
 * and truncation to the Expected Data Transfer Length with the overflow residual (RFC 7143
 * sections 11.7, 13.13).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { pooledDataBytes, responsePdus, Task } from './tasks.js';
import { decodeInitiatorPdu, encodePdu, Op, PduFramer, RESERVED_TAG, type DataIn, type DataOut, type ScsiCommand } from './wire/pdu.js';

function readTask(length: number): Task {
  const cmd: ScsiCommand = {
    op: Op.SCSI_COMMAND, immediate: false, final: true, read: true, write: false, attr: 1, lun: 0n, itt: 7,
    expectedDataTransferLength: length, cmdSN: 1, expStatSN: 1, cdb: Buffer.from([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]), ahs: [], data: Buffer.alloc(0),
  } as ScsiCommand;
  return new Task(cmd, { immediateData: true, initialR2T: false, firstBurstLength: 65536, maxBurstLength: 262144 });
}

test('Data-In from pieces: one piece per PDU at most, F at each burst, status in the last, bytes in order', async () => {
  await fc.assert(fc.property(
    fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 6 }),
    fc.integer({ min: 1, max: 2048 }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 20000 }),
    (sizes, maxSegment, maxBurst, edtl) => {
      const pieces = sizes.map((n) => randomBytes(n));
      const all = Buffer.concat(pieces);
      const task = readTask(edtl);
      const pdus = responsePdus(task, { status: 0, dataInParts: pieces }, maxSegment, 512, maxBurst);
      const sent = Math.min(all.length, edtl);
      const dataIns = pdus.filter((p): p is DataIn => p.op === Op.SCSI_DATA_IN);
      if (sent === 0) {
        assert.deepEqual(pdus.map((p) => p.op), [Op.SCSI_RESPONSE], 'nothing to send: a SCSI Response alone');
        return;
      }
      assert.equal(dataIns.length, pdus.length, 'GOOD with data: status collapsed into the Data-In');
      let offset = 0;
      const bounds = new Set<number>();
      let b = 0;
      for (const p of pieces) bounds.add((b += p.length));
      dataIns.forEach((d, i) => {
        assert.equal(d.dataSN, i);
        assert.equal(d.bufferOffset, offset);
        assert.ok(d.data.length >= 1 && d.data.length <= maxSegment);
        assert.ok(d.data.equals(all.subarray(offset, offset + d.data.length)));
        // No PDU crosses a piece boundary or a burst boundary.
        for (const x of bounds) assert.ok(!(x > offset && x < offset + d.data.length), 'within one piece');
        assert.ok(Math.floor(offset / maxBurst) === Math.floor((offset + d.data.length - 1) / maxBurst), 'within one burst');
        offset += d.data.length;
        const last = i === dataIns.length - 1;
        assert.equal(d.final, last || offset % maxBurst === 0, `F bit of PDU ${i}`);
        assert.equal(d.statusPresent, last);
      });
      assert.equal(offset, sent);
      const last = dataIns[dataIns.length - 1]!;
      if (all.length > edtl) assert.deepEqual([last.overflow, last.residualCount], [true, all.length - edtl]);
      else if (all.length < edtl) assert.deepEqual([last.underflow, last.residualCount], [true, edtl - all.length]);
      else assert.equal(last.residualCount, 0);
    }), { numRuns: 300 });
});

test('Data-In from one buffer and from the same bytes in pieces carry the same bytes', () => {
  const data = randomBytes(300_000);
  const a = responsePdus(readTask(data.length), { status: 0, dataIn: data }, 65536, 512, 262144) as DataIn[];
  const b = responsePdus(readTask(data.length), { status: 0, dataInParts: [data.subarray(0, 65536 * 2), data.subarray(131072)] }, 65536, 512, 262144) as DataIn[];
  assert.deepEqual(a.map((p) => [p.bufferOffset, p.data.length, p.final]), b.map((p) => [p.bufferOffset, p.data.length, p.final]));
  assert.ok(Buffer.concat(a.map((p) => p.data)).equals(data));
});

function writeTask(length: number, imm: Buffer, opcode = 0x2a): Task {
  const cmd: ScsiCommand = {
    op: Op.SCSI_COMMAND, immediate: false, final: imm.length === length, read: false, write: true, attr: 1, lun: 0n, itt: 9,
    expectedDataTransferLength: length, cmdSN: 1, expStatSN: 1, cdb: Buffer.from([opcode, 0, 0, 0, 0, 0, 0, 0, 1, 0]), ahs: [], data: imm,
  } as ScsiCommand;
  return new Task(cmd, { immediateData: true, initialR2T: false, firstBurstLength: 4096, maxBurstLength: 8192 });
}

test('Data-Out placed by the framer (dataTarget): the same bytes gathered, whatever the socket chunks and digests; the pooled buffer goes back', async () => {
  await fc.assert(fc.property(
    fc.integer({ min: 4097, max: 40000 }), fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 8 }), fc.boolean(), fc.boolean(),
    fc.constantFrom(0x2a, 0x2e), // WRITE (10) gathers into a pooled buffer; WRITE AND VERIFY (10) keeps chunks
    (edtl, cuts, hd, dd, opcode) => {
      const data = randomBytes(edtl);
      const digests = { header: hd, data: dd };
      const task = writeTask(edtl, data.subarray(0, 1000), opcode);
      const framer = new PduFramer({ maxRecvDataSegmentLength: 8192, digests });
      let asked = 0;
      framer.setDataTarget((bhs, n) => { asked++; return task.dataTarget(bhs.readUInt32BE(20), bhs.readUInt32BE(40), n); });
      // Unsolicited Data-Out up to FirstBurstLength, then R2T-solicited bursts.
      const pdus: DataOut[] = [];
      const unsolicited = { ttt: RESERVED_TAG, at: 1000, end: 4096, sn: 0 };
      const wire: Buffer[] = [];
      const out = (ttt: number, at: number, n: number, sn: number, final: boolean) => {
        const d: DataOut = { op: Op.SCSI_DATA_OUT, final, lun: 0n, itt: 9, ttt, expStatSN: 1, dataSN: sn, bufferOffset: at, ahs: [], data: data.subarray(at, at + n) };
        pdus.push(d);
        wire.push(encodePdu(d, digests));
      };
      for (let at = unsolicited.at, sn = 0; at < unsolicited.end; at += 2000, sn++) out(RESERVED_TAG, at, Math.min(2000, unsolicited.end - at), sn, at + 2000 >= unsolicited.end);
      const stream = Buffer.concat(wire);
      let frames = 0;
      const take = () => {
        for (let f = framer.next(); f; f = framer.next()) {
          const d = decodeInitiatorPdu(f) as DataOut;
          assert.ok(d.data.equals(data.subarray(d.bufferOffset, d.bufferOffset + d.data.length)), 'the frame carries its own bytes');
          task.dataOut(d);
          frames++;
        }
      };
      let pos = 0;
      for (const c of [...cuts, stream.length]) {
        framer.push(stream.subarray(pos, Math.min(stream.length, pos + c)));
        pos = Math.min(stream.length, pos + c);
        take();
      }
      assert.equal(frames, pdus.length);
      // The rest through R2Ts.
      let ttt = 100;
      while (task.missing > 0) {
        const r2t = task.nextR2T(8192, ttt, { statSN: 1, expCmdSN: 1, maxCmdSN: 1 });
        const burst: Buffer[] = [];
        for (let at = r2t.bufferOffset, sn = 0; at < r2t.bufferOffset + r2t.desiredDataTransferLength; at += 3000, sn++) {
          const n = Math.min(3000, r2t.bufferOffset + r2t.desiredDataTransferLength - at);
          const d: DataOut = { op: Op.SCSI_DATA_OUT, final: at + n === r2t.bufferOffset + r2t.desiredDataTransferLength, lun: 0n, itt: 9, ttt, expStatSN: 1, dataSN: sn, bufferOffset: at, ahs: [], data: data.subarray(at, at + n) };
          burst.push(encodePdu(d, digests));
        }
        const b = Buffer.concat(burst);
        for (let at = 0; at < b.length; at += cuts[at % cuts.length]!) {
          framer.push(b.subarray(at, at + cuts[at % cuts.length]!));
          take();
        }
        ttt++;
      }
      assert.ok(asked > 0, 'the framer asked where Data-Out goes');
      assert.ok(task.takeData()!.equals(data), 'every byte gathered, in order');
      task.releaseData();
      task.finish();
      assert.equal(pooledDataBytes(), 0, 'nothing left taken from the pool');
    },
  ), { numRuns: 150 });
});

test('an aborted WRITE gives its pooled buffer back; Data-Out out of order is not placed', () => {
  const task = writeTask(10000, randomBytes(1000));
  assert.ok(pooledDataBytes() >= 10000, 'immediate data of a WRITE took a pooled buffer');
  assert.equal(task.dataTarget(RESERVED_TAG, 2000, 100), undefined, 'not at the next offset');
  assert.equal(task.dataTarget(RESERVED_TAG, 1000, 4000), undefined, 'past FirstBurstLength');
  assert.equal(task.dataTarget(77, 1000, 100), undefined, 'no such R2T');
  assert.equal(task.dataTarget(RESERVED_TAG, 1000, 100)?.length, 100);
  task.finish();
  assert.equal(pooledDataBytes(), 0);
});
