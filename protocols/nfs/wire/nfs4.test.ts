/**
 * NFSv4 codecs: round trips of every operation's arguments and of COMPOUND4args, fattr4
 * encoding/decoding, bitmaps; fast-check fuzzing of the COMPOUND header and every op decoder
 * (random bytes and mutated valid arguments): a value or an XdrError, never anything else.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { AttrDecodeError, bitmapOf, bitsOf, decodeFattr, encodeFattr, FATTR4, SETTABLE } from './nfs4-attr.js';
import {
  CLAIM, CREATEMODE4, decodeCompoundHeader, decodeOpArgs, encodeCompound, isKnownOp, MAX_TAG, NF4, OP, OP_ARGS, OPEN4_CREATE, OPEN4_NOCREATE, SP4,
  type Op4,
} from './nfs4.js';
import { XdrError, XdrReader, XdrWriter } from './xdr.js';

const sid = { seqid: 3, other: Buffer.from('0123456789ab') };
const owner = { clientid: 0x1234_5678_9abc_def0n, owner: Buffer.from('owner-1') };
const fattr = encodeFattr([FATTR4.SIZE, FATTR4.MODE], (a) => (a === FATTR4.SIZE ? 10n : 0o640));
const verf = Buffer.from('verifier');
const chan = { ca_headerpadsize: 0, ca_maxrequestsize: 1 << 20, ca_maxresponsesize: 1 << 20, ca_maxresponsesize_cached: 4096, ca_maxoperations: 16, ca_maxrequests: 8, ca_rdma_ird: [] };

/** One valid argument value per operation that has a codec. */
const SAMPLES: Record<number, unknown[]> = {
  [OP.ACCESS]: [0x3f],
  [OP.CLOSE]: [{ seqid: 2, open_stateid: sid }],
  [OP.COMMIT]: [{ offset: 5n, count: 100 }],
  [OP.CREATE]: [
    { objtype: { tag: NF4.DIR, v: undefined }, objname: Buffer.from('d'), createattrs: fattr },
    { objtype: { tag: NF4.LNK, v: Buffer.from('target') }, objname: Buffer.from('l'), createattrs: fattr },
    { objtype: { tag: NF4.CHR, v: { specdata1: 1, specdata2: 3 } }, objname: Buffer.from('c'), createattrs: fattr },
  ],
  [OP.DELEGPURGE]: [7n],
  [OP.DELEGRETURN]: [sid],
  [OP.GETATTR]: [[0x10011a, 0x30a03a]],
  [OP.GETFH]: [undefined],
  [OP.LINK]: [Buffer.from('newname')],
  [OP.LOCK]: [
    { locktype: 2, reclaim: false, offset: 0n, length: 0xffffffffffffffffn, locker: { tag: 1, v: { open_seqid: 1, open_stateid: sid, lock_seqid: 0, lock_owner: owner } } },
    { locktype: 1, reclaim: true, offset: 10n, length: 5n, locker: { tag: 0, v: { lock_stateid: sid, lock_seqid: 4 } } },
  ],
  [OP.LOCKT]: [{ locktype: 4, offset: 0n, length: 1n, owner }],
  [OP.LOCKU]: [{ locktype: 1, seqid: 9, lock_stateid: sid, offset: 1n, length: 2n }],
  [OP.LOOKUP]: [Buffer.from('name')],
  [OP.LOOKUPP]: [undefined],
  [OP.NVERIFY]: [fattr],
  [OP.OPEN]: [
    { seqid: 1, share_access: 1, share_deny: 0, owner, openhow: { tag: OPEN4_NOCREATE, v: undefined }, claim: { tag: CLAIM.NULL, v: Buffer.from('f') } },
    { seqid: 2, share_access: 3, share_deny: 2, owner, openhow: { tag: OPEN4_CREATE, v: { tag: CREATEMODE4.GUARDED4, v: fattr } }, claim: { tag: CLAIM.NULL, v: Buffer.from('g') } },
    { seqid: 3, share_access: 2, share_deny: 0, owner, openhow: { tag: OPEN4_CREATE, v: { tag: CREATEMODE4.EXCLUSIVE4, v: verf } }, claim: { tag: CLAIM.NULL, v: Buffer.from('h') } },
    { seqid: 4, share_access: 2, share_deny: 0, owner, openhow: { tag: OPEN4_CREATE, v: { tag: CREATEMODE4.EXCLUSIVE4_1, v: { cva_verf: verf, cva_attrs: fattr } } }, claim: { tag: CLAIM.FH, v: undefined } },
    { seqid: 5, share_access: 1, share_deny: 0, owner, openhow: { tag: OPEN4_NOCREATE, v: undefined }, claim: { tag: CLAIM.PREVIOUS, v: 0 } },
  ],
  [OP.OPENATTR]: [true],
  [OP.OPEN_CONFIRM]: [{ open_stateid: sid, seqid: 2 }],
  [OP.OPEN_DOWNGRADE]: [{ open_stateid: sid, seqid: 2, share_access: 1, share_deny: 0 }],
  [OP.PUTFH]: [Buffer.alloc(24, 1)],
  [OP.PUTPUBFH]: [undefined],
  [OP.PUTROOTFH]: [undefined],
  [OP.READ]: [{ stateid: sid, offset: 4096n, count: 8192 }],
  [OP.READDIR]: [{ cookie: 0n, cookieverf: Buffer.alloc(8), dircount: 4096, maxcount: 32768, attr_request: [3, 0] }],
  [OP.READLINK]: [undefined],
  [OP.REMOVE]: [Buffer.from('x')],
  [OP.RENAME]: [{ oldname: Buffer.from('a'), newname: Buffer.from('b') }],
  [OP.RENEW]: [owner.clientid],
  [OP.RESTOREFH]: [undefined],
  [OP.SAVEFH]: [undefined],
  [OP.SECINFO]: [Buffer.from('x')],
  [OP.SETATTR]: [{ stateid: sid, obj_attributes: fattr }],
  [OP.SETCLIENTID]: [{ client: { verifier: verf, id: Buffer.from('client-id') }, callback: { cb_program: 0x40000000, cb_location: { na_r_netid: 'tcp', na_r_addr: '127.0.0.1.4.1' } }, callback_ident: 1 }],
  [OP.SETCLIENTID_CONFIRM]: [{ clientid: 1n, setclientid_confirm: verf }],
  [OP.VERIFY]: [fattr],
  [OP.WRITE]: [{ stateid: sid, offset: 0n, stable: 2, data: Buffer.from('hello') }],
  [OP.RELEASE_LOCKOWNER]: [owner],
  [OP.BACKCHANNEL_CTL]: [{ cb_program: 1, sec_parms: [{ tag: 0, v: undefined }, { tag: 1, v: { stamp: 1, machinename: 'm', uid: 1, gid: 2, gids: [3] } }] }],
  [OP.BIND_CONN_TO_SESSION]: [{ sessid: Buffer.alloc(16, 7), dir: 3, use_conn_in_rdma_mode: false }],
  [OP.EXCHANGE_ID]: [{ clientowner: { co_verifier: verf, co_ownerid: Buffer.from('me') }, flags: 0, state_protect: { tag: SP4.NONE, v: undefined }, client_impl_id: [{ nii_domain: 'd', nii_name: 'n', nii_date: { seconds: 1n, nseconds: 2 } }] }],
  [OP.CREATE_SESSION]: [{ clientid: 9n, sequence: 1, flags: 0, fore_chan_attrs: chan, back_chan_attrs: chan, cb_program: 1, sec_parms: [{ tag: 0, v: undefined }] }],
  [OP.DESTROY_SESSION]: [Buffer.alloc(16, 1)],
  [OP.FREE_STATEID]: [sid],
  [OP.SECINFO_NO_NAME]: [0, 1],
  [OP.SEQUENCE]: [{ sessionid: Buffer.alloc(16, 2), sequenceid: 1, slotid: 0, highest_slotid: 0, cachethis: true }],
  [OP.TEST_STATEID]: [[sid, sid]],
  [OP.DESTROY_CLIENTID]: [3n],
  [OP.RECLAIM_COMPLETE]: [false],
};

