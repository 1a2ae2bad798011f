/**
 * The request handlers of SFTP v3 (draft-ietf-secsh-filexfer-02 section 6), one per packet
 * type in the OPS table, and the OpenSSH extensions (OpenSSH PROTOCOL section 4) in EXT_OPS,
 * keyed by extension name. Each handler takes the decoded body and returns the reply packet;
 * whatever it throws becomes an SSH_FXP_STATUS (errors.ts).
 */
import type { Attr, DirEntry, SetAttr } from '../../vfs/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import type { SftpSession } from './session.js';
import type { FileAttrs } from './wire/attrs.js';
import { MAX_READ, SSH_FX, SSH_FXF, SSH_FXP } from './wire/constants.js';
import { decodeExtended, isExtendedName, type ExtendedBodies, type ExtendedName } from './wire/extended.js';
import { longname } from './wire/longname.js';
import type { RequestBodies, RequestType } from './wire/requests.js';
import {
  encodeAttrs, encodeData, encodeHandle, encodeLimitsReply, encodeName, encodeStatVfsReply, encodeStatus,
  type NameEntry,
} from './wire/replies.js';

/** Creation modes are masked like a process umask of 022, as OpenSSH's sftp-server runs. */
export const CREATE_UMASK = 0o022;

/** Seconds (uint32, clamped) from nanoseconds. */
export function toSeconds(ns: bigint): number {
  const s = ns / 1_000_000_000n;
  return s < 0n ? 0 : s > 0xffffffffn ? 0xffffffff : Number(s);
}

/** Entries per SSH_FXP_NAME reply to READDIR (as OpenSSH's sftp-server). */
export const READDIR_BATCH = 100;

type Handler<K extends RequestType> = (s: SftpSession, id: number, body: RequestBodies[K]) => Promise<Buffer>;
type ExtHandler<K extends ExtendedName> = (s: SftpSession, id: number, body: ExtendedBodies[K]) => Promise<Buffer>;

/** ATTRS of an inode: size, uid/gid, full st_mode, atime/mtime in seconds. */
export function toFileAttrs(a: Attr): FileAttrs {
  return {
    size: BigInt(a.size),
    uid: a.uid,
    gid: a.gid,
    permissions: a.mode,
    atime: toSeconds(a.atimeNs),
    mtime: toSeconds(a.mtimeNs),
  };
}

function nameEntry(name: string, a: Attr): NameEntry {
  return {
    filename: name,
    longname: longname(name, { mode: a.mode, nlink: a.nlink, uid: a.uid, gid: a.gid, size: a.size, mtimeS: toSeconds(a.mtimeNs) }),
    attrs: toFileAttrs(a),
  };
}

/** A uint64 from the wire as a safe integer, or `errno` when it does not fit. */
function safe(v: bigint, errno: Errno, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new VfsError(errno, `${what} too large`);
  return Number(v);
}

/** SetAttr from ATTRS (draft-02 section 5): size truncates, permissions keep only mode bits, times are seconds. */
export function toSetAttr(a: FileAttrs): SetAttr {
  const c: SetAttr = {};
  if (a.size !== undefined) c.size = safe(a.size, Errno.EFBIG, 'size');
  if (a.uid !== undefined && a.gid !== undefined) {
    c.uid = a.uid;
    c.gid = a.gid;
  }
  if (a.permissions !== undefined) c.mode = a.permissions & 0o7777;
  if (a.atime !== undefined && a.mtime !== undefined) {
    c.atimeNs = BigInt(a.atime) * 1_000_000_000n;
    c.mtimeNs = BigInt(a.mtime) * 1_000_000_000n;
  }
  return c;
}

function createMode(a: FileAttrs, dflt: number): number {
  const m = a.permissions !== undefined ? a.permissions & 0o7777 : dflt;
  return m & ~CREATE_UMASK;
}

const ok = (id: number): Buffer => encodeStatus(id, SSH_FX.OK, 'ok');

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

async function readdir(s: SftpSession, id: number, b: RequestBodies[typeof SSH_FXP.READDIR]): Promise<Buffer> {
  const d = s.dir(b.handle);
  const out: NameEntry[] = [];
  if (!d.dotsSent) {
    d.dotsSent = true;
    const self = await s.vfs.getattr(s.ctx, d.ino);
    const parent = d.path === '/' ? self : await s.paths.stat(s.ctx, parentOf(d.path)).catch(() => self);
    out.push(nameEntry('.', self), nameEntry('..', parent));
  }
  let batch: DirEntry[];
  if (d.prefetched) {
    batch = d.prefetched;
    d.prefetched = undefined;
  } else {
    batch = await s.vfs.readdir(s.ctx, d.ino, d.cookie, READDIR_BATCH, true);
  }
  for (const e of batch) {
    d.cookie = e.cookie;
    const attr = e.attr ?? (await s.vfs.getattr(s.ctx, e.ino).catch(() => undefined));
    if (attr) out.push(nameEntry(e.name, attr));
  }
  if (!out.length) return encodeStatus(id, SSH_FX.EOF, 'end of directory');
  return encodeName(id, out);
}

