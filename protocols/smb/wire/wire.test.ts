/** SMB2 reader/writer, header, compound, NEGOTIATE, SESSION_SETUP, TREE_CONNECT codecs: known bytes, round trips, fuzzing. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  Command, decodeHeader, decodeSmb1Negotiate, encodeHeader, header, HDR_FLAGS, joinCompound, protocolOf, smb1NegotiateAnswer,
  splitCompound, writeHeader, type Smb2Header,
} from './header.js';
import {
  CIPHER, CTX, decodeNegotiateRequest, decodeNegotiateResponse, DIALECT, findContext, HASH_SHA512, selectByClientOrder, selectDialect,
  SIGNING_ALG, writeNegotiateRequest, writeNegotiateResponse, type NegotiateContext, type NegotiateRequest, type NegotiateResponse,
} from './negotiate.js';
import { decodeUtf16, Reader, releaseReply, takeReplyBuffer, WireError, Writer } from './reader.js';
import {
  decodeEmptyBody, decodeSessionSetupRequest, decodeSessionSetupResponse, decodeTreeConnectRequest, decodeTreeConnectResponse,
  parseSharePath, writeEmptyBody, writeSessionSetupRequest, writeSessionSetupResponse, writeTreeConnectRequest, writeTreeConnectResponse,
} from './session-setup.js';
import { X311 } from '../testdata/ms-vectors.js';

const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const bytes = (max = 300) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
/** Runs `f`; anything thrown must be a WireError. */
export const onlyWireErrors = (f: () => unknown): void => {
  try {
    f();
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
  }
};
/** A valid message with random byte flips, truncation or extension. */
export const mutated = (valid: Buffer) => fc.tuple(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.integer({ min: -valid.length, max: 16 }))
  .map(([flips, cut]) => {
    const b = Buffer.from(valid);
    for (const [i, v] of flips) b[i] = v;
    return cut < 0 ? b.subarray(0, b.length + cut) : Buffer.concat([b, Buffer.alloc(cut, 0xa5)]);
  });
const msg = (h: Partial<Smb2Header> & { command: number }, body: (w: Writer) => void): Buffer => {
  const w = new Writer();
  writeHeader(w, header(h));
  body(w);
  return w.finish();
};

test('reader: little-endian integers, u64 as bigint, bounded bytes, UTF-16, alignment, offset pairs', () => {
  const w = new Writer(4).u8(0xab).u16(0x1234).u32(0xdeadbeef).u64(2n ** 64n - 1n).utf16('hé𝄞').align(8).bytes(Buffer.from([9, 9]));
  const b = w.finish();
  assert.deepEqual([...b.subarray(0, 7)], [0xab, 0x34, 0x12, 0xef, 0xbe, 0xad, 0xde]);
  const r = new Reader(b);
  assert.equal(r.u8(), 0xab);
  assert.equal(r.u16(), 0x1234);
  assert.equal(r.u32(), 0xdeadbeef);
  assert.equal(r.u64(), 2n ** 64n - 1n);
  assert.equal(r.utf16(8, 8), 'hé𝄞');
  r.align(8);
  assert.deepEqual([...r.bytes(2, 2)], [9, 9]);
  r.done();
  assert.throws(() => new Reader(b).bytes(3, 2), /too long/);
  assert.throws(() => new Reader(Buffer.alloc(3)).u32(), WireError);
  assert.throws(() => new Reader(Buffer.alloc(4)).utf16(3, 8), /odd/);
  assert.throws(() => decodeUtf16(Buffer.from([0x00, 0xd8])), /UTF-16/);
  const r2 = new Reader(Buffer.alloc(100), 64, 100, 0);
  assert.equal(r2.offset(), 64);
  assert.equal(r2.at(90, 10, 10).length, 10);
  assert.throws(() => r2.at(91, 10, 10), /outside/);
  assert.throws(() => r2.at(10, 4, 10, 'buf', 64), /overlaps/);
  assert.equal(r2.at(5000, 0, 0).length, 0);
  assert.throws(() => new Writer().u64(-1n), RangeError);
});

