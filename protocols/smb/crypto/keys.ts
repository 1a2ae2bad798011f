/**
 * SMB 3.x session keys (MS-SMB2 3.3.5.5.3 / 3.2.5.3.1 with the KDF of 3.1.4.2) and the 3.1.1
 * pre-authentication integrity hash (3.3.5.4, 3.3.5.5: SHA-512 chained over NEGOTIATE and
 * SESSION_SETUP messages). The KDF is SP800-108 in counter mode with HMAC-SHA256, r = 32, one
 * iteration (L ≤ 256).
 */
import { createHash, createHmac } from 'node:crypto';
import { CIPHER, DIALECT } from '../wire/negotiate.js';

/**
 * SP800-108 counter-mode KDF with HMAC-SHA256 (MS-SMB2 3.1.4.2): HMAC(key, i=1 (uint32 BE) ||
 * label || 0x00 || context || L (uint32 BE)), cut to L bits. `label` and `context` are used as
 * given: MS-SMB2's labels carry their own trailing NUL ("SMB2AESCMAC\0"). `bits` is 128 or 256.
 */
export function kdf(key: Buffer, label: Buffer | string, context: Buffer | string, bits: 128 | 256): Buffer {
  const L = Buffer.alloc(4);
  L.writeUInt32BE(bits);
  const h = createHmac('sha256', key);
  h.update(Buffer.from([0, 0, 0, 1])).update(typeof label === 'string' ? Buffer.from(label, 'latin1') : label)
    .update(Buffer.from([0])).update(typeof context === 'string' ? Buffer.from(context, 'latin1') : context).update(L);
  return h.digest().subarray(0, bits / 8);
}

/** A server session's keys. `encryptionKey` seals server-to-client, `decryptionKey` opens client-to-server. */
export interface SessionKeys {
  /** 16 bytes (the session key itself for 2.0.2 / 2.1). */
  signingKey: Buffer;
  /** 16 or 32 bytes; absent below 3.0. */
  encryptionKey?: Buffer;
  decryptionKey?: Buffer;
  applicationKey?: Buffer;
}

/** SessionKey = the first 16 bytes of the GSS key, right-padded with zeros (MS-SMB2 3.3.5.5.3). */
export function smbSessionKey(gssKey: Buffer): Buffer {
  const k = Buffer.alloc(16);
  gssKey.copy(k, 0, 0, 16);
  return k;
}

/**
 * The server's keys for a session (MS-SMB2 3.3.5.5.3):
 * - 2.0.2 / 2.1: signing with the session key, no encryption;
 * - 3.0 / 3.0.2: "SMB2AESCMAC"/"SmbSign", "SMB2AESCCM"/"ServerOut " (server out = encryption),
 *   "SMB2AESCCM"/"ServerIn " (decryption), "SMB2APP"/"SmbRpc";
 * - 3.1.1: "SMBSigningKey", "SMBS2CCipherKey" (encryption), "SMBC2SCipherKey" (decryption),
 *   "SMBAppKey", each with the session's pre-auth hash (64 bytes) as context; encryption keys are
 *   256 bits when the cipher is AES-256-CCM/GCM, derived from the full GSS key in that case.
 * Throws RangeError on an unknown dialect or a missing 3.1.1 pre-auth hash.
 */
export function deriveServerKeys(o: { dialect: number; gssKey: Buffer; preauthHash?: Buffer; cipher?: number }): SessionKeys {
  const sk = smbSessionKey(o.gssKey);
  switch (o.dialect) {
    case DIALECT.SMB202:
    case DIALECT.SMB210:
      return { signingKey: sk };
    case DIALECT.SMB300:
    case DIALECT.SMB302:
      return {
        signingKey: kdf(sk, 'SMB2AESCMAC\0', 'SmbSign\0', 128),
        encryptionKey: kdf(sk, 'SMB2AESCCM\0', 'ServerOut\0', 128),
        decryptionKey: kdf(sk, 'SMB2AESCCM\0', 'ServerIn \0', 128),
        applicationKey: kdf(sk, 'SMB2APP\0', 'SmbRpc\0', 128),
      };
    case DIALECT.SMB311: {
      const h = o.preauthHash;
      if (!h || h.length !== 64) throw new RangeError('3.1.1 keys need the 64-byte pre-auth integrity hash');
      const wide = o.cipher === CIPHER.AES_256_CCM || o.cipher === CIPHER.AES_256_GCM;
      const ck = wide ? o.gssKey : sk;
      const bits = wide ? 256 : 128;
      return {
        signingKey: kdf(sk, 'SMBSigningKey\0', h, 128),
        encryptionKey: kdf(ck, 'SMBS2CCipherKey\0', h, bits),
        decryptionKey: kdf(ck, 'SMBC2SCipherKey\0', h, bits),
        applicationKey: kdf(sk, 'SMBAppKey\0', h, 128),
      };
    }
    default:
      throw new RangeError(`no keys for dialect 0x${o.dialect.toString(16)}`);
  }
}

/**
 * The 3.1.1 pre-authentication integrity hash (MS-SMB2 3.3.5.4, 3.3.5.5.1): starts as 64 zero
 * bytes; each NEGOTIATE request and response, then each SESSION_SETUP request and each
 * response other than the final STATUS_SUCCESS one, is chained as H = SHA-512(H || message).
 * A session copies the connection's value after NEGOTIATE (`fork`).
 */
export class PreauthHash {
  private h: Buffer;

  constructor(start: Buffer = Buffer.alloc(64)) {
    if (start.length !== 64) throw new RangeError('pre-auth hash is 64 bytes');
    this.h = Buffer.from(start);
  }

  /** Chains one whole SMB2 message (header included). */
  update(message: Buffer): this {
    this.h = createHash('sha512').update(this.h).update(message).digest();
    return this;
  }

  /** The current value (a copy). */
  get value(): Buffer {
    return Buffer.from(this.h);
  }

  /** An independent copy, for a new session on this connection. */
  fork(): PreauthHash {
    return new PreauthHash(this.h);
  }
}
