/** SealPool: large messages encrypted in place by a worker, the same bytes as on the event loop. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CIPHER } from '../wire/negotiate.js';
import { cipherParams, decryptMessage, encryptMessage } from './encrypt.js';
import { SEAL_IN_WORKER_FROM, SealPool } from './seal-pool.js';

test('SealPool: a shared message sealed in place by a worker is encryptMessage\'s bytes, for every cipher; small or unshared ones and a closed pool are not taken', async () => {
  const pool = new SealPool(1);
  try {
    const n = SEAL_IN_WORKER_FROM + 12345;
    const plain = Buffer.alloc(n);
    for (let i = 0; i < n; i++) plain[i] = (i * 31 + (i >> 11)) & 0xff;
    for (const cipher of [CIPHER.AES_128_CCM, CIPHER.AES_128_GCM, CIPHER.AES_256_CCM, CIPHER.AES_256_GCM]) {
      const p = cipherParams(cipher);
      const o = { cipher, key: Buffer.alloc(p.keyLength, cipher), sessionId: 5n, nonce: Buffer.alloc(p.nonceLength, 9) };
      const message = Buffer.from(new SharedArrayBuffer(n + 64), 32, n); // not at offset 0 of its memory
      plain.copy(message);
      assert.ok(pool.takes(message));
      const pieces = await pool.seal(message, o);
      assert.equal(pieces.length, 2);
      assert.equal(pieces[1], message, 'encrypted in place');
      const joined = Buffer.concat(pieces);
      assert.deepEqual(joined, encryptMessage(plain, o));
      assert.deepEqual(decryptMessage(joined, () => ({ cipher, key: o.key })).message, plain);
    }
    assert.equal(pool.takes(Buffer.alloc(SEAL_IN_WORKER_FROM)), false, 'not shared memory');
    assert.equal(pool.takes(Buffer.from(new SharedArrayBuffer(SEAL_IN_WORKER_FROM - 1))), false, 'too small');
  } finally {
    await pool.close();
  }
  assert.equal(pool.takes(Buffer.from(new SharedArrayBuffer(SEAL_IN_WORKER_FROM))), false, 'closed');
});
