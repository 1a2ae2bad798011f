/** MS-DTYP SIDs, ACLs, self-relative security descriptors and the POSIX owner/group/mode mapping: known bytes, round trips, fuzzing. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { WireError } from './reader.js';
import {
  ACCESS, ACE_FLAG, ACE_TYPE, daclFromMode, decodeAcl, decodeSecurityDescriptor, decodeSid, encodeAcl, encodeSecurityDescriptor,
  encodeSid, EVERYONE, FILE_ALL_ACCESS, FILE_GENERIC_EXECUTE, FILE_GENERIC_READ, FILE_GENERIC_WRITE, gidToSid, isAccessAce,
  modeFromDacl, posixFromSecurityDescriptor, SE, SECURITY_INFORMATION, securityDescriptorOf, selectSecurityInformation, sidFromString,
  sidToGid, sidToString, sidToUid, uidToSid, UnmappableSidError, type Ace, type Acl, type SecurityDescriptor, type Sid,
} from './security.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const onlyTyped = (f: () => unknown): void => {
  try {
    f();
  } catch (err) {
    if (!(err instanceof WireError) && !(err instanceof UnmappableSidError)) throw err;
  }
};
const mutated = (valid: Buffer) => fc.tuple(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.integer({ min: -valid.length, max: 16 }))
  .map(([flips, cut]) => {
    const b = Buffer.from(valid);
    for (const [i, v] of flips) b[i] = v;
    return cut < 0 ? b.subarray(0, b.length + cut) : Buffer.concat([b, Buffer.alloc(cut, 0xa5)]);
  });

const sidArb: fc.Arbitrary<Sid> = fc.record({
  authority: fc.oneof(fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 2 ** 48 - 1 })),
  subAuthorities: fc.array(fc.nat(0xffffffff), { maxLength: 15 }),
}, { noNullPrototype: true });
const aceArb: fc.Arbitrary<Ace> = fc.oneof(
  fc.record({ type: fc.constantFrom(ACE_TYPE.ACCESS_ALLOWED, ACE_TYPE.ACCESS_DENIED), flags: fc.nat(0xff), mask: fc.nat(0xffffffff), sid: sidArb }, { noNullPrototype: true }),
  fc.record({ type: fc.integer({ min: 2, max: 0x15 }), flags: fc.nat(0xff), raw: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a.subarray(0, a.length - (a.length % 4)))) }, { noNullPrototype: true }),
) as fc.Arbitrary<Ace>;
const aclArb: fc.Arbitrary<Acl> = fc.record({ revision: fc.constantFrom(2, 4), aces: fc.array(aceArb, { maxLength: 6 }) }, { noNullPrototype: true });
const sdArb: fc.Arbitrary<SecurityDescriptor> = fc.record({
  control: fc.nat(0xffff).map((c) => c & ~(SE.SELF_RELATIVE | SE.DACL_PRESENT | SE.SACL_PRESENT)),
  owner: fc.option(sidArb, { nil: undefined }), group: fc.option(sidArb, { nil: undefined }),
  dacl: fc.option(fc.option(aclArb, { nil: null }), { nil: undefined }), sacl: fc.option(fc.option(aclArb, { nil: null }), { nil: undefined }),
}, { noNullPrototype: true }).map((sd) => {
  const out: SecurityDescriptor = { control: sd.control };
  for (const k of ['owner', 'group', 'dacl', 'sacl'] as const) if (sd[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = sd[k];
  return out;
});

test('SID: S-1-5-32-544 bytes (MS-DTYP 2.4.2.2), text forms, bounds', () => {
  const admins = sidFromString('S-1-5-32-544');
  assert.deepEqual(encodeSid(admins), hex('01 02 00 00 00 00 00 05 20 00 00 00 20 02 00 00'));
  assert.deepEqual(decodeSid(hex('01 02 00 00 00 00 00 05 20 00 00 00 20 02 00 00')), admins);
  assert.equal(sidToString(admins), 'S-1-5-32-544');
  assert.deepEqual(encodeSid(EVERYONE), hex('01 01 00 00 00 00 00 01 00 00 00 00'));
  assert.equal(sidToString(sidFromString('S-1-5-21-3623811015-3361044348-30300820-1013')), 'S-1-5-21-3623811015-3361044348-30300820-1013');
  assert.equal(sidToString({ authority: 2 ** 40, subAuthorities: [1] }), 'S-1-0x010000000000-1'); // ≥ 2^32: hex (2.4.2.1)
  assert.deepEqual(sidFromString('s-1-0x010000000000-1'), { authority: 2 ** 40, subAuthorities: [1] });
  assert.deepEqual(sidFromString('S-1-1'), { authority: 1, subAuthorities: [] });
  for (const bad of ['S-2-5-32', 'S-1-5-4294967296', 'S-1-281474976710656', `S-1-5${'-1'.repeat(16)}`, 'S-1-5-', 'X-1-5', '', 'S-1-5-32-544 ']) {
    assert.throws(() => sidFromString(bad), WireError, bad);
  }
  assert.throws(() => decodeSid(hex('01 10 00 00 00 00 00 05') /* 16 sub-authorities */), /16 sub-authorities/);
  assert.throws(() => decodeSid(hex('02 00 00 00 00 00 00 05')), /Revision/);
  assert.throws(() => decodeSid(hex('01 02 00 00 00 00 00 05 20 00 00 00')), WireError);
  assert.throws(() => encodeSid({ authority: 5, subAuthorities: new Array(16).fill(1) }), RangeError);
  fc.assert(fc.property(sidArb, (s) => {
    assert.deepEqual(decodeSid(encodeSid(s)), s);
    assert.deepEqual(sidFromString(sidToString(s)), s);
  }), { numRuns: 300 });
});

