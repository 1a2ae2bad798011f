/**
 * libiscsi's `iscsi-test-cu` suites that the ALL run (test/e2e/iscsi-test-cu.test.ts) skips for
 * want of a second path or a read-only LUN, against `dw serve --iscsi 127.0.0.1:0`:
 *
 * - the same URL twice (two sessions to one LUN, libiscsi's multipath tests: identification
 *   across paths, LU reset seen on both, COMPARE AND WRITE racing over two paths): all four pass;
 * - a volume snapshot exported as a LUN (read-only): ReadOnly.ReadOnlySBC passes (WRITE
 *   PROTECTED for every write command, WP in MODE SENSE).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanupAll, dw, iscsiPort, ROOT, serve, tempDir, type Server } from './gateway-harness.js';

/** 127.0.0.1:PORT of the server (its port picked by the kernel). */
let HOST = '';
const TARGET = 'iqn.2026-11.test.dw:cu';
const RO_TARGET = 'iqn.2026-11.test.dw:cu-ro';
const have = (tool: string): boolean => spawnSync(tool, ['--help'], { encoding: 'utf8' }).error === undefined;

interface Counted {
  passed: string[];
  skipped: { name: string; reason: string }[];
  failed: { name: string; reason: string }[];
}

/** Runs iscsi-test-cu with `args` and the URLs, and counts its output. */
function cu(args: string[], urls: string[]): Counted & { raw: string } {
  const r = spawnSync('iscsi-test-cu', ['--dataloss', '--initiator-name=iqn.2026-11.test.dw:cu1', '--initiator-name-2=iqn.2026-11.test.dw:cu2', ...args, ...urls], {
    encoding: 'utf8', timeout: 900_000, maxBuffer: 256 << 20,
  });
  const raw = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const c = spawnSync(process.execPath, [join(ROOT, 'scripts', 'iscsi-cu-count.mjs'), '--json'], { input: raw, encoding: 'utf8' });
  assert.equal(c.status, 0, c.stderr);
  return { ...(JSON.parse(c.stdout) as Counted), raw };
}

describe('iscsi-test-cu multipath and read-only suites against dw serve --iscsi', { skip: !have('iscsi-test-cu') && 'libiscsi-bin is not installed' }, () => {
  let srv: Server;
  let dir: string;

  const admin = async (args: string[]): Promise<void> => {
    const r = await dw([...args, '--data', dir]);
    assert.equal(r.code, 0, `dw ${args.join(' ')}: ${r.stderr}`);
  };

  before(async () => {
    dir = await tempDir();
    srv = await serve(dir, ['--iscsi', '127.0.0.1:0', '--sftp', 'off']);
    assert.ok(iscsiPort(srv) > 1024, srv.stderr());
    HOST = `127.0.0.1:${iscsiPort(srv)}`;
    await admin(['volume', 'create', 'cu', '--size', '64M']);
    await admin(['iscsi', 'target', 'add', TARGET, '--lun', '0=cu']);
    await admin(['volume', 'create', 'curo', '--size', '16M']);
    await admin(['volume', 'snapshot', 'curo@s1']);
    await admin(['iscsi', 'target', 'add', RO_TARGET, '--lun', '0=curo@s1']);
  });

  after(async () => {
    await srv?.stop();
    await cleanupAll();
  });

  test('two paths to one LUN: MultipathIO passes', () => {
    const url = `iscsi://${HOST}/${TARGET}/0`;
    const r = cu(['--test=ALL.MultipathIO'], [url, url]);
    assert.deepEqual(r.failed, [], r.raw.slice(-4000));
    assert.deepEqual(r.skipped, []);
    assert.equal(r.passed.length, 4);
  });

  test('a snapshot as a LUN: ReadOnly.ReadOnlySBC passes', () => {
    const r = cu(['--test=ALL.ReadOnly'], [`iscsi://${HOST}/${RO_TARGET}/0`]);
    assert.deepEqual(r.failed, [], r.raw.slice(-4000));
    assert.deepEqual(r.passed, ['ReadOnly.ReadOnlySBC']);
  });
});
