/**
 * The NFSv4 operations on the namespace (RFC 7530 §16, RFC 8881 §18): file handles (PUTFH,
 * PUTROOTFH, PUTPUBFH, GETFH, SAVEFH, RESTOREFH), LOOKUP, LOOKUPP, GETATTR, VERIFY, NVERIFY,
 * ACCESS, READLINK, READDIR, CREATE, REMOVE, RENAME, LINK, SETATTR, COMMIT, SECINFO,
 * SECINFO_NO_NAME. Each writes its result body after the status; errors are thrown.
 */
import { Errno, VfsError } from '../../../vfs/errno.js';
import { S_IFBLK, S_IFCHR, S_IFIFO, S_IFSOCK, type Attr, type DirEntry } from '../../../vfs/types.js';
import { Nfs4Error, nfs4Status } from '../errors.js';
import { AttrDecodeError, bitsOf, decodeFattr, encodeFattr, FATTR4, writeFattr } from '../wire/nfs4-attr.js';
import type { U } from '../wire/nfs4-xdr.js';
import { ACCESS4, AUTH_NONE, AUTH_SYS, NF4, NFS4, OP, OPEN4_SHARE_ACCESS, writeChangeInfo, type Args4, type Fattr4 } from '../wire/nfs4.js';
import type { XdrWriter } from '../wire/xdr.js';
import { bitmapOf, changeOf, ctxOf, dirOf, fileName, setAttrOf, writable } from './common.js';
import { current, type Compound, type OpDef } from './compound.js';
import type { Node } from './service.js';
import { isAnonymous, isBypass, isCurrent, type OpenState } from './state.js';

const makedev = (ma: number, mi: number) => ((mi & 0xff) | ((ma & 0xfff) << 8) | ((mi & ~0xff) << 12)) >>> 0;

/** Encodes the requested attributes of node `n` (attribute values from its VFS attr). */
async function fattrOf(c: Compound, n: Node, a: Attr, requested: readonly number[]): Promise<Fattr4> {
  const get = await c.s.attrValues(ctxOf(c, n), n, a, requested, c.minor);
  const sup = new Set(c.s.supported(c.minor));
  return encodeFattr(requested.filter((x) => sup.has(x)), get);
}

async function lookupIn(c: Compound, dir: Node, name: string): Promise<Node> {
  if (dir.pseudo) {
    const ch = dir.pseudo.children.get(name);
    if (!ch) throw new Nfs4Error(NFS4.ERR_NOENT, 'no such entry');
    if (ch.node !== undefined) return c.s.pseudoNode(c.s.pseudo.nodes.get(ch.node)!);
    if (!ch.exp!.allows(c.host)) throw new Nfs4Error(NFS4.ERR_NOENT, 'export not for this client');
    return c.s.exportNode(ch.exp!);
  }
  await dirOf(c, dir);
  const a = await c.s.vfs.lookup(ctxOf(c, dir), dir.ino, name);
  return c.s.node(c.s.exportAt(dir.exp!, a.ino, c.host), a);
}

/** The cookie of a pseudo-fs directory's i-th entry (0, 1 and 2 are reserved, RFC 7530 §16.24.4). */
const PSEUDO_COOKIE0 = 3;

/** A stateid given to SETATTR (size changes): the open it names, if any; special ones pass. */
export function openOf(c: Compound, sid: { seqid: number; other: Buffer }): OpenState | undefined {
  if (c.minor >= 1 && isCurrent(sid)) {
    if (!c.curStateid) throw new Nfs4Error(NFS4.ERR_BAD_STATEID, 'no current stateid');
    sid = c.curStateid;
  }
  if (isAnonymous(sid) || isBypass(sid)) return undefined;
  const st = c.s.state.find(sid, c.minor);
  return st.kind === 'open' ? st : st.open;
}

