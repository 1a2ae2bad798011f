import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Errno, VfsError } from '../vfs/errno.js';
import type { KvStore } from '../vfs/meta/kv.js';
import { makeCodec } from './codec.js';
import { Device, LABEL_FILE, readLabel, writeLabel } from './device.js';
import { formatCompression, parseCompression } from './compress.js';
import { faultTolerance, parseLayout } from './layout.js';
import { decodeKeyRecord, describeKeyRecord, encodeKeyRecord, type KeyRecord, type Keyring, type KeySource, newKeyRecord, rewrapKeyRecord, type ScryptParams, type Secret, unlockKeyRecord } from './keys.js';
import { compressionOf, POOL_KEY, type PoolState, readPoolState } from './poolstate.js';
import { type Logger, RaidBlockStore } from './store.js';
import { reencryptStatus } from './reencrypt.js';
import type { BlockStore, ReencryptStatus } from './types.js';

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
  /**
   * Encrypt every block (AES-256-GCM, raid/README.md "Encryption"): a random data key is made and
   * kept wrapped under the master key of `secret` (a passphrase through scrypt with `scrypt`'s
   * cost, default keys.ts DEFAULT_SCRYPT; or a 32-byte key file). Chosen at creation only.
   */
  encryption?: { secret: Secret; scrypt?: ScryptParams };
}

/** What openPool tells the unlock callback. */
export interface UnlockRequest {
  poolId: string;
  /** What the pool's master key comes from: the callback answers with a Secret of that kind. */
  source: KeySource;
}

