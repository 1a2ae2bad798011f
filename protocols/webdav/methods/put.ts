/**
 * PUT (RFC 9110 §9.3.4, RFC 4918 §9.7): the body streams into the VFS as it arrives, in
 * records of WRITE_CHUNK bytes (the file is opened create+truncate, written in order, released
 * at the end); the whole body is never held in memory. 201 for a new resource, 204 for a
 * replaced one; 409 when the parent collection is missing; 405 on a collection; 400 with
 * Content-Range (RFC 9110 §14.5).
 */
import { checkHttpConditions, checkWrite, etagOf } from '../conditions.js';
import { DavError } from '../errors.js';
import type { DavRequest } from '../session.js';
import { Errno, VfsError } from '../../../vfs/errno.js';

/** Bytes handed to one VFS write (one default record). */
export const WRITE_CHUNK = 1 << 20;

/** PUT handler. */
export async function put(dr: DavRequest): Promise<void> {
  if (dr.header('content-range') !== undefined) throw new DavError(400, 'Content-Range on PUT is not supported');
  if (dr.path === '/') throw new DavError(405, 'PUT on the root collection');
  const attr = await dr.statOrNull(dr.path);
  if (attr && attr.type === 'dir') throw new DavError(405, 'PUT on a collection');
  if (checkHttpConditions(dr, attr) === 304) throw new DavError(412, 'precondition failed');
  await checkWrite(dr, [{ path: dr.path, membership: !attr }]);

  let opened;
  try {
    opened = await dr.paths.open(dr.ctx, dr.path, { write: true, create: true, truncate: true }, 0o644);
  } catch (e) {
    // Creating under a missing parent (or under a non-collection) is a conflict (RFC 4918 §9.7.1).
    if (e instanceof VfsError && (e.errno === Errno.ENOENT || e.errno === Errno.ENOTDIR)) {
      throw new DavError(409, 'parent collection does not exist');
    }
    throw e;
  }
  const { fh } = opened;
  const vfs = dr.paths.vfs;
  let released = false;
  // One record may be in flight to the VFS while the next one fills from the socket, so
  // network receive and storage work overlap; memory stays at two records per request.
  let inflight: Promise<unknown> | null = null;
  try {
    let off = 0;
    // Two record buffers used in turn: the VFS copies written data, and a buffer is refilled
    // only after the write that used it has completed. A small body gets a buffer of its size.
    const declared = dr.contentLength();
    const firstSize = declared !== undefined && declared < WRITE_CHUNK ? Math.max(1, declared) : WRITE_CHUNK;
    const bufs: Buffer[] = [];
    let which = 0;
    let rec: Buffer | null = null; // allocated when data arrives for it
    let fill = 0;
    for await (const c of dr.req) {
      let chunk = c as Buffer;
      while (chunk.length) {
        rec ??= bufs[which] ??= Buffer.allocUnsafe(bufs.length === 0 ? firstSize : WRITE_CHUNK);
        const n = Math.min(chunk.length, rec.length - fill);
        chunk.copy(rec, fill, 0, n);
        fill += n;
        chunk = chunk.subarray(n);
        if (fill === rec.length) {
          if (inflight) await inflight;
          inflight = vfs.write(dr.ctx, fh, off, rec);
          inflight.catch(() => undefined); // observed by the next await
          off += fill;
          which ^= 1;
          rec = null;
          fill = 0;
        }
      }
    }
    if (inflight) await inflight;
    inflight = null;
    if (rec && fill) await vfs.write(dr.ctx, fh, off, rec.subarray(0, fill));
    released = true;
    await vfs.release(dr.ctx, fh);
  } catch (e) {
    if (inflight) await inflight.catch(() => undefined);
    if (!released) await vfs.release(dr.ctx, fh).catch(() => undefined);
    if (!attr) await dr.paths.unlink(dr.ctx, dr.path).catch(() => undefined);
    throw e;
  }
  const now = await vfs.getattr(dr.ctx, opened.attr.ino).catch(() => null);
  const headers: Record<string, string> = now ? { ETag: etagOf(now) } : {};
  if (attr) dr.send(204, undefined, headers);
  else dr.send(201, undefined, headers);
}
