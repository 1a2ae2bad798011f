/**
 * Oplocks, durable handles and session reconnect/re-authentication (oplock.ts, durable.ts),
 * driven through two or three connections of one "server" (one VFS, one ServerGuid buffer)
 * with the test client. Break notifications are captured from `SmbConnection.pushMessage`.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { createMemoryVfs, ROOT_CTX, type VfsInstance } from '../../vfs/index.js';
import { STATUS } from './errors.js';
import { shareFileService } from './server.js';
import { connection, message, TestClient } from './testdata/client.js';
import { DIALECT } from './wire/negotiate.js';
import { Command, decodeHeader, HDR_FLAGS } from './wire/header.js';
import { writeTreeConnectRequest } from './wire/session-setup.js';
import { decodeCreateResponse, DISPOSITION, type FileId } from './wire/files.js';
import { OPLOCK, setBreakTimeout, writeOplockAck } from './oplock.js';
import { LEASE, writeLeaseAck } from './lease.js';
import { setDurableTimeout } from './durable.js';
import { FILE_INFO, INFO_TYPE } from './wire/fscc.js';

const FILE_INFO_POSITION = FILE_INFO.Position;
import type { Writer } from './wire/reader.js';

const ALL = 0x001f01df; // FILE_ALL_ACCESS without FILE_EXECUTE (new files are 0644)
const RW = 0x0012019f;
const SHARE_ALL = 7;
const SHARE_RW = 3;

interface Peer {
  c: TestClient;
  tid: number;
  /** Oplock break notifications pushed to this connection: [level, fileId]. */
  breaks: { level: number; fileId: FileId }[];
  /** Lease break notifications (2.2.23.2). */
  leaseBreaks: { epoch: number; ackRequired: boolean; key: Buffer; from: number; to: number }[];
  /** Final responses of requests that went async (pushed). */
  finals: { header: ReturnType<typeof decodeHeader>; message: Buffer; encrypted: boolean }[];
}

async function server(): Promise<{ peer: (o?: { clientGuid?: Buffer }) => Promise<Peer>; v: VfsInstance }> {
  const v = await createMemoryVfs({ recordSize: 4096 });
  const home = await v.paths.mkdir(ROOT_CTX, '/home', 0o777);
  await v.vfs.setattr(ROOT_CTX, home.ino, { uid: 1000, gid: 1000 });
  const files = shareFileService(v.paths);
  const serverGuid = Buffer.alloc(16, 7);
  const peer = async (o: { clientGuid?: Buffer } = {}): Promise<Peer> => {
    const conn = connection({ shares: [{ name: 'Data', path: '/home', readOnly: false, requireEncryption: false }], files, serverGuid });
    const breaks: Peer['breaks'] = [];
    const leaseBreaks: Peer['leaseBreaks'] = [];
    const finals: Peer['finals'] = [];
    conn.pushMessage = (m) => {
      const h = decodeHeader(m);
      if (h.command !== Command.OPLOCK_BREAK) {
        assert.ok(h.flags & HDR_FLAGS.ASYNC_COMMAND, 'a final async response');
        finals.push({ header: h, message: m, encrypted: false });
        return true;
      }
      assert.equal(h.messageId, 0xffffffffffffffffn, 'MessageId all ones (2.2.23.1)');
      assert.equal(h.sessionId, 0n);
      if (m.readUInt16LE(64) === 44) {
        leaseBreaks.push({ epoch: m.readUInt16LE(66), ackRequired: (m.readUInt32LE(68) & 1) !== 0, key: Buffer.from(m.subarray(72, 88)), from: m.readUInt32LE(88), to: m.readUInt32LE(92) });
      } else breaks.push({ level: m[64 + 2]!, fileId: { persistent: m.readBigUInt64LE(64 + 8), volatile: m.readBigUInt64LE(64 + 16) } });
      return true;
    };
    const c = new TestClient(conn);
    if (o.clientGuid) o.clientGuid.copy(c.clientGuid); // a second connection of the same client
    await c.negotiate([DIALECT.SMB311]);
    assert.equal((await c.login('alice', 's3cret')).header.status, 0);
    const tid = (await c.send(Command.TREE_CONNECT, (w: Writer) => { writeTreeConnectRequest(w, { flags: 0, path: '\\\\dw\\data' }); })).header.treeId;
    return { c, tid, breaks, leaseBreaks, finals };
  };
  return { peer, v };
}

const open = (p: Peer, name: string, o: { oplock?: number; access?: number; share?: number; disposition?: number; contexts?: { name: string; data: Buffer }[] } = {}) =>
  p.c.createFile(p.tid, {
    name, desiredAccess: o.access ?? ALL, shareAccess: o.share ?? SHARE_ALL, disposition: o.disposition ?? DISPOSITION.OPEN_IF,
    oplockLevel: o.oplock ?? OPLOCK.NONE, contexts: o.contexts ?? [],
  });

const ack = (p: Peer, fileId: FileId, level: number) => p.c.send(Command.OPLOCK_BREAK, (w) => { writeOplockAck(w, { level, fileId }); }, { treeId: p.tid });

/** Lets pending promises (a CREATE waiting for an ack) run. */
const tick = () => new Promise<void>((r) => setTimeout(r, 5));

