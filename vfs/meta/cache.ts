import type { KvStore, KvTxn, ScanOptions, TxnOptions } from './kv.js';
import { decodeCounter } from './kv.js';
import { CounterDeltas } from './txn.js';

/** Marks a key known to be absent. */
const ABSENT = Symbol('absent');
type Cached = Buffer | typeof ABSENT;

/**
 * A write-through read cache in front of any KvStore engine, for a store that one process owns
 * (the embedded gateway): point reads of hot keys (inodes, entries, counters, extents, block
 * rows) come from memory, and every committed transaction updates the cache with exactly the
 * writes it applied, so the cache never disagrees with the store.
 *
 * Coherence: a value read from the engine outside a transaction is cached only if no
 * transaction committed while the read was under way (a commit counter is compared); inside a
 * transaction (serialized) reads of keys the transaction has not written are committed state.
 * Scans are not cached. Bounded by bytes, oldest entries out first.
 *
 * Keys whose first byte is in `scanOnly` (rows that are only ever scanned, never read by key:
 * keys.ts SCAN_ONLY_PREFIXES) are left out altogether: caching them cost each write the work of
 * a cache entry for nothing, and pushed out entries that are read (a 64 KiB-record volume's
 * record rewritten writes 12 segment-index rows beside its 3 block and extent rows).
 */
export class CachedKv implements KvStore {
  readonly engine: string;
  private map = new Map<string, Cached>();
  /**
   * The eviction iterator, kept across evictions (undefined once done or after clear): a fresh
   * iteration each time would walk past every entry evicted since V8 last compacted the Map's
   * table — ~26 µs per eviction at 100,000 entries (a full 64 MiB cache of ~120-byte entries
   * holds some 500,000), against ~0.4 µs this way. Entries only leave from the front, so the
   * iterator's next entry is always the oldest.
   */
  private oldest: Iterator<[string, Cached]> | undefined;
  private bytes = 0;
  private commits = 0;
  private evictions = 0;

  private readonly skip: Uint8Array;

  constructor(private readonly inner: KvStore, private readonly maxBytes = 64 << 20, scanOnly: readonly number[] = []) {
    this.engine = inner.engine;
    this.skip = new Uint8Array(256);
    for (const p of scanOnly) this.skip[p & 0xff] = 1;
  }

  /** Whether the key may be cached (its first byte is not a scan-only prefix). */
  private cacheable(key: Uint8Array): boolean {
    return key.length === 0 || this.skip[key[0]!] === 0;
  }

  private static id(key: Buffer): string {
    return key.toString('latin1');
  }

  /** A cached value. Hits do not reorder: eviction is first-in first-out, which costs nothing per hit. */
  private hit(id: string): Cached | undefined {
    return this.map.get(id);
  }

  private store(id: string, v: Cached): void {
    const old = this.map.get(id);
    // Updated in place (no delete + re-add): hot keys such as counters and a directory's inode
    // change on every create, and deleting from a V8 Map leaves entries its lookups walk past.
    if (old !== undefined) this.bytes -= id.length + (old === ABSENT ? 0 : old.length) + 64;
    this.map.set(id, v);
    this.bytes += id.length + (v === ABSENT ? 0 : v.length) + 64;
    while (this.bytes > this.maxBytes) {
      let r = this.oldest?.next();
      if (!r || r.done) r = (this.oldest = this.map.entries()).next();
      if (r.done) break; // (nothing left: cannot happen while bytes > 0)
      const [oldest, ov] = r.value;
      this.map.delete(oldest);
      this.evictions++;
      this.bytes -= oldest.length + (ov === ABSENT ? 0 : ov.length) + 64;
    }
  }

  private mark(): { commits: number; evictions: number } {
    return { commits: this.commits, evictions: this.evictions };
  }

  /**
   * Whether a value read from the engine since `mark` may be cached. Yes if nothing committed
   * meanwhile. Otherwise yes only if the key is still not cached and nothing was evicted: every
   * commit caches each key it writes, so a key absent from the cache was not written meanwhile.
   * (With many uploads at once commits never pause, and without this no new name's absence,
   * looked up before each create, would ever be cached.)
   */
  private stillValid(mark: { commits: number; evictions: number }, id: string): boolean {
    return this.commits === mark.commits || (this.evictions === mark.evictions && !this.map.has(id));
  }

