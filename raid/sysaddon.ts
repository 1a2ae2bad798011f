/**
 * Loads our system-call addon (native/sys, built by `npm ci` through scripts/build-native.mjs):
 * madvise for the record arena (hugepages.ts, prefault.ts), uncached device appends (uncached.ts) and
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
   * madvise(MADV_POPULATE_WRITE) over the 4 KiB pages wholly inside `view` (contents unchanged);
   * 0 or the errno (EINVAL before Linux 5.14). Used by the prefault helper (prefault.ts).
   */
  populateWrite(view: Uint8Array): number;
  /**
   * Appends (`flat`: fd, buffers, position, again for each; 1..64 of them) done in order by one
   * libuv pool thread, one job for all: each one pwritev2(RWF_DONTCACHE) up to its last page
   * boundary and a plain pwritev2 of the partial page after it. Resolves with each append's bytes
   * written (short if it failed part way) or its Error, whose `code` is EOPNOTSUPP (the kernel or
   * file system has no uncached writes), EINVAL, ENOSPC, EDQUOT, EBADF or ECANCELED, else EIO,
   * with the system's message and `errno` the negative errno. Throws TypeError on bad arguments.
   */
  writevUncachedBatch(flat: unknown[]): Promise<(number | Error)[]>;
  /**
   * The m parity shards of the k data shards of `data` (at least k*shardSize bytes) into `parity`
   * (at least m*shardSize, not overlapping `data`; shardSize a multiple of 8), in the calling
   * thread, as XORs of packets chosen by `matrix` (m*8 rows of k*8 bytes: native/sys/gf.h).
   * `simd` false forces the portable loop. Throws TypeError on bad arguments.
   */
  rsParity(matrix: Uint8Array, data: Uint8Array, parity: Uint8Array, k: number, m: number, shardSize: number, simd?: boolean): void;
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
