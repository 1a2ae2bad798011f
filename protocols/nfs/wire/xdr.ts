/**
 * XDR (RFC 4506): the one bounds-checked reader and the writer every NFS-side codec goes
 * through (sans-IO: bytes in, values out). Big-endian, every item padded to a multiple of
 * four bytes (section 3). Every variable-length read names its maximum; anything short, too
 * long, badly padded or not UTF-8 where text is required throws `XdrError`.
 */

/** Malformed XDR. The RPC layer answers GARBAGE_ARGS (or drops a call it cannot even parse). */
export class XdrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XdrError';
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const pad4 = (n: number): number => (4 - (n & 3)) & 3;

export class XdrReader {
  private pos: number;

  constructor(private readonly buf: Buffer, start = 0) {
    if (start < 0 || start > buf.length) throw new XdrError('reader start out of range');
    this.pos = start;
  }

  /** Bytes left unread. */
  remaining(): number {
    return this.buf.length - this.pos;
  }

  /** The offset of the next read. */
  offset(): number {
    return this.pos;
  }

  /** The bytes not read yet, as a view (the reader does not move). */
  rest(): Buffer {
    return this.buf.subarray(this.pos);
  }

  private need(n: number, what: string): void {
    if (this.buf.length - this.pos < n) throw new XdrError(`truncated ${what}: need ${n} bytes, have ${this.buf.length - this.pos}`);
  }

  /** unsigned int (section 4.2). */
  uint(what = 'uint'): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** int (section 4.1). */
  int(what = 'int'): number {
    this.need(4, what);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** unsigned hyper (section 4.5). */
  uhyper(what = 'uhyper'): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** hyper (section 4.5). */
  hyper(what = 'hyper'): bigint {
    this.need(8, what);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** bool (section 4.4): 0 or 1, anything else is an error. */
  bool(what = 'bool'): boolean {
    const v = this.uint(what);
    if (v > 1) throw new XdrError(`${what}: bad bool ${v}`);
    return v === 1;
  }

  /** An enum value that must be one of `allowed` (section 4.3). */
  enumOf<T extends number>(allowed: readonly T[], what = 'enum'): T {
    const v = this.int(what);
    if (!allowed.includes(v as T)) throw new XdrError(`${what}: bad value ${v}`);
    return v as T;
  }

  /** Fixed-length opaque (section 4.9): `len` bytes plus padding, as a view. */
  fixed(len: number, what = 'opaque'): Buffer {
    this.need(len + pad4(len), what);
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    this.skipPad(len, what);
    return v;
  }

  private skipPad(len: number, what: string): void {
    const p = pad4(len);
    for (let i = 0; i < p; i++) if (this.buf[this.pos + i] !== 0) throw new XdrError(`${what}: nonzero padding`);
    this.pos += p;
  }

  /** Variable-length opaque<max> (section 4.10), as a view into the buffer. */
  opaque(max: number, what = 'opaque'): Buffer {
    const len = this.uint(`${what} length`);
    if (len > max) throw new XdrError(`${what} too long: ${len} bytes (max ${max})`);
    return this.fixed(len, what);
  }

  /** string<max> (section 4.11), strictly UTF-8. */
  string(max: number, what = 'string'): string {
    const b = this.opaque(max, what);
    try {
      return utf8.decode(b);
    } catch {
      throw new XdrError(`${what} is not valid UTF-8`);
    }
  }

  /** Variable-length array<max> (section 4.13) of items read by `item`. */
  array<T>(max: number, item: (r: XdrReader) => T, what = 'array'): T[] {
    const n = this.uint(`${what} count`);
    if (n > max) throw new XdrError(`${what} too long: ${n} items (max ${max})`);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item(this));
    return out;
  }

  /** Optional-data `*T` (section 4.19): undefined when absent. */
  optional<T>(item: (r: XdrReader) => T, what = 'optional'): T | undefined {
    return this.bool(what) ? item(this) : undefined;
  }

  /** Throws unless everything was read (trailing bytes are garbage). */
  end(what = 'message'): void {
    if (this.pos !== this.buf.length) throw new XdrError(`${what}: ${this.buf.length - this.pos} trailing bytes`);
  }
}

/** The giveBack of each part that references lent bytes (XdrWriter.opaqueRef). */
const loans = new WeakMap<Uint8Array, () => void>();

/**
 * Gives back the lent bytes among `parts` (XdrWriter.parts), once the caller no longer needs
 * them: the reply was sent (the socket's write callback) or will not be. Each loan once.
 */
export function settleLoans(parts: readonly Uint8Array[]): void {
  for (const p of parts) {
    const back = loans.get(p);
    if (!back) continue;
    loans.delete(p);
    back();
  }
}

/**
 * Appends XDR items to a growing buffer. `opaqueRef` appends large payloads (READ data) by
 * reference: `parts()` then gives the encoding as a list of buffers without copying them.
 */
export class XdrWriter {
  private buf: Buffer;
  private pos = 0;
  /** Finished segments before `buf` (only after an opaqueRef). */
  private done: Buffer[] = [];
  private doneLen = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.doneLen + this.pos;
  }