test('ACL and self-relative SECURITY_DESCRIPTOR: layout, NULL vs absent DACL, round trips', () => {
  const owner = uidToSid(1000), group = gidToSid(100);
  const acl: Acl = { revision: 2, aces: [{ type: ACE_TYPE.ACCESS_ALLOWED, flags: ACE_FLAG.INHERITED, mask: FILE_ALL_ACCESS, sid: EVERYONE }] };
  const ab = encodeAcl(acl);
  // ACL header: AclRevision 2, Sbz1, AclSize 28, AceCount 1, Sbz2; ACE: type 0, flags 0x10, AceSize 20, Mask, SID
  assert.deepEqual(ab, hex('02 00 1c 00 01 00 00 00  00 10 14 00 ff 01 1f 00  01 01 00 00 00 00 00 01 00 00 00 00'));
  assert.deepEqual(decodeAcl(ab), acl);

  const sd = encodeSecurityDescriptor({ control: SE.DACL_PROTECTED, owner, group, dacl: acl });
  assert.equal(sd[0], 1);
  assert.equal(sd.readUInt16LE(2), SE.SELF_RELATIVE | SE.DACL_PRESENT | SE.DACL_PROTECTED);
  assert.equal(sd.readUInt32LE(12), 0); // no SACL
  assert.equal(sd.readUInt32LE(16), 20); // DACL right after the header
  assert.equal(sd.readUInt32LE(4), 48); // owner after the 28-byte DACL
  assert.equal(sd.readUInt32LE(8), 64); // group after the 16-byte owner SID
  assert.equal(sd.length, 80);
  assert.deepEqual(sd.subarray(48, 64), encodeSid(owner));
  assert.deepEqual(decodeSecurityDescriptor(sd), { control: SE.DACL_PROTECTED, owner, group, dacl: acl });

  const nullDacl = encodeSecurityDescriptor({ control: 0, dacl: null });
  assert.deepEqual([nullDacl.length, nullDacl.readUInt16LE(2), nullDacl.readUInt32LE(16)], [20, 0x8004, 0]);
  assert.deepEqual(decodeSecurityDescriptor(nullDacl), { control: 0, dacl: null });
  const absent = Buffer.from(sd);
  absent.writeUInt16LE(SE.SELF_RELATIVE, 2); // DACL offset set but DACL_PRESENT clear: no DACL
  assert.equal(decodeSecurityDescriptor(absent).dacl, undefined);

  const bad = Buffer.from(sd);
  bad.writeUInt32LE(8, 4);
  assert.throws(() => decodeSecurityDescriptor(bad), /outside/);
  bad.writeUInt32LE(500, 4);
  assert.throws(() => decodeSecurityDescriptor(bad), /outside/);
  const badAcl = Buffer.from(ab);
  badAcl.writeUInt16LE(3, 10); // AceSize 3
  assert.throws(() => decodeAcl(badAcl), /AceSize/);
  badAcl.writeUInt16LE(40, 10); // past AclSize
  assert.throws(() => decodeAcl(badAcl), WireError);
  assert.throws(() => decodeAcl(hex('03 00 08 00 00 00 00 00')), /AclRevision/);

  // Other ACE types stay raw and re-encode identically.
  const audit = hex('02 00 1c 00 01 00 00 00  02 c0 14 00 ff 01 1f 00  01 01 00 00 00 00 00 01 00 00 00 00');
  const a = decodeAcl(audit);
  assert.ok(!isAccessAce(a.aces[0]!));
  assert.deepEqual(encodeAcl(a), audit);

  fc.assert(fc.property(sdArb, (x) => assert.deepEqual(decodeSecurityDescriptor(encodeSecurityDescriptor(x)), x)), { numRuns: 300 });

  const full: SecurityDescriptor = { control: 0, owner, group, dacl: acl };
  assert.deepEqual(selectSecurityInformation(full, SECURITY_INFORMATION.OWNER | SECURITY_INFORMATION.DACL), { control: 0, owner, dacl: acl });
  assert.deepEqual(selectSecurityInformation(full, SECURITY_INFORMATION.SACL), { control: 0 });
});

