/**
 * Decoders (and, for tests and tools, encoders) of every SFTP v3 request body
 * (draft-02 sections 4, 6), keyed by packet type. A packet is `byte type, uint32 request-id,
 * body` (INIT has no id). Decoders read through the bounds-checked Reader with explicit
 * maximum lengths and throw WireError on anything malformed. Trailing bytes are ignored,
 * as later drafts allow fields to be appended.
 */
import { readAttrs, writeAttrs, type FileAttrs } from './attrs.js';
import { MAX_EXT_DATA, MAX_EXT_PAIRS, MAX_HANDLE, MAX_NAME, MAX_PACKET, MAX_PATH, SSH_FXP } from './constants.js';
import { Reader, WireError } from './reader.js';
import { Writer } from './writer.js';

export interface InitBody { version: number; extensions: Array<[string, Buffer]> }
export interface PathBody { path: string }
export interface HandleBody { handle: Buffer }
export interface OpenBody { filename: string; pflags: number; attrs: FileAttrs }
export interface ReadBody { handle: Buffer; offset: bigint; len: number }
export interface WriteBody { handle: Buffer; offset: bigint; data: Buffer }
export interface PathAttrsBody { path: string; attrs: FileAttrs }
export interface HandleAttrsBody { handle: Buffer; attrs: FileAttrs }
export interface RenameBody { oldpath: string; newpath: string }
/** The two SYMLINK strings in wire order; which is the target depends on the client (see session). */
export interface SymlinkBody { first: string; second: string }
export interface ExtendedBody { request: string; data: Buffer }

/** Body type of each request packet type. */
export interface RequestBodies {
  [SSH_FXP.OPEN]: OpenBody;
  [SSH_FXP.CLOSE]: HandleBody;
  [SSH_FXP.READ]: ReadBody;
  [SSH_FXP.WRITE]: WriteBody;
  [SSH_FXP.LSTAT]: PathBody;
  [SSH_FXP.FSTAT]: HandleBody;
  [SSH_FXP.SETSTAT]: PathAttrsBody;
  [SSH_FXP.FSETSTAT]: HandleAttrsBody;
  [SSH_FXP.OPENDIR]: PathBody;
  [SSH_FXP.READDIR]: HandleBody;
  [SSH_FXP.REMOVE]: PathBody;
  [SSH_FXP.MKDIR]: PathAttrsBody;
  [SSH_FXP.RMDIR]: PathBody;
  [SSH_FXP.REALPATH]: PathBody;
  [SSH_FXP.STAT]: PathBody;
  [SSH_FXP.RENAME]: RenameBody;
  [SSH_FXP.READLINK]: PathBody;
  [SSH_FXP.SYMLINK]: SymlinkBody;
  [SSH_FXP.EXTENDED]: ExtendedBody;
}
export type RequestType = keyof RequestBodies;

const path = (r: Reader, what = 'path'): string => r.utf8(MAX_PATH, what);
const handle = (r: Reader): Buffer => r.bytes(MAX_HANDLE, 'handle');

/** Body decoder per request type; each reads what follows the request id. */
export const REQUEST_DECODERS: { [K in RequestType]: (r: Reader) => RequestBodies[K] } = {
  [SSH_FXP.OPEN]: (r) => ({ filename: path(r, 'filename'), pflags: r.u32('pflags'), attrs: readAttrs(r) }),
  [SSH_FXP.CLOSE]: (r) => ({ handle: handle(r) }),
  [SSH_FXP.READ]: (r) => ({ handle: handle(r), offset: r.u64('offset'), len: r.u32('len') }),
  [SSH_FXP.WRITE]: (r) => ({ handle: handle(r), offset: r.u64('offset'), data: r.bytes(MAX_PACKET, 'data') }),
  [SSH_FXP.LSTAT]: (r) => ({ path: path(r) }),
  [SSH_FXP.FSTAT]: (r) => ({ handle: handle(r) }),
  [SSH_FXP.SETSTAT]: (r) => ({ path: path(r), attrs: readAttrs(r) }),
  [SSH_FXP.FSETSTAT]: (r) => ({ handle: handle(r), attrs: readAttrs(r) }),
  [SSH_FXP.OPENDIR]: (r) => ({ path: path(r) }),
  [SSH_FXP.READDIR]: (r) => ({ handle: handle(r) }),
  [SSH_FXP.REMOVE]: (r) => ({ path: path(r, 'filename') }),
  [SSH_FXP.MKDIR]: (r) => ({ path: path(r), attrs: readAttrs(r) }),
  [SSH_FXP.RMDIR]: (r) => ({ path: path(r) }),
  [SSH_FXP.REALPATH]: (r) => ({ path: path(r) }),
  [SSH_FXP.STAT]: (r) => ({ path: path(r) }),
  [SSH_FXP.RENAME]: (r) => ({ oldpath: path(r, 'oldpath'), newpath: path(r, 'newpath') }),
  [SSH_FXP.READLINK]: (r) => ({ path: path(r) }),
  [SSH_FXP.SYMLINK]: (r) => ({ first: path(r, 'linkpath'), second: path(r, 'targetpath') }),
  [SSH_FXP.EXTENDED]: (r) => ({ request: r.utf8(MAX_NAME, 'extended-request'), data: r.rest(MAX_PACKET) }),
};

