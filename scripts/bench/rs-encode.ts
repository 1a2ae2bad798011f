/**
 * RS encode throughput per core (issue 2, acceptance 7): rs:4+2 and rs:8+3, 1 MiB blocks,
 * in-thread codec, one core. Prints GB/s of data bytes encoded (1 GB = 1e9 bytes) for:
 *   parity    — the Reed-Solomon kernel alone (@ronomon/reed-solomon, Cauchy XOR bit-matrix)
 *   +xxh64    — parity plus the xxhash64 of all k+m shards (encodeJob)
 *   put-path  — what put() does: a (recycled) job buffer, copy the block in, parity + checksums
 *   crc32c    — for comparison: crc32c of the k+m shards alone (the other allowed checksum)
 * "per core" = data bytes / CPU seconds of the process (user+sys, all threads); wall GB/s too.
 * The kernel runs in libuv's pool: UV_THREADPOOL_SIZE=1 keeps it to one thread, and jobs are
 * issued one at a time, so one core does the work.
 *
 * Usage: UV_THREADPOOL_SIZE=1 node --import tsx scripts/bench/rs-encode.ts [seconds per case]
 *        (or scripts/bench/rs-encode.sh). Output ends with a JSON line for scripts.
 */
import { crc32c } from '@node-rs/crc32';
import { randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { encodeJob, fillJob, jobBytes } from '../../raid/codec-core.js';
import { InlineCodec } from '../../raid/codec.js';
import { shardSizeFor } from '../../raid/format.js';
import { parseLayout } from '../../raid/layout.js';

if (process.env.UV_THREADPOOL_SIZE !== '1') {
  console.error('note: set UV_THREADPOOL_SIZE=1 (the .sh wrapper does) so the kernel uses one thread');
}
const require = createRequire(import.meta.url);
const RS: typeof import('@ronomon/reed-solomon') = require('@ronomon/reed-solomon');

const SECONDS = Number(process.argv[2] ?? 2);
const BLOCK = 1 << 20;

interface Result { layout: string; mode: string; wallGBps: number; cpuGBps: number; blocks: number }

async function measure(layout: string, mode: string, step: () => Promise<void>): Promise<Result> {
  for (let i = 0; i < 20; i++) await step(); // warm up
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let blocks = 0;
  const until = t0 + BigInt(Math.round(SECONDS * 1e9));
  while (process.hrtime.bigint() < until) {
    for (let i = 0; i < 16; i++) await step();
    blocks += 16;
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  const bytes = blocks * BLOCK;
  return { layout, mode, wallGBps: bytes / wall / 1e9, cpuGBps: bytes / cpu / 1e9, blocks };
}

const results: Result[] = [];
for (const name of ['rs:4+2', 'rs:8+3']) {
  const l = parseLayout(name);
  const p = { kind: l.kind, k: l.k, m: l.m, shardSize: shardSizeFor(BLOCK, l.k) };
  const block = randomFillSync(Buffer.alloc(BLOCK));
  const job = Buffer.alloc(jobBytes(p));
  block.copy(job);
  const ctx = RS.create(l.k, l.m);
  let sources = 0, targets = 0;
  for (let j = 0; j < l.k; j++) sources |= 1 << j;
  for (let j = l.k; j < l.k + l.m; j++) targets |= 1 << j;
  const ss = p.shardSize;
  results.push(await measure(name, 'parity', () => new Promise<void>((res, rej) => {
    RS.encode(ctx, sources, targets, job, 0, l.k * ss, job, l.k * ss, l.m * ss, (e) => (e ? rej(e) : res()));
  })));
  results.push(await measure(name, '+xxh64', async () => { await encodeJob(p, job); }));
  results.push(await measure(name, 'crc32c', async () => {
    for (let j = 0; j < l.k + l.m; j++) crc32c(job.subarray(j * ss, (j + 1) * ss));
  }));
  const codec = new InlineCodec();
  results.push(await measure(name, 'put-path', async () => {
    const b = codec.alloc(p);
    fillJob(p, b, block);
    codec.free((await codec.encode(p, b)).buf);
  }));
}

console.log(`RS encode, 1 MiB blocks, in-thread codec, ${SECONDS}s per case — ${cpus()[0]?.model ?? 'cpu'}`);
console.log('layout   mode       GB/s per core (CPU)   GB/s wall   blocks');
for (const r of results) {
  console.log(`${r.layout.padEnd(8)} ${r.mode.padEnd(10)} ${r.cpuGBps.toFixed(2).padStart(19)}   ${r.wallGBps.toFixed(2).padStart(9)}   ${r.blocks}`);
}
console.log(JSON.stringify({ bench: 'rs-encode', date: new Date().toISOString(), results }));
