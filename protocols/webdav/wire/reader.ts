/**
 * The one bounds-checked reader every WebDAV wire decoder goes through (sans-IO: strings and
 * buffers in, values or DavError out). Each reader is created with an explicit maximum input
 * length; every take has its own maximum. Any violation throws `DavError(status)` — 400 by
 * default, 414 for over-long request targets — never a crash.
 */
import { DavError } from '../errors.js';

/** Limits for request parsing (bytes or characters as noted). */
export const LIMITS = {
  /** Request target (URL), characters. Node's own header cap (16 KiB) applies first. */
  url: 8192,
  /** One decoded path segment, UTF-8 bytes (NAME_MAX). */
  segment: 255,
  /** Decoded path, UTF-8 bytes (PATH_MAX). */
  path: 4096,
  /** Any single header value we parse, characters. */
  header: 8192,
  /** If header, characters. */
  ifHeader: 16384,
  /** Lists and conditions in one If header. */
  ifConditions: 256,
  /** XML request body, bytes. */
  xmlBody: 1 << 20,
  /** XML element nesting depth. */
  xmlDepth: 64,
  /** Properties in one PROPFIND/PROPPATCH. */
  props: 4096,
  /** Timeout values in one Timeout header. */
  timeouts: 16,
  /** Active WebDAV locks kept by one server (LOCK beyond it → 503). */
  maxLocks: 100_000,
  /** Longest lock timeout we grant, seconds. */
  maxLockSeconds: 7 * 24 * 3600,
  /** Decimal digits in a number we parse (Range, Timeout). */
  digits: 20,
} as const;

/** A cursor over a string with hard bounds. */
export class WireReader {
  private pos = 0;
  readonly src: string;

  /**
   * @param src the input; longer than `max` characters → DavError(tooLongStatus).
   * @param what name of the field, for messages.
   */
  constructor(src: string, max: number, readonly what: string, tooLongStatus = 400) {
    if (typeof src !== 'string') throw new DavError(400, `${what}: missing`);
    if (src.length > max) throw new DavError(tooLongStatus, `${what}: longer than ${max} characters`);
    this.src = src;
  }

  /** Throws DavError(400) naming the field and position. */
  fail(msg: string): never {
    throw new DavError(400, `${this.what}: ${msg} at ${this.pos}`);
  }

  get offset(): number { return this.pos; }
  eof(): boolean { return this.pos >= this.src.length; }
  /** Next character or '' at the end. */
  peek(): string { return this.src[this.pos] ?? ''; }
  /** Whether the input continues with `s` (exact). */
  startsWith(s: string): boolean { return this.src.startsWith(s, this.pos); }
  /** Case-insensitive startsWith. */
  startsWithCI(s: string): boolean { return this.src.slice(this.pos, this.pos + s.length).toLowerCase() === s.toLowerCase(); }

  /** Skips optional whitespace (SP / HTAB / CR / LF). */
  skipWs(): void {
    while (this.pos < this.src.length) {
      const c = this.src.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) this.pos++;
      else break;
    }
  }

  /** Consumes exactly `s` or fails. */
  expect(s: string): void {
    if (!this.src.startsWith(s, this.pos)) this.fail(`expected '${s}'`);
    this.pos += s.length;
  }

  /** Consumes `s` (case-insensitive) when present; returns whether it did. */
  accept(s: string, ci = false): boolean {
    if (ci ? this.startsWithCI(s) : this.startsWith(s)) { this.pos += s.length; return true; }
    return false;
  }

  /** Takes up to (not including) the first `stop` character; at most `max` characters, else fails. */
  takeUntil(stop: string, max: number): string {
    const end = this.src.indexOf(stop, this.pos);
    if (end < 0) this.fail(`missing '${stop}'`);
    if (end - this.pos > max) this.fail(`longer than ${max} characters`);
    const s = this.src.slice(this.pos, end);
    this.pos = end;
    return s;
  }

  /** Takes the longest run of characters matching `pred`, at most `max`, else fails. */
  takeWhile(pred: (c: string) => boolean, max: number): string {
    const start = this.pos;
    while (this.pos < this.src.length && pred(this.src[this.pos]!)) {
      if (this.pos - start >= max) this.fail(`longer than ${max} characters`);
      this.pos++;
    }
    return this.src.slice(start, this.pos);
  }

  /** Takes a non-negative decimal integer (1..LIMITS.digits digits). Beyond 2^53 → Infinity. */
  takeUint(): number {
    const d = this.takeWhile(isDigit, LIMITS.digits);
    if (!d) this.fail('expected a number');
    const n = Number(d);
    return Number.isSafeInteger(n) ? n : Infinity;
  }

  /** The rest of the input. */
  rest(): string { const s = this.src.slice(this.pos); this.pos = this.src.length; return s; }
}

export function isDigit(c: string): boolean { return c >= '0' && c <= '9'; }

/**
 * Accumulates a request body up to `max` bytes (sans-IO: the server pushes chunks in).
 * `push` throws DavError(413) when the total would exceed the cap.
 */
export class BoundedBody {
  private chunks: Buffer[] = [];
  private n = 0;
  constructor(readonly max: number) {}
  push(chunk: Buffer): void {
    this.n += chunk.length;
    if (this.n > this.max) throw new DavError(413, `request body larger than ${this.max} bytes`);
    this.chunks.push(chunk);
  }
  get length(): number { return this.n; }
  toBuffer(): Buffer { return Buffer.concat(this.chunks, this.n); }
}
