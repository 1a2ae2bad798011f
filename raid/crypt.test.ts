/**
 * Encryption at rest, the pieces: the block envelope (crypt.ts) through both codecs, the read
 * path's unpack (decrypt then decompress), and the key record (keys.ts): wrap/unwrap, rotation,
 * key files, and a fuzz of its decoder (any bytes: a record or a DecodeError, never a crash).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { Errno, VfsError } from '../vfs/errno.js';
import { type Codec, fillJob, InlineCodec, WorkerCodec } from './codec.js';
import { Alg } from './compress.js';
import { type BlockKeys, CRYPT_OVERHEAD, openSealed, sealInto } from './crypt.js';
import { shardSizeFor } from './format.js';
import { decodeKeyRecord, decodeKeyRecordStrict, encodeKeyRecord, type KeyRecord, newKeyRecord, parseKeyFile, rewrapKeyRecord, unlockKeyRecord } from './keys.js';
import { DecodeError } from './reader.js';
import { unpackBlock } from './unpack.js';

const isErr = (errno: Errno, re?: RegExp) => (e: unknown) => e instanceof VfsError && e.errno === errno && (!re || re.test(e.message));
/** Cheap scrypt for tests (the default costs ~0.3 s per derivation). */
const FAST = { logN: 10, r: 8, p: 1 };
const POOL = 'ab'.repeat(16);

function text(n: number): Buffer {
  const words = ['the', 'quick', 'brown', 'fox', 'secret', 'ledger', '\n'];
  const out: string[] = [];
  for (let i = 0, len = 0; len < n; i++) {
    const w = words[(i * 7 + (i >> 3)) % words.length]!;
    out.push(w, ' ');
    len += w.length + 1;
  }
  return Buffer.from(out.join('')).subarray(0, n);
}

const ring = (key: Buffer, id = 1): BlockKeys => ({ current: id, key: (i) => (i === id ? key : undefined) });

const codecs: Codec[] = [new InlineCodec(), new WorkerCodec(2)];
after(async () => { for (const c of codecs) await c.close(); });

for (const codec of codecs) {
  describe(`encryption through the ${codec.name} codec`, () => {
    test('round trip: seal (with and without compression), verify shards, unpack; small blocks and ones big enough for the worker', async () => {
      const key = randomBytes(32);
      for (const [size, compress] of [[0, false], [1, false], [1000, true], [70_000, false], [300_000, false], [300_000, true], [1 << 20, true]] as const) {
        const data = compress ? text(size) : randomBytes(size);
        for (const [k, m] of [[4, 2], [2, 1], [1, 2]] as const) {
          const id = 1000 + size + k;
          const p = { kind: (k === 1 ? 'copy' : 'rs') as 'rs' | 'copy', k, m, shardSize: shardSizeFor(data.length + CRYPT_OVERHEAD, k) };
          let buf = codec.alloc(p);
          fillJob(p, buf, data);
          const enc = await codec.encode(p, buf, { spec: compress ? { alg: Alg.Zstd, level: 3 } : undefined, length: data.length, seal: { key, keyId: 1, blockId: id } });
          buf = enc.buf;
          const { alg, stored, shardSize } = enc.packed;
          assert.equal(alg !== 0, compress && size > 0, `compressed ${size}`);
          if (!alg) assert.equal(stored, data.length + CRYPT_OVERHEAD);
          assert.equal(buf.readUInt32LE(0), 1, 'key id first');
          if (size >= 64) assert.equal(buf.subarray(0, stored).indexOf(data.subarray(16, 48)), -1, 'no plaintext in the stored bytes');
          const q = { ...p, shardSize };
          const all = (2 ** (k + m) - 1) >>> 0;
          const dec = await codec.decode(q, buf, all, 0, enc.sums);
          assert.ok(dec.ok);
          assert.equal(dec.good, all, 'every shard verifies against its checksum');
          const back = await unpackBlock({ flags: 2 | (alg ? 1 : 0), alg, length: data.length }, dec.buf.subarray(0, stored), id, ring(key));
          assert.ok(back.equals(data), `round trip ${size} ${k}+${m}`);
          codec.free(dec.buf);
        }
      }
    });
  });
}

