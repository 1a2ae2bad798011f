/**
 * Issue 3, acceptance 4, through `dw serve` with real clients: a 10 MiB directory quota stops an
 * 11 MiB upload by WebDAV (507 Insufficient Storage) and by SFTP (SSH_FX_FAILURE with the message
 * "quota exceeded": OpenSSH's sftp shows the code's name, lftp the message); the files already there are intact; the usage `dw quota get` reports equals the
 * bytes of the files, also after `kill -9` in the middle of an upload and a restart.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cleanupAll, curl, dw, lftp, serve, sftpCommands, tempDir, type Server } from './gateway-harness.js';
import { randomFile, sha256File } from './tree.js';

after(cleanupAll);

interface Report { usage: { bytes: number; inodes: number }; limits: { bytesHard: number } }

async function quota(data: string, dir: string): Promise<Report> {
  const r = await dw(['quota', 'get', '--dir', dir, '--json', '--data', data]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Report;
}

/** Sizes of the files directly in a collection, by PROPFIND Depth 1. */
function sizes(srv: Server, pw: string, dir: string): Map<string, number> {
  const body = curl(['-u', `admin:${pw}`, '-X', 'PROPFIND', '-H', 'Depth: 1', new URL(dir + '/', srv.url).href]).body;
  const out = new Map<string, number>();
  for (const m of body.matchAll(/<D:href>([^<]+)<\/D:href>[\s\S]*?<D:getcontentlength>(\d+)<\/D:getcontentlength>/g)) out.set(decodeURIComponent(m[1]!), Number(m[2]));
  return out;
}

test('a 10 MiB directory quota stops 11 MiB uploads by WebDAV (507) and SFTP; usage stays exact across kill -9', { timeout: 600_000 }, async () => {
  const tmp = await tempDir();
  const data = join(tmp, 'data');
  const local = join(tmp, 'local');
  await mkdir(local);
  randomFile(join(local, 'four.bin'), 4 << 20);
  randomFile(join(local, 'eleven.bin'), 11 << 20);
  randomFile(join(local, 'five.bin'), 5 << 20);
  let srv = await serve(data);
  const pw = srv.password!;
  const auth = ['-u', `admin:${pw}`];
  const url = (p: string) => new URL(p, srv.url).href;
  try {
    assert.equal(curl([...auth, '-X', 'MKCOL', url('/q/')]).status, '201');
    const set = await dw(['quota', 'set', '--dir', '/q', '--bytes', '10M', '--data', data]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /dir\s+\/q\s+0 B\s+10(\.0)? MiB/);
    assert.equal(curl([...auth, '-T', join(local, 'four.bin'), url('/q/four.bin')]).status, '201');
    // RFC 4331 properties show the directory quota to WebDAV clients (Finder, Explorer, davfs2).
    const qp = curl([...auth, '-X', 'PROPFIND', '-H', 'Depth: 0', '-H', 'Content-Type: application/xml', '--data',
      '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>', url('/q/')]);
    assert.match(qp.body, /<D:quota-available-bytes>6291456<\/D:quota-available-bytes>/, qp.body);
    assert.match(qp.body, /<D:quota-used-bytes>4194304<\/D:quota-used-bytes>/);

    // WebDAV: 507, and no partial file left behind.
    const big = curl([...auth, '-T', join(local, 'eleven.bin'), url('/q/eleven.bin')]);
    assert.equal(big.status, '507', big.body);
    assert.equal(curl([...auth, '-I', url('/q/eleven.bin')]).status, '404', 'the refused upload left nothing');

    // SFTP: the upload fails and says why.
    const put = sftpCommands(srv.sftpPort, 'admin', pw, `put ${join(local, 'eleven.bin')} /q/eleven-sftp.bin\n`);
    assert.match(put.stderr, /Failure/, put.stderr); // OpenSSH prints the status code's name only
    // lftp prints the status message the server sent with it.
    const lp = lftp(srv.sftpPort, 'admin', pw, `put ${join(local, 'eleven.bin')} -o /q/eleven-lftp.bin`);
    assert.match(lp.stderr, /quota exceeded/, lp.stderr);
    curl([...auth, '-X', 'DELETE', url('/q/eleven-lftp.bin')]);
    const have = sizes(srv, pw, '/q');
    assert.ok((have.get('/q/eleven-sftp.bin') ?? 0) <= 6 << 20, 'at most what fitted was kept');

    // What was there is intact, and the usage is the files' bytes.
    const back = join(tmp, 'four.back');
    const got = spawnCurl([...auth, '-o', back, url('/q/four.bin')]);
    assert.equal(got, '200');
    assert.equal(await sha256File(back), await sha256File(join(local, 'four.bin')));
    let q = await quota(data, '/q');
    assert.equal(q.usage.bytes, [...sizes(srv, pw, '/q').values()].reduce((a, b) => a + b, 0), 'usage = bytes of the files');

    // WebDAV MOVE into the quota directory: a copy and delete underneath (EXDEV), still within the limit.
    assert.equal(curl([...auth, '-X', 'DELETE', url('/q/eleven-sftp.bin')]).status, '204');
    assert.equal(curl([...auth, '-T', join(local, 'four.bin'), url('/m1.bin')]).status, '201');
    assert.equal(curl([...auth, '-T', join(local, 'four.bin'), url('/m2.bin')]).status, '201');
    assert.equal(curl([...auth, '-X', 'MOVE', '-H', `Destination: ${url('/q/m1.bin')}`, url('/m1.bin')]).status, '201');
    assert.equal((await quota(data, '/q')).usage.bytes, 8 << 20);
    assert.equal(curl([...auth, '-X', 'MOVE', '-H', `Destination: ${url('/q/m2.bin')}`, url('/m2.bin')]).status, '507', 'past the limit');
    assert.equal(curl([...auth, '-I', url('/m2.bin')]).status, '200', 'the refused move left the source');
    assert.equal(curl([...auth, '-I', url('/q/m2.bin')]).status, '404', 'and no partial copy');
    assert.equal(curl([...auth, '-X', 'DELETE', url('/q/m1.bin')]).status, '204');

    // kill -9 in the middle of an upload (rate-limited so it is surely under way), then restart.
    const slow = spawn('curl', ['-sS', ...auth, '--limit-rate', '1M', '-T', join(local, 'five.bin'), url('/q/five.bin')], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 2500));
    await srv.kill();
    slow.kill();
    srv = await serve(data);
    const after = sizes(srv, pw, '/q');
    q = await quota(data, '/q');
    assert.equal(q.usage.bytes, [...after.values()].reduce((a, b) => a + b, 0), `usage = bytes of the files after the crash (${JSON.stringify([...after])})`);
    assert.equal(await sha256File(back), await sha256File(join(local, 'four.bin')));
  } finally {
    assert.equal(await srv.stop(), 0, srv.stderr().slice(-2000));
  }
});

function spawnCurl(args: string[]): string {
  return spawnSync('curl', ['-sS', '-w', '%{http_code}', ...args], { encoding: 'utf8' }).stdout;
}
