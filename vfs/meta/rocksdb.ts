/**
 * RocksDB engine of KvStore (./kv.ts), the embedded default, on rocksdb-native v3.
 *
 * Transactions: read-write transactions run one at a time through a SerialQueue. Inside one,
 * reads go straight to the database merged with the transaction's pending writes (no snapshot is
 * needed: only the transaction holding the queue writes). When the function resolves, its writes
 * are applied as ONE RocksDB WriteBatch (atomic, also across a crash), then the onCommit hooks
 * run, then the next transaction starts.
 *
 * Durability (rocksdb-native exposes no per-write `sync` WriteOption):
 * - Without sync: every write batch is appended to the WAL and handed to the OS before the
 *   batch's promise resolves (manual_wal_flush=false, the default), so an acknowledged
 *   transaction survives kill -9 of the process (not a power cut). Tested in rocksdb.test.ts.
 * - `sync()` / `txn(fn, { sync: true })`: we fdatasync the WAL ourselves. `db.currentWalFile()`
 *   (rocksdb::DB::GetCurrentWalFile) names the live WAL, relative to the database directory
 *   (e.g. '/000012.log'); RocksDB writes it with plain write(2) calls, so an fdatasync through
 *   our own descriptor of the same inode makes everything written to it so far durable.
 *   When the WAL has rotated since our last sync (memtable switch), older WAL files that are
 *   still alive may hold unsynced batches too, so we fdatasync every WAL file numbered from
 *   the last synced one up to the current one (a vanished one was flushed into synced SST files
 *   and deleted) and fsync the directory so the new file's entry is durable.
 *   Concurrent sync requests share rounds (group commit): a request waits for at most the
 *   running round plus one more. A failed fdatasync poisons the store (every later call
 *   rejects with EIO), because after a failed fsync the page cache state is unknown.
 *   For a sync transaction the hooks run once the batch is applied (before the fdatasync, so
 *   the next transaction sees caches that match the database); the promise resolves after it.
 */
