/**
 * DCE/RPC PDUs, NDR, and the srvsvc calls: real client bytes from smbclient/rpcclient
 * (testdata/rpc-vectors.ts) through our pipe, answers checked by an NDR decoder written from
 * MS-SRVS 2.2.4 and C706 14 (testdata/srvsvc-decoder.ts) (it shares no code with ndr.ts and is itself checked against
 * smbd's answers), bind negotiation, fragmentation both ways, resume, faults, and fuzzing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  decodeBind, decodeBindAck, decodeFault, decodeHeader, decodeRequest, decodeResponse, encodeBind, encodeBindAck, encodeRequest,
  MAX_REQUEST_STUB, NCA, PFC, PROVIDER_REASON, PTYPE, REJECT_REASON, RESULT, type Bind,
} from './dcerpc.js';
import { NDR20_SYNTAX, NDR64_SYNTAX, NdrReader, NdrWriter, uuidFromBytes, uuidToBytes } from './ndr.js';
import {
  decodeServerGetInfoArgs, decodeShareEnumArgs, decodeShareGetInfoArgs, OPNUM, SRVSVC_SYNTAX, srvsvcPipe, WERR, type ShareEntry,
  type SrvsvcConfig,
} from './srvsvc.js';
import { WireError } from '../wire/reader.js';
import { SAMBA_RPC as V } from '../testdata/rpc-vectors.js';
import { joinResponse, readServerGetInfoOut, readShareEnumOut, readShareGetInfoOut } from '../testdata/srvsvc-decoder.js';

const stubOf = (pdu: Buffer): Buffer => decodeRequest(pdu).request.stub;

// The share list smbd had when the vectors were captured.
const SHARES: ShareEntry[] = [
  { name: 'data', type: 'disk', remark: 'Data share' },
  { name: 'IPC$', type: 'ipc', remark: 'IPC Service (DW capture)' },
];
const CFG: SrvsvcConfig = { serverName: 'DWTEST', shares: SHARES, comment: 'DW capture' };

function boundPipe(cfg: SrvsvcConfig = CFG) {
  const pipe = srvsvcPipe(cfg);
  const [ack] = pipe.write(V.smbclientBind);
  assert.equal(decodeHeader(ack!).ptype, PTYPE.BIND_ACK);
  return pipe;
}

function call(pipe: ReturnType<typeof srvsvcPipe>, req: Buffer): Buffer {
  const out = pipe.write(req);
  return joinResponse(out, decodeHeader(req).callId);
}

// ---------------------------------------------------------------------------------------------

test('test decoder reads smbd\'s real answers (so it can judge ours)', () => {
  const e1 = readShareEnumOut(decodeResponse(V.sambaShareEnum1).stub);
  assert.deepEqual(e1, {
    level: 1, total: 2, resume: 0, werr: 0,
    shares: [{ name: 'data', type: 0, remark: 'Data share' }, { name: 'IPC$', type: 0x80000003, remark: 'IPC Service (DW capture)' }],
  });
  const e0 = readShareEnumOut(decodeResponse(V.sambaShareEnum0).stub);
  assert.deepEqual(e0.shares, [{ name: 'data' }, { name: 'IPC$' }]);
  const e2 = readShareEnumOut(decodeResponse(V.sambaShareEnum2).stub);
  assert.equal(e2.shares?.[0]?.maxUses, 0xffffffff);
  assert.match(e2.shares?.[0]?.path ?? '', /^C:\\tmp\\dw-rpc-capture-.*\\share$/);
  const g2 = readShareGetInfoOut(decodeResponse(V.sambaShareGetInfo2).stub);
  assert.equal(g2.share?.name, 'data');
  assert.equal(g2.share?.remark, 'Data share');
  const s = readServerGetInfoOut(decodeResponse(V.sambaServerGetInfo101).stub);
  assert.deepEqual(s, { level: 101, werr: 0, info: { platform: 500, major: 6, minor: 1, type: 0x00809a03, name: 'DWTEST', comment: 'DW capture' } });
});

test('PDU codecs: smbclient\'s BIND and smbd\'s BIND_ACK decode and re-encode byte for byte', () => {
  const { header, bind } = decodeBind(V.smbclientBind);
  assert.deepEqual(header, { ptype: PTYPE.BIND, flags: 3, minor: 0, fragLength: 72, authLength: 0, callId: 1 });
  assert.deepEqual(bind, {
    maxXmitFrag: 4280, maxRecvFrag: 4280, assocGroupId: 0,
    contexts: [{ contextId: 0, abstract: SRVSVC_SYNTAX, transfers: [{ ...NDR20_SYNTAX }] }],
  });
  assert.deepEqual(encodeBind(1, bind), V.smbclientBind);
  const ack = decodeBindAck(V.sambaBindAck);
  assert.equal(ack.ack.secondaryAddress, '\\pipe\\srvsvc');
  assert.deepEqual(ack.ack.results, [{ result: 0, reason: 0, transfer: { ...NDR20_SYNTAX } }]);
  assert.deepEqual(encodeBindAck(1, ack.ack), V.sambaBindAck);
  const req = decodeRequest(V.smbclientShareEnum1);
  assert.equal(req.request.opnum, OPNUM.NetrShareEnum);
  assert.equal(req.request.allocHint, req.request.stub.length);
  assert.deepEqual(encodeRequest(2, 0, 15, req.request.stub), V.smbclientShareEnum1);
  assert.equal(uuidFromBytes(uuidToBytes(SRVSVC_SYNTAX.uuid)), SRVSVC_SYNTAX.uuid);
});

test('srvsvc: the real client requests decode', () => {
  assert.deepEqual(decodeShareEnumArgs(stubOf(V.smbclientShareEnum1)), { server: '127.0.0.1', level: 1, hasContainer: true, preferedMaximumLength: 0xffffffff, resumeHandle: 0 });
  assert.equal(decodeShareEnumArgs(stubOf(V.rpcclientShareEnum2)).level, 2);
  assert.deepEqual(decodeShareGetInfoArgs(stubOf(V.rpcclientShareGetInfo2)), { server: '127.0.0.1', netName: 'data', level: 2 });
  assert.deepEqual(decodeShareGetInfoArgs(stubOf(V.rpcclientShareGetInfoNoSuch)), { server: '127.0.0.1', netName: 'nosuch', level: 502 });
  assert.deepEqual(decodeServerGetInfoArgs(stubOf(V.rpcclientServerGetInfo101)), { server: '\\\\127.0.0.1', level: 101 });
});

test('srvsvc: smbclient -L through our pipe gets what smbd gave it (same shares, same stub length)', () => {
  const pipe = srvsvcPipe(CFG);
  const [ackPdu, ...rest] = pipe.write(V.smbclientBind);
  assert.equal(rest.length, 0);
  const { ack, header } = decodeBindAck(ackPdu!);
  assert.equal(header.callId, 1);
  assert.equal(ack.secondaryAddress, '\\PIPE\\srvsvc');
  assert.equal(ack.maxXmitFrag, 4280);
  assert.notEqual(ack.assocGroupId, 0);
  assert.deepEqual(ack.results, [{ result: RESULT.acceptance, reason: 0, transfer: { ...NDR20_SYNTAX } }]);
  const ours = call(pipe, V.smbclientShareEnum1);
  const theirs = decodeResponse(V.sambaShareEnum1).stub;
  assert.deepEqual(readShareEnumOut(ours), readShareEnumOut(theirs));
  assert.equal(ours.length, theirs.length);
  // Byte for byte but for the referent ids (smbd numbers this stub's pointers from 0x0002000c, we from 0x00020000).
  const mask = (b: Buffer): Buffer => {
    const m = Buffer.from(b);
    for (let i = 0; i + 4 <= m.length; i += 4) if ((m.readUInt32LE(i) & 0xffff0003) === 0x00020000) m.writeUInt32LE(0x00020000, i);
    return m;
  };
  assert.deepEqual(mask(ours), mask(theirs));
});

test('srvsvc: rpcclient calls — levels 0 and 2, GetInfo 2, 502, unknown share, ServerGetInfo 101', () => {
  const pipe = boundPipe();
  const e0 = readShareEnumOut(call(pipe, V.rpcclientShareEnum0));
  assert.deepEqual(e0, readShareEnumOut(decodeResponse(V.sambaShareEnum0).stub));
  const e2 = readShareEnumOut(call(pipe, V.rpcclientShareEnum2));
  assert.equal(e2.werr, 0);
  assert.deepEqual(e2.shares, [
    { name: 'data', type: 0, remark: 'Data share', permissions: 0, maxUses: 0xffffffff, currentUses: 0, path: '', passwd: null },
    { name: 'IPC$', type: 0x80000003, remark: 'IPC Service (DW capture)', permissions: 0, maxUses: 0xffffffff, currentUses: 0, path: '', passwd: null },
  ]);
  const g2 = readShareGetInfoOut(call(pipe, V.rpcclientShareGetInfo2));
  assert.deepEqual(g2, { level: 2, werr: 0, share: { name: 'data', type: 0, remark: 'Data share', permissions: 0, maxUses: 0xffffffff, currentUses: 0, path: '', passwd: null } });
  assert.deepEqual(readShareGetInfoOut(call(pipe, V.rpcclientShareGetInfo502)), { level: 502, share: null, werr: WERR.INVALID_LEVEL });
  assert.deepEqual(readShareGetInfoOut(call(pipe, V.rpcclientShareGetInfoNoSuch)), { level: 502, share: null, werr: WERR.INVALID_LEVEL });
  const s = readServerGetInfoOut(call(pipe, V.rpcclientServerGetInfo101));
  assert.deepEqual(s, { level: 101, werr: 0, info: { platform: 500, major: 10, minor: 0, type: 0x9003, name: 'DWTEST', comment: 'DW capture' } });
});

/** A REQUEST for opnum with an NDR stub built by `f` (client side). */
function req(callId: number, opnum: number, f: (n: NdrWriter) => void, contextId = 0): Buffer {
  const n = new NdrWriter();
  f(n);
  return encodeRequest(callId, contextId, opnum, n.flush().finish());
}
const getInfo = (callId: number, name: string, level: number): Buffer => req(callId, OPNUM.NetrShareGetInfo, (n) => {
  n.pointer(false);
  n.string(name).u32(level);
});
const enumReq = (callId: number, level: number, max: number, resume: number | undefined): Buffer => req(callId, OPNUM.NetrShareEnum, (n) => {
  n.stringPointer('\\\\dw').flush();
  n.u32(level).u32(level);
  if (n.pointer(true)) n.u32(0).pointer(false);
  n.u32(max);
  if (n.pointer(resume !== undefined)) n.u32(resume!);
});

