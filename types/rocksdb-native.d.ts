/**
 * Types for the part of rocksdb-native (v3, CommonJS, no bundled types) that vfs/meta/rocksdb.ts uses.
 * Keys and values are Buffers throughout (no key/value encodings configured).
 */
declare module 'rocksdb-native' {
  namespace RocksDB {
    class BloomFilterPolicy {
      constructor(bitsPerKey: number);
      readonly bitsPerKey: number;
    }
    class RibbonFilterPolicy {
      constructor(bloomEquivalentBitsPerKey: number, bloomBeforeLevel?: number);
    }

    /** Options of the constructor: database options plus default column family options. */
    interface OpenOptions {
      readOnly?: boolean;
      createIfMissing?: boolean;
      maxBackgroundJobs?: number;
      bytesPerSync?: number;
      maxOpenFiles?: number;
      /** 0 tolerate corrupted tail, 1 absolute consistency, 2 point in time (default), 3 skip corrupted. */
      walRecoveryMode?: number;
      avoidFlushDuringShutdown?: boolean;
      // column family (table) options
      tableBlockSize?: number;
      tableCacheIndexAndFilterBlocks?: boolean;
      filterPolicy?: BloomFilterPolicy | RibbonFilterPolicy | null;
      optimizeFiltersForHits?: boolean;
      maxWriteBufferNumber?: number;
      /** Memtable size in bytes (default 64 MiB). */
      writeBufferSize?: number;
    }

    interface BatchOptions {
      /** Destroy (return to the pool) the batch once its flush settles. */
      autoDestroy?: boolean;
      /** Initial number of operations (grows as needed). */
      capacity?: number;
    }

    interface ReadBatch {
      /** Queues a get; the promise settles after flush, null if the key is absent. */
      get(key: Buffer): Promise<Buffer | null>;
      flush(): Promise<void>;
      /** Flush without a promise; errors surface through the get promises. */
      tryFlush(): void;
      destroy(): void;
    }

    interface WriteBatch {
      tryPut(key: Buffer, value: Buffer): void;
      tryDelete(key: Buffer): void;
      tryDeleteRange(start: Buffer, end: Buffer): void;
      /** Applies every queued operation as one atomic RocksDB WriteBatch. */
      flush(): Promise<void>;
      tryFlush(): void;
      destroy(): void;
    }

    interface IteratorRange {
      gt?: Buffer;
      gte?: Buffer;
      lt?: Buffer;
      lte?: Buffer;
      reverse?: boolean;
      limit?: number;
      /** Entries fetched per native call (default 8). */
      capacity?: number;
      values?: boolean;
    }

    interface Iterator extends AsyncIterable<{ key: Buffer; value: Buffer }> {
      destroy(err?: Error): void;
    }

    interface WalFile {
      /** Path relative to the WAL directory (the database directory by default), e.g. '/000004.log'. */
      path: string;
      number: number;
      /** 0 archived, 1 alive. */
      type: number;
      startSequence: number;
      size: number;
    }
  }

  class RocksDB {
    constructor(path: string, opts?: RocksDB.OpenOptions);
    readonly opened: boolean;
    readonly closed: boolean;
    readonly path: string;
    ready(): Promise<void>;
    close(opts?: { force?: boolean }): Promise<void>;
    read(opts?: RocksDB.BatchOptions): RocksDB.ReadBatch;
    write(opts?: RocksDB.BatchOptions): RocksDB.WriteBatch;
    iterator(range?: RocksDB.IteratorRange): RocksDB.Iterator;
    /** A session reading from a point-in-time snapshot taken now; close it when done. */
    snapshot(): RocksDB;
    /** Flushes the memtable to an SST file (synced). */
    flush(): Promise<void>;
    currentWalFile(): Promise<RocksDB.WalFile>;
    getProperty(name: string): Promise<string>;
  }

  export = RocksDB;
}
