/**
 * Issue 5 acceptance 1, as far as the pool level allows: writes a real tree (default
 * /usr/share/doc) through the VFS onto an rs:4+2 pool with the given compression, then compares
 * what the pool stores before parity with `tar -cf - TREE | zstd -3 | wc -c`.
 *
 *   node --import tsx scripts/bench/compression-tree.ts [TREE=/usr/share/doc] [settings=lz4,zstd:3]
 *
 * Printed per setting: logical bytes, stored bytes (compressed length of compressed blocks +
 * length of raw ones: PoolStats.storedUsed), the same plus shard padding (k × shardSize summed
 * over rows: what the data shards hold), and the ratios against the tar stream. Also, as a
 * bound for any per-file scheme: the sum of each file compressed alone with zstd -3 (in process,
 * same binding) — what a per-file (per-record) compressor can reach at best.
 * Symlinks and special files are skipped (tar stores symlinks as headers only).
 */
import { execSync } from 'node:child_process';
import { readdirSync, readFileSync, lstatSync } from 'node:fs';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { decodeRow } from '../../raid/blocktable.js';
import { Alg, compressBytes } from '../../raid/compress.js';
import { createPool, openPool } from '../../raid/index.js';
import { openVfs, ROOT_CTX } from '../../vfs/index.js';
import { keys, prefixEnd } from '../../vfs/meta/keys.js';
import { MemoryKv } from '../../vfs/meta/memory.js';

const TREE = process.argv[2] ?? '/usr/share/doc';
const SETTINGS = (process.argv[3] ?? 'lz4,zstd:3').split(',');

interface Entry { rel: string; kind: 'dir' | 'file' }
function walk(root: string): Entry[] {
  const out: Entry[] = [];
  const rec = (dir: string) => {
    for (const n of readdirSync(dir).sort()) {
      const p = join(dir, n);
      const st = lstatSync(p);
      if (st.isDirectory()) { out.push({ rel: relative(root, p), kind: 'dir' }); rec(p); }
      else if (st.isFile()) out.push({ rel: relative(root, p), kind: 'file' });
    }
  };
  rec(root);
  return out;
}

const entries = walk(TREE);
const files = entries.filter((e) => e.kind === 'file');
const contents = files.map((f) => readFileSync(join(TREE, f.rel)));
const logical = contents.reduce((a, b) => a + b.length, 0);
const tarZstd = Number(execSync(`tar -C ${JSON.stringify(dirname(TREE))} -cf - ${JSON.stringify(basename(TREE))} | zstd -3 | wc -c`, { maxBuffer: 1 << 20 }).toString().trim());
const tarRaw = Number(execSync(`tar -C ${JSON.stringify(dirname(TREE))} -cf - ${JSON.stringify(basename(TREE))} | wc -c`).toString().trim());
let perFile = 0;
for (const c of contents) {
  const z = c.length ? (await compressBytes({ alg: Alg.Zstd, level: 3 }, c)).length : 0;
  perFile += Math.min(z, c.length); // a file that does not shrink would be stored raw
}
const gz = files.filter((f) => /\.(gz|xz|bz2)$/.test(f.rel));
const gzBytes = files.reduce((a, f, i) => a + (/\.(gz|xz|bz2)$/.test(f.rel) ? contents[i]!.length : 0), 0);
const MB = (n: number) => (n / 1e6).toFixed(2);
console.log(`tree ${TREE}: ${files.length} files (${gz.length} already compressed: ${MB(gzBytes)} MB), ${entries.length - files.length} folders, ${MB(logical)} MB of file data`);
console.log(`tar: ${MB(tarRaw)} MB; tar | zstd -3: ${MB(tarZstd)} MB`);
console.log(`each file alone with zstd -3 (raw when it does not shrink), summed: ${MB(perFile)} MB = ${(perFile / tarZstd).toFixed(3)} × tar|zstd`);

for (const setting of SETTINGS) {
  const dir = await mkdtemp(join(tmpdir(), 'dw-compress-tree-'));
  try {
    const devices = Array.from({ length: 6 }, (_, i) => join(dir, `d${i}`));
    for (const d of devices) await mkdir(d);
    const kv = new MemoryKv();
    await createPool(kv, { layout: 'rs:4+2', devices, compression: setting });
    const pool = await openPool(kv, {});
    const v = await openVfs({ kv, blocks: pool });
    const t0 = process.hrtime.bigint();
    await v.paths.mkdir(ROOT_CTX, '/t', 0o755);
    let fi = 0;
    for (const e of entries) {
      const path = `/t/${e.rel}`;
      if (e.kind === 'dir') { await v.paths.mkdir(ROOT_CTX, path, 0o755); continue; }
      const { fh } = await v.paths.open(ROOT_CTX, path, { write: true, create: true, truncate: true });
      const data = contents[fi++]!;
      if (data.length) await v.vfs.write(ROOT_CTX, fh, 0, data);
      await v.vfs.release(ROOT_CTX, fh);
    }
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const st = await pool.stats();
    let padded = 0, compressed = 0, blocks = 0;
    for await (const [k, val] of kv.scan(keys.blockPrefix(), prefixEnd(keys.blockPrefix()))) {
      const row = decodeRow(val, Number(k.readBigUInt64BE(1)));
      padded += row.k * row.shardSize;
      blocks++;
      if (row.flags & 1) compressed++;
    }
    console.log(`\n${setting}: wrote in ${secs.toFixed(1)} s; ${blocks} blocks, ${compressed} compressed`);
    console.log(`  logical ${MB(st.logicalUsed)} MB, stored before parity ${MB(st.storedUsed)} MB (ratio ${(st.logicalUsed / st.storedUsed).toFixed(2)}x) = ${(st.storedUsed / tarZstd).toFixed(3)} × tar|zstd`);
    console.log(`  data shards with 8-byte × k padding ${MB(padded)} MB = ${(padded / tarZstd).toFixed(3)} × tar|zstd; on the devices (parity, headers) ${MB(st.physicalUsed)} MB`);
    await v.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
