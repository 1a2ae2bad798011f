/**
 * Automatic reclaim (gateway/autoreclaim.ts): compacts when the dead bytes pass both thresholds,
 * never while another long task runs, and stops on close.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { MemoryBlockStore } from '../raid/memory.js';
import type { PoolStats } from '../raid/types.js';
import { MemoryKv } from '../vfs/meta/memory.js';
import type { AdminEnv } from './admin.js';
import { startAutoReclaim } from './autoreclaim.js';
import { dataDir } from './datadir.js';
import { UserStore } from './users.js';

/** A pool whose dead and physical bytes the test sets, counting reclaims (which free the dead). */
class Pool extends MemoryBlockStore {
  dead = 0;
  physical = 0;
  reclaims = 0;
  override async stats(): Promise<PoolStats> {
    return { ...(await super.stats()), dead: this.dead, physicalUsed: this.physical };
  }
  override async reclaim(): Promise<{ freedBytes: number; segmentsCompacted: number }> {
    this.reclaims++;
    const freedBytes = this.dead;
    this.physical -= this.dead;
    this.dead = 0;
    return { freedBytes, segmentsCompacted: 1 };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('auto reclaim: compacts past both thresholds, waits for a running task, stops on close', async () => {
  const pool = new Pool();
  const kv = new MemoryKv();
  const env: AdminEnv = { dir: dataDir('/nonexistent/dw'), kv, users: new UserStore(kv), serving: true, pool: async () => pool, vfs: async () => { throw new Error('unused'); }, snapshots: async () => { throw new Error('unused'); } };
  const r = startAutoReclaim(env, pool, pino({ level: 'silent' }), { everyMs: 10, minDeadBytes: 1000, minDeadRatio: 0.25 });
  try {
    pool.physical = 10_000;
    pool.dead = 900; // under the byte threshold
    await sleep(60);
    assert.equal(pool.reclaims, 0, 'too few dead bytes');
    pool.physical = 100_000;
    pool.dead = 5000; // over the bytes, under the share (5%)
    await sleep(60);
    assert.equal(pool.reclaims, 0, 'too small a share');
    env.task = { kind: 'scrub', done: 1, total: 2 };
    pool.dead = 50_000;
    await sleep(60);
    assert.equal(pool.reclaims, 0, 'not while a scrub runs');
    env.task = undefined;
    await sleep(60);
    assert.equal(pool.reclaims, 1, 'compacted once');
    assert.equal(pool.dead, 0);
  } finally {
    await r.close();
  }
  pool.dead = pool.physical = 1e9;
  await sleep(50);
  assert.equal(pool.reclaims, 1, 'no checks after close');
});
