/**
 * The caseless index ('F' rows, vfs/meta/keys.ts and fold.ts) as a whole: the metadata format
 * version that says it is kept, its one-time build on pools made before it, and the caseless
 * search of one directory.
 *
 * Format versions ('S' 'version'): 1 = no 'F' rows; 2 = every 'D' row has its 'F' row. The first
 * open of a version-1 store by this build rebuilds the index from the readdir rows ('d', which
 * hold the real names, sealed or not) before anything else runs, then records version 2 and
 * 'foldEpoch' = the snapshot epoch counter then. Rebuilding clears every 'F' row first, so a
 * crash half-way just rebuilds again at the next open. The rows are written to the store below
 * the snapshot layer (no history): every snapshot existing then has an epoch ≤ foldEpoch, and a
 * caseless lookup inside such a snapshot scans the directory's readdir rows instead, since the
 * index did not exist when it was taken. A rollback to such a snapshot (snapshots.ts) brings back
 * 'D' rows the index never saw: it drops 'foldEpoch' and sets version 1, so the live tree scans
 * too until the next open rebuilds the index.
 *
 * A store whose version is newer than FORMAT_VERSION is refused (EIO) rather than written with
 * rows an older layout does not keep. (Builds before version 2 did not check the version: a
 * version-2 store opened by one of them gets entries without 'F' rows. Downgrades are not
 * supported.)
 */
import { Errno, VfsError } from '../errno.js';
import type { KvStore } from './kv.js';
import { decodeCounter } from './kv.js';
import { keys, PREFIX, prefixEnd, readU64 } from './keys.js';
import { decodeCookieRow } from './inode.js';
import type { MetaTxn } from './metatxn.js';
import type { NameCipher } from './names.js';
import { decodeFoldedValue, foldedKey, foldedPrefixOf, foldedValue, foldEquals } from './fold.js';
import { EPOCH_COUNTER, SnapshotStore, SnapshotView } from './snapshots.js';

/** The metadata format this build writes (see the file comment). */
export const FORMAT_VERSION = 2;
const BATCH = 1000;
const FOLD_EPOCH = 'foldEpoch';

/** The superblock rows of a store whose index is complete now (a new store, or after a rebuild). */
export async function foldIndexRows(kv: Pick<KvStore, 'get'>): Promise<[Buffer, Buffer][]> {
  const epoch = decodeCounter(await kv.get(keys.counter(EPOCH_COUNTER)));
  return [[keys.superblock('version'), Buffer.from(String(FORMAT_VERSION))], [keys.superblock(FOLD_EPOCH), Buffer.from(epoch.toString())]];
}

/** The superblock's format version (1 when absent: stores made before it was read). */
async function formatVersion(kv: KvStore): Promise<number> {
  const v = await kv.get(keys.superblock('version'));
  return v ? Number(v.toString('utf8')) : 1;
}

/**
 * At open, after the root exists: rebuilds the caseless index if the store lacks it (version 1,
 * or 'foldEpoch' dropped by a rollback). `log` gets one line at the start, one per 100,000
 * entries and one at the end. Throws EIO for a store of a newer format.
 */
export async function prepareFoldIndex(kv: KvStore, names: NameCipher, log: (msg: string) => void = () => {}): Promise<void> {
  const version = await formatVersion(kv);
  if (!(version >= 1 && version <= FORMAT_VERSION)) throw new VfsError(Errno.EIO, `metadata format ${version} is not one this build knows (it writes ${FORMAT_VERSION}): a newer build made it`);
  if (version === FORMAT_VERSION && (await kv.get(keys.superblock(FOLD_EPOCH)))) return;
  await rebuildFoldIndex(kv instanceof SnapshotStore ? kv.inner : kv, names, log);
}

/** Clears and rebuilds every 'F' row from the 'd' rows, then records the index as complete. */
async function rebuildFoldIndex(kv: KvStore, names: NameCipher, log: (msg: string) => void): Promise<void> {
  log('caseless name index: building it for this pool (once; pools made before it have none)');
  const f = Buffer.of(PREFIX.folded);
  for (;;) {
    const batch: Buffer[] = [];
    for await (const [k] of kv.scan(f, prefixEnd(f), { limit: BATCH })) batch.push(k);
    if (!batch.length) break;
    await kv.txn(async (tx) => { for (const k of batch) tx.delete(k); });
  }
  const d = Buffer.of(PREFIX.dirCookie);
  let from = d;
  let done = 0;
  for (;;) {
    const batch: [Buffer, Buffer][] = [];
    for await (const e of kv.scan(from, prefixEnd(d), { limit: BATCH })) batch.push(e);
    if (!batch.length) break;
    await kv.txn(async (tx) => {
      for (const [k, v] of batch) {
        const name = names.open(decodeCookieRow(v).name).toString('utf8');
        tx.set(foldedKey(names, readU64(k, 1), name), foldedValue(names, name));
      }
    });
    from = Buffer.concat([batch.at(-1)![0], Buffer.of(0)]);
    const before = done;
    done += batch.length;
    if (Math.floor(done / 100_000) > Math.floor(before / 100_000)) log(`caseless name index: ${done} entries indexed`);
  }
  await kv.txn(async (tx) => { for (const [k, v] of await foldIndexRows(tx)) tx.set(k, v); }, { sync: true });
  log(`caseless name index: done, ${done} entries`);
}

/**
 * Whether caseless lookups through `kv` may use the index: the live store once it is complete;
 * a snapshot view only when the snapshot was taken after the index was (epoch > foldEpoch).
 */
export async function foldIndexUsable(kv: KvStore): Promise<boolean> {
  const v = await kv.get(keys.superblock(FOLD_EPOCH)); // not versioned: a view reads the live row
  if (!v) return false;
  return kv instanceof SnapshotView ? kv.snap.epoch > Number(v.toString('utf8')) : true;
}

/** What a caseless search of a directory found. */
export interface FoldedMatch {
  /** The real name of the entry Windows clients see: the first of those that fold alike (keys.ts ²). */
  name: string;
  /** More than one entry folds like the name asked for. */
  ambiguous: boolean;
}

/**
 * The entry of directory `parent` whose name folds like `name`, if any: with the index, one
 * prefix scan (limit 2); without (`indexed` false: a snapshot older than the index), a scan of
 * the directory's readdir rows that picks the same entry the index would. Errors: EIO (corrupt
 * sealed name).
 */
export async function findFolded(m: MetaTxn, parent: number, name: string, indexed: boolean): Promise<FoldedMatch | undefined> {
  if (indexed) {
    const p = foldedPrefixOf(m.names, parent, name);
    const rows: Buffer[] = [];
    for await (const [, v] of m.tx.scan(p, prefixEnd(p), { limit: 2 })) rows.push(v);
    return rows.length ? { name: decodeFoldedValue(m.names, rows[0]!), ambiguous: rows.length > 1 } : undefined;
  }
  let best: { name: string; key: Buffer } | undefined;
  let count = 0;
  for (let cookie = 0; ;) {
    const batch = await m.entries(parent, cookie, BATCH);
    if (!batch.length) break;
    for (const e of batch) {
      if (!foldEquals(e.name, name)) continue;
      count++;
      const key = Buffer.from(m.names.key(e.name), 'utf8');
      if (!best || Buffer.compare(key, best.key) < 0) best = { name: e.name, key };
    }
    cookie = batch.at(-1)!.cookie;
  }
  return best ? { name: best.name, ambiguous: count > 1 } : undefined;
}
