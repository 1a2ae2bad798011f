/**
 * The VFS contracts every protocol builds on (ARCHITECTURE.md, "VFS, inode level" and "path level").
 * All calls are async and throw `VfsError` (vfs/errno.ts) on failure; each method lists the
 * Errno values it can throw besides EIO (which any call may throw on a storage fault).
 */

/** Who is asking. Every VFS call takes one; permission checks use uid/gid/groups. */
export interface Ctx {
  uid: number;
  gid: number;
  /** Supplementary groups. */
  groups: readonly number[];
  /** Stable id of the client connection (locks, leases, logs), e.g. 'sftp:127.0.0.1:50312'. */
  clientId: string;
}

/** Root context for the gateway's own work (admin, scrub); bypasses permission checks. */
export const ROOT_CTX: Ctx = { uid: 0, gid: 0, groups: [], clientId: 'gateway' };

/** File type bits (the S_IFMT part of `mode`), as POSIX. */
export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFSOCK = 0o140000;

export type FileType = 'file' | 'dir' | 'symlink' | 'fifo' | 'chr' | 'blk' | 'sock';

/** Bytes lent by Vfs.readLent (the shape of raid's BlockStore.lend result; this file imports nothing): read-only until `giveBack`, called once. */
export interface Lent {
  data: Buffer;
  giveBack(): void;
}

/** Bytes lent in pieces (BlockVolume.readLent): read-only until `giveBack`, called once for all of them. */
export interface LentParts {
  parts: Buffer[];
  giveBack(): void;
}

/** Inode attributes. Times are nanoseconds since the Unix epoch. */
export interface Attr {
  /** Inode number: stable for the life of the file, never reused. */
  ino: number;
  /** Generation: with ino, names this file uniquely forever (NFS file handles). */
  gen: number;
  /** Type bits | permission bits (incl. setuid 0o4000, setgid 0o2000, sticky 0o1000). */
  mode: number;
  type: FileType;
  nlink: number;
  uid: number;
  gid: number;
  /** Bytes. */
  size: number;
  /** 512-byte units allocated (logical bytes in extents, rounded up). */
  blocks: number;
  /** Device number for chr/blk nodes, else 0. */
  rdev: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  birthtimeNs: bigint;
}

/** setattr changes; absent fields are left alone. 'now' = the server's clock. */
export interface SetAttr {
  /** Permission bits only (type bits ignored). */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Truncate or extend (sparse) to this many bytes. Files only (EISDIR, EINVAL). */
  size?: number;
  /** Times: ns since 1970 within a signed 64-bit count (else EINVAL), or 'now'. */
  atimeNs?: bigint | 'now';
  mtimeNs?: bigint | 'now';
  /** Creation time (SMB's CreationTime; st_birthtime), as atimeNs. Only the owner (or root) may set it (EPERM). */
  birthtimeNs?: bigint | 'now';
  /**
   * Status change time set on purpose (SMB's ChangeTime; POSIX has no way to): applied after the
   * other changes of this call, which would otherwise set it to now. Owner or root only (EPERM).
   */
  ctimeNs?: bigint;
}

export interface OpenFlags {
  read?: boolean;
  write?: boolean;
  /** Every write goes to the end of the file. */
  append?: boolean;
  /** Set size to 0 on open (needs write permission). */
  truncate?: boolean;
}

/** Open file handle number; valid until release(). */
export type Fh = number;

export interface DirEntry {
  name: string;
  ino: number;
  type: FileType;
  /** Pass back to readdir to continue after this entry; stable across calls and restarts. */
  cookie: number;
  /** Present when readdir was asked for attributes (readdirplus). */
  attr?: Attr;
}

export interface StatFs {
  /** Bytes per block for the counts below. */
  bsize: number;
  blocks: number;
  bfree: number;
  /** Free blocks for unprivileged users. */
  bavail: number;
  files: number;
  ffree: number;
  /** Longest name, bytes (255). */
  namemax: number;
}

/** A POSIX byte-range lock. end is exclusive; end = Infinity means to end of file. */
export interface LockRange {
  type: 'read' | 'write';
  start: number;
  end: number;
  /** Lock owner (a process, an open file, a WebDAV lock token…); with ctx.clientId, names the holder. */
  owner: string;
}

/**
 * A change another client may hold in a cache: without `name`, the attributes or data of inode
 * `ino`; with `name`, the entry `name` in directory `ino` (made, removed or renamed).
 */
