import { resolve } from 'node:path';
import { Errno, VfsError } from '../vfs/errno.js';
import { decodeCounter } from '../vfs/meta/kv.js';
import { keys, prefixEnd } from '../vfs/meta/keys.js';
import { type Device, readLabel, writeLabel } from './device.js';
import { checksum, decodeShardHeader, SEGMENT_HEADER_BYTES, SHARD_HEADER_BYTES } from './format.js';
import { recoverable } from './layout.js';
import { updatePoolState } from './poolstate.js';
import type { RaidBlockStore } from './store.js';
import { COUNTER, layoutOf, recordBytes } from './store.js';
import { decodeRow } from './blocktable.js';
import { formatCompression } from './compress.js';
import type { BlockId, DeviceStatus, PoolStats, ProgressFn, ScrubReport } from './types.js';

/**
 * Long-running pool work: scrub, device replacement (rebuild), segment compaction (reclaim)
 * and statistics. Each runs through RaidBlockStore.maintenance, one at a time.
 */

async function counter(store: RaidBlockStore, key: Buffer): Promise<number> {
  return Number(decodeCounter(await store.kv.get(key)));
}

/** Reads every shard of every block; with repair, rewrites bad shards from redundancy. */
export async function scrubPool(store: RaidBlockStore, repair: boolean, progress: ProgressFn): Promise<ScrubReport> {
  const report: ScrubReport = { blocksChecked: 0, shardsChecked: 0, badShards: 0, repaired: 0, unrecoverable: 0 };
  const total = await counter(store, COUNTER.blocks);
  progress(0, total);
  for await (const [id, row] of store.rows()) {
    const n = row.k + row.m;
    if (repair) {
      const r = await store.repairBlock(id);
      if (!r) continue;
      report.badShards += r.bad;
      report.repaired += r.repaired;
      if (r.lost) report.unrecoverable++;
    } else {
      const r = await store.readShards(id, row, { all: true });
      store.codec.free(r.buf);
      const bad = r.good.filter((g) => !g).length;
      report.badShards += bad;
      if (!recoverable(layoutOf(row), r.good)) report.unrecoverable++;
    }
    report.blocksChecked++;
    report.shardsChecked += n;
    progress(report.blocksChecked, Math.max(total, report.blocksChecked));
  }
  if (report.badShards) store.log.warn(report, 'raid: scrub found bad shards');
  else store.log.info(report, 'raid: scrub clean');
  return report;
}

/** Points device `index` at `newPath` and rebuilds every shard it should hold from the others. */
export async function replacePoolDevice(store: RaidBlockStore, index: number, newPath: string, progress: ProgressFn): Promise<{ rebuiltShards: number }> {
  const dev = store.devices[index];
  if (!Number.isInteger(index) || !dev) throw new VfsError(Errno.EINVAL, `no device ${index} (pool has ${store.devices.length})`);
  const path = resolve(newPath);
  for (const d of store.devices) {
    if (d !== dev && resolve(d.path) === path) throw new VfsError(Errno.EINVAL, `${path} is already device ${d.index}`);
  }
  const label = await readLabel(path);
  if (label && label.poolId !== store.poolId) throw new VfsError(Errno.EBUSY, `${path} belongs to another pool (${label.poolId})`);
  if (label && label.index !== index) throw new VfsError(Errno.EBUSY, `${path} is device ${label.index} of this pool`);
  await writeLabel(path, { format: 1, poolId: store.poolId, index });
  await dev.reset(path, store.poolId);
  if (dev.state !== 'online') throw new VfsError(Errno.EIO, `cannot use ${path} as a device`);
  dev.state = 'rebuilding';
  await updatePoolState(store.kv, (s) => {
    s.devices[index] = path;
    s.rebuilding = index;
  });
  store.log.info({ device: index, path }, 'raid: rebuilding device');
  let rebuiltShards = 0, lost = 0, done = 0;
  const total = await counter(store, COUNTER.blocks);
  progress(0, total);
  try {
    for await (const [id, row] of store.rows()) {
      if (row.shards.some((s) => s.device === index)) {
        const r = await store.repairBlock(id, { exclude: index });
        if (r?.lost) lost++;
        rebuiltShards += r?.repaired ?? 0;
      }
      progress(++done, Math.max(total, done));
    }
  } finally {
    dev.state = 'online';
  }
  await updatePoolState(store.kv, (s) => { delete s.rebuilding; });
  if (lost) store.log.error({ device: index, lost }, 'raid: blocks could not be rebuilt (too few good shards)');
  store.log.info({ device: index, rebuiltShards }, 'raid: rebuild done');
  return { rebuiltShards };
}

