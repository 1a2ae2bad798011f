/**
 * Windows security descriptors (MS-DTYP 2.4) as QUERY_INFO / SET_INFO carry them with
 * InfoType SMB2_0_INFO_SECURITY (MS-SMB2 2.2.37, 2.2.39): SID (2.4.2), ACE (2.4.4), ACL (2.4.5),
 * self-relative SECURITY_DESCRIPTOR (2.4.6), and a mapping to and from POSIX owner, group and
 * mode in the spirit of Samba's "unix" ID mapping: uid n ↔ S-1-22-1-n, gid n ↔ S-1-22-2-n,
 * "other" ↔ Everyone (S-1-1-0).
 *
 * Decoders throw `WireError` (malformed bytes or text); the reverse mapping throws
 * `UnmappableSidError` for an owner or group outside S-1-22 (the server answers
 * STATUS_INVALID_OWNER or STATUS_INVALID_PRIMARY_GROUP).
 *
 * What the mapping loses (POSIX → SD → POSIX is exact for the permission bits; the rest is not):
 * - setuid/setgid/sticky have no ACE form: `posixFromSecurityDescriptor` keeps the current ones.
 * - ACEs for any SID other than the file's owner, its group and Everyone (Administrators, other
 *   users, CREATOR OWNER …) are ignored, as are inherit-only ACEs, ACE flags, audit ACEs, the
 *   SACL, and rights with no rwx counterpart (DELETE, WRITE_DAC, WRITE_OWNER, READ_CONTROL …).
 * - A right counts as r, w or x by one bit: FILE_READ_DATA, FILE_WRITE_DATA, FILE_EXECUTE
 *   (or GENERIC_READ/WRITE/EXECUTE/ALL); FILE_APPEND_DATA alone does not make w.
 * - Windows evaluates Everyone for the owner and group too; POSIX does not. When the owner lacks
 *   a bit the group or others have (e.g. 0077), a DENY ACE for the owner keeps Windows' answer
 *   equal to POSIX's, and likewise for the group against others. An owner who is also a member
 *   of the group is treated by POSIX as the owner only; Windows would apply the group's deny ACE
 *   too — a display difference only, since the gateway checks access with the VFS (and, for SMB,
 *   a DACL stored by ../ntacl.ts), not with this mapped ACL.
 */
import { type Attr } from '../../../vfs/types.js';
import { Reader, WireError, Writer } from './reader.js';

/** An owner or group SID that has no POSIX id (outside S-1-22-1 / S-1-22-2). */
export class UnmappableSidError extends Error {
  constructor(readonly sid: string, readonly role: 'owner' | 'group') {
    super(`${role} SID ${sid} does not map to a POSIX ${role === 'owner' ? 'uid (S-1-22-1-<uid>)' : 'gid (S-1-22-2-<gid>)'}`);
    this.name = 'UnmappableSidError';
  }
}

/** SID_MAX_SUB_AUTHORITIES (MS-DTYP 2.4.2). */
export const MAX_SUB_AUTHORITIES = 15;
const MAX_ACES = 1024;

/** A SID: a 48-bit IdentifierAuthority and up to 15 32-bit sub-authorities (MS-DTYP 2.4.2). */
export interface Sid {
  authority: number;
  subAuthorities: number[];
}

/** Well-known SIDs (MS-DTYP 2.4.2.4) and the "unix" mapping's prefixes. */
export const WELL_KNOWN = {
  EVERYONE: 'S-1-1-0', CREATOR_OWNER: 'S-1-3-0', CREATOR_GROUP: 'S-1-3-1', SYSTEM: 'S-1-5-18', ADMINISTRATORS: 'S-1-5-32-544',
  UNIX_USERS: 'S-1-22-1', UNIX_GROUPS: 'S-1-22-2',
} as const;