/** A CREATE that must wait: answered STATUS_PENDING (async, 3.3.4.2); `final` waits for its pushed final response. */
async function pendingOpen(p: Peer, r: Promise<{ header: { status: number; flags: number; asyncId: bigint } }>): Promise<bigint> {
  const interim = await r;
  assert.equal(interim.header.status, STATUS.PENDING, 'interim response');
  assert.ok(interim.header.flags & HDR_FLAGS.ASYNC_COMMAND);
  return interim.header.asyncId;
}
async function final(p: Peer, asyncId: bigint): Promise<Peer['finals'][number]> {
  for (let i = 0; i < 2000; i++) {
    const k = p.finals.findIndex((f) => f.header.asyncId === asyncId);
    if (k >= 0) return p.finals.splice(k, 1)[0]!;
    await new Promise<void>((res) => setTimeout(res, 2));
  }
  throw new Error('no final response');
}

after(() => {
  setBreakTimeout(35_000);
  setDurableTimeout(60_000);
});

describe('oplocks', () => {
  test('the only opener gets BATCH; a second opener waits until the holder acknowledges the break to LEVEL_II, then both hold LEVEL_II', async () => {
    const { peer } = await server();
    const a = await peer(), b = await peer();
    const ra = decodeCreateResponse((await open(a, 'f', { oplock: OPLOCK.BATCH, share: SHARE_RW, access: RW })).message);
    assert.equal(ra.oplockLevel, OPLOCK.BATCH);
    const id = await pendingOpen(b, open(b, 'f', { oplock: OPLOCK.BATCH, share: SHARE_RW, access: RW }));
    await tick();
    assert.equal(b.finals.length, 0, 'the CREATE waits for the acknowledgment');
    assert.deepEqual(a.breaks, [{ level: OPLOCK.LEVEL_II, fileId: ra.fileId }]);
    const r = await ack(a, ra.fileId, OPLOCK.LEVEL_II);
    assert.equal(r.header.status, 0);
    assert.equal(r.message[64 + 2], OPLOCK.LEVEL_II, 'the acknowledgment response carries the new level');
    const rb = await final(b, id);
    assert.equal(rb.header.status, 0);
    assert.equal(decodeCreateResponse(rb.message).oplockLevel, OPLOCK.LEVEL_II);
    // An acknowledgment with no break pending is a protocol error (3.3.5.22.1).
    assert.equal((await ack(a, ra.fileId, OPLOCK.NONE)).header.status, STATUS.INVALID_OPLOCK_PROTOCOL);
  });

  test('a write breaks every LEVEL_II oplock to NONE (the writer\'s own too) without waiting; acknowledging that is INVALID_OPLOCK_PROTOCOL', async () => {
    const { peer } = await server();
    const a = await peer(), b = await peer();
    const ra = decodeCreateResponse((await open(a, 'w', { oplock: OPLOCK.LEVEL_II, share: SHARE_RW, access: RW })).message);
    const rb = decodeCreateResponse((await open(b, 'w', { oplock: OPLOCK.LEVEL_II, share: SHARE_RW, access: RW })).message);
    assert.equal(ra.oplockLevel, OPLOCK.LEVEL_II);
    assert.equal(rb.oplockLevel, OPLOCK.LEVEL_II);
    assert.equal((await a.c.writeFile(a.tid, ra.fileId, 0, Buffer.from('x'))).header.status, 0);
    assert.deepEqual(a.breaks, [{ level: OPLOCK.NONE, fileId: ra.fileId }]);
    assert.deepEqual(b.breaks, [{ level: OPLOCK.NONE, fileId: rb.fileId }]);
    assert.equal((await ack(b, rb.fileId, OPLOCK.NONE)).header.status, STATUS.INVALID_OPLOCK_PROTOCOL);
    // Nothing left to break.
    assert.equal((await a.c.writeFile(a.tid, ra.fileId, 1, Buffer.from('y'))).header.status, 0);
    assert.equal(a.breaks.length + b.breaks.length, 2);
  });

  test('EXCLUSIVE is not broken when the share modes refuse the open; BATCH is, and closing on the break lets the open through with BATCH', async () => {
    const { peer } = await server();
    const a = await peer(), b = await peer();
    const x = decodeCreateResponse((await open(a, 'x', { oplock: OPLOCK.EXCLUSIVE, share: 0 })).message);
    assert.equal(x.oplockLevel, OPLOCK.EXCLUSIVE);
    assert.equal((await open(b, 'x', { oplock: OPLOCK.BATCH, share: 0 })).header.status, STATUS.SHARING_VIOLATION);
    assert.equal(a.breaks.length, 0, 'no break for an open that fails its share check');

    const y = decodeCreateResponse((await open(a, 'y', { oplock: OPLOCK.BATCH, share: 0 })).message);
    const idY = await pendingOpen(b, open(b, 'y', { oplock: OPLOCK.BATCH, share: 0 }));
    await tick();
    assert.deepEqual(a.breaks, [{ level: OPLOCK.LEVEL_II, fileId: y.fileId }]);
    assert.equal((await a.c.closeFile(a.tid, y.fileId)).header.status, 0);
    const r = await final(b, idY);
    assert.equal(r.header.status, 0);
    assert.equal(decodeCreateResponse(r.message).oplockLevel, OPLOCK.BATCH, 'the holder closed: the new open is alone');
  });

  test('a stat open (attributes and SYNCHRONIZE only) breaks nothing and gets no oplock next to a BATCH holder', async () => {
    const { peer } = await server();
    const a = await peer(), b = await peer();
    const ra = decodeCreateResponse((await open(a, 's', { oplock: OPLOCK.BATCH })).message);
    assert.equal(ra.oplockLevel, OPLOCK.BATCH);
    const r = await open(b, 's', { oplock: OPLOCK.BATCH, access: 0x80 | 0x100 | 0x100000, disposition: DISPOSITION.OPEN });
    assert.equal(r.header.status, 0);
    assert.equal(decodeCreateResponse(r.message).oplockLevel, OPLOCK.NONE);
    assert.equal(a.breaks.length, 0);
  });

  test('an unacknowledged break times out: the open goes on and the holder is left with NONE', async () => {
    setBreakTimeout(30);
    const keep = setInterval(() => {}, 10); // the server's break timer is unref'd (sockets keep a real server alive)
    try {
      const { peer } = await server();
      const a = await peer(), b = await peer();
      const ra = decodeCreateResponse((await open(a, 't', { oplock: OPLOCK.EXCLUSIVE })).message);
      const rb = await final(b, await pendingOpen(b, open(b, 't', { oplock: OPLOCK.EXCLUSIVE })));
      assert.equal(rb.header.status, 0);
      assert.equal(decodeCreateResponse(rb.message).oplockLevel, OPLOCK.LEVEL_II);
      assert.equal(a.breaks.length, 1);
      assert.equal((await ack(a, ra.fileId, OPLOCK.LEVEL_II)).header.status, STATUS.INVALID_OPLOCK_PROTOCOL, 'too late');
    } finally {
      clearInterval(keep);
      setBreakTimeout(35_000);
    }
  });

  test('one connection holding both opens: the waiting CREATE goes async, and the acknowledgment on that connection completes it', async () => {
    const { peer } = await server();
    const a = await peer();
    const r1 = decodeCreateResponse((await open(a, 'same', { oplock: OPLOCK.BATCH, share: SHARE_RW, access: RW })).message);
    const id = await pendingOpen(a, open(a, 'same', { oplock: OPLOCK.BATCH, share: SHARE_RW, access: RW }));
    assert.deepEqual(a.breaks, [{ level: OPLOCK.LEVEL_II, fileId: r1.fileId }]);
    assert.equal((await ack(a, r1.fileId, OPLOCK.LEVEL_II)).header.status, 0);
    const r2 = await final(a, id);
    assert.equal(r2.header.status, 0);
    assert.equal(decodeCreateResponse(r2.message).oplockLevel, OPLOCK.LEVEL_II);
  });

  test('an overwriting open breaks BATCH to NONE', async () => {
    const { peer } = await server();
    const a = await peer(), b = await peer();
    const ra = decodeCreateResponse((await open(a, 'o', { oplock: OPLOCK.BATCH })).message);
    const idO = await pendingOpen(b, open(b, 'o', { oplock: OPLOCK.BATCH, disposition: DISPOSITION.OVERWRITE_IF }));
    assert.deepEqual(a.breaks, [{ level: OPLOCK.NONE, fileId: ra.fileId }]);
    assert.equal((await ack(a, ra.fileId, OPLOCK.NONE)).header.status, 0);
    assert.equal((await final(b, idO)).header.status, 0);
  });

  test('CANCEL ends a CREATE waiting for an acknowledgment with STATUS_CANCELLED', async () => {
    const { peer } = await server();
    const a = await peer(), b = await peer();
    await open(a, 'cx', { oplock: OPLOCK.BATCH });
    const interimMid = b.c.nextId;
    const id = await pendingOpen(b, open(b, 'cx', { oplock: OPLOCK.BATCH }));
    const cancel = message({ command: Command.CANCEL, messageId: interimMid, sessionId: b.c.sessionId, treeId: b.tid, flags: HDR_FLAGS.ASYNC_COMMAND, asyncId: id }, (w) => { w.u16(4).u16(0); });
    const out = await b.c.raw(cancel);
    assert.equal(out.replies.length, 0, 'CANCEL has no response');
    assert.equal((await final(b, id)).header.status, STATUS.CANCELLED);
  });
});

