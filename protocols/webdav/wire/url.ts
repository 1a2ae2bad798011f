/**
 * Request-target and href decoding/encoding (RFC 3986 §2.1, §3.3; RFC 4918 §8.3).
 * Decoding is strict: bad percent escapes, invalid UTF-8, NUL, an encoded '/', a '.' or '..'
 * segment (raw or as %2e%2e) and fragments are refused with 400, over-long targets, segments
 * or paths with 414. So a decoded path can never name anything outside the export.
 */
import { DavError } from '../errors.js';
import { LIMITS, WireReader } from './reader.js';

/** A decoded request path: '/a/b' (no trailing slash, '/' for the root). */
export interface DavPath {
  /** Normalized path relative to the export root, '/'-joined decoded segments. */
  path: string;
  segments: string[];
  /** Whether the target ended with '/' (a collection URL). */
  trailingSlash: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Percent-decodes one path segment (raw characters must be ≤ U+00FF, taken as bytes, as Node
 * hands them over) into a UTF-8 string. Throws DavError 400 on a bad escape or invalid UTF-8.
 */
export function decodeSegment(raw: string): string {
  const bytes = Buffer.allocUnsafe(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c > 0xff) throw new DavError(400, 'non-ASCII character in URL');
    if (c === 0x25) {
      const h = hexVal(raw.charCodeAt(i + 1)), l = hexVal(raw.charCodeAt(i + 2));
      if (h < 0 || l < 0) throw new DavError(400, 'bad percent escape in URL');
      bytes[n++] = h * 16 + l;
      i += 2;
    } else bytes[n++] = c;
  }
  try {
    return utf8.decode(bytes.subarray(0, n));
  } catch {
    throw new DavError(400, 'URL is not UTF-8');
  }
}

/**
 * Decodes the path of a request target ('/a/b%20c/', or an absolute URI whose path is taken)
 * into a DavPath. The query is dropped. Throws DavError: 400 (malformed, fragment, NUL, '/',
 * '.' or '..' segment), 414 (target > LIMITS.url chars, segment > 255 bytes, path > 4096 bytes).
 */
export function decodeRequestPath(target: string): DavPath {
  const r: WireReader = new WireReader(target, LIMITS.url, 'request target', 414);
  let raw = target;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) raw = splitAbsolute(raw).path;
  if (!raw.startsWith('/')) r.fail('path must start with /');
  if (raw.includes('#')) throw new DavError(400, 'fragment in request target');
  const q = raw.indexOf('?');
  if (q >= 0) raw = raw.slice(0, q);
  const segments: string[] = [];
  let bytes = 0;
  for (const part of raw.split('/')) {
    if (part === '') continue;
    const seg = decodeSegment(part);
    if (seg === '.' || seg === '..') throw new DavError(400, 'dot segment in path');
    if (seg.includes('\0')) throw new DavError(400, 'NUL in path');
    if (seg.includes('/')) throw new DavError(400, 'encoded / in path segment');
    const len = Buffer.byteLength(seg);
    if (len > LIMITS.segment) throw new DavError(414, 'path segment longer than 255 bytes');
    bytes += len + 1;
    if (bytes > LIMITS.path) throw new DavError(414, 'path longer than 4096 bytes');
    segments.push(seg);
  }
  return { path: '/' + segments.join('/'), segments, trailingSlash: raw.length > 1 && raw.endsWith('/') };
}

/** Splits 'scheme://authority/path?q' into its parts (authority lower-cased). 400 if malformed. */
export function splitAbsolute(uri: string): { scheme: string; authority: string; path: string } {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(.*)$/is.exec(uri);
  if (!m) throw new DavError(400, 'malformed absolute URI');
  const authority = m[2]!.toLowerCase();
  if (authority.includes('@')) throw new DavError(400, 'userinfo in URI');
  return { scheme: m[1]!.toLowerCase(), authority, path: m[3] || '/' };
}

/** 'host:port' with the scheme's default port made explicit, for comparing authorities. */
function canonicalAuthority(authority: string, scheme: string): string {
  const a = authority.toLowerCase();
  if (/:\d+$/.test(a) || (a.startsWith('[') && /\]:\d+$/.test(a))) return a;
  return `${a}:${scheme === 'https' ? 443 : 80}`;
}

/**
 * Destination header (RFC 4918 §10.3): an absolute URI or an absolute path. An absolute URI
 * whose scheme or authority differs from this server's (`host` = the request's Host header,
 * `scheme` its scheme) → DavError 502 (§9.8.5). Otherwise the decoded path, as decodeRequestPath.
 */
export function parseDestination(value: string | undefined, host: string | undefined, scheme: 'http' | 'https'): DavPath {
  if (value === undefined || value === '') throw new DavError(400, 'Destination header missing');
  const r: WireReader = new WireReader(value, LIMITS.url, 'Destination', 414);
  if (r.startsWith('/')) return decodeRequestPath(value);
  const abs = splitAbsolute(value);
  if (abs.scheme !== 'http' && abs.scheme !== 'https') throw new DavError(502, 'Destination on another scheme');
  if (host !== undefined && canonicalAuthority(abs.authority, abs.scheme) !== canonicalAuthority(host, scheme)) {
    throw new DavError(502, 'Destination on another server');
  }
  if (host !== undefined && abs.scheme !== scheme) throw new DavError(502, 'Destination on another scheme');
  return decodeRequestPath(abs.path);
}

/** Characters left as they are in hrefs: unreserved and sub-delims minus '&' plus ':' '@' (RFC 3986 pchar). */
const SAFE = /[A-Za-z0-9\-._~!$'()*+,;=:@]/;

/** Percent-encodes one segment as UTF-8 (pchar set minus '&' so hrefs stay XML-friendly). */
export function encodeSegment(seg: string): string {
  let out = '';
  for (const ch of seg) {
    if (ch.length === 1 && SAFE.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
  }
  return out;
}

/** The href of a path ('/a/b'); collections get a trailing '/'. */
export function encodeHref(path: string, collection: boolean): string {
  if (path === '/' || path === '') return '/';
  const enc = path.split('/').filter((s) => s !== '').map(encodeSegment).join('/');
  return '/' + enc + (collection ? '/' : '');
}

/** Parent path of '/a/b' → '/a'; of '/' → '/'. */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** Last segment of '/a/b' → 'b'; of '/' → ''. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Whether `inner` equals `outer` or lies below it ('/a' covers '/a' and '/a/b', not '/ab'). */
export function isWithin(inner: string, outer: string): boolean {
  if (outer === '/') return true;
  return inner === outer || inner.startsWith(outer + '/');
}

/** Joins a collection path and a member name. */
export function joinPath(dir: string, name: string): string {
  return dir === '/' ? '/' + name : dir + '/' + name;
}
