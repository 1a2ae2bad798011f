/**
 * Bytes received from a socket and not consumed yet, kept as the chunks they arrived in. The
 * protocols' framing decoders (SMB Direct TCP, RPC record marking, iSCSI PDUs) read through it,
 * so that a frame within one chunk is a view of it and one across chunks is copied exactly once.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private held = 0;

  /** Bytes held. */
  get length(): number {
    return this.held;
  }

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.chunks.push(b);
    this.held += b.length;
  }

  /** The first n bytes (n ≤ length), not removed: a view of the first chunk, or a copy of just those bytes. */
  peek(n: number): Buffer {
    const first = this.chunks[0];
    if (n === 0 || !first) return Buffer.alloc(0);
    if (first.length >= n) return first.subarray(0, n);
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    for (const c of this.chunks) {
      at += c.copy(out, at, 0, Math.min(c.length, n - at));
      if (at === n) break;
    }
    return out;
  }

  /** Drops the first n bytes (n ≤ length). */
  skip(n: number): void {
    this.held -= n;
    while (n > 0) {
      const first = this.chunks[0]!;
      if (first.length <= n) {
        this.chunks.shift();
        n -= first.length;
      } else {
        this.chunks[0] = first.subarray(n);
        n = 0;
      }
    }
  }

  /** Removes the first dst.length bytes (≤ length), copying them into `dst`. */
  takeInto(dst: Uint8Array): void {
    const n = dst.length;
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - at);
      c.copy(dst, at, 0, k);
      at += k;
      this.skip(k);
    }
  }

  /**
   * Removes and returns the first n bytes (n ≤ length): a view when they lie in one chunk (the
   * socket hands each read a buffer of its own, which nothing else writes), else copied once into
   * `alloc(n)` — a fresh buffer unless the caller lends one of its own (a recycled one).
   */
  take(n: number, alloc: (n: number) => Buffer = Buffer.allocUnsafe): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      this.skip(n);
      return out;
    }
    const out = alloc(n);
    this.takeInto(out);
    return out;
  }
}
