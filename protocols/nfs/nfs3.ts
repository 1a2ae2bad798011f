/**
 * NFS version 3 (RFC 1813 section 3) over the inode-level VFS: a table of handlers keyed by
 * procedure. NFS is stateless, the VFS reads and writes through open handles, so the service
 * keeps a small cache of open handles per (inode, caller, read/write), released after a few
 * idle seconds (release flushes). WRITE with FILE_SYNC / DATA_SYNC fsyncs before answering;
 * UNSTABLE data is made durable by COMMIT (section 3.3.21). The write verifier is random per
 * server start, so a client resends uncommitted data after a restart.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Errno, VfsError } from '../../vfs/errno.js';
import { S_IFBLK, S_IFCHR, S_IFIFO, S_IFSOCK, type Attr, type Ctx, type Fh, type SetAttr, type Vfs } from '../../vfs/types.js';
import { Nfs3StatusError, nfs3Status } from './errors.js';
import { ExportTable, squashCtx, type Export } from './exports.js';
import { hostOf, procNames, type Program, type Procedure, type Results } from './session.js';

const NFS3_PROC_NAME = procNames(PROC);
import { decodeFh, encodeFh } from './wire/fh.js';
import {
  ACCESS3, CREATE_MODE, decodeArgs, entry3Size, entryplus3Size, FSF3, FTYPE, MAX_IO, NFS3, NFS_VERS, PROC, STABLE,
  writeFattr3, writePostOpAttr, writePostOpFh, writeWcc, type Fattr3, type NfsTime, type Proc, type Sattr3, type WccAttr,
} from './wire/nfs3.js';
import { XdrWriter } from './wire/xdr.js';

const TYPE: Record<Attr['type'], number> = { file: FTYPE.REG, dir: FTYPE.DIR, blk: FTYPE.BLK, chr: FTYPE.CHR, symlink: FTYPE.LNK, sock: FTYPE.SOCK, fifo: FTYPE.FIFO };
const NS = 1_000_000_000n;
const ANON = 65534;
const U32 = 0xffffffffn;

const nfsTime = (ns: bigint): NfsTime => {
  const sec = ns < 0n ? 0n : ns / NS;
  return sec > U32 ? { sec: 0xffffffff, nsec: 0 } : { sec: Number(sec), nsec: Number(ns % NS) };
};
const timeNs = (t: NfsTime): bigint => BigInt(t.sec) * NS + BigInt(t.nsec);
/** Linux dev_t layout (major 12 bits, minor 20 bits) ↔ specdata3. */
const major = (rdev: number) => (rdev >>> 8) & 0xfff;
const minor = (rdev: number) => (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
const makedev = (ma: number, mi: number) => ((mi & 0xff) | ((ma & 0xfff) << 8) | ((mi & ~0xff) << 12)) >>> 0;

/** A uint64 from the wire as a safe integer, or the error `errno` says. */
function safe(v: bigint, errno: Errno, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new VfsError(errno, `${what} too large`);
  return Number(v);
}

export interface Nfs3Options {
  /** fsid in attributes; also the id of the default export (the whole VFS, to every client) when `exports` is not given. */
  exportId: number;
  /** The exports (initialized: `ExportTable.init`). */
  exports?: ExportTable;
  /** Milliseconds an unused open handle stays cached (default 2000). */
  idleMs?: number;
  /** Most open handles cached; past it the least recently used idle ones are released (default 1024). */
  maxOpen?: number;
  log?: Logger;
}

interface Cached {
  fh: Fh;
  ino: number;
  write: boolean;
  ctx: Ctx;
  users: number;
  lastUse: number;
}

/**
 * Cached open handles, keyed by inode, caller and mode, least recently used first. A handle goes
 * after `idleMs` unused, or as soon as more than `maxOpen` are cached and it is idle (a client
 * walking a big tree must not hold a VFS handle, and its buffers, per file it touched).
 */
export class OpenFiles {
  private map = new Map<string, Cached>();
  private pending = new Map<string, Promise<Cached>>();
  private timer: NodeJS.Timeout;

  constructor(private readonly vfs: Vfs, private readonly idleMs: number, private readonly maxOpen = 1024) {
    this.timer = setInterval(() => void this.sweep(false), Math.max(100, idleMs / 2));
    this.timer.unref();
  }

  /** Runs fn with an open handle of ino (opened for writing when `write`). */
  async use<T>(ctx: Ctx, ino: number, write: boolean, fn: (fh: Fh) => Promise<T>): Promise<T> {
    const key = `${ino}:${write ? 'w' : 'r'}:${ctx.uid}:${ctx.gid}:${ctx.groups.join(',')}`;
    let c = this.map.get(key);
    if (!c) {
      let p = this.pending.get(key);
      if (!p) {
        p = this.vfs.open(ctx, ino, write ? { write: true } : { read: true }).then((fh) => {
          const v: Cached = { fh, ino, write, ctx, users: 0, lastUse: Date.now() };
          this.map.set(key, v);
          if (this.map.size > this.maxOpen) this.evict(key);
          return v;
        }).finally(() => this.pending.delete(key));
        this.pending.set(key, p);
      }
      c = await p;
    } else {
      this.map.delete(key); // to the end: most recently used
      this.map.set(key, c);
    }
    c.users++;
    try {
      return await fn(c.fh);
    } finally {
      c.users--;
      c.lastUse = Date.now();
    }
  }

  /** fsyncs every write handle of ino; without one, a fresh read handle (syncs the store). */
  async sync(ctx: Ctx, ino: number): Promise<void> {
    const ws = [...this.map.values()].filter((c) => c.ino === ino && c.write);
    for (const c of ws) await this.vfs.fsync(c.ctx, c.fh);
    if (!ws.length) await this.use(ctx, ino, false, (fh) => this.vfs.fsync(ctx, fh));
  }

  /** Handles cached now. */
  get size(): number {
    return this.map.size;
  }

  /** Releases the least recently used idle handles (not `keep`, just opened) until at most `maxOpen` are cached. */
  private evict(keep: string): void {
    for (const [k, c] of this.map) {
      if (this.map.size <= this.maxOpen) break;
      if (c.users > 0 || k === keep) continue;
      this.map.delete(k);
      void this.vfs.release(c.ctx, c.fh).catch(() => undefined);
    }
  }

  /** Releases idle handles (all when `all`). */
  async sweep(all: boolean): Promise<void> {
    const now = Date.now();
    for (const [k, c] of this.map) {
      if (!all && (c.users > 0 || now - c.lastUse < this.idleMs)) continue;
      this.map.delete(k);
      await this.vfs.release(c.ctx, c.fh).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.pending.values()]);
    await this.sweep(true);
  }
}

