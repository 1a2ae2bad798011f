/**
 * Drop-behind (vfs/file.ts read, BlockStore.dropBehind): once a reader has streamed 32 MiB of a
 * file in order, each record it reads to the end is dropped behind; reads out of order, and the
 * first 32 MiB of a run, never are. The memory store records the calls.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBlockStore } from '../raid/memory.js';
import { MemoryKv } from './meta/memory.js';
import { openVfs, ROOT_CTX } from './index.js';

const MIB = 1 << 20;
const SIZE = 40 * MIB;

async function withFile(fn: (read: (at: number, n: number, lent: boolean) => Promise<void>, dropped: number[]) => Promise<void>): Promise<void> {
  const blocks = new MemoryBlockStore({});
  const dropped: number[] = [];
  blocks.dropBehind = (id: number) => { dropped.push(id); };
  const v = await openVfs({ kv: new MemoryKv(), blocks, recordSize: MIB });
  try {
    const data = Buffer.alloc(SIZE);
    for (let i = 0; i < SIZE; i += 4) data.writeUInt32LE(i, i);
    const { fh: w } = await v.paths.open(ROOT_CTX, '/f', { write: true, create: true });
    await v.vfs.write(ROOT_CTX, w, 0, data);
    await v.vfs.release(ROOT_CTX, w);
    const { fh } = await v.paths.open(ROOT_CTX, '/f', { read: true });
    await fn(async (at, n, lent) => {
      if (lent) {
        const l = await v.vfs.readLent(ROOT_CTX, fh, at, n);
        assert.ok(l.data.equals(data.subarray(at, at + n)), `bytes at ${at}`);
        l.giveBack();
      } else {
        // Into a buffer of the caller's (the copying path; without one, a read within a record is a
        // view of the cached block, which the store never reuses anyway).
        assert.ok((await v.vfs.read(ROOT_CTX, fh, at, n, Buffer.alloc(n))).equals(data.subarray(at, at + n)), `bytes at ${at}`);
      }
    }, dropped);
    await v.vfs.release(ROOT_CTX, fh);
  } finally {
    await v.close();
  }
}

for (const lent of [false, true]) {
  test(`drop-behind: a file streamed in whole records drops the records read past its first 32 MiB (${lent ? 'lent' : 'copied'})`, () => withFile(async (read, dropped) => {
    for (let at = 0; at < SIZE; at += MIB) {
      await read(at, MIB, lent);
      assert.equal(dropped.length, Math.max(0, at / MIB - 31), `after the read at ${at / MIB} MiB`);
    }
    assert.equal(new Set(dropped).size, 8, 'eight distinct blocks, each once');
  }));
}

test('drop-behind: reads smaller than a record drop it only with the read that reaches its end', () => withFile(async (read, dropped) => {
  const piece = 256 << 10;
  for (let at = 0; at < SIZE; at += piece) {
    await read(at, piece, false);
    const recordsEnded = (at + piece) / MIB;
    assert.equal(dropped.length, Number.isInteger(recordsEnded) ? Math.max(0, recordsEnded - 32) : Math.max(0, Math.floor(recordsEnded) - 32), `after the read ending at ${(at + piece) / MIB} MiB`);
  }
}));

test('drop-behind: reads out of order, or a new run after a jump, keep what they read', () => withFile(async (read, dropped) => {
  for (const mib of [39, 1, 30, 10, 38, 0, 20]) await read(mib * MIB, MIB, true);
  assert.deepEqual(dropped, [], 'no run of sequential reads');
  for (let mib = 5; mib < 36; mib++) await read(mib * MIB, MIB, false); // a run of 31 MiB from 5 MiB
  assert.deepEqual(dropped, [], 'the run has not passed 32 MiB');
  await read(36 * MIB, MIB, false);
  await read(37 * MIB, MIB, false);
  assert.equal(dropped.length, 1, 'past 32 MiB of the run (5 to 38 MiB), its records drop behind');
}));
