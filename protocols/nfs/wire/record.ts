/**
 * Record marking for RPC over TCP (RFC 5531 section 11): each record is one or more fragments,
 * each preceded by a 4-byte mark whose top bit says "last fragment" and whose low 31 bits give
 * the fragment's length. Sans-IO: push socket bytes in, take whole records out.
 */
import { BufferPool } from '../../../vfs/bufpool.js';
import { ByteQueue } from '../../../vfs/bytequeue.js';
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
  private readonly q = new ByteQueue();
  private fragments: Buffer[] = [];
  private recordLen = 0;

  constructor(private readonly maxRecord = DEFAULT_MAX_RECORD) {}

  /** Feeds bytes; returns the records completed by them. Throws XdrError on a record too large (close the connection). */
  push(data: Buffer): Buffer[] {
    const q = this.q;
    q.push(data);
    const out: Buffer[] = [];
    for (;;) {
      if (q.length < 4) break;
      const mark = q.peek(4).readUInt32BE(0);
      const len = mark & 0x7fffffff;
      if (this.recordLen + len > this.maxRecord) throw new XdrError(`record too large: ${this.recordLen + len} bytes (max ${this.maxRecord})`);
      if (q.length < 4 + len) break;
      q.skip(4);
      if (this.fragments.length >= MAX_FRAGMENTS) throw new XdrError(`record of more than ${MAX_FRAGMENTS} fragments`);
      const last = (mark & LAST) !== 0;
      // A record in one fragment (the usual case) is taken straight into its own buffer.
      const whole = last && this.fragments.length === 0;
      this.fragments.push(q.take(len, whole && len >= RECYCLE_MIN ? (n) => records.take(n, this.maxRecord) : undefined));
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
