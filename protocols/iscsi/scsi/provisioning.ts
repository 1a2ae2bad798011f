/**
 * Thin provisioning and atomic commands (SBC-3): UNMAP §5.28, WRITE SAME(10/16) §5.42-5.43,
 * GET LBA STATUS §5.8, COMPARE AND WRITE §5.2, ORWRITE(16) (SBC-3 §5.9 of SBC-4: OR of Data-Out
 * into the medium).
 *
 * The logical block provisioning VPD (spc.ts) says LBPU, LBPWS, LBPWS10 and LBPRZ: unmapped
 * blocks read zeros, because BlockVolume.unmap deallocates whole records and zeroes partial ones.
 * ANCHOR is not supported (ANC_SUP 0): UNMAP or WRITE SAME with ANCHOR is INVALID FIELD IN CDB.
 * WSNZ is 1: WRITE SAME of 0 blocks is INVALID FIELD IN CDB.
 *
 * COMPARE AND WRITE holds an exclusive range lock (lu.ts RangeLocks) across its read, compare and
 * write: no other write of the LU overlapping the range runs in between.
 */
import type { ScsiResult } from '../device.js';
import {
  Asc, checkCondition, decodeUnmapList, invalidFieldInCdb, invalidFieldInParameterList, lbaOutOfRange, miscompare, parameterListLengthError,
  SenseKey, type CompareAndWriteCdb, type RwCdb, type GetLbaStatusCdb, type UnmapCdb, type WriteSameCdb,
} from '../wire/scsi.js';
import { good, type Ctx, type ScsiLu } from './lu.js';
import { byteOffset, checkRange, checkWritable, writeBlocks } from './sbc.js';
import { blockLimits } from './spc.js';

/** Data-Out of exactly `bytes` (WRITE SAME, COMPARE AND WRITE): any other length is INVALID FIELD IN CDB. */
function exactDataOut(c: Ctx, bytes: number, byte: number): Buffer {
  const d = c.task.dataOut ?? Buffer.alloc(0);
  if (d.length !== bytes) {
    throw checkCondition(`Data-Out of ${d.length} bytes, ${bytes} expected`, SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB, { field: { cd: true, byte } });
  }
  return d;
}

/** Unmaps [lba, lba+blocks) under a shared range lock. */
async function unmapBlocks(lu: ScsiLu, lba: bigint, blocks: number): Promise<void> {
  if (blocks === 0) return;
  const release = await lu.locks.acquire(lba, blocks, false);
  try {
    await lu.volume.unmap(byteOffset(lu, lba), blocks * lu.blockSize);
  } finally {
    release();
  }
}

/**
 * UNMAP (SBC-3 §5.28): the parameter list of block descriptors (wire/scsi.ts decodeUnmapList).
 * More descriptors than MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT, or more blocks in all than
 * MAXIMUM UNMAP LBA COUNT: INVALID FIELD IN PARAMETER LIST; a descriptor past the end: LBA OUT
 * OF RANGE (nothing is unmapped when any descriptor is bad).
 */
export async function unmap(c: Ctx): Promise<ScsiResult> {
  const cdb = c.cdb as UnmapCdb;
  const lu = c.lu;
  if (cdb.anchor) throw invalidFieldInCdb(1, 0, 'ANCHOR not supported');
  if (cdb.parameterListLength === 0) return good();
  const data = c.task.dataOut ?? Buffer.alloc(0);
  if (data.length < cdb.parameterListLength) throw parameterListLengthError('UNMAP Data-Out shorter than PARAMETER LIST LENGTH');
  const limits = blockLimits(lu);
  const descs = decodeUnmapList(data.subarray(0, cdb.parameterListLength), limits.maxUnmapDescriptors);
  let total = 0;
  descs.forEach((d, i) => {
    checkRange(lu, d.lba, d.blocks);
    total += d.blocks;
    if (total > limits.maxUnmapLba) throw invalidFieldInParameterList(8 + 16 * i + 8, undefined, `UNMAP of more than ${limits.maxUnmapLba} blocks`);
  });
  checkWritable(lu);
  for (const d of descs) await unmapBlocks(lu, d.lba, d.blocks);
  return good();
}

/**
 * WRITE SAME(10/16) (SBC-3 §5.42): one block of Data-Out (exactly) written to every block of the
 * range, in chunks of at most 1 MiB; with UNMAP the range is unmapped instead (reads zeros,
 * LBPRZ); WRITE SAME(16) with NDOB writes (or unmaps) zeros without Data-Out.
 */
export async function writeSame(c: Ctx): Promise<ScsiResult> {
  const cdb = c.cdb as WriteSameCdb;
  const lu = c.lu;
  const long = cdb.op === 0x93;
  if (cdb.protect !== 0) throw invalidFieldInCdb(1, 7, 'WRPROTECT: protection information not supported');
  if (cdb.anchor) throw invalidFieldInCdb(1, 4, 'ANCHOR not supported');
  if (cdb.blocks === 0) throw invalidFieldInCdb(long ? 10 : 7, undefined, 'WRITE SAME of 0 blocks (WSNZ)');
  if (cdb.blocks > blockLimits(lu).maxWriteSame) throw invalidFieldInCdb(long ? 10 : 7, undefined, `WRITE SAME of ${cdb.blocks} blocks above the maximum`);
  checkRange(lu, cdb.lba, cdb.blocks);
  checkWritable(lu);
  const bs = lu.blockSize;
  const block = cdb.ndob ? Buffer.alloc(bs) : exactDataOut(c, bs, 0);
  if (cdb.unmap) {
    await unmapBlocks(lu, cdb.lba, cdb.blocks);
    return good();
  }
  const perChunk = Math.max(1, Math.floor((1 << 20) / bs));
  const chunk = Buffer.alloc(Math.min(perChunk, cdb.blocks) * bs);
  for (let o = 0; o < chunk.length; o += bs) block.copy(chunk, o);
  for (let done = 0; done < cdb.blocks;) {
    const n = Math.min(perChunk, cdb.blocks - done);
    await writeBlocks(lu, cdb.lba + BigInt(done), n * bs === chunk.length ? chunk : chunk.subarray(0, n * bs), false);
    done += n;
  }
  return good();
}

