/**
 * Issue 2, acceptance 3: a real tree goes in by OpenSSH `sftp -r` and comes back by WebDAV
 * (curl: PROPFIND Depth infinity, then GETs), and the other way round (curl MKCOL + PUT in, `sftp -r` out); every file's sha256 matches; symlinks survive SFTP
 * (lftp mirror, which creates and reads them with SYMLINK/READLINK; OpenSSH's `put -r`/`get -r`
 * skip symlinks by design). CI moves /usr/share/doc + /usr/share/zoneinfo + a 64 MiB file;
 * DW_ACCEPT_FULL=1 moves all of /usr/share + a 1 GiB file.
 */
import assert from 'node:assert/strict';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cleanupAll, curlDownloadTree, curlUploadTree, lftp, serve, sftpCommands, tempDir } from './gateway-harness.js';
import { copyTrees, diff, manifest, only, randomFile } from './tree.js';

const FULL = process.env.DW_ACCEPT_FULL === '1';
const SOURCES = FULL ? ['/usr/share'] : ['/usr/share/doc', '/usr/share/zoneinfo'];
const BIG = FULL ? 1 << 30 : 64 << 20;
/** Where zoneinfo (hundreds of symlinks) lands in the copied tree: `cp -a /usr/share src` gives src/share/…. */
const ZONEINFO = FULL ? 'share/zoneinfo' : 'zoneinfo';

after(cleanupAll);

test(`real data: ${SOURCES.join(' + ')} + ${BIG >> 20} MiB by sftp -r in, WebDAV out, and back; symlinks over SFTP`, { timeout: 3_600_000 }, async (t) => {
  let t0 = Date.now();
  const phase = (what: string) => { t.diagnostic(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`); t0 = Date.now(); };
  const tmp = await tempDir();
  const src = join(tmp, 'src');
  await mkdir(src);
  copyTrees(SOURCES, src);
  randomFile(join(src, 'big.bin'), BIG);
  await mkdir(join(src, 'links'));
  await symlink('../big.bin', join(src, 'links', 'relative'));
  await symlink('/src/zoneinfo', join(src, 'links', 'absolute'));
  await symlink('does/not/exist', join(src, 'links', 'dangling'));
  const want = await manifest(src);
  const files = only(want, 'f');
  assert.ok(files.size > 1000, `a real tree has thousands of files (${files.size})`);

  phase('build tree + manifest');
  const srv = await serve(join(tmp, 'data'));
  try {
    const pw = srv.password!;

    // 1. sftp -r in, WebDAV out
    const put = sftpCommands(srv.sftpPort, 'admin', pw, `put -r ${src} /in\n`);
    assert.equal(put.status, 0, put.stderr.slice(-2000));
    phase('sftp put -r');
    const out1 = join(tmp, 'out1');
    const get1 = await curlDownloadTree(srv.url, 'admin', pw, '/in', out1);
    assert.equal(get1.statuses.length, files.size, get1.stderr.slice(-2000));
    assert.deepEqual(get1.statuses.filter((s) => s !== '200'), [], 'every GET succeeds');
    assert.deepEqual(diff(files, only(await manifest(out1), 'f')), [], 'every file by sftp -r in and WebDAV out');
    phase('curl PROPFIND + GET out over WebDAV + check');

    // 2. WebDAV in, sftp -r out
    const dirs = ['/in2', ...[...only(want, 'd').keys()].map((d) => `/in2/${d}`)];
    const put2 = curlUploadTree(srv.url, 'admin', pw, dirs, [...files.keys()].map((f) => [join(src, f), `/in2/${f}`]));
    assert.equal(put2.statuses.length, dirs.length + files.size, put2.stderr.slice(-2000));
    assert.deepEqual(put2.statuses.filter((s) => s !== '201' && s !== '204'), [], 'every MKCOL and PUT succeeds');
    phase('curl MKCOL + PUT in over WebDAV');
    const out2 = join(tmp, 'out2');
    const get2 = sftpCommands(srv.sftpPort, 'admin', pw, `get -r /in2 ${out2}\n`);
    assert.equal(get2.status, 0, get2.stderr.slice(-2000));
    assert.deepEqual(diff(files, only(await manifest(out2), 'f')), [], 'every file by WebDAV in and sftp -r out');
    phase('sftp get -r + check');

    // 3. symlinks (and their trees) survive SFTP both ways
    const links = new Map([...want].filter(([k]) => k === ZONEINFO || k.startsWith(`${ZONEINFO}/`) || /^links(\/|$)/.test(k))
      .map(([k, v]) => [k.startsWith(ZONEINFO) ? `zoneinfo${k.slice(ZONEINFO.length)}` : k, v]));
    assert.ok(only(links, 'l').size > 100, 'zoneinfo brings hundreds of symlinks');
    const m = lftp(srv.sftpPort, 'admin', pw, `mirror -R ${join(src, ZONEINFO)} /l/zoneinfo; mirror -R ${join(src, 'links')} /l/links`);
    assert.equal(m.status, 0, m.stderr.slice(-2000));
    const out3 = join(tmp, 'out3');
    const back = lftp(srv.sftpPort, 'admin', pw, `mirror /l ${out3}`);
    assert.equal(back.status, 0, back.stderr.slice(-2000));
    assert.deepEqual(diff(links, await manifest(out3)), [], 'files, directories and symlink targets by SFTP');
    phase('lftp mirror both ways + check');
  } finally {
    assert.equal(await srv.stop(), 0, srv.stderr().slice(-2000));
  }
});
