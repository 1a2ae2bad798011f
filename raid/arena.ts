/**
 * Record memory the garbage collector does not count: slots carved from one shared
 * WebAssembly.Memory, handed out as Buffers, and given back explicitly for reuse.
 *
 * Why: every record buffer a writer fills is kept by the block cache once written (store.ts
 * adopt). A buffer from malloc is "external memory" to V8, and V8 starts a full mark-compact
 * each time external memory grows by 64 MiB since the last one: a fresh server taking a 1 GiB
 * upload ran 16 or more of them (20–30 ms of marking each on the event loop) only because its
 * block cache was filling. The bytes of a shared WebAssembly.Memory are not counted that way, and
 * a slot given back is reused by the next record instead of being faulted in anew.
 *
 * The contract: a slot is reused only after `give`, and its giver promises that nothing refers
 * to its bytes any more. A slot whose bytes were handed out where they may be kept (a block
 * cache view sent in a reply) is simply never given back. When an arena is full, `take` returns
 * undefined; its owner (spare.ts) retires it for a new one, and the garbage collector frees the
 * old memory once no view of it is left.
 */

import { adviseHugePages } from './hugepages.js';
import { prefault, type SharedMemory } from './prefault.js';

const WASM_PAGE = 64 << 10;
/** The memory grows by at least this much at a time. */
const GROW_BYTES = 8 << 20;
/** The memory grows in whole 2 MiB pages (huge pages, hugepages.ts: one partly grown is advised, and so faulted in, in 4 KiB pages). */
const HUGE_PAGE = 2 << 20;
/** Slots start on page boundaries. */
const ALIGN = 4096;

/** The one piece of the WebAssembly global used here (tsconfig has no DOM/wasm lib). */
const Wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number; shared: true }) => SharedMemory } }).WebAssembly;

/** The arena each memory.buffer object was handed out from. */
const owners = new WeakMap<SharedArrayBuffer, Arena>();

/** The arena `buf` (any view) lies in, if any. */
export function arenaOf(buf: Uint8Array): Arena | undefined {
  return owners.get(buf.buffer as SharedArrayBuffer);
}

export class Arena {
  private mem: SharedMemory | undefined;
  /** Bytes carved so far (the next slot starts here). */
  private top = 0;
  /**
   * Free slots by size: a stack (the slot given back last is taken first, its pages the warmest)
   * and the same offsets as a set, so that a slot given back twice is listed once. (Taking the
   * first of a Set instead walked past every slot taken since V8 last compacted the Set: 20,000
   * free slots taken one by one, 2.4 µs each against 27 ns from the stack, measured here.)
   */
  private readonly free = new Map<number, { stack: number[]; set: Set<number> }>();
  /** Every carved slot: start offset → size. */
  private readonly slots = new Map<number, number>();
  /** Set by retire: no more slots taken or given back. */
  private retired = false;

  /**
   * `maxBytes`: the most the arena ever holds (its address space is reserved up front, not its
   * memory). `ahead`: bytes to grow past the slots carved, for the prefault helper thread to
   * fault in before they are taken (prefault.ts; 0: grow only as slots need, no helper).
   */
  constructor(readonly maxBytes: number, readonly ahead = 0) {}

  /** A buffer of exactly `size` bytes (contents undefined) in a free or new slot; undefined when the arena is full. */
  take(size: number): Buffer | undefined {
    if (size <= 0 || this.retired) return undefined;
    const list = this.free.get(size);
    if (list?.stack.length) {
      const reuse = list.stack.pop()!;
      list.set.delete(reuse);
      return this.view(reuse, size);
    }
    const start = this.top;
    const end = start + Math.ceil(size / ALIGN) * ALIGN;
    if (end > this.maxBytes) return undefined;
    try {
      this.mem ??= new Wasm.Memory({ initial: 1, maximum: Math.ceil(this.maxBytes / WASM_PAGE), shared: true });
      const have = this.mem.buffer.byteLength;
      // Grown GROW_BYTES at a time (pages are not touched until used): one grow per 64 KiB slot
      // made each new slot cost a grow (V8 updates the memory's buffer object on every one).
      // With `ahead`, kept that far past the slots, and the helper faults the new part in.
      if (end + this.ahead > have) {
        const to = Math.min(this.maxBytes, Math.ceil(Math.max(end + this.ahead, have + GROW_BYTES) / HUGE_PAGE) * HUGE_PAGE);
        if (to > have) {
          this.mem.grow(Math.ceil((to - have) / WASM_PAGE));
          // Before any of it is touched: 2 MiB pages where the kernel allows (hugepages.ts). The
          // whole memory, not the grown part: madvise is cheap, and a 2 MiB page across the last
          // grow's end (were the memory's start not 2 MiB-aligned) is advised once both sides are there.
          adviseHugePages(new Uint8Array(this.mem.buffer));
        }
        if (end > this.mem.buffer.byteLength) return undefined;
        if (this.ahead > 0) prefault(this.mem);
      }
    } catch {
      return undefined; // no address space or memory for it: the caller allocates as before
    }
    this.top = end;
    this.slots.set(start, size);
    return this.view(start, size);
  }

