/**
 * Transparent huge pages for record memory, through our system-call addon (native/sys, sysaddon.ts).
 *
 * Why: every new 4 KiB page of the record arena costs a page fault on first touch; on this
 * machine (a paravirtualised VM) about 12 µs, 3 ms per MiB, and a fresh server taking a 200 MiB
 * write faulted in 51,200 of them. Advised with MADV_HUGEPAGE, the kernel backs the memory with
 * 2 MiB pages where it can: one fault per 2 MiB. 512 MiB of new wasm memory faulted in 1.8–2.6 s
 * in small pages and 0.1–1.3 s in huge pages here (docs/benchmarks.md, 2026-12-02).
 *
 * Optional: without the addon (not built: `node scripts/build-native.mjs` says why), with
 * DW_HUGEPAGES=0, or where the kernel's transparent_hugepage setting is "never", memory stays in
 * 4 KiB pages and nothing else changes. A huge page is allocated whole on first touch, so an
 * arena's resident memory grows in steps of up to 2 MiB.
 */
import { type SysAddon, sysAddon } from './sysaddon.js';

function load(): SysAddon | null {
  return process.env.DW_HUGEPAGES === '0' ? null : sysAddon();
}

/** Whether huge pages can be asked for (the addon loaded and DW_HUGEPAGES is not 0). */
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
