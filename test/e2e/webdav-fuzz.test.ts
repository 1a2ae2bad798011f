// Bad input at a running WebDAV server: fast-check throws garbage requests (methods, targets
// with .., %2e%2e, %00, overlong names, malformed Depth/Destination/If/Range/Timeout headers,
// broken XML, lying Content-Length) over raw sockets. The server must stay up, answer every
// request with an error status (never 500) or close the connection, hand the VFS only clean
// paths, and leave everything outside the export untouched.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import { ROOT_CTX, type PathVfs } from '../../vfs/index.js';
import { TEST_PASSWORD, TEST_USER, TEST_PRINCIPAL, req, startTestServer, type TestServer } from '../../protocols/webdav/test-helpers.js';

const CLEAN = /^\/(?:[^/\0]+(?:\/[^/\0]+)*)?$/;
const PATH_ARGS: Record<string, number[]> = {
  normalize: [0], resolve: [1], stat: [1], lstat: [1], readdir: [1], mkdir: [1], open: [1], unlink: [1], rmdir: [1],
  removeTree: [1], rename: [1, 2], copy: [1, 2], symlink: [2], readlink: [1], link: [1, 2], setattr: [1], statfs: [1],
  getxattr: [1], setxattr: [1], listxattr: [1], removexattr: [1],
};

/** A PathVfs that serves /export of the real one; records every path the server hands it. */
function jail(inner: PathVfs, seen: string[]): PathVfs {
  return new Proxy(inner, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (typeof v !== 'function') return v;
      const idx = PATH_ARGS[String(prop)];
      if (!idx) return v.bind(target);
      return (...args: unknown[]) => {
        for (const i of idx) {
          const p = String(args[i]);
          seen.push(p);
          args[i] = '/export' + (p === '/' ? '' : p);
        }
        return v.apply(target, args);
      };
    },
  });
}

/** Sends raw bytes, returns the status of the first response ('closed' if none within 5 s). */
function raw(port: number, data: Buffer): Promise<number | 'closed'> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const done = (v: number | 'closed'): void => { clearTimeout(timer); sock.destroy(); resolve(v); };
    const timer = setTimeout(() => done('closed'), 5000);
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      if (m) done(Number(m[1]));
    });
    sock.on('error', () => done('closed'));
    sock.on('close', () => done('closed'));
    sock.write(data, () => sock.end());
  });
}

const AUTH = 'Basic ' + Buffer.from(`${TEST_USER}:${TEST_PASSWORD}`).toString('base64');
const tricky = fc.constantFrom('..', '.', '%2e%2e', '%2E%2E%2F', '%00', '%2f', '%', '%zz', '%c3%28', '%e2%82%ac', '#x', '?q', '//', 'a', 'dir', 'file.txt', 'n'.repeat(300), '\u00ff');
const target = fc.oneof(
  fc.array(tricky, { maxLength: 6 }).map((a) => '/' + a.join('/')),
  fc.string({ maxLength: 30 }).map((s) => '/' + encodeURI(s)),
  fc.constantFrom('*', 'http://127.0.0.1/a', 'http://evil/../x', '', 'relative', '/' + 'x/'.repeat(3000)),
);
const xmlish = fc.array(fc.constantFrom('<', '>', '/', 'D:', 'propfind', 'prop', 'lockinfo', 'propertyupdate', 'set', ' xmlns:D="DAV:"', ' xmlns:x=""', '<!DOCTYPE a [<!ENTITY e "x">]>', '&e;', '&#0;', '<![CDATA[', ']]>', 'allprop', 'lockscope', 'exclusive', 'write', 'x:y', '"', ' '), { maxLength: 40 }).map((a) => a.join(''));
const headerValue = fc.oneof(fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n\0]/g, '')), fc.constantFrom(
  '0', '1', 'infinity', '2', '-1', 'T', 'F', 'maybe', 'Second-99999999999999999999999', 'Infinite', 'Second--5',
  '(<urn:uuid:x>)', '(Not <DAV:no-lock>)', '<http://127.0.0.1/../x> (<a>)', '((', '([W/"x"])', 'bytes=-0', 'bytes=99999999999999999999999-',
  'bytes=-5-3', 'bytes=0-0,1-1', 'http://127.0.0.1/%2e%2e/x', '/%00', 'http://other/x', '<urn:x>', 'bytes 0-1/2', '*', '"e"',
));
const headerName = fc.constantFrom('Depth', 'Overwrite', 'Destination', 'Timeout', 'If', 'Range', 'Lock-Token', 'Content-Range', 'If-Match', 'If-None-Match', 'If-Range', 'Content-Type', 'Expect');
const request = fc.record({
  method: fc.oneof(
    { arbitrary: fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE', 'MKCOL', 'COPY', 'MOVE', 'PROPFIND', 'PROPPATCH', 'LOCK', 'UNLOCK', 'OPTIONS', 'POST', 'REPORT', 'SEARCH'), weight: 8 },
    { arbitrary: fc.stringMatching(/^[A-Z]{1,10}$/), weight: 1 },
  ),
  target,
  headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 5 }),
  body: fc.oneof(fc.constant(''), xmlish, fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u).toString('latin1'))),
  lie: fc.constantFrom('exact', 'short', 'none', 'chunked-junk'),
  auth: fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, { arbitrary: fc.constant(false), weight: 1 }),
});

