/**
 * Direct TCP framing (MS-SMB2 2.1), fuzzing of the connection's frame and message handling
 * (never a throw: an answer or a dropped connection), and the TCP server itself: a real
 * socket gets answers, an oversized or malformed frame closes it, close() ends everything.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { encodeNegotiateMessage, ntHash } from './auth/ntlm.js';
import { encodeNegTokenInit, OID_NTLMSSP } from './auth/spnego.js';
import { encryptMessage } from './crypto/encrypt.js';
import { STATUS } from './errors.js';
import { startSmbServer } from './server.js';
import { replyBytes, type Reply } from './session.js';
import { connection, message, smb1Negotiate, TestClient } from './testdata/client.js';
import { FrameDecoder, FrameError, frameHeader, RECYCLE_MIN } from './transport.js';
import { Command, decodeHeader, HDR_FLAGS, joinCompound, protocolOf } from './wire/header.js';
import { CIPHER, DIALECT, decodeNegotiateResponse, writeNegotiateRequest } from './wire/negotiate.js';
import { writeEmptyBody, writeSessionSetupRequest, writeTreeConnectRequest } from './wire/session-setup.js';
import { releaseReply, Writer } from './wire/reader.js';

const mutated = (valid: Buffer) => fc.tuple(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.integer({ min: -valid.length, max: 16 }))
  .map(([flips, cut]) => {
    const b = Buffer.from(valid);
    for (const [i, v] of flips) b[i] = v;
    return cut < 0 ? b.subarray(0, b.length + cut) : Buffer.concat([b, Buffer.alloc(cut, 0x5a)]);
  });

/** Every reply is an SMB2 response (or an encrypted one), never garbage. */
function checkReplies(replies: readonly Reply[]): void {
  for (const r of replies.map(replyBytes)) {
    const p = protocolOf(r);
    assert.ok(p === 'smb2' || p === 'transform', 'reply is SMB2');
    if (p === 'smb2') assert.ok(decodeHeader(r).flags & HDR_FLAGS.SERVER_TO_REDIR);
  }
}

describe('SMB2 transport framing', () => {
  test('frames split at any points come out whole and in order', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 6 }), fc.array(fc.nat(2000), { maxLength: 8 }), (msgs, cuts) => {
      const stream = Buffer.concat(msgs.flatMap((m) => [frameHeader(m.length), Buffer.from(m)]));
      const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
      const d = new FrameDecoder(1024);
      const got: Buffer[] = [];
      let at = 0;
      for (const p of [...points, stream.length]) {
        got.push(...d.push(stream.subarray(at, p)).map((b) => Buffer.from(b)));
        at = p;
      }
      assert.deepEqual(got, msgs.map((m) => Buffer.from(m)));
      assert.equal(d.buffered, 0);
    }), { numRuns: 300 });
  });

  test('large frames reuse released buffers and keep their bytes; a frame not released is never reused', () => {
    // Two large frames arriving in 64 KiB chunks, then a third after the first is released.
    const size = RECYCLE_MIN + 1000;
    const msg = (fill: number) => Buffer.alloc(size, fill);
    const feed = (d: FrameDecoder, m: Buffer): Buffer[] => {
      const s = Buffer.concat([frameHeader(m.length), m]);
      const out: Buffer[] = [];
      for (let at = 0; at < s.length; at += 65536) out.push(...d.push(Buffer.from(s.subarray(at, at + 65536))));
      return out;
    };
    const d = new FrameDecoder(2 * RECYCLE_MIN);
    const [a] = feed(d, msg(1));
    const [b] = feed(d, msg(2));
    assert.ok(a && b && a.buffer !== b.buffer, 'two frames in use: two buffers');
    FrameDecoder.release(a);
    FrameDecoder.release(a); // a second release is ignored
    const [c] = feed(d, msg(3));
    assert.equal(c!.buffer, a.buffer, 'the released buffer is reused');
    assert.deepEqual(c, msg(3));
    assert.deepEqual(b, msg(2), 'the frame still in use is untouched');
    const [e] = feed(d, msg(4));
    assert.notEqual(e!.buffer, c!.buffer, 'the reused buffer, lent again, is not handed out twice');
    assert.notEqual(e!.buffer, b.buffer);
    // A frame that arrived inside one chunk is a view of it: release ignores it.
    const view = d.push(Buffer.concat([frameHeader(10), Buffer.alloc(10, 9)]))[0]!;
    FrameDecoder.release(view);
    const [f] = feed(d, msg(5));
    assert.notEqual(f!.buffer, view.buffer);
    for (const x of [b, c, e, f]) FrameDecoder.release(x!);
  });

  test('a large piece written takes a recycled buffer of just its size, reused once the message is released', () => {
    const data = Buffer.alloc(1 << 20, 5);
    const build = () => new Writer(128).u32(7).bytes(data).view();
    const m1 = build();
    assert.equal(m1.buffer.byteLength < 2 * data.length, true, 'not a doubled buffer');
    assert.deepEqual(m1.subarray(4), data);
    const m2 = build();
    assert.notEqual(m2.buffer, m1.buffer, 'not released yet: another buffer');
    releaseReply(m1);
    const m3 = build();
    assert.equal(m3.buffer, m1.buffer, 'released: reused');
    assert.equal(m3.readUInt32LE(0), 7);
    assert.deepEqual(m3.subarray(4), data);
    const copy = new Writer(128).bytes(data).finish(); // finish copies and gives its buffer back
    const m4 = build();
    assert.notEqual(m4.buffer, copy.buffer);
    for (const m of [m2, m3, m4]) releaseReply(m);
  });

  test('a frame over the maximum or a non-zero first byte is refused before its body arrives', () => {
    const d = new FrameDecoder(100);
    assert.throws(() => d.push(frameHeader(101)), FrameError);
    assert.throws(() => new FrameDecoder(100).push(Buffer.from([1, 0, 0, 4])), /starts with 0x1/);
    assert.deepEqual(new FrameDecoder(100).push(frameHeader(0)), [Buffer.alloc(0)]);
    assert.throws(() => frameHeader(1 << 24), RangeError);
    assert.deepEqual(frameHeader(0x123456), Buffer.from([0, 0x12, 0x34, 0x56]));
  });
});

