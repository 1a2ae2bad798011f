/**
 * Payloads of the SSH_FXP_EXTENDED requests this server implements (OpenSSH's PROTOCOL file,
 * section 4 "SFTP protocol changes"), decoded through the bounds-checked Reader, and the
 * EXTENDED_REPLY bodies they answer with. Keyed by extension name.
 */
import { readAttrs, writeAttrs, type FileAttrs } from './attrs.js';
import { MAX_HANDLE, MAX_PATH } from './constants.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

export interface ExtendedBodies {
  /** PROTOCOL 4.3: rename that replaces the target, like rename(2). */
  'posix-rename@openssh.com': { oldpath: string; newpath: string };
  /** PROTOCOL 4.4: file system statistics of the file system holding `path`. */
  'statvfs@openssh.com': { path: string };
  'fstatvfs@openssh.com': { handle: Buffer };
  /** PROTOCOL 4.5: hard link `newpath` to the existing `oldpath`. */
  'hardlink@openssh.com': { oldpath: string; newpath: string };
  /** PROTOCOL 4.6: fsync(2) of an open file handle. */
  'fsync@openssh.com': { handle: Buffer };
  /** PROTOCOL 4.7: setstat that does not follow a final symlink. */
  'lsetstat@openssh.com': { path: string; attrs: FileAttrs };
  /** PROTOCOL 4.8: server limits; no payload. */
  'limits@openssh.com': Record<string, never>;
}
export type ExtendedName = keyof ExtendedBodies;

/** Version string advertised for each extension in SSH_FXP_VERSION (PROTOCOL section 4). */
export const EXTENSION_VERSIONS: { [K in ExtendedName]: string } = {
  'posix-rename@openssh.com': '1',
  'statvfs@openssh.com': '2',
  'fstatvfs@openssh.com': '2',
  'hardlink@openssh.com': '1',
  'fsync@openssh.com': '1',
  'lsetstat@openssh.com': '1',
  'limits@openssh.com': '1',
};

const path = (r: Reader, what: string): string => r.utf8(MAX_PATH, what);

export const EXTENDED_DECODERS: { [K in ExtendedName]: (r: Reader) => ExtendedBodies[K] } = {
  'posix-rename@openssh.com': (r) => ({ oldpath: path(r, 'oldpath'), newpath: path(r, 'newpath') }),
  'statvfs@openssh.com': (r) => ({ path: path(r, 'path') }),
  'fstatvfs@openssh.com': (r) => ({ handle: r.bytes(MAX_HANDLE, 'handle') }),
  'hardlink@openssh.com': (r) => ({ oldpath: path(r, 'oldpath'), newpath: path(r, 'newpath') }),
  'fsync@openssh.com': (r) => ({ handle: r.bytes(MAX_HANDLE, 'handle') }),
  'lsetstat@openssh.com': (r) => ({ path: path(r, 'path'), attrs: readAttrs(r) }),
  'limits@openssh.com': () => ({}),
};

export const EXTENDED_ENCODERS: { [K in ExtendedName]: (w: Writer, b: ExtendedBodies[K]) => void } = {
  'posix-rename@openssh.com': (w, b) => w.string(b.oldpath).string(b.newpath),
  'statvfs@openssh.com': (w, b) => w.string(b.path),
  'fstatvfs@openssh.com': (w, b) => w.string(b.handle),
  'hardlink@openssh.com': (w, b) => w.string(b.oldpath).string(b.newpath),
  'fsync@openssh.com': (w, b) => w.string(b.handle),
  'lsetstat@openssh.com': (w, b) => writeAttrs(w.string(b.path), b.attrs),
  'limits@openssh.com': () => {},
};

export function isExtendedName(name: string): name is ExtendedName {
  return Object.prototype.hasOwnProperty.call(EXTENDED_DECODERS, name);
}

/** Decodes an extension's payload (the bytes after the extended-request name). Throws WireError. */
export function decodeExtended<K extends ExtendedName>(name: K, data: Buffer): ExtendedBodies[K] {
  return EXTENDED_DECODERS[name](new Reader(data));
}

/** Encodes an extension's payload (without the name). */
export function encodeExtended<K extends ExtendedName>(name: K, body: ExtendedBodies[K]): Buffer {
  const w = new Writer(64);
  EXTENDED_ENCODERS[name](w, body);
  return Buffer.from(w.body());
}

/** The statvfs@openssh.com reply: eleven uint64 fields, as struct statvfs (PROTOCOL 4.4). */
export interface StatVfsReply {
  bsize: number; frsize: number; blocks: number; bfree: number; bavail: number;
  files: number; ffree: number; favail: number; fsid: number; flag: number; namemax: number;
}
export const STATVFS_FIELDS: ReadonlyArray<keyof StatVfsReply> =
  ['bsize', 'frsize', 'blocks', 'bfree', 'bavail', 'files', 'ffree', 'favail', 'fsid', 'flag', 'namemax'];

/** The limits@openssh.com reply: four uint64 fields (PROTOCOL 4.8); 0 means "no limit". */
export interface LimitsReply { maxPacketLength: number; maxReadLength: number; maxWriteLength: number; maxOpenHandles: number }
