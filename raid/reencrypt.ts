/**
 * `dw key reencrypt` (issue 5): moves every block of an encrypted pool to a new data key, in the
 * background, resumable after a crash. raid/README.md "Encryption" tells the whole story; in short:
 *
 * 1. **Start** (startReencrypt): the secret is checked and a new random data key (next id) is
 *    wrapped under the same master key; one synced write of the pool row adds it, makes it
 *    current and records `reencrypt: { to, from, cursor: 0, done: 0, started }` (poolstate.ts
 *    ReencryptState). From then on new blocks are sealed with it.
 * 2. **Walk** (reencryptPool): block rows in id order from `cursor`. A block whose stored bytes
 *    name another key is read (shards verified, rebuilt from parity if needed), opened with its
 *    key and sealed again with the new one: the same compressed bytes, so the same `stored`
 *    length and shard size, the same block id and logical bytes (dedup 'K' rows and extents stay
 *    valid). Parity and checksums are computed again and new shard records appended; then ONE
 *    transaction, only if the row's shards did not change since the read, points the row at them
 *    (moving the 'G' rows and live counters: RaidBlockStore.shiftPlace) and advances `cursor`.
 *    The old records are dead space for reclaim. Blocks already under the new key only advance
 *    the cursor (saved every CURSOR_EVERY rows).
 * 3. **Crash**: every block has its old row or its new one, and `cursor` never passes a block
 *    not moved; the next open (`dw serve` starts the walk in the background, or the next
 *    `dw key reencrypt`) resumes from it.
 * 4. **Finish**: at the end, with the device files synced, one synced row write drops the retired
 *    keys from the key record and the `reencrypt` state. The pool's first key (lowest id) stays:
 *    the dedup and names keys derive from it (keys.ts Keyring), though no block uses it anymore.
 *
 * Where the walk ends: `high` = the block-id high-water mark (counter nextBlock) read when the walk
 * (re)starts, after this store seals with the new key. Ids above it are leased later, so their
 * blocks are sealed with the new key. (Recording it in the row at the start, before the switch
 * in memory, would not do: a lease refilled between the row write and the switch could hand out
 * a higher id to a block sealed with the old key.)
 *
 * Blocks staged under the old key (put before the switch, committed later): the walk scans each
 * page of rows inside a KV transaction and raises `store.reenc.frontier` past it there, and
 * commit (serialized with it) refuses such a block below the frontier with EAGAIN, so vfs/file.ts
 * puts the record again, under the new key. Above the frontier the walk will still see it.
 */
import { Errno, VfsError } from '../vfs/errno.js';
import { decodeCounter, type KvStore, type KvTxn } from '../vfs/meta/kv.js';
import { keys } from '../vfs/meta/keys.js';
import { ABSENT, type BlockRow, decodeRow, encodeRow, type ShardPlace } from './blocktable.js';
import { openSealed, sealInto } from './crypt.js';
import { encodeShardHeader } from './format.js';
import { addDataKey, decodeKeyRecord, dropDataKeys, encodeKeyRecord, type Secret, unlockKeyRecord } from './keys.js';
import { recoverable } from './layout.js';
import { POOL_KEY, type PoolState, readPoolState } from './poolstate.js';
import type { RaidBlockStore } from './store.js';
import { COUNTER, layoutOf, placed, recordBytes } from './store.js';
import { BlockFlags, type BlockId, type ProgressFn, type ReencryptResult, type ReencryptStatus } from './types.js';

/** Rows scanned per page (one short KV transaction each). */
const PAGE = 128;
/** Rows visited without a rewrite before the cursor is saved anyway. */
const CURSOR_EVERY = 64;
/** Attempts at one block whose row keeps changing under the walk (repair, compaction). */
const ATTEMPTS = 5;

async function blocksCounter(kv: KvStore): Promise<number> {
  return Number(decodeCounter(await kv.get(COUNTER.blocks)));
}

function statusOf(s: NonNullable<PoolState['reencrypt']>, blocks: number): ReencryptStatus {
  return { to: s.to, from: [...s.from], cursor: s.cursor, done: s.done, total: Math.max(blocks, s.done), started: new Date(s.started).toISOString() };
}

