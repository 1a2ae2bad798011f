/**
 * The one bounds-checked reader every raid/ decoder (shard headers, segment headers, block rows)
 * goes through. Every read checks the remaining length first and throws DecodeError, never
 * reads past the end and never allocates more than the caller's explicit maximum.
 */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

export class ByteReader {
  private pos: number;
  private readonly end: number;

  /** Reads `buf[offset .. offset+length)` (default: to the end of buf). */
  constructor(private readonly buf: Uint8Array, offset = 0, length?: number) {
    if (!Number.isInteger(offset) || offset < 0 || offset > buf.length) throw new DecodeError(`offset ${offset} out of range`);
    const len = length ?? buf.length - offset;
    if (!Number.isInteger(len) || len < 0 || offset + len > buf.length) throw new DecodeError(`length ${len} out of range`);
    this.pos = offset;
    this.end = offset + len;
  }
  get offset(): number {
    return this.pos;
  }
  get remaining(): number {
    return this.end - this.pos;
  }
  private need(n: number, what: string): void {
    if (n > this.end - this.pos) throw new DecodeError(`truncated: ${what} needs ${n} bytes, ${this.end - this.pos} left`);
  }
  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }
  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.buf[this.pos]! | (this.buf[this.pos + 1]! << 8);
    this.pos += 2;
    return v;
  }
  u32(what = 'u32'): number {
    this.need(4, what);
    const b = this.buf, p = this.pos;
    this.pos += 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x1000000;
  }
  /** A u64 that must fit in 2^53 (ids, offsets); throws DecodeError otherwise. */
  u53(what = 'u64'): number {
    const lo = this.u32(what);
    const hi = this.u32(what);
    if (hi > 0x1fffff) throw new DecodeError(`${what} exceeds 2^53`);
    return hi * 0x100000000 + lo;
  }
  /** A full u64 as a bigint (checksums). */
  u64(what = 'u64'): bigint {
    this.need(8, what);
    const b = this.buf, p = this.pos;
    this.pos += 8;
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[p + i]!);
    return v;
  }
  /** A view (no copy) of the next n bytes; n must be ≤ max. */
  bytes(n: number, max: number, what = 'bytes'): Uint8Array {
    if (!Number.isInteger(n) || n < 0 || n > max) throw new DecodeError(`${what}: length ${n} exceeds ${max}`);
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  skip(n: number, what = 'skip'): void {
    this.need(n, what);
    this.pos += n;
  }
}

/** Little-endian writer into a fixed buffer (sizes are computed before writing). */
export class ByteWriter {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  u8(v: number): this {
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  u16(v: number): this {
    this.buf.writeUInt16LE(v, this.pos);
    this.pos += 2;
    return this;
  }
  u32(v: number): this {
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }
  u53(v: number): this {
    this.buf.writeUInt32LE(v % 0x100000000, this.pos);
    this.buf.writeUInt32LE(Math.floor(v / 0x100000000), this.pos + 4);
    this.pos += 8;
    return this;
  }
  u64(v: bigint): this {
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, v), this.pos);
    this.pos += 8;
    return this;
  }
  bytes(v: Uint8Array): this {
    this.buf.set(v, this.pos);
    this.pos += v.length;
    return this;
  }
  zero(n: number): this {
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }
}
