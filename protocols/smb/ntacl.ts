/**
 * Stored NT ACLs: the DACL a client sets through SET_INFO (InfoType SECURITY) is kept per inode
 * in the xattr `user.dw.ntacl`, the way Samba's vfs_acl_xattr keeps a whole NT ACL in an xattr
 * next to the POSIX permissions, and SMB consults it; the other protocols do not.
 *
 * Decision (README "Design"): the mode stays the permission model of the gateway. SET_INFO
 * still maps the DACL to owner/group/mode as before (wire/security.ts), so FUSE, NFS, WebDAV and
 * SFTP keep using the mode; the stored DACL only narrows or widens what SMB grants at CREATE
 * (and answers QUERY_INFO SECURITY). The VFS still enforces the mode on what the open then does
 * (the data handle, the unlink at close), so a DACL that grants more than the mode reaches only
 * as far as the VFS allows.
 *
 * Staleness. The stored value carries the mode, uid and gid the DACL was stored with; when the
 * inode's differ (a chmod/chown through another protocol), the stored DACL is ignored and the
 * file is mode-based again — the same role as vfs_acl_xattr's hash of the underlying POSIX ACL.
 *
 * Format (version 1, at most 64 KiB, the VFS's xattr value limit): Version (1), Flags (bit 0:
 * NULL DACL, bit 1: SE_DACL_AUTO_INHERITED), 2 zero bytes, Mode, Uid, Gid (u32 little-endian each), then the DACL as a
 * self-relative ACL (MS-DTYP 2.4.5) filling the rest exactly (nothing for a NULL DACL).
 *
 * Rules:
 * - Access check (MS-DTYP 2.5.3.2): the caller's SIDs are its user S-1-22-1-uid, its groups
 *   S-1-22-2-gid, Everyone S-1-1-0 and Authenticated Users S-1-5-11; ACEs in order, inherit-only
 *   ones skipped, each right decided by the first allow or deny ACE naming it; GENERIC_* in ACE
 *   masks mapped with the file mapping (MS-SMB2 2.2.13.1.1). The owner always has READ_CONTROL
 *   and WRITE_DAC. DELETE is also granted when the parent grants FILE_DELETE_CHILD (MS-FSA
 *   2.1.5.1.2.1), FILE_READ_ATTRIBUTES when it grants FILE_LIST_DIRECTORY (NTFS's rule): by its
 *   stored DACL, or, when it has none, by POSIX w+x (r) on the parent.
 *   A NULL DACL grants everything. ACCESS_SYSTEM_SECURITY is not a DACL right (left to the caller).
 * - Inheritance (MS-DTYP 2.4.4.1 flags, 2.5.3.4 simplified): a new file gets the parent's
 *   OBJECT_INHERIT ACEs, a new folder its CONTAINER_INHERIT ones (effective) and OBJECT_INHERIT-only
 *   ones (inherit-only, for its files); NO_PROPAGATE_INHERIT stops at the child; CREATOR OWNER /
 *   CREATOR GROUP become the new owner / group and GENERIC_* are mapped in the effective copy (the
 *   original stays as an inherit-only copy on a folder). The inherited ACEs are marked INHERITED,
 *   and the child's DACL AUTO_INHERITED, only when the parent's DACL is AUTO_INHERITED (2.5.3.4.1:
 *   DACL_AUTO_INHERIT), as Windows does (smb2.acls INHERITANCE expects plain flags otherwise).
 *   No inheritable ACE → nothing is stored (mode-based, as before).
 */
import type { Attr, Ctx, Vfs } from '../../vfs/types.js';
import { ROOT_CTX } from '../../vfs/types.js';
import { Errno, VfsError } from '../../vfs/errno.js';
import { STATUS, SmbStatusError } from './errors.js';
import { allowed, mapGeneric } from './files.js';
import { Reader, Writer } from './wire/reader.js';
import {
  ACCESS, ACE_FLAG, ACE_TYPE, EVERYONE, SE, encodeAcl, gidToSid, isAccessAce, modeFromDacl, readAcl, SECURITY_INFORMATION, sidEquals, uidToSid,
  type Ace, type Acl, type SecurityDescriptor, type Sid,
} from './wire/security.js';

