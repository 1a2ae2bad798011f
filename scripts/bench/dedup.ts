/**
 * Issue 5 acceptance 2, measured on the real gateway (`dw serve`, RocksDB, rs:4+2 pool on six
 * folders, dedup on for the pool), with curl over WebDAV:
 *   1. the same random file (--size-mib, default 1024) uploaded --copies times (default 10) under
 *      different names: the pool's logical bytes and the device folders' bytes against one copy;
 *   2. two files (--insert-mib, default 256) that differ by one byte inserted at offset 100: the
 *      share of the second file's chunks that are also the first's (from their extents, read with
 *      the server stopped), and the bytes the second one added;
 *   3. every file deleted, then `dw reclaim`: the pool's data and the device folders back to empty.
 *
 *   node --import tsx scripts/bench/dedup.ts [--size-mib N] [--copies N] [--insert-mib N] [--dir D]
 *
 * Prints one line per measurement; record them in docs/benchmarks.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { dataDir } from '../../gateway/datadir.js';
import { createLogger } from '../../gateway/log.js';
import { openKv, openPoolOf } from '../../gateway/store.js';
import { openVfs, ROOT_CTX } from '../../vfs/index.js';
import { cleanupAll, dw, serve } from '../../test/e2e/gateway-harness.js';
import { arg } from './launch-common.js';

const MiB = 1 << 20;
const SIZE = Number(arg('size-mib', '1024')) * MiB;
const COPIES = Number(arg('copies', '10'));
const INSERT = Number(arg('insert-mib', '256')) * MiB;
const work = await mkdtemp(join(arg('dir', tmpdir()), 'dw-bench-dedup-'));
const data = join(work, 'data');
const devs = Array.from({ length: 6 }, (_, i) => join(work, `dev${i}`));
const fmt = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

/** Bytes of the files under the device folders (segments: live + dead). */
async function deviceBytes(): Promise<number> {
  let n = 0;
  for (const d of devs) for (const f of await readdir(d)) n += (await stat(join(d, f))).size;
  return n;
}

async function poolStatus(): Promise<{ logicalUsed: number; physicalUsed: number; blocks: number; dead: number }> {
  const r = await dw(['pool', 'status', '--json', '--data', data]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

/** Writes `size` random bytes to `path` in 16 MiB pieces (no 1 GiB buffer); returns its sha256. */
async function randomFile(path: string, size: number): Promise<string> {
  const h = createHash('sha256');
  const out = createWriteStream(path);
  for (let left = size; left > 0; left -= 16 * MiB) {
    const b = randomBytes(Math.min(16 * MiB, left));
    h.update(b);
    if (!out.write(b)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return h.digest('hex');
}

function put(url: string, password: string, file: string, path: string): number {
  const t = process.hrtime.bigint();
  const r = spawnSync('curl', ['-sS', '-f', '-u', `admin:${password}`, '-T', file, new URL(path, url).href], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`PUT ${path}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e9;
}

try {
  let r = await dw(['pool', 'create', '--data', data, '--layout', 'rs:4+2', '--dedup', ...devs]);
  if (r.code !== 0) throw new Error(r.stderr);
  const big = join(work, 'big.bin');
  await randomFile(big, SIZE);
  const a = join(work, 'a.bin'), b = join(work, 'b.bin');
  await randomFile(a, INSERT);
  // b = a with one byte inserted at offset 100.
  execFileSync('sh', ['-c', `head -c 100 ${a} > ${b}; printf 'Z' >> ${b}; tail -c +101 ${a} >> ${b}`]);

  let srv = await serve(data);
  const password = srv.password!;
  let secs = 0;
  for (let i = 0; i < COPIES; i++) secs += put(srv.url, password, big, `/copy${i}.bin`);
  let st = await poolStatus();
  const dev1 = await deviceBytes();
  console.log(`1. ${COPIES} copies of ${fmt(SIZE)} (${fmt(SIZE * COPIES)} uploaded, ${(SIZE * COPIES / MiB / secs).toFixed(0)} MiB/s): ` +
    `pool data ${fmt(st.logicalUsed)} (${(st.logicalUsed / SIZE).toFixed(3)}x one copy), ${st.blocks} blocks; ` +
    `device folders ${fmt(dev1)} (rs:4+2 stores 1.5x: ${(dev1 / (SIZE * 1.5)).toFixed(3)}x one copy with parity)`);

  put(srv.url, password, a, '/a.bin');
  const before = (await poolStatus()).logicalUsed;
  put(srv.url, password, b, '/b.bin');
  const added = (await poolStatus()).logicalUsed - before;
  await srv.stop();

  // The extents, read with the server stopped: which of b's chunks are a's too.
  const kv = await openKv(dataDir(data));
  const v = await openVfs({ kv, blocks: await openPoolOf(kv, createLogger({ level: 'silent' })) });
  const blocks = async (p: string) => (await v.impl.meta.extents((await v.paths.lstat(ROOT_CTX, p)).ino)).flatMap(([, e]) => (e.chunks ?? [{ ...e, offset: 0 }]).map((c) => `${c.blockId}:${c.offset}:${c.length}`));
  const setA = new Set(await blocks('/a.bin'));
  const chunksB = await blocks('/b.bin');
  const shared = chunksB.filter((id) => setA.has(id)).length;
  await v.close();
  console.log(`2. ${fmt(INSERT)} and the same with 1 byte inserted at offset 100: ${shared} of ${chunksB.length} chunks of the second shared ` +
    `(${(100 * shared / chunksB.length).toFixed(2)}%); it added ${fmt(added)} of data (${(100 * added / INSERT).toFixed(2)}% of its size)`);

  srv = await serve(data);
  for (const p of [...Array.from({ length: COPIES }, (_, i) => `/copy${i}.bin`), '/a.bin', '/b.bin']) {
    const d = spawnSync('curl', ['-sS', '-f', '-u', `admin:${password}`, '-X', 'DELETE', new URL(p, srv.url).href]);
    if (d.status !== 0) throw new Error(`DELETE ${p}: ${d.stderr}`);
  }
  st = await poolStatus();
  r = await dw(['reclaim', '--data', data]);
  if (r.code !== 0) throw new Error(r.stderr);
  await srv.stop();
  const dev3 = await deviceBytes();
  console.log(`3. after deleting every file: pool data ${fmt(st.logicalUsed)}, ${st.blocks} blocks; after dw reclaim the device folders hold ${fmt(dev3)} (were ${fmt(dev1 + 2 * INSERT * 1.5)})`);
  await writeFile(join(work, 'done'), '');
} finally {
  await cleanupAll();
  await rm(work, { recursive: true, force: true });
}
