/**
 * One FUSE mount: each request from the kernel (through native/fuse3) is answered by the table
 * of handlers keyed by op code (FUSE low-level API, libfuse3 fuse_lowlevel.h), on the inode-level
 * VFS, whose inode numbers, generations and hard links pass through unchanged (root = 1 =
 * FUSE_ROOT_ID). Unknown ops answer ENOSYS. Sans-IO apart from the `Replier` it is given.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { Errno, VfsError } from '../../vfs/errno.js';
import type { Attr, Ctx, LockRange, Vfs, VfsChange } from '../../vfs/types.js';
import { fuseErrno } from './errors.js';
import { attrList, decodeSetattr, OP, OP_NAMES, openFlags, SETATTR, statfsList } from './wire/ops.js';

/** The binding's reply functions (native/fuse3/binding.cc); `Req` is an opaque request. */
export interface Replier {
  replyErr(req: unknown, errno: number): void;
  replyNone(req: unknown): void;
  replyEntry(req: unknown, attr: number[], generation: number, entryTimeout: number, attrTimeout: number): void;
  replyCreate(req: unknown, attr: number[], generation: number, entryTimeout: number, attrTimeout: number, fh: number, directIo: number): void;
  replyAttr(req: unknown, attr: number[], timeout: number): void;
  replyOpen(req: unknown, fh: number, directIo: number, keepCache: number): void;
  replyBuf(req: unknown, data: Buffer): void;
  replyWrite(req: unknown, count: number): void;
  replyXattr(req: unknown, size: number): void;
  replyLseek(req: unknown, offset: number): void;
  replyReadlink(req: unknown, target: string): void;
  replyStatfs(req: unknown, st: number[]): void;
  replyDirents(req: unknown, size: number, entries: unknown[][], plus: boolean): number;
  replyLock(req: unknown, type: number, start: number, len: number, pid: number): void;
}

/** Cache invalidation notices to the kernel (binding.cc: sent from a thread of their own). */
export interface Notifier {
  /** The kernel drops its cached attributes and pages of ino. */
  inode(ino: number): void;
  /** The kernel drops its cached lookup of name in directory parent. */
  entry(parent: number, name: string): void;
}

export interface FuseOptions {
  /**
   * Seconds the kernel may cache attributes and names. Changes made through other protocols are
   * also pushed to the kernel at once when a notifier is given; this bounds what a lost notice costs.
   */
  timeout?: number;
  notifier?: Notifier;
  log?: Logger;
}

const send = (n: Notifier, ch: VfsChange) => (ch.name === undefined ? n.inode(ch.ino) : n.entry(ch.ino, ch.name));

/** The clientId of this mount's requests in the VFS (its own changes need no notice). */
const CLIENT_ID = 'fuse';

/** A decoded request. */
interface Call {
  req: unknown;
  pid: number;
  n: number[];
  s1: string;
  s2: string;
  data: Buffer | undefined;
  ctx: Ctx;
}

type Handler = (s: FuseSession, c: Call) => Promise<void>;

const SEEK_DATA = 3, SEEK_HOLE = 4, RENAME_NOREPLACE = 1, XATTR_CREATE = 1, XATTR_REPLACE = 2;

const ok = (s: FuseSession, c: Call) => s.r.replyErr(c.req, 0);

const F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;
const LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;
const ROOT: Ctx = { uid: 0, gid: 0, groups: [], clientId: CLIENT_ID };
const FALLOC_KEEP_SIZE = 0x01, FALLOC_PUNCH_HOLE = 0x02, FALLOC_ZERO_RANGE = 0x10;
/** Reads up to this size (the kernel's largest, max_pages) use pooled buffers; at most READ_BUFS are kept. */
const READ_BUF = 1 << 20, READ_BUFS = 16;

/** The POSIX lock owner (the kernel's files_struct, in hex) as the VFS lock table's owner. */
const lockOwner = (c: Call) => `posix:${c.s2}`;

