/**
 * Stored NT ACLs (ntacl.ts): the `user.dw.ntacl` value (round trip, limits, a fuzzed decoder),
 * the access check (MS-DTYP 2.5.3.2), inheritance (2.5.3.4 simplified), and whole connections
 * over a memory VFS: SET_INFO keeps the DACL, QUERY_INFO answers it, a new file inherits it, an
 * existing file's DACL refuses DELETE unless the parent grants FILE_DELETE_CHILD
 * (smb2.delete-on-close-perms), a chmod outside SMB makes the stored DACL stale.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { createMemoryVfs, ROOT_CTX, type VfsInstance } from '../../vfs/index.js';
import { STATUS } from './errors.js';
import { shareFileService } from './server.js';
import { connection, TestClient } from './testdata/client.js';
import { DIALECT } from './wire/negotiate.js';
import { Command } from './wire/header.js';
import { writeTreeConnectRequest } from './wire/session-setup.js';
import { CREATE_OPTION, decodeCreateResponse, decodeOutputBufferResponse, DISPOSITION, SHARE_ACCESS } from './wire/files.js';
import { INFO_TYPE } from './wire/fscc.js';
import type { Writer } from './wire/reader.js';
import {
  ACCESS, ACE_FLAG, ACE_TYPE, decodeSecurityDescriptor, encodeAcl, encodeSecurityDescriptor, EVERYONE, gidToSid, SECURITY_INFORMATION, uidToSid,
  SE, type Ace, type Acl, type SecurityDescriptor, type Sid,
} from './wire/security.js';
import {
  AUTHENTICATED_USERS, CREATOR_OWNER, daclGrants, decodeStoredAcl, encodeStoredAcl, inheritedDacl, MAX_STORED_BYTES, NTACL_XATTR, tokenOf,
  type StoredAcl,
} from './ntacl.js';

const alice = uidToSid(1000), aliceGroup = gidToSid(1000), bob = uidToSid(1001);
const allow = (sid: Sid, mask: number, flags = 0): Ace => ({ type: ACE_TYPE.ACCESS_ALLOWED, flags, mask, sid });
const deny = (sid: Sid, mask: number, flags = 0): Ace => ({ type: ACE_TYPE.ACCESS_DENIED, flags, mask, sid });
const acl = (...aces: Ace[]): Acl => ({ revision: 2, aces });
const aliceToken = tokenOf({ uid: 1000, gid: 1000, groups: [1000, 50] });

/** The DACL smb2.delete-on-close-perms sets on its folder: everything but DELETE and FILE_DELETE_CHILD, OBJECT_INHERIT. */
const NO_DELETE = 0x001e01bf;

