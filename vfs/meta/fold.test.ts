// Caseless names (vfs/meta/fold.ts, foldindex.ts): the fold per UTF-16 code unit, and the index
// on a pool made before it (rebuilt once at open; snapshots older than it scan), after a rollback
// to such a snapshot, and a store of a newer format refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MemoryBlockStore } from '../../raid/memory.js';
import { Errno, VfsError } from '../errno.js';
import { openVfs, ROOT_CTX, type VfsInstance } from '../index.js';
import { fold, foldEquals } from './fold.js';
import { FORMAT_VERSION } from './foldindex.js';
import { keys, PREFIX, prefixEnd } from './keys.js';
import type { KvStore } from './kv.js';
import { MemoryKv } from './memory.js';

test('fold: upper case per UTF-16 code unit, never a length change', () => {
  assert.equal(fold('Report.txt'), 'REPORT.TXT');
  assert.equal(fold('äpfel'), 'ÄPFEL');
  assert.equal(fold('straße'), 'STRAßE', 'ß upper-cases to two letters: it stays');
  assert.equal(fold('ŉ'), 'ŉ');
  assert.equal(fold('ÿ'), 'Ÿ');
  assert.equal(fold('σς'), 'ΣΣ');
  assert.equal(fold('\u{10428}'), '\u{10428}', 'outside the BMP (a surrogate pair): not folded');
  assert.equal(fold('123 -_.'), '123 -_.');
  assert.ok(foldEquals('Äpfel', 'äPFEL'));
  assert.ok(!foldEquals('straße', 'STRASSE'));
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
    const f = fold(s);
    assert.equal(f.length, s.length);
    assert.equal(fold(f), f, 'folding twice changes nothing');
    for (let i = 0; i < s.length; i++) assert.equal(fold(s[i]!), f[i], 'unit by unit');
    assert.ok(!f.includes('/') || s.includes('/'), 'no "/" appears');
  }));
});

/** Rows under a one-byte prefix. */
async function rowsOf(kv: KvStore, prefix: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const [k] of kv.scan(Buffer.of(prefix), Buffer.of(prefix + 1))) out.push(k);
  return out;
}

/** Makes the store look as a build before the index left it: no 'F' rows or their history, format version 1. */
async function dropIndex(kv: KvStore): Promise<void> {
  const gone = [...await rowsOf(kv, PREFIX.folded)];
  const h = Buffer.of(PREFIX.history, PREFIX.folded);
  for await (const [k] of kv.scan(h, prefixEnd(h))) gone.push(k);
  for (const k of await rowsOf(kv, PREFIX.deadList)) if (k[5] === PREFIX.folded) gone.push(k);
  await kv.txn(async (tx) => {
    for (const k of gone) tx.delete(k);
    tx.set(keys.superblock('version'), Buffer.from('1'));
    tx.delete(keys.superblock('foldEpoch'));
  });
}

const name = async (v: VfsInstance, path: string, n: string) => {
  const dir = await v.paths.stat(ROOT_CTX, path);
  return v.vfs.lookupCaseless(ROOT_CTX, dir.ino, n).then((r) => r.name, (e: unknown) => {
    if (e instanceof VfsError && e.errno === Errno.ENOENT) return 'ENOENT';
    throw e;
  });
};

test('a pool made before the index: rebuilt once at open (logged); its older snapshots scan; a rollback to one rebuilds at the next open', async () => {
  const kv = new MemoryKv();
  const blocks = new MemoryBlockStore();
  const old = await openVfs({ kv, blocks });
  await old.paths.mkdir(ROOT_CTX, '/D', 0o755);
  for (const f of ['Alpha', 'beta', 'Sub/X']) {
    if (f === 'Sub/X') await old.paths.mkdir(ROOT_CTX, '/D/Sub', 0o755);
    const { fh } = await old.paths.open(ROOT_CTX, `/D/${f}`, { write: true, create: true });
    await old.vfs.release(ROOT_CTX, fh);
  }
  await old.snapshots.create('before');
  await old.paths.rename(ROOT_CTX, '/D/Alpha', '/D/Gamma');
  await dropIndex(kv);
  assert.equal(await name(old, '/D', 'GAMMA'), 'Gamma', 'without the index: a scan, same answer');

  const logs: string[] = [];
  let v = await openVfs({ kv, blocks, log: (m) => logs.push(m) });
  assert.equal(logs.length, 2);
  assert.match(logs[1]!, /done, 5 entries/);
  assert.equal((await kv.get(keys.superblock('version')))?.toString(), String(FORMAT_VERSION));
  assert.equal((await kv.get(keys.superblock('foldEpoch')))?.toString(), '1');
  assert.equal((await rowsOf(kv, PREFIX.folded)).length, (await rowsOf(kv, PREFIX.dirCookie)).length);
  assert.equal(await name(v, '/D', 'gamma'), 'Gamma');
  assert.equal(await name(v, '/D', 'alpha'), 'ENOENT');
  assert.equal(await name(v, '/D/Sub', 'x'), 'X');
  // The snapshot predates the index: it answers as it was, by a scan.
  assert.equal(await name(v, '/.snapshots/before/D', 'ALPHA'), 'Alpha');
  assert.equal(await name(v, '/.snapshots/before/D', 'gamma'), 'ENOENT');
  // A snapshot taken after it uses it, and keeps its old rows.
  await v.snapshots.create('after');
  await v.paths.rename(ROOT_CTX, '/D/Gamma', '/D/Delta');
  assert.equal(await name(v, '/.snapshots/after/D', 'gamma'), 'Gamma');
  assert.equal(await name(v, '/.snapshots/after/D', 'delta'), 'ENOENT');
  assert.equal(await name(v, '/D', 'DELTA'), 'Delta');
  // A second open does not rebuild.
  logs.length = 0;
  v = await openVfs({ kv, blocks, log: (m) => logs.push(m) });
  assert.equal(logs.length, 0);

  // Rolling back to the snapshot older than the index: the live tree scans until the next open.
  await v.snapshots.rollback('before', { destroyNewer: true });
  assert.equal(await kv.get(keys.superblock('foldEpoch')), undefined);
  assert.equal(await name(v, '/D', 'alpha'), 'Alpha');
  assert.equal(await name(v, '/D', 'delta'), 'ENOENT');
  v = await openVfs({ kv, blocks, log: (m) => logs.push(m) });
  assert.match(logs.at(-1)!, /done, 5 entries/);
  assert.equal(await name(v, '/D', 'ALPHA'), 'Alpha');
  assert.equal(await name(v, '/D', 'BETA'), 'beta');
  assert.equal((await rowsOf(kv, PREFIX.folded)).length, (await rowsOf(kv, PREFIX.dirCookie)).length);
});

test('a store of a newer metadata format is refused with EIO before anything is written', async () => {
  const kv = new MemoryKv();
  const blocks = new MemoryBlockStore();
  await openVfs({ kv, blocks });
  await kv.txn(async (tx) => { tx.set(keys.superblock('version'), Buffer.from(String(FORMAT_VERSION + 1))); });
  await assert.rejects(openVfs({ kv, blocks }), (e: unknown) => e instanceof VfsError && e.errno === Errno.EIO && /metadata format 3/.test(e.message));
});