/** [ino, fh, type, start, len, pid, sleep] → the VFS range (undefined for F_UNLCK). len 0 = to the end. */
function lockRange(c: Call): { ino: number; range: LockRange | undefined } {
  const [ino = 0, , type = F_UNLCK, start = 0, len = 0] = c.n;
  if (start < 0 || len < 0) throw new VfsError(Errno.EINVAL, 'bad lock range');
  const end = len === 0 ? Infinity : start + len;
  return { ino, range: type === F_UNLCK ? undefined : { type: type === F_WRLCK ? 'write' : 'read', start, end, owner: lockOwner(c) } };
}

/** The handlers, keyed by op code. */
const OPS: Partial<Record<number, Handler>> = {
  [OP.LOOKUP]: async (s, c) => s.entry(c, await s.vfs.lookup(c.ctx, c.n[0]!, c.s1)),
  [OP.GETATTR]: async (s, c) => s.r.replyAttr(c.req, attrList(await s.vfs.getattr(c.ctx, c.n[0]!)), s.timeout),
  [OP.SETATTR]: async (s, c) => {
    const fh = c.n[10]!;
    const ino = c.n[0]!;
    const ch = decodeSetattr(c.n);
    const valid = c.n[1]!;
    if (ch.mode !== undefined || valid & (SETATTR.KILL_SUID | SETATTR.KILL_SGID)) {
      // A write by another user makes the kernel drop set-user-ID/set-group-ID (file_remove_privs):
      // a mode change that only clears those bits is the kernel's own, allowed to any writer.
      const cur = await s.vfs.getattr(c.ctx, ino);
      const killed = (cur.mode & 0o7777) & ~(0o4000 | 0o2000);
      const only = ch.mode === undefined || ((ch.mode & 0o7777) === killed || (ch.mode & 0o7777) === ((cur.mode & 0o7777) & ~0o4000));
      if (only && c.ctx.uid !== cur.uid && c.ctx.uid !== 0 && (ch.mode ?? killed) !== (cur.mode & 0o7777)) {
        await s.vfs.setattr(ROOT, ino, { mode: ch.mode ?? killed });
        delete ch.mode;
        if (!Object.keys(ch).length) return s.r.replyAttr(c.req, attrList(await s.vfs.getattr(c.ctx, ino)), s.timeout);
      }
    }
    s.r.replyAttr(c.req, attrList(await s.vfs.setattr(c.ctx, ino, ch, fh >= 0)), s.timeout);
  },
  [OP.READLINK]: async (s, c) => s.r.replyReadlink(c.req, await s.vfs.readlink(c.ctx, c.n[0]!)),
  [OP.MKNOD]: async (s, c) => s.entry(c, await s.vfs.mknod(c.ctx, c.n[0]!, c.s1, c.n[1]!, c.n[2]!)),
  [OP.MKDIR]: async (s, c) => s.entry(c, await s.vfs.mkdir(c.ctx, c.n[0]!, c.s1, c.n[1]!)),
  [OP.UNLINK]: async (s, c) => { await s.vfs.unlink(c.ctx, c.n[0]!, c.s1); ok(s, c); },
  [OP.RMDIR]: async (s, c) => { await s.vfs.rmdir(c.ctx, c.n[0]!, c.s1); ok(s, c); },
  [OP.SYMLINK]: async (s, c) => s.entry(c, await s.vfs.symlink(c.ctx, c.n[0]!, c.s1, c.s2)),
  [OP.RENAME]: async (s, c) => {
    const flags = c.n[2]!;
    if (flags & ~RENAME_NOREPLACE) throw new VfsError(Errno.EINVAL, 'RENAME_EXCHANGE and RENAME_WHITEOUT are not supported');
    await s.vfs.rename(c.ctx, c.n[0]!, c.s1, c.n[1]!, c.s2, { noreplace: (flags & RENAME_NOREPLACE) !== 0 });
    ok(s, c);
  },
  [OP.LINK]: async (s, c) => s.entry(c, await s.vfs.link(c.ctx, c.n[0]!, c.n[1]!, c.s1)),
  [OP.OPEN]: async (s, c) => {
    const f = openFlags(c.n[1]!);
    s.r.replyOpen(c.req, await s.vfs.open(c.ctx, c.n[0]!, f), f.direct ? 1 : 0, 0);
  },
  [OP.READ]: async (s, c) => {
    // replyBuf copies into the kernel before it returns: the buffer goes back to the pool then.
    const size = c.n[3]!;
    const buf = size <= READ_BUF ? s.readBuffers.pop() ?? Buffer.allocUnsafeSlow(READ_BUF) : undefined;
    try {
      s.r.replyBuf(c.req, await s.vfs.read(c.ctx, c.n[1]!, c.n[2]!, size, buf));
    } finally {
      if (buf && s.readBuffers.length < READ_BUFS) s.readBuffers.push(buf);
    }
  },
  [OP.WRITE]: async (s, c) => s.r.replyWrite(c.req, await s.vfs.write(c.ctx, c.n[1]!, c.n[2]!, c.data ?? Buffer.alloc(0))),
  [OP.FLUSH]: async (s, c) => {
    await s.vfs.flush(c.ctx, c.n[1]!);
    // close(2) drops every POSIX lock the process holds on the file (POSIX.1-2017 fcntl).
    await s.vfs.unlock(c.ctx, c.n[0]!, { start: 0, end: Infinity, owner: lockOwner(c) });
    ok(s, c);
  },
  [OP.GETLK]: async (s, c) => {
    const { ino, range } = lockRange(c);
    if (!range) throw new VfsError(Errno.EINVAL, 'F_GETLK needs F_RDLCK or F_WRLCK');
    const held = await s.vfs.testlock(c.ctx, ino, range);
    if (!held) return s.r.replyLock(c.req, F_UNLCK, range.start, c.n[4]!, 0);
    const pid = s.ownerPids.get(held.owner) ?? 0;
    s.r.replyLock(c.req, held.type === 'write' ? F_WRLCK : F_RDLCK, held.start, held.end === Infinity ? 0 : held.end - held.start, pid);
  },
  [OP.SETLK]: async (s, c) => {
    const { ino, range } = lockRange(c);
    if (!range) await s.vfs.unlock(c.ctx, ino, { start: c.n[3]!, end: c.n[4] ? c.n[3]! + c.n[4]! : Infinity, owner: lockOwner(c) });
    else {
      await s.vfs.lock(c.ctx, ino, range, c.n[6] === 1);
      if (s.ownerPids.size > 10_000) s.ownerPids.clear(); // only for F_GETLK's l_pid: forgetting is harmless
      s.ownerPids.set(range.owner, c.pid);
    }
    ok(s, c);
  },
  [OP.RELEASE]: async (s, c) => {
    await s.vfs.release(c.ctx, c.n[1]!);
    // The last close of an open file description drops its flock (BSD flock(2) semantics).
    if (c.n[2]) await s.vfs.unlock(c.ctx, c.n[0]!, { start: 0, end: Infinity, owner: `flock:${c.s2}` });
    ok(s, c);
  },
  [OP.FLOCK]: async (s, c) => {
    // flock(2) as a whole-file lock in the one VFS lock table, as NFS clients emulate it: it also
    // meets fcntl and WebDAV locks on the file. Owner: the open file description.
    const [ino = 0, , op = 0] = c.n;
    const owner = `flock:${c.s2}`;
    if (op & LOCK_UN) await s.vfs.unlock(c.ctx, ino, { start: 0, end: Infinity, owner });
    else await s.vfs.lock(c.ctx, ino, { type: op & LOCK_EX ? 'write' : 'read', start: 0, end: Infinity, owner }, !(op & LOCK_NB));
    ok(s, c);
  },
  [OP.FSYNC]: async (s, c) => { await s.vfs.fsync(c.ctx, c.n[1]!, c.n[2] !== 0); ok(s, c); },
  [OP.OPENDIR]: async (s, c) => {
    const a = await s.vfs.getattr(c.ctx, c.n[0]!);
    if (a.type !== 'dir') throw new VfsError(Errno.ENOTDIR, 'not a directory');
    s.r.replyOpen(c.req, await s.vfs.open(c.ctx, c.n[0]!, { read: true }), 0, 0);
  },
  [OP.READDIR]: (s, c) => s.readdir(c, false),
  [OP.READDIRPLUS]: (s, c) => s.readdir(c, true),
  [OP.RELEASEDIR]: async (s, c) => { await s.vfs.release(c.ctx, c.n[1]!); ok(s, c); },
  [OP.FSYNCDIR]: async (s, c) => ok(s, c),
  [OP.STATFS]: async (s, c) => s.r.replyStatfs(c.req, statfsList(await s.vfs.statfs(c.ctx, c.n[0]!))),
  [OP.SETXATTR]: async (s, c) => {
    const flags = c.n[1]!;
    await s.vfs.setxattr(c.ctx, c.n[0]!, c.s1, c.data ?? Buffer.alloc(0), { create: (flags & XATTR_CREATE) !== 0, replace: (flags & XATTR_REPLACE) !== 0 });
    ok(s, c);
  },
  [OP.GETXATTR]: async (s, c) => s.sized(c, await s.vfs.getxattr(c.ctx, c.n[0]!, c.s1), c.n[1]!),
  [OP.LISTXATTR]: async (s, c) => {
    const names = await s.vfs.listxattr(c.ctx, c.n[0]!);
    s.sized(c, Buffer.from(names.map((n) => `${n}\0`).join(''), 'utf8'), c.n[1]!);
  },
  [OP.REMOVEXATTR]: async (s, c) => { await s.vfs.removexattr(c.ctx, c.n[0]!, c.s1); ok(s, c); },
  [OP.ACCESS]: async (s, c) => { await s.vfs.access(c.ctx, c.n[0]!, c.n[1]!); ok(s, c); },
  [OP.CREATE]: async (s, c) => {
    const f = openFlags(c.n[2]!);
    const { attr, fh } = await s.vfs.create(c.ctx, c.n[0]!, c.s1, c.n[1]!, f);
    s.r.replyCreate(c.req, attrList(attr), attr.gen, s.timeout, s.timeout, fh, f.direct ? 1 : 0);
  },
  [OP.FALLOCATE]: async (s, c) => {
    // fallocate(2): mode 0 reserves (here: grows the size; blocks are not reserved), KEEP_SIZE
    // alone does nothing to see. PUNCH_HOLE (with KEEP_SIZE) frees the records wholly inside the
    // range and zeroes its edges (Vfs.punchHole); ZERO_RANGE does the same, then grows the size
    // unless KEEP_SIZE. Either way the range reads back as zeros.
    const [ino = 0, fh = 0, mode = 0, off = 0, len = 0] = c.n;
    if (off < 0 || len <= 0) throw new VfsError(Errno.EINVAL, 'bad fallocate range');
    if (mode & ~(FALLOC_KEEP_SIZE | FALLOC_PUNCH_HOLE | FALLOC_ZERO_RANGE)) throw new VfsError(Errno.EOPNOTSUPP, 'fallocate mode not supported');
    if (mode & FALLOC_PUNCH_HOLE && !(mode & FALLOC_KEEP_SIZE)) throw new VfsError(Errno.EOPNOTSUPP, 'PUNCH_HOLE needs KEEP_SIZE');
    if (mode & (FALLOC_PUNCH_HOLE | FALLOC_ZERO_RANGE)) await s.vfs.punchHole(c.ctx, fh, off, len);
    if (!(mode & FALLOC_KEEP_SIZE) && off + len > (await s.vfs.getattr(c.ctx, ino)).size) {
      await s.vfs.flush(c.ctx, fh);
      await s.vfs.setattr(c.ctx, ino, { size: off + len }, true);
    }
    ok(s, c);
  },
  [OP.LSEEK]: async (s, c) => {
    // lseek(2) SEEK_DATA / SEEK_HOLE from the extent map (the kernel answers the other whences
    // itself); ENXIO at or past the end of the file.
    const [, fh = 0, off = 0, whence = 0] = c.n;
    if (whence !== SEEK_DATA && whence !== SEEK_HOLE) throw new VfsError(Errno.EINVAL, 'bad whence');
    s.r.replyLseek(c.req, await s.vfs.seekData(c.ctx, fh, off, whence === SEEK_DATA ? 'data' : 'hole'));
  },
  [OP.COPY_FILE_RANGE]: async (s, c) => {
    // copy_file_range(2) within the mount (across mounts the kernel copies itself, EXDEV aside):
    // [inoIn, fhIn, offIn, inoOut, fhOut, offOut, len, flags] → the count copied (fewer at the
    // source's end, 0 past it), answered as a write is.
    const [, fhIn = 0, offIn = 0, , fhOut = 0, offOut = 0, len = 0, flags = 0] = c.n;
    if (flags !== 0) throw new VfsError(Errno.EINVAL, 'copy_file_range flags must be 0');
    s.r.replyWrite(c.req, await s.vfs.copyFileRange(c.ctx, fhIn, offIn, fhOut, offOut, len));
  },
};

