/**
 * Decoders for the WebDAV and HTTP request headers the server acts on: Depth, Overwrite,
 * Timeout, Lock-Token (RFC 4918 §10), Range (RFC 9110 §14.2), Authorization: Basic
 * (RFC 7617). All go through WireReader; malformed input → DavError 400 unless noted.
 */
import { DavError } from '../errors.js';
import { LIMITS, WireReader, isDigit } from './reader.js';

export type Depth = 0 | 1 | 'infinity';

/**
 * Depth header (RFC 4918 §10.2): '0' | '1' | 'infinity' (case-insensitive). Absent → `dflt`.
 * A value not in `allowed` → DavError 400.
 */
export function parseDepth(value: string | undefined, dflt: Depth, allowed: readonly Depth[] = [0, 1, 'infinity']): Depth {
  if (value === undefined) return dflt;
  const r: WireReader = new WireReader(value, 16, 'Depth');
  const v = r.rest().trim().toLowerCase();
  const d: Depth | undefined = v === '0' ? 0 : v === '1' ? 1 : v === 'infinity' ? 'infinity' : undefined;
  if (d === undefined) throw new DavError(400, `Depth: bad value`);
  if (!allowed.includes(d)) throw new DavError(400, `Depth ${d} not allowed for this method`);
  return d;
}

/** Overwrite header (RFC 4918 §10.6): 'T' | 'F'; absent → true. Anything else → 400. */
export function parseOverwrite(value: string | undefined): boolean {
  if (value === undefined) return true;
  const r: WireReader = new WireReader(value, 16, 'Overwrite');
  const v = r.rest().trim();
  if (v === 'T' || v === 't') return true;
  if (v === 'F' || v === 'f') return false;
  throw new DavError(400, 'Overwrite: must be T or F');
}

/**
 * Timeout header (RFC 4918 §10.7): comma-separated 'Infinite' | 'Second-N'. Returns the
 * first value, in seconds, clamped to [1, LIMITS.maxLockSeconds] ('Infinite' → the maximum).
 * Absent or an unknown TimeType → `dflt`. More than LIMITS.timeouts values → 400.
 */
export function parseTimeout(value: string | undefined, dflt: number): number {
  if (value === undefined) return dflt;
  const r: WireReader = new WireReader(value, 256, 'Timeout');
  const parts = r.rest().split(',');
  if (parts.length > LIMITS.timeouts) throw new DavError(400, 'Timeout: too many values');
  for (const raw of parts) {
    const p = raw.trim();
    if (/^infinite$/i.test(p)) return LIMITS.maxLockSeconds;
    const m = /^second-(\d{1,20})$/i.exec(p);
    if (m) {
      const n = Number(m[1]);
      return Math.max(1, Math.min(LIMITS.maxLockSeconds, Number.isFinite(n) ? n : LIMITS.maxLockSeconds));
    }
    if (p === '') continue;
  }
  return dflt;
}

/**
 * Lock-Token header (RFC 4918 §10.5): '<' Coded-URL '>'. Returns the URI inside.
 * Absent → DavError 400 (UNLOCK needs it); malformed → 400.
 */
export function parseLockToken(value: string | undefined): string {
  if (value === undefined) throw new DavError(400, 'Lock-Token header missing');
  const r: WireReader = new WireReader(value.trim(), 1024, 'Lock-Token');
  r.expect('<');
  const uri = r.takeUntil('>', 1000);
  r.expect('>');
  if (!r.eof() || uri === '' || /\s/.test(uri)) r.fail('malformed');
  return uri;
}

/** A satisfiable single byte range: [start, end] inclusive, in bytes. */
export interface ByteRange { start: number; end: number }

/**
 * Range header (RFC 9110 §14.2) for a representation of `size` bytes, single range only.
 * Returns:
 *  - null: absent, malformed, several ranges or another unit (serve the whole body: a server
 *    MAY ignore Range, §14.2);
 *  - 'unsatisfiable': first-pos ≥ size, or a zero-length suffix (→ 416 with Content-Range: bytes * /size);
 *  - a ByteRange with end clamped to size - 1.
 */
export function parseRange(value: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  if (value === undefined) return null;
  if (value.length > LIMITS.header) return null;
  const r: WireReader = new WireReader(value, LIMITS.header, 'Range');
  r.skipWs();
  if (!r.accept('bytes', true)) return null;
  r.skipWs();
  if (!r.accept('=')) return null;
  r.skipWs();
  // Digit runs are bounded by the header length; values past 2^53 become Infinity.
  const num = (): number | null => {
    const d = r.takeWhile(isDigit, LIMITS.header);
    if (!d) return null;
    const n = Number(d);
    return Number.isSafeInteger(n) ? n : Infinity;
  };
  let start: number, end: number;
  if (r.accept('-')) {
    const n = num();
    if (n === null) return null;
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    const a = num();
    if (a === null || !r.accept('-')) return null;
    const b = num();
    start = a;
    end = b === null ? Infinity : b;
    if (b !== null && end < start) return null;
  }
  r.skipWs();
  if (!r.eof()) return null; // several ranges or junk: ignore the header
  if (!(start < size)) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/**
 * Authorization: Basic (RFC 7617). Returns user and password, or null when the header is
 * absent or uses another scheme. Malformed Basic credentials → null as well (answered 401).
 */
export function parseBasicAuth(value: string | undefined): { user: string; password: string } | null {
  if (value === undefined || value.length > 4096) return null;
  const r: WireReader = new WireReader(value, 4096, 'Authorization');
  r.skipWs();
  if (!r.accept('basic ', true)) return null;
  r.skipWs();
  const b64 = r.takeWhile((c) => /[A-Za-z0-9+/=]/.test(c), 4096);
  r.skipWs();
  if (!r.eof() || b64 === '') return null;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(b64, 'base64'));
  } catch {
    return null;
  }
  const colon = text.indexOf(':');
  if (colon <= 0) return null;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** Parses one entity-tag (RFC 9110 §8.8.3): '"..."' or 'W/"..."'. Returns it as written, or null. */
export function readEntityTag(r: WireReader): string | null {
  const weak = r.accept('W/');
  if (r.peek() !== '"') return null;
  r.expect('"');
  const body = r.takeUntil('"', 512);
  r.expect('"');
  return (weak ? 'W/' : '') + '"' + body + '"';
}

/**
 * If-Match / If-None-Match (RFC 9110 §13.1.1-2): '*' or a comma list of entity-tags.
 * Returns '*' or the tags; malformed → 400.
 */
export function parseEtagList(value: string): '*' | string[] {
  const r: WireReader = new WireReader(value, LIMITS.header, 'entity-tag list');
  r.skipWs();
  if (r.accept('*')) { r.skipWs(); if (!r.eof()) r.fail('junk after *'); return '*'; }
  const tags: string[] = [];
  while (!r.eof()) {
    const t = readEntityTag(r);
    if (t === null) r.fail('expected an entity-tag');
    tags.push(t);
    if (tags.length > LIMITS.ifConditions) r.fail('too many entity-tags');
    r.skipWs();
    if (!r.accept(',')) break;
    r.skipWs();
  }
  r.skipWs();
  if (!r.eof()) r.fail('junk after entity-tags');
  return tags;
}
