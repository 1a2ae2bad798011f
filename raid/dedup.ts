/**
 * Deduplication in the block store (issue 5; raid/README.md "Deduplication").
 *
 * A record of a dedup file is cut into content-defined chunks (raid/chunker.ts, in the codec). Each chunk
 * is keyed by its content hash in the dedup index:
 *
 *   'K' hash(32)   → blockId u64 | offset u32 | length u32 (LE): where the chunk's bytes are
 *   'k' blockId(u64) → the hashes (32 bytes each) of the 'K' rows written for a container, in
 *                      one row (written once, with the container; dropped with it)
 *
 * The chunks the index does not know are stored together, in record order, as one block (the
 * container; BlockFlags.Deduped), so a record costs one block and one row however many chunks
 * it has, and reads of a file stored once are as fast as any. Every chunk of an extent holds one
 * reference to the block its bytes are in; a container lives until its last chunk reference
 * goes, then its index rows go with it. Order per block: hash → compress → encrypt → shard.
 */
import { Errno, VfsError } from '../vfs/errno.js';
import type { KvTxn } from '../vfs/meta/kv.js';
import { keys } from '../vfs/meta/keys.js';
import { decodeRow, encodeRow } from './blocktable.js';
import { chunkSizes, HASH_BYTES } from './chunker.js';
import type { RaidBlockStore } from './store.js';
import { BlockFlags, type PutOptions, type Slice, type StagedChunks } from './types.js';

/** The 'K' row value of a slice. */
export function encodeIndexValue(s: Slice): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeBigUInt64LE(BigInt(s.blockId), 0);
  b.writeUInt32LE(s.offset, 8);
  b.writeUInt32LE(s.length, 12);
  return b;
}

/** A 'K' row value; undefined for an absent or malformed one (treated as not indexed). */
export function decodeIndexValue(v: Buffer | undefined): Slice | undefined {
  if (!v || v.length !== 16) return undefined;
  return { blockId: Number(v.readBigUInt64LE(0)), offset: v.readUInt32LE(8), length: v.readUInt32LE(12) };
}

const sameSlice = (a: Slice, b: Slice) => a.blockId === b.blockId && a.offset === b.offset && a.length === b.length;

/**
 * BlockStore.putChunks for the raid store: cut and hash in the codec (a worker for big
 * records), index lookups in one batch read, the new chunks in one container.
 */
export async function putChunks(store: RaidBlockStore, data: Uint8Array, given: number[] | undefined, opts: PutOptions): Promise<StagedChunks> {
  if (given && (given.length === 0 || given[given.length - 1] !== data.length || given.some((e, i) => e <= (i ? given[i - 1]! : 0)))) {
    throw new VfsError(Errno.EINVAL, 'chunk ends must ascend and end at the data length');
  }
  if (data.length === 0) throw new VfsError(Errno.EINVAL, 'an empty record has no chunks');
  const { ends, hashes: all } = await store.codec.chunk(data, chunkSizes(), store.dedupKey, given);
  const hashes = ends.map((_, i) => all.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES));
  let start = 0;
  const found = (await store.kv.getMany(hashes.map((h) => keys.dedup(h)))).map(decodeIndexValue);
  // An index row naming a block that is gone (a crash between commits cannot leave one, but an
  // older build could) is no hit: check the few blocks the hits name.
  const named = [...new Set(found.filter((s) => s !== undefined).map((s) => s.blockId))];
  const rows = await store.kv.getMany(named.map((id) => keys.block(id)));
  const alive = new Set(named.filter((_, i) => rows[i] !== undefined));
  const parts: Uint8Array[] = [];
  const firstAt = new Map<string, number>();
  let size = 0;
  const chunks = ends.map((end, i) => {
    const length = end - start;
    const chunk = data.subarray(start, end);
    start = end;
    const hash = hashes[i]!;
    const hit = found[i];
    if (hit && hit.length === length && alive.has(hit.blockId)) return { hash, length, hit };
    // New: into the container, once per distinct content within the record.
    const hex = hash.toString('hex');
    let at = firstAt.get(hex);
    if (at === undefined) {
      at = size;
      firstAt.set(hex, at);
      parts.push(chunk);
      size += length;
    }
    return { hash, length, at };
  });
  if (size === 0) return { length: data.length, chunks };
  const body = size === data.length ? data : Buffer.concat(parts);
  const container = await store.putBlock(body, opts, BlockFlags.Deduped);
  return { length: data.length, chunks, container };
}

/** BlockStore.commitChunks for the raid store. */
export async function commitChunks(store: RaidBlockStore, staged: StagedChunks, txn: KvTxn): Promise<Slice[]> {
  const hits = staged.chunks.filter((c) => c.hit);
  if (hits.length) {
    // Each hit must still be indexed where put found it (else its block went: put again).
    const now = await txn.getMany(hits.map((c) => keys.dedup(c.hash)));
    const per = new Map<number, number>();
    hits.forEach((c, i) => {
      const s = decodeIndexValue(now[i]);
      if (!s || !sameSlice(s, c.hit!)) throw new VfsError(Errno.EAGAIN, `chunk of block ${c.hit!.blockId} is no longer indexed: put the record again`);
      per.set(s.blockId, (per.get(s.blockId) ?? 0) + 1);
    });
    for (const [id, n] of per) {
      const v = await txn.get(keys.block(id));
      if (!v) throw new VfsError(Errno.EAGAIN, `block ${id} is gone: put the record again`);
      const row = decodeRow(v, id);
      if (row.refs + n > 0xffffffff) throw new VfsError(Errno.EMLINK, `block ${id} has too many references`);
      row.refs += n;
      txn.set(keys.block(id), encodeRow(row));
    }
  }
  const c = staged.container;
  if (c) {
    const news = staged.chunks.filter((x) => x.at !== undefined);
    await store.commit(c, txn, news.length);
    // Index the new contents, unless a writer of the same content committed first (then that
    // copy stays the indexed one and this one is only referenced by this record).
    const distinct = [...new Map(news.map((x) => [x.hash.toString('hex'), x])).values()];
    const already = await txn.getMany(distinct.map((x) => keys.dedup(x.hash)));
    const indexed: Buffer[] = [];
    distinct.forEach((x, i) => {
      if (already[i]) return;
      txn.set(keys.dedup(x.hash), encodeIndexValue({ blockId: c.id, offset: x.at!, length: x.length }));
      indexed.push(x.hash);
    });
    if (indexed.length) txn.set(keys.dedupOf(c.id), Buffer.concat(indexed));
  }
  return staged.chunks.map((x) => x.hit ?? { blockId: c!.id, offset: x.at!, length: x.length });
}

/** At a container's last reference: its index rows go (those still naming it) with its 'k' list. */
export async function dropIndexRows(txn: KvTxn, id: number): Promise<void> {
  const list = await txn.get(keys.dedupOf(id));
  if (!list) return;
  const hashes: Buffer[] = [];
  for (let at = 0; at + HASH_BYTES <= list.length; at += HASH_BYTES) hashes.push(list.subarray(at, at + HASH_BYTES));
  const vals = await txn.getMany(hashes.map((h) => keys.dedup(h)));
  hashes.forEach((h, i) => {
    if (decodeIndexValue(vals[i])?.blockId === id) txn.delete(keys.dedup(h));
  });
  txn.delete(keys.dedupOf(id));
}
