/**
 * End-to-end tests of the SFTP server with the real OpenSSH client (`sftp -b`, `sshpass`, `ssh`)
 * over a memory VFS: logins, transfers with sha256 checks, trees, links, renames, statvfs,
 * chmod, directories, errors and confinement to the export.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT_CTX } from '../../vfs/index.js';
import { ONLY_SFTP_MESSAGE } from '../../protocols/sftp/index.js';
import { PASSWORD, runSftp, startHarness, USER, type Harness } from './sftp-harness.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Reads a whole file from the export through the VFS. */
async function exportFile(h: Harness, path: string): Promise<Buffer> {
  const { fh, attr } = await h.vfs.paths.open(ROOT_CTX, path, { read: true });
  try {
    return await h.vfs.vfs.read(ROOT_CTX, fh, 0, attr.size);
  } finally {
    await h.vfs.vfs.release(ROOT_CTX, fh);
  }
}

/** Every regular file under `root` (relative path → sha256). */
function treeHashes(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.set(relative(root, p), sha256(readFileSync(p)));
    }
  };
  walk(root);
  return out;
}

describe('SFTP with the OpenSSH client', () => {
  let h: Harness;
  let local: string;
  before(async () => {
    h = await startHarness();
    local = join(h.dir, 'local');
    mkdirSync(local);
  });
  after(async () => {
    await h?.close();
  });

  test('public key login; the Authenticator sees the key type', async () => {
    const r = await runSftp(h, 'pwd');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Remote working directory: \/\n/);
    assert.ok(h.auth.calls.includes(`publickey:${USER}:ssh-ed25519`));
  });

  test('password login; a wrong password and an unknown key are refused', async () => {
    const ok = await runSftp(h, 'pwd', { password: PASSWORD });
    assert.equal(ok.code, 0, ok.stderr);
    const bad = await runSftp(h, 'pwd', { password: 'wrong password' });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Permission denied/);
    assert.doesNotMatch(bad.stdout, /Remote working directory/);
    const other = await runSftp(h, 'pwd', { key: h.otherKeyFile });
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, /Permission denied/);
    const nobody = await runSftp(h, 'pwd', { password: PASSWORD, user: 'mallory' });
    assert.notEqual(nobody.code, 0);
  });

  test('put/get of a small file and of a 64 MiB random file: sha256 equal on both sides', async () => {
    const small = Buffer.from('small file\n');
    const big = randomBytes(64 * 1024 * 1024);
    writeFileSync(join(local, 'small.txt'), small);
    writeFileSync(join(local, 'big.bin'), big);
    const up = await runSftp(h, 'put small.txt\nput big.bin /big.bin', { cwd: local, timeoutMs: 120_000 });
    assert.equal(up.code, 0, up.stderr);
    assert.equal(sha256(await exportFile(h, '/small.txt')), sha256(small));
    assert.equal(sha256(await exportFile(h, '/big.bin')), sha256(big));
    const down = await runSftp(h, 'get big.bin big.back\nget /small.txt small.back', { cwd: local, timeoutMs: 120_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.equal(sha256(readFileSync(join(local, 'big.back'))), sha256(big));
    assert.deepEqual(readFileSync(join(local, 'small.back')), small);
  });

  test('put -r / get -r of a nested tree; every file identical', async () => {
    const src = join(local, 'tree');
    for (const d of ['a/b/c', 'a/d', 'e', 'empty']) mkdirSync(join(src, d), { recursive: true });
    const files = ['top.txt', 'a/one', 'a/b/two.bin', 'a/b/c/three', 'a/d/four', 'e/five'];
    files.forEach((f, i) => writeFileSync(join(src, f), randomBytes(1000 * i + 17)));
    symlinkSync('a/one', join(src, 'link-to-one'));
    const up = await runSftp(h, 'put -r tree /tree', { cwd: local });
    assert.equal(up.code, 0, up.stderr);
    // OpenSSH's client skips symlinks in recursive transfers (it reports them, it does not copy them).
    assert.match(up.stderr, /link-to-one: not a regular file/);
    assert.equal((await h.vfs.paths.stat(ROOT_CTX, '/tree/empty')).type, 'dir');
    const down = await runSftp(h, 'get -r /tree tree.back', { cwd: local });
    assert.equal(down.code, 0, down.stderr);
    const want = treeHashes(src);
    assert.equal(want.size, files.length);
    assert.deepEqual(treeHashes(join(local, 'tree.back')), want);
    assert.ok(existsSync(join(local, 'tree.back/empty')));
  });

  test('symlinks made with ln -s survive: stored as links, listed as links, followed on get', async () => {
    writeFileSync(join(local, 'target.txt'), 'pointed at\n');
    const r = await runSftp(h, 'mkdir /links\nput target.txt /links/target.txt\nln -s target.txt /links/rel\nln -s /links/target.txt /links/abs\nls -l /links\nget /links/rel got-rel\nget /links/abs got-abs', { cwd: local });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^l[rwx-]{9} .* rel$/m);
    assert.equal((await h.vfs.paths.lstat(ROOT_CTX, '/links/rel')).type, 'symlink');
    assert.equal(await h.vfs.paths.readlink(ROOT_CTX, '/links/rel'), 'target.txt', 'OpenSSH argument order: link points at the target');
    assert.equal(await h.vfs.paths.readlink(ROOT_CTX, '/links/abs'), '/links/target.txt');
    assert.equal(readFileSync(join(local, 'got-rel'), 'utf8'), 'pointed at\n');
    assert.equal(readFileSync(join(local, 'got-abs'), 'utf8'), 'pointed at\n');
  });

  test('rename (posix-rename), rename -l (v3: refuses an existing target), hardlink, rm', async () => {
    writeFileSync(join(local, 'r1'), 'one');
    writeFileSync(join(local, 'r2'), 'two');
    let r = await runSftp(h, 'mkdir /ren\nput r1 /ren/a\nput r2 /ren/b\n-rename -l /ren/a /ren/b\nrename /ren/a /ren/b', { cwd: local });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /rename "\/ren\/a" to "\/ren\/b": Failure/);
    assert.equal((await exportFile(h, '/ren/b')).toString(), 'one', 'posix-rename replaced the target');
    await assert.rejects(h.vfs.paths.stat(ROOT_CTX, '/ren/a'));
    r = await runSftp(h, 'rename -l /ren/b /ren/c\nln /ren/c /ren/hard\nls -l /ren\nrm /ren/c', { cwd: local });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^-[rwx-]{9} +2 .* hard$/m, 'two links while both names exist');
    assert.equal((await exportFile(h, '/ren/hard')).toString(), 'one');
    assert.equal((await h.vfs.paths.stat(ROOT_CTX, '/ren/hard')).nlink, 1);
  });

  test('df (statvfs@openssh.com), put -f (fsync@openssh.com), chmod, mkdir/rmdir', async () => {
    writeFileSync(join(local, 'm'), 'mode');
    const r = await runSftp(h, 'df\nmkdir /dir1\nput -f m /dir1/m\nchmod 600 /dir1/m\nchmod 700 /dir1\nls -l /\nls -l /dir1\nrm /dir1/m\nrmdir /dir1', { cwd: local });
    assert.equal(r.code, 0, r.stderr);
    const fs = await h.vfs.paths.statfs(ROOT_CTX, '/');
    const m = /Size +Used +Avail +\(root\) +%Capacity\n +(\d+) +(\d+) +(\d+) +(\d+)/.exec(r.stdout);
    assert.ok(m, `df output: ${r.stdout}`);
    assert.equal(Number(m[1]), (fs.blocks * fs.bsize) / 1024, 'df size in KiB from statvfs');
    assert.match(r.stdout, /^-rw------- .* m$/m);
    assert.match(r.stdout, /^drwx------ .* dir1$/m);
    await assert.rejects(h.vfs.paths.stat(ROOT_CTX, '/dir1'));
  });

  test('errors for missing files and bad operations are reported, the session goes on', async () => {
    const r = await runSftp(h, '-get /does/not/exist x\n-rm /nothere\n-rmdir /tree\n-mkdir /tree\n-ls /nothere\npwd', { cwd: local });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /File "\/does\/not\/exist" not found/);
    assert.match(r.stderr, /delete \/nothere: No such file or directory/);
    assert.match(r.stderr, /rmdir "\/tree": Failure/);
    assert.match(r.stderr, /mkdir "\/tree": Failure/);
    assert.match(r.stderr, /"\/nothere" not found/);
    assert.match(r.stdout, /Remote working directory: \//);
    const fatal = await runSftp(h, 'get /nothere x\npwd', { cwd: local });
    assert.notEqual(fatal.code, 0, 'a failing batch command without "-" aborts the batch');
  });

  test('confinement: .., absolute paths and symlinks to /etc never leave the export', async () => {
    writeFileSync(join(local, 'escape.txt'), 'stay inside');
    const marker = `dw-sftp-escape-${process.pid}.txt`;
    const r = await runSftp(h, [
      'cd ../../../..', 'pwd',
      '-get ../../../../etc/passwd passwd.got',
      '-get /etc/hostname hostname.got',
      'ln -s /etc hostetc', 'ln -s ../../../../../etc up-etc',
      '-get hostetc/passwd passwd2.got', '-get up-etc/hostname hostname2.got', '-ls hostetc/',
      `put escape.txt ../../../../../tmp/../${marker}`,
    ].join('\n'), { cwd: local });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Remote working directory: \/\n/);
    for (const f of ['passwd.got', 'hostname.got', 'passwd2.got', 'hostname2.got']) assert.equal(existsSync(join(local, f)), false, f);
    assert.equal(existsSync(`/${marker}`), false, 'nothing written outside the export');
    assert.equal(existsSync(`/tmp/${marker}`), false);
    assert.equal((await exportFile(h, `/${marker}`)).toString(), 'stay inside', 'the upload landed at the export root');
  });

  test('shell and exec requests are refused with a clear message', async () => {
    // async spawn: the server runs in this process, spawnSync would block it
    const child = spawn('ssh', ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes',
      '-o', 'IdentitiesOnly=yes', '-i', h.keyFile, '-p', String(h.port), `${USER}@127.0.0.1`, 'cat /etc/passwd'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    assert.equal(code, 1);
    assert.equal(stderr, ONLY_SFTP_MESSAGE);
    assert.equal(stdout, '');
  });
});