test('srvsvc: GetInfo levels 0, 1, 501, 1005, case-insensitive names, NERR_NetNameNotFound, invalid levels', () => {
  const pipe = boundPipe();
  assert.deepEqual(readShareGetInfoOut(call(pipe, getInfo(5, 'DATA', 0))), { level: 0, werr: 0, share: { name: 'data' } });
  assert.deepEqual(readShareGetInfoOut(call(pipe, getInfo(6, 'ipc$', 1))), { level: 1, werr: 0, share: { name: 'IPC$', type: 0x80000003, remark: 'IPC Service (DW capture)' } });
  assert.deepEqual(readShareGetInfoOut(call(pipe, getInfo(7, 'data', 501))), { level: 501, werr: 0, share: { name: 'data', type: 0, remark: 'Data share', flags: 0 } });
  assert.deepEqual(readShareGetInfoOut(call(pipe, getInfo(8, 'data', 1005))), { level: 1005, werr: 0, share: { name: '', flags: 0 } });
  assert.deepEqual(readShareGetInfoOut(call(pipe, getInfo(9, 'nosuch', 1))), { level: 1, werr: WERR.NERR_NetNameNotFound, share: null });
  assert.deepEqual(readShareGetInfoOut(call(pipe, getInfo(10, 'data', 7))), { level: 7, werr: WERR.INVALID_LEVEL, share: null });
  assert.equal(call(pipe, getInfo(11, 'data', 7)).length, 8, 'no union arm for an unknown level');
  const e502 = readShareEnumOut(call(pipe, enumReq(12, 502, 0xffffffff, 0)));
  assert.deepEqual(e502, { level: 502, shares: null, total: 0, resume: 0, werr: WERR.INVALID_LEVEL });
  const sv = readServerGetInfoOut(call(pipe, req(13, OPNUM.NetrServerGetInfo, (n) => { n.pointer(false); n.u32(100); })));
  assert.deepEqual(sv, { level: 100, werr: 0, info: { platform: 500, name: 'DWTEST' } });
  const sv102 = readServerGetInfoOut(call(pipe, req(14, OPNUM.NetrServerGetInfo, (n) => { n.pointer(false); n.u32(102); })));
  assert.deepEqual(sv102, { level: 102, werr: WERR.INVALID_LEVEL, info: null });
});

