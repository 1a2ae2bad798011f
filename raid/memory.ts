import { Errno, VfsError } from '../vfs/errno.js';
import type { KvTxn } from '../vfs/meta/kv.js';
import { keys } from '../vfs/meta/keys.js';
import { copyRange } from './lru.js';
import { type Compression, formatCompression, OFF } from './compress.js';
import type { BlockId, BlockStore, Layout, Lent, PoolStats, PutOptions, ScrubReport, Slice, StagedBlock, StagedChunks } from './types.js';
import { chunkEnds } from './chunker.js';

const EMPTY = Buffer.alloc(0);

/**
 * Block store kept in memory, no redundancy: the engine for VFS unit tests where the point is
 * the namespace, not the disks. Reference counts live in the same KV as everything else
 * (key 'B' + id → u32 refs), so the VFS's transactional use is exercised exactly as with raid.
 */
export class MemoryBlockStore implements BlockStore {
  readonly layout: Layout = { name: 'memory', k: 1, m: 0, devices: 0 };
  private blocks = new Map<BlockId, Buffer>();
  private next = 1;
  private capacity: number;
  /** Recorded for stats only: this store keeps blocks as given (stored = logical). */
  private compression: Compression = OFF;

  constructor(opts: { capacity?: number } = {}) {
    this.capacity = opts.capacity ?? 1 << 30;
  }

  async put(data: Uint8Array): Promise<StagedBlock> {
    const used = [...this.blocks.values()].reduce((a, b) => a + b.length, 0);
    if (used + data.length > this.capacity) throw new VfsError(Errno.ENOSPC, 'memory block store is full');
    const id = this.next++;
    this.blocks.set(id, Buffer.from(data));
    return { id, length: data.length, physical: data.length };
  }
  async commit(staged: StagedBlock, txn: KvTxn, refs = 1): Promise<void> {
    const v = Buffer.alloc(4);
    v.writeUInt32LE(refs);
    txn.set(keys.block(staged.id), v);
  }
  /** No deduplication here: the record is one new block and each chunk a slice of it. */
  async putChunks(data: Uint8Array, _opts?: PutOptions, given?: number[]): Promise<StagedChunks> {
    const ends = given ?? chunkEnds(data);
    const container = await this.put(data);
    let start = 0;
    const chunks = ends.map((end) => {
      const c = { hash: EMPTY, length: end - start, at: start };
      start = end;
      return c;
    });
    return { length: data.length, chunks, container };
  }
  async commitChunks(staged: StagedChunks, txn: KvTxn): Promise<Slice[]> {
    const c = staged.container!;
    await this.commit(c, txn, staged.chunks.length);
    return staged.chunks.map((x) => ({ blockId: c.id, offset: x.at!, length: x.length }));
  }
  async ref(id: BlockId, txn: KvTxn): Promise<void> {
    const row = await txn.get(keys.block(id));
    if (!row) throw new VfsError(Errno.EIO, `block ${id} has no row`);
    const v = Buffer.alloc(4);
    v.writeUInt32LE(row.readUInt32LE(0) + 1);
    txn.set(keys.block(id), v);
  }
  async release(id: BlockId, txn: KvTxn): Promise<void> {
    const row = await txn.get(keys.block(id));
    if (!row) throw new VfsError(Errno.EIO, `block ${id} has no row`);
    const refs = row.readUInt32LE(0) - 1;
    if (refs > 0) {
      const v = Buffer.alloc(4);
      v.writeUInt32LE(refs);
      txn.set(keys.block(id), v);
    } else {
      txn.delete(keys.block(id));
      txn.onCommit(() => this.blocks.delete(id));
    }
  }
  async sizes(id: BlockId): Promise<{ length: number; stored: number } | undefined> {
    const b = this.blocks.get(id);
    return b && { length: b.length, stored: b.length }; // never compressed
  }
  async get(id: BlockId): Promise<Buffer> {
    const b = this.blocks.get(id);
    if (!b) throw new VfsError(Errno.EIO, `block ${id} not found`);
    return Buffer.from(b); // a copy: callers may modify what they get
  }
  async readInto(id: BlockId, from: number, length: number, into: Buffer, at: number): Promise<number> {
    const b = this.blocks.get(id);
    if (!b) throw new VfsError(Errno.EIO, `block ${id} not found`);
    return copyRange(b, from, length, into, at);
  }
  async view(id: BlockId): Promise<Buffer> {
    const b = this.blocks.get(id);
    if (!b) throw new VfsError(Errno.EIO, `block ${id} not found`);
    return b; // never modified: put() keeps a copy of its own
  }
  async lend(id: BlockId): Promise<Lent> {
    return { data: await this.view(id), giveBack: () => undefined }; // its blocks are never reused
  }
  /** Nothing to let go of: this store has no cache (its blocks are its storage). */
  dropBehind(_id: BlockId): void {}
  /** Nothing to keep: every block of this store is in memory already. */
  adopt(_id: BlockId, _data: Buffer): void {}
  /** Recorded only: this store does not deduplicate (files still cut their records into chunks). */
  dedup = false;
  async setDedup(on: boolean): Promise<void> {
    this.dedup = on;
  }
  async setCompression(c: Compression): Promise<void> {
    this.compression = c;
  }
  async sync(): Promise<void> {}
  async scrub(): Promise<ScrubReport> {
    return { blocksChecked: this.blocks.size, shardsChecked: this.blocks.size, badShards: 0, repaired: 0, unrecoverable: 0 };
  }
  async replaceDevice(): Promise<{ rebuiltShards: number }> {
    throw new VfsError(Errno.EOPNOTSUPP, 'the memory block store has no devices');
  }
  async reclaim(): Promise<{ freedBytes: number; segmentsCompacted: number }> {
    return { freedBytes: 0, segmentsCompacted: 0 };
  }
  async stats(): Promise<PoolStats> {
    const used = [...this.blocks.values()].reduce((a, b) => a + b.length, 0);
    return {
      layout: 'memory', devices: [], capacity: this.capacity, free: this.capacity - used,
      logicalUsed: used, storedUsed: used, compression: formatCompression(this.compression), dedup: this.dedup, physicalUsed: used, dead: 0, blocks: this.blocks.size,
    };
  }
  async close(): Promise<void> {}
}