test('unix ID mapping: S-1-22-1-uid / S-1-22-2-gid, anything else refused with UnmappableSidError', () => {
  assert.equal(sidToString(uidToSid(1000)), 'S-1-22-1-1000');
  assert.equal(sidToString(gidToSid(0)), 'S-1-22-2-0');
  assert.equal(sidToUid(sidFromString('S-1-22-1-4294967295')), 4294967295);
  assert.equal(sidToGid(sidFromString('S-1-22-2-100')), 100);
  assert.throws(() => sidToUid(sidFromString('S-1-22-2-100')), (e) => e instanceof UnmappableSidError && e.role === 'owner' && e.sid === 'S-1-22-2-100');
  assert.throws(() => sidToGid(sidFromString('S-1-1-0')), (e) => e instanceof UnmappableSidError && e.role === 'group');
  assert.throws(() => sidToUid(sidFromString('S-1-5-21-1-2-3-1013')), UnmappableSidError);
  assert.throws(() => sidToUid(sidFromString('S-1-22-1-5-6')), UnmappableSidError);
  assert.throws(() => uidToSid(-1), RangeError);
  assert.throws(() => gidToSid(2 ** 32), RangeError);
});

test('mode → DACL: the ACEs for 0755, 0644, 0700, 0000 and a directory; generic masks per MS-SMB2 2.2.13.1', () => {
  assert.equal(FILE_GENERIC_READ, ACCESS.READ_CONTROL | ACCESS.SYNCHRONIZE | ACCESS.FILE_READ_DATA | ACCESS.FILE_READ_ATTRIBUTES | ACCESS.FILE_READ_EA);
  assert.equal(FILE_GENERIC_WRITE, ACCESS.READ_CONTROL | ACCESS.SYNCHRONIZE | ACCESS.FILE_WRITE_DATA | ACCESS.FILE_APPEND_DATA | ACCESS.FILE_WRITE_ATTRIBUTES | ACCESS.FILE_WRITE_EA);
  assert.equal(FILE_GENERIC_EXECUTE, ACCESS.READ_CONTROL | ACCESS.SYNCHRONIZE | ACCESS.FILE_READ_ATTRIBUTES | ACCESS.FILE_EXECUTE);
  const owner = uidToSid(1000), group = gidToSid(100);
  const masks = (mode: number, dir = false) => daclFromMode(mode, owner, group, dir).aces.map((a) => (isAccessAce(a) ? [a.type, sidToString(a.sid), a.mask] : []));
  const O = 'S-1-22-1-1000', G = 'S-1-22-2-100', E = 'S-1-1-0';
  assert.deepEqual(masks(0o755), [[0, O, 0x1601bf], [0, G, 0x1200a9], [0, E, 0x1200a9]]);
  assert.deepEqual(masks(0o644), [[0, O, 0x16019f], [0, G, 0x120089], [0, E, 0x120089]]);
  assert.deepEqual(masks(0o700), [[0, O, 0x1601bf], [0, G, 0x120080], [0, E, 0x120080]]);
  assert.deepEqual(masks(0o000), [[0, O, 0x160180], [0, G, 0x120080], [0, E, 0x120080]]);
  assert.deepEqual(masks(0o755, true), [[0, O, 0x1601ff], [0, G, 0x1200a9], [0, E, 0x1200a9]]); // + FILE_DELETE_CHILD
  // 0077: the owner lacks what everyone else has, so a DENY comes first.
  assert.deepEqual(masks(0o077), [[1, O, 0x3f], [0, O, 0x160180], [0, G, 0x1201bf], [0, E, 0x1201bf]]);
  assert.deepEqual(masks(0o704), [[1, G, 0x9], [0, O, 0x1601bf], [0, G, 0x120080], [0, E, 0x120089]]);

  for (const m of [0o755, 0o644, 0o700, 0o000]) assert.equal(modeFromDacl(daclFromMode(m, owner, group, false), owner, group), m);
  for (let m = 0; m < 0o1000; m++) {
    for (const dir of [false, true]) assert.equal(modeFromDacl(daclFromMode(m, owner, group, dir), owner, group), m, `mode ${m.toString(8)} dir ${dir}`);
  }

  const sd = securityDescriptorOf({ uid: 1000, gid: 100, mode: 0o100640, type: 'file' });
  assert.equal(sidToString(sd.owner!), O);
  assert.equal(sidToString(sd.group!), G);
  const wire = encodeSecurityDescriptor(sd);
  assert.equal(wire.readUInt16LE(2), SE.SELF_RELATIVE | SE.DACL_PRESENT);
  assert.deepEqual(posixFromSecurityDescriptor(decodeSecurityDescriptor(wire), 0x7, { uid: 1, gid: 2, mode: 0o104777 }), { uid: 1000, gid: 100, mode: 0o4640 });
});

