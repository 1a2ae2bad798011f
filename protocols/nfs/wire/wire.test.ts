/** XDR, RPC, record marking, PORTMAP, MOUNT and NFSv3 codecs: round trips and fuzzing (fast-check). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeDirpath, decodeExports, decodeMntResult, encodeExports, encodeMntResult, MNT3 } from './mount.js';
import { ARGS, CREATE_MODE, decodeArgs, encodeArgs, FTYPE, PROC, readDirList, readFattr3, readWcc, writeFattr3, writeWcc, type Fattr3, type Proc } from './nfs3.js';
import { decodeDumpResult, decodeMapping, decodeRpcb, decodeRpcbDumpResult, encodeDumpResult, encodeRpcbDumpResult, MAX_RPCB_STRING } from './portmap.js';
import { frameRecord, RecordDecoder, RECYCLE_MIN } from './record.js';
import { ACCEPT, AUTH, decodeAuthSys, decodeCall, decodeReply, encodeAuthSys, encodeCall, errorReply, progMismatchReply, rpcMismatchReply, authErrorReply, RpcBadCredError, RpcVersionError } from './rpc.js';
import { settleLoans, XdrError, XdrReader, XdrWriter } from './xdr.js';

const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
/** Runs `f`; anything thrown must be an XdrError. */
const onlyXdrErrors = (f: () => unknown): void => {
  try {
    f();
  } catch (err) {
    if (!(err instanceof XdrError)) throw err;
  }
};

test('XDR: opaqueRef encodes as opaque does, the payload referenced, not copied', () => {
  for (const n of [0, 3, 4095, 4096, 70_001]) {
    const data = Buffer.alloc(n, 7);
    const ref = new XdrWriter(8).uint(1).opaqueRef(data).uint(2);
    const copy = new XdrWriter(8).uint(1).opaque(data).uint(2);
    assert.deepEqual(ref.bytes(), copy.bytes(), `size ${n}`);
    assert.equal(ref.length, copy.length);
    const parts = ref.parts();
    assert.deepEqual(Buffer.concat(parts), copy.bytes());
    if (n >= 4096) assert.ok(parts.some((p) => p.buffer === data.buffer), 'the payload is one of the parts');
    else assert.equal(parts.length, 1);
  }
  assert.throws(() => new XdrWriter().opaqueRef(Buffer.alloc(5000)).patchUint(0, 1), RangeError);
});

test('XDR: lent payloads go back once: copied at once, referenced when the parts are settled or joined', () => {
  let back = 0;
  const giveBack = (): void => { back++; };
  new XdrWriter().opaqueRef(Buffer.alloc(100), giveBack);
  assert.equal(back, 1, 'a small payload is copied: given back at once');
  const w = new XdrWriter().uint(1).opaqueRef(Buffer.alloc(8192, 3), giveBack).uint(2);
  const parts = w.parts();
  assert.equal(back, 1, 'referenced: kept until the parts are settled');
  settleLoans([Buffer.alloc(8), ...parts]);
  assert.equal(back, 2);
  settleLoans(parts);
  assert.equal(back, 2, 'once');
  const joined = new XdrWriter().opaqueRef(Buffer.alloc(8192, 4), giveBack);
  assert.equal(joined.bytes().length, 4 + 8192);
  assert.equal(back, 3, 'bytes() copies it: given back then');
});

test('XDR: integers, hypers, bools, padding, opaque and string limits', () => {
  const w = new XdrWriter(4).uint(0xffffffff).int(-2).uhyper(2n ** 64n - 1n).hyper(-5n).bool(true).opaque(Buffer.from('abcde')).string('héllo').fixed(Buffer.from([1, 2, 3]));
  const b = w.bytes();
  assert.equal(b.length % 4, 0);
  const r = new XdrReader(b);
  assert.equal(r.uint(), 0xffffffff);
  assert.equal(r.int(), -2);
  assert.equal(r.uhyper(), 2n ** 64n - 1n);
  assert.equal(r.hyper(), -5n);
  assert.equal(r.bool(), true);
  assert.equal(r.opaque(5).toString(), 'abcde');
  assert.equal(r.string(16), 'héllo');
  assert.deepEqual([...r.fixed(3)], [1, 2, 3]);
  r.end();
  assert.throws(() => new XdrReader(new XdrWriter().opaque(Buffer.alloc(9)).bytes()).opaque(8), XdrError);
  assert.throws(() => new XdrReader(Buffer.from([0, 0, 0, 2])).bool(), XdrError);
  assert.throws(() => new XdrReader(Buffer.from([0, 0, 0, 1, 7, 1, 0, 0])).opaque(4), /padding/);
  assert.throws(() => new XdrReader(Buffer.from([0, 0, 0, 2, 0xff, 0xfe, 0, 0])).string(4), /UTF-8/);
  assert.throws(() => new XdrReader(Buffer.from([0, 0, 0, 9])).array(8, (x) => x.uint()), /too long/);
  assert.throws(() => new XdrReader(Buffer.from([0, 0])).uint(), /truncated/);
});

