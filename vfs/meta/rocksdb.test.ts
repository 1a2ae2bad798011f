/**
 * RocksDB-specific behaviour: persistence, locking, read-only opens, WAL sync across rotation,
 * and kill -9 crash safety. The shared KvStore semantics are in kv.test.ts.
 *
 * This file doubles as the child process of the crash and lock tests: run with DW_KV_CHILD set,
 * it does the child's work instead of registering tests.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Errno, VfsError } from '../errno.js';
import { decodeCounter } from './kv.js';
import { openRocksKv } from './rocksdb.js';

const CHILD = process.env.DW_KV_CHILD;

const s = (str: string) => Buffer.from(str);
const key = (p: string, i: number) => s(`${p}/${String(i).padStart(8, '0')}`);

/** Child: commit txns forever, 8 in flight, printing "ack i" once txn i resolved. */
async function crashChild(dir: string, first: number): Promise<void> {
  const kv = await openRocksKv(dir);
  let next = first;
  const worker = async () => {
    for (;;) {
      const i = next++;
      await kv.txn(async (tx) => {
        tx.set(key('a', i), s(`a${i}`));
        tx.set(key('b', i), Buffer.alloc(100 + (i % 50), i % 256));
        tx.delete(key('tmp', i - 1));
        tx.set(key('tmp', i), s('t'));
        await tx.incrBy(s('count'), 1n);
      }, { sync: i % 10 === 0 });
      process.stdout.write(`ack ${i}\n`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** Child: hold the store open until killed. */
async function holdChild(dir: string): Promise<void> {
  await openRocksKv(dir);
  process.stdout.write('ready\n');
  setInterval(() => {}, 1000);
}

function spawnChild(mode: string, dir: string, first = 0): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, DW_KV_CHILD: mode, DW_KV_DIR: dir, DW_KV_FIRST: String(first) };
  delete env.NODE_TEST_CONTEXT;
  return spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
}

/** Resolves when the child printed a line matching pred (rejects if it exits first). */
function waitLine(child: ChildProcess, pred: (line: string) => boolean, onLine?: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        onLine?.(line);
        if (pred(line)) resolve();
      }
    });
    child.once('exit', (code, sig) => reject(new Error(`child exited early (${code ?? sig})`)));
  });
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

