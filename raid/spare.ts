/**
 * Spare whole buffers of one size at a time, shared by the process: the VFS's record buffers
 * (vfs/file.ts takes one per record it fills) and the blocks the block cache lets go of
 * (raid/store.ts gives back an adopted record it evicts, if nothing outside ever saw it).
 *
 * Why: a fresh 1 MiB buffer is 256 page faults on first touch, and V8 counts it as external
 * memory, which brings its next full garbage collection sooner (about one per 64 MiB of new
 * buffers). A streaming writer that takes a spare pays neither.
 *
 * Only buffers that own their whole backing memory (offset 0, full length) are kept; when the
 * size asked for changes (another record size), the spares of the old size are dropped.
 */

/** Most bytes the spares hold. */
export const SPARE_BYTES = 32 << 20;

const spares: Buffer[] = [];

/** A buffer of exactly `size` bytes, contents undefined: a spare when one fits, else a new one. */
export function takeSpare(size: number): Buffer {
  const b = spares.pop();
  if (b && b.length === size) return b;
  if (b) spares.length = 0; // another size: the rest are of that size too
  return Buffer.allocUnsafeSlow(size);
}

/**
 * Gives `buf` back for reuse. The caller promises that nothing refers to its bytes any more.
 * Ignored for a view of a larger buffer, and when the spares are full.
 */
export function giveSpare(buf: Buffer): void {
  if (buf.byteOffset !== 0 || buf.length !== buf.buffer.byteLength || buf.length === 0) return;
  if (spares.length && spares[0]!.length !== buf.length) spares.length = 0; // the record size changed
  if ((spares.length + 1) * buf.length > SPARE_BYTES) return;
  spares.push(buf);
}

/** How many spares are held (for tests). */
export function spareCount(): number {
  return spares.length;
}
