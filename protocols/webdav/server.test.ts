import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ROOT_CTX } from '../../vfs/index.js';
import { TEST_PASSWORD, TEST_PRINCIPAL, TEST_USER, req, startTestServer, testAuthenticator, type TestServer } from './test-helpers.js';

const BOB = { name: 'bob', uid: 2000, gid: 2000, groups: [] };
const asBob: [string, string] = ['bob', 'bob-pw'];
const propfindBody = (props: string): string => `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>${props}</D:prop></D:propfind>`;
const lockBody = (scope: 'exclusive' | 'shared'): string =>
  `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:${scope}/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>mailto:a@b</D:href></D:owner></D:lockinfo>`;

describe('webdav server (in-process, memory VFS)', () => {
  let s: TestServer;
  let port: number;
  before(async () => {
    s = await startTestServer({ auth: testAuthenticator({ [TEST_USER]: [TEST_PASSWORD, TEST_PRINCIPAL], bob: ['bob-pw', BOB] }) });
    port = s.port;
  });
  after(async () => { await s.close(); });

  test('Basic auth: 401 with WWW-Authenticate for none, wrong or malformed credentials', async () => {
    for (const auth of [false, ['alice', 'nope'], ['nobody', TEST_PASSWORD]] as const) {
      const r = await req(port, 'PROPFIND', '/', { auth: auth as false | [string, string] });
      assert.equal(r.status, 401);
      assert.match(String(r.headers['www-authenticate']), /^Basic realm="/);
    }
    const r = await req(port, 'GET', '/', { auth: false, headers: { Authorization: 'Basic %%%' } });
    assert.equal(r.status, 401);
  });

  test('OPTIONS advertises DAV 1, 2; unknown methods 501, POST 405', async () => {
    const r = await req(port, 'OPTIONS', '/');
    assert.equal(r.status, 200);
    assert.equal(r.headers.dav, '1, 2');
    assert.match(String(r.headers.allow), /PROPFIND/);
    assert.equal((await req(port, 'REPORT', '/')).status, 501);
    assert.equal((await req(port, 'PATCH', '/')).status, 501);
    const p = await req(port, 'POST', '/');
    assert.equal(p.status, 405);
    assert.ok(p.headers.allow);
  });

  test('PUT/GET: 201 then 204, ETag, Range 206/416, conditionals, 409 without parent, 405 on a collection', async () => {
    const data = Buffer.from('0123456789abcdefghij');
    const c = await req(port, 'PUT', '/f.txt', { body: data });
    assert.equal(c.status, 201);
    const etag1 = c.headers.etag!;
    assert.match(etag1, /^"[0-9a-f]+-14-[0-9a-f]+"$/);
    const g = await req(port, 'GET', '/f.txt');
    assert.equal(g.status, 200);
    assert.deepEqual(g.body, data);
    assert.equal(g.headers.etag, etag1);
    assert.equal(g.headers['content-type'], 'text/plain');
    const rg = await req(port, 'GET', '/f.txt', { headers: { Range: 'bytes=5-9' } });
    assert.equal(rg.status, 206);
    assert.equal(rg.text, '56789');
    assert.equal(rg.headers['content-range'], 'bytes 5-9/20');
    assert.equal((await req(port, 'GET', '/f.txt', { headers: { Range: 'bytes=-3' } })).text, 'hij');
    const u = await req(port, 'GET', '/f.txt', { headers: { Range: 'bytes=20-' } });
    assert.equal(u.status, 416);
    assert.equal(u.headers['content-range'], 'bytes */20');
    assert.equal((await req(port, 'GET', '/f.txt', { headers: { Range: 'bytes=1-2', 'If-Range': '"other"' } })).status, 200);
    assert.equal((await req(port, 'GET', '/f.txt', { headers: { 'If-None-Match': etag1 } })).status, 304);
    const h = await req(port, 'HEAD', '/f.txt');
    assert.equal(h.headers['content-length'], '20');
    assert.equal(h.body.length, 0);
    assert.equal((await req(port, 'PUT', '/f.txt', { body: 'x', headers: { 'If-Match': '"nope"' } })).status, 412);
    assert.equal((await req(port, 'PUT', '/f.txt', { body: 'new', headers: { 'If-Match': etag1 } })).status, 204);
    assert.equal((await req(port, 'GET', '/f.txt')).text, 'new');
    assert.equal((await req(port, 'PUT', '/nodir/f', { body: 'x' })).status, 409);
    assert.equal((await req(port, 'PUT', '/f.txt', { body: 'x', headers: { 'Content-Range': 'bytes 0-0/1' } })).status, 400);
    await req(port, 'MKCOL', '/pc');
    assert.equal((await req(port, 'PUT', '/pc', { body: 'x' })).status, 405);
  });

  test('MKCOL 201/405/409/415 and DELETE of files and trees', async () => {
    assert.equal((await req(port, 'MKCOL', '/m')).status, 201);
    assert.equal((await req(port, 'MKCOL', '/m')).status, 405);
    assert.equal((await req(port, 'MKCOL', '/x/y')).status, 409);
    assert.equal((await req(port, 'MKCOL', '/m2', { body: '<a/>', headers: { 'Content-Type': 'text/xml' } })).status, 415);
    await req(port, 'MKCOL', '/m/sub');
    await req(port, 'PUT', '/m/sub/f', { body: 'x' });
    assert.equal((await req(port, 'DELETE', '/m', { headers: { Depth: '0' } })).status, 400);
    assert.equal((await req(port, 'DELETE', '/m')).status, 204);
    assert.equal((await req(port, 'GET', '/m/sub/f')).status, 404);
    assert.equal((await req(port, 'DELETE', '/m')).status, 404);
    assert.equal((await req(port, 'DELETE', '/')).status, 403);
  });

  test('COPY/MOVE: 201/204/412/409/403/502, Depth 0, dead properties travel', async () => {
    const host = `127.0.0.1:${port}`;
    await req(port, 'MKCOL', '/cm');
    await req(port, 'PUT', '/cm/a', { body: 'A' });
    await req(port, 'PROPPATCH', '/cm/a', { body: '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><z:p xmlns:z="urn:z">v</z:p></D:prop></D:set></D:propertyupdate>' });
    const dest = (p: string): Record<string, string> => ({ Destination: `http://${host}${p}` });
    assert.equal((await req(port, 'COPY', '/cm/a', { headers: dest('/cm/b') })).status, 201);
    assert.equal((await req(port, 'COPY', '/cm/a', { headers: dest('/cm/b') })).status, 204);
    assert.equal((await req(port, 'COPY', '/cm/a', { headers: { ...dest('/cm/b'), Overwrite: 'F' } })).status, 412);
    assert.equal((await req(port, 'COPY', '/cm/a', { headers: dest('/none/b') })).status, 409);
    assert.equal((await req(port, 'COPY', '/cm/a', { headers: dest('/cm/a') })).status, 403);
    assert.equal((await req(port, 'COPY', '/cm/a', { headers: { Destination: 'http://elsewhere.example/cm/c' } })).status, 502);
    assert.equal((await req(port, 'COPY', '/cm', { headers: dest('/cm/inner') })).status, 403);
    assert.equal((await req(port, 'COPY', '/cm/a', { headers: { ...dest('/cm/c'), Depth: '1' } })).status, 400);
    const pf = await req(port, 'PROPFIND', '/cm/b', { headers: { Depth: '0' }, body: propfindBody('<z:p xmlns:z="urn:z"/>') });
    assert.match(pf.text, /<p xmlns="urn:z">v<\/p>/);
    assert.equal((await req(port, 'COPY', '/cm', { headers: { ...dest('/cm0'), Depth: '0' } })).status, 201);
    const shallow = await req(port, 'PROPFIND', '/cm0', { headers: { Depth: '1' }, body: propfindBody('<D:resourcetype/>') });
    assert.equal((shallow.text.match(/<D:response>/g) ?? []).length, 1);
    assert.equal((await req(port, 'MOVE', '/cm/b', { headers: { Destination: '/cm/moved' } })).status, 201);
    assert.equal((await req(port, 'GET', '/cm/b')).status, 404);
    assert.equal((await req(port, 'GET', '/cm/moved')).text, 'A');
    assert.equal((await req(port, 'MOVE', '/cm/moved', { headers: { ...dest('/cm/a'), Overwrite: 'F' } })).status, 412);
    assert.equal((await req(port, 'MOVE', '/cm/moved', { headers: dest('/cm/a') })).status, 204);
    assert.equal((await req(port, 'MOVE', '/cm', { headers: { ...dest('/cm2'), Depth: '0' } })).status, 400);
  });

  test('PROPFIND: depths, live props, 404 propstat for unknown, propname, malformed bodies 400', async () => {
    await req(port, 'MKCOL', '/pf');
    await req(port, 'MKCOL', '/pf/d');
    await req(port, 'PUT', '/pf/d/f.bin', { body: 'xyz' });
    const count = (t: string): number => (t.match(/<D:response>/g) ?? []).length;
    const d0 = await req(port, 'PROPFIND', '/pf', { headers: { Depth: '0' } });
    assert.equal(d0.status, 207);
    assert.equal(count(d0.text), 1);
    assert.match(d0.text, /<D:href>\/pf\/<\/D:href>/);
    assert.match(d0.text, /<D:resourcetype><D:collection\/><\/D:resourcetype>/);
    assert.equal(count((await req(port, 'PROPFIND', '/pf', { headers: { Depth: '1' } })).text), 2);
    const inf = await req(port, 'PROPFIND', '/pf');
    assert.equal(count(inf.text), 3);
    assert.match(inf.text, /<D:getcontentlength>3<\/D:getcontentlength>/);
    const q = await req(port, 'PROPFIND', '/pf/d/f.bin', { headers: { Depth: '0' }, body: propfindBody('<D:getetag/><D:getcontentlength/><x:nope xmlns:x="urn:x"/>') });
    assert.match(q.text, /<D:getetag>"[0-9a-f-]+"<\/D:getetag>/);
    assert.match(q.text, /<nope xmlns="urn:x"\/><\/D:prop><D:status>HTTP\/1.1 404 Not Found/);
    const names = await req(port, 'PROPFIND', '/pf/d/f.bin', { headers: { Depth: '0' }, body: '<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>' });
    assert.match(names.text, /<D:getlastmodified\/>/);
    assert.equal((await req(port, 'PROPFIND', '/pf', { body: '<D:propfind xmlns:D="DAV:"><D:prop>' })).status, 400);
    assert.equal((await req(port, 'PROPFIND', '/pf', { body: '<!DOCTYPE x [<!ENTITY a "b">]><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>' })).status, 400);
    assert.equal((await req(port, 'PROPFIND', '/pf', { body: '<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>' })).status, 400);
    assert.equal((await req(port, 'PROPFIND', '/pf', { headers: { Depth: '2' } })).status, 400);
    assert.equal((await req(port, 'PROPFIND', '/nothing')).status, 404);
    assert.equal((await req(port, 'PROPFIND', '/pf', { body: Buffer.alloc((1 << 20) + 10, 0x20) })).status, 413);
  });

  test('PROPPATCH: dead properties as xattrs, all-or-nothing with 403/424', async () => {
    await req(port, 'PUT', '/pp', { body: 'x' });
    const set = '<D:propertyupdate xmlns:D="DAV:" xmlns:z="urn:z"><D:set><D:prop><z:a xml:lang="en">one <b xmlns="urn:q" c="1">two</b></z:a><z:b>B</z:b></D:prop></D:set></D:propertyupdate>';
    const r = await req(port, 'PROPPATCH', '/pp', { body: set });
    assert.equal(r.status, 207);
    assert.match(r.text, /HTTP\/1.1 200 OK/);
    const names = await s.inst.paths.listxattr(ROOT_CTX, '/pp');
    assert.equal(names.filter((n) => n.startsWith('user.dav.')).length, 2);
    const bad = '<D:propertyupdate xmlns:D="DAV:" xmlns:z="urn:z"><D:remove><D:prop><z:b/></D:prop></D:remove><D:set><D:prop><D:getetag>x</D:getetag></D:prop></D:set></D:propertyupdate>';
    const f = await req(port, 'PROPPATCH', '/pp', { body: bad });
    assert.equal(f.status, 207);
    assert.match(f.text, /<D:getetag\/><\/D:prop><D:status>HTTP\/1.1 403 Forbidden/);
    assert.match(f.text, /<b xmlns="urn:z"\/><\/D:prop><D:status>HTTP\/1.1 424 Failed Dependency/);
    const g = await req(port, 'PROPFIND', '/pp', { headers: { Depth: '0' }, body: propfindBody('<z:a xmlns:z="urn:z"/><z:b xmlns:z="urn:z"/>') });
    assert.match(g.text, /<a xmlns="urn:z" xml:lang="en">one <b xmlns="urn:q" c="1">two<\/b><\/a>/);
    assert.match(g.text, /<b xmlns="urn:z">B<\/b>/, 'z:b survived the failed PROPPATCH');
    const rm = '<D:propertyupdate xmlns:D="DAV:"><D:remove><D:prop><z:b xmlns:z="urn:z"/><z:never xmlns:z="urn:z"/></D:prop></D:remove></D:propertyupdate>';
    assert.doesNotMatch((await req(port, 'PROPPATCH', '/pp', { body: rm })).text, /424|403/);
    assert.equal((await req(port, 'PROPPATCH', '/pp', { body: '<D:propfind xmlns:D="DAV:"/>' })).status, 400);
    assert.equal((await req(port, 'PROPPATCH', '/none', { body: set })).status, 404);
  });

  test('LOCK/UNLOCK: 423 without the token, If header with tokens and ETags, shared locks, refresh, lock-null', async () => {
    await req(port, 'PUT', '/lk', { body: 'x' });
    const l = await req(port, 'LOCK', '/lk', { body: lockBody('exclusive'), headers: { Timeout: 'Second-100' } });
    assert.equal(l.status, 200);
    const token = /^<(.+)>$/.exec(String(l.headers['lock-token']))![1]!;
    assert.match(token, /^urn:uuid:/);
    assert.match(l.text, /<D:timeout>Second-100<\/D:timeout>/);
    assert.match(l.text, /<owner xmlns="DAV:"><href xmlns="DAV:">mailto:a@b<\/href><\/owner>/);
    assert.equal((await req(port, 'LOCK', '/lk', { body: lockBody('shared') })).status, 423);
    const blocked = await req(port, 'PUT', '/lk', { body: 'y' });
    assert.equal(blocked.status, 423);
    assert.match(blocked.text, /<D:lock-token-submitted><D:href>\/lk<\/D:href>/);
    assert.equal((await req(port, 'DELETE', '/lk')).status, 423);
    assert.equal((await req(port, 'PUT', '/lk', { body: 'y', headers: { If: `(<${token}>)` } })).status, 204);
    assert.equal((await req(port, 'PUT', '/lk', { body: 'y', headers: { If: `(<${token}>)` }, auth: asBob })).status, 423);
    const etag = (await req(port, 'HEAD', '/lk')).headers.etag!;
    assert.equal((await req(port, 'PUT', '/lk', { body: 'z', headers: { If: `(<${token}> [${etag}])` } })).status, 204);
    assert.equal((await req(port, 'PUT', '/lk', { body: 'z', headers: { If: `(<${token}> ["stale"])` } })).status, 412);
    assert.equal((await req(port, 'PUT', '/lk', { body: 'z', headers: { If: `(<${token}x>) (Not <DAV:no-lock>)` } })).status, 423);
    assert.equal((await req(port, 'PUT', '/lk', { body: 'z', headers: { If: `</lk> (<${token}>)` } })).status, 204);
    assert.equal((await req(port, 'PUT', '/lk', { body: 'z', headers: { If: '(<DAV:no-lock>)' } })).status, 412);
    const refresh = await req(port, 'LOCK', '/lk', { headers: { If: `(<${token}>)`, Timeout: 'Second-50' } });
    assert.equal(refresh.status, 200);
    assert.match(refresh.text, /Second-50/);
    assert.equal((await req(port, 'UNLOCK', '/lk', { headers: { 'Lock-Token': '<urn:uuid:bogus>' } })).status, 409);
    assert.equal((await req(port, 'UNLOCK', '/lk', { headers: { 'Lock-Token': `<${token}>` }, auth: asBob })).status, 403);
    assert.equal((await req(port, 'UNLOCK', '/lk', { headers: { 'Lock-Token': `<${token}>` } })).status, 204);
    assert.equal((await req(port, 'PUT', '/lk', { body: 'free' })).status, 204);

    const s1 = await req(port, 'LOCK', '/lk', { body: lockBody('shared') });
    const s2 = await req(port, 'LOCK', '/lk', { body: lockBody('shared') });
    assert.equal(s1.status, 200);
    assert.equal(s2.status, 200);
    assert.equal((await req(port, 'LOCK', '/lk', { body: lockBody('exclusive') })).status, 423);

    const nul = await req(port, 'LOCK', '/lock-null', { body: lockBody('exclusive') });
    assert.equal(nul.status, 201);
    assert.equal((await req(port, 'GET', '/lock-null')).body.length, 0);
    assert.equal((await req(port, 'LOCK', '/no/parent', { body: lockBody('exclusive') })).status, 409);

    await req(port, 'MKCOL', '/lc');
    const lc = await req(port, 'LOCK', '/lc', { body: lockBody('exclusive'), headers: { Depth: 'infinity' } });
    const ctok = /^<(.+)>$/.exec(String(lc.headers['lock-token']))![1]!;
    assert.equal((await req(port, 'PUT', '/lc/new', { body: 'x' })).status, 423);
    assert.equal((await req(port, 'MKCOL', '/lc/sub')).status, 423);
    assert.equal((await req(port, 'PUT', '/lc/new', { body: 'x', headers: { If: `</lc/> (<${ctok}>)` } })).status, 201);
    const disc = await req(port, 'PROPFIND', '/lc/new', { headers: { Depth: '0' }, body: propfindBody('<D:lockdiscovery/>') });
    assert.match(disc.text, /<D:lockroot><D:href>\/lc\/<\/D:href><\/D:lockroot>/);
    assert.equal((await req(port, 'LOCK', '/lc', { body: lockBody('exclusive'), headers: { Depth: '1' } })).status, 400);
    assert.equal((await req(port, 'LOCK', '/lc', { body: '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope></D:lockinfo>' })).status, 400);
    assert.equal((await req(port, 'DELETE', '/lc', { headers: { If: `(<${ctok}>)` } })).status, 204);
    assert.equal((await req(port, 'MKCOL', '/lc')).status, 201, 'DELETE dropped the lock');
  });

  test('an aborted upload of a new file leaves nothing behind', async () => {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const auth = Buffer.from(`${TEST_USER}:${TEST_PASSWORD}`).toString('base64');
    sock.write(`PUT /aborted.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${auth}\r\nContent-Length: 100000\r\n\r\n` + 'x'.repeat(5000));
    await new Promise((r) => setTimeout(r, 200));
    sock.destroy();
    let st = 0;
    for (let i = 0; i < 50 && st !== 404; i++) {
      await new Promise((r) => setTimeout(r, 20));
      st = (await req(port, 'HEAD', '/aborted.bin')).status;
    }
    assert.equal(st, 404);
  });

  test('VFS errors map through the table: EACCES → 403', async () => {
    await s.inst.paths.mkdir(ROOT_CTX, '/rootonly', 0o755);
    assert.equal((await req(port, 'PUT', '/rootonly/f', { body: 'x' })).status, 403);
    assert.equal((await req(port, 'MKCOL', '/rootonly/d')).status, 403);
  });
});