/**
 * GET LBA STATUS (SBC-3 §5.8): LBA status descriptors from the STARTING LBA on (LBA u64, NUMBER
 * OF LOGICAL BLOCKS u32, PROVISIONING STATUS 0 mapped / 1 deallocated), from volume.mapping, as
 * many as the allocation length holds, over at most 1 GiB of the LU. A STARTING LBA past the
 * last one: LBA OUT OF RANGE.
 */
export async function getLbaStatus(c: Ctx): Promise<ScsiResult> {
  const cdb = c.cdb as GetLbaStatusCdb;
  const lu = c.lu;
  if (cdb.lba >= lu.blocks) throw lbaOutOfRange(cdb.lba);
  const bs = lu.blockSize;
  const maxDescs = Math.max(1, Math.floor((Math.min(cdb.allocationLength, 1 << 16) - 8) / 16));
  const span = Math.min(Number(lu.blocks - cdb.lba), Math.floor((1 << 30) / bs));
  const runs = await lu.volume.mapping(byteOffset(lu, cdb.lba), span * bs);
  const descs: Buffer[] = [];
  for (const r of runs) {
    if (descs.length >= maxDescs) break;
    const d = Buffer.alloc(16);
    d.writeBigUInt64BE(BigInt(Math.floor(r.offset / bs)), 0);
    d.writeUInt32BE(Math.ceil(r.length / bs), 8);
    d[12] = r.mapped ? 0 : 1;
    descs.push(d);
  }
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32BE(4 + 16 * descs.length, 0);
  return good(Buffer.concat([hdr, ...descs]), cdb.allocationLength);
}

/**
 * COMPARE AND WRITE (SBC-3 §5.2): Data-Out is NUMBER OF LOGICAL BLOCKS of verify data then as
 * many of write data (exactly 2 × blocks × block length). The medium is compared with the verify
 * data under an exclusive range lock; on a difference nothing is written and the answer is
 * MISCOMPARE, MISCOMPARE DURING VERIFY OPERATION, INFORMATION = the byte offset of the first
 * difference; else the write data is written (FUA as the CDB says).
 */
export async function compareAndWrite(c: Ctx): Promise<ScsiResult> {
  const cdb = c.cdb as CompareAndWriteCdb;
  const lu = c.lu;
  if (cdb.protect !== 0) throw invalidFieldInCdb(1, 7, 'WRPROTECT: protection information not supported');
  if (cdb.blocks > blockLimits(lu).maxCompareAndWrite) throw invalidFieldInCdb(13, undefined, `COMPARE AND WRITE of ${cdb.blocks} blocks`);
  checkRange(lu, cdb.lba, cdb.blocks);
  checkWritable(lu);
  const len = cdb.blocks * lu.blockSize;
  // The Data-Out must be exactly the verify and write data, also for 0 blocks (then none).
  const data = exactDataOut(c, 2 * len, 13);
  if (cdb.blocks === 0) return good();
  const release = await lu.locks.acquire(cdb.lba, cdb.blocks, true);
  try {
    const medium = await lu.volume.read(byteOffset(lu, cdb.lba), len);
    for (let i = 0; i < len; i++) if (medium[i] !== data[i]) throw miscompare(i);
    await lu.volume.write(byteOffset(lu, cdb.lba), data.subarray(len), { fua: cdb.fua || !lu.mode.wce });
  } finally {
    release();
  }
  return good();
}

/**
 * ORWRITE(16) (SBC-3 §5.9, no protection information): the Data-Out is ORed into the medium,
 * atomically against other writes (exclusive range lock, as COMPARE AND WRITE). When the Data-Out
 * is shorter than the transfer length only the whole blocks sent are written, as WRITE does.
 */
export async function orWrite(c: Ctx): Promise<ScsiResult> {
  const cdb = c.cdb as RwCdb;
  const lu = c.lu;
  if (cdb.protect !== 0) throw invalidFieldInCdb(1, 7, 'ORPROTECT: protection information not supported');
  if (cdb.blocks > blockLimits(lu).maxTransfer) throw invalidFieldInCdb(10, undefined, `ORWRITE of ${cdb.blocks} blocks above the maximum transfer length`);
  checkRange(lu, cdb.lba, cdb.blocks);
  checkWritable(lu);
  const blocks = Math.min(cdb.blocks, Math.floor((c.task.dataOut?.length ?? 0) / lu.blockSize));
  if (blocks === 0) return good();
  const len = blocks * lu.blockSize;
  const data = c.task.dataOut!;
  const release = await lu.locks.acquire(cdb.lba, blocks, true);
  try {
    const medium = await lu.volume.read(byteOffset(lu, cdb.lba), len);
    for (let i = 0; i < len; i++) medium[i] = medium[i]! | data[i]!;
    await lu.volume.write(byteOffset(lu, cdb.lba), medium, { fua: cdb.fua || !lu.mode.wce });
  } finally {
    release();
  }
  return good();
}
