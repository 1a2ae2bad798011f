/**
 * Direct TCP transport framing (MS-SMB2 2.1): every SMB2 message (or compound, or
 * TRANSFORM_HEADER message) travels as a 4-byte header — one zero byte, then the length as a
 * 24-bit big-endian number — followed by that many bytes. Sans-IO: bytes in, whole frames out.
 */
import { BufferPool } from '../../vfs/bufpool.js';
import { ByteQueue } from '../../vfs/bytequeue.js';

/** A frame that cannot be accepted; the connection is dropped. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** The transport allows 2^24 - 1 bytes per frame. */
export const MAX_TRANSPORT_FRAME = 0xffffff;

/** Frames of at least this many bytes are assembled in recycled buffers (see `FrameDecoder.release`). */
export const RECYCLE_MIN = 1 << 20;
/** Recycled frame buffers, each as large as the largest frame (see `FrameDecoder.release`). */
const frames = new BufferPool(4);

/**
 * Splits a TCP byte stream into frames. `push` returns the frames completed by the new bytes
 * (views or copies, in order) and throws FrameError when a header's first byte is not zero or a
 * length is above `maxFrame` (the server then drops the connection, MS-SMB2 3.3.5.2: a message
 * larger than the server accepts). A zero-length frame is returned as an empty buffer (the
 * caller drops the connection too: no valid message is empty). At most `maxFrame` + 4 bytes are
 * buffered.
 *
 * A frame that spans socket chunks is copied once, exactly its bytes; one of RECYCLE_MIN bytes
 * or more (a large WRITE) is copied into a recycled buffer when one is free. Fresh memory costs
 * more than the copy: every new 8 MiB frame is page faults, and external memory that brings a
 * full garbage collection sooner. The caller gives such a frame back with `release` once nothing
 * refers to its bytes any more; frames not released are simply collected.
 */
export class FrameDecoder {
  private readonly q = new ByteQueue();

  constructor(readonly maxFrame: number) {
    if (!Number.isInteger(maxFrame) || maxFrame < 64 || maxFrame > MAX_TRANSPORT_FRAME) throw new RangeError(`maxFrame ${maxFrame} outside 64..${MAX_TRANSPORT_FRAME}`);
  }

  /** Bytes received but not yet part of a returned frame. */
  get buffered(): number {
    return this.q.length;
  }

  push(data: Buffer): Buffer[] {
    const q = this.q;
    q.push(data);
    const out: Buffer[] = [];
    for (;;) {
      if (q.length < 4) return out;
      const head = q.peek(4);
      if (head[0] !== 0) throw new FrameError(`transport header starts with 0x${head[0]!.toString(16)} (want 0)`);
      const len = (head[1]! << 16) | (head[2]! << 8) | head[3]!;
      if (len > this.maxFrame) throw new FrameError(`frame of ${len} bytes (max ${this.maxFrame})`);
      if (q.length < 4 + len) return out;
      q.skip(4);
      out.push(q.take(len, len >= RECYCLE_MIN ? (n) => frames.take(n, this.maxFrame) : undefined));
    }
  }

  /**
   * Gives back a frame `push` returned, once nothing refers to its bytes (its handler is done and
   * no reply is a view of it). Only frames assembled in a recycled-size buffer are kept; any other
   * buffer is ignored, and so is a second release of the same frame.
   */
  static release(frame: Buffer): void {
    frames.give(frame);
  }
}

/** The 4-byte Direct TCP header for a message of `length` bytes. Throws RangeError above 2^24 - 1. */
export function frameHeader(length: number): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > MAX_TRANSPORT_FRAME) throw new RangeError(`frame length ${length}`);
  return Buffer.from([0, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff]);
}
