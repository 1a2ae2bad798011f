/**
 * Malformed input against the running SFTP server: raw SSH channels opened with ssh2's Client
 * carry garbage, truncated packets, huge lengths, wrong handles, bad extension payloads and
 * random packets (fast-check). The server must answer each request with a STATUS carrying its
 * id, or close that channel, and keep serving everyone else.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ClientChannel } from 'ssh2';
import ssh2 from 'ssh2';
import fc from 'fast-check';
import { ROOT_CTX } from '../../vfs/index.js';
import { SSH_FX, SSH_FXF, SSH_FXP } from '../../protocols/sftp/wire/constants.js';
import { PacketFramer } from '../../protocols/sftp/wire/framer.js';
import { decodeReply, type Reply } from '../../protocols/sftp/wire/replies.js';
import { encodeInit, encodeRequest } from '../../protocols/sftp/wire/requests.js';
import { runSftp, startHarness, USER, type Harness } from './sftp-harness.js';

/** A raw 'sftp' subsystem channel with a reply reader. */
interface Raw {
  conn: ssh2.Client;
  ch: ClientChannel;
  /** Next reply, or null when the channel closed first. */
  next(timeoutMs?: number): Promise<Reply | null>;
  closed: Promise<void>;
  send(b: Uint8Array): void;
  end(): void;
}

async function openRaw(h: Harness): Promise<Raw> {
  const conn = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    conn.once('ready', resolve).once('error', reject);
    conn.connect({ host: '127.0.0.1', port: h.port, username: USER, privateKey: readFileSync(h.keyFile) });
  });
  const ch = await new Promise<ClientChannel>((resolve, reject) => conn.subsys('sftp', (err, s) => (err ? reject(err) : resolve(s))));
  const framer = new PacketFramer(1 << 20);
  const replies: Reply[] = [];
  const waiters: Array<(r: Reply | null) => void> = [];
  let isClosed = false;
  const closed = new Promise<void>((resolve) => ch.once('close', () => {
    isClosed = true;
    for (const w of waiters.splice(0)) w(null);
    resolve();
  }));
  ch.on('data', (d: Buffer) => {
    for (const p of framer.push(d)) {
      const r = decodeReply(Buffer.from(p));
      const w = waiters.shift();
      if (w) w(r);
      else replies.push(r);
    }
  });
  ch.stderr.resume();
  return {
    conn, ch, closed,
    next(timeoutMs = 10_000) {
      const r = replies.shift();
      if (r) return Promise.resolve(r);
      if (isClosed) return Promise.resolve(null);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no reply from server')), timeoutMs);
        waiters.push((x) => {
          clearTimeout(t);
          resolve(x);
        });
      });
    },
    send: (b) => void ch.write(b),
    end: () => conn.end(),
  };
}

async function initRaw(h: Harness): Promise<Raw> {
  const raw = await openRaw(h);
  raw.send(encodeInit(3));
  const v = await raw.next();
  assert.equal(v?.type, SSH_FXP.VERSION);
  return raw;
}

function statusOf(r: Reply | null): { id: number; code: number; message: string } {
  assert.ok(r && r.type === SSH_FXP.STATUS, `expected STATUS, got ${JSON.stringify(r)}`);
  return r as { id: number; code: number; message: string };
}

function frame(body: Uint8Array): Buffer {
  const b = Buffer.alloc(4 + body.length);
  b.writeUInt32BE(body.length, 0);
  b.set(body, 4);
  return b;
}

/** The server still serves a real client after whatever came before. */
async function stillServes(h: Harness): Promise<void> {
  const r = await runSftp(h, 'pwd');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Remote working directory: \//);
}

