/**
 * The NFSv4 service (program 100003 version 4: NULL and COMPOUND, RFC 7530 §16, RFC 8881 §16)
 * over the inode-level VFS: file handles (the v3 layout, wire/fh.ts, plus export id 0 for
 * pseudo-fs nodes), the per-call identity (the export's squash, as NFSv3), attributes, and the
 * state manager. The COMPOUND loop is in compound.ts, the operations in ops-*.ts.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Errno, VfsError } from '../../../vfs/errno.js';
import { ROOT_CTX, type Attr, type Ctx, type StatFs, type Vfs } from '../../../vfs/types.js';
import { Nfs4Error } from '../errors.js';
import { ExportTable, squashCtx, type Export } from '../exports.js';
import type { Procedure } from '../session.js';
import { decodeFh, encodeFh } from '../wire/fh.js';
import { ATTR_CODECS, bitmapOf, FATTR4, WRITE_ONLY } from '../wire/nfs4-attr.js';
import { decodeCompoundHeader, decodeOpArgs, FH4_PERSISTENT, isKnownOp, MAX_IO, NF4, NFS4, NFSPROC4_COMPOUND, NFSPROC4_NULL, OP } from '../wire/nfs4.js';
import type { XdrReader } from '../wire/xdr.js';
import { compound } from './compound.js';
import { PSEUDO_EXPORT_ID, PseudoFs, type PseudoNode } from './pseudo.js';
import { StateManager, type StateOptions } from './state.js';

export interface Nfs4Options extends StateOptions {
  exports: ExportTable;
  log?: Logger;
  /** Hears of every operation a COMPOUND ran (its name and status as RFC 8881 spells them): for metrics. */
  onOp?: (o: OpRecord) => void;
}

/** One NFSv4 operation run inside a COMPOUND: minor version, e.g. 'READ', e.g. 'NFS4_OK' or 'NFS4ERR_NOENT'. */
export interface OpRecord { minor: number; op: string; status: string }

/** A file handle made current by PUTFH, LOOKUP …: a VFS inode in an export, or a pseudo-fs node. */
export interface Node {
  fh: Buffer;
  /** Undefined for pseudo nodes. */
  exp?: Export;
  pseudo?: PseudoNode;
  ino: number;
  gen: number;
}

const TYPE: Record<Attr['type'], number> = { file: NF4.REG, dir: NF4.DIR, blk: NF4.BLK, chr: NF4.CHR, symlink: NF4.LNK, sock: NF4.SOCK, fifo: NF4.FIFO };
const NS = 1_000_000_000n;
/** 4.0 operations that change the namespace or data and have no seqid replay of their own. */
const NOT_REPLAYED: ReadonlySet<number> = new Set([OP.CREATE, OP.LINK, OP.REMOVE, OP.RENAME, OP.SETATTR, OP.WRITE]);
export const nfstime = (ns: bigint) => ({ seconds: ns / NS - (ns % NS < 0n ? 1n : 0n), nseconds: Number(((ns % NS) + NS) % NS) });
const major = (rdev: number) => (rdev >>> 8) & 0xfff;
const minor = (rdev: number) => (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);

/** Attributes we answer, per minor version (RFC 7530 §5.6 mandatory + the recommended ones below). */
const SUPPORTED_0 = Object.keys(ATTR_CODECS).map(Number).filter((a) => a !== FATTR4.SUPPATTR_EXCLCREAT);
const SUPPORTED_1 = Object.keys(ATTR_CODECS).map(Number);
const NEEDS_STATFS = new Set<number>([FATTR4.FILES_AVAIL, FATTR4.FILES_FREE, FATTR4.FILES_TOTAL, FATTR4.SPACE_AVAIL, FATTR4.SPACE_FREE, FATTR4.SPACE_TOTAL]);

export class Nfs4Service {
  readonly exports: ExportTable;
  readonly pseudo: PseudoFs;
  /** The export of "/", if any: PUTROOTFH's directory for the clients it lists (the pseudo-fs root for others). */
  readonly rootExport: Export | undefined;
  readonly state: StateManager;
  /** writeverf4: new at each start (RFC 7530 §16.36.5). */
  readonly verifier = randomBytes(8);
  /** server_owner4 / server scope (4.1). */
  readonly serverOwner = randomBytes(8);
  readonly log: Logger | undefined;
  readonly onOp: ((o: OpRecord) => void) | undefined;
  readonly started = BigInt(Date.now()) * 1_000_000n;

  constructor(readonly vfs: Vfs, opts: Nfs4Options) {
    this.exports = opts.exports;
    this.rootExport = opts.exports.list.find((e) => e.path === '/');
    this.pseudo = new PseudoFs(opts.exports.list.filter((e) => e !== this.rootExport));
    this.state = new StateManager(vfs, opts, opts.log);
    this.log = opts.log;
    this.onOp = opts.onOp;
  }

