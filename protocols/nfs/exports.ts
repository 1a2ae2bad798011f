/**
 * NFS exports: which directories of the namespace are served, to which clients, how.
 *
 *   { "path": "/projects",                 a directory of the namespace (absolute, no . or ..)
 *     "clients": ["127.0.0.1", "10.0.0.0/8", "fd00::/8", "*"],   default: loopback only
 *     "readOnly": false,                   writes answer NFS3ERR_ROFS
 *     "squash": "root",                    "root" (uid/gid 0 → anon; default) | "all" | "none"
 *     "anonUid": 65534, "anonGid": 65534,  the identity squashed callers (and AUTH_NONE) get
 *     "id": 17 }                           export id in file handles; default a hash of the path
 *
 * The export id is part of every file handle (wire/fh.ts), so it must stay stable: by default
 * it is derived from the path (FNV-1a), so reordering the list keeps old handles valid.
 * `parseExports` checks a config value and names the offending field in its message.
 */
import { BlockList, isIP } from 'node:net';
import type { Ctx, Vfs } from '../../vfs/types.js';

export type Squash = 'root' | 'all' | 'none';

export interface Export {
  id: number;
  /** Normalized absolute path ('/' or '/a/b'). */
  path: string;
  /** As configured, for the EXPORT list. */
  clients: string[];
  readOnly: boolean;
  squash: Squash;
  anonUid: number;
  anonGid: number;
  /** Which client addresses may use it. */
  allows(address: string): boolean;
}

/** The clients of an export when none are listed: the loopback addresses. */
export const DEFAULT_CLIENTS: readonly string[] = ['127.0.0.1', '::1'];
export const DEFAULT_ANON = 65534;

export class ExportConfigError extends Error {}

const MAPPED_V4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** An address as BlockList wants it: an IPv4-mapped IPv6 address (::ffff:a.b.c.d) as IPv4. */
/** Client addresses a matcher remembers its answer for (then it starts over). */
const MATCH_MEMO = 4096;

function normalize(address: string): { addr: string; family: 'ipv4' | 'ipv6' } | undefined {
  const m = MAPPED_V4.exec(address);
  const a = m ? m[1]! : address.replace(/%.*$/, ''); // drop an IPv6 zone (fe80::1%eth0)
  const v = isIP(a);
  return v === 4 ? { addr: a, family: 'ipv4' } : v === 6 ? { addr: a, family: 'ipv6' } : undefined;
}

/**
 * A matcher for a list of client specs: an address ("10.1.2.3", "::1"), a CIDR ("10.0.0.0/8",
 * "fd00::/8") or "*" (everyone). Throws ExportConfigError naming `field` for anything else.
 */
export function clientMatcher(specs: readonly string[], field = 'clients'): (address: string) => boolean {
  const list = new BlockList();
  let any = false;
  specs.forEach((spec, i) => {
    const f = `${field}[${i}]`;
    if (typeof spec !== 'string') throw new ExportConfigError(`${f} must be a string (an address, a CIDR or "*")`);
    if (spec === '*') {
      any = true;
      return;
    }
    const slash = spec.indexOf('/');
    const addr = slash < 0 ? spec : spec.slice(0, slash);
    const n = normalize(addr);
    if (!n) throw new ExportConfigError(`${f}: "${spec}" is not an IPv4/IPv6 address, a CIDR or "*" (host names are not accepted)`);
    if (slash < 0) {
      list.addAddress(n.addr, n.family);
      return;
    }
    const bitsText = spec.slice(slash + 1);
    const bits = Number(bitsText);
    const max = n.family === 'ipv4' ? 32 : 128;
    if (!/^\d{1,3}$/.test(bitsText) || bits > max) throw new ExportConfigError(`${f}: "${spec}" has a bad prefix length (0..${max})`);
    list.addSubnet(n.addr, bits, n.family);
  });
  // Answers by address, remembered: every call checks its client's address (several times for
  // some procedures), and BlockList.check builds a SocketAddress each time. The list never
  // changes for this matcher; at most MATCH_MEMO addresses are kept.
  const memo = new Map<string, boolean>();
  return (address: string) => {
    if (any) return true;
    let ok = memo.get(address);
    if (ok === undefined) {
      const n = normalize(address);
      ok = !!n && list.check(n.addr, n.family);
      if (memo.size >= MATCH_MEMO) memo.clear();
      memo.set(address, ok);
    }
    return ok;
  };
}

/** The identity a call runs as in export `e` (AUTH_NONE callers arrive as 65534/65534 and become anon). */
export function squashCtx(e: Pick<Export, 'squash' | 'anonUid' | 'anonGid'>, ctx: Ctx, authNone = false): Ctx {
  if (authNone || e.squash === 'all') return { uid: e.anonUid, gid: e.anonGid, groups: [], clientId: ctx.clientId };
  if (e.squash === 'none') return ctx;
  return {
    uid: ctx.uid === 0 ? e.anonUid : ctx.uid,
    gid: ctx.gid === 0 ? e.anonGid : ctx.gid,
    groups: ctx.groups.filter((g) => g !== 0),
    clientId: ctx.clientId,
  };
}

/** FNV-1a of the path, never 0. */
export function exportIdOf(path: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(path)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h || 1;
}

/** '/a//b/' → '/a/b'; undefined when relative or with '.' / '..'. */
export function normalizeExportPath(p: string): string | undefined {
  if (!p.startsWith('/')) return undefined;
  const parts = p.split('/').filter((c) => c !== '');
  if (parts.some((c) => c === '.' || c === '..')) return undefined;
  return '/' + parts.join('/');
}

