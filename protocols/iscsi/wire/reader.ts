/**
 * The one bounds-checked big-endian reader every iSCSI-side decoder goes through, and its writer
 * (sans-IO: bytes in, values out). iSCSI PDUs (RFC 7143 section 11) and SCSI CDBs, parameter
 * lists and sense data (SPC-4 section 4.3, SBC-3) are big-endian ("network byte order") with the
 * most significant byte first. Every variable-length read names its maximum; anything short or
 * too long throws `WireError`. This file is iSCSI's own: protocols do not share code.
 */

/**
 * Malformed iSCSI or SCSI bytes. Subclasses say how the target answers: `PduError` (pdu.ts, a
 * Reject PDU with a reason code), `TextError` (text.ts, a Login/Text "Reject" or a login status),
 * `CdbError` (scsi.ts, CHECK CONDITION with sense data).
 */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

export class Reader {
  private pos: number;
  private readonly end: number;

  /** Reads `buf[start, end)`. */
  constructor(readonly buf: Buffer, start = 0, end = buf.length) {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > buf.length || start > end) {
      throw new WireError('reader window out of range');
    }
    this.pos = start;
    this.end = end;
  }

  /** Bytes left unread. */
  remaining(): number {
    return this.end - this.pos;
  }

  /** Absolute position of the next read in `buf`. */
  position(): number {
    return this.pos;
  }

  private need(n: number, what: string): void {
    if (!Number.isInteger(n) || n < 0 || this.end - this.pos < n) {
      throw new WireError(`truncated ${what}: need ${n} bytes, have ${this.end - this.pos}`);
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  /** 24-bit big-endian unsigned (DataSegmentLength, RFC 7143 section 11.2.1.5). */
  u24(what = 'u24'): number {
    this.need(3, what);
    const v = (this.buf[this.pos]! << 16) | (this.buf[this.pos + 1]! << 8) | this.buf[this.pos + 2]!;
    this.pos += 3;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** uint64 as a bigint, 0..2^64-1 (LUN, LBA, reservation keys). */
  u64(what = 'u64'): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** `n` bytes as a view (not a copy); `n` must not exceed `max`. */
  bytes(n: number, max: number, what = 'bytes'): Buffer {
    if (!Number.isInteger(n) || n < 0) throw new WireError(`${what}: bad length ${n}`);
    if (n > max) throw new WireError(`${what} too long: ${n} bytes (max ${max})`);
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** Skips `n` bytes (reserved fields, padding). */
  skip(n: number, what = 'padding'): this {
    this.need(n, what);
    this.pos += n;
    return this;
  }

  /** Moves to absolute position `abs` inside the window. */
  seek(abs: number, what = 'seek'): this {
    if (!Number.isInteger(abs) || abs < 0 || abs > this.end) throw new WireError(`${what}: position ${abs} outside the window`);
    this.pos = abs;
    return this;
  }

  /** A reader over the next `length` bytes; this reader skips past them. */
  sub(length: number, what = 'sub'): Reader {
    this.need(length, what);
    const r = new Reader(this.buf, this.pos, this.pos + length);
    this.pos += length;
    return r;
  }

  /** Throws unless every byte was read. */
  done(what = 'message'): void {
    if (this.pos !== this.end) throw new WireError(`${what}: ${this.end - this.pos} trailing bytes`);
  }
}

/** Growable big-endian encoder, the counterpart of Reader. */
export class Writer {
  private buf: Buffer;
  private pos = 0;

  constructor(initial = 64) {
    this.buf = Buffer.alloc(Math.max(16, initial));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    // Unzeroed: every method writes each byte it passes over, and only [0, pos) is handed out.
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.room(2);
    this.buf.writeUInt16BE(v & 0xffff, this.pos);
    this.pos += 2;
    return this;
  }

  u24(v: number): this {
    this.room(3);
    this.buf[this.pos] = (v >>> 16) & 0xff;
    this.buf[this.pos + 1] = (v >>> 8) & 0xff;
    this.buf[this.pos + 2] = v & 0xff;
    this.pos += 3;
    return this;
  }

  u32(v: number): this {
    this.room(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  /** uint64 from a bigint (or a safe integer); throws RangeError outside 0..2^64-1. */
  u64(v: bigint | number): this {
    this.room(8);
    this.buf.writeBigUInt64BE(BigInt(v), this.pos);
    this.pos += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  zeros(n: number): this {
    this.room(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }

  /** Zero bytes up to the next multiple of `n` (4 for iSCSI segments, RFC 7143 section 11.1). */
  align(n: number): this {
    return this.zeros((n - (this.pos % n)) % n);
  }

  /** Overwrites a uint16 written earlier at absolute position `at`. */
  patchU16(at: number, v: number): this {
    if (at < 0 || at + 2 > this.pos) throw new RangeError('patch outside written bytes');
    this.buf.writeUInt16BE(v & 0xffff, at);
    return this;
  }

  /** Overwrites a uint32 written earlier at absolute position `at`. */
  patchU32(at: number, v: number): this {
    if (at < 0 || at + 4 > this.pos) throw new RangeError('patch outside written bytes');
    this.buf.writeUInt32BE(v >>> 0, at);
    return this;
  }

  /** A copy of the bytes written. */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}