/**
 * The caller of one NFS call: the identity after the squash of the export its first file handle
 * names, the client's address, and whether the procedure modifies (for read-only exports).
 */
export interface NfsCtx extends Ctx {
  host: string;
  exp?: Export;
  modifies: boolean;
}

/** Each procedure's first file handle (every NFSv3 procedure but NULL has one): it picks the export. */
const FIRST_FH: { [P in Proc]?: (a: import('./wire/nfs3.js').ArgsOf[P]) => Buffer } = {
  [PROC.GETATTR]: (a) => a, [PROC.SETATTR]: (a) => a.fh, [PROC.LOOKUP]: (a) => a.dir, [PROC.ACCESS]: (a) => a.fh,
  [PROC.READLINK]: (a) => a, [PROC.READ]: (a) => a.fh, [PROC.WRITE]: (a) => a.fh, [PROC.CREATE]: (a) => a.where.dir,
  [PROC.MKDIR]: (a) => a.where.dir, [PROC.SYMLINK]: (a) => a.where.dir, [PROC.MKNOD]: (a) => a.where.dir,
  [PROC.REMOVE]: (a) => a.dir, [PROC.RMDIR]: (a) => a.dir, [PROC.RENAME]: (a) => a.from.dir, [PROC.LINK]: (a) => a.fh,
  [PROC.READDIR]: (a) => a.fh, [PROC.READDIRPLUS]: (a) => a.fh, [PROC.FSSTAT]: (a) => a, [PROC.FSINFO]: (a) => a,
  [PROC.PATHCONF]: (a) => a, [PROC.COMMIT]: (a) => a.fh,
};

/** Procedures whose second execution would answer differently (or do harm): kept by the duplicate request cache. */
export const NON_IDEMPOTENT: ReadonlySet<number> = new Set([
  PROC.SETATTR, PROC.WRITE, PROC.CREATE, PROC.MKDIR, PROC.SYMLINK, PROC.MKNOD, PROC.REMOVE, PROC.RMDIR, PROC.RENAME, PROC.LINK,
]);