  /**
   * Whether the duplicate request cache should keep a COMPOUND's reply (session.ts `drc.want`):
   * a 4.0 COMPOUND (4.1 has the session's reply cache) with an operation whose second run would
   * answer differently and that no seqid replays: CREATE, LINK, REMOVE, RENAME, SETATTR, WRITE.
   * A retransmitted REMOVE then answers NFS4_OK again, not NFS4ERR_NOENT. Throws XdrError on
   * arguments that do not decode.
   */
  static wantsReplyCache(args: XdrReader): boolean {
    const hdr = decodeCompoundHeader(args);
    if (hdr.minorversion !== 0) return false;
    for (let i = 0; i < hdr.numOps; i++) {
      const op = args.uint('opnum');
      if (NOT_REPLAYED.has(op)) return true;
      if (!isKnownOp(op, 0)) return false;
      decodeOpArgs(op, args);
    }
    return false;
  }

  /** Replies the duplicate request cache keeps: not NFS4ERR_DELAY (retry later), at most 64 KiB in all (`size`). */
  static keepsReply(results: Uint8Array, size: number): boolean {
    if (size > 64 * 1024) return false;
    return results.length < 4 || Buffer.from(results.buffer, results.byteOffset, 4).readUInt32BE(0) !== NFS4.ERR_DELAY;
  }

  /** The procedures of version 4, for the NFS program's version map. */
  procedures(): Partial<Record<number, Procedure>> {
    return {
      [NFSPROC4_NULL]: ({ call }) => {
        call.args.end('NULL arguments');
        return new Uint8Array(0);
      },
      [NFSPROC4_COMPOUND]: (c) => compound(this, c),
    };
  }

  close(): Promise<void> {
    return this.state.close();
  }

  /** The node PUTROOTFH sets for a client at `host`: the directory of "/" when exported to it, else the pseudo-fs root. */
  async rootNode(host: string): Promise<Node> {
    const e = this.rootExport;
    if (e?.allows(host)) return this.node(e, await this.vfs.getattr(ROOT_CTX, this.exports.root(e.id)));
    return this.pseudoNode(this.pseudo.nodes.get(1)!);
  }

  /** The node of export `e`'s directory. */
  async exportNode(e: Export): Promise<Node> {
    return this.node(e, await this.vfs.getattr(ROOT_CTX, this.exports.root(e.id)));
  }

  pseudoNode(p: PseudoNode): Node {
    return { fh: encodeFh({ exportId: PSEUDO_EXPORT_ID, ino: p.ino, gen: 0 }), pseudo: p, ino: p.ino, gen: 0 };
  }

  /** A node for an inode of export `e`. */
  node(e: Export, a: Attr): Node {
    return { fh: encodeFh({ exportId: e.id, ino: a.ino, gen: a.gen }), exp: e, ino: a.ino, gen: a.gen };
  }

  /** PUTFH: BADHANDLE for a handle not ours, STALE for an unknown export or pseudo node, ACCESS for an export not for `host`. */
  fromFh(fh: Buffer, host: string): Node {
    const h = decodeFh(fh);
    if (!h) throw new Nfs4Error(NFS4.ERR_BADHANDLE, 'not a handle of this server');
    if (h.exportId === PSEUDO_EXPORT_ID) {
      const p = this.pseudo.nodes.get(h.ino);
      if (!p) throw new Nfs4Error(NFS4.ERR_STALE, 'unknown pseudo-fs node');
      return this.pseudoNode(p);
    }
    const exp = this.exports.get(h.exportId);
    if (!exp) throw new Nfs4Error(NFS4.ERR_STALE, 'handle of no export');
    if (!exp.allows(host)) throw new Nfs4Error(NFS4.ERR_ACCESS, 'export not for this client');
    return { fh: Buffer.from(fh), exp, ino: h.ino, gen: h.gen };
  }

  /** The attributes of a real node (STALE when it is gone); pseudo nodes get synthetic ones. */
  async attr(ctx: Ctx, n: Node): Promise<Attr> {
    if (n.pseudo) {
      const t = this.started;
      return { ino: n.ino, gen: 0, mode: 0o040555, type: 'dir', nlink: 2 + n.pseudo.children.size, uid: 0, gid: 0, size: 4096, blocks: 8, rdev: 0, atimeNs: t, mtimeNs: t, ctimeNs: t, birthtimeNs: t };
    }
    try {
      return await this.vfs.getattr(ctx, n.ino, n.gen);
    } catch (err) {
      if (err instanceof VfsError && (err.errno === Errno.ENOENT || err.errno === Errno.ESTALE)) throw new Nfs4Error(NFS4.ERR_STALE, 'stale file handle');
      throw err;
    }
  }

  /** The export a real inode reached by LOOKUP belongs to: another export when it is that export's directory. */
  exportAt(cur: Export, ino: number, host: string): Export {
    if (this.exports.root(cur.id) === ino) return cur;
    for (const e of this.exports.list) if (e !== cur && e.allows(host) && this.exports.root(e.id) === ino) return e;
    return cur;
  }