if (CHILD === 'crash') await crashChild(process.env.DW_KV_DIR!, Number(process.env.DW_KV_FIRST ?? 0));
else if (CHILD === 'hold') await holdChild(process.env.DW_KV_DIR!);
else {
  describe('RocksKv', () => {
    let root = '';
    const fresh = async (name: string) => {
      root ||= await mkdtemp(join(tmpdir(), 'dw-rocks-'));
      return join(root, name);
    };
    after(async () => { if (root) await rm(root, { recursive: true, force: true }); });

    test('data survives close and reopen; parent directories are created', async () => {
      const dir = join(await fresh('reopen'), 'deep', 'meta');
      const kv = await openRocksKv(dir);
      assert.equal(kv.engine, 'rocksdb');
      await kv.txn(async (tx) => { tx.set(s('x'), s('1')); await tx.incrBy(s('n'), 3n); });
      await kv.close();
      const again = await openRocksKv(dir);
      assert.deepEqual(await again.get(s('x')), s('1'));
      assert.equal(decodeCounter(await again.get(s('n'))), 3n);
      await again.close();
    });

    test('a second open in this process is EBUSY; read-only opens alongside and refuses txns', async () => {
      const dir = await fresh('busy-local');
      const kv = await openRocksKv(dir);
      await kv.txn(async (tx) => { tx.set(s('k'), s('v')); });
      await kv.sync();
      await assert.rejects(openRocksKv(dir), (err) => err instanceof VfsError && err.errno === Errno.EBUSY);
      const ro = await openRocksKv(dir, { readOnly: true });
      assert.deepEqual(await ro.get(s('k')), s('v'));
      await assert.rejects(ro.txn(async () => 1), (err) => err instanceof VfsError && err.errno === Errno.EROFS);
      await ro.sync();
      await ro.close();
      await kv.close();
    });

    test('read-only open of a missing store is ENOENT and creates nothing', async () => {
      const dir = await fresh('missing');
      await assert.rejects(openRocksKv(dir, { readOnly: true }), (err) => err instanceof VfsError && err.errno === Errno.ENOENT);
      await assert.rejects(readdir(dir), { code: 'ENOENT' });
    });

    test('a store held by another process is EBUSY naming a running dw serve', async () => {
      const dir = await fresh('busy-remote');
      const child = spawnChild('hold', dir);
      try {
        await waitLine(child, (l) => l === 'ready');
        await assert.rejects(openRocksKv(dir), (err) =>
          err instanceof VfsError && err.errno === Errno.EBUSY && /another process/.test(err.message) && /dw serve/.test(err.message));
      } finally {
        await killChild(child);
      }
      const kv = await openRocksKv(dir); // lock released with the process
      await kv.close();
    });

    test('sync across WAL rotations keeps every batch (small memtable)', async () => {
      const dir = await fresh('rotate');
      const kv = await openRocksKv(dir, { memtableBytes: 64 * 1024 });
      const walNumbers = new Set<string>();
      for (let i = 0; i < 300; i++) {
        await kv.txn(async (tx) => { tx.set(key('r', i), Buffer.alloc(1000, i % 256)); }, { sync: i % 7 === 0 });
        if (i % 25 === 0) {
          await kv.sync();
          for (const n of await readdir(dir)) if (n.endsWith('.log')) walNumbers.add(n);
        }
      }
      await kv.sync();
      assert.ok(walNumbers.size > 1, `the WAL rotated (saw ${[...walNumbers].join(', ')})`);
      await kv.close();
      const again = await openRocksKv(dir);
      let n = 0;
      for await (const [k, v] of again.scan(s('r/'), s('r0'))) {
        assert.deepEqual(k, key('r', n));
        assert.deepEqual(v, Buffer.alloc(1000, n % 256));
        n++;
      }
      assert.equal(n, 300);
      await again.close();
    });

    test('kill -9: every acknowledged txn survives, whole, and committed txns form a prefix', async () => {
      const dir = await fresh('crash');
      let committed = 0;
      for (let round = 0; round < 2; round++) {
        // round 1 continues the numbering after the txns round 0 committed, on the recovered store
        const child = spawnChild('crash', dir, committed);
        const acks: number[] = [];
        try {
          await waitLine(child, () => acks.length >= 300, (line) => {
            const m = /^ack (\d+)$/.exec(line);
            if (m) acks.push(Number(m[1]));
          });
        } finally {
          await killChild(child);
        }
        const kv = await openRocksKv(dir);
        const seen = new Set<number>();
        for await (const [k, v] of kv.scan(s('a/'), s('a0'))) {
          const i = Number(k.toString().slice(2));
          assert.deepEqual(v, s(`a${i}`));
          seen.add(i);
        }
        const n = seen.size;
        // Txns enter the queue in numbering order and commit one at a time, so the committed set is 0..n-1.
        for (let i = 0; i < n; i++) assert.ok(seen.has(i), `gap at txn ${i} of ${n}`);
        for (const i of acks) assert.ok(i < n, `acknowledged txn ${i} lost (only ${n} committed)`);
        assert.ok(n >= committed + acks.length);
        // Atomicity: each committed txn has all its writes, and no uncommitted one has any.
        assert.equal(Number(decodeCounter(await kv.get(s('count')))), n, 'counter = committed txns');
        let bCount = 0;
        for await (const [k, v] of kv.scan(s('b/'), s('b0'))) {
          const i = Number(k.toString().slice(2));
          assert.ok(seen.has(i), `b/${i} without a/${i}: half a batch`);
          assert.deepEqual(v, Buffer.alloc(100 + (i % 50), i % 256));
          bCount++;
        }
        assert.equal(bCount, n, 'every a/i has its b/i');
        const tmps: number[] = [];
        for await (const [k] of kv.scan(s('tmp/0'), s('tmp0'))) tmps.push(Number(k.toString().slice(4)));
        assert.deepEqual(tmps, [n - 1], 'tmp/i is deleted by txn i+1, so only the last one remains');
        await kv.close();
        committed = n;
      }
    });
  });
}
