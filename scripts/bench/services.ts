/**
 * Issue 5 acceptance 5: WebDAV PUT and GET throughput, and the server's CPU per GiB, with each
 * block service off and on, on the real gateway (`dw serve`, RocksDB, rs:4+2 on six folders),
 * one pool per configuration, the same client (curl) and the same file.
 *
 *   node --import tsx scripts/bench/services.ts [--size-mib N] [--configs off,lz4,...] [--dir D]
 *
 * The file is the first N MiB (default 1024) of a tar of /usr/share and /usr/lib: text, binaries
 * and already-compressed files, as a real share holds (zstd -3 makes 1 GiB of it about 420 MiB).
 * Configurations: off, lz4, zstd:3, dedup, aes (AES-256-GCM, key file), and all three (CONFIGS).
 * Per configuration: PUT once, GET once (checked by sha256), the server's user+system CPU over
 * each (from /proc/PID/stat: all its threads, the codec workers included), and the bytes in the
 * device folders after the PUT. Record the table in docs/benchmarks.md.
 */
import { execSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupAll, dw, serve } from '../../test/e2e/gateway-harness.js';
import { arg } from './launch-common.js';

const MiB = 1 << 20;
const SIZE = Number(arg('size-mib', '1024')) * MiB;
/** Name → extra `dw pool create` options (KEY: the key file, made by create, given to serve too). */
const CONFIGS: Record<string, string[]> = {
  off: [],
  lz4: ['--compression', 'lz4'],
  'zstd:3': ['--compression', 'zstd:3'],
  dedup: ['--dedup'],
  aes: ['--encryption', 'keyfile', '--key-file', 'KEY'],
  'zstd:3+dedup+aes': ['--compression', 'zstd:3', '--dedup', '--encryption', 'keyfile', '--key-file', 'KEY'],
};
const chosen = arg('configs', Object.keys(CONFIGS).join(',')).split(',');
const work = await mkdtemp(join(arg('dir', tmpdir()), 'dw-bench-services-'));

/** user + system CPU seconds of a process (all threads) so far. */
async function cpuOf(pid: number): Promise<number> {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

async function dirBytes(dirs: string[]): Promise<number> {
  let n = 0;
  for (const d of dirs) for (const f of await readdir(d)) n += (await stat(join(d, f))).size;
  return n;
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const b of createReadStream(path)) h.update(b as Buffer);
  return h.digest('hex');
}

try {
  const file = join(work, 'share.tar');
  execSync(`tar -cf - /usr/share /usr/lib 2>/dev/null | head -c ${SIZE} > ${file}`, { shell: '/bin/bash' });
  const size = (await stat(file)).size;
  const want = await sha256(file);
  const gib = size / 1024 / MiB;
  console.log(`file: ${(size / MiB).toFixed(0)} MiB of a tar of /usr/share and /usr/lib; zstd -3 makes it ${(Number(execSync(`zstd -3 -c ${file} | wc -c`).toString()) / MiB).toFixed(0)} MiB`);
  console.log('config        PUT MiB/s  PUT CPU s/GiB  GET MiB/s  GET CPU s/GiB  on devices');
  for (const name of chosen) {
    const key = join(work, `${name}.key`);
    const opts = CONFIGS[name]?.map((o) => (o === 'KEY' ? key : o));
    if (!opts) throw new Error(`unknown config ${name}; configs: ${Object.keys(CONFIGS).join(', ')}`);
    const data = join(work, `data-${name}`);
    const devs = Array.from({ length: 6 }, (_, i) => join(work, `${name}-dev${i}`));
    const c = await dw(['pool', 'create', '--data', data, '--layout', 'rs:4+2', ...opts, ...devs]);
    if (c.code !== 0) throw new Error(c.stderr);
    const srv = await serve(data, opts.includes(key) ? ['--key-file', key] : []);
    try {
      const url = new URL('/share.tar', srv.url).href;
      const auth = ['-u', `admin:${srv.password}`];
      const pid = srv.proc.pid!;
      let cpu0 = await cpuOf(pid), t0 = process.hrtime.bigint();
      const put = spawnSync('curl', ['-sS', '-f', ...auth, '-T', file, url]);
      if (put.status !== 0) throw new Error(`PUT: ${put.stderr}`);
      const putS = Number(process.hrtime.bigint() - t0) / 1e9, putCpu = (await cpuOf(pid)) - cpu0;
      const onDevices = await dirBytes(devs);
      const back = join(work, 'back.tar');
      cpu0 = await cpuOf(pid); t0 = process.hrtime.bigint();
      const get = spawnSync('curl', ['-sS', '-f', ...auth, '-o', back, url]);
      if (get.status !== 0) throw new Error(`GET: ${get.stderr}`);
      const getS = Number(process.hrtime.bigint() - t0) / 1e9, getCpu = (await cpuOf(pid)) - cpu0;
      if ((await sha256(back)) !== want) throw new Error(`${name}: GET returned other bytes`);
      await rm(back);
      console.log(`${name.padEnd(13)} ${(size / MiB / putS).toFixed(0).padStart(9)}  ${(putCpu / gib).toFixed(2).padStart(13)}  ${(size / MiB / getS).toFixed(0).padStart(9)}  ${(getCpu / gib).toFixed(2).padStart(13)}  ${(onDevices / MiB).toFixed(0)} MiB`);
    } finally {
      await srv.stop();
      await rm(data, { recursive: true, force: true });
      for (const d of devs) await rm(d, { recursive: true, force: true });
    }
  }
} finally {
  await cleanupAll();
  await rm(work, { recursive: true, force: true });
}
