/**
 * Large buffers lent out and given back, for the protocol servers' biggest transient buffers:
 * SMB frames and READ responses, NFS records. A fresh buffer of a few MiB costs page faults on
 * first touch, and V8 counts it as external memory, which brings its next full garbage
 * collection sooner; a buffer taken from the pool costs neither.
 *
 * A buffer comes back only through `give`, called by whoever knows that nothing refers to its
 * bytes any more (a request's handler is done; a reply has been written to the socket). One that
 * is never given back is simply collected.
 */
export class BufferPool {
  private readonly spares: ArrayBufferLike[] = [];
  private readonly lent = new WeakSet<ArrayBufferLike>();

  /**
   * `keep`: how many spare buffers the pool holds at most. `shared`: its buffers are
   * SharedArrayBuffers, which a worker thread can read and write in place (SMB's encryption,
   * protocols/smb/crypto/seal-pool.ts).
   */
  constructor(readonly keep: number, readonly shared = false) {}

  /**
   * A buffer of exactly n bytes (contents undefined): a view of a spare at least that large, or
   * of a new one of max(n, size) bytes.
   */
  take(n: number, size = n): Buffer {
    let ab: ArrayBufferLike | undefined;
    while (this.spares.length && !ab) {
      const s = this.spares.pop()!;
      if (s.byteLength >= n) ab = s; // a smaller one is dropped
    }
    ab ??= this.shared ? new SharedArrayBuffer(Math.max(n, size)) : new ArrayBuffer(Math.max(n, size));
    this.lent.add(ab);
    return Buffer.from(ab, 0, n);
  }

  /** Gives back a buffer `take` returned (any view of it); other buffers and repeats are ignored. */
  give(buf: Uint8Array): void {
    const ab = buf.buffer;
    if (!this.lent.delete(ab)) return;
    if (this.spares.length < this.keep) this.spares.push(ab);
  }

  /** Whether `buf` (any view of it) is a buffer lent by this pool and not given back yet. */
  owns(buf: Uint8Array): boolean {
    return this.lent.has(buf.buffer);
  }

  /** Spare buffers held now (for tests). */
  get spareCount(): number {
    return this.spares.length;
  }
}
