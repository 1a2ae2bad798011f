import { Errno, VfsError } from '../errno.js';
import type { KvTxn } from './kv.js';
import { decodeCounter } from './kv.js';
import { keys, prefixEnd, readU64, SNAPDIR_INO } from './keys.js';
import { charge } from './quota.js';
import type { Chunk, Dirent, Extent, Inode } from './inode.js';
import { type NameCipher, PLAIN_NAMES } from './names.js';
import { foldedKey, foldedValue } from './fold.js';
import {
  decodeCookieRow, decodeDirent, decodeExtent, decodeInode, encodeCookieRow, encodeDirent, encodeExtent, encodeInode, extentBlocks, isReg, S_IFMT,
} from './inode.js';

/** What MetaStore needs of the block store: reference counting inside the same transaction. */
export interface BlockRefs {
  ref(id: number, txn: KvTxn): Promise<void>;
  release(id: number, txn: KvTxn): Promise<void>;
}

let lastNs = 0n;

/**
 * Current time in ns since the epoch, strictly increasing within the process: the wall clock has
 * millisecond steps, so two changes in one millisecond get times 1 ns apart. Clients that take
 * ctime/mtime as a change counter (the NFSv4 change attribute, NFSv3 wcc_data, make) then see
 * every change.
 */
export function nowNs(): bigint {
  const wall = BigInt(Date.now()) * 1_000_000n;
  lastNs = wall > lastNs ? wall : lastNs + 1n;
  return lastNs;
}

/** Counter names under 'C' (vfs/meta/keys.ts). */
export const COUNTERS = { nextIno: 'nextIno', inodes: 'inodes', usedBytes: 'usedBytes', inlineBytes: 'inlineBytes' } as const;

/**
 * One more holder of an extent's bytes (a new row, a copy, a snapshot's history copy): a
 * reference to each of its blocks, or for an inline row its bytes added to the 'inlineBytes'
 * counter (bytes kept in extent rows, live and in snapshots: what `dw pool status` adds to the
 * blocks' logical bytes).
 */
export async function holdExtent(refs: BlockRefs, e: Extent, tx: KvTxn): Promise<void> {
  if (e.inline) tx.addCounter(keys.counter(COUNTERS.inlineBytes), BigInt(e.length));
  for (const id of extentBlocks(e)) await refs.ref(id, tx);
}

/** One holder fewer (holdExtent undone): each block's reference released, or the inline bytes subtracted. */
export async function releaseExtent(refs: BlockRefs, e: Extent, tx: KvTxn): Promise<void> {
  if (e.inline) tx.addCounter(keys.counter(COUNTERS.inlineBytes), BigInt(-e.length));
  for (const id of extentBlocks(e)) await refs.release(id, tx);
}

/**
 * Typed access to the metadata rows inside one KV transaction: inodes, entries, extents,
 * xattrs, orphans and counters. Every write is buffered in the transaction and lands atomically.
 */
export class MetaTxn {
  constructor(readonly tx: KvTxn, private readonly refs: BlockRefs, readonly names: NameCipher = PLAIN_NAMES) {}

  /**
   * Before an extent row changes and its block may be released: lets a snapshot-keeping
   * transaction (vfs/meta/snapshots.ts) copy the row, with a reference to its block, first.
   * Other rows are copied when the transaction ends; an extent must be copied before its
   * block's last reference could go.
   */
  private preserve(key: Buffer): Promise<void> {
    const t = this.tx as KvTxn & { preserve?: (key: Buffer) => Promise<void> };
    return t.preserve ? t.preserve(key) : Promise.resolve();
  }

  async inode(ino: number): Promise<Inode | undefined> {
    const v = await this.tx.get(keys.inode(ino));
    return v ? this.decodeInode(v) : undefined;
  }

  /** An inode row as the VFS sees it: the symlink target opened on an encrypted pool (vfs/meta/names.ts). */
  decodeInode(v: Buffer): Inode {
    const n = decodeInode(v);
    if (n.target && this.names.encrypted) n.target = this.names.open(Buffer.from(n.target, 'base64')).toString('utf8');
    return n;
  }