type FuzzRequest = typeof request extends fc.Arbitrary<infer T> ? T : never;

function render(r: FuzzRequest): Buffer {
  const body = Buffer.from(r.body, 'latin1');
  let head = `${r.method} ${r.target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`;
  if (r.auth) head += `Authorization: ${AUTH}\r\n`;
  for (const [k, v] of r.headers) head += `${k}: ${v}\r\n`;
  if (r.lie === 'exact') head += `Content-Length: ${body.length}\r\n\r\n`;
  else if (r.lie === 'short') head += `Content-Length: ${body.length + 50}\r\n\r\n`;
  else if (r.lie === 'chunked-junk') return Buffer.concat([Buffer.from(head + 'Transfer-Encoding: chunked\r\n\r\nzz\r\n', 'latin1'), body]);
  else head += '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), r.lie === 'none' ? Buffer.alloc(0) : body]);
}

let s: TestServer;
const seen: string[] = [];
let secretMtime: bigint;
before(async () => {
  s = await startTestServer({ wrap: (p) => jail(p, seen) });
  const p = s.inst.paths;
  await p.mkdir(ROOT_CTX, '/export', 0o755);
  await p.setattr(ROOT_CTX, '/export', { uid: TEST_PRINCIPAL.uid, gid: TEST_PRINCIPAL.gid });
  await p.mkdir(ROOT_CTX, '/outside', 0o777);
  const { fh } = await p.open(ROOT_CTX, '/outside/secret.txt', { write: true, create: true }, 0o666);
  await p.vfs.write(ROOT_CTX, fh, 0, Buffer.from('secret'));
  await p.vfs.release(ROOT_CTX, fh);
  secretMtime = (await p.stat(ROOT_CTX, '/outside/secret.txt')).mtimeNs;
  // Something inside the export for the fuzzer to hit.
  assert.equal((await req(s.port, 'MKCOL', '/dir')).status, 201);
  assert.equal((await req(s.port, 'PUT', '/file.txt', { body: 'hello' })).status, 201);
});
after(async () => { await s.close(); });

test('garbage requests: server stays up, never 500, VFS sees only clean paths, outside untouched', { timeout: 240_000 }, async () => {
  const statuses = new Map<string, number>();
  await fc.assert(fc.asyncProperty(request, async (r) => {
    const st = await raw(s.port, render(r));
    statuses.set(String(st), (statuses.get(String(st)) ?? 0) + 1);
    assert.notEqual(st, 500, `500 for ${JSON.stringify(r).slice(0, 300)}`);
  }), { numRuns: 400 });
  // Still up and working.
  assert.equal((await req(s.port, 'OPTIONS', '/')).status, 200);
  assert.equal((await req(s.port, 'PUT', '/after.txt', { body: 'ok' })).status, 201);
  // Most garbage is refused with a 4xx; record the spread to make a silent all-'closed' run visible.
  const answered = [...statuses.entries()].filter(([k]) => k !== 'closed').reduce((a, [, n]) => a + n, 0);
  if (process.env.DW_FUZZ_VERBOSE) console.log(Object.fromEntries(statuses));
  assert.ok(answered > 300, `answers: ${JSON.stringify(Object.fromEntries(statuses))}`);
  for (const p of seen) {
    assert.match(p, CLEAN, `unclean path reached the VFS: ${JSON.stringify(p)}`);
    assert.ok(!p.split('/').some((c) => c === '.' || c === '..'), p);
  }
  const o = s.inst.paths;
  assert.deepEqual((await o.readdir(ROOT_CTX, '/')).map((e) => e.name).sort(), ['export', 'outside']);
  assert.deepEqual((await o.readdir(ROOT_CTX, '/outside')).map((e) => e.name), ['secret.txt']);
  const a = await o.stat(ROOT_CTX, '/outside/secret.txt');
  assert.equal(a.mtimeNs, secretMtime);
  const { fh } = await o.open(ROOT_CTX, '/outside/secret.txt', { read: true });
  assert.equal((await o.vfs.read(ROOT_CTX, fh, 0, 100)).toString(), 'secret');
  await o.vfs.release(ROOT_CTX, fh);
});
