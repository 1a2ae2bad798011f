/**
 * The test client's NFSv4.1 codec: argument bytes laid out as RFC 8881/5662 say, result
 * decoding of hand-built replies (OPEN with each delegation kind, LOCK DENIED, SETATTR's
 * attrsset on failure, fattr4), and fuzzing: every decoder gives a value or an XdrError.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { XdrError, XdrReader, XdrWriter } from '../../protocols/nfs/wire/xdr.js';
import {
  bitmapOf, bitsOf, bodyOf, CLAIM, CREATEMODE, decodeCompound, DELEG, encodeCompound, FATTR4, LOCK_TYPE, NFS4ERR, OP, ops,
  readFattr, resultOf, statusName,
} from './nfs4.js';

const hex = (b: Buffer) => b.toString('hex');
const sessionid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

test('bitmap4: bits to words and back (attribute 75 lands in word 2)', () => {
  assert.deepEqual(bitmapOf([0, 1, 33, 75]), [3, 2, 1 << 11]);
  assert.deepEqual(bitsOf(bitmapOf([4, 19, 20, 36, 75])), [4, 19, 20, 36, 75]);
  assert.deepEqual(bitmapOf([]), []);
});

test('COMPOUND4args: tag, minorversion, then each op number and its arguments', () => {
  const b = encodeCompound('t', 1, [ops.sequence(sessionid, 7, 0, 3, true), ops.putrootfh(), ops.getattr([FATTR4.TYPE, FATTR4.SIZE])]);
  assert.equal(hex(b), [
    '00000001', '74000000', // tag "t"
    '00000001', '00000003', // minorversion 1, three ops
    '00000035', hex(sessionid), '00000007', '00000000', '00000003', '00000001', // SEQUENCE
    '00000018', // PUTROOTFH
    '00000009', '00000001', '00000012', // GETATTR bitmap {type, size}
  ].join(''));
});

test('OPEN4args: create GUARDED with mode, CLAIM_NULL; EXCLUSIVE4_1 carries verifier and attrs; CLAIM_PREVIOUS', () => {
  const owner = { clientid: 0x0102030405060708n, owner: Buffer.from('ab') };
  const g = encodeCompound('', 1, [ops.open({ access: 3, deny: 2, owner, how: { create: true, mode: CREATEMODE.GUARDED, attrs: { mode: 0o640 } }, claim: { claim: CLAIM.NULL, name: 'f' } })]);
  assert.equal(hex(g.subarray(12)), [
    '00000012', '00000000', '00000003', '00000002', // OPEN, seqid, access BOTH, deny WRITE
    '0102030405060708', '00000002', '61620000', // open_owner4
    '00000001', '00000001', // OPEN4_CREATE, GUARDED4
    '00000002', '00000000', '00000002', '00000004', '000001a0', // fattr4 {mode}: bitmap [0, bit 1 of word 1], 4 bytes, 0640
    '00000000', '00000001', '66000000', // CLAIM_NULL "f"
  ].join(''));
  const v = Buffer.from('0123456789abcdef', 'hex');
  const x = encodeCompound('', 1, [ops.open({ access: 1, deny: 0, owner, how: { create: true, mode: CREATEMODE.EXCLUSIVE4_1, verifier: v }, claim: { claim: CLAIM.PREVIOUS, delegType: DELEG.NONE } })]);
  assert.ok(hex(x).endsWith(['00000001', '00000003', hex(v), '00000000', '00000000', '00000001', '00000000'].join('')));
});

test('LOCK4args with a new lock-owner and the all-ones length (to EOF)', () => {
  const st = { seqid: 1, other: Buffer.alloc(12, 0xaa) };
  const b = encodeCompound('', 1, [ops.lock(LOCK_TYPE.WRITE, false, 0, 0xffffffffffffffffn, { newOwner: true, openSeqid: 0, openStateid: st, lockSeqid: 0, owner: { clientid: 1n, owner: Buffer.from('lo') } })]);
  assert.equal(hex(b.subarray(12)), [
    '0000000c', '00000002', '00000000', '0000000000000000', 'ffffffffffffffff', '00000001',
    '00000000', '00000001', 'aa'.repeat(12), '00000000', '0000000000000001', '00000002', '6c6f0000',
  ].join(''));
});

/** A COMPOUND4res with the given status and encoded results. */
function reply(status: number, results: ((w: XdrWriter) => void)[]): XdrReader {
  const w = new XdrWriter().uint(status).string('').uint(results.length);
  for (const r of results) r(w);
  return new XdrReader(w.bytes());
}
const stateid = (w: XdrWriter, seqid: number, fill: number) => w.uint(seqid).fixed(Buffer.alloc(12, fill));

