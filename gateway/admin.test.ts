import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBlockStore } from '../raid/memory.js';
import type { ProgressFn, ScrubReport } from '../raid/types.js';
import { MemoryKv } from '../vfs/meta/memory.js';
import { openVfs, ROOT_CTX, type VfsInstance } from '../vfs/index.js';
import { checkLayout, runAdmin, type AdminEnv } from './admin.js';
import { dataDir } from './datadir.js';
import { CliError, UsageError } from './errors.js';
import { UserStore } from './users.js';

/** A memory pool whose scrub reports progress and then waits until released. */
class SlowScrubStore extends MemoryBlockStore {
  unblock!: () => void;
  started!: Promise<void>;
  private markStarted!: () => void;
  constructor() {
    super();
    this.started = new Promise((r) => { this.markStarted = r; });
  }
  override async scrub(opts: { repair?: boolean; onProgress?: ProgressFn } = {}): Promise<ScrubReport> {
    opts.onProgress?.(3, 10);
    this.markStarted();
    await new Promise<void>((r) => { this.unblock = r; });
    opts.onProgress?.(10, 10);
    return { blocksChecked: 10, shardsChecked: 60, badShards: 2, repaired: 2, unrecoverable: 0 };
  }
}

function env(pool = new MemoryBlockStore()): AdminEnv {
  const kv = new MemoryKv();
  let v: VfsInstance | undefined;
  const e: AdminEnv = {
    dir: dataDir('/nonexistent/dw'), kv, users: new UserStore(kv), serving: true, pool: async () => pool,
    vfs: async () => (v ??= await openVfs({ kv, blocks: pool, recordSize: 4096 })),
    snapshots: async () => (await e.vfs()).snapshots,
  };
  return e;
}

