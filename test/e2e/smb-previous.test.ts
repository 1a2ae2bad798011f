/**
 * Previous Versions end to end (issue 7, acceptance 4, second half): `dw serve --smb` on a
 * RocksDB + rs:4+2 data folder; a file put with Debian's `smbclient`, `dw snapshot create`, the
 * file overwritten; then through smbclient the share as it was: `ls` and `get` under the
 * snapshot's @GMT token (the time `dw snapshot list --json` reports, to the second) give the old
 * folder and bytes, the live path the new ones, a put under the token is refused, and an unknown
 * token is not found; and smbclient's `allinfo`, which lists a file's previous versions
 * (FSCTL_SRV_ENUMERATE_SNAPSHOTS) and stats each one, shows the snapshot's token with the old
 * size.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanupAll, dw, serve, tempDir, type Server } from './gateway-harness.js';

describe('SMB Previous Versions with smbclient', () => {
  let srv: Server;
  let port: number;
  let pass: string;
  let dir: string;
  let local: string;

  const smb = (cmds: string): { code: number | null; out: string } => {
    const r = spawnSync('smbclient', ['//127.0.0.1/dw', '-p', String(port), '-U', `admin%${pass}`, '-m', 'SMB3', '-c', cmds], { encoding: 'utf8', timeout: 60_000, cwd: local });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };

  before(async () => {
    dir = await tempDir();
    srv = await serve(dir, ['--smb', '127.0.0.1:0']);
    port = Number(/SMB:\s+127\.0\.0\.1 port (\d+)/.exec(srv.stderr())?.[1]);
    assert.ok(port > 1024, srv.stderr());
    pass = srv.password!;
    local = await tempDir();
  });

  after(async () => {
    await srv?.stop();
    await cleanupAll();
  });

  test('a snapshot is the share as it was, under its @GMT token, read-only', async () => {
    writeFileSync(join(local, 'v1.txt'), 'first version\n');
    writeFileSync(join(local, 'v2.txt'), 'second, longer version\n');
    let r = smb('mkdir docs; put v1.txt docs\\report.txt');
    assert.equal(r.code, 0, r.out);
    const snap = await dw(['snapshot', 'create', 'monday', '--data', dir]);
    assert.equal(snap.code, 0, snap.stderr);
    r = smb('put v2.txt docs\\report.txt; put v2.txt docs\\later.txt');
    assert.equal(r.code, 0, r.out);

    const list = await dw(['snapshot', 'list', '--json', '--data', dir]);
    const taken = (JSON.parse(list.stdout) as { name: string; created: string }[]).find((s) => s.name === 'monday')!;
    const d = new Date(taken.created);
    const p = (n: number) => String(n).padStart(2, '0');
    const token = `@GMT-${d.getUTCFullYear()}.${p(d.getUTCMonth() + 1)}.${p(d.getUTCDate())}-${p(d.getUTCHours())}.${p(d.getUTCMinutes())}.${p(d.getUTCSeconds())}`;

    r = smb(`get ${token}\\docs\\report.txt old.txt; get docs\\report.txt new.txt`);
    assert.equal(r.code, 0, r.out);
    assert.equal(readFileSync(join(local, 'old.txt'), 'utf8'), 'first version\n');
    assert.equal(readFileSync(join(local, 'new.txt'), 'utf8'), 'second, longer version\n');
    r = smb(`ls ${token}\\docs\\*`);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /report\.txt\s+A?N?\s+14\s/, r.out);
    assert.doesNotMatch(r.out, /later\.txt/, 'made after the snapshot');
    r = smb('allinfo docs\\report.txt');
    assert.equal(r.code, 0, r.out);
    assert.ok(r.out.includes(token), `allinfo lists ${token}:\n${r.out}`);
    assert.match(r.out.slice(r.out.indexOf(token)), /size: 14\b/, 'the previous version\'s size');
    r = smb(`put v2.txt ${token}\\docs\\x.txt`);
    assert.match(r.out, /NT_STATUS_ACCESS_DENIED/, r.out);
    r = smb('get @GMT-2001.01.01-00.00.00\\docs\\report.txt none.txt');
    assert.match(r.out, /NT_STATUS_OBJECT_NAME_NOT_FOUND|NT_STATUS_OBJECT_PATH_NOT_FOUND/, r.out);
  });
});
