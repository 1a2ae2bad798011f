/**
 * Uncached device appends: large appends written with pwritev2(RWF_DONTCACHE) through our
 * system-call addon (native/sys, sysaddon.ts).
 *
 * Why: a device append goes through the page cache, and a server that writes a lot keeps taking
 * new page-cache pages (the segment files only grow; nothing written is overwritten in place).
 * On this machine (a paravirtualised VM) a new page cost its first touch: writing 1.5 GiB into a
 * new file took 3.8–4.1 s of CPU while the page cache grew, 0.23–0.31 s with RWF_DONTCACHE in
 * page-aligned writes and 0.83–0.92 s in writes that start mid-page (as shard appends do), and
 * the write-back was then already done (docs/benchmarks.md, 2026-12-02). The block store keeps
 * the records it wrote in its own cache (spare.ts), so the page cache's second copy served
 * nothing but reads that miss that cache.
 *
 * With RWF_DONTCACHE (Linux 6.14 and later, on file systems that support it: ext4 here; tmpfs
 * answers EOPNOTSUPP) the kernel copies the bytes into the page cache as usual, starts their write-back
 * at once and drops the pages when it is done. Durability is unchanged: sync() still fdatasyncs.
 *
 * Optional: without the addon, with DW_UNCACHED=0, or where the kernel or the file system answers
 * EOPNOTSUPP (or EINVAL), appends are plain writes; a device finds out on its first large append.
 */
import { sysAddon } from './sysaddon.js';

/** The uncached writev, or undefined where it is off (DW_UNCACHED=0) or the addon is not built. */
export function uncachedWritev(): ((fd: number, bufs: Uint8Array[], pos: number) => Promise<number>) | undefined {
  if (process.env.DW_UNCACHED === '0') return undefined;
  const a = sysAddon();
  return a ? a.writevUncached : undefined;
}

/** Whether a failed uncached write means "not here" (plain writes then), rather than an I/O error. */
export function uncachedUnsupported(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EOPNOTSUPP' || code === 'EINVAL';
}