test('OPEN4resok with each delegation kind decodes to the open stateid', () => {
  const cases: [number, (w: XdrWriter) => void][] = [
    [DELEG.NONE, () => {}],
    [DELEG.READ, (w) => { stateid(w, 1, 2); w.bool(false).uint(0).uint(0).uint(0).string('EVERYONE@'); }],
    [DELEG.WRITE, (w) => { stateid(w, 1, 3); w.bool(false).uint(1).uhyper(4096).uint(0).uint(0).uint(0).string('OWNER@'); }],
    [DELEG.NONE_EXT, (w) => { w.uint(1).bool(true); }],
  ];
  for (const [kind, body] of cases) {
    const c = decodeCompound(reply(0, [(w) => {
      w.uint(OP.OPEN).uint(0);
      stateid(w, 1, 9);
      w.bool(true).uhyper(1).uhyper(2).uint(4).uint(0); // cinfo, rflags LOCKTYPE_POSIX, attrset []
      w.uint(kind); body(w);
    }]));
    const o = resultOf(c, 'OPEN');
    assert.equal(o.delegType, kind);
    assert.ok(o.stateid.other.equals(Buffer.alloc(12, 9)));
    assert.equal(o.rflags, 4);
  }
});

test('LOCK\'s DENIED body names the holder; SETATTR keeps its attrsset on failure', () => {
  const c = decodeCompound(reply(NFS4ERR.DENIED, [
    (w) => w.uint(OP.SEQUENCE).uint(0).fixed(sessionid).uint(1).uint(0).uint(7).uint(7).uint(0),
    (w) => w.uint(OP.PUTFH).uint(0),
    (w) => { w.uint(OP.LOCK).uint(NFS4ERR.DENIED).uhyper(0).uhyper(100).uint(LOCK_TYPE.WRITE).uhyper(5n).opaque(Buffer.from('holder')); },
  ]));
  assert.equal(statusName(c.status), 'NFS4ERR_DENIED');
  const d = bodyOf(c, 'LOCK')?.denied;
  assert.deepEqual({ off: d?.offset, len: d?.length, type: d?.type, cid: d?.owner.clientid, o: d?.owner.owner.toString() }, { off: 0n, len: 100n, type: 2, cid: 5n, o: 'holder' });
  assert.throws(() => resultOf(c, 'LOCK'), /LOCK answered NFS4ERR_DENIED/);
  const s = decodeCompound(reply(NFS4ERR.PERM, [(w) => { w.uint(OP.SETATTR).uint(NFS4ERR.PERM).uint(0); }]));
  assert.deepEqual(bodyOf(s, 'SETATTR'), { attrset: [] });
});

test('fattr4: REQUIRED attributes and the few RECOMMENDED ones the suite reads', () => {
  const vals = new XdrWriter();
  vals.array(bitmapOf([0, 4]), (w, x) => w.uint(x)); // supported_attrs
  vals.uint(1).uhyper(42).uhyper(1234); // type REG, change, size
  vals.opaque(Buffer.from([1, 2, 3])).uhyper(99).uint(0o644).string('root@localdomain');
  const w = new XdrWriter();
  w.array(bitmapOf([0, 1, 3, 4, 19, 20, 33, 36]), (x, v) => x.uint(v)).opaque(vals.bytes());
  const a = readFattr(new XdrReader(w.bytes()));
  assert.deepEqual(a, { supportedAttrs: [0, 4], type: 1, change: 42n, size: 1234n, filehandle: Buffer.from([1, 2, 3]), fileid: 99n, mode: 0o644, owner: 'root@localdomain' });
});

test('fuzz: decodeCompound of random or mutated replies gives a value or an XdrError', () => {
  const only = (f: () => unknown) => {
    try { f(); } catch (e) { if (!(e instanceof XdrError)) throw e; }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => only(() => decodeCompound(new XdrReader(Buffer.from(b))))), { numRuns: 2000 });
  const valid = (() => {
    const r = reply(0, [
      (w) => w.uint(OP.SEQUENCE).uint(0).fixed(sessionid).uint(1).uint(0).uint(7).uint(7).uint(0),
      (w) => { w.uint(OP.OPEN).uint(0); stateid(w, 1, 9); w.bool(true).uhyper(1).uhyper(2).uint(4).uint(0).uint(DELEG.READ); stateid(w, 1, 2); w.bool(false).uint(0).uint(0).uint(0).string('x'); },
      (w) => w.uint(OP.GETFH).uint(0).opaque(Buffer.alloc(24, 1)),
      (w) => { w.uint(OP.GETATTR).uint(0).array(bitmapOf([1, 4]), (x, v) => x.uint(v)).opaque(new XdrWriter().uint(1).uhyper(5).bytes()); },
      (w) => w.uint(OP.READ).uint(0).bool(true).opaque(Buffer.from('data')),
    ]);
    return Buffer.from(r.fixed(r.remaining()));
  })();
  assert.equal(decodeCompound(new XdrReader(valid)).results.length, 5);
  fc.assert(fc.property(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.nat({ max: valid.length }), (at, byte, cut) => {
    const m = Buffer.from(valid);
    m[at] = byte;
    only(() => decodeCompound(new XdrReader(m)));
    only(() => decodeCompound(new XdrReader(m.subarray(0, cut))));
  }), { numRuns: 3000 });
});