export interface VfsChange {
  ino: number;
  name?: string;
  /**
   * What happened, when the VFS knows (SMB CHANGE_NOTIFY reports it): for an entry, 'add',
   * 'remove', or the two halves of a rename ('rename-from' in the old directory, 'rename-to' in
   * the new); for an inode, 'attr' (setattr, links), 'data' (write, hole, copy) or 'xattr'.
   */
  action?: 'add' | 'remove' | 'rename-from' | 'rename-to' | 'attr' | 'data' | 'xattr';
  /** For an entry change: whether the entry is a directory. */
  dir?: boolean;
}

/** A snapshot as protocols list it (SMB's Previous Versions): see Vfs.listSnapshots. */
export interface SnapshotEntry {
  name: string;
  /** When it was taken, ms since the Unix epoch. */
  takenMs: number;
  /**
   * For a `dw snapshot create --path` snapshot, the folder /.snapshots/NAME shows ('/'-separated,
   * from the root; '' when its path was not recorded). Absent for a snapshot of the whole tree.
   */
  path?: string;
}

export interface Vfs {
  /** The snapshots reachable at /.snapshots/NAME, oldest first; [] when the pool keeps none. */
  listSnapshots(): SnapshotEntry[];
  /**
   * Calls `listener` after each change made through this VFS in the live tree, with the clientId
   * of the ctx that made it, so a protocol whose clients cache (FUSE: the kernel) can tell them.
   * Called synchronously: listeners must not block. Not called for snapshot rollback (the whole
   * tree changes at once), which refuses to run while files are open. Returns the unsubscriber.
   */
  watch(listener: (change: VfsChange, clientId: string) => void): () => void;
  /** Errno: ENOENT, ENOTDIR, EACCES (no search permission on parent), ENAMETOOLONG. */
  lookup(ctx: Ctx, parent: number, name: string): Promise<Attr>;
  /**
   * Case-insensitive, case-preserving lookup, as Windows (SMB) names files: the entry named
   * exactly `name` if there is one, else one whose name is equal to it after folding each UTF-16
   * code unit to upper case ('readme.TXT' finds 'README.txt', 'ä' finds 'Ä'; 'ß' only itself),
   * through an index of folded names (one short read, never a directory scan; in a snapshot taken
   * before the index existed, a scan). Returns the entry's attributes and its real `name` (for
   * the caller to report); `ambiguous` is true when several entries fold alike and none matched
   * exactly: the one returned is the first by real name in UTF-8 byte order (on a pool with
   * encrypted names, a fixed but arbitrary order), and the others are reachable only by their
   * exact names. In the root, /.snapshots answers to any case after the real entries; in
   * /.snapshots, snapshot names fold too. Errno as lookup: ENOENT, ENOTDIR, EACCES (no search
   * permission on parent), ENAMETOOLONG, EINVAL (a name with '/' or NUL), ESTALE (a snapshot gone).
   */
  lookupCaseless(ctx: Ctx, parent: number, name: string): Promise<{ attr: Attr; name: string; ambiguous: boolean }>;
  /** Errno: ENOENT, ESTALE (ino never existed or gen differs, when gen given). */
  getattr(ctx: Ctx, ino: number, gen?: number): Promise<Attr>;
  /**
   * Errno: EPERM (not owner / chown rules), EACCES, EISDIR/EINVAL (size on non-file), EFBIG, EROFS.
   * `handleWritable`: the change comes through a handle already open for writing (ftruncate(2),
   * fallocate(2)), whose write permission was checked at open.
   */
  setattr(ctx: Ctx, ino: number, changes: SetAttr, handleWritable?: boolean): Promise<Attr>;
  /** Creates a regular file and opens it. Errno: EEXIST (exclusive and exists), ENOENT, ENOTDIR, EACCES, ENAMETOOLONG, EINVAL, ENOSPC, EDQUOT. */
  create(ctx: Ctx, parent: number, name: string, mode: number, flags: OpenFlags & { exclusive?: boolean }): Promise<{ attr: Attr; fh: Fh }>;
  /** Creates a fifo, socket or device node (or regular file). Errno as create. */
  mknod(ctx: Ctx, parent: number, name: string, mode: number, rdev: number): Promise<Attr>;
  /** Errno as create. */
  mkdir(ctx: Ctx, parent: number, name: string, mode: number): Promise<Attr>;
  /** Errno: ENOENT, EISDIR, EACCES, EPERM (sticky dir), EBUSY. */
  unlink(ctx: Ctx, parent: number, name: string): Promise<void>;
  /**
   * Whether unlink/rmdir of `name` would be allowed now, without removing it (SMB checks this
   * when a client asks for delete-on-close, which happens later): permission and sticky bit on the
   * parent, retention and legal holds, read-only snapshots. Not whether a folder is empty.
   * Errno: ENOENT, EACCES, EPERM (retention, sticky), EROFS.
   */
  mayDelete(ctx: Ctx, parent: number, name: string): Promise<void>;
  /** Errno: ENOENT, ENOTDIR, ENOTEMPTY, EACCES, EPERM, EBUSY (root), EINVAL ('.'). */
  rmdir(ctx: Ctx, parent: number, name: string): Promise<void>;
  /**
   * POSIX rename: replaces an existing target atomically unless noreplace.
   * Errno: ENOENT, EEXIST (noreplace), ENOTEMPTY, EISDIR, ENOTDIR, EINVAL (dir into itself), EXDEV, EACCES, EPERM.
   */
  rename(ctx: Ctx, parent: number, name: string, newParent: number, newName: string, opts?: { noreplace?: boolean }): Promise<void>;
  /** Hard link. Errno: EEXIST, EPERM (directory), EMLINK, ENOENT, EACCES. */
  link(ctx: Ctx, ino: number, newParent: number, newName: string): Promise<Attr>;
  /** Errno as create. */
  symlink(ctx: Ctx, parent: number, name: string, target: string): Promise<Attr>;
  /** Errno: EINVAL (not a symlink). */
  readlink(ctx: Ctx, ino: number): Promise<string>;
  /** access(2): whether ctx may read (4), write (2), execute/search (1) ino. Errno: EACCES, EROFS (write in a snapshot), ENOENT. */
  access(ctx: Ctx, ino: number, mask: number): Promise<void>;
  /** Errno: EACCES, EISDIR (write on dir), ENOENT. */
  open(ctx: Ctx, ino: number, flags: OpenFlags): Promise<Fh>;
  /**
   * Up to length bytes at offset (fewer at end of file). With `into` (at least length bytes),
   * the bytes land there and the result is a view of it (no allocation per read). Without it the
   * result may be a view of the block cache, shared with other readers (no copy when the range
   * lies in one stored record): callers must never modify it. Errno: EBADF, EISDIR.
   */
  read(ctx: Ctx, fh: Fh, offset: number, length: number, into?: Buffer): Promise<Buffer>;
  /**
   * read() without `into`, for a caller that says when it is done with the bytes: call
   * `giveBack` once nothing refers to `data` or a view of it any more (the reply carrying it was
   * sent); the block cache then reuses that memory once it lets go of the block too
   * (BlockStore.lend). Without giveBack the bytes are kept whole, as read()'s. Errno: as read().
   */
  readLent(ctx: Ctx, fh: Fh, offset: number, length: number): Promise<Lent>;
  /** Returns bytes written (all of data). Errno: EBADF, EFBIG, ENOSPC, EDQUOT, EROFS. */
  write(ctx: Ctx, fh: Fh, offset: number, data: Uint8Array): Promise<number>;
  /**
   * lseek(2) SEEK_DATA ('data') / SEEK_HOLE ('hole'): the first byte offset ≥ `offset` that is
   * data, or that lies in a hole. Holes are whole records (1 MiB by default) never written or
   * punched; the end of the file counts as a hole, so 'hole' answers at most the size. Data
   * still in write buffers counts. Works on any handle, in snapshots too.
   * Errno: ENXIO (offset < 0 or ≥ size; 'data' with only holes after offset), EBADF, EINVAL (not a regular file).
   */
  seekData(ctx: Ctx, fh: Fh, offset: number, what: 'data' | 'hole'): Promise<number>;
  /**
   * fallocate(2) FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE: bytes [offset, offset + length)
   * read as zeros afterwards, the size does not change (the range is clamped to it). Records
   * wholly inside lose their blocks (quota usage and st_blocks go down; snapshots keep theirs);
   * the edges get zeros written. Errno: EINVAL (offset < 0, length ≤ 0), EBADF (not open for
   * writing), EISDIR, EROFS (snapshot), EPERM (retention, as for a write), EDQUOT, ENOSPC.
   */
  punchHole(ctx: Ctx, fh: Fh, offset: number, length: number): Promise<void>;
  /**
   * copy_file_range(2): copies up to `length` bytes from offset offIn of fhIn to offset offOut
   * of fhOut and returns the count: fewer at the source's end, 0 at or past it, at most 1 GiB
   * per call (call again for the rest). Aligned whole records are shared by block reference.
   * Errno: EBADF (fhIn not readable, fhOut not writable or append), EISDIR, EINVAL (negative
   * offsets, overlapping ranges of one file), EFBIG, EROFS, EPERM (retention), EDQUOT, ENOSPC.
   */
  copyFileRange(ctx: Ctx, fhIn: Fh, offIn: number, fhOut: Fh, offOut: number, length: number): Promise<number>;
  /** Commits buffered writes (metadata in one batch with size and times). */
  flush(ctx: Ctx, fh: Fh): Promise<void>;
  /** flush + data and metadata durable on disk (survives power loss, not only kill -9). */
  fsync(ctx: Ctx, fh: Fh, dataOnly?: boolean): Promise<void>;
  /** flush + forget the handle. Never throws EBADF for a handle already released. */
  release(ctx: Ctx, fh: Fh): Promise<void>;
  /** Entries after `cookie` (0 = from the start; '.' and '..' not included), at most `limit`. Errno: ENOTDIR, EACCES. */
  readdir(ctx: Ctx, ino: number, cookie: number, limit: number, plus?: boolean): Promise<DirEntry[]>;
  statfs(ctx: Ctx, ino: number): Promise<StatFs>;
  /** Errno: ENODATA (absent), ERANGE. Names are namespaced like Linux: 'user.x', 'trusted.x', 'system.x'. */
  getxattr(ctx: Ctx, ino: number, name: string): Promise<Buffer>;
  /** Errno: EEXIST (create and exists), ENODATA (replace and absent), EPERM, EACCES, ERANGE (value > 64 KiB), ENOSPC. */
  setxattr(ctx: Ctx, ino: number, name: string, value: Uint8Array, flags?: { create?: boolean; replace?: boolean }): Promise<void>;
  listxattr(ctx: Ctx, ino: number): Promise<string[]>;
  /** Errno: ENODATA. */
  removexattr(ctx: Ctx, ino: number, name: string): Promise<void>;
  /**
   * Takes a byte-range lock; with `wait`, waits for conflicting locks to go (in arrival order
   * with other waiters), until `signal` aborts (then rejects with its reason, nothing taken).
   * Errno: EAGAIN (conflict and not wait), EDEADLK.
   */
  lock(ctx: Ctx, ino: number, range: LockRange, wait?: boolean, signal?: AbortSignal): Promise<void>;
  /** Releases the owner's locks in [start, end). */
  unlock(ctx: Ctx, ino: number, range: Omit<LockRange, 'type'>): Promise<void>;
  /** The first conflicting lock, or null. */
  testlock(ctx: Ctx, ino: number, range: LockRange): Promise<(LockRange & { clientId: string }) | null>;
}

