/**
 * Growable encoder for SSH data types (RFC 4251 section 5), the counterpart of Reader.
 * `packet()` returns the bytes with the SFTP uint32 length prefix (draft-02 section 3).
 */
export class Writer {
  private buf: Buffer;
  private pos = 4; // room for the packet length

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initial));
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    this.room(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  /** uint64 from a non-negative safe integer or bigint (clamped to 0..2^64-1). */
  u64(v: number | bigint): this {
    this.room(8);
    let b = typeof v === 'bigint' ? v : BigInt(Math.max(0, Math.trunc(v)));
    if (b < 0n) b = 0n;
    if (b > 0xffffffffffffffffn) b = 0xffffffffffffffffn;
    this.buf.writeBigUInt64BE(b, this.pos);
    this.pos += 8;
    return this;
  }

  /** string: uint32 length + bytes (text is encoded as UTF-8). */
  string(v: string | Uint8Array): this {
    if (typeof v === 'string') {
      const n = Buffer.byteLength(v, 'utf8');
      this.room(4 + n);
      this.buf.writeUInt32BE(n, this.pos);
      this.buf.write(v, this.pos + 4, n, 'utf8');
      this.pos += 4 + n;
    } else {
      this.room(4 + v.length);
      this.buf.writeUInt32BE(v.length, this.pos);
      this.buf.set(v, this.pos + 4);
      this.pos += 4 + v.length;
    }
    return this;
  }

  /** Raw bytes, no length prefix. */
  raw(v: Uint8Array): this {
    this.room(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    return this;
  }

  /** The finished packet: uint32 length (of what follows) + body. */
  packet(): Buffer {
    this.buf.writeUInt32BE(this.pos - 4, 0);
    return this.buf.subarray(0, this.pos);
  }

  /** The body without a length prefix (for extension payloads and tests). */
  body(): Buffer {
    return this.buf.subarray(4, this.pos);
  }
}
