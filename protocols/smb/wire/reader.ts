/**
 * The one bounds-checked little-endian reader every SMB-side decoder goes through, and its
 * writer (sans-IO: bytes in, values out). SMB2 is little-endian throughout (MS-SMB2 section 2.2);
 * variable parts of a message are named by offset/length pairs counted from the start of the
 * SMB2 header (e.g. SecurityBufferOffset, MS-SMB2 2.2.5), so a Reader remembers that `base`.
 * Every variable-length read names its maximum; anything short, too long, misaligned or out of
 * the message throws `WireError`.
 */
import { BufferPool } from '../../../vfs/bufpool.js';

/** Malformed SMB bytes. A server answers STATUS_INVALID_PARAMETER or drops the connection. */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

const utf16 = new TextDecoder('utf-16le', { fatal: true, ignoreBOM: true });

export class Reader {
  private pos: number;
  private readonly end: number;
  /** Absolute offset in `buf` that offset fields count from (the SMB2 header's first byte). */
  readonly base: number;

  /**
   * Reads `buf[start, end)`; offset/length pairs resolve against `base` (default `start`) and
   * must stay inside `[base, end)`.
   */
  constructor(readonly buf: Buffer, start = 0, end = buf.length, base = start) {
    if (start < 0 || end > buf.length || start > end || base < 0 || base > start) throw new WireError('reader window out of range');
    this.pos = start;
    this.end = end;
    this.base = base;
  }

  /** Bytes left unread. */
  remaining(): number {
    return this.end - this.pos;
  }

  /** Position of the next read, relative to `base` (the value an offset field would carry). */
  offset(): number {
    return this.pos - this.base;
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.end - this.pos < n) throw new WireError(`truncated ${what}: need ${n} bytes, have ${this.end - this.pos}`);
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** uint64 as a bigint, 0..2^64-1. */
  u64(what = 'u64'): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64LE(this.pos);
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

  /** UTF-16LE text of `byteLength` bytes (even, ≤ `maxBytes`); unpaired surrogates are an error. */
  utf16(byteLength: number, maxBytes: number, what = 'string'): string {
    if (byteLength % 2 !== 0) throw new WireError(`${what}: odd UTF-16 length ${byteLength}`);
    return decodeUtf16(this.bytes(byteLength, maxBytes, what), what);
  }

  /** Advances to the next multiple of `n` from `base` (8 for negotiate contexts); needs the bytes to exist. */
  align(n: number, what = 'alignment'): this {
    const pad = (n - (this.offset() % n)) % n;
    return this.skip(pad, what);
  }

  /** Moves to `offset` (relative to `base`), within the window. */
  seek(offset: number, what = 'seek'): this {
    const abs = this.base + offset;
    if (!Number.isInteger(offset) || offset < 0 || abs > this.end) throw new WireError(`${what}: offset ${offset} outside the message`);
    this.pos = abs;
    return this;
  }

  /**
   * The bytes an (offset, length) pair names, offset relative to `base` (MS-SMB2's "offset in
   * bytes from the beginning of the SMB2 header"). Length 0 gives an empty buffer whatever the
   * offset says. `minOffset` rejects buffers that overlap the fixed part before them.
   */
  at(offset: number, length: number, max: number, what = 'buffer', minOffset = 0): Buffer {
    if (length === 0) return this.buf.subarray(0, 0);
    if (length > max) throw new WireError(`${what} too long: ${length} bytes (max ${max})`);
    if (offset < minOffset) throw new WireError(`${what}: offset ${offset} overlaps the fixed part (min ${minOffset})`);
    const abs = this.base + offset;
    if (abs + length > this.end) throw new WireError(`${what}: offset ${offset} + length ${length} outside the message`);
    return this.buf.subarray(abs, abs + length);
  }

  /** A reader over `length` bytes from here, sharing `base`; this reader skips past them. */
  sub(length: number, what = 'sub'): Reader {
    this.need(length, what);
    const r = new Reader(this.buf, this.pos, this.pos + length, this.base);
    this.pos += length;
    return r;
  }

  /** Throws unless every byte was read. */
  done(what = 'message'): void {
    if (this.pos !== this.end) throw new WireError(`${what}: ${this.end - this.pos} trailing bytes`);
  }
}