/** Result of resolving a path. */
export interface Resolved {
  attr: Attr;
  /** Parent directory's inode (the root is its own parent). */
  parent: number;
  /** Last component ('' for the root). */
  name: string;
}

/**
 * The path layer for WebDAV, SFTP and S3. Paths are '/'-separated and relative to the export
 * root; they are normalized lexically ('.' dropped, '..' clamped at the root) so that no path
 * names anything outside the export. Symlinks inside paths are followed within the export
 * (absolute targets are taken from the export root); the last component is followed only where
 * the method says so. Errno: EINVAL (NUL byte or empty component after decoding), ENAMETOOLONG
 * (component > 255 bytes or path > 4096 bytes), ELOOP (more than 40 symlinks), plus each method's own.
 */
export interface PathVfs {
  readonly vfs: Vfs;
  /** Normalized form of a path: '/a/b'. Throws EINVAL/ENAMETOOLONG. */
  normalize(path: string): string;
  resolve(ctx: Ctx, path: string, opts?: { followLast?: boolean }): Promise<Resolved>;
  /** follows the last symlink */
  stat(ctx: Ctx, path: string): Promise<Attr>;
  lstat(ctx: Ctx, path: string): Promise<Attr>;
  /** All entries with attributes (no '.'/'..'). */
  readdir(ctx: Ctx, path: string): Promise<DirEntry[]>;
  mkdir(ctx: Ctx, path: string, mode?: number): Promise<Attr>;
  /** Opens (creating if `create`) a file; truncate/append/exclusive as flags. */
  open(ctx: Ctx, path: string, flags: OpenFlags & { create?: boolean; exclusive?: boolean }, mode?: number): Promise<{ attr: Attr; fh: Fh }>;
  unlink(ctx: Ctx, path: string): Promise<void>;
  rmdir(ctx: Ctx, path: string): Promise<void>;
  /** Removes a file, symlink or whole directory tree (WebDAV DELETE). */
  removeTree(ctx: Ctx, path: string): Promise<void>;
  rename(ctx: Ctx, from: string, to: string, opts?: { noreplace?: boolean }): Promise<void>;
  /**
   * Server-side copy of a file or tree (WebDAV COPY). Blocks are shared by reference, not
   * copied. depth 0 copies a directory without its members. Errno: EEXIST (overwrite false).
   */
  copy(ctx: Ctx, from: string, to: string, opts: { overwrite: boolean; depth: 0 | 'infinity' }): Promise<void>;
  symlink(ctx: Ctx, target: string, path: string): Promise<Attr>;
  readlink(ctx: Ctx, path: string): Promise<string>;
  link(ctx: Ctx, existing: string, path: string): Promise<Attr>;
  setattr(ctx: Ctx, path: string, changes: SetAttr, opts?: { followLast?: boolean }): Promise<Attr>;
  statfs(ctx: Ctx, path: string): Promise<StatFs>;
  getxattr(ctx: Ctx, path: string, name: string): Promise<Buffer>;
  setxattr(ctx: Ctx, path: string, name: string, value: Uint8Array): Promise<void>;
  listxattr(ctx: Ctx, path: string): Promise<string[]>;
  removexattr(ctx: Ctx, path: string, name: string): Promise<void>;
}