type Handler = (s: Nfs3Service, ctx: NfsCtx, args: never) => Promise<Results>;

export class Nfs3Service {
  readonly exportId: number;
  readonly exports: ExportTable;
  /** writeverf3: changes with each server start (section 3.3.7). */
  readonly verifier = randomBytes(8);
  readonly files: OpenFiles;
  readonly log: Logger | undefined;

  constructor(readonly vfs: Vfs, opts: Nfs3Options) {
    this.exportId = opts.exportId;
    this.exports = opts.exports ?? ExportTable.open(opts.exportId);
    this.files = new OpenFiles(vfs, opts.idleMs ?? 2000, opts.maxOpen ?? 1024);
    this.log = opts.log;
  }

  /** The NFS program (100003) version 3, for the RPC dispatcher. */
  program(): Program {
    const procs: Partial<Record<number, Procedure>> = {};
    for (const p of Object.values(PROC)) {
      const h = HANDLERS[p] as Handler | undefined;
      if (h) {
        procs[p] = ({ call, ctx, peer }) => {
          const args = decodeArgs(p as Proc, call.args);
          return h(this, this.callCtx(p as Proc, args, ctx, peer, !call.sys), args as never);
        };
      }
    }
    return {
      name: 'nfs',
      // Version 4 (added by startNfsServer) has NULL and COMPOUND (RFC 7530 §16).
      procName: (v, p) => (v === NFS_VERS ? NFS3_PROC_NAME(p) : v !== 4 ? undefined : p === 0 ? 'NULL' : p === 1 ? 'COMPOUND' : undefined),
      versions: new Map([[NFS_VERS, procs]]),
      // Replies worth replaying to a retransmission; "retry later" (JUKEBOX) is not kept.
      drc: { procs: NON_IDEMPOTENT, keep: (r) => r.length < 4 || Buffer.from(r.buffer, r.byteOffset, 4).readUInt32BE(0) !== NFS3.ERR_JUKEBOX },
    };
  }

  close(): Promise<void> {
    return this.files.close();
  }

  /** The caller of a call whose decoded arguments are `args`: squashed as the export of its first handle says. */
  callCtx(p: Proc, args: unknown, ctx: Ctx, peer: string, authNone: boolean): NfsCtx {
    const host = hostOf(peer);
    const modifies = NON_IDEMPOTENT.has(p);
    const first = (FIRST_FH[p] as ((a: unknown) => Buffer) | undefined)?.(args);
    const h = first && decodeFh(first);
    const exp = h ? this.exports.get(h.exportId) : undefined;
    // A handle not ours, of no export or of one not for this client: resolve() answers it, as nobody.
    if (!exp || !exp.allows(host)) return { uid: ANON, gid: ANON, groups: [], clientId: ctx.clientId, host, modifies };
    return Object.assign({}, squashCtx(exp, ctx, authNone), { host, exp, modifies });
  }

  fh(ctx: NfsCtx, a: Attr): Buffer {
    return encodeFh({ exportId: ctx.exp?.id ?? this.exportId, ino: a.ino, gen: a.gen });
  }

  /** The inode of the caller's export directory (`..` there is the directory itself). */
  exportRoot(ctx: NfsCtx): number | undefined {
    return ctx.exp && this.exports.root(ctx.exp.id);
  }

  /**
   * The inode a handle names; BADHANDLE for a handle not ours, STALE for one of no export or
   * whose file is gone, ACCES for an export the client is not listed for, XDEV for a second
   * handle in another export than the first, ROFS for a change in a read-only export.
   */
  async resolve(ctx: NfsCtx, fh: Buffer): Promise<Attr> {
    const h = decodeFh(fh);
    if (!h) throw new Nfs3StatusError(NFS3.ERR_BADHANDLE, 'not a handle of this server');
    const exp = this.exports.get(h.exportId);
    if (!exp) throw new Nfs3StatusError(NFS3.ERR_STALE, 'handle of no export');
    if (!exp.allows(ctx.host)) throw new Nfs3StatusError(NFS3.ERR_ACCES, 'export not for this client');
    if (ctx.exp !== exp) throw new Nfs3StatusError(NFS3.ERR_XDEV, 'handles of two exports');
    if (ctx.modifies && exp.readOnly) throw new Nfs3StatusError(NFS3.ERR_ROFS, 'read-only export');
    try {
      return await this.vfs.getattr(ctx, h.ino, h.gen);
    } catch (err) {
      if (err instanceof VfsError && (err.errno === Errno.ENOENT || err.errno === Errno.ESTALE)) throw new Nfs3StatusError(NFS3.ERR_STALE, 'stale file handle');
      throw err;
    }
  }