test('srvsvc: PreferedMaximumLength and the resume handle walk every share once (ERROR_MORE_DATA until the end)', () => {
  const many = Array.from({ length: 37 }, (_, i): ShareEntry => ({ name: `share${i}`, type: 'disk', remark: `remark number ${i}` }));
  const pipe = boundPipe({ serverName: 'DW', shares: () => many });
  for (const level of [0, 1, 2, 501]) {
    const seen: string[] = [];
    let resume = 0, rounds = 0;
    for (;;) {
      const out = readShareEnumOut(call(pipe, enumReq(100 + rounds, level, 300, resume)));
      rounds++;
      assert.equal(out.total, 37);
      assert.ok((out.shares?.length ?? 0) >= 1);
      seen.push(...out.shares!.map((s) => s.name));
      if (out.werr === WERR.OK) {
        assert.equal(out.resume, 0);
        break;
      }
      assert.equal(out.werr, WERR.MORE_DATA);
      resume = out.resume!;
      assert.ok(rounds < 40);
    }
    assert.deepEqual(seen, many.map((s) => s.name));
    assert.ok(rounds > 2, `level ${level}: ${rounds} rounds`);
  }
  const all = readShareEnumOut(call(pipe, enumReq(200, 1, 0xffffffff, undefined)));
  assert.equal(all.shares?.length, 37);
  assert.equal(all.resume, null);
  const tiny = readShareEnumOut(call(pipe, enumReq(201, 1, 1, undefined)));
  assert.deepEqual([tiny.shares?.length, tiny.werr, tiny.resume], [1, WERR.MORE_DATA, null]);
});