/** Access mask bits (MS-DTYP 2.4.3; file-specific rights MS-SMB2 2.2.13.1.1). */
export const ACCESS = {
  FILE_READ_DATA: 0x1, FILE_WRITE_DATA: 0x2, FILE_APPEND_DATA: 0x4, FILE_READ_EA: 0x8, FILE_WRITE_EA: 0x10,
  FILE_EXECUTE: 0x20, FILE_DELETE_CHILD: 0x40, FILE_READ_ATTRIBUTES: 0x80, FILE_WRITE_ATTRIBUTES: 0x100,
  DELETE: 0x10000, READ_CONTROL: 0x20000, WRITE_DAC: 0x40000, WRITE_OWNER: 0x80000, SYNCHRONIZE: 0x100000,
  ACCESS_SYSTEM_SECURITY: 0x1000000, MAXIMUM_ALLOWED: 0x2000000,
  GENERIC_ALL: 0x10000000, GENERIC_EXECUTE: 0x20000000, GENERIC_WRITE: 0x40000000, GENERIC_READ: 0x80000000,
} as const;

/** READ_CONTROL | SYNCHRONIZE | FILE_READ_DATA | FILE_READ_ATTRIBUTES | FILE_READ_EA = 0x120089. */
export const FILE_GENERIC_READ = 0x120089;
/** READ_CONTROL | SYNCHRONIZE | FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_ATTRIBUTES | FILE_WRITE_EA = 0x120116. */
export const FILE_GENERIC_WRITE = 0x120116;
/** READ_CONTROL | SYNCHRONIZE | FILE_READ_ATTRIBUTES | FILE_EXECUTE = 0x1200a0. */
export const FILE_GENERIC_EXECUTE = 0x1200a0;
/** STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0x1ff = 0x1f01ff. */
export const FILE_ALL_ACCESS = 0x1f01ff;

/** ACE types (MS-DTYP 2.4.4.1). Only the first two are decoded; the rest are kept raw. */
export const ACE_TYPE = { ACCESS_ALLOWED: 0x00, ACCESS_DENIED: 0x01, SYSTEM_AUDIT: 0x02, SYSTEM_ALARM: 0x03 } as const;
/** AceFlags (MS-DTYP 2.4.4.1). */
export const ACE_FLAG = {
  OBJECT_INHERIT: 0x01, CONTAINER_INHERIT: 0x02, NO_PROPAGATE_INHERIT: 0x04, INHERIT_ONLY: 0x08, INHERITED: 0x10,
  SUCCESSFUL_ACCESS: 0x40, FAILED_ACCESS: 0x80,
} as const;

/** SECURITY_DESCRIPTOR Control bits (MS-DTYP 2.4.6). */
export const SE = {
  OWNER_DEFAULTED: 0x0001, GROUP_DEFAULTED: 0x0002, DACL_PRESENT: 0x0004, DACL_DEFAULTED: 0x0008, SACL_PRESENT: 0x0010,
  SACL_DEFAULTED: 0x0020, DACL_TRUSTED: 0x0040, SERVER_SECURITY: 0x0080, DACL_AUTO_INHERIT_REQ: 0x0100,
  SACL_AUTO_INHERIT_REQ: 0x0200, DACL_AUTO_INHERITED: 0x0400, SACL_AUTO_INHERITED: 0x0800, DACL_PROTECTED: 0x1000,
  SACL_PROTECTED: 0x2000, RM_CONTROL_VALID: 0x4000, SELF_RELATIVE: 0x8000,
} as const;

/** AdditionalInformation of a security QUERY_INFO / SET_INFO (MS-SMB2 2.2.37). */
export const SECURITY_INFORMATION = {
  OWNER: 0x1, GROUP: 0x2, DACL: 0x4, SACL: 0x8, LABEL: 0x10, ATTRIBUTE: 0x20, SCOPE: 0x40, BACKUP: 0x10000,
} as const;

// ---------------------------------------------------------------------------------------------
// SID

/** "S-1-<authority>-<sub>…" (MS-DTYP 2.4.2.1; an authority ≥ 2^32 as 0x + 12 hex digits). */
export function sidToString(s: Sid): string {
  const auth = s.authority >= 2 ** 32 ? `0x${s.authority.toString(16).toUpperCase().padStart(12, '0')}` : String(s.authority);
  return ['S', '1', auth, ...s.subAuthorities.map(String)].join('-');
}

