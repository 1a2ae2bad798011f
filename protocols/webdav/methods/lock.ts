/**
 * LOCK and UNLOCK (RFC 4918 §9.10, §9.11): exclusive and shared write locks at Depth 0 or
 * infinity, with timeouts; a LOCK without a body refreshes the lock named in the If header;
 * a LOCK on an unmapped URL creates an empty resource (§7.3) and answers 201.
 */
import { Errno, VfsError } from '../../../vfs/errno.js';
import { checkLocks, evaluateIf } from '../conditions.js';
import { DavError } from '../errors.js';
import type { LockScope } from '../locks.js';
import { activeLockXml } from '../props.js';
import type { DavRequest } from '../session.js';
import { submittedTokens } from '../wire/if.js';
import { parseDepth, parseLockToken, parseTimeout } from '../wire/headers.js';
import { LIMITS } from '../wire/reader.js';
import { encodeHref, parentPath } from '../wire/url.js';
import { DAV_NS, child, elements, isEl, serialize, type XmlElement } from '../wire/xml.js';

/** Lock timeout granted when the client asks for none, seconds. */
export const DEFAULT_LOCK_SECONDS = 3600;

/** Interprets a DAV:lockinfo body (RFC 4918 §14.11); malformed or unsupported → 400. */
export function parseLockInfo(root: XmlElement): { scope: LockScope; ownerXml: string } {
  if (!isEl(root, DAV_NS, 'lockinfo')) throw new DavError(400, 'LOCK body must be DAV:lockinfo');
  const scopeEl = child(root, DAV_NS, 'lockscope');
  const typeEl = child(root, DAV_NS, 'locktype');
  if (!scopeEl || !typeEl) throw new DavError(400, 'lockinfo needs lockscope and locktype');
  const s = elements(scopeEl);
  if (s.length !== 1 || s[0]!.ns !== DAV_NS || (s[0]!.local !== 'exclusive' && s[0]!.local !== 'shared')) {
    throw new DavError(400, 'lockscope must be exclusive or shared');
  }
  const t = elements(typeEl);
  if (t.length !== 1 || !isEl(t[0]!, DAV_NS, 'write')) throw new DavError(400, 'only write locks are supported');
  const owner = child(root, DAV_NS, 'owner');
  return { scope: s[0]!.local as LockScope, ownerXml: owner ? serialize(owner) : '' };
}

function lockBody(xml: string): string {
  return `<D:prop xmlns:D="DAV:"><D:lockdiscovery>${xml}</D:lockdiscovery></D:prop>\n`;
}

/** LOCK handler. */
export async function lock(dr: DavRequest): Promise<void> {
  const timeoutSec = parseTimeout(dr.header('timeout'), DEFAULT_LOCK_SECONDS);
  const body = await dr.readXml();
  if (!(await evaluateIf(dr))) throw new DavError(412, 'If header evaluated to false');
  if (body === null) {
    // Refresh (§9.10.2): the If header names the lock.
    const tokens = submittedTokens(dr.ifLists);
    if (tokens.size === 0) throw new DavError(400, 'LOCK refresh needs an If header with the lock token');
    const l = dr.locks.covering(dr.path).find((x) => tokens.has(x.token) && x.principal === dr.principal.name);
    if (!l) throw new DavError(412, 'no matching lock to refresh', 'lock-token-matches-request-uri');
    dr.locks.refresh(l, timeoutSec);
    return dr.sendXml(200, lockBody(activeLockXml(l, dr.locks)));
  }
  const { scope, ownerXml } = parseLockInfo(body);
  const depth = parseDepth(dr.header('depth'), 'infinity', [0, 'infinity']) as 0 | 'infinity';
  let attr = await dr.statOrNull(dr.path);
  if (!attr) {
    if (dr.path === '/') throw new DavError(404, 'no root');
    const parent = await dr.statOrNull(parentPath(dr.path));
    if (!parent || parent.type !== 'dir') throw new DavError(409, 'parent collection does not exist');
  }
  const conflicts = dr.locks.conflicts(dr.path, scope, depth);
  if (conflicts.length) {
    throw new DavError(423, 'conflicting lock', 'no-conflicting-lock', conflicts.map((l) => encodeHref(l.root, l.rootIsCollection)));
  }
  if (dr.locks.size >= LIMITS.maxLocks) throw new DavError(503, 'too many active locks');
  let created = false;
  if (!attr) {
    checkLocks(dr, [{ path: parentPath(dr.path) }]);
    try {
      const { fh } = await dr.paths.open(dr.ctx, dr.path, { write: true, create: true, exclusive: true }, 0o644);
      await dr.paths.vfs.release(dr.ctx, fh);
      created = true;
    } catch (e) {
      if (!(e instanceof VfsError && e.errno === Errno.EEXIST)) throw e;
    }
    attr = await dr.statOrNull(dr.path);
  }
  const l = dr.locks.create({
    root: dr.path,
    rootIsCollection: attr?.type === 'dir',
    depth,
    scope,
    ownerXml,
    principal: dr.principal.name,
    timeoutSec,
  });
  if (attr && attr.type === 'file') {
    // The same lock in the VFS lock table: a conflicting FUSE (or other protocol) lock refuses it.
    try {
      await dr.paths.vfs.lock(davLockCtx(dr), attr.ino, { type: scope === 'exclusive' ? 'write' : 'read', start: 0, end: Infinity, owner: l.token }, false);
      l.vfsIno = attr.ino;
    } catch (e) {
      dr.locks.remove(l.token);
      if (e instanceof VfsError && e.errno === Errno.EAGAIN) throw new DavError(423, 'the file is locked through another protocol', 'no-conflicting-lock');
      throw e;
    }
  }
  dr.sendXml(created ? 201 : 200, lockBody(activeLockXml(l, dr.locks)), { 'Lock-Token': `<${l.token}>` });
}

/**
 * UNLOCK handler: the Lock-Token must name a lock covering the request URI (else 409 with
 * DAV:lock-token-matches-request-uri) held by this principal (else 403). 204 on success.
 */
export async function unlock(dr: DavRequest): Promise<void> {
  const token = parseLockToken(dr.header('lock-token'));
  const l = dr.locks.covering(dr.path).find((x) => x.token === token);
  if (!l) throw new DavError(409, 'lock token does not match the request URI', 'lock-token-matches-request-uri');
  if (l.principal !== dr.principal.name) throw new DavError(403, 'lock held by another principal', 'lock-token-matches-request-uri');
  dr.locks.remove(token);
  dr.send(204);
}

/** The VFS context WebDAV locks are held under (one client for all WebDAV locks; the token is the owner). */
export function davLockCtx(dr: DavRequest): DavRequest['ctx'] {
  return Object.assign({}, dr.ctx, { clientId: 'webdav' });
}
