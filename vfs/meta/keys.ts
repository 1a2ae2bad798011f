/**
 * The whole metadata key schema, in one table. Every key starts with one prefix byte;
 * integers in keys are big-endian unsigned so that byte order is numeric order.
 * Values are encoded by the module named in the last column.
 *
 * | prefix | key layout                                | value                                          | owner            |
 * |--------|-------------------------------------------|------------------------------------------------|------------------|
 * | 'S'    | 'S' name(utf8)                            | superblock values: 'version' (metadata format, decimal: '2' = the 'F' index is kept; vfs/meta/foldindex.ts), 'foldEpoch' (decimal: the snapshot epoch counter when the 'F' index was last built; absent while it is not usable), 'volumeId' (vfs/meta); 'snapshotSchedules' JSON (gateway/schedule.ts) | vfs/meta, gateway |
 * | 'C'    | 'C' name(utf8)                            | i64 LE counter (KvTxn.incrBy): 'nextIno',       | vfs/meta, raid   |
 * |        |                                           | 'inodes', 'usedBytes' (vfs/meta); raid (raid/store.ts): |         |
 * |        |                                           | 'nextBlock', 'nextSeg' (leased id high-water marks), |            |
 * |        |                                           | 'raid/blocks', 'raid/logical' (live blocks, bytes), |             |
 * |        |                                           | 'live/<dev>/<seg>' (bytes of live shard records; |               |
 * |        |                                           |  dead = segment file size - 64 - live)         |                  |
 * | 'I'    | 'I' ino(u64)                              | inode record (vfs/meta/inode.ts)               | vfs/meta         |
 * | 'D'    | 'D' parent(u64) name(utf8, ≤255 bytes)¹   | dirent: ino(u64) type(u8) cookie(u64)          | vfs/meta         |
 * | 'd'    | 'd' parent(u64) cookie(u64)               | ino(u64) type(u8) name(utf8)¹: readdir order with stable cookies | vfs/meta |
 * | 'F'    | 'F' parent(u64) fold(name)² '/' name¹     | the real name (utf8)¹: caseless lookup index, one row per 'D' row, written in the same transaction (vfs/meta/fold.ts) | vfs/meta |
 * | 'X'    | 'X' ino(u64) name(utf8)¹                  | xattr value bytes¹                             | vfs/meta         |
 * | 'E'    | 'E' ino(u64) offset(u64, bytes)           | extent: blockId(u64) length(u32) flags(u32), and with flags bit 0 the record's chunks: count(u32) × (blockId(u64) offset(u32) length(u32)), with flags bit 1 the record's bytes themselves (inline; vfs/meta/inode.ts) | vfs/meta |
 * | 'O'    | 'O' ino(u64)                              | empty: unlinked inode still open (orphan)      | vfs/meta         |
 * | 'U'    | 'U' name(utf8)                            | user record JSON (gateway/users.ts)            | gateway          |
 * | 'T'    | 'T' iqn(utf8, canonical: lower case)      | iSCSI target JSON: LUNs, ACL, CHAP (gateway/admin-iscsi.ts) | gateway |
 * | 'B'    | 'B' blockId(u64)                          | block row: layout, refs, shard places, sums    | raid (raid/blocktable.ts) |
 * | 'G'    | 'G' dev(u16) seg(u32) blockId(u64)        | empty: index of the blocks with a shard in a segment; a freed block's rows stay until compaction of the segment drops them | raid |
 * | 'K'    | 'K' hash(32 bytes)                        | blockId(u64) offset(u32) length(u32): the dedup index, a chunk's content hash → where its bytes are | raid (raid/dedup.ts) |
 * | 'k'    | 'k' blockId(u64)                          | hashes (32 bytes each) of the 'K' rows pointing into a dedup container, dropped with its last reference | raid (raid/dedup.ts) |
 * | 'P'    | 'P' name(utf8)                            | 'pool': pool state JSON (devices, layout, rebuild) | raid (raid/poolstate.ts) |
 * | 'N'    | 'N' name(utf8)                            | snapshot record JSON (vfs/meta/snapshots.ts)   | vfs/meta         |
 * | 'H'    | 'H' key 0x00 epoch(u32)                   | history: the value `key` (an I, D, d, F, X or E key) had at snapshot `epoch` and at every older snapshot after the previous H entry of that key: 0x00 = absent, 0x01 + value | vfs/meta |
 * | 'h'    | 'h' epoch(u32) key                        | empty: dead list, the H entries labelled `epoch` | vfs/meta         |
 * | 'W'    | 'W' dir(u64)                              | retention rule JSON: period, grace (vfs/meta/retention.ts) | vfs/meta |
 * | 'R'    | 'R' ino(u64)                              | seal JSON: immutable from sealAtMs until untilMs | vfs/meta       |
 * | 'L'    | 'L' ino(u64) name(utf8)                   | legal hold JSON on a file or a retention directory | vfs/meta     |
 * | 'Q'    | 'Q' kind(u8: 'u' 'g' 'd') id(u64)         | quota rule JSON (vfs/meta/quota.ts); usage in counters 'C' q/<kind>/<id>/{bytes,inodes,bytesOver,inodesOver} | vfs/meta |
 * | 'V'    | 'V' name(utf8, [A-Za-z0-9._-], ≤64)       | block volume catalogue JSON: ino, recordSize, thick, created, origin? (vfs/volumes.ts)³ | vfs |
 *
 * ¹ On an encrypted pool (vfs/meta/names.ts) a name in a key is its keyed hash (32 hex digits),
 *   and names and values in rows are sealed (AES-256-GCM): the 'd' row's name, the 'X' row's
 *   name and value together, and a symlink target in the 'I' record.
 * ² fold(name) is the name upper-cased per UTF-16 code unit, as Windows compares names
 *   (vfs/meta/fold.ts). On an encrypted pool it is the keyed hash of '/' + fold(name) (the '/',
 *   which no name holds, keeps it apart from the hash of a real name), so neither the folded
 *   nor the real name is in clear. '/' never occurs in a name or a hash, so 'F' parent fold '/'
 *   is the prefix of exactly the names that fold alike. A caseless lookup reads that prefix
 *   with limit 2: the first row (the lowest real-name key part: UTF-8 byte order on a plain
 *   pool, keyed-hash order on an encrypted one) is the one Windows clients see; a second row
 *   means several names fold alike (created through FUSE/NFS as "a" and "A"), which the lookup
 *   reports. An exact 'D' match is tried first and always wins.
 *   Pools made before the index: format version 1 has no 'F' rows. The first open by a build
 *   that keeps them rebuilds the whole index from the 'd' rows (progress logged), then writes
 *   version '2' and 'foldEpoch'; snapshots with epoch ≤ foldEpoch predate the index, and a
 *   caseless lookup in them scans the directory instead. A rollback to such a snapshot drops
 *   'foldEpoch' (the live tree scans too) until the next open rebuilds the index.
 * ³ A block volume (iSCSI, issue 8) is a regular inode (its size the volume's, its extents and
 *   records the file machinery's) that no directory entry names: only its 'V' row leads to it,
 *   so no file protocol can list, look up or open it (VfsImpl also answers ESTALE for its inode
 *   number, should a handle name it). Not a hidden directory: that would need every listing,
 *   lookup, rename and /.snapshots view filtered, and tree snapshots would hold the volumes'
 *   history. Its snapshots are snapshot records ('N') scoped to its inode (vfs/meta/snapshots.ts
 *   "Scopes"); the 'V' row itself is not versioned.
 *
 * Snapshots (vfs/meta/snapshots.ts): the live rows are never versioned. The first write after
 * snapshot L to an I, D, d, F, X or E row that existed at L copies its old value to H key L (an
 * E row's block gains a reference). Reading row K at snapshot S takes the H entry of K with the
 * smallest epoch ≥ S, else the live row; rows of inodes numbered at or past the snapshot's
 * nextIno did not exist then. The ' 0x00 ' separator keeps one key's entries together: names
 * never hold NUL and the other versioned keys have fixed lengths.
 *
 * Inode 1 is the root directory. Inode numbers are never reused; a generation (in the inode
 * record) is kept too so that an NFS handle `volume | ino | generation` is never ambiguous.
 */