/** The reencrypt recorded in the pool row, with progress (no secret needed); undefined when none. */
export async function reencryptStatus(kv: KvStore): Promise<ReencryptStatus | undefined> {
  const s = (await readPoolState(kv))?.reencrypt;
  return s && statusOf(s, await blocksCounter(kv));
}

/**
 * Starts a reencrypt (see the header, step 1), or finds one recorded: then only checks `secret`
 * and returns `started: false` (the caller resumes the walk). Errors (VfsError): EINVAL the pool
 * is not encrypted, or its record is full (8 keys); EACCES wrong secret, EINVAL the other kind;
 * EAGAIN the keys changed meanwhile (a concurrent rotate or start).
 */
export async function startReencrypt(store: RaidBlockStore, secret: Secret): Promise<{ started: boolean; status: ReencryptStatus }> {
  const ring = store.keys;
  const state = await readPoolState(store.kv);
  if (!ring || !state?.encryption) {
    throw new VfsError(Errno.EINVAL, `pool ${store.poolId} is not encrypted: there is no data key to move blocks from (encryption is chosen when a pool is created)`);
  }
  const rec = decodeKeyRecord(state.encryption);
  if (state.reencrypt) {
    (await unlockKeyRecord(store.poolId, rec, secret)).wipe(); // the check only
    return { started: false, status: statusOf(state.reencrypt, await blocksCounter(store.kv)) };
  }
  const made = await addDataKey(store.poolId, rec, secret);
  try {
    const text = encodeKeyRecord(made.rec).toString('base64');
    const s = await store.kv.txn(async (tx) => {
      const now = await readPoolState(tx);
      if (!now || now.encryption !== state.encryption || now.reencrypt) throw new VfsError(Errno.EAGAIN, 'the pool\'s keys changed meanwhile (a rotate, or another reencrypt): try again');
      now.encryption = text;
      now.reencrypt = { to: made.id, from: rec.keys.map((k) => k.id), cursor: 0, done: 0, started: Date.now() };
      tx.set(POOL_KEY, Buffer.from(JSON.stringify(now)));
      return now.reencrypt;
    }, { sync: true });
    // Only now that the row holds the key (synced) do new blocks use it.
    ring.addCurrent(made.id, made.key);
    // Blocks staged under the old key may still commit until the walk scans past their ids.
    store.reenc = { frontier: 0 };
    store.log.info({ to: made.id, from: s.from }, 'raid: reencrypt started: new blocks use the new data key; the walk moves the others');
    return { started: true, status: statusOf(s, await blocksCounter(store.kv)) };
  } finally {
    made.key.fill(0);
  }
}

/** In tx: saves the walk's position; EIO if the recorded walk is no longer the one to `to`. */
async function saveCursor(tx: KvTxn, to: number, cursor: number, done: number): Promise<void> {
  const s = await readPoolState(tx);
  if (!s?.reencrypt || s.reencrypt.to !== to) throw new VfsError(Errno.EIO, `the reencrypt to data key ${to} is no longer recorded in the pool row`);
  s.reencrypt.cursor = cursor;
  s.reencrypt.done = done;
  tx.set(POOL_KEY, Buffer.from(JSON.stringify(s)));
}

/** Same shards (places and checksums) and sizes: what the walk read is still what the row says. */
function sameShards(a: BlockRow, b: BlockRow): boolean {
  if (a.flags !== b.flags || a.alg !== b.alg || a.length !== b.length || a.stored !== b.stored || a.shardSize !== b.shardSize || a.shards.length !== b.shards.length) return false;
  return a.shards.every((s, j) => {
    const t = b.shards[j]!;
    return s.device === t.device && s.segment === t.segment && s.offset === t.offset && s.sum === t.sum;
  });
}

type Outcome = 'moved' | 'current' | 'gone';

/**
 * Moves block `id` to data key `to` (header, step 2). On 'moved' the same transaction saved the
 * cursor as `after` with `done`. Throws VfsError EIO when the block cannot be read (fewer good
 * shards than the layout needs), its key is unknown or its tag fails, or too few devices take
 * the new shards: the walk stops there, its cursor saved, and resumes once that is fixed.
 */