/** Request handlers keyed by packet type (draft-02 sections 6.3–6.10). */
export const OPS: { [K in RequestType]: Handler<K> } = {
  // 6.3: pflags READ/WRITE/APPEND/CREAT/TRUNC/EXCL; attrs.permissions is the creation mode.
  [SSH_FXP.OPEN]: async (s, id, b) => {
    s.checkHandleRoom();
    const pf = b.pflags;
    const write = (pf & (SSH_FXF.WRITE | SSH_FXF.APPEND)) !== 0;
    const create = (pf & SSH_FXF.CREAT) !== 0;
    const path = s.path(b.filename);
    const { attr, fh } = await s.paths.open(s.ctx, path, {
      read: (pf & SSH_FXF.READ) !== 0 || !write,
      write,
      append: (pf & SSH_FXF.APPEND) !== 0,
      truncate: (pf & SSH_FXF.TRUNC) !== 0,
      create,
      exclusive: create && (pf & SSH_FXF.EXCL) !== 0,
    }, createMode(b.attrs, 0o666));
    return encodeHandle(id, await s.addHandle({ kind: 'file', fh, ino: attr.ino, path }));
  },
  // 6.3: closing a file flushes its buffered writes; errors from that flush are reported here.
  [SSH_FXP.CLOSE]: async (s, id, b) => {
    const e = s.take(b.handle);
    if (e.kind === 'file') await s.vfs.release(s.ctx, e.fh);
    return ok(id);
  },
  // 6.4: up to len bytes; SSH_FX_EOF at or past the end.
  [SSH_FXP.READ]: async (s, id, b) => {
    const f = s.file(b.handle);
    if (b.offset > BigInt(Number.MAX_SAFE_INTEGER)) return encodeStatus(id, SSH_FX.EOF, 'end of file');
    const len = Math.min(b.len, MAX_READ);
    if (len === 0) return encodeStatus(id, SSH_FX.EOF, 'end of file');
    // Lent block cache bytes (Vfs.readLent), given back once the reply holds its copy of them.
    const { data, giveBack } = await s.vfs.readLent(s.ctx, f.fh, Number(b.offset), len);
    try {
      return data.length ? encodeData(id, data) : encodeStatus(id, SSH_FX.EOF, 'end of file');
    } finally {
      giveBack();
    }
  },
  [SSH_FXP.WRITE]: async (s, id, b) => {
    const f = s.file(b.handle);
    const off = safe(b.offset + BigInt(b.data.length), Errno.EFBIG, 'offset') - b.data.length;
    await s.vfs.write(s.ctx, f.fh, off, b.data);
    return ok(id);
  },
  // 6.8: LSTAT does not follow a final symlink, STAT does.
  [SSH_FXP.LSTAT]: async (s, id, b) => encodeAttrs(id, toFileAttrs(await s.paths.lstat(s.ctx, s.path(b.path)))),
  [SSH_FXP.STAT]: async (s, id, b) => encodeAttrs(id, toFileAttrs(await s.paths.stat(s.ctx, s.path(b.path)))),
  [SSH_FXP.FSTAT]: async (s, id, b) => encodeAttrs(id, toFileAttrs(await s.vfs.getattr(s.ctx, s.handle(b.handle).ino))),
  // 6.9: SETSTAT follows symlinks (as chmod/truncate/utimes do).
  [SSH_FXP.SETSTAT]: async (s, id, b) => {
    const path = s.path(b.path);
    const c = toSetAttr(b.attrs);
    if (Object.keys(c).length) await s.paths.setattr(s.ctx, path, c, { followLast: true });
    else await s.paths.stat(s.ctx, path);
    return ok(id);
  },
  [SSH_FXP.FSETSTAT]: async (s, id, b) => {
    const e = s.handle(b.handle);
    const c = toSetAttr(b.attrs);
    if (Object.keys(c).length) await s.vfs.setattr(s.ctx, e.ino, c);
    return ok(id);
  },
  // 6.7: a directory cursor; the first batch is read now so that EACCES is reported by OPENDIR.
  [SSH_FXP.OPENDIR]: async (s, id, b) => {
    s.checkHandleRoom();
    const path = s.path(b.path);
    const attr = await s.paths.stat(s.ctx, path);
    if (attr.type !== 'dir') throw new VfsError(Errno.ENOTDIR, 'not a directory');
    const first = await s.vfs.readdir(s.ctx, attr.ino, 0, READDIR_BATCH, true);
    return encodeHandle(id, await s.addHandle({ kind: 'dir', ino: attr.ino, path, cookie: 0, dotsSent: false, prefetched: first }));
  },
  [SSH_FXP.READDIR]: readdir,
  [SSH_FXP.REMOVE]: async (s, id, b) => {
    await s.paths.unlink(s.ctx, s.path(b.path));
    return ok(id);
  },
  [SSH_FXP.MKDIR]: async (s, id, b) => {
    await s.paths.mkdir(s.ctx, s.path(b.path), createMode(b.attrs, 0o777));
    return ok(id);
  },
  [SSH_FXP.RMDIR]: async (s, id, b) => {
    await s.paths.rmdir(s.ctx, s.path(b.path));
    return ok(id);
  },
  // 6.11: the canonical absolute path, lexically normalized inside the export ('.' → '/').
  [SSH_FXP.REALPATH]: async (s, id, b) => {
    const p = s.path(b.path);
    return encodeName(id, [{ filename: p, longname: p, attrs: {} }]);
  },
  // 6.5: version 3 RENAME fails when newpath exists (posix-rename@openssh.com replaces).
  [SSH_FXP.RENAME]: async (s, id, b) => {
    await s.paths.rename(s.ctx, s.path(b.oldpath), s.path(b.newpath), { noreplace: true });
    return ok(id);
  },
  [SSH_FXP.READLINK]: async (s, id, b) => {
    const target = await s.paths.readlink(s.ctx, s.path(b.path));
    return encodeName(id, [{ filename: target, longname: target, attrs: {} }]);
  },
  // 6.10: the target is stored as given; it is resolved inside the export when followed.
  [SSH_FXP.SYMLINK]: async (s, id, b) => {
    const [target, link] = s.symlinkTargetFirst ? [b.first, b.second] : [b.second, b.first];
    if (!target.length || target.includes('\0')) throw new VfsError(Errno.EINVAL, 'bad symlink target');
    await s.paths.symlink(s.ctx, target, s.path(link));
    return ok(id);
  },
  // 6.1 / 8: vendor extensions; unknown names get SSH_FX_OP_UNSUPPORTED.
  [SSH_FXP.EXTENDED]: async (s, id, b) => {
    if (!isExtendedName(b.request)) {
      return encodeStatus(id, SSH_FX.OP_UNSUPPORTED, `unsupported extended request "${b.request.slice(0, 64)}"`);
    }
    return runExtended(s, id, b.request, b.data);
  },
};

