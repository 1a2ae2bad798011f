import { Errno, VfsError } from '../errno.js';
import type { KvStore, KvTxn, ScanOptions, TxnOptions } from './kv.js';
import { type KvReader, mergeScan, openTxn, runHooks, SerialQueue } from './txn.js';

export { mergeScan, SerialQueue } from './txn.js';

/** Sorted array of [key, value]; binary search on Buffer.compare. */
class SortedMap {
  private keys: Buffer[] = [];
  private vals: Buffer[] = [];

  private find(key: Buffer): number {
    let lo = 0, hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(this.keys[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  get(key: Buffer): Buffer | undefined {
    const i = this.find(key);
    return i < this.keys.length && this.keys[i]!.equals(key) ? this.vals[i] : undefined;
  }
  set(key: Buffer, val: Buffer): void {
    const i = this.find(key);
    if (i < this.keys.length && this.keys[i]!.equals(key)) this.vals[i] = val;
    else { this.keys.splice(i, 0, key); this.vals.splice(i, 0, val); }
  }
  delete(key: Buffer): void {
    const i = this.find(key);
    if (i < this.keys.length && this.keys[i]!.equals(key)) { this.keys.splice(i, 1); this.vals.splice(i, 1); }
  }
  /** Entries in [begin, end), copied so callers may write while iterating. */
  range(begin: Buffer, end: Buffer): [Buffer, Buffer][] {
    const out: [Buffer, Buffer][] = [];
    for (let i = this.find(begin); i < this.keys.length && Buffer.compare(this.keys[i]!, end) < 0; i++) out.push([this.keys[i]!, this.vals[i]!]);
    return out;
  }
}

/** In-memory engine: the reference semantics for KvStore, used by unit tests. Not durable. */
export class MemoryKv implements KvStore {
  readonly engine = 'memory';
  private data = new SortedMap();
  private queue = new SerialQueue();
  private closed = false;

  private check(): void {
    if (this.closed) throw new VfsError(Errno.EIO, 'kv store is closed');
  }
  /** Committed state; returns copies so callers cannot mutate stored values. */
  private reader: KvReader = {
    get: async (key) => copy(this.data.get(key)),
    getMany: async (keys) => keys.map((k) => copy(this.data.get(k))),
    scan: (begin, end, opts: ScanOptions = {}) => {
      let rows = this.data.range(begin, end);
      if (opts.reverse) rows.reverse();
      if (opts.limit !== undefined) rows = rows.slice(0, opts.limit);
      return (async function* () {
        for (const [k, v] of rows) yield [Buffer.from(k), Buffer.from(v)] as [Buffer, Buffer];
      })();
    },
  };

  async get(key: Buffer): Promise<Buffer | undefined> {
    this.check();
    return this.reader.get(key);
  }
  async getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]> {
    this.check();
    return this.reader.getMany(keys);
  }
  async *scan(begin: Buffer, end: Buffer, opts: ScanOptions = {}): AsyncIterable<[Buffer, Buffer]> {
    this.check();
    if (Buffer.compare(begin, end) >= 0) return;
    yield* mergeScan(this.reader.scan(begin, end, opts), [], opts);
  }
  async txn<T>(fn: (tx: KvTxn) => Promise<T>, opts?: TxnOptions): Promise<T> {
    this.check();
    return this.queue.run(async () => {
      const t = openTxn(this.reader);
      let result: T;
      try {
        result = await fn(t.tx);
        await t.settle();
      } finally {
        t.finish();
      }
      this.check();
      for (const p of t.pending) {
        if (p.value === null) this.data.delete(p.key);
        else this.data.set(p.key, p.value);
      }
      if (t.pending.size > 0) opts?.applied?.(t.pending);
      runHooks(t.hooks);
      return result;
    });
  }
  async sync(): Promise<void> {}
  async close(): Promise<void> {
    this.closed = true;
  }
}

function copy(b: Buffer | undefined): Buffer | undefined {
  return b === undefined ? undefined : Buffer.from(b);
}
