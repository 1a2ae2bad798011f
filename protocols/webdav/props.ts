/**
 * Properties (RFC 4918 §4, §15): the live DAV: properties computed from inode attributes and
 * the lock database, and dead properties stored as xattrs `user.dav.<name>` on the resource.
 *
 * Dead property xattr: name = 'user.dav.' + base64url(UTF-8 Clark name '{ns}local'), or
 * 'user.dav.~' + base64url(sha256(Clark)) when that would exceed 200 bytes; value = UTF-8
 * Clark name + '\n' + the property element in canonical XML (wire/xml.ts serialize).
 */
import { createHash } from 'node:crypto';
import type { Attr, Ctx, PathVfs } from '../../vfs/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import { etagOf } from './conditions.js';
import type { DavLock, LockDb } from './locks.js';
import { DAV_NS, clark, esc, escText, unclark } from './wire/xml.js';
import { baseName, encodeHref } from './wire/url.js';

export const DEAD_PREFIX = 'user.dav.';

/** Live properties this server computes (RFC 4918 §15), in allprop order. */
export const LIVE_PROPS = [
  'creationdate', 'displayname', 'getcontentlength', 'getcontenttype', 'getetag',
  'getlastmodified', 'resourcetype', 'lockdiscovery', 'supportedlock',
] as const;
export type LiveProp = (typeof LIVE_PROPS)[number];

/**
 * RFC 4331 quota properties of a collection: computed from statfs as the user sees it (their
 * quota, their group's or a directory quota, else the pool). Not part of allprop (RFC 4331 §1).
 */
export const QUOTA_PROPS = ['quota-available-bytes', 'quota-used-bytes'] as const;

export function isLive(ns: string, local: string): boolean {
  return ns === DAV_NS && ((LIVE_PROPS as readonly string[]).includes(local) || (QUOTA_PROPS as readonly string[]).includes(local));
}

/** The value of a quota property for a collection, or undefined (a file: not defined here). */
export async function quotaValue(paths: PathVfs, ctx: Ctx, path: string, attr: Attr, local: string): Promise<string | undefined> {
  if (attr.type !== 'dir') return undefined;
  const s = await paths.statfs(ctx, path);
  return local === 'quota-available-bytes' ? String(s.bavail * s.bsize) : String((s.blocks - s.bfree) * s.bsize);
}

/** Extension → media type for getcontenttype and GET. */
const MIME: Record<string, string> = {
  txt: 'text/plain', html: 'text/html', htm: 'text/html', css: 'text/css', csv: 'text/csv',
  xml: 'application/xml', json: 'application/json', js: 'text/javascript', mjs: 'text/javascript',
  pdf: 'application/pdf', zip: 'application/zip', gz: 'application/gzip', tar: 'application/x-tar',
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', svg: 'image/svg+xml',
  webp: 'image/webp', ico: 'image/x-icon', mp3: 'audio/mpeg', mp4: 'video/mp4', webm: 'video/webm',
  md: 'text/markdown', ts: 'text/plain', sh: 'text/x-shellscript', wasm: 'application/wasm',
};