/** The xattr holding an inode's stored DACL. */
export const NTACL_XATTR = 'user.dw.ntacl';
/** Most bytes of the stored value (the VFS's xattr value limit). */
export const MAX_STORED_BYTES = 64 * 1024;
const HEADER = 16;
const VERSION = 1;
const FLAG_NULL_DACL = 1;
const FLAG_AUTO_INHERITED = 2;

export const AUTHENTICATED_USERS: Sid = { authority: 5, subAuthorities: [11] };
export const CREATOR_OWNER: Sid = { authority: 3, subAuthorities: [0] };
export const CREATOR_GROUP: Sid = { authority: 3, subAuthorities: [1] };

/**
 * A stored DACL and the POSIX identity it was stored against. `dacl` null = a NULL DACL.
 * `autoInherited`: the descriptor's SE_DACL_AUTO_INHERITED control bit (MS-DTYP 2.4.6).
 */
export interface StoredAcl {
  dacl: Acl | null;
  autoInherited?: boolean;
  mode: number;
  uid: number;
  gid: number;
}

/** The xattr value of `s`. RangeError past MAX_STORED_BYTES (or an ACL over 65535 bytes). */
export function encodeStoredAcl(s: StoredAcl): Buffer {
  const acl = s.dacl ? encodeAcl(s.dacl) : Buffer.alloc(0);
  if (HEADER + acl.length > MAX_STORED_BYTES) throw new RangeError(`stored DACL of ${HEADER + acl.length} bytes (max ${MAX_STORED_BYTES})`);
  const w = new Writer(HEADER + acl.length);
  w.u8(VERSION).u8((s.dacl ? 0 : FLAG_NULL_DACL) | (s.autoInherited ? FLAG_AUTO_INHERITED : 0)).u16(0).u32(s.mode & 0o7777).u32(s.uid >>> 0).u32(s.gid >>> 0).bytes(acl);
  return w.finish();
}

/** The stored DACL of an xattr value; anything malformed (any version but 1, trailing bytes, a bad ACL) → undefined. Never throws. */
export function decodeStoredAcl(b: Buffer): StoredAcl | undefined {
  try {
    if (b.length < HEADER || b.length > MAX_STORED_BYTES) return undefined;
    const r = new Reader(b);
    if (r.u8('Version') !== VERSION) return undefined;
    const flags = r.u8('Flags');
    if (flags & ~(FLAG_NULL_DACL | FLAG_AUTO_INHERITED) || r.u16('Reserved') !== 0) return undefined;
    const mode = r.u32('Mode'), uid = r.u32('Uid'), gid = r.u32('Gid');
    if (mode > 0o7777) return undefined;
    const auto = flags & FLAG_AUTO_INHERITED ? { autoInherited: true } : {};
    if (flags & FLAG_NULL_DACL) return b.length === HEADER ? { dacl: null, ...auto, mode, uid, gid } : undefined;
    const dacl = readAcl(r);
    if (r.remaining() !== 0) return undefined;
    return { dacl, ...auto, mode, uid, gid };
  } catch {
    return undefined;
  }
}

function absent(err: unknown): boolean {
  return err instanceof VfsError && (err.errno === Errno.ENODATA || err.errno === Errno.EOPNOTSUPP || err.errno === Errno.EPERM || err.errno === Errno.ENOENT || err.errno === Errno.ESTALE);
}

/**
 * The DACL stored on an inode when it is still current (stored against the inode's mode, uid and
 * gid); undefined when there is none, it is unreadable, or stale. null = a NULL DACL.
 */
export async function storedDacl(vfs: Vfs, attr: Pick<Attr, 'ino' | 'type' | 'mode' | 'uid' | 'gid'>): Promise<Acl | null | undefined> {
  return (await storedEntry(vfs, attr))?.dacl;
}

