/**
 * One SFTP v3 session (one 'sftp' subsystem channel): the INIT/VERSION exchange, the handle
 * table, and the dispatch of each request packet through the table keyed by packet type
 * (handlers.ts). Sans-IO: `handlePacket(packet)` returns the reply bytes; channel.ts moves
 * bytes between the SSH channel and this object.
 */
import type { Logger } from 'pino';
import type { Ctx, DirEntry, Fh, PathVfs, Vfs } from '../../vfs/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import { SftpStatusError, statusForError } from './errors.js';
import { OPS } from './handlers.js';
import { MAX_PACKET, MAX_READ, MAX_WRITE, SFTP_VERSION, SSH_FX, SSH_FXP } from './wire/constants.js';
import { EXTENSION_VERSIONS } from './wire/extended.js';
import { Reader, WireError } from './wire/reader.js';
import { decodeInit, isRequestType, REQUEST_DECODERS, type RequestBodies, type RequestType } from './wire/requests.js';
import { encodeStatus, encodeVersion } from './wire/replies.js';

/** A violation after which the stream cannot go on (no INIT first, duplicate INIT, no request id): close the channel. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export interface FileHandle {
  kind: 'file';
  fh: Fh;
  ino: number;
  path: string;
}

/** A directory cursor: entries after `cookie`; '.' and '..' come first. */
export interface DirHandle {
  kind: 'dir';
  ino: number;
  path: string;
  cookie: number;
  dotsSent: boolean;
  /** First batch, read at OPENDIR so that permission errors surface there. */
  prefetched: DirEntry[] | undefined;
}

export type HandleEntry = FileHandle | DirHandle;

export interface SessionOptions {
  paths: PathVfs;
  ctx: Ctx;
  /** Most handles (files + directories) open at once; OPEN/OPENDIR beyond it fail. Default 256. */
  maxHandles?: number;
  logger?: Logger;
  /**
   * The client's SSH identification string. Decides the SYMLINK argument order: OpenSSH's
   * client (and nearly every other) sends targetpath first, the reverse of draft-02; node's
   * ssh2 client follows the draft when the server is not OpenSSH.
   */
  clientIdent?: string;
}

export class SftpSession {
  readonly paths: PathVfs;
  readonly vfs: Vfs;
  readonly ctx: Ctx;
  readonly maxHandles: number;
  readonly log: Logger | undefined;
  /** True when SYMLINK's first string is the target (OpenSSH order). */
  readonly symlinkTargetFirst: boolean;
  /** Client's INIT version, once received. */
  clientVersion = -1;
  private readonly handles = new Map<number, HandleEntry>();
  private nextHandle = 1;
  private closed = false;

  constructor(opts: SessionOptions) {
    this.paths = opts.paths;
    this.vfs = opts.paths.vfs;
    this.ctx = opts.ctx;
    this.maxHandles = Math.max(1, opts.maxHandles ?? 256);
    this.log = opts.logger;
    this.symlinkTargetFirst = !/^SSH-2\.0-ssh2js/.test(opts.clientIdent ?? '');
  }

  /** Extensions advertised in SSH_FXP_VERSION (name, version string). */
  static extensions(): Array<[string, string]> {
    return Object.entries(EXTENSION_VERSIONS);
  }