describe('SMB2 connection fuzzing', () => {
  test('random frames: an answer or a close, never a throw', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.constantFrom(0xfe, 0xff, 0xfd, 0xfc, 0x00), async (bytes, first) => {
      const b = Buffer.from(bytes);
      if (b.length >= 4 && first) b.set([first, 0x53, 0x4d, 0x42]);
      const out = await connection().handleFrame(b);
      checkReplies(out.replies);
    }), { numRuns: 500 });
  });

  test('mutated NEGOTIATE, SMB1 NEGOTIATE, SESSION_SETUP, TREE_CONNECT, ECHO, compounds and encrypted messages', async () => {
    const neg = message({ command: 0, credits: 1 }, (w) => {
      writeNegotiateRequest(w, { securityMode: 1, capabilities: 0x44, clientGuid: Buffer.alloc(16, 3), dialects: [0x202, 0x210, 0x300, 0x302, 0x311], contexts: [
        { type: 1, hashAlgorithms: [1], salt: Buffer.alloc(32, 1) }, { type: 2, ciphers: [2, 1] }, { type: 8, algorithms: [2, 1] }] });
    });
    await fc.assert(fc.asyncProperty(mutated(neg), async (m) => { checkReplies((await connection().handleFrame(m)).replies); }), { numRuns: 400 });
    await fc.assert(fc.asyncProperty(mutated(smb1Negotiate(['NT LM 0.12', 'SMB 2.002', 'SMB 2.???'])), async (m) => { checkReplies((await connection().handleFrame(m)).replies); }), { numRuns: 300 });

    // After a login: the rest of the commands, mutated.
    const c = new TestClient(connection());
    await c.negotiate([DIALECT.SMB311], { ciphers: [CIPHER.AES_128_GCM] });
    assert.equal((await c.login('alice', 's3cret')).header.status, STATUS.SUCCESS);
    const base = { credits: 1, sessionId: c.sessionId };
    const samples = [
      message({ command: Command.SESSION_SETUP, ...base, sessionId: 0n }, (w) => { writeSessionSetupRequest(w, { flags: 0, securityMode: 1, capabilities: 0, channel: 0, previousSessionId: 0n, securityBuffer: encodeNegTokenInit({ mechTypes: [OID_NTLMSSP], mechToken: encodeNegotiateMessage(0xe2088297) }) }); }),
      message({ command: Command.TREE_CONNECT, ...base }, (w) => { writeTreeConnectRequest(w, { flags: 0, path: '\\\\dw\\data' }); }),
      message({ command: Command.ECHO, ...base }, (w) => { writeEmptyBody(w); }),
      message({ command: Command.LOGOFF, ...base }, (w) => { writeEmptyBody(w); }),
      message({ command: Command.CREATE, ...base, treeId: 1 }, (w) => w.zeros(56)),
    ];
    samples.push(joinCompound([samples[2]!, samples[1]!, samples[2]!]));
    samples.push(encryptMessage(samples[1]!, { cipher: CIPHER.AES_128_GCM, key: c.keys!.decryptionKey!, sessionId: c.sessionId, nonce: Buffer.alloc(12, 7) }));
    for (const [i, s] of samples.entries()) {
      let answered = 0;
      await fc.assert(fc.asyncProperty(mutated(s), fc.constantFrom(0n, 0n, 0n, 1n), async (m, id) => {
        // A fresh logged-in connection would cost a login per run; one connection takes them all,
        // with MessageId, CreditCharge and CreditRequest rewritten to stay in its window.
        if (protocolOf(m) === 'smb2') {
          // Each member of a compound (by its NextCommand, while it stays inside) gets the next id.
          for (let off = 0, k = 0; off + 32 <= m.length && k < 8; k++) {
            m.writeUInt16LE(1, off + 6);
            m.writeUInt16LE(8, off + 14);
            m.writeBigUInt64LE(c.nextId, off + 24);
            if (off + 48 <= m.length) m.writeBigUInt64LE(c.sessionId, off + 40);
            c.nextId++;
            const next = m.readUInt32LE(off + 20);
            if (!next) break;
            off += next;
          }
        }
        c.nextId += id;
        const out = await c.conn.handleFrame(m);
        checkReplies(out.replies);
        if (out.replies.length) answered++;
        if (out.close) { // start over on a new connection
          const fresh = new TestClient(connection());
          await fresh.negotiate([DIALECT.SMB311], { ciphers: [CIPHER.AES_128_GCM] });
          await fresh.login('alice', 's3cret');
          Object.assign(c, { conn: fresh.conn, nextId: fresh.nextId, sessionId: fresh.sessionId, keys: fresh.keys });
        }
      }), { numRuns: 200, seed: 0x5eed + i }); // fixed seeds: the count below is not left to chance (a small ECHO once got 19 of 200 in CI)
      // (A mutated TRANSFORM_HEADER message fails its tag check and is dropped: that one only must not throw.)
      if (protocolOf(s) === 'smb2') assert.ok(answered >= 10, `mutations of a valid message are not all dropped (${answered}/200, command ${s.readUInt16LE(12)})`);
    }
  });
});