  fattr(a: Attr): Fattr3 {
    return {
      type: TYPE[a.type], mode: a.mode & 0o7777, nlink: Math.min(a.nlink, 0xffffffff), uid: a.uid, gid: a.gid,
      size: BigInt(a.size), used: BigInt(a.blocks) * 512n, rdev: [major(a.rdev), minor(a.rdev)], fsid: BigInt(this.exportId),
      fileid: BigInt(a.ino), atime: nfsTime(a.atimeNs), mtime: nfsTime(a.mtimeNs), ctime: nfsTime(a.ctimeNs),
    };
  }

  /** Attributes for a post_op_attr: undefined when they cannot be had. */
  async post(ctx: Ctx, ino: number | undefined): Promise<Fattr3 | undefined> {
    if (ino === undefined) return undefined;
    try {
      return this.fattr(await this.vfs.getattr(ctx, ino));
    } catch {
      return undefined;
    }
  }
}

const wcc = (a: Attr | undefined): WccAttr | undefined => a && { size: BigInt(a.size), mtime: nfsTime(a.mtimeNs), ctime: nfsTime(a.ctimeNs) };

/**
 * Runs a procedure body: `ok` writes NFS3_OK and the resok part; on a thrown error the status
 * and `fail` (the resfail part, e.g. the directory's wcc_data) are written instead.
 */
async function reply(ok: (w: XdrWriter) => Promise<void>, fail: (w: XdrWriter) => Promise<void> | void = () => undefined): Promise<Results> {
  const w = new XdrWriter(256);
  try {
    w.uint(NFS3.OK);
    await ok(w);
    return w.parts();
  } catch (err) {
    if (!(err instanceof VfsError) && !(err instanceof Nfs3StatusError)) throw err; // SYSTEM_ERR, logged by the dispatcher
    const f = new XdrWriter(128).uint(nfs3Status(err));
    await fail(f);
    return f.bytes();
  }
}

/** sattr3 → VFS changes (mode handled by the caller where it is a create's mode). */
function setAttr(s: Sattr3): SetAttr {
  const ch: SetAttr = {};
  if (s.mode !== undefined) ch.mode = s.mode & 0o7777;
  if (s.uid !== undefined) ch.uid = s.uid;
  if (s.gid !== undefined) ch.gid = s.gid;
  if (s.size !== undefined) ch.size = safe(s.size, Errno.EFBIG, 'size');
  if (s.atime !== undefined) ch.atimeNs = s.atime === 'server' ? 'now' : timeNs(s.atime);
  if (s.mtime !== undefined) ch.mtimeNs = s.mtime === 'server' ? 'now' : timeNs(s.mtime);
  return ch;
}

/** Applies the sattr3 of a create to the new node (mode was given to the create itself). */
async function applyCreateAttrs(s: Nfs3Service, ctx: NfsCtx, a: Attr, attr: Sattr3 | undefined): Promise<Attr> {
  if (!attr) return a;
  const { mode: _mode, ...rest } = attr;
  const ch = setAttr(rest);
  if (ch.uid === a.uid) delete ch.uid;
  if (ch.gid === a.gid) delete ch.gid;
  if (ch.size === a.size) delete ch.size;
  return Object.keys(ch).length ? s.vfs.setattr(ctx, a.ino, ch) : a;
}

/** The exclusive-create verifier kept in atime (section 3.3.8: "stored in the file's attributes"). */
const verfNs = (v: Buffer): bigint => BigInt(v.readUInt32BE(0)) * NS + BigInt(v.readUInt32BE(4) % 1e9);

