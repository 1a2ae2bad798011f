/**
 * PROPFIND (RFC 4918 §9.1): allprop (with include), propname and prop requests at Depth 0, 1
 * or infinity. The 207 body is streamed one DAV:response at a time, so a deep tree never sits
 * in memory whole.
 */
import type { Attr } from '../../../vfs/types.js';
import { DavError } from '../errors.js';
import { MULTISTATUS_CLOSE, MULTISTATUS_OPEN, PropstatBuilder } from '../multistatus.js';
import { LIVE_PROPS, QUOTA_PROPS, getDead, isLive, listDead, liveValue, quotaValue, type LiveProp } from '../props.js';
import type { DavRequest } from '../session.js';
import { parseDepth } from '../wire/headers.js';
import { LIMITS } from '../wire/reader.js';
import { encodeHref, joinPath } from '../wire/url.js';
import { DAV_NS, elements, emptyElement, isEl, type XmlElement } from '../wire/xml.js';

type Request =
  | { kind: 'allprop'; include: Array<{ ns: string; local: string }> }
  | { kind: 'propname' }
  | { kind: 'prop'; props: Array<{ ns: string; local: string }> };

/** Interprets a DAV:propfind body (RFC 4918 §14.20); null body = allprop. Malformed → 400. */
export function parsePropfind(root: XmlElement | null): Request {
  if (root === null) return { kind: 'allprop', include: [] };
  if (!isEl(root, DAV_NS, 'propfind')) throw new DavError(400, 'PROPFIND body must be DAV:propfind');
  const kids = elements(root).filter((e) => e.ns === DAV_NS);
  const names = (e: XmlElement): Array<{ ns: string; local: string }> => {
    const list = elements(e).map((p) => ({ ns: p.ns, local: p.local }));
    if (list.length > LIMITS.props) throw new DavError(400, 'too many properties');
    return list;
  };
  const allprop = kids.find((e) => e.local === 'allprop');
  const propname = kids.find((e) => e.local === 'propname');
  const prop = kids.find((e) => e.local === 'prop');
  const include = kids.find((e) => e.local === 'include');
  if ([allprop, propname, prop].filter(Boolean).length !== 1) throw new DavError(400, 'PROPFIND needs exactly one of allprop, propname, prop');
  if (allprop) return { kind: 'allprop', include: include ? names(include) : [] };
  if (propname) return { kind: 'propname' };
  return { kind: 'prop', props: names(prop!) };
}

/** Builds the DAV:response for one resource. */
async function responseFor(dr: DavRequest, path: string, attr: Attr, q: Request): Promise<string> {
  const b = new PropstatBuilder();
  const live = LIVE_PROPS.filter((n) => liveValue(n, path, attr, dr.locks) !== undefined);
  if (q.kind === 'propname') {
    for (const n of live) b.add(200, `<D:${n}/>`);
    for (const d of await listDead(dr.paths, dr.ctx, path)) b.add(200, emptyElement(d.ns, d.local));
  } else if (q.kind === 'allprop') {
    for (const n of live) b.add(200, `<D:${n}>${liveValue(n, path, attr, dr.locks)}</D:${n}>`);
    for (const d of await listDead(dr.paths, dr.ctx, path)) b.add(200, d.xml);
  } else {
    for (const p of q.props) {
      if (isLive(p.ns, p.local)) {
        const v = (QUOTA_PROPS as readonly string[]).includes(p.local)
          ? await quotaValue(dr.paths, dr.ctx, path, attr, p.local)
          : liveValue(p.local as LiveProp, path, attr, dr.locks);
        if (v === undefined) b.add(404, `<D:${p.local}/>`);
        else b.add(200, `<D:${p.local}>${v}</D:${p.local}>`);
        continue;
      }
      const d = await getDead(dr.paths, dr.ctx, path, p.ns, p.local);
      if (d) b.add(200, d.xml);
      else b.add(404, emptyElement(p.ns, p.local));
    }
  }
  return b.response(encodeHref(path, attr.type === 'dir'));
}

/** PROPFIND handler. 404 if the resource is absent; 207 otherwise. */
export async function propfind(dr: DavRequest): Promise<void> {
  const depth = parseDepth(dr.header('depth'), 'infinity');
  const q = parsePropfind(await dr.readXml());
  const attr = await dr.statOrNull(dr.path);
  if (!attr) throw new DavError(404, 'no such resource');
  const res = dr.res;
  res.setHeader('Content-Type', 'application/xml; charset="utf-8"');
  res.writeHead(207);
  if (dr.method === 'HEAD') { res.end(); return; }
  await dr.write(MULTISTATUS_OPEN);
  await dr.write(await responseFor(dr, dr.path, attr, q));
  if (attr.type === 'dir' && depth !== 0) {
    // Depth-first walk; the stack holds directory paths only.
    const stack: string[] = [dr.path];
    while (stack.length && !res.destroyed) {
      const dir = stack.pop()!;
      let entries;
      try {
        entries = await dr.paths.readdir(dr.ctx, dir);
      } catch {
        continue; // vanished or unreadable: skip its members
      }
      for (const e of entries) {
        const p = joinPath(dir, e.name);
        let a: Attr | null = e.attr ?? null;
        if (!a || a.type === 'symlink') a = await dr.statOrNull(p).catch(() => null);
        if (!a) continue; // dangling symlink or raced away
        await dr.write(await responseFor(dr, p, a, q));
        if (a.type === 'dir' && depth === 'infinity' && e.type !== 'symlink') stack.push(p);
      }
    }
  }
  res.end(MULTISTATUS_CLOSE);
}
