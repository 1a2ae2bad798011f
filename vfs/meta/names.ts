/**
 * Names at rest (issue 5, "file names, xattrs and symlink targets in RocksDB are encrypted too").
 *
 * On an encrypted pool a name never appears in the metadata as it is:
 *   - key parts: 'D' parent NAME and 'X' ino NAME hold `key(name)`, the first 16 bytes of
 *     HMAC-SHA-256(hash key, name) as 32 hex digits, so a lookup by name is one get, as before.
 *     Hex keeps the parts free of NUL, which the history rows ('H' key 0x00 epoch) rely on.
 *   - values: the readdir row ('d'), an xattr row (its name and value) and a symlink target hold
 *     `seal(bytes)`: AES-256-GCM under the seal key, random 96-bit nonce, laid out as
 *     nonce(12) | ciphertext | tag(16).
 * The two keys come from the pool's 32-byte names key by HKDF-SHA-256 (info 'dw names hash',
 * 'dw names seal'). On a plain pool (`PLAIN_NAMES`) every function is the identity.
 *
 * Errors: open() of bytes that do not authenticate throws VfsError EIO (metadata corrupt, or
 * written under another key).
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { Errno, VfsError } from '../errno.js';

export interface NameCipher {
  /** True when names are encrypted. */
  readonly encrypted: boolean;
  /** The key part stored for `name` ('D', 'X' rows): the name itself, or its keyed hash in hex. */
  key(name: string): string;
  /** Bytes stored for a name or value inside a row: as given, or sealed. */
  seal(plain: Buffer): Buffer;
  /** The inverse of seal; EIO when sealed bytes do not authenticate. */
  open(stored: Buffer): Buffer;
}

/** Names as they are (a pool without encryption). */
export const PLAIN_NAMES: NameCipher = {
  encrypted: false,
  key: (name) => name,
  seal: (b) => b,
  open: (b) => b,
};

const NONCE = 12;
const TAG = 16;

/** A cipher for names under `namesKey` (32 bytes, from the pool's key material). */
export function nameCipher(namesKey: Buffer): NameCipher {
  if (namesKey.length !== 32) throw new RangeError('the names key is 32 bytes');
  const hashKey = Buffer.from(hkdfSync('sha256', namesKey, Buffer.alloc(0), 'dw names hash', 32));
  const sealKey = Buffer.from(hkdfSync('sha256', namesKey, Buffer.alloc(0), 'dw names seal', 32));
  return {
    encrypted: true,
    key: (name) => createHmac('sha256', hashKey).update(name, 'utf8').digest().subarray(0, 16).toString('hex'),
    seal(plain) {
      const nonce = randomBytes(NONCE);
      const c = createCipheriv('aes-256-gcm', sealKey, nonce);
      const body = Buffer.concat([nonce, c.update(plain), c.final()]);
      return Buffer.concat([body, c.getAuthTag()]);
    },
    open(stored) {
      if (stored.length < NONCE + TAG) throw new VfsError(Errno.EIO, 'encrypted name or value too short (corrupt metadata)');
      try {
        const d = createDecipheriv('aes-256-gcm', sealKey, stored.subarray(0, NONCE));
        d.setAuthTag(stored.subarray(stored.length - TAG));
        return Buffer.concat([d.update(stored.subarray(NONCE, stored.length - TAG)), d.final()]);
      } catch {
        throw new VfsError(Errno.EIO, 'an encrypted name or value did not authenticate (corrupt metadata, or another key)');
      }
    },
  };
}
