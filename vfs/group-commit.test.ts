/**
 * Group commit (vfs/file.ts commitLoop): records stored together commit in one transaction, and
 * a group with a failing record is redone one record at a time, so the records before the
 * failure commit as they would alone and nothing after it does (no hole where refused data
 * would be). The memory block store refuses a put past its capacity with ENOSPC.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryVfs, Errno, ROOT_CTX, VfsError } from './index.js';

const RS = 4096;

test('a failing record in a group: the records before it commit, none after it, the error reaches flush', async () => {
  const v = await createMemoryVfs({ recordSize: RS, capacity: 5 * RS + 100 });
  try {
    const data = Buffer.alloc(12 * RS);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 12)) & 0xff;
    const { fh, attr } = await v.paths.open(ROOT_CTX, '/g', { write: true, read: true, create: true });
    await v.vfs.write(ROOT_CTX, fh, 0, data); // twelve whole records, queued together
    await assert.rejects(v.vfs.flush(ROOT_CTX, fh), (e: unknown) => e instanceof VfsError && e.errno === Errno.ENOSPC);
    const size = (await v.vfs.getattr(ROOT_CTX, attr.ino)).size;
    assert.equal(size, 5 * RS, 'the five records that fit are committed, and only they');
    assert.ok((await v.vfs.read(ROOT_CTX, fh, 0, 12 * RS)).equals(data.subarray(0, 5 * RS)));
    await v.vfs.release(ROOT_CTX, fh);
  } finally {
    await v.close();
  }
});

test('records stored together commit together and read back in order', async () => {
  const v = await createMemoryVfs({ recordSize: RS });
  try {
    const data = Buffer.alloc(200 * RS + 123);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
    const { fh, attr } = await v.paths.open(ROOT_CTX, '/h', { write: true, read: true, create: true });
    let txns = 0;
    const kv = v.impl.meta.kv as unknown as { txn: (...a: unknown[]) => Promise<unknown> };
    const txn = kv.txn.bind(kv);
    kv.txn = (...a: unknown[]) => { txns++; return txn(...a); };
    for (let at = 0; at < data.length; at += 64 * RS) await v.vfs.write(ROOT_CTX, fh, at, data.subarray(at, at + 64 * RS));
    await v.vfs.flush(ROOT_CTX, fh);
    kv.txn = txn;
    assert.ok(txns < 201, `201 records committed in ${txns} transactions (group commit)`);
    assert.equal((await v.vfs.getattr(ROOT_CTX, attr.ino)).size, data.length);
    assert.ok((await v.vfs.read(ROOT_CTX, fh, 0, data.length + 10)).equals(data));
    await v.vfs.release(ROOT_CTX, fh);
  } finally {
    await v.close();
  }
});