describe('stored NT ACL value (user.dw.ntacl)', () => {
  test('round trip, NULL DACL, staleness stamp, refusals', () => {
    const s: StoredAcl = { dacl: acl(deny(bob, ACCESS.FILE_WRITE_DATA), allow(alice, NO_DELETE, ACE_FLAG.OBJECT_INHERIT)), mode: 0o4700, uid: 1000, gid: 1000 };
    assert.deepEqual(decodeStoredAcl(encodeStoredAcl(s)), s);
    const n: StoredAcl = { dacl: null, mode: 0o777, uid: 0, gid: 0xffffffff };
    const ai: StoredAcl = { dacl: acl(allow(alice, 1, ACE_FLAG.INHERITED)), autoInherited: true, mode: 0o600, uid: 1, gid: 2 };
    assert.deepEqual(decodeStoredAcl(encodeStoredAcl(ai)), ai);
    assert.equal(encodeStoredAcl(n).length, 16);
    assert.deepEqual(decodeStoredAcl(encodeStoredAcl(n)), n);
    const b = encodeStoredAcl(s);
    assert.equal(decodeStoredAcl(Buffer.concat([b, Buffer.alloc(4)])), undefined, 'trailing bytes');
    assert.equal(decodeStoredAcl(b.subarray(0, b.length - 1)), undefined, 'cut short');
    assert.equal(decodeStoredAcl(Buffer.concat([Buffer.from([2]), b.subarray(1)])), undefined, 'unknown version');
    assert.equal(decodeStoredAcl(Buffer.concat([encodeStoredAcl(n), Buffer.alloc(8)])), undefined, 'a NULL DACL has no ACL bytes');
    assert.equal(decodeStoredAcl(Buffer.alloc(3)), undefined);
  });

  test('limit: the value never passes 64 KiB (the VFS xattr limit)', () => {
    // 1024 ACEs of SIDs with 15 sub-authorities: 1024 × 72 bytes > 64 KiB → RangeError before any write.
    const big: Sid = { authority: 5, subAuthorities: Array.from({ length: 15 }, (_, i) => i) };
    const many = acl(...Array.from({ length: 900 }, () => allow(big, 1)));
    assert.throws(() => encodeStoredAcl({ dacl: many, mode: 0, uid: 0, gid: 0 }), RangeError);
    const fits = acl(...Array.from({ length: 800 }, () => allow(big, 1)));
    assert.ok(encodeStoredAcl({ dacl: fits, mode: 0, uid: 0, gid: 0 }).length <= MAX_STORED_BYTES);
    assert.equal(decodeStoredAcl(Buffer.alloc(MAX_STORED_BYTES + 1, 1)), undefined);
  });

  test('fuzz: the decoder never throws, and what it accepts round-trips through the encoder', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (u) => {
      const b = Buffer.from(u);
      const s = decodeStoredAcl(b);
      if (s) assert.deepEqual(decodeStoredAcl(encodeStoredAcl(s)), s);
    }), { numRuns: 3000 });
    // Mutations of a valid value: still never a throw.
    const good = encodeStoredAcl({ dacl: acl(allow(alice, NO_DELETE, 3), deny(EVERYONE, 0x10000)), mode: 0o700, uid: 1000, gid: 1000 });
    fc.assert(fc.property(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(good.length), (i, v, cut) => {
      const b = Buffer.from(good);
      b[i] = v;
      decodeStoredAcl(b.subarray(0, cut));
      decodeStoredAcl(b);
    }), { numRuns: 3000 });
    // Random valid values round-trip.
    const sid = fc.record({ authority: fc.integer({ min: 0, max: 2 ** 48 - 1 }), subAuthorities: fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 15 }) });
    const ace = fc.record({ type: fc.constantFrom(ACE_TYPE.ACCESS_ALLOWED, ACE_TYPE.ACCESS_DENIED), flags: fc.nat({ max: 255 }), mask: fc.nat({ max: 0xffffffff }), sid })
      .map((a): Ace => ({ type: a.type, flags: a.flags, mask: a.mask, sid: { authority: a.sid.authority, subAuthorities: [...a.sid.subAuthorities] } }));
    fc.assert(fc.property(fc.option(fc.array(ace, { maxLength: 20 }), { nil: null }), fc.nat({ max: 0o7777 }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }),
      (aces, mode, uid, gid) => {
        const s: StoredAcl = { dacl: aces ? { revision: 2, aces } : null, mode, uid, gid };
        assert.deepEqual(decodeStoredAcl(encodeStoredAcl(s)), s);
      }), { numRuns: 500 });
  });
});

describe('access check (MS-DTYP 2.5.3.2)', () => {
  test('token: user, groups, Everyone, Authenticated Users', () => {
    assert.deepEqual(aliceToken, [alice, aliceGroup, gidToSid(50), EVERYONE, AUTHENTICATED_USERS]);
  });

  test('ACEs in order: the first ACE naming a right decides it; inherit-only and other SIDs skipped; owner rights; NULL DACL', () => {
    assert.equal(daclGrants(acl(allow(alice, NO_DELETE, ACE_FLAG.OBJECT_INHERIT)), aliceToken, false), NO_DELETE);
    assert.equal(daclGrants(acl(deny(EVERYONE, ACCESS.FILE_WRITE_DATA), allow(alice, 0x1f01ff)), aliceToken, false), 0x1f01ff & ~ACCESS.FILE_WRITE_DATA);
    assert.equal(daclGrants(acl(allow(alice, 0x1f01ff), deny(EVERYONE, ACCESS.FILE_WRITE_DATA)), aliceToken, false), 0x1f01ff, 'allowed before the deny: granted');
    assert.equal(daclGrants(acl(allow(alice, 0x1f01ff, ACE_FLAG.INHERIT_ONLY | ACE_FLAG.OBJECT_INHERIT)), aliceToken, false), 0, 'inherit-only');
    assert.equal(daclGrants(acl(allow(bob, 0x1f01ff)), aliceToken, false), 0, 'another user');
    assert.equal(daclGrants(acl(allow(gidToSid(50), ACCESS.FILE_READ_DATA)), aliceToken, false), ACCESS.FILE_READ_DATA, 'a supplementary group');
    assert.equal(daclGrants(acl(allow(AUTHENTICATED_USERS, ACCESS.GENERIC_READ)), aliceToken, false), 0x120089, 'GENERIC_READ mapped');
    assert.equal(daclGrants(acl(), aliceToken, true), ACCESS.READ_CONTROL | ACCESS.WRITE_DAC, 'the owner keeps READ_CONTROL and WRITE_DAC');
    assert.equal(daclGrants(null, aliceToken, false), 0x1f01ff, 'NULL DACL');
  });
});

