/** SBC-3 block commands: READ/WRITE 6/10/12/16, VERIFY, WRITE AND VERIFY, SYNCHRONIZE CACHE, READ CAPACITY, PRE-FETCH; ranges, protection fields, read-only volumes, volume errors as sense, 4096-byte blocks. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Errno } from '../../../vfs/errno.js';
import { ScsiStatus, SenseKey } from '../wire/scsi.js';
import { RangeLocks } from './lu.js';
import { cdb, ok, read10, rw16, senseOf, setup, write10 } from './test-util.js';

test('WRITE then READ round trip through every CDB size (6/10/12/16), FUA reaches the volume', async () => {
  const { run, volume } = await setup();
  const data = randomBytes(4 * 512);
  ok(await run(write10(10, 4, 0x08), data));
  assert.equal(volume.stats.fuaWrites, 1);
  assert.deepEqual(ok(await run(read10(10, 4))), data);
  assert.deepEqual(ok(await run(cdb(6, 0x08, 0, 0, 10, 4))), data);
  const r12 = cdb(12, 0xa8);
  r12.writeUInt32BE(11, 2);
  r12.writeUInt32BE(2, 6);
  assert.deepEqual(ok(await run(r12)), data.subarray(512, 1536));
  assert.deepEqual(ok(await run(rw16(0x88, 12n, 2))), data.subarray(1024));
  const d2 = randomBytes(512);
  ok(await run(cdb(6, 0x0a, 0, 0, 20, 1), d2));
  ok(await run(rw16(0x8a, 21n, 1, 0x18), d2));
  const w12 = cdb(12, 0xaa);
  w12.writeUInt32BE(22, 2);
  w12.writeUInt32BE(1, 6);
  ok(await run(w12, d2));
  assert.deepEqual(ok(await run(read10(20, 3))), Buffer.concat([d2, d2, d2]));
  // Holes read as zeros; 0 blocks is GOOD with no data.
  assert.deepEqual(ok(await run(read10(100, 1))), Buffer.alloc(512));
  assert.equal(ok(await run(read10(0, 0))).length, 0);
});

test('ranges: past the end (also 0 blocks), LBA 2^31 and 2^64-1 are LOGICAL BLOCK ADDRESS OUT OF RANGE; 0 blocks at the end is GOOD', async () => {
  const { run } = await setup(); // 2048 blocks
  for (const c of [read10(2047, 2), read10(2049, 0), read10(0x80000000, 0), read10(0xffffffff, 1), rw16(0x88, 0xffffffffffffffffn, 1), rw16(0x88, 2048n, 1), write10(2048, 1)]) {
    const s = senseOf(await run(c, Buffer.alloc(512)));
    assert.deepEqual([s.key, s.asc, s.ascq], [SenseKey.ILLEGAL_REQUEST, 0x21, 0], c.toString('hex'));
  }
  ok(await run(read10(2048, 0)));
  ok(await run(read10(2047, 1)));
});

test('RDPROTECT/WRPROTECT/VRPROTECT ≠ 0 and a transfer above the Block Limits maximum: INVALID FIELD IN CDB', async () => {
  const { run } = await setup({ sizeBytes: 64 << 20 });
  for (const c of [read10(0, 1, 0x20), write10(0, 1, 0xe0), rw16(0x88, 0n, 1, 0x40), cdb(10, 0x2f, 0x20, 0, 0, 0, 0, 0, 0, 1)]) {
    const s = senseOf(await run(c, Buffer.alloc(512)));
    assert.deepEqual([s.key, s.asc], [SenseKey.ILLEGAL_REQUEST, 0x24]);
    assert.deepEqual(s.field, { cd: true, byte: 1, bit: 7 });
  }
  assert.equal(senseOf(await run(rw16(0x88, 0n, 16385))).asc, 0x24);
  assert.equal(ok(await run(rw16(0x88, 0n, 16384))).length, 8 << 20);
});

test('a read-only volume: every write is DATA PROTECT, WRITE PROTECTED; reads work; MODE SENSE shows WP', async () => {
  const { run } = await setup({ readOnly: true });
  for (const c of [write10(0, 1), rw16(0x8a, 0n, 1), cdb(10, 0x2e, 0, 0, 0, 0, 0, 0, 0, 1)]) {
    const s = senseOf(await run(c, Buffer.alloc(512)));
    assert.deepEqual([s.key, s.asc, s.ascq], [SenseKey.DATA_PROTECT, 0x27, 0]);
  }
  ok(await run(read10(0, 1)));
  assert.equal(ok(await run(cdb(6, 0x1a, 0, 0x3f, 0, 255)))[2], 0x90);
});

test('volume errors become sense: EIO on read is MEDIUM ERROR UNRECOVERED READ ERROR with the LBA, on write WRITE ERROR; ENOSPC SPACE ALLOCATION FAILED', async () => {
  const { run, volume } = await setup();
  volume.failNext = Errno.EIO;
  assert.deepEqual(senseOf(await run(read10(7, 1))), { key: SenseKey.MEDIUM_ERROR, asc: 0x11, ascq: 0, information: 7 });
  volume.failNext = Errno.EIO;
  assert.deepEqual(senseOf(await run(write10(9, 1), Buffer.alloc(512))), { key: SenseKey.MEDIUM_ERROR, asc: 0x0c, ascq: 0, information: 9 });
  volume.failNext = Errno.ENOSPC;
  assert.deepEqual(senseOf(await run(write10(9, 1), Buffer.alloc(512))), { key: SenseKey.DATA_PROTECT, asc: 0x27, ascq: 0x07 });
  const small = await setup({ capacityRecords: 1 });
  ok(await small.run(write10(0, 8), Buffer.alloc(4096, 1)));
  assert.equal(senseOf(await small.run(write10(8, 1), Buffer.alloc(512))).ascq, 0x07);
  volume.failNext = Errno.ESTALE;
  assert.deepEqual(senseOf(await run(cdb(10, 0x35))), { key: SenseKey.NOT_READY, asc: 0x3a, ascq: 0 });
});

test('Data-Out shorter than the transfer length (EDTL below it): only the whole blocks sent are written, GOOD', async () => {
  const { run, volume } = await setup();
  ok(await run(write10(0, 2), Buffer.alloc(2 * 512, 0x61)));
  ok(await run(write10(0, 2), Buffer.alloc(512, 0x62)));
  assert.deepEqual(ok(await run(read10(0, 2))), Buffer.concat([Buffer.alloc(512, 0x62), Buffer.alloc(512, 0x61)]));
  ok(await run(write10(0, 1), Buffer.alloc(200, 0x63)));
  ok(await run(write10(0, 1)));
  assert.equal(volume.stats.writes, 2);
  ok(await run(write10(0, 1), Buffer.alloc(2 * 512, 0x64)));
  assert.deepEqual(ok(await run(read10(0, 2))), Buffer.concat([Buffer.alloc(512, 0x64), Buffer.alloc(512, 0x61)]));
});

test('VERIFY: BYTCHK 0 reads, 1 compares (MISCOMPARE with the byte offset), 3 compares one block with each; WRITE AND VERIFY writes', async () => {
  const { run } = await setup();
  const data = randomBytes(1024);
  ok(await run(cdb(10, 0x2e, 0x02, 0, 0, 0, 5, 0, 0, 2), data));
  assert.deepEqual(ok(await run(read10(5, 2))), data);
  ok(await run(cdb(10, 0x2f, 0x00, 0, 0, 0, 5, 0, 0, 2)));
  ok(await run(cdb(10, 0x2f, 0x02, 0, 0, 0, 5, 0, 0, 2), data));
  const bad = Buffer.from(data);
  bad[700] = bad[700]! ^ 1;
  assert.deepEqual(senseOf(await run(cdb(10, 0x2f, 0x02, 0, 0, 0, 5, 0, 0, 2), bad)), { key: SenseKey.MISCOMPARE, asc: 0x1d, ascq: 0, information: 700 });
  const v16 = rw16(0x8f, 5n, 2, 0x02);
  ok(await run(v16, data));
  ok(await run(cdb(10, 0x2f, 0x06, 0, 0, 0, 50, 0, 0, 3), Buffer.alloc(512)));
  assert.equal(senseOf(await run(cdb(10, 0x2f, 0x06, 0, 0, 0, 5, 0, 0, 2), Buffer.alloc(512))).key, SenseKey.MISCOMPARE);
  assert.equal(senseOf(await run(cdb(10, 0x2f, 0x04, 0, 0, 0, 5, 0, 0, 2))).asc, 0x24);
  assert.equal(senseOf(await run(cdb(10, 0x2f, 0x00, 0, 0, 0x08, 0, 0, 0, 1))).asc, 0x21);
});

test('SYNCHRONIZE CACHE flushes the volume before answering; a range past the end is refused', async () => {
  const { run, volume } = await setup();
  ok(await run(cdb(10, 0x35)));
  ok(await run(rw16(0x91, 0n, 2048)));
  assert.equal(volume.stats.flushes, 2);
  assert.equal(senseOf(await run(rw16(0x91, 2047n, 2))).asc, 0x21);
  assert.equal(volume.stats.flushes, 2);
});

test('READ CAPACITY(10)/(16): last LBA, block length, LBPME/LBPRZ, physical exponent; 0xFFFFFFFF when too big; PMI rules', async () => {
  const { run } = await setup({ recordSize: 65536 });
  const r10 = ok(await run(cdb(10, 0x25)));
  assert.equal(r10.toString('hex'), '000007ff00000200');
  const r16 = ok(await run(cdb(16, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32)));
  assert.equal(r16.length, 32);
  assert.equal(r16.readBigUInt64BE(0), 2047n);
  assert.equal(r16.readUInt32BE(8), 512);
  assert.equal(r16[13], 0);
  assert.equal(r16[14], 0xc0);
  assert.equal(ok(await run(cdb(16, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12))).length, 12);
  assert.equal(senseOf(await run(cdb(10, 0x25, 0, 0, 0, 0, 1))).asc, 0x24);
  ok(await run(cdb(10, 0x25, 0, 0, 0, 0, 1, 0, 0, 1)));
  const big = await setup({ sizeBytes: 4 * 2 ** 40 });
  assert.equal(ok(await big.run(cdb(10, 0x25))).readUInt32BE(0), 0xffffffff);
  assert.equal(ok(await big.run(cdb(16, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32))).readBigUInt64BE(0), 2n ** 33n - 1n);
});

test('4096-byte logical blocks: capacity, block descriptor, reads and writes in 4 KiB units', async () => {
  const { run } = await setup({}, { blockSize: 4096 });
  assert.equal(ok(await run(cdb(10, 0x25))).toString('hex'), '000000ff00001000');
  const data = randomBytes(8192);
  ok(await run(write10(3, 2), data));
  assert.deepEqual(ok(await run(read10(3, 2))), data);
  assert.equal(ok(await run(cdb(6, 0x1a, 0, 0x08, 0, 255))).readUInt32BE(8) & 0xffffff, 4096);
  assert.equal(ok(await run(cdb(16, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32)))[13], 0);
});

test('PRE-FETCH answers CONDITION MET inside the LU, LBA OUT OF RANGE outside', async () => {
  const { run } = await setup();
  assert.equal((await run(cdb(10, 0x34, 0, 0, 0, 0, 0, 0, 0, 8))).status, ScsiStatus.CONDITION_MET);
  assert.equal((await run(rw16(0x90, 2040n, 8))).status, ScsiStatus.CONDITION_MET);
  assert.equal(senseOf(await run(rw16(0x90, 2041n, 8))).asc, 0x21);
});

test('START STOP UNIT: STOP makes media access NOT READY until START; LOEJ on a fixed medium is refused', async () => {
  const { run } = await setup();
  ok(await run(cdb(6, 0x1b, 0, 0, 0, 0)));
  assert.deepEqual([senseOf(await run(read10(0, 1))).key, senseOf(await run(cdb(6, 0))).key], [SenseKey.NOT_READY, SenseKey.NOT_READY]);
  ok(await run(cdb(6, 0x12, 0, 0, 0, 36)));
  ok(await run(cdb(6, 0x1b, 0, 0, 0, 1)));
  ok(await run(read10(0, 1)));
  assert.notEqual((await run(cdb(6, 0x1b, 1, 0, 0, 2))).status, ScsiStatus.GOOD);
});

test('READ DEFECT DATA(10)/(12): no defects, the requested lists marked valid and empty in the requested format', async () => {
  const { run } = await setup();
  assert.equal(ok(await run(cdb(10, 0x37, 0, 0x1d, 0, 0, 0, 0, 0, 32))).toString('hex'), '001d0000');
  assert.equal(ok(await run(cdb(12, 0xb7, 0x08, 0, 0, 0, 0, 0, 0, 1, 0))).toString('hex'), '0008000000000000');
  assert.equal(ok(await run(cdb(10, 0x37, 0, 0, 0, 0, 0, 0, 0, 2))).length, 2);
});

test('RangeLocks: an exclusive lock waiting behind a shared one goes before shared ones asked for later (no starvation); disjoint ranges do not wait', async () => {
  const locks = new RangeLocks();
  const order: string[] = [];
  const releaseA = await locks.acquire(0n, 8, false);
  const x = locks.acquire(4n, 8, true).then((r) => { order.push('X'); return r; });
  const b = locks.acquire(6n, 1, false).then((r) => { order.push('B'); return r; });
  const far = await locks.acquire(100n, 8, false);
  far();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [], 'X waits for A, B for X');
  releaseA();
  const releaseX = await x;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, ['X'], 'B still waits for X');
  releaseX();
  (await b)();
  assert.deepEqual(order, ['X', 'B']);
});
