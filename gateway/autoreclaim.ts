/**
 * Space reclaim without an operator: segments are append-only, so rewritten and deleted data
 * stays on the devices as dead shards until `dw reclaim` compacts them. A FUSE mount used by a
 * database or a build rewrites all day, so `dw serve` checks every minute and compacts, as
 * `dw reclaim` does, once the dead bytes are at least a quarter of the bytes on the devices and
 * at least 1 GiB. A scrub, rebuild or manual reclaim already running makes it wait for the
 * next check (one long task at a time, as the admin methods keep it).
 */
import type { Logger } from 'pino';
import type { BlockStore } from '../raid/types.js';
import { type AdminEnv, runAdmin } from './admin.js';

export interface AutoReclaimOptions {
  /** Between checks, ms (default 60,000). */
  everyMs?: number;
  /** Least dead bytes worth a compaction (default 1 GiB). */
  minDeadBytes?: number;
  /** Least share of dead bytes in the bytes on the devices, 0..1 (default 0.25). */
  minDeadRatio?: number;
}

/** Starts the checks; `close()` stops them and waits for a compaction in progress. */
export function startAutoReclaim(env: AdminEnv, pool: BlockStore, log: Logger, o: AutoReclaimOptions = {}): { name: string; close(): Promise<void> } {
  const everyMs = o.everyMs ?? 60_000, minDead = o.minDeadBytes ?? 2 ** 30, ratio = o.minDeadRatio ?? 0.25;
  let running: Promise<void> | undefined;
  let closed = false;
  const check = async () => {
    if (env.task) return; // a scrub, rebuild or reclaim is running
    const s = await pool.stats();
    if (s.dead < minDead || s.dead < ratio * s.physicalUsed) return;
    log.info({ dead: s.dead, physical: s.physicalUsed }, 'reclaim: dead space over the threshold, compacting');
    await runAdmin(env, 'reclaim', {});
  };
  const timer = setInterval(() => {
    if (running || closed) return;
    running = check()
      .catch((err: unknown) => log.warn({ err }, 'reclaim: automatic compaction failed; it is tried again at the next check'))
      .finally(() => { running = undefined; });
  }, everyMs);
  timer.unref();
  return {
    name: 'auto reclaim',
    async close() {
      closed = true;
      clearInterval(timer);
      await running;
    },
  };
}
