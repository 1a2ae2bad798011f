/**
 * Transaction machinery shared by the KvStore engines (memory.ts, rocksdb.ts), so every engine
 * has exactly the same read-your-writes, scan-merge, counter and hook semantics of `./kv.ts`.
 *
 * An engine supplies a `KvReader` over its committed state; `openTxn` wraps it in a `KvTxn`
 * whose writes collect in a `PendingWrites` overlay. When the transaction function resolves the
 * engine applies the overlay as one atomic batch and then calls `runHooks`.
 */
import { Errno, VfsError } from '../errno.js';
import type { KvTxn, ScanOptions } from './kv.js';
import { decodeCounter, encodeCounter } from './kv.js';

/** Read access to an engine's committed state. */
export interface KvReader {
  get(key: Buffer): Promise<Buffer | undefined>;
  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]>;
  /** Entries with begin <= key < end in key order (descending with reverse), at most limit. */
  scan(begin: Buffer, end: Buffer, opts?: ScanOptions): AsyncIterable<[Buffer, Buffer]>;
}

/** One buffered write: a value, or null for a delete. */
export interface PendingEntry {
  key: Buffer;
  value: Buffer | null;
  /** The key's bytes as a latin1 string (the overlay's map key). */
  id: string;
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** A transaction's buffered writes, keyed by the exact key bytes; the last write to a key wins. */
export class PendingWrites {
  private map = new Map<string, PendingEntry>();

  get size(): number {
    return this.map.size;
  }
  /** The pending entry for key, or undefined if the transaction has not written it. */
  lookup(key: Buffer): PendingEntry | undefined {
    return this.map.get(key.toString('latin1'));
  }
  /** Buffers a put (value) or delete (null); copies the buffers so the caller may reuse them. */
  put(key: Buffer, value: Buffer | null): void {
    const id = key.toString('latin1');
    this.map.set(id, { key: Buffer.from(key), value: value === null ? null : Buffer.from(value), id });
  }
  /** The entries, in the order their keys were first written. */
  [Symbol.iterator](): IterableIterator<PendingEntry> {
    return this.map.values();
  }
  /** Entries with begin <= key < end, ascending. */
  range(begin: Buffer, end: Buffer): PendingEntry[] {
    const out: PendingEntry[] = [];
    for (const e of this.map.values()) {
      if (Buffer.compare(e.key, begin) >= 0 && Buffer.compare(e.key, end) < 0) out.push(e);
    }
    return out.sort((a, b) => Buffer.compare(a.key, b.key));
  }
}

/**
 * Streams committed entries merged with an overlay of pending writes.
 * `committed` must already be in scan order (descending if opts.reverse) and restricted to the
 * range; `overlay` is ascending and restricted to the same range. Pending values replace
 * committed ones, pending deletes hide them; at most opts.limit entries are yielded.
 * Stops (and closes) the committed iterator as soon as the consumer stops.
 */
export async function* mergeScan(
  committed: AsyncIterable<[Buffer, Buffer]>,
  overlay: PendingEntry[],
  opts: ScanOptions = {},
): AsyncGenerator<[Buffer, Buffer]> {
  let left = opts.limit ?? Infinity;
  if (left <= 0) return;
  const dir = opts.reverse ? -1 : 1;
  const over = opts.reverse ? [...overlay].reverse() : overlay;
  const it = committed[Symbol.asyncIterator]();
  let finished = false;
  try {
    let c = await it.next();
    let i = 0;
    for (;;) {
      const p = over[i];
      if (c.done && !p) break;
      let out: [Buffer, Buffer] | undefined;
      const order = c.done ? 1 : !p ? -1 : dir * Buffer.compare(c.value[0], p.key);
      if (order < 0) {
        out = c.value as [Buffer, Buffer];
        c = await it.next();
      } else {
        if (order === 0) c = await it.next();
        i++;
        if (p!.value !== null) out = [p!.key, p!.value];
      }
      if (out) {
        yield out;
        if (--left <= 0) break;
      }
    }
    finished = c.done === true;
  } finally {
    if (!finished) await it.return?.();
  }
}

async function* empty(): AsyncGenerator<[Buffer, Buffer]> {}

/** An async mutex that runs queued work one at a time, in order. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
  /** Resolves once everything queued so far has finished. */
  async drain(): Promise<void> {
    await this.tail;
  }
}

