/**
 * The disk-share FSCTLs and Previous Versions over a memory VFS, driven by the test client:
 * FSCTL_SRV_ENUMERATE_SNAPSHOTS (tokens newest first, the too-small answer, --path snapshots that
 * do or do not hold the share), opening a previous version by TWrp context and by @GMT path token
 * (old bytes, read-only, unknown times), server-side copy (resume key, chunks, limits, access,
 * past the source's end), SET_ZERO_DATA and QUERY_ALLOCATED_RANGES, and the wire codecs
 * (round trips and fuzz).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { createMemoryVfs, ROOT_CTX, type VfsInstance } from '../../vfs/index.js';
import { STATUS } from './errors.js';
import { shareFileService } from './server.js';
import { connection, TestClient } from './testdata/client.js';
import { DIALECT } from './wire/negotiate.js';
import { CREATE_OPTION, decodeIoctlResponse, decodeOutputBufferResponse, DISPOSITION, type FileId } from './wire/files.js';
import { FILE_INFO, INFO_TYPE } from './wire/fscc.js';
import {
  decodeAllocatedRanges, decodeCopyChunkCopy, decodeCopyChunkResponse, decodeSnapshotArray, encodeAllocatedRanges, encodeCopyChunkCopy,
  encodeSnapshotArray, encodeZeroData, FSCTL_DATA, gmtToken, parseGmtToken,
} from './wire/fsctl.js';
import { encodeTimewarp, stripGmtTokens } from './previous.js';
import { COPYCHUNK_LIMITS } from './fsctl.js';

const RW = 0x0012019f;
const READ = 0x00120089;

async function setup(): Promise<{ c: TestClient; tid: number; sub: number; v: VfsInstance }> {
  const v = await createMemoryVfs({ recordSize: 4096 });
  const home = await v.paths.mkdir(ROOT_CTX, '/home', 0o755);
  await v.vfs.setattr(ROOT_CTX, home.ino, { uid: 1000, gid: 1000 });
  await v.paths.mkdir(ROOT_CTX, '/other', 0o755);
  const conn = connection({
    shares: [{ name: 'Data', path: '/home', readOnly: false, requireEncryption: false }, { name: 'top', path: '/', readOnly: false, requireEncryption: false }],
    files: shareFileService(v.paths),
  }, []);
  const c = new TestClient(conn);
  await c.negotiate([DIALECT.SMB311]);
  assert.equal((await c.login('alice', 's3cret')).header.status, 0);
  return { c, tid: await c.treeConnect('data'), sub: await c.treeConnect('top'), v };
}

async function put(c: TestClient, tid: number, name: string, data: Buffer): Promise<void> {
  const f = await c.open(tid, { name, desiredAccess: RW, disposition: DISPOSITION.OVERWRITE_IF, options: CREATE_OPTION.NON_DIRECTORY_FILE });
  if (data.length) assert.equal((await c.write(tid, f.fileId, data)).count, data.length);
  assert.equal((await c.close(tid, f.fileId)).header.status, 0);
}

async function get(c: TestClient, tid: number, name: string, contexts: { name: string; data: Buffer }[] = []): Promise<Buffer | number> {
  const r = await c.createFile(tid, { name, desiredAccess: READ, options: CREATE_OPTION.NON_DIRECTORY_FILE, contexts });
  if (r.header.status !== 0) return r.header.status;
  const f = await c.open(tid, { name, desiredAccess: READ, options: CREATE_OPTION.NON_DIRECTORY_FILE, contexts });
  const d = await c.read(tid, f.fileId, 65536);
  await c.close(tid, f.fileId);
  return d.data;
}

/** Waits until the wall clock is in a new second, so two snapshots get two @GMT tokens. */
async function nextSecond(): Promise<void> {
  const s = Math.floor(Date.now() / 1000);
  while (Math.floor(Date.now() / 1000) === s) await new Promise((r) => setTimeout(r, 20));
}