  get openHandles(): number {
    return this.handles.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Answers one packet (type byte first, no length prefix). Every request gets exactly one
   * reply; errors become SSH_FXP_STATUS. Throws ProtocolError when the channel must close.
   */
  async handlePacket(pkt: Buffer): Promise<Buffer> {
    const type = pkt[0];
    if (type === undefined) throw new ProtocolError('empty packet');
    if (this.clientVersion < 0) {
      if (type !== SSH_FXP.INIT) throw new ProtocolError(`expected SSH_FXP_INIT, got packet type ${type}`);
      let init;
      try {
        init = decodeInit(pkt);
      } catch (err) {
        throw new ProtocolError(`malformed SSH_FXP_INIT: ${(err as Error).message}`);
      }
      this.clientVersion = init.version;
      // draft-02 section 4: the server answers with the version it speaks; we speak only 3.
      return encodeVersion(SFTP_VERSION, SftpSession.extensions());
    }
    if (type === SSH_FXP.INIT) throw new ProtocolError('duplicate SSH_FXP_INIT');
    if (pkt.length < 5) throw new ProtocolError(`packet type ${type} too short to carry a request id`);
    const id = pkt.readUInt32BE(1);
    if (!isRequestType(type)) {
      return encodeStatus(id, SSH_FX.OP_UNSUPPORTED, `unsupported request type ${type}`);
    }
    try {
      return await this.dispatch(type, id, new Reader(pkt, 5));
    } catch (err) {
      const st = statusForError(err);
      if (!(err instanceof VfsError || err instanceof WireError || err instanceof SftpStatusError)) {
        this.log?.error({ err, type, clientId: this.ctx.clientId }, 'sftp: request failed unexpectedly');
      } else {
        this.log?.debug({ err: (err as Error).message, type }, 'sftp: request failed');
      }
      return encodeStatus(id, st.code, st.message);
    }
  }

  private dispatch<K extends RequestType>(type: K, id: number, r: Reader): Promise<Buffer> {
    const body = REQUEST_DECODERS[type](r) as RequestBodies[K];
    return OPS[type](this, id, body);
  }

  // ---- paths --------------------------------------------------------------------------

  /** A request path as an export path: relative paths start at the export root ('' and '.' are '/'). */
  path(raw: string): string {
    return this.paths.normalize(raw.startsWith('/') ? raw : `/${raw}`);
  }

  // ---- handles ------------------------------------------------------------------------

  /** Throws SSH_FX_FAILURE 'too many open handles' when the table is full. */
  checkHandleRoom(): void {
    if (this.handles.size >= this.maxHandles) {
      throw new SftpStatusError(SSH_FX.FAILURE, `too many open handles (max ${this.maxHandles})`);
    }
  }

  /**
   * Adds an entry and returns its 4-byte handle. If the session closed meanwhile (the channel
   * went away while OPEN was in flight), releases the file and throws.
   */
  async addHandle(entry: HandleEntry): Promise<Buffer> {
    if (this.closed || this.handles.size >= this.maxHandles) {
      if (entry.kind === 'file') await this.vfs.release(this.ctx, entry.fh).catch(() => {});
      if (this.closed) throw new SftpStatusError(SSH_FX.FAILURE, 'session closed');
      this.checkHandleRoom();
    }
    let n = this.nextHandle;
    while (this.handles.has(n)) n = (n + 1) >>> 0 || 1;
    this.nextHandle = (n + 1) >>> 0 || 1;
    this.handles.set(n, entry);
    const h = Buffer.allocUnsafe(4);
    h.writeUInt32BE(n, 0);
    return h;
  }

  private key(h: Buffer): number {
    if (h.length !== 4) throw new VfsError(Errno.EBADF, 'invalid handle');
    return h.readUInt32BE(0);
  }

  /** The entry of a handle. Throws EBADF ('invalid handle') for unknown handles. */
  handle(h: Buffer): HandleEntry {
    const e = this.handles.get(this.key(h));
    if (!e) throw new VfsError(Errno.EBADF, 'invalid handle');
    return e;
  }

  file(h: Buffer): FileHandle {
    const e = this.handle(h);
    if (e.kind !== 'file') throw new VfsError(Errno.EISDIR, 'handle is a directory');
    return e;
  }

  dir(h: Buffer): DirHandle {
    const e = this.handle(h);
    if (e.kind !== 'dir') throw new VfsError(Errno.ENOTDIR, 'handle is not a directory');
    return e;
  }

  /** Removes a handle from the table and returns its entry (the caller releases it). */
  take(h: Buffer): HandleEntry {
    const k = this.key(h);
    const e = this.handles.get(k);
    if (!e) throw new VfsError(Errno.EBADF, 'invalid handle');
    this.handles.delete(k);
    return e;
  }

  /** Releases every handle (channel or connection closed). Idempotent; never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const entries = [...this.handles.values()];
    this.handles.clear();
    for (const e of entries) {
      if (e.kind !== 'file') continue;
      try {
        await this.vfs.release(this.ctx, e.fh);
      } catch (err) {
        this.log?.warn({ err, path: e.path }, 'sftp: release on close failed');
      }
    }
  }

  /** Server limits for limits@openssh.com. */
  limits(): { maxPacketLength: number; maxReadLength: number; maxWriteLength: number; maxOpenHandles: number } {
    return { maxPacketLength: MAX_PACKET, maxReadLength: MAX_READ, maxWriteLength: MAX_WRITE, maxOpenHandles: this.maxHandles };
  }
}
