/**
 * Quotas (vfs/meta/quota.ts, issue 3) through the VFS: user, group and directory quotas on bytes
 * and inodes, hard and soft with grace; EDQUOT leaves what was committed intact; usage exact
 * through chown, delete, nested directories, rename across a quota boundary (EXDEV), rollback;
 * statfs as the user sees it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMemoryVfs, Errno, ROOT_CTX, type VfsInstance } from './index.js';
import { ctxFor } from './types.js';

const ALICE = ctxFor({ name: 'alice', uid: 1000, gid: 100, groups: [] }, 'test');
const NONE = { bytesHard: 0, bytesSoft: 0, inodesHard: 0, inodesSoft: 0, graceMs: 0 };
const errno = (e: unknown) => (e as { errno?: Errno }).errno;

async function setup(): Promise<VfsInstance> {
  const v = await createMemoryVfs({ recordSize: 4096 });
  await v.paths.setattr(ROOT_CTX, '/', { mode: 0o777 });
  return v;
}

/** Writes `len` bytes to path as ctx and closes; resolves with the errno of a failure, or 'ok'. */
async function write(v: VfsInstance, ctx: typeof ALICE, path: string, len: number, offset = 0): Promise<'ok' | Errno> {
  let fh: number | undefined;
  try {
    fh = (await v.paths.open(ctx, path, { write: true, create: true })).fh;
    await v.vfs.write(ctx, fh, offset, Buffer.alloc(len, 7));
    await v.vfs.flush(ctx, fh);
    return 'ok';
  } catch (e) {
    if (errno(e) === undefined) throw e;
    return errno(e)!;
  } finally {
    if (fh !== undefined) await v.vfs.release(ctx, fh).catch(() => undefined);
  }
}

const meta = (v: VfsInstance) => v.impl.meta;