/** An open transaction: the KvTxn handed to the user function plus what the engine commits. */
export interface OpenTxn {
  tx: KvTxn;
  pending: PendingWrites;
  hooks: (() => void)[];
  /** Applies the counters added with addCounter (call once the transaction's function has resolved, before finish). */
  settle(): Promise<void>;
  /** Marks the transaction finished; later writes through tx throw EINVAL. */
  finish(): void;
}

/** addCounter's deltas, summed per key until applied. */
export class CounterDeltas {
  private map = new Map<string, { key: Buffer; delta: bigint }>();
  add(key: Buffer, delta: bigint): void {
    const id = key.toString('latin1');
    const d = this.map.get(id);
    if (d) d.delta += delta;
    else this.map.set(id, { key: Buffer.from(key), delta });
  }
  /** Applies every sum through `incrBy` (in the order keys were first added) and forgets them. */
  async apply(incrBy: (key: Buffer, delta: bigint) => Promise<bigint>): Promise<void> {
    const all = [...this.map.values()];
    this.map.clear();
    for (const d of all) if (d.delta !== 0n) await incrBy(d.key, d.delta);
  }
}

/**
 * Builds a KvTxn over an engine's committed reader. Reads see the pending writes; set/delete/incrBy
 * buffer into `pending`. incrBy throws VfsError(EOVERFLOW) if the result leaves the i64 range.
 */
export function openTxn(base: KvReader): OpenTxn {
  const pending = new PendingWrites();
  const hooks: (() => void)[] = [];
  const deltas = new CounterDeltas();
  let done = false;
  const live = () => {
    if (done) throw new VfsError(Errno.EINVAL, 'kv transaction used after it finished');
  };
  const read = async (key: Buffer): Promise<Buffer | undefined> => {
    const p = pending.lookup(key);
    return p ? (p.value ?? undefined) : base.get(key);
  };
  const tx: KvTxn = {
    get: read,
    async getMany(keys) {
      const out: (Buffer | undefined)[] = new Array(keys.length);
      const missIdx: number[] = [];
      keys.forEach((k, i) => {
        const p = pending.lookup(k);
        if (p) out[i] = p.value ?? undefined;
        else missIdx.push(i);
      });
      if (missIdx.length) {
        const vals = await base.getMany(missIdx.map((i) => keys[i]!));
        missIdx.forEach((i, j) => { out[i] = vals[j]; });
      }
      return out;
    },
    scan(begin, end, opts = {}) {
      if (Buffer.compare(begin, end) >= 0 || opts.limit === 0) return mergeScan(empty(), [], opts);
      const overlay = pending.range(begin, end);
      // Each overlay entry hides or replaces at most one committed entry, so this many suffice.
      const limit = opts.limit === undefined ? undefined : opts.limit + overlay.length;
      return mergeScan(base.scan(begin, end, { reverse: opts.reverse, limit }), overlay, opts);
    },
    set(key, value) {
      live();
      pending.put(key, value);
    },
    delete(key) {
      live();
      pending.put(key, null);
    },
    async incrBy(key, delta) {
      live();
      let p = pending.lookup(key);
      let cur: Buffer | undefined;
      if (p) cur = p.value ?? undefined;
      else {
        cur = await base.get(key);
        // Another write to this key in the same transaction may have landed while we awaited
        // (e.g. Promise.all of two incrBy calls): it is newer than the committed value.
        p = pending.lookup(key);
        if (p) cur = p.value ?? undefined;
      }
      const n = decodeCounter(cur) + delta;
      if (n < I64_MIN || n > I64_MAX) throw new VfsError(Errno.EOVERFLOW, 'kv counter overflows 64 bits');
      live();
      pending.put(key, n === 0n ? null : encodeCounter(n));
      return n;
    },
    addCounter(key, delta) {
      live();
      deltas.add(key, delta);
    },
    onCommit(fn) {
      live();
      hooks.push(fn);
    },
  };
  return { tx, pending, hooks, settle: () => deltas.apply(tx.incrBy), finish: () => { done = true; } };
}

/**
 * Runs commit hooks in order after the batch is applied. Every hook runs even if one throws; the
 * first error is then rethrown (the transaction is committed regardless: a throwing hook is a bug).
 */
export function runHooks(hooks: (() => void)[]): void {
  let first: { err: unknown } | undefined;
  for (const h of hooks) {
    try {
      h();
    } catch (err) {
      first ??= { err };
    }
  }
  if (first) throw first.err;
}