export class FuseSession {
  readonly timeout: number;
  /** The process that took each POSIX lock owner's latest lock (F_GETLK reports it). */
  readonly ownerPids = new Map<string, number>();
  /** Spare read buffers (a 1 GiB sequential read would otherwise allocate 1,024 of 1 MiB). */
  readonly readBuffers: Buffer[] = [];
  private readonly log: Logger | undefined;
  private groupsCache = new Map<number, { groups: number[]; at: number }>();

  constructor(readonly vfs: Vfs, readonly r: Replier, opts: FuseOptions = {}) {
    this.timeout = opts.timeout ?? 1;
    this.log = opts.log;
    const notifier = opts.notifier;
    if (notifier) this.unwatch = vfs.watch((ch, clientId) => this.changed(notifier, ch, clientId));
  }

  private unwatch: (() => void) | undefined;
  /**
   * Notices already sent in this turn of the event loop, by key, and those changed again since:
   * the first change is told at once (before the other protocol answers its client), repeats
   * once more at the end of the turn (many writes to one file in one turn cost two notices).
   */
  private sent = new Map<string, VfsChange>();
  private again = new Set<string>();

  private changed(notifier: Notifier, ch: VfsChange, clientId: string): void {
    if (clientId === CLIENT_ID) return; // the kernel made this change itself
    const key = ch.name === undefined ? `${ch.ino}` : `${ch.ino}/${ch.name}`;
    if (this.sent.has(key)) {
      this.again.add(key);
      return;
    }
    if (!this.sent.size) {
      setImmediate(() => {
        for (const k of this.again) send(notifier, this.sent.get(k)!);
        this.sent.clear();
        this.again.clear();
      });
    }
    this.sent.set(key, ch);
    send(notifier, ch);
  }