function encodeArgs(op: number, v: unknown): Buffer {
  const w = new XdrWriter();
  (OP_ARGS as Record<number, { enc(w: XdrWriter, v: unknown): void }>)[op]!.enc(w, v);
  return Buffer.from(w.bytes());
}

test('every operation with arguments has samples, and each round-trips exactly', () => {
  assert.deepEqual(Object.keys(SAMPLES).sort(), Object.keys(OP_ARGS).sort());
  for (const [op, vals] of Object.entries(SAMPLES)) {
    for (const v of vals) {
      const b = encodeArgs(Number(op), v);
      const r = new XdrReader(b);
      assert.deepEqual(decodeOpArgs(Number(op), r), v, `op ${op}`);
      r.end();
    }
  }
});

test('COMPOUND4args round trip; header limits; known ops per minor version', () => {
  const ops: Op4[] = [{ op: OP.PUTROOTFH, args: undefined }, { op: OP.LOOKUP, args: Buffer.from('a') }, { op: OP.GETATTR, args: [1, 2] }];
  const b = encodeCompound('tag', 1, ops);
  const r = new XdrReader(b);
  const h = decodeCompoundHeader(r);
  assert.equal(h.tag.toString(), 'tag');
  assert.equal(h.minorversion, 1);
  assert.equal(h.numOps, 3);
  const got = ops.map(() => { const op = r.uint(); return { op, args: decodeOpArgs(op, r) }; });
  assert.deepEqual(got, ops);
  r.end();
  assert.throws(() => decodeCompoundHeader(new XdrReader(new XdrWriter().opaque(Buffer.alloc(MAX_TAG + 1)).uint(0).uint(0).bytes())), XdrError);
  assert.throws(() => decodeCompoundHeader(new XdrReader(new XdrWriter().opaque(Buffer.alloc(0)).uint(0).uint(1e6).bytes())), XdrError);
  assert.ok(isKnownOp(OP.RELEASE_LOCKOWNER, 0) && !isKnownOp(OP.SEQUENCE, 0) && isKnownOp(OP.SEQUENCE, 1));
  assert.ok(!isKnownOp(2, 1) && !isKnownOp(59, 1) && !isKnownOp(OP.ILLEGAL, 1));
});

