import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Errno, VfsError } from '../vfs/errno.js';
import type { KvStore } from '../vfs/meta/kv.js';
import { makeCodec } from './codec.js';
import { Device, LABEL_FILE, readLabel, writeLabel } from './device.js';
import { formatCompression, parseCompression } from './compress.js';
import { faultTolerance, parseLayout } from './layout.js';
import { compressionOf, POOL_KEY, type PoolState, readPoolState } from './poolstate.js';
import { type Logger, RaidBlockStore } from './store.js';
import type { BlockStore } from './types.js';

/** Default segment file size before rolling over to a new one: 256 MiB. */
export const DEFAULT_SEGMENT_BYTES = 256 << 20;

export interface CreatePoolOptions {
  /** Layout text, see parseLayout (e.g. 'rs:4+2'). */
  layout: string;
  /** Device folders, one per shard of the layout (created if absent). */
  devices: string[];
  /** Segment file size, bytes (default 256 MiB; ≥ 64 KiB). */
  segmentBytes?: number;
  /**
   * Compression of new blocks: 'off', 'lz4', 'zstd' or 'zstd:LEVEL' (compress.ts). Default
   * 'off' here (a library caller gets exactly what it asks for); `dw pool create` and the
   * default pool of `dw serve` pass compress.ts DEFAULT_NEW_POOL_COMPRESSION.
   */
  compression?: string;
  /** Deduplicate new records of files whose directories do not say otherwise (default false). */
  dedup?: boolean;
}

export interface OpenPoolOptions {
  /** Where parity and checksums are computed: a piscina worker pool (default) or this thread. */
  codec?: 'worker' | 'inline';
  /** Worker threads for the worker codec (default min(4, cores)). */
  workers?: number;
  /** Bytes of decoded blocks kept in the LRU cache (default 64 MiB). */
  cacheBytes?: number;
  logger?: Logger;
  /** How long a put() but not yet committed block keeps its segment from compaction (default 10 min). */
  stagedGraceMs?: number;
}

const silent: Logger = { info() {}, warn() {}, error() {} };

/** Whether the KV holds a pool. */
export async function poolExists(kv: KvStore): Promise<boolean> {
  return (await kv.get(POOL_KEY)) !== undefined;
}

/**
 * Creates a pool: a label file (pool id, device index) in each device folder and the pool
 * state row in the KV. Throws VfsError EINVAL (bad layout, wrong device count, a folder named
 * twice), EEXIST (the KV already has a pool, or a folder already carries a pool label).
 */
export async function createPool(kv: KvStore, opts: CreatePoolOptions): Promise<void> {
  const layout = parseLayout(opts.layout);
  const paths = opts.devices.map((d) => resolve(d));
  if (paths.length !== layout.devices) {
    throw new VfsError(Errno.EINVAL, `layout ${layout.name} needs ${layout.devices} devices, got ${paths.length}`);
  }
  if (new Set(paths).size !== paths.length) throw new VfsError(Errno.EINVAL, 'a device folder is named twice');
  const segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  if (!Number.isInteger(segmentBytes) || segmentBytes < 64 << 10 || segmentBytes > 2 ** 40) {
    throw new VfsError(Errno.EINVAL, `segment size must be 64 KiB..1 TiB, got ${segmentBytes}`);
  }
  const compression = formatCompression(parseCompression(opts.compression ?? 'off'));
  if (await poolExists(kv)) throw new VfsError(Errno.EEXIST, 'a pool already exists');
  for (const p of paths) {
    const label = await readLabel(p);
    if (label) throw new VfsError(Errno.EEXIST, `${p} already belongs to pool ${label.poolId} (device ${label.index})`);
  }
  const id = randomBytes(16).toString('hex');
  const written: string[] = [];
  try {
    for (const [index, p] of paths.entries()) {
      await writeLabel(p, { format: 1, poolId: id, index });
      written.push(p);
    }
    const state: PoolState = { format: 1, id, layout: layout.name, devices: paths, segmentBytes, created: Date.now(), compression, ...(opts.dedup ? { dedup: true } : {}) };
    await kv.txn(async (tx) => {
      if (await tx.get(POOL_KEY)) throw new VfsError(Errno.EEXIST, 'a pool already exists');
      tx.set(POOL_KEY, Buffer.from(JSON.stringify(state)));
    }, { sync: true });
  } catch (err) {
    for (const p of written) await rm(join(p, LABEL_FILE), { force: true }).catch(() => undefined);
    throw err;
  }
}

/**
 * Opens the pool recorded in the KV. Devices whose folder or label is missing (or labelled for
 * another pool or index) are marked 'missing': reads decode from the others, writes are
 * degraded (see raid/README.md). Throws VfsError ENOENT 'no pool' if the KV has none.
 */
export async function openPool(kv: KvStore, opts: OpenPoolOptions = {}): Promise<BlockStore> {
  const state = await readPoolState(kv);
  if (!state) throw new VfsError(Errno.ENOENT, 'no pool');
  const layout = parseLayout(state.layout);
  const log = opts.logger ?? silent;
  const poolId = Buffer.from(state.id, 'hex');
  let store: RaidBlockStore | undefined;
  const devices = state.devices.map((p, i) => new Device(i, p, poolId, state.segmentBytes, () => store!.segs.take()));
  await Promise.all(devices.map((d) => d.open(state.id)));
  const codec = makeCodec(opts.codec ?? 'worker', opts.workers);
  store = new RaidBlockStore(kv, layout, devices, codec, state.id, log, { ...opts, compression: compressionOf(state), dedup: state.dedup ?? false });
  await store.ids.prime();
  await store.segs.prime();
  const missing = devices.filter((d) => d.state === 'missing');
  for (const d of missing) log.warn({ device: d.index, path: d.path }, 'raid: device missing (folder or label absent)');
  if (missing.length > faultTolerance(layout)) {
    log.error({ missing: missing.length, layout: layout.name }, 'raid: more devices missing than the layout tolerates; some blocks are unreadable');
  }
  if (state.rebuilding !== undefined) {
    log.warn({ device: state.rebuilding }, 'raid: a device rebuild was interrupted; run scrub (or replace the device again) to finish it');
  }
  return store;
}
