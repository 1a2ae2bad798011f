/**
 * SMB 3 keys, pre-auth hash, signing and encryption against Microsoft's published examples
 * (anatomy-of-keys post: KDF for 3.0 and 3.1.1, the hash chain, a signed SESSION_SETUP
 * response; SMB 3.1.1 encryption post: AES-128-GCM and AES-128-CCM WRITE messages) and
 * RFC 4493 for AES-CMAC; round trips, tampering and fuzzing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CCM311, GCM311, hex, KDF30, X311 } from '../testdata/ms-vectors.js';
import { Command, encodeHeader, header, HDR_FLAGS } from '../wire/header.js';
import { CIPHER, DIALECT, SIGNING_ALG } from '../wire/negotiate.js';
import { WireError } from '../wire/reader.js';
import { cipherParams, decodeTransform, DecryptError, decryptMessage, encryptMessage, NonceSequence, sealMessage } from './encrypt.js';
import { nativeGcmOpen, useNativeGcm } from './native.js';
import { deriveServerKeys, kdf, PreauthHash, smbSessionKey } from './keys.js';
import { aesCmac, computeSignature, gmacNonce, signingAlgorithmFor, signMessage, verifySignature } from './sign.js';

test('AES-CMAC: RFC 4493 section 4 examples 1-4', () => {
  const key = hex('2b7e151628aed2a6abf7158809cf4f3c');
  const m = hex('6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710');
  assert.equal(aesCmac(key, Buffer.alloc(0)).toString('hex'), 'bb1d6929e95937287fa37d129b756746');
  assert.equal(aesCmac(key, m.subarray(0, 16)).toString('hex'), '070a16b46b4d4144f79bdd9dd04a287c');
  assert.equal(aesCmac(key, m.subarray(0, 40)).toString('hex'), 'dfa66747de9ae63030ca32611497c827');
  assert.equal(aesCmac(key, m).toString('hex'), '51f0bebf7e3b9d92fc49741779363cfe');
  assert.deepEqual(aesCmac(key, m.subarray(0, 7), m.subarray(7, 40)), aesCmac(key, m.subarray(0, 40)));
  assert.throws(() => aesCmac(Buffer.alloc(32), m), RangeError);
});

test('KDF: SMB 3.0 keys of the anatomy post (the server decrypts with the client encryption key)', () => {
  const k = deriveServerKeys({ dialect: DIALECT.SMB300, gssKey: KDF30.sessionKey });
  assert.deepEqual(k.signingKey, KDF30.signingKey);
  assert.deepEqual(k.decryptionKey, KDF30.clientEncryptionKey);
  assert.deepEqual(k.encryptionKey, KDF30.clientDecryptionKey);
  assert.deepEqual(k.applicationKey, KDF30.applicationKey);
  assert.deepEqual(deriveServerKeys({ dialect: DIALECT.SMB302, gssKey: KDF30.sessionKey }), k);
  assert.deepEqual(deriveServerKeys({ dialect: DIALECT.SMB210, gssKey: Buffer.alloc(8, 1) }).signingKey, Buffer.concat([Buffer.alloc(8, 1), Buffer.alloc(8)]));
  assert.deepEqual(smbSessionKey(Buffer.alloc(32, 3)), Buffer.alloc(16, 3));
});

test('pre-auth integrity: the SHA-512 chain over the Windows NEGOTIATE and SESSION_SETUP messages', () => {
  const conn = new PreauthHash().update(X311.negotiateRequest);
  assert.deepEqual(conn.value, X311.hashAfterNegotiateRequest);
  conn.update(X311.negotiateResponse);
  assert.deepEqual(conn.value, X311.hashAfterNegotiateResponse);
  const sess = conn.fork().update(X311.sessionSetupRequest1);
  assert.deepEqual(sess.value, X311.hashAfterSessionSetupRequest1);
  assert.deepEqual(conn.value, X311.hashAfterNegotiateResponse, 'the fork is independent');
  sess.update(X311.sessionSetupResponse1);
  assert.deepEqual(sess.value, X311.hashAfterSessionSetupResponse1);
  sess.update(X311.sessionSetupRequest2);
  assert.deepEqual(sess.value, X311.hashAfterSessionSetupRequest2);
  assert.throws(() => new PreauthHash(Buffer.alloc(63)), RangeError);
});

test('KDF: SMB 3.1.1 keys of the three published sessions (anatomy post, GCM and CCM encryption posts)', () => {
  for (const [v, hash, cipher] of [[X311, X311.hashAfterSessionSetupRequest2, CIPHER.AES_128_GCM], [GCM311, GCM311.preauthHash, CIPHER.AES_128_GCM], [CCM311, CCM311.preauthHash, CIPHER.AES_128_CCM]] as const) {
    const k = deriveServerKeys({ dialect: DIALECT.SMB311, gssKey: v.sessionKey, preauthHash: hash, cipher });
    assert.deepEqual(k.signingKey, v.signingKey);
    assert.deepEqual(k.decryptionKey, v.clientEncryptionKey);
    assert.deepEqual(k.encryptionKey, v.clientDecryptionKey);
    if ('applicationKey' in v) assert.deepEqual(k.applicationKey, v.applicationKey);
  }
  const wide = deriveServerKeys({ dialect: DIALECT.SMB311, gssKey: X311.sessionKey, preauthHash: X311.hashAfterSessionSetupRequest2, cipher: CIPHER.AES_256_GCM });
  assert.equal(wide.encryptionKey!.length, 32);
  assert.equal(wide.signingKey.length, 16);
  assert.deepEqual(wide.signingKey, X311.signingKey);
  assert.deepEqual(kdf(X311.sessionKey, 'SMBS2CCipherKey\0', X311.hashAfterSessionSetupRequest2, 256).subarray(0, 16).equals(X311.clientDecryptionKey), false, 'L is part of the input');
  assert.throws(() => deriveServerKeys({ dialect: DIALECT.SMB311, gssKey: X311.sessionKey }), RangeError);
  assert.throws(() => deriveServerKeys({ dialect: 0x0400, gssKey: X311.sessionKey }), RangeError);
});

test('signing: the final SESSION_SETUP responses of two Windows sessions verify with AES-128-CMAC', () => {
  for (const [m, key] of [[X311.sessionSetupResponse2, X311.signingKey], [GCM311.sessionSetupResponse2, GCM311.signingKey]] as const) {
    assert.ok(verifySignature(m, SIGNING_ALG.AES_CMAC, key));
    const resigned = signMessage(Buffer.from(m).fill(0, 48, 64), SIGNING_ALG.AES_CMAC, key);
    assert.deepEqual(resigned, m);
    for (const i of [0, 12, 20, 40, 47, 64, m.length - 1]) {
      const t = Buffer.from(m);
      t[i] = t[i]! ^ 0x01;
      assert.equal(verifySignature(t, SIGNING_ALG.AES_CMAC, key), false, `byte ${i}`);
    }
    assert.equal(verifySignature(m, SIGNING_ALG.AES_CMAC, Buffer.alloc(16)), false);
  }
  assert.equal(signingAlgorithmFor(DIALECT.SMB210), SIGNING_ALG.HMAC_SHA256);
  assert.equal(signingAlgorithmFor(DIALECT.SMB302), SIGNING_ALG.AES_CMAC);
  assert.equal(signingAlgorithmFor(DIALECT.SMB311), SIGNING_ALG.AES_CMAC);
  assert.equal(signingAlgorithmFor(DIALECT.SMB311, SIGNING_ALG.AES_GMAC), SIGNING_ALG.AES_GMAC);
});

test('signing: HMAC-SHA256 and AES-GMAC sign and verify; the GMAC nonce carries MessageId, role and CANCEL', () => {
  const req = Buffer.concat([encodeHeader(header({ command: Command.READ, messageId: 0x0102030405060708n, sessionId: 9n })), Buffer.alloc(49, 7)]);
  assert.equal(gmacNonce(req).toString('hex'), '080706050403020100000000');
  const resp = Buffer.from(req);
  resp.writeUInt32LE(HDR_FLAGS.SERVER_TO_REDIR, 16);
  assert.equal(gmacNonce(resp).toString('hex'), '080706050403020101000000');
  const cancel = Buffer.from(req);
  cancel.writeUInt16LE(Command.CANCEL, 12);
  assert.equal(gmacNonce(cancel).toString('hex'), '080706050403020102000000');
  const key = Buffer.alloc(16, 0x33);
  for (const alg of [SIGNING_ALG.HMAC_SHA256, SIGNING_ALG.AES_CMAC, SIGNING_ALG.AES_GMAC]) {
    const m = signMessage(Buffer.from(req), alg, key);
    assert.equal(m.readUInt32LE(16) & HDR_FLAGS.SIGNED, HDR_FLAGS.SIGNED);
    assert.ok(verifySignature(m, alg, key));
    const flipped = Buffer.from(m);
    flipped[70] = flipped[70]! ^ 0x80;
    assert.equal(verifySignature(flipped, alg, key), false);
  }
  assert.throws(() => computeSignature(Buffer.alloc(10), SIGNING_ALG.AES_CMAC, key), RangeError);
  assert.throws(() => computeSignature(req, 9, key), RangeError);
  assert.equal(verifySignature(Buffer.alloc(10), SIGNING_ALG.AES_CMAC, key), false);
});

test('encryption: the AES-128-GCM WRITE request and response of the 3.1.1 encryption post, byte for byte', () => {
  const k = deriveServerKeys({ dialect: DIALECT.SMB311, gssKey: GCM311.sessionKey, preauthHash: GCM311.preauthHash, cipher: CIPHER.AES_128_GCM });
  // What the client sent: the server's decryption key seals it identically.
  const sealed = encryptMessage(GCM311.writeRequest, { cipher: CIPHER.AES_128_GCM, key: k.decryptionKey!, sessionId: GCM311.sessionId, nonce: GCM311.writeNonce });
  const { header: h, ciphertext } = decodeTransform(sealed);
  assert.deepEqual(h.signature, GCM311.writeSignature);
  assert.deepEqual(ciphertext, GCM311.writeCiphertext);
  assert.equal(h.originalMessageSize, 0x87);
  assert.equal(h.sessionId, GCM311.sessionId);
  const opened = decryptMessage(sealed, (id) => (id === GCM311.sessionId ? { cipher: CIPHER.AES_128_GCM, key: k.decryptionKey! } : undefined));
  assert.deepEqual(opened.message, GCM311.writeRequest);
  // What the server sent back.
  const nonce = decodeTransform(GCM311.writeResponseTransformed).header.nonce.subarray(0, 12);
  const resp = encryptMessage(GCM311.writeResponse, { cipher: CIPHER.AES_128_GCM, key: k.encryptionKey!, sessionId: GCM311.sessionId, nonce });
  assert.deepEqual(resp, GCM311.writeResponseTransformed);
});

test('encryption: the AES-128-CCM WRITE request of the 3.1.1 encryption post, byte for byte', () => {
  const k = deriveServerKeys({ dialect: DIALECT.SMB311, gssKey: CCM311.sessionKey, preauthHash: CCM311.preauthHash, cipher: CIPHER.AES_128_CCM });
  const sealed = encryptMessage(CCM311.writeRequest, { cipher: CIPHER.AES_128_CCM, key: k.decryptionKey!, sessionId: CCM311.sessionId, nonce: CCM311.writeNonce });
  const { header: h, ciphertext } = decodeTransform(sealed);
  assert.deepEqual(h.signature, CCM311.writeSignature);
  assert.deepEqual(ciphertext, CCM311.writeCiphertext);
  assert.deepEqual(h.nonce, Buffer.concat([CCM311.writeNonce, Buffer.alloc(5)]));
  assert.deepEqual(decryptMessage(sealed, () => ({ cipher: CIPHER.AES_128_CCM, key: k.decryptionKey! })).message, CCM311.writeRequest);
});

test('sealMessage: the transform header (52 bytes) and the ciphertext, which joined are encryptMessage\'s bytes and decrypt', () => {
  const msg = Buffer.alloc(3 << 20);
  for (let i = 0; i < msg.length; i += 4096) msg[i] = i & 0xff;
  for (const cipher of [CIPHER.AES_128_CCM, CIPHER.AES_128_GCM, CIPHER.AES_256_CCM, CIPHER.AES_256_GCM]) {
    const p = cipherParams(cipher);
    const o = { cipher, key: Buffer.alloc(p.keyLength, 5), sessionId: 9n, nonce: Buffer.alloc(p.nonceLength, 3) };
    const pieces = sealMessage(msg, o);
    assert.equal(pieces.length, 2);
    assert.equal(pieces[0]!.length, 52);
    assert.equal(pieces[1]!.length, msg.length);
    const joined = Buffer.concat(pieces);
    assert.deepEqual(joined, encryptMessage(msg, o));
    const opened = decryptMessage(joined, (id) => (id === 9n ? { cipher, key: o.key } : undefined));
    assert.deepEqual(opened.message, msg);
    // GCM decrypts in place (the message is the frame's own bytes after the 52-byte header); CCM copies.
    const gcm = p.nonceLength === 12;
    assert.equal(opened.inPlace, gcm);
    assert.equal(opened.message.buffer === joined.buffer && opened.message.byteOffset === joined.byteOffset + 52, gcm);
  }
});

test('encryption: all four ciphers round-trip; any changed bit, wrong key or unknown session is refused', () => {
  for (const cipher of [CIPHER.AES_128_CCM, CIPHER.AES_128_GCM, CIPHER.AES_256_CCM, CIPHER.AES_256_GCM]) {
    const p = cipherParams(cipher);
    const key = Buffer.alloc(p.keyLength, cipher);
    const seq = new NonceSequence(p.nonceLength);
    const lookup = (id: bigint) => (id === 77n ? { cipher, key } : undefined);
    fc.assert(fc.property(fc.uint8Array({ minLength: 64, maxLength: 400 }), fc.nat(), (m, pos) => {
      const msg = Buffer.from(m);
      const sealed = encryptMessage(msg, { cipher, key, sessionId: 77n, nonce: seq.next() });
      const t = Buffer.from(sealed); // (GCM decrypts in place: copied first)
      assert.deepEqual(decryptMessage(sealed, lookup).message, msg);
      const i = 4 + (pos % (t.length - 4));
      t[i] = t[i]! ^ (1 << (pos % 8));
      assert.throws(() => decryptMessage(t, lookup), (e: unknown) => e instanceof DecryptError || e instanceof WireError);
    }), { numRuns: 100 });
    const sealed = encryptMessage(Buffer.alloc(100, 1), { cipher, key, sessionId: 77n, nonce: seq.next() });
    assert.throws(() => decryptMessage(sealed, () => ({ cipher, key: Buffer.alloc(p.keyLength, 0xee) })), DecryptError);
    assert.throws(() => decryptMessage(sealed, () => undefined), /unknown session/);
    assert.throws(() => encryptMessage(Buffer.alloc(10), { cipher, key: Buffer.alloc(8), sessionId: 1n, nonce: seq.next() }), RangeError);
  }
  const a = new NonceSequence(12), b = new NonceSequence(12);
  assert.notDeepEqual(a.next(), a.next());
  assert.notDeepEqual(a.next().subarray(8), b.next().subarray(8));
  assert.throws(() => cipherParams(9), RangeError);
});

test('GCM decryption: in place through our addon (native.ts) and through Node\'s cipher alike; tampering refused by both', () => {
  assert.ok(nativeGcmOpen(), 'the native/sys addon loads with gcmOpenInPlace (built by node scripts/build-native.mjs)');
  for (const cipher of [CIPHER.AES_128_GCM, CIPHER.AES_256_GCM]) {
    const key = Buffer.alloc(cipherParams(cipher).keyLength, 0x3c);
    const seq = new NonceSequence(12);
    const lookup = () => ({ cipher, key });
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 70_000 }), fc.nat(), (m, pos) => {
      const msg = Buffer.from(m);
      const sealed = encryptMessage(msg, { cipher, key, sessionId: 5n, nonce: seq.next() });
      const i = 20 + (pos % (sealed.length - 20)); // from the Nonce on: the AAD and the ciphertext
      for (const native of [true, false]) {
        const was = useNativeGcm(native);
        try {
          const copy = Buffer.from(sealed);
          const out = decryptMessage(copy, lookup);
          assert.deepEqual(out.message, msg);
          assert.equal(out.inPlace, true);
          const bad = Buffer.from(sealed);
          bad[i] = bad[i]! ^ (1 << (pos % 8));
          assert.throws(() => decryptMessage(bad, lookup), (e: unknown) => e instanceof DecryptError || e instanceof WireError);
        } finally {
          useNativeGcm(was);
        }
      }
    }), { numRuns: 60 });
  }
});

test('fuzz: decryptMessage on mutated and random input throws only WireError or DecryptError', () => {
  const key = Buffer.alloc(16, 5);
  const valid = encryptMessage(GCM311.writeRequest, { cipher: CIPHER.AES_128_GCM, key, sessionId: 1n, nonce: Buffer.alloc(12, 9) });
  const lookup = () => ({ cipher: CIPHER.AES_128_GCM, key });
  const check = (b: Buffer) => {
    try {
      const out = decryptMessage(b, lookup);
      assert.deepEqual(out.message, GCM311.writeRequest);
    } catch (e) {
      if (!(e instanceof WireError || e instanceof DecryptError)) throw e;
    }
  };
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.integer({ min: -valid.length, max: 8 }), (flips, cut) => {
    const b = Buffer.from(valid);
    for (const [i, v] of flips) b[i] = v;
    check(cut < 0 ? b.subarray(0, b.length + cut) : Buffer.concat([b, Buffer.alloc(cut)]));
  }), { numRuns: 500 });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (x) => check(Buffer.from(x))), { numRuns: 300 });
});