/** A logged-in user as the gateway's user table knows it. */
export interface Principal {
  name: string;
  uid: number;
  gid: number;
  groups: number[];
}

/**
 * How protocol servers check logins; the gateway implements it over its user table.
 * Each check resolves the principal, or null when the login is refused (unknown user or wrong secret).
 * Protocols call it on every request that carries credentials (HTTP Basic) and cache nothing, so
 * a removed user or a changed password takes effect at once; implementations make a repeated
 * successful check cheap (the gateway remembers verified secrets keyed by the stored hash).
 */
export interface Authenticator {
  checkPassword(user: string, password: string): Promise<Principal | null>;
  /** `key` is the public key blob in SSH wire format (algorithm name + key data). */
  checkPublicKey(user: string, algo: string, key: Buffer): Promise<Principal | null>;
}

/** A ctx for a principal on a connection. */
export function ctxFor(p: Principal, clientId: string): Ctx {
  return { uid: p.uid, gid: p.gid, groups: p.groups, clientId };
}

/**
 * A block volume (ARCHITECTURE.md "BlockVolume"): a fixed-size, sparse byte array kept on the
 * same file machinery (extents, records, the erasure-coded block store), exported over iSCSI and
 * reachable through no file protocol. Offsets and lengths are bytes; callers keep them inside
 * [0, sizeBytes). Holes read as zeros.
 * Errno besides EIO: EROFS (write to a snapshot or a read-only volume), ENOSPC, EDQUOT,
 * EINVAL (range outside the volume), ESTALE (the volume was deleted while open).
 */