  /** Stops sending notices (before unmounting). */
  dispose(): void {
    this.unwatch?.();
    this.unwatch = undefined;
  }

  /** Answers one request (called by the binding for every op). Never throws. */
  handle(op: number, req: unknown, n: number[], s1: string, s2: string, data: Buffer | undefined, who: number[]): void {
    const h = OPS[op];
    if (!h) {
      this.r.replyErr(req, Errno.ENOSYS);
      return;
    }
    const [uid = 0, gid = 0, pid = 0] = who;
    // One client for the whole mount: POSIX lock holders are told apart by their owner (the
    // kernel's files_struct), which the threads of one process share (their pids differ).
    const c: Call = { req, n, s1, s2, data, pid, ctx: { uid, gid, groups: this.groups(pid, gid), clientId: CLIENT_ID } };
    this.inflight++;
    h(this, c).catch((err: unknown) => {
      if (!(err instanceof VfsError)) this.log?.error({ err, op: OP_NAMES[op] }, 'fuse: request failed unexpectedly');
      this.r.replyErr(req, fuseErrno(err));
    }).finally(() => {
      if (--this.inflight === 0) for (const w of this.waiters.splice(0)) w();
    });
  }

  private inflight = 0;
  private waiters: (() => void)[] = [];

  /** Resolves when no request is being answered (before unmounting), or after `ms`. */
  drain(ms = 5000): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  /** Supplementary groups of the calling process (/proc/PID/status), cached for a second. */
  private groups(pid: number, gid: number): number[] {
    if (!pid) return [];
    const now = Date.now();
    const hit = this.groupsCache.get(pid);
    if (hit && now - hit.at < 1000) return hit.groups;
    let groups: number[] = [];
    try {
      const line = /^Groups:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
      groups = line.split(/\s+/).filter(Boolean).map(Number).filter((g) => g !== gid);
    } catch { /* the process is gone */ }
    if (this.groupsCache.size > 4096) this.groupsCache.clear();
    this.groupsCache.set(pid, { groups, at: now });
    return groups;
  }