test('writer: adopt goes on in a buffer whose payload is already in place, the bytes before it copied to its front', () => {
  const w = new Writer(16).u32(0x01020304).u16(0xaabb);
  const buf = takeReplyBuffer(6 + 100000 + 4);
  buf.fill(7, 6, 6 + 100000);
  w.adopt(buf, 100000).u32(0xdeadbeef);
  const out = w.view();
  assert.equal(out.length, 6 + 100000 + 4);
  assert.equal(out.buffer, buf.buffer, 'no copy of the payload');
  assert.equal(out.readUInt32LE(0), 0x01020304);
  assert.equal(out.readUInt16LE(4), 0xaabb);
  assert.ok(out.subarray(6, 6 + 100000).every((b) => b === 7));
  assert.equal(out.readUInt32LE(6 + 100000), 0xdeadbeef);
  releaseReply(out);
  assert.throws(() => new Writer().u32(1).adopt(Buffer.alloc(10), 7), RangeError);
});

test('reader: any bytes through any read give a value or a WireError', () => {
  fc.assert(fc.property(bytes(), fc.nat(80), fc.nat(80), (b, a, n) => {
    for (const f of [(r: Reader) => r.bytes(n, 40), (r: Reader) => r.utf16(n, 40), (r: Reader) => r.at(a, n, 40), (r: Reader) => r.seek(a).u64(), (r: Reader) => r.sub(n).align(8).u32()]) {
      onlyWireErrors(() => f(new Reader(b)));
    }
  }), { numRuns: 300 });
});

test('header: the blog NEGOTIATE request decodes; sync and async headers round-trip', () => {
  const h = decodeHeader(X311.negotiateRequest);
  assert.equal(h.command, Command.NEGOTIATE);
  assert.equal(h.messageId, 1n);
  assert.equal(h.processId, 0xfeff);
  assert.equal(h.creditCharge, 1);
  const resp = decodeHeader(X311.sessionSetupResponse1);
  assert.equal(resp.status, 0xc0000016);
  assert.equal(resp.sessionId, X311.sessionId);
  assert.equal(resp.flags & HDR_FLAGS.SERVER_TO_REDIR, 1);
  const arb = fc.record({
    creditCharge: fc.integer({ min: 0, max: 0xffff }), status: fc.nat(0xffffffff), command: fc.integer({ min: 0, max: 0x12 }),
    credits: fc.integer({ min: 0, max: 0xffff }), flags: fc.nat(0xffffffff), nextCommand: fc.nat(0xffffffff), messageId: u64,
    processId: fc.nat(0xffffffff), treeId: fc.nat(0xffffffff), asyncId: u64, sessionId: u64,
    signature: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)),
  }, { noNullPrototype: true });
  fc.assert(fc.property(arb, (h0) => {
    const want = h0.flags & HDR_FLAGS.ASYNC_COMMAND ? { ...h0, processId: 0, treeId: 0 } : { ...h0, asyncId: 0n };
    const enc = encodeHeader(h0);
    assert.equal(enc.length, 64);
    assert.deepEqual(decodeHeader(enc), want);
  }), { numRuns: 300 });
  assert.throws(() => decodeHeader(Buffer.alloc(63)), /truncated/);
  const bad = Buffer.from(X311.negotiateRequest);
  bad[0] = 0xff;
  assert.throws(() => decodeHeader(bad), /ProtocolId/);
});