describe('inheritance (MS-DTYP 2.5.3.4, simplified)', () => {
  test('files take OBJECT_INHERIT ACEs, folders CONTAINER_INHERIT ones; NO_PROPAGATE stops; CREATOR OWNER → owner', () => {
    // INHERITED only under auto-inheritance (the parent's DACL AUTO_INHERITED): plain flags otherwise.
    assert.deepEqual(inheritedDacl(acl(allow(alice, 1, ACE_FLAG.OBJECT_INHERIT)), false, bob, aliceGroup), acl(allow(alice, 1)));
    assert.deepEqual(inheritedDacl(acl(allow(alice, 1, ACE_FLAG.OBJECT_INHERIT)), true, bob, aliceGroup), acl(allow(alice, 1, ACE_FLAG.OBJECT_INHERIT | ACE_FLAG.INHERIT_ONLY)));
    const oi = allow(alice, NO_DELETE, ACE_FLAG.OBJECT_INHERIT);
    assert.deepEqual(inheritedDacl(acl(oi), false, bob, aliceGroup, true), acl(allow(alice, NO_DELETE, ACE_FLAG.INHERITED)));
    assert.deepEqual(inheritedDacl(acl(oi), true, bob, aliceGroup, true), acl(allow(alice, NO_DELETE, ACE_FLAG.OBJECT_INHERIT | ACE_FLAG.INHERIT_ONLY | ACE_FLAG.INHERITED)),
      'a folder passes OI ACEs on, inherit-only');
    assert.equal(inheritedDacl(acl(allow(alice, 1)), false, bob, aliceGroup), undefined, 'nothing inheritable');
    assert.equal(inheritedDacl(acl(allow(alice, 1, ACE_FLAG.CONTAINER_INHERIT)), false, bob, aliceGroup), undefined, 'CI only: not to files');
    const ci = allow(EVERYONE, 0x1200a9, ACE_FLAG.CONTAINER_INHERIT | ACE_FLAG.OBJECT_INHERIT);
    assert.deepEqual(inheritedDacl(acl(ci), true, bob, aliceGroup, true), acl(allow(EVERYONE, 0x1200a9, ACE_FLAG.CONTAINER_INHERIT | ACE_FLAG.OBJECT_INHERIT | ACE_FLAG.INHERITED)));
    const np = allow(EVERYONE, 1, ACE_FLAG.CONTAINER_INHERIT | ACE_FLAG.NO_PROPAGATE_INHERIT);
    assert.deepEqual(inheritedDacl(acl(np), true, bob, aliceGroup, true), acl(allow(EVERYONE, 1, ACE_FLAG.INHERITED)));
    const co = allow(CREATOR_OWNER, ACCESS.GENERIC_ALL, ACE_FLAG.CONTAINER_INHERIT | ACE_FLAG.OBJECT_INHERIT | ACE_FLAG.INHERIT_ONLY);
    assert.deepEqual(inheritedDacl(acl(co), false, bob, aliceGroup, true), acl(allow(bob, 0x1f01ff, ACE_FLAG.INHERITED)));
    assert.deepEqual(inheritedDacl(acl(co), true, bob, aliceGroup, true), acl(
      allow(bob, 0x1f01ff, ACE_FLAG.INHERITED),
      allow(CREATOR_OWNER, ACCESS.GENERIC_ALL, ACE_FLAG.CONTAINER_INHERIT | ACE_FLAG.OBJECT_INHERIT | ACE_FLAG.INHERIT_ONLY | ACE_FLAG.INHERITED),
    ), 'a folder: the mapped effective ACE and the original, inherit-only');
  });
});

// ---------------------------------------------------------------------------------------------
// Whole connections

