/**
 * Direct TCP transport framing (MS-SMB2 2.1): every SMB2 message (or compound, or
 * TRANSFORM_HEADER message) travels as a 4-byte header — one zero byte, then the length as a
 * 24-bit big-endian number — followed by that many bytes. Sans-IO: bytes in, whole frames out.
 */

/** A frame that cannot be accepted; the connection is dropped. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** The transport allows 2^24 - 1 bytes per frame. */
export const MAX_TRANSPORT_FRAME = 0xffffff;

/**
 * Splits a TCP byte stream into frames. `push` returns the frames completed by the new bytes
 * (views or copies, in order) and throws FrameError when a header's first byte is not zero or a
 * length is above `maxFrame` (the server then drops the connection, MS-SMB2 3.3.5.2: a message
 * larger than the server accepts). A zero-length frame is returned as an empty buffer (the
 * caller drops the connection too: no valid message is empty). At most `maxFrame` + 4 bytes are
 * buffered.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private have = 0;

  constructor(readonly maxFrame: number) {
    if (!Number.isInteger(maxFrame) || maxFrame < 64 || maxFrame > MAX_TRANSPORT_FRAME) throw new RangeError(`maxFrame ${maxFrame} outside 64..${MAX_TRANSPORT_FRAME}`);
  }

  /** Bytes received but not yet part of a returned frame. */
  get buffered(): number {
    return this.have;
  }

  push(data: Buffer): Buffer[] {
    if (data.length) {
      this.chunks.push(data);
      this.have += data.length;
    }
    const out: Buffer[] = [];
    for (;;) {
      if (this.have < 4) return out;
      const head = this.peek(4);
      if (head[0] !== 0) throw new FrameError(`transport header starts with 0x${head[0]!.toString(16)} (want 0)`);
      const len = (head[1]! << 16) | (head[2]! << 8) | head[3]!;
      if (len > this.maxFrame) throw new FrameError(`frame of ${len} bytes (max ${this.maxFrame})`);
      if (this.have < 4 + len) return out;
      const all = this.take(4 + len);
      out.push(all.subarray(4));
    }
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    const b = Buffer.concat(this.chunks);
    this.chunks = [b];
    return b.subarray(0, n);
  }

  private take(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    const first = this.chunks[0]!;
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.have -= n;
    return out;
  }
}

/** The 4-byte Direct TCP header for a message of `length` bytes. Throws RangeError above 2^24 - 1. */
export function frameHeader(length: number): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > MAX_TRANSPORT_FRAME) throw new RangeError(`frame length ${length}`);
  return Buffer.from([0, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff]);
}
