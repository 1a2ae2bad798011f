/**
 * Block-store throughput with compression off / lz4 / zstd:3 (issue 5, first piece), on a text
 * corpus and on random data, in one run. For each (corpus, setting): a fresh rs:4+2 pool on
 * RocksDB with the worker codec; put+commit every 1 MiB record (4 at once), then reopen (cold
 * cache) and get every record back, checking the bytes. CPU is the whole process (main thread,
 * codec workers, libuv pool) from process.cpuUsage, per GiB of logical data.
 *
 *   node --import tsx scripts/bench/compression.ts [MiB=128] [settings=off,lz4,zstd:3]
 *
 * Text corpus: the files under /usr/share/doc that are not already compressed (*.gz, *.xz,
 * *.bz2, *.zst skipped), concatenated in path order and cut into 1 MiB records, up to MiB.
 * Random: the same number of 1 MiB records of crypto random bytes.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, openPool } from '../../raid/index.js';
import type { BlockStore } from '../../raid/types.js';
import { openRocksKv } from '../../vfs/meta/rocksdb.js';

const MIB = 1 << 20;
const TOTAL_MIB = Number(process.argv[2] ?? 128);
const SETTINGS = (process.argv[3] ?? 'off,lz4,zstd:3').split(',');
const CONCURRENCY = 4;

function walk(dir: string, out: string[]): void {
  let names: string[];
  try { names = readdirSync(dir).sort(); } catch { return; }
  for (const n of names) {
    const p = join(dir, n);
    let st;
    try { st = statSync(p); } catch { continue; }
    if (st.isDirectory()) walk(p, out);
    else if (st.isFile() && !/\.(gz|xz|bz2|zst|lz4)$/.test(n)) out.push(p);
  }
}

/** The text corpus as 1 MiB records (the last one may be shorter). */
function textRecords(maxBytes: number): Buffer[] {
  const files: string[] = [];
  walk('/usr/share/doc', files);
  const all: Buffer[] = [];
  let n = 0;
  for (const f of files) {
    if (n >= maxBytes) break;
    try {
      const b = readFileSync(f);
      all.push(b);
      n += b.length;
    } catch { /* unreadable: skip */ }
  }
  const joined = Buffer.concat(all).subarray(0, maxBytes);
  const out: Buffer[] = [];
  for (let at = 0; at < joined.length; at += MIB) out.push(joined.subarray(at, at + MIB));
  return out;
}

interface Row {
  corpus: string; setting: string; mib: number; ratio: number; physical: number;
  putMiBs: number; putCpuPerGiB: number; getMiBs: number; getCpuPerGiB: number;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ v: T; s: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const v = await fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { v, s, cpu: (c.user + c.system) / 1e6 };
}

async function run(corpus: string, records: Buffer[], setting: string): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-compress-bench-'));
  try {
    const devices = Array.from({ length: 6 }, (_, i) => join(dir, `d${i}`));
    for (const d of devices) await mkdir(d);
    const kv = await openRocksKv(join(dir, 'meta'));
    await createPool(kv, { layout: 'rs:4+2', devices, compression: setting });
    let pool: BlockStore = await openPool(kv, {});
    const bytes = records.reduce((a, r) => a + r.length, 0);
    const ids = new Array<number>(records.length);
    let next = 0;
    const put = await timed(async () => {
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < records.length) {
          const i = next++;
          const s = await pool.put(records[i]!);
          await kv.txn((tx) => pool.commit(s, tx));
          ids[i] = s.id;
        }
      }));
      await pool.sync();
    });
    const st = await pool.stats();
    await pool.close();
    pool = await openPool(kv, { cacheBytes: 1 << 20 });
    next = 0;
    let bad = 0;
    const get = await timed(async () => {
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (next < records.length) {
          const i = next++;
          if (!(await pool.get(ids[i]!)).equals(records[i]!)) bad++;
        }
      }));
    });
    if (bad) throw new Error(`${bad} records read back wrong (${corpus}, ${setting})`);
    await pool.close();
    await kv.close();
    const gib = bytes / 2 ** 30;
    return {
      corpus, setting, mib: bytes / MIB, ratio: st.logicalUsed / st.storedUsed, physical: st.physicalUsed,
      putMiBs: bytes / MIB / put.s, putCpuPerGiB: put.cpu / gib, getMiBs: bytes / MIB / get.s, getCpuPerGiB: get.cpu / gib,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const text = textRecords(TOTAL_MIB * MIB);
const random = Array.from({ length: text.length }, (_, i) => randomBytes(text[i]!.length));
// Warm up (worker threads, RocksDB, the bindings) so the first measured run is not penalized.
await run('warmup', text.slice(0, 16), 'lz4');
await run('warmup', text.slice(0, 16), 'zstd:3');
const rows: Row[] = [];
for (const [corpus, records] of [['text', text], ['random', random]] as const) {
  for (const setting of SETTINGS) {
    const r = await run(corpus, records, setting);
    rows.push(r);
    process.stderr.write(`${corpus} ${setting} done\n`);
  }
}
const head = ['corpus', 'compression', 'MiB', 'ratio', 'on devices MiB', 'put MiB/s', 'put CPU s/GiB', 'get MiB/s', 'get CPU s/GiB'];
const cells = rows.map((r) => [r.corpus, r.setting, r.mib.toFixed(0), `${r.ratio.toFixed(2)}x`, (r.physical / MIB).toFixed(1),
  r.putMiBs.toFixed(0), r.putCpuPerGiB.toFixed(2), r.getMiBs.toFixed(0), r.getCpuPerGiB.toFixed(2)]);
console.log(`| ${head.join(' | ')} |`);
console.log(`|${head.map(() => '---').join('|')}|`);
for (const c of cells) console.log(`| ${c.join(' | ')} |`);