describe('block envelope (crypt.ts)', () => {
  const key = randomBytes(32);
  const data = text(5000);
  const sealed = (id = 7, alg = 0, length = data.length) => {
    const out = Buffer.alloc(data.length + CRYPT_OVERHEAD);
    assert.equal(sealInto({ key, keyId: 1, blockId: id }, alg, length, data, out), out.length);
    return out;
  };

  test('opens with the right key, id, length and algorithm; fresh nonce every time', () => {
    assert.ok(openSealed(ring(key), 7, 0, data.length, sealed()).equals(data));
    assert.notDeepEqual(sealed().subarray(4, 16), sealed().subarray(4, 16), 'nonces differ');
  });

  test('every alteration is EIO and returns nothing: ciphertext, tag, nonce, block id, row length, algorithm, key', () => {
    const s = sealed();
    for (const at of [4, 20, 2000, s.length - 1]) {
      const t = Buffer.from(s);
      t[at] = t[at]! ^ 1;
      assert.throws(() => openSealed(ring(key), 7, 0, data.length, t), isErr(Errno.EIO, /tag mismatch/), `byte ${at}`);
    }
    assert.throws(() => openSealed(ring(key), 8, 0, data.length, s), isErr(Errno.EIO, /tag mismatch/), 'a shard of another block');
    assert.throws(() => openSealed(ring(key), 7, 0, data.length - 1, s), isErr(Errno.EIO, /tag mismatch/), 'row length altered');
    assert.throws(() => openSealed(ring(key), 7, Alg.Lz4, data.length, s), isErr(Errno.EIO, /tag mismatch/), 'row algorithm altered');
    assert.throws(() => openSealed(ring(randomBytes(32)), 7, 0, data.length, s), isErr(Errno.EIO, /tag mismatch/), 'another key');
    const other = Buffer.from(s);
    other.writeUInt32LE(2, 0);
    assert.throws(() => openSealed(ring(key), 7, 0, data.length, other), isErr(Errno.EIO, /data key 2, which this pool does not have/));
    assert.throws(() => openSealed(ring(key), 7, 0, data.length, s.subarray(0, 31)), isErr(Errno.EIO, /shorter than its 32-byte envelope/));
    assert.throws(() => openSealed(undefined, 7, 0, data.length, s), isErr(Errno.EIO, /opened without its keys/));
  });

  test('unpack: a tag failure never reaches the decompressor; a raw length mismatch is EIO', async () => {
    const s = sealed(9);
    s[30] = s[30]! ^ 0x80;
    await assert.rejects(unpackBlock({ flags: 3, alg: Alg.Zstd, length: data.length }, s, 9, ring(key)), isErr(Errno.EIO, /tag mismatch/));
    await assert.rejects(unpackBlock({ flags: 2, alg: 0, length: data.length + 1 }, sealed(9, 0, data.length + 1), 9, ring(key)), isErr(Errno.EIO, /after decryption/));
  });
});

