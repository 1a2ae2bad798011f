import { Errno, VfsError } from '../vfs/errno.js';
import type { Layout } from './types.js';

/**
 * How shards relate to each other:
 * - 'rs': k data shards + m Reed-Solomon parity shards (m ≥ 1); any k good shards recover the block.
 * - 'copy': m is a multiple of k and shard j (j ≥ k) is a copy of data shard j mod k
 *   (mirror: k = 1; raid10: m = k). Recoverable while every data index has one good copy.
 * - 'stripe': m = 0 (raid0); every shard is needed.
 */
export type LayoutKind = 'rs' | 'copy' | 'stripe';

/** A parsed layout, with the codec kind the block store needs. Compatible with `Layout`. */
export interface PoolLayout extends Layout {
  readonly kind: LayoutKind;
}

/** Largest k and m accepted (issue 2: K ≤ 16, M ≤ 4). */
export const MAX_K = 16;
export const MAX_M = 4;

function bad(text: string, why: string): never {
  throw new VfsError(Errno.EINVAL, `bad layout '${text}': ${why}`);
}

function make(name: string, kind: LayoutKind, k: number, m: number): PoolLayout {
  return { name, kind, k, m, devices: k + m };
}

/**
 * Parses a layout's text form. Accepted (case-insensitive, surrounding spaces ignored):
 * `mirror:N` (N = 2..5 copies), `raid0:N` (N = 1..16), `raid5:N` (N = 3..17, k = N-1, m = 1),
 * `raid6:N` (N = 4..18, k = N-2, m = 2), `raid10:N` (N even, 4..32: N/2 mirrored pairs),
 * `rs:K+M` (K = 1..16, M = 0..4).
 * Throws VfsError(EINVAL) naming what is wrong for anything else.
 */
export function parseLayout(text: string): PoolLayout {
  if (typeof text !== 'string') bad(String(text), 'not a string');
  if (text.length > 32) bad(text.slice(0, 32) + '…', 'too long');
  const t = text.trim().toLowerCase();
  const m = /^([a-z0-9]+):(.*)$/.exec(t);
  if (!m) bad(text, "expected KIND:N or rs:K+M, e.g. 'rs:4+2', 'raid6:6', 'mirror:2'");
  const kind = m[1]!;
  const arg = m[2]!;
  const int = (s: string, what: string): number => {
    if (!/^[0-9]{1,3}$/.test(s)) bad(text, `${what} must be a whole number`);
    return Number(s);
  };
  const range = (n: number, lo: number, hi: number, what: string) => {
    if (n < lo || n > hi) bad(text, `${what} must be ${lo}..${hi}, got ${n}`);
  };
  switch (kind) {
    case 'rs': {
      const p = /^([^+]*)\+([^+]*)$/.exec(arg);
      if (!p) bad(text, "expected rs:K+M, e.g. 'rs:4+2'");
      const k = int(p[1]!, 'K'), mm = int(p[2]!, 'M');
      range(k, 1, MAX_K, 'K (data shards)');
      range(mm, 0, MAX_M, 'M (parity shards)');
      return make(`rs:${k}+${mm}`, mm === 0 ? 'stripe' : k === 1 ? 'copy' : 'rs', k, mm);
    }
    case 'mirror': {
      const n = int(arg, 'N');
      range(n, 2, MAX_M + 1, 'mirror copies N');
      return make(`mirror:${n}`, 'copy', 1, n - 1);
    }
    case 'raid0': {
      const n = int(arg, 'N');
      range(n, 1, MAX_K, 'raid0 devices N');
      return make(`raid0:${n}`, 'stripe', n, 0);
    }
    case 'raid5': {
      const n = int(arg, 'N');
      range(n, 3, MAX_K + 1, 'raid5 devices N');
      return make(`raid5:${n}`, 'rs', n - 1, 1);
    }
    case 'raid6': {
      const n = int(arg, 'N');
      range(n, 4, MAX_K + 2, 'raid6 devices N');
      return make(`raid6:${n}`, 'rs', n - 2, 2);
    }
    case 'raid10': {
      const n = int(arg, 'N');
      range(n, 4, 2 * MAX_K, 'raid10 devices N');
      if (n % 2) bad(text, 'raid10 needs an even number of devices');
      return make(`raid10:${n}`, 'copy', n / 2, n / 2);
    }
    default:
      return bad(text, `unknown kind '${kind}' (mirror, raid0, raid5, raid6, raid10, rs)`);
  }
}

/** The shard that shard `j` copies, for 'copy' layouts (itself for data shards). */
export function copyOf(layout: { k: number }, j: number): number {
  return j % layout.k;
}

/**
 * Whether a block can be read given which shards are good (`good[j]` for j < k+m), and if so
 * which shards to decode from. Pure; used by get, scrub and rebuild.
 */
export function recoverable(layout: PoolLayout, good: readonly boolean[]): boolean {
  const n = layout.k + layout.m;
  switch (layout.kind) {
    case 'stripe':
      for (let j = 0; j < n; j++) if (!good[j]) return false;
      return true;
    case 'copy': {
      for (let i = 0; i < layout.k; i++) {
        let ok = false;
        for (let j = i; j < n; j += layout.k) if (good[j]) { ok = true; break; }
        if (!ok) return false;
      }
      return true;
    }
    case 'rs': {
      let c = 0;
      for (let j = 0; j < n; j++) if (good[j]) c++;
      return c >= layout.k;
    }
  }
}

/** How many device losses every block of this layout survives. */
export function faultTolerance(layout: PoolLayout): number {
  return layout.kind === 'copy' ? Math.floor(layout.m / layout.k) : layout.m;
}
