/**
 * SBC-3 block commands over the LU's BlockVolume: READ(6/10/12/16) §5.11-5.15, WRITE(6/10/12/16)
 * §5.30-5.34, WRITE AND VERIFY(10/12/16) §5.36-5.38, VERIFY(10/12/16) §5.27-5.29 with BYTCHK,
 * SYNCHRONIZE CACHE(10/16) §5.22-5.23, READ CAPACITY(10/16) §5.16-5.17, PRE-FETCH(10/16)
 * §5.9-5.10. Provisioning and atomic commands (UNMAP, WRITE SAME, GET LBA STATUS, COMPARE AND
 * WRITE) are in provisioning.ts.
 *
 * Checks, in this order: CDB fields (RDPROTECT/WRPROTECT/VRPROTECT ≠ 0: INVALID FIELD IN CDB,
 * there is no protection information; TRANSFER LENGTH above the Block Limits maximum: INVALID
 * FIELD IN CDB), the range (LOGICAL BLOCK ADDRESS OUT OF RANGE, also for 0 blocks past the
 * end), write protection (DATA PROTECT, WRITE PROTECTED), then the Data-Out length.
 * Writes honour FUA (and are all FUA when the caching page's WCE is 0); SYNCHRONIZE CACHE
 * answers only once `volume.flush()` resolved, so what it acknowledges survives a crash.
 */
import type { ScsiResult } from '../device.js';
import {
  Asc, checkCondition, invalidFieldInCdb, lbaOutOfRange, miscompare, ScsiOp, ScsiStatus, SenseKey, writeProtected,
  type PrefetchCdb, type ReadCapacityCdb, type ReadDefectDataCdb, type RwCdb, type SyncCacheCdb,
} from '../wire/scsi.js';
import { good, type Ctx, type ScsiLu } from './lu.js';
import { blockLimits } from './spc.js';

/** Throws LOGICAL BLOCK ADDRESS OUT OF RANGE unless [lba, lba+blocks) is inside the LU (lba ≤ capacity for 0 blocks). */
export function checkRange(lu: ScsiLu, lba: bigint, blocks: number | bigint): void {
  const n = lu.blocks;
  if (lba > n || lba + BigInt(blocks) > n) throw lbaOutOfRange(lba);
}

/** Throws WRITE PROTECTED when the LU cannot be written. */
export function checkWritable(lu: ScsiLu): void {
  if (lu.writeProtected) throw writeProtected();
}

/** The Data-Out a command needs, exactly `bytes` long: a shorter one is refused (the transport already reported the residual). */
function dataOutOf(c: Ctx, bytes: number): Buffer {
  const d = c.task.dataOut ?? Buffer.alloc(0);
  if (d.length < bytes) {
    throw checkCondition(`Data-Out of ${d.length} bytes, ${bytes} needed`, SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB, { field: { cd: true, byte: 0 } });
  }
  return d.length === bytes ? d : d.subarray(0, bytes);
}

/** Byte offset of an LBA. */
export const byteOffset = (lu: ScsiLu, lba: bigint): number => Number(lba) * lu.blockSize;

function checkProtectAndLength(lu: ScsiLu, cdb: RwCdb): void {
  if (cdb.protect !== 0) throw invalidFieldInCdb(1, 7, `${cdb.name}: protection information not supported`);
  if (cdb.blocks > blockLimits(lu).maxTransfer) {
    const byte = cdb.op === ScsiOp.READ_6 || cdb.op === ScsiOp.WRITE_6 ? 4 : cdb.op >= 0x80 && cdb.op < 0xa0 ? 10 : cdb.op >= 0xa0 ? 6 : 7;
    throw invalidFieldInCdb(byte, undefined, `${cdb.name}: ${cdb.blocks} blocks above the maximum transfer length`);
  }
}

/** READ(6/10/12/16). */
export async function read(c: Ctx): Promise<ScsiResult> {
  const cdb = c.cdb as RwCdb;
  const lu = c.lu;
  checkProtectAndLength(lu, cdb);
  checkRange(lu, cdb.lba, cdb.blocks);
  if (cdb.blocks === 0) return good();
  const release = await lu.locks.acquire(cdb.lba, cdb.blocks, false);
  try {
    // The stored bytes themselves, in pieces, lent until sent (no copy per READ; BlockVolume.readLent).
    const { parts, giveBack } = await lu.volume.readLent(byteOffset(lu, cdb.lba), cdb.blocks * lu.blockSize);
    return { status: ScsiStatus.GOOD, dataInParts: parts, giveBack };
  } finally {
    release();
  }
}

/** Writes `data` at `lba` under a shared range lock (FUA when asked or when WCE is off). */
export async function writeBlocks(lu: ScsiLu, lba: bigint, data: Buffer, fua: boolean): Promise<void> {
  const blocks = data.length / lu.blockSize;
  const release = await lu.locks.acquire(lba, blocks, false);
  try {
    await lu.volume.write(byteOffset(lu, lba), data, { fua: fua || !lu.mode.wce });
  } finally {
    release();
  }
}

/**
 * WRITE(6/10/12/16) and WRITE AND VERIFY(10/12/16) (the verify compares what was just written:
 * nothing to do). When the initiator's Expected Data Transfer Length is below TRANSFER LENGTH
 * (the transport reported the residual), only the whole blocks it sent are written (RFC 7143
 * §11.4.5.2: the target transfers at most EDTL bytes; libiscsi's residual tests expect GOOD).
 */