export interface OpenPoolOptions {
  /** Where parity and checksums are computed: a piscina worker pool (default) or this thread. */
  codec?: 'worker' | 'inline';
  /** Worker threads for the worker codec (default min(4, cores)). */
  workers?: number;
  /** Bytes of decoded blocks kept in the LRU cache (default DEFAULT_CACHE_BYTES of raid/store.ts: RAM / 16, 64 MiB to 2 GiB). */
  cacheBytes?: number;
  logger?: Logger;
  /** How long a put() but not yet committed block keeps its segment from compaction (default 10 min). */
  stagedGraceMs?: number;
  /**
   * Called once, before anything is written, when the pool is encrypted: returns the passphrase
   * or key file to unwrap its data keys with. Absent for an encrypted pool: EACCES.
   */
  unlock?: (req: UnlockRequest) => Promise<Secret>;
  /**
   * Pause after each block a reencrypt walk rewrites, ms (default 0). For tests that must catch
   * the walk in the middle (the gateway reads $DW_REENCRYPT_PAUSE_MS).
   */
  reencryptPauseMs?: number;
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
  // The key record first (scrypt takes a moment; a bad secret fails before any label is written).
  const encryption = opts.encryption ? encodeKeyRecord(await newKeyRecord(id, opts.encryption.secret, opts.encryption.scrypt)).toString('base64') : undefined;
  const written: string[] = [];
  try {
    for (const [index, p] of paths.entries()) {
      await writeLabel(p, { format: 1, poolId: id, index });
      written.push(p);
    }
    const state: PoolState = { format: encryption ? 2 : 1, id, layout: layout.name, devices: paths, segmentBytes, created: Date.now(), compression, ...(opts.dedup ? { dedup: true } : {}), ...(encryption ? { encryption } : {}) };
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
 *
 * An encrypted pool is unlocked first, before any write (id and segment leases, segment files):
 * `opts.unlock` gives the secret; a wrong one is VfsError EACCES "wrong passphrase for pool ID:
 * the data key did not unwrap" (EINVAL for a secret of the other kind, EACCES without `unlock`),
 * and then nothing at all was written.
 */
export async function openPool(kv: KvStore, opts: OpenPoolOptions = {}): Promise<BlockStore> {
  const state = await readPoolState(kv);
  if (!state) throw new VfsError(Errno.ENOENT, 'no pool');
  const keys = await unlockPool(state, opts.unlock);
  const layout = parseLayout(state.layout);
  const log = opts.logger ?? silent;
  const poolId = Buffer.from(state.id, 'hex');
  let store: RaidBlockStore | undefined;
  const devices = state.devices.map((p, i) => new Device(i, p, poolId, state.segmentBytes, () => store!.segs.take()));
  await Promise.all(devices.map((d) => d.open(state.id)));
  const codec = makeCodec(opts.codec ?? 'worker', opts.workers);
  store = new RaidBlockStore(kv, layout, devices, codec, state.id, log, { ...opts, compression: compressionOf(state), dedup: state.dedup ?? false, ...(keys ? { keys } : {}) });
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

/** The keys of an encrypted pool (undefined for a plain one); throws as openPool says. Writes nothing. */
async function unlockPool(state: PoolState, unlock: OpenPoolOptions['unlock']): Promise<Keyring | undefined> {
  if (state.encryption === undefined) return undefined;
  const rec = decodeKeyRecord(state.encryption);
  if (!unlock) throw new VfsError(Errno.EACCES, `pool ${state.id} is encrypted: its ${rec.source === 'passphrase' ? 'passphrase' : 'key file'} is needed to open it`);
  return unlockKeyRecord(state.id, rec, await unlock({ poolId: state.id, source: rec.source }));
}

/** What `dw key status` shows. */
export interface PoolKeyStatus {
  poolId: string;
  encrypted: boolean;
  /** Present when encrypted. */
  source?: KeySource;
  /** E.g. 'aes-256-gcm, passphrase (scrypt N=2^17 r=8 p=1), 1 data key'. */
  description?: string;
  /** Ids of the data keys in the key record, ascending (encrypted pools). */
  keys?: number[];
  /** The data key new blocks are sealed with. */
  current?: number;
  /** A `dw key reencrypt` under way (pool row), with progress; absent when none. */
  reencrypt?: ReencryptStatus;
}

/** The pool's encryption as recorded in its row (no secret needed). ENOENT without a pool. */
export async function poolKeyStatus(kv: KvStore): Promise<PoolKeyStatus> {
  const state = await readPoolState(kv);
  if (!state) throw new VfsError(Errno.ENOENT, 'no pool');
  if (state.encryption === undefined) return { poolId: state.id, encrypted: false };
  const rec = decodeKeyRecord(state.encryption);
  const reencrypt = await reencryptStatus(kv);
  return { poolId: state.id, encrypted: true, source: rec.source, description: describeKeyRecord(rec), keys: rec.keys.map((k) => k.id).sort((a, b) => a - b), current: rec.current, ...(reencrypt ? { reencrypt } : {}) };
}

/**
 * `dw key rotate`: rewraps the pool's data keys under the master key of `newSecret` (after
 * unwrapping them with `oldSecret`), in one synced write of the pool row. Blocks are not
 * touched; a running store keeps its keys in memory and needs nothing. Works on the KV alone
 * (the pool need not be open). Throws EACCES for a wrong old secret, EINVAL for one of the other
 * kind or a pool that is not encrypted, EAGAIN if the row changed meanwhile (another rotate).
 */
export async function rotatePoolKey(kv: KvStore, oldSecret: Secret, newSecret: Secret, scrypt?: ScryptParams): Promise<PoolKeyStatus> {
  const state = await readPoolState(kv);
  if (!state) throw new VfsError(Errno.ENOENT, 'no pool');
  if (state.encryption === undefined) throw new VfsError(Errno.EINVAL, `pool ${state.id} is not encrypted: encryption is chosen when a pool is created`);
  const before = state.encryption;
  // The slow part (two key derivations) outside the transaction: metadata writes go on meanwhile.
  const rec: KeyRecord = await rewrapKeyRecord(state.id, decodeKeyRecord(before), oldSecret, newSecret, scrypt);
  const text = encodeKeyRecord(rec).toString('base64');
  await kv.txn(async (tx) => {
    const now = await readPoolState(tx);
    if (!now || now.encryption !== before) throw new VfsError(Errno.EAGAIN, 'the pool\'s keys changed while rotating (another rotate?): try again');
    now.encryption = text;
    tx.set(POOL_KEY, Buffer.from(JSON.stringify(now)));
  }, { sync: true });
  return { poolId: state.id, encrypted: true, source: rec.source, description: describeKeyRecord(rec), keys: rec.keys.map((k) => k.id).sort((a, b) => a - b), current: rec.current };
}
