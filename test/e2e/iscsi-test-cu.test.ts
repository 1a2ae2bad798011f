/**
 * libiscsi's SCSI conformance suite (Debian libiscsi-bin `iscsi-test-cu`) against
 * `dw serve --iscsi 127.0.0.1:13319` on a block volume made with `dw volume create` (issue 8,
 * acceptance: `iscsi-test-cu --dataloss --test=ALL` with no failures and more passes than tgt,
 * whose run gives 160 passed, 62 skipped, 8 failed). Counted per test by
 * scripts/iscsi-cu-count.mjs as CUnit counts them, skips apart.
 *
 * - the whole suite on a 128 MiB thin volume with two initiator names (persistent reservations,
 *   RESERVE(6) across nexuses): no test fails, at least 180 pass;
 * - the same URL twice (two sessions, libiscsi's multipath tests: identification across paths,
 *   LU reset seen on both, COMPARE AND WRITE racing over two paths): all four pass;
 * - a snapshot exported as a LUN (read-only): ReadOnly.ReadOnlySBC passes (WRITE PROTECTED for
 *   every write command, WP in MODE SENSE).
 *
 * What stays skipped and why: removable-medium tests (PreventAllow, StartStopUnit.Simple: the
 * LU is not removable), Sanitize (needs --allow-sanitize), EXTENDED COPY / RECEIVE COPY
 * RESULTS and WRITE ATOMIC(16) (not implemented: a volume write spanning records is not known
 * to be atomic across a crash), tests needing LOGICAL BLOCKS PER PHYSICAL BLOCK > 1 (see
 * protocols/iscsi/scsi/sbc.ts lbppbe), WRITE SAME with 0 blocks (WSNZ), TARGET COLD RESET.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanupAll, dw, ROOT, serve, tempDir, type Server } from './gateway-harness.js';

const PORT = 13319;
const HOST = `127.0.0.1:${PORT}`;
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

describe('iscsi-test-cu (libiscsi conformance) against dw serve --iscsi', { skip: !have('iscsi-test-cu') && 'libiscsi-bin is not installed' }, () => {
  let srv: Server;
  let dir: string;

  const admin = async (args: string[]): Promise<void> => {
    const r = await dw([...args, '--data', dir]);
    assert.equal(r.code, 0, `dw ${args.join(' ')}: ${r.stderr}`);
  };

  before(async () => {
    dir = await tempDir();
    srv = await serve(dir, ['--iscsi', HOST, '--sftp', 'off']);
    await admin(['volume', 'create', 'cu', '--size', '128M']);
    await admin(['iscsi', 'target', 'add', TARGET, '--lun', '0=cu']);
    await admin(['volume', 'create', 'curo', '--size', '16M']);
    await admin(['volume', 'snapshot', 'curo@s1']);
    await admin(['iscsi', 'target', 'add', RO_TARGET, '--lun', '0=curo@s1']);
  });

  after(async () => {
    await srv?.stop();
    await cleanupAll();
  });

  test('--test=ALL: no failures, at least 180 passed (tgt: 160 passed, 8 failed)', () => {
    const r = cu(['--test=ALL'], [`iscsi://${HOST}/${TARGET}/0`]);
    assert.deepEqual(r.failed, [], r.raw.slice(-4000));
    assert.ok(r.passed.length >= 180, `${r.passed.length} passed`);
    for (const t of ['CompareAndWrite.Miscompare', 'ProutReserve.AccessEAAR', 'Reserve6.2Initiators', 'Unmap.Simple', 'GetLBAStatus.UnmapSingle', 'ReportSupportedOpcodes.OneCommand']) {
      assert.ok(r.passed.includes(t), `${t} did not pass`);
    }
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
