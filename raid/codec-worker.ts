import { move } from 'piscina';
import { chunkAndHash } from './chunker.js';
import { decodeJob, jobBytes, packJob, type WorkerTask, writeTail } from './codec-core.js';

/**
 * The piscina task: runs encode (with compression and encryption first when asked) or decode on the transferred job buffer and hands the same
 * ArrayBuffer back (moved, not copied), with the results written in its tail.
 */
export default async function run(task: WorkerTask): Promise<unknown> {
  if (task.op === 'chunk') {
    // Dedup: cut points and content hashes of a record (raid/chunker.ts); the copy is dropped here.
    const { ends, hashes } = chunkAndHash(new Uint8Array(task.ab), task.sizes, task.key, task.ends);
    return { ends, hashes: hashes.buffer.slice(hashes.byteOffset, hashes.byteOffset + hashes.length) };
  }
  const buf = Buffer.from(task.ab);
  const slots = buf.subarray(0, jobBytes(task.p));
  if (task.op === 'encode') {
    // Compression and encryption (if asked) happen here, before parity, so they run in the worker too.
    const length = task.pack?.length ?? task.p.k * task.p.shardSize;
    const { sums, packed } = await packJob(task.p, slots, length, task.pack?.spec, task.pack?.seal);
    writeTail(buf, task.p, { good: 0, rebuilt: 0, ok: true, sums }, packed);
  } else {
    writeTail(buf, task.p, await decodeJob(task.p, slots, task.present, task.want, task.expected));
  }
  return move(task.ab);
}