test('compound: join pads to 8 and patches NextCommand; split checks alignment and bounds', () => {
  const a = msg({ command: Command.ECHO, messageId: 1n }, writeEmptyBody);
  const b = msg({ command: Command.TREE_DISCONNECT, messageId: 2n, flags: HDR_FLAGS.RELATED_OPERATIONS }, (w) => w.u16(4).u16(0).u8(7));
  const c = msg({ command: Command.LOGOFF, messageId: 3n }, writeEmptyBody);
  const chain = joinCompound([a, b, c]);
  const parts = splitCompound(chain);
  assert.deepEqual(parts.map((p) => p.header.command), [Command.ECHO, Command.TREE_DISCONNECT, Command.LOGOFF]);
  assert.deepEqual(parts.map((p) => p.header.nextCommand), [72, 72, 0]);
  assert.deepEqual(parts.map((p) => p.offset), [0, 72, 144]);
  assert.equal(parts[1]!.bytes.length, 72);
  assert.deepEqual(splitCompound(a).map((p) => p.bytes), [a]);
  const misaligned = Buffer.from(chain);
  misaligned.writeUInt32LE(68, 20);
  assert.throws(() => splitCompound(misaligned), /aligned/);
  const past = Buffer.from(chain);
  past.writeUInt32LE(chain.length + 8 - (chain.length % 8), 20);
  assert.throws(() => splitCompound(past), /outside/);
  assert.throws(() => splitCompound(joinCompound(Array(5).fill(a)), 4), /longer than 4/);
  fc.assert(fc.property(mutated(chain), (m) => onlyWireErrors(() => {
    const ps = splitCompound(m);
    let off = 0;
    for (const p of ps) {
      assert.equal(p.offset, off);
      assert.ok(p.offset + p.bytes.length <= m.length);
      off += p.bytes.length;
    }
    assert.equal(off, m.length);
  })), { numRuns: 500 });
});

test('SMB1 multi-protocol NEGOTIATE: dialect strings and the SMB2 answer (MS-SMB2 3.3.5.3.1)', () => {
  const smb1 = (dialects: string[]): Buffer => {
    const data = Buffer.concat(dialects.map((d) => Buffer.concat([Buffer.from([2]), Buffer.from(d, 'latin1'), Buffer.from([0])])));
    const h = Buffer.alloc(32);
    h.writeUInt32LE(0x424d53ff, 0);
    h[4] = 0x72;
    const wc = Buffer.from([0, data.length & 0xff, data.length >> 8]);
    return Buffer.concat([h, wc, data]);
  };
  const m = smb1(['NT LM 0.12', 'SMB 2.002', 'SMB 2.???']);
  assert.equal(protocolOf(m), 'smb1');
  assert.equal(protocolOf(X311.negotiateRequest), 'smb2');
  assert.equal(protocolOf(Buffer.from('GET /')), null);
  const d = decodeSmb1Negotiate(m);
  assert.deepEqual(d, ['NT LM 0.12', 'SMB 2.002', 'SMB 2.???']);
  assert.equal(smb1NegotiateAnswer(d), 0x02ff);
  assert.equal(smb1NegotiateAnswer(d, false), 0x0202);
  assert.equal(smb1NegotiateAnswer(['SMB 2.002']), 0x0202);
  assert.equal(smb1NegotiateAnswer(['NT LM 0.12']), null);
  assert.throws(() => decodeSmb1Negotiate(m.subarray(0, m.length - 1)), WireError);
  fc.assert(fc.property(mutated(m), (x) => onlyWireErrors(() => decodeSmb1Negotiate(x))), { numRuns: 500 });
});

test('NEGOTIATE: the Windows 10 request and the Windows Server 2016 response of the anatomy blog', () => {
  const q = decodeNegotiateRequest(X311.negotiateRequest);
  assert.deepEqual(q.dialects, [0x0202, 0x0210, 0x0300, 0x0302, 0x0311]);
  assert.equal(q.securityMode, 0);
  assert.equal(q.capabilities, 0x3f);
  assert.equal(q.clientGuid.toString('hex'), 'ecd86f326276024f9f7752b89bb33f3a');
  const pre = findContext(q.contexts, CTX.PREAUTH_INTEGRITY)!;
  assert.deepEqual(pre.hashAlgorithms, [HASH_SHA512]);
  assert.equal(pre.salt.toString('hex').toUpperCase(), 'FA49E6578F1F3A9F4CD3E9CC14A67AA884B3D05844E0E5A118225C15887F32FF');
  assert.deepEqual(findContext(q.contexts, CTX.ENCRYPTION)!.ciphers, [CIPHER.AES_128_GCM, CIPHER.AES_128_CCM]);
  // Re-encoding the decoded request gives the same bytes.
  const w = new Writer();
  writeHeader(w, decodeHeader(X311.negotiateRequest));
  writeNegotiateRequest(w, q);
  assert.deepEqual(w.finish(), X311.negotiateRequest);

  const s = decodeNegotiateResponse(X311.negotiateResponse);
  assert.equal(s.dialect, DIALECT.SMB311);
  assert.equal(s.capabilities, 0x2f);
  assert.equal(s.maxReadSize, 0x800000);
  assert.equal(s.securityBuffer.length, 0x140);
  assert.equal(s.securityBuffer[0], 0x60);
  assert.deepEqual(findContext(s.contexts, CTX.ENCRYPTION)!.ciphers, [CIPHER.AES_128_GCM]);
  const w2 = new Writer();
  writeHeader(w2, decodeHeader(X311.negotiateResponse));
  writeNegotiateResponse(w2, s);
  assert.deepEqual(w2.finish(), X311.negotiateResponse);
});

