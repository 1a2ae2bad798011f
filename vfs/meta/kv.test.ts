/** Runs the shared KvStore suite (test/suites/kvSuite.ts) against every engine. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kvSuite } from '../../test/suites/kvSuite.js';
import { CachedKv } from './cache.js';
import { MemoryKv } from './memory.js';
import { openRocksKv } from './rocksdb.js';

kvSuite('memory', async () => {
  const kv = new MemoryKv();
  return { kv, cleanup: () => kv.close() };
});

kvSuite('memory behind the read cache (tiny, so entries are evicted)', async () => {
  const kv = new CachedKv(new MemoryKv(), 4096);
  return { kv, cleanup: () => kv.close() };
});

kvSuite('rocksdb (uncached)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-kv-'));
  const kv = await openRocksKv(join(dir, 'meta'), { cacheBytes: 0 });
  return {
    kv,
    async cleanup() {
      await kv.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

kvSuite('rocksdb (with its default read cache)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-kv-'));
  const kv = await openRocksKv(join(dir, 'meta'));
  return {
    kv,
    async cleanup() {
      await kv.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
