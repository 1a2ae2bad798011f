/**
 * OPTIONS (RFC 9110 §9.3.7, RFC 4918 §10.1), DELETE (RFC 4918 §9.6) and MKCOL (§9.3).
 */
import { checkHttpConditions, checkWrite } from '../conditions.js';
import { DavError } from '../errors.js';
import type { DavRequest } from '../session.js';
import { parseDepth } from '../wire/headers.js';
import { parentPath } from '../wire/url.js';

/** Methods allowed on an existing collection, an existing file and an unmapped URL. */
export const ALLOW = {
  collection: 'OPTIONS, GET, HEAD, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK',
  file: 'OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK',
  unmapped: 'OPTIONS, PUT, MKCOL, LOCK',
};

/** Allow header value for a path. */
export async function allowFor(dr: DavRequest): Promise<string> {
  const attr = await dr.statOrNull(dr.path).catch(() => null);
  return !attr ? ALLOW.unmapped : attr.type === 'dir' ? ALLOW.collection : ALLOW.file;
}

/** OPTIONS: advertises compliance classes 1 and 2 and the methods allowed on the resource. */
export async function options(dr: DavRequest): Promise<void> {
  const allow = dr.req.url === '*' ? ALLOW.file + ', MKCOL' : await allowFor(dr);
  dr.send(200, undefined, { DAV: '1, 2', Allow: allow, 'MS-Author-Via': 'DAV', 'Accept-Ranges': 'bytes' });
}

/**
 * DELETE: removes a file, symlink or whole collection tree and every lock rooted in it.
 * Depth other than infinity on a collection → 400; the root → 403; absent → 404.
 */
export async function del(dr: DavRequest): Promise<void> {
  if (dr.path === '/') throw new DavError(403, 'cannot delete the root collection');
  const attr = await dr.lstatOrNull(dr.path);
  if (!attr) throw new DavError(404, 'no such resource');
  if (attr.type === 'dir') parseDepth(dr.header('depth'), 'infinity', ['infinity']);
  checkHttpConditions(dr, attr);
  await checkWrite(dr, [{ path: dr.path, tree: true, membership: true }]);
  await dr.paths.removeTree(dr.ctx, dr.path);
  dr.locks.removeWithin(dr.path);
  dr.send(204);
}

/**
 * MKCOL: creates a collection. A request body → 415 (no MKCOL body format is supported);
 * existing resource → 405; missing parent → 409; created → 201.
 */
export async function mkcol(dr: DavRequest): Promise<void> {
  if (dr.hasBody()) {
    dr.res.shouldKeepAlive = false;
    throw new DavError(415, 'MKCOL with a body is not supported');
  }
  if (dr.path === '/' || (await dr.lstatOrNull(dr.path))) throw new DavError(405, 'resource exists');
  const parent = await dr.statOrNull(parentPath(dr.path));
  if (!parent || parent.type !== 'dir') throw new DavError(409, 'parent collection does not exist');
  await checkWrite(dr, [{ path: dr.path, membership: true }]);
  await dr.paths.mkdir(dr.ctx, dr.path, 0o755);
  dr.send(201);
}