export interface BlockVolume {
  readonly name: string;
  /** Size in bytes (a multiple of 4096). Changes only through Volumes.resize, which open handles see at once (Volumes.watch tells). */
  readonly sizeBytes: number;
  /** The record size (the `--block` of `dw volume create`, 64 KiB by default): a write smaller than it is read-modify-write. */
  readonly recordSize: number;
  /** True for a snapshot of a volume (and a volume opened read-only). */
  readonly readOnly: boolean;
  /** Reads [offset, offset+length); holes are zeros. Errno: EINVAL (outside the volume). */
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * The bytes of [offset, offset+length) as pieces back to back (holes are zeros), without
   * copying what is stored: a piece may be lent bytes of the block cache, never to be modified
   * and unchanged until `giveBack` (call it once, when the pieces are sent or dropped; a slot of
   * the block store's arena is reused only after). For a protocol that only sends what it reads
   * (iSCSI Data-In). Errno as read.
   */
  readLent(offset: number, length: number): Promise<LentParts>;
  /** Writes data at offset; durable only after flush() unless `fua`. Errno: EINVAL, EROFS, ENOSPC, EDQUOT. */
  write(offset: number, data: Uint8Array, opts?: { fua?: boolean }): Promise<void>;
  /** Deallocates [offset, offset+length): reads zeros afterwards; whole records lose their blocks (thin provisioning). Errno: EINVAL, EROFS. */
  unmap(offset: number, length: number): Promise<void>;
  /** Makes every acknowledged write durable (invariant 1: survives kill -9 once this resolves). */
  flush(): Promise<void>;
  /**
   * The mapped/unmapped runs covering [offset, offset+length), in order, adjacent runs of the
   * same kind merged, at record granularity (SBC-3 GET LBA STATUS). Errno: EINVAL.
   */
  mapping(offset: number, length: number): Promise<{ offset: number; length: number; mapped: boolean }[]>;
  /** Releases the handle (flushes first). Further calls throw EBADF. */
  close(): Promise<void>;
}

/** A volume as `dw volume list` shows it. */
export interface VolumeInfo {
  name: string;
  sizeBytes: number;
  recordSize: number;
  /** Created with --thick: every record allocated (zeros written) at creation and on growth. */
  thick: boolean;
  /** Bytes of allocated records (what thin provisioning saves is sizeBytes - usedBytes). */
  usedBytes: number;
  /** ISO 8601. */
  created: string;
  /** For a clone: 'VOLUME@SNAPSHOT' it was made from. */
  origin?: string;
  /**
   * The volume's snapshots, oldest first. `heldBytes` (in Volumes.list only: it reads each
   * snapshot's history): bytes of records only that snapshot keeps, freed by deleting it.
   */
  snapshots: { name: string; created: string; heldBytes?: number }[];
}

/**
 * The volume catalogue. Names: 1–64 characters of [A-Za-z0-9._-], not starting with '.'.
 * A snapshot is named 'VOLUME@SNAP' and opens read-only; a clone is a new writable volume
 * sharing the snapshot's blocks (copy on write). Errno: EEXIST, ENOENT, EINVAL (bad name or
 * size), EBUSY (delete of an open volume or of an open snapshot, delete of a volume with
 * snapshots unless recursive; resize of an open volume is allowed), ENOSPC (thick), EPERM.
 * Implementation: vfs/volumes.ts openVolumes(instance).
 */
export interface Volumes {
  create(name: string, opts: { sizeBytes: number; recordSize?: number; thick?: boolean }): Promise<VolumeInfo>;
  /** Grows or shrinks; shrinking drops the data past the new end. */
  resize(name: string, sizeBytes: number): Promise<VolumeInfo>;
  delete(name: string, opts?: { recursive?: boolean }): Promise<void>;
  list(): Promise<VolumeInfo[]>;
  get(name: string): Promise<VolumeInfo>;
  /** Constant time (no data copied). */
  snapshot(name: string, snap: string): Promise<{ name: string; created: string }>;
  deleteSnapshot(name: string, snap: string): Promise<void>;
  /**
   * Returns volume `name` to its snapshot `snap` (which stays): work in proportion to what
   * changed since. Only the newest snapshot, unless `destroyNewer` deletes the newer ones first
   * (else EBUSY naming them); EBUSY while the volume (or a snapshot to destroy) is open.
   * Returns the snapshots destroyed.
   */
  rollback(name: string, snap: string, opts?: { destroyNewer?: boolean }): Promise<{ destroyed: string[] }>;
  /** A new writable volume from 'VOLUME@SNAP'. */
  clone(source: string, name: string): Promise<VolumeInfo>;
  /** Opens 'NAME' (writable unless readOnly) or 'NAME@SNAP' (read-only). */
  open(name: string, opts?: { readOnly?: boolean }): Promise<BlockVolume>;
  /**
   * Calls `listener` after a volume was resized ('resize': open handles already show the new
   * sizeBytes; iSCSI raises CAPACITY DATA HAS CHANGED, SPC-4 6.x / SAM-5 unit attention) or
   * deleted ('delete'). Synchronous; must not block. Returns the unsubscriber.
   */
  watch(listener: (name: string, what: 'resize' | 'delete') => void): () => void;
}