async function moveBlock(store: RaidBlockStore, id: BlockId, to: number, after: number, done: number): Promise<Outcome> {
  const ring = store.keys!;
  const newKey = ring.key(to);
  if (!newKey) throw new VfsError(Errno.EIO, `the open pool lacks data key ${to}`);
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const row = await store.getRow(id);
    if (!row) return 'gone';
    if (!(row.flags & BlockFlags.Encrypted)) return 'current'; // nothing to move (a pool is encrypted from its creation)
    const r = await store.readShards(id, row, { all: false });
    let buf = r.buf;
    const unpins: (() => void)[] = [];
    try {
      if (!r.ok) {
        if (attempt + 1 < ATTEMPTS && !sameShards(row, (await store.getRow(id)) ?? row)) continue;
        throw new VfsError(Errno.EIO, `block ${id}: fewer than ${row.k} good shards, so it cannot be moved to the new data key; repair the pool (dw scrub, dw device replace), then the reencrypt resumes`);
      }
      const stored = buf.subarray(0, row.stored);
      if (stored.length >= 4 && stored.readUInt32LE(0) === to) return 'current';
      const alg = row.flags & BlockFlags.Compressed ? row.alg : 0;
      // Open with the key it names (verifies the tag), seal the same bytes with the new key: the
      // stored length, shard size and compression stay; only key id, nonce, ciphertext, tag change.
      const body = openSealed(ring, id, alg, row.length, stored);
      try {
        sealInto({ key: newKey, keyId: to, blockId: id }, alg, row.length, body, buf);
      } finally {
        body.fill(0);
      }
      buf.fill(0, row.stored, row.k * row.shardSize);
      const enc = await store.codec.encode(store.params(row), buf); // parity + checksums, no packing
      buf = enc.buf;
      const fresh: ShardPlace[] = row.shards.map((s, j) => ({ device: s.device, segment: ABSENT, offset: 0, sum: enc.sums[j]! }));
      await Promise.all(fresh.map(async (s, j) => {
        const dev = store.devices[s.device];
        if (!dev?.usable) return;
        const hdr = encodeShardHeader({ flags: row.flags, shardIndex: j, k: row.k, m: row.m, blockId: id, blockLength: row.stored, shardLength: row.shardSize, payloadSum: s.sum, alg: row.alg });
        try {
          const at = await dev.append([hdr, buf.subarray(j * row.shardSize, (j + 1) * row.shardSize)]);
          unpins.push(at.unpin);
          s.segment = at.segment;
          s.offset = at.offset;
        } catch (err) {
          store.log.warn({ block: id, shard: j, err: String(err) }, 'raid: reencrypt: shard write failed');
        }
      }));
      if (!recoverable(layoutOf(row), fresh.map(placed))) throw new VfsError(Errno.EIO, `block ${id}: too few devices took its new shards; the reencrypt stops here and resumes when they are back`);
      const rec = recordBytes(row);
      const outcome = await store.kv.txn(async (tx): Promise<Outcome | 'changed'> => {
        const v = await tx.get(keys.block(id));
        if (!v) return 'gone'; // released meanwhile: the new records are dead space
        const cur = decodeRow(v, id);
        if (!sameShards(cur, row)) return 'changed';
        for (let j = 0; j < fresh.length; j++) await store.shiftPlace(tx, id, rec, cur.shards[j]!, fresh[j]!);
        tx.set(keys.block(id), encodeRow({ ...cur, shards: fresh }));
        await saveCursor(tx, to, after, done);
        return 'moved';
      });
      if (outcome !== 'changed') return outcome;
    } finally {
      for (const u of unpins) u();
      store.codec.free(buf);
    }
  }
  throw new VfsError(Errno.EIO, `block ${id}: its row kept changing during ${ATTEMPTS} attempts to move it to the new data key`);
}

const sleep = (ms: number) => new Promise<void>((res) => { setTimeout(res, ms); });

