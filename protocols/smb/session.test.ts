/**
 * The SMB2 connection state machine, sans-IO, driven by the test client in testdata/client.ts:
 * NEGOTIATE (SMB1 upgrade, every dialect, 3.1.1 contexts), SESSION_SETUP (good, wrong and
 * missing credentials), signing and encryption both ways for every dialect and cipher, tree
 * connects (shares, IPC$, unknown, encryption-only), the sequence window, compounds, and the
 * ERROR response for commands not built.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { STATUS } from './errors.js';
import type { SmbConnection } from './session.js';
import { SequenceWindow } from './state.js';
import { connection, message, smb1Negotiate, TestClient, type Reply } from './testdata/client.js';
import { decodeErrorResponse } from './wire/error.js';
import { Command, HDR_FLAGS, joinCompound } from './wire/header.js';
import { CIPHER, CTX, decodeNegotiateResponse, DIALECT, findContext, SIGNING_ALG, writeNegotiateRequest, type NegotiateContext } from './wire/negotiate.js';
import { decodeTreeConnectResponse, SHARE_FLAG, SHARE_TYPE, writeEmptyBody, writeTreeConnectRequest } from './wire/session-setup.js';
import type { Writer } from './wire/reader.js';

const tcon = (path: string) => (w: Writer) => { writeTreeConnectRequest(w, { flags: 0, path }); };
const empty = (w: Writer) => { writeEmptyBody(w); };
const errorOf = (r: Reply) => {
  decodeErrorResponse(r.message); // a proper ERROR body (StructureSize 9)
  return r.header.status;
};

describe('SMB2 connection', () => {
  test('3.1.1: contexts, login, signed final response, tree connects, NOT_SUPPORTED, logoff', async () => {
    const c = new TestClient(connection());
    const n = await c.negotiate([DIALECT.SMB202, DIALECT.SMB210, DIALECT.SMB300, DIALECT.SMB311], { ciphers: [CIPHER.AES_256_GCM, CIPHER.AES_128_GCM], signing: [SIGNING_ALG.AES_GMAC, SIGNING_ALG.AES_CMAC] });
    const resp = decodeNegotiateResponse(n.message);
    assert.equal(resp.dialect, DIALECT.SMB311);
    assert.equal(findContext(resp.contexts, CTX.PREAUTH_INTEGRITY)?.salt.length, 32);
    assert.deepEqual(findContext(resp.contexts, CTX.ENCRYPTION)?.ciphers, [CIPHER.AES_256_GCM], 'the client\'s first choice');
    assert.deepEqual(findContext(resp.contexts, CTX.SIGNING)?.algorithms, [SIGNING_ALG.AES_GMAC]);
    assert.ok(resp.securityBuffer.length > 0, 'NegTokenInit2');
    const r = await c.login('alice', 's3cret');
    assert.equal(r.header.status, STATUS.SUCCESS);
    assert.ok(c.verify(r), '3.1.1 signs the final SESSION_SETUP response with the pre-auth-hash keys');

    const t = await c.send(Command.TREE_CONNECT, tcon('\\\\dw\\DATA'));
    assert.equal(t.header.status, STATUS.SUCCESS);
    const tr = decodeTreeConnectResponse(t.message);
    assert.equal(tr.shareType, SHARE_TYPE.DISK);
    assert.equal(tr.maximalAccess, 0x001f01ff);
    const ro = await c.send(Command.TREE_CONNECT, tcon('\\\\127.0.0.1\\ro'));
    assert.equal(decodeTreeConnectResponse(ro.message).maximalAccess, 0x001200a9, 'read-only share');
    const ipc = await c.send(Command.TREE_CONNECT, tcon('\\\\dw\\IPC$'));
    assert.equal(decodeTreeConnectResponse(ipc.message).shareType, SHARE_TYPE.PIPE);
    assert.equal(errorOf(await c.send(Command.TREE_CONNECT, tcon('\\\\dw\\nope'))), STATUS.BAD_NETWORK_NAME);
    assert.equal(errorOf(await c.send(Command.TREE_CONNECT, tcon('no-unc'))), STATUS.INVALID_PARAMETER);

    // Every command not built yet: STATUS_NOT_SUPPORTED in an ERROR body; unknown codes too.
    // (file commands too, on a connection without a VFS); an undecodable IOCTL is INVALID_PARAMETER.
    for (const cmd of [Command.CREATE, Command.CLOSE, Command.READ, Command.WRITE, Command.QUERY_DIRECTORY, Command.QUERY_INFO, Command.LOCK, 0x55]) {
      assert.equal(errorOf(await c.send(cmd, (w) => w.zeros(48), { treeId: t.header.treeId })), STATUS.NOT_SUPPORTED, `command ${cmd}`);
    }
    assert.equal(errorOf(await c.send(Command.IOCTL, (w) => w.zeros(48), { treeId: t.header.treeId })), STATUS.INVALID_PARAMETER);
    assert.equal(errorOf(await c.send(Command.CREATE, (w) => w.zeros(48), { treeId: 999 })), STATUS.NETWORK_NAME_DELETED);
    assert.equal((await c.send(Command.ECHO, empty)).header.status, STATUS.SUCCESS);
    assert.equal((await c.send(Command.TREE_DISCONNECT, empty, { treeId: t.header.treeId })).header.status, STATUS.SUCCESS);
    assert.equal(errorOf(await c.send(Command.TREE_DISCONNECT, empty, { treeId: t.header.treeId })), STATUS.NETWORK_NAME_DELETED);
    assert.equal((await c.send(Command.LOGOFF, empty)).header.status, STATUS.SUCCESS);
    assert.equal(errorOf(await c.send(Command.TREE_CONNECT, tcon('\\\\dw\\data'))), STATUS.USER_SESSION_DELETED);
  });

  test('wrong password, unknown user, a user without an NT hash: LOGON_FAILURE and the session is gone', async () => {
    const logs: string[] = [];
    const c = new TestClient(connection({}, logs));
    await c.negotiate([DIALECT.SMB311]);
    const bad = await c.login('alice', 'wrong');
    assert.equal(bad.header.status, STATUS.LOGON_FAILURE);
    assert.equal(errorOf(await c.send(Command.TREE_CONNECT, tcon('\\\\dw\\data'))), STATUS.USER_SESSION_DELETED);
    assert.equal((await c.login('mallory', 's3cret')).header.status, STATUS.LOGON_FAILURE);
    assert.equal((await c.login('old', 'whatever')).header.status, STATUS.LOGON_FAILURE);
    assert.ok(logs.some((l) => /old has no NT hash.*dw user passwd old/.test(l)), logs.join('\n'));
    assert.equal(c.conn.sessions.size, 0);
    assert.equal((await c.login('alice', 's3cret')).header.status, STATUS.SUCCESS, 'the connection still serves');
  });

  for (const [name, dialect] of [['2.0.2', DIALECT.SMB202], ['2.1', DIALECT.SMB210], ['3.0', DIALECT.SMB300], ['3.0.2', DIALECT.SMB302], ['3.1.1', DIALECT.SMB311]] as const) {
    test(`${name}: signing required by the client: responses signed, bad or missing signatures refused`, async () => {
      const c = new TestClient(connection());
      await c.negotiate([dialect]);
      assert.equal(c.dialect, dialect);
      const r = await c.login('alice', 's3cret', { requireSigning: true });
      assert.equal(r.header.status, STATUS.SUCCESS);
      assert.ok(c.verify(r), 'final SESSION_SETUP signed');
      const t = await c.send(Command.TREE_CONNECT, tcon('\\\\dw\\data'));
      assert.equal(t.header.status, STATUS.SUCCESS);
      assert.ok(c.verify(t), 'TREE_CONNECT response signed');
      assert.equal(errorOf(await c.send(Command.TREE_CONNECT, tcon('\\\\dw\\data'), { sign: false })), STATUS.ACCESS_DENIED, 'unsigned');
      const good = c.keys!.signingKey;
      c.keys!.signingKey = Buffer.alloc(16, 1);
      assert.equal(errorOf(await c.send(Command.ECHO, empty)), STATUS.ACCESS_DENIED, 'wrong key');
      c.keys!.signingKey = good;
      assert.ok(c.verify(await c.send(Command.ECHO, empty)));
    });
  }

  for (const [name, dialect, ciphers] of [
    ['3.0 AES-128-CCM', DIALECT.SMB300, undefined], ['3.0.2 AES-128-CCM', DIALECT.SMB302, undefined],
    ['3.1.1 AES-128-GCM', DIALECT.SMB311, [CIPHER.AES_128_GCM]], ['3.1.1 AES-128-CCM', DIALECT.SMB311, [CIPHER.AES_128_CCM]],
    ['3.1.1 AES-256-GCM', DIALECT.SMB311, [CIPHER.AES_256_GCM]], ['3.1.1 AES-256-CCM', DIALECT.SMB311, [CIPHER.AES_256_CCM]],
  ] as const) {
    test(`${name}: encrypted requests get encrypted responses; an encryption-only share`, async () => {
      const c = new TestClient(connection());
      await c.negotiate([dialect], ciphers ? { ciphers: [...ciphers] } : {});
      assert.equal((await c.login('alice', 's3cret')).header.status, STATUS.SUCCESS);
      const t = await c.send(Command.TREE_CONNECT, tcon('\\\\dw\\data'), { encrypt: true });
      assert.equal(t.header.status, STATUS.SUCCESS);
      assert.ok(t.encrypted);
      const s = await c.send(Command.TREE_CONNECT, tcon('\\\\dw\\secret'));
      assert.equal(s.header.status, STATUS.SUCCESS);
      assert.equal(decodeTreeConnectResponse(s.message).shareFlags & SHARE_FLAG.ENCRYPT_DATA, SHARE_FLAG.ENCRYPT_DATA);
      // MS-SMB2 3.3.5.2.11 / 3.3.5.7: unencrypted access to the tree is refused.
      assert.equal(errorOf(await c.send(Command.CREATE, (w) => w.zeros(48), { treeId: s.header.treeId })), STATUS.ACCESS_DENIED);
      const enc = await c.send(Command.CREATE, (w) => w.zeros(48), { treeId: s.header.treeId, encrypt: true });
      assert.ok(enc.encrypted);
      assert.equal(errorOf(enc), STATUS.NOT_SUPPORTED);
      // A tampered ciphertext drops the connection.
      const frame = (await c.conn.handleFrame(Buffer.from('fd534d42', 'hex'))).close;
      assert.equal(frame, true);
    });
  }

  test('an encryption-only share refuses connections that cannot encrypt (2.1; 3.0 without CAP_ENCRYPTION; 3.1.1 without a cipher)', async () => {
    for (const [dialects, o] of [[[DIALECT.SMB210], {}], [[DIALECT.SMB300], { caps: 0 }], [[DIALECT.SMB311], {}]] as const) {
      const c = new TestClient(connection());
      await c.negotiate([...dialects], o);
      assert.equal((await c.login('alice', 's3cret')).header.status, STATUS.SUCCESS);
      assert.equal(errorOf(await c.send(Command.TREE_CONNECT, tcon('\\\\dw\\secret'))), STATUS.ACCESS_DENIED, JSON.stringify(dialects));
      assert.equal((await c.send(Command.TREE_CONNECT, tcon('\\\\dw\\data'))).header.status, STATUS.SUCCESS);
    }
  });

  test('SMB1 multi-protocol NEGOTIATE: "SMB 2.???" gets 0x02FF, then SMB2 NEGOTIATE; no SMB2 dialect closes', async () => {
    const c = new TestClient(connection());
    const out = await c.raw(smb1Negotiate(['NT LM 0.12', 'SMB 2.002', 'SMB 2.???']));
    assert.equal(out.close, false);
    const [r] = c.parse(out.replies[0]!);
    assert.equal(decodeNegotiateResponse(r!.message).dialect, DIALECT.WILDCARD);
    assert.equal(r!.header.credits, 1);
    c.nextId = 1n;
    await c.negotiate([DIALECT.SMB210, DIALECT.SMB302]);
    assert.equal(c.dialect, DIALECT.SMB302);
    assert.equal((await c.login('alice', 's3cret')).header.status, STATUS.SUCCESS);

    const only202 = new TestClient(connection());
    const [r2] = only202.parse((await only202.raw(smb1Negotiate(['NT LM 0.12', 'SMB 2.002']))).replies[0]!);
    assert.equal(decodeNegotiateResponse(r2!.message).dialect, DIALECT.SMB202);
    assert.equal((await new TestClient(connection()).raw(smb1Negotiate(['NT LM 0.12']))).close, true);
    // SMB1 after NEGOTIATE, a second NEGOTIATE, a command before NEGOTIATE: dropped.
    assert.equal((await c.raw(smb1Negotiate(['SMB 2.???']))).close, true);
    const d = new TestClient(connection());
    await d.negotiate([DIALECT.SMB311]);
    assert.equal((await d.raw(message({ command: 0, messageId: d.nextId }, (w) => w.zeros(40)))).close, true);
    assert.equal((await new TestClient(connection()).raw(message({ command: Command.ECHO }, empty))).close, true);
  });

  test('no common dialect: STATUS_NOT_SUPPORTED; 3.1.1 without PREAUTH or SHA-512: INVALID_PARAMETER / NO_PREAUTH_INTEGRITY_HASH_OVERLAP', async () => {
    const neg = (dialects: number[], contexts: NegotiateContext[]) => message({ command: 0, credits: 1 }, (w) => {
      writeNegotiateRequest(w, { securityMode: 1, capabilities: 0, clientGuid: Buffer.alloc(16), dialects, contexts });
    });
    const answer = async (c: SmbConnection, m: Buffer) => new TestClient(c).parse((await c.handleFrame(m)).replies[0]!)[0]!;
    assert.equal(errorOf(await answer(connection({ dialects: [DIALECT.SMB311] }), neg([DIALECT.SMB202], []))), STATUS.NOT_SUPPORTED);
    assert.equal(errorOf(await answer(connection(), neg([DIALECT.SMB311], [{ type: CTX.ENCRYPTION, ciphers: [1] }]))), STATUS.INVALID_PARAMETER);
    assert.equal(errorOf(await answer(connection(), neg([DIALECT.SMB311], [{ type: CTX.PREAUTH_INTEGRITY, hashAlgorithms: [2], salt: Buffer.alloc(4) }]))), STATUS.SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP);
    // After a failed NEGOTIATE the client may try again (the connection is still unnegotiated).
    const c = connection();
    assert.equal(errorOf(await answer(c, neg([0x0400], []))), STATUS.NOT_SUPPORTED);
    const again = message({ command: 0, messageId: 1n, credits: 1 }, (w) => {
      writeNegotiateRequest(w, { securityMode: 1, capabilities: 0, clientGuid: Buffer.alloc(16), dialects: [DIALECT.SMB210], contexts: [] });
    });
    assert.equal(decodeNegotiateResponse((await answer(c, again)).message).dialect, DIALECT.SMB210);
  });

  test('the sequence window: reused or far MessageIds drop the connection; credits granted up to the limit', async () => {
    const c = new TestClient(connection({ maxCredits: 16 }));
    const n = await c.negotiate([DIALECT.SMB311]);
    assert.equal(n.header.credits, 1, 'NEGOTIATE asked for 1');
    const e = await c.send(Command.ECHO, empty, { credits: 100 });
    assert.equal(e.header.credits, 16, 'capped at maxCredits outstanding');
    assert.equal(c.conn.window.outstanding, 16);
    const multi = await c.send(Command.ECHO, empty, { creditCharge: 4, credits: 0 });
    assert.equal(multi.header.status, STATUS.SUCCESS);
    assert.equal(c.conn.window.outstanding, 13, '4 used, 1 granted');
    assert.equal((await c.raw(message({ command: Command.ECHO, messageId: 1n }, empty))).close, true, 'MessageId reused');
    const far = new TestClient(connection());
    await far.negotiate([DIALECT.SMB311]);
    assert.equal((await far.raw(message({ command: Command.ECHO, messageId: 1000n }, empty))).close, true, 'outside the window');
  });

  test('SequenceWindow: out-of-order ids, charge, grant', () => {
    const w = new SequenceWindow(8);
    assert.ok(w.accepts(0n, 1));
    w.consume(0n, 1);
    assert.equal(w.grant(3), 3);
    assert.ok(w.accepts(2n, 2) && !w.accepts(3n, 2) && !w.accepts(0n, 1));
    w.consume(2n, 1);
    assert.ok(!w.accepts(2n, 1) && w.accepts(1n, 1));
    w.consume(1n, 1);
    assert.equal(w.outstanding, 1, 'id 3 is left');
    w.consume(3n, 1);
    assert.equal(w.outstanding, 0);
    assert.equal(w.grant(0), 1, 'never left without a credit');
    assert.equal(w.grant(100), 7);
    assert.equal(w.grant(5), 0);
  });

  test('a compound of ECHOs is answered as a compound; a related first request is INVALID_PARAMETER', async () => {
    const c = new TestClient(connection());
    await c.negotiate([DIALECT.SMB311]);
    await c.login('alice', 's3cret');
    const id = c.nextId;
    c.nextId += 3n;
    const parts = [0n, 1n, 2n].map((i) => message({ command: Command.ECHO, messageId: id + i, credits: 1, sessionId: c.sessionId, flags: i === 2n ? HDR_FLAGS.RELATED_OPERATIONS : 0 }, empty));
    const out = await c.raw(joinCompound(parts));
    const replies = c.parse(out.replies[0]!);
    assert.deepEqual(replies.map((r) => [r.header.messageId, r.header.status]), [[id, 0], [id + 1n, 0], [id + 2n, 0]]);
    const first = await c.raw(message({ command: Command.ECHO, messageId: c.nextId++, sessionId: c.sessionId, flags: HDR_FLAGS.RELATED_OPERATIONS }, empty));
    assert.equal(c.parse(first.replies[0]!)[0]!.header.status, STATUS.INVALID_PARAMETER);
  });

  test('raw NTLMSSP (no SPNEGO) and a Kerberos-first mechanism list both reach NTLM', async () => {
    for (const mode of ['raw', 'krb5-first'] as const) {
      const c = new TestClient(connection());
      await c.negotiate([DIALECT.SMB311]);
      const r = await c.login('alice', 's3cret', { mode });
      assert.equal(r.header.status, STATUS.SUCCESS, mode);
      assert.ok(c.verify(r), mode);
      assert.equal((await c.send(Command.TREE_CONNECT, tcon('\\\\dw\\data'), { encrypt: false })).header.status, STATUS.SUCCESS);
      assert.equal((await c.login('alice', 'nope', { mode })).header.status, STATUS.LOGON_FAILURE, mode);
    }
  });
});
