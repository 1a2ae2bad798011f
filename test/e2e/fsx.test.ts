/**
 * Issue 4, acceptance 1 (the random checker): test/posix/fsx.c, compiled here with the system
 * C compiler, runs 100,000 random operations (pwrite, pread, truncate up and down, mmap writes
 * and reads, fallocate grow / punch hole / zero range, fsync, close and reopen) on a file of the
 * FUSE mount of a real gateway (RocksDB + rs:4+2), checking every read against its model.
 * The seed is printed; DW_FSX_OPS and DW_FSX_SEED change the run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ADDON_PATH } from '../../protocols/fuse/server.js';
import { cleanupAll, ROOT, serve, tempDir } from './gateway-harness.js';

after(cleanupAll);

const why = !existsSync('/dev/fuse') ? 'no /dev/fuse' : !existsSync(ADDON_PATH) ? 'the FUSE binding is not built (npm run build:fuse)' : process.getuid?.() !== 0 ? 'needs root' : '';
const OPS = Number(process.env.DW_FSX_OPS ?? 100_000);
const SEED = process.env.DW_FSX_SEED ?? String(Date.now() % 1_000_000_007);

test(`fsx: ${OPS} random operations on the FUSE mount match the model`, { skip: why || false, timeout: 1_800_000 }, async (t) => {
  const tmp = await tempDir();
  const bin = join(tmp, 'fsx');
  const cc = spawnSync('cc', ['-O2', '-Wall', '-o', bin, join(ROOT, 'test/posix/fsx.c')], { encoding: 'utf8' });
  assert.equal(cc.status, 0, cc.stderr);
  const mp = join(tmp, 'mnt');
  await mkdir(mp);
  const srv = await serve(join(tmp, 'data'), ['--fuse', mp]);
  try {
    t.diagnostic(`seed ${SEED} (rerun: DW_FSX_SEED=${SEED})`);
    const r = spawnSync(bin, [join(mp, 'fsx.bin'), String(OPS), SEED], { encoding: 'utf8', timeout: 1_700_000 });
    t.diagnostic(r.stdout.trim());
    assert.equal(r.status, 0, `${r.stderr}\nseed ${SEED}`);
    assert.match(r.stdout, new RegExp(`${OPS} operations clean`));
  } finally {
    assert.equal(await srv.stop(), 0, srv.stderr().slice(-2000));
  }
});
