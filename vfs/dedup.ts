/**
 * Per-directory deduplication (issue 5: "per pool, on or off per directory"). The setting lives
 * on the inode (vfs/meta/inode.ts `dedup`: DEDUP_INHERIT 0, DEDUP_OFF 1, DEDUP_ON 2) and is
 * copied from the parent when a file or directory is created, as compression is
 * (vfs/compression.ts); `inherit` means the pool's setting (pool row `dedup`).
 *
 * A dedup file stores each record with BlockStore.putChunks: cut into content-defined chunks
 * (raid/chunker.ts), a chunk whose content the pool already holds costs a reference, not a copy. Blocks stored before the setting changed keep how they were stored.
 */
import { Errno, VfsError } from './errno.js';
import { DEDUP_INHERIT, DEDUP_OFF, DEDUP_ON } from './meta/inode.js';

const TEXT: Record<number, string> = { [DEDUP_INHERIT]: 'inherit', [DEDUP_OFF]: 'off', [DEDUP_ON]: 'on' };

/** The inode code of `on`, `off` or `inherit`; EINVAL naming the three otherwise. */
export function parseDirDedup(text: string): number {
  const t = String(text).trim().toLowerCase();
  for (const [code, name] of Object.entries(TEXT)) if (name === t) return Number(code);
  throw new VfsError(Errno.EINVAL, `dedup setting must be on, off or inherit (the pool's), got ${JSON.stringify(text)}`);
}

/** 'on', 'off' or 'inherit' for an inode code (an unknown code reads as inherit). */
export function formatDirDedup(code: number): string {
  return TEXT[code] ?? 'inherit';
}

/** The file's own setting for OpenFile.dedup: true, false, or undefined (the pool's). */
export function dedupOfCode(code: number): boolean | undefined {
  return code === DEDUP_ON ? true : code === DEDUP_OFF ? false : undefined;
}
