/**
 * The write-back of vfs/file.ts (issue 4, random I/O): records rewritten at random through one
 * handle stay buffered, within the budget shared by all open files; reads see every write at
 * once; flush, and a reopen after it, give exactly the bytes written (checked against a plain
 * buffer, over seeded random 4 KiB-ish writes into a file written before).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { bufferedBytes, inflightWindow, setDirtyBudget } from './file.js';
import { createMemoryVfs, ROOT_CTX } from './index.js';

const RS = 4096;
const RECORDS = 48;

test('write-back: random rewrites within the budget read back exactly, before and after flush', async () => {
  const budget = 6 * RS;
  const old = setDirtyBudget(budget);
  try {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ offset: fc.integer({ min: 0, max: RECORDS * RS }), len: fc.integer({ min: 1, max: 3 * RS }), seed: fc.integer({ min: 1, max: 255 }), readBack: fc.boolean() }), { minLength: 1, maxLength: 60 }),
      async (ops) => {
        const v = await createMemoryVfs({ recordSize: RS });
        try {
          const model = Buffer.alloc(RECORDS * RS);
          for (let i = 0; i < model.length; i++) model[i] = (i * 7) & 0xff;
          const { fh: w0 } = await v.paths.open(ROOT_CTX, '/f', { write: true, create: true });
          await v.vfs.write(ROOT_CTX, w0, 0, model);
          await v.vfs.release(ROOT_CTX, w0);
          let m = model;
          const { fh } = await v.paths.open(ROOT_CTX, '/f', { read: true, write: true });
          for (const o of ops) {
            const data = Buffer.alloc(o.len, o.seed);
            await v.vfs.write(ROOT_CTX, fh, o.offset, data);
            if (o.offset + o.len > m.length) { const g = Buffer.alloc(o.offset + o.len); m.copy(g); m = g; }
            data.copy(m, o.offset);
            // Over the budget only by the records being stored (the file's in-flight window).
            assert.ok(bufferedBytes() <= budget + inflightWindow(RS) * RS, `buffered ${bufferedBytes()} > budget`);
            if (o.readBack) assert.ok((await v.vfs.read(ROOT_CTX, fh, o.offset, o.len)).equals(data), 'a read sees the write at once');
          }
          assert.ok((await v.vfs.read(ROOT_CTX, fh, 0, m.length + 10)).equals(m), 'the whole file through the buffers');
          await v.vfs.flush(ROOT_CTX, fh);
          await v.vfs.release(ROOT_CTX, fh);
          assert.equal(bufferedBytes(), 0, 'nothing buffered once closed');
          const { fh: r } = await v.paths.open(ROOT_CTX, '/f', { read: true });
          assert.ok((await v.vfs.read(ROOT_CTX, r, 0, m.length + 10)).equals(m), 'the whole file after close, from the store');
          const into = Buffer.alloc(m.length + 10, 0xaa);
          const got = await v.vfs.read(ROOT_CTX, r, 3, m.length + 10, into);
          assert.ok(got.equals(m.subarray(3)) && got.buffer === into.buffer, 'read into a given buffer: a view of it, clamped at the end');
          await v.vfs.release(ROOT_CTX, r);
        } finally {
          await v.close();
        }
      }), { numRuns: 40 });
  } finally {
    setDirtyBudget(old);
  }
});

test('write-back: a rewrite in place is not stored at once; a streaming writer is', async () => {
  const v = await createMemoryVfs({ recordSize: RS });
  try {
    const { fh: w } = await v.paths.open(ROOT_CTX, '/g', { write: true, create: true });
    for (let i = 0; i < 64; i++) await v.vfs.write(ROOT_CTX, w, i * RS, Buffer.alloc(RS, i + 1));
    // Each record the writer filled went to the block store at once, in the background: with no
    // flush or close, the buffers empty (all but the record the writer may still extend).
    for (let t = 0; t < 200 && bufferedBytes() > RS; t++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(bufferedBytes() <= RS, `a streaming writer's records are stored without a flush (${bufferedBytes()} buffered)`);
    await v.vfs.release(ROOT_CTX, w);
    const blocksBefore = (await v.impl.blocks.stats()).physicalUsed;
    const { fh } = await v.paths.open(ROOT_CTX, '/g', { read: true, write: true });
    for (let k = 0; k < 20; k++) await v.vfs.write(ROOT_CTX, fh, ((k * 5) % 8) * 8 * RS + 100, Buffer.alloc(10, 0xee));
    assert.equal(bufferedBytes(), 8 * RS, 'every rewritten record buffered once');
    assert.equal((await v.impl.blocks.stats()).physicalUsed, blocksBefore, 'no block stored per write (no bytes appended to the devices)');
    await v.vfs.release(ROOT_CTX, fh);
    assert.equal(bufferedBytes(), 0);
  } finally {
    await v.close();
  }
});