/** Parses "S-1-…" text (case-insensitive "S"). Throws WireError on any other form, a value out of range or more than 15 sub-authorities. */
export function sidFromString(text: string): Sid {
  const m = /^[sS]-1-(0[xX][0-9a-fA-F]{12}|\d{1,15})((?:-\d{1,10}){0,15})$/.exec(text);
  if (!m) throw new WireError(`not a SID: ${JSON.stringify(text.slice(0, 80))}`);
  const authority = /^0x/i.test(m[1]!) ? parseInt(m[1]!.slice(2), 16) : Number(m[1]);
  if (authority >= 2 ** 48) throw new WireError(`SID authority ${m[1]} over 48 bits`);
  const subAuthorities = m[2] ? m[2].slice(1).split('-').map(Number) : [];
  if (subAuthorities.some((v) => v > 0xffffffff)) throw new WireError(`SID sub-authority over 32 bits in ${text}`);
  return { authority, subAuthorities };
}

/** Writes a SID: Revision 1, SubAuthorityCount, IdentifierAuthority (6 bytes big-endian), SubAuthority[] (little-endian). RangeError over 15 sub-authorities. */
export function writeSid(w: Writer, s: Sid): Writer {
  if (s.subAuthorities.length > MAX_SUB_AUTHORITIES) throw new RangeError(`SID with ${s.subAuthorities.length} sub-authorities`);
  const auth = Buffer.alloc(6);
  auth.writeUIntBE(s.authority, 0, 6);
  w.u8(1).u8(s.subAuthorities.length).bytes(auth);
  for (const v of s.subAuthorities) w.u32(v);
  return w;
}

/** A SID's bytes (8 + 4 × count). */
export function encodeSid(s: Sid): Buffer {
  return writeSid(new Writer(8 + 4 * s.subAuthorities.length), s).finish();
}

/** Reads a SID. Throws WireError for Revision ≠ 1, more than 15 sub-authorities, or too few bytes. */
export function readSid(r: Reader): Sid {
  if (r.u8('SID Revision') !== 1) throw new WireError('SID Revision is not 1');
  const n = r.u8('SubAuthorityCount');
  if (n > MAX_SUB_AUTHORITIES) throw new WireError(`SID with ${n} sub-authorities (max ${MAX_SUB_AUTHORITIES})`);
  const authority = r.bytes(6, 6, 'IdentifierAuthority').readUIntBE(0, 6);
  const subAuthorities: number[] = [];
  for (let i = 0; i < n; i++) subAuthorities.push(r.u32('SubAuthority'));
  return { authority, subAuthorities };
}

/** Decodes a SID that fills `b` exactly. */
export function decodeSid(b: Buffer): Sid {
  const r = new Reader(b);
  const s = readSid(r);
  r.done('SID');
  return s;
}

export function sidEquals(a: Sid, b: Sid): boolean {
  return a.authority === b.authority && a.subAuthorities.length === b.subAuthorities.length && a.subAuthorities.every((v, i) => v === b.subAuthorities[i]);
}

// ---------------------------------------------------------------------------------------------
// ACE, ACL

/** ACCESS_ALLOWED_ACE / ACCESS_DENIED_ACE (MS-DTYP 2.4.4.2, 2.4.4.4): header, Mask, SID. */
export interface AccessAce {
  type: typeof ACE_TYPE.ACCESS_ALLOWED | typeof ACE_TYPE.ACCESS_DENIED;
  flags: number;
  mask: number;
  sid: Sid;
}

/** Any other ACE type: the bytes after the 4-byte header, kept as they came. */
export interface RawAce {
  type: number;
  flags: number;
  raw: Buffer;
}

export type Ace = AccessAce | RawAce;

export function isAccessAce(a: Ace): a is AccessAce {
  return !('raw' in a);
}

/** ACL (MS-DTYP 2.4.5): AclRevision (2, or 4 with object ACEs), the ACEs in order. */
export interface Acl {
  revision: number;
  aces: Ace[];
}