const ctxArb: fc.Arbitrary<NegotiateContext> = fc.oneof(
  fc.record({ type: fc.constant(CTX.PREAUTH_INTEGRITY), hashAlgorithms: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 4 }), salt: bytes(64) }, { noNullPrototype: true }),
  fc.record({ type: fc.constant(CTX.ENCRYPTION), ciphers: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }) }, { noNullPrototype: true }),
  fc.record({ type: fc.constant(CTX.SIGNING), algorithms: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 3 }) }, { noNullPrototype: true }),
  fc.record({ type: fc.constant(CTX.NETNAME), netName: fc.stringMatching(/^[a-z0-9.-]{1,30}$/) }, { noNullPrototype: true }),
  fc.record({ type: fc.constantFrom(3, 6, 7, 0x100), data: bytes(40), unknown: fc.constant(true as const) }, { noNullPrototype: true }),
) as fc.Arbitrary<NegotiateContext>;
const uniqueCtx = fc.array(ctxArb, { maxLength: 6 }).map((cs) => cs.filter((c, i) => 'unknown' in c || cs.findIndex((d) => d.type === c.type && !('unknown' in d)) === i));

test('NEGOTIATE: requests and responses round-trip, unknown contexts kept and skipped', () => {
  const reqArb = fc.record({
    securityMode: fc.integer({ min: 0, max: 3 }), capabilities: fc.nat(0xff), clientGuid: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)),
    dialects: fc.array(fc.constantFrom(0x0202, 0x0210, 0x0300, 0x0302, 0x0311), { minLength: 1, maxLength: 5 }), contexts: uniqueCtx,
  }, { noNullPrototype: true });
  fc.assert(fc.property(reqArb, (q0) => {
    const q: NegotiateRequest = { ...q0, contexts: q0.dialects.includes(0x0311) ? q0.contexts : [] };
    const m = msg({ command: Command.NEGOTIATE }, (w) => writeNegotiateRequest(w, q));
    assert.deepEqual(decodeNegotiateRequest(m), q);
  }), { numRuns: 300 });
  const respArb = fc.record({
    securityMode: fc.integer({ min: 0, max: 3 }), dialect: fc.constantFrom(0x0202, 0x0210, 0x0300, 0x0302, 0x0311),
    serverGuid: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)), capabilities: fc.nat(0xff),
    maxTransactSize: fc.nat(), maxReadSize: fc.nat(), maxWriteSize: fc.nat(), systemTime: u64, serverStartTime: u64,
    securityBuffer: bytes(200), contexts: uniqueCtx,
  }, { noNullPrototype: true });
  fc.assert(fc.property(respArb, (s0) => {
    const s: NegotiateResponse = { ...s0, contexts: s0.dialect === 0x0311 ? s0.contexts : [] };
    const m = msg({ command: Command.NEGOTIATE, flags: 1 }, (w) => writeNegotiateResponse(w, s));
    assert.deepEqual(decodeNegotiateResponse(m), s);
  }), { numRuns: 300 });
});

