/**
 * Issue 4, acceptance 1 (the POSIX suite): the cases of test/posix/cases.ts run on the FUSE mount
 * (dw serve --fuse, allow_other, as root and as other uids/gids) and on an ext4 folder of this
 * machine; every outcome must be the same. Skipped, saying why, where FUSE is unavailable.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ADDON_PATH } from '../../protocols/fuse/server.js';
import { cleanupAll, ROOT, serve, tempDir } from './gateway-harness.js';

after(cleanupAll);

const why = !existsSync('/dev/fuse') ? 'no /dev/fuse' : !existsSync(ADDON_PATH) ? 'the FUSE binding is not built (npm run build:fuse)' : process.getuid?.() !== 0 ? 'needs root' : '';

function runCases(dir: string): Record<string, string[]> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test/posix/cases.ts'), dir], { encoding: 'utf8', cwd: ROOT, timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, string[]>;
}

test('the POSIX suite gives the same results on the FUSE mount as on ext4', { skip: why || false, timeout: 600_000 }, async () => {
  const tmp = await tempDir();
  const mp = join(tmp, 'mnt');
  const ext4 = join(tmp, 'ext4');
  await mkdir(mp);
  await mkdir(ext4);
  await chmod(tmp, 0o755); // other users must reach both
  const fstype = spawnSync('stat', ['-f', '-c', '%T', ext4], { encoding: 'utf8' }).stdout.trim();
  const srv = await serve(join(tmp, 'data'), ['--fuse', mp, '--allow-other']);
  try {
    const want = runCases(ext4);
    const got = runCases(mp);
    const diffs = Object.keys(want).filter((k) => JSON.stringify(want[k]) !== JSON.stringify(got[k]))
      .map((k) => `${k}:\n  ${fstype}: ${JSON.stringify(want[k])}\n  dw:   ${JSON.stringify(got[k])}`);
    assert.ok(Object.keys(want).length >= 30, 'the suite has its cases');
    assert.deepEqual(diffs, [], `outcomes that differ from ${fstype}`);
  } finally {
    assert.equal(await srv.stop(), 0, srv.stderr().slice(-2000));
  }
});