/** CREATE/MKDIR/SYMLINK/MKNOD success and failure bodies (section 3.3.8). */
async function created(s: Nfs3Service, ctx: NfsCtx, dirFh: Buffer, make: (dir: Attr) => Promise<Attr>): Promise<Results> {
  let dir: Attr | undefined;
  return reply(async (w) => {
    dir = await s.resolve(ctx, dirFh);
    const pre = wcc(dir);
    const a = await make(dir);
    writePostOpFh(w, s.fh(ctx, a));
    writePostOpAttr(w, s.fattr(a));
    writeWcc(w, pre, await s.post(ctx, dir.ino));
  }, async (w) => writeWcc(w, undefined, await s.post(ctx, dir?.ino)));
}

/** Reads directory rows for READDIR(PLUS): '.' is cookie 1, '..' cookie 2, then the VFS's own cookies (≥ 3). */
async function dirRows(s: Nfs3Service, ctx: NfsCtx, dir: Attr, cookie: bigint, limit: number, plus: boolean) {
  const c = safe(cookie, Errno.EINVAL, 'cookie');
  const rows: { name: string; ino: number; cookie: number; attr?: Attr }[] = [];
  if (c < 1) rows.push({ name: '.', ino: dir.ino, cookie: 1, attr: dir });
  if (c < 2) {
    const up = dir.ino === s.exportRoot(ctx) ? dir : await s.vfs.lookup(ctx, dir.ino, '..');
    rows.push({ name: '..', ino: up.ino, cookie: 2, attr: up });
  }
  const got = await s.vfs.readdir(ctx, dir.ino, c <= 2 ? 0 : c, limit, plus);
  for (const e of got) rows.push({ name: e.name, ino: e.ino, cookie: e.cookie, ...(e.attr ? { attr: e.attr } : {}) });
  return { rows, more: got.length >= limit };
}

