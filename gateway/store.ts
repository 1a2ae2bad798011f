/**
 * Opening the stores of a data folder: the RocksDB metadata KV and the block store pool,
 * with the embedded default pool (six folders DIR/devices/d0..d5 in rs:4+2) made on first use
 * by `dw serve`. Also the "direct" admin mode: run one admin method on a stopped data folder.
 */
import { mkdir } from 'node:fs/promises';
import { createPool, DEFAULT_NEW_POOL_COMPRESSION, openPool, poolExists, type Secret, type UnlockRequest } from '../raid/index.js';
import type { BlockStore } from '../raid/types.js';
import { VfsError } from '../vfs/errno.js';
import { chmod, stat } from 'node:fs/promises';
import type { KvStore } from '../vfs/meta/kv.js';
import { openRocksKv } from '../vfs/meta/rocksdb.js';
import { openVfs, type VfsInstance } from '../vfs/index.js';
import { runAdmin, type AdminEnv } from './admin.js';
import { type DataDir, defaultDevices, readPid } from './datadir.js';
import { CliError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { fromWire, type KeyFlags, unlockSecret } from './unlock.js';
import { UserStore } from './users.js';

export const DEFAULT_LAYOUT = 'rs:4+2';

/**
 * Opens DIR/meta. A store locked by another process becomes a CliError that says which
 * process (from DIR/dw.pid) and what to do. DIR/meta is kept at mode 0700: it holds the user
 * table, whose SMB NT hashes are password-equivalent (gateway/users.ts).
 */
export async function openKv(d: DataDir): Promise<KvStore> {
  try {
    const kv = await openRocksKv(d.meta);
    const st = await stat(d.meta).catch(() => undefined);
    if (st && (st.mode & 0o077) !== 0) await chmod(d.meta, 0o700).catch(() => {});
    return kv;
  } catch (err) {
    if (err instanceof VfsError && err.code === 'EBUSY') {
      const pid = readPid(d);
      throw new CliError(
        `the data folder ${d.root} is in use by another dw process${pid ? ` (pid ${pid})` : ''} that does not answer on its admin socket ${d.socket}; ` +
          'wait for it to finish or stop it (kill -TERM), then try again',
        'EBUSY',
      );
    }
    if (err instanceof VfsError) throw new CliError(err.message, err.code);
    throw err;
  }
}

/** Creates the embedded default pool if the KV has none; returns true when it did. */
export async function ensureDefaultPool(kv: KvStore, d: DataDir): Promise<boolean> {
  if (await poolExists(kv)) return false;
  const devices = defaultDevices(d);
  for (const dev of devices) await mkdir(dev, { recursive: true });
  await createPool(kv, { layout: DEFAULT_LAYOUT, devices, compression: DEFAULT_NEW_POOL_COMPRESSION });
  return true;
}

/**
 * Opens the pool recorded in the KV; CliError with the errno name when it cannot. An encrypted
 * pool is unlocked with `unlock`'s secret before anything is written; a wrong one is the
 * one-line CliError "wrong passphrase for pool ID: the data key did not unwrap" (EACCES).
 */
export async function openPoolOf(kv: KvStore, logger: Logger, unlock?: (req: UnlockRequest) => Promise<Secret>): Promise<BlockStore> {
  try {
    return await openPool(kv, { logger, reencryptPauseMs: reencryptPauseFromEnv(), ...(unlock ? { unlock } : {}) });
  } catch (err) {
    // Key refusals say all there is to say (and are what a user greps for): no prefix.
    if (err instanceof VfsError && (err.code === 'EACCES' || (err.code === 'EINVAL' && /^pool \w+ is locked with/.test(err.message)))) throw new CliError(err.message, 'EACCES');
    if (err instanceof VfsError) throw new CliError(`cannot open the pool: ${err.message}`, err.code);
    throw err;
  }
}

/**
 * DW_REENCRYPT_PAUSE_MS: a pause after each block a reencrypt walk rewrites, ms (0..10 000; for
 * tests that must stop a walk in the middle, e.g. with kill -9). Unset or malformed: 0.
 */
export function reencryptPauseFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.DW_REENCRYPT_PAUSE_MS);
  return Number.isFinite(n) && n > 0 ? Math.min(n, 10_000) : 0;
}

/**
 * Runs one admin method with the data folder opened in this process (no server running):
 * opens the KV (and the pool only if the method asks for it, unlocking an encrypted one with the
 * secret `keyFlags`, the environment or a prompt name: gateway/unlock.ts), runs, then syncs and
 * closes all.
 */
export async function runDirect(d: DataDir, method: string, params: Record<string, unknown>, onProgress?: (done: number, total: number) => void, keyFlags: KeyFlags = {}): Promise<unknown> {
  // `dw key reencrypt` sends the pool's secret along (it needs it to wrap the new key): the pool is
  // unlocked with that one rather than asking again.
  const given = method === 'key.reencrypt' && params.secret !== undefined ? fromWire(params.secret, 'passphrase or key file of the pool') : undefined;
  const kv = await openKv(d);
  let pool: BlockStore | undefined;
  let vfsi: VfsInstance | undefined;
  const env: AdminEnv = {
    dir: d,
    kv,
    users: new UserStore(kv),
    serving: false,
    // Warnings from the pool (a missing device, a repaired shard) go to stderr as single lines.
    pool: async () => (pool ??= await openPoolOf(kv, createLogger({ level: 'warn', stream: process.stderr, pretty: true }), (req) => (given ? Promise.resolve(given) : unlockSecret(keyFlags, req)))),
    vfs: async () => (vfsi ??= await openVfs({ kv, blocks: await env.pool() })),
    snapshots: async () => (await env.vfs()).snapshots,
  };
  try {
    return await runAdmin(env, method, params, onProgress);
  } finally {
    await vfsi?.impl.flushAll();
    if (pool) {
      await pool.sync().catch(() => {});
      await pool.close();
    }
    await kv.sync().catch(() => {});
    await kv.close();
  }
}