function runExtended<K extends ExtendedName>(s: SftpSession, id: number, name: K, data: Buffer): Promise<Buffer> {
  return EXT_OPS[name](s, id, decodeExtended(name, data));
}

function statvfsReply(id: number, st: { bsize: number; blocks: number; bfree: number; bavail: number; files: number; ffree: number; namemax: number }): Buffer {
  return encodeStatVfsReply(id, {
    bsize: st.bsize, frsize: st.bsize, blocks: st.blocks, bfree: st.bfree, bavail: st.bavail,
    files: st.files, ffree: st.ffree, favail: st.ffree, fsid: 0, flag: 0, namemax: st.namemax,
  });
}

/** OpenSSH extension handlers keyed by name (OpenSSH PROTOCOL sections 4.3–4.8). */
export const EXT_OPS: { [K in ExtendedName]: ExtHandler<K> } = {
  'posix-rename@openssh.com': async (s, id, b) => {
    await s.paths.rename(s.ctx, s.path(b.oldpath), s.path(b.newpath));
    return ok(id);
  },
  'statvfs@openssh.com': async (s, id, b) => statvfsReply(id, await s.paths.statfs(s.ctx, s.path(b.path))),
  'fstatvfs@openssh.com': async (s, id, b) => statvfsReply(id, await s.vfs.statfs(s.ctx, s.handle(b.handle).ino)),
  'hardlink@openssh.com': async (s, id, b) => {
    await s.paths.link(s.ctx, s.path(b.oldpath), s.path(b.newpath));
    return ok(id);
  },
  'fsync@openssh.com': async (s, id, b) => {
    await s.vfs.fsync(s.ctx, s.file(b.handle).fh);
    return ok(id);
  },
  'lsetstat@openssh.com': async (s, id, b) => {
    const c = toSetAttr(b.attrs);
    if (!Object.keys(c).length) {
      await s.paths.lstat(s.ctx, s.path(b.path));
      return ok(id);
    }
    await s.paths.setattr(s.ctx, s.path(b.path), c, { followLast: false });
    return ok(id);
  },
  'limits@openssh.com': async (s, id) => encodeLimitsReply(id, s.limits()),
};