/** Reads whole frames from a socket. */
function frames(sock: Socket): { next(): Promise<Buffer | 'closed'> } {
  const d = new FrameDecoder(1 << 20);
  const got: Buffer[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  sock.on('data', (b) => { got.push(...d.push(b)); wake?.(); });
  sock.on('close', () => { closed = true; wake?.(); });
  sock.on('error', () => {});
  return {
    async next() {
      while (!got.length && !closed) await new Promise<void>((r) => { wake = r; });
      return got.shift() ?? 'closed';
    },
  };
}

describe('SMB2 TCP server', () => {
  test('answers over TCP; oversized and malformed frames close the socket; close() ends connections', async () => {
    const srv = await startSmbServer({
      host: '127.0.0.1', port: 0, maxFrame: 4096,
      lookup: async (u) => (u === 'alice' ? { principal: { name: 'alice', uid: 1000, gid: 1000, groups: [] }, ntHash: ntHash('s3cret') } : undefined),
    });
    try {
      const open = async () => {
        const s = connect(srv.port, '127.0.0.1');
        await new Promise((r) => s.once('connect', r));
        return { s, f: frames(s) };
      };
      const a = await open();
      const m = smb1Negotiate(['SMB 2.002', 'SMB 2.???']);
      // The frame header and body in two writes, a byte apart.
      a.s.write(frameHeader(m.length).subarray(0, 2));
      await new Promise((r) => setTimeout(r, 20));
      a.s.write(Buffer.concat([frameHeader(m.length).subarray(2), m]));
      const r = await a.f.next();
      assert.ok(r !== 'closed');
      assert.equal(decodeNegotiateResponse(r).dialect, DIALECT.WILDCARD);

      const big = await open();
      big.s.write(frameHeader(4097));
      assert.equal(await big.f.next(), 'closed', 'over maxFrame');
      const bad = await open();
      bad.s.write(Buffer.from([0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]));
      assert.equal(await bad.f.next(), 'closed', 'not SMB');

      const idle = await open();
      await srv.close();
      assert.equal(await idle.f.next(), 'closed');
      assert.equal(await a.f.next(), 'closed');
    } finally {
      await srv.close().catch(() => {});
    }
  });
});
