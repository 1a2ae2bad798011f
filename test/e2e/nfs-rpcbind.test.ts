/**
 * The built-in portmapper on port 111 against the real TI-RPC `rpcinfo` (Debian package
 * rpcbind, which nfs-ganesha pulls in): rpcbind v4/v3 DUMP and GETADDR, PORTMAP v2 DUMP, and a
 * NULL call to each program at the address rpcbind gave. Port 111 is the only one rpcinfo asks,
 * so the gateway runs inside a network namespace of its own (its own loopback and ports: no
 * clash with an rpcbind of the machine), as root.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DW } from './gateway-harness.js';

const NS = `dw-rpcb-${process.pid}`;
const PORT = 20490; // 80 * 256 + 10: universal address 127.0.0.1.80.10
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : !have('ip') ? 'needs iproute2' : !have('rpcinfo') ? 'needs rpcinfo (apt rpcbind)' : false;

/** Runs a command inside the namespace; its output and exit code. */
function inNs(args: string[]): { code: number | null; out: string } {
  const r = spawnSync('ip', ['netns', 'exec', NS, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('portmapper on port 111 with rpcinfo (rpcbind v3/v4 and PORTMAP v2)', { skip }, () => {
  let dir = '';
  let server: ChildProcess | undefined;
  let nsMade = false;

  before(async () => {
    const add = spawnSync('ip', ['netns', 'add', NS]);
    assert.equal(add.status, 0, `ip netns add: ${add.stderr}`);
    nsMade = true;
    assert.equal(inNs(['ip', 'link', 'set', 'lo', 'up']).code, 0);
    dir = await mkdtemp(join(tmpdir(), 'dw-rpcb-'));
    await writeFile(join(dir, 'dw.json'), JSON.stringify({ nfs: { exports: [{ path: '/', clients: ['127.0.0.1'] }], portmapPort: 111 } }));
    const proc = spawn('ip', ['netns', 'exec', NS, process.execPath, DW, 'serve', '--data', join(dir, 'data'), '--config', join(dir, 'dw.json'),
      '--webdav', 'off', '--sftp', 'off', '--nfs', `127.0.0.1:${PORT}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    server = proc;
    let err = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`dw serve did not start:\n${err}`)), 60_000);
      proc.stderr!.on('data', (d) => {
        err += d;
        if (/Stop: /.test(err)) { clearTimeout(timer); resolve(); }
      });
      proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`dw serve exited (${code}):\n${err}`)); });
    });
  });

  after(async () => {
    if (server && server.exitCode === null) {
      const gone = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await gone;
    }
    if (nsMade) spawnSync('ip', ['netns', 'del', NS]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('rpcinfo (rpcbind v4 DUMP) lists every program with its universal address and netid', () => {
    const r = inNs(['rpcinfo', '127.0.0.1']);
    assert.equal(r.code, 0, r.out);
    const rows = new Set(r.out.split('\n').slice(1).map((l) => l.trim().split(/\s+/).slice(0, 4).join(' ')).filter(Boolean));
    for (const row of ['100000 4 tcp', '100000 3 tcp', '100000 2 tcp', '100000 2 udp', '100005 3 tcp', '100005 3 udp', '100003 3 tcp', '100003 4 tcp', '100021 4 tcp', '100024 1 tcp']) {
      assert.ok(rows.has(`${row} 127.0.0.1.80.10`), `${row} at 127.0.0.1.80.10 in:\n${r.out}`);
    }
  });

  test('rpcinfo -p (PORTMAP v2 DUMP) shows the same programs on port 20490', () => {
    const r = inNs(['rpcinfo', '-p', '127.0.0.1']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /100003\s+3\s+tcp\s+20490\s+nfs/);
    assert.match(r.out, /100005\s+3\s+udp\s+20490\s+mountd/);
  });

  test('rpcinfo -T finds each program through rpcbind GETADDR and calls its NULL procedure', () => {
    for (const [netid, prog, vers] of [['tcp', 100003, 3], ['tcp', 100003, 4], ['tcp', 100005, 3], ['udp', 100005, 3], ['tcp', 100021, 4], ['tcp', 100024, 1]] as const) {
      const r = inNs(['rpcinfo', '-T', netid, '127.0.0.1', String(prog), String(vers)]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, new RegExp(`program ${prog} version ${vers} ready and waiting`));
    }
  });

  test('a program that is not registered, and a version that is not, are said so', () => {
    const none = inNs(['rpcinfo', '-T', 'tcp', '127.0.0.1', '100099']);
    assert.notEqual(none.code, 0);
    assert.match(none.out, /Program not registered/);
    // NFS over UDP is not offered: rpcbind has no address for it.
    const udp = inNs(['rpcinfo', '-T', 'udp', '127.0.0.1', '100003', '3']);
    assert.notEqual(udp.code, 0);
    assert.match(udp.out, /Program not registered/);
  });

  test('rpcinfo -s summarises versions and netids per program', () => {
    const r = inNs(['rpcinfo', '-s', '127.0.0.1']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /100003\s+4,3\s+tcp\s+nfs\s+superuser/);
    assert.match(r.out, /100000\s+4,3,2\s+udp,tcp\s+portmapper\s+superuser/);
  });
});
