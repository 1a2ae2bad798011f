/**
 * What the NFS end-to-end tests share: an rs:4+2 pool on RocksDB in a folder (created once,
 * opened again after a restart), running the libnfs tools with binary output, a bounded pool of
 * jobs, and one RPC over a fresh TCP connection.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { createPool, openPool } from '../../raid/index.js';
import { openRocksKv } from '../../vfs/meta/rocksdb.js';
import { openVfs, type VfsInstance } from '../../vfs/index.js';
import { frameRecord, RecordDecoder } from '../../protocols/nfs/wire/record.js';
import { AUTH, decodeReply, encodeAuthSys, encodeCall } from '../../protocols/nfs/wire/rpc.js';
import type { XdrReader } from '../../protocols/nfs/wire/xdr.js';

/** Creates an rs:4+2 pool (six device folders d0..d5, metadata in meta/) in `dir`. */
export async function createTestPool(dir: string): Promise<void> {
  const kv = await openRocksKv(join(dir, 'meta'));
  await createPool(kv, { layout: 'rs:4+2', devices: Array.from({ length: 6 }, (_, i) => join(dir, `d${i}`)) });
  await kv.close();
}

/** Opens the VFS over the pool of `dir` (two codec workers). */
export async function openTestVfs(dir: string): Promise<VfsInstance> {
  const kv = await openRocksKv(join(dir, 'meta'));
  return openVfs({ kv, blocks: await openPool(kv, { codec: 'worker', workers: 2 }) });
}

export interface BinRun { code: number | null; stdout: Buffer; stderr: string }

/** Runs a client tool; stdout as bytes (nfs-cat output is compared byte for byte). */
export function runBin(cmd: string, args: string[], timeoutMs = 30_000): Promise<BinRun> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    const out: Buffer[] = [];
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => out.push(d));
    c.stderr.on('data', (d) => { stderr += d; });
    c.on('error', reject);
    c.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

/** Runs `job` over `items`, at most `n` at a time. */
export async function pool<T>(items: T[], n: number, job: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await job(items[next++]!);
  }));
}

/**
 * Writes the NFS tests' local tree under `src`: 300 files in 3 levels of folders below t/, from
 * empty to 3 MiB (several READs/WRITEs each), some names with spaces. Adds their relative paths
 * to `files` and their folders to `dirs`.
 */
export function writeLocalTree(src: string, files: string[], dirs: Set<string>): void {
  for (let i = 0; i < 300; i++) {
    const rel = `t/d${i % 6}/s${i % 4}/f${i}${i % 7 === 0 ? ' with space' : ''}.bin`;
    const size = i === 0 ? 0 : i % 50 === 1 ? 3 * 1024 * 1024 + 17 : (i * 7919) % 40000;
    mkdirSync(dirname(join(src, rel)), { recursive: true });
    writeFileSync(join(src, rel), randomBytes(size));
    files.push(rel);
    for (let d = dirname(rel); d !== '.'; d = dirname(d)) dirs.add(d);
  }
}

export const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Sends one RPC message over a fresh TCP connection (a retransmission after a reconnect looks so): the reply record. */
export async function rpcRaw(port: number, msg: Buffer): Promise<Buffer> {
  const sock = connect(port, '127.0.0.1');
  try {
    const dec = new RecordDecoder();
    const got = new Promise<Buffer>((resolve, reject) => {
      sock.on('data', (d) => { const r = dec.push(d); if (r.length) resolve(r[0]!); });
      sock.on('error', reject);
    });
    sock.write(frameRecord(msg));
    return await got;
  } finally {
    sock.destroy();
  }
}

/**
 * One RPC call over a fresh TCP connection, AUTH_SYS as `uid` (gid the same); asserts the call
 * was accepted with SUCCESS and gives the results.
 */
export async function rpcOnce(port: number, call: { prog: number; vers: number; proc: number }, args: Uint8Array, uid = 0): Promise<XdrReader> {
  const cred = { flavor: AUTH.SYS, body: encodeAuthSys({ stamp: 1, machinename: 'e2e', uid, gid: uid, gids: [] }) };
  const rep = decodeReply(await rpcRaw(port, encodeCall({ xid: 1, ...call, cred }, args)));
  assert.ok(rep.kind === 'accepted' && rep.stat === 0, 'the call is accepted');
  return rep.results;
}
