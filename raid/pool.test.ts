/**
 * Pool creation and opening (labels, refusals), and crash safety: kill -9 of a process writing
 * blocks (RocksDB metadata) loses no committed block, and reclaim then frees the orphans.
 *
 * This file doubles as the crash test's child: run with DW_RAID_CHILD set, it writes blocks
 * until killed instead of registering tests.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Errno, VfsError } from '../vfs/errno.js';
import { MemoryKv } from '../vfs/meta/memory.js';
import { openRocksKv } from '../vfs/meta/rocksdb.js';
import { LABEL_FILE } from './device.js';
import { createPool, openPool, poolExists, readPoolState } from './index.js';

const CHILD = process.env.DW_RAID_CHILD;

/** The block written as number i: deterministic, 1..200 KB. */
function blockData(i: number): Buffer {
  const n = 1 + ((i * 7919) % 200_000);
  const b = Buffer.alloc(n);
  for (let x = 0; x < n; x++) b[x] = (i * 31 + x * 7 + (x >> 8) * 13) & 0xff;
  return b;
}

async function child(dir: string): Promise<void> {
  const kv = await openRocksKv(join(dir, 'meta'));
  const store = await openPool(kv, { codec: 'worker', workers: 1 });
  let i = 0;
  const worker = async () => {
    for (;;) {
      const n = i++;
      const s = await store.put(blockData(n));
      // Every other block is staged and never committed: orphan shards for reclaim to find.
      if (n % 2 === 1) continue;
      await kv.txn(async (tx) => store.commit(s, tx));
      process.stdout.write(`ack ${n} ${s.id}\n`);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
}

if (CHILD) {
  await child(CHILD);
} else {
  const isErr = (errno: Errno, re?: RegExp) => (e: unknown) => e instanceof VfsError && e.errno === errno && (!re || re.test(e.message));

  describe('createPool / openPool', () => {
    test('creates labels and the pool row; refuses a second pool and foreign folders', async () => {
      const root = mkdtempSync(join(tmpdir(), 'dw-pool-'));
      try {
        const kv = new MemoryKv();
        const devs = [0, 1, 2].map((i) => join(root, `d${i}`));
        assert.equal(await poolExists(kv), false);
        await assert.rejects(openPool(kv), isErr(Errno.ENOENT, /no pool/));
        await assert.rejects(createPool(kv, { layout: 'rs:2+2', devices: devs }), isErr(Errno.EINVAL, /needs 4 devices, got 3/));
        await assert.rejects(createPool(kv, { layout: 'rs:2+', devices: devs }), isErr(Errno.EINVAL, /bad layout/));
        await assert.rejects(createPool(kv, { layout: 'raid5:3', devices: [devs[0]!, devs[0]!, devs[1]!] }), isErr(Errno.EINVAL, /twice/));
        await createPool(kv, { layout: 'raid5:3', devices: devs });
        assert.equal(await poolExists(kv), true);
        const state = (await readPoolState(kv))!;
        assert.equal(state.layout, 'raid5:3');
        assert.deepEqual(state.devices, devs);
        for (const [i, d] of devs.entries()) {
          const label = JSON.parse(readFileSync(join(d, LABEL_FILE), 'utf8'));
          assert.equal(label.poolId, state.id);
          assert.equal(label.index, i);
        }
        await assert.rejects(createPool(kv, { layout: 'raid5:3', devices: [0, 1, 2].map((i) => join(root, `e${i}`)) }), isErr(Errno.EEXIST, /already exists/));
        // A folder of this pool cannot go into a pool in another KV.
        const kv2 = new MemoryKv();
        await assert.rejects(createPool(kv2, { layout: 'mirror:2', devices: [devs[1]!, join(root, 'f')] }), isErr(Errno.EEXIST, /belongs to pool/));
        const store = await openPool(kv, { codec: 'inline' });
        assert.equal(store.layout.name, 'raid5:3');
        await store.close();
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });

    test('a device folder labelled for another pool or index opens as missing', async () => {
      const root = mkdtempSync(join(tmpdir(), 'dw-pool-'));
      try {
        const kv = new MemoryKv();
        const devs = [0, 1, 2, 3].map((i) => join(root, `d${i}`));
        await createPool(kv, { layout: 'raid6:4', devices: devs });
        let store = await openPool(kv, { codec: 'inline' });
        const s = await store.put(Buffer.from('hello raid6'));
        await kv.txn((tx) => store.commit(s, tx));
        await store.close();
        writeFileSync(join(devs[0]!, LABEL_FILE), JSON.stringify({ format: 1, poolId: 'f'.repeat(32), index: 0 }));
        writeFileSync(join(devs[1]!, LABEL_FILE), readFileSync(join(devs[2]!, LABEL_FILE)));
        const warnings: unknown[] = [];
        store = await openPool(kv, { codec: 'inline', logger: { info() {}, warn: (o: unknown) => warnings.push(o), error() {} } });
        const st = await store.stats();
        assert.deepEqual(st.devices.map((d) => d.state), ['missing', 'missing', 'online', 'online']);
        assert.equal(warnings.length, 2);
        assert.equal((await store.get(s.id)).toString(), 'hello raid6');
        await store.close();
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  });

  describe('write-behind', () => {
    test('a pool asked to sync flushes its devices in the background as they fill; stats count it', async () => {
      const root = mkdtempSync(join(tmpdir(), 'dw-pool-'));
      try {
        const kv = new MemoryKv();
        await createPool(kv, { layout: 'rs:4+2', devices: [0, 1, 2, 3, 4, 5].map((i) => join(root, `d${i}`)) });
        const store = await openPool(kv, { codec: 'inline' });
        const data = Buffer.alloc(1 << 20, 7);
        const putMiB = async (n: number) => {
          for (let i = 0; i < n; i++) {
            const s = await store.put(data);
            await kv.txn((tx) => store.commit(s, tx));
          }
        };
        const flushes = async () => (await store.stats()).devices.reduce((a, d) => a + d.flushesBehind, 0);
        await putMiB(40); // 10 MiB of shards on each device, no sync asked yet
        assert.equal(await flushes(), 0, 'no sync asked: write-back left to the kernel');
        await store.sync();
        await putMiB(40);
        assert.ok((await flushes()) >= 1, 'after a sync, devices past 8 MiB flush in the background');
        await store.close();
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  });

  describe('crash safety (RocksDB metadata)', () => {
    test('kill -9 while writing: every acknowledged block reads back; reclaim frees the orphans', async () => {
      const root = mkdtempSync(join(tmpdir(), 'dw-crash-'));
      let proc: ChildProcess | undefined;
      try {
        const devs = [0, 1, 2, 3, 4, 5].map((i) => join(root, `dev${i}`));
        {
          const kv = await openRocksKv(join(root, 'meta'));
          await createPool(kv, { layout: 'rs:4+2', devices: devs, segmentBytes: 256 << 10 });
          await kv.close();
        }
        proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
          env: { ...process.env, DW_RAID_CHILD: root }, stdio: ['ignore', 'pipe', 'inherit'],
        });
        const acked = new Map<number, number>();
        let buf = '';
        await new Promise<void>((resolve, reject) => {
          proc!.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
          proc!.stdout!.on('data', (d: Buffer) => {
            buf += d.toString();
            let nl;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const [, n, id] = buf.slice(0, nl).split(' ');
              buf = buf.slice(nl + 1);
              acked.set(Number(n), Number(id));
            }
            if (acked.size >= 60) resolve();
          });
        });
        proc.removeAllListeners('exit');
        const exited = new Promise((r) => proc!.on('exit', r));
        proc.kill('SIGKILL');
        await exited;
        proc = undefined;
        const kv = await openRocksKv(join(root, 'meta'));
        const store = await openPool(kv, { codec: 'inline' });
        try {
          for (const [n, id] of acked) assert.ok((await store.get(id)).equals(blockData(n)), `acknowledged block ${n} (id ${id})`);
          const before = await store.stats();
          assert.ok(before.blocks >= acked.size);
          assert.ok(before.dead > 0, 'the never-committed blocks left dead shards');
          await store.reclaim({ threshold: 0 });
          const after = await store.stats();
          assert.equal(after.dead, 0);
          assert.equal((await store.scrub({ repair: false })).badShards, 0);
          for (const [n, id] of acked) assert.ok((await store.get(id)).equals(blockData(n)));
        } finally {
          await store.close();
          await kv.close();
        }
      } finally {
        if (proc) proc.kill('SIGKILL');
        rmSync(root, { recursive: true, force: true });
      }
    });
  });
}