  /** The inode, or throws `errno` (ENOENT by default; ESTALE for handles). */
  async mustInode(ino: number, errno: Errno = Errno.ENOENT): Promise<Inode> {
    const n = await this.inode(ino);
    if (!n) throw new VfsError(errno, `inode ${ino} does not exist`);
    return n;
  }

  putInode(n: Inode): void {
    // An encrypted pool keeps the symlink target sealed, as base64 in the record's target field.
    const stored = n.target && this.names.encrypted ? { ...n, target: this.names.seal(Buffer.from(n.target, 'utf8')).toString('base64') } : n;
    this.tx.set(keys.inode(n.ino), encodeInode(stored));
  }

  async allocIno(): Promise<number> {
    const n = await this.tx.incrBy(keys.counter(COUNTERS.nextIno), 1n);
    if (n >= BigInt(SNAPDIR_INO - 1)) throw new VfsError(Errno.ENOSPC, 'no inode numbers left');
    await this.tx.incrBy(keys.counter(COUNTERS.inodes), 1n);
    return Number(n);
  }

  async dirent(parent: number, name: string): Promise<Dirent | undefined> {
    const v = await this.tx.get(keys.dirent(parent, this.names.key(name)));
    return v ? decodeDirent(v) : undefined;
  }

  /**
   * Adds name → child in dir (dir.nextCookie advances; the caller writes dir back): the 'D' row,
   * its readdir row 'd' and its caseless index row 'F' (vfs/meta/fold.ts). Every entry of the
   * namespace is made here, so the three rows never disagree.
   */
  addEntry(dir: Inode, name: string, child: Inode): void {
    const cookie = dir.nextCookie++;
    const type = (child.mode & S_IFMT) >> 12;
    this.tx.set(keys.dirent(dir.ino, this.names.key(name)), encodeDirent({ ino: child.ino, type, cookie }));
    this.tx.set(keys.dirCookie(dir.ino, cookie), encodeCookieRow(child.ino, type, this.names.seal(Buffer.from(name, 'utf8'))));
    this.tx.set(foldedKey(this.names, dir.ino, name), foldedValue(this.names, name));
  }

  /** Removes the entry's 'D', 'd' and 'F' rows (every entry goes here). */
  removeEntry(dirIno: number, name: string, d: Dirent): void {
    this.tx.delete(keys.dirent(dirIno, this.names.key(name)));
    this.tx.delete(keys.dirCookie(dirIno, d.cookie));
    this.tx.delete(foldedKey(this.names, dirIno, name));
  }

  async isEmptyDir(ino: number): Promise<boolean> {
    const p = keys.direntPrefix(ino);
    for await (const _ of this.tx.scan(p, prefixEnd(p), { limit: 1 })) return false;
    return true;
  }

  /** Entries after `cookie`, in cookie order. */
  async entries(dir: number, cookie: number, limit: number): Promise<{ name: string; ino: number; type: number; cookie: number }[]> {
    const out = [];
    const p = keys.dirCookiePrefix(dir);
    for await (const [k, v] of this.tx.scan(keys.dirCookie(dir, cookie + 1), prefixEnd(p), { limit })) {
      const r = decodeCookieRow(v);
      out.push({ ino: r.ino, type: r.type, name: this.names.open(r.name).toString('utf8'), cookie: readU64(k, 9) });
    }
    return out;
  }

  /** Extents with from <= offset < to, ascending, as [offset, extent]; the first `limit` of them when given. */
  async extents(ino: number, from = 0, to = Number.MAX_SAFE_INTEGER, limit?: number): Promise<[number, Extent][]> {
    const out: [number, Extent][] = [];
    const end = to >= Number.MAX_SAFE_INTEGER ? prefixEnd(keys.extentPrefix(ino)) : keys.extent(ino, to);
    for await (const [k, v] of this.tx.scan(keys.extent(ino, from), end, limit === undefined ? undefined : { limit })) out.push([readU64(k, 9), decodeExtent(v)]);
    return out;
  }

