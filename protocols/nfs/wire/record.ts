/**
 * Record marking for RPC over TCP (RFC 5531 section 11): each record is one or more fragments,
 * each preceded by a 4-byte mark whose top bit says "last fragment" and whose low 31 bits give
 * the fragment's length. Sans-IO: push socket bytes in, take whole records out.
 */
import { XdrError } from './xdr.js';

const LAST = 0x80000000;

/** Default largest record accepted: 1 MiB of WRITE data plus room for headers. */
export const DEFAULT_MAX_RECORD = (1 << 20) + 64 * 1024;

/** Most fragments one record may have (empty fragments would otherwise cost memory for free). */
export const MAX_FRAGMENTS = 1024;

/** Reassembles records from a byte stream; a record above `maxRecord` bytes is an error. */
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
      const head = this.peek(4);
      const mark = head.readUInt32BE(0);
      const len = mark & 0x7fffffff;
      if (this.recordLen + len > this.maxRecord) throw new XdrError(`record too large: ${this.recordLen + len} bytes (max ${this.maxRecord})`);
      if (this.buffered < 4 + len) break;
      this.take(4);
      if (this.fragments.length >= MAX_FRAGMENTS) throw new XdrError(`record of more than ${MAX_FRAGMENTS} fragments`);
      this.fragments.push(this.take(len));
      this.recordLen += len;
      if (mark & LAST) {
        out.push(this.fragments.length === 1 ? this.fragments[0]! : Buffer.concat(this.fragments, this.recordLen));
        this.fragments = [];
        this.recordLen = 0;
      }
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n);
    const all = Buffer.concat(this.chunks);
    this.chunks = [all];
    return all.subarray(0, n);
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0); // an empty fragment (the chunk list may be empty)
    let out: Buffer;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.buffered -= n;
    return out;
  }
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