interface Env { c: TestClient; tid: number; v: VfsInstance }

async function setup(): Promise<Env> {
  const v = await createMemoryVfs({ recordSize: 4096 });
  const home = await v.paths.mkdir(ROOT_CTX, '/home', 0o755);
  await v.vfs.setattr(ROOT_CTX, home.ino, { uid: 1000, gid: 1000 });
  const conn = connection({ shares: [{ name: 'Data', path: '/home', readOnly: false, requireEncryption: false }], files: shareFileService(v.paths) }, []);
  const c = new TestClient(conn);
  await c.negotiate([DIALECT.SMB311]);
  assert.equal((await c.login('alice', 's3cret')).header.status, 0);
  const tid = (await c.send(Command.TREE_CONNECT, (w: Writer) => { writeTreeConnectRequest(w, { flags: 0, path: '\\\\dw\\data' }); })).header.treeId;
  return { c, tid, v };
}

const DACL_INFO = SECURITY_INFORMATION.DACL | SECURITY_INFORMATION.OWNER;
const SD_RIGHTS = ACCESS.READ_CONTROL | ACCESS.WRITE_DAC | ACCESS.WRITE_OWNER;
/** What the test opens its files with: DELETE and most data/attribute rights. */
const PERMS = 0x00130196 | ACCESS.FILE_READ_ATTRIBUTES;

async function setDacl(e: Env, name: string, dacl: Acl, dir: boolean, control = 0): Promise<number> {
  const f = await e.c.open(e.tid, { name, desiredAccess: SD_RIGHTS, options: dir ? CREATE_OPTION.DIRECTORY_FILE : 0 });
  const sd = encodeSecurityDescriptor({ control, owner: alice, dacl });
  const r = await e.c.setInfo(e.tid, f.fileId, INFO_TYPE.SECURITY, 0, sd, DACL_INFO);
  await e.c.closeFile(e.tid, f.fileId);
  return r.header.status;
}

async function getSd(e: Env, name: string): Promise<SecurityDescriptor> {
  const f = await e.c.open(e.tid, { name, desiredAccess: ACCESS.READ_CONTROL });
  const r = await e.c.queryFileInfo(e.tid, f.fileId, INFO_TYPE.SECURITY, 0, 65536, SECURITY_INFORMATION.DACL);
  assert.equal(r.header.status, 0);
  await e.c.closeFile(e.tid, f.fileId);
  return decodeSecurityDescriptor(decodeOutputBufferResponse(r.message));
}

async function getDacl(e: Env, name: string): Promise<Acl | null | undefined> {
  return (await getSd(e, name)).dacl;
}

const docCreate = (e: Env, name: string, disposition: number) => e.c.createFile(e.tid, {
  name, desiredAccess: PERMS, disposition, shareAccess: SHARE_ACCESS.DELETE, options: CREATE_OPTION.DELETE_ON_CLOSE | CREATE_OPTION.NON_DIRECTORY_FILE,
});

