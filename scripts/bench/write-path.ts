/**
 * The storage write path alone, no protocol: how fast the VFS over the default pool (RocksDB,
 * rs:4+2 over six folders, worker codec) takes sequential writes, as the protocol servers give
 * them. This is the ceiling every protocol's large-write row shares (issues 6, 7, 8).
 *
 *   node --import tsx scripts/bench/write-path.ts [MiB=512] [target=file,volume] [write KiB=1024] [in flight=8]
 *
 * file: a file of 1 MiB records written through Vfs.write (NFS, SMB, FUSE, WebDAV go this way),
 * then Vfs.flush (committed, not fsynced). volume: a 64 KiB-record block volume written through
 * BlockVolume.write (iSCSI), then BlockVolume.flush (committed and fsynced, as SYNCHRONIZE CACHE).
 * FILE_RECORD_KIB and VOL_RECORD_KIB change the record sizes (1024 and 64 by default).
 * The data is random (incompressible), in `write KiB` pieces, `in flight` at once,
 * in order. Prints MiB/s and the process CPU per GiB (main thread, workers and libuv pool).
 * With --cpu-prof on node's command line, the profile shows where the main thread goes.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, openPool } from '../../raid/index.js';
import { openVfs, openVolumes } from '../../vfs/index.js';
import { openRocksKv } from '../../vfs/meta/rocksdb.js';

const MIB = 1 << 20;
const TOTAL = Number(process.argv[2] ?? 512) * MIB;
const TARGETS = (process.argv[3] ?? 'file,volume').split(',');
const PIECE = Number(process.argv[4] ?? 1024) * 1024;
const DEPTH = Number(process.argv[5] ?? 8);
const ROOT = { uid: 0, gid: 0, groups: [] as number[], clientId: 'bench' };

async function run(target: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-write-bench-'));
  try {
    const devices = Array.from({ length: 6 }, (_, i) => join(dir, `d${i}`));
    for (const d of devices) await mkdir(d);
    const kv = await openRocksKv(join(dir, 'meta'));
    await createPool(kv, { layout: 'rs:4+2', devices, compression: 'off' });
    const blocks = await openPool(kv, {});
    const inst = await openVfs({ kv, blocks, recordSize: Number(process.env.FILE_RECORD_KIB ?? 1024) * 1024 });
    const data = randomBytes(64 * MIB);
    let write: (off: number, b: Buffer) => Promise<unknown>;
    let flush: () => Promise<void>;
    if (target === 'file') {
      const { fh } = await inst.vfs.create(ROOT, 1, 'bench', 0o644, { write: true });
      write = (off, b) => inst.vfs.write(ROOT, fh, off, b);
      flush = () => inst.vfs.flush(ROOT, fh);
    } else {
      const vols = openVolumes(inst);
      await vols.create('bench', { sizeBytes: TOTAL, recordSize: Number(process.env.VOL_RECORD_KIB ?? 64) * 1024 });
      const v = await vols.open('bench');
      write = (off, b) => v.write(off, b);
      flush = () => v.flush();
    }
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    let next = 0;
    await Promise.all(Array.from({ length: DEPTH }, async () => {
      while (next < TOTAL) {
        const off = next;
        next += PIECE;
        const at = off % data.length;
        await write(off, data.subarray(at, at + PIECE));
      }
    }));
    await flush();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    console.log(`${target}: ${(TOTAL / MIB).toFixed(0)} MiB in ${s.toFixed(2)} s = ${(TOTAL / MIB / s).toFixed(1)} MiB/s; CPU ${(cpu / (TOTAL / 2 ** 30)).toFixed(2)} s/GiB (${(100 * cpu / s).toFixed(0)} % of one core)`);
    await inst.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

for (const t of TARGETS) await run(t);