/** Media type guessed from the name's extension; application/octet-stream otherwise. */
export function contentTypeOf(path: string): string {
  const name = baseName(path);
  const dot = name.lastIndexOf('.');
  return (dot > 0 && MIME[name.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}

/** RFC 1123 date (getlastmodified, Last-Modified) from nanoseconds. */
export function httpDate(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toUTCString();
}

/** RFC 3339 date-time (creationdate) from nanoseconds. */
export function isoDate(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The DAV:activelock element of a lock (RFC 4918 §14.1). */
export function activeLockXml(l: DavLock, locks: LockDb): string {
  const left = locks.secondsLeft(l);
  return '<D:activelock>'
    + `<D:locktype><D:write/></D:locktype><D:lockscope><D:${l.scope}/></D:lockscope>`
    + `<D:depth>${l.depth === 0 ? '0' : 'infinity'}</D:depth>`
    + l.ownerXml
    + `<D:timeout>Second-${left}</D:timeout>`
    + `<D:locktoken><D:href>${esc(l.token)}</D:href></D:locktoken>`
    + `<D:lockroot><D:href>${esc(encodeHref(l.root, l.rootIsCollection))}</D:href></D:lockroot>`
    + '</D:activelock>';
}

/** DAV:lockdiscovery content for a path. */
export function lockDiscoveryXml(path: string, locks: LockDb): string {
  return locks.covering(path).map((l) => activeLockXml(l, locks)).join('');
}

const SUPPORTED_LOCK = '<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>'
  + '<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>';

/**
 * Value (inner XML) of a live property for a resource, or undefined when the property does
 * not apply (getcontentlength/getcontenttype on collections).
 */
export function liveValue(name: LiveProp, path: string, attr: Attr, locks: LockDb): string | undefined {
  const isDir = attr.type === 'dir';
  switch (name) {
    case 'creationdate': return isoDate(attr.birthtimeNs || attr.ctimeNs);
    case 'displayname': return escText(baseName(path));
    case 'getcontentlength': return isDir ? undefined : String(attr.size);
    case 'getcontenttype': return isDir ? undefined : escText(contentTypeOf(path));
    case 'getetag': return escText(etagOf(attr));
    case 'getlastmodified': return httpDate(attr.mtimeNs);
    case 'resourcetype': return isDir ? '<D:collection/>' : '';
    case 'lockdiscovery': return lockDiscoveryXml(path, locks);
    case 'supportedlock': return SUPPORTED_LOCK;
  }
}

/** xattr name for a dead property (see the module comment). */
export function deadXattrName(ns: string, local: string): string {
  const c = Buffer.from(clark(ns, local), 'utf8');
  const b = c.toString('base64url');
  if (b.length <= 200) return DEAD_PREFIX + b;
  return DEAD_PREFIX + '~' + createHash('sha256').update(c).digest('base64url');
}

/** A stored dead property: its name and its element as canonical XML. */
export interface DeadProp { ns: string; local: string; xml: string }

function decodeDead(value: Buffer): DeadProp | null {
  const s = value.toString('utf8');
  const nl = s.indexOf('\n');
  if (nl < 0) return null;
  const n = unclark(s.slice(0, nl));
  return n ? { ...n, xml: s.slice(nl + 1) } : null;
}

/** Encodes a dead property for setxattr. */
export function encodeDead(ns: string, local: string, xml: string): Buffer {
  return Buffer.from(clark(ns, local) + '\n' + xml, 'utf8');
}

/** All dead properties of a resource (unreadable or malformed entries are skipped). */
export async function listDead(paths: PathVfs, ctx: Ctx, path: string): Promise<DeadProp[]> {
  let names: string[];
  try {
    names = await paths.listxattr(ctx, path);
  } catch (e) {
    if (e instanceof VfsError && (e.errno === Errno.EOPNOTSUPP || e.errno === Errno.ENODATA)) return [];
    throw e;
  }
  const out: DeadProp[] = [];
  for (const n of names) {
    if (!n.startsWith(DEAD_PREFIX)) continue;
    try {
      const d = decodeDead(await paths.getxattr(ctx, path, n));
      if (d) out.push(d);
    } catch (e) {
      if (!(e instanceof VfsError)) throw e;
    }
  }
  return out;
}

/** One dead property, or null if absent. */
export async function getDead(paths: PathVfs, ctx: Ctx, path: string, ns: string, local: string): Promise<DeadProp | null> {
  try {
    const d = decodeDead(await paths.getxattr(ctx, path, deadXattrName(ns, local)));
    return d && d.ns === ns && d.local === local ? d : null;
  } catch (e) {
    if (e instanceof VfsError && (e.errno === Errno.ENODATA || e.errno === Errno.EOPNOTSUPP)) return null;
    throw e;
  }
}