describe('SFTP server under malformed input', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ maxHandles: 16 });
  });
  after(async () => {
    await h?.close();
  });

  test('a public key login whose signature was made by another key is refused', async () => {
    type Key = ssh2.ParsedKey;
    const good = ssh2.utils.parseKey(readFileSync(h.keyFile)) as Key;
    const other = ssh2.utils.parseKey(readFileSync(h.otherKeyFile)) as Key;
    // offers the known public key, signs with a different private key
    const forged = Object.create(good) as Key;
    forged.sign = (data: Buffer, algo?: string) => other.sign(data, algo);
    const login = (key: Key): Promise<string> => new Promise((resolve) => {
      const c = new ssh2.Client();
      c.once('ready', () => { c.end(); resolve('ready'); });
      c.once('error', (e: Error) => resolve(`error: ${e.message}`));
      c.connect({ host: '127.0.0.1', port: h.port, username: USER, authHandler: [{ type: 'publickey', username: USER, key } as ssh2.PublicKeyAuthMethod] });
    });
    assert.equal(await login(good), 'ready');
    assert.match(await login(forged), /All configured authentication methods failed/);
  });

  test('garbage instead of INIT closes that channel only', async () => {
    const raw = await openRaw(h);
    raw.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.equal(await raw.next(), null);
    raw.end();
    await stillServes(h);
  });

  test('a huge or zero packet length closes the channel', async () => {
    for (const len of [0xffffffff, 0x7fffffff, 256 * 1024 + 1, 0]) {
      const raw = await initRaw(h);
      const b = Buffer.alloc(4);
      b.writeUInt32BE(len >>> 0);
      raw.send(Buffer.concat([b, Buffer.alloc(64, 0x41)]));
      assert.equal(await raw.next(), null, `length ${len}`);
      raw.end();
    }
    await stillServes(h);
  });

  test('a truncated packet then EOF: the server ends the channel, handles are released', async () => {
    const raw = await initRaw(h);
    raw.send(encodeRequest(SSH_FXP.OPEN, 1, { filename: '/pending.txt', pflags: SSH_FXF.WRITE | SSH_FXF.CREAT, attrs: {} }));
    const hr = await raw.next();
    assert.equal(hr?.type, SSH_FXP.HANDLE);
    const handle = (hr as { handle: Buffer }).handle;
    raw.send(encodeRequest(SSH_FXP.WRITE, 2, { handle, offset: 0n, data: Buffer.from('written, never closed') }));
    assert.equal(statusOf(await raw.next()).code, SSH_FX.OK);
    assert.equal(h.openFiles.size, 1);
    raw.send(encodeRequest(SSH_FXP.STAT, 3, { path: '/' }).subarray(0, 7));
    raw.ch.end();
    await raw.closed;
    raw.end();
    // the open handle was released when the channel went away
    for (let i = 0; i < 100 && h.openFiles.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(h.openFiles.size, 0);
    assert.equal((await h.vfs.paths.stat(ROOT_CTX, '/pending.txt')).size, 'written, never closed'.length);
  });

  test('a dropped TCP connection releases the session\'s open handles', async () => {
    const raw = await initRaw(h);
    raw.send(encodeRequest(SSH_FXP.OPEN, 1, { filename: '/dropped.txt', pflags: SSH_FXF.WRITE | SSH_FXF.CREAT, attrs: {} }));
    const handle = (await raw.next() as { handle: Buffer }).handle;
    raw.send(encodeRequest(SSH_FXP.WRITE, 2, { handle, offset: 0n, data: Buffer.from('buffered') }));
    assert.equal(statusOf(await raw.next()).code, SSH_FX.OK);
    assert.equal(h.openFiles.size, 1);
    (raw.conn as unknown as { _sock: { destroy(): void } })._sock.destroy();
    for (let i = 0; i < 100 && h.openFiles.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(h.openFiles.size, 0);
  });

  test('wrong handles get "invalid handle", bad extension payloads BAD_MESSAGE, unknown ones OP_UNSUPPORTED', async () => {
    const raw = await initRaw(h);
    const handles = [Buffer.alloc(0), Buffer.from([0, 0, 0, 99]), Buffer.alloc(256, 0xff), Buffer.from('not-a-handle')];
    let id = 10;
    for (const handle of handles) {
      raw.send(encodeRequest(SSH_FXP.READ, ++id, { handle, offset: 0n, len: 100 }));
      raw.send(encodeRequest(SSH_FXP.WRITE, ++id, { handle, offset: 5n, data: Buffer.from('x') }));
      raw.send(encodeRequest(SSH_FXP.READDIR, ++id, { handle }));
      raw.send(encodeRequest(SSH_FXP.FSTAT, ++id, { handle }));
      raw.send(encodeRequest(SSH_FXP.CLOSE, ++id, { handle }));
      for (let k = 0; k < 5; k++) {
        const s = statusOf(await raw.next());
        assert.equal(s.code, SSH_FX.FAILURE);
        assert.equal(s.message, 'invalid handle');
      }
    }
    // a handle string longer than 256 bytes is a malformed request
    raw.send(encodeRequest(SSH_FXP.CLOSE, 50, { handle: Buffer.alloc(300) }));
    assert.deepEqual([statusOf(await raw.next()).id, SSH_FX.BAD_MESSAGE], [50, SSH_FX.BAD_MESSAGE]);
    raw.send(encodeRequest(SSH_FXP.EXTENDED, 51, { request: 'statvfs@openssh.com', data: Buffer.from([0, 0, 0x10, 0]) }));
    assert.equal(statusOf(await raw.next()).code, SSH_FX.BAD_MESSAGE);
    raw.send(encodeRequest(SSH_FXP.EXTENDED, 52, { request: 'hardlink@openssh.com', data: Buffer.from([0, 0, 0, 1, 0x2f]) }));
    assert.equal(statusOf(await raw.next()).code, SSH_FX.BAD_MESSAGE);
    raw.send(encodeRequest(SSH_FXP.EXTENDED, 53, { request: 'copy-data', data: Buffer.alloc(40) }));
    assert.equal(statusOf(await raw.next()).code, SSH_FX.OP_UNSUPPORTED);
    raw.send(frame(Buffer.from([SSH_FXP.EXTENDED, 0, 0, 0, 54, 0xff, 0xff, 0xff, 0xff])));
    assert.deepEqual(statusOf(await raw.next()).id, 54);
    // a path that is not UTF-8, and one with a NUL byte
    raw.send(frame(Buffer.from([SSH_FXP.STAT, 0, 0, 0, 55, 0, 0, 0, 2, 0xc3, 0x28])));
    assert.equal(statusOf(await raw.next()).code, SSH_FX.BAD_MESSAGE);
    raw.send(encodeRequest(SSH_FXP.STAT, 56, { path: '/etc\0/passwd' }));
    assert.equal(statusOf(await raw.next()).code, SSH_FX.BAD_MESSAGE);
    raw.end();
    await stillServes(h);
  });

  test('random packets, pipelined: one reply per request id, or the channel closes; server stays up', async () => {
    const packet = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ maxLength: 300 }));
    await fc.assert(fc.asyncProperty(fc.array(packet, { minLength: 1, maxLength: 40 }), async (pkts) => {
      const raw = await initRaw(h);
      try {
        let sent = 0;
        const ids: number[] = [];
        for (const [type, id, body] of pkts) {
          const b = Buffer.alloc(5 + body.length);
          b[0] = type;
          b.writeUInt32BE(id, 1);
          b.set(body, 5);
          raw.send(frame(b));
          sent++;
          ids.push(id);
          if (type === SSH_FXP.INIT) break; // a second INIT ends the channel
        }
        for (let i = 0; i < sent; i++) {
          const r = await raw.next();
          if (r === null) {
            assert.equal(pkts[i]?.[0], SSH_FXP.INIT, 'only a duplicate INIT closes the channel');
            return;
          }
          assert.equal((r as { id: number }).id, ids[i], 'replies come in request order with their ids');
        }
      } finally {
        raw.end();
      }
    }), { numRuns: 25 });
    // every connection above has ended: whatever random OPENs succeeded was released
    for (let i = 0; i < 100 && h.openFiles.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(h.openFiles.size, 0);
    await stillServes(h);
  });

  test('garbage on the SSH port itself: that connection is dropped, the server stays up', async () => {
    for (const junk of [Buffer.from('SSH-2.0-x\r\n' + 'A'.repeat(5000)), Buffer.alloc(70_000, 0xff), Buffer.from('\r\n\r\n')]) {
      await new Promise<void>((resolve) => {
        const s = netConnect(h.port, '127.0.0.1', () => s.write(junk));
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.resume();
        setTimeout(() => s.destroy(), 3000);
      });
    }
    await stillServes(h);
  });
});
