import { move } from 'piscina';
import { decodeJob, encodeJob, jobBytes, type WorkerTask, writeTail } from './codec-core.js';

/**
 * The piscina task: runs encode or decode on the transferred job buffer and hands the same
 * ArrayBuffer back (moved, not copied), with the results written in its tail.
 */
export default async function run(task: WorkerTask): Promise<unknown> {
  const buf = Buffer.from(task.ab);
  const slots = buf.subarray(0, jobBytes(task.p));
  if (task.op === 'encode') {
    const sums = await encodeJob(task.p, slots);
    writeTail(buf, task.p, { good: 0, rebuilt: 0, ok: true, sums });
  } else {
    writeTail(buf, task.p, await decodeJob(task.p, slots, task.present, task.want, task.expected));
  }
  return move(task.ab);
}