describe('SMB2 Previous Versions', () => {
  test('FSCTL_SRV_ENUMERATE_SNAPSHOTS lists the snapshots that hold the share, newest first; a previous version opens by TWrp or @GMT token, read-only', async () => {
    const { c, tid, v } = await setup();
    await put(c, tid, 'a.txt', Buffer.from('one'));
    const s1 = await v.snapshots.create('first');
    await nextSecond();
    await put(c, tid, 'a.txt', Buffer.from('two!'));
    const s2 = await v.snapshots.create('second');
    await nextSecond();
    await v.snapshots.create('elsewhere', { rootIno: (await v.paths.resolve(ROOT_CTX, '/other')).attr.ino, path: '/other' });
    await put(c, tid, 'a.txt', Buffer.from('three'));
    const t1 = gmtToken(Number(BigInt(s1.createdNs) / 1_000_000n)), t2 = gmtToken(Number(BigInt(s2.createdNs) / 1_000_000n));

    const f = await c.open(tid, { name: 'a.txt', desiredAccess: READ });
    const full = await c.ioctl(tid, f.fileId, FSCTL_DATA.SRV_ENUMERATE_SNAPSHOTS, Buffer.alloc(0), 65536);
    assert.equal(full.status, 0);
    const arr = decodeSnapshotArray(full.output);
    assert.deepEqual(arr.tokens, [t2, t1], 'the snapshot of /other does not hold /home');
    assert.equal(arr.count, 2);
    assert.equal(arr.arraySize, 2 * 50 + 2);
    const small = await c.ioctl(tid, f.fileId, FSCTL_DATA.SRV_ENUMERATE_SNAPSHOTS, Buffer.alloc(0), 16);
    assert.equal(small.status, 0);
    assert.deepEqual(decodeSnapshotArray(small.output), { count: 2, returned: 0, arraySize: 102, tokens: [] });
    assert.equal((await c.ioctl(tid, f.fileId, FSCTL_DATA.SRV_ENUMERATE_SNAPSHOTS, Buffer.alloc(0), 15)).status, STATUS.INVALID_PARAMETER);
    await c.close(tid, f.fileId);

    const at = (t: string) => parseGmtToken(t)!;
    assert.deepEqual(await get(c, tid, 'a.txt', [{ name: 'TWrp', data: encodeTimewarp(at(t1) + 400) }]), Buffer.from('one'), 'TWrp matches to the second');
    assert.deepEqual(await get(c, tid, `${t2}\\a.txt`), Buffer.from('two!'));
    assert.deepEqual(await get(c, tid, `a.txt`), Buffer.from('three'));
    assert.equal(await get(c, tid, `@GMT-2001.01.01-00.00.00\\a.txt`), STATUS.OBJECT_NAME_NOT_FOUND);
    assert.equal(await get(c, tid, 'a.txt', [{ name: 'TWrp', data: Buffer.alloc(4) }]), STATUS.INVALID_PARAMETER);
    const w = await c.createFile(tid, { name: `${t1}\\a.txt`, desiredAccess: RW, options: CREATE_OPTION.NON_DIRECTORY_FILE });
    assert.equal(w.header.status, STATUS.ACCESS_DENIED, 'a previous version is read-only');
    const n = await c.createFile(tid, { name: `${t1}\\new.txt`, desiredAccess: RW, disposition: DISPOSITION.CREATE });
    assert.equal(n.header.status, STATUS.ACCESS_DENIED);
  });

  test('the share at / lists the whole-tree snapshot, not a --path one of a folder below it; @GMT tokens round trip', async () => {
    const { c, sub, v } = await setup();
    await v.snapshots.create('whole');
    await nextSecond();
    await v.snapshots.create('part', { rootIno: (await v.paths.resolve(ROOT_CTX, '/other')).attr.ino, path: '/other' });
    const f = await c.open(sub, { name: '', desiredAccess: READ, options: CREATE_OPTION.DIRECTORY_FILE });
    const r = await c.ioctl(sub, f.fileId, FSCTL_DATA.SRV_ENUMERATE_SNAPSHOTS, Buffer.alloc(0), 65536);
    // The root share is not inside /other: only the whole-tree snapshot holds it.
    assert.equal(decodeSnapshotArray(r.output).tokens.length, 1);
    assert.equal(stripGmtTokens('x\\@GMT-2026.11.29-10.11.12\\y').name, 'x\\y');
    assert.equal(stripGmtTokens('x\\@GMT-2026.02.31-10.11.12\\y').ms, undefined, 'not a real date: an ordinary name');
    fc.assert(fc.property(fc.integer({ min: 0, max: 4102444800 }), (s) => parseGmtToken(gmtToken(s * 1000)) === s * 1000));
  });
});

