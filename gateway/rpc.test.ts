import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { CliError, UsageError } from './errors.js';
import { callAdmin, LineDecoder, listenAdmin, NO_SERVER, parseRequest, RpcProtocolError } from './rpc.js';

/** Sends raw bytes to a socket, returns everything it answers until it closes. */
function raw(path: string, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    s.on('connect', () => s.write(bytes));
  });
}

describe('admin rpc', () => {
  test('LineDecoder: any chunking of the same bytes gives the same lines', () => {
    fc.assert(fc.property(
      fc.array(fc.string({ maxLength: 40 }).map((s) => s.replace(/\n/g, '')), { maxLength: 10 }),
      fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 20 }),
      (lines, cuts) => {
        const bytes = Buffer.from(lines.map((l) => `${l}\n`).join(''));
        const dec = new LineDecoder(1000);
        const got: string[] = [];
        let at = 0, i = 0;
        while (at < bytes.length) {
          const n = cuts[i++ % cuts.length]!;
          got.push(...dec.push(bytes.subarray(at, at + n)));
          at += n;
        }
        assert.deepEqual(got, lines);
      },
    ));
  });

  test('LineDecoder refuses a line over the limit, even split across chunks', () => {
    const dec = new LineDecoder(10);
    assert.deepEqual(dec.push(Buffer.from('0123456789\nab')), ['0123456789']);
    assert.throws(() => dec.push(Buffer.from('cdefghijk')), RpcProtocolError);
    assert.throws(() => new LineDecoder(4).push(Buffer.from('12345')), RpcProtocolError);
  });

  test('parseRequest accepts only well-formed requests (fuzz)', () => {
    assert.deepEqual(parseRequest('{"id":3,"method":"user.list"}'), { id: 3, method: 'user.list', params: {} });
    for (const bad of ['', 'null', '[]', '{"id":"1","method":"x"}', '{"id":1}', '{"id":1,"method":"A B"}', '{"id":1,"method":"x","params":[1]}', '{"id":1.5,"method":"x"}']) {
      assert.throws(() => parseRequest(bad), RpcProtocolError, bad);
    }
    fc.assert(fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
      try {
        const r = parseRequest(text);
        assert.equal(typeof r.method, 'string');
        assert.ok(Number.isSafeInteger(r.id));
        assert.equal(typeof r.params, 'object');
      } catch (err) {
        assert.ok(err instanceof RpcProtocolError);
      }
    }));
  });

  test('round trip with progress, errors, bad input and a stale socket', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dw-rpc-'));
    const path = join(dir, 'admin.sock');
    try {
      assert.equal(await callAdmin(path, 'ping', {}), NO_SERVER, 'no socket file: no server');
      const server = await listenAdmin(path, async (method, params, onProgress) => {
        if (method === 'work') {
          for (let i = 1; i <= 4; i++) onProgress(i, 4);
          return { echoed: params.x };
        }
        if (method === 'usage') throw new UsageError('bad value');
        if (method === 'busy') throw new CliError('already running', 'EBUSY');
        throw new Error('boom');
      });
      try {
        assert.equal((await stat(path)).mode & 0o777, 0o600, 'socket is owner-only');
        const seen: number[] = [];
        assert.deepEqual(await callAdmin(path, 'work', { x: 'héllo' }, (d) => seen.push(d)), { echoed: 'héllo' });
        assert.deepEqual(seen, [1, 2, 3, 4]);
        await assert.rejects(callAdmin(path, 'usage', {}), (e: unknown) => e instanceof UsageError && e.message === 'bad value');
        await assert.rejects(callAdmin(path, 'busy', {}), (e: unknown) => e instanceof CliError && e.code === 'EBUSY' && e.exitCode === 1);
        await assert.rejects(callAdmin(path, 'other', {}), (e: unknown) => e instanceof CliError && /boom/.test(e.message));
        // garbage, oversized lines and a second request on one connection get an error reply, and the server stays up
        assert.match(await raw(path, Buffer.from('not json\n')), /"code":"EPROTO"/);
        assert.match(await raw(path, Buffer.alloc(1.5 * 1024 * 1024, 0x61)), /longer than/);
        assert.match(await raw(path, Buffer.from('{"id":1,"method":"work"}\n{"id":2,"method":"work"}\n')), /one request per connection/);
        assert.deepEqual(await callAdmin(path, 'work', { x: 1 }), { echoed: 1 });
      } finally {
        await server.close();
      }
      assert.equal(await callAdmin(path, 'ping', {}), NO_SERVER, 'closed server removed its socket');
      // a stale socket file (its server was killed -9) is answered as no server, and a new server replaces it
      const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
      await once(child.stdout!, 'data');
      child.kill('SIGKILL');
      await once(child, 'exit');
      assert.ok((await stat(path)).isSocket(), 'the killed server left its socket file');
      assert.equal(await callAdmin(path, 'ping', {}), NO_SERVER);
      const s2 = await listenAdmin(path, async () => 'ok');
      assert.equal(await callAdmin(path, 'x', {}), 'ok');
      await s2.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
