/**
 * The ATTRS structure (draft-02 section 5): uint32 flags, then size (uint64), uid+gid
 * (uint32 each), permissions (uint32), atime+mtime (uint32 seconds each) and extended pairs,
 * each present only when its flag bit is set.
 */
import { MAX_EXT_DATA, MAX_EXT_PAIRS, MAX_NAME, SSH_FILEXFER_ATTR as A } from './constants.js';
import { WireError, type Reader } from './reader.js';
import type { Writer } from './writer.js';

export interface FileAttrs {
  /** Bytes. A bigint on decode: clients may send any uint64. */
  size?: bigint;
  uid?: number;
  gid?: number;
  /** st_mode: type bits | permission bits. */
  permissions?: number;
  /** Seconds since the epoch (uint32). */
  atime?: number;
  mtime?: number;
  /** Vendor extensions (name, data). Decoded and kept, never acted on. */
  extended?: Array<[string, Buffer]>;
}

const KNOWN = A.SIZE | A.UIDGID | A.PERMISSIONS | A.ACMODTIME | A.EXTENDED;

/** Decodes one ATTRS; throws WireError on unknown flag bits or a truncated structure. */
export function readAttrs(r: Reader): FileAttrs {
  const flags = r.u32('attr flags');
  if ((flags & ~KNOWN) !== 0) throw new WireError(`unknown attribute flags 0x${(flags >>> 0).toString(16)}`);
  const a: FileAttrs = {};
  if (flags & A.SIZE) a.size = r.u64('size');
  if (flags & A.UIDGID) {
    a.uid = r.u32('uid');
    a.gid = r.u32('gid');
  }
  if (flags & A.PERMISSIONS) a.permissions = r.u32('permissions');
  if (flags & A.ACMODTIME) {
    a.atime = r.u32('atime');
    a.mtime = r.u32('mtime');
  }
  if (flags & A.EXTENDED) {
    const n = r.u32('extended count');
    if (n > MAX_EXT_PAIRS) throw new WireError(`too many extended attributes: ${n} (max ${MAX_EXT_PAIRS})`);
    a.extended = [];
    for (let i = 0; i < n; i++) {
      const name = r.utf8(MAX_NAME, 'extended attribute name');
      a.extended.push([name, r.bytes(MAX_EXT_DATA, 'extended attribute data')]);
    }
  }
  return a;
}

/** Encodes ATTRS with a flag bit for each field present. */
export function writeAttrs(w: Writer, a: FileAttrs): Writer {
  let flags = 0;
  if (a.size !== undefined) flags |= A.SIZE;
  if (a.uid !== undefined && a.gid !== undefined) flags |= A.UIDGID;
  if (a.permissions !== undefined) flags |= A.PERMISSIONS;
  if (a.atime !== undefined && a.mtime !== undefined) flags |= A.ACMODTIME;
  if (a.extended?.length) flags |= A.EXTENDED;
  w.u32(flags >>> 0);
  if (a.size !== undefined) w.u64(a.size);
  if (flags & A.UIDGID) w.u32(a.uid!).u32(a.gid!);
  if (a.permissions !== undefined) w.u32(a.permissions);
  if (flags & A.ACMODTIME) w.u32(a.atime!).u32(a.mtime!);
  if (a.extended?.length) {
    w.u32(a.extended.length);
    for (const [k, v] of a.extended) w.string(k).string(v);
  }
  return w;
}