describe('SMB2 server-side copy and sparse FSCTLs', () => {
  async function openRw(c: TestClient, tid: number, name: string): Promise<FileId> {
    return (await c.open(tid, { name, desiredAccess: RW, disposition: DISPOSITION.OPEN_IF, options: CREATE_OPTION.NON_DIRECTORY_FILE })).fileId;
  }

  test('COPYCHUNK copies chunks from the open named by a resume key; limits, access and the source end are checked', async () => {
    const { c, tid } = await setup();
    const body = Buffer.from(Array.from({ length: 60_000 }, (_, i) => (i * 7) & 0xff));
    await put(c, tid, 'src.bin', body);
    const src = await openRw(c, tid, 'src.bin');
    const dst = await openRw(c, tid, 'dst.bin');
    const key = await c.ioctl(tid, src, FSCTL_DATA.SRV_REQUEST_RESUME_KEY, Buffer.alloc(0), 65536);
    assert.equal(key.status, 0);
    assert.equal(key.output.length, 32);
    const sourceKey = key.output.subarray(0, 24);
    assert.deepEqual((await c.ioctl(tid, src, FSCTL_DATA.SRV_REQUEST_RESUME_KEY, Buffer.alloc(0), 65536)).output.subarray(0, 24), sourceKey, 'one key per open');
    const chunks = [
      { sourceOffset: 0n, targetOffset: 0n, length: 20_000 },
      { sourceOffset: 20_000n, targetOffset: 20_000n, length: 40_000 },
    ];
    const r = await c.ioctl(tid, dst, FSCTL_DATA.SRV_COPYCHUNK_WRITE, encodeCopyChunkCopy({ sourceKey, chunks }), 65536);
    assert.equal(r.status, 0);
    assert.deepEqual(decodeCopyChunkResponse(r.output), { chunksWritten: 2, chunkBytesWritten: 0, totalBytesWritten: 60_000 });
    assert.deepEqual((await c.read(tid, dst, 65536)).data, body);

    const limits = await c.ioctl(tid, dst, FSCTL_DATA.SRV_COPYCHUNK, encodeCopyChunkCopy({ sourceKey, chunks: [{ sourceOffset: 0n, targetOffset: 0n, length: (1 << 20) + 1 }] }), 65536);
    assert.equal(limits.status, STATUS.INVALID_PARAMETER);
    assert.deepEqual(decodeCopyChunkResponse(decodeIoctlResponse(limits.reply.message).output),
      { chunksWritten: COPYCHUNK_LIMITS.chunks, chunkBytesWritten: COPYCHUNK_LIMITS.chunkBytes, totalBytesWritten: COPYCHUNK_LIMITS.totalBytes });
    const many = Array.from({ length: 257 }, () => ({ sourceOffset: 0n, targetOffset: 0n, length: 1 }));
    assert.equal((await c.ioctl(tid, dst, FSCTL_DATA.SRV_COPYCHUNK, encodeCopyChunkCopy({ sourceKey, chunks: many }), 65536)).status, STATUS.INVALID_PARAMETER);
    const past = await c.ioctl(tid, dst, FSCTL_DATA.SRV_COPYCHUNK, encodeCopyChunkCopy({ sourceKey, chunks: [{ sourceOffset: 59_999n, targetOffset: 0n, length: 2 }] }), 65536);
    assert.equal(past.status, STATUS.INVALID_VIEW_SIZE);
    // The chunks before one past the source's end are copied and counted.
    const part = await c.ioctl(tid, dst, FSCTL_DATA.SRV_COPYCHUNK, encodeCopyChunkCopy({ sourceKey, chunks: [
      { sourceOffset: 0n, targetOffset: 60_000n, length: 1000 }, { sourceOffset: 59_000n, targetOffset: 61_000n, length: 2000 }] }), 65536);
    assert.equal(part.status, STATUS.INVALID_VIEW_SIZE);
    assert.deepEqual(decodeCopyChunkResponse(decodeIoctlResponse(part.reply.message).output), { chunksWritten: 1, chunkBytesWritten: 0, totalBytesWritten: 1000 });
    assert.deepEqual((await c.read(tid, dst, 65536)).data, Buffer.concat([body, body.subarray(0, 1000)]));
    // Source and target one file, overlapping ranges: the result is as if the chunk were read first.
    const selfKey = (await c.ioctl(tid, dst, FSCTL_DATA.SRV_REQUEST_RESUME_KEY, Buffer.alloc(0), 65536)).output.subarray(0, 24);
    const self = await c.ioctl(tid, dst, FSCTL_DATA.SRV_COPYCHUNK, encodeCopyChunkCopy({ sourceKey: selfKey, chunks: [{ sourceOffset: 0n, targetOffset: 500n, length: 4000 }] }), 65536);
    assert.equal(self.status, 0);
    const after = (await c.read(tid, dst, 65536)).data;
    assert.deepEqual(after.subarray(500, 4500), body.subarray(0, 4000));
    assert.deepEqual(after.subarray(0, 500), body.subarray(0, 500));
    const unknown = await c.ioctl(tid, dst, FSCTL_DATA.SRV_COPYCHUNK, encodeCopyChunkCopy({ sourceKey: Buffer.alloc(24, 9), chunks: [chunks[0]!] }), 65536);
    assert.equal(unknown.status, STATUS.OBJECT_NAME_NOT_FOUND);
    // COPYCHUNK (not _WRITE) wants read access on the target too; a read-only target is refused either way.
    const ro = (await c.open(tid, { name: 'dst.bin', desiredAccess: READ })).fileId;
    assert.equal((await c.ioctl(tid, ro, FSCTL_DATA.SRV_COPYCHUNK_WRITE, encodeCopyChunkCopy({ sourceKey, chunks: [chunks[0]!] }), 65536)).status, STATUS.ACCESS_DENIED);
    const wo = (await c.open(tid, { name: 'dst.bin', desiredAccess: 0x00120116 /* FILE_GENERIC_WRITE */ })).fileId;
    assert.equal((await c.ioctl(tid, wo, FSCTL_DATA.SRV_COPYCHUNK, encodeCopyChunkCopy({ sourceKey, chunks: [chunks[0]!] }), 65536)).status, STATUS.ACCESS_DENIED);
    assert.equal((await c.ioctl(tid, wo, FSCTL_DATA.SRV_COPYCHUNK_WRITE, encodeCopyChunkCopy({ sourceKey, chunks: [chunks[0]!] }), 65536)).status, 0);
    // A closed source's key no longer works.
    await c.close(tid, src);
    assert.equal((await c.ioctl(tid, dst, FSCTL_DATA.SRV_COPYCHUNK_WRITE, encodeCopyChunkCopy({ sourceKey, chunks: [chunks[0]!] }), 65536)).status, STATUS.OBJECT_NAME_NOT_FOUND);
  });

  test('SET_ZERO_DATA punches a hole that QUERY_ALLOCATED_RANGES then leaves out; SET_SPARSE checks access', async () => {
    const { c, tid } = await setup();
    await put(c, tid, 's.bin', Buffer.alloc(64 * 1024, 1));
    const f = await openRw(c, tid, 's.bin');
    const q = (off: bigint, len: bigint, max = 4096) => c.ioctl(tid, f, FSCTL_DATA.QUERY_ALLOCATED_RANGES, encodeAllocatedRanges([{ offset: off, length: len }]), max);
    assert.deepEqual(decodeAllocatedRanges((await q(0n, 1n << 40n)).output), [{ offset: 0n, length: 65536n }]);
    // Not sparse: zeroing writes zeros and the file stays allocated throughout.
    assert.equal((await c.ioctl(tid, f, FSCTL_DATA.SET_ZERO_DATA, encodeZeroData({ fileOffset: 0n, beyondFinalZero: 4096n }), 0)).status, 0);
    assert.deepEqual(decodeAllocatedRanges((await q(0n, 1n << 40n)).output), [{ offset: 0n, length: 65536n }]);
    assert.ok((await c.read(tid, f, 4096)).data.every((b) => b === 0));
    await c.write(tid, f, Buffer.alloc(4096, 1));
    const attrs = async () => decodeOutputBufferResponse((await c.queryFileInfo(tid, f, INFO_TYPE.FILE, FILE_INFO.Basic)).message).readUInt32LE(32);
    assert.equal(await attrs() & 0x200, 0);
    assert.equal((await c.ioctl(tid, f, FSCTL_DATA.SET_SPARSE, Buffer.alloc(0), 0)).status, 0);
    assert.equal(await attrs() & 0x200, 0x200, 'FILE_ATTRIBUTE_SPARSE_FILE after SET_SPARSE');
    assert.deepEqual(decodeAllocatedRanges((await q(0n, 1n << 40n)).output), [{ offset: 0n, length: 65536n }], 'still allocated');
    assert.equal((await c.ioctl(tid, f, FSCTL_DATA.SET_ZERO_DATA, encodeZeroData({ fileOffset: 16384n, beyondFinalZero: 32768n }), 0)).status, 0);
    assert.deepEqual(decodeAllocatedRanges((await q(0n, 1n << 40n)).output), [{ offset: 0n, length: 16384n }, { offset: 32768n, length: 32768n }]);
    const data = (await c.read(tid, f, 65536)).data;
    assert.ok(data.subarray(16384, 32768).every((b) => b === 0) && data[16383] === 1 && data[32768] === 1);
    const one = await q(0n, 1n << 40n, 16);
    assert.equal(one.status, STATUS.BUFFER_OVERFLOW);
    assert.deepEqual(decodeAllocatedRanges(one.output), [{ offset: 0n, length: 16384n }]);
    assert.deepEqual(decodeAllocatedRanges((await q(20000n, 20000n)).output), [{ offset: 32768n, length: 7232n }], 'clipped to the asked range');
    assert.equal((await q(0n, 10n, 8)).status, STATUS.BUFFER_TOO_SMALL);
    assert.equal((await c.ioctl(tid, f, FSCTL_DATA.SET_ZERO_DATA, encodeZeroData({ fileOffset: 10n, beyondFinalZero: 5n }), 0)).status, STATUS.INVALID_PARAMETER);
    // Clearing the attribute allocates the holes (zeros): one range again, even when set sparse once more.
    assert.equal((await c.ioctl(tid, f, FSCTL_DATA.SET_SPARSE, Buffer.of(0), 0)).status, 0);
    assert.equal(await attrs() & 0x200, 0);
    assert.equal((await c.ioctl(tid, f, FSCTL_DATA.SET_SPARSE, Buffer.of(1), 0)).status, 0);
    assert.deepEqual(decodeAllocatedRanges((await q(0n, 1n << 40n)).output), [{ offset: 0n, length: 65536n }]);
    assert.ok((await c.read(tid, f, 65536)).data.subarray(16384, 32768).every((b) => b === 0));
    const comp = await c.ioctl(tid, f, FSCTL_DATA.GET_COMPRESSION, Buffer.alloc(0), 2);
    assert.deepEqual([comp.status, [...comp.output]], [0, [0, 0]], 'COMPRESSION_FORMAT_NONE');
    assert.equal((await c.ioctl(tid, f, FSCTL_DATA.SET_COMPRESSION, Buffer.of(0, 0), 0)).status, 0);
    assert.equal((await c.ioctl(tid, f, FSCTL_DATA.SET_COMPRESSION, Buffer.of(1, 0), 0)).status, STATUS.NOT_SUPPORTED);
    const ro = (await c.open(tid, { name: 's.bin', desiredAccess: READ })).fileId;
    assert.equal((await c.ioctl(tid, ro, FSCTL_DATA.SET_SPARSE, Buffer.of(1), 0)).status, STATUS.ACCESS_DENIED);
    assert.equal((await c.ioctl(tid, ro, FSCTL_DATA.SET_ZERO_DATA, encodeZeroData({ fileOffset: 0n, beyondFinalZero: 5n }), 0)).status, STATUS.ACCESS_DENIED);
  });

  test('codecs: snapshot arrays and copychunk requests round trip; arbitrary input never throws anything but WireError', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 4102444800 }), { maxLength: 20 }), fc.integer({ min: 16, max: 4096 }), (secs, max) => {
      const tokens = secs.map((s) => gmtToken(s * 1000));
      const a = decodeSnapshotArray(encodeSnapshotArray(tokens, max));
      assert.equal(a.count, tokens.length);
      if (a.returned) assert.deepEqual(a.tokens, tokens);
    }));
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      for (const f of [() => decodeCopyChunkCopy(Buffer.from(b), 256), () => decodeSnapshotArray(Buffer.from(b)), () => decodeAllocatedRanges(Buffer.from(b))]) {
        try { f(); } catch (err) { assert.equal((err as Error).name, 'WireError', String(err)); }
      }
    }));
  });
});
