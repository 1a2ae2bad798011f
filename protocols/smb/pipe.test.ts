/**
 * Named pipes on IPC$ through the whole connection (testdata/client.ts): CREATE of srvsvc,
 * smbclient's real BIND and NetrShareEnum PDUs (testdata/rpc-vectors.ts) by WRITE/READ and by
 * FSCTL_PIPE_TRANSCEIVE, answers read by the independent NDR decoder (testdata/srvsvc-decoder.ts),
 * message-mode READ with STATUS_BUFFER_OVERFLOW, multi-fragment replies, PEEK, QUERY_INFO,
 * FLUSH, CLOSE, FileIds bound to their tree, signing and encryption, and fuzzing of every pipe
 * command's body.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { STATUS } from './errors.js';
import { FSCTL_PIPE, MAX_PIPE_OPENS } from './pipe.js';
import type { SmbShare } from './shares.js';
import { decodeHeader, decodeResponse, PFC, PTYPE } from './rpc/dcerpc.js';
import { connection, TestClient } from './testdata/client.js';
import { SAMBA_RPC as V } from './testdata/rpc-vectors.js';
import { joinResponse, readShareEnumOut } from './testdata/srvsvc-decoder.js';
import { decodeCreateResponse, decodeOutputBufferResponse, type FileId } from './wire/files.js';
import { CIPHER, DIALECT } from './wire/negotiate.js';

const SHARES: SmbShare[] = [
  { name: 'Data', path: '/', readOnly: false, requireEncryption: false, remark: 'all of it' },
  { name: 'ro', path: '/pub', readOnly: true, requireEncryption: false },
];
const IPC_TYPE = 0x80000003;
const ENUM_CALL = decodeHeader(V.smbclientShareEnum1).callId;

async function ipcClient(o: { shares?: SmbShare[]; encrypt?: boolean; sign?: boolean } = {}) {
  const c = new TestClient(connection(o.shares ? { shares: o.shares } : {}));
  await c.negotiate([DIALECT.SMB311], { ciphers: [CIPHER.AES_128_GCM] });
  assert.equal((await c.login('alice', 's3cret', { requireSigning: o.sign ?? true })).header.status, 0);
  const enc = o.encrypt ? { encrypt: true } : {};
  const tree = await c.treeConnect('IPC$', enc);
  const { reply, fileId } = await c.create(tree, 'srvsvc', enc);
  assert.equal(reply.header.status, STATUS.SUCCESS);
  return { c, tree, fileId: fileId!, enc };
}

/** Reads whole PDUs by READ until a LAST_FRAG one. */
async function readPdus(c: TestClient, tree: number, fileId: FileId, o = {}): Promise<Buffer[]> {
  const pdus: Buffer[] = [];
  for (;;) {
    const r = await c.read(tree, fileId, 65536, o);
    assert.equal(r.status, STATUS.SUCCESS);
    pdus.push(r.data);
    if (r.data[3]! & PFC.LAST_FRAG) return pdus;
  }
}