test('NEGOTIATE: bad counts, duplicate contexts, misaligned offsets are WireErrors; fuzzed input never escapes', () => {
  const zeroDialects = Buffer.from(X311.negotiateRequest);
  zeroDialects.writeUInt16LE(0, 66);
  assert.throws(() => decodeNegotiateRequest(zeroDialects), /DialectCount/);
  const misaligned = Buffer.from(X311.negotiateRequest);
  misaligned.writeUInt32LE(0x6c, 64 + 28);
  assert.throws(() => decodeNegotiateRequest(misaligned), /aligned/);
  const dup = msg({ command: 0 }, (w) => writeNegotiateRequest(w, {
    securityMode: 1, capabilities: 0, clientGuid: Buffer.alloc(16), dialects: [0x311],
    contexts: [{ type: CTX.ENCRYPTION, ciphers: [1] }, { type: CTX.ENCRYPTION, ciphers: [2] }],
  }));
  assert.throws(() => decodeNegotiateRequest(dup), /twice/);
  fc.assert(fc.property(mutated(X311.negotiateRequest), (m) => onlyWireErrors(() => decodeNegotiateRequest(m))), { numRuns: 1000 });
  fc.assert(fc.property(mutated(X311.negotiateResponse), (m) => onlyWireErrors(() => decodeNegotiateResponse(m))), { numRuns: 500 });
  fc.assert(fc.property(bytes(), (b) => {
    onlyWireErrors(() => decodeNegotiateRequest(b));
    onlyWireErrors(() => decodeNegotiateResponse(b));
  }), { numRuns: 300 });
});

test('dialect, cipher and signing selection', () => {
  assert.equal(selectDialect([0x0202, 0x0210, 0x0300, 0x0302, 0x0311]), DIALECT.SMB311);
  assert.equal(selectDialect([0x0202, 0x0300], [0x0202, 0x0210]), DIALECT.SMB202);
  assert.equal(selectDialect([0x02ff, 0x0100]), null);
  assert.equal(selectDialect([0x0311, 0x0302], [0x0300, 0x0302]), DIALECT.SMB302);
  assert.equal(selectByClientOrder([CIPHER.AES_256_GCM, CIPHER.AES_128_GCM], [CIPHER.AES_128_CCM, CIPHER.AES_128_GCM]), CIPHER.AES_128_GCM);
  assert.equal(selectByClientOrder([SIGNING_ALG.AES_GMAC], [SIGNING_ALG.AES_CMAC]), null);
});

test('SESSION_SETUP: the blog requests and responses decode; round trips; fuzzing', () => {
  const q = decodeSessionSetupRequest(X311.sessionSetupRequest1);
  assert.equal(q.securityMode, 1);
  assert.equal(q.capabilities, 1);
  assert.equal(q.securityBuffer.length, 0x4a);
  assert.equal(q.securityBuffer[0], 0x60);
  const s = decodeSessionSetupResponse(X311.sessionSetupResponse1);
  assert.equal(s.sessionFlags, 0);
  assert.equal(s.securityBuffer.length, 0xb3);
  assert.equal(decodeSessionSetupResponse(X311.sessionSetupResponse2).securityBuffer.length, 0x1d);
  fc.assert(fc.property(fc.record({
    flags: fc.integer({ min: 0, max: 1 }), securityMode: fc.integer({ min: 0, max: 3 }), capabilities: fc.nat(), channel: fc.nat(),
    previousSessionId: u64, securityBuffer: bytes(200),
  }, { noNullPrototype: true }), fc.record({ sessionFlags: fc.integer({ min: 0, max: 7 }), securityBuffer: bytes(200) }, { noNullPrototype: true }), (q0, s0) => {
    assert.deepEqual(decodeSessionSetupRequest(msg({ command: 1 }, (w) => writeSessionSetupRequest(w, q0))), q0);
    assert.deepEqual(decodeSessionSetupResponse(msg({ command: 1 }, (w) => writeSessionSetupResponse(w, s0))), s0);
  }), { numRuns: 300 });
  for (const v of [X311.sessionSetupRequest1, X311.sessionSetupRequest2]) {
    fc.assert(fc.property(mutated(v), (m) => onlyWireErrors(() => decodeSessionSetupRequest(m))), { numRuns: 300 });
  }
  fc.assert(fc.property(mutated(X311.sessionSetupResponse1), (m) => onlyWireErrors(() => decodeSessionSetupResponse(m))), { numRuns: 300 });
});