  /**
   * Sets the extent at offset: the caller already holds one reference to each of e's blocks (a
   * commit, or refAll) that passes to the row; the extent it replaces releases its blocks (so
   * a block in both keeps its count). Adjusts n.allocated, the used-bytes counter and quotas.
   */
  async setExtent(n: Inode, offset: number, e: Extent): Promise<void> {
    // No extent lies at or past the size (truncate drops them): a file growing at its end has no old one.
    const old = offset < n.size ? await this.tx.get(keys.extent(n.ino, offset)) : undefined;
    let delta = e.length;
    if (old) {
      const o = decodeExtent(old);
      delta -= o.length;
      await this.preserve(keys.extent(n.ino, offset));
      await this.releaseAll(o); // after the caller referenced e's blocks: a block in both never drops to 0
    }
    this.tx.set(keys.extent(n.ino, offset), encodeExtent(e));
    n.allocated += delta;
    this.tx.addCounter(keys.counter(COUNTERS.usedBytes), BigInt(delta));
    await charge(this.tx, n, delta, 0);
  }

  /**
   * Sets the extent at offset to share `e`'s block (one more reference), as cloneExtents does
   * for a whole file; the block it replaces is released, and n.allocated, the used-bytes
   * counter and the quotas change as in setExtent (EDQUOT past a limit).
   */
  async shareExtent(n: Inode, offset: number, e: Extent): Promise<void> {
    await this.refAll(e);
    await this.setExtent(n, offset, e);
  }

  /** One more reference to every block of the extent (each chunk's); an inline row's bytes counted once more (holdExtent). */
  async refAll(e: Extent): Promise<void> {
    await holdExtent(this.refs, e, this.tx);
  }

  /** Drops the extent's reference to each of its blocks, or an inline row's bytes (releaseExtent). */
  async releaseAll(e: Extent): Promise<void> {
    await releaseExtent(this.refs, e, this.tx);
  }

  /** Removes one extent row (after preserve()): its block reference is released, and the bytes leave n.allocated, the used-bytes counter and the quotas. */
  private async dropExtent(n: Inode, off: number, e: Extent): Promise<void> {
    await this.releaseAll(e);
    this.tx.delete(keys.extent(n.ino, off));
    n.allocated -= e.length;
    this.tx.addCounter(keys.counter(COUNTERS.usedBytes), BigInt(-e.length));
    await charge(this.tx, n, -e.length, 0);
  }

  /**
   * Punches a hole: drops the extents lying wholly inside [from, to), as truncate drops those
   * past the size (snapshots keep theirs). Extents that only overlap the range are left alone.
   * Returns the bytes dropped.
   */
  async dropExtents(n: Inode, from: number, to: number): Promise<number> {
    let dropped = 0;
    for (const [off, e] of await this.extents(n.ino, from, to)) {
      if (off + e.length > to) continue;
      await this.preserve(keys.extent(n.ino, off));
      await this.dropExtent(n, off, e);
      dropped += e.length;
    }
    return dropped;
  }

  /** Drops extents at or past `size` and shortens the one that straddles it. */
  async truncateExtents(n: Inode, size: number): Promise<void> {
    const start = Math.max(0, size - n.recordSize);
    for (const [off, e] of await this.extents(n.ino, start)) {
      if (off + e.length > size) await this.preserve(keys.extent(n.ino, off));
      if (off >= size) {
        await this.dropExtent(n, off, e);
      } else if (off + e.length > size) {
        const cut = off + e.length - size;
        this.tx.set(keys.extent(n.ino, off), encodeExtent(await this.trimChunks(Object.assign({}, e, { length: size - off }))));
        n.allocated -= cut;
        this.tx.addCounter(keys.counter(COUNTERS.usedBytes), BigInt(-cut));
        await charge(this.tx, n, -cut, 0);
      }
    }
  }