  private static out(v: Cached): Buffer | undefined {
    return v === ABSENT ? undefined : Buffer.from(v);
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    if (!this.cacheable(key)) return this.inner.get(key);
    const id = CachedKv.id(key);
    const c = this.hit(id);
    if (c !== undefined) return CachedKv.out(c);
    const mark = this.mark();
    const v = await this.inner.get(key);
    if (this.stillValid(mark, id)) this.store(id, v ? Buffer.from(v) : ABSENT);
    return v;
  }

  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]> {
    return this.readMany(keys, () => false, (ks) => this.inner.getMany(ks), (mark, id) => this.stillValid(mark, id));
  }

  /**
   * Values of `keys`: cached ones from memory (except the ids `bypass` names), the others from
   * `read` in one batch, each then cached when `keep` allows it (given the mark taken before the read).
   */
  private async readMany(keys: Buffer[], bypass: (id: string) => boolean, read: (ks: Buffer[]) => Promise<(Buffer | undefined)[]>,
    keep: (mark: { commits: number; evictions: number }, id: string) => boolean): Promise<(Buffer | undefined)[]> {
    const out: (Buffer | undefined)[] = new Array(keys.length);
    const miss: number[] = [];
    keys.forEach((k, i) => {
      if (!this.cacheable(k)) {
        miss.push(i);
        return;
      }
      const id = CachedKv.id(k);
      const c = bypass(id) ? undefined : this.hit(id);
      if (c === undefined) miss.push(i);
      else out[i] = CachedKv.out(c);
    });
    if (miss.length) {
      const mark = this.mark();
      const got = await read(miss.map((i) => keys[i]!));
      miss.forEach((i, j) => {
        out[i] = got[j];
        if (!this.cacheable(keys[i]!)) return;
        const id = CachedKv.id(keys[i]!);
        if (keep(mark, id)) this.store(id, got[j] ? Buffer.from(got[j]!) : ABSENT);
      });
    }
    return out;
  }

  scan(begin: Buffer, end: Buffer, opts?: ScanOptions): AsyncIterable<[Buffer, Buffer]> {
    return this.inner.scan(begin, end, opts);
  }

  txn<T>(fn: (tx: KvTxn) => Promise<T>, opts?: TxnOptions): Promise<T> {
    return this.inner.txn(async (tx) => {
      const written = new Set<string>();
      const deltas = new CounterDeltas();
      const getOne = async (key: Buffer): Promise<Buffer | undefined> => {
        if (!this.cacheable(key)) return tx.get(key);
        const id = CachedKv.id(key);
        if (written.has(id)) return tx.get(key);
        const c = this.hit(id);
        if (c !== undefined) return CachedKv.out(c);
        const v = await tx.get(key);
        if (!written.has(id)) this.store(id, v ? Buffer.from(v) : ABSENT);
        return v;
      };
      const view: KvTxn = {
        get: getOne,
        // Keys neither written here nor cached are read from the engine in one batch.
        getMany: (ks) => this.readMany(ks, (id) => written.has(id), (m) => tx.getMany(m), (_mark, id) => !written.has(id)),
        scan: (b, e, o) => tx.scan(b, e, o),
        set: (k, v) => { if (this.cacheable(k)) written.add(CachedKv.id(k)); tx.set(k, v); },
        delete: (k) => { if (this.cacheable(k)) written.add(CachedKv.id(k)); tx.delete(k); },
        incrBy: async (k, d) => {
          const id = CachedKv.id(k);
          if (!written.has(id)) {
            // Let the engine read the committed counter from our cache when we have it.
            const c = this.hit(id);
            written.add(id);
            if (c !== undefined) {
              const cur = decodeCounter(c === ABSENT ? undefined : c);
              const n = cur + d;
              if (n < -(2n ** 63n) || n >= 2n ** 63n) return tx.incrBy(k, d); // the engine reports the overflow
              if (n === 0n) tx.delete(k);
              else { const b = Buffer.allocUnsafe(8); b.writeBigInt64LE(n); tx.set(k, b); }
              return n;
            }
          }
          return tx.incrBy(k, d);
        },
        // Summed here and applied below through incrBy, which reads the committed counter from the cache.
        addCounter: (k, d) => deltas.add(k, d),
        onCommit: (f) => tx.onCommit(f),
      };
      const result = await fn(view);
      await deltas.apply(view.incrBy);
      return result;
    }, {
      sync: opts?.sync,
      // Before any caller's hook runs, the cache takes exactly what the engine applied.
      applied: (writes) => {
        this.commits++;
        for (const w of writes) if (this.cacheable(w.key)) this.store(w.id, w.value ? Buffer.from(w.value) : ABSENT);
        opts?.applied?.(writes);
      },
    });
  }

  sync(): Promise<void> {
    return this.inner.sync();
  }

  close(): Promise<void> {
    this.map.clear();
    this.oldest = undefined;
    this.bytes = 0;
    return this.inner.close();
  }
}