test('fattr4: bitmaps, encode in attribute order, decode of settable attributes, errors', () => {
  assert.deepEqual(bitmapOf([0, 1, 33, 55]), [3, (1 << 1 | 1 << 23) >>> 0]);
  assert.deepEqual(bitsOf([3, 0x800002]), [0, 1, 33, 55]);
  const f = encodeFattr([FATTR4.MODE, FATTR4.SIZE, FATTR4.OWNER, 200], (a) => (a === FATTR4.SIZE ? 7n : a === FATTR4.MODE ? 0o600 : a === FATTR4.OWNER ? '1000' : undefined));
  assert.deepEqual(bitsOf(f.attrmask), [FATTR4.SIZE, FATTR4.MODE, FATTR4.OWNER]);
  const m = decodeFattr(f, SETTABLE);
  assert.deepEqual([...m.entries()], [[FATTR4.SIZE, 7n], [FATTR4.MODE, 0o600], [FATTR4.OWNER, '1000']]);
  const ro = encodeFattr([FATTR4.FILEID], () => 1n);
  assert.throws(() => decodeFattr(ro, SETTABLE), (e: unknown) => e instanceof AttrDecodeError && e.why === 'inval');
  assert.throws(() => decodeFattr({ attrmask: bitmapOf([FATTR4.ACL]), attr_vals: Buffer.alloc(4) }), (e: unknown) => e instanceof AttrDecodeError && e.why === 'attrnotsupp');
  assert.throws(() => decodeFattr({ attrmask: bitmapOf([FATTR4.SIZE]), attr_vals: Buffer.alloc(4) }), (e: unknown) => e instanceof AttrDecodeError && e.why === 'badxdr');
  assert.throws(() => decodeFattr({ attrmask: bitmapOf([FATTR4.MODE]), attr_vals: Buffer.alloc(8) }), (e: unknown) => e instanceof AttrDecodeError && e.why === 'badxdr');
  const t = encodeFattr([FATTR4.TIME_MODIFY_SET, FATTR4.TIME_ACCESS_SET], (a) => (a === FATTR4.TIME_ACCESS_SET ? { tag: 0, v: undefined } : { tag: 1, v: { seconds: 5n, nseconds: 6 } }));
  assert.deepEqual([...decodeFattr(t, SETTABLE).values()], [{ tag: 0, v: undefined }, { tag: 1, v: { seconds: 5n, nseconds: 6 } }]);
});

/** A decoder run: a value or an XdrError, nothing else. */
function onlyXdrErrors(fn: () => unknown, also?: new (...a: never[]) => Error): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof XdrError) && !(also && err instanceof also)) throw err;
  }
}

test('fuzz: random bytes into the COMPOUND header and every op decoder', () => {
  const ops = Object.keys(OP_ARGS).map(Number);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(...ops), (bytes, op) => {
    const b = Buffer.from(bytes);
    onlyXdrErrors(() => decodeCompoundHeader(new XdrReader(b)));
    onlyXdrErrors(() => decodeOpArgs(op, new XdrReader(b)));
    onlyXdrErrors(() => decodeFattr({ attrmask: [b.length ? b.readUInt8(0) * 0x1010101 : 0, 0xffff], attr_vals: b }), AttrDecodeError);
  }), { numRuns: 3000 });
});

test('fuzz: mutated valid arguments of every op (flipped bytes, truncation, extension)', () => {
  const cases = Object.entries(SAMPLES).flatMap(([op, vals]) => vals.map((v) => ({ op: Number(op), b: encodeArgs(Number(op), v) })));
  fc.assert(fc.property(fc.constantFrom(...cases), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.integer({ min: -8, max: 8 }), (cs, flips, cut) => {
    let b: Buffer = Buffer.from(cs.b);
    for (const [i, v] of flips) if (b.length) b[i % b.length] = v;
    b = cut < 0 ? b.subarray(0, Math.max(0, b.length + cut)) : Buffer.concat([b, Buffer.alloc(cut, 0xff)]);
    onlyXdrErrors(() => decodeOpArgs(cs.op, new XdrReader(b)));
    onlyXdrErrors(() => {
      const r = new XdrReader(Buffer.concat([encodeCompound('t', 0, []).subarray(0, 8), Buffer.from([0, 0, 0, 1, 0, 0, 0, cs.op]), b]));
      const h = decodeCompoundHeader(r);
      for (let i = 0; i < h.numOps; i++) decodeOpArgs(r.uint(), r);
    });
  }), { numRuns: 3000 });
});