function writeAce(w: Writer, a: Ace): void {
  const start = w.length;
  w.u8(a.type).u8(a.flags).u16(0);
  if (isAccessAce(a)) writeSid(w.u32(a.mask), a.sid);
  else w.bytes(a.raw);
  w.align(4, start);
  if (w.length - start > 0xffff) throw new RangeError('ACE over 65535 bytes');
  w.patchU16(start + 2, w.length - start);
}

/** Writes an ACL: the 8-byte header (AclRevision, Sbz1, AclSize, AceCount, Sbz2) and the ACEs. RangeError over 65535 bytes. */
export function writeAcl(w: Writer, acl: Acl): Writer {
  const start = w.length;
  w.u8(acl.revision).u8(0).u16(0).u16(acl.aces.length).u16(0);
  for (const a of acl.aces) writeAce(w, a);
  if (w.length - start > 0xffff) throw new RangeError('ACL over 65535 bytes');
  return w.patchU16(start + 2, w.length - start);
}

export function encodeAcl(acl: Acl): Buffer {
  return writeAcl(new Writer(), acl).finish();
}

/**
 * Reads an ACL from `r` (which must cover at least AclSize bytes). Throws WireError for a
 * revision other than 2 or 4, AclSize < 8 or past the buffer, more than 1024 ACEs, an ACE whose
 * AceSize is < 4 or runs past AclSize, or an allowed/denied ACE whose SID does not fit its AceSize.
 */
export function readAcl(r: Reader): Acl {
  const revision = r.u8('AclRevision');
  if (revision !== 2 && revision !== 4) throw new WireError(`AclRevision ${revision}`);
  r.skip(1);
  const size = r.u16('AclSize'), count = r.u16('AceCount');
  r.skip(2);
  if (size < 8) throw new WireError(`AclSize ${size}`);
  if (count > MAX_ACES) throw new WireError(`${count} ACEs (max ${MAX_ACES})`);
  const body = r.sub(size - 8, 'ACL');
  const aces: Ace[] = [];
  for (let i = 0; i < count; i++) {
    const type = body.u8('AceType'), flags = body.u8('AceFlags'), aceSize = body.u16('AceSize');
    if (aceSize < 4) throw new WireError(`AceSize ${aceSize}`);
    const ar = body.sub(aceSize - 4, 'ACE');
    if (type === ACE_TYPE.ACCESS_ALLOWED || type === ACE_TYPE.ACCESS_DENIED) {
      aces.push({ type, flags, mask: ar.u32('ACE Mask'), sid: readSid(ar) });
    } else {
      aces.push({ type, flags, raw: Buffer.from(ar.bytes(ar.remaining(), 0xffff, 'ACE')) });
    }
  }
  return { revision, aces };
}

export function decodeAcl(b: Buffer): Acl {
  return readAcl(new Reader(b));
}

// ---------------------------------------------------------------------------------------------
// SECURITY_DESCRIPTOR (self-relative)

/**
 * A security descriptor. `dacl`/`sacl`: undefined = not present (its *_PRESENT bit clear),
 * null = present but NULL (a NULL DACL grants everyone everything, MS-DTYP 2.4.6).
 * `control` keeps the bits other than SELF_RELATIVE and the *_PRESENT ones, which are derived.
 */
export interface SecurityDescriptor {
  control: number;
  owner?: Sid;
  group?: Sid;
  dacl?: Acl | null;
  sacl?: Acl | null;
}

const DERIVED_CONTROL = SE.SELF_RELATIVE | SE.DACL_PRESENT | SE.SACL_PRESENT;

/**
 * Self-relative SECURITY_DESCRIPTOR (MS-DTYP 2.4.6): Revision 1, Sbz1, Control, OffsetOwner,
 * OffsetGroup, OffsetSacl, OffsetDacl (20 bytes, offsets from the start, 0 = absent), then SACL,
 * DACL, owner, group, as Windows lays them out.
 */
