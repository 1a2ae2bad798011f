// volumeSuite (test/suites/volumeSuite.ts) on the memory engines and on the production engines:
// RocksDB metadata + an rs:4+2 pool of six device folders, reopened from disk for durability.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { volumeSuite } from '../test/suites/volumeSuite.js';
import { createPool, openPool } from '../raid/index.js';
import { openRocksKv } from './meta/rocksdb.js';
import { createMemoryVfs, openVfs, type VfsInstance } from './index.js';

volumeSuite('memory engines', async () => ({ inst: await createMemoryVfs(), cleanup: async () => {} }));

volumeSuite('RocksDB + rs:4+2 pool', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-vol-'));
  const devices = Array.from({ length: 6 }, (_, i) => join(dir, `d${i}`));
  const open = async (): Promise<VfsInstance> => {
    const kv = await openRocksKv(join(dir, 'meta'));
    const blocks = await openPool(kv, { codec: 'worker', workers: 2 });
    return openVfs({ kv, blocks });
  };
  const kv = await openRocksKv(join(dir, 'meta'));
  await createPool(kv, { layout: 'rs:4+2', devices });
  await kv.close();
  let inst = await open();
  return {
    get inst() { return inst; },
    set inst(v: VfsInstance) { inst = v; },
    reopen: async () => { await inst.close(); inst = await open(); return inst; },
    cleanup: async () => { await inst.close(); await rm(dir, { recursive: true, force: true }); },
  };
});