test('dcerpc: responses fragment to the client\'s max_recv_frag and requests reassemble', () => {
  const many = Array.from({ length: 200 }, (_, i): ShareEntry => ({ name: `s${i}`, type: 'disk', remark: 'x'.repeat(i % 17) }));
  const pipe = srvsvcPipe({ serverName: 'DW', shares: many });
  const bind: Bind = { maxXmitFrag: 1432, maxRecvFrag: 1432, assocGroupId: 0, contexts: [{ contextId: 0, abstract: SRVSVC_SYNTAX, transfers: [{ ...NDR20_SYNTAX }] }] };
  assert.equal(decodeBindAck(pipe.write(encodeBind(1, bind))[0]!).ack.maxXmitFrag, 1432);
  const out = pipe.write(enumReq(2, 1, 0xffffffff, 0));
  assert.ok(out.length > 5, `${out.length} fragments`);
  const e = readShareEnumOut(joinResponse(out, 2, 1432));
  assert.deepEqual(e.shares?.map((s) => s.name), many.map((s) => s.name));
  // The same request split into three fragments, then fed one byte at a time.
  const stub = stubOf(V.smbclientShareEnum1);
  const frags = [
    encodeRequest(3, 0, 15, stub.subarray(0, 8), PFC.FIRST_FRAG, stub.length),
    encodeRequest(3, 0, 15, stub.subarray(8, 40), 0, stub.length - 8),
    encodeRequest(3, 0, 15, stub.subarray(40), PFC.LAST_FRAG, stub.length - 40),
  ];
  const two = boundPipe();
  const replies: Buffer[] = [];
  for (const b of Buffer.concat(frags)) replies.push(...two.write(Buffer.from([b])));
  assert.deepEqual(readShareEnumOut(joinResponse(replies, 3)).shares?.length, 2);
  // A middle fragment of an unknown call, and a reassembly over the bound, fault.
  assert.equal(decodeFault(two.write(encodeRequest(4, 0, 15, stub, PFC.LAST_FRAG))[0]!).status, NCA.proto_error);
  const big = Buffer.alloc(4000);
  let last: Buffer[] = two.write(encodeRequest(5, 0, 15, big, PFC.FIRST_FRAG));
  for (let i = 0; last.length === 0 && i < 100; i++) last = two.write(encodeRequest(5, 0, 15, big, 0));
  assert.equal(decodeFault(last[0]!).status, NCA.fault_remote_no_memory);
  assert.ok(MAX_REQUEST_STUB / 4000 < 100);
  assert.equal(readShareEnumOut(call(two, V.smbclientShareEnum1)).werr, 0, 'the pipe still works');
});