export function encodeSecurityDescriptor(sd: SecurityDescriptor): Buffer {
  const w = new Writer(256);
  let control = (sd.control & ~DERIVED_CONTROL) | SE.SELF_RELATIVE;
  if (sd.dacl !== undefined) control |= SE.DACL_PRESENT;
  if (sd.sacl !== undefined) control |= SE.SACL_PRESENT;
  w.u8(1).u8(0).u16(control).u32(0).u32(0).u32(0).u32(0);
  if (sd.sacl) {
    w.patchU32(12, w.length);
    writeAcl(w, sd.sacl);
  }
  if (sd.dacl) {
    w.patchU32(16, w.length);
    writeAcl(w, sd.dacl);
  }
  if (sd.owner) {
    w.patchU32(4, w.length);
    writeSid(w, sd.owner);
  }
  if (sd.group) {
    w.patchU32(8, w.length);
    writeSid(w, sd.group);
  }
  return w.finish();
}

/**
 * Decodes a self-relative SECURITY_DESCRIPTOR. Throws WireError for Revision ≠ 1, a buffer under
 * 20 bytes, an offset inside the header or past the end, or a malformed SID or ACL. An ACL whose
 * *_PRESENT bit is clear is ignored even if its offset is set; a present one with offset 0 is NULL.
 */
export function decodeSecurityDescriptor(b: Buffer): SecurityDescriptor {
  const r = new Reader(b);
  if (r.u8('SD Revision') !== 1) throw new WireError('SECURITY_DESCRIPTOR Revision is not 1');
  r.skip(1);
  const control = r.u16('Control');
  const oOwner = r.u32('OffsetOwner'), oGroup = r.u32('OffsetGroup'), oSacl = r.u32('OffsetSacl'), oDacl = r.u32('OffsetDacl');
  const part = (off: number, what: string): Reader => {
    if (off < 20 || off >= b.length) throw new WireError(`${what} ${off} outside the security descriptor`);
    return new Reader(b, off);
  };
  const sd: SecurityDescriptor = { control: control & ~DERIVED_CONTROL };
  if (oOwner) sd.owner = readSid(part(oOwner, 'OffsetOwner'));
  if (oGroup) sd.group = readSid(part(oGroup, 'OffsetGroup'));
  if (control & SE.SACL_PRESENT) sd.sacl = oSacl ? readAcl(part(oSacl, 'OffsetSacl')) : null;
  if (control & SE.DACL_PRESENT) sd.dacl = oDacl ? readAcl(part(oDacl, 'OffsetDacl')) : null;
  return sd;
}

/** The parts of `sd` that AdditionalInformation (SECURITY_INFORMATION bits) asks for, as QUERY_INFO answers them (MS-SMB2 3.3.5.20.3). */
export function selectSecurityInformation(sd: SecurityDescriptor, info: number): SecurityDescriptor {
  const out: SecurityDescriptor = { control: sd.control };
  if (info & SECURITY_INFORMATION.OWNER && sd.owner) out.owner = sd.owner;
  if (info & SECURITY_INFORMATION.GROUP && sd.group) out.group = sd.group;
  if (info & SECURITY_INFORMATION.DACL && sd.dacl !== undefined) out.dacl = sd.dacl;
  if (info & SECURITY_INFORMATION.SACL && sd.sacl !== undefined) out.sacl = sd.sacl;
  return out;
}

// ---------------------------------------------------------------------------------------------
// POSIX ↔ security descriptor ("unix" ID mapping)

const UNIX_AUTHORITY = 22;
export const EVERYONE: Sid = { authority: 1, subAuthorities: [0] };

/** uid → S-1-22-1-<uid>. RangeError outside 0..2^32-1. */
export function uidToSid(uid: number): Sid {
  return unixSid(1, uid);
}

/** gid → S-1-22-2-<gid>. RangeError outside 0..2^32-1. */
export function gidToSid(gid: number): Sid {
  return unixSid(2, gid);
}

function unixSid(kind: 1 | 2, id: number): Sid {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new RangeError(`POSIX id ${id} out of range`);
  return { authority: UNIX_AUTHORITY, subAuthorities: [kind, id] };
}

function unixId(s: Sid, kind: 1 | 2): number | undefined {
  return s.authority === UNIX_AUTHORITY && s.subAuthorities.length === 2 && s.subAuthorities[0] === kind ? s.subAuthorities[1] : undefined;
}