describe('durable handles v1', () => {
  const DHnQ = { name: 'DHnQ', data: Buffer.alloc(16) };
  const DHnC = (f: FileId) => {
    const d = Buffer.alloc(16);
    d.writeBigUInt64LE(f.persistent, 0);
    d.writeBigUInt64LE(f.volatile, 8);
    return { name: 'DHnC', data: d };
  };

  test('granted with BATCH only; the open survives its connection and is reclaimed once, by a new connection of the same user, with its oplock', async () => {
    const { peer } = await server();
    const a = await peer();
    const plain = decodeCreateResponse((await open(a, 'p', { oplock: OPLOCK.LEVEL_II, contexts: [DHnQ] })).message);
    assert.equal(plain.contexts.some((x) => x.name === 'DHnQ'), false, 'no durability without BATCH');
    const r = decodeCreateResponse((await open(a, 'd', { oplock: OPLOCK.BATCH, share: 0, contexts: [DHnQ] })).message);
    assert.equal(r.oplockLevel, OPLOCK.BATCH);
    assert.ok(r.contexts.some((x) => x.name === 'DHnQ'), 'DHnQ response context');
    assert.equal((await a.c.writeFile(a.tid, r.fileId, 0, Buffer.from('kept'))).header.status, 0);
    // A reconnect while the open is still connected fails (smb2.durable-open.reopen1).
    assert.equal((await open(a, 'd', { contexts: [DHnC(r.fileId)] })).header.status, STATUS.OBJECT_NAME_NOT_FOUND);

    await a.c.conn.closeFiles(); // the socket is gone
    const b = await peer();
    const rr = await open(b, 'd', { contexts: [DHnC(r.fileId)] });
    assert.equal(rr.header.status, 0);
    const re = decodeCreateResponse(rr.message);
    assert.equal(re.fileId.persistent, r.fileId.persistent, 'same persistent FileId');
    assert.equal(re.oplockLevel, OPLOCK.BATCH);
    assert.equal(re.contexts.some((x) => x.name === 'DHnQ'), false, 'a reconnect answers no durable context (3.3.5.9.7)');
    const rd = await b.c.readFile(b.tid, re.fileId, 0, 4);
    assert.equal(rd.header.status, 0);
    // The share mode stayed in force while it was disconnected and still is; the BATCH holder
    // hears a break first (it could close), acknowledges, and the open fails.
    const c = await peer();
    const idD = await pendingOpen(c, open(c, 'd', { oplock: OPLOCK.NONE, share: SHARE_ALL, disposition: DISPOSITION.OPEN }));
    assert.deepEqual(b.breaks, [{ level: OPLOCK.LEVEL_II, fileId: re.fileId }]);
    assert.equal((await ack(b, re.fileId, OPLOCK.LEVEL_II)).header.status, 0);
    assert.equal((await final(c, idD)).header.status, STATUS.SHARING_VIOLATION);
    // Reclaimed once only.
    assert.equal((await open(c, 'd', { contexts: [DHnC(r.fileId)] })).header.status, STATUS.OBJECT_NAME_NOT_FOUND);
  });

  test('an open that breaks a disconnected durable delete-on-close open (which deletes the file) creates the file anew (smb2.durable-open.delete_on_close1)', async () => {
    const { peer, v } = await server();
    const a = await peer();
    const r = decodeCreateResponse((await a.c.createFile(a.tid, { name: 'doc', desiredAccess: ALL, shareAccess: 0, disposition: DISPOSITION.OPEN_IF, oplockLevel: OPLOCK.BATCH, options: 0x1000, contexts: [DHnQ] })).message);
    assert.ok(r.contexts.some((x) => x.name === 'DHnQ'));
    assert.equal((await a.c.writeFile(a.tid, r.fileId, 0, Buffer.from('x'))).header.status, 0);
    await a.c.conn.closeFiles(); // kept for a reconnect
    assert.equal((await v.paths.stat(ROOT_CTX, '/home/doc')).size, 1);
    const b = await peer();
    const rb = await open(b, 'doc', { oplock: OPLOCK.BATCH, share: 0 });
    assert.equal(rb.header.status, 0);
    const cb = decodeCreateResponse(rb.message);
    assert.equal(cb.createAction, 2, 'CREATED');
    assert.equal(cb.endOfFile, 0n);
  });

  test('LOGOFF keeps a durable open that caches its handle; a new session reclaims it (smb2.durable-open.reopen4); a v1 open also comes back through DH2C with an empty CreateGuid', async () => {
    const { peer } = await server();
    const a = await peer();
    const r = decodeCreateResponse((await open(a, 'lo', { oplock: OPLOCK.BATCH, share: 0, contexts: [DHnQ] })).message);
    assert.ok(r.contexts.some((x) => x.name === 'DHnQ'));
    assert.equal((await a.c.send(Command.LOGOFF, (w) => { w.u16(4).u16(0); })).header.status, 0);
    assert.equal((await a.c.login('alice', 's3cret')).header.status, 0);
    const tid = (await a.c.send(Command.TREE_CONNECT, (w: Writer) => { writeTreeConnectRequest(w, { flags: 0, path: '\\\\dw\\data' }); })).header.treeId;
    const a2 = { ...a, tid };
    const rr = await open(a2, 'lo', { contexts: [DHnC(r.fileId)] });
    assert.equal(rr.header.status, 0, 'reclaimed after the logoff');
    const re = decodeCreateResponse(rr.message);
    assert.equal(re.oplockLevel, OPLOCK.BATCH);
    await a.c.conn.closeFiles();
    const b = await peer();
    const dh2c = Buffer.alloc(36);
    dh2c.writeBigUInt64LE(re.fileId.persistent, 0);
    dh2c.writeBigUInt64LE(re.fileId.volatile, 8);
    const back = await open(b, 'lo', { contexts: [{ name: 'DH2C', data: dh2c }] });
    assert.equal(back.header.status, 0, 'DH2C, CreateGuid all zero');
    assert.equal(decodeCreateResponse(back.message).fileId.persistent, r.fileId.persistent);
  });

  test('another open breaking a disconnected durable open\'s BATCH closes it at once (3.3.4.6); a later reconnect finds nothing', async () => {
    const { peer } = await server();
    const a = await peer();
    const r = decodeCreateResponse((await open(a, 'e', { oplock: OPLOCK.BATCH, contexts: [DHnQ] })).message);
    await a.c.conn.closeFiles();
    const b = await peer();
    const rb = await open(b, 'e', { oplock: OPLOCK.BATCH, contexts: [DHnQ], disposition: DISPOSITION.OPEN });
    assert.equal(rb.header.status, 0);
    assert.equal(decodeCreateResponse(rb.message).oplockLevel, OPLOCK.BATCH);
    const c = await peer();
    assert.equal((await open(c, 'e', { contexts: [DHnC(r.fileId)] })).header.status, STATUS.OBJECT_NAME_NOT_FOUND);
  });

  test('a durable open that lost its BATCH oplock is not kept after a disconnect', async () => {
    const { peer } = await server();
    const a = await peer(), b = await peer();
    const r = decodeCreateResponse((await open(a, 'lost', { oplock: OPLOCK.BATCH, contexts: [DHnQ] })).message);
    assert.ok(r.contexts.some((x) => x.name === 'DHnQ'));
    const idL = await pendingOpen(b, open(b, 'lost', { disposition: DISPOSITION.OPEN }));
    assert.equal((await ack(a, r.fileId, OPLOCK.LEVEL_II)).header.status, 0);
    assert.equal((await final(b, idL)).header.status, 0);
    await a.c.conn.closeFiles();
    const c = await peer();
    assert.equal((await open(c, 'lost', { contexts: [DHnC(r.fileId)] })).header.status, STATUS.OBJECT_NAME_NOT_FOUND);
  });

  test('durable v2: DH2Q answers its timeout (0 → 60 s, capped at 300 s); DH2C needs the CreateGuid and answers no DH2Q; contradictory contexts are INVALID_PARAMETER', async () => {
    const { peer } = await server();
    const a = await peer();
    const guid = Buffer.alloc(16, 0x5a);
    const dh2q = (timeout: number, g = guid) => {
      const d = Buffer.alloc(32);
      d.writeUInt32LE(timeout, 0);
      g.copy(d, 16);
      return { name: 'DH2Q', data: d };
    };
    const r = decodeCreateResponse((await open(a, 'v2', { oplock: OPLOCK.BATCH, contexts: [dh2q(0xffffffff)] })).message);
    const resp = r.contexts.find((x) => x.name === 'DH2Q');
    assert.ok(resp);
    assert.equal(resp.data.readUInt32LE(0), 300_000);
    const r0 = decodeCreateResponse((await open(a, 'v2b', { oplock: OPLOCK.BATCH, contexts: [dh2q(0, Buffer.alloc(16, 1))] })).message);
    assert.equal(r0.contexts.find((x) => x.name === 'DH2Q')!.data.readUInt32LE(0), 60_000);
    assert.equal((await open(a, 'v2c', { oplock: OPLOCK.BATCH, contexts: [dh2q(0), DHnQ] })).header.status, STATUS.INVALID_PARAMETER);
    await a.c.conn.closeFiles();
    const b = await peer();
    const dh2c = (g: Buffer) => {
      const d = Buffer.alloc(36);
      d.writeBigUInt64LE(r.fileId.persistent, 0);
      d.writeBigUInt64LE(r.fileId.volatile, 8);
      g.copy(d, 16);
      return { name: 'DH2C', data: d };
    };
    assert.equal((await open(b, '', { contexts: [dh2c(Buffer.alloc(16))] })).header.status, STATUS.OBJECT_NAME_NOT_FOUND, 'wrong CreateGuid');
    assert.equal((await open(b, '', { contexts: [dh2c(guid), dh2q(0)] })).header.status, STATUS.INVALID_PARAMETER);
    const rr = await open(b, '__ignored__', { contexts: [dh2c(guid)] });
    assert.equal(rr.header.status, 0);
    const re = decodeCreateResponse(rr.message);
    assert.equal(re.fileId.persistent, r.fileId.persistent);
    assert.equal(re.contexts.length, 0, 'no DH2Q on a reconnect');
  });

  test('a kept open is closed after the durable timeout', async () => {
    setDurableTimeout(20);
    const keep = setInterval(() => {}, 10); // the durable timer is unref'd
    try {
      const { peer } = await server();
      const a = await peer();
      const r = decodeCreateResponse((await open(a, 'g', { oplock: OPLOCK.BATCH, share: 0, contexts: [DHnQ] })).message);
      await a.c.conn.closeFiles();
      await new Promise((res) => setTimeout(res, 60));
      const b = await peer();
      assert.equal((await open(b, 'g', { contexts: [DHnC(r.fileId)] })).header.status, STATUS.OBJECT_NAME_NOT_FOUND);
      assert.equal((await open(b, 'g', { share: 0, disposition: DISPOSITION.OPEN })).header.status, 0, 'no share mode left behind');
    } finally {
      clearInterval(keep);
      setDurableTimeout(60_000);
    }
  });
});