test('dcerpc: bind negotiation — NDR64 and unknown interfaces refused with the provider reason, feature negotiation acked', () => {
  const pipe = srvsvcPipe(CFG);
  const feature = { uuid: '6cb71c2c-9812-4540-0300-000000000000', version: 1 };
  const bind: Bind = {
    maxXmitFrag: 5840, maxRecvFrag: 5840, assocGroupId: 0, contexts: [
      { contextId: 0, abstract: SRVSVC_SYNTAX, transfers: [{ ...NDR64_SYNTAX }] },
      { contextId: 1, abstract: SRVSVC_SYNTAX, transfers: [{ ...NDR20_SYNTAX }] },
      { contextId: 2, abstract: SRVSVC_SYNTAX, transfers: [feature] },
      { contextId: 3, abstract: { uuid: '12345778-1234-abcd-ef00-0123456789ac', version: 1 }, transfers: [{ ...NDR20_SYNTAX }] },
      { contextId: 4, abstract: { uuid: SRVSVC_SYNTAX.uuid, version: 2 }, transfers: [{ ...NDR20_SYNTAX }] },
    ],
  };
  const { ack } = decodeBindAck(pipe.write(encodeBind(7, bind))[0]!);
  const zero = { uuid: '00000000-0000-0000-0000-000000000000', version: 0 };
  assert.deepEqual(ack.results, [
    { result: RESULT.provider_rejection, reason: PROVIDER_REASON.proposed_transfer_syntaxes_not_supported, transfer: zero },
    { result: RESULT.acceptance, reason: 0, transfer: { ...NDR20_SYNTAX } },
    { result: RESULT.negotiate_ack, reason: 0x02, transfer: zero },
    { result: RESULT.provider_rejection, reason: PROVIDER_REASON.abstract_syntax_not_supported, transfer: zero },
    { result: RESULT.provider_rejection, reason: PROVIDER_REASON.abstract_syntax_not_supported, transfer: zero },
  ]);
  assert.equal(ack.maxXmitFrag, 4280);
  // Requests: on the accepted context work; on a refused one unknown_if; unknown opnum op_rng_error.
  assert.equal(readShareGetInfoOut(call(pipe, encodeRequest(8, 1, 16, stubOf(V.rpcclientShareGetInfo2)))).werr, 0);
  assert.equal(decodeFault(pipe.write(encodeRequest(9, 0, 16, stubOf(V.rpcclientShareGetInfo2)))[0]!).status, NCA.unknown_if);
  const opr = decodeFault(pipe.write(encodeRequest(10, 1, 40, Buffer.alloc(0)))[0]!);
  assert.equal(opr.status, NCA.op_rng_error);
  assert.ok(opr.header.flags & PFC.DID_NOT_EXECUTE);
  assert.equal(decodeFault(pipe.write(encodeRequest(11, 1, 16, Buffer.alloc(6)))[0]!).status, NCA.fault_ndr);
  // ALTER_CONTEXT adds context 9; its response has an empty secondary address.
  const alter = pipe.write(encodeBind(12, { ...bind, contexts: [{ contextId: 9, abstract: SRVSVC_SYNTAX, transfers: [{ ...NDR20_SYNTAX }] }] }, PTYPE.ALTER_CONTEXT));
  const alt = decodeBindAck(alter[0]!);
  assert.equal(alt.header.ptype, PTYPE.ALTER_CONTEXT_RESP);
  assert.equal(alt.ack.secondaryAddress, '');
  assert.equal(readShareGetInfoOut(call(pipe, encodeRequest(13, 9, 16, stubOf(V.rpcclientShareGetInfo2)))).share?.name, 'data');
  // A second BIND on the association is refused.
  assert.equal(decodeHeader(pipe.write(V.smbclientBind)[0]!).ptype, PTYPE.BIND_NAK);
});

