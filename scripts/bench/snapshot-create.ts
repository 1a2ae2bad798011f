/**
 * Issue 3, acceptance 1: snapshot creation time does not grow with the tree. Builds a tree of
 * 100 files and one of 100,000 files (RocksDB metadata, rs:4+2 pool; empty files, since a
 * snapshot never looks at data), times `snapshots.create` several times on each (median), and
 * prints both and their ratio (aim: under 2×).
 *   node --import tsx scripts/bench/snapshot-create.ts [--small 100] [--large 100000] [--runs 7]
 */
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, openPool } from '../../raid/index.js';
import { openVfs, ROOT_CTX, type VfsInstance } from '../../vfs/index.js';
import { openRocksKv } from '../../vfs/meta/rocksdb.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const SMALL = arg('small', 100), LARGE = arg('large', 100_000), RUNS = arg('runs', 7);

async function tree(files: number): Promise<{ v: VfsInstance; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-snapbench-'));
  const devices = Array.from({ length: 6 }, (_, i) => join(dir, `d${i}`));
  for (const d of devices) await mkdir(d);
  const kv = await openRocksKv(join(dir, 'meta'));
  await createPool(kv, { layout: 'rs:4+2', devices });
  const v = await openVfs({ kv, blocks: await openPool(kv, {}) });
  const perDir = 1000;
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < files) {
      const i = next++;
      const d = `/d${Math.floor(i / perDir)}`;
      if (i % perDir === 0) await v.paths.mkdir(ROOT_CTX, d);
      else while (!(await v.paths.stat(ROOT_CTX, d).catch(() => null))) await new Promise((r) => setTimeout(r, 1));
      const { fh } = await v.paths.open(ROOT_CTX, `${d}/f${i}`, { write: true, create: true });
      await v.vfs.release(ROOT_CTX, fh);
    }
  }));
  return { v, dir };
}

async function timeCreate(v: VfsInstance): Promise<{ median: number; all: number[] }> {
  const all: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint();
    await v.snapshots.create(`bench-${r}`);
    all.push(Number(process.hrtime.bigint() - t0) / 1e6);
    await v.snapshots.delete(`bench-${r}`);
  }
  const sorted = [...all].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, all };
}

const out: Record<number, { median: number; all: number[]; build: number }> = {};
for (const n of [SMALL, LARGE]) {
  const t0 = Date.now();
  const { v, dir } = await tree(n);
  const build = (Date.now() - t0) / 1000;
  out[n] = { ...(await timeCreate(v)), build };
  await v.close();
  await rm(dir, { recursive: true, force: true });
  console.log(`${String(n).padStart(7)} files (built in ${build.toFixed(1)} s): snapshot create median ${out[n]!.median.toFixed(2)} ms  [${out[n]!.all.map((x) => x.toFixed(2)).join(' ')}]`);
}
const ratio = out[LARGE]!.median / out[SMALL]!.median;
console.log(`ratio ${LARGE.toLocaleString('en')} / ${SMALL} files: ${ratio.toFixed(2)}× (aim: under 2×) — ${ratio < 2 ? 'MET' : 'NOT MET'}`);