export async function write(c: Ctx): Promise<ScsiResult> {
  const cdb = c.cdb as RwCdb;
  const lu = c.lu;
  if (cdb.kind === 'write-verify' && (c.task.cdb[1]! & 0x04) !== 0) throw invalidFieldInCdb(1, 2, 'BYTCHK 1xb');
  checkProtectAndLength(lu, cdb);
  checkRange(lu, cdb.lba, cdb.blocks);
  checkWritable(lu);
  const have = Math.floor((c.task.dataOut?.length ?? 0) / lu.blockSize);
  const blocks = Math.min(cdb.blocks, have);
  if (blocks === 0) return good();
  await writeBlocks(lu, cdb.lba, c.task.dataOut!.subarray(0, blocks * lu.blockSize), cdb.fua || cdb.kind === 'write-verify');
  return good();
}

/**
 * VERIFY(10/12/16): BYTCHK 00b checks the medium (reading it: a read error is a MEDIUM ERROR),
 * 01b compares the Data-Out with the medium, 11b compares one block of Data-Out with every block
 * (SBC-4), 10b is reserved. A difference → MISCOMPARE, INFORMATION = byte offset of it.
 */
export async function verify(c: Ctx): Promise<ScsiResult> {
  const cdb = c.cdb as RwCdb;
  const lu = c.lu;
  const bytchk = (c.task.cdb[1]! >>> 1) & 0x03;
  if (bytchk === 2) throw invalidFieldInCdb(1, 2, 'BYTCHK 10b reserved');
  checkProtectAndLength(lu, cdb);
  checkRange(lu, cdb.lba, cdb.blocks);
  if (cdb.blocks === 0) return good();
  const bs = lu.blockSize;
  const expected = bytchk === 0 ? undefined : dataOutOf(c, bytchk === 3 ? bs : cdb.blocks * bs);
  const release = await lu.locks.acquire(cdb.lba, cdb.blocks, false);
  let medium: Buffer;
  try {
    medium = await lu.volume.read(byteOffset(lu, cdb.lba), cdb.blocks * bs);
  } finally {
    release();
  }
  if (!expected) return good();
  for (let i = 0; i < medium.length; i++) {
    if (medium[i] !== expected[bytchk === 3 ? i % bs : i]) throw miscompare(i);
  }
  return good();
}

/** SYNCHRONIZE CACHE(10/16): the range is checked, then everything is flushed (IMMED or not, the answer waits for durability). */
export async function synchronizeCache(c: Ctx): Promise<ScsiResult> {
  const cdb = c.cdb as SyncCacheCdb;
  checkRange(c.lu, cdb.lba, cdb.blocks);
  await c.lu.volume.flush();
  return good();
}

/**
 * Logical blocks per physical block exponent: 0. A volume writes any byte range (records are
 * read-modify-write below their size), so no physical block is claimed; the optimal sizes are
 * in the Block Limits VPD instead. (With 4 KiB physical blocks, libiscsi's GetLBAStatus
 * UnmapSingle expects the first descriptor at the next physical block rather than at STARTING
 * LOGICAL BLOCK ADDRESS as SBC-3 §5.8.2 says, and fails.)
 */
function lbppbe(_lu: ScsiLu): number {
  return 0;
}

/** READ CAPACITY(10) and (16). PMI=0 with an LBA ≠ 0 is an invalid field (SBC-3 §5.16). */
export function readCapacity(c: Ctx): ScsiResult {
  const cdb = c.cdb as ReadCapacityCdb;
  const lu = c.lu;
  const last = lu.blocks - 1n;
  if (!cdb.pmi && cdb.lba !== 0n) throw invalidFieldInCdb(cdb.kind === 'read-capacity-10' ? 2 : 2, undefined, 'LOGICAL BLOCK ADDRESS without PMI');
  if (cdb.kind === 'read-capacity-10') {
    const b = Buffer.alloc(8);
    b.writeUInt32BE(last > 0xfffffffen ? 0xffffffff : Number(last < 0n ? 0n : last), 0);
    b.writeUInt32BE(lu.blockSize, 4);
    return good(b);
  }
  const b = Buffer.alloc(32);
  b.writeBigUInt64BE(last < 0n ? 0n : last, 0);
  b.writeUInt32BE(lu.blockSize, 8);
  b[13] = lbppbe(lu);
  b[14] = 0x80 | 0x40; // LBPME (thin provisioning), LBPRZ (unmapped blocks read zeros)
  return good(b, cdb.allocationLength);
}

/** PRE-FETCH(10/16): the range is checked; the volume has no cache to fill, CONDITION MET (SBC-3 §5.9: the blocks fit). */
export function preFetch(c: Ctx): ScsiResult {
  const cdb = c.cdb as PrefetchCdb;
  checkRange(c.lu, cdb.lba, cdb.blocks);
  return { status: ScsiStatus.CONDITION_MET };
}

/**
 * READ DEFECT DATA(10)/(12) (SBC-3 §5.18-5.19): a volume has no defects; the header says the
 * requested lists are valid (PLISTV/GLISTV) and empty, in the requested format.
 */
export function readDefectData(c: Ctx): ScsiResult {
  const cdb = c.cdb as ReadDefectDataCdb;
  const flags = (cdb.plist ? 0x10 : 0) | (cdb.glist ? 0x08 : 0) | cdb.format;
  const h = Buffer.alloc(cdb.op === ScsiOp.READ_DEFECT_DATA_10 ? 4 : 8);
  h[1] = flags;
  return good(h, cdb.allocationLength);
}
