/**
 * NDR 2.0 (the transfer syntax 8a885d04-1ceb-11c9-9fe8-08002b104860 v2, C706 chapter 14) in the
 * little-endian, ASCII, IEEE data representation (drep 0x10): the primitives the srvsvc calls
 * need, as an encoder and a bounded decoder (sans-IO).
 *
 * - Integers are aligned to their size, counted from the start of the stub (C706 14.2.2).
 * - Pointers (C706 14.3.10–14.3.12): a top-level `[ref]` pointer has no representation; a
 *   `[unique]` or `[ptr]` (full) pointer is a 4-byte referent id, 0 for NULL. Embedded pointers'
 *   referents are *deferred*: they follow the outermost constructed type that contains them, in
 *   the order the pointers were met. `NdrWriter.defer` queues that work; the caller runs it with
 *   `flush` when the containing top-level value ends.
 * - Conformant varying strings (`[string] wchar_t *`, C706 14.3.4.2): max count, offset (0),
 *   actual count (all u32, in 16-bit characters, terminator included), then the UTF-16LE chars.
 * - Conformant arrays (C706 14.3.3.2): max count (u32), then the elements; when embedded in a
 *   structure the conformance goes before the structure (not needed here: srvsvc's arrays are
 *   reached through pointers, so the count opens the deferred referent).
 *
 * Decoding goes through wire/reader.ts (`Reader`, bounded, `WireError` on anything malformed):
 * `NdrReader` reads a stub whose first byte is the NDR stream's alignment origin.
 */
import { decodeUtf16, Reader, WireError, Writer } from '../wire/reader.js';

/** Transfer syntax ids (C706 appendix I; MS-RPCE 2.2.4.12 for NDR64). */
export const NDR20_SYNTAX = { uuid: '8a885d04-1ceb-11c9-9fe8-08002b104860', version: 2 } as const;
export const NDR64_SYNTAX = { uuid: '71710533-beba-4937-8319-b5dbef9ccc36', version: 1 } as const;

/** First referent id of a stream; Windows and Samba number from 0x00020000 in steps of 4. */
const REFERENT_BASE = 0x00020000;
/** Longest string the decoder accepts, in UTF-16 code units (terminator included). */
export const MAX_NDR_STRING = 4096;

/** Encoder of one NDR 2.0 stub. Alignment counts from the writer's first byte. */
export class NdrWriter {
  readonly w = new Writer(512);
  private nextReferent = REFERENT_BASE;
  private deferred: (() => void)[] = [];

  get length(): number {
    return this.w.length;
  }

  /** Pads with zeros to a multiple of `n` from the stub start. */
  align(n: number): this {
    this.w.align(n);
    return this;
  }

  u8(v: number): this {
    this.w.u8(v);
    return this;
  }

  u16(v: number): this {
    this.w.align(2).u16(v);
    return this;
  }

  u32(v: number): this {
    this.w.align(4).u32(v);
    return this;
  }

  /**
   * A `[unique]`/`[ptr]` pointer: NULL (0) when `present` is false, else a fresh referent id.
   * Returns whether a referent follows, so callers write or defer it.
   */
  pointer(present: boolean): boolean {
    if (!present) {
      this.u32(0);
      return false;
    }
    this.u32(this.nextReferent);
    this.nextReferent += 4;
    return true;
  }

  /** Queues the encoding of an embedded pointer's referent (C706 14.3.12.3: deferred, in order). */
  defer(f: () => void): this {
    this.deferred.push(f);
    return this;
  }

  /** Writes every queued referent; referents queued meanwhile are written after them, in order. */
  flush(): this {
    while (this.deferred.length > 0) {
      const now = this.deferred;
      this.deferred = [];
      for (const f of now) f();
    }
    return this;
  }

  /** `[string] wchar_t*` referent: max = offset-0 = actual = length + 1 (NUL terminated). */
  string(s: string): this {
    const n = Buffer.byteLength(s, 'utf16le') / 2 + 1;
    this.u32(n).u32(0).u32(n);
    this.w.utf16(s).u16(0);
    return this;
  }

