/**
 * The seal worker's task (piscina; entry seal-worker.cjs): encrypts one SMB2 message in place in
 * shared memory and returns its tag. See seal-pool.ts.
 */
import { sealInPlace } from './encrypt.js';

/** One message to encrypt: `length` bytes at `offset` of `buf`, under the cipher id's algorithm. */
export interface SealTask {
  buf: SharedArrayBuffer;
  offset: number;
  length: number;
  cipher: number;
  key: Uint8Array;
  nonce: Uint8Array;
  aad: Uint8Array;
}

/** Encrypts the task's bytes in place; returns the 16-byte tag. */
export default function run(t: SealTask): Uint8Array {
  // An exact copy of the tag: a view of a larger buffer would be cloned whole back to the caller.
  return new Uint8Array(sealInPlace(Buffer.from(t.buf, t.offset, t.length), t.cipher, t.key, t.nonce, t.aad));
}