export const FS_OPS: Partial<Record<number, OpDef>> = {
  [OP.PUTFH]: {
    run: async (c, fh: Args4<typeof OP.PUTFH>) => {
      const n = c.s.fromFh(fh, c.host);
      if (!n.pseudo) await c.s.attr(ctxOf(c, n), n);
      c.cur = n;
      c.curStateid = undefined;
    },
  },
  [OP.PUTROOTFH]: { run: async (c) => { c.cur = await c.s.rootNode(c.host); c.curStateid = undefined; } },
  [OP.PUTPUBFH]: { run: async (c) => { c.cur = await c.s.rootNode(c.host); c.curStateid = undefined; } },
  [OP.GETFH]: { run: (c, _a, w) => void w.opaque(current(c).fh) },
  [OP.SAVEFH]: {
    run: (c) => {
      c.saved = current(c);
      c.savedStateid = c.curStateid;
    },
  },
  [OP.RESTOREFH]: {
    run: (c) => {
      if (!c.saved) throw new Nfs4Error(NFS4.ERR_RESTOREFH, 'no saved file handle');
      c.cur = c.saved;
      c.curStateid = c.savedStateid;
    },
  },
  [OP.LOOKUP]: {
    run: async (c, name: Args4<typeof OP.LOOKUP>) => {
      const dir = current(c);
      c.cur = await lookupIn(c, dir, fileName(name));
      c.curStateid = undefined;
    },
  },
  [OP.LOOKUPP]: {
    run: async (c) => {
      const n = current(c);
      if (n.pseudo) {
        if (n.ino === 1) throw new Nfs4Error(NFS4.ERR_NOENT, 'the root has no parent');
        c.cur = c.s.pseudoNode(c.s.pseudo.nodes.get(n.pseudo.parent)!);
        return;
      }
      await dirOf(c, n);
      const exp = n.exp!;
      if (n.ino === c.s.exports.root(exp.id)) {
        const rootExp = c.s.rootExport;
        if (rootExp === exp) throw new Nfs4Error(NFS4.ERR_NOENT, 'the root has no parent');
        if (rootExp?.allows(c.host)) {
          const up = await c.s.vfs.lookup(ctxOf(c, n), n.ino, '..');
          c.cur = c.s.node(c.s.exportAt(rootExp, up.ino, c.host), up);
        } else c.cur = c.s.pseudoNode(c.s.pseudo.parentOfExport(exp)!);
        return;
      }
      const up = await c.s.vfs.lookup(ctxOf(c, n), n.ino, '..');
      c.cur = c.s.node(exp, up);
    },
  },
  [OP.GETATTR]: {
    run: async (c, mask: Args4<typeof OP.GETATTR>, w) => {
      const n = current(c);
      writeFattr(w, await fattrOf(c, n, await c.s.attr(ctxOf(c, n), n), bitsOf(mask)));
    },
  },
  [OP.VERIFY]: { run: (c, f: Args4<typeof OP.VERIFY>) => verify(c, f, true) },
  [OP.NVERIFY]: { run: (c, f: Args4<typeof OP.NVERIFY>) => verify(c, f, false) },
  [OP.ACCESS]: {
    run: async (c, want: Args4<typeof OP.ACCESS>, w) => {
      const n = current(c);
      const a = await c.s.attr(ctxOf(c, n), n);
      const all = ACCESS4.READ | ACCESS4.LOOKUP | ACCESS4.MODIFY | ACCESS4.EXTEND | ACCESS4.DELETE | ACCESS4.EXECUTE;
      let granted = 0;
      if (n.pseudo) granted = ACCESS4.READ | ACCESS4.LOOKUP | ACCESS4.EXECUTE;
      else {
        const ctx = ctxOf(c, n);
        const may = (mask: number) => c.s.vfs.access(ctx, n.ino, mask).then(() => true, () => false);
        const [r, wr, x] = await Promise.all([may(4), may(2), may(1)]);
        if (r) granted |= ACCESS4.READ;
        if (wr && !n.exp!.readOnly) granted |= ACCESS4.MODIFY | ACCESS4.EXTEND | (a.type === 'dir' ? ACCESS4.DELETE : 0);
        if (x) granted |= a.type === 'dir' ? ACCESS4.LOOKUP : ACCESS4.EXECUTE;
      }
      w.uint(want & all).uint(granted & want & all);
    },
  },
  [OP.READLINK]: {
    run: async (c, _a, w) => {
      const n = current(c);
      const a = await c.s.attr(ctxOf(c, n), n);
      if (a.type === 'dir') throw new Nfs4Error(NFS4.ERR_ISDIR, 'a directory');
      if (a.type !== 'symlink') throw new Nfs4Error(NFS4.ERR_INVAL, 'not a symlink');
      w.opaque(Buffer.from(await c.s.vfs.readlink(ctxOf(c, n), n.ino)));
    },
  },
  [OP.READDIR]: { run: (c, a: Args4<typeof OP.READDIR>, w) => readdir(c, a, w) },
  [OP.CREATE]: {
    run: async (c, a: Args4<typeof OP.CREATE>, w) => {
      const dirN = writable(c);
      await dirOf(c, dirN);
      const name = fileName(a.objname);
      const { ch, set } = setAttrOf(a.createattrs);
      const ctx = ctxOf(c, dirN);
      const t = a.objtype as U;
      const before = await changeOf(c, dirN);
      const mode = ch.mode ?? (t.tag === NF4.DIR ? 0o755 : 0o644);
      let obj: Attr;
      switch (t.tag) {
        case NF4.DIR: obj = await c.s.vfs.mkdir(ctx, dirN.ino, name, mode); break;
        case NF4.LNK: {
          let target: string;
          try {
            target = new TextDecoder('utf-8', { fatal: true }).decode(t.v as Buffer);
          } catch {
            throw new Nfs4Error(NFS4.ERR_INVAL, 'link text is not UTF-8');
          }
          obj = await c.s.vfs.symlink(ctx, dirN.ino, name, target);
          break;
        }
        case NF4.BLK: case NF4.CHR: {
          const d = t.v as { specdata1: number; specdata2: number };
          obj = await c.s.vfs.mknod(ctx, dirN.ino, name, (t.tag === NF4.BLK ? S_IFBLK : S_IFCHR) | mode, makedev(d.specdata1, d.specdata2));
          break;
        }
        case NF4.SOCK: case NF4.FIFO:
          obj = await c.s.vfs.mknod(ctx, dirN.ino, name, (t.tag === NF4.SOCK ? S_IFSOCK : S_IFIFO) | mode, 0);
          break;
        default: throw new Nfs4Error(NFS4.ERR_BADTYPE, 'CREATE makes no regular files (use OPEN)');
      }
      const { mode: _m, ...rest } = ch;
      if (t.tag !== NF4.LNK && Object.keys(rest).length) obj = await c.s.vfs.setattr(ctx, obj.ino, rest);
      writeChangeInfo(w, before, await changeOf(c, dirN));
      w.array(bitmapOf(t.tag === NF4.LNK ? [] : set), (x, v) => x.uint(v));
      c.cur = c.s.node(dirN.exp!, obj);
      c.curStateid = undefined;
    },
  },
  [OP.REMOVE]: {
    run: async (c, target: Args4<typeof OP.REMOVE>, w) => {
      const dirN = writable(c);
      await dirOf(c, dirN);
      const name = fileName(target);
      const ctx = ctxOf(c, dirN);
      const before = await changeOf(c, dirN);
      const obj = await c.s.vfs.lookup(ctx, dirN.ino, name);
      if (obj.type === 'dir') await c.s.vfs.rmdir(ctx, dirN.ino, name);
      else await c.s.vfs.unlink(ctx, dirN.ino, name);
      writeChangeInfo(w, before, await changeOf(c, dirN));
    },
  },
  [OP.RENAME]: {
    run: async (c, a: Args4<typeof OP.RENAME>, w) => {
      if (!c.saved) throw new Nfs4Error(NFS4.ERR_NOFILEHANDLE, 'no saved file handle');
      const to = writable(c), from = writable(c, c.saved);
      if (from.exp !== to.exp) throw new Nfs4Error(NFS4.ERR_XDEV, 'directories in two exports');
      await dirOf(c, from);
      await dirOf(c, to);
      const oldname = fileName(a.oldname), newname = fileName(a.newname);
      const b1 = await changeOf(c, from), b2 = await changeOf(c, to);
      await c.s.vfs.rename(ctxOf(c, to), from.ino, oldname, to.ino, newname);
      writeChangeInfo(w, b1, await changeOf(c, from));
      writeChangeInfo(w, b2, await changeOf(c, to));
    },
  },
  [OP.LINK]: {
    run: async (c, newname: Args4<typeof OP.LINK>, w) => {
      if (!c.saved) throw new Nfs4Error(NFS4.ERR_NOFILEHANDLE, 'no saved file handle');
      const dirN = writable(c), src = writable(c, c.saved);
      if (src.exp !== dirN.exp) throw new Nfs4Error(NFS4.ERR_XDEV, 'two exports');
      await dirOf(c, dirN);
      const sa = await c.s.attr(ctxOf(c, src), src);
      if (sa.type === 'dir') throw new Nfs4Error(NFS4.ERR_ISDIR, 'hard link to a directory');
      const name = fileName(newname);
      const before = await changeOf(c, dirN);
      await c.s.vfs.link(ctxOf(c, dirN), src.ino, dirN.ino, name);
      writeChangeInfo(w, before, await changeOf(c, dirN));
    },
  },
  [OP.SETATTR]: {
    run: async (c, a: Args4<typeof OP.SETATTR>, w) => {
      const empty = (x: XdrWriter) => void x.uint(0);
      try {
        const n = writable(c);
        const { ch, set } = setAttrOf(a.obj_attributes);
        const open = openOf(c, a.stateid);
        const cur = await c.s.attr(ctxOf(c, n), n);
        if (ch.size !== undefined) {
          if (cur.type === 'dir') throw new Nfs4Error(NFS4.ERR_ISDIR, 'size of a directory');
          if (cur.type !== 'file') throw new Nfs4Error(NFS4.ERR_INVAL, 'size of a non-file');
          if (open && !(open.access & OPEN4_SHARE_ACCESS.WRITE)) throw new Nfs4Error(NFS4.ERR_OPENMODE, 'open for reading only');
          if (open && open.ino !== n.ino) throw new Nfs4Error(NFS4.ERR_BAD_STATEID, 'stateid of another file');
        }
        if (ch.uid === cur.uid) delete ch.uid;
        if (ch.gid === cur.gid) delete ch.gid;
        if (Object.keys(ch).length) await c.s.vfs.setattr(ctxOf(c, n), n.ino, ch, open !== undefined && (open.access & OPEN4_SHARE_ACCESS.WRITE) !== 0);
        w.array(bitmapOf(set), (x, v) => x.uint(v));
      } catch (err) {
        if (err instanceof Nfs4Error) throw new Nfs4Error(err.status, err.message, empty);
        if (err instanceof VfsError) {
          throw new Nfs4Error(nfs4Status(err), err.message, empty);
        }
        throw err;
      }
    },
  },
  [OP.COMMIT]: {
    run: async (c, _a: Args4<typeof OP.COMMIT>, w) => {
      const n = current(c);
      const a = await c.s.attr(ctxOf(c, n), n);
      if (a.type === 'dir') throw new Nfs4Error(NFS4.ERR_ISDIR, 'a directory');
      if (a.type !== 'file') throw new Nfs4Error(NFS4.ERR_INVAL, 'not a regular file');
      const opens = [...(c.s.state.byIno.get(n.ino) ?? [])].filter((o) => o.write !== undefined);
      for (const o of opens) await c.s.vfs.fsync(o.ctx, o.write!);
      if (!opens.length) {
        const ctx = ctxOf(c, n);
        const fh = await c.s.vfs.open(ctx, n.ino, { read: true });
        try { await c.s.vfs.fsync(ctx, fh); } finally { await c.s.vfs.release(ctx, fh); }
      }
      w.fixed(c.s.verifier);
    },
  },
  [OP.SECINFO]: {
    run: async (c, name: Args4<typeof OP.SECINFO>, w) => {
      const dir = current(c);
      await lookupIn(c, dir, fileName(name));
      w.array([AUTH_SYS, AUTH_NONE], (x, v) => x.uint(v));
      if (c.minor >= 1) c.cur = undefined;
    },
  },
  [OP.SECINFO_NO_NAME]: {
    only: 1,
    run: (c, _style: Args4<typeof OP.SECINFO_NO_NAME>, w) => {
      current(c);
      w.array([AUTH_SYS, AUTH_NONE], (x, v) => x.uint(v));
      c.cur = undefined;
    },
  },
};

