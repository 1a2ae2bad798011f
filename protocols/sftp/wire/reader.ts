/**
 * The one bounds-checked reader every SFTP decoder goes through (sans-IO: bytes in, values out).
 * SSH data types as RFC 4251 section 5 defines them: byte, uint32, uint64 (big-endian) and
 * string (uint32 length + bytes). Every variable-length read names its maximum length;
 * anything short, too long or not UTF-8 where text is required throws `WireError`.
 */

/** A malformed packet body. The session answers SSH_FX_BAD_MESSAGE (or closes the channel before INIT). */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class Reader {
  private pos: number;
  private readonly end: number;

  /** Reads `buf[start, end)`. */
  constructor(private readonly buf: Buffer, start = 0, end = buf.length) {
    if (start < 0 || end > buf.length || start > end) throw new WireError('reader window out of range');
    this.pos = start;
    this.end = end;
  }

  /** Bytes left unread. */
  remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.end - this.pos < n) throw new WireError(`truncated ${what}: need ${n} bytes, have ${this.end - this.pos}`);
  }

  /** One byte, 0..255. */
  u8(what = 'byte'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  /** uint32, 0..2^32-1. */
  u32(what = 'uint32'): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** uint64 as a bigint, 0..2^64-1. */
  u64(what = 'uint64'): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A string's raw bytes (a view into the packet, not a copy); throws if its length exceeds `max`. */
  bytes(max: number, what = 'string'): Buffer {
    const len = this.u32(`${what} length`);
    if (len > max) throw new WireError(`${what} too long: ${len} bytes (max ${max})`);
    this.need(len, what);
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }

  /** A string decoded as UTF-8 (strictly: invalid sequences throw); at most `max` bytes. */
  utf8(max: number, what = 'string'): string {
    const b = this.bytes(max, what);
    try {
      return utf8.decode(b);
    } catch {
      throw new WireError(`${what} is not valid UTF-8`);
    }
  }

  /** All remaining bytes (at most `max`), as a view. */
  rest(max: number, what = 'data'): Buffer {
    const n = this.end - this.pos;
    if (n > max) throw new WireError(`${what} too long: ${n} bytes (max ${max})`);
    const v = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }
}