/** Live-byte counters of every segment, "dev/seg" → bytes. */
async function liveBytes(store: RaidBlockStore): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const pre = COUNTER.livePrefix;
  for await (const [k, v] of store.kv.scan(pre, prefixEnd(pre))) {
    out.set(k.subarray(pre.length).toString('utf8'), Number(decodeCounter(v)));
  }
  return out;
}

/** Block ids with an index row in segment `seg` of device `dev` (committed state; rows of blocks freed since included). */
async function blocksIn(store: RaidBlockStore, dev: number, seg: number): Promise<BlockId[]> {
  const pre = keys.segIndexPrefix(dev, seg);
  const ids: BlockId[] = [];
  for await (const [k] of store.kv.scan(pre, prefixEnd(pre))) ids.push(Number(k.readBigUInt64BE(7)));
  return ids;
}

/**
 * Moves block `id`'s shard out of segment `seg` of `dev`: copies the verified record to the
 * active segment, or rebuilds it from the other shards if it is bad. Returns bytes written,
 * or -1 if the shard could not be moved.
 */
async function moveShard(store: RaidBlockStore, dev: Device, seg: number, id: BlockId): Promise<number> {
  const row = await store.getRow(id);
  const j = row ? row.shards.findIndex((s) => s.device === dev.index && s.segment === seg) : -1;
  if (!row || j < 0) {
    // A stale index row (its block moved or went): drop it.
    await store.kv.txn(async (tx) => {
      const v = await tx.get(keys.block(id));
      const cur = v ? decodeRow(v, id) : undefined;
      if (!cur?.shards.some((s) => s.device === dev.index && s.segment === seg)) tx.delete(keys.segIndex(dev.index, seg, id));
    });
    return 0;
  }
  const old = row.shards[j]!;
  const rec = recordBytes(row);
  const raw = Buffer.allocUnsafe(rec);
  let ok = false;
  try {
    await dev.read(seg, old.offset, rec, raw, 0);
    const h = decodeShardHeader(raw);
    ok = h.ok && h.value.blockId === id && h.value.shardIndex === j && h.value.shardLength === row.shardSize &&
      h.value.payloadSum === old.sum && checksum(raw.subarray(SHARD_HEADER_BYTES)) === old.sum;
  } catch {
    ok = false;
  }
  if (!ok) {
    dev.checksumErrors++;
    const r = await store.repairBlock(id);
    const now = await store.getRow(id);
    const still = now?.shards.some((s) => s.device === dev.index && s.segment === seg);
    return still ? -1 : r?.repaired ? rec : 0;
  }
  const at = await dev.append([raw]);
  try {
    const moved = await store.movePlaces(id, [{ j, old, now: { device: dev.index, segment: at.segment, offset: at.offset, sum: old.sum } }]);
    return moved ? rec : 0;
  } finally {
    at.unpin();
  }
}

/** Index rows checked against their blocks in one transaction. */
const STALE_BATCH = 256;

/**
 * Of `ids` (from segment `seg`'s index rows on device `dev`), the blocks that still have a shard
 * there; the index rows of the others — blocks freed since (store.ts account leaves their rows)
 * or moved — are deleted, each checked in the transaction that deletes it.
 */
async function dropStale(store: RaidBlockStore, dev: number, seg: number, ids: BlockId[]): Promise<BlockId[]> {
  const live: BlockId[] = [];
  for (let at = 0; at < ids.length; at += STALE_BATCH) {
    const part = ids.slice(at, at + STALE_BATCH);
    live.push(...await store.kv.txn(async (tx) => {
      const rows = await tx.getMany(part.map((id) => keys.block(id)));
      const here: BlockId[] = [];
      part.forEach((id, i) => {
        const v = rows[i];
        if (v && decodeRow(v, id).shards.some((s) => s.device === dev && s.segment === seg)) here.push(id);
        else tx.delete(keys.segIndex(dev, seg, id));
      });
      return here;
    }));
  }
  return live;
}

/** Copies the live shards out of one segment and deletes it. Returns bytes copied, or -1 if it had to stay. */
async function compactSegment(store: RaidBlockStore, dev: Device, seg: number): Promise<number> {
  let copied = 0;
  const failed = new Set<BlockId>();
  for (let round = 0; round < 100; round++) {
    for (const id of await dropStale(store, dev.index, seg, await blocksIn(store, dev.index, seg))) {
      if (failed.has(id)) return -1;
      const n = await moveShard(store, dev, seg, id);
      if (n < 0) failed.add(id);
      else copied += n;
    }
    if (failed.size) return -1;
    const key = `${dev.index}/${seg}`;
    // In one transaction (serialized with every commit): no shard left, so no commit can add one.
    const empty = await store.kv.txn(async (tx) => {
      const pre = keys.segIndexPrefix(dev.index, seg);
      for await (const _ of tx.scan(pre, prefixEnd(pre), { limit: 1 })) return false;
      store.deadSegments.add(key);
      return true;
    });
    if (!empty) continue;
    if (dev.pinned(seg)) {
      store.deadSegments.delete(key);
      return -1;
    }
    await dev.deleteSegment(seg);
    return copied;
  }
  return -1;
}