/** The whole current stored entry (storedDacl's rules). */
export async function storedEntry(vfs: Vfs, attr: Pick<Attr, 'ino' | 'type' | 'mode' | 'uid' | 'gid'>): Promise<StoredAcl | undefined> {
  if (attr.type !== 'file' && attr.type !== 'dir') return undefined;
  let v: Buffer;
  try {
    v = await vfs.getxattr(ROOT_CTX, attr.ino, NTACL_XATTR);
  } catch (err) {
    if (absent(err)) return undefined;
    throw err;
  }
  const s = decodeStoredAcl(v);
  if (!s || s.mode !== (attr.mode & 0o7777) || s.uid !== attr.uid || s.gid !== attr.gid) return undefined;
  return s;
}

/** Stores `dacl` on `attr`'s inode, stamped with its current mode, uid and gid. */
export async function storeDacl(vfs: Vfs, attr: Pick<Attr, 'ino' | 'mode' | 'uid' | 'gid'>, dacl: Acl | null, autoInherited = false): Promise<void> {
  await vfs.setxattr(ROOT_CTX, attr.ino, NTACL_XATTR, encodeStoredAcl({ dacl, autoInherited, mode: attr.mode & 0o7777, uid: attr.uid, gid: attr.gid }));
}

// ---------------------------------------------------------------------------------------------
// Access check

/** The caller's SIDs (its token): user, primary and supplementary groups, Everyone, Authenticated Users. */
export function tokenOf(ctx: Pick<Ctx, 'uid' | 'gid' | 'groups'>): Sid[] {
  const out = [uidToSid(ctx.uid), gidToSid(ctx.gid)];
  for (const g of ctx.groups) if (g !== ctx.gid) out.push(gidToSid(g));
  out.push(EVERYONE, AUTHENTICATED_USERS);
  return out;
}

/** FILE_LIST_DIRECTORY: FILE_READ_DATA's meaning on a folder. */
const FILE_LIST_DIRECTORY = ACCESS.FILE_READ_DATA;

/** Every right a DACL can grant on a file (FILE_ALL_ACCESS). */
const ALL_RIGHTS = 0x001f01ff;

/**
 * The rights `dacl` grants to a caller with SIDs `token` (MS-DTYP 2.5.3.2, as MAXIMUM_ALLOWED
 * evaluates it): for each right, the first non-inherit-only allow or deny ACE naming it and
 * one of the token's SIDs decides. `owner`: READ_CONTROL | WRITE_DAC are granted whatever the
 * DACL says. A NULL DACL grants every right.
 */
export function daclGrants(dacl: Acl | null, token: readonly Sid[], owner: boolean): number {
  if (dacl === null) return ALL_RIGHTS;
  let granted = 0, decided = 0;
  for (const a of dacl.aces) {
    if (!isAccessAce(a) || a.flags & ACE_FLAG.INHERIT_ONLY || !token.some((s) => sidEquals(s, a.sid))) continue;
    const bits = mapGeneric(a.mask) & ALL_RIGHTS & ~decided;
    if (a.type === ACE_TYPE.ACCESS_ALLOWED) granted |= bits;
    decided |= bits;
  }
  if (owner) granted |= ACCESS.READ_CONTROL | ACCESS.WRITE_DAC;
  return granted >>> 0;
}

/**
 * What a caller may do with an existing file that has a stored DACL: the DACL's grant, plus
 * DELETE when the parent grants FILE_DELETE_CHILD (MS-FSA 2.1.5.1.2.1) and FILE_READ_ATTRIBUTES
 * when the parent grants FILE_LIST_DIRECTORY (as NTFS does: the attributes are in the listing
 * anyway) — by the parent's stored DACL, or, when it has none, by POSIX w+x (delete) and r (list)
 * on the parent. undefined when the file has no current stored DACL (then the mode decides, files.ts).
 */