export const PREFIX = {
  super: 0x53, // 'S'
  counter: 0x43, // 'C'
  inode: 0x49, // 'I'
  dirent: 0x44, // 'D'
  dirCookie: 0x64, // 'd'
  folded: 0x46, // 'F'
  xattr: 0x58, // 'X'
  extent: 0x45, // 'E'
  orphan: 0x4f, // 'O'
  user: 0x55, // 'U'
  iscsiTarget: 0x54, // 'T'
  block: 0x42, // 'B'
  segIndex: 0x47, // 'G'
  dedup: 0x4b, // 'K'
  dedupOf: 0x6b, // 'k'
  pool: 0x50, // 'P'
  snapshot: 0x4e, // 'N'
  history: 0x48, // 'H'
  deadList: 0x68, // 'h'
  quota: 0x51, // 'Q'
  retention: 0x57, // 'W'
  seal: 0x52, // 'R'
  hold: 0x4c, // 'L'
  volume: 0x56, // 'V'
} as const;

/**
 * Prefixes of rows that are only ever scanned, never read by key (the segment index G: compaction
 * scans a segment's blocks, raid/maintenance.ts). The metadata read cache leaves them out
 * (cache.ts CachedKv): they are written with every block and would only crowd it.
 */
export const SCAN_ONLY_PREFIXES: readonly number[] = [PREFIX.segIndex];

