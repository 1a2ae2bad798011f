/**
 * COPY and MOVE (RFC 4918 §9.8, §9.9): Destination as absolute URI or absolute path (502 for
 * another server), Overwrite T/F (412 when F and the destination exists), Depth 0 or infinity
 * for COPY, infinity only for MOVE. 201 when the destination is new, 204 when it was replaced,
 * 409 when its parent is missing, 403 when source and destination are the same or nest.
 */
import { checkHttpConditions, checkWrite, type WriteScope } from '../conditions.js';
import { DavError } from '../errors.js';
import { Errno, VfsError } from '../../../vfs/errno.js';
import type { DavRequest } from '../session.js';
import { parseDepth, parseOverwrite } from '../wire/headers.js';
import { isWithin, parentPath, parseDestination } from '../wire/url.js';

/** COPY / MOVE handler (the method decides). */
export async function copyMove(dr: DavRequest): Promise<void> {
  const move = dr.method === 'MOVE';
  const dest = parseDestination(dr.header('destination'), dr.header('host'), dr.state.scheme).path;
  const overwrite = parseOverwrite(dr.header('overwrite'));
  const depth = move
    ? parseDepth(dr.header('depth'), 'infinity', ['infinity'])
    : parseDepth(dr.header('depth'), 'infinity', [0, 'infinity']);
  const src = dr.path;
  const srcAttr = await dr.lstatOrNull(src);
  if (!srcAttr) throw new DavError(404, 'no such resource');
  if (src === '/') throw new DavError(403, `cannot ${dr.method} the root collection`);
  if (dest === src) throw new DavError(403, 'source and destination are the same');
  if (srcAttr.type === 'dir' && isWithin(dest, src)) throw new DavError(403, 'destination is inside the source');
  if (dest === '/') throw new DavError(403, 'cannot overwrite the root collection');
  const destParent = await dr.statOrNull(parentPath(dest));
  if (!destParent || destParent.type !== 'dir') throw new DavError(409, 'destination parent collection does not exist');
  const destAttr = await dr.lstatOrNull(dest);
  if (destAttr && !overwrite) throw new DavError(412, 'destination exists and Overwrite is F');
  if (destAttr && isWithin(src, dest)) throw new DavError(403, 'overwriting the destination would delete the source');
  checkHttpConditions(dr, srcAttr);
  const scopes: WriteScope[] = [{ path: dest, tree: true, membership: true }];
  if (move) scopes.push({ path: src, tree: true, membership: true });
  await checkWrite(dr, scopes);
  if (destAttr) await dr.paths.removeTree(dr.ctx, dest);
  if (move) {
    try {
      await dr.paths.rename(dr.ctx, src, dest);
    } catch (e) {
      // Across a directory-quota or retention boundary a rename is EXDEV: copy (by block
      // reference, so cheap) and delete, as across file systems; undo the copy if that fails.
      if (!(e instanceof VfsError) || e.errno !== Errno.EXDEV) throw e;
      await dr.paths.copy(dr.ctx, src, dest, { overwrite: false, depth: 'infinity' }).catch(async (err: unknown) => {
        await dr.paths.removeTree(dr.ctx, dest).catch(() => undefined);
        throw err;
      });
      await dr.paths.removeTree(dr.ctx, src);
    }
    dr.locks.removeWithin(src);
  } else {
    await dr.paths.copy(dr.ctx, src, dest, { overwrite: false, depth: depth === 0 ? 0 : 'infinity' });
  }
  dr.send(destAttr ? 204 : 201);
}