/** Strict UTF-16LE decode of a buffer (even length, no unpaired surrogates). */
export function decodeUtf16(b: Buffer, what = 'string'): string {
  if (b.length % 2 !== 0) throw new WireError(`${what}: odd UTF-16 length ${b.length}`);
  try {
    return utf16.decode(b);
  } catch {
    throw new WireError(`${what} is not valid UTF-16`);
  }
}

/** Growable little-endian encoder, the counterpart of Reader. Offsets written by callers are from byte 0. */
/** A piece at least this large goes into a recycled buffer (see `releaseReply`). */
const LARGE_PIECE = 65536;
const replies = new BufferPool(4, true); // shared: an encrypted READ response is sealed in place by a worker (crypto/seal-pool.ts)

/**
 * Gives back the buffer of a message built by a Writer (a `view()` of it, or any part of it) once
 * nothing refers to it any more: it has been written to the socket, or encrypted or copied into
 * another. Only buffers the Writer took for a large piece are kept; anything else is ignored.
 */
export function releaseReply(message: Uint8Array): void {
  replies.give(message);
}

/**
 * A recycled buffer of exactly `n` bytes (contents undefined) for a response whose large payload
 * is read straight into it: a READ's data lands at its offset in the response, and the Writer
 * then continues in this buffer (`Writer.adopt`), with no copy of the data. Give it back with
 * `releaseReply` if it is not adopted.
 */
export function takeReplyBuffer(n: number): Buffer {
  return replies.take(n);
}

export class Writer {
  private buf: Buffer;
  private pos = 0;

  constructor(initial = 256) {
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
    // Unzeroed: every method writes each byte it passes over, and only [0, pos) is ever handed out.
    // One large piece (a READ's data) takes a recycled buffer of just the room it needs (an
    // 8 MiB READ response no longer takes a fresh 16 MiB one); see `releaseReply`.
    const large = n >= LARGE_PIECE;
    const next = large ? replies.take(this.pos + n + 512) : Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    replies.give(this.buf);
    this.buf = next;
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.room(2);
    this.buf.writeUInt16LE(v & 0xffff, this.pos);
    this.pos += 2;
    return this;
  }

  u32(v: number): this {
    this.room(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  /** uint64 from a bigint (or a safe integer); throws RangeError outside 0..2^64-1. */
  u64(v: bigint | number): this {
    this.room(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.pos);
    this.pos += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** UTF-16LE text without terminator. */
  utf16(s: string): this {
    return this.bytes(Buffer.from(s, 'utf16le'));
  }

  zeros(n: number): this {
    this.room(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }

  /** Zero bytes up to the next multiple of `n`, counted from byte `from` (the SMB2 header start). */
  align(n: number, from = 0): this {
    return this.zeros((n - ((this.pos - from) % n)) % n);
  }

  /** Overwrites a uint16 written earlier at absolute position `at`. */
  patchU16(at: number, v: number): this {
    if (at < 0 || at + 2 > this.pos) throw new RangeError('patch outside written bytes');
    this.buf.writeUInt16LE(v & 0xffff, at);
    return this;
  }

  /** Overwrites a uint32 written earlier at absolute position `at`. */
  patchU32(at: number, v: number): this {
    if (at < 0 || at + 4 > this.pos) throw new RangeError('patch outside written bytes');
    this.buf.writeUInt32LE(v >>> 0, at);
    return this;
  }

  /** A copy of the bytes written. */
  finish(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    if (replies.owns(this.buf)) {
      // A recycled buffer goes back now; the writer keeps a copy of its own in case it is used on.
      replies.give(this.buf);
      this.buf = Buffer.from(out);
    }
    return out;
  }

  /**
   * The bytes written, not copied (a READ response carries up to 8 MiB): the writer must not be
   * written to afterwards, and the view keeps the writer's whole buffer alive.
   */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /**
   * Continues in `buf` (from takeReplyBuffer), where the `n` bytes from this writer's position
   * on are already in place (a READ's data, read straight into it): the bytes written so far
   * are copied to its front and the position moves past the n bytes. Throws RangeError when `buf`
   * is too short.
   */
  adopt(buf: Buffer, n: number): this {
    if (buf.length < this.pos + n) throw new RangeError(`adopt: ${buf.length} bytes cannot hold ${this.pos} + ${n}`);
    this.buf.copy(buf, 0, 0, this.pos);
    replies.give(this.buf);
    this.buf = buf;
    this.pos += n;
    return this;
  }
}
