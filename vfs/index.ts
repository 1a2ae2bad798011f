/**
 * vfs/: the filesystem every protocol serves. Protocols import this module (and vfs/types.ts,
 * vfs/errno.ts) only — never vfs/meta/ or raid/.
 */
import { MemoryBlockStore } from '../raid/memory.js';
import type { BlockStore } from '../raid/types.js';
import type { KvStore } from './meta/kv.js';
import { MemoryKv } from './meta/memory.js';
import { MetaStore } from './meta/metastore.js';
import { SnapshotStore } from './meta/snapshots.js';
import { type NameCipher, nameCipher } from './meta/names.js';
import { PathLayer } from './paths.js';
import type { PathVfs, Vfs } from './types.js';
import { VfsImpl } from './vfs.js';

export * from './types.js';
export * from './errno.js';
export { VfsImpl } from './vfs.js';
export { BufferPool } from './bufpool.js';
export { PathLayer, components } from './paths.js';
export { openVolumes, checkVolumeName, parseVolumeRef, DEFAULT_VOLUME_RECORD, type VolumeStore } from './volumes.js';
export type { SnapshotInfo, SnapshotStore } from './meta/snapshots.js';
/** The VFS's clock (ns since the epoch, wall-clock ms, strictly increasing): the times it stores. */
export { nowNs } from './meta/metastore.js';

/** 1 MiB: the default record size of files (ARCHITECTURE.md "Data path"). */
export const DEFAULT_RECORD_SIZE = 1 << 20;

export interface VfsInstance {
  vfs: Vfs;
  paths: PathVfs;
  /** The implementation, for the gateway (flushAll, locks, cloneFile). */
  impl: VfsImpl;
  /** Snapshots of the tree (create, list, delete; vfs/meta/snapshots.ts). */
  snapshots: SnapshotStore;
  /**
   * The tree as it was at snapshot `name`, read-only (writes fail with EROFS). Throws ENOENT
   * if there is no such snapshot.
   */
  snapshotVfs(name: string): { vfs: Vfs; paths: PathVfs };
  /** Flushes open files, then closes the block store and the KV store. */
  close(): Promise<void>;
  /** Run by close() first, in order (openVolumes flushes the open block volumes here). */
  readonly beforeClose: (() => Promise<void>)[];
}

/**
 * Opens the filesystem over a KV store and a block store: creates the root on an empty store,
 * frees inodes left unlinked-but-open by a crash. `recordSize` (bytes, power of two, 4 KiB–16 MiB)
 * applies to files created from now on. `names` seals names, xattrs and symlink targets in the
 * metadata (vfs/meta/names.ts nameCipher); by default an encrypted pool's (BlockStore.namesKey).
 * A store made before the caseless name index gets it built here, once, with progress lines to
 * `log` (vfs/meta/foldindex.ts). `inlineMax` (bytes; default vfs/file.ts INLINE_MAX, always 0
 * for an encrypted pool): records up to it, short of a whole record, are kept in their extent
 * rows instead of as blocks; 0 stores every record as a block (tests of the block path).
 * Throws EIO for metadata of a newer format.
 */
export async function openVfs(opts: { kv: KvStore; blocks: BlockStore; recordSize?: number; names?: NameCipher; inlineMax?: number; log?: (msg: string) => void }): Promise<VfsInstance> {
  const rs = opts.recordSize ?? DEFAULT_RECORD_SIZE;
  if (!(rs >= 4096 && rs <= 16 << 20 && (rs & (rs - 1)) === 0)) throw new RangeError('recordSize must be a power of two from 4 KiB to 16 MiB');
  const snapshots = await SnapshotStore.open(opts.kv, opts.blocks);
  // An encrypted pool seals names in the metadata with its names key (vfs/meta/names.ts).
  const names = opts.names ?? (opts.blocks.namesKey ? nameCipher(opts.blocks.namesKey) : undefined);
  const meta = new MetaStore(snapshots, opts.blocks, rs, names);
  await meta.init(opts.log);
  const impl = new VfsImpl(meta, opts.blocks, snapshots, opts.inlineMax);
  await impl.recover();
  const paths = new PathLayer(impl);
  const beforeClose: (() => Promise<void>)[] = [];
  return {
    vfs: impl,
    paths,
    impl,
    snapshots,
    snapshotVfs(name: string) {
      const view = snapshots.view(name);
      const simpl = new VfsImpl(new MetaStore(view, opts.blocks, rs, names), opts.blocks);
      return { vfs: simpl, paths: new PathLayer(simpl) };
    },
    beforeClose,
    async close() {
      for (const fn of beforeClose) await fn().catch(() => undefined);
      await impl.flushAll();
      await opts.blocks.close();
      await opts.kv.close();
    },
  };
}

/** A VFS on the memory engines (MemoryKv + MemoryBlockStore): for tests and demos, not durable. */
export async function createMemoryVfs(opts: { recordSize?: number; capacity?: number; names?: NameCipher; inlineMax?: number } = {}): Promise<VfsInstance> {
  return openVfs({ kv: new MemoryKv(), blocks: new MemoryBlockStore({ capacity: opts.capacity }), recordSize: opts.recordSize, ...(opts.names ? { names: opts.names } : {}), ...(opts.inlineMax === undefined ? {} : { inlineMax: opts.inlineMax }) });
}
