// `dw volume` end to end: the real CLI on a stopped data folder (direct mode), then the same
// commands through a running `dw serve`'s admin socket, then the folder stopped again.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cleanupAll, dw, serve, tempDir, type Run } from './gateway-harness.js';

after(cleanupAll);

const ok = (r: Run, what: string) => assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stderr}`);

describe('dw volume', () => {
  test('create, list, resize, snapshot, clone, delete: stopped folder and running server', async () => {
    const dir = await tempDir();
    const data = join(dir, 'data');
    ok(await dw(['pool', 'create', '--data', data, '--layout', 'rs:2+1', ...['a', 'b', 'c'].map((n) => join(dir, n))]), 'pool create');
    let r = await dw(['volume', 'create', 'disk0', '--size', '100M', '--block', '16K', '--data', data]);
    ok(r, 'create');
    assert.match(r.stdout, /volume disk0 created: 100\.0 MiB, 16\.0 KiB blocks/);
    r = await dw(['volume', 'create', 'thick1', '--size', '1M', '--thick', '--data', data]);
    ok(r, 'create thick');
    r = await dw(['volume', 'create', 'bad', '--size', '10Q', '--data', data]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--size wants a size in whole 4 KiB units, like 100G/);
    r = await dw(['volume', 'create', '.bad', '--size', '1G', '--data', data]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad volume name/);
    r = await dw(['volume', 'create', 'disk0', '--size', '1G', '--data', data]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exists/);
    r = await dw(['volume', 'snapshot', 'disk0@first', '--data', data]);
    ok(r, 'snapshot');
    assert.match(r.stdout, /snapshot disk0@first taken/);
    r = await dw(['volume', 'list', '--data', data]);
    ok(r, 'list');
    assert.match(r.stdout, /^NAME\s+SIZE\s+BLOCK\s+USED\s+ORIGIN\s+SNAPSHOTS$/m);
    assert.match(r.stdout, /^disk0\s+100\.0 MiB\s+16\.0 KiB\s+0 B\s+-\s+first \(0 B\)$/m);
    assert.match(r.stdout, /^thick1\s+1\.00 MiB\s+64\.0 KiB\s+1\.00 MiB \(thick\)\s+-\s+-$/m);

    // The same through the running server's admin socket.
    const srv = await serve(data, ['--webdav', '127.0.0.1:13300', '--sftp', '127.0.0.1:13301']);
    try {
      r = await dw(['volume', 'clone', 'disk0@first', 'disk1', '--data', data]);
      ok(r, 'clone (server)');
      assert.match(r.stdout, /volume disk1 cloned from disk0@first/);
      ok(await dw(['volume', 'resize', 'disk0', '--size', '200M', '--data', data]), 'resize (server)');
      r = await dw(['volume', 'delete', 'disk0', '--data', data]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /has snapshots \(first\).*--recursive/);
      r = await dw(['volume', 'list', '--json', '--data', data]);
      ok(r, 'list (server)');
      const vols = JSON.parse(r.stdout) as { name: string; sizeBytes: number; origin?: string }[];
      assert.deepEqual(vols.map((v) => [v.name, v.sizeBytes, v.origin ?? null]), [['disk0', 200 << 20, null], ['disk1', 100 << 20, 'disk0@first'], ['thick1', 1 << 20, null]]);
      // Not a snapshot of the tree.
      r = await dw(['snapshot', 'list', '--json', '--data', data]);
      ok(r, 'snapshot list');
      assert.deepEqual(JSON.parse(r.stdout), []);
      ok(await dw(['volume', 'snapshot-delete', 'disk0@first', '--data', data]), 'snapshot-delete (server)');
    } finally {
      assert.equal(await srv.stop(), 0);
    }
    r = await dw(['volume', 'delete', 'disk0', '--data', data]);
    ok(r, 'delete');
    assert.match(r.stdout, /volume disk0 deleted/);
    r = await dw(['volume', 'list', '--json', '--data', data]);
    assert.deepEqual((JSON.parse(r.stdout) as { name: string }[]).map((v) => v.name), ['disk1', 'thick1']);
    r = await dw(['volume', 'snapshot', 'disk1', '--data', data]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /VOLUME@SNAPSHOT/);
    ok(await dw(['volume', 'snapshot', 'disk1@x', '--data', data]), 'snapshot x');
    ok(await dw(['volume', 'snapshot', 'disk1@y', '--data', data]), 'snapshot y');
    r = await dw(['volume', 'rollback', 'disk1@x', '--data', data]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /newer than x exist \(y\).*--destroy-newer/);
    r = await dw(['volume', 'rollback', 'disk1@x', '--destroy-newer', '--data', data]);
    ok(r, 'rollback');
    assert.match(r.stdout, /deleted newer snapshots: disk1@y\nvolume disk1 rolled back to disk1@x/);
  });
});
