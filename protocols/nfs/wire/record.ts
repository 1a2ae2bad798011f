/**
 * Record marking for RPC over TCP (RFC 5531 section 11): each record is one or more fragments,
 * each preceded by a 4-byte mark whose top bit says "last fragment" and whose low 31 bits give
 * the fragment's length. Sans-IO: push socket bytes in, take whole records out.
 */
import { BufferPool } from '../../../vfs/bufpool.js';
import { XdrError } from './xdr.js';

const LAST = 0x80000000;

/** Default largest record accepted: 1 MiB of WRITE data plus room for headers. */
export const DEFAULT_MAX_RECORD = (1 << 20) + 64 * 1024;

/** Most fragments one record may have (empty fragments would otherwise cost memory for free). */
export const MAX_FRAGMENTS = 1024;

/** Records of at least this many bytes are assembled in recycled buffers (see `RecordDecoder.release`). */
export const RECYCLE_MIN = 256 * 1024;
/** Recycled record buffers (see `RecordDecoder.release`). */
const records = new BufferPool(8);

/**
 * Reassembles records from a byte stream; a record above `maxRecord` bytes is an error.
 *
 * A record that spans socket chunks (or fragments) is copied once, exactly its bytes; one of
 * RECYCLE_MIN bytes or more (a large WRITE) into a recycled buffer when one is free: fresh memory
 * costs page faults and brings V8's next full garbage collection closer (it counts external
 * memory). The caller gives such a record back with `release` once nothing refers to its bytes.
 */
export class RecordDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private fragments: Buffer[] = [];
  private recordLen = 0;

  constructor(private readonly maxRecord = DEFAULT_MAX_RECORD) {}

  /** Feeds bytes; returns the records completed by them. Throws XdrError on a record too large (close the connection). */
  push(data: Buffer): Buffer[] {
    this.chunks.push(data);
    this.buffered += data.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const mark = this.peekMark();
      const len = mark & 0x7fffffff;
      if (this.recordLen + len > this.maxRecord) throw new XdrError(`record too large: ${this.recordLen + len} bytes (max ${this.maxRecord})`);
      if (this.buffered < 4 + len) break;
      this.skip(4);
      if (this.fragments.length >= MAX_FRAGMENTS) throw new XdrError(`record of more than ${MAX_FRAGMENTS} fragments`);
      const last = (mark & LAST) !== 0;
      // A record in one fragment (the usual case) is taken straight into its own buffer.
      this.fragments.push(last && this.fragments.length === 0 ? this.take(len, len) : this.take(len, 0));
      this.recordLen += len;
      if (last) {
        out.push(this.fragments.length === 1 ? this.fragments[0]! : join(this.fragments, this.recordLen));
        this.fragments = [];
        this.recordLen = 0;
      }
    }
    return out;
  }

  /**
   * Gives back a record `push` returned, once nothing refers to its bytes (its call is answered,
   * the reply holds no view of it). Only records assembled in a recycled-size buffer are kept;
   * any other buffer is ignored, and so is a second release.
   */
  static release(record: Buffer): void {
    records.give(record);
  }

  private peekMark(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    let m = 0, got = 0;
    for (const c of this.chunks) {
      for (let i = 0; i < c.length && got < 4; i++, got++) m = m * 256 + c[i]!;
      if (got === 4) break;
    }
    return m;
  }

  private skip(n: number): void {
    this.buffered -= n;
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

  /** The next n bytes: a view when they lie in one chunk, else a copy (recyclable when `whole` is large). */
  private take(n: number, whole: number): Buffer {
    if (n === 0) return Buffer.alloc(0); // an empty fragment (the chunk list may be empty)
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      this.skip(n);
      return out;
    }
    const out = whole >= RECYCLE_MIN ? records.take(n, this.maxRecord) : Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      this.skip(k);
    }
    return out;
  }
}

/** Fragments joined into one record (recyclable when large). */
function join(parts: Buffer[], n: number): Buffer {
  const out = n >= RECYCLE_MIN ? records.take(n) : Buffer.allocUnsafe(n);
  let at = 0;
  for (const p of parts) at += p.copy(out, at);
  return out;
}

/** The 4-byte mark of a record of `len` bytes sent as one last fragment. */
export function recordMark(len: number): Buffer {
  if (len > 0x7fffffff) throw new RangeError('record too large');
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE((LAST | len) >>> 0, 0);
  return out;
}

/** One record as a single last fragment, ready for the socket. */
export function frameRecord(msg: Uint8Array): Buffer {
  if (msg.length > 0x7fffffff) throw new RangeError('record too large');
  const out = Buffer.allocUnsafe(4 + msg.length);
  out.writeUInt32BE((LAST | msg.length) >>> 0, 0);
  out.set(msg, 4);
  return out;
}