import { mkdir, open, readdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import RocksDB from 'rocksdb-native';
import { Errno, VfsError } from '../errno.js';
import type { KvStore, KvTxn, ScanOptions, TxnOptions } from './kv.js';
import { CachedKv } from './cache.js';
import { SCAN_ONLY_PREFIXES } from './keys.js';
import { type KvReader, mergeScan, openTxn, runHooks, SerialQueue } from './txn.js';

export interface RocksKvOptions {
  /** Open without the lock, refusing transactions (EROFS); for inspection tools. */
  readOnly?: boolean;
  /** Memtable size in bytes (default 16 MiB); tests use a small one to force WAL rotation. */
  memtableBytes?: number;
  /**
   * Bytes of the write-through read cache (vfs/meta/cache.ts) in front of the store (default
   * 64 MiB; 0 turns it off). Never used read-only: another process owns the store then.
   */
  cacheBytes?: number;
}

/**
 * Opens (creating if needed, with parent directories) the RocksDB metadata store in `dir`.
 * Rejects with VfsError(EBUSY) if another process (a running `dw serve`) holds the store's lock,
 * ENOENT if readOnly and no store exists, EIO for any other open failure.
 */
export async function openRocksKv(dir: string, opts: RocksKvOptions = {}): Promise<KvStore> {
  const readOnly = opts.readOnly ?? false;
  if (!readOnly) await mkdir(dir, { recursive: true });
  const db = new RocksDB(dir, {
    readOnly,
    createIfMissing: !readOnly,
    // Metadata: small keys and values, point lookups plus short range scans.
    writeBufferSize: opts.memtableBytes ?? 16 * 1024 * 1024,
    maxWriteBufferNumber: 2,
    filterPolicy: new RocksDB.BloomFilterPolicy(10),
    tableCacheIndexAndFilterBlocks: true,
    tableBlockSize: 8192,
    maxBackgroundJobs: 2,
  });
  try {
    await db.ready();
  } catch (err) {
    throw openError(dir, err);
  }
  const kv = new RocksKv(db, dir, readOnly);
  const cacheBytes = readOnly ? 0 : opts.cacheBytes ?? 64 << 20;
  return cacheBytes > 0 ? new CachedKv(kv, cacheBytes, SCAN_ONLY_PREFIXES) : kv;
}

function openError(dir: string, err: unknown): VfsError {
  const msg = err instanceof Error ? err.message : String(err);
  if (/lock/i.test(msg)) {
    const who = /current process/i.test(msg) ? 'this process has it open already' : 'another process (a running `dw serve`?) holds it';
    return new VfsError(Errno.EBUSY, `metadata store ${dir} is locked: ${who} (${msg})`);
  }
  if (/does not exist|no such file/i.test(msg)) return new VfsError(Errno.ENOENT, `no metadata store in ${dir} (${msg})`);
  return new VfsError(Errno.EIO, `cannot open metadata store ${dir}: ${msg}`);
}

function ioError(what: string, err: unknown): VfsError {
  if (err instanceof VfsError) return err;
  return new VfsError(Errno.EIO, `rocksdb ${what} failed: ${err instanceof Error ? err.message : String(err)}`);
}

const WAL_NAME = /^(\d+)\.log$/;

class RocksKv implements KvStore {
  readonly engine = 'rocksdb';
  private queue = new SerialQueue();
  private closing: Promise<void> | null = null;
  /** Set after a failed fdatasync: the store refuses all further work. */
  private poisoned: VfsError | null = null;

  // Durability bookkeeping (see the file comment).
  private writesApplied = 0;
  private writesSynced = 0;
  private walNumber = 0;
  private walFd: FileHandle | null = null;
  private syncRunning: Promise<void> | null = null;
  private syncQueued: Promise<void> | null = null;

  constructor(private db: RocksDB, private dir: string, private readOnly: boolean) {}

  private check(): void {
    if (this.poisoned) throw this.poisoned;
    if (this.closing) throw new VfsError(Errno.EIO, 'kv store is closed');
  }

  // ---- committed reads ----

  private async readKeys(keys: Buffer[], consistent: boolean): Promise<(Buffer | undefined)[]> {
    if (keys.length === 0) return [];
    // Several keys outside a transaction read one snapshot, so a concurrent commit is seen whole or not at all.
    const session = consistent && keys.length > 1 ? this.db.snapshot() : this.db;
    try {
      const batch = session.read({ autoDestroy: true, capacity: keys.length });
      const ps = keys.map((k) => batch.get(k));
      batch.tryFlush();
      const vals = await Promise.all(ps);
      return vals.map((v) => v ?? undefined);
    } catch (err) {
      throw ioError('read', err);
    } finally {
      if (session !== this.db) await session.close();
    }
  }

  private async *iterate(begin: Buffer, end: Buffer, opts: ScanOptions): AsyncGenerator<[Buffer, Buffer]> {
    if (Buffer.compare(begin, end) >= 0 || opts.limit === 0) return;
    const limit = opts.limit ?? Infinity;
    try {
      const it = this.db.iterator({
        gte: begin,
        lt: end,
        reverse: opts.reverse ?? false,
        limit,
        capacity: Math.max(8, Math.min(limit, 256)),
      });
      for await (const { key, value } of it) yield [key, value];
    } catch (err) {
      throw ioError('scan', err);
    }
  }

  private reader(consistent: boolean): KvReader {
    return {
      get: async (key) => (await this.readKeys([key], false))[0],
      getMany: (keys) => this.readKeys(keys, consistent),
      scan: (begin, end, opts = {}) => this.iterate(begin, end, opts),
    };
  }
  private txnReader = this.reader(false);

  async get(key: Buffer): Promise<Buffer | undefined> {
    this.check();
    return (await this.readKeys([key], false))[0];
  }

  async getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]> {
    this.check();
    return this.readKeys(keys, true);
  }

  async *scan(begin: Buffer, end: Buffer, opts: ScanOptions = {}): AsyncIterable<[Buffer, Buffer]> {
    this.check();
    yield* mergeScan(this.iterate(begin, end, opts), [], opts);
  }

  // ---- transactions ----

  async txn<T>(fn: (tx: KvTxn) => Promise<T>, opts: TxnOptions = {}): Promise<T> {
    this.check();
    if (this.readOnly) throw new VfsError(Errno.EROFS, 'metadata store is open read-only');
    const result = await this.queue.run(async () => {
      if (this.poisoned) throw this.poisoned;
      const t = openTxn(this.txnReader);
      let r: T;
      try {
        r = await fn(t.tx);
        await t.settle();
      } finally {
        t.finish();
      }
      if (t.pending.size > 0) {
        const batch = this.db.write({ autoDestroy: true, capacity: t.pending.size });
        for (const e of t.pending) {
          if (e.value === null) batch.tryDelete(e.key);
          else batch.tryPut(e.key, e.value);
        }
        try {
          await batch.flush();
        } catch (err) {
          throw ioError('write', err);
        }
        this.writesApplied++;
        opts.applied?.(t.pending);
      }
      runHooks(t.hooks);
      return r;
    });
    if (opts.sync) await this.syncNow();
    return result;
  }

  // ---- durability ----

  async sync(): Promise<void> {
    this.check();
    await this.syncNow();
  }

  /** Joins the next sync round that starts after this call (group commit). */
  private syncNow(): Promise<void> {
    if (this.readOnly || this.writesSynced === this.writesApplied) return Promise.resolve();
    if (this.syncQueued) return this.syncQueued;
    const running = this.syncRunning;
    const start = (): Promise<void> => {
      const round = this.syncRound().finally(() => {
        if (this.syncRunning === round) this.syncRunning = null;
      });
      this.syncRunning = round;
      return round;
    };
    if (!running) return start();
    const queued = running.catch(() => undefined).then(() => {
      this.syncQueued = null;
      return start();
    });
    this.syncQueued = queued;
    return queued;
  }

  /** One fdatasync round over the live WAL file(s); poisons the store on failure. */
  private async syncRound(): Promise<void> {
    if (this.poisoned) throw this.poisoned;
    const target = this.writesApplied;
    try {
      // The WAL file we know is synced while RocksDB is asked for the current one (two round
      // trips at once, not one after the other): when no rotation happened, that was the sync
      // (every write counted in `target` was in that file before the call).
      const fd = this.walFd;
      const [cur] = await Promise.all([this.db.currentWalFile(), fd?.datasync()]);
      if (!fd || cur.number !== this.walNumber) {
        const from = fd ? this.walNumber + 1 : this.walNumber; // the known one was just synced
        const numbers = (await readdir(this.dir))
          .map((n) => WAL_NAME.exec(n))
          .filter((m): m is RegExpExecArray => m !== null)
          .map((m) => Number(m[1]))
          .filter((n) => n >= from && n < cur.number)
          .sort((a, b) => a - b);
        for (const n of numbers) {
          let fh: FileHandle;
          try {
            fh = await open(join(this.dir, `${String(n).padStart(6, '0')}.log`), 'r');
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // flushed to SST and deleted
            throw err;
          }
          try { await fh.datasync(); } finally { await fh.close(); }
        }
        const fh = await open(join(this.dir, cur.path), 'r');
        await fh.datasync();
        const old = this.walFd;
        this.walFd = fh;
        this.walNumber = cur.number;
        if (old) await old.close();
        const d = await open(this.dir, 'r');
        try { await d.sync(); } finally { await d.close(); }
      }
      if (target > this.writesSynced) this.writesSynced = target;
    } catch (err) {
      this.poisoned = new VfsError(Errno.EIO, `metadata WAL fsync failed; store must be reopened: ${err instanceof Error ? err.message : String(err)}`);
      throw this.poisoned;
    }
  }

  // ---- lifecycle ----

  /**
   * Lets queued transactions and sync rounds finish, then closes (RocksDB flushes the memtable).
   * Every other call made after close() rejects with EIO; close() itself is idempotent.
   * An unfinished scan iterator keeps the close pending until it is finished or abandoned.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      await this.queue.drain();
      await this.syncQueued?.catch(() => undefined);
      await this.syncRunning?.catch(() => undefined);
      try {
        await this.walFd?.close();
        this.walFd = null;
        await this.db.close();
      } catch (err) {
        throw ioError('close', err);
      }
    })();
    return this.closing;
  }
}
