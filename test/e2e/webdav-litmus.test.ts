// litmus (the WebDAV conformance suite, Debian package `litmus`) against our server with one
// user, on the memory VFS and through the real gateway (`dw serve`: RocksDB + rs:4+2 pool):
// every test of basic, copymove, props, locks and http must pass.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupAll, serve, tempDir } from './gateway-harness.js';
import { TEST_PASSWORD, TEST_USER, startTestServer, type TestServer } from '../../protocols/webdav/test-helpers.js';

const SUITES = ['basic', 'copymove', 'props', 'locks', 'http'];

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => p.kill('SIGKILL'), 240_000);
    p.on('error', reject);
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

let s: TestServer;
let dir: string;
before(async () => {
  s = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'dw-litmus-'));
});
after(async () => {
  await cleanupAll();
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

test('litmus on the memory VFS: every test of basic, copymove, props, locks and http passes', { timeout: 300_000 }, async () => {
  await litmus(s.url, TEST_USER, TEST_PASSWORD);
});

test('litmus through dw serve (RocksDB + rs:4+2): every test passes', { timeout: 300_000 }, async () => {
  const srv = await serve(join(await tempDir(), 'data'), ['--sftp', 'off']);
  try {
    await litmus(srv.url, 'admin', srv.password!);
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});

async function litmus(url: string, user: string, password: string): Promise<void> {
  // -k keeps going after a failed suite (and makes litmus exit 0), so the summaries decide.
  const { out } = await run('litmus', ['-k', url, user, password], dir);
  const results = new Map<string, { run: number; passed: number; failed: number }>();
  for (const m of out.matchAll(/<- summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed/g)) {
    results.set(m[1]!, { run: Number(m[2]), passed: Number(m[3]), failed: Number(m[4]) });
  }
  const failures = out.split('\n').filter((l) => /FAIL|WARNING/.test(l)).join('\n');
  for (const suite of SUITES) {
    const r = results.get(suite);
    assert.ok(r, `no summary for ${suite}:\n${out.slice(-2000)}`);
    assert.equal(r.failed, 0, `${suite}: ${r.failed} failed\n${failures}`);
    assert.equal(r.passed, r.run);
  }
  const total = [...results.values()].reduce((a, r) => a + r.passed, 0);
  assert.ok(total >= 104, `only ${total} litmus tests ran`);
  assert.doesNotMatch(out, /WARNING/, `litmus warnings:\n${failures}`);
}
