/**
 * Issue 8, acceptance 2: libiscsi's conformance suite `iscsi-test-cu --dataloss --test=ALL`
 * (Debian libiscsi-bin) against a LUN of `dw serve --iscsi` (RocksDB + rs:4+2 data folder, a thin
 * 1 GiB volume with 64 KiB records). Each CUnit test counts as passed, skipped (a `[SKIPPED]`
 * line: CUnit's own summary counts those as passes) or failed, by scripts/iscsi-cu-count.mjs.
 * Asserted: no test fails, more pass than tgt's on this machine (160 pass, 62 skip, 8 fail,
 * measured 2026-11-30 with the same script), and no fewer than the 192 that pass now (a test
 * that starts skipping is a regression too).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanupAll, dw, iscsiPort, ROOT, serve, tempDir, type Server } from './gateway-harness.js';

const TGT_PASSES = 160;
/** Tests passing at the end of issue 8's work (192 passed, 38 skipped, 0 failed). */
const PASS_FLOOR = 192;
const IQN = 'iqn.2026-11.dw:cu';

function run(cmd: string, args: string[], limitMs: number): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => { p.kill('SIGKILL'); out += `\nkilled after ${limitMs / 1000} s\n`; }, limitMs);
    p.on('close', () => { clearTimeout(timer); resolve(out); });
  });
}

describe('iscsi-test-cu --dataloss --test=ALL against dw serve --iscsi', () => {
  let srv: Server;
  let dir: string;
  let port: number;

  before(async () => {
    dir = await tempDir();
    srv = await serve(dir, ['--iscsi', '127.0.0.1:0']);
    port = iscsiPort(srv);
    assert.ok(port > 1024, srv.stderr());
    const v = await dw(['volume', 'create', 'cu', '--size', '1G', '--data', dir]);
    assert.equal(v.code, 0, v.stderr);
    const t = await dw(['iscsi', 'target', 'add', IQN, '--lun', '0=cu', '--data', dir]);
    assert.equal(t.code, 0, t.stderr);
  });

  after(async () => {
    await srv?.stop();
    await cleanupAll();
  });

  test(`no failures and more passes than tgt (${TGT_PASSES})`, async () => {
    const out = await run('iscsi-test-cu', ['--dataloss', '--test=ALL', `iscsi://127.0.0.1:${port}/${IQN}/0`], 15 * 60_000);
    const counted = spawnSync(process.execPath, [join(ROOT, 'scripts', 'iscsi-cu-count.mjs'), '--json'], { input: out, encoding: 'utf8' });
    assert.equal(counted.status, 0, counted.stderr);
    const r = JSON.parse(counted.stdout) as { passed: string[]; skipped: { name: string; reason: string }[]; failed: { name: string; reason: string }[] };
    const summary = `${r.passed.length} passed, ${r.skipped.length} skipped, ${r.failed.length} failed`;
    console.log(`iscsi-test-cu: ${summary}`);
    assert.deepEqual(r.failed.map((f) => `${f.name}: ${f.reason}`), [], summary);
    assert.ok(r.passed.length > TGT_PASSES, `${summary}; tgt passes ${TGT_PASSES}\n${out.slice(-2000)}`);
    assert.ok(r.passed.length >= PASS_FLOOR, `${summary}; ${PASS_FLOOR} passed before:\n${r.skipped.map((x) => `${x.name}: ${x.reason}`).join('\n')}`);
    assert.ok(r.passed.length + r.skipped.length > 200, `iscsi-test-cu ran too few tests (${summary}):\n${out.slice(-2000)}`);
  });
});
