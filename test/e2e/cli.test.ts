// End-to-end tests of the `dw` command: spawn `node bin/dw.js` for real on temp data folders,
// talk to the running gateway with curl, and stop everything that was started.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanupAll, curl, dw, serve, tempDir, type Run } from './gateway-harness.js';

after(cleanupAll);

function noStack(r: Run): void {
  assert.doesNotMatch(r.stderr, /^\s+at .+:\d+:\d+\)?$/m, `stack trace in:\n${r.stderr}`);
}

/** The server's ed25519 host key line, as ssh-keyscan sees it. */
function keyscan(port: number): string {
  const r = spawnSync('ssh-keyscan', ['-p', String(port), '-t', 'ed25519', '127.0.0.1'], { encoding: 'utf8', timeout: 30_000 });
  const line = r.stdout.split('\n').find((l) => l.includes('ssh-ed25519'));
  assert.ok(line, `ssh-keyscan: ${r.stderr}`);
  return line.split(' ').slice(1).join(' ');
}

describe('dw cli', () => {
  test('--help works from any folder and lists the commands', async () => {
    const r = await dw(['--help'], { cwd: '/' });
    assert.equal(r.code, 0, r.stderr);
    for (const c of ['serve', 'user', 'pool', 'scrub', 'device', 'reclaim']) assert.match(r.stdout, new RegExp(`dw ${c}`));
    const s = await dw(['serve', '--help']);
    assert.match(s.stdout, /--webdav/);
  });

  test('bad input: says what to fix, exit code 2, no stack trace', async () => {
    const dir = await tempDir();
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command or option: frobnicate/],
      [[], /name a command/],
      [['scrub', '--data', dir, '--bogus'], /unknown command or option: bogus/],
      [['serve'], /missing --data DIR/],
      [['serve', '--data', dir, '--webdav', 'localhost:99999'], /--webdav wants HOST:PORT.*not a port number/],
      [['serve', '--data', dir, '--sftp', 'nonsense'], /--sftp wants HOST:PORT/],
      [['serve', '--data', dir, '--log-level', 'loud'], /log-level/],
      [['pool', 'create', '--data', dir, '--layout', 'rs:4+9', 'a', 'b'], /bad layout 'rs:4\+9'.*M \(parity shards\) must be 0\.\.4/],
      [['pool', 'create', '--data', dir, '--layout', 'rs:4+2'], /missing device folders/],
      [['pool', 'create', '--data', dir, 'a'], /--layout/],
      [['user', 'add', '--data', dir], /missing NAME/],
      [['user', 'list', '--data', join(dir, 'nope')], /no data folder at .*nope/],
      [['user', 'list'], /missing --data DIR/],
      [['pool', 'status', '--data', dir], /holds no DataWarehouse metadata/],
    ];
    for (const [args, re] of cases) {
      const r = await dw(args);
      assert.equal(r.code, 2, `dw ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, re, `dw ${args.join(' ')}`);
      noStack(r);
    }
  });

  test('pool compression: --compression at create, dw pool set, status shows setting and ratio', async () => {
    const dir = await tempDir();
    const data = join(dir, 'data');
    const devs = ['a', 'b', 'c'].map((n) => join(dir, n));
    let r = await dw(['pool', 'create', '--data', data, '--layout', 'rs:2+1', '--compression', 'zstd:3', ...devs]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /created pool rs:2\+1 on 3 devices, compression zstd:3/);
    r = await dw(['pool', 'status', '--data', data, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const st = JSON.parse(r.stdout);
    assert.equal(st.compression, 'zstd:3');
    assert.equal(st.storedUsed, 0);
    r = await dw(['pool', 'status', '--data', data]);
    assert.match(r.stdout, /compress: zstd:3 for new blocks; 0 B stored before parity, ratio 1\.00x/);
    r = await dw(['pool', 'set', 'compression=off', '--data', data]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /compression is now off for new blocks/);
    r = await dw(['pool', 'status', '--data', data, '--json']);
    assert.equal(JSON.parse(r.stdout).compression, 'off');
    for (const [args, re] of [
      [['pool', 'set', 'compression=gzip'], /bad compression "gzip": use off, lz4, zstd or zstd:LEVEL/],
      [['pool', 'set', 'compression=zstd:30'], /zstd levels are 1\.\.19/],
      [['pool', 'set', 'encryption=on'], /unknown pool setting "encryption"; settings: compression, dedup/],
      [['pool', 'set'], /missing NAME=VALUE/],
    ] as const) {
      r = await dw([...args, '--data', data]);
      assert.equal(r.code, 2, `dw ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
      noStack(r);
    }
    // Without --compression a new pool does not compress.
    const data2 = join(dir, 'data2');
    r = await dw(['pool', 'create', '--data', data2, '--layout', 'mirror:2', join(dir, 'm1'), join(dir, 'm2')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /compression off, dedup off/);
    r = await dw(['pool', 'status', '--data', data2, '--json']);
    assert.equal(JSON.parse(r.stdout).compression, 'off');
  });

  test('dedup: dw dedup set/get and dw pool set dedup=; copies over WebDAV store the data once; bad values', async () => {
    const tmp = await tempDir();
    const data = join(tmp, 'data');
    const file = join(tmp, 'random.bin');
    const size = 3_000_000;
    await writeFile(file, randomBytes(size));
    const get = async (dir: string) => {
      const r = await dw(['dedup', 'get', '--dir', dir, '--json', '--data', data]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { setting: string; pool: string; tree: { logical: number; stored: number; unique: number } };
    };
    const srv = await serve(data);
    const auth = ['-u', `admin:${srv.password}`];
    const url = (p: string) => new URL(p, srv.url).href;
    try {
      assert.equal(curl([...auth, '-X', 'MKCOL', url('/backups/')]).status, '201');
      let r = await dw(['dedup', 'set', '--dir', '/backups', 'on', '--data', data]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^\/backups: dedup on for what is created in it from now on; files already there keep theirs$/m);
      for (let i = 0; i < 4; i++) assert.equal(curl([...auth, '-T', file, url(`/backups/copy${i}.bin`)]).status, '201');
      assert.equal(curl([...auth, '-T', file, url('/elsewhere.bin')]).status, '201');
      const b = await get('/backups');
      assert.equal(b.setting, 'on');
      assert.equal(b.pool, 'off');
      assert.equal(b.tree.logical, 4 * size);
      assert.ok(b.tree.unique < size * 1.01, `four copies keep ${b.tree.unique} distinct bytes for ${size}`);
      const root = await get('/');
      assert.ok(root.tree.unique >= 2 * size, 'the copy outside /backups is stored again');
      const st = JSON.parse((await dw(['pool', 'status', '--json', '--data', data])).stdout) as { logicalUsed: number; dedup: boolean };
      assert.equal(st.dedup, false);
      assert.ok(st.logicalUsed < 2.1 * size, `pool holds ${st.logicalUsed} bytes of data for 5 copies of ${size}`);
      r = await dw(['dedup', 'get', '--dir', '/backups', '--data', data]);
      assert.match(r.stdout, /dedup: +on/);
      assert.match(r.stdout, /shared: .* in distinct blocks \(dedup and clones\), ratio 4\.\d\dx/);
      for (const [args, re, code] of [
        [['dedup', 'set', '--dir', '/backups', 'yes'], /dedup setting must be on, off or inherit/, 2],
        [['dedup', 'set', '--dir', '/elsewhere.bin', 'on'], /\/elsewhere\.bin is not a directory/, 1],
        [['dedup', 'get'], /missing --dir PATH: dw dedup get --dir PATH/, 2],
        [['pool', 'set', 'dedup=maybe'], /dedup is on or off, not "maybe"/, 2],
      ] as const) {
        r = await dw([...args, '--data', data]);
        assert.equal(r.code, code, `dw ${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, re, `dw ${args.join(' ')}`);
        noStack(r);
      }
      r = await dw(['pool', 'set', 'dedup=on', '--data', data]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /dedup is now on for new files' records/);
      assert.equal((await get('/')).pool, 'on');
    } finally {
      assert.equal(await srv.stop(), 0);
    }
    const r = await dw(['pool', 'status', '--data', data]);
    assert.match(r.stdout, /dedup: +on for new files .*; the files hold 14\.3 MiB, ratio 2\.50x \(dedup and clones\)/);
  });

  test('per-directory compression: dw compression set/get on a running server and a stopped folder; bad values', async () => {
    const tmp = await tempDir();
    const data = join(tmp, 'data');
    const text = join(tmp, 'text.txt');
    const size = 2_000_000;
    await writeFile(text, Buffer.from(Array.from({ length: 200_000 }, (_, i) => `row ${i % 1009} of a log\n`).join('')).subarray(0, size));
    const get = async (dir: string) => {
      const r = await dw(['compression', 'get', '--dir', dir, '--json', '--data', data]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { path: string; setting: string; pool: string; tree: { inodes: number; logical: number; stored: number } };
    };
    const srv = await serve(data);
    const auth = ['-u', `admin:${srv.password}`];
    const url = (p: string) => new URL(p, srv.url).href;
    try {
      assert.equal(curl([...auth, '-X', 'MKCOL', url('/z/')]).status, '201');
      let r = await dw(['compression', 'set', '--dir', '/z', 'zstd:5', '--data', data]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^\/z: compression zstd:5 for what is created in it from now on; files already there keep theirs$/m);
      assert.equal(curl([...auth, '-X', 'MKCOL', url('/z/sub/')]).status, '201');
      assert.equal(curl([...auth, '-T', text, url('/z/sub/a.txt')]).status, '201');
      assert.equal(curl([...auth, '-T', text, url('/plain.txt')]).status, '201');
      const sub = await get('/z/sub');
      assert.equal(sub.setting, 'zstd:5', 'a directory made after the set inherits it');
      assert.equal(sub.pool, 'off');
      assert.equal(sub.tree.logical, size);
      assert.ok(sub.tree.stored < size / 4, `stored ${sub.tree.stored} of ${size}`);
      const root = await get('/');
      assert.equal(root.setting, 'inherit');
      assert.equal(root.tree.logical, 2 * size);
      assert.equal(root.tree.stored - sub.tree.stored, size, '/plain.txt in the root (pool setting off) is stored raw');
      for (const [args, re, code] of [
        [['set', '--dir', '/z', 'gzip'], /bad compression "gzip": use off, lz4, zstd or zstd:LEVEL \(1\.\.19\), or inherit/, 2],
        [['set', '--dir', '/z', 'zstd:20'], /zstd levels are 1\.\.19/, 2],
        [['set', '--dir', '/z'], /missing the setting: dw compression set --dir PATH/, 2],
        [['set', 'lz4'], /missing --dir PATH/, 2],
        [['get'], /missing --dir PATH: dw compression get --dir PATH/, 2],
        [['set', '--dir', '/plain.txt', 'lz4'], /\/plain\.txt is not a directory/, 1],
        [['get', '--dir', '/nope'], /no entry "nope"/, 1],
      ] as const) {
        r = await dw(['compression', ...args, '--data', data]);
        assert.equal(r.code, code, `dw compression ${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, re, `dw compression ${args.join(' ')}`);
        noStack(r);
      }
    } finally {
      assert.equal(await srv.stop(), 0);
    }
    // Stopped folder: the same commands work directly.
    let r = await dw(['compression', 'set', '--dir', '/z/sub', 'inherit', '--data', data]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\/z\/sub: compression inherit \(the pool's setting, now off\)/);
    r = await dw(['compression', 'get', '--dir', '/z/sub', '--data', data]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /compression: inherit \(the pool's: off\)/);
    assert.match(r.stdout, /tree: +2 files and directories; 1\.91 MiB of file data, .* stored before parity, ratio \d+\.\d\dx/);
    assert.equal((await get('/z')).setting, 'zstd:5');
    r = await dw(['compression', 'set', '--dir', '/z', 'LZ4', '--data', data]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await get('/z')).setting, 'lz4');
  });

  test('stopped folder: pool create/status and users, directly', async () => {
    const dir = await tempDir();
    const data = join(dir, 'data');
    const devs = ['a', 'b', 'c'].map((n) => join(dir, n));
    let r = await dw(['pool', 'create', '--data', data, '--layout', 'rs:2+1', ...devs]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /created pool rs:2\+1 on 3 devices/);
    r = await dw(['pool', 'create', '--data', data, '--layout', 'mirror:2', ...devs.slice(0, 2)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /a pool already exists .*rs:2\+1/);
    noStack(r);
    r = await dw(['pool', 'status', '--data', data, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const st = JSON.parse(r.stdout);
    assert.equal(st.layout, 'rs:2+1');
    assert.equal(st.serving, false);
    assert.deepEqual(st.devices.map((d: { path: string }) => d.path), devs);
    assert.ok(st.devices.every((d: { state: string }) => d.state === 'online'));
    r = await dw(['pool', 'status', '--data', data]);
    assert.match(r.stdout, /pool: +rs:2\+1, 3 devices, server stopped/);

    const keyFile = join(dir, 'k.pub');
    await writeFile(keyFile, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFmOvMGTwlH2zE2Bbw22KHSI7kpiBfBEIvY1+EbOMxGf me@host\n');
    r = await dw(['user', 'add', 'alice', '--password-stdin', '--ssh-key', keyFile, '--data', data], { input: 'pw-from-stdin\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /added user alice \(uid 1000\)/);
    r = await dw(['user', 'add', 'alice', '--password', 'x', '--data', data]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /user alice already exists/);
    r = await dw(['user', 'add', 'bad/name', '--password', 'x', '--data', data]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid user name/);
    r = await dw(['user', 'list', '--json'], { env: { DW_DATA: data } });
    assert.equal(r.code, 0, r.stderr);
    const users = JSON.parse(r.stdout);
    assert.deepEqual(users.map((u: { name: string }) => u.name), ['alice']);
    assert.equal(users[0].sshKeys.length, 1);
    assert.equal(users[0].hasPassword, true);
    r = await dw(['user', 'remove', 'alice', '--data', data]);
    assert.equal(r.code, 0, r.stderr);
    r = await dw(['user', 'remove', 'alice', '--data', data]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no user named alice/);
  });

  test('serve: banner, curl login, admin over the socket, SIGTERM, restart keeps data', async () => {
    const dir = join(await tempDir(), 'data');
    let srv = await serve(dir);
    try {
      assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      assert.ok(srv.sftpPort > 0);
      assert.ok(srv.password, `first start prints the admin password:\n${srv.stderr()}`);
      assert.match(srv.stderr(), /curl -u admin:\S+ http:\/\/127\.0\.0\.1:\d+\//);
      assert.match(srv.stderr(), /sftp -P \d+ admin@127\.0\.0\.1/);
      assert.match(srv.stderr(), /dw user add NAME/);
      const serving = srv.stdout().split('\n').map((l) => (l ? JSON.parse(l) : {})).find((r) => r.msg === 'serving');
      assert.equal(serving?.webdav, srv.url, 'stdout carries pino JSON logs');
      for (const d of ['d0', 'd1', 'd2', 'd3', 'd4', 'd5']) assert.ok(existsSync(join(dir, 'devices', d)));
      const keyMode = (await stat(join(dir, 'ssh_host_ed25519_key'))).mode & 0o777;
      assert.equal(keyMode, 0o600);
      assert.ok((await stat(join(dir, 'admin.sock'))).isSocket());

      // WebDAV with the printed credentials
      const body = 'hello from the e2e test\n'.repeat(1000);
      const file = join(dir, '..', 'up.txt');
      await writeFile(file, body);
      let c = curl(['-u', `admin:${srv.password}`, '-T', file, `${srv.url}hello.txt`]);
      assert.match(c.status, /^20[14]$/, `PUT: ${c.status} ${c.body}`);
      c = curl(['-u', `admin:${srv.password}`, `${srv.url}hello.txt`]);
      assert.equal(c.status, '200');
      assert.equal(c.body, body);
      assert.equal(curl(['-u', 'admin:wrong', `${srv.url}hello.txt`]).status, '401');

      // SFTP with the same user table and the kept host key
      const got = join(dir, '..', 'got.txt');
      // (no -b: batch mode turns password logins off; sftp reads the commands from stdin instead)
      const sf = spawnSync('sshpass', ['-p', srv.password!, 'sftp', '-P', String(srv.sftpPort), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'PubkeyAuthentication=no', 'admin@127.0.0.1'], { encoding: 'utf8', timeout: 60_000, input: `get hello.txt ${got}\n` });
      assert.equal(sf.status, 0, sf.stderr);
      assert.equal(await readFile(got, 'utf8'), body);
      const hostKey1 = keyscan(srv.sftpPort);

      // admin commands go through the socket (a direct open would fail: the server holds the lock)
      let r = await dw(['user', 'add', 'bob', '--password', 'bobpw', '--data', dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(curl(['-u', 'bob:bobpw', '-o', '/dev/null', `${srv.url}hello.txt`]).status, '200', 'new user logs in at once');
      // a user with an SSH key logs in over SFTP with that key (ssh-keygen makes a real OpenSSH key)
      const key = join(dir, '..', 'carol_key');
      const kg = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'carol@test', '-f', key], { encoding: 'utf8' });
      assert.equal(kg.status, 0, kg.stderr);
      r = await dw(['user', 'add', 'carol', '--ssh-key', `${key}.pub`, '--data', dir]);
      assert.equal(r.code, 0, r.stderr);
      const keyed = spawnSync('sftp', ['-b', '-', '-i', key, '-P', String(srv.sftpPort), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'IdentitiesOnly=yes', 'carol@127.0.0.1'], { encoding: 'utf8', timeout: 60_000, input: 'ls -l /hello.txt\n' });
      assert.equal(keyed.status, 0, keyed.stderr);
      assert.match(keyed.stdout, /hello\.txt/);
      const wrongKey = spawnSync('sftp', ['-b', '-', '-i', key, '-P', String(srv.sftpPort), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'IdentitiesOnly=yes', 'bob@127.0.0.1'], { encoding: 'utf8', timeout: 60_000, input: 'ls\n' });
      assert.notEqual(wrongKey.status, 0, 'carol\'s key does not log in as bob');

      r = await dw(['pool', 'status', '--json', '--data', dir]);
      assert.equal(r.code, 0, r.stderr);
      const st = JSON.parse(r.stdout);
      assert.equal(st.serving, true);
      assert.equal(st.layout, 'rs:4+2');
      assert.equal(st.devices.length, 6);
      assert.ok(st.blocks >= 1);
      r = await dw(['scrub', '--json', '--data', dir]);
      assert.equal(r.code, 0, r.stderr);
      const sc = JSON.parse(r.stdout);
      assert.ok(sc.blocksChecked >= 1);
      assert.equal(sc.badShards, 0);
      r = await dw(['pool', 'create', '--data', dir, '--layout', 'rs:2+1', 'x', 'y', 'z']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /a pool already exists/);

      // a second server on the same folder is refused
      r = await dw(['serve', '--data', dir, '--webdav', '127.0.0.1:0', '--sftp', '127.0.0.1:0']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /already serving/);
      noStack(r);

      // another folder on a port in use: a clear error, and no first user made whose password nobody saw
      const other = join(dir, '..', 'other');
      r = await dw(['serve', '--data', other, '--webdav', new URL(srv.url).host, '--sftp', 'off']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot listen on 127\.0\.0\.1:\d+ for WebDAV: the address is in use; pick another with --webdav/);
      noStack(r);
      r = await dw(['user', 'list', '--json', '--data', other]);
      assert.deepEqual(JSON.parse(r.stdout), []);

      // the server holds the store but its socket is gone: direct mode says who holds it
      await unlink(join(dir, 'admin.sock'));
      r = await dw(['user', 'list', '--data', dir]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`in use by another dw process \\(pid ${srv.proc.pid}\\)`));
      noStack(r);

      assert.equal(await srv.stop(), 0, srv.stderr());
      assert.match(srv.stdout(), /"msg":"stopped"/);
      assert.ok(!existsSync(join(dir, 'dw.pid')));

      // stopped: admin commands open the folder directly
      r = await dw(['user', 'list', '--data', dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^admin +1000 /m);
      assert.match(r.stdout, /^bob +1001 .*password/m);
      assert.match(r.stdout, /^carol +1002 .*1 ssh key/m);

      // stopped: corrupt the one block's shards on two devices; `dw scrub` finds and repairs both
      for (const dev of ['d1', 'd4']) {
        const segs = (await readdir(join(dir, 'devices', dev))).filter((n) => n.startsWith('seg-'));
        assert.equal(segs.length, 1);
        const fh = await open(join(dir, 'devices', dev, segs[0]!), 'r+');
        // A few bytes just after the shard header (short shards stay covered if the pool compresses).
        await fh.write(Buffer.alloc(4, 0xee), 0, 4, 64 + 40 + 2);
        await fh.close();
      }
      r = await dw(['scrub', '--json', '--data', dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^scrub: 100% \(1\/1\)$/m, 'progress as percentages when not on a terminal');
      const fixed = JSON.parse(r.stdout);
      assert.equal(fixed.badShards, 2);
      assert.equal(fixed.repaired, 2);
      assert.equal(fixed.unrecoverable, 0);
      r = await dw(['scrub', '--data', dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /bad shards found: 0/);

      // restart: same data, no new admin password
      srv = await serve(dir, ['--metrics', '127.0.0.1:0']);
      assert.equal(srv.password, undefined);
      const metricsUrl = /Metrics:\s+(\S+)/.exec(srv.stderr())?.[1];
      assert.ok(metricsUrl, srv.stderr());
      const m = curl([metricsUrl]);
      assert.equal(m.status, '200');
      assert.match(m.body, /^dw_pool_capacity_bytes \d+/m);
      assert.match(m.body, /^dw_pool_blocks [1-9]\d*$/m);
      assert.match(m.body, /^dw_device_online\{device="5"\} 1$/m);
      assert.match(m.body, /^dw_device_flushes_behind_total\{device="5"\} \d+$/m);
      assert.match(m.body, /^dw_device_uncached_appends_total\{device="5"\} \d+$/m);
      assert.match(m.body, /^dw_process_resident_memory_bytes \d+/m);
      assert.doesNotMatch(srv.stderr(), /created now/);
      c = curl(['-u', 'bob:bobpw', `${srv.url}hello.txt`]);
      assert.equal(c.status, '200');
      assert.equal(c.body, body);
      assert.equal(keyscan(srv.sftpPort), hostKey1, 'same SFTP host key after a restart');
      assert.equal(await srv.stop(), 0, srv.stderr());
      assert.ok(!existsSync(join(dir, 'admin.sock')), 'socket removed on exit');
    } finally {
      if (srv.proc.exitCode === null) srv.proc.kill('SIGKILL');
    }
  });
});
