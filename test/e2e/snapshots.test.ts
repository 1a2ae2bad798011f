/**
 * Issue 3, acceptance 2 and 3, through `dw serve` with real clients:
 * - write, `dw snapshot create`, overwrite / delete / rename, then read the old content at
 *   /.snapshots/NAME/ by WebDAV (curl) and by SFTP (OpenSSH sftp): byte-identical; writes
 *   there are refused by both.
 * - `dw snapshot rollback` through the running server brings the old tree back.
 * - space: fill, snapshot, delete everything: the pool's file data stays; delete the snapshot,
 *   `dw reclaim`: the used space returns to the baseline (rows: logical bytes exactly; devices:
 *   within the segment overhead, see the assertion).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cleanupAll, curl, dw, serve, sftpCommands, tempDir } from './gateway-harness.js';
import { randomFile } from './tree.js';

after(cleanupAll);

interface Status { logicalUsed: number; physicalUsed: number; dead: number; blocks: number; snapshots: { name: string; heldBytes: number }[] }

async function poolStatus(data: string): Promise<Status> {
  const r = await dw(['pool', 'status', '--json', '--data', data]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Status;
}

test('snapshots by WebDAV and SFTP: old bytes at /.snapshots/NAME, writes refused; space held and returned', { timeout: 600_000 }, async () => {
  const tmp = await tempDir();
  const data = join(tmp, 'data');
  const srv = await serve(data);
  try {
    const pw = srv.password!;
    const auth = ['-u', `admin:${pw}`];
    const url = (p: string) => new URL(p, srv.url).href;
    const local = join(tmp, 'local');
    await mkdir(local);
    randomFile(join(local, 'big.bin'), 5 << 20);
    await writeFile(join(local, 'small.txt'), 'the first version\n');
    const baseline = await poolStatus(data);

    // Fill: by WebDAV and by SFTP.
    assert.equal(curl([...auth, '-X', 'MKCOL', url('/proj/')]).status, '201');
    assert.equal(curl([...auth, '-T', join(local, 'big.bin'), url('/proj/big.bin')]).status, '201');
    const put = sftpCommands(srv.sftpPort, 'admin', pw, `put ${join(local, 'small.txt')} /proj/small.txt\n`);
    assert.equal(put.status, 0, put.stderr);

    const snap = await dw(['snapshot', 'create', 'before', '--data', data]);
    assert.equal(snap.code, 0, snap.stderr);
    assert.match(snap.stdout, /snapshot before created/);
    const filled = await poolStatus(data);

    // Change everything: overwrite, delete, rename.
    await writeFile(join(local, 'other.txt'), 'something else entirely\n');
    assert.equal(curl([...auth, '-T', join(local, 'other.txt'), url('/proj/small.txt')]).status, '204');
    assert.equal(curl([...auth, '-X', 'DELETE', url('/proj/big.bin')]).status, '204');
    assert.equal(curl([...auth, '-X', 'MOVE', '-H', `Destination: ${url('/renamed/')}`, url('/proj/')]).status, '201');

    // WebDAV reads the old bytes; /.snapshots is not in the listing of /, but is by name.
    const got = join(tmp, 'got.bin');
    const dl = spawnSync('curl', ['-sS', ...auth, '-o', got, '-w', '%{http_code}', url('/.snapshots/before/proj/big.bin')], { encoding: 'utf8' });
    assert.equal(dl.stdout, '200', dl.stderr);
    assert.ok((await readFile(got)).equals(await readFile(join(local, 'big.bin'))), 'WebDAV: big.bin as it was');
    assert.equal(curl([...auth, url('/.snapshots/before/proj/small.txt')]).body, 'the first version\n');
    const rootList = curl([...auth, '-X', 'PROPFIND', '-H', 'Depth: 1', url('/')]).body;
    assert.doesNotMatch(rootList, /\.snapshots/, 'hidden from the listing of /');
    assert.match(curl([...auth, '-X', 'PROPFIND', '-H', 'Depth: 1', url('/.snapshots/')]).body, /\/\.snapshots\/before\//);

    // SFTP reads the same old bytes.
    const sgot = join(tmp, 'sftp-got.bin');
    const get = sftpCommands(srv.sftpPort, 'admin', pw, `get /.snapshots/before/proj/big.bin ${sgot}\nls /.snapshots\n`);
    assert.equal(get.status, 0, get.stderr);
    assert.ok((await readFile(sgot)).equals(await readFile(join(local, 'big.bin'))), 'SFTP: big.bin as it was');
    assert.match(get.stdout, /before/);

    // Writes there are refused by both protocols, and nothing changes.
    assert.equal(curl([...auth, '-T', join(local, 'other.txt'), url('/.snapshots/before/proj/small.txt')]).status, '403');
    assert.equal(curl([...auth, '-X', 'DELETE', url('/.snapshots/before/proj/small.txt')]).status, '403');
    assert.equal(curl([...auth, '-X', 'MKCOL', url('/.snapshots/before/new/')]).status, '403');
    for (const cmd of [`put ${join(local, 'other.txt')} /.snapshots/before/proj/small.txt`, 'rm /.snapshots/before/proj/small.txt', 'mkdir /.snapshots/before/x', 'rename /.snapshots/before/proj /.snapshots/before/p2']) {
      // (Commands on stdin: sftp goes on after a failed one and exits 0, so read what it printed.)
      const r = sftpCommands(srv.sftpPort, 'admin', pw, `${cmd}\n`);
      assert.match(r.stderr, /permission denied|read-only/i, `sftp refuses: ${cmd}\n${r.stdout}\n${r.stderr}`);
    }
    assert.equal(curl([...auth, url('/.snapshots/before/proj/small.txt')]).body, 'the first version\n', 'still the old content');

    // Space: delete everything live; the snapshot keeps the blocks.
    assert.equal(curl([...auth, '-X', 'DELETE', url('/renamed/')]).status, '204');
    const emptied = await poolStatus(data);
    assert.ok(emptied.logicalUsed >= 5 << 20, `the snapshot holds big.bin (${emptied.logicalUsed} bytes used)`);
    assert.ok(emptied.snapshots.find((s) => s.name === 'before')!.heldBytes >= 5 << 20, 'pool status shows what the snapshot holds');

    // dw versions lists the file in the snapshot and live (gone); dw restore brings it back.
    const vs = await dw(['versions', '/proj/small.txt', '--data', data]);
    assert.equal(vs.code, 0, vs.stderr);
    assert.match(vs.stdout, /before\s+18 B?/);
    const rs = await dw(['restore', '/proj/small.txt', '--from', 'before', '--to', '/restored.txt', '--data', data]);
    assert.equal(rs.code, 0, rs.stderr);
    assert.equal(curl([...auth, url('/restored.txt')]).body, 'the first version\n');
    assert.equal(curl([...auth, '-X', 'DELETE', url('/restored.txt')]).status, '204');

    // Rollback through the running server brings the old tree back; then empty it again.
    const rb = await dw(['snapshot', 'rollback', 'before', '--data', data]);
    assert.equal(rb.code, 0, rb.stderr);
    assert.match(rb.stdout, /rolled back to before/);
    const back1 = join(tmp, 'rolled.bin');
    const dl2 = spawnSync('curl', ['-sS', ...auth, '-o', back1, '-w', '%{http_code}', url('/proj/big.bin')], { encoding: 'utf8' });
    assert.equal(dl2.stdout, '200', dl2.stderr);
    assert.ok((await readFile(back1)).equals(await readFile(join(local, 'big.bin'))), 'rolled back: big.bin is live again');
    assert.equal(curl([...auth, url('/proj/small.txt')]).body, 'the first version\n');
    assert.equal(curl([...auth, url('/renamed/small.txt')]).status, '404', 'the rename is undone');
    assert.equal(curl([...auth, '-X', 'DELETE', url('/proj/')]).status, '204');

    const del = await dw(['snapshot', 'delete', 'before', '--data', data]);
    assert.equal(del.code, 0, del.stderr);
    const rec = await dw(['reclaim', '--threshold', '0', '--data', data]);
    assert.equal(rec.code, 0, rec.stderr);
    const back = await poolStatus(data);
    assert.equal(back.logicalUsed, baseline.logicalUsed, 'file data back to the baseline');
    assert.equal(back.blocks, baseline.blocks, 'no block left behind');
    assert.equal(back.dead, 0, 'reclaim left no dead shards');
    // Devices: segment headers (64 bytes each) of the segments still open are the overhead.
    assert.ok(back.physicalUsed - baseline.physicalUsed <= 6 * 64 * 4, `devices back to the baseline within segment overhead (${back.physicalUsed} vs ${baseline.physicalUsed}; filled: ${filled.physicalUsed})`);
    assert.equal(curl([...auth, url('/.snapshots/before/proj/small.txt')]).status, '404', 'gone with the snapshot');
  } finally {
    assert.equal(await srv.stop(), 0, srv.stderr().slice(-2000));
  }
});
