/**
 * Retention (WORM) and legal holds (vfs/meta/retention.ts, issue 3) through the VFS: sealed at
 * the last close (after the grace period), then no write, truncate, rename, delete or replace
 * until expiry; holds outlast expiry; periods only lengthen; refusals are counted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryVfs, Errno, ROOT_CTX, type VfsInstance } from './index.js';

const errno = (e: unknown) => (e as { errno?: Errno }).errno;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function put(v: VfsInstance, path: string, data: string): Promise<void> {
  const { fh } = await v.paths.open(ROOT_CTX, path, { write: true, create: true, truncate: true });
  try { await v.vfs.write(ROOT_CTX, fh, 0, Buffer.from(data)); } finally { await v.vfs.release(ROOT_CTX, fh); }
}

async function get(v: VfsInstance, path: string): Promise<string> {
  const { fh, attr } = await v.paths.open(ROOT_CTX, path, { read: true });
  try { return (await v.vfs.read(ROOT_CTX, fh, 0, attr.size)).toString(); } finally { await v.vfs.release(ROOT_CTX, fh); }
}

/** Every way to change `path`, each expected to fail with EPERM. */
async function refusedAll(v: VfsInstance, path: string): Promise<void> {
  const attempts: [string, () => Promise<unknown>][] = [
    ['open for writing', () => v.paths.open(ROOT_CTX, path, { write: true })],
    ['truncate', () => v.paths.setattr(ROOT_CTX, path, { size: 0 })],
    ['unlink', () => v.paths.unlink(ROOT_CTX, path)],
    ['rename', () => v.paths.rename(ROOT_CTX, path, `${path}.moved`)],
    ['replace by rename', async () => { await put(v, '/other', 'x'); await v.paths.rename(ROOT_CTX, '/other', path); }],
  ];
  for (const [what, f] of attempts) await assert.rejects(f(), (e) => errno(e) === Errno.EPERM && /retention/.test(String(e)), what);
}

test('a file under retention is sealed at close: every change is EPERM until it expires; reads and links stay allowed', async () => {
  const v = await createMemoryVfs();
  const refusals: string[] = [];
  v.impl.meta.onRetentionRefusal = (m) => refusals.push(m);
  await v.paths.mkdir(ROOT_CTX, '/w');
  const dir = (await v.paths.stat(ROOT_CTX, '/w')).ino;
  await put(v, '/w/before', 'there before the rule');
  await v.impl.meta.setRetention(dir, 400, 0, '/w');
  await put(v, '/w/f', 'kept');
  await refusedAll(v, '/w/f');
  await refusedAll(v, '/w/before'); // files already there were sealed when the rule was set
  assert.equal(await get(v, '/w/f'), 'kept');
  await v.paths.link(ROOT_CTX, '/w/f', '/w/f-link');
  assert.ok(v.impl.meta.retentionRefusals >= 10 && refusals.length === v.impl.meta.retentionRefusals, 'counted and reported');
  assert.match(refusals[0]!, /retained until \d{4}-/);
  await sleep(450);
  await v.paths.unlink(ROOT_CTX, '/w/f'); // expired: deletable
  await v.paths.unlink(ROOT_CTX, '/w/f-link');
  await v.close();
});

test('grace period: changes are allowed until close + grace; periods only lengthen; new files inherit', async () => {
  const v = await createMemoryVfs();
  await v.paths.mkdir(ROOT_CTX, '/w');
  await v.paths.mkdir(ROOT_CTX, '/w/sub');
  const dir = (await v.paths.stat(ROOT_CTX, '/w')).ino;
  await v.impl.meta.setRetention(dir, 3_600_000, 150);
  await put(v, '/w/sub/g', 'one');
  await put(v, '/w/sub/g', 'two'); // within grace: still writable (and the seal restarts at this close)
  assert.equal(await get(v, '/w/sub/g'), 'two');
  await sleep(200);
  await refusedAll(v, '/w/sub/g');
  await assert.rejects(v.impl.meta.setRetention(dir, 60_000, 0), (e) => errno(e) === Errno.EPERM, 'shortening is refused');
  await v.impl.meta.setRetention(dir, 7_200_000, 0); // extending is fine
  const r = await v.impl.meta.retentionOf((await v.paths.stat(ROOT_CTX, '/w/sub/g')).ino);
  assert.equal(r.rule?.periodMs, 7_200_000);
  assert.ok(r.seal!.untilMs - r.seal!.sealAtMs >= 7_200_000, 'sealed files get the longer period');
  await assert.rejects(v.impl.meta.setRetention((await v.paths.stat(ROOT_CTX, '/w/sub/g')).ino, 1000, 0), (e) => errno(e) === Errno.ENOTDIR);
  await v.close();
});

