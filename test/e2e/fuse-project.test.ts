/**
 * Issue 4, acceptance 2 (the rest of the real work): this project's own repository cloned onto
 * a real gateway's FUSE mount, `npm ci` there (packages from the registry, the native FUSE
 * binding built by node-gyp on the mount), and the project's unit tests run from the mount with
 * TMPDIR on the mount too, so their RocksDB stores and device folders live on it (locks, fsync,
 * renames, many small files). With DW_FUSE_PROJECT_FULL=1 it runs the whole suite there
 * instead (unit and end-to-end, real clients, nested FUSE mounts; about half an hour, so not in
 * CI). Skipped, saying why, where FUSE, the repository or the npm registry is unavailable.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ADDON_PATH } from '../../protocols/fuse/server.js';
import { cleanupAll, ROOT, serve, tempDir } from './gateway-harness.js';

after(cleanupAll);

const why = !existsSync('/dev/fuse') ? 'no /dev/fuse' : !existsSync(ADDON_PATH) ? 'the FUSE binding is not built (npm run build:fuse)'
  : process.getuid?.() !== 0 ? 'needs root' : !existsSync(join(ROOT, '.git')) ? 'not a git checkout'
  : process.env.DW_INSIDE_FUSE_PROJECT ? 'already running inside this test, on its mount' : '';
const full = process.env.DW_FUSE_PROJECT_FULL === '1';

test(`this project on the FUSE mount: git clone, npm ci, and its ${full ? 'whole test suite' : 'unit tests'} with TMPDIR on the mount`, { skip: why || false, timeout: full ? 5_400_000 : 1_800_000 }, async (t) => {
  const tmp = await tempDir();
  const mp = join(tmp, 'mnt');
  await mkdir(mp);
  const srv = await serve(join(tmp, 'data'), ['--fuse', mp]);
  const run = (cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) => {
    const t0 = Date.now();
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, DW_INSIDE_FUSE_PROJECT: '1' };
    delete childEnv.NODE_TEST_CONTEXT; // the child runs its own test runner, not a subtest of this one
    delete childEnv.DW_FUSE_PROJECT_FULL;
    const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: full ? 5_000_000 : 1_500_000, maxBuffer: 256 << 20, env: childEnv });
    t.diagnostic(`${cmd} ${args.join(' ')}: ${((Date.now() - t0) / 1000).toFixed(1)} s, exit ${r.status}`);
    return r;
  };
  try {
    const dir = join(mp, 'dw');
    assert.equal(run('git', ['clone', '-q', ROOT, dir], tmp).status, 0);
    const ci = run('npm', ['ci', '--no-audit', '--no-fund'], dir);
    if (ci.status !== 0 && /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|network/i.test(ci.stderr)) {
      t.skip(`the npm registry is not reachable: ${ci.stderr.split('\n').find((l) => /ERR/.test(l)) ?? ''}`);
      return;
    }
    assert.equal(ci.status, 0, ci.stderr.slice(-3000));
    assert.ok(existsSync(join(dir, 'native/fuse3/build/Release/dwfuse3.node')), 'the binding was built on the mount');
    await mkdir(join(mp, 'tmp'));
    const unit = run(process.execPath, ['scripts/run-tests.mjs', ...(full ? [] : ['--unit'])], dir, { TMPDIR: join(mp, 'tmp') });
    if (full) await writeFile(join(tmp, '..', 'dw-fuse-project-full.log'), unit.stdout + unit.stderr); // the whole report, to read afterwards
    const summary = /^(\d+) passed, (\d+) failed/m.exec(unit.stdout);
    assert.ok(summary, unit.stdout.slice(-3000) + unit.stderr.slice(-2000));
    t.diagnostic(summary[0]);
    assert.equal(summary[2], '0', unit.stdout.slice(-5000));
    assert.ok(Number(summary[1]) > (full ? 440 : 300), 'the whole suite ran');
  } finally {
    assert.equal(await srv.stop(), 0, srv.stderr().slice(-2000));
  }
});
