/**
 * NFSv4 COMPOUND dispatch through the RPC dispatcher (`answer()`) over a memory VFS: framing
 * errors (OP_ILLEGAL, NOTSUPP, MINOR_VERS_MISMATCH, BADXDR), file handles (NOFILEHANDLE,
 * BADHANDLE, STALE, SAVEFH/RESTOREFH), attributes, the namespace operations, READ/WRITE with the
 * anonymous stateid, exports (pseudo-fs, ROFS, ACCESS for unlisted clients), and fuzzed COMPOUNDs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { createMemoryVfs, ROOT_CTX, type VfsInstance } from '../../../vfs/index.js';
import { makeExport } from '../exports.js';
import { encodeFh } from '../wire/fh.js';
import { bitmapOf, bitsOf, decodeFattr, encodeFattr, FATTR4 } from '../wire/nfs4-attr.js';
import { ACCESS4, CREATEMODE4, encodeCompound, NF4, NFS4, OP, op, OPEN4_CREATE, STABLE4 } from '../wire/nfs4.js';
import { ACCEPT } from '../wire/rpc.js';
import { XdrWriter } from '../wire/xdr.js';
import { ROOT_CRED, sysCred, V4Harness } from './testkit.js';
import { answer, answerParts } from '../session.js';
import { decodeCompoundRes } from '../wire/nfs4-res.js';
import { NFS_PROG } from '../wire/nfs3.js';
import { NFS4_VERSION, NFSPROC4_COMPOUND } from '../wire/nfs4.js';
import { decodeReply, encodeCall } from '../wire/rpc.js';

const ANON_SID = { seqid: 0, other: Buffer.alloc(12) };
const name = (s: string) => Buffer.from(s);
const ga = (...attrs: number[]) => op(OP.GETATTR, bitmapOf(attrs));

describe('NFSv4 COMPOUND over a memory VFS', () => {
  let v: VfsInstance;
  let h: V4Harness;

  before(async () => {
    v = await createMemoryVfs();
    await v.paths.mkdir(ROOT_CTX, '/dir', 0o755);
    const { fh } = await v.paths.open(ROOT_CTX, '/dir/file.txt', { write: true, create: true }, 0o644);
    await v.vfs.write(ROOT_CTX, fh, 0, Buffer.from('hello world'));
    await v.vfs.release(ROOT_CTX, fh);
    h = await V4Harness.open(v.vfs);
  });
  after(async () => {
    await h.close();
    await v.close();
  });

  test('framing: OP_ILLEGAL, NOTSUPP, MINOR_VERS_MISMATCH, BADXDR, GARBAGE_ARGS, tag echoed', async () => {
    const ill = await h.compound([{ op: 999, args: undefined }, op(OP.PUTROOTFH, undefined)], { tag: 'my-tag' });
    assert.equal(ill.status, NFS4.ERR_OP_ILLEGAL);
    assert.equal(ill.tag.toString(), 'my-tag');
    assert.deepEqual(ill.results.map((r) => [r.op, r.status]), [[OP.ILLEGAL, NFS4.ERR_OP_ILLEGAL]]);
    // A 4.1 op in a 4.0 COMPOUND is not in that minor version: OP_ILLEGAL.
    assert.equal((await h.compound([op(OP.SEQUENCE, { sessionid: Buffer.alloc(16), sequenceid: 1, slotid: 0, highest_slotid: 0, cachethis: false })])).status, NFS4.ERR_OP_ILLEGAL);
    const ns = await h.compound([op(OP.PUTROOTFH, undefined), op(OP.OPENATTR, false)]);
    assert.deepEqual(ns.results.map((r) => [r.op, r.status]), [[OP.PUTROOTFH, NFS4.OK], [OP.OPENATTR, NFS4.ERR_NOTSUPP]]);
    const mm = await h.compound([op(OP.PUTROOTFH, undefined)], { minor: 2 });
    assert.equal(mm.status, NFS4.ERR_MINOR_VERS_MISMATCH);
    assert.equal(mm.results.length, 0);
    // Arguments cut short: that op answers BADXDR.
    const bad = Buffer.concat([new XdrWriter().opaque(Buffer.from('t')).uint(0).uint(2).uint(OP.PUTROOTFH).uint(OP.LOOKUP).uint(9).bytes(), Buffer.from([1, 0, 0, 0])]);
    const bx = await h.raw(bad);
    assert.ok(bx.kind === 'accepted' && bx.stat === ACCEPT.SUCCESS);
    assert.equal(bx.results.uint(), NFS4.ERR_BADXDR);
    // A header that does not decode is GARBAGE_ARGS.
    const g = await h.raw(Buffer.from([0, 0, 0, 9]));
    assert.ok(g.kind === 'accepted' && g.stat === ACCEPT.GARBAGE_ARGS);
    const empty = await h.compound([]);
    assert.equal(empty.status, NFS4.OK);
  });

  test('file handles: NOFILEHANDLE, BADHANDLE, STALE, SAVEFH/RESTOREFH, LOOKUPP', async () => {
    const nf = await h.compound([op(OP.GETFH, undefined)]);
    assert.equal(nf.status, NFS4.ERR_NOFILEHANDLE);
    assert.equal((await h.compound([op(OP.PUTFH, Buffer.from('junk'))])).status, NFS4.ERR_BADHANDLE);
    assert.equal((await h.compound([op(OP.PUTFH, encodeFh({ exportId: 1, ino: 999999, gen: 1 }))])).status, NFS4.ERR_STALE);
    assert.equal((await h.compound([op(OP.PUTFH, encodeFh({ exportId: 77, ino: 1, gen: 1 }))])).status, NFS4.ERR_STALE);
    assert.equal((await h.compound([op(OP.RESTOREFH, undefined)])).status, NFS4.ERR_RESTOREFH);
    const [, , fh, , , , root, , rfh] = await h.ok([
      op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('dir')), op(OP.GETFH, undefined), op(OP.SAVEFH, undefined),
      op(OP.LOOKUP, name('file.txt')), op(OP.RESTOREFH, undefined), op(OP.GETFH, undefined), op(OP.LOOKUPP, undefined), op(OP.GETFH, undefined),
    ]);
    assert.deepEqual(root, fh);
    assert.equal(rfh.length, 24);
    assert.equal((await h.compound([op(OP.PUTROOTFH, undefined), op(OP.LOOKUPP, undefined)])).status, NFS4.ERR_NOENT);
    // A handle stays valid for a new COMPOUND; a removed file's handle is STALE.
    const [, , , gfh] = await h.ok([op(OP.PUTFH, fh), op(OP.LOOKUP, name('file.txt')), ga(FATTR4.SIZE), op(OP.GETFH, undefined)]);
    const { fh: f2 } = await v.paths.open(ROOT_CTX, '/dir/gone', { write: true, create: true }, 0o644);
    await v.vfs.release(ROOT_CTX, f2);
    const [, , gone] = await h.ok([op(OP.PUTFH, fh), op(OP.LOOKUP, name('gone')), op(OP.GETFH, undefined)]);
    await v.paths.unlink(ROOT_CTX, '/dir/gone');
    assert.equal((await h.compound([op(OP.PUTFH, gone), ga(FATTR4.SIZE)])).status, NFS4.ERR_STALE);
    assert.equal((await h.compound([op(OP.PUTFH, gfh), ga(FATTR4.SIZE)])).status, NFS4.OK);
  });

  test('LOOKUP names: BADNAME, BADCHAR, INVAL, NAMETOOLONG, NOENT, NOTDIR, SYMLINK', async () => {
    const st = async (n: Buffer, first = 'dir') => (await h.compound([op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name(first)), op(OP.LOOKUP, n)])).status;
    assert.equal(await st(name('..')), NFS4.ERR_BADNAME);
    assert.equal(await st(name('a/b')), NFS4.ERR_BADCHAR);
    assert.equal(await st(Buffer.alloc(0)), NFS4.ERR_INVAL);
    assert.equal(await st(Buffer.from([0xff, 0xfe])), NFS4.ERR_INVAL);
    assert.equal(await st(Buffer.alloc(300, 0x61)), NFS4.ERR_NAMETOOLONG);
    assert.equal(await st(name('nope')), NFS4.ERR_NOENT);
    await v.paths.symlink(ROOT_CTX, 'dir', '/link');
    const r = await h.compound([op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('dir')), op(OP.LOOKUP, name('file.txt')), op(OP.LOOKUP, name('x'))]);
    assert.equal(r.status, NFS4.ERR_NOTDIR);
    assert.equal(await st(name('x'), 'link'), NFS4.ERR_SYMLINK);
    const [, , target] = await h.ok([op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('link')), op(OP.READLINK, undefined)]);
    assert.equal(target.toString(), 'dir');
  });

  test('GETATTR: mandatory and recommended attributes with their values', async () => {
    const all = [FATTR4.SUPPORTED_ATTRS, FATTR4.TYPE, FATTR4.FH_EXPIRE_TYPE, FATTR4.CHANGE, FATTR4.SIZE, FATTR4.LINK_SUPPORT, FATTR4.SYMLINK_SUPPORT,
      FATTR4.NAMED_ATTR, FATTR4.FSID, FATTR4.UNIQUE_HANDLES, FATTR4.LEASE_TIME, FATTR4.RDATTR_ERROR, FATTR4.FILEHANDLE, FATTR4.FILEID, FATTR4.MODE,
      FATTR4.NUMLINKS, FATTR4.OWNER, FATTR4.OWNER_GROUP, FATTR4.SPACE_USED, FATTR4.TIME_ACCESS, FATTR4.TIME_MODIFY, FATTR4.TIME_METADATA,
      FATTR4.MOUNTED_ON_FILEID, FATTR4.MAXREAD, FATTR4.MAXWRITE, FATTR4.MAXFILESIZE, FATTR4.MAXNAME, FATTR4.FILES_TOTAL, FATTR4.SPACE_TOTAL,
      FATTR4.CANSETTIME, FATTR4.CASE_INSENSITIVE, FATTR4.CASE_PRESERVING, FATTR4.HOMOGENEOUS, FATTR4.ACLSUPPORT, FATTR4.ACL];
    const [, , , f, fh] = await h.ok([op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('dir')), op(OP.LOOKUP, name('file.txt')), ga(...all), op(OP.GETFH, undefined)]);
    const m = decodeFattr(f);
    assert.ok(!m.has(FATTR4.ACL), 'unsupported attributes are left out');
    const sup = new Set(bitsOf(m.get(FATTR4.SUPPORTED_ATTRS) as number[]));
    for (const a of all.filter((x) => x !== FATTR4.ACL)) assert.ok(sup.has(a) && m.has(a), `attribute ${a}`);
    assert.ok(!sup.has(FATTR4.SUPPATTR_EXCLCREAT), '4.1 attribute not in 4.0');
    const attr = await v.paths.stat(ROOT_CTX, '/dir/file.txt');
    assert.equal(m.get(FATTR4.TYPE), NF4.REG);
    assert.equal(m.get(FATTR4.SIZE), 11n);
    assert.equal(m.get(FATTR4.FILEID), BigInt(attr.ino));
    assert.equal(m.get(FATTR4.MODE), 0o644);
    assert.equal(m.get(FATTR4.OWNER), '0');
    assert.equal(m.get(FATTR4.OWNER_GROUP), '0');
    assert.equal(m.get(FATTR4.CHANGE), attr.ctimeNs);
    assert.equal(m.get(FATTR4.LEASE_TIME), 90);
    assert.equal(m.get(FATTR4.FH_EXPIRE_TYPE), 0);
    assert.deepEqual(m.get(FATTR4.FILEHANDLE), fh);
    assert.deepEqual(m.get(FATTR4.FSID), { major: 1n, minor: 0n });
    assert.equal((m.get(FATTR4.TIME_MODIFY) as { seconds: bigint }).seconds, attr.mtimeNs / 1_000_000_000n);
    assert.equal(m.get(FATTR4.MAXREAD), 1n << 20n);
    const [, g1] = await h.ok([op(OP.PUTROOTFH, undefined), ga(FATTR4.SUPPATTR_EXCLCREAT, FATTR4.TYPE)], { minor: 0 });
    assert.deepEqual([...decodeFattr(g1).keys()], [FATTR4.TYPE]);
  });

  test('VERIFY and NVERIFY compare attributes; ACCESS grants as the VFS says', async () => {
    const size11 = encodeFattr([FATTR4.SIZE], () => 11n), size12 = encodeFattr([FATTR4.SIZE], () => 12n);
    const pre = [op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('dir')), op(OP.LOOKUP, name('file.txt'))];
    assert.equal((await h.compound([...pre, op(OP.VERIFY, size11)])).status, NFS4.OK);
    assert.equal((await h.compound([...pre, op(OP.VERIFY, size12)])).status, NFS4.ERR_NOT_SAME);
    assert.equal((await h.compound([...pre, op(OP.NVERIFY, size11)])).status, NFS4.ERR_SAME);
    assert.equal((await h.compound([...pre, op(OP.NVERIFY, size12)])).status, NFS4.OK);
    assert.equal((await h.compound([...pre, op(OP.VERIFY, { attrmask: bitmapOf([FATTR4.ACL]), attr_vals: Buffer.alloc(0) })])).status, NFS4.ERR_ATTRNOTSUPP);
    const want = ACCESS4.READ | ACCESS4.MODIFY | ACCESS4.EXECUTE;
    const [, , , acc] = await h.ok([...pre, op(OP.ACCESS, want)]);
    assert.deepEqual(acc, { supported: want, access: ACCESS4.READ | ACCESS4.MODIFY });
    const [, , , acc2] = await h.ok([...pre, op(OP.ACCESS, want)], { cred: sysCred(1000, 1000) });
    assert.deepEqual(acc2, { supported: want, access: ACCESS4.READ });
  });

  test('CREATE, REMOVE, RENAME, LINK, SETATTR with change_info and attrsset', async () => {
    const mk = await h.ok([op(OP.PUTROOTFH, undefined), op(OP.CREATE, { objtype: { tag: NF4.DIR, v: undefined }, objname: name('new'), createattrs: encodeFattr([FATTR4.MODE], () => 0o700) }), ga(FATTR4.TYPE, FATTR4.MODE)]);
    assert.deepEqual(bitsOf(mk[1].attrset), [FATTR4.MODE]);
    assert.ok(mk[1].cinfo.after >= mk[1].cinfo.before);
    assert.deepEqual([...decodeFattr(mk[2]).values()], [NF4.DIR, 0o700]);
    assert.equal((await v.paths.stat(ROOT_CTX, '/new')).mode & 0o777, 0o700);
    await h.ok([op(OP.PUTROOTFH, undefined), op(OP.CREATE, { objtype: { tag: NF4.LNK, v: Buffer.from('new') }, objname: name('sl'), createattrs: encodeFattr([], () => undefined) })]);
    assert.equal(await v.paths.readlink(ROOT_CTX, '/sl'), 'new');
    assert.equal((await h.compound([op(OP.PUTROOTFH, undefined), op(OP.CREATE, { objtype: { tag: NF4.REG, v: undefined }, objname: name('r'), createattrs: encodeFattr([], () => undefined) })])).status, NFS4.ERR_BADTYPE);
    assert.equal((await h.compound([op(OP.PUTROOTFH, undefined), op(OP.CREATE, { objtype: { tag: NF4.DIR, v: undefined }, objname: name('new'), createattrs: encodeFattr([], () => undefined) })])).status, NFS4.ERR_EXIST);
    // RENAME: saved = source dir, current = target dir.
    await h.ok([op(OP.PUTROOTFH, undefined), op(OP.SAVEFH, undefined), op(OP.LOOKUP, name('new')), op(OP.RENAME, { oldname: name('sl'), newname: name('sl2') })]);
    assert.equal(await v.paths.readlink(ROOT_CTX, '/new/sl2'), 'new');
    // LINK: saved = the file, current = the directory.
    await h.ok([op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('dir')), op(OP.LOOKUP, name('file.txt')), op(OP.SAVEFH, undefined), op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('new')), op(OP.LINK, name('hard'))]);
    assert.equal((await v.paths.stat(ROOT_CTX, '/new/hard')).nlink, 2);
    // SETATTR: mode, owner by number and name@domain, size with the anonymous stateid.
    const sa = await h.ok([op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('new')), op(OP.LOOKUP, name('hard')),
      op(OP.SETATTR, { stateid: ANON_SID, obj_attributes: encodeFattr([FATTR4.MODE, FATTR4.OWNER, FATTR4.OWNER_GROUP, FATTR4.SIZE], (a) => (a === FATTR4.MODE ? 0o600 : a === FATTR4.OWNER ? '1000@example.com' : a === FATTR4.OWNER_GROUP ? '100' : 5n)) })]);
    assert.deepEqual(bitsOf(sa[3]), [FATTR4.SIZE, FATTR4.MODE, FATTR4.OWNER, FATTR4.OWNER_GROUP]);
    const st = await v.paths.stat(ROOT_CTX, '/dir/file.txt');
    assert.deepEqual([st.mode & 0o777, st.uid, st.gid, st.size], [0o600, 1000, 100, 5]);
    const badOwner = await h.compound([op(OP.PUTROOTFH, undefined), op(OP.SETATTR, { stateid: ANON_SID, obj_attributes: encodeFattr([FATTR4.OWNER], () => 'alice') })]);
    assert.equal(badOwner.status, NFS4.ERR_BADOWNER);
    assert.deepEqual(badOwner.results[1]!.res, [], 'SETATTR answers attrsset on errors too');
    const ro = await h.compound([op(OP.PUTROOTFH, undefined), op(OP.SETATTR, { stateid: ANON_SID, obj_attributes: encodeFattr([FATTR4.FILEID], () => 1n) })]);
    assert.equal(ro.status, NFS4.ERR_INVAL);
    const perm = await h.compound([op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('new')), op(OP.SETATTR, { stateid: ANON_SID, obj_attributes: encodeFattr([FATTR4.MODE], () => 0o777) })], { cred: sysCred(1000, 1000) });
    assert.equal(perm.status, NFS4.ERR_PERM);
    // REMOVE a file, then the emptied directory.
    await h.ok([op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('new')), op(OP.REMOVE, name('hard')), op(OP.REMOVE, name('sl2'))]);
    assert.equal((await h.compound([op(OP.PUTROOTFH, undefined), op(OP.REMOVE, name('dir'))])).status, NFS4.ERR_NOTEMPTY);
    await h.ok([op(OP.PUTROOTFH, undefined), op(OP.REMOVE, name('new'))]);
    assert.equal((await h.compound([op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('new'))])).status, NFS4.ERR_NOENT);
  });

  test('a large READ reply comes as segments with the data uncopied; joined, it is the reply answer() gives', async () => {
    const pre = [op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('dir'))];
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 0xff;
    const { fh } = await v.paths.open(ROOT_CTX, '/dir/big.bin', { write: true, create: true });
    await v.vfs.write(ROOT_CTX, fh, 0, data);
    await v.vfs.release(ROOT_CTX, fh);
    const args = encodeCompound('t', 0, [...pre, op(OP.LOOKUP, name('big.bin')), op(OP.READ, { stateid: ANON_SID, offset: 1000n, count: 200_000 })]);
    const call = encodeCall({ xid: 4243, prog: NFS_PROG, vers: NFS4_VERSION, proc: NFSPROC4_COMPOUND, cred: ROOT_CRED }, args);
    const parts = await answerParts(h.programs, call, '127.0.0.1:700');
    assert.ok(parts && parts.some((b) => b.length === 200_000), 'the data is one segment');
    const whole = await answer(h.programs, call, '127.0.0.1:700');
    assert.deepEqual(Buffer.concat(parts), whole);
    const rep = decodeReply(whole!);
    assert.ok(rep.kind === 'accepted' && rep.stat === ACCEPT.SUCCESS);
    const res = decodeCompoundRes(rep.results);
    assert.equal(res.status, NFS4.OK);
    const rd = res.results[3]!.res as { eof: boolean; data: Buffer };
    assert.equal(rd.eof, false);
    assert.deepEqual(Buffer.from(rd.data), data.subarray(1000, 201_000));
  });

  test('READ, WRITE (stable and unstable) and COMMIT with the anonymous stateid', async () => {
    const pre = [op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('dir')), op(OP.LOOKUP, name('file.txt'))];
    const [, , , wr, cm] = await h.ok([...pre, op(OP.WRITE, { stateid: ANON_SID, offset: 0n, stable: STABLE4.UNSTABLE4, data: Buffer.from('HELLO') }), op(OP.COMMIT, { offset: 0n, count: 0 })]);
    assert.equal(wr.count, 5);
    assert.deepEqual(wr.verf, cm);
    const [, , , rd] = await h.ok([...pre, op(OP.READ, { stateid: ANON_SID, offset: 0n, count: 100 })]);
    assert.equal(rd.data.toString(), 'HELLO');
    assert.equal(rd.eof, true);
    const [, , , part] = await h.ok([...pre, op(OP.READ, { stateid: ANON_SID, offset: 1n, count: 2 })]);
    assert.deepEqual([part.data.toString(), part.eof], ['EL', false]);
    const [, , , past] = await h.ok([...pre, op(OP.READ, { stateid: ANON_SID, offset: 100n, count: 2 })]);
    assert.deepEqual([past.data.length, past.eof], [0, true]);
    assert.equal((await h.compound([op(OP.PUTROOTFH, undefined), op(OP.READ, { stateid: ANON_SID, offset: 0n, count: 1 })])).status, NFS4.ERR_ISDIR);
    assert.equal((await h.compound([...pre, op(OP.WRITE, { stateid: ANON_SID, offset: 0n, stable: STABLE4.FILE_SYNC4, data: Buffer.from('x') })], { cred: sysCred(2000, 2000) })).status, NFS4.ERR_ACCESS);
    assert.equal((await h.compound([...pre, op(OP.READ, { stateid: { seqid: 1, other: Buffer.alloc(12, 9) }, offset: 0n, count: 1 })])).status, NFS4.ERR_STALE_STATEID);
  });

  test('a COMPOUND whose reply would pass the limit stops with NFS4ERR_RESOURCE', async () => {
    const { fh } = await v.paths.open(ROOT_CTX, '/big', { write: true, create: true }, 0o644);
    await v.vfs.write(ROOT_CTX, fh, 0, Buffer.alloc(1 << 20, 7));
    await v.vfs.release(ROOT_CTX, fh);
    const rd = op(OP.READ, { stateid: ANON_SID, offset: 0n, count: 1 << 20 });
    const r = await h.compound([op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('big')), rd, rd, rd]);
    assert.equal(r.status, NFS4.ERR_RESOURCE);
    assert.deepEqual(r.results.map((x) => x.status), [NFS4.OK, NFS4.OK, NFS4.OK, NFS4.ERR_RESOURCE]);
    assert.equal(r.results[2]!.res.data.length, 1 << 20);
    await v.paths.unlink(ROOT_CTX, '/big');
  });

  test('READDIR: attributes per entry, paging by cookie within maxcount, TOOSMALL', async () => {
    for (let i = 0; i < 150; i++) await v.paths.mkdir(ROOT_CTX, `/many-${String(i).padStart(3, '0')}`, 0o755);
    const names: string[] = [];
    let cookie = 0n, rounds = 0;
    for (;;) {
      const [, rd] = await h.ok([op(OP.PUTROOTFH, undefined), op(OP.READDIR, { cookie, cookieverf: Buffer.alloc(8), dircount: 0, maxcount: 2048, attr_request: bitmapOf([FATTR4.TYPE, FATTR4.FILEID]) })]);
      rounds++;
      for (const e of rd.reply.entries) {
        names.push(e.name);
        assert.equal(decodeFattr(e.attrs).get(FATTR4.TYPE), e.name === 'link' ? NF4.LNK : NF4.DIR);
        cookie = e.cookie;
      }
      if (rd.reply.eof) break;
      assert.ok(rd.reply.entries.length > 0);
    }
    assert.ok(rounds > 2, 'several pages');
    assert.equal(names.filter((n) => n.startsWith('many-')).length, 150);
    assert.equal(new Set(names).size, names.length, 'no entry twice');
    assert.ok(!names.includes('.') && !names.includes('..'));
    const small = await h.compound([op(OP.PUTROOTFH, undefined), op(OP.READDIR, { cookie: 0n, cookieverf: Buffer.alloc(8), dircount: 0, maxcount: 20, attr_request: [] })]);
    assert.equal(small.status, NFS4.ERR_TOOSMALL);
    const rc = await h.compound([op(OP.PUTROOTFH, undefined), op(OP.READDIR, { cookie: 1n, cookieverf: Buffer.alloc(8), dircount: 0, maxcount: 4096, attr_request: [] })]);
    assert.equal(rc.status, NFS4.ERR_BAD_COOKIE);
  });

  test('SECINFO lists AUTH_SYS and AUTH_NONE', async () => {
    const [, sec] = await h.ok([op(OP.PUTROOTFH, undefined), op(OP.SECINFO, name('dir'))]);
    assert.deepEqual(sec, [1, 0]);
    assert.equal((await h.compound([op(OP.PUTROOTFH, undefined), op(OP.SECINFO, name('zzz'))])).status, NFS4.ERR_NOENT);
  });

  test('fuzz: random and mutated COMPOUNDs always get an RPC reply, never SERVERFAULT', async () => {
    const valid = encodeCompound('t', 0, [op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('dir')), ga(FATTR4.SIZE, FATTR4.TYPE), op(OP.READDIR, { cookie: 0n, cookieverf: Buffer.alloc(8), dircount: 100, maxcount: 1000, attr_request: [1] })]);
    await fc.assert(fc.asyncProperty(fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }).map((flips) => {
        const b = Buffer.from(valid);
        for (const [i, x] of flips) b[i % b.length] = x;
        return b;
      }),
    ), async (args) => {
      const r = await h.raw(new XdrWriter().fixed(args.subarray(0, args.length & ~3)).bytes());
      assert.ok(r.kind === 'accepted' && (r.stat === ACCEPT.SUCCESS || r.stat === ACCEPT.GARBAGE_ARGS));
      if (r.stat === ACCEPT.SUCCESS) assert.notEqual(r.results.uint(), NFS4.ERR_SERVERFAULT, 'no unexpected fault');
    }), { numRuns: Number(process.env.FUZZ_RUNS ?? 400) });
  });
});

describe('NFSv4 exports: pseudo-fs, read-only, unlisted clients', () => {
  let v: VfsInstance;
  let h: V4Harness;
  before(async () => {
    v = await createMemoryVfs();
    for (const d of ['/a', '/a/pub', '/a/priv', '/b']) await v.paths.mkdir(ROOT_CTX, d, 0o755);
    await v.paths.setattr(ROOT_CTX, '/b', { mode: 0o777 });
    h = await V4Harness.open(v.vfs, {
      exportList: [
        makeExport({ path: '/a/pub', clients: ['*'], readOnly: true, squash: 'none' }, 'e0'),
        makeExport({ path: '/a/priv', clients: ['10.0.0.1'], squash: 'none' }, 'e1'),
        makeExport({ path: '/b', clients: ['*'], squash: 'root' }, 'e2'),
      ],
    });
  });
  after(async () => {
    await h.close();
    await v.close();
  });

  test('PUTROOTFH is a pseudo directory leading to the exports the client may use', async () => {
    const [, rd] = await h.ok([op(OP.PUTROOTFH, undefined), op(OP.READDIR, { cookie: 0n, cookieverf: Buffer.alloc(8), dircount: 0, maxcount: 4096, attr_request: bitmapOf([FATTR4.TYPE]) })]);
    assert.deepEqual(rd.reply.entries.map((e: { name: string }) => e.name).sort(), ['a', 'b']);
    const [, , rd2] = await h.ok([op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('a')), op(OP.READDIR, { cookie: 0n, cookieverf: Buffer.alloc(8), dircount: 0, maxcount: 4096, attr_request: [] })]);
    assert.deepEqual(rd2.reply.entries.map((e: { name: string }) => e.name), ['pub'], 'priv is not listed for 127.0.0.1');
    assert.equal((await h.compound([op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('a')), op(OP.LOOKUP, name('priv'))])).status, NFS4.ERR_NOENT);
    const ok10 = await h.compound([op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('a')), op(OP.LOOKUP, name('priv')), op(OP.GETFH, undefined)], { peer: '10.0.0.1:800' });
    assert.equal(ok10.status, NFS4.OK);
    const privFh = ok10.results[3]!.res as Buffer;
    assert.equal((await h.compound([op(OP.PUTFH, privFh), ga(FATTR4.TYPE)])).status, NFS4.ERR_ACCESS);
    // Up and down: LOOKUPP from an export's directory reaches the pseudo directory.
    const [, , , , fh1, , fhA] = await h.ok([op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('a')), op(OP.LOOKUP, name('pub')), ga(FATTR4.FSID), op(OP.GETFH, undefined), op(OP.LOOKUPP, undefined), op(OP.GETFH, undefined)]);
    assert.equal(fh1.length, 24);
    const [, , gaA] = await h.ok([op(OP.PUTFH, fhA), op(OP.LOOKUPP, undefined), ga(FATTR4.TYPE, FATTR4.FSID)]);
    assert.deepEqual([...decodeFattr(gaA).values()], [NF4.DIR, { major: 0n, minor: 0n }]);
    assert.equal((await h.compound([op(OP.PUTROOTFH, undefined), op(OP.CREATE, { objtype: { tag: NF4.DIR, v: undefined }, objname: name('x'), createattrs: encodeFattr([], () => undefined) })])).status, NFS4.ERR_ROFS);
  });

  test('a read-only export answers ROFS to changes; squash applies to new files', async () => {
    const pub = [op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('a')), op(OP.LOOKUP, name('pub'))];
    const c = await h.compound([...pub, op(OP.CREATE, { objtype: { tag: NF4.DIR, v: undefined }, objname: name('x'), createattrs: encodeFattr([], () => undefined) })]);
    assert.equal(c.status, NFS4.ERR_ROFS);
    const [, , , acc] = await h.ok([...pub, op(OP.ACCESS, ACCESS4.READ | ACCESS4.MODIFY)]);
    assert.equal(acc.access, ACCESS4.READ);
    const clientid = await h.client40('squash-client');
    const owner = { clientid, owner: Buffer.from('o') };
    const r = await h.ok([op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('b')),
      op(OP.OPEN, { seqid: 0, share_access: 3, share_deny: 0, owner, openhow: { tag: OPEN4_CREATE, v: { tag: CREATEMODE4.UNCHECKED4, v: encodeFattr([FATTR4.MODE], () => 0o666) } }, claim: { tag: 0, v: name('f') } }),
      ga(FATTR4.OWNER, FATTR4.OWNER_GROUP)]);
    assert.deepEqual([...decodeFattr(r[3]).values()], ['65534', '65534'], 'root squashed to the anon ids');
  });
});


describe('NFSv4 exports: "/" for some clients, a sub-export for everyone', () => {
  let v: VfsInstance;
  let h: V4Harness;
  before(async () => {
    v = await createMemoryVfs();
    for (const d of ['/secret', '/srv', '/srv/public']) await v.paths.mkdir(ROOT_CTX, d, 0o755);
    h = await V4Harness.open(v.vfs, {
      exportList: [makeExport({ path: '/', clients: ['127.0.0.1'], squash: 'none' }, 'e0'), makeExport({ path: '/srv/public', clients: ['*'] }, 'e1')],
    });
  });
  after(async () => {
    await h.close();
    await v.close();
  });

  test('a listed client gets the real root; any other client only the pseudo-fs path to its export', async () => {
    const rd = (peer: string, ...path: string[]) => h.compound([op(OP.PUTROOTFH, undefined), ...path.map((p) => op(OP.LOOKUP, name(p))), op(OP.READDIR, { cookie: 0n, cookieverf: Buffer.alloc(8), dircount: 0, maxcount: 4096, attr_request: [] })], { peer });
    const local = await rd('127.0.0.1:1');
    assert.deepEqual(local.results.at(-1)!.res.reply.entries.map((e: { name: string }) => e.name).sort(), ['secret', 'srv']);
    const far = await rd('10.9.9.9:1');
    assert.deepEqual(far.results.at(-1)!.res.reply.entries.map((e: { name: string }) => e.name), ['srv']);
    const far2 = await rd('10.9.9.9:1', 'srv');
    assert.deepEqual(far2.results.at(-1)!.res.reply.entries.map((e: { name: string }) => e.name), ['public']);
    assert.equal((await rd('10.9.9.9:1', 'secret')).status, NFS4.ERR_NOENT);
    assert.equal((await rd('10.9.9.9:1', 'srv', 'public')).status, NFS4.OK);
    // The pseudo-fs has no files: OPEN there is ROFS (create) or ISDIR / NOENT.
    const cid = await h.client40('far');
    const open = (create: boolean, file: string) => op(OP.OPEN, {
      seqid: 0, share_access: 1, share_deny: 0, owner: { clientid: cid, owner: name('o') },
      openhow: create ? { tag: OPEN4_CREATE, v: { tag: CREATEMODE4.UNCHECKED4, v: encodeFattr([], () => undefined) } } : { tag: 0, v: undefined }, claim: { tag: 0, v: name(file) },
    });
    assert.equal((await h.compound([op(OP.PUTROOTFH, undefined), open(true, 'x')], { peer: '10.9.9.9:1' })).status, NFS4.ERR_ROFS);
    assert.equal((await h.compound([op(OP.PUTROOTFH, undefined), op(OP.OPEN, { seqid: 1, share_access: 1, share_deny: 0, owner: { clientid: cid, owner: name('o') }, openhow: { tag: 0, v: undefined }, claim: { tag: 0, v: name('srv') } })], { peer: '10.9.9.9:1' })).status, NFS4.ERR_ISDIR);
    // From the root export's directory LOOKUPP is NOENT; from the sub-export it leads back up.
    assert.equal((await h.compound([op(OP.PUTROOTFH, undefined), op(OP.LOOKUPP, undefined)], { peer: '127.0.0.1:1' })).status, NFS4.ERR_NOENT);
    const up = await h.compound([op(OP.PUTROOTFH, undefined), op(OP.LOOKUP, name('srv')), op(OP.LOOKUP, name('public')), op(OP.LOOKUPP, undefined), op(OP.GETATTR, bitmapOf([FATTR4.FSID]))], { peer: '10.9.9.9:1' });
    assert.deepEqual(decodeFattr(up.results[4]!.res).get(FATTR4.FSID), { major: 0n, minor: 0n }, 'a pseudo directory');
  });
});