test('legal holds: on a file or its retention directory, they keep it immutable after expiry until removed', async () => {
  const v = await createMemoryVfs();
  await v.paths.mkdir(ROOT_CTX, '/w');
  const dir = (await v.paths.stat(ROOT_CTX, '/w')).ino;
  await v.impl.meta.setRetention(dir, 50, 0);
  await put(v, '/w/a', 'a');
  await put(v, '/w/b', 'b');
  const a = (await v.paths.stat(ROOT_CTX, '/w/a')).ino;
  await v.impl.meta.addHold(a, 'case-42');
  await v.impl.meta.addHold(dir, 'audit');
  await sleep(80); // retention expired; the holds remain
  await refusedAll(v, '/w/a');
  await refusedAll(v, '/w/b');
  await v.impl.meta.removeHold(dir, 'audit');
  await v.paths.unlink(ROOT_CTX, '/w/b');
  await refusedAll(v, '/w/a');
  await v.impl.meta.removeHold(a, 'case-42');
  await v.paths.unlink(ROOT_CTX, '/w/a');
  await assert.rejects(v.impl.meta.removeHold(a, 'case-42'), (e) => errno(e) === Errno.ENOENT);
  await put(v, '/free', 'x');
  await assert.rejects(v.impl.meta.addHold((await v.paths.stat(ROOT_CTX, '/free')).ino, 'x'), (e) => errno(e) === Errno.EINVAL, 'only under retention');
  await v.close();
});

test('punching a hole and copy_file_range into a file are refused (EPERM) once it is sealed or held, even through a handle opened before', async () => {
  const v = await createMemoryVfs();
  await v.paths.mkdir(ROOT_CTX, '/w');
  const dir = (await v.paths.stat(ROOT_CTX, '/w')).ino;
  await v.impl.meta.setRetention(dir, 3_600_000, 100);
  await put(v, '/src', 'source bytes');
  await put(v, '/w/f', 'kept '.repeat(1000));
  const s = await v.paths.open(ROOT_CTX, '/src', { read: true });
  const h = await v.paths.open(ROOT_CTX, '/w/f', { read: true, write: true }); // within the grace period
  await v.vfs.punchHole(ROOT_CTX, h.fh, 0, 5); // not sealed yet
  assert.equal(await v.vfs.copyFileRange(ROOT_CTX, s.fh, 0, h.fh, 10, 6), 6);
  const f = (await v.paths.stat(ROOT_CTX, '/w/f')).ino;
  await v.impl.meta.addHold(f, 'case-7');
  await assert.rejects(v.vfs.punchHole(ROOT_CTX, h.fh, 0, 100), (e) => errno(e) === Errno.EPERM && /legal hold/.test(String(e)), 'held: punch');
  await assert.rejects(v.vfs.copyFileRange(ROOT_CTX, s.fh, 0, h.fh, 100, 12), (e) => errno(e) === Errno.EPERM, 'held: copy into it');
  await v.impl.meta.removeHold(f, 'case-7');
  await v.vfs.release(ROOT_CTX, h.fh); // sealed 100 ms after this close
  const again = await v.paths.open(ROOT_CTX, '/w/f', { read: true, write: true });
  await sleep(150);
  await assert.rejects(v.vfs.punchHole(ROOT_CTX, again.fh, 0, 100), (e) => errno(e) === Errno.EPERM && /retained until/.test(String(e)), 'sealed: punch');
  await assert.rejects(v.vfs.copyFileRange(ROOT_CTX, s.fh, 0, again.fh, 0, 12), (e) => errno(e) === Errno.EPERM, 'sealed: copy into it');
  await v.vfs.release(ROOT_CTX, again.fh);
  await v.vfs.release(ROOT_CTX, s.fh);
  const kept = 'kept '.repeat(1000);
  assert.equal(await get(v, '/w/f'), '\0'.repeat(5) + kept.slice(5, 10) + 'source' + kept.slice(16), 'only the changes made before the seal');
  await v.close();
});