  /** A unique pointer to a string, its referent deferred; NULL for `undefined`. */
  stringPointer(s: string | undefined): this {
    if (this.pointer(s !== undefined)) this.defer(() => this.string(s!));
    return this;
  }

  /** The stub bytes (deferred referents must have been flushed). */
  finish(): Buffer {
    if (this.deferred.length > 0) throw new Error('NdrWriter: unflushed deferred referents');
    return this.w.finish();
  }
}

/**
 * Bounded decoder of one NDR 2.0 stub (little-endian drep). Every read may throw `WireError`;
 * alignment padding must be present (it is not checked to be zero, as C706 leaves it unspecified).
 */
export class NdrReader {
  readonly r: Reader;
  private readonly referents = new Set<number>();

  constructor(stub: Buffer) {
    this.r = new Reader(stub);
  }

  u8(what = 'u8'): number {
    return this.r.u8(what);
  }

  u16(what = 'u16'): number {
    return this.r.align(2, what).u16(what);
  }

  u32(what = 'u32'): number {
    return this.r.align(4, what).u32(what);
  }

  /** A `[unique]`/`[ptr]` pointer's referent id; 0 means NULL. */
  pointer(what = 'pointer'): number {
    return this.u32(what);
  }

  /**
   * A full (`[ptr]`) pointer (C706 14.3.11): 0 is NULL; a referent id seen before in this stub
   * names the same referent, which is then not transmitted again (`first` false).
   */
  fullPointer(what = 'full pointer'): { referent: number; first: boolean } {
    const referent = this.u32(what);
    if (referent === 0) return { referent, first: false };
    const first = !this.referents.has(referent);
    this.referents.add(referent);
    return { referent, first };
  }

  /** The max count opening a conformant array (C706 14.3.3.2); throws WireError above `max`. */
  conformance(max: number, what = 'conformant array'): number {
    const n = this.u32(`${what} max count`);
    if (n > max) throw new WireError(`${what}: ${n} elements (limit ${max})`);
    return n;
  }

  /**
   * A conformant varying `[string] wchar_t*` referent (C706 14.3.4.2). Throws WireError when the
   * offset is not 0, actual > max, max > `maxChars`, or the characters are not UTF-16. One
   * trailing NUL (the terminator) is dropped; a string without one is accepted as is.
   */
  string(maxChars = MAX_NDR_STRING, what = 'string'): string {
    const max = this.u32(`${what} max count`), offset = this.u32(`${what} offset`), actual = this.u32(`${what} actual count`);
    if (max > maxChars) throw new WireError(`${what}: max count ${max} (limit ${maxChars})`);
    if (offset !== 0) throw new WireError(`${what}: offset ${offset} is not 0`);
    if (actual > max) throw new WireError(`${what}: actual count ${actual} > max count ${max}`);
    const s = decodeUtf16(this.r.bytes(actual * 2, maxChars * 2, what), what);
    return s.endsWith('\0') ? s.slice(0, -1) : s;
  }

  /** A unique pointer to a string whose referent follows at once (top-level parameters). */
  stringPointer(maxChars = MAX_NDR_STRING, what = 'string'): string | undefined {
    return this.pointer(`${what} pointer`) === 0 ? undefined : this.string(maxChars, what);
  }

  /** Bytes left. */
  remaining(): number {
    return this.r.remaining();
  }
}

/** Canonical UUID text (8-4-4-4-12, lower case) → its 16-byte NDR form (first three fields little-endian; C706 appendix A). */
export function uuidToBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`bad UUID ${uuid}`);
  const b = Buffer.from(hex, 'hex');
  b.subarray(0, 4).reverse();
  b.subarray(4, 6).reverse();
  b.subarray(6, 8).reverse();
  return b;
}

/** The 16 NDR bytes of a UUID → canonical lower-case text. */
export function uuidFromBytes(b: Buffer): string {
  if (b.length !== 16) throw new WireError(`UUID of ${b.length} bytes`);
  const c = Buffer.from(b);
  c.subarray(0, 4).reverse();
  c.subarray(4, 6).reverse();
  c.subarray(6, 8).reverse();
  const h = c.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
