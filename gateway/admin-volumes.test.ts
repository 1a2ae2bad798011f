import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBlockStore } from '../raid/memory.js';
import { MemoryKv } from '../vfs/meta/memory.js';
import { openVfs, openVolumes, type VfsInstance, type VolumeInfo } from '../vfs/index.js';
import { runAdmin, type AdminEnv } from './admin.js';
import { formatVolumes, parseBlockSize, parseVolumeSize } from './admin-volumes.js';
import { dataDir } from './datadir.js';
import { CliError, UsageError } from './errors.js';
import { UserStore } from './users.js';

function env(): AdminEnv {
  const kv = new MemoryKv();
  const pool = new MemoryBlockStore();
  let v: VfsInstance | undefined;
  const e: AdminEnv = {
    dir: dataDir('/nonexistent/dw'), kv, users: new UserStore(kv), serving: true, pool: async () => pool,
    vfs: async () => (v ??= await openVfs({ kv, blocks: pool })),
    snapshots: async () => (await e.vfs()).snapshots,
  };
  return e;
}

const code = (c: string) => (err: unknown) => err instanceof CliError && err.code === c;

describe('volume admin methods', () => {
  test('sizes: binary units, 4 KiB multiples; block sizes: powers of two 4K..1M', () => {
    assert.equal(parseVolumeSize('--size', '100G'), 100 * 2 ** 30);
    assert.equal(parseVolumeSize('--size', '1T'), 2 ** 40);
    assert.equal(parseVolumeSize('--size', '64K'), 65536);
    assert.equal(parseVolumeSize('--size', 8192), 8192);
    for (const bad of ['', 'lots', '100X', '1000', '-4K', '0', 4097]) {
      assert.throws(() => parseVolumeSize('--size', bad), (e: unknown) => e instanceof UsageError && /like 100G, 512M, 64K or 1T/.test(e.message), String(bad));
    }
    assert.equal(parseBlockSize('64K'), 65536);
    assert.equal(parseBlockSize('1M'), 1 << 20);
    for (const bad of ['2K', '3K', '2M', 'x']) assert.throws(() => parseBlockSize(bad), /power of two from 4K to 1M/);
  });

  test('create, list, resize, snapshot, clone, delete through runAdmin', async () => {
    const e = env();
    const made = (await runAdmin(e, 'volume.create', { name: 'db', size: '16M', block: '16K' })) as VolumeInfo;
    assert.equal(made.sizeBytes, 16 << 20);
    assert.equal(made.recordSize, 16384);
    await assert.rejects(runAdmin(e, 'volume.create', { name: 'db', size: '1M' }), code('EEXIST'));
    await assert.rejects(runAdmin(e, 'volume.create', { name: '.x', size: '1M' }), UsageError);
    await assert.rejects(runAdmin(e, 'volume.create', { name: 'y', size: '1001' }), /whole 4 KiB units/);
    await assert.rejects(runAdmin(e, 'volume.create', { name: 'y' }), UsageError);
    // Data written through the volume API shows in `used`; a snapshot and a clone keep it.
    const vols = openVolumes(await e.vfs());
    const h = await vols.open('db');
    await h.write(0, Buffer.alloc(65536, 1));
    await h.close();
    assert.deepEqual(await runAdmin(e, 'volume.snapshot', { name: 'db@monday' }), { volume: 'db', name: 'monday', created: (await vols.get('db')).snapshots[0]!.created });
    await assert.rejects(runAdmin(e, 'volume.snapshot', { name: 'db' }), /VOLUME@SNAPSHOT/);
    await assert.rejects(runAdmin(e, 'volume.snapshot', { name: 'db@monday' }), code('EEXIST'));
    await assert.rejects(runAdmin(e, 'volume.snapshot', { name: 'nope@x' }), code('ENOENT'));
    const cl = (await runAdmin(e, 'volume.clone', { source: 'db@monday', name: 'db-test' })) as VolumeInfo;
    assert.equal(cl.origin, 'db@monday');
    assert.equal(cl.usedBytes, 65536);
    assert.equal(((await runAdmin(e, 'volume.resize', { name: 'db', size: '32M' })) as VolumeInfo).sizeBytes, 32 << 20);
    const h4 = await vols.open('db');
    await h4.write(0, Buffer.alloc(65536, 4)); // monday keeps the records this replaces
    await h4.close();
    const list = (await runAdmin(e, 'volume.list', {})) as VolumeInfo[];
    assert.deepEqual(list.map((v) => [v.name, v.sizeBytes, v.usedBytes, v.origin ?? null, v.snapshots.map((s) => s.name)]), [
      ['db', 32 << 20, 65536, null, ['monday']],
      ['db-test', 16 << 20, 65536, 'db@monday', []],
    ]);
    const lines = formatVolumes(list);
    assert.match(lines[0]!, /^NAME\s+SIZE\s+BLOCK\s+USED\s+ORIGIN\s+SNAPSHOTS$/);
    assert.match(lines[1]!, /^db\s+32\.0 MiB\s+16\.0 KiB\s+64\.0 KiB\s+-\s+monday \(64\.0 KiB\)$/);
    assert.equal(list[0]!.snapshots[0]!.heldBytes, 65536);
    assert.match(lines[2]!, /^db-test\s+16\.0 MiB\s+16\.0 KiB\s+64\.0 KiB\s+db@monday\s+-$/);
    await assert.rejects(runAdmin(e, 'volume.delete', { name: 'db' }), (err: unknown) => err instanceof CliError && err.code === 'EBUSY' && /--recursive/.test(err.message));
    // Rollback: newest only unless destroying newer ones.
    await runAdmin(e, 'volume.snapshot', { name: 'db@tuesday' });
    const h2 = await vols.open('db');
    await h2.write(0, Buffer.alloc(512, 2));
    await h2.close();
    await assert.rejects(runAdmin(e, 'volume.rollback', { name: 'db@monday' }), (err: unknown) => err instanceof CliError && err.code === 'EBUSY' && /tuesday.*--destroy-newer/.test(err.message));
    assert.deepEqual(await runAdmin(e, 'volume.rollback', { name: 'db@monday', destroyNewer: true }), { volume: 'db', name: 'monday', destroyed: ['tuesday'] });
    const h3 = await vols.open('db');
    assert.ok((await h3.read(0, 512)).equals(Buffer.alloc(512, 1)), 'monday\'s bytes');
    await h3.close();
    assert.equal((await vols.get('db')).sizeBytes, 16 << 20, 'the size at the snapshot');
    await runAdmin(e, 'volume.resize', { name: 'db', size: '32M' });
    await runAdmin(e, 'volume.snapshot.delete', { name: 'db@monday' });
    await assert.rejects(runAdmin(e, 'volume.snapshot.delete', { name: 'db@monday' }), code('ENOENT'));
    assert.deepEqual(await runAdmin(e, 'volume.delete', { name: 'db' }), { name: 'db' });
    await runAdmin(e, 'volume.snapshot', { name: 'db-test@a' });
    await runAdmin(e, 'volume.delete', { name: 'db-test', recursive: true });
    assert.deepEqual(await runAdmin(e, 'volume.list', {}), []);
    assert.deepEqual(formatVolumes([]), ['no volumes (make one: dw volume create NAME --size 100G)']);
    // The tree's snapshot list never shows a volume's.
    assert.deepEqual(await runAdmin(e, 'snapshot.list', {}), []);
  });
});