const HANDLERS: { [P in Proc]?: (s: Nfs3Service, ctx: NfsCtx, a: import('./wire/nfs3.js').ArgsOf[P]) => Promise<Results> } = {
  [PROC.NULL]: async () => new Uint8Array(0),
  [PROC.GETATTR]: (s, ctx, fh) => reply(async (w) => writeFattr3(w, s.fattr(await s.resolve(ctx, fh)))),
  [PROC.SETATTR]: async (s, ctx, a) => {
    let before: Attr | undefined;
    return reply(async (w) => {
      before = await s.resolve(ctx, a.fh);
      if (a.guard && timeNs(a.guard) !== timeNs(nfsTime(before.ctimeNs))) throw new Nfs3StatusError(NFS3.ERR_NOT_SYNC, 'ctime guard');
      const after = await s.vfs.setattr(ctx, before.ino, setAttr(a.attr));
      writeWcc(w, wcc(before), s.fattr(after));
    }, async (w) => writeWcc(w, wcc(before), await s.post(ctx, before?.ino)));
  },
  [PROC.LOOKUP]: async (s, ctx, a) => {
    let dir: Attr | undefined;
    return reply(async (w) => {
      dir = await s.resolve(ctx, a.dir);
      // Never above the export's directory.
      const obj = a.name === '..' && dir.ino === s.exportRoot(ctx) ? dir : await s.vfs.lookup(ctx, dir.ino, a.name);
      w.opaque(s.fh(ctx, obj));
      writePostOpAttr(w, s.fattr(obj));
      writePostOpAttr(w, s.fattr(dir));
    }, async (w) => writePostOpAttr(w, await s.post(ctx, dir?.ino)));
  },
  [PROC.ACCESS]: async (s, ctx, a) => {
    let obj: Attr | undefined;
    return reply(async (w) => {
      obj = await s.resolve(ctx, a.fh);
      const may = async (mask: number) => s.vfs.access(ctx, obj!.ino, mask).then(() => true, () => false);
      const [r, wr, x] = await Promise.all([may(4), may(2), may(1)]);
      let granted = 0;
      if (r) granted |= ACCESS3.READ;
      if (wr && !ctx.exp?.readOnly) granted |= ACCESS3.MODIFY | ACCESS3.EXTEND | (obj.type === 'dir' ? ACCESS3.DELETE : 0);
      if (x) granted |= obj.type === 'dir' ? ACCESS3.LOOKUP : ACCESS3.EXECUTE;
      writePostOpAttr(w, s.fattr(obj));
      w.uint(granted & a.access);
    }, (w) => writePostOpAttr(w, obj && s.fattr(obj)));
  },
  [PROC.READLINK]: async (s, ctx, fh) => {
    let obj: Attr | undefined;
    return reply(async (w) => {
      obj = await s.resolve(ctx, fh);
      const target = await s.vfs.readlink(ctx, obj.ino);
      writePostOpAttr(w, s.fattr(obj));
      w.string(target);
    }, (w) => writePostOpAttr(w, obj && s.fattr(obj)));
  },
  [PROC.READ]: async (s, ctx, a) => {
    let obj: Attr | undefined;
    return reply(async (w) => {
      obj = await s.resolve(ctx, a.fh);
      if (obj.type === 'dir') throw new VfsError(Errno.EISDIR, 'is a directory');
      if (obj.type !== 'file') throw new VfsError(Errno.EINVAL, 'not a regular file');
      const count = Math.min(a.count, MAX_IO);
      const off = a.offset > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(a.offset);
      // Lent (Vfs.readLent): given back once the reply is sent (server.ts, XdrWriter.opaqueRef).
      const lent = off >= obj.size || count === 0 ? undefined : await s.files.use(ctx, obj.ino, false, (fh) => s.vfs.readLent(ctx, fh, off, count));
      const data = lent?.data ?? Buffer.alloc(0);
      try {
        const after = await s.vfs.getattr(ctx, obj.ino);
        writePostOpAttr(w, s.fattr(after));
        w.uint(data.length).bool(off + data.length >= after.size);
      } catch (err) {
        lent?.giveBack();
        throw err;
      }
      w.opaqueRef(data, lent?.giveBack);
    }, (w) => writePostOpAttr(w, obj && s.fattr(obj)));
  },
  [PROC.WRITE]: async (s, ctx, a) => {
    let obj: Attr | undefined;
    return reply(async (w) => {
      obj = await s.resolve(ctx, a.fh);
      if (obj.type === 'dir') throw new VfsError(Errno.EISDIR, 'is a directory');
      if (obj.type !== 'file') throw new VfsError(Errno.EINVAL, 'not a regular file');
      const off = safe(a.offset + BigInt(a.data.length), Errno.EFBIG, 'offset') - a.data.length;
      await s.files.use(ctx, obj.ino, true, async (fh) => {
        await s.vfs.write(ctx, fh, off, a.data);
        if (a.stable !== STABLE.UNSTABLE) await s.vfs.fsync(ctx, fh, a.stable === STABLE.DATA_SYNC);
      });
      writeWcc(w, wcc(obj), await s.post(ctx, obj.ino));
      w.uint(a.data.length).uint(a.stable).fixed(s.verifier);
    }, async (w) => writeWcc(w, wcc(obj), await s.post(ctx, obj?.ino)));
  },
  [PROC.CREATE]: (s, ctx, a) => created(s, ctx, a.where.dir, async (dir) => {
    const mode = (a.attr?.mode ?? 0o644) & 0o7777;
    if (a.mode === CREATE_MODE.EXCLUSIVE) {
      const v = verfNs(a.verf!);
      try {
        const { attr, fh } = await s.vfs.create(ctx, dir.ino, a.where.name, mode, { write: true, exclusive: true });
        await s.vfs.release(ctx, fh);
        return await s.vfs.setattr(ctx, attr.ino, { atimeNs: v, mtimeNs: v });
      } catch (err) {
        // A retransmitted EXCLUSIVE create finds its own file: the same verifier in atime.
        if (!(err instanceof VfsError && err.errno === Errno.EEXIST)) throw err;
        const old = await s.vfs.lookup(ctx, dir.ino, a.where.name);
        if (old.type === 'file' && old.atimeNs === v) return old;
        throw err;
      }
    }
    const { attr, fh } = await s.vfs.create(ctx, dir.ino, a.where.name, mode, { write: true, exclusive: a.mode === CREATE_MODE.GUARDED });
    await s.vfs.release(ctx, fh);
    return applyCreateAttrs(s, ctx, attr, a.attr);
  }),
  [PROC.MKDIR]: (s, ctx, a) => created(s, ctx, a.where.dir, async (dir) => {
    const d = await s.vfs.mkdir(ctx, dir.ino, a.where.name, (a.attr.mode ?? 0o755) & 0o7777);
    return applyCreateAttrs(s, ctx, d, a.attr);
  }),
  [PROC.SYMLINK]: (s, ctx, a) => created(s, ctx, a.where.dir, (dir) => s.vfs.symlink(ctx, dir.ino, a.where.name, a.target)),
  [PROC.MKNOD]: (s, ctx, a) => created(s, ctx, a.where.dir, async (dir) => {
    const fmt = { [FTYPE.CHR]: S_IFCHR, [FTYPE.BLK]: S_IFBLK, [FTYPE.SOCK]: S_IFSOCK, [FTYPE.FIFO]: S_IFIFO }[a.type];
    if (fmt === undefined) throw new Nfs3StatusError(NFS3.ERR_BADTYPE, 'MKNOD of a regular file, directory or symlink');
    const rdev = a.rdev ? makedev(a.rdev[0], a.rdev[1]) : 0;
    const n = await s.vfs.mknod(ctx, dir.ino, a.where.name, fmt | ((a.attr?.mode ?? 0o644) & 0o7777), rdev);
    return applyCreateAttrs(s, ctx, n, a.attr);
  }),
  [PROC.REMOVE]: (s, ctx, a) => removed(s, ctx, a.dir, (dir) => s.vfs.unlink(ctx, dir.ino, a.name)),
  [PROC.RMDIR]: (s, ctx, a) => removed(s, ctx, a.dir, (dir) => s.vfs.rmdir(ctx, dir.ino, a.name)),
  [PROC.RENAME]: async (s, ctx, a) => {
    let from: Attr | undefined, to: Attr | undefined;
    return reply(async (w) => {
      from = await s.resolve(ctx, a.from.dir);
      to = await s.resolve(ctx, a.to.dir);
      const preFrom = wcc(from), preTo = wcc(to);
      await s.vfs.rename(ctx, from.ino, a.from.name, to.ino, a.to.name);
      writeWcc(w, preFrom, await s.post(ctx, from.ino));
      writeWcc(w, preTo, await s.post(ctx, to.ino));
    }, async (w) => {
      writeWcc(w, undefined, await s.post(ctx, from?.ino));
      writeWcc(w, undefined, await s.post(ctx, to?.ino));
    });
  },
  [PROC.LINK]: async (s, ctx, a) => {
    let obj: Attr | undefined, dir: Attr | undefined;
    return reply(async (w) => {
      obj = await s.resolve(ctx, a.fh);
      dir = await s.resolve(ctx, a.link.dir);
      const pre = wcc(dir);
      const after = await s.vfs.link(ctx, obj.ino, dir.ino, a.link.name);
      writePostOpAttr(w, s.fattr(after));
      writeWcc(w, pre, await s.post(ctx, dir.ino));
    }, async (w) => {
      writePostOpAttr(w, await s.post(ctx, obj?.ino));
      writeWcc(w, undefined, await s.post(ctx, dir?.ino));
    });
  },
  [PROC.READDIR]: async (s, ctx, a) => {
    let dir: Attr | undefined;
    return reply(async (w) => {
      dir = await s.resolve(ctx, a.fh);
      if (dir.type !== 'dir') throw new VfsError(Errno.ENOTDIR, 'not a directory');
      const count = Math.min(a.count, MAX_IO);
      const limit = Math.min(4096, Math.ceil(count / 24) + 1);
      const { rows, more } = await dirRows(s, ctx, dir, a.cookie, limit, false);
      writePostOpAttr(w, s.fattr(dir));
      w.fixed(Buffer.alloc(8));
      let used = 4 + 4 + 84 + 8 + 8, n = 0;
      for (const e of rows) {
        const size = entry3Size(Buffer.byteLength(e.name));
        if (used + size > count) break;
        used += size;
        n++;
        w.bool(true).uhyper(e.ino).string(e.name).uhyper(e.cookie);
      }
      if (n === 0 && rows.length) throw new Nfs3StatusError(NFS3.ERR_TOOSMALL, 'count too small for one entry');
      w.bool(false).bool(n === rows.length && !more);
    }, (w) => writePostOpAttr(w, dir && s.fattr(dir)));
  },
  [PROC.READDIRPLUS]: async (s, ctx, a) => {
    let dir: Attr | undefined;
    return reply(async (w) => {
      dir = await s.resolve(ctx, a.fh);
      if (dir.type !== 'dir') throw new VfsError(Errno.ENOTDIR, 'not a directory');
      const maxcount = Math.min(a.maxcount, MAX_IO);
      const limit = Math.min(1024, Math.ceil(maxcount / 128) + 1);
      const { rows, more } = await dirRows(s, ctx, dir, a.cookie, limit, true);
      writePostOpAttr(w, s.fattr(dir));
      w.fixed(Buffer.alloc(8));
      let used = 4 + 4 + 84 + 8 + 8, dirUsed = 0, n = 0;
      for (const e of rows) {
        const nameBytes = Buffer.byteLength(e.name);
        const size = entryplus3Size(nameBytes, 24);
        if (used + size > maxcount || (a.dircount > 0 && n > 0 && dirUsed + entry3Size(nameBytes) > a.dircount)) break;
        used += size;
        dirUsed += entry3Size(nameBytes);
        n++;
        w.bool(true).uhyper(e.ino).string(e.name).uhyper(e.cookie);
        writePostOpAttr(w, e.attr && s.fattr(e.attr));
        writePostOpFh(w, e.attr && s.fh(ctx, e.attr));
      }
      if (n === 0 && rows.length) throw new Nfs3StatusError(NFS3.ERR_TOOSMALL, 'maxcount too small for one entry');
      w.bool(false).bool(n === rows.length && !more);
    }, (w) => writePostOpAttr(w, dir && s.fattr(dir)));
  },
  [PROC.FSSTAT]: async (s, ctx, fh) => {
    let obj: Attr | undefined;
    return reply(async (w) => {
      obj = await s.resolve(ctx, fh);
      const st = await s.vfs.statfs(ctx, obj.ino);
      writePostOpAttr(w, s.fattr(obj));
      const b = BigInt(st.bsize);
      w.uhyper(BigInt(st.blocks) * b).uhyper(BigInt(st.bfree) * b).uhyper(BigInt(st.bavail) * b);
      w.uhyper(st.files).uhyper(st.ffree).uhyper(st.ffree).uint(0);
    }, (w) => writePostOpAttr(w, obj && s.fattr(obj)));
  },
  [PROC.FSINFO]: async (s, ctx, fh) => {
    let obj: Attr | undefined;
    return reply(async (w) => {
      obj = await s.resolve(ctx, fh);
      writePostOpAttr(w, s.fattr(obj));
      w.uint(MAX_IO).uint(MAX_IO).uint(4096).uint(MAX_IO).uint(MAX_IO).uint(4096).uint(64 * 1024);
      w.uhyper(Number.MAX_SAFE_INTEGER).uint(0).uint(1);
      w.uint(FSF3.LINK | FSF3.SYMLINK | FSF3.HOMOGENEOUS | FSF3.CANSETTIME);
    }, (w) => writePostOpAttr(w, obj && s.fattr(obj)));
  },
  [PROC.PATHCONF]: async (s, ctx, fh) => {
    let obj: Attr | undefined;
    return reply(async (w) => {
      obj = await s.resolve(ctx, fh);
      writePostOpAttr(w, s.fattr(obj));
      w.uint(65000).uint(255).bool(true).bool(true).bool(false).bool(true);
    }, (w) => writePostOpAttr(w, obj && s.fattr(obj)));
  },
  [PROC.COMMIT]: async (s, ctx, a) => {
    let obj: Attr | undefined;
    return reply(async (w) => {
      obj = await s.resolve(ctx, a.fh);
      if (obj.type !== 'file') throw new VfsError(Errno.EINVAL, 'not a regular file');
      await s.files.sync(ctx, obj.ino);
      writeWcc(w, wcc(obj), await s.post(ctx, obj.ino));
      w.fixed(s.verifier);
    }, async (w) => writeWcc(w, wcc(obj), await s.post(ctx, obj?.ino)));
  },
};

/** REMOVE/RMDIR: the directory's wcc_data either way (section 3.3.12). */
async function removed(s: Nfs3Service, ctx: NfsCtx, dirFh: Buffer, op: (dir: Attr) => Promise<void>): Promise<Results> {
  let dir: Attr | undefined;
  return reply(async (w) => {
    dir = await s.resolve(ctx, dirFh);
    const pre = wcc(dir);
    await op(dir);
    writeWcc(w, pre, await s.post(ctx, dir.ino));
  }, async (w) => writeWcc(w, wcc(dir), await s.post(ctx, dir?.ino)));
}