describe('sessions', () => {
  test('re-authentication on a live session keeps it, its keys and its opens', async () => {
    const { peer } = await server();
    const a = await peer();
    const r = decodeCreateResponse((await open(a, 'r')).message);
    const again = await a.c.login('alice', 's3cret', { reauth: true });
    assert.equal(again.header.status, 0);
    assert.equal(again.header.sessionId, a.c.sessionId);
    const q = await a.c.queryFileInfo(a.tid, r.fileId, INFO_TYPE.FILE, FILE_INFO_POSITION);
    assert.equal(q.header.status, 0, 'the open still works');
    // A wrong password on re-authentication fails it.
    assert.equal((await a.c.login('alice', 'wrong', { reauth: true })).header.status, STATUS.LOGON_FAILURE);
  });

  test('a login with PreviousSessionId ends that session on its connection and closes its (non-durable) opens', async () => {
    const { peer } = await server();
    const a = await peer();
    const r = decodeCreateResponse((await open(a, 'prev', { share: 0 })).message);
    const b = await peer();
    // A fresh session on b's connection naming a's session as the previous one.
    const setup = await b.c.login('alice', 's3cret', { previousSessionId: a.c.sessionId });
    assert.equal(setup.header.status, 0);
    assert.equal((await a.c.queryFileInfo(a.tid, r.fileId, INFO_TYPE.FILE, FILE_INFO_POSITION)).header.status, STATUS.USER_SESSION_DELETED);
    const tid = (await b.c.send(Command.TREE_CONNECT, (w: Writer) => { writeTreeConnectRequest(w, { flags: 0, path: '\\\\dw\\data' }); })).header.treeId;
    assert.equal((await b.c.createFile(tid, { name: 'prev', desiredAccess: ALL, shareAccess: 0, disposition: DISPOSITION.OPEN })).header.status, 0, 'the old open is gone');
  });
});