const KNOWN = ['path', 'clients', 'readOnly', 'squash', 'anonUid', 'anonGid', 'id'];

/** Builds one export; `field` names it in messages (e.g. 'nfs.exports[0]'). */
export function makeExport(v: unknown, field: string): Export {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new ExportConfigError(`${field} must be an object with at least "path"`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN.includes(k)) throw new ExportConfigError(`${field}: unknown key "${k}" (known: ${KNOWN.join(', ')})`);
  if (typeof o.path !== 'string') throw new ExportConfigError(`${field}.path must be a string (a directory of the namespace, e.g. "/" or "/projects")`);
  const path = normalizeExportPath(o.path);
  if (!path) throw new ExportConfigError(`${field}.path: "${o.path}" must be absolute, without "." or ".." components`);
  if (o.clients !== undefined && (!Array.isArray(o.clients) || o.clients.length === 0)) {
    throw new ExportConfigError(`${field}.clients must be a non-empty list of addresses, CIDRs or "*"`);
  }
  const clients = (o.clients as string[] | undefined) ?? [...DEFAULT_CLIENTS];
  const allows = clientMatcher(clients, `${field}.clients`);
  if (o.readOnly !== undefined && typeof o.readOnly !== 'boolean') throw new ExportConfigError(`${field}.readOnly must be true or false`);
  const squash = o.squash ?? 'root';
  if (squash !== 'root' && squash !== 'all' && squash !== 'none') throw new ExportConfigError(`${field}.squash must be "root", "all" or "none"`);
  const id32 = (k: 'anonUid' | 'anonGid' | 'id', dflt: number, min: number): number => {
    const x = o[k] ?? dflt;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > 0xffffffff) throw new ExportConfigError(`${field}.${k} must be an integer from ${min} to 4294967295`);
    return x;
  };
  return {
    id: id32('id', exportIdOf(path), 1), path, clients: [...clients], readOnly: o.readOnly === true, squash,
    anonUid: id32('anonUid', DEFAULT_ANON, 0), anonGid: id32('anonGid', DEFAULT_ANON, 0), allows,
  };
}

/** Checks a list of exports (`field` e.g. 'nfs.exports'): each valid, paths and ids distinct. */
export function parseExports(v: unknown, field = 'exports'): Export[] {
  if (!Array.isArray(v) || v.length === 0) throw new ExportConfigError(`${field} must be a non-empty list of exports`);
  const out = v.map((e, i) => makeExport(e, `${field}[${i}]`));
  for (let i = 0; i < out.length; i++) {
    for (let j = 0; j < i; j++) {
      if (out[i]!.path === out[j]!.path) throw new ExportConfigError(`${field}[${i}].path: "${out[i]!.path}" is exported twice`);
      if (out[i]!.id === out[j]!.id) throw new ExportConfigError(`${field}[${i}].id: ${out[i]!.id} is also the id of ${field}[${j}] (give one an explicit "id")`);
    }
  }
  return out;
}

/** The export a mount path falls in: the one with the longest path that is a prefix of it (by components). */
export function exportFor(exports: readonly Export[], path: string): Export | undefined {
  let best: Export | undefined;
  for (const e of exports) {
    const inside = e.path === '/' || path === e.path || path.startsWith(e.path + '/');
    if (inside && (!best || e.path.length > best.path.length)) best = e;
  }
  return best;
}

/** The VFS's root inode (FUSE_ROOT_ID too). */
export const ROOT_INO = 1;
const SERVER_CTX: Ctx = { uid: 0, gid: 0, groups: [], clientId: 'nfs:exports' };

/** The exports of one server, by id, with the inode of each export's directory (after `init`). */
export class ExportTable {
  private readonly byId = new Map<number, Export>();
  private readonly roots = new Map<number, number>();

  constructor(readonly list: readonly Export[]) {
    for (const e of list) {
      this.byId.set(e.id, e);
      if (e.path === '/') this.roots.set(e.id, ROOT_INO);
    }
  }

  /** The whole namespace to every client, identities as sent: the library default (tests, benchmarks). */
  static open(id = 1): ExportTable {
    return new ExportTable([{ id, path: '/', clients: ['*'], readOnly: false, squash: 'none', anonUid: DEFAULT_ANON, anonGid: DEFAULT_ANON, allows: () => true }]);
  }

  /** Finds each export's directory; throws ExportConfigError for one that is missing or not a directory. */
  async init(vfs: Vfs): Promise<void> {
    for (const e of this.list) {
      let ino = ROOT_INO;
      try {
        for (const name of e.path.split('/').filter(Boolean)) ino = (await vfs.lookup(SERVER_CTX, ino, name)).ino;
        if ((await vfs.getattr(SERVER_CTX, ino)).type !== 'dir') throw new Error('not a directory');
      } catch (err) {
        throw new ExportConfigError(`NFS export "${e.path}": ${(err as Error).message || 'not found'} (the directory must exist in the namespace)`);
      }
      this.roots.set(e.id, ino);
    }
  }

  get(id: number): Export | undefined {
    return this.byId.get(id);
  }

  /** The inode of export `id`'s directory. */
  root(id: number): number {
    const r = this.roots.get(id);
    if (r === undefined) throw new Error(`NFS export ${id} not initialized`);
    return r;
  }

  /** The export a mount path falls in. */
  forMount(path: string): Export | undefined {
    return exportFor(this.list, path);
  }
}
