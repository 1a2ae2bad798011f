/**
 * A truncate racing a write through another handle of the same file (vfs.ts setattr): the result
 * is what one order of the two gives, never old bytes past the new size brought back by a
 * read-modify-write that loaded its record before the truncate and was buffered after it. The
 * block store's reads are slowed so that the write's load spans the whole truncate.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryVfs, ROOT_CTX, type VfsInstance } from './index.js';

const RS = 4096;

/** A file of two stored records of 0x11 at `path`, opened again for reading and writing. */
async function twoRecords(v: VfsInstance, path: string): Promise<{ old: Buffer; fh: number; attr: { ino: number } }> {
  const old = Buffer.alloc(2 * RS, 0x11);
  const { fh: w0 } = await v.paths.open(ROOT_CTX, path, { write: true, create: true });
  await v.vfs.write(ROOT_CTX, w0, 0, old);
  await v.vfs.release(ROOT_CTX, w0);
  const { fh, attr } = await v.paths.open(ROOT_CTX, path, { read: true, write: true });
  return { old, fh, attr };
}

test('truncate during a write\'s read-modify-write: the write, then the truncate; no old bytes come back', async () => {
  const v = await createMemoryVfs({ recordSize: RS });
  try {
    const { old, fh, attr } = await twoRecords(v, '/t');
    const blocks = v.impl.blocks as unknown as { get: (id: number) => Promise<Buffer> };
    const get = blocks.get.bind(blocks);
    blocks.get = async (id) => { await new Promise((r) => setTimeout(r, 50)); return get(id); };
    const data = Buffer.alloc(16, 0xee);
    const writing = v.vfs.write(ROOT_CTX, fh, 100, data); // loads record 0 (slowly)
    await new Promise((r) => setTimeout(r, 5));
    await v.vfs.setattr(ROOT_CTX, attr.ino, { size: 10 });
    await writing;
    blocks.get = get;
    await v.vfs.flush(ROOT_CTX, fh);
    const got = await v.vfs.read(ROOT_CTX, fh, 0, 3 * RS);
    // The write began first, so the truncate waits for it and then cuts it off (before the fix, the
    // write buffered the whole old record after the truncate: 116 bytes, old ones from 10 to 100).
    assert.equal(got.length, 10, 'size: the write, then the truncate');
    assert.ok(got.equals(old.subarray(0, 10)), `bytes: ${got.subarray(0, 120).toString('hex')}`);
    await v.vfs.release(ROOT_CTX, fh);
  } finally {
    await v.close();
  }
});

test('a write sent while a truncate runs waits for it: zeros between the new size and the write', async () => {
  const v = await createMemoryVfs({ recordSize: RS });
  try {
    const { old, fh, attr } = await twoRecords(v, '/u');
    const data = Buffer.alloc(16, 0xee);
    await Promise.all([v.vfs.setattr(ROOT_CTX, attr.ino, { size: 10 }), v.vfs.write(ROOT_CTX, fh, 100, data)]);
    await v.vfs.flush(ROOT_CTX, fh);
    const got = await v.vfs.read(ROOT_CTX, fh, 0, 3 * RS);
    const want = Buffer.alloc(116); old.copy(want, 0, 0, 10); data.copy(want, 100);
    assert.ok(got.equals(want), `the truncate, then the write: ${got.length} bytes, ${got.toString('hex')}`);
    await v.vfs.release(ROOT_CTX, fh);
  } finally {
    await v.close();
  }
});
