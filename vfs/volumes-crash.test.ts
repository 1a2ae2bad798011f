// Invariant 1 for block volumes: what flush() or a FUA write acknowledged survives kill -9 of
// the process (RocksDB metadata + an rs:4+2 pool on disk), including writes still buffered
// elsewhere in the volume at the moment of the kill.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { createPool, openPool } from '../raid/index.js';
import { openRocksKv } from './meta/rocksdb.js';
import { openVfs, openVolumes } from './index.js';

const here = fileURLToPath(new URL('.', import.meta.url));
let dir = '';
after(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

/** Deterministic bytes for write number i (the parent recomputes them). */
const CHILD = `
import { createHash } from 'node:crypto';
import { openPool } from ${JSON.stringify(join(here, '../raid/index.ts'))};
import { openRocksKv } from ${JSON.stringify(join(here, 'meta/rocksdb.ts'))};
import { openVfs, openVolumes } from ${JSON.stringify(join(here, 'index.ts'))};
const bytes = (i, n) => { const out = Buffer.alloc(n); for (let o = 0; o < n; o += 32) createHash('sha256').update(i + ':' + o).digest().copy(out, o); return out; };
const dir = process.argv[2];
const kv = await openRocksKv(dir + '/meta');
const v = await openVfs({ kv, blocks: await openPool(kv, {}) });
const vols = openVolumes(v);
await vols.create('crash', { sizeBytes: 8 << 20, recordSize: 64 << 10 });
const vol = await vols.open('crash');
// Writes 0..39 at 512-byte offsets in the first 4 MiB, then flush; 40..49 with FUA in the next 2 MiB.
for (let i = 0; i < 40; i++) await vol.write(((i * 7919) % 8000) * 512, bytes(i, 512 * (1 + (i % 9))));
await vol.flush();
for (let i = 40; i < 50; i++) await vol.write((4 << 20) + (i - 40) * 200 * 512, bytes(i, 4096), { fua: true });
// Unacknowledged writes in the last 2 MiB: buffered, maybe stored, when the kill comes.
for (let i = 50; i < 60; i++) await vol.write((6 << 20) + (i - 50) * 100 * 512, bytes(i, 1536));
process.stdout.write('acknowledged\\n');
setInterval(() => {}, 1000);
`;

const bytes = (i: number, n: number) => {
  const out = Buffer.alloc(n);
  for (let o = 0; o < n; o += 32) createHash('sha256').update(`${i}:${o}`).digest().copy(out, o);
  return out;
};

test('flushed and FUA writes to a volume survive kill -9', async () => {
  dir = await mkdtemp(join(tmpdir(), 'dw-volcrash-'));
  const kv0 = await openRocksKv(join(dir, 'meta'));
  await createPool(kv0, { layout: 'rs:4+2', devices: Array.from({ length: 6 }, (_, i) => join(dir, `d${i}`)) });
  await kv0.close();
  const script = join(dir, 'child.mts');
  await writeFile(script, CHILD);
  const child = spawn(process.execPath, ['--import', 'tsx', script, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d) => { if (String(d).includes('acknowledged')) resolve(); });
    child.on('exit', (code) => reject(new Error(`child exited ${code}: ${err}`)));
  });
  const gone = new Promise((r) => child.on('exit', r));
  child.kill('SIGKILL');
  await gone;

  const expect = Buffer.alloc(6 << 20);
  for (let i = 0; i < 40; i++) bytes(i, 512 * (1 + (i % 9))).copy(expect, ((i * 7919) % 8000) * 512);
  for (let i = 40; i < 50; i++) bytes(i, 4096).copy(expect, (4 << 20) + (i - 40) * 200 * 512);
  const kv = await openRocksKv(join(dir, 'meta'));
  const v = await openVfs({ kv, blocks: await openPool(kv, {}) });
  try {
    const vol = await openVolumes(v).open('crash');
    assert.equal(vol.sizeBytes, 8 << 20);
    const got = await vol.read(0, 6 << 20);
    assert.ok(got.equals(expect), 'every acknowledged byte is back');
    await vol.close();
  } finally {
    await v.close();
  }
});

test('a volume rollback cut short by a crash is finished at the next open', async () => {
  const { MemoryKv } = await import('./meta/memory.js');
  const { MemoryBlockStore } = await import('../raid/memory.js');
  const { keys } = await import('./meta/keys.js');
  const kv = new MemoryKv();
  const blocks = new MemoryBlockStore();
  const v1 = await openVfs({ kv, blocks });
  const vols = openVolumes(v1);
  await vols.create('r', { sizeBytes: 1 << 20, recordSize: 4096 });
  let vol = await vols.open('r');
  const a = bytes(1, 64 << 10);
  await vol.write(0, a);
  await vol.close();
  await vols.snapshot('r', 'a');
  const usedA = (await vols.get('r')).usedBytes;
  vol = await vols.open('r');
  await vol.write(32 << 10, bytes(2, 128 << 10));
  await vol.close();
  // What rollbackVolume records before it restores anything: the crash comes right after.
  const rec = keys.snapshot('volume/r@a');
  const info = JSON.parse((await kv.get(rec))!.toString()) as Record<string, unknown>;
  const allocatedBefore = (await vols.get('r')).usedBytes;
  await kv.txn(async (tx) => { tx.set(rec, Buffer.from(JSON.stringify({ ...info, rollingBack: true, allocatedBefore }))); });
  const v2 = await openVfs({ kv, blocks });
  const vols2 = openVolumes(v2);
  const got = await vols2.get('r');
  assert.equal(got.usedBytes, usedA);
  assert.equal((await v2.impl.meta.usage()).usedBytes, usedA, 'the used-bytes counter follows');
  const h = await vols2.open('r');
  const all = await h.read(0, 1 << 20);
  assert.ok(all.subarray(0, 64 << 10).equals(a));
  assert.ok(all.subarray(64 << 10).equals(Buffer.alloc((1 << 20) - (64 << 10))));
  await h.close();
  assert.equal(JSON.parse((await kv.get(rec))!.toString()).rollingBack, undefined, 'the mark is gone');
  await vols2.delete('r', { recursive: true });
  assert.equal((await blocks.stats()).logicalUsed, 0);
});

test('a thick volume larger than the free space: ENOSPC, and nothing is left behind', async () => {
  const { createMemoryVfs } = await import('./index.js');
  const { Errno, VfsError } = await import('./errno.js');
  const v = await createMemoryVfs({ capacity: 1 << 20 });
  const vols = openVolumes(v);
  await assert.rejects(vols.create('big', { sizeBytes: 2 << 20, thick: true }), (e: unknown) => e instanceof VfsError && e.errno === Errno.ENOSPC);
  await assert.rejects(vols.get('big'), (e: unknown) => e instanceof VfsError && e.errno === Errno.ENOENT);
  assert.equal((await v.impl.blocks.stats()).logicalUsed, 0);
  assert.equal((await v.impl.meta.usage()).usedBytes, 0);
  // A thin one of the same size is fine, until its writes need the space.
  await vols.create('big', { sizeBytes: 2 << 20 });
  await v.close();
});