describe('named pipes on IPC$', () => {
  test('CREATE srvsvc (any case, leading backslash); unknown pipe names are OBJECT_NAME_NOT_FOUND', async () => {
    const { c, tree } = await ipcClient();
    for (const name of ['SRVSVC', '\\srvsvc', 'SrvSvc']) {
      const { reply, fileId } = await c.create(tree, name);
      assert.equal(reply.header.status, STATUS.SUCCESS, name);
      assert.ok(c.verify(reply), 'signed');
      const r = decodeCreateResponse(reply.message);
      assert.equal(r.createAction, 1); // FILE_OPENED
      assert.equal(r.fileAttributes, 0x80); // FILE_ATTRIBUTE_NORMAL
      // The 16 FileId bytes on the wire (2.2.14.1: Persistent, Volatile) are the FileId decoded.
      assert.equal(reply.message.readBigUInt64LE(64 + 64), fileId!.persistent);
      assert.equal(reply.message.readBigUInt64LE(64 + 72), fileId!.volatile);
      assert.deepEqual(r.fileId, fileId);
    }
    for (const name of ['lsarpc', 'winreg', 'srvsvc2', '', 'PIPE\\srvsvc']) {
      assert.equal((await c.create(tree, name)).reply.header.status, STATUS.OBJECT_NAME_NOT_FOUND, name);
    }
  });

  test('BIND + NetrShareEnum by WRITE and READ: every configured share (Disk, with its remark) and IPC$', async () => {
    const { c, tree, fileId } = await ipcClient({ shares: SHARES });
    assert.deepEqual(await c.write(tree, fileId, V.smbclientBind), { status: STATUS.SUCCESS, count: V.smbclientBind.length });
    const [ack] = await readPdus(c, tree, fileId);
    assert.equal(decodeHeader(ack!).ptype, PTYPE.BIND_ACK);
    assert.equal((await c.read(tree, fileId, 4280)).status, STATUS.PIPE_EMPTY, 'nothing queued');
    assert.equal((await c.write(tree, fileId, V.smbclientShareEnum1)).status, STATUS.SUCCESS);
    const out = readShareEnumOut(joinResponse(await readPdus(c, tree, fileId), ENUM_CALL));
    assert.equal(out.werr, 0);
    assert.deepEqual(out.shares, [
      { name: 'Data', type: 0, remark: 'all of it' },
      { name: 'ro', type: 0, remark: '' },
      { name: 'IPC$', type: IPC_TYPE, remark: 'IPC Service' },
    ]);
    assert.equal(out.total, 3);
  });

  test('message mode: a READ shorter than the message gets BUFFER_OVERFLOW and the rest comes next, never two messages at once', async () => {
    const { c, tree, fileId } = await ipcClient();
    await c.write(tree, fileId, V.smbclientBind);
    const a = await c.read(tree, fileId, 10);
    assert.equal(a.status, STATUS.BUFFER_OVERFLOW);
    assert.equal(a.data.length, 10);
    const b = await c.read(tree, fileId, 30);
    assert.equal(b.status, STATUS.BUFFER_OVERFLOW);
    const rest = await c.read(tree, fileId, 65536);
    assert.equal(rest.status, STATUS.SUCCESS);
    const ack = Buffer.concat([a.data, b.data, rest.data]);
    assert.equal(ack.readUInt16LE(8), ack.length, 'the pieces make one whole BIND_ACK');
    assert.equal(decodeHeader(ack).ptype, PTYPE.BIND_ACK);
    // Two requests written back to back: two messages, read one per READ.
    await c.write(tree, fileId, Buffer.concat([V.smbclientShareEnum1, V.smbclientShareEnum1]));
    const one = await c.read(tree, fileId, 65536), two = await c.read(tree, fileId, 65536);
    assert.deepEqual([one.status, two.status], [STATUS.SUCCESS, STATUS.SUCCESS]);
    assert.equal(one.data.readUInt16LE(8), one.data.length);
    assert.deepEqual(one.data, two.data);
    assert.equal((await c.read(tree, fileId, 65536)).status, STATUS.PIPE_EMPTY);
  });

  test('FSCTL_PIPE_TRANSCEIVE: BIND and NetrShareEnum in one call each; a short MaxOutputResponse gives BUFFER_OVERFLOW and READ the rest', async () => {
    const { c, tree, fileId } = await ipcClient({ shares: SHARES });
    const b = await c.ioctl(tree, fileId, FSCTL_PIPE.TRANSCEIVE, V.smbclientBind, 4280);
    assert.equal(b.status, STATUS.SUCCESS);
    assert.ok(c.verify(b.reply));
    assert.equal(decodeHeader(b.output).ptype, PTYPE.BIND_ACK);
    const e = await c.ioctl(tree, fileId, FSCTL_PIPE.TRANSCEIVE, V.smbclientShareEnum1, 4280);
    assert.equal(e.status, STATUS.SUCCESS);
    assert.deepEqual(readShareEnumOut(joinResponse([e.output], ENUM_CALL)).shares?.map((s) => s.name), ['Data', 'ro', 'IPC$']);
    const s = await c.ioctl(tree, fileId, FSCTL_PIPE.TRANSCEIVE, V.smbclientShareEnum1, 64);
    assert.equal(s.status, STATUS.BUFFER_OVERFLOW);
    assert.equal(s.output.length, 64);
    // While the rest is queued a TRANSCEIVE is refused (the pipe is busy); PEEK sees it without taking it.
    assert.equal((await c.ioctl(tree, fileId, FSCTL_PIPE.TRANSCEIVE, V.smbclientShareEnum1, 4280)).status, STATUS.PIPE_BUSY);
    const p = await c.ioctl(tree, fileId, FSCTL_PIPE.PEEK, Buffer.alloc(0), 16);
    assert.equal(p.status, STATUS.BUFFER_OVERFLOW);
    assert.deepEqual([p.output.readUInt32LE(0), p.output.readUInt32LE(8), p.output.readUInt32LE(12)], [3, 1, e.output.length - 64]);
    assert.equal((await c.ioctl(tree, fileId, FSCTL_PIPE.PEEK, Buffer.alloc(0), 8)).status, STATUS.BUFFER_TOO_SMALL);
    const rest = await c.read(tree, fileId, 65536);
    assert.equal(rest.status, STATUS.SUCCESS);
    assert.deepEqual(Buffer.concat([s.output, rest.data]).subarray(24), e.output.subarray(24), 'same answer but the call id');
    // Not an FSCTL: NOT_SUPPORTED; a huge MaxOutputResponse: INVALID_PARAMETER; other FSCTLs go to the disk side
    // (ioctl.ts: a VALIDATE_NEGOTIATE_INFO without dialects does not decode → INVALID_PARAMETER; other codes INVALID_DEVICE_REQUEST).
    assert.equal((await c.ioctl(tree, fileId, FSCTL_PIPE.TRANSCEIVE, V.smbclientShareEnum1, 4280, { flags: 0 })).status, STATUS.NOT_SUPPORTED);
    assert.equal((await c.ioctl(tree, fileId, FSCTL_PIPE.TRANSCEIVE, V.smbclientShareEnum1, 0x7fffffff)).status, STATUS.INVALID_PARAMETER);
    assert.equal((await c.ioctl(tree, fileId, 0x00140204, Buffer.alloc(24), 24)).status, STATUS.INVALID_PARAMETER);
    assert.equal((await c.ioctl(tree, fileId, 0x00090000, Buffer.alloc(0), 24)).status, STATUS.INVALID_DEVICE_REQUEST);
  });

  test('a reply of several fragments: the first by TRANSCEIVE, the others by READ (as smbclient does)', async () => {
    const many: SmbShare[] = Array.from({ length: 120 }, (_, i) => ({ name: `share-${i}`, path: '/', readOnly: false, requireEncryption: false, remark: `remark number ${i} `.repeat(4) }));
    const { c, tree, fileId } = await ipcClient({ shares: many, encrypt: true });
    assert.equal((await c.ioctl(tree, fileId, FSCTL_PIPE.TRANSCEIVE, V.smbclientBind, 4280, { encrypt: true })).status, STATUS.SUCCESS);
    const first = await c.ioctl(tree, fileId, FSCTL_PIPE.TRANSCEIVE, V.smbclientShareEnum1, 4280, { encrypt: true });
    assert.equal(first.status, STATUS.SUCCESS);
    assert.equal(first.reply.encrypted, true);
    assert.equal(first.output[3]! & PFC.LAST_FRAG, 0, 'not the last fragment');
    const pdus = [first.output, ...await readPdus(c, tree, fileId, { encrypt: true })];
    assert.ok(pdus.length >= 3, `${pdus.length} fragments`);
    const out = readShareEnumOut(joinResponse(pdus, ENUM_CALL));
    assert.equal(out.shares?.length, 121);
    assert.equal(out.shares?.[119]?.remark, 'remark number 119 '.repeat(4));
    assert.equal(out.shares?.[120]?.name, 'IPC$');
  });

  test('QUERY_INFO FileStandardInformation, FLUSH, CLOSE; a FileId is good only on its tree and until CLOSE', async () => {
    const { c, tree, fileId } = await ipcClient();
    const q = await c.queryInfo(tree, fileId, 1, 5, 24);
    assert.equal(q.header.status, STATUS.SUCCESS);
    const std = decodeOutputBufferResponse(q.message);
    assert.equal(std.length, 24);
    assert.equal(std.readBigUInt64LE(0), 4096n);
    assert.equal(std.readUInt32LE(16), 1);
    assert.equal((await c.queryInfo(tree, fileId, 1, 5, 23)).header.status, STATUS.INFO_LENGTH_MISMATCH);
    assert.equal((await c.queryInfo(tree, fileId, 1, 4, 40)).header.status, STATUS.NOT_SUPPORTED);
    assert.equal((await c.flush(tree, fileId)).header.status, STATUS.SUCCESS);
    const other = await c.treeConnect('IPC$');
    assert.equal((await c.read(other, fileId, 100)).status, STATUS.FILE_CLOSED, 'another tree');
    assert.equal((await c.write(tree, { persistent: 0x0707070707070707n, volatile: 0x0707070707070707n }, V.smbclientBind)).status, STATUS.FILE_CLOSED, 'unknown FileId');
    const cl = await c.close(tree, fileId, { post: true });
    assert.equal(cl.header.status, STATUS.SUCCESS);
    assert.equal(cl.message.readUInt16LE(64), 60);
    assert.equal(cl.message.readUInt32LE(64 + 56), 0x80);
    assert.equal((await c.close(tree, fileId)).header.status, STATUS.FILE_CLOSED);
    assert.equal((await c.read(tree, fileId, 100)).status, STATUS.FILE_CLOSED);
    assert.equal((await c.flush(tree, fileId)).header.status, STATUS.FILE_CLOSED);
  });

  test('a disk share is not a pipe share (its CREATE is the disk side, not built: NOT_SUPPORTED); opens per tree are bounded', async () => {
    const { c, tree } = await ipcClient();
    const data = await c.treeConnect('Data');
    assert.equal((await c.create(data, 'srvsvc')).reply.header.status, STATUS.NOT_SUPPORTED);
    for (let i = 1; i < MAX_PIPE_OPENS; i++) assert.equal((await c.create(tree, 'srvsvc')).reply.header.status, STATUS.SUCCESS);
    assert.equal((await c.create(tree, 'srvsvc')).reply.header.status, STATUS.INSUFFICIENT_RESOURCES);
  });

  test('fuzz: random and mutated bodies of every pipe command get an answer (never a dropped connection), opens stay usable', async () => {
    const { c, tree, fileId } = await ipcClient({ sign: false });
    // Known-good bodies to mutate, taken from the client's own encoders.
    const good: { cmd: number; body: Buffer }[] = [];
    const capture = (cmd: number) => (m: Buffer) => good.push({ cmd, body: m.subarray(64) });
    const orig = c.raw.bind(c);
    const seen: Buffer[] = [];
    c.raw = async (f) => { seen.push(f); return orig(f); };
    await c.create(tree, 'srvsvc');
    await c.write(tree, fileId, V.smbclientBind);
    await c.read(tree, fileId, 4280);
    await c.ioctl(tree, fileId, FSCTL_PIPE.TRANSCEIVE, V.smbclientShareEnum1, 4280);
    await c.queryInfo(tree, fileId, 1, 5, 24);
    await c.flush(tree, fileId);
    [5, 9, 8, 11, 16, 7].forEach((cmd, i) => capture(cmd)(seen[i]!));
    c.raw = orig;
    const allowed = new Set<number>(Object.values(STATUS));
    await fc.assert(fc.asyncProperty(
      fc.oneof(
        fc.record({ cmd: fc.constantFrom(5, 6, 7, 8, 9, 11, 16), body: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) }),
        fc.record({
          i: fc.nat(good.length - 1),
          edits: fc.array(fc.tuple(fc.nat(400), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
          cut: fc.integer({ min: -40, max: 0 }),
        }).map(({ i, edits, cut }) => {
          const g = good[i]!;
          const body = Buffer.from(g.body.subarray(0, cut < 0 ? Math.max(0, g.body.length + cut) : g.body.length));
          for (const [at, v] of edits) if (body.length) body[at % body.length] = v;
          return { cmd: g.cmd, body };
        }),
      ),
      async ({ cmd, body }) => {
        const r = await c.send(cmd, (w) => { w.bytes(body); }, { treeId: tree });
        assert.ok(allowed.has(r.header.status), `status 0x${r.header.status.toString(16)}`);
      },
    ), { numRuns: 400 });
    // The connection and the tree still work: a fresh open answers (the fuzzed one may hold half a PDU).
    assert.notEqual((await c.read(tree, fileId, 65536)).status, STATUS.FILE_CLOSED);
    const fresh = (await c.create(tree, 'srvsvc')).fileId!;
    assert.equal((await c.ioctl(tree, fresh, FSCTL_PIPE.TRANSCEIVE, V.smbclientBind, 4280)).status, STATUS.SUCCESS);
    const e = await c.ioctl(tree, fresh, FSCTL_PIPE.TRANSCEIVE, V.smbclientShareEnum1, 4280);
    assert.equal(e.status, STATUS.SUCCESS);
    assert.equal(decodeResponse(e.output).header.ptype, PTYPE.RESPONSE);
  });
});