test('XDR reader: any bytes through any read give a value or an XdrError', () => {
  fc.assert(fc.property(bytes, fc.integer({ min: 0, max: 64 }), (b, max) => {
    for (const f of [(r: XdrReader) => r.opaque(max), (r: XdrReader) => r.string(max), (r: XdrReader) => r.array(max, (x) => x.uhyper()), (r: XdrReader) => r.optional((x) => x.bool()), (r: XdrReader) => r.fixed(max)]) {
      onlyXdrErrors(() => f(new XdrReader(b)));
    }
  }), { numRuns: 300 });
});

test('RPC: a call with AUTH_SYS round-trips; versions and bad credentials are told apart', () => {
  const sys = { stamp: 7, machinename: 'host', uid: 1000, gid: 100, gids: [100, 27] };
  const msg = encodeCall({ xid: 42, prog: 100003, vers: 3, proc: 1, cred: { flavor: AUTH.SYS, body: encodeAuthSys(sys) } }, Buffer.from([0, 0, 0, 0]));
  const c = decodeCall(msg);
  assert.deepEqual({ xid: c.xid, prog: c.prog, vers: c.vers, proc: c.proc, sys: c.sys }, { xid: 42, prog: 100003, vers: 3, proc: 1, sys });
  assert.equal(c.args.uint(), 0);
  const v3 = Buffer.from(msg);
  v3.writeUInt32BE(3, 8);
  assert.throws(() => decodeCall(v3), (e: unknown) => e instanceof RpcVersionError && e.xid === 42);
  const badSys = encodeCall({ xid: 1, prog: 1, vers: 1, proc: 1, cred: { flavor: AUTH.SYS, body: Buffer.from([0, 0, 0, 1]) } });
  assert.throws(() => decodeCall(badSys), RpcBadCredError);
  assert.throws(() => decodeAuthSys(encodeAuthSys({ ...sys, gids: Array(17).fill(1) })), /too long/);
  const r1 = decodeReply(progMismatchReply(5, 3, 3));
  assert.ok(r1.kind === 'accepted' && r1.stat === ACCEPT.PROG_MISMATCH && r1.mismatch?.low === 3);
  const r2 = decodeReply(errorReply(6, ACCEPT.GARBAGE_ARGS));
  assert.ok(r2.kind === 'accepted' && r2.stat === ACCEPT.GARBAGE_ARGS && r2.xid === 6);
  const r3 = decodeReply(rpcMismatchReply(7));
  assert.ok(r3.kind === 'denied' && r3.mismatch?.low === 2);
  const r4 = decodeReply(authErrorReply(8, 1));
  assert.ok(r4.kind === 'denied' && r4.authStat === 1);
});

test('RPC: any bytes into decodeCall give a call or an XdrError', () => {
  fc.assert(fc.property(bytes, (b) => onlyXdrErrors(() => decodeCall(b))), { numRuns: 1000 });
  // Valid headers with random credential bodies and flavors.
  fc.assert(fc.property(fc.integer({ min: 0, max: 3 }), bytes, (flavor, body) => {
    onlyXdrErrors(() => decodeCall(encodeCall({ xid: 1, prog: 100003, vers: 3, proc: 0, cred: { flavor, body: body.subarray(0, 400) } })));
  }), { numRuns: 500 });
});

test('record marking: fragments reassemble across any split; too-large records are refused', () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 50 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 17 }), (frags, step) => {
    const parts = frags.map((f, i) => {
      const h = Buffer.alloc(4);
      h.writeUInt32BE(((i === frags.length - 1 ? 0x80000000 : 0) | f.length) >>> 0);
      return Buffer.concat([h, f]);
    });
    const stream = Buffer.concat([...parts, frameRecord(Buffer.from('next'))]);
    const d = new RecordDecoder(1000);
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i += step) out.push(...d.push(stream.subarray(i, i + step)));
    assert.equal(out.length, 2);
    assert.deepEqual(out[0], Buffer.concat(frags.map((f) => Buffer.from(f))));
    assert.equal(out[1]!.toString(), 'next');
  }));
  const d = new RecordDecoder(100);
  assert.throws(() => d.push(frameRecord(Buffer.alloc(101))), XdrError);
  assert.throws(() => new RecordDecoder(100).push(Buffer.alloc(4 * 1025)), /fragments/, 'endless empty fragments');
  fc.assert(fc.property(bytes, (b) => onlyXdrErrors(() => new RecordDecoder(200).push(b))), { numRuns: 500 });
});