/** Prefixes of the rows snapshots version (keyed by inode: I, E, X; by parent directory: D, d, F). */
export const VERSIONED_PREFIXES: readonly number[] = [PREFIX.inode, PREFIX.dirent, PREFIX.dirCookie, PREFIX.folded, PREFIX.xattr, PREFIX.extent];

export const ROOT_INO = 1;

/**
 * Inode numbers the VFS shows carry the tree they belong to: `epoch * INO_SPACE + ino`, where
 * epoch 0 is the live tree and epoch S the snapshot S (vfs/vfs.ts). So the live tree's inode
 * numbers stay below INO_SPACE - 2 (2^36: 68 billion) and snapshot epochs below 2^17.
 */
export const INO_SPACE = 2 ** 36;
/** The virtual directory /.snapshots, in the live tree's space. */
export const SNAPDIR_INO = INO_SPACE - 1;

function u64(n: number | bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(n), 0);
  return b;
}

function withPrefix(p: number, ...parts: Buffer[]): Buffer {
  return Buffer.concat([Buffer.of(p), ...parts]);
}

/** The key just past every key that starts with `prefix` (for scan ends). */
export function prefixEnd(prefix: Buffer): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      b[i]!++;
      return b.subarray(0, i + 1);
    }
  }
  return Buffer.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
}

