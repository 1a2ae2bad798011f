import { Errno, VfsError } from '../errno.js';
import type { KvStore, KvTxn, ScanOptions, TxnOptions } from './kv.js';
import { decodeCounter, encodeCounter } from './kv.js';

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

/** Pending writes of a transaction: value, or null for a delete. */
type Pending = Map<string, { key: Buffer; value: Buffer | null }>;

/** Merges committed entries with pending writes, in order; shared by the engines. */
export function mergeScan(committed: [Buffer, Buffer][], pending: Pending, begin: Buffer, end: Buffer, opts: ScanOptions = {}): [Buffer, Buffer][] {
  const over = [...pending.values()].filter((p) => Buffer.compare(p.key, begin) >= 0 && Buffer.compare(p.key, end) < 0);
  const merged = new Map<string, [Buffer, Buffer | null]>();
  for (const [k, v] of committed) merged.set(k.toString('latin1'), [k, v]);
  for (const p of over) merged.set(p.key.toString('latin1'), [p.key, p.value]);
  let out = [...merged.values()].filter((e): e is [Buffer, Buffer] => e[1] !== null).sort((a, b) => Buffer.compare(a[0], b[0]));
  if (opts.reverse) out.reverse();
  if (opts.limit !== undefined) out = out.slice(0, opts.limit);
  return out;
}

/** An async mutex that runs queued work one at a time, in order. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
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
  async get(key: Buffer): Promise<Buffer | undefined> {
    this.check();
    return this.data.get(key);
  }
  async getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]> {
    this.check();
    return keys.map((k) => this.data.get(k));
  }
  async *scan(begin: Buffer, end: Buffer, opts: ScanOptions = {}): AsyncIterable<[Buffer, Buffer]> {
    this.check();
    yield* mergeScan(this.data.range(begin, end), new Map(), begin, end, opts);
  }
  txn<T>(fn: (tx: KvTxn) => Promise<T>, _opts?: TxnOptions): Promise<T> {
    this.check();
    return this.queue.run(async () => {
      const pending: Pending = new Map();
      const hooks: (() => void)[] = [];
      const data = this.data;
      const read = (key: Buffer) => {
        const p = pending.get(key.toString('latin1'));
        return p ? (p.value ?? undefined) : data.get(key);
      };
      const tx: KvTxn = {
        get: async (key) => read(key),
        getMany: async (ks) => ks.map(read),
        scan: (begin, end, opts) => (async function* () {
          yield* mergeScan(data.range(begin, end), pending, begin, end, opts);
        })(),
        set: (key, value) => { pending.set(key.toString('latin1'), { key: Buffer.from(key), value: Buffer.from(value) }); },
        delete: (key) => { pending.set(key.toString('latin1'), { key: Buffer.from(key), value: null }); },
        incrBy: async (key, delta) => {
          const n = decodeCounter(read(key)) + delta;
          pending.set(key.toString('latin1'), { key: Buffer.from(key), value: n === 0n ? null : encodeCounter(n) });
          return n;
        },
        onCommit: (f) => { hooks.push(f); },
      };
      const result = await fn(tx);
      this.check();
      for (const p of pending.values()) {
        if (p.value === null) data.delete(p.key);
        else data.set(p.key, p.value);
      }
      for (const h of hooks) h();
      return result;
    });
  }
  async sync(): Promise<void> {}
  async close(): Promise<void> {
    this.closed = true;
  }
}