test('record marking: large records reuse released buffers, in one fragment or several, and keep their bytes', () => {
  const size = RECYCLE_MIN + 100;
  const rec = (fill: number) => Buffer.alloc(size, fill);
  const feed = (d: RecordDecoder, stream: Buffer): Buffer[] => {
    const out: Buffer[] = [];
    for (let at = 0; at < stream.length; at += 65536) out.push(...d.push(Buffer.from(stream.subarray(at, at + 65536))));
    return out;
  };
  const twoFragments = (r: Buffer): Buffer => {
    const h1 = Buffer.alloc(4), h2 = Buffer.alloc(4);
    h1.writeUInt32BE(1000);
    h2.writeUInt32BE((0x80000000 | (r.length - 1000)) >>> 0);
    return Buffer.concat([h1, r.subarray(0, 1000), h2, r.subarray(1000)]);
  };
  const d = new RecordDecoder(2 * RECYCLE_MIN);
  const [a] = feed(d, frameRecord(rec(1)));
  const [b] = feed(d, twoFragments(rec(2)));
  assert.ok(a && b && a.buffer !== b.buffer);
  assert.deepEqual(b, rec(2));
  RecordDecoder.release(a);
  RecordDecoder.release(a); // ignored
  const [c] = feed(d, twoFragments(rec(3)));
  assert.equal(c!.buffer, a.buffer, 'the released buffer is reused');
  assert.deepEqual(c, rec(3));
  assert.deepEqual(b, rec(2), 'a record still in use is untouched');
  const [e] = feed(d, frameRecord(rec(4)));
  assert.ok(e!.buffer !== c!.buffer && e!.buffer !== b.buffer, 'a buffer is never lent twice');
  const small = d.push(frameRecord(Buffer.from('tiny')))[0]!;
  RecordDecoder.release(small); // a view of the socket chunk: ignored
  for (const x of [b, c, e]) RecordDecoder.release(x!);
});

test('PORTMAP, rpcbind and MOUNT results round-trip; their decoders take any bytes', () => {
  const maps = [{ prog: 100003, vers: 3, prot: 6, port: 2049 }, { prog: 100005, vers: 3, prot: 6, port: 2049 }];
  assert.deepEqual(decodeDumpResult(new XdrReader(encodeDumpResult(maps))), maps);
  const fh = Buffer.alloc(24, 7);
  assert.deepEqual(decodeMntResult(new XdrReader(encodeMntResult(MNT3.OK, fh, [0, 1]))), { status: 0, fh, flavors: [0, 1] });
  assert.deepEqual(decodeMntResult(new XdrReader(encodeMntResult(MNT3.ERR_NOENT))), { status: 2 });
  const ex = [{ dir: '/', groups: ['*'] }, { dir: '/x', groups: [] }];
  assert.deepEqual(decodeExports(new XdrReader(encodeExports(ex))), ex);
  const rpcbs = [{ prog: 100003, vers: 3, netid: 'tcp', addr: '127.0.0.1.8.1', owner: 'superuser' }, { prog: 100000, vers: 4, netid: 'udp6', addr: '::1.0.111', owner: '' }];
  assert.deepEqual(decodeRpcbDumpResult(new XdrReader(encodeRpcbDumpResult(rpcbs))), rpcbs);
  fc.assert(fc.property(bytes, (b) => {
    for (const f of [decodeMapping, decodeDumpResult, decodeRpcb, decodeRpcbDumpResult, decodeMntResult, decodeExports, decodeDirpath]) onlyXdrErrors(() => f(new XdrReader(b)));
  }), { numRuns: 500 });
  // rpcb strings above MAX_RPCB_STRING are refused, not read.
  const long = new XdrWriter().uint(1).uint(1).string('t'.repeat(MAX_RPCB_STRING + 1)).string('').string('').bytes();
  assert.throws(() => decodeRpcb(new XdrReader(long)), XdrError);
});