  private view(start: number, size: number): Buffer {
    const sab = this.mem!.buffer; // a new object after each grow, over the same memory
    owners.set(sab, this);
    return Buffer.from(sab, start, size);
  }

  /** Whether `buf` (any view) lies in this arena's memory. */
  owns(buf: Uint8Array): boolean {
    return owners.get(buf.buffer as SharedArrayBuffer) === this;
  }

  /** The size of the slot `buf` starts (a view from its first byte, any length), or undefined. */
  slotSize(buf: Uint8Array): number | undefined {
    return this.owns(buf) ? this.slots.get(buf.byteOffset) : undefined;
  }

  /**
   * Gives back the slot `buf` starts (a view of any length from the slot's first byte). The
   * caller promises that nothing refers to the slot's bytes any more. Returns false, doing
   * nothing, for any other buffer.
   */
  give(buf: Uint8Array): boolean {
    const size = this.slotSize(buf);
    if (size === undefined) return false;
    if (this.retired) return true; // taken back, never reused: the memory goes when its last view does
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = { stack: [], set: new Set() }));
    if (!list.set.has(buf.byteOffset)) {
      list.set.add(buf.byteOffset);
      list.stack.push(buf.byteOffset);
    }
    return true;
  }

  /**
   * Takes no more slots and keeps none that come back: the memory is freed by the garbage
   * collector once no view of it is left (the block cache lets go of its slots as it evicts,
   * replies of the ones views handed out finish). For an arena that filled up.
   */
  retire(): void {
    this.retired = true;
    this.free.clear();
  }

  /** Bytes carved, and bytes in free slots (for tests and statistics). */
  get stats(): { carved: number; free: number } {
    let free = 0;
    for (const [size, list] of this.free) free += size * list.stack.length;
    return { carved: this.top, free };
  }
}

/** Staging buffer of copyBytes (plain memory, reused; JavaScript runs one copy at a time per thread). */
const STAGE_BYTES = 64 << 10;
let stage: Buffer | undefined;

/**
 * Copies all of `src` into `dst` at `at` (the caller checks it fits); returns src.length. Use it
 * for any copy that may touch arena memory. V8 copies to or from shared memory (a
 * SharedArrayBuffer, which an arena is) with relaxed atomic words, and byte by byte when source
 * and target are not equally aligned to 8 bytes: 3.8 GB/s where memcpy runs at 28 (measured
 * on this machine). Protocol payloads need not be: NFS WRITE data is only 4-byte aligned in its
 * RPC record (XDR), and every 1 MiB WRITE's copy into its record took this slow path. Such a copy
 * goes through a small plain buffer instead, in 64 KiB pieces that stay in the CPU cache: 18 GB/s.
 */
export function copyBytes(src: Uint8Array, dst: Uint8Array, at: number): number {
  const n = src.length;
  const shared = src.buffer instanceof SharedArrayBuffer || dst.buffer instanceof SharedArrayBuffer;
  if (n < 4096 || !shared || ((src.byteOffset - dst.byteOffset - at) & 7) === 0) {
    dst.set(src, at);
    return n;
  }
  const s = (stage ??= Buffer.allocUnsafeSlow(STAGE_BYTES));
  for (let i = 0; i < n; i += STAGE_BYTES) {
    const m = Math.min(STAGE_BYTES, n - i);
    s.set(src.subarray(i, i + m));
    dst.set(s.subarray(0, m), at + i);
  }
  return n;
}
