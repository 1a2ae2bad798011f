/**
 * Issue 3, acceptance 5 (retention part), through `dw serve` with real clients: under
 * `dw retention set`, every change to a retained file is tried by WebDAV (curl) and by SFTP
 * (OpenSSH sftp) and refused, the content stays; a legal hold outlasts the period; an expired
 * file can be deleted.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cleanupAll, curl, dw, serve, sftpCommands, tempDir } from './gateway-harness.js';

after(cleanupAll);

const PERIOD_S = 12;

test('retention: WebDAV and SFTP changes refused until expiry; a hold outlasts it; expired files delete', { timeout: 300_000 }, async () => {
  const tmp = await tempDir();
  const data = join(tmp, 'data');
  const local = join(tmp, 'local');
  await mkdir(local);
  await writeFile(join(local, 'doc.txt'), 'signed contract\n');
  await writeFile(join(local, 'new.txt'), 'a forged version\n');
  const srv = await serve(data);
  const pw = srv.password!;
  const auth = ['-u', `admin:${pw}`];
  const url = (p: string) => new URL(p, srv.url).href;
  try {
    assert.equal(curl([...auth, '-X', 'MKCOL', url('/w/')]).status, '201');
    assert.equal(curl([...auth, '-T', join(local, 'doc.txt'), url('/w/doc.txt')]).status, '201');
    const up = sftpCommands(srv.sftpPort, 'admin', pw, `put ${join(local, 'doc.txt')} /w/by-sftp.txt\n`);
    assert.equal(up.status, 0, up.stderr);
    const set = await dw(['retention', 'set', '/w', '--period', `${PERIOD_S}s`, '--data', data]);
    assert.equal(set.code, 0, set.stderr);
    const t0 = Date.now();
    assert.match(set.stdout, /retention: 12s after close/);

    // WebDAV: overwrite, delete, move away, move or copy over it: all 403, nothing changes.
    assert.equal(curl([...auth, '-T', join(local, 'new.txt'), url('/w/doc.txt')]).status, '403', 'PUT over');
    assert.equal(curl([...auth, '-X', 'DELETE', url('/w/doc.txt')]).status, '403', 'DELETE');
    assert.equal(curl([...auth, '-X', 'MOVE', '-H', `Destination: ${url('/w/renamed.txt')}`, url('/w/doc.txt')]).status, '403', 'MOVE away');
    assert.equal(curl([...auth, '-T', join(local, 'new.txt'), url('/w/other.txt')]).status, '201');
    assert.equal(curl([...auth, '-X', 'MOVE', '-H', `Destination: ${url('/w/doc.txt')}`, '-H', 'Overwrite: T', url('/w/other.txt')]).status, '403', 'MOVE over');
    assert.equal(curl([...auth, '-X', 'COPY', '-H', `Destination: ${url('/w/doc.txt')}`, '-H', 'Overwrite: T', url('/w/other.txt')]).status, '403', 'COPY over');

    // SFTP: overwrite (put truncates), rm, rename away, rename over it: all refused.
    for (const cmd of [`put ${join(local, 'new.txt')} /w/by-sftp.txt`, 'rm /w/by-sftp.txt', 'rename /w/by-sftp.txt /w/x.txt', 'rename /w/other.txt /w/by-sftp.txt']) {
      const r = sftpCommands(srv.sftpPort, 'admin', pw, `${cmd}\n`);
      assert.match(r.stderr, /permission denied/i, `sftp refuses: ${cmd}\n${r.stderr}`);
    }
    assert.equal(curl([...auth, url('/w/doc.txt')]).body, 'signed contract\n');
    assert.equal(curl([...auth, url('/w/by-sftp.txt')]).body, 'signed contract\n');

    // A legal hold on one file; then wait out the period.
    const hold = await dw(['hold', 'add', '/w/doc.txt', '--name', 'case-1', '--data', data]);
    assert.equal(hold.code, 0, hold.stderr);
    assert.match(hold.stdout, /holds:\s+case-1/);
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + PERIOD_S * 1000 + 500 - Date.now())));
    assert.equal(curl([...auth, '-X', 'DELETE', url('/w/by-sftp.txt')]).status, '204', 'expired: deletable');
    assert.equal(curl([...auth, '-X', 'DELETE', url('/w/doc.txt')]).status, '403', 'held: still refused');
    const rel = await dw(['hold', 'remove', '/w/doc.txt', '--name', 'case-1', '--data', data]);
    assert.equal(rel.code, 0, rel.stderr);
    const rm = sftpCommands(srv.sftpPort, 'admin', pw, 'rm /w/doc.txt\n');
    assert.doesNotMatch(rm.stderr, /denied/i, rm.stderr);
    assert.equal(curl([...auth, '-I', url('/w/doc.txt')]).status, '404');

    // The period can only be extended.
    const shorter = await dw(['retention', 'set', '/w', '--period', '1s', '--data', data]);
    assert.notEqual(shorter.code, 0);
    assert.match(shorter.stderr, /only be extended/);
    assert.match(srv.stdout() + srv.stderr(), /retention: change refused/, 'refusals are logged');
  } finally {
    assert.equal(await srv.stop(), 0, srv.stderr().slice(-2000));
  }
});
