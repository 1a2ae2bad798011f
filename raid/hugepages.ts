/**
 * Transparent huge pages for record memory, through our system-call addon (native/sys,
 * sysaddon.ts). Off unless DW_HUGEPAGES=1.
 *
 * Why it exists: every new 4 KiB page of the record arena costs a page fault on first touch, and
 * advised with MADV_HUGEPAGE the kernel backs the memory with 2 MiB pages where it can: one fault
 * per 2 MiB. It was on by default at first (0036dea), while each new page faulted twice (the
 * prefault helper read before it wrote, prefault.ts) and 100 huge-page faults beat 102,400 small
 * ones. With one fault per page it lost. A fresh server's 200 MiB NFS write: the helper 0.50–0.55 s
 * of system time in huge pages (zeroing them, in clear_page_erms) against 0.06–0.07 s in small
 * ones, 266–362 against 327–406 MiB/s (docs/benchmarks.md, 2026-12-02). The likely reason, not
 * traced: a 2 MiB page takes a whole free 2 MiB block, which this VM's host may have taken back
 * (free page reporting) and must supply anew, where 4 KiB pages come from memory used lately. Where new memory is cheap, huge pages may still
 * pay (fewer TLB misses); DW_HUGEPAGES=1 turns them on.
 *
 * Without the addon (not built: `node scripts/build-native.mjs` says why), or where the kernel's
 * transparent_hugepage setting is "never", memory stays in 4 KiB pages whatever the setting. A
 * huge page is allocated whole on first touch, so an arena's resident memory grows in steps of
 * up to 2 MiB.
 */
import { type SysAddon, sysAddon } from './sysaddon.js';

function load(): SysAddon | null {
  return process.env.DW_HUGEPAGES === '1' ? sysAddon() : null;
}

/** Whether huge pages can be asked for (DW_HUGEPAGES=1 and the addon loaded). */
export function hugePagesAvailable(): boolean {
  return load() !== null;
}

/**
 * Asks the kernel to back the 2 MiB-aligned pages wholly inside `view` with huge pages. Best
 * effort: returns whether the advice was given (false without the addon, or when madvise
 * failed — EINVAL where the kernel has no transparent huge pages). Never throws.
 */
export function adviseHugePages(view: Uint8Array): boolean {
  const a = load();
  if (!a) return false;
  try {
    return a.adviseHugePages(view) === 0;
  } catch {
    return false;
  }
}