  entry(c: Call, a: Attr): void {
    this.r.replyEntry(c.req, attrList(a), a.gen, this.timeout, this.timeout);
  }

  /** getxattr/listxattr: the size when asked for 0 bytes, ERANGE when it does not fit. */
  sized(c: Call, value: Buffer, size: number): void {
    if (size === 0) this.r.replyXattr(c.req, value.length);
    else if (value.length > size) this.r.replyErr(c.req, Errno.ERANGE);
    else this.r.replyBuf(c.req, value);
  }

  /** readdir(plus): '.' (offset 1), '..' (offset 2), then entries by their cookies (≥ 3). */
  async readdir(c: Call, plus: boolean): Promise<void> {
    const [ino = 0, , off = 0, size = 4096] = c.n;
    const entries: unknown[][] = [];
    const dirAttr = off < 2 || plus ? await this.vfs.getattr(c.ctx, ino) : undefined;
    const add = (name: string, a: Pick<Attr, 'ino' | 'mode'> & Partial<Attr>, next: number) => {
      // readdirplus wants full attributes; an entry without them (none here in practice) gets a zero timeout.
      if (!plus) entries.push([name, a.ino, a.mode, next]);
      else if ('gen' in a) entries.push([name, a.ino, a.mode, next, attrList(a as Attr), a.gen, this.timeout]);
      else entries.push([name, a.ino, a.mode, next, attrList(Object.assign({}, dirAttr!, { ino: a.ino, mode: a.mode })), 0, 0]);
    };
    if (off < 1) add('.', dirAttr!, 1);
    if (off < 2) add('..', dirAttr!, 2);
    const room = Math.max(1, Math.floor(size / (plus ? 160 : 32)));
    for (const e of await this.vfs.readdir(c.ctx, ino, Math.max(off, 2) === 2 ? 0 : off, room, plus)) {
      const mode = e.attr?.mode ?? ({ dir: 0o040000, file: 0o100000, symlink: 0o120000, fifo: 0o010000, chr: 0o020000, blk: 0o060000, sock: 0o140000 }[e.type] ?? 0);
      if (plus && e.attr) add(e.name, e.attr, e.cookie);
      else add(e.name, { ino: e.ino, mode }, e.cookie);
    }
    this.r.replyDirents(c.req, size, entries, plus);
  }
}