describe('key record (keys.ts)', () => {
  test('passphrase: unlocks with the passphrase, refuses another with the one-line message; record round trips', async () => {
    const rec = await newKeyRecord(POOL, { kind: 'passphrase', passphrase: 'correct horse' }, FAST);
    assert.equal(rec.source, 'passphrase');
    assert.deepEqual(decodeKeyRecordStrict(encodeKeyRecord(rec)), rec);
    assert.deepEqual(decodeKeyRecord(encodeKeyRecord(rec).toString('base64')), rec);
    const ring1 = await unlockKeyRecord(POOL, rec, { kind: 'passphrase', passphrase: 'correct horse' });
    assert.equal(ring1.current, 1);
    assert.equal(ring1.key(1)!.length, 32);
    assert.equal(ring1.dedupKey.length, 32);
    assert.ok(!ring1.dedupKey.equals(ring1.key(1)!), 'the dedup key is derived, not the data key');
    assert.equal(ring1.namesKey.length, 32);
    assert.ok(!ring1.namesKey.equals(ring1.dedupKey) && !ring1.namesKey.equals(ring1.key(1)!), 'the names key is its own');
    await assert.rejects(unlockKeyRecord(POOL, rec, { kind: 'passphrase', passphrase: 'wrong horse' }),
      isErr(Errno.EACCES, new RegExp(`^wrong passphrase for pool ${POOL}: the data key did not unwrap$`)));
    await assert.rejects(unlockKeyRecord('cd'.repeat(16), rec, { kind: 'passphrase', passphrase: 'correct horse' }), isErr(Errno.EACCES), 'bound to its pool id');
    await assert.rejects(unlockKeyRecord(POOL, rec, { kind: 'keyfile', key: randomBytes(32) }), isErr(Errno.EINVAL, /locked with a passphrase, not a key file/));
    await assert.rejects(unlockKeyRecord(POOL, rec, { kind: 'passphrase', passphrase: '' }), isErr(Errno.EINVAL, /empty/));
    // NFC: the same text typed as composed or decomposed characters unlocks alike.
    const r2 = await newKeyRecord(POOL, { kind: 'passphrase', passphrase: 'caf\u00e9' }, FAST);
    await unlockKeyRecord(POOL, r2, { kind: 'passphrase', passphrase: 'cafe\u0301' });
  });

  test('key file: 32 raw bytes or 64 hex digits; rotation to a passphrase keeps the data key, refuses the old secret', async () => {
    const raw = randomBytes(32);
    assert.ok(parseKeyFile(raw).equals(raw));
    assert.ok(parseKeyFile(Buffer.from(`${raw.toString('hex')}\n`)).equals(raw));
    assert.ok(parseKeyFile(Buffer.from(raw.toString('hex').toUpperCase())).equals(raw));
    for (const bad of [Buffer.alloc(31), Buffer.alloc(33), Buffer.from('zz'.repeat(32)), Buffer.from(raw.toString('hex').slice(2)), Buffer.alloc(0)]) {
      assert.throws(() => parseKeyFile(bad), isErr(Errno.EINVAL, /32 raw bytes or 64 hex digits/));
    }
    const rec = await newKeyRecord(POOL, { kind: 'keyfile', key: raw });
    assert.equal(rec.kdf.kind, 'hkdf');
    const before = await unlockKeyRecord(POOL, rec, { kind: 'keyfile', key: raw });
    await assert.rejects(unlockKeyRecord(POOL, rec, { kind: 'keyfile', key: randomBytes(32) }), isErr(Errno.EACCES, /^wrong key file for pool .*: the data key did not unwrap$/));
    await assert.rejects(rewrapKeyRecord(POOL, rec, { kind: 'keyfile', key: randomBytes(32) }, { kind: 'passphrase', passphrase: 'x' }, FAST), isErr(Errno.EACCES));
    const rot = await rewrapKeyRecord(POOL, rec, { kind: 'keyfile', key: raw }, { kind: 'passphrase', passphrase: 'new one' }, FAST);
    assert.equal(rot.source, 'passphrase');
    assert.ok(!rot.salt.equals(rec.salt), 'fresh salt');
    await assert.rejects(unlockKeyRecord(POOL, rot, { kind: 'keyfile', key: raw }), isErr(Errno.EINVAL));
    const afterRing = await unlockKeyRecord(POOL, rot, { kind: 'passphrase', passphrase: 'new one' });
    assert.ok(afterRing.key(1)!.equals(before.key(1)!), 'the same data key');
    assert.ok(afterRing.dedupKey.equals(before.dedupKey));
  });

  const recordArb: fc.Arbitrary<KeyRecord> = fc.record({
    passphrase: fc.boolean(),
    logN: fc.integer({ min: 10, max: 22 }), r: fc.integer({ min: 1, max: 8 }), p: fc.integer({ min: 1, max: 16 }),
    salt: fc.uint8Array({ minLength: 16, maxLength: 64 }),
    ids: fc.uniqueArray(fc.integer({ min: 1, max: 0xffffffff }), { minLength: 1, maxLength: 8 }),
    pick: fc.nat(),
    bytes: fc.uint8Array({ minLength: 60, maxLength: 60 }),
  }).map((x) => ({
    source: x.passphrase ? 'passphrase' as const : 'keyfile' as const,
    kdf: x.passphrase ? { kind: 'scrypt' as const, logN: x.logN, r: x.r, p: x.p } : { kind: 'hkdf' as const },
    salt: Buffer.from(x.salt),
    current: x.ids[x.pick % x.ids.length]!,
    keys: x.ids.map((id) => ({ id, nonce: Buffer.from(x.bytes.subarray(0, 12)), wrapped: Buffer.from(x.bytes.subarray(12, 60)) })),
  }));

  const decodesOrRefuses = (bytes: Uint8Array) => {
    try {
      const rec = decodeKeyRecordStrict(bytes);
      // Whatever decodes is a well-formed record that encodes back to the same bytes.
      assert.ok(encodeKeyRecord(rec).equals(Buffer.from(bytes)));
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      assert.ok(e.message.length > 0);
    }
  };

  test('property: records round trip through encode/decode and the pool row text', () => {
    fc.assert(fc.property(recordArb, (rec) => {
      if (128 * 2 ** (rec.kdf.kind === 'scrypt' ? rec.kdf.logN : 0) * (rec.kdf.kind === 'scrypt' ? rec.kdf.r : 0) > 1 << 30) {
        assert.throws(() => decodeKeyRecordStrict(encodeKeyRecord(rec)), DecodeError);
        return;
      }
      assert.deepEqual(decodeKeyRecordStrict(encodeKeyRecord(rec)), rec);
      assert.deepEqual(decodeKeyRecord(encodeKeyRecord(rec).toString('base64')), rec);
    }), { numRuns: 300 });
  });

  test('property: any bytes, and any truncation or byte change of a valid record, decode or give a DecodeError (never a crash)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), decodesOrRefuses), { numRuns: 2000 });
    fc.assert(fc.property(recordArb, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat(), (rec, at, x, cut) => {
      const b = encodeKeyRecord(rec);
      const flipped = Buffer.from(b);
      flipped[at % b.length] = flipped[at % b.length]! ^ x;
      decodesOrRefuses(flipped);
      decodesOrRefuses(b.subarray(0, cut % b.length));
      decodesOrRefuses(Buffer.concat([b, Buffer.of(x)]));
    }), { numRuns: 1000 });
  });

  test('property: any pool-row text is a record or EIO naming the corrupt key record', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.base64String({ maxLength: 400 })), (t) => {
      try {
        decodeKeyRecord(t);
      } catch (e) {
        assert.ok(isErr(Errno.EIO, /^pool state row has a corrupt key record: /)(e), String(e));
      }
    }), { numRuns: 1000 });
  });
});
