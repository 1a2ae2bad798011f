/**
 * Small-file path below the protocols: N × (create, write 4 KiB, release) through the path
 * layer on RocksDB + the rs:4+2 pool, as one PUT or one `sftp put` of a small file does,
 * with C of them at once. Prints files/s and what each file cost the metadata engine
 * (point reads that reached RocksDB, transactions).
 *   node --import tsx scripts/bench/small-files.ts [N=5000] [C=8]
 */
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, openPool } from '../../raid/index.js';
import { openVfs, ROOT_CTX } from '../../vfs/index.js';
import { openRocksKv } from '../../vfs/meta/rocksdb.js';
import type { KvStore } from '../../vfs/meta/kv.js';

const N = Number(process.argv[2] ?? 5000);
const C = Number(process.argv[3] ?? 8);
const dir = await mkdtemp(join(tmpdir(), 'dw-small-'));
try {
  const devices = Array.from({ length: 6 }, (_, i) => join(dir, `d${i}`));
  for (const d of devices) await mkdir(d);
  const kv = await openRocksKv(join(dir, 'meta'));
  // Count what reaches RocksDB under the cache: point reads by key prefix, transactions.
  const inner = (kv as unknown as { inner: KvStore }).inner as unknown as {
    readKeys(keys: Buffer[], c: boolean): Promise<unknown>; txn: KvStore['txn'];
  };
  const counts = { gets: 0, txns: 0 };
  const byPrefix = new Map<string, number>();
  const readKeys = inner.readKeys.bind(inner), txn = inner.txn.bind(inner);
  inner.readKeys = (ks, c) => {
    counts.gets += ks.length;
    for (const k of ks) byPrefix.set(String.fromCharCode(k[0]!), (byPrefix.get(String.fromCharCode(k[0]!)) ?? 0) + 1);
    return readKeys(ks, c);
  };
  inner.txn = ((fn: any, o: any) => { counts.txns++; return txn(fn, o); }) as KvStore['txn'];
  await createPool(kv, { layout: 'rs:4+2', devices });
  const pool = await openPool(kv, {});
  const v = await openVfs({ kv, blocks: pool });
  await v.paths.mkdir(ROOT_CTX, '/small', 0o755);
  const data = Buffer.alloc(4096, 7);
  let next = 0;
  const before = { ...counts };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: C }, async () => {
    while (next < N) {
      const i = next++;
      const { fh } = await v.paths.open(ROOT_CTX, `/small/f${i}`, { write: true, create: true, truncate: true });
      await v.vfs.write(ROOT_CTX, fh, 0, data);
      await v.vfs.release(ROOT_CTX, fh);
    }
  }));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`${N} files of 4 KiB, ${C} at once: ${(N / s).toFixed(0)} files/s, ${(s / N * 1e6).toFixed(0)} us each; ` +
    `per file: ${((counts.gets - before.gets) / N).toFixed(2)} engine reads, ${((counts.txns - before.txns) / N).toFixed(2)} transactions`);
  console.log('engine reads by key prefix (keys.ts):', Object.fromEntries(byPrefix));
  await v.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
