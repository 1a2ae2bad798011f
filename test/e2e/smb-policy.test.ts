/**
 * Issue 7 ("quotas as STATUS_DISK_FULL/QUOTA_EXCEEDED, retention as STATUS_ACCESS_DENIED, through
 * the one Errno table") with Debian's real `smbclient` against `dw serve --smb` (RocksDB +
 * rs:4+2): a 1 MiB directory quota (`dw quota set`) stops a 2 MiB put with
 * NT_STATUS_QUOTA_EXCEEDED while a small file still goes in and the usage stays what the files
 * hold; under `dw retention set`, overwriting, deleting and renaming a retained file are refused
 * with NT_STATUS_ACCESS_DENIED and its bytes stay, and a new file can still be added.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cleanupAll, dw, serve, tempDir, type Server } from './gateway-harness.js';
import { randomFile } from './tree.js';

describe('SMB and the pool\'s policies (quota, retention)', () => {
  let srv: Server;
  let data: string;
  let local: string;
  let port: number;

  const smb = (cmds: string): { code: number | null; out: string } => {
    const r = spawnSync('smbclient', ['//127.0.0.1/dw', '-p', String(port), '-U', `admin%${srv.password}`, '-m', 'SMB3', '-c', cmds], { encoding: 'utf8', timeout: 60_000, cwd: local });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };

  before(async () => {
    data = await tempDir();
    local = await tempDir();
    srv = await serve(data, ['--smb', '127.0.0.1:0']);
    port = Number(/SMB:\s+127\.0\.0\.1 port (\d+)/.exec(srv.stderr())?.[1]);
    assert.ok(port > 1024, srv.stderr());
  });

  after(async () => {
    await srv?.stop();
    await cleanupAll();
  });

  test('a directory quota refuses a put with NT_STATUS_QUOTA_EXCEEDED; once its part is deleted, what fits goes in', async () => {
    randomFile(join(local, 'two.bin'), 2 << 20);
    randomFile(join(local, 'small.bin'), 100_000);
    assert.equal(smb('mkdir q').code, 0);
    const set = await dw(['quota', 'set', '--dir', '/q', '--bytes', '1M', '--data', data]);
    assert.equal(set.code, 0, set.stderr);
    const big = smb('put two.bin q\\two.bin');
    assert.match(big.out, /NT_STATUS_QUOTA_EXCEEDED/, big.out);
    // What was written before the refusal stays (as on Windows): delete it, then a file that fits goes in.
    const ok = smb('del q\\two.bin; put small.bin q\\small.bin; get q\\small.bin back.bin');
    assert.equal(ok.code, 0, ok.out);
    assert.deepEqual(readFileSync(join(local, 'back.bin')), readFileSync(join(local, 'small.bin')));
    const q = await dw(['quota', 'get', '--dir', '/q', '--json', '--data', data]);
    const usage = (JSON.parse(q.stdout) as { usage: { bytes: number } }).usage.bytes;
    const ls = smb('ls q\\*');
    const listed = [...ls.out.matchAll(/^\s+(\S+)\s+A?N?\s+(\d+)\s/gm)].reduce((n, m) => n + Number(m[2]), 0);
    assert.equal(usage, listed, `usage ${usage} = the bytes of the files listed\n${ls.out}`);
  });

  test('a retained file refuses overwrite, delete and rename with NT_STATUS_ACCESS_DENIED; its bytes stay', async () => {
    writeFileSync(join(local, 'doc.txt'), 'signed contract\n');
    writeFileSync(join(local, 'forged.txt'), 'a forged version\n');
    assert.equal(smb('mkdir w; put doc.txt w\\doc.txt').code, 0);
    const set = await dw(['retention', 'set', '/w', '--period', '1h', '--data', data]);
    assert.equal(set.code, 0, set.stderr);
    for (const cmd of ['put forged.txt w\\doc.txt', 'del w\\doc.txt', 'rename w\\doc.txt w\\moved.txt']) {
      const r = smb(cmd);
      assert.match(r.out, /NT_STATUS_ACCESS_DENIED/, `${cmd}: ${r.out}`);
    }
    const back = smb('get w\\doc.txt kept.txt; put forged.txt w\\new.txt');
    assert.equal(back.code, 0, back.out);
    assert.equal(readFileSync(join(local, 'kept.txt'), 'utf8'), 'signed contract\n');
  });
});
