/**
 * Uncached appends (uncached.ts, native/sys): writes asked for in one turn of the event loop go
 * to libuv's pool as one job, each write gets its own result or error, and the partial page an
 * append ends in stays in the page cache for the next append to start in.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sysAddon } from './sysaddon.js';
import { MAX_BATCH, uncachedJobs, uncachedUnsupported, uncachedWritev } from './uncached.js';

const addon = sysAddon();
const skip = addon ? false : 'the native/sys addon is not built (node scripts/build-native.mjs)';

async function withFiles(n: number, fn: (paths: string[], fds: number[]) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-uncached-'));
  const paths = Array.from({ length: n }, (_, i) => join(dir, `f${i}`));
  const fds = paths.map((p) => openSync(p, 'w+'));
  try {
    await fn(paths, fds);
  } finally {
    for (const fd of fds) closeSync(fd);
    await rm(dir, { recursive: true, force: true });
  }
}

/** Whether uncached writes work under tmpdir() (kernel 6.14+, ext4/xfs/btrfs); else the test is skipped. */
async function supported(fd: number): Promise<boolean> {
  try {
    await uncachedWritev()!(fd, [Buffer.alloc(8192)], 0);
    return true;
  } catch (err) {
    if (uncachedUnsupported(err)) return false;
    throw err;
  }
}

test('writes asked for in one turn go as one pool job, each landing whole where it was asked', { skip }, async (t) => {
  await withFiles(6, async (paths, fds) => {
    if (!(await supported(fds[0]!))) return t.skip(`no uncached writes under ${tmpdir()}`);
    const w = uncachedWritev()!;
    const before = uncachedJobs();
    const parts = fds.map(() => [randomBytes(16 << 10), randomBytes(100)]);
    const written = await Promise.all(fds.map((fd, i) => w(fd, parts[i]!, 8192 + 64)));
    assert.equal(uncachedJobs() - before, 1, 'six writes of one turn: one job');
    assert.deepEqual(written, fds.map(() => (16 << 10) + 100));
    for (let i = 0; i < fds.length; i++) {
      const back = readFileSync(paths[i]!);
      assert.equal(back.length, 8192 + 64 + (16 << 10) + 100);
      assert.ok(back.subarray(8192 + 64).equals(Buffer.concat(parts[i]!)), `file ${i} holds its write`);
    }
    // More than a job takes: split into jobs of MAX_BATCH.
    const many = Array.from({ length: MAX_BATCH + 3 }, (_, i) => w(fds[i % fds.length]!, [Buffer.alloc(512, i)], 1 << 20 | (i << 9)));
    const before2 = uncachedJobs();
    await Promise.all(many);
    assert.equal(uncachedJobs() - before2, 2);
  });
});

test('a failing write in a batch rejects alone, with the errno\'s code; the others land', { skip }, async (t) => {
  await withFiles(2, async (paths, fds) => {
    if (!(await supported(fds[0]!))) return t.skip(`no uncached writes under ${tmpdir()}`);
    const w = uncachedWritev()!;
    const ro = openSync(paths[1]!, 'r'); // not open for writing: EBADF
    try {
      const [a, b] = await Promise.allSettled([w(fds[0]!, [Buffer.from('kept')], 0), w(ro, [Buffer.from('refused')], 0)]);
      assert.deepEqual(a, { status: 'fulfilled', value: 4 });
      assert.equal(b.status, 'rejected');
      assert.equal((b as PromiseRejectedResult).reason.code, 'EBADF');
      assert.equal(readFileSync(paths[0]!, 'utf8').slice(0, 4), 'kept');
    } finally {
      closeSync(ro);
    }
  });
  assert.throws(() => addon!.writevUncachedBatch([1, [Buffer.alloc(1)]]), TypeError);
  assert.throws(() => addon!.writevUncachedBatch([1, [], 0]), TypeError);
  assert.throws(() => addon!.writevUncachedBatch([1, [Buffer.alloc(1)], -1]), TypeError);
});

/** Bytes of `path` in the page cache (util-linux fincore). */
function resident(path: string): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' }).trim());
}

test('the partial page an append ends in stays cached (the next append starts in it without reading it back); the pages before it do not', { skip }, async (t) => {
  await withFiles(1, async (paths, fds) => {
    if (!(await supported(fds[0]!))) return t.skip(`no uncached writes under ${tmpdir()}`);
    const w = uncachedWritev()!;
    const data = randomBytes((64 << 10) + 100);
    assert.equal(await w(fds[0]!, [data], 0), data.length);
    execFileSync('sync', [paths[0]!]);
    // Written back and dropped: the 16 whole pages; kept: the page holding the last 100 bytes.
    assert.equal(resident(paths[0]!), 4096);
    const more = randomBytes(4000);
    assert.equal(await w(fds[0]!, [more], data.length), more.length);
    assert.ok(readFileSync(paths[0]!).equals(Buffer.concat([data, more])), 'the file holds both appends, in order');
  });
});
