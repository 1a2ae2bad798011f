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
import { responsePdus, Task } from './tasks.js';
import { Op, type DataIn, type ScsiCommand } from './wire/pdu.js';

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
