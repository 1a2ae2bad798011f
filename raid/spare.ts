/**
 * Spare whole buffers of one size at a time, shared by the process: the VFS's record buffers
 * (vfs/file.ts takes one per record it fills) and the blocks the block cache lets go of
 * (raid/store.ts gives back an adopted record it evicts, if nothing outside ever saw it).
 *
 * Why: a fresh 1 MiB buffer is 256 page faults on first touch, and V8 counts it as external
 * memory, which brings its next full garbage collection sooner (about one per 64 MiB of new
 * buffers). A streaming writer that takes a spare pays neither.
 *
 * New record buffers come from the process's record arena (arena.ts: memory V8 does not count)
 * while it has room, then from malloc as before. Malloc'd buffers are kept only when they own
 * their whole backing memory (offset 0, full length); when the size asked for changes (another
 * record size), the malloc'd spares of the old size are dropped. Arena slots go back to the arena.
 */
import { totalmem } from 'node:os';
import { Arena, arenaOf } from './arena.js';
import { PREFAULT_BYTES } from './prefault.js';

/**
 * Bytes of decoded blocks the block cache keeps by default: a sixteenth of RAM, at most 2 GiB,
 * at least 64 MiB (ZFS's ARC takes up to half; the kernel's page cache, which serves the files of
 * servers on a local file system, takes what is free). DW_CACHE_MIB overrides it; the pool's
 * `cacheBytes` option wins over both.
 */
export const DEFAULT_CACHE_BYTES = (Number(process.env.DW_CACHE_MIB) || Math.max(64, Math.min(2048, Math.floor(totalmem() / 16 / 1048576)))) * 1048576;

/** Most bytes the spares hold. */
export const SPARE_BYTES = 32 << 20;

const spares: Buffer[] = [];

/** Bytes of each record arena: as many as the default block cache and the spares hold (DW_RECORD_ARENA=0: none, every record from malloc). */
let arenaBytes = process.env.DW_RECORD_ARENA === '0' ? 0 : DEFAULT_CACHE_BYTES + SPARE_BYTES;
let arena = new Arena(arenaBytes, PREFAULT_BYTES);

/**
 * A slot of the current record arena. A full arena (its slots in the block cache, in writers'
 * records, handed out for good by views, or free but of another size) is retired for a new one;
 * the old one's memory goes once nothing refers to it.
 */
export function arenaTake(size: number): Buffer | undefined {
  const b = arena.take(size);
  if (b || size > arenaBytes) return b;
  arena.retire();
  arena = new Arena(arenaBytes, PREFAULT_BYTES);
  return arena.take(size);
}

/** Starts a new record arena of `bytes` (tests). */
export function resetRecordArena(bytes: number): void {
  arena.retire();
  arenaBytes = bytes;
  arena = new Arena(bytes, PREFAULT_BYTES);
}

/**
 * A buffer of exactly `size` bytes, contents undefined: a malloc'd spare when one fits, else a
 * slot of the record arena (a free one or a new one), else a new malloc'd buffer.
 */
export function takeSpare(size: number): Buffer {
  const b = spares.pop();
  if (b && b.length === size) return b;
  if (b) spares.length = 0; // another size: the rest are of that size too
  return arenaTake(size) ?? Buffer.allocUnsafeSlow(size);
}

/**
 * Gives `buf` back for reuse. The caller promises that nothing refers to its bytes any more.
 * An arena slot (any view from its first byte) always goes back; a malloc'd buffer is ignored
 * when it is a view of a larger buffer or the spares are full.
 */
export function giveSpare(buf: Buffer): void {
  const a = arenaOf(buf);
  if (a) { // a view from the first byte of an arena slot: the slot is free again
    a.give(buf);
    return;
  }
  if (!recyclable(buf)) return; // a view of a larger buffer
  if (spares.length && spares[0]!.length !== buf.length) spares.length = 0; // the record size changed
  if ((spares.length + 1) * buf.length > SPARE_BYTES) return;
  spares.push(buf);
}

/** How many spares are held (for tests). */
export function spareCount(): number {
  return spares.length;
}

/** Whether giveSpare would take `buf` back: a view from the first byte of an arena slot, or a whole malloc'd buffer. */
export function recyclable(buf: Uint8Array): boolean {
  const a = arenaOf(buf);
  if (a) return a.slotSize(buf) !== undefined;
  return buf.byteOffset === 0 && buf.length === buf.buffer.byteLength && buf.length > 0;
}

/** The memory `buf` keeps alive, in bytes: its arena slot, or its whole backing buffer (what a cache charges for it). */
export function backingBytes(buf: Uint8Array): number {
  const a = arenaOf(buf);
  return Math.max(buf.length, a ? a.slotSize(buf) ?? buf.length : buf.buffer.byteLength);
}

/**
 * Values keyed by the memory a record buffer occupies (a slot of an arena, or a malloc'd backing
 * buffer), so that any view from the same first byte finds the entry.
 */
export class RecordMap<V> {
  private readonly whole = new WeakMap<ArrayBufferLike, V>();
  private readonly slots = new WeakMap<Arena, Map<number, V>>();

  get(buf: Uint8Array): V | undefined {
    const a = arenaOf(buf);
    return a ? this.slots.get(a)?.get(buf.byteOffset) : this.whole.get(buf.buffer);
  }

  set(buf: Uint8Array, v: V): void {
    const a = arenaOf(buf);
    if (!a) {
      this.whole.set(buf.buffer, v);
      return;
    }
    let m = this.slots.get(a);
    if (!m) this.slots.set(a, (m = new Map()));
    m.set(buf.byteOffset, v);
  }

  /** Removes the entry for `buf`'s memory; true if there was one. */
  delete(buf: Uint8Array): boolean {
    const a = arenaOf(buf);
    return a ? this.slots.get(a)?.delete(buf.byteOffset) ?? false : this.whole.delete(buf.buffer);
  }
}

/** The current record arena's bytes carved and free (for tests and statistics). */
export function arenaStats(): { carved: number; free: number; max: number } {
  return { ...arena.stats, max: arena.maxBytes };
}
