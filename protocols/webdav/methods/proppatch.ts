/**
 * PROPPATCH (RFC 4918 §9.2): sets and removes dead properties in document order, all or
 * nothing. Live properties are protected (403, DAV:cannot-modify-protected-property); when any
 * instruction fails, the ones already applied are rolled back and the rest answer 424.
 */
import { Errno, VfsError } from '../../../vfs/errno.js';
import { checkWrite } from '../conditions.js';
import { DavError, statusOf } from '../errors.js';
import { MULTISTATUS_CLOSE, MULTISTATUS_OPEN, PropstatBuilder } from '../multistatus.js';
import { deadXattrName, encodeDead, isLive } from '../props.js';
import type { DavRequest } from '../session.js';
import { LIMITS } from '../wire/reader.js';
import { encodeHref } from '../wire/url.js';
import { DAV_NS, elements, emptyElement, isEl, serialize, type XmlElement } from '../wire/xml.js';

interface Instruction { op: 'set' | 'remove'; prop: XmlElement }

/** Interprets a DAV:propertyupdate body (RFC 4918 §14.19) into ordered instructions; 400 if malformed. */
export function parsePropertyUpdate(root: XmlElement | null): Instruction[] {
  if (!root || !isEl(root, DAV_NS, 'propertyupdate')) throw new DavError(400, 'PROPPATCH body must be DAV:propertyupdate');
  const out: Instruction[] = [];
  for (const e of elements(root)) {
    if (e.ns !== DAV_NS || (e.local !== 'set' && e.local !== 'remove')) continue;
    const props = elements(e).filter((p) => isEl(p, DAV_NS, 'prop'));
    if (props.length === 0) throw new DavError(400, `DAV:${e.local} without DAV:prop`);
    for (const p of props) for (const prop of elements(p)) out.push({ op: e.local, prop });
  }
  if (out.length === 0) throw new DavError(400, 'PROPPATCH without instructions');
  if (out.length > LIMITS.props) throw new DavError(400, 'too many properties');
  return out;
}

/** PROPPATCH handler: 207 with one propstat per outcome; 404 if the resource is absent. */
export async function proppatch(dr: DavRequest): Promise<void> {
  await checkWrite(dr, [{ path: dr.path }]);
  const attr = await dr.statOrNull(dr.path);
  const instr = parsePropertyUpdate(await dr.readXml());
  if (!attr) throw new DavError(404, 'no such resource');
  const href = encodeHref(dr.path, attr.type === 'dir');
  const status = new Array<number>(instr.length).fill(0);
  let failed = false;
  instr.forEach((ins, i) => {
    if (isLive(ins.prop.ns, ins.prop.local)) { status[i] = 403; failed = true; }
  });
  if (!failed) {
    const undo: Array<{ name: string; old: Buffer | null }> = [];
    const seen = new Set<string>();
    for (let i = 0; i < instr.length; i++) {
      const { op, prop } = instr[i]!;
      const name = deadXattrName(prop.ns, prop.local);
      try {
        if (!seen.has(name)) {
          seen.add(name);
          undo.push({ name, old: await readOld(dr, name) });
        }
        if (op === 'set') {
          const value = encodeDead(prop.ns, prop.local, serialize(prop));
          await dr.paths.setxattr(dr.ctx, dr.path, name, value);
        } else {
          await dr.paths.removexattr(dr.ctx, dr.path, name).catch((e: unknown) => {
            if (!(e instanceof VfsError && e.errno === Errno.ENODATA)) throw e;
          });
        }
        status[i] = 200;
      } catch (e) {
        if (!(e instanceof VfsError)) throw e;
        status[i] = statusOf(e);
        failed = true;
        dr.state.log?.debug({ err: e.message, prop: prop.local }, 'PROPPATCH instruction failed');
        break;
      }
    }
    if (failed) await rollback(dr, undo);
  }
  const b = new PropstatBuilder();
  instr.forEach((ins, i) => {
    const s = failed ? (status[i] && status[i] !== 200 ? status[i]! : 424) : 200;
    b.add(s, emptyElement(ins.prop.ns, ins.prop.local));
  });
  dr.send(207, MULTISTATUS_OPEN + b.response(href) + MULTISTATUS_CLOSE, { 'Content-Type': 'application/xml; charset="utf-8"' });
}

async function readOld(dr: DavRequest, name: string): Promise<Buffer | null> {
  try {
    return await dr.paths.getxattr(dr.ctx, dr.path, name);
  } catch (e) {
    if (e instanceof VfsError && e.errno === Errno.ENODATA) return null;
    throw e;
  }
}

/** Restores every touched xattr to its value before the request (best effort, logged). */
async function rollback(dr: DavRequest, undo: Array<{ name: string; old: Buffer | null }>): Promise<void> {
  for (const { name, old } of undo.reverse()) {
    try {
      if (old === null) await dr.paths.removexattr(dr.ctx, dr.path, name).catch(() => undefined);
      else await dr.paths.setxattr(dr.ctx, dr.path, name, old);
    } catch (e) {
      dr.state.log?.warn({ err: (e as Error).message, name }, 'PROPPATCH rollback failed');
    }
  }
}
