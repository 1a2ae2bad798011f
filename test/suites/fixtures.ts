/**
 * What the VFS-level shared suites (vfsSuite, volumeSuite) take from their factories, one
 * production-engine factory for both, and the errno assertion they share.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, openPool } from '../../raid/index.js';
import { openRocksKv } from '../../vfs/meta/rocksdb.js';
import { Errno, openVfs, VfsError, type VfsInstance } from '../../vfs/index.js';

/** A VFS instance under test and how to reopen and remove it. */
export interface VfsFixture {
  inst: VfsInstance;
  /** Closes and reopens on the same storage (durable engines only); absent for memory. */
  reopen?: () => Promise<VfsInstance>;
  cleanup(): Promise<void>;
}

/**
 * The production engines: RocksDB metadata + an rs:4+2 pool of six device folders with the
 * worker-pool codec, in a temp folder named `prefix`XXXXXX; `reopen` opens it again from disk.
 */
export async function rocksPoolFixture(prefix: string): Promise<VfsFixture> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
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
}

/** Asserts that `p` rejects with a VfsError of `errno`. */
export async function rejectsErrno(p: Promise<unknown>, errno: Errno): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof VfsError, `expected VfsError, got ${String(e)}`);
    assert.equal(Errno[e.errno], Errno[errno]);
    return true;
  });
}
