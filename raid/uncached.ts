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
 *
 * Batched: the appends asked for in one turn of the event loop (a block's shards reach all its
 * devices in the same turn) go to libuv's pool as one job, written one after the other by one
 * thread. Each job handed to the pool costs the event loop tens of microseconds on this VM (the
 * pool's lock, waking a thread, the completion's wake-up), and a 64 KiB-record volume asked for
 * one append per device per record or two.
 */
import { type SysAddon, sysAddon } from './sysaddon.js';

type Writev = (fd: number, bufs: Uint8Array[], pos: number) => Promise<number>;

/** Most appends in one batch job (the addon takes 64). */
export const MAX_BATCH = 64;

interface Queued { fd: number; bufs: Uint8Array[]; pos: number; resolve: (n: number) => void; reject: (err: unknown) => void }

let queued: Queued[] = [];
let scheduled = false;
let batchJobs = 0;

/** Jobs handed to the pool by the uncached writev since the process started. */
export function uncachedJobs(): number {
  return batchJobs;
}

function flush(a: SysAddon): void {
  scheduled = false;
  const all = queued;
  queued = [];
  for (let at = 0; at < all.length; at += MAX_BATCH) {
    const ops = all.slice(at, at + MAX_BATCH);
    batchJobs++;
    const flat: unknown[] = [];
    for (const o of ops) flat.push(o.fd, o.bufs, o.pos);
    let p: Promise<(number | Error)[]>;
    try {
      p = a.writevUncachedBatch(flat);
    } catch (err) {
      for (const o of ops) o.reject(err);
      continue;
    }
    p.then((results) => {
      for (let i = 0; i < ops.length; i++) {
        const r = results[i];
        if (typeof r === 'number') ops[i]!.resolve(r);
        else ops[i]!.reject(r);
      }
    }, (err: unknown) => { for (const o of ops) o.reject(err); });
  }
}

/**
 * The uncached writev — one append through the addon's writevUncachedBatch (sysaddon.ts),
 * resolving with the bytes written (may be short) or rejecting with that append's Error — or
 * undefined where it is off (DW_UNCACHED=0) or the addon is not built. Calls made in one turn of
 * the event loop are written together, as one job of the pool, when the turn ends (setImmediate).
 */
export function uncachedWritev(): Writev | undefined {
  if (process.env.DW_UNCACHED === '0') return undefined;
  const a = sysAddon();
  if (!a) return undefined;
  return (fd, bufs, pos) => new Promise<number>((resolve, reject) => {
    queued.push({ fd, bufs, pos, resolve, reject });
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush, a);
    }
  });
}

/** Whether a failed uncached write means "not here" (plain writes then), rather than an I/O error. */
export function uncachedUnsupported(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EOPNOTSUPP' || code === 'EINVAL';
}