const fh = Buffer.from('0102030405060708090a0b0c0d0e0f1011121314', 'hex');
const dirop = { dir: fh, name: 'file.txt' };
const samples: { [P in Proc]: Parameters<typeof encodeArgs<P>>[1] } = {
  [PROC.NULL]: null,
  [PROC.GETATTR]: fh,
  [PROC.SETATTR]: { fh, attr: { mode: 0o644, size: 10n, atime: 'server', mtime: { sec: 5, nsec: 6 } }, guard: { sec: 1, nsec: 2 } },
  [PROC.LOOKUP]: dirop,
  [PROC.ACCESS]: { fh, access: 0x3f },
  [PROC.READLINK]: fh,
  [PROC.READ]: { fh, offset: 1n << 40n, count: 4096 },
  [PROC.WRITE]: { fh, offset: 3n, count: 5, stable: 2, data: Buffer.from('hello') },
  [PROC.CREATE]: { where: dirop, mode: CREATE_MODE.EXCLUSIVE, verf: Buffer.alloc(8, 9) },
  [PROC.MKDIR]: { where: dirop, attr: { mode: 0o755 } },
  [PROC.SYMLINK]: { where: dirop, attr: {}, target: '../t' },
  [PROC.MKNOD]: { where: dirop, type: FTYPE.CHR, attr: { uid: 1 }, rdev: [1, 3] },
  [PROC.REMOVE]: dirop,
  [PROC.RMDIR]: dirop,
  [PROC.RENAME]: { from: dirop, to: { dir: fh, name: 'b' } },
  [PROC.LINK]: { fh, link: dirop },
  [PROC.READDIR]: { fh, cookie: 7n, verf: Buffer.alloc(8), count: 4096 },
  [PROC.READDIRPLUS]: { fh, cookie: 0n, verf: Buffer.alloc(8, 1), dircount: 512, maxcount: 8192 },
  [PROC.FSSTAT]: fh,
  [PROC.FSINFO]: fh,
  [PROC.PATHCONF]: fh,
  [PROC.COMMIT]: { fh, offset: 0n, count: 0 },
};

test('NFSv3 arguments of every procedure round-trip', () => {
  for (const p of Object.values(PROC)) {
    const enc = encodeArgs(p, samples[p]);
    assert.deepEqual(decodeArgs(p, new XdrReader(enc)), samples[p], `proc ${p}`);
    if (enc.length >= 4) assert.throws(() => decodeArgs(p, new XdrReader(enc.subarray(0, enc.length - 4))), XdrError);
  }
  assert.equal(Object.keys(ARGS).length, 22);
});

test('NFSv3 argument decoders: any bytes, and mutated valid arguments, give a value or an XdrError', () => {
  fc.assert(fc.property(fc.constantFrom(...Object.values(PROC)), bytes, (p, b) => onlyXdrErrors(() => decodeArgs(p, new XdrReader(b)))), { numRuns: 2000 });
  fc.assert(fc.property(fc.constantFrom(...Object.values(PROC)), fc.nat(), fc.integer({ min: 0, max: 255 }), (p, at, v) => {
    const enc = Buffer.from(encodeArgs(p, samples[p]));
    if (enc.length) enc[at % enc.length] = v;
    onlyXdrErrors(() => decodeArgs(p, new XdrReader(enc)));
  }), { numRuns: 2000 });
});

test('fattr3, wcc_data and directory lists round-trip', () => {
  const a: Fattr3 = { type: 1, mode: 0o644, nlink: 1, uid: 1, gid: 2, size: 5n, used: 4096n, rdev: [0, 0], fsid: 1n, fileid: 99n, atime: { sec: 1, nsec: 2 }, mtime: { sec: 3, nsec: 4 }, ctime: { sec: 5, nsec: 6 } };
  const w = new XdrWriter();
  writeFattr3(w, a);
  writeWcc(w, { size: 1n, mtime: a.mtime, ctime: a.ctime }, a);
  w.bool(true).uhyper(1n).string('x').uhyper(3n).bool(true);
  writeFattr3(w, a);
  w.bool(false).bool(false).bool(true);
  const r = new XdrReader(w.bytes());
  assert.deepEqual(readFattr3(r), a);
  assert.deepEqual(readWcc(r), { pre: { size: 1n, mtime: a.mtime, ctime: a.ctime }, post: a });
  assert.deepEqual(readDirList(r, true), { entries: [{ fileid: 1n, name: 'x', cookie: 3n, attr: a }], eof: true });
  r.end();
  fc.assert(fc.property(bytes, fc.boolean(), (b, plus) => onlyXdrErrors(() => readDirList(new XdrReader(b), plus))), { numRuns: 500 });
});
