/**
 * Splits the SFTP byte stream into packets (draft-02 section 3: uint32 length, then that many
 * bytes: type byte + body). Sans-IO: feed chunks as they arrive, take whole packets out.
 * A length of 0 or above `maxPacket` is a framing error: the stream cannot be resynchronized,
 * so the caller closes the channel.
 */
import { MAX_PACKET } from './constants.js';

export class FramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FramingError';
  }
}

export class PacketFramer {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed = false;

  constructor(private readonly maxPacket = MAX_PACKET) {}

  /** Bytes held that do not yet form a whole packet. */
  get pending(): number {
    return this.buffered;
  }

  /**
   * Adds a chunk and returns every packet it completes (type byte first, no length prefix).
   * Throws FramingError on a bad length; after that every call throws.
   */
  push(chunk: Uint8Array): Buffer[] {
    if (this.failed) throw new FramingError('stream already failed');
    if (chunk.length) {
      this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.buffered += chunk.length;
    }
    const out: Buffer[] = [];
    while (this.buffered >= 4) {
      const len = this.peekLength();
      if (len === 0 || len > this.maxPacket) {
        this.failed = true;
        this.chunks = [];
        this.buffered = 0;
        throw new FramingError(len === 0 ? 'packet length 0' : `packet length ${len} exceeds ${this.maxPacket}`);
      }
      if (this.buffered < 4 + len) break;
      this.take(4);
      out.push(this.take(len));
    }
    return out;
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.alloc(4);
    let got = 0;
    for (const c of this.chunks) {
      const n = Math.min(4 - got, c.length);
      c.copy(head, got, 0, n);
      got += n;
      if (got === 4) break;
    }
    return head.readUInt32BE(0);
  }

  /** Removes and returns the next n buffered bytes (a view when they lie in one chunk). */
  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0]!;
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const c = this.chunks[0]!;
      const k = Math.min(n - got, c.length);
      c.copy(out, got, 0, k);
      got += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}