/**
 * Compacts every segment whose dead share (bytes no row refers to, including shards of blocks
 * never committed) is above `threshold`, except segments holding shards of blocks staged within
 * the grace period or being written. Returns bytes freed net of what was copied.
 */
export async function reclaimPool(store: RaidBlockStore, threshold: number, progress: ProgressFn): Promise<{ freedBytes: number; segmentsCompacted: number }> {
  if (!(threshold >= 0 && threshold <= 1)) throw new VfsError(Errno.EINVAL, `threshold must be 0..1, got ${threshold}`);
  const live = await liveBytes(store);
  const pinned = store.pinnedSegments();
  const todo: { dev: Device; seg: number; size: number }[] = [];
  for (const dev of store.devices) {
    if (!dev.usable) continue;
    for (const [seg, size] of dev.segments) {
      const key = `${dev.index}/${seg}`;
      if (pinned.has(key) || dev.pinned(seg)) continue;
      const body = size - SEGMENT_HEADER_BYTES;
      const l = live.get(key) ?? 0;
      const dead = Math.max(0, body - l);
      if (l === 0 || (body > 0 && dead / body > threshold)) todo.push({ dev, seg, size });
    }
  }
  let freedBytes = 0, segmentsCompacted = 0, done = 0;
  progress(0, todo.length);
  for (const { dev, seg, size } of todo) {
    if (dev.activeSegment === seg) {
      await dev.retire(seg);
      if (dev.pinned(seg) || store.pinnedSegments().has(`${dev.index}/${seg}`)) {
        progress(++done, todo.length);
        continue;
      }
    }
    const finalSize = dev.segments.get(seg) ?? size;
    const copied = await compactSegment(store, dev, seg);
    if (copied >= 0) {
      freedBytes += finalSize - copied;
      segmentsCompacted++;
    }
    progress(++done, todo.length);
  }
  store.log.info({ freedBytes, segmentsCompacted }, 'raid: reclaim done');
  return { freedBytes, segmentsCompacted };
}

/** PoolStats with capacity from statfs of the device folders (see PoolStats). */
export async function poolStats(store: RaidBlockStore): Promise<PoolStats> {
  const { k } = store.layout;
  const spaces = await Promise.all(store.devices.map((d) => d.space()));
  const devices: DeviceStatus[] = store.devices.map((d, i) => ({
    index: d.index, path: d.path, state: d.state, capacity: spaces[i]!.capacity, free: spaces[i]!.free,
    used: d.used, readErrors: d.readErrors, checksumErrors: d.checksumErrors, flushesBehind: d.flushesBehindStarted, uncachedAppends: d.uncachedAppends,
  }));
  const live = await liveBytes(store);
  let dead = 0, physicalUsed = 0;
  for (const d of store.devices) {
    physicalUsed += d.used;
    for (const [seg, size] of d.segments) dead += Math.max(0, size - SEGMENT_HEADER_BYTES - (live.get(`${d.index}/${seg}`) ?? 0));
  }
  // Each block puts one shard of ⌈len/k⌉ on each device: devices sharing a file system share its
  // free space, so usable = min over file systems of free * k / (devices on it).
  const groups = new Map<string, { free: number; n: number }>();
  store.devices.forEach((d, i) => {
    if (d.state === 'missing') return;
    const g = groups.get(spaces[i]!.fsId) ?? { free: spaces[i]!.free, n: 0 };
    g.n++;
    groups.set(spaces[i]!.fsId, g);
  });
  let free = Infinity;
  for (const g of groups.values()) free = Math.min(free, Math.floor((g.free * k) / g.n));
  if (!Number.isFinite(free)) free = 0;
  const logicalUsed = await counter(store, COUNTER.logical);
  const storedUsed = logicalUsed - await counter(store, COUNTER.saved);
  return {
    layout: store.layout.name, devices, capacity: free + logicalUsed, free, logicalUsed, storedUsed, compression: formatCompression(store.compression), dedup: store.dedup,
    encryption: store.keys ? 'aes-256-gcm' : 'off',
    physicalUsed, dead,
    blocks: await counter(store, COUNTER.blocks), ...(store.task ? { task: { ...store.task } } : {}),
  };
}
