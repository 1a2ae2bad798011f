/**
 * End-to-end file access over SMB with Debian's real `smbclient` against `dw serve --smb`
 * (RocksDB + rs:4+2 data folder), for `-m SMB2` (2.1), `-m SMB3` (3.1.1), `-m SMB3_00` (3.0:
 * FSCTL_VALIDATE_NEGOTIATE_INFO after the tree connect), `-m SMB3 --client-protection=encrypt`,
 * `--client-protection=sign` and `-m SMB3_00 --client-protection=encrypt` (AES-128-CCM):
 * mkdir, put/get of 0 bytes, 1 MiB + 1 and ~20 MiB checked byte for byte, a get by another
 * case, ls, rename, del, rmdir; `recurse ON; prompt OFF; mput`/`mget` of a tree of a few hundred
 * files in folders, byte-identical both ways; a read-only share refusing put; a wrong password
 * refused; and a file written over SMB read back over WebDAV (one namespace).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanupAll, curl, serve, tempDir, type Server } from './gateway-harness.js';

describe('SMB file access with smbclient', () => {
  let srv: Server;
  let port: number;
  let pass: string;
  let local: string;

  /** smbclient on //127.0.0.1/SHARE with commands; stdout and stderr together. */
  const smb = (share: string, mode: string[], cmds: string, cwd = local, user = `admin%${pass}`): { code: number | null; out: string } => {
    const r = spawnSync('smbclient', [`//127.0.0.1/${share}`, '-p', String(port), '-U', user, ...mode, '-c', cmds], { encoding: 'utf8', timeout: 180_000, cwd });
    return { code: r.status, out: `${r.stdout}${r.stderr}${r.signal ? ` (killed by ${r.signal})` : ""}${r.error ? ` (${r.error.message})` : ""}` };
  };

  /** Every file under `dir` (relative paths, sorted). */
  const files = (dir: string): string[] => {
    const out: string[] = [];
    const walk = (d: string) => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else out.push(relative(dir, p));
      }
    };
    walk(dir);
    return out.sort();
  };

  before(async () => {
    const dir = await tempDir();
    const cfg = join(await tempDir(), 'config.json');
    writeFileSync(cfg, JSON.stringify({ smb: { shares: [{ name: 'dw', path: '/' }, { name: 'Pub', path: '/', readOnly: true }] } }));
    srv = await serve(dir, ['--smb', '127.0.0.1:0', '--config', cfg]);
    port = Number(/SMB:\s+127\.0\.0\.1 port (\d+)/.exec(srv.stderr())?.[1]);
    assert.ok(port > 1024, srv.stderr());
    pass = srv.password!;
    local = await tempDir();
    writeFileSync(join(local, 'zero'), Buffer.alloc(0));
    writeFileSync(join(local, 'onemeg'), randomBytes((1 << 20) + 1));
    writeFileSync(join(local, 'twenty'), randomBytes(20_000_000 + 12345));
  });

  after(async () => {
    await srv?.stop();
    await cleanupAll();
  });

  const modes: { name: string; args: string[] }[] = [
    { name: 'smb2', args: ['-m', 'SMB2'] },
    { name: 'smb3', args: ['-m', 'SMB3'] },
    { name: 'smb30', args: ['-m', 'SMB3_00'] },
    { name: 'enc', args: ['-m', 'SMB3', '--client-protection=encrypt'] },
    // Signed, and encrypted with AES-128-CCM (3.0): large READ responses are built in shared
    // buffers and, encrypted, sealed in place by a worker (crypto/seal-pool.ts).
    { name: 'sign', args: ['-m', 'SMB3', '--client-protection=sign'] },
    { name: 'enc30', args: ['-m', 'SMB3_00', '--client-protection=encrypt'] },
  ];

  for (const m of modes) {
    test(`${m.args.join(' ')}: mkdir, put/get 0 B, 1 MiB + 1, 20 MiB byte for byte, get by another case, rename, del, rmdir`, () => {
      const back = join(local, `back-${m.name}`);
      mkdirSync(back);
      const up = smb('dw', m.args, `mkdir ${m.name}; cd ${m.name}; put zero; put onemeg; put twenty Twenty.Bin; ls`);
      assert.equal(up.code, 0, up.out);
      assert.match(up.out, /zero\s+A?N?\s+0 /);
      assert.match(up.out, /onemeg\s+\S*\s+1048577 /);
      assert.match(up.out, /Twenty\.Bin\s+\S*\s+20012345 /, 'case preserved');
      const down = smb('dw', m.args, `cd ${m.name.toUpperCase()}; get ZERO back-${m.name}/zero; get OneMeg back-${m.name}/onemeg; get twenty.bin back-${m.name}/twenty`);
      assert.equal(down.code, 0, down.out);
      for (const f of ['zero', 'onemeg', 'twenty']) assert.ok(readFileSync(join(local, f)).equals(readFileSync(join(back, f))), `${f} byte for byte`);
      const ops = smb('dw', m.args, `cd ${m.name}; rename onemeg moved; rename Twenty.Bin TWENTY.BIN; mkdir sub; rmdir sub; ls`);
      assert.equal(ops.code, 0, ops.out);
      assert.match(ops.out, /moved\s+\S*\s+1048577 /);
      assert.match(ops.out, /TWENTY\.BIN\s+\S*\s+20012345 /, 'case-only rename');
      assert.doesNotMatch(ops.out, /\bonemeg\b|\bsub\b/);
      const full = smb('dw', m.args, `rmdir ${m.name}`);
      assert.match(full.out, /NT_STATUS_DIRECTORY_NOT_EMPTY/);
      const del = smb('dw', m.args, `cd ${m.name}; del *; cd ..; rmdir ${m.name}; ls`);
      assert.equal(del.code, 0, del.out);
      assert.doesNotMatch(del.out, new RegExp(`\\b${m.name}\\b`));
    });
  }

  test('recurse mput/mget of a tree of 300 files in folders, byte-identical both ways (SMB2, SMB3, SMB3 encrypted)', () => {
    const src = join(local, 'tree');
    let n = 0;
    for (const d of ['a', 'a/b', 'a/b/c', 'd', 'e f', 'g']) {
      mkdirSync(join(src, d), { recursive: true });
      for (let i = 0; i < 50; i++) writeFileSync(join(src, d, `file ${i}.dat`), randomBytes((n++ * 7919) % 70_000));
    }
    const want = files(src);
    assert.equal(want.length, 300);
    for (const m of [modes[0]!, modes[1]!, modes[3]!]) {
      const up = smb('dw', m.args, `mkdir t-${m.name}; cd t-${m.name}; lcd ${src}; recurse ON; prompt OFF; mput *`);
      assert.equal(up.code, 0, up.out);
      const dst = join(local, `tree-back-${m.name}`);
      mkdirSync(dst);
      const down = smb('dw', m.args, `cd t-${m.name}; lcd ${dst}; recurse ON; prompt OFF; mget *`);
      assert.equal(down.code, 0, down.out);
      assert.deepEqual(files(dst), want, `${m.name}: the same names`);
      for (const f of want) assert.ok(readFileSync(join(src, f)).equals(readFileSync(join(dst, f))), `${m.name}: ${f}`);
    }
  });

  test('a file written over SMB reads identically over WebDAV (one namespace)', () => {
    const r = smb('dw', ['-m', 'SMB3'], 'mkdir dav; put onemeg dav\\Over.Smb');
    assert.equal(r.code, 0, r.out);
    const got = spawnSync('curl', ['-sS', '-u', `admin:${pass}`, `${srv.url}dav/Over.Smb`], { timeout: 60_000, maxBuffer: 1 << 26 }); // the default 1 MiB cuts a 1 MiB + 1 body
    assert.equal(got.status, 0, `${got.stderr} ${got.error?.message ?? ""}`);
    assert.ok(Buffer.from(got.stdout).equals(readFileSync(join(local, 'onemeg'))), 'same bytes over WebDAV');
    // And the other way: written over WebDAV, read over SMB by another case.
    const put = curl(['-u', `admin:${pass}`, '-T', join(local, 'zero'), `${srv.url}dav/from-dav`]);
    assert.match(put.status, /^20[14]$/);
    const g = smb('dw', ['-m', 'SMB3'], `get DAV\\FROM-DAV back-dav`);
    assert.equal(g.code, 0, g.out);
    assert.equal(readFileSync(join(local, 'back-dav')).length, 0);
  });

  test('a read-only share refuses put (ACCESS_DENIED) and serves get; a wrong password is refused', () => {
    const setup = smb('dw', ['-m', 'SMB3'], 'mkdir ro; put zero ro\\here');
    assert.equal(setup.code, 0, setup.out);
    const p = smb('Pub', ['-m', 'SMB3'], 'put onemeg ro\\nope');
    assert.match(p.out, /NT_STATUS_ACCESS_DENIED/);
    const g = smb('pub', ['-m', 'SMB2'], 'get ro\\HERE back-ro; mkdir ro\\x');
    assert.match(g.out, /NT_STATUS_ACCESS_DENIED making remote directory/);
    assert.equal(readFileSync(join(local, 'back-ro')).length, 0);
    const bad = smb('dw', ['-m', 'SMB3'], 'ls', local, 'admin%wrong');
    assert.notEqual(bad.code, 0);
    assert.match(bad.out, /NT_STATUS_LOGON_FAILURE/);
  });
});
