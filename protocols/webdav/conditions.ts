/**
 * Preconditions: ETags, If header evaluation (RFC 4918 §10.4), the lock check that answers
 * 423 Locked (§6, §7), and the HTTP conditional headers If-Match / If-None-Match /
 * If-Unmodified-Since / If-Modified-Since (RFC 9110 §13).
 */
import type { Attr } from '../../vfs/types.js';
import { DavError } from './errors.js';
import type { DavLock } from './locks.js';
import type { DavRequest } from './session.js';
import { submittedTokens, type IfCondition } from './wire/if.js';
import { parseEtagList } from './wire/headers.js';
import { encodeHref, parentPath } from './wire/url.js';

/** Strong ETag of a resource: '"<ino>-<size>-<mtimeNs>"' in hex (RFC 9110 §8.8.3). */
export function etagOf(attr: Attr): string {
  return `"${attr.ino.toString(16)}-${attr.size.toString(16)}-${attr.mtimeNs.toString(16)}"`;
}

/**
 * Evaluates the If header (RFC 4918 §10.4.2-4): true when at least one list matches, where a
 * list matches when every condition does. A state token matches when it is the token of a lock
 * covering the list's resource; an entity-tag matches by strong comparison with the resource's
 * current ETag. Untagged lists apply to the request URI. No If header → true.
 */
export async function evaluateIf(dr: DavRequest): Promise<boolean> {
  const lists = dr.ifLists;
  if (lists.length === 0) return true;
  const cache = new Map<string, Attr | null>();
  for (const list of lists) {
    const path = list.resource ?? dr.path;
    let attr = cache.get(path);
    if (attr === undefined) {
      attr = await dr.statOrNull(path);
      cache.set(path, attr);
    }
    let ok = true;
    for (const c of list.conditions) {
      if (conditionHolds(dr, c, path, attr) === c.not) { ok = false; break; }
    }
    if (ok) return true;
  }
  return false;
}

function conditionHolds(dr: DavRequest, c: IfCondition, path: string, attr: Attr | null): boolean {
  if (c.token !== undefined) {
    return dr.locks.covering(path).some((l) => l.token === c.token);
  }
  if (c.etag !== undefined) {
    return attr !== null && !c.etag.startsWith('W/') && etagOf(attr) === c.etag;
  }
  return false;
}

/** What a request modifies, for the lock check. */
export interface WriteScope {
  path: string;
  /** The whole tree below `path` changes (DELETE, MOVE source, overwritten destination). */
  tree?: boolean;
  /** The parent collection's membership changes (a member is created or removed). */
  membership?: boolean;
}

/**
 * 423 Locked unless every lock that protects the scopes has its token submitted in the If
 * header by the principal that owns it (RFC 4918 §7.4, §7.5). The DAV:error body names the
 * lock root (DAV:lock-token-submitted, §16).
 */
export function checkLocks(dr: DavRequest, scopes: readonly WriteScope[]): void {
  const tokens = submittedTokens(dr.ifLists);
  const blocking: DavLock[] = [];
  const consider = (l: DavLock): void => {
    if (!(tokens.has(l.token) && l.principal === dr.principal.name) && !blocking.includes(l)) blocking.push(l);
  };
  for (const s of scopes) {
    for (const l of dr.locks.covering(s.path)) consider(l);
    if (s.tree) for (const l of dr.locks.within(s.path)) consider(l);
    if (s.membership && s.path !== '/') {
      // A depth-0 lock on the parent protects its membership (§7.4); deeper ones are covered above.
      for (const l of dr.locks.covering(parentPath(s.path))) consider(l);
    }
  }
  if (blocking.length) {
    throw new DavError(423, 'resource is locked', 'lock-token-submitted',
      blocking.map((l) => encodeHref(l.root, l.rootIsCollection)));
  }
}

/**
 * If header then lock check, for every modifying method: 412 when the If header fails,
 * 423 when a protecting lock's token was not submitted.
 */
export async function checkWrite(dr: DavRequest, scopes: readonly WriteScope[]): Promise<void> {
  if (!(await evaluateIf(dr))) throw new DavError(412, 'If header evaluated to false');
  checkLocks(dr, scopes);
}

/**
 * HTTP conditional request headers (RFC 9110 §13.2.2 order) for a resource with `attr` (null =
 * absent). Returns 304 for GET/HEAD when If-None-Match or If-Modified-Since says not modified,
 * throws DavError 412 when a precondition fails, returns null to go on.
 */
export function checkHttpConditions(dr: DavRequest, attr: Attr | null): 304 | null {
  const safe = dr.method === 'GET' || dr.method === 'HEAD';
  const etag = attr ? etagOf(attr) : null;
  const ifMatch = dr.header('if-match');
  if (ifMatch !== undefined) {
    const tags = parseEtagList(ifMatch);
    const ok = tags === '*' ? attr !== null : etag !== null && tags.includes(etag);
    if (!ok) throw new DavError(412, 'If-Match failed');
  } else {
    const ius = dr.header('if-unmodified-since');
    const t = ius !== undefined ? Date.parse(ius) : NaN;
    if (attr && !Number.isNaN(t) && Number(attr.mtimeNs / 1_000_000n) > t + 999) throw new DavError(412, 'If-Unmodified-Since failed');
  }
  const inm = dr.header('if-none-match');
  if (inm !== undefined) {
    const tags = parseEtagList(inm);
    const weakEq = (a: string): boolean => etag !== null && a.replace(/^W\//, '') === etag;
    const match = tags === '*' ? attr !== null : tags.some(weakEq);
    if (match) {
      if (safe) return 304;
      throw new DavError(412, 'If-None-Match failed');
    }
  } else if (safe && attr) {
    const ims = dr.header('if-modified-since');
    const t = ims !== undefined ? Date.parse(ims) : NaN;
    if (!Number.isNaN(t) && Number(attr.mtimeNs / 1_000_000n) <= t + 999) return 304;
  }
  return null;
}