describe('admin methods', () => {
  test('versions and restore: a file across snapshots, brought back from one', async () => {
    const e = env();
    const v = await e.vfs();
    const put = async (data: string) => {
      const { fh } = await v.paths.open(ROOT_CTX, '/notes.txt', { write: true, create: true, truncate: true });
      await v.vfs.write(ROOT_CTX, fh, 0, Buffer.from(data));
      await v.vfs.release(ROOT_CTX, fh);
    };
    await put('v1');
    await runAdmin(e, 'snapshot.create', { name: 'one' });
    await runAdmin(e, 'snapshot.create', { name: 'two' });
    await put('version 2');
    await runAdmin(e, 'snapshot.create', { name: 'three' });
    await v.paths.unlink(ROOT_CTX, '/notes.txt');
    const vs = (await runAdmin(e, 'versions', { path: '/notes.txt' })) as { snapshot: string | null; size: number; sameAsPrevious: boolean; path: string }[];
    assert.deepEqual(vs.map((x) => [x.snapshot, x.size, x.sameAsPrevious]), [['one', 2, false], ['two', 2, true], ['three', 9, false]]);
    assert.equal(vs[0]!.path, '/.snapshots/one/notes.txt');
    assert.deepEqual(await runAdmin(e, 'restore', { path: '/notes.txt', from: 'one' }), { path: '/notes.txt', from: 'one', to: '/notes.txt' });
    const { fh, attr } = await v.paths.open(ROOT_CTX, '/notes.txt', { read: true });
    assert.equal((await v.vfs.read(ROOT_CTX, fh, 0, attr.size)).toString(), 'v1');
    await v.vfs.release(ROOT_CTX, fh);
    await assert.rejects(runAdmin(e, 'restore', { path: '/notes.txt', from: 'nope' }), (err: CliError) => err.code === 'ENOENT');
    await assert.rejects(runAdmin(e, 'versions', { path: 'relative' }), UsageError);
    await assert.rejects(runAdmin(e, 'versions', { path: '/a/../../etc' }), UsageError);
    await assert.rejects(runAdmin(e, 'versions', { path: '/never' }), (err: CliError) => err.code === 'ENOENT');
  });

  test('snapshot of one folder (--path): /.snapshots/NAME shows that folder as it was; no rollback', async () => {
    const e = env();
    const v = await e.vfs();
    await v.paths.mkdir(ROOT_CTX, '/proj');
    const { fh } = await v.paths.open(ROOT_CTX, '/proj/plan.txt', { write: true, create: true });
    await v.vfs.write(ROOT_CTX, fh, 0, Buffer.from('draft'));
    await v.vfs.release(ROOT_CTX, fh);
    const made = (await runAdmin(e, 'snapshot.create', { name: 'proj-1', path: '/proj' })) as { path?: string };
    assert.equal(made.path, '/proj');
    await v.paths.unlink(ROOT_CTX, '/proj/plan.txt');
    assert.deepEqual((await v.paths.readdir(ROOT_CTX, '/.snapshots/proj-1')).map((x) => x.name), ['plan.txt']);
    await assert.rejects(runAdmin(e, 'snapshot.rollback', { name: 'proj-1' }), UsageError);
    await assert.rejects(runAdmin(e, 'snapshot.create', { name: 'x', path: '/nope' }), (err: CliError) => err.code === 'ENOENT');
  });

  test('snapshot methods: create, list with space held, delete; bad names are usage errors', async () => {
    const e = env();
    const made = (await runAdmin(e, 'snapshot.create', { name: 'nightly' })) as { name: string; epoch: number };
    assert.equal(made.name, 'nightly');
    const list = (await runAdmin(e, 'snapshot.list', {})) as { name: string; heldBytes: number; created: string }[];
    assert.deepEqual(list.map((x) => [x.name, x.heldBytes]), [['nightly', 0]]);
    assert.ok(!Number.isNaN(Date.parse(list[0]!.created)));
    await assert.rejects(runAdmin(e, 'snapshot.create', { name: 'nightly' }), (err: CliError) => err.code === 'EEXIST');
    await assert.rejects(runAdmin(e, 'snapshot.create', { name: 'a/b' }), UsageError);
    await assert.rejects(runAdmin(e, 'snapshot.create', {}), UsageError);
    assert.deepEqual(await runAdmin(e, 'snapshot.delete', { name: 'nightly' }), { name: 'nightly' });
    await assert.rejects(runAdmin(e, 'snapshot.delete', { name: 'nightly' }), (err: CliError) => err.code === 'ENOENT');
    assert.deepEqual(await runAdmin(e, 'snapshot.list', {}), []);
  });

  test('user methods check their params and do the work', async () => {
    const e = env();
    const u = (await runAdmin(e, 'user.add', { name: 'ann', password: 'pw' })) as { name: string; uid: number };
    assert.equal(u.uid, 1000);
    assert.ok(await e.users.checkPassword('ann', 'pw'));
    await runAdmin(e, 'user.passwd', { name: 'ann', password: 'pw2' });
    assert.equal(await e.users.checkPassword('ann', 'pw'), null);
    assert.ok(await e.users.checkPassword('ann', 'pw2'));
    assert.deepEqual(((await runAdmin(e, 'user.list', {})) as { name: string }[]).map((x) => x.name), ['ann']);
    await runAdmin(e, 'user.remove', { name: 'ann' });
    assert.deepEqual(await runAdmin(e, 'user.list', {}), []);
    // params off the socket are untrusted: wrong types are usage errors
    await assert.rejects(runAdmin(e, 'user.add', { name: 42, password: 'x' }), (err: unknown) => err instanceof UsageError && /missing user name/.test(err.message));
    await assert.rejects(runAdmin(e, 'user.add', { name: 'x', password: ['a'] }), UsageError);
    await assert.rejects(runAdmin(e, 'user.remove', { name: 'ghost' }), (err: unknown) => err instanceof CliError && err.code === 'ENOENT');
    await assert.rejects(runAdmin(e, 'nope', {}), /unknown admin method/);
    await assert.rejects(runAdmin(e, 'reclaim', { threshold: 2 }), /--threshold wants a number from 0 to 1/);
  });

  test('long work reports progress, shows as a task, and runs one at a time', async () => {
    const pool = new SlowScrubStore();
    const e = env(pool);
    const seen: [number, number][] = [];
    const scrub = runAdmin(e, 'scrub', {}, (d, t) => seen.push([d, t]));
    await pool.started;
    assert.deepEqual(e.task, { kind: 'scrub', done: 3, total: 10 });
    await assert.rejects(runAdmin(e, 'reclaim', {}), (err: unknown) => err instanceof CliError && err.code === 'EBUSY' && /scrub is already running \(30%\)/.test(err.message));
    pool.unblock();
    const r = (await scrub) as ScrubReport;
    assert.equal(r.repaired, 2);
    assert.deepEqual(seen, [[3, 10], [10, 10]]);
    assert.equal(e.task, undefined, 'task cleared when done');
    assert.deepEqual(await runAdmin(e, 'reclaim', {}), await new MemoryBlockStore().reclaim());
  });

  test('device.replace resolves OLD by index or path, refuses unknown ones', async () => {
    const e = env();
    await assert.rejects(runAdmin(e, 'device.replace', { old: '7', new: '/tmp/x' }), (err: unknown) => err instanceof UsageError && /no device "7"/.test(err.message));
    await assert.rejects(runAdmin(e, 'device.replace', { old: '0', new: 'relative/path' }), /absolute path/);
  });

  test('layout text is checked before anything is opened', () => {
    assert.equal(checkLayout(' RS:4+2 '), 'rs:4+2');
    assert.equal(checkLayout('raid6:6'), 'raid6:6');
    for (const bad of ['rs:4', 'rs:17+1', 'raid5:2', 'zfs:3', '']) {
      assert.throws(() => checkLayout(bad), (err: unknown) => err instanceof UsageError && /Layouts: mirror:N/.test(err.message), bad);
    }
  });
});