/**
 * Runs (or resumes) the recorded walk (header, steps 2–4); call through RaidBlockStore.reencrypt
 * (the pool's maintenance task 'reencrypt'). `progress(done, total)` counts block rows. Resolves
 * with finished false when the store is closing (the cursor is saved: the next open resumes), or
 * at once with finished true when no walk is recorded. Throws VfsError as moveBlock (EIO) and EIO
 * when the pool row's walk does not fit the open pool's keys.
 */
export async function reencryptPool(store: RaidBlockStore, progress: ProgressFn): Promise<ReencryptResult> {
  const ring = store.keys;
  const kv = store.kv;
  const state = (await readPoolState(kv))?.reencrypt;
  if (!ring || !state) return { finished: true, to: ring?.current ?? 0, keys: ring?.ids() ?? [], rewritten: 0, visited: 0 };
  const { to } = state;
  if (ring.current !== to || !ring.key(to)) throw new VfsError(Errno.EIO, `the pool row's reencrypt moves blocks to data key ${to}, but the open pool seals with ${ring.current}`);
  // Every id above this was leased after this store began sealing with `to` (header).
  const high = Number(decodeCounter(await kv.get(COUNTER.nextBlock)));
  let cursor = state.cursor, done = state.done, rewritten = 0, visited = 0, unsaved = 0;
  const total = async () => Math.max(await blocksCounter(kv), done);
  progress(done, await total());
  const save = () => kv.txn((tx) => saveCursor(tx, to, cursor, done));
  store.reenc = { frontier: cursor };
  try {
    while (cursor <= high) {
      if (store.closing) break;
      const page = await kv.txn(async (tx) => {
        const out: BlockId[] = [];
        for await (const [k] of tx.scan(keys.block(cursor), keys.block(high + 1), { limit: PAGE })) out.push(Number(k.readBigUInt64BE(1)));
        // Serialized with every commit: from here, a block staged under an old key below the
        // frontier cannot commit, and those committed before are in this page.
        store.reenc!.frontier = out.length === PAGE ? out[out.length - 1]! + 1 : high + 1;
        return out;
      });
      for (const id of page) {
        if (store.closing) break;
        const outcome = await moveBlock(store, id, to, id + 1, done + 1);
        cursor = id + 1;
        done++;
        visited++;
        if (outcome === 'moved') {
          rewritten++;
          unsaved = 0;
          if (store.reencryptPauseMs > 0) await sleep(store.reencryptPauseMs);
        } else if (++unsaved >= CURSOR_EVERY) {
          await save();
          unsaved = 0;
        }
        progress(done, await total());
      }
      if (store.closing) break;
      if (page.length < PAGE) cursor = high + 1;
    }
    if (store.closing || cursor <= high) {
      if (unsaved) await save();
      store.log.info({ to, cursor, done }, 'raid: reencrypt paused (the pool is closing); it resumes at the next open');
      return { finished: false, to, keys: ring.ids(), rewritten, visited };
    }
    // The new shards on disk before the old key leaves the record.
    await store.sync();
    const kept = await kv.txn(async (tx) => {
      const s = await readPoolState(tx);
      if (!s?.reencrypt || s.reencrypt.to !== to || !s.encryption) throw new VfsError(Errno.EIO, `the reencrypt to data key ${to} is no longer recorded in the pool row`);
      const rec = decodeKeyRecord(s.encryption);
      const first = Math.min(...rec.keys.map((k) => k.id));
      const retire = s.reencrypt.from.filter((id) => id !== first);
      const next = dropDataKeys(rec, retire);
      s.encryption = encodeKeyRecord(next).toString('base64');
      delete s.reencrypt;
      tx.set(POOL_KEY, Buffer.from(JSON.stringify(s)));
      tx.onCommit(() => { for (const id of retire) ring.drop(id); });
      return next.keys.map((k) => k.id).sort((a, b) => a - b);
    }, { sync: true });
    progress(done, done);
    store.log.info({ to, rewritten, keys: kept }, 'raid: reencrypt finished: every block is under the new data key');
    return { finished: true, to, keys: kept, rewritten, visited };
  } finally {
    // No walk: a block staged under an old key can no longer commit at all (commit's rule).
    store.reenc = undefined;
  }
}
