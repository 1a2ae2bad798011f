/** Device: what a sync promises when several callers sync at once; shared segment handles; write-behind; uncached appends. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Device, writeLabel } from './device.js';

/** Runs `fn` with an open Device on a fresh labelled folder (`segmentBytes` segments: 1 MiB) under `parent`, then removes it. */
async function withDevice(fn: (dev: Device, poolHex: string) => Promise<void>, segmentBytes = 1 << 20, parent = tmpdir()): Promise<void> {
  const dir = await mkdtemp(join(parent, 'dw-device-'));
  try {
    const poolId = randomBytes(16);
    await writeLabel(dir, { format: 1, poolId: poolId.toString('hex'), index: 0 });
    let next = 1;
    const dev = new Device(0, dir, poolId, segmentBytes, async () => next++);
    await dev.open(poolId.toString('hex'));
    await fn(dev, poolId.toString('hex'));
    await dev.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a sync called while another runs resolves only after that one (it may hold the caller\'s segments)', async () => {
  await withDevice(async (dev) => {
    assert.equal(dev.state, 'online');
    for (let round = 0; round < 20; round++) {
      const w = await dev.append([randomBytes(4096)]);
      w.unpin();
      // The first sync takes the dirty segment; the second finds nothing dirty but must still
      // wait until the first one's fdatasync is done: its caller's bytes are in that segment.
      let firstDone = false;
      const first = dev.sync().then(() => { firstDone = true; });
      await dev.sync();
      assert.equal(firstDone, true, `round ${round}: the second sync returned before the first finished`);
      await first;
    }
  });
});

test('concurrent reads of a segment not open yet share one file handle', async () => {
  const fds = async () => (await readdir('/proc/self/fd')).length;
  await withDevice(async (dev, poolHex) => {
    const data = randomBytes(4096);
    const w = await dev.append([data]);
    w.unpin();
    await dev.close(); // every handle closed: the reads below open the segment again
    await dev.open(poolHex);
    const before = await fds();
    const bufs = Array.from({ length: 32 }, () => Buffer.alloc(4096));
    await Promise.all(bufs.map((b) => dev.readv(w.segment, w.offset, [b])));
    for (const b of bufs) assert.ok(b.equals(data));
    assert.equal(await fds(), before + 1, 'one handle for the segment (each reader used to open its own)');
  });
});

/** The private parts of a Device the write-behind tests look at or break. */
interface DeviceInside {
  flushing: Promise<void> | undefined;
  handles: Map<number, { fh: { datasync: () => Promise<void> } }>;
}

/** Appends `mib` MiB in 512 KiB records; returns the last append's segment. */
async function appendMiB(dev: Device, mib: number): Promise<number> {
  let seg = 0;
  for (let i = 0; i < mib * 2; i++) {
    const w = await dev.append([randomBytes(512 << 10)]);
    w.unpin();
    seg = w.segment;
  }
  return seg;
}

test('write-behind: a device whose pool syncs flushes in the background every 8 MiB; one never synced does not', async () => {
  await withDevice(async (dev) => {
    await appendMiB(dev, 20);
    assert.equal(dev.flushesBehindStarted, 0, 'no sync asked yet: nothing flushed early');
    await dev.sync();
    await appendMiB(dev, 20);
    assert.ok(dev.flushesBehindStarted >= 1, `flushes started after a sync: ${dev.flushesBehindStarted}`);
    await (dev as unknown as DeviceInside).flushing;
    await dev.sync();
  }, 64 << 20);
});

test('write-behind: a background flush that fails is reported by the next sync, and the segment is synced again after', async () => {
  await withDevice(async (dev) => {
    await dev.sync();
    const seg = (await dev.append([randomBytes(4096)])).segment;
    const inside = dev as unknown as DeviceInside;
    const fh = inside.handles.get(seg)!.fh;
    const real = fh.datasync;
    let calls = 0;
    fh.datasync = () => { calls++; return Promise.reject(new Error('injected write-back error')); };
    await appendMiB(dev, 9);
    assert.equal(dev.flushesBehindStarted, 1);
    await inside.flushing;
    assert.equal(calls, 1);
    fh.datasync = real;
    await assert.rejects(dev.sync(), /sync failed: injected write-back error/);
    await dev.sync(); // the segment stayed dirty: synced for real now
  }, 64 << 20);
});

/** Bytes of `path` in the page cache now (util-linux fincore: the kernel's mincore of the file). */
function resident(path: string): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' }).trim());
}

/** Appends 8 MiB in 512 KiB records (each through libuv's pool: past SYNC_WRITE_MAX); returns the records and where they went. */
async function appendRecords(dev: Device): Promise<{ data: Buffer; segment: number; offset: number }[]> {
  const out = [];
  for (let i = 0; i < 16; i++) {
    const data = randomBytes(512 << 10);
    const w = await dev.append([data]);
    w.unpin();
    out.push({ data, segment: w.segment, offset: w.offset });
  }
  return out;
}

async function readBack(dev: Device, recs: { data: Buffer; segment: number; offset: number }[]): Promise<void> {
  for (const r of recs) {
    const b = Buffer.alloc(r.data.length);
    await dev.read(r.segment, r.offset, b.length, b, 0);
    assert.ok(b.equals(r.data), `record at ${r.segment}:${r.offset} reads back`);
  }
}

test('large appends go uncached (pwritev2 RWF_DONTCACHE): once synced they are on disk but not in the page cache, and read back', async (t) => {
  let plainResident = 0;
  await withDevice(async (dev) => {
    dev.uncached = false; // the plain path, for comparison: fincore sees what it leaves behind
    const recs = await appendRecords(dev);
    await dev.sync();
    plainResident = resident(dev.segmentPath(recs[0]!.segment));
    await readBack(dev, recs);
  }, 64 << 20);
  if (plainResident < 7 << 20) {
    // A file system that keeps no page cache for these files (our own FUSE mount, when the
    // project's tests run with TMPDIR on it): nothing for uncached writes to leave out.
    t.skip(`plain appends under ${tmpdir()} leave ${plainResident} of 8 MiB in the page cache: nothing to compare`);
    return;
  }
  await withDevice(async (dev) => {
    const recs = await appendRecords(dev);
    await dev.sync();
    if (dev.uncachedAppends === 0) {
      assert.equal(dev.uncached, false, 'a device without uncached writes knows it after its first large append');
      await readBack(dev, recs);
      t.skip(`no uncached writes under ${tmpdir()} (kernel ${release()}; RWF_DONTCACHE needs 6.14+ and ext4, xfs or btrfs, and npm ci's native/sys)`);
      return;
    }
    assert.equal(dev.uncachedAppends, 16, 'each large append went uncached');
    const left = resident(dev.segmentPath(recs[0]!.segment));
    assert.ok(left <= 1 << 20, `at most 1 MiB of 8 left in the page cache after sync (fincore: ${left} bytes)`);
    await readBack(dev, recs);
  }, 64 << 20);
});

const shm = existsSync('/proc/mounts') && readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === '/dev/shm' && l.split(' ')[2] === 'tmpfs');
test('on a file system without uncached writes (tmpfs) large appends fall back to plain writes and land', { skip: shm ? false : 'no tmpfs at /dev/shm' }, async () => {
  await withDevice(async (dev) => {
    const recs = await appendRecords(dev);
    await dev.sync();
    assert.equal(dev.uncached, false, 'the device found out and writes plainly');
    assert.equal(dev.uncachedAppends, 0);
    await readBack(dev, recs);
  }, 64 << 20, '/dev/shm');
});