export const keys = {
  superblock: (name: string) => withPrefix(PREFIX.super, Buffer.from(name, 'utf8')),
  counter: (name: string) => withPrefix(PREFIX.counter, Buffer.from(name, 'utf8')),
  inode: (ino: number) => withPrefix(PREFIX.inode, u64(ino)),
  dirent: (parent: number, name: string) => withPrefix(PREFIX.dirent, u64(parent), Buffer.from(name, 'utf8')),
  direntPrefix: (parent: number) => withPrefix(PREFIX.dirent, u64(parent)),
  dirCookie: (parent: number, cookie: number) => withPrefix(PREFIX.dirCookie, u64(parent), u64(cookie)),
  dirCookiePrefix: (parent: number) => withPrefix(PREFIX.dirCookie, u64(parent)),
  /** The caseless index row of real name part `name` under folded part `folded` (vfs/meta/fold.ts). */
  folded: (parent: number, folded: string, name: string) => withPrefix(PREFIX.folded, u64(parent), Buffer.from(`${folded}/${name}`, 'utf8')),
  /** Every index row of `parent` whose name folds to `folded`. */
  foldedPrefix: (parent: number, folded: string) => withPrefix(PREFIX.folded, u64(parent), Buffer.from(`${folded}/`, 'utf8')),
  xattr: (ino: number, name: string) => withPrefix(PREFIX.xattr, u64(ino), Buffer.from(name, 'utf8')),
  xattrPrefix: (ino: number) => withPrefix(PREFIX.xattr, u64(ino)),
  extent: (ino: number, offset: number) => withPrefix(PREFIX.extent, u64(ino), u64(offset)),
  extentPrefix: (ino: number) => withPrefix(PREFIX.extent, u64(ino)),
  orphan: (ino: number) => withPrefix(PREFIX.orphan, u64(ino)),
  orphanPrefix: () => Buffer.of(PREFIX.orphan),
  user: (name: string) => withPrefix(PREFIX.user, Buffer.from(name, 'utf8')),
  userPrefix: () => Buffer.of(PREFIX.user),
  iscsiTarget: (iqn: string) => withPrefix(PREFIX.iscsiTarget, Buffer.from(iqn, 'utf8')),
  iscsiTargetPrefix: () => Buffer.of(PREFIX.iscsiTarget),
  block: (id: number) => withPrefix(PREFIX.block, u64(id)),
  dedup: (hash: Uint8Array) => withPrefix(PREFIX.dedup, Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength)),
  dedupOf: (id: number) => withPrefix(PREFIX.dedupOf, u64(id)),
  blockPrefix: () => Buffer.of(PREFIX.block),
  segIndex: (dev: number, seg: number, id: number) => {
    const b = Buffer.allocUnsafe(1 + 2 + 4 + 8);
    b[0] = PREFIX.segIndex;
    b.writeUInt16BE(dev, 1);
    b.writeUInt32BE(seg, 3);
    b.writeBigUInt64BE(BigInt(id), 7);
    return b;
  },
  segIndexPrefix: (dev: number, seg?: number) => {
    const b = Buffer.allocUnsafe(seg === undefined ? 3 : 7);
    b[0] = PREFIX.segIndex;
    b.writeUInt16BE(dev, 1);
    if (seg !== undefined) b.writeUInt32BE(seg, 3);
    return b;
  },
  pool: (name: string) => withPrefix(PREFIX.pool, Buffer.from(name, 'utf8')),
  snapshot: (name: string) => withPrefix(PREFIX.snapshot, Buffer.from(name, 'utf8')),
  snapshotPrefix: () => Buffer.of(PREFIX.snapshot),
  history: (key: Buffer, epoch: number) => withPrefix(PREFIX.history, key, Buffer.of(0), u32(epoch)),
  /** Every H entry of `key`. */
  historyOf: (key: Buffer) => withPrefix(PREFIX.history, key, Buffer.of(0)),
  deadList: (epoch: number, key: Buffer) => withPrefix(PREFIX.deadList, u32(epoch), key),
  deadListPrefix: (epoch: number) => withPrefix(PREFIX.deadList, u32(epoch)),
  quota: (kind: number, id: number) => withPrefix(PREFIX.quota, Buffer.of(kind), u64(id)),
  retention: (dir: number) => withPrefix(PREFIX.retention, u64(dir)),
  retentionPrefix: () => Buffer.of(PREFIX.retention),
  seal: (ino: number) => withPrefix(PREFIX.seal, u64(ino)),
  hold: (ino: number, name: string) => withPrefix(PREFIX.hold, u64(ino), Buffer.from(name, 'utf8')),
  holdPrefix: (ino: number) => withPrefix(PREFIX.hold, u64(ino)),
  volume: (name: string) => withPrefix(PREFIX.volume, Buffer.from(name, 'utf8')),
  volumePrefix: () => Buffer.of(PREFIX.volume),
};

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n, 0);
  return b;
}

/** Reads the u64 at `offset` of a key as a number (inode numbers, offsets, block ids fit in 2^53). */
export function readU64(key: Buffer, offset: number): number {
  return Number(key.readBigUInt64BE(offset));
}