test('DACL → mode: what Windows clients send; lossy parts documented in security.ts', () => {
  const owner = uidToSid(1000), group = gidToSid(100);
  const allow = (sid: Sid, mask: number, flags = 0): Ace => ({ type: ACE_TYPE.ACCESS_ALLOWED, flags, mask, sid });
  const deny = (sid: Sid, mask: number): Ace => ({ type: ACE_TYPE.ACCESS_DENIED, flags: 0, mask, sid });
  const admins = sidFromString('S-1-5-32-544');
  // Explorer-style: owner Full control, Administrators full (ignored), Everyone Read & execute.
  assert.equal(modeFromDacl({ revision: 2, aces: [allow(owner, FILE_ALL_ACCESS), allow(admins, FILE_ALL_ACCESS), allow(EVERYONE, 0x1200a9)] }, owner, group), 0o755);
  // GENERIC_* rights count; inherit-only ACEs do not; the first ACE to decide a bit wins.
  assert.equal(modeFromDacl({ revision: 2, aces: [allow(group, ACCESS.GENERIC_READ | ACCESS.GENERIC_WRITE), allow(EVERYONE, FILE_ALL_ACCESS, ACE_FLAG.INHERIT_ONLY)] }, owner, group), 0o060);
  assert.equal(modeFromDacl({ revision: 2, aces: [deny(owner, ACCESS.FILE_WRITE_DATA), allow(EVERYONE, ACCESS.GENERIC_ALL)] }, owner, group), 0o577);
  assert.equal(modeFromDacl({ revision: 2, aces: [allow(EVERYONE, ACCESS.GENERIC_ALL), deny(owner, ACCESS.FILE_WRITE_DATA)] }, owner, group), 0o777);
  assert.equal(modeFromDacl({ revision: 2, aces: [allow(owner, ACCESS.FILE_APPEND_DATA)] }, owner, group), 0); // append alone is not w
  assert.equal(modeFromDacl({ revision: 2, aces: [] }, owner, group), 0);
  assert.equal(modeFromDacl(null, owner, group), 0o777); // NULL DACL: everyone everything

  const cur = { uid: 1000, gid: 100, mode: 0o102644 };
  // DACL only: mode changes, setgid kept, owner/group untouched.
  assert.deepEqual(posixFromSecurityDescriptor({ control: 0, dacl: { revision: 2, aces: [allow(owner, FILE_ALL_ACCESS)] } }, SECURITY_INFORMATION.DACL, cur), { mode: 0o2700 });
  // A new owner in the same SD: the DACL is read against the new owner.
  const newOwner = uidToSid(7);
  assert.deepEqual(posixFromSecurityDescriptor({ control: 0, owner: newOwner, dacl: { revision: 2, aces: [allow(newOwner, FILE_GENERIC_READ)] } }, SECURITY_INFORMATION.OWNER | SECURITY_INFORMATION.DACL, cur), { uid: 7, mode: 0o2400 });
  // Parts not named by AdditionalInformation are ignored; unmappable owner/group refused.
  assert.deepEqual(posixFromSecurityDescriptor({ control: 0, owner: admins }, SECURITY_INFORMATION.DACL, cur), {});
  assert.throws(() => posixFromSecurityDescriptor({ control: 0, owner: admins }, SECURITY_INFORMATION.OWNER, cur), (e) => e instanceof UnmappableSidError && e.sid === 'S-1-5-32-544');
  assert.throws(() => posixFromSecurityDescriptor({ control: 0, group: EVERYONE }, SECURITY_INFORMATION.GROUP, cur), (e) => e instanceof UnmappableSidError && e.role === 'group');
});

