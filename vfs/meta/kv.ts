/**
 * The small transactional key-value interface every metadata engine implements
 * (RocksDB by default, memory for tests, and later a distributed KV).
 *
 * Keys and values are byte strings ordered by unsigned byte comparison (Buffer.compare).
 * The whole key schema lives in `./keys.ts`.
 *
 * Concurrency model: read-write transactions run one at a time (the engine queues them);
 * plain reads outside a transaction see the last committed state. A transaction's writes are
 * buffered and applied as one atomic batch when its function resolves; if it throws, nothing
 * is applied. Inside a transaction reads see its own pending writes.
 */
export interface KvTxn {
  /** Value or undefined. Sees this transaction's pending writes. */
  get(key: Buffer): Promise<Buffer | undefined>;
  /** Values in key order of the argument. */
  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]>;
  /** Entries with begin <= key < end, ascending (or descending with reverse), merged with pending writes. */
  scan(begin: Buffer, end: Buffer, opts?: ScanOptions): AsyncIterable<[Buffer, Buffer]>;
  /** Buffers a put. */
  set(key: Buffer, value: Buffer): void;
  /** Buffers a delete (no error if absent). */
  delete(key: Buffer): void;
  /**
   * Adds delta to a signed 64-bit little-endian counter (absent = 0) and returns the new value.
   * A counter that ends at 0 is deleted.
   */
  incrBy(key: Buffer, delta: bigint): Promise<bigint>;
  /**
   * Adds delta to the same kind of counter once the transaction's function has resolved: every
   * addCounter of a key in the transaction is summed and applied as one incrBy (absent = 0,
   * deleted at 0, EOVERFLOW fails the transaction). Reads in the transaction do not see it; for
   * counters only read elsewhere (statistics, live bytes), which many writes of one transaction
   * touch: one read-modify-write per key instead of one per call.
   */
  addCounter(key: Buffer, delta: bigint): void;
  /** Runs after the batch is durably applied (not if the transaction fails). */
  onCommit(fn: () => void): void;
}

export interface ScanOptions {
  /** At most this many entries. */
  limit?: number;
  reverse?: boolean;
}

export interface TxnOptions {
  /** Make the batch durable (WAL synced to disk) before the transaction resolves. */
  sync?: boolean;
  /**
   * Told, once the batch is applied and before any onCommit hook runs, every key the
   * transaction wrote with its final value (null: deleted). Not called if nothing was applied
   * (the function threw, or the engine failed). The buffers are the transaction's own: copy what
   * is kept. For a cache layered over the engine (./cache.ts).
   */
  applied?: (writes: Iterable<{ readonly key: Buffer; readonly value: Buffer | null; /** key as latin1 */ readonly id: string }>) => void;
}

export interface KvStore {
  /** Committed value or undefined. */
  get(key: Buffer): Promise<Buffer | undefined>;
  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]>;
  /** Committed entries with begin <= key < end. */
  scan(begin: Buffer, end: Buffer, opts?: ScanOptions): AsyncIterable<[Buffer, Buffer]>;
  /**
   * Runs fn in a read-write transaction (serialized with all others) and applies its writes
   * atomically. Resolves with fn's result after the batch is applied; rejects with fn's error
   * (nothing applied) or with an Errno.EIO VfsError if the engine fails to write.
   */
  txn<T>(fn: (tx: KvTxn) => Promise<T>, opts?: TxnOptions): Promise<T>;
  /** Makes every committed transaction durable (fsync of the WAL). */
  sync(): Promise<void>;
  /** Flushes and closes. Further calls reject. */
  close(): Promise<void>;
  /** 'rocksdb' | 'memory' | … */
  readonly engine: string;
}

/** Decodes a counter value written by incrBy (absent = 0n). */
export function decodeCounter(v: Buffer | undefined): bigint {
  return v && v.length >= 8 ? v.readBigInt64LE(0) : 0n;
}

/** Encodes a counter value as incrBy stores it. */
export function encodeCounter(n: bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigInt64LE(n, 0);
  return b;
}