  uint(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`uint out of range: ${v}`);
    this.room(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  int(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new RangeError(`int out of range: ${v}`);
    this.room(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  /** unsigned hyper from a bigint or a non-negative safe integer. */
  uhyper(v: bigint | number): this {
    this.room(8);
    this.buf.writeBigUInt64BE(BigInt(v), this.pos);
    this.pos += 8;
    return this;
  }

  hyper(v: bigint | number): this {
    this.room(8);
    this.buf.writeBigInt64BE(BigInt(v), this.pos);
    this.pos += 8;
    return this;
  }

  bool(v: boolean): this {
    return this.uint(v ? 1 : 0);
  }

  /** Fixed-length opaque: the bytes plus zero padding. */
  fixed(b: Uint8Array): this {
    const p = pad4(b.length);
    this.room(b.length + p);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    this.buf.fill(0, this.pos, this.pos + p);
    this.pos += p;
    return this;
  }

  /** Variable-length opaque: length, bytes, padding. */
  opaque(b: Uint8Array): this {
    return this.uint(b.length).fixed(b);
  }

  string(s: string): this {
    return this.opaque(Buffer.from(s, 'utf8'));
  }

  array<T>(items: readonly T[], item: (w: XdrWriter, v: T) => void): this {
    this.uint(items.length);
    for (const v of items) item(this, v);
    return this;
  }

  optional<T>(v: T | undefined, item: (w: XdrWriter, v: T) => void): this {
    this.bool(v !== undefined);
    if (v !== undefined) item(this, v);
    return this;
  }

  /**
   * Variable-length opaque whose bytes are not copied: the writer keeps a reference to `b` (which
   * must not change until the encoding is sent). For payloads of many KiB (READ data). `giveBack`
   * (lent bytes: Vfs.readLent) is called once they are no longer referenced: at once when they
   * were copied (small), else by settleLoans on the parts once sent (or dropped), or by bytes().
   */
  opaqueRef(b: Uint8Array, giveBack?: () => void): this {
    this.uint(b.length);
    if (b.length < 4096) {
      this.fixed(b);
      giveBack?.();
      return this;
    }
    const ref = Buffer.from(b.buffer, b.byteOffset, b.length);
    if (giveBack) loans.set(ref, giveBack);
    this.done.push(this.buf.subarray(0, this.pos), ref);
    this.doneLen += this.pos + b.length;
    this.buf = Buffer.allocUnsafe(256);
    this.pos = 0;
    const p = pad4(b.length);
    this.room(p);
    this.buf.fill(0, 0, p);
    this.pos = p;
    return this;
  }

  /** Overwrites a uint at an earlier offset (record marks, counts known only at the end) of the current segment. */
  patchUint(at: number, v: number): void {
    if (this.done.length) throw new RangeError('patchUint after opaqueRef');
    this.buf.writeUInt32BE(v, at);
  }

  /** The bytes written, as one buffer (a view when no opaqueRef was used; the writer should not be used afterwards). */
  bytes(): Buffer {
    const tail = this.buf.subarray(0, this.pos);
    if (!this.done.length) return tail;
    const all = Buffer.concat([...this.done, tail], this.length);
    settleLoans(this.done); // copied
    return all;
  }

  /** The bytes written as segments, referenced payloads uncopied (the writer should not be used afterwards). */
  parts(): Buffer[] {
    const tail = this.buf.subarray(0, this.pos);
    return this.done.length ? [...this.done, tail] : [tail];
  }
}