/** S-1-22-1-<uid> → uid; any other SID throws UnmappableSidError (role 'owner'). */
export function sidToUid(s: Sid): number {
  const id = unixId(s, 1);
  if (id === undefined) throw new UnmappableSidError(sidToString(s), 'owner');
  return id;
}

/** S-1-22-2-<gid> → gid; any other SID throws UnmappableSidError (role 'group'). */
export function sidToGid(s: Sid): number {
  const id = unixId(s, 2);
  if (id === undefined) throw new UnmappableSidError(sidToString(s), 'group');
  return id;
}

/** Rights every class's ACE carries whatever the mode: stat and reading the descriptor are never refused by POSIX. */
export const BASE_RIGHTS = ACCESS.READ_CONTROL | ACCESS.SYNCHRONIZE | ACCESS.FILE_READ_ATTRIBUTES;
/** The owner's extra rights: chmod (WRITE_DAC) and utimes (FILE_WRITE_ATTRIBUTES) are the owner's in POSIX. */
export const OWNER_RIGHTS = ACCESS.WRITE_DAC | ACCESS.FILE_WRITE_ATTRIBUTES;

/** Allow mask for a 3-bit rwx value. Directories' w also has FILE_DELETE_CHILD (POSIX: write on a directory removes entries). */
export function rwxToMask(rwx: number, dir: boolean): number {
  let m = 0;
  if (rwx & 4) m |= FILE_GENERIC_READ;
  if (rwx & 2) m |= FILE_GENERIC_WRITE | (dir ? ACCESS.FILE_DELETE_CHILD : 0);
  if (rwx & 1) m |= FILE_GENERIC_EXECUTE;
  return m >>> 0;
}

/** Deny mask for rwx bits: only the bits that tell r, w and x apart, never the shared BASE_RIGHTS. */
function rwxToDenyMask(rwx: number, dir: boolean): number {
  let m = 0;
  if (rwx & 4) m |= ACCESS.FILE_READ_DATA | ACCESS.FILE_READ_EA;
  if (rwx & 2) m |= ACCESS.FILE_WRITE_DATA | ACCESS.FILE_APPEND_DATA | ACCESS.FILE_WRITE_EA | (dir ? ACCESS.FILE_DELETE_CHILD : 0);
  if (rwx & 1) m |= ACCESS.FILE_EXECUTE;
  return m;
}

/** rwx bits a mask grants (or denies): FILE_READ_DATA / FILE_WRITE_DATA / FILE_EXECUTE, or the GENERIC_* rights. */
export function maskToRwx(mask: number): number {
  let v = 0;
  if (mask & (ACCESS.FILE_READ_DATA | ACCESS.GENERIC_READ | ACCESS.GENERIC_ALL)) v |= 4;
  if (mask & (ACCESS.FILE_WRITE_DATA | ACCESS.GENERIC_WRITE | ACCESS.GENERIC_ALL)) v |= 2;
  if (mask & (ACCESS.FILE_EXECUTE | ACCESS.GENERIC_EXECUTE | ACCESS.GENERIC_ALL)) v |= 1;
  return v;
}

/**
 * The DACL for a POSIX mode: [owner DENY of the bits group/other have and the owner lacks]
 * [group DENY of the bits other has and the group lacks] owner ALLOW (rwx + BASE_RIGHTS +
 * OWNER_RIGHTS), group ALLOW (rwx + BASE_RIGHTS), Everyone ALLOW (rwx + BASE_RIGHTS); denies first
 * (canonical order). No ACE is inheritable.
 */
export function daclFromMode(mode: number, owner: Sid, group: Sid, dir: boolean): Acl {
  const u = (mode >> 6) & 7, g = (mode >> 3) & 7, o = mode & 7;
  const aces: Ace[] = [];
  const uDeny = (g | o) & ~u, gDeny = o & ~g;
  if (uDeny) aces.push({ type: ACE_TYPE.ACCESS_DENIED, flags: 0, mask: rwxToDenyMask(uDeny, dir), sid: owner });
  if (gDeny) aces.push({ type: ACE_TYPE.ACCESS_DENIED, flags: 0, mask: rwxToDenyMask(gDeny, dir), sid: group });
  aces.push({ type: ACE_TYPE.ACCESS_ALLOWED, flags: 0, mask: (rwxToMask(u, dir) | BASE_RIGHTS | OWNER_RIGHTS) >>> 0, sid: owner });
  aces.push({ type: ACE_TYPE.ACCESS_ALLOWED, flags: 0, mask: (rwxToMask(g, dir) | BASE_RIGHTS) >>> 0, sid: group });
  aces.push({ type: ACE_TYPE.ACCESS_ALLOWED, flags: 0, mask: (rwxToMask(o, dir) | BASE_RIGHTS) >>> 0, sid: EVERYONE });
  return { revision: 2, aces };
}