test('dcerpc: requests before BIND, authenticated binds, tiny fragments, garbage headers', () => {
  const pipe = srvsvcPipe(CFG);
  const f = decodeFault(pipe.write(V.smbclientShareEnum1)[0]!);
  assert.deepEqual([f.status, f.header.callId], [NCA.proto_error, 2]);
  const authBind = Buffer.concat([V.smbclientBind, Buffer.from([10, 2, 0, 0, 0, 0, 0, 0]), Buffer.alloc(16)]);
  authBind.writeUInt16LE(authBind.length, 8);
  authBind.writeUInt16LE(16, 10);
  const nak = pipe.write(authBind)[0]!;
  assert.equal(decodeHeader(nak).ptype, PTYPE.BIND_NAK);
  assert.equal(nak.readUInt16LE(16), REJECT_REASON.authentication_type_not_recognized);
  assert.equal(nak.length % 4, 0);
  const small = encodeBind(2, { maxXmitFrag: 512, maxRecvFrag: 512, assocGroupId: 0, contexts: decodeBind(V.smbclientBind).bind.contexts });
  assert.equal(pipe.write(small)[0]!.readUInt16LE(16), REJECT_REASON.local_limit_exceeded);
  const junk = Buffer.from(V.smbclientBind);
  junk[0] = 4;
  assert.equal(decodeFault(pipe.write(junk)[0]!).status, NCA.proto_error);
  assert.equal(decodeHeader(pipe.write(V.smbclientBind)[0]!).ptype, PTYPE.BIND_ACK, 'usable after the junk was dropped');
  const bigEndian = Buffer.from(V.smbclientShareEnum1);
  bigEndian[4] = 0x00;
  assert.equal(decodeFault(pipe.write(bigEndian)[0]!).status, NCA.proto_error);
});

test('ndr: strings, pointers and deferral round-trip; the reader is bounded', () => {
  fc.assert(fc.property(fc.array(fc.option(fc.string({ unit: 'grapheme', maxLength: 40 }), { nil: undefined }), { maxLength: 8 }), fc.nat(), (strs, k) => {
    const n = new NdrWriter();
    n.u32(strs.length);
    strs.forEach((s) => n.stringPointer(s));
    n.flush().u8(1).u32(k >>> 0);
    const b = n.finish();
    const r = new NdrReader(b);
    assert.equal(r.u32(), strs.length);
    const present = strs.map(() => r.pointer() !== 0);
    const back = present.map((p) => (p ? r.string() : undefined));
    assert.deepEqual(back, strs);
    assert.equal(r.u8(), 1);
    assert.equal(r.u32(), k >>> 0);
    assert.equal(r.remaining(), 0);
  }), { numRuns: 200 });
  const n = new NdrWriter();
  n.u32(10).u32(0).u32(11);
  assert.throws(() => new NdrReader(n.finish()).string(), /actual count 11 > max/);
  assert.throws(() => new NdrReader(new NdrWriter().u32(5000).u32(0).u32(1).finish()).string(), /limit/);
  assert.throws(() => new NdrReader(new NdrWriter().u32(2).u32(1).u32(1).finish()).string(), /offset/);
  assert.throws(() => new NdrReader(new NdrWriter().u32(1).u32(0).u32(1).u8(0).finish()).string(), WireError);
  const fp = new NdrReader(new NdrWriter().u32(0x20000).u32(0).u32(0x20000).u32(0x20004).u32(3).finish());
  assert.deepEqual([fp.fullPointer(), fp.fullPointer(), fp.fullPointer(), fp.fullPointer()], [
    { referent: 0x20000, first: true }, { referent: 0, first: false }, { referent: 0x20000, first: false }, { referent: 0x20004, first: true },
  ]);
  assert.throws(() => fp.conformance(2), /3 elements/);
  const w = new NdrWriter();
  w.stringPointer('x');
  assert.throws(() => w.finish(), /unflushed/);
});

