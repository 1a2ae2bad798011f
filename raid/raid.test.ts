/**
 * Runs the shared BlockStore suite (test/suites/blockStoreSuite.ts) against the raid store with
 * the in-thread codec and with the worker-pool codec (MemoryKv), against the raid store on the
 * RocksDB engine, and against MemoryBlockStore for the parts without devices.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BlockStoreFactory, blockStoreSuite, type Harness } from '../test/suites/blockStoreSuite.js';
import type { KvStore } from '../vfs/meta/kv.js';
import { MemoryKv } from '../vfs/meta/memory.js';
import { openRocksKv } from '../vfs/meta/rocksdb.js';
import { MemoryBlockStore } from './memory.js';
import { createPool, openPool } from './index.js';

function raidFactory(name: string, codec: 'inline' | 'worker', engine: 'memory' | 'rocksdb'): BlockStoreFactory {
  return {
    name,
    faults: true,
    async create(opts = {}): Promise<Harness> {
      const root = mkdtempSync(join(tmpdir(), 'dw-raid-'));
      const kv: KvStore = engine === 'memory' ? new MemoryKv() : await openRocksKv(join(root, 'meta'));
      const layout = opts.layout ?? 'rs:4+2';
      const n = (await import('./layout.js')).parseLayout(layout).devices;
      const devices = Array.from({ length: n }, (_, i) => join(root, `dev${i}`));
      await createPool(kv, { layout, devices, segmentBytes: opts.segmentBytes ?? 1 << 20, ...(opts.compression ? { compression: opts.compression } : {}) });
      const open = () => openPool(kv, { codec, workers: 2, cacheBytes: 4 << 20 });
      let spare = 0;
      const h: Harness = {
        kv,
        store: await open(),
        devices,
        async reopen() {
          await h.store.close();
          h.store = await open();
          return h.store;
        },
        spareFolder() {
          const p = join(root, `spare${spare++}`);
          mkdirSync(p);
          return p;
        },
        async cleanup() {
          await h.store.close();
          await kv.close();
          rmSync(root, { recursive: true, force: true });
        },
      };
      return h;
    },
  };
}

blockStoreSuite(raidFactory('raid, in-thread codec, MemoryKv', 'inline', 'memory'));
blockStoreSuite(raidFactory('raid, worker codec, MemoryKv', 'worker', 'memory'));
blockStoreSuite(raidFactory('raid, worker codec, RocksDB', 'worker', 'rocksdb'));
blockStoreSuite({
  name: 'MemoryBlockStore',
  faults: false,
  async create(): Promise<Harness> {
    const kv = new MemoryKv();
    const h: Harness = {
      kv,
      store: new MemoryBlockStore(),
      async cleanup() {
        await h.store.close();
        await kv.close();
      },
    };
    return h;
  },
});