export async function storedAccess(vfs: Vfs, ctx: Ctx, attr: Attr, parent: number): Promise<number | undefined> {
  const dacl = await storedDacl(vfs, attr);
  if (dacl === undefined) return undefined;
  const token = tokenOf(ctx);
  let granted = daclGrants(dacl, token, ctx.uid === attr.uid);
  const fromParent = ACCESS.DELETE | ACCESS.FILE_READ_ATTRIBUTES;
  if ((granted & fromParent) !== fromParent && parent !== attr.ino) {
    const pattr = await vfs.getattr(ROOT_CTX, parent);
    const pdacl = await storedDacl(vfs, pattr);
    const pgrant = pdacl === undefined ? undefined : daclGrants(pdacl, token, ctx.uid === pattr.uid);
    const parentGrants = async (right: number, posix: number): Promise<boolean> => pgrant === undefined ? allowed(vfs, ctx, parent, posix) : (pgrant & right) !== 0;
    if (!(granted & ACCESS.DELETE) && await parentGrants(ACCESS.FILE_DELETE_CHILD, 3)) granted |= ACCESS.DELETE;
    if (!(granted & ACCESS.FILE_READ_ATTRIBUTES) && await parentGrants(FILE_LIST_DIRECTORY, 4)) granted |= ACCESS.FILE_READ_ATTRIBUTES;
  }
  return granted >>> 0;
}

/**
 * CREATE's check against a stored DACL: true when the file has one and it grants `desired`
 * (generic bits already mapped; ACCESS_SYSTEM_SECURITY and MAXIMUM_ALLOWED ignored here);
 * STATUS_ACCESS_DENIED when it has one and does not; false when it has none (check the mode).
 */