/** VERIFY (same → OK, else NOT_SAME) and NVERIFY (same → SAME, else OK), RFC 7530 §16.35 / §16.15. */
async function verify(c: Compound, f: Fattr4, wantSame: boolean): Promise<void> {
  const n = current(c);
  let vals: Map<number, unknown>;
  try {
    vals = decodeFattr(f);
  } catch (err) {
    if (!(err instanceof AttrDecodeError)) throw err;
    throw new Nfs4Error(err.why === 'badxdr' ? NFS4.ERR_BADXDR : NFS4.ERR_ATTRNOTSUPP, err.message);
  }
  if (vals.has(FATTR4.RDATTR_ERROR) || vals.has(FATTR4.TIME_ACCESS_SET) || vals.has(FATTR4.TIME_MODIFY_SET)) throw new Nfs4Error(NFS4.ERR_INVAL, 'not a readable attribute');
  const ours = await fattrOf(c, n, await c.s.attr(ctxOf(c, n), n), [...vals.keys()]);
  const same = ours.attr_vals.equals(f.attr_vals) && bitsOf(ours.attrmask).length === vals.size;
  if (wantSame && !same) throw new Nfs4Error(NFS4.ERR_NOT_SAME, 'attributes differ');
  if (!wantSame && same) throw new Nfs4Error(NFS4.ERR_SAME, 'attributes are the same');
}