const onlyWireErrors = (f: () => unknown): void => {
  try {
    f();
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
  }
};
const mutated = (valid: Buffer) => fc.tuple(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.integer({ min: -valid.length, max: 16 }))
  .map(([flips, cut]) => {
    const b = Buffer.from(valid);
    for (const [i, v] of flips) b[i] = v;
    return cut < 0 ? b.subarray(0, b.length + cut) : Buffer.concat([b, Buffer.alloc(cut, 0xa5)]);
  });
const REPLY_TYPES = new Set<number>([PTYPE.BIND_ACK, PTYPE.BIND_NAK, PTYPE.ALTER_CONTEXT_RESP, PTYPE.RESPONSE, PTYPE.FAULT]);
const VALID = [V.smbclientBind, V.smbclientShareEnum1, V.rpcclientShareEnum0, V.rpcclientShareEnum2, V.rpcclientShareGetInfo2, V.rpcclientShareGetInfo502, V.rpcclientServerGetInfo101];

test('fuzz: random and mutated PDUs into a fresh and a bound pipe give reply PDUs only; decoders throw WireError only', () => {
  const input = fc.oneof(fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), ...VALID.map(mutated));
  fc.assert(fc.property(fc.array(input, { minLength: 1, maxLength: 4 }), fc.boolean(), (chunks, bound) => {
    const pipe = bound ? boundPipe() : srvsvcPipe(CFG);
    for (const c of chunks) {
      for (const reply of pipe.write(c)) {
        const h = decodeHeader(reply);
        assert.ok(REPLY_TYPES.has(h.ptype), `reply type ${h.ptype}`);
        assert.equal(h.fragLength, reply.length);
      }
    }
  }), { numRuns: 400 });
  fc.assert(fc.property(fc.oneof(...VALID.map(mutated)), (b) => {
    onlyWireErrors(() => decodeBind(b));
    onlyWireErrors(() => decodeRequest(b));
    onlyWireErrors(() => decodeBindAck(b));
    const stub = b.subarray(24);
    onlyWireErrors(() => decodeShareEnumArgs(stub));
    onlyWireErrors(() => decodeShareGetInfoArgs(stub));
    onlyWireErrors(() => decodeServerGetInfoArgs(stub));
  }), { numRuns: 400 });
  // Mutated stubs inside well-formed REQUESTs reach the srvsvc decoders through a bound pipe.
  fc.assert(fc.property(fc.constantFrom(...VALID.slice(1)).chain((v) => mutated(stubOf(v)).map((s) => [decodeRequest(v).request.opnum, s] as const)), ([opnum, s]) => {
    const pipe = boundPipe();
    for (const reply of pipe.write(encodeRequest(2, 0, opnum, s))) {
      const h = decodeHeader(reply);
      assert.ok(h.ptype === PTYPE.RESPONSE || h.ptype === PTYPE.FAULT);
      if (h.ptype === PTYPE.FAULT) assert.equal(decodeFault(reply).status, NCA.fault_ndr);
    }
  }), { numRuns: 400 });
});
