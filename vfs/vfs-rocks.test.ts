// vfsSuite on the production engines: RocksDB metadata + an rs:4+2 pool of six device folders
// with the worker-pool codec, reopened from disk for the durability case.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vfsSuite } from '../test/suites/vfsSuite.js';
import { createPool, openPool } from '../raid/index.js';
import { openRocksKv } from './meta/rocksdb.js';
import { openVfs, type VfsInstance } from './index.js';

vfsSuite('RocksDB + rs:4+2 pool', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-vfs-'));
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