/** READDIR (RFC 7530 §16.24): entries after `cookie` with the requested attributes, within maxcount bytes. */
async function readdir(c: Compound, a: Args4<typeof OP.READDIR>, w: XdrWriter): Promise<void> {
  const dirN = current(c);
  await dirOf(c, dirN);
  if (a.cookie === 1n || a.cookie === 2n) throw new Nfs4Error(NFS4.ERR_BAD_COOKIE, 'reserved cookie');
  const requested = bitsOf(a.attr_request);
  const maxcount = Math.min(a.maxcount, 1 << 20);
  const limit = Math.min(1024, Math.ceil(maxcount / 32) + 1);
  type Row = { name: string; cookie: bigint; node?: Node; attr?: Attr };
  let rows: Row[] = [];
  let more = false;
  if (dirN.pseudo) {
    const all = [...dirN.pseudo.children.entries()].filter(([, ch]) => !ch.exp || ch.exp.allows(c.host));
    const start = a.cookie === 0n ? 0 : Number(a.cookie) - PSEUDO_COOKIE0 + 1;
    for (let i = Math.max(0, start); i < all.length; i++) {
      const [name, ch] = all[i]!;
      const node = ch.node !== undefined ? c.s.pseudoNode(c.s.pseudo.nodes.get(ch.node)!) : await c.s.exportNode(ch.exp!);
      rows.push({ name, cookie: BigInt(i + PSEUDO_COOKIE0), node });
    }
  } else {
    if (a.cookie > BigInt(Number.MAX_SAFE_INTEGER)) throw new Nfs4Error(NFS4.ERR_BAD_COOKIE, 'cookie out of range');
    const ents: DirEntry[] = await c.s.vfs.readdir(ctxOf(c, dirN), dirN.ino, Number(a.cookie), limit, true);
    more = ents.length >= limit;
    rows = ents.map((e) => ({ name: e.name, cookie: BigInt(e.cookie), ...(e.attr ? { attr: e.attr, node: c.s.node(c.s.exportAt(dirN.exp!, e.ino, c.host), e.attr) } : {}) }));
  }
  w.fixed(Buffer.alloc(8)); // cookieverf: our cookies never go stale
  let used = 16, dirUsed = 0, n = 0;
  for (const row of rows) {
    let f: Fattr4;
    try {
      const node = row.node ?? (() => { throw new VfsError(Errno.ENOENT, 'gone'); })();
      f = await fattrOf(c, node, row.attr ?? await c.s.attr(ctxOf(c, node), node), requested);
    } catch (err) {
      if (!requested.includes(FATTR4.RDATTR_ERROR)) throw err;
      f = encodeFattr([FATTR4.RDATTR_ERROR], () => nfs4Status(err));
    }
    const nameLen = Buffer.byteLength(row.name);
    const size = 4 + 8 + 4 + nameLen + ((4 - (nameLen & 3)) & 3) + 4 + 4 * f.attrmask.length + 4 + f.attr_vals.length + ((4 - (f.attr_vals.length & 3)) & 3);
    if (used + size > maxcount || (a.dircount > 0 && n > 0 && dirUsed + 16 + nameLen > a.dircount)) {
      more = true;
      break;
    }
    used += size;
    dirUsed += 16 + nameLen;
    n++;
    w.bool(true).uhyper(row.cookie).string(row.name);
    writeFattr(w, f);
  }
  if (n === 0 && rows.length) throw new Nfs4Error(NFS4.ERR_TOOSMALL, 'maxcount too small for one entry');
  w.bool(false).bool(n === rows.length && !more);
}
