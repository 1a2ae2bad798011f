/**
 * EXTENDED COPY(LID1) (SPC-4 §6.4) and RECEIVE COPY RESULTS (SPC-4 §6.18): the copy manager
 * copies blocks between LUs of the same target without the data crossing the network.
 *
 * Supported: identification descriptor CSCD descriptors (E4h, block devices,
 * naming an LU by the NAA or T10 vendor designator of its VPD 0x83) and block → block segment
 * descriptors (02h); LIST ID USAGE 00b (results held for RECEIVE COPY RESULTS COPY STATUS), 10b
 * and 11b. Not supported: inline data, other descriptor types (UNSUPPORTED … DESCRIPTOR TYPE
 * CODE), proxy tokens. Limits (OPERATING PARAMETERS): 2 CSCD descriptors, 8 segment descriptors,
 * a descriptor list of at most 2 × 32 + 8 × 28 bytes, segments of at most 65535 blocks.
 *
 * Errors, in this order: a list shorter than its header or its lengths, or longer descriptor
 * lists than the maximum → PARAMETER LIST LENGTH ERROR; too many descriptors → TOO MANY TARGET /
 * SEGMENT DESCRIPTORS; an unknown descriptor type → UNSUPPORTED TARGET / SEGMENT DESCRIPTOR TYPE
 * CODE; a bad field → INVALID FIELD IN PARAMETER LIST (LU ID TYPE is ignored: the designator names
 * the LU); then, while copying: a CSCD index beyond
 * the list → COPY ABORTED, UNREACHABLE COPY TARGET; a null (NUL) or unknown LU → COPY ABORTED,
 * COPY TARGET DEVICE NOT REACHABLE; a segment past the end of an LU → COPY ABORTED (segments
 * before it stay copied, as SPC-4 §6.4.3 says).
 */
import type { ScsiResult } from '../device.js';
import {
  Asc, checkCondition, invalidFieldInCdb, invalidFieldInParameterList, parameterListLengthError, ReceiveCopyResults, SenseKey,
  type AscPair, type CdbError, type ExtendedCopyCdb, type ReceiveCopyResultsCdb,
} from '../wire/scsi.js';
import { good, type Ctx, type ScsiLu } from './lu.js';
import { byteOffset, checkWritable } from './sbc.js';

const XCOPY_LIMITS = { targets: 2, segments: 8, targetLength: 32, segmentLength: 28, maxBlocks: 0xffff } as const;
const MAX_DESCRIPTOR_LIST = XCOPY_LIMITS.targets * XCOPY_LIMITS.targetLength + XCOPY_LIMITS.segments * XCOPY_LIMITS.segmentLength;

/** What COPY STATUS reports for a held list (SPC-4 §6.18.3). */
export interface CopyStatus {
  /** 01h completed without errors, 02h completed with errors. */
  status: number;
  segmentsProcessed: number;
  bytes: number;
}

const copyAborted = (message: string, asc: AscPair, info?: number): CdbError =>
  checkCondition(message, SenseKey.COPY_ABORTED, asc, info !== undefined ? { information: info } : {});

interface CscdDescriptor {
  nul: boolean;
  designator: Buffer;
  designatorType: number;
  blockLength: number;
}