  supported(minorversion: number): number[] {
    return minorversion === 0 ? SUPPORTED_0 : SUPPORTED_1;
  }

  /**
   * The value of each requested attribute of `a` (fattr4 order is the caller's): undefined for
   * one we do not support. `st` is fetched only when a files_* / space_* attribute is asked for.
   */
  async attrValues(ctx: Ctx, n: Node, a: Attr, requested: readonly number[], minorversion: number): Promise<(attr: number) => unknown> {
    let st: StatFs | undefined;
    if (requested.some((x) => NEEDS_STATFS.has(x))) {
      st = await this.vfs.statfs(ctx, n.pseudo ? this.exports.root(this.exports.list[0]!.id) : a.ino).catch(() => undefined);
    }
    const sup = this.supported(minorversion);
    const fsid = { major: BigInt(n.exp?.id ?? 0), minor: 0n };
    const bs = BigInt(st?.bsize ?? 4096);
    return (x: number) => {
      if (WRITE_ONLY.has(x)) return undefined;
      switch (x) {
        case FATTR4.SUPPORTED_ATTRS: return bitmapOf(sup);
        case FATTR4.TYPE: return TYPE[a.type];
        case FATTR4.FH_EXPIRE_TYPE: return FH4_PERSISTENT;
        case FATTR4.CHANGE: return BigInt.asUintN(64, a.ctimeNs);
        case FATTR4.SIZE: return BigInt(a.size);
        case FATTR4.LINK_SUPPORT: case FATTR4.SYMLINK_SUPPORT: return true;
        case FATTR4.NAMED_ATTR: return false;
        case FATTR4.FSID: return fsid;
        case FATTR4.UNIQUE_HANDLES: return true;
        case FATTR4.LEASE_TIME: return Math.round(this.state.leaseMs / 1000);
        case FATTR4.RDATTR_ERROR: return NFS4.OK;
        case FATTR4.ACLSUPPORT: return 0;
        case FATTR4.CANSETTIME: return true;
        case FATTR4.CASE_INSENSITIVE: return false;
        case FATTR4.CASE_PRESERVING: return true;
        case FATTR4.CHOWN_RESTRICTED: return true;
        case FATTR4.FILEHANDLE: return n.fh;
        case FATTR4.FILEID: return BigInt(a.ino);
        case FATTR4.MOUNTED_ON_FILEID: return BigInt(a.ino);
        case FATTR4.FILES_AVAIL: return st && BigInt(st.ffree);
        case FATTR4.FILES_FREE: return st && BigInt(st.ffree);
        case FATTR4.FILES_TOTAL: return st && BigInt(st.files);
        case FATTR4.SPACE_AVAIL: return st && BigInt(st.bavail) * bs;
        case FATTR4.SPACE_FREE: return st && BigInt(st.bfree) * bs;
        case FATTR4.SPACE_TOTAL: return st && BigInt(st.blocks) * bs;
        case FATTR4.HOMOGENEOUS: return true;
        case FATTR4.MAXFILESIZE: return BigInt(Number.MAX_SAFE_INTEGER);
        case FATTR4.MAXLINK: return 65000;
        case FATTR4.MAXNAME: return 255;
        case FATTR4.MAXREAD: case FATTR4.MAXWRITE: return BigInt(MAX_IO);
        case FATTR4.MODE: return a.mode & 0o7777;
        case FATTR4.NO_TRUNC: return true;
        case FATTR4.NUMLINKS: return Math.min(a.nlink, 0xffffffff);
        case FATTR4.OWNER: return String(a.uid);
        case FATTR4.OWNER_GROUP: return String(a.gid);
        case FATTR4.RAWDEV: return { specdata1: major(a.rdev), specdata2: minor(a.rdev) };
        case FATTR4.SPACE_USED: return BigInt(a.blocks) * 512n;
        case FATTR4.TIME_ACCESS: return nfstime(a.atimeNs);
        case FATTR4.TIME_CREATE: return nfstime(a.birthtimeNs);
        case FATTR4.TIME_DELTA: return { seconds: 0n, nseconds: 1 };
        case FATTR4.TIME_METADATA: return nfstime(a.ctimeNs);
        case FATTR4.TIME_MODIFY: return nfstime(a.mtimeNs);
        case FATTR4.SUPPATTR_EXCLCREAT: return minorversion >= 1 ? bitmapOf([FATTR4.SIZE, FATTR4.MODE, FATTR4.OWNER, FATTR4.OWNER_GROUP]) : undefined;
        default: return undefined;
      }
    };
  }

  /** The identity an operation on `n` runs as: the export's squash of the RPC caller (pseudo nodes: as the caller). */
  ctxFor(rpc: Ctx, authNone: boolean, n: Node | undefined): Ctx {
    if (!n?.exp) return rpc;
    return squashCtx(n.exp, rpc, authNone);
  }
}