/** Body encoder per request type (the inverse of REQUEST_DECODERS). */
export const REQUEST_ENCODERS: { [K in RequestType]: (w: Writer, b: RequestBodies[K]) => void } = {
  [SSH_FXP.OPEN]: (w, b) => writeAttrs(w.string(b.filename).u32(b.pflags), b.attrs),
  [SSH_FXP.CLOSE]: (w, b) => w.string(b.handle),
  [SSH_FXP.READ]: (w, b) => w.string(b.handle).u64(b.offset).u32(b.len),
  [SSH_FXP.WRITE]: (w, b) => w.string(b.handle).u64(b.offset).string(b.data),
  [SSH_FXP.LSTAT]: (w, b) => w.string(b.path),
  [SSH_FXP.FSTAT]: (w, b) => w.string(b.handle),
  [SSH_FXP.SETSTAT]: (w, b) => writeAttrs(w.string(b.path), b.attrs),
  [SSH_FXP.FSETSTAT]: (w, b) => writeAttrs(w.string(b.handle), b.attrs),
  [SSH_FXP.OPENDIR]: (w, b) => w.string(b.path),
  [SSH_FXP.READDIR]: (w, b) => w.string(b.handle),
  [SSH_FXP.REMOVE]: (w, b) => w.string(b.path),
  [SSH_FXP.MKDIR]: (w, b) => writeAttrs(w.string(b.path), b.attrs),
  [SSH_FXP.RMDIR]: (w, b) => w.string(b.path),
  [SSH_FXP.REALPATH]: (w, b) => w.string(b.path),
  [SSH_FXP.STAT]: (w, b) => w.string(b.path),
  [SSH_FXP.RENAME]: (w, b) => w.string(b.oldpath).string(b.newpath),
  [SSH_FXP.READLINK]: (w, b) => w.string(b.path),
  [SSH_FXP.SYMLINK]: (w, b) => w.string(b.first).string(b.second),
  [SSH_FXP.EXTENDED]: (w, b) => w.string(b.request).raw(b.data),
};

/** True when `t` is a request type with an id and a decoder. */
export function isRequestType(t: number): t is RequestType {
  return Object.prototype.hasOwnProperty.call(REQUEST_DECODERS, t);
}

/** Decodes INIT (`uint32 version`, then extension-name/data string pairs). */
export function decodeInit(pkt: Buffer): InitBody {
  const r = new Reader(pkt, 1);
  const version = r.u32('version');
  const extensions: Array<[string, Buffer]> = [];
  while (r.remaining() > 0) {
    if (extensions.length >= MAX_EXT_PAIRS) throw new WireError('too many extensions in INIT');
    extensions.push([r.utf8(MAX_NAME, 'extension name'), r.bytes(MAX_EXT_DATA, 'extension data')]);
  }
  return { version, extensions };
}

/** Encodes a whole request packet (length prefix included). */
export function encodeRequest<K extends RequestType>(type: K, id: number, body: RequestBodies[K]): Buffer {
  const w = new Writer(64).u8(type).u32(id);
  REQUEST_ENCODERS[type](w, body);
  return w.packet();
}

/** Encodes INIT (length prefix included). */
export function encodeInit(version: number, extensions: Array<[string, Uint8Array | string]> = []): Buffer {
  const w = new Writer(32).u8(SSH_FXP.INIT).u32(version);
  for (const [k, v] of extensions) w.string(k).string(v);
  return w.packet();
}