/** EXTENDED COPY(LID1). */
export async function extendedCopy(c: Ctx): Promise<ScsiResult> {
  const cdb = c.cdb as ExtendedCopyCdb;
  const lu = c.lu;
  if (cdb.parameterListLength === 0) return good();
  const data = c.task.dataOut ?? Buffer.alloc(0);
  if (data.length < cdb.parameterListLength || cdb.parameterListLength < 16) throw parameterListLengthError('EXTENDED COPY parameter list too short');
  const list = data.subarray(0, cdb.parameterListLength);
  const listId = list[0]!;
  const usage = (list[1]! >>> 3) & 0x03;
  const tdl = list.readUInt16BE(2);
  const sdl = list.readUInt32BE(8);
  const inl = list.readUInt32BE(12);
  if (tdl + sdl > MAX_DESCRIPTOR_LIST) throw parameterListLengthError(`descriptor lists of ${tdl + sdl} bytes (at most ${MAX_DESCRIPTOR_LIST})`);
  if (16 + tdl + sdl + inl > list.length) throw parameterListLengthError('EXTENDED COPY lengths beyond the parameter list');
  if (usage === 1) throw invalidFieldInParameterList(1, 4, 'LIST ID USAGE 01b');
  if (usage === 3 && listId !== 0) throw invalidFieldInParameterList(0, undefined, 'LIST IDENTIFIER with LIST ID USAGE 11b');
  if (inl !== 0) throw invalidFieldInParameterList(12, undefined, 'inline data not supported');
  if (tdl % XCOPY_LIMITS.targetLength !== 0) throw invalidFieldInParameterList(2, undefined, 'CSCD DESCRIPTOR LIST LENGTH');

  // Count first (TOO MANY … DESCRIPTORS), then decode.
  if (tdl / XCOPY_LIMITS.targetLength > XCOPY_LIMITS.targets) throw checkCondition('too many CSCD descriptors', SenseKey.ILLEGAL_REQUEST, Asc.TOO_MANY_TARGET_DESCRIPTORS);
  const segOffsets: number[] = [];
  for (let o = 16 + tdl; o < 16 + tdl + sdl;) {
    if (o + 4 > 16 + tdl + sdl) throw parameterListLengthError('truncated segment descriptor');
    const len = 4 + list.readUInt16BE(o + 2);
    if (o + len > 16 + tdl + sdl) throw parameterListLengthError('segment descriptor beyond its list');
    segOffsets.push(o);
    o += len;
  }
  if (segOffsets.length > XCOPY_LIMITS.segments) throw checkCondition('too many segment descriptors', SenseKey.ILLEGAL_REQUEST, Asc.TOO_MANY_SEGMENT_DESCRIPTORS);

  const targets: CscdDescriptor[] = [];
  for (let o = 16; o < 16 + tdl; o += XCOPY_LIMITS.targetLength) {
    if (list[o] !== 0xe4) throw checkCondition(`CSCD descriptor type 0x${list[o]!.toString(16)}`, SenseKey.ILLEGAL_REQUEST, Asc.UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE);
    const b1 = list[o + 1]!;
    // LU ID TYPE (bits 7-6) is not looked at: the designator names the LU whatever it says
    // (libiscsi 1.19's ExtendedCopy.ValidTgtDescr sends a reserved type and expects GOOD).
    if ((b1 & 0x1f) !== 0) throw invalidFieldInParameterList(o + 1, 4, `peripheral device type ${b1 & 0x1f}`);
    const dlen = list[o + 7]!;
    if (dlen > 20) throw invalidFieldInParameterList(o + 7, undefined, 'designator longer than 20 bytes');
    targets.push({
      nul: (b1 & 0x20) !== 0, designatorType: list[o + 5]! & 0x0f, designator: Buffer.from(list.subarray(o + 8, o + 8 + dlen)),
      blockLength: list.readUIntBE(o + 29, 3),
    });
  }
  for (const o of segOffsets) {
    if (list[o] !== 0x02) throw checkCondition(`segment descriptor type 0x${list[o]!.toString(16)}`, SenseKey.ILLEGAL_REQUEST, Asc.UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE);
    if (list.readUInt16BE(o + 2) !== 0x18) throw invalidFieldInParameterList(o + 2, undefined, 'block → block descriptor length');
  }

  const resolve = (index: number, seg: number): ScsiLu => {
    const t = targets[index];
    if (!t) throw copyAborted(`CSCD descriptor index ${index} beyond the list`, Asc.UNREACHABLE_COPY_TARGET, seg);
    const found = t.nul ? undefined : lu.target.findLu?.(t.designatorType, t.designator);
    if (!found) throw copyAborted('copy target not reachable', Asc.COPY_TARGET_DEVICE_NOT_REACHABLE, seg);
    if (t.blockLength !== found.blockSize) throw invalidFieldInParameterList(16 + index * 32 + 29, undefined, `DISK BLOCK LENGTH ${t.blockLength}`);
    return found;
  };
  const status: CopyStatus = { status: 0x01, segmentsProcessed: 0, bytes: 0 };
  const key = `${c.key}|${listId}`;
  try {
    for (const [i, o] of segOffsets.entries()) {
      const src = resolve(list.readUInt16BE(o + 4), i);
      const dst = resolve(list.readUInt16BE(o + 6), i);
      const blocks = list.readUInt16BE(o + 10);
      const srcLba = list.readBigUInt64BE(o + 12);
      const dstLba = list.readBigUInt64BE(o + 20);
      if (srcLba + BigInt(blocks) > src.blocks || dstLba + BigInt(blocks) > dst.blocks) throw copyAborted('segment beyond the end of a copy target', Asc.NO_ADDITIONAL_SENSE, i);
      checkWritable(dst);
      await copyBlocks(src, srcLba, dst, dstLba, blocks);
      status.segmentsProcessed++;
      status.bytes += blocks * src.blockSize;
    }
  } catch (err) {
    if (usage === 0) lu.copyResults.set(key, { ...status, status: 0x02 });
    throw err;
  }
  if (usage === 0) lu.copyResults.set(key, status);
  else lu.copyResults.delete(key);
  return good();
}