test('fuzz: SID, ACL, security descriptor decoders and the mapping throw only their typed errors', () => {
  const sd = encodeSecurityDescriptor({ ...securityDescriptorOf({ uid: 5, gid: 6, mode: 0o750, type: 'dir' }), sacl: { revision: 2, aces: [{ type: 2, flags: 0xc0, raw: Buffer.alloc(16, 1) }] } });
  const cur = { uid: 5, gid: 6, mode: 0o750 };
  const all = (b: Buffer) => {
    const d = decodeSecurityDescriptor(b);
    posixFromSecurityDescriptor(d, 0xf, cur);
    if (d.dacl !== undefined) modeFromDacl(d.dacl, uidToSid(5), gidToSid(6));
  };
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), mutated(sd)), (b) => onlyTyped(() => all(b))), { numRuns: 1000 });
  const acl = encodeAcl(daclFromMode(0o751, uidToSid(1), gidToSid(2), false));
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.from(a)), mutated(acl)), (b) => onlyTyped(() => decodeAcl(b))), { numRuns: 500 });
  const sid = encodeSid(sidFromString('S-1-5-21-1-2-3-500'));
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)), mutated(sid)), (b) => onlyTyped(() => decodeSid(b))), { numRuns: 500 });
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.stringMatching(/^S-1-[0-9x-]{0,80}$/)), (t) => onlyTyped(() => sidFromString(t))), { numRuns: 500 });
});
