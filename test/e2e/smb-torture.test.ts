/**
 * Issue 7, acceptance 2: Samba's `smbtorture` (Debian samba-testsuite) basic set against
 * `dw serve --smb` (RocksDB + rs:4+2 data folder), one smbtorture run per test. A test passes
 * when smbtorture printed at least one `success:` line and no `failure:` or `error:` line (its
 * exit code alone counts skips as passes). Tests of the set that do not pass yet are listed in
 * NOT_YET with the reason, and reported as skipped with it, so the count of what is missing stays
 * in the CI output; scripts/smb-torture.sh runs the same set by hand.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { cleanupAll, serve, tempDir, type Server } from './gateway-harness.js';

/** The basic set of issue 7 (Samba passes all of them on this machine). */
const BASIC_SET = [
  'smb2.connect', 'smb2.tcon', 'smb2.mkdir', 'smb2.read', 'smb2.rw.rw1', 'smb2.rw.rw2', 'smb2.dir.find', 'smb2.dir.fixed',
  'smb2.dir.many', 'smb2.dir.sorted', 'smb2.lock', 'smb2.sharemode', 'smb2.deny', 'smb2.delete-on-close-perms',
  'smb2.create.multi', 'smb2.create.delete', 'smb2.create.leading-slash', 'smb2.create.mkdir-dup', 'smb2.create.brlocked',
  'smb2.rename.simple', 'smb2.rename.no_sharing', 'smb2.rename.msword', 'smb2.rename.rename_dir_openfile',
  'smb2.getinfo.qfile_buffercheck', 'smb2.getinfo.qsec_buffercheck', 'smb2.getinfo.granted', 'smb2.getinfo.getinfo_access',
  'smb2.compound.related1', 'smb2.compound.related2', 'smb2.compound.unrelated1', 'smb2.compound.invalid1',
  'smb2.compound.create-write-close', 'smb2.credits', 'smb2.fileid', 'smb2.openattr', 'smb2.winattr',
  'smb2.session.reconnect1', 'smb2.session.reauth1', 'smb2.session.signing-aes-128-cmac', 'smb2.session.encryption-aes-128-gcm',
  'smb2.durable-open.open-oplock', 'smb2.durable-open.reopen1',
] as const;

/** Tests of the set that do not pass yet, and why (docs/conformance.md has the first failure of each). */
const NOT_YET: Record<string, string> = {};

/** smbtorture's verdict lines counted. */
function tortureCounts(out: string): { success: number; failure: number; skip: number } {
  const count = (re: RegExp) => out.split('\n').filter((l) => re.test(l)).length;
  return { success: count(/^success:/), failure: count(/^(failure|error):/), skip: count(/^skip:/) };
}

function smbtorture(port: number, pass: string, name: string, limitMs = 120_000): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn('smbtorture', ['//127.0.0.1/dw', '-p', String(port), '-U', `admin%${pass}`, name], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const timer = setTimeout(() => { p.kill('SIGKILL'); out += `\nerror: killed after ${limitMs / 1000} s\n`; }, limitMs);
    p.on('close', () => { clearTimeout(timer); resolve(out); });
  });
}

/** Starts `dw serve --smb` on a fresh data folder before the enclosing describe's tests and stops it after. */
function smbServer(): { readonly port: number; readonly password: string } {
  let srv: Server | undefined;
  let port = 0;
  before(async () => {
    srv = await serve(await tempDir(), ['--smb', '127.0.0.1:0']);
    port = Number(/SMB:\s+127\.0\.0\.1 port (\d+)/.exec(srv.stderr())?.[1]);
    assert.ok(port > 1024, srv.stderr());
  });
  after(async () => {
    await srv?.stop();
    await cleanupAll();
  });
  return { get port() { return port; }, get password() { return srv!.password!; } };
}

describe('smbtorture basic set against dw serve --smb', () => {
  const smb = smbServer();

  for (const name of BASIC_SET) {
    const why = NOT_YET[name];
    test(name, why ? { skip: `does not pass yet: ${why}` } : {}, async () => {
      const out = await smbtorture(smb.port, smb.password, name);
      const c = tortureCounts(out);
      assert.ok(c.success > 0 && c.failure === 0, `${name}: ${c.success} success, ${c.failure} failure/error\n${out.split('\n').filter((l) => /^(failure|error):|\.c:\d+:/.test(l)).slice(0, 10).join('\n')}`);
    });
  }
});

/**
 * Issue 7, acceptance 3: second-tier groups that pass whole, each run as one smbtorture run of
 * the group: no failure or error, and at least the successes measured (docs/conformance.md;
 * Samba's own on this machine: timestamps 15/0, streams 12/2, lease 34/2). smb2.lease takes
 * about 3 minutes (its timeout subtest waits out the 35 s break timeout).
 */
const SECOND_TIER: { name: string; successes: number; limitMs: number }[] = [
  { name: 'smb2.timestamps', successes: 15, limitMs: 120_000 },
  { name: 'smb2.streams', successes: 13, limitMs: 120_000 },
  { name: 'smb2.lease', successes: 36, limitMs: 400_000 },
];

describe('smbtorture second tier against dw serve --smb', () => {
  const smb = smbServer();

  for (const g of SECOND_TIER) {
    test(g.name, async () => {
      const out = await smbtorture(smb.port, smb.password, g.name, g.limitMs);
      const c = tortureCounts(out);
      assert.ok(c.success >= g.successes && c.failure === 0, `${g.name}: ${c.success} success (want ${g.successes}), ${c.failure} failure/error\n${out.split('\n').filter((l) => /^(failure|error):|\.c:\d+:/.test(l)).slice(0, 10).join('\n')}`);
    });
  }
});
