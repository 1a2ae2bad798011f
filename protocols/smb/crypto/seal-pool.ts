/**
 * Encryption of large SMB2 messages beside the event loop (MS-SMB2 3.1.4.3). AES of an 8 MiB READ
 * response takes 2.2–3.5 ms on this machine, and Node's cipher writes each ciphertext into a
 * fresh buffer: on the event loop that was a quarter of an encrypted download's busy time, and
 * the fresh buffers brought a scavenge about every 6 MiB sent (236 over seven 200 MiB gets, plus
 * 17 mark-compacts; docs/benchmarks.md, 19:59). A worker thread instead encrypts the
 * response in place, in the shared memory the response was built in (the SMB Writer's recycled
 * buffers are SharedArrayBuffers), while the event loop goes on with the next request.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { transformFor, type SealOptions } from './encrypt.js';
import type { SealTask } from './seal-worker.js';

/** Messages at least this large are sealed in the worker (smaller ones cost less than the round trip). */
export const SEAL_IN_WORKER_FROM = 256 << 10;

/** A piscina pool of seal workers, started at the first message it seals. */
export class SealPool {
  private pool: Piscina | undefined;
  private closed = false;

  /** `threads`: workers at most (default: one per core beyond the first, at least 1, at most 2). */
  constructor(private readonly threads = Math.max(1, Math.min(2, availableParallelism() - 1))) {}

  /** Whether `message` can be sealed by the pool: large enough, a view of shared memory, and the pool open. */
  takes(message: Buffer): boolean {
    return !this.closed && message.length >= SEAL_IN_WORKER_FROM && message.buffer instanceof SharedArrayBuffer;
  }

  /**
   * Encrypts `message` in place (a view of a SharedArrayBuffer: see `takes`) and resolves to the
   * transform header and the message, now ciphertext, to be written one after the other in one
   * frame. Throws RangeError as transformFor does; rejects if the worker fails or the pool closes.
   */
  async seal(message: Buffer, o: SealOptions): Promise<Buffer[]> {
    const { hdr, aad } = transformFor(message.length, o);
    this.pool ??= new Piscina({ filename: new URL('./seal-worker.cjs', import.meta.url).href, minThreads: 1, maxThreads: this.threads, idleTimeout: 30_000 });
    // Exact copies: a view of a larger buffer would be cloned whole into the worker.
    const task: SealTask = {
      buf: message.buffer as SharedArrayBuffer, offset: message.byteOffset, length: message.length,
      cipher: o.cipher, key: new Uint8Array(o.key), nonce: new Uint8Array(o.nonce), aad: new Uint8Array(aad),
    };
    const tag = (await this.pool.run(task)) as Uint8Array;
    hdr.set(tag, 4);
    return [hdr, message];
  }

  /** Stops the workers; later messages are sealed by their callers (`takes` is false). */
  async close(): Promise<void> {
    this.closed = true;
    const p = this.pool;
    this.pool = undefined;
    await p?.destroy();
  }
}
