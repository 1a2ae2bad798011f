/**
 * Loads our system-call addon (native/sys, built by `npm ci` through scripts/build-native.mjs):
 * madvise for the record arena (hugepages.ts), uncached device appends (uncached.ts) and
 * Reed-Solomon parity in the calling thread (gf.ts). Every user treats it as optional: without it
 * (not built, or not Linux) each falls back to what Node and the libraries do alone.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Where `node scripts/build-native.mjs` puts the addon. */
export const SYS_ADDON_PATH = fileURLToPath(new URL('../native/sys/build/Release/dwsys.node', import.meta.url));

/** The addon's functions (native/sys/binding.cc). */
export interface SysAddon {
  /** madvise(MADV_HUGEPAGE) over the 2 MiB pages wholly inside `view`; 0 or the errno. */
  adviseHugePages(view: Uint8Array): number;
  /**
   * One pwritev2(fd, bufs, pos, RWF_DONTCACHE) on libuv's pool: resolves with the bytes written
   * (may be short); rejects with an Error whose `code` is EOPNOTSUPP (the kernel or file system
   * has no uncached writes), EINVAL, ENOSPC, EDQUOT, EBADF or ECANCELED, else EIO, with the
   * system's message and `errno` the negative errno. Throws TypeError on bad arguments.
   */
  writevUncached(fd: number, bufs: Uint8Array[], pos: number): Promise<number>;
  /**
   * Several such writes (`flat`: fd, buffers, position, again for each; 1..64 writes) done in
   * order by one pool thread: one job of the pool for all. Resolves with each write's bytes
   * written or its Error (as writevUncached rejects with). Throws TypeError on bad arguments.
   * (Absent from an addon built before it: optional.)
   */
  writevUncachedBatch?(flat: unknown[]): Promise<(number | Error)[]>;
  /**
   * The m parity shards of the k data shards of `data` (at least k*shardSize bytes) into `parity`
   * (at least m*shardSize, not overlapping `data`; shardSize a multiple of 8), in the calling
   * thread, as XORs of packets chosen by `matrix` (m*8 rows of k*8 bytes: native/sys/gf.h).
   * `simd` false forces the portable loop. Throws TypeError on bad arguments. (Absent from an
   * addon built before it: optional.)
   */
  rsParity?(matrix: Uint8Array, data: Uint8Array, parity: Uint8Array, k: number, m: number, shardSize: number, simd?: boolean): void;
}

let addon: SysAddon | null | undefined;

/** The addon, or null where it is not built or the platform is not Linux. Loaded once. */
export function sysAddon(): SysAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.platform !== 'linux') return addon;
  try {
    addon = createRequire(import.meta.url)(SYS_ADDON_PATH) as SysAddon;
  } catch {
    // not built: callers fall back
  }
  return addon;
}
