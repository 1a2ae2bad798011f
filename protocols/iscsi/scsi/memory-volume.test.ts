/** The in-memory BlockVolume keeps the contract: sparse records, holes as zeros, unmap, mapping runs, read-only, errors. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Errno, VfsError } from '../../../vfs/errno.js';
import { MemoryVolume } from './memory-volume.js';

const errno = async (p: Promise<unknown>): Promise<Errno | undefined> => p.then(() => undefined, (e: unknown) => (e instanceof VfsError ? e.errno : undefined));

test('reads what was written, holes as zeros, unmap frees whole records and zeroes partial ones, mapping merges runs', async () => {
  const v = new MemoryVolume({ sizeBytes: 64 * 1024, recordSize: 4096 });
  await v.write(4000, Buffer.alloc(200, 7));
  assert.equal(v.allocatedRecords(), 2);
  const r = await v.read(3990, 220);
  assert.deepEqual([...r.subarray(0, 10)], Array(10).fill(0));
  assert.deepEqual([...r.subarray(10, 210)], Array(200).fill(7));
  assert.deepEqual(await v.mapping(0, 16384), [{ offset: 0, length: 8192, mapped: true }, { offset: 8192, length: 8192, mapped: false }]);
  await v.unmap(4096, 4096);
  assert.equal(v.allocatedRecords(), 1);
  await v.unmap(4050, 10);
  assert.deepEqual([...(await v.read(4040, 30))], [...Array(10).fill(7), ...Array(10).fill(0), ...Array(10).fill(7)]);
  assert.equal(await errno(v.read(65536 - 10, 11)), Errno.EINVAL);
  assert.equal(await errno(v.write(-1, Buffer.alloc(1))), Errno.EINVAL);
  v.resize(8192);
  assert.equal(v.sizeBytes, 8192);
  await v.close();
  assert.equal(await errno(v.read(0, 1)), Errno.EBADF);
});

test('read-only: write and unmap are EROFS; capacity: ENOSPC; failNext injects once', async () => {
  const ro = new MemoryVolume({ sizeBytes: 8192, readOnly: true });
  assert.equal(await errno(ro.write(0, Buffer.alloc(1))), Errno.EROFS);
  assert.equal(await errno(ro.unmap(0, 4096)), Errno.EROFS);
  const small = new MemoryVolume({ sizeBytes: 65536, capacityRecords: 2 });
  await small.write(0, Buffer.alloc(8192, 1));
  assert.equal(await errno(small.write(8192, Buffer.alloc(1))), Errno.ENOSPC);
  small.failNext = Errno.EIO;
  assert.equal(await errno(small.flush()), Errno.EIO);
  await small.flush();
});

test('model check: random writes and unmaps agree with a flat buffer', async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), fc.nat(32767), fc.nat(9000), fc.integer({ min: 1, max: 255 })), { maxLength: 30 }), async (ops) => {
    const v = new MemoryVolume({ sizeBytes: 32768, recordSize: 4096 });
    const model = Buffer.alloc(32768);
    for (const [isWrite, off, len0, byte] of ops) {
      const len = Math.min(len0, 32768 - off);
      if (isWrite) {
        await v.write(off, Buffer.alloc(len, byte));
        model.fill(byte, off, off + len);
      } else {
        await v.unmap(off, len);
        model.fill(0, off, off + len);
      }
    }
    assert.deepEqual(await v.read(0, 32768), model);
    const runs = await v.mapping(0, 32768);
    assert.equal(runs.reduce((a, r) => a + r.length, 0), 32768);
  }), { numRuns: 200 });
});
