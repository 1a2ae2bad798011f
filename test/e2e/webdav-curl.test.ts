// The WebDAV server with a real client (curl): streaming PUT/GET of a large file with sha256,
// Range, 401, traversal attempts, TLS; plus a raw client that proves PUT streams into the VFS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT_CTX, type PathVfs, type Vfs } from '../../vfs/index.js';
import { TEST_PASSWORD, TEST_USER, startTestServer, type TestServer } from '../../protocols/webdav/test-helpers.js';

const exec = promisify(execFile);
const CRED = `${TEST_USER}:${TEST_PASSWORD}`;

/** Runs curl; returns the HTTP status it printed (-w) and stdout before it. */
async function curl(args: string[]): Promise<{ status: number; out: string }> {
  const { stdout } = await exec('curl', ['-s', '-S', '-w', '\n%{http_code}', ...args], { maxBuffer: 1 << 20, encoding: 'utf8' });
  const i = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(i + 1)), out: stdout.slice(0, i) };
}

/** Wraps a PathVfs so every vfs.write is recorded (size, time). */
function recordingWrites(p: PathVfs, log: Array<{ n: number; t: number }>): PathVfs {
  const vfs = new Proxy(p.vfs, {
    get(target, prop, recv) {
      if (prop === 'write') {
        return (ctx: Parameters<Vfs['write']>[0], fh: number, off: number, data: Uint8Array) => {
          log.push({ n: data.length, t: Date.now() });
          return target.write(ctx, fh, off, data);
        };
      }
      const v = Reflect.get(target, prop, recv);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return new Proxy(p, {
    get(target, prop, recv) {
      if (prop === 'vfs') return vfs;
      const v = Reflect.get(target, prop, recv);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('webdav with curl', () => {
  let s: TestServer;
  let dir: string;
  const writes: Array<{ n: number; t: number }> = [];
  before(async () => {
    s = await startTestServer({ wrap: (p) => recordingWrites(p, writes) });
    dir = mkdtempSync(join(tmpdir(), 'dw-webdav-curl-'));
  });
  after(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('64 MiB PUT streams in ≤ 1 MiB writes and GET returns the same sha256', { timeout: 120_000 }, async () => {
    const file = join(dir, 'big.bin');
    const h = createHash('sha256');
    const ws = createWriteStream(file);
    for (let i = 0; i < 64; i++) {
      const b = randomBytes(1 << 20);
      h.update(b);
      if (!ws.write(b)) await new Promise<void>((r) => ws.once('drain', () => r()));
    }
    await new Promise<void>((r) => ws.end(() => r()));
    const want = h.digest('hex');
    writes.length = 0;
    const put = await curl(['-u', CRED, '-T', file, `${s.url}big.bin`]);
    assert.equal(put.status, 201);
    assert.ok(writes.length >= 64, `${writes.length} writes`);
    assert.ok(writes.every((w) => w.n <= 1 << 20), 'every VFS write is at most one record');
    const out = join(dir, 'back.bin');
    const get = await curl(['-u', CRED, '-o', out, `${s.url}big.bin`]);
    assert.equal(get.status, 200);
    assert.equal(createHash('sha256').update(readFileSync(out)).digest('hex'), want);
    const part = await curl(['-u', CRED, '-r', '1048570-1048589', '-o', join(dir, 'part'), `${s.url}big.bin`]);
    assert.equal(part.status, 206);
    assert.deepEqual(readFileSync(join(dir, 'part')), readFileSync(file).subarray(1048570, 1048590));
    assert.equal((await curl(['-u', CRED, '-r', '67108864-', '-o', '/dev/null', `${s.url}big.bin`])).status, 416);
  });

  test('PUT writes reach the VFS while the body is still arriving', { timeout: 60_000 }, async () => {
    writes.length = 0;
    const total = 16 << 20;
    const r = http.request({ host: '127.0.0.1', port: s.port, method: 'PUT', path: '/slow.bin', agent: false,
      headers: { 'Content-Length': total, Authorization: 'Basic ' + Buffer.from(CRED).toString('base64') } });
    const done = new Promise<number>((resolve, reject) => {
      r.on('response', (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      r.on('error', reject);
    });
    r.write(Buffer.alloc(8 << 20, 1));
    const deadline = Date.now() + 20_000;
    while (writes.reduce((a, w) => a + w.n, 0) < 4 << 20 && Date.now() < deadline) await new Promise((x) => setTimeout(x, 20));
    const before = writes.reduce((a, w) => a + w.n, 0);
    assert.ok(before >= 4 << 20, `only ${before} bytes written while half the body was sent`);
    r.end(Buffer.alloc(8 << 20, 2));
    assert.equal(await done, 201);
    assert.equal((await s.inst.paths.stat(ROOT_CTX, '/slow.bin')).size, total);
  });

  test('401 without or with wrong credentials', async () => {
    const none = await curl(['-D', '-', '-o', '/dev/null', `${s.url}`]);
    assert.equal(none.status, 401);
    assert.match(none.out, /WWW-Authenticate: Basic realm=/i);
    assert.equal((await curl(['-u', `${TEST_USER}:wrong`, '-o', '/dev/null', `${s.url}`])).status, 401);
    assert.equal((await curl(['-u', `${TEST_USER}:wrong`, '-T', '/etc/hostname', `${s.url}x`])).status, 401);
    await assert.rejects(s.inst.paths.stat(ROOT_CTX, '/x'));
  });

  test('traversal attempts are refused and nothing is created', async () => {
    const before = (await s.inst.paths.readdir(ROOT_CTX, '/')).map((e) => e.name).sort();
    for (const p of ['/../../etc/passwd', '/a/../../x', '/%2e%2e/%2e%2e/etc/passwd', '/%2E%2E%2Fescape', '/x%00y', '/..%2fescape', `/${'n'.repeat(300)}`]) {
      const get = await curl(['--path-as-is', '-u', CRED, '-o', '/dev/null', `${s.url.slice(0, -1)}${p}`]);
      assert.ok(get.status === 400 || get.status === 414, `GET ${p}: ${get.status}`);
      const put = await curl(['--path-as-is', '-u', CRED, '-T', '/etc/hostname', '-o', '/dev/null', `${s.url.slice(0, -1)}${p}`]);
      assert.ok(put.status === 400 || put.status === 414, `PUT ${p}: ${put.status}`);
    }
    const mv = await curl(['-u', CRED, '-X', 'COPY', '-H', `Destination: ${s.url}%2e%2e/escape`, '-o', '/dev/null', `${s.url}big.bin`]);
    assert.equal(mv.status, 400);
    assert.deepEqual((await s.inst.paths.readdir(ROOT_CTX, '/')).map((e) => e.name).sort(), before);
  });

  test('TLS with a configured certificate', { timeout: 60_000 }, async () => {
    const key = join(dir, 'key.pem'), cert = join(dir, 'cert.pem');
    await exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1']);
    const t = await startTestServer({ tls: { cert: readFileSync(cert), key: readFileSync(key) } });
    try {
      assert.match(t.url, /^https:/);
      writeFileSync(join(dir, 'small'), 'over tls');
      assert.equal((await curl(['-k', '-u', CRED, '-T', join(dir, 'small'), `${t.url}s.txt`])).status, 201);
      const g = await curl(['--cacert', cert, '-u', CRED, `${t.url}s.txt`]);
      assert.equal(g.status, 200);
      assert.equal(g.out, 'over tls');
    } finally {
      await t.close();
    }
  });
});
