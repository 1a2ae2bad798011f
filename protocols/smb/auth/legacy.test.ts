/** MD4 (RFC 1320 A.5) and RC4 (RFC 6229) known answers; the NT hash of MS-NLMP 4.2.2.1.2. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { md4, Rc4, rc4 } from './legacy.js';
import { NLMP, X311 } from '../testdata/ms-vectors.js';

test('MD4: the RFC 1320 appendix A.5 test suite', () => {
  const suite: [string, string][] = [
    ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
    ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
    ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
    ['message digest', 'd9130a8164549fe818874806e1c7014b'],
    ['abcdefghijklmnopqrstuvwxyz', 'd79e1c308aa5bbcdeea8ed63df412da9'],
    ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', '043f8582f241db351ce627e153e7f0e4'],
    ['1234567890'.repeat(8), 'e33b4ddc9c38f2199c3e7b164fcc0536'],
  ];
  for (const [msg, want] of suite) assert.equal(md4(Buffer.from(msg, 'latin1')).toString('hex'), want, JSON.stringify(msg));
});

test('MD4: the NT hash of "Password" (MS-NLMP 4.2.2.1.2) and of "Password01!" (anatomy blog)', () => {
  assert.deepEqual(md4(Buffer.from(NLMP.password, 'utf16le')), NLMP.ntHash);
  assert.deepEqual(md4(Buffer.from(X311.ntlm.password, 'utf16le')), X311.ntlm.ntHash);
});

test('MD4: messages around the 55/56/64-byte padding edges differ and are 16 bytes', () => {
  const seen = new Set<string>();
  for (const n of [54, 55, 56, 57, 63, 64, 65, 119, 120, 128]) {
    const d = md4(Buffer.alloc(n, 0x61));
    assert.equal(d.length, 16);
    seen.add(d.toString('hex'));
  }
  assert.equal(seen.size, 10);
});

test('RC4: RFC 6229 keystreams for the 40- and 64-bit keys, offset 0', () => {
  assert.equal(rc4(Buffer.from('0102030405', 'hex'), Buffer.alloc(16)).toString('hex'), 'b2396305f03dc027ccc3524a0a1118a8');
  assert.equal(rc4(Buffer.from('0102030405060708', 'hex'), Buffer.alloc(16)).toString('hex'), '97ab8a1bf0afb96132f2f67258da15a8');
});

test('RC4: the stream continues across update calls; decrypt inverts encrypt; key length checked', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), fc.nat(200), (key, data, cut) => {
    const whole = rc4(key, data);
    const s = new Rc4(key);
    const c = Math.min(cut, data.length);
    assert.deepEqual(Buffer.concat([s.update(data.subarray(0, c)), s.update(data.subarray(c))]), whole);
    assert.deepEqual(rc4(key, whole), Buffer.from(data));
  }), { numRuns: 200 });
  assert.throws(() => new Rc4(new Uint8Array(0)), RangeError);
  assert.throws(() => new Rc4(new Uint8Array(257)), RangeError);
});