describe('quotas', () => {
  test('a user byte quota stops a write with EDQUOT; the committed records stay; usage is exact', async () => {
    const v = await setup();
    await meta(v).setQuota('user', 1000, { ...NONE, bytesHard: 10_000 });
    assert.equal(await write(v, ALICE, '/a', 8192), 'ok');
    assert.equal(await write(v, ALICE, '/a', 8192, 8192), Errno.EDQUOT, 'passing 10,000 bytes is refused');
    const st = await v.paths.stat(ALICE, '/a');
    assert.equal(st.size, 8192, 'the file keeps what was committed before the refusal');
    assert.equal((await meta(v).getQuota('user', 1000)).usage.bytes, 8192);
    assert.equal(await write(v, ALICE, '/b', 1000), 'ok', 'room left is still usable');
    assert.equal(await write(v, ROOT_CTX, '/root-file', 50_000), 'ok', 'another user is not limited');
    await v.paths.unlink(ALICE, '/a');
    assert.equal((await meta(v).getQuota('user', 1000)).usage.bytes, 1000, 'deleting gives the bytes back');
    assert.equal((await meta(v).getQuota('user', 1000)).usage.inodes, 1);
    await v.close();
  });

  test('a buffered write past the room left is refused by write() itself, before any record is stored', async () => {
    const v = await createMemoryVfs({ recordSize: 1 << 20 });
    await v.paths.setattr(ROOT_CTX, '/', { mode: 0o777 });
    await meta(v).setQuota('user', 1000, { ...NONE, bytesHard: 100_000 });
    const { fh } = await v.paths.open(ALICE, '/buffered', { write: true, create: true });
    // 1 MiB records: nothing below is stored before the flush; the refusal must come from write().
    await v.vfs.write(ALICE, fh, 0, Buffer.alloc(60_000, 1));
    await assert.rejects(v.vfs.write(ALICE, fh, 60_000, Buffer.alloc(60_000, 2)), (e) => errno(e) === Errno.EDQUOT);
    await v.vfs.write(ALICE, fh, 60_000, Buffer.alloc(30_000, 3)); // still fits
    await v.vfs.write(ALICE, fh, 0, Buffer.alloc(1000, 4)); // inside what is buffered: no new room needed
    await v.vfs.flush(ALICE, fh);
    await v.vfs.release(ALICE, fh);
    assert.equal((await v.paths.stat(ALICE, '/buffered')).size, 90_000);
    assert.equal((await meta(v).getQuota('user', 1000)).usage.bytes, 90_000);
    // Another user's writes never ask (no rule of theirs); lifting the limit lifts the refusal.
    assert.equal(await write(v, ROOT_CTX, '/big', 500_000), 'ok');
    await meta(v).setQuota('user', 1000, { ...NONE });
    assert.equal(await write(v, ALICE, '/buffered', 200_000, 90_000), 'ok');
    await v.close();
  });

  test('inode quota; group quota; chown moves usage and is refused past the new owner\'s limit', async () => {
    const v = await setup();
    await meta(v).setQuota('user', 1000, { ...NONE, inodesHard: 2 });
    assert.equal(await write(v, ALICE, '/1', 1), 'ok');
    assert.equal(await write(v, ALICE, '/2', 1), 'ok');
    await assert.rejects(v.paths.mkdir(ALICE, '/3'), (e) => errno(e) === Errno.EDQUOT);
    await meta(v).setQuota('group', 100, { ...NONE, bytesHard: 100 });
    assert.equal(await write(v, ROOT_CTX, '/big', 500), 'ok');
    await assert.rejects(v.paths.setattr(ROOT_CTX, '/big', { gid: 100 }), (e) => errno(e) === Errno.EDQUOT, 'chgrp into a full group');
    await v.paths.setattr(ROOT_CTX, '/big', { uid: 2000 });
    assert.equal((await meta(v).getQuota('user', 2000)).usage.bytes, 500);
    assert.equal((await meta(v).getQuota('user', 0)).usage.bytes, 0, 'the old owner no longer pays for it');
    await v.close();
  });

  test('directory quotas: existing content counted when set, nested ones both count, a move across the boundary is EXDEV', async () => {
    const v = await setup();
    await v.paths.mkdir(ROOT_CTX, '/proj');
    await v.paths.mkdir(ROOT_CTX, '/proj/inner');
    assert.equal(await write(v, ROOT_CTX, '/proj/old', 3000), 'ok');
    const projIno = (await v.paths.stat(ROOT_CTX, '/proj')).ino;
    const innerIno = (await v.paths.stat(ROOT_CTX, '/proj/inner')).ino;
    await meta(v).setQuota('dir', innerIno, { ...NONE, bytesHard: 5000 });
    await meta(v).setQuota('dir', projIno, { ...NONE, bytesHard: 10_000 });
    assert.deepEqual((await meta(v).getQuota('dir', projIno)).usage, { bytes: 3000, inodes: 3, bytesOverSince: 0, inodesOverSince: 0 }, 'proj, inner, old');
    assert.equal(await write(v, ROOT_CTX, '/proj/inner/x', 4096), 'ok');
    assert.equal((await meta(v).getQuota('dir', projIno)).usage.bytes, 3000 + 4096, 'the outer quota counts the inner one');
    assert.equal(await write(v, ROOT_CTX, '/proj/inner/y', 4096), Errno.EDQUOT, 'inner limit');
    assert.equal(await write(v, ROOT_CTX, '/proj/z', 4096), Errno.EDQUOT, 'outer limit (3000 + 4096 + 4096 > 10,000)');
    assert.equal(await write(v, ROOT_CTX, '/outside', 50_000), 'ok');
    await assert.rejects(v.paths.rename(ROOT_CTX, '/outside', '/proj/outside'), (e) => errno(e) === Errno.EXDEV);
    await assert.rejects(v.paths.rename(ROOT_CTX, '/proj/old', '/proj/inner/old'), (e) => errno(e) === Errno.EXDEV);
    await v.paths.rename(ROOT_CTX, '/proj/old', '/proj/old2'); // same directory project
    await v.paths.mkdir(ROOT_CTX, '/proj/sub');
    await v.paths.rename(ROOT_CTX, '/proj/old2', '/proj/sub/old'); // same project, other directory
    await v.paths.rename(ROOT_CTX, '/proj/inner', '/proj/sub/inner'); // a quota directory moves within its outer one
    // statfs as root inside /proj shows the directory quota; outside, the pool.
    const inside = await v.vfs.statfs(ROOT_CTX, projIno);
    assert.equal(inside.blocks * inside.bsize, Math.floor(10_000 / 4096) * 4096);
    assert.ok((await v.vfs.statfs(ROOT_CTX, 1)).blocks > inside.blocks);
    await v.close();
  });

  test('copy_file_range counts in the destination owner\'s quota (EDQUOT, or a short count after progress); a punched hole gives bytes back', async () => {
    const v = await setup();
    await meta(v).setQuota('user', 1000, { ...NONE, bytesHard: 20_000 });
    assert.equal(await write(v, ROOT_CTX, '/src', 16_384), 'ok');
    assert.equal(await write(v, ALICE, '/mine', 8192), 'ok');
    const s = await v.paths.open(ALICE, '/src', { read: true });
    const d = await v.paths.open(ALICE, '/mine', { read: true, write: true });
    const used = async () => (await meta(v).getQuota('user', 1000)).usage.bytes;
    assert.equal(await v.vfs.copyFileRange(ALICE, s.fh, 0, d.fh, 8192, 8192), 8192, 'by reference, within the limit');
    assert.equal(await used(), 16_384);
    await assert.rejects(v.vfs.copyFileRange(ALICE, s.fh, 0, d.fh, 16_384, 16_384), (e) => errno(e) === Errno.EDQUOT, 'by reference, past the limit');
    assert.equal(await used(), 16_384, 'nothing of the refused copy counts');
    await assert.rejects(v.vfs.copyFileRange(ALICE, s.fh, 1, d.fh, 16_384, 16_000), (e) => errno(e) === Errno.EDQUOT, 'by read and write, past the limit');
    assert.ok((await used()) <= 20_000);
    await v.vfs.punchHole(ALICE, d.fh, 0, 8192);
    assert.ok((await used()) <= 20_000 - 8192, 'the hole gave its bytes back');
    assert.ok((await v.paths.stat(ALICE, '/mine')).size >= 16_384, 'the size stays');
    await v.vfs.release(ALICE, d.fh);
    await v.vfs.release(ALICE, s.fh);
    // A copy bigger than one transaction's worth of records: the records before the limit are kept and counted.
    await meta(v).setQuota('user', 1000, { ...NONE, bytesHard: 1_500_000 + (await used()) });
    assert.equal(await write(v, ROOT_CTX, '/big', 2 << 20), 'ok');
    const b = await v.paths.open(ALICE, '/big', { read: true });
    const c = await v.paths.open(ALICE, '/copy', { write: true, create: true });
    assert.equal(await v.vfs.copyFileRange(ALICE, b.fh, 0, c.fh, 0, 2 << 20), 1 << 20, 'a short count: the first megabyte');
    await assert.rejects(v.vfs.copyFileRange(ALICE, b.fh, 1 << 20, c.fh, 1 << 20, 1 << 20), (e) => errno(e) === Errno.EDQUOT, 'then the error');
    await v.vfs.release(ALICE, b.fh);
    await v.vfs.release(ALICE, c.fh);
    assert.equal((await v.paths.stat(ALICE, '/copy')).size, 1 << 20);
    await v.close();
  });

  test('soft limits may be passed for the grace period, then act as hard ones', async () => {
    const v = await setup();
    await meta(v).setQuota('user', 1000, { ...NONE, bytesSoft: 5000, graceMs: 30 });
    assert.equal(await write(v, ALICE, '/a', 8192), 'ok', 'over the soft limit: allowed, the clock starts');
    const u = (await meta(v).getQuota('user', 1000)).usage;
    assert.ok(u.bytesOverSince > 0);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(await write(v, ALICE, '/b', 10), Errno.EDQUOT, 'grace is over');
    await v.paths.unlink(ALICE, '/a');
    assert.equal(await write(v, ALICE, '/b', 10), 'ok', 'back under: allowed again');
    assert.equal((await meta(v).getQuota('user', 1000)).usage.bytesOverSince, 0);
    await v.close();
  });

  test('statfs as the user sees it; rollback recounts usage; limits are checked', async () => {
    const v = await setup();
    await meta(v).setQuota('user', 1000, { ...NONE, bytesHard: 1 << 20 });
    assert.equal(await write(v, ALICE, '/a', 4096 * 10), 'ok');
    const fs = await v.vfs.statfs(ALICE, 1);
    assert.equal(fs.blocks, 256);
    assert.equal(fs.bavail, 256 - 10);
    await v.snapshots.create('s');
    assert.equal(await write(v, ALICE, '/b', 4096 * 20), 'ok');
    assert.equal((await meta(v).getQuota('user', 1000)).usage.bytes, 4096 * 30);
    await v.impl.exclusive(() => v.snapshots.rollback('s'));
    assert.deepEqual((await meta(v).getQuota('user', 1000)).usage, { bytes: 4096 * 10, inodes: 1, bytesOverSince: 0, inodesOverSince: 0 });
    await assert.rejects(meta(v).setQuota('user', 1, { ...NONE, bytesHard: -1 }), (e) => errno(e) === Errno.EINVAL);
    await assert.rejects(meta(v).setQuota('dir', (await v.paths.stat(ROOT_CTX, '/a')).ino, NONE), (e) => errno(e) === Errno.ENOTDIR);
    await v.close();
  });
});