export async function checkStoredAccess(vfs: Vfs, ctx: Ctx, attr: Attr, parent: number, desired: number): Promise<boolean> {
  const granted = await storedAccess(vfs, ctx, attr, parent);
  if (granted === undefined) return false;
  const want = desired & ~(ACCESS.ACCESS_SYSTEM_SECURITY | ACCESS.MAXIMUM_ALLOWED);
  if ((want & ~granted) !== 0) throw new SmbStatusError(STATUS.ACCESS_DENIED);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Inheritance

const INHERIT_FLAGS = ACE_FLAG.OBJECT_INHERIT | ACE_FLAG.CONTAINER_INHERIT | ACE_FLAG.NO_PROPAGATE_INHERIT | ACE_FLAG.INHERIT_ONLY;

/**
 * The DACL a new child inherits from its parent's DACL (rules in the header); undefined when no
 * ACE is inheritable to a child of that kind. Raw (non allow/deny) ACEs are not inherited.
 */
export function inheritedDacl(parent: Acl | null, isDir: boolean, owner: Sid, group: Sid, autoInherit = false): Acl | undefined {
  if (!parent) return undefined;
  const inherited = autoInherit ? ACE_FLAG.INHERITED : 0;
  const aces: Ace[] = [];
  for (const a of parent.aces) {
    if (!isAccessAce(a)) continue;
    const oi = (a.flags & ACE_FLAG.OBJECT_INHERIT) !== 0, ci = (a.flags & ACE_FLAG.CONTAINER_INHERIT) !== 0;
    const noProp = (a.flags & ACE_FLAG.NO_PROPAGATE_INHERIT) !== 0;
    const sid = sidEquals(a.sid, CREATOR_OWNER) ? owner : sidEquals(a.sid, CREATOR_GROUP) ? group : a.sid;
    const mask = mapGeneric(a.mask);
    const mapped = sid !== a.sid || mask !== a.mask;
    const effective: Ace = { type: a.type, flags: inherited, mask, sid };
    if (!isDir) {
      if (oi) aces.push(effective);
      continue;
    }
    if (ci) {
      if (noProp) aces.push(effective);
      else if (mapped) aces.push(effective, { ...a, flags: (a.flags & INHERIT_FLAGS) | ACE_FLAG.INHERIT_ONLY | inherited });
      else aces.push({ ...a, flags: (a.flags & INHERIT_FLAGS & ~ACE_FLAG.INHERIT_ONLY) | inherited });
    } else if (oi && !noProp) {
      aces.push({ ...a, flags: (a.flags & INHERIT_FLAGS) | ACE_FLAG.INHERIT_ONLY | inherited });
    }
  }
  return aces.length ? { revision: parent.revision, aces } : undefined;
}

/**
 * At an SMB CREATE of a new file or folder: when the parent has a current stored DACL with ACEs
 * inheritable to it, store the inherited DACL on the child and set its permission bits from it
 * (as SET_INFO would). Returns the child's attributes afterwards (unchanged when nothing is inherited).
 */
export async function inheritOnCreate(vfs: Vfs, ctx: Ctx, parent: number, attr: Attr): Promise<Attr> {
  const p = await storedEntry(vfs, await vfs.getattr(ROOT_CTX, parent));
  if (p === undefined) return attr;
  const owner = uidToSid(attr.uid), group = gidToSid(attr.gid);
  const dacl = inheritedDacl(p.dacl, attr.type === 'dir', owner, group, p.autoInherited === true);
  if (!dacl) return attr;
  const mode = (attr.mode & 0o7000) | modeFromDacl(dacl, owner, group);
  const now = mode !== (attr.mode & 0o7777) ? await vfs.setattr(ROOT_CTX, attr.ino, { mode }) : attr;
  await storeDacl(vfs, now, dacl, p.autoInherited === true);
  return now;
}

// ---------------------------------------------------------------------------------------------
// QUERY_INFO / SET_INFO SECURITY

/** `sd` (mapped from the mode) with the stored DACL in place of the mapped one, when there is a current one. */
export async function withStoredDacl(vfs: Vfs, attr: Attr, sd: SecurityDescriptor): Promise<SecurityDescriptor> {
  const s = await storedEntry(vfs, attr);
  if (s === undefined) return sd;
  return { ...sd, control: s.autoInherited ? sd.control | SE.DACL_AUTO_INHERITED : sd.control & ~SE.DACL_AUTO_INHERITED, dacl: s.dacl };
}

/**
 * Refuses (STATUS_INVALID_PARAMETER) a SET_INFO DACL too large to store, before anything changes.
 */
export function checkStorable(sd: SecurityDescriptor, info: number): void {
  if (!(info & SECURITY_INFORMATION.DACL) || !sd.dacl) return;
  try {
    encodeStoredAcl({ dacl: sd.dacl, mode: 0, uid: 0, gid: 0 });
  } catch (err) {
    if (err instanceof RangeError) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
    throw err;
  }
}

/**
 * The DACL as it is stored: GENERIC_* bits of the ACEs that apply to the object itself mapped to
 * the file rights (what Windows stores and answers afterwards, smb2.acls GENERIC); inherit-only
 * ACEs keep theirs for the children they will be mapped on.
 */
export function mapAclGenerics(dacl: Acl): Acl {
  return {
    revision: dacl.revision,
    aces: dacl.aces.map((a) => (isAccessAce(a) && !(a.flags & ACE_FLAG.INHERIT_ONLY) ? { ...a, mask: mapGeneric(a.mask) } : a)),
  };
}

/**
 * After SET_INFO SECURITY applied owner/group/mode (`before` → `after`): a DACL in the request is
 * stored (generic bits mapped, mapAclGenerics) against the new attributes; without one, a DACL stored and current before is restamped
 * so an owner or group change does not make it stale.
 */
export async function afterSetSecurity(vfs: Vfs, before: Attr, after: Attr, sd: SecurityDescriptor, info: number): Promise<void> {
  if (after.type !== 'file' && after.type !== 'dir') return;
  if (info & SECURITY_INFORMATION.DACL && sd.dacl !== undefined) {
    await storeDacl(vfs, after, sd.dacl && mapAclGenerics(sd.dacl), (sd.control & SE.DACL_AUTO_INHERITED) !== 0);
    return;
  }
  const s = await storedEntry(vfs, before);
  if (s !== undefined && (before.mode !== after.mode || before.uid !== after.uid || before.gid !== after.gid)) await storeDacl(vfs, after, s.dacl, s.autoInherited === true);
}
