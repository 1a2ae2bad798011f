/**
 * MD4 (RFC 1320) and RC4, which NTLM needs (the NT hash is MD4 of the UTF-16LE password; key
 * exchange RC4-encrypts the session key, MS-NLMP 3.1.5.1.2 / 3.4) and which Node 20's OpenSSL 3
 * default provider no longer offers (`crypto.getHashes()` has no md4, `getCiphers()` no rc4).
 * Written from the RFC text and the RC4 algorithm description; only for those legacy uses, never
 * as general-purpose primitives. Tested against RFC 1320 A.5 and RFC 6229 vectors.
 */

const rotl = (x: number, n: number): number => (x << n) | (x >>> (32 - n));

/** MD4 digest of `data` (RFC 1320): 16 bytes. */
export function md4(data: Uint8Array): Buffer {
  // Padding (3.1, 3.2): a 1 bit, zeros to 56 mod 64, then the bit length as 64-bit little-endian.
  const len = data.length;
  const total = (((len + 8) >>> 6) + 1) << 6;
  const m = Buffer.alloc(total);
  m.set(data);
  m[len] = 0x80;
  const bits = BigInt(len) * 8n;
  m.writeUInt32LE(Number(bits & 0xffffffffn), total - 8);
  m.writeUInt32LE(Number((bits >> 32n) & 0xffffffffn), total - 4);

  let a = 0x67452301, b = 0xefcdab89, c = 0x98badcfe, d = 0x10325476;
  const x = new Int32Array(16);
  const F = (p: number, q: number, r: number): number => (p & q) | (~p & r);
  const G = (p: number, q: number, r: number): number => (p & q) | (p & r) | (q & r);
  const H = (p: number, q: number, r: number): number => p ^ q ^ r;
  for (let off = 0; off < total; off += 64) {
    for (let i = 0; i < 16; i++) x[i] = m.readInt32LE(off + i * 4);
    const aa = a, bb = b, cc = c, dd = d;
    // Round 1 (3.4): [abcd k s] a = (a + F(b,c,d) + X[k]) <<< s
    for (const k of [0, 4, 8, 12]) {
      a = rotl((a + F(b, c, d) + x[k]!) | 0, 3);
      d = rotl((d + F(a, b, c) + x[k + 1]!) | 0, 7);
      c = rotl((c + F(d, a, b) + x[k + 2]!) | 0, 11);
      b = rotl((b + F(c, d, a) + x[k + 3]!) | 0, 19);
    }
    // Round 2: a = (a + G(b,c,d) + X[k] + 5A827999) <<< s
    for (const k of [0, 1, 2, 3]) {
      a = rotl((a + G(b, c, d) + x[k]! + 0x5a827999) | 0, 3);
      d = rotl((d + G(a, b, c) + x[k + 4]! + 0x5a827999) | 0, 5);
      c = rotl((c + G(d, a, b) + x[k + 8]! + 0x5a827999) | 0, 9);
      b = rotl((b + G(c, d, a) + x[k + 12]! + 0x5a827999) | 0, 13);
    }
    // Round 3: a = (a + H(b,c,d) + X[k] + 6ED9EBA1) <<< s, k in the order 0 2 1 3.
    for (const k of [0, 2, 1, 3]) {
      a = rotl((a + H(b, c, d) + x[k]! + 0x6ed9eba1) | 0, 3);
      d = rotl((d + H(a, b, c) + x[k + 8]! + 0x6ed9eba1) | 0, 9);
      c = rotl((c + H(d, a, b) + x[k + 4]! + 0x6ed9eba1) | 0, 11);
      b = rotl((b + H(c, d, a) + x[k + 12]! + 0x6ed9eba1) | 0, 15);
    }
    a = (a + aa) | 0;
    b = (b + bb) | 0;
    c = (c + cc) | 0;
    d = (d + dd) | 0;
  }
  const out = Buffer.alloc(16);
  out.writeInt32LE(a, 0);
  out.writeInt32LE(b, 4);
  out.writeInt32LE(c, 8);
  out.writeInt32LE(d, 12);
  return out;
}

/**
 * An RC4 keystream (key 1..256 bytes). Stateful: successive `update` calls continue the stream,
 * as NTLM's sealing handle does across messages (MS-NLMP 3.4.3).
 */
export class Rc4 {
  private readonly s = new Uint8Array(256);
  private i = 0;
  private j = 0;

  constructor(key: Uint8Array) {
    if (key.length < 1 || key.length > 256) throw new RangeError('RC4 key must be 1..256 bytes');
    for (let k = 0; k < 256; k++) this.s[k] = k;
    for (let k = 0, j = 0; k < 256; k++) {
      j = (j + this.s[k]! + key[k % key.length]!) & 0xff;
      const t = this.s[k]!;
      this.s[k] = this.s[j]!;
      this.s[j] = t;
    }
  }

  /** XORs `data` with the next `data.length` keystream bytes; returns a new buffer. */
  update(data: Uint8Array): Buffer {
    const out = Buffer.alloc(data.length);
    const s = this.s;
    let i = this.i, j = this.j;
    for (let n = 0; n < data.length; n++) {
      i = (i + 1) & 0xff;
      j = (j + s[i]!) & 0xff;
      const t = s[i]!;
      s[i] = s[j]!;
      s[j] = t;
      out[n] = data[n]! ^ s[(s[i]! + s[j]!) & 0xff]!;
    }
    this.i = i;
    this.j = j;
    return out;
  }
}

/** One-shot RC4: `data` XOR the keystream of `key` from its start. */
export function rc4(key: Uint8Array, data: Uint8Array): Buffer {
  return new Rc4(key).update(data);
}