/** Copies `blocks` blocks in 1 MiB pieces, each read and written under shared range locks. */
async function copyBlocks(src: ScsiLu, srcLba: bigint, dst: ScsiLu, dstLba: bigint, blocks: number): Promise<void> {
  const per = Math.max(1, Math.floor((1 << 20) / src.blockSize));
  for (let done = 0; done < blocks;) {
    const n = Math.min(per, blocks - done);
    const s = srcLba + BigInt(done);
    const d = dstLba + BigInt(done);
    const releaseRead = await src.locks.acquire(s, n, false);
    let data: Buffer;
    try {
      data = await src.volume.read(byteOffset(src, s), n * src.blockSize);
    } finally {
      releaseRead();
    }
    const releaseWrite = await dst.locks.acquire(d, n, false);
    try {
      await dst.volume.write(byteOffset(dst, d), data, { fua: !dst.mode.wce });
    } finally {
      releaseWrite();
    }
    done += n;
  }
}

/** RECEIVE COPY RESULTS: OPERATING PARAMETERS (SPC-4 §6.18.4) and COPY STATUS of a held list (§6.18.3). */
export function receiveCopyResults(c: Ctx): ScsiResult {
  const cdb = c.cdb as ReceiveCopyResultsCdb;
  if (cdb.action === ReceiveCopyResults.OPERATING_PARAMETERS) {
    const b = Buffer.alloc(46);
    b.writeUInt32BE(b.length - 4, 0);
    b[4] = 0x01; // SNLID: lists without an identifier (LIST ID USAGE 11b)
    b.writeUInt16BE(XCOPY_LIMITS.targets, 8);
    b.writeUInt16BE(XCOPY_LIMITS.segments, 10);
    b.writeUInt32BE(MAX_DESCRIPTOR_LIST, 12);
    b.writeUInt32BE(XCOPY_LIMITS.maxBlocks * c.lu.blockSize, 16); // MAXIMUM SEGMENT LENGTH (bytes)
    b.writeUInt16BE(1, 34); // TOTAL CONCURRENT COPIES
    b[36] = 1; // MAXIMUM CONCURRENT COPIES
    b[37] = Math.log2(c.lu.blockSize); // DATA SEGMENT GRANULARITY
    b[43] = 2; // IMPLEMENTED DESCRIPTOR LIST LENGTH
    b[44] = 0x02;
    b[45] = 0xe4;
    return good(b, cdb.allocationLength);
  }
  const s = c.lu.copyResults.get(`${c.key}|${cdb.listId}`);
  if (!s) throw invalidFieldInCdb(2, undefined, `no copy with LIST IDENTIFIER ${cdb.listId}`);
  const b = Buffer.alloc(12);
  b.writeUInt32BE(8, 0);
  b[4] = s.status;
  b.writeUInt16BE(Math.min(0xffff, s.segmentsProcessed), 5);
  b[7] = 0xf1; // TRANSFER COUNT UNITS: KiB
  b.writeUInt32BE(Math.min(0xffffffff, Math.floor(s.bytes / 1024)), 8);
  return good(b, cdb.allocationLength);
}
