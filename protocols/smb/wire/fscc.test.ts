/** MS-FSCC information classes: FILETIME, Attr mapping, layouts against the spec tables, SET_INFO decoders, directory packing, fuzzing. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Attr } from '../../../vfs/types.js';
import {
  allocationSizeOf, decodeFileAllocationInformation, decodeFileBasicInformation, decodeFileDispositionInformation,
  decodeFileDispositionInformationEx, decodeFileEndOfFileInformation, decodeFileFullEaInformation, decodeFileLinkInformation,
  decodeFileModeInformation, decodeFilePositionInformation, decodeFileRenameInformation, decodeSetTime, DEFAULT_FS_ATTRIBUTES,
  encodeFileAllInformation, encodeFileAttributeTagInformation, encodeFileBasicInformation, encodeFileCompressionInformation,
  encodeFileFullEaInformation, encodeFileIdInformation, encodeFileNameInformation, encodeFileNetworkOpenInformation,
  encodeFileStandardInformation, encodeFileStreamInformation, encodeFsAttributeInformation, encodeFsDeviceInformation,
  encodeFsFullSizeInformation, encodeFsObjectIdInformation, encodeFsSectorSizeInformation, encodeFsSizeInformation,
  encodeFsVolumeInformation, encodeQueryFileInfo, FILE_ALL_INFORMATION_FIXED, FILE_ATTRIBUTE, FILE_FS, FILE_INFO,
  fileAttributesOf, fileInfoOf, FILETIME_UNIX_EPOCH, filetimeToNs, fsSizeOf, InfoLengthError, IO_REPARSE_TAG, nsToFiletime,
  QUERY_FILE_MIN_SIZE, type Ea, type FileInfo, type OpenState,
} from './fscc.js';
import { decodeDirectory, DIRECTORY_CLASSES, DIRECTORY_FIXED_SIZE, encodeDirEntry, packDirectory, type DirEntryInfo } from './fscc-dir.js';
import { WireError } from './reader.js';

const onlyWireErrors = (f: () => unknown): void => {
  try {
    f();
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
  }
};
const mutated = (valid: Buffer) => fc.tuple(fc.array(fc.tuple(fc.nat(Math.max(0, valid.length - 1)), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.integer({ min: -valid.length, max: 16 }))
  .map(([flips, cut]) => {
    const b = Buffer.from(valid);
    for (const [i, v] of flips) if (i < b.length) b[i] = v;
    return cut < 0 ? b.subarray(0, b.length + cut) : Buffer.concat([b, Buffer.alloc(cut, 0xa5)]);
  });
const bytes = (max = 300) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const le64 = (v: bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(v); return b; };

const T2000 = 946684800n * 1_000_000_000n; // 2000-01-01T00:00:00Z in ns
const attr = (over: Partial<Attr> = {}): Attr => ({
  ino: 4242, gen: 1, mode: 0o100644, type: 'file', nlink: 2, uid: 1000, gid: 100, size: 5000, blocks: 16, rdev: 0,
  atimeNs: T2000 + 1_000n, mtimeNs: T2000 + 2_000n, ctimeNs: T2000 + 3_000n, birthtimeNs: T2000, ...over,
});
const open: OpenState = { accessMask: 0x12019f, position: 77n, mode: 0x20, deletePending: true };

test('FILETIME: the 1601 epoch offset, a known date, floor rounding, clamping, SET_INFO 0/-1/-2', () => {
  assert.equal(nsToFiletime(0n), 116444736000000000n);
  assert.equal(FILETIME_UNIX_EPOCH, 11644473600n * 10_000_000n);
  assert.equal(nsToFiletime(T2000), 125911584000000000n); // 2000-01-01, as Windows' SystemTimeToFileTime gives
  assert.equal(nsToFiletime(199n), FILETIME_UNIX_EPOCH + 1n); // truncated to the 100 ns tick
  assert.equal(nsToFiletime(-1n), FILETIME_UNIX_EPOCH - 1n); // floor, not toward zero
  assert.equal(nsToFiletime(-100n), FILETIME_UNIX_EPOCH - 1n);
  assert.equal(nsToFiletime(-FILETIME_UNIX_EPOCH * 100n), 0n); // 1601-01-01
  assert.equal(nsToFiletime(-FILETIME_UNIX_EPOCH * 100n - 1000n), 0n); // before 1601: clamped
  assert.equal(nsToFiletime(2n ** 70n), 2n ** 63n - 1n);
  assert.equal(filetimeToNs(125911584000000000n), T2000);
  assert.equal(filetimeToNs(0n), -FILETIME_UNIX_EPOCH * 100n);
  assert.throws(() => filetimeToNs(2n ** 63n), WireError);
  fc.assert(fc.property(fc.bigInt({ min: -FILETIME_UNIX_EPOCH, max: 2n ** 63n - 1n - FILETIME_UNIX_EPOCH }), (ns) => {
    assert.equal(filetimeToNs(nsToFiletime(ns * 100n)), ns * 100n);
  }), { numRuns: 300 });

  assert.deepEqual(decodeSetTime(0n), { kind: 'keep' });
  assert.deepEqual(decodeSetTime(2n ** 64n - 1n), { kind: 'freeze' });
  assert.deepEqual(decodeSetTime(2n ** 64n - 2n), { kind: 'unfreeze' });
  assert.deepEqual(decodeSetTime(125911584000000000n), { kind: 'set', ns: T2000 });
  assert.deepEqual(decodeSetTime(1n), { kind: 'set', ns: (1n - FILETIME_UNIX_EPOCH) * 100n });
  assert.throws(() => decodeSetTime(2n ** 64n - 3n), /below -2/);
  assert.throws(() => decodeSetTime(2n ** 63n), WireError);
});

test('Attr mapping: DIRECTORY, NORMAL alone, DOS bits, symlink reparse tag, AllocationSize rounding', () => {
  assert.equal(fileAttributesOf({ type: 'dir' }), FILE_ATTRIBUTE.DIRECTORY);
  assert.equal(fileAttributesOf({ type: 'file' }), FILE_ATTRIBUTE.NORMAL);
  assert.equal(fileAttributesOf({ type: 'file' }, FILE_ATTRIBUTE.HIDDEN | FILE_ATTRIBUTE.NORMAL), FILE_ATTRIBUTE.HIDDEN);
  assert.equal(fileAttributesOf({ type: 'file' }, FILE_ATTRIBUTE.DIRECTORY), FILE_ATTRIBUTE.NORMAL); // a stored DIRECTORY bit on a file is dropped
  assert.equal(fileAttributesOf({ type: 'dir' }, FILE_ATTRIBUTE.NORMAL | FILE_ATTRIBUTE.READONLY), FILE_ATTRIBUTE.DIRECTORY | FILE_ATTRIBUTE.READONLY);
  assert.equal(fileAttributesOf({ type: 'symlink' }), FILE_ATTRIBUTE.REPARSE_POINT);
  assert.equal(fileAttributesOf({ type: 'file' }, 0x80000000), 0x80000000); // unsigned
  assert.equal(fileInfoOf(attr({ type: 'symlink' })).reparseTag, IO_REPARSE_TAG.SYMLINK);
  assert.equal(fileInfoOf(attr()).reparseTag, 0);

  assert.equal(allocationSizeOf({ type: 'file', size: 1, blocks: 0 }), 4096n); // non-sparse: at least EndOfFile
  assert.equal(allocationSizeOf({ type: 'file', size: 0, blocks: 0 }), 0n);
  assert.equal(allocationSizeOf({ type: 'file', size: 4096, blocks: 8 }), 4096n);
  assert.equal(allocationSizeOf({ type: 'file', size: 4097, blocks: 8 }), 8192n);
  assert.equal(allocationSizeOf({ type: 'file', size: 10, blocks: 24 }), 12288n); // stored bytes above EOF
  assert.equal(allocationSizeOf({ type: 'file', size: 1 << 20, blocks: 8 }, FILE_ATTRIBUTE.SPARSE_FILE), 4096n); // sparse: what is stored
  assert.equal(allocationSizeOf({ type: 'dir', size: 4096, blocks: 8 }), 0n);
  assert.equal(allocationSizeOf({ type: 'file', size: 1, blocks: 0 }, 0, 1 << 20), 1n << 20n);

  const i = fileInfoOf(attr());
  assert.deepEqual(i, {
    creationTime: 125911584000000000n, lastAccessTime: 125911584000000010n, lastWriteTime: 125911584000000020n,
    changeTime: 125911584000000030n, endOfFile: 5000n, allocationSize: 8192n, attributes: FILE_ATTRIBUTE.NORMAL, nlink: 2,
    directory: false, fileId: 4242n, reparseTag: 0, eaSize: 0,
  });
  assert.equal(fileInfoOf(attr({ type: 'dir', size: 4096 })).endOfFile, 0n);
});

test('file classes: sizes and field offsets as the MS-FSCC 2.4 tables give them', () => {
  const i: FileInfo = { ...fileInfoOf(attr()), eaSize: 0x33 };
  const basic = encodeFileBasicInformation(i);
  assert.equal(basic.length, 40);
  assert.equal(basic.readBigUInt64LE(0), i.creationTime);
  assert.equal(basic.readBigUInt64LE(8), i.lastAccessTime);
  assert.equal(basic.readBigUInt64LE(16), i.lastWriteTime);
  assert.equal(basic.readBigUInt64LE(24), i.changeTime);
  assert.equal(basic.readUInt32LE(32), FILE_ATTRIBUTE.NORMAL);
  assert.equal(basic.readUInt32LE(36), 0); // Reserved

  const std = encodeFileStandardInformation({ ...i, directory: true }, true);
  assert.deepEqual([std.length, std.readBigUInt64LE(0), std.readBigUInt64LE(8), std.readUInt32LE(16), std[20], std[21], std.readUInt16LE(22)], [24, 8192n, 5000n, 2, 1, 1, 0]);

  const net = encodeFileNetworkOpenInformation(i);
  assert.deepEqual([net.length, net.readBigUInt64LE(24), net.readBigUInt64LE(32), net.readBigUInt64LE(40), net.readUInt32LE(48), net.readUInt32LE(52)],
    [56, i.changeTime, 8192n, 5000n, FILE_ATTRIBUTE.NORMAL, 0]);

  const all = encodeFileAllInformation(i, open, '\\dir\\ä.txt');
  assert.equal(FILE_ALL_INFORMATION_FIXED, 100);
  assert.equal(all.length, 100 + 20);
  assert.deepEqual(all.subarray(0, 40), basic);
  assert.deepEqual(all.subarray(40, 64), encodeFileStandardInformation(i, true));
  assert.equal(all.readBigUInt64LE(64), 4242n); // InternalInformation.IndexNumber
  assert.equal(all.readUInt32LE(72), 0x33); // EaInformation
  assert.equal(all.readUInt32LE(76), 0x12019f); // AccessInformation
  assert.equal(all.readBigUInt64LE(80), 77n); // PositionInformation
  assert.equal(all.readUInt32LE(88), 0x20); // ModeInformation
  assert.equal(all.readUInt32LE(92), 0); // AlignmentInformation
  assert.equal(all.readUInt32LE(96), 20); // NameInformation.FileNameLength
  assert.equal(all.subarray(100).toString('utf16le'), '\\dir\\ä.txt');

  assert.deepEqual(encodeFileNameInformation('ab'), Buffer.from([4, 0, 0, 0, 0x61, 0, 0x62, 0]));
  const tag = encodeFileAttributeTagInformation(fileInfoOf(attr({ type: 'symlink' })));
  assert.deepEqual([tag.length, tag.readUInt32LE(0), tag.readUInt32LE(4)], [8, FILE_ATTRIBUTE.REPARSE_POINT, 0xa000000c]);
  const id = encodeFileIdInformation(i, 0x1122334455667788n);
  assert.deepEqual([id.length, id.readBigUInt64LE(0), id.readBigUInt64LE(8), id.readBigUInt64LE(16)], [24, 0x1122334455667788n, 4242n, 0n]);
  const comp = encodeFileCompressionInformation(i);
  assert.deepEqual([comp.length, comp.readBigUInt64LE(0), comp.readUInt16LE(8)], [16, 5000n, 0]);

  // FileStreamInformation: 24-byte fixed part, entries 8-aligned, last NextEntryOffset 0.
  const streams = encodeFileStreamInformation([{ name: '::$DATA', size: 5000n, allocationSize: 8192n }, { name: ':x:$DATA', size: 3n, allocationSize: 4096n }]);
  assert.equal(streams.readUInt32LE(0), 40); // 24 + 14 = 38 → 40
  assert.equal(streams.readUInt32LE(4), 14);
  assert.equal(streams.readBigUInt64LE(8), 5000n);
  assert.equal(streams.readBigUInt64LE(16), 8192n);
  assert.equal(streams.subarray(24, 38).toString('utf16le'), '::$DATA');
  assert.equal(streams.readUInt32LE(40), 0);
  assert.equal(streams.length, 40 + 24 + 16);
  assert.equal(encodeFileStreamInformation([]).length, 0);
});

test('QUERY_INFO dispatch: every served class answers at least its minimum size; others are undefined', () => {
  const s = { info: fileInfoOf(attr()), open, name: '\\a', volumeSerial: 9n };
  for (const [cls, min] of Object.entries(QUERY_FILE_MIN_SIZE)) {
    const b = encodeQueryFileInfo(Number(cls), s);
    if (Number(cls) === FILE_INFO.AlternateName) {
      assert.equal(b, undefined);
      continue;
    }
    assert.ok(b, `class ${cls}`);
    assert.ok(b.length >= min, `class ${cls}: ${b.length} < ${min}`);
  }
  assert.equal(encodeQueryFileInfo(FILE_INFO.Rename, s), undefined);
  assert.equal(encodeQueryFileInfo(FILE_INFO.FullEa, s)!.length, 0); // no EAs: empty answer
  const dirStreams = encodeQueryFileInfo(FILE_INFO.Stream, { ...s, info: fileInfoOf(attr({ type: 'dir' })) });
  assert.equal(dirStreams!.length, 0);
  assert.equal(encodeQueryFileInfo(FILE_INFO.Stream, s)!.subarray(24).toString('utf16le'), '::$DATA');
});

test('file system classes: sizes and offsets (MS-FSCC 2.5)', () => {
  const vol = encodeFsVolumeInformation({ creationTime: 125911584000000000n, serialNumber: 0xdeadbeef, label: 'dw', supportsObjects: true });
  assert.deepEqual([vol.length, vol.readBigUInt64LE(0), vol.readUInt32LE(8), vol.readUInt32LE(12), vol[16], vol[17], vol.subarray(18).toString('utf16le')],
    [22, 125911584000000000n, 0xdeadbeef, 4, 1, 0, 'dw']);
  const st = fsSizeOf({ bsize: 512, blocks: 8 * 1000 + 7, bfree: 800, bavail: 400, files: 0, ffree: 0, namemax: 255 });
  assert.deepEqual(st, { totalUnits: 1000n, callerAvailableUnits: 50n, actualAvailableUnits: 100n, sectorsPerUnit: 8, bytesPerSector: 512 });
  const size = encodeFsSizeInformation(st);
  assert.deepEqual([size.length, size.readBigUInt64LE(0), size.readBigUInt64LE(8), size.readUInt32LE(16), size.readUInt32LE(20)], [24, 1000n, 50n, 8, 512]);
  const full = encodeFsFullSizeInformation(st);
  assert.deepEqual([full.length, full.readBigUInt64LE(8), full.readBigUInt64LE(16), full.readUInt32LE(24), full.readUInt32LE(28)], [32, 50n, 100n, 8, 512]);
  assert.deepEqual(encodeFsDeviceInformation(), Buffer.from([7, 0, 0, 0, 0x20, 0, 0, 0]));
  const fa = encodeFsAttributeInformation({ attributes: DEFAULT_FS_ATTRIBUTES, maxComponentNameLength: 255, fileSystemName: 'NTFS' });
  assert.equal(DEFAULT_FS_ATTRIBUTES, 0x2 | 0x4 | 0x8 | 0x40 | 0x40000 | 0x10000);
  assert.equal(FILE_FS.NAMED_STREAMS, 0x40000);
  assert.deepEqual([fa.length, fa.readUInt32LE(0), fa.readUInt32LE(4), fa.readUInt32LE(8), fa.subarray(12).toString('utf16le')], [20, 0x5004e, 255, 8, 'NTFS']);
  const oid = encodeFsObjectIdInformation(Buffer.alloc(16, 1));
  assert.equal(oid.length, 64);
  assert.throws(() => encodeFsObjectIdInformation(Buffer.alloc(15)), RangeError);
  const ss = encodeFsSectorSizeInformation();
  assert.deepEqual([ss.length, ss.readUInt32LE(0), ss.readUInt32LE(4), ss.readUInt32LE(16)], [28, 512, 4096, 3]);
});

test('SET_INFO decoders: layouts, -1/-2 times, SMB2 rename layout, short buffers are InfoLengthError', () => {
  const basic = Buffer.concat([le64(0n), le64(2n ** 64n - 1n), le64(2n ** 64n - 2n), le64(125911584000000000n), Buffer.from([0x22, 0, 0, 0])]);
  assert.deepEqual(decodeFileBasicInformation(basic), {
    creationTime: { kind: 'keep' }, lastAccessTime: { kind: 'freeze' }, lastWriteTime: { kind: 'unfreeze' },
    changeTime: { kind: 'set', ns: T2000 }, attributes: 0x22,
  });
  assert.equal(decodeFileBasicInformation(Buffer.concat([basic, Buffer.alloc(4)])).attributes, 0x22);
  assert.throws(() => decodeFileBasicInformation(basic.subarray(0, 35)), InfoLengthError);
  assert.throws(() => decodeFileBasicInformation(Buffer.concat([le64(2n ** 64n - 3n), basic.subarray(8)])), (e) => e instanceof WireError && !(e instanceof InfoLengthError));

  // FILE_RENAME_INFORMATION_TYPE_2: ReplaceIfExists @0, Reserved 7, RootDirectory @8 (8 bytes), FileNameLength @16, FileName @20.
  const name = Buffer.from('dir\\new name.txt', 'utf16le');
  const ren = Buffer.concat([Buffer.from([1, 9, 9, 9, 9, 9, 9, 9]), le64(0n), Buffer.from([name.length, 0, 0, 0]), name]);
  assert.deepEqual(decodeFileRenameInformation(ren), { replaceIfExists: true, rootDirectory: 0n, fileName: 'dir\\new name.txt' });
  assert.deepEqual(decodeFileLinkInformation(Buffer.concat([Buffer.alloc(8), le64(5n), ren.subarray(16)])), { replaceIfExists: false, rootDirectory: 5n, fileName: 'dir\\new name.txt' });
  assert.throws(() => decodeFileRenameInformation(ren.subarray(0, ren.length - 1)), WireError);
  assert.throws(() => decodeFileRenameInformation(ren.subarray(0, 19)), InfoLengthError);
  assert.throws(() => decodeFileRenameInformation(Buffer.concat([ren.subarray(0, 16), Buffer.alloc(4)])), /empty/);

  assert.deepEqual(decodeFileDispositionInformation(Buffer.from([7])), { deletePending: true });
  assert.deepEqual(decodeFileDispositionInformation(Buffer.from([0])), { deletePending: false });
  assert.throws(() => decodeFileDispositionInformation(Buffer.alloc(0)), InfoLengthError);
  assert.deepEqual(decodeFileDispositionInformationEx(Buffer.from([0x13, 0, 0, 0])), { flags: 0x13 });
  assert.equal(decodeFilePositionInformation(le64(1234n)), 1234n);
  assert.equal(decodeFileModeInformation(Buffer.from([0x20, 0x10, 0, 0])), 0x1020);
  assert.equal(decodeFileAllocationInformation(le64(4096n)), 4096n);
  assert.equal(decodeFileEndOfFileInformation(le64(2n ** 63n - 1n)), 2n ** 63n - 1n);
  assert.throws(() => decodeFileEndOfFileInformation(le64(2n ** 63n)), /negative/);
  assert.throws(() => decodeFileEndOfFileInformation(Buffer.alloc(7)), InfoLengthError);
});

test('FileFullEaInformation: 4-byte aligned chain round-trips; bad chains are WireErrors', () => {
  const eas: Ea[] = [{ flags: 0, name: 'user.a', value: Buffer.from('xyz') }, { flags: 0x80, name: 'B', value: Buffer.alloc(0) }];
  const b = encodeFileFullEaInformation(eas);
  assert.equal(b.readUInt32LE(0), 20); // 8 + 6 + 1 + 3 = 18 → 20
  assert.deepEqual([b[4], b[5], b.readUInt16LE(6), b.subarray(8, 14).toString(), b[14]], [0, 6, 3, 'user.a', 0]);
  assert.equal(b.length, 20 + 10);
  assert.deepEqual(decodeFileFullEaInformation(b), eas);
  assert.equal(encodeFileFullEaInformation([]).length, 0);
  assert.throws(() => encodeFileFullEaInformation([{ flags: 0, name: '', value: Buffer.alloc(0) }]), RangeError);
  const bad = Buffer.from(b);
  bad.writeUInt32LE(18, 0); // not 4-aligned
  assert.throws(() => decodeFileFullEaInformation(bad), /NextEntryOffset/);
  bad.writeUInt32LE(400, 0);
  assert.throws(() => decodeFileFullEaInformation(bad), WireError);
  const eaArb = fc.record({ flags: fc.constantFrom(0, 0x80), name: fc.stringMatching(/^[A-Za-z0-9._]{1,40}$/), value: bytes(60) }, { noNullPrototype: true });
  fc.assert(fc.property(fc.array(eaArb, { maxLength: 5 }), (list) => {
    const enc = encodeFileFullEaInformation(list);
    assert.deepEqual(list.length ? decodeFileFullEaInformation(enc) : [], list);
  }), { numRuns: 200 });
});

const infoArb: fc.Arbitrary<FileInfo> = fc.record({
  creationTime: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), lastAccessTime: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
  lastWriteTime: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), changeTime: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
  endOfFile: fc.bigInt({ min: 0n, max: 2n ** 50n }), allocationSize: fc.bigInt({ min: 0n, max: 2n ** 50n }),
  attributes: fc.constantFrom(0x80, 0x10, 0x22, 0x400), nlink: fc.nat(1000), directory: fc.boolean(),
  fileId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), reparseTag: fc.constantFrom(0, 0xa000000c), eaSize: fc.nat(0xffff),
}, { noNullPrototype: true });
const entryArb: fc.Arbitrary<DirEntryInfo> = fc.record({
  name: fc.string({ minLength: 1, maxLength: 30, unit: 'grapheme' }), info: infoArb,
  shortName: fc.option(fc.stringMatching(/^[A-Z0-9~]{1,8}(\.[A-Z]{1,3})?$/), { nil: undefined }), fileIndex: fc.nat(),
}, { noNullPrototype: true }).map((e) => (e.shortName === undefined ? { name: e.name, info: e.info, fileIndex: e.fileIndex } : e));

test('directory classes: fixed sizes and field offsets (MS-FSCC 2.4.8, 2.4.10, 2.4.17-2.4.20, 2.4.28)', () => {
  assert.deepEqual({ ...DIRECTORY_FIXED_SIZE }, { 1: 64, 2: 68, 3: 94, 12: 12, 37: 104, 38: 80, 60: 88 });
  const e: DirEntryInfo = { name: 'file.txt', shortName: 'FILE.TXT', fileIndex: 3, info: { ...fileInfoOf(attr()), eaSize: 0x55 } };
  for (const cls of DIRECTORY_CLASSES) {
    const b = encodeDirEntry(cls, e);
    const fixed: number = DIRECTORY_FIXED_SIZE[cls]!;
    assert.equal(b.length, fixed + 16, `class ${cls}`);
    assert.equal(b.subarray(fixed).toString('utf16le'), 'file.txt');
    assert.equal(b.readUInt32LE(4), 3); // FileIndex
    if (cls === FILE_INFO.Names) {
      assert.equal(b.readUInt32LE(8), 16);
      continue;
    }
    assert.equal(b.readBigUInt64LE(8), e.info.creationTime);
    assert.equal(b.readBigUInt64LE(40), 5000n); // EndOfFile
    assert.equal(b.readBigUInt64LE(48), 8192n); // AllocationSize
    assert.equal(b.readUInt32LE(56), FILE_ATTRIBUTE.NORMAL);
    assert.equal(b.readUInt32LE(60), 16); // FileNameLength
    if (cls !== FILE_INFO.Directory) assert.equal(b.readUInt32LE(64), 0x55); // EaSize
  }
  const idb = encodeDirEntry(FILE_INFO.IdBothDirectory, e);
  assert.deepEqual([idb[68], idb[69], idb.subarray(70, 86).toString('utf16le'), idb.readUInt16LE(94), idb.readBigUInt64LE(96)], [16, 0, 'FILE.TXT', 0, 4242n]);
  assert.deepEqual(idb.subarray(86, 94), Buffer.alloc(8)); // ShortName padding
  assert.equal(encodeDirEntry(FILE_INFO.BothDirectory, e)[68], 16);
  const idf = encodeDirEntry(FILE_INFO.IdFullDirectory, e);
  assert.deepEqual([idf.readUInt32LE(68), idf.readBigUInt64LE(72)], [0, 4242n]);
  const link: DirEntryInfo = { name: 'l', info: fileInfoOf(attr({ type: 'symlink' }), { eaSize: 7 }) };
  const ide = encodeDirEntry(FILE_INFO.IdExtdDirectory, link);
  assert.deepEqual([ide.readUInt32LE(64), ide.readUInt32LE(68), ide.readBigUInt64LE(72), ide.readBigUInt64LE(80)], [7, 0xa000000c, 4242n, 0n]);
  assert.equal(encodeDirEntry(FILE_INFO.FullDirectory, link).readUInt32LE(64), 0xa000000c); // EaSize carries the reparse tag
  assert.throws(() => encodeDirEntry(FILE_INFO.Basic, e), RangeError);
  assert.throws(() => encodeDirEntry(FILE_INFO.BothDirectory, { ...e, shortName: 'ABCDEFGHI.TXTX' }), RangeError);
});

test('packDirectory: 8-byte aligned chain, no trailing pad, stops at the first entry that does not fit', () => {
  const mk = (name: string): DirEntryInfo => ({ name, info: fileInfoOf(attr()) });
  const entries = [mk('a'), mk('bb'), mk('ccc')]; // FileDirectoryInformation: 66, 68, 70 bytes
  const all = packDirectory(FILE_INFO.Directory, entries, 65536);
  assert.equal(all.count, 3);
  assert.equal(all.buffer.readUInt32LE(0), 72);
  assert.equal(all.buffer.readUInt32LE(72), 72);
  assert.equal(all.buffer.readUInt32LE(144), 0);
  assert.equal(all.buffer.length, 144 + 70);
  assert.deepEqual(all.buffer.subarray(66, 72), Buffer.alloc(6));
  assert.deepEqual(decodeDirectory(FILE_INFO.Directory, all.buffer).map((d) => d.name), ['a', 'bb', 'ccc']);

  assert.equal(packDirectory(FILE_INFO.Directory, entries, 214).count, 3); // exact fit
  const two = packDirectory(FILE_INFO.Directory, entries, 213);
  assert.deepEqual([two.count, two.buffer.length, two.buffer.readUInt32LE(72)], [2, 140, 0]);
  assert.deepEqual(packDirectory(FILE_INFO.Directory, entries, 65), { buffer: Buffer.alloc(0), count: 0 });
  const one = packDirectory(FILE_INFO.Directory, entries, 65536, 1);
  assert.deepEqual([one.count, one.buffer.length, one.buffer.readUInt32LE(0)], [1, 66, 0]);
  assert.equal(packDirectory(FILE_INFO.Names, [], 100).count, 0);
  // entries come from an iterator too, and only those taken are consumed into the output
  function* gen() { for (let i = 0; i < 1000; i++) yield mk(`n${i}`); }
  const lim = packDirectory(FILE_INFO.Names, gen(), 1000);
  assert.ok(lim.buffer.length <= 1000 && lim.count > 10 && lim.count < 1000);
  assert.equal(decodeDirectory(FILE_INFO.Names, lim.buffer).length, lim.count);
});

test('directory round trip (fast-check): every class, random names and limits', () => {
  fc.assert(fc.property(fc.constantFrom(...DIRECTORY_CLASSES), fc.array(entryArb, { maxLength: 8 }), fc.integer({ min: 0, max: 2000 }), (cls, entries, max) => {
    const { buffer, count } = packDirectory(cls, entries, max);
    assert.ok(buffer.length <= max);
    const back = decodeDirectory(cls, buffer);
    assert.equal(back.length, count);
    back.forEach((d, k) => {
      const e = entries[k]!;
      assert.equal(d.name, e.name);
      if (cls === FILE_INFO.Names) return;
      assert.equal(d.endOfFile, e.info.endOfFile);
      assert.equal(d.attributes, e.info.attributes);
      assert.equal(d.lastWriteTime, e.info.lastWriteTime);
      if (cls === FILE_INFO.IdBothDirectory || cls === FILE_INFO.IdFullDirectory || cls === FILE_INFO.IdExtdDirectory) assert.equal(d.fileId, e.info.fileId);
      if (cls === FILE_INFO.BothDirectory || cls === FILE_INFO.IdBothDirectory) assert.equal(d.shortName, e.shortName ?? '');
    });
    if (count < entries.length && count > 0) {
      const next = encodeDirEntry(cls, entries[count]!).length;
      assert.ok(buffer.length + ((8 - (buffer.length % 8)) % 8) + next > max); // the next one really did not fit
    }
  }), { numRuns: 500 });
});

test('fuzz: every decoder takes random and mutated bytes and throws only WireError', () => {
  const le = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
  const name = Buffer.from('x\\y', 'utf16le');
  const valid: [(b: Buffer) => unknown, Buffer][] = [
    [decodeFileBasicInformation, Buffer.concat([le64(1n), le64(0n), le64(2n ** 64n - 1n), le64(5n), le(0x20), le(0)])],
    [decodeFileRenameInformation, Buffer.concat([Buffer.alloc(8), le64(0n), le(name.length), name])],
    [decodeFileLinkInformation, Buffer.concat([Buffer.alloc(8), le64(0n), le(name.length), name])],
    [decodeFileDispositionInformation, Buffer.from([1])],
    [decodeFileDispositionInformationEx, le(3)],
    [decodeFilePositionInformation, le64(9n)],
    [decodeFileModeInformation, le(2)],
    [decodeFileAllocationInformation, le64(9n)],
    [decodeFileEndOfFileInformation, le64(9n)],
    [decodeFileFullEaInformation, encodeFileFullEaInformation([{ flags: 0, name: 'a', value: Buffer.from('b') }, { flags: 0, name: 'cc', value: Buffer.alloc(5) }])],
  ];
  for (const [decode, ok] of valid) {
    decode(ok);
    fc.assert(fc.property(fc.oneof(bytes(), mutated(ok)), (b) => onlyWireErrors(() => decode(b))), { numRuns: 300 });
  }
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (v) => onlyWireErrors(() => decodeSetTime(v))), { numRuns: 300 });
  for (const cls of DIRECTORY_CLASSES) {
    const ok = packDirectory(cls, [{ name: 'a', shortName: 'A', info: fileInfoOf(attr()) }, { name: 'bcd', info: fileInfoOf(attr()) }], 4096).buffer;
    assert.equal(decodeDirectory(cls, ok).length, 2);
    fc.assert(fc.property(fc.oneof(bytes(400), mutated(ok)), (b) => onlyWireErrors(() => decodeDirectory(cls, b))), { numRuns: 300 });
  }
  assert.throws(() => decodeDirectory(99, Buffer.alloc(8)), WireError);
});
