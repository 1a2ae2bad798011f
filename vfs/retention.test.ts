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
