/**
 * serveSftpChannel over an in-process Duplex: a client that pipelines everything at once (as
 * OpenSSH's sftp does) gets its replies in request order, and runs of READs, worked on
 * together, see exactly the WRITEs sent before them and none sent after.
 */
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { test } from 'node:test';
import { createMemoryVfs, ROOT_CTX } from '../../vfs/index.js';
import { ctxFor } from '../../vfs/types.js';
import { serveSftpChannel } from './channel.js';
import { SftpSession } from './session.js';
import { SSH_FX, SSH_FXF, SSH_FXP } from './wire/constants.js';
import { PacketFramer } from './wire/framer.js';
import { decodeReply, type Reply } from './wire/replies.js';
import { encodeInit, encodeRequest } from './wire/requests.js';

test('pipelined requests: replies in order; concurrent READs see the WRITEs before them only', async () => {
  const vfs = await createMemoryVfs();
  const user = { name: 'u', uid: 1000, gid: 1000, groups: [] };
  await vfs.paths.setattr(ROOT_CTX, '/', { uid: user.uid, gid: user.gid });
  const session = new SftpSession({ paths: vfs.paths, ctx: ctxFor(user, 'sftp:test'), clientIdent: 'SSH-2.0-OpenSSH_9.2p1' });
  // Count how many READs are in the VFS at once (each takes a macrotask, so overlap shows).
  let now = 0, most = 0;
  const read = vfs.vfs.readLent.bind(vfs.vfs);
  vfs.vfs.readLent = async (...args: Parameters<typeof read>) => {
    most = Math.max(most, ++now);
    try {
      await new Promise((r) => setImmediate(r));
      return await read(...args);
    } finally {
      now--;
    }
  };
  const framer = new PacketFramer();
  const replies: Reply[] = [];
  let gotAll!: () => void;
  const all = new Promise<void>((r) => (gotAll = r));
  let want = Infinity;
  const channel = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      for (const p of framer.push(chunk)) replies.push(decodeReply(p));
      if (replies.length >= want) gotAll();
      cb();
    },
  });
  const served = serveSftpChannel(channel, session);

  const CHUNK = 64 << 10;
  const fill = (n: number) => Buffer.alloc(CHUNK, n);
  const handle = Buffer.from([0, 0, 0, 1]); // the session's first handle
  const reqs: Buffer[] = [encodeInit(3)];
  let id = 0;
  const send = (type: Parameters<typeof encodeRequest>[0], body: any) => reqs.push(encodeRequest(type, ++id, body));
  send(SSH_FXP.OPEN, { filename: '/f', pflags: SSH_FXF.READ | SSH_FXF.WRITE | SSH_FXF.CREAT, attrs: {} });
  for (let i = 0; i < 20; i++) send(SSH_FXP.WRITE, { handle, offset: BigInt(i * CHUNK), data: fill(i + 1) });
  for (let i = 0; i < 20; i++) send(SSH_FXP.READ, { handle, offset: BigInt(i * CHUNK), len: CHUNK }); // ids 22..41
  send(SSH_FXP.WRITE, { handle, offset: 0n, data: fill(99) }); // 42
  for (let i = 0; i < 3; i++) send(SSH_FXP.READ, { handle, offset: 0n, len: CHUNK }); // 43..45
  send(SSH_FXP.READ, { handle, offset: BigInt(20 * CHUNK), len: CHUNK }); // 46: EOF
  send(SSH_FXP.CLOSE, { handle }); // 47
  want = 1 + id;
  channel.push(Buffer.concat(reqs)); // everything at once, in one chunk
  await all;

  assert.equal(replies[0]!.type, SSH_FXP.VERSION);
  assert.deepEqual(replies.slice(1).map((r) => (r as { id: number }).id), Array.from({ length: id }, (_, i) => i + 1), 'replies in request order');
  for (let i = 0; i < 20; i++) {
    const r = replies[22 + i] as Reply & { data: Buffer };
    assert.equal(r.type, SSH_FXP.DATA);
    assert.ok(r.data.equals(fill(i + 1)), `READ ${i} sees the WRITE before it`);
  }
  for (let i = 0; i < 3; i++) assert.ok((replies[43 + i] as Reply & { data: Buffer }).data.equals(fill(99)), 'READ after the rewrite sees it');
  assert.equal((replies[46] as { code: number }).code, SSH_FX.EOF);
  assert.ok(most > 1, `READs overlapped (at most ${most} at once)`);
  assert.equal((replies[47] as { code: number }).code, SSH_FX.OK);
  channel.push(null);
  await served;
  assert.equal(session.openHandles, 0);
});