  /** A shortened chunked extent keeps the chunks its length reaches (the others are released); an inline one its first bytes. */
  private async trimChunks(e: Extent): Promise<Extent> {
    if (e.inline) {
      this.tx.addCounter(keys.counter(COUNTERS.inlineBytes), BigInt(e.length - e.inline.length)); // the bytes cut off
      return Object.assign({}, e, { inline: e.inline.subarray(0, e.length) });
    }
    if (!e.chunks) return e;
    const keep: Chunk[] = [];
    let at = 0;
    for (const c of e.chunks) {
      if (at < e.length || keep.length === 0) keep.push(c);
      else await this.refs.release(c.blockId, this.tx);
      at += c.length;
    }
    return Object.assign({}, e, { chunks: keep });
  }

  /** Copies every extent of `from` (or the `extents` given, read elsewhere: a snapshot) to `to` by reference (blocks are shared, counted once more). */
  async cloneExtents(from: Inode, to: Inode, extents?: [number, Extent][]): Promise<void> {
    for (const [off, e] of extents ?? await this.extents(from.ino)) {
      await this.refAll(e);
      this.tx.set(keys.extent(to.ino, off), encodeExtent(e));
      to.allocated += e.length;
      this.tx.addCounter(keys.counter(COUNTERS.usedBytes), BigInt(e.length));
      await charge(this.tx, to, e.length, 0);
    }
  }

  /** Deletes an inode with no links and no open handles: its extents (blocks released), xattrs, orphan mark. */
  async freeInode(n: Inode): Promise<void> {
    if (isReg(n)) await this.truncateExtents(n, 0);
    const xp = keys.xattrPrefix(n.ino);
    for await (const [k] of this.tx.scan(xp, prefixEnd(xp))) this.tx.delete(k);
    this.tx.delete(keys.orphan(n.ino));
    this.tx.delete(keys.inode(n.ino));
    await this.tx.incrBy(keys.counter(COUNTERS.inodes), -1n);
    await charge(this.tx, n, 0, -1);
  }

  /** The xattr row key of `name` on `ino` (its keyed hash on an encrypted pool). */
  xattrKey(ino: number, name: string): Buffer {
    return keys.xattr(ino, this.names.key(name));
  }

  /** An xattr's value, or undefined. Encrypted pools keep name and value sealed together in the row. */
  async getXattr(ino: number, name: string): Promise<Buffer | undefined> {
    const v = await this.tx.get(this.xattrKey(ino, name));
    return v && this.names.encrypted ? decodeXattrRow(this.names.open(v)).value : v;
  }

  setXattr(ino: number, name: string, value: Uint8Array): void {
    this.tx.set(this.xattrKey(ino, name), this.names.encrypted ? this.names.seal(encodeXattrRow(name, value)) : Buffer.from(value));
  }

  /** The xattr names of `ino`, in key order (hash order on an encrypted pool). */
  async xattrNames(ino: number): Promise<string[]> {
    const p = keys.xattrPrefix(ino);
    const out: string[] = [];
    for await (const [k, v] of this.tx.scan(p, prefixEnd(p))) {
      out.push(this.names.encrypted ? decodeXattrRow(this.names.open(v)).name : k.toString('utf8', p.length));
    }
    return out;
  }

  async counter(name: string): Promise<number> {
    return Number(decodeCounter(await this.tx.get(keys.counter(name))));
  }
}

/** Sealed xattr row contents on an encrypted pool: name length u16 LE | name utf8 | value. */
function encodeXattrRow(name: string, value: Uint8Array): Buffer {
  const n = Buffer.from(name, 'utf8');
  const b = Buffer.allocUnsafe(2 + n.length + value.length);
  b.writeUInt16LE(n.length, 0);
  n.copy(b, 2);
  b.set(value, 2 + n.length);
  return b;
}

function decodeXattrRow(b: Buffer): { name: string; value: Buffer } {
  const len = b.length >= 2 ? b.readUInt16LE(0) : -1;
  if (len < 0 || 2 + len > b.length) throw new VfsError(Errno.EIO, 'corrupt xattr row');
  return { name: b.toString('utf8', 2, 2 + len), value: b.subarray(2 + len) };
}