/**
 * The security descriptor a QUERY_INFO answers for a VFS file: owner S-1-22-1-uid, group
 * S-1-22-2-gid, DACL from the mode (daclFromMode), no SACL; Control DACL_PRESENT | SELF_RELATIVE.
 */
export function securityDescriptorOf(attr: Pick<Attr, 'uid' | 'gid' | 'mode' | 'type'>): SecurityDescriptor {
  const owner = uidToSid(attr.uid), group = gidToSid(attr.gid);
  return { control: 0, owner, group, dacl: daclFromMode(attr.mode, owner, group, attr.type === 'dir') };
}

/**
 * Permission bits (0..0o777) for a DACL, as Windows would evaluate it for three principals: the
 * owner (ACEs for `owner` or Everyone), a group member (`group` or Everyone) and anyone else
 * (Everyone). ACEs are taken in order; the first to allow or deny a bit decides it; inherit-only
 * and raw ACEs are skipped; other SIDs are ignored. A NULL DACL is 0o777; an empty one 0.
 */
export function modeFromDacl(dacl: Acl | null, owner: Sid, group: Sid): number {
  if (dacl === null) return 0o777;
  const evaluate = (applies: (s: Sid) => boolean): number => {
    let granted = 0, decided = 0;
    for (const a of dacl.aces) {
      if (!isAccessAce(a) || (a.flags & ACE_FLAG.INHERIT_ONLY) !== 0 || !applies(a.sid)) continue;
      const bits = maskToRwx(a.mask) & ~decided;
      if (a.type === ACE_TYPE.ACCESS_ALLOWED) granted |= bits;
      decided |= bits;
    }
    return granted;
  };
  const isEveryone = (s: Sid): boolean => sidEquals(s, EVERYONE);
  const u = evaluate((s) => sidEquals(s, owner) || isEveryone(s));
  const g = evaluate((s) => sidEquals(s, group) || isEveryone(s));
  const o = evaluate(isEveryone);
  return (u << 6) | (g << 3) | o;
}

/** What a SET_INFO security descriptor asks of the VFS (a `SetAttr` subset); absent = unchanged. */
export interface PosixChange {
  uid?: number;
  gid?: number;
  mode?: number;
}

/**
 * The POSIX change a SET_INFO (AdditionalInformation `info`) asks for, against the file's current
 * owner, group and mode: OWNER → uid, GROUP → gid (UnmappableSidError outside S-1-22), DACL →
 * permission bits from modeFromDacl (evaluated against the new owner/group when they change too),
 * keeping the current setuid/setgid/sticky bits. Parts not named by `info`, or named but absent
 * from `sd`, are unchanged. The SACL and the other SECURITY_INFORMATION bits are ignored.
 */
export function posixFromSecurityDescriptor(sd: SecurityDescriptor, info: number, current: Pick<Attr, 'uid' | 'gid' | 'mode'>): PosixChange {
  const out: PosixChange = {};
  if (info & SECURITY_INFORMATION.OWNER && sd.owner) out.uid = sidToUid(sd.owner);
  if (info & SECURITY_INFORMATION.GROUP && sd.group) out.gid = sidToGid(sd.group);
  if (info & SECURITY_INFORMATION.DACL && sd.dacl !== undefined) {
    const owner = uidToSid(out.uid ?? current.uid), group = gidToSid(out.gid ?? current.gid);
    out.mode = (current.mode & 0o7000) | modeFromDacl(sd.dacl, owner, group);
  }
  return out;
}