test('TREE_CONNECT, TREE_DISCONNECT, LOGOFF, ECHO: round trips, path rules, fuzzing', () => {
  const m = msg({ command: Command.TREE_CONNECT }, (w) => writeTreeConnectRequest(w, { flags: 0, path: '\\\\dw-host\\Photos Ünïcode' }));
  const q = decodeTreeConnectRequest(m);
  assert.deepEqual([q.server, q.share], ['dw-host', 'Photos Ünïcode']);
  assert.deepEqual(parseSharePath('\\\\1.2.3.4\\IPC$'), { server: '1.2.3.4', share: 'IPC$' });
  for (const bad of ['\\\\srv', '\\\\srv\\', '\\srv\\share', '\\\\srv\\a\\b', '\\\\\\share', 'srv\\share']) assert.throws(() => parseSharePath(bad), WireError, bad);
  const ext = msg({ command: 3 }, (w) => writeTreeConnectRequest(w, { flags: 4, path: '\\\\a\\b' }));
  assert.throws(() => decodeTreeConnectRequest(ext), /extension/);
  const long = msg({ command: 3 }, (w) => writeTreeConnectRequest(w, { flags: 0, path: `\\\\a\\${'x'.repeat(600)}` }));
  assert.throws(() => decodeTreeConnectRequest(long), /too long/);
  const resp = { shareType: 1, shareFlags: 0x8000, capabilities: 0, maximalAccess: 0x001f01ff };
  assert.deepEqual(decodeTreeConnectResponse(msg({ command: 3, flags: 1 }, (w) => writeTreeConnectResponse(w, resp))), resp);
  for (const c of [Command.TREE_DISCONNECT, Command.LOGOFF, Command.ECHO]) decodeEmptyBody(msg({ command: c }, writeEmptyBody));
  assert.throws(() => decodeEmptyBody(msg({ command: Command.ECHO }, (w) => w.u16(5).u16(0))), /StructureSize/);
  fc.assert(fc.property(mutated(m), (x) => onlyWireErrors(() => decodeTreeConnectRequest(x))), { numRuns: 500 });
  fc.assert(fc.property(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), (server, share) => {
    const p = `\\\\${server}\\${share}`;
    const x = msg({ command: 3 }, (w) => writeTreeConnectRequest(w, { flags: 0, path: p }));
    onlyWireErrors(() => {
      const d = decodeTreeConnectRequest(x);
      assert.equal(d.path, p);
      assert.equal(`\\\\${d.server}\\${d.share}`, p);
    });
  }), { numRuns: 300 });
});

test('fuzz: every wire decoder, given a valid header and a random body, returns or throws a WireError', () => {
  const decoders: ((b: Buffer) => unknown)[] = [
    decodeHeader, splitCompound, decodeSmb1Negotiate, decodeNegotiateRequest, decodeNegotiateResponse, decodeSessionSetupRequest,
    decodeSessionSetupResponse, decodeTreeConnectRequest, decodeTreeConnectResponse, (b) => decodeEmptyBody(b),
  ];
  const hdr = encodeHeader(header({ command: 0 }));
  fc.assert(fc.property(bytes(200), fc.integer({ min: 0, max: 70 }), fc.nat(0xffff), (body, size, sz) => {
    const b = Buffer.concat([hdr, Buffer.from([sz & 0xff, sz >> 8]), body]);
    b.writeUInt16LE([4, 9, 16, 25, 36, 65][size % 6]!, 64);
    for (const d of decoders) {
      onlyWireErrors(() => d(b));
      onlyWireErrors(() => d(b.subarray(0, 64 + (size % (b.length - 63)))));
    }
  }), { numRuns: 1000 });
});