describe('stored NT ACLs over SMB', () => {
  test('SET_INFO keeps the DACL (and still maps it to the mode); QUERY_INFO answers it; new files inherit it', async () => {
    const e = await setup();
    const d = await e.c.open(e.tid, { name: 'd', desiredAccess: SD_RIGHTS, disposition: DISPOSITION.CREATE, options: CREATE_OPTION.DIRECTORY_FILE });
    await e.c.closeFile(e.tid, d.fileId);
    const dacl = acl(allow(alice, NO_DELETE, ACE_FLAG.OBJECT_INHERIT));
    assert.equal(await setDacl(e, 'd', dacl, true), 0);
    assert.deepEqual(await getDacl(e, 'd'), dacl, 'the stored DACL, not one made from the mode');
    assert.equal((await e.v.paths.stat(ROOT_CTX, '/home/d')).mode & 0o777, 0o700, 'the mode still follows the DACL');
    const raw = await e.v.paths.getxattr(ROOT_CTX, '/home/d', NTACL_XATTR);
    assert.deepEqual(decodeStoredAcl(raw)?.dacl, dacl);
    assert.ok(raw.includes(encodeAcl(dacl)), 'the ACL is kept self-relative');

    const f = await e.c.open(e.tid, { name: 'd\\f', desiredAccess: PERMS, disposition: DISPOSITION.CREATE });
    await e.c.closeFile(e.tid, f.fileId);
    assert.deepEqual(await getDacl(e, 'd\\f'), acl(allow(alice, NO_DELETE)), 'inherited (OBJECT_INHERIT → a file; not AUTO_INHERITED: plain flags)');
    assert.equal((await e.v.paths.stat(ROOT_CTX, '/home/d/f')).mode & 0o777, 0o700);
    // Under auto-inheritance (the folder's DACL AUTO_INHERITED) the inherited ACEs say INHERITED.
    assert.equal(await setDacl(e, 'd', dacl, true, SE.DACL_AUTO_INHERITED), 0);
    assert.ok((await getSd(e, 'd')).control & SE.DACL_AUTO_INHERITED);
    const f2 = await e.c.open(e.tid, { name: 'd\\f2', desiredAccess: PERMS, disposition: DISPOSITION.CREATE });
    await e.c.closeFile(e.tid, f2.fileId);
    const sd2 = await getSd(e, 'd\\f2');
    assert.deepEqual(sd2.dacl, acl(allow(alice, NO_DELETE, ACE_FLAG.INHERITED)));
    assert.ok(sd2.control & SE.DACL_AUTO_INHERITED);
    // A file without a stored DACL still answers the mode's.
    const g = await e.c.open(e.tid, { name: 'g', desiredAccess: PERMS, disposition: DISPOSITION.CREATE });
    await e.c.closeFile(e.tid, g.fileId);
    const mapped = await getDacl(e, 'g');
    assert.ok(mapped && mapped.aces.length === 3, 'owner, group, Everyone from 0644');
  });

  test('smb2.delete-on-close-perms: DELETE on an existing file refused by its DACL unless the parent grants FILE_DELETE_CHILD', async () => {
    const e = await setup();
    const d = await e.c.open(e.tid, { name: 'test_dir', desiredAccess: SD_RIGHTS, disposition: DISPOSITION.CREATE, options: CREATE_OPTION.DIRECTORY_FILE });
    await e.c.closeFile(e.tid, d.fileId);
    assert.equal(await setDacl(e, 'test_dir', acl(allow(alice, NO_DELETE, ACE_FLAG.OBJECT_INHERIT)), true), 0);

    // A new file with delete-on-close: the creator gets what it asked; it goes at close.
    const n = await docCreate(e, 'test_dir\\new.dat', DISPOSITION.OVERWRITE_IF);
    assert.equal(n.header.status, 0);
    await e.c.closeFile(e.tid, decodeCreateResponse(n.message).fileId);
    assert.equal((await e.c.createFile(e.tid, { name: 'test_dir\\new.dat', desiredAccess: PERMS })).header.status, STATUS.OBJECT_NAME_NOT_FOUND);

    // An existing file: its inherited DACL has no DELETE and the folder's no FILE_DELETE_CHILD.
    const f = await e.c.open(e.tid, { name: 'test_dir\\f.dat', desiredAccess: PERMS, disposition: DISPOSITION.CREATE, shareAccess: SHARE_ACCESS.DELETE });
    await e.c.closeFile(e.tid, f.fileId);
    assert.equal((await docCreate(e, 'test_dir\\f.dat', DISPOSITION.OVERWRITE_IF)).header.status, STATUS.ACCESS_DENIED);
    assert.equal((await docCreate(e, 'test_dir\\f.dat', DISPOSITION.OPEN_IF)).header.status, STATUS.ACCESS_DENIED);
    assert.equal((await e.c.createFile(e.tid, { name: 'test_dir\\f.dat', desiredAccess: ACCESS.DELETE })).header.status, STATUS.ACCESS_DENIED);
    // MAXIMUM_ALLOWED gets what the DACL grants (no DELETE).
    const mx = await e.c.open(e.tid, { name: 'test_dir\\f.dat', desiredAccess: ACCESS.MAXIMUM_ALLOWED });
    await e.c.closeFile(e.tid, mx.fileId);
    // Reading and writing are still granted.
    const rw = await e.c.open(e.tid, { name: 'test_dir\\f.dat', desiredAccess: 0x0012019f });
    await e.c.closeFile(e.tid, rw.fileId);

    // The folder now grants FILE_DELETE_CHILD (no inheritance): DELETE on the file is granted by it.
    assert.equal(await setDacl(e, 'test_dir', acl(allow(alice, NO_DELETE | ACCESS.DELETE | ACCESS.FILE_DELETE_CHILD)), true), 0);
    const del = await docCreate(e, 'test_dir\\f.dat', DISPOSITION.OPEN);
    assert.equal(del.header.status, 0);
    await e.c.closeFile(e.tid, decodeCreateResponse(del.message).fileId);
    assert.equal((await e.c.createFile(e.tid, { name: 'test_dir\\f.dat', desiredAccess: PERMS })).header.status, STATUS.OBJECT_NAME_NOT_FOUND);
  });

  test('a DENY ACE before the ALLOW refuses its right; a chmod outside SMB makes the stored DACL stale (mode-based again)', async () => {
    const e = await setup();
    const f = await e.c.open(e.tid, { name: 'x', desiredAccess: PERMS | SD_RIGHTS, disposition: DISPOSITION.CREATE });
    await e.c.closeFile(e.tid, f.fileId);
    // Everyone denied FILE_READ_DATA first, then alice allowed all: the mode keeps r for the
    // owner only if the deny does not cover it — here it does, so the mode loses r as well.
    assert.equal(await setDacl(e, 'x', acl(deny(EVERYONE, ACCESS.FILE_READ_DATA), allow(alice, 0x1f01ff)), false), 0);
    assert.equal((await e.c.createFile(e.tid, { name: 'x', desiredAccess: ACCESS.FILE_READ_DATA })).header.status, STATUS.ACCESS_DENIED);
    const w = await e.c.open(e.tid, { name: 'x', desiredAccess: ACCESS.FILE_WRITE_DATA | ACCESS.DELETE });
    await e.c.closeFile(e.tid, w.fileId);
    await e.v.paths.setattr(ROOT_CTX, '/home/x', { mode: 0o600 });
    const r = await e.c.open(e.tid, { name: 'x', desiredAccess: ACCESS.FILE_READ_DATA });
    await e.c.closeFile(e.tid, r.fileId);
    assert.equal((await getDacl(e, 'x'))?.aces.length, 3, 'the mode-mapped DACL again');
    // An owner-only SET_INFO leaves the stored DACL in place.
    assert.equal(await setDacl(e, 'x', acl(allow(alice, 0x1f01ff), allow(bob, ACCESS.FILE_READ_DATA)), false), 0);
    const o = await e.c.open(e.tid, { name: 'x', desiredAccess: SD_RIGHTS });
    assert.equal((await e.c.setInfo(e.tid, o.fileId, INFO_TYPE.SECURITY, 0, encodeSecurityDescriptor({ control: 0, owner: alice }), SECURITY_INFORMATION.OWNER)).header.status, 0);
    await e.c.closeFile(e.tid, o.fileId);
    assert.deepEqual(await getDacl(e, 'x'), acl(allow(alice, 0x1f01ff), allow(bob, ACCESS.FILE_READ_DATA)));
    // GENERIC_* bits are stored mapped (not in inherit-only ACEs).
    assert.equal(await setDacl(e, 'x', acl(allow(alice, ACCESS.GENERIC_READ | ACCESS.WRITE_DAC | ACCESS.WRITE_OWNER), allow(bob, ACCESS.GENERIC_ALL, ACE_FLAG.INHERIT_ONLY | ACE_FLAG.OBJECT_INHERIT)), false), 0);
    assert.deepEqual(await getDacl(e, 'x'), acl(allow(alice, 0x120089 | ACCESS.WRITE_DAC | ACCESS.WRITE_OWNER), allow(bob, ACCESS.GENERIC_ALL, ACE_FLAG.INHERIT_ONLY | ACE_FLAG.OBJECT_INHERIT)));
    // FILE_READ_ATTRIBUTES comes from the parent's FILE_LIST_DIRECTORY (here POSIX r on /home) even
    // when the file's DACL grants only FILE_WRITE_DATA (smb2.acls OWNER's expectation).
    assert.equal(await setDacl(e, 'x', acl(allow(alice, ACCESS.FILE_WRITE_DATA)), false), 0);
    const ra = await e.c.open(e.tid, { name: 'x', desiredAccess: ACCESS.FILE_READ_ATTRIBUTES });
    await e.c.closeFile(e.tid, ra.fileId);
    assert.equal((await e.c.createFile(e.tid, { name: 'x', desiredAccess: ACCESS.FILE_READ_EA })).header.status, STATUS.ACCESS_DENIED);
  });
});