describe('leases', () => {
  const K1 = Buffer.alloc(16, 0x11), K2 = Buffer.alloc(16, 0x22);
  const RqLs = (key: Buffer, state: number, v2?: { epoch: number }) => {
    const d = Buffer.alloc(v2 ? 52 : 32);
    key.copy(d, 0);
    d.writeUInt32LE(state, 16);
    if (v2) d.writeUInt16LE(v2.epoch, 48);
    return { name: 'RqLs', data: d };
  };
  const leased = (p: Peer, name: string, key: Buffer, state: number, o: { share?: number; access?: number; disposition?: number; v2?: { epoch: number } } = {}) =>
    open(p, name, { oplock: OPLOCK.LEASE, contexts: [RqLs(key, state, o.v2)], share: o.share ?? SHARE_ALL, ...(o.access !== undefined ? { access: o.access } : {}), ...(o.disposition !== undefined ? { disposition: o.disposition } : {}) });
  const leaseOfReply = (r: { message: Buffer }) => {
    const cr = decodeCreateResponse(r.message);
    const x = cr.contexts.find((y) => y.name === 'RqLs');
    return { level: cr.oplockLevel, state: x?.data.readUInt32LE(16), flags: x?.data.readUInt32LE(20), epoch: x && x.data.length >= 52 ? x.data.readUInt16LE(48) : undefined, key: x?.data.subarray(0, 16), fileId: cr.fileId };
  };
  const leaseAck = (p: Peer, key: Buffer, state: number) => p.c.send(Command.OPLOCK_BREAK, (w) => { writeLeaseAck(w, { flags: 0, key, state }); }, { treeId: p.tid });
  const RH = LEASE.READ | LEASE.HANDLE, RWH = LEASE.READ | LEASE.WRITE | LEASE.HANDLE;

  test('grants valid requests (R in them) to the only opener; H, W, HW alone get nothing; folders get no lease; one key names one file', async () => {
    const { peer } = await server();
    const a = await peer();
    for (const [want, got] of [[0, 0], [LEASE.READ, LEASE.READ], [LEASE.HANDLE, 0], [LEASE.WRITE, 0], [RH, RH], [LEASE.READ | LEASE.WRITE, LEASE.READ | LEASE.WRITE], [LEASE.HANDLE | LEASE.WRITE, 0], [RWH, RWH]] as const) {
      const r = await leased(a, `g${want}`, Buffer.alloc(16, 0x40 + want), want);
      assert.equal(r.header.status, 0);
      const l = leaseOfReply(r);
      assert.equal(l.level, OPLOCK.LEASE);
      assert.equal(l.state, got, `asked ${want}`);
      assert.equal((await a.c.closeFile(a.tid, l.fileId)).header.status, 0);
    }
    const d = decodeCreateResponse((await a.c.createFile(a.tid, { name: 'dir', desiredAccess: 0x00120089, disposition: DISPOSITION.OPEN_IF, options: 1, oplockLevel: OPLOCK.LEASE, contexts: [RqLs(K2, RWH)] })).message);
    assert.equal(d.oplockLevel, OPLOCK.NONE);
    assert.equal(d.contexts.some((x) => x.name === 'RqLs'), false);
    assert.equal(leaseOfReply(await leased(a, 'one', K1, RWH)).state, RWH);
    assert.equal((await leased(a, 'two', K1, RWH)).header.status, STATUS.INVALID_PARAMETER, 'the key already leases another file');
  });

  test('a second client breaks RWH to RH (acknowledgment required; its CREATE waits) and gets RH; v2 epochs count every change', async () => {
    const { peer } = await server();
    const a = await peer(), b = await peer();
    const r1 = leaseOfReply(await leased(a, 'f', K1, RWH, { v2: { epoch: 0x10 } }));
    assert.equal(r1.state, RWH);
    assert.equal(r1.epoch, 0x11, 'a new lease: the request epoch + 1');
    const idF = await pendingOpen(b, leased(b, 'f', K2, RWH, { v2: { epoch: 0x20 } }));
    await tick();
    assert.equal(b.finals.length, 0);
    assert.equal(a.leaseBreaks.length, 1);
    const br = a.leaseBreaks[0]!;
    assert.deepEqual([br.from, br.to, br.ackRequired, br.epoch], [RWH, RH, true, 0x12]);
    assert.ok(br.key.equals(K1));
    assert.equal((await leaseAck(a, K1, LEASE.READ | LEASE.WRITE)).header.status, STATUS.REQUEST_NOT_ACCEPTED, 'W is not within RH');
    assert.equal((await leaseAck(a, K1, RH)).header.status, 0);
    const r2 = leaseOfReply(await final(b, idF));
    assert.equal(r2.state, RH);
    assert.equal(r2.epoch, 0x21);
    assert.equal((await leaseAck(a, K1, RH)).header.status, STATUS.UNSUCCESSFUL, 'no break in progress');
  });

  test('a write through one lease takes R from the others without waiting; upgrades only to a strictly larger state the others allow', async () => {
    const { peer } = await server();
    const a = await peer(), b = await peer();
    const r1 = leaseOfReply(await leased(a, 'w', K1, LEASE.READ));
    const r2 = leaseOfReply(await leased(b, 'w', K2, LEASE.READ));
    assert.equal(r1.state, LEASE.READ);
    assert.equal(r2.state, LEASE.READ);
    assert.equal(leaseOfReply(await leased(a, 'w', K1, RWH)).state, LEASE.READ, 'W is not allowed next to another open; RWH is not RH');
    assert.equal(leaseOfReply(await leased(a, 'w', K1, RH)).state, RH, 'R to RH is allowed');
    assert.equal((await b.c.writeFile(b.tid, r2.fileId, 0, Buffer.from('x'))).header.status, 0);
    assert.equal(a.leaseBreaks.length, 1);
    assert.deepEqual([a.leaseBreaks[0]!.from, a.leaseBreaks[0]!.to, a.leaseBreaks[0]!.ackRequired], [RH, 0, true]);
    assert.equal(b.leaseBreaks.length, 0, 'the writer\'s own lease stays');
  });

  test('leases and oplocks: an R lease lets an oplock opener have LEVEL_II; an RH lease leaves it none; an oplock holder leaves a lease R', async () => {
    const { peer } = await server();
    const a = await peer(), b = await peer();
    await leased(a, 'lr', K1, LEASE.READ);
    assert.equal(decodeCreateResponse((await open(b, 'lr', { oplock: OPLOCK.BATCH })).message).oplockLevel, OPLOCK.LEVEL_II);
    await leased(a, 'lh', K2, RH);
    assert.equal(decodeCreateResponse((await open(b, 'lh', { oplock: OPLOCK.BATCH })).message).oplockLevel, OPLOCK.NONE);
    assert.equal(decodeCreateResponse((await open(b, 'ol', { oplock: OPLOCK.LEVEL_II })).message).oplockLevel, OPLOCK.LEVEL_II);
    assert.equal(leaseOfReply(await leased(a, 'ol', Buffer.alloc(16, 0x33), RWH)).state, LEASE.READ);
  });

  const renameTo = (name: string) => {
    const n = Buffer.from(name, 'utf16le');
    const b = Buffer.alloc(20 + n.length);
    b[0] = 1;
    b.writeUInt32LE(n.length, 16);
    n.copy(b, 20);
    return b;
  };

  test('a rename takes H from the other leases and waits for the acknowledgment; the renamer\'s own lease stays (MS-FSA 2.1.5.15.12)', async () => {
    const { peer, v } = await server();
    const a = await peer(), b = await peer();
    const ra = leaseOfReply(await leased(a, 'src', K1, RH));
    assert.equal(leaseOfReply(await leased(b, 'src', K2, RH, { access: 0x00120089, disposition: DISPOSITION.OPEN })).state, RH);
    const interim = await a.c.setInfo(a.tid, ra.fileId, INFO_TYPE.FILE, FILE_INFO.Rename, renameTo('dst'));
    assert.equal(interim.header.status, STATUS.PENDING, 'the rename waits');
    await tick();
    assert.deepEqual(b.leaseBreaks.map((x) => [x.from, x.to, x.ackRequired]), [[RH, LEASE.READ, true]]);
    assert.equal(a.leaseBreaks.length, 0);
    await assert.rejects(v.paths.stat(ROOT_CTX, '/home/dst'), 'not renamed before the acknowledgment');
    assert.equal((await leaseAck(b, K2, LEASE.READ)).header.status, 0);
    assert.equal((await final(a, interim.header.asyncId)).header.status, 0);
    assert.equal((await v.paths.stat(ROOT_CTX, '/home/dst')).type, 'file');
    // Renamed back: no other lease holds H now, nothing to wait for.
    assert.equal((await a.c.setInfo(a.tid, ra.fileId, INFO_TYPE.FILE, FILE_INFO.Rename, renameTo('src'))).header.status, 0);
  });

  test('delete pending (SET_INFO, or a delete-on-close CREATE) takes H from the other leases', async () => {
    const { peer } = await server();
    const a = await peer(), b = await peer();
    await leased(a, 'd', K1, RH);
    const rb = leaseOfReply(await leased(b, 'd', K2, RH));
    const disp = await b.c.setInfo(b.tid, rb.fileId, INFO_TYPE.FILE, FILE_INFO.Disposition, Buffer.from([1]));
    assert.equal(disp.header.status, STATUS.PENDING);
    await tick();
    assert.deepEqual(a.leaseBreaks.map((x) => [x.from, x.to]), [[RH, LEASE.READ]]);
    assert.equal((await leaseAck(a, K1, LEASE.READ)).header.status, 0);
    assert.equal((await final(b, disp.header.asyncId)).header.status, 0);
    assert.equal(b.leaseBreaks.length, 0, 'its own lease stays');

    await leased(a, 'e', Buffer.alloc(16, 0x44), RH);
    const id = await pendingOpen(b, b.c.createFile(b.tid, { name: 'e', desiredAccess: 0x00010000, shareAccess: SHARE_ALL, disposition: DISPOSITION.OPEN, options: 0x1000 /* DELETE_ON_CLOSE */ }));
    assert.deepEqual(a.leaseBreaks.slice(1).map((x) => [x.from, x.to]), [[RH, LEASE.READ]]);
    await leaseAck(a, Buffer.alloc(16, 0x44), LEASE.READ);
    assert.equal((await final(b, id)).header.status, 0);
  });

  test('an overwrite breaks an RH lease to none without waiting; a second one while it breaks sends nothing (smb2.lease.breaking4)', async () => {
    const { peer } = await server();
    const a = await peer(), b = await peer();
    await leased(a, 'o', K1, RH);
    const r1 = await open(b, 'o', { disposition: DISPOSITION.OVERWRITE });
    assert.equal(r1.header.status, 0, 'not held');
    assert.deepEqual(a.leaseBreaks.map((x) => [x.from, x.to, x.ackRequired]), [[RH, 0, true]]);
    assert.equal((await open(b, 'o', { disposition: DISPOSITION.OVERWRITE })).header.status, 0);
    assert.equal(a.leaseBreaks.length, 1);
    assert.equal(leaseOfReply(await leased(a, 'o', K1, 0)).flags, 2, 'BREAK_IN_PROGRESS');
    assert.equal((await leaseAck(a, K1, 0)).header.status, 0);
  });

  test('an overwrite arriving while a break is in progress: after the acknowledgment RH goes to R, then to none, under one epoch; the opens wait for the end (smb2.lease.v2_breaking3)', async () => {
    const { peer } = await server();
    const a = await peer(), b = await peer();
    assert.equal(leaseOfReply(await leased(a, 'b3', K1, RWH, { v2: { epoch: 0x11 } })).epoch, 0x12);
    const id2 = await pendingOpen(b, open(b, 'b3'));
    assert.deepEqual(a.leaseBreaks.map((x) => [x.from, x.to, x.epoch]), [[RWH, RH, 0x13]]);
    const id3 = await pendingOpen(b, open(b, 'b3', { disposition: DISPOSITION.OVERWRITE }));
    await tick();
    assert.equal(a.leaseBreaks.length, 1, 'no second notification while the first is unanswered');
    assert.equal((await leaseAck(a, K1, RH)).header.status, 0);
    await tick();
    assert.deepEqual(a.leaseBreaks.slice(1).map((x) => [x.from, x.to, x.epoch, x.ackRequired]), [[RH, LEASE.READ, 0x13, true]]);
    assert.equal(b.finals.length, 0, 'both opens still wait');
    assert.equal((await leaseAck(a, K1, LEASE.READ)).header.status, 0);
    await tick();
    assert.deepEqual(a.leaseBreaks.slice(2).map((x) => [x.from, x.to, x.epoch, x.ackRequired]), [[LEASE.READ, 0, 0x13, false]]);
    assert.equal((await final(b, id2)).header.status, 0);
    assert.equal((await final(b, id3)).header.status, 0);
  });

  test('a break not acknowledged in time leaves the lease with nothing (smb2.lease.timeout)', async () => {
    const { peer } = await server();
    const a = await peer(), b = await peer();
    setBreakTimeout(50);
    try {
      await leased(a, 't', K1, RWH);
      const id = await pendingOpen(b, leased(b, 't', K2, RWH));
      assert.equal(leaseOfReply(await final(b, id)).state, RH);
      assert.equal((await leaseAck(a, K1, RH)).header.status, STATUS.UNSUCCESSFUL, 'too late');
      assert.equal(leaseOfReply(await leased(a, 't', K1, 0)).state, 0);
    } finally {
      setBreakTimeout(35_000);
    }
  });

  test('a leased durable open comes back with its lease key and name: another key → OBJECT_NAME_NOT_FOUND, another name → INVALID_PARAMETER (3.3.5.9.7)', async () => {
    const { peer } = await server();
    const a = await peer();
    const guid = Buffer.alloc(16, 0x6b);
    const dh2q = Buffer.alloc(32);
    guid.copy(dh2q, 16);
    const r = decodeCreateResponse((await open(a, 'dl', { oplock: OPLOCK.LEASE, contexts: [RqLs(K1, RWH), { name: 'DH2Q', data: dh2q }] })).message);
    assert.ok(r.contexts.some((x) => x.name === 'DH2Q'), 'durable');
    await a.c.conn.closeFiles();
    const b = await peer({ clientGuid: a.c.clientGuid });
    const dh2c = Buffer.alloc(36);
    dh2c.writeBigUInt64LE(r.fileId.persistent, 0);
    dh2c.writeBigUInt64LE(r.fileId.volatile, 8);
    guid.copy(dh2c, 16);
    const again = (name: string, key: Buffer) => open(b, name, { oplock: OPLOCK.LEASE, contexts: [RqLs(key, 0), { name: 'DH2C', data: dh2c }] });
    assert.equal((await again('dl', K2)).header.status, STATUS.OBJECT_NAME_NOT_FOUND);
    assert.equal((await again('other', K1)).header.status, STATUS.INVALID_PARAMETER);
    const back = await again('dl', K1);
    assert.equal(back.header.status, 0);
    assert.equal(leaseOfReply(back).state, RWH);
    assert.equal(decodeCreateResponse(back.message).contexts.some((x) => x.name === 'DHnQ' || x.name === 'DH2Q'), false, 'a leased reconnect answers no durable context');
  });

  test('a break goes to the client\'s oldest connection, whichever of its connections holds the open (smb2.lease.v2_complex1)', async () => {
    const { peer } = await server();
    const a1 = await peer();
    const a2 = await peer({ clientGuid: a1.c.clientGuid });
    const b = await peer();
    await leased(a1, 'x', K1, LEASE.READ); // a1 is the client's first leasing connection
    await leased(a2, 'y', K2, LEASE.READ);
    const rb = decodeCreateResponse((await open(b, 'y')).message);
    assert.equal((await b.c.writeFile(b.tid, rb.fileId, 0, Buffer.from('z'))).header.status, 0);
    await tick();
    assert.deepEqual(a1.leaseBreaks.map((x) => [x.key[0], x.from, x.to]), [[0x22, LEASE.READ, 0]]);
    assert.equal(a2.leaseBreaks.length, 0);
  });
});
