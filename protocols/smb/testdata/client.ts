/**
 * A minimal sans-IO SMB2 client for the server's unit tests: it builds requests with the
 * groundwork codecs, does the client side of NTLMv2 + SPNEGO (MS-NLMP 3.1.5, 3.3.2), derives
 * the client's keys (MS-SMB2 3.2.5.3.1: its signing key is the server's, it encrypts with the
 * server's decryption key), signs, encrypts, and feeds frames straight to an SmbConnection.
 * Tests only.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  AV, computeMic, decodeAvPairs, decodeChallengeMessage, encodeAuthenticateMessage, encodeAvPairs, encodeNegotiateMessage, ntHash, NtlmMic,
  ntlmv2Response, ntowfv2,
} from '../auth/ntlm.js';
import { rc4 } from '../auth/legacy.js';
import { decodeSpnego, encodeMechTypes, encodeNegTokenInit, encodeNegTokenResp, OID_NTLMSSP } from '../auth/spnego.js';
import { deriveServerKeys, PreauthHash, type SessionKeys } from '../crypto/keys.js';
import { decryptMessage, encryptMessage, NonceSequence, cipherParams } from '../crypto/encrypt.js';
import { signingAlgorithmFor, signMessage, verifySignature } from '../crypto/sign.js';
import { Command, decodeHeader, header, HDR_FLAGS, protocolOf, splitCompound, writeHeader, type Smb2Header } from '../wire/header.js';
import * as F from '../wire/files.js';
import {
  CAP, CIPHER, CTX, decodeNegotiateResponse, DIALECT, findContext, HASH_SHA512, SECURITY_MODE, SIGNING_ALG, writeNegotiateRequest,
  type NegotiateContext,
} from '../wire/negotiate.js';
import { Writer } from '../wire/reader.js';
import { decodeSessionSetupResponse, decodeTreeConnectResponse, writeSessionSetupRequest, writeTreeConnectRequest } from '../wire/session-setup.js';
import { replyBytes, SmbConnection, type ConnectionOptions, type FrameOutput, type Reply as Frame } from '../session.js';
import { shareFileService } from '../server.js';
import { createMemoryVfs, ROOT_CTX, type VfsInstance } from '../../../vfs/index.js';
import type { SmbAccount } from '../setup.js';

const OID_KRB5 = '1.2.840.113554.1.2.2';

const alice: SmbAccount = { principal: { name: 'alice', uid: 1000, gid: 1000, groups: [1000] }, ntHash: ntHash('s3cret') };
const old: SmbAccount = { principal: { name: 'old', uid: 1001, gid: 1001, groups: [1001] }, ntHash: undefined };

/** A connection with three shares (Data, ro read-only, secret encryption-only) and users alice (s3cret) and old (no NT hash); log messages go to `logs`. */
export function connection(o: Partial<ConnectionOptions> = {}, logs: string[] = []): SmbConnection {
  const log = { info: (_o: unknown, m: string) => logs.push(m), warn: (_o: unknown, m: string) => logs.push(m), debug: () => {}, error: (_o: unknown, m: string) => logs.push(m) };
  return new SmbConnection({
    shares: [
      { name: 'Data', path: '/', readOnly: false, requireEncryption: false },
      { name: 'ro', path: '/pub', readOnly: true, requireEncryption: false },
      { name: 'secret', path: '/s', readOnly: false, requireEncryption: true },
    ],
    lookup: async (u) => (u === 'alice' ? alice : u === 'old' ? old : undefined),
    serverGuid: Buffer.alloc(16, 9), identity: { nbDomain: 'WORKGROUP', nbComputer: 'DW', dnsComputer: 'dw.test' }, peer: 'test',
    log: log as never, ...o,
  });
}

export interface Reply {
  header: Smb2Header;
  message: Buffer;
  /** The response arrived in a TRANSFORM_HEADER. */
  encrypted: boolean;
}

/** An SMB1 NEGOTIATE (MS-CIFS 2.2.4.52.1) offering `dialects`. */
export function smb1Negotiate(dialects: string[]): Buffer {
  const names = Buffer.concat(dialects.map((d) => Buffer.concat([Buffer.from([2]), Buffer.from(`${d}\0`, 'latin1')])));
  const w = new Writer().u32(0x424d53ff).u8(0x72).zeros(27).u8(0).u16(names.length).bytes(names);
  return w.finish();
}

/** One request message: header then body. */
export function message(h: Partial<Smb2Header> & { command: number }, body: (w: Writer) => void): Buffer {
  const w = new Writer();
  writeHeader(w, header(h));
  body(w);
  return w.finish();
}

export class TestClient {
  nextId = 0n;
  dialect = 0;
  cipher = 0;
  signingAlg: number | undefined;
  preauth: PreauthHash | undefined;
  sessionId = 0n;
  keys: SessionKeys | undefined;
  signing = false;
  /** The ClientGuid sent in NEGOTIATE. */
  readonly clientGuid = randomBytes(16);
  private nonces: NonceSequence | undefined;

  constructor(readonly conn: SmbConnection) {}

  /** Sends a frame's payload, returns what came back. */
  async raw(frame: Buffer): Promise<FrameOutput> {
    return this.conn.handleFrame(frame);
  }

  /** Decrypts/splits a reply frame into its messages, checking signatures when this client signs. */
  parse(sent: Frame): Reply[] {
    const frame = replyBytes(sent);
    let msg = frame, encrypted = false;
    if (protocolOf(frame) === 'transform') {
      assert.ok(this.keys?.encryptionKey, 'encrypted reply without keys');
      msg = decryptMessage(frame, () => ({ cipher: this.cipher, key: this.keys!.encryptionKey! })).message;
      encrypted = true;
    }
    return splitCompound(msg).map((p) => ({ header: p.header, message: p.bytes, encrypted }));
  }

  /** Sends one request (signed and/or encrypted as asked) and returns the single reply. */
  async send(command: number, body: (w: Writer) => void, o: { treeId?: number; sign?: boolean; encrypt?: boolean; credits?: number; messageId?: bigint; sessionId?: bigint; creditCharge?: number } = {}): Promise<Reply> {
    const r = await this.sendAll(command, body, o);
    assert.equal(r.length, 1, 'one reply');
    return r[0]!;
  }

  async sendAll(command: number, body: (w: Writer) => void, o: { treeId?: number; sign?: boolean; encrypt?: boolean; credits?: number; messageId?: bigint; sessionId?: bigint; creditCharge?: number } = {}): Promise<Reply[]> {
    const charge = o.creditCharge ?? 1;
    const messageId = o.messageId ?? this.nextId;
    this.nextId = messageId + BigInt(Math.max(1, charge));
    let msg = message({ command, messageId, credits: o.credits ?? 8, creditCharge: this.dialect === DIALECT.SMB202 ? 0 : charge, sessionId: o.sessionId ?? this.sessionId, treeId: o.treeId ?? 0 }, body);
    if (o.sign ?? (this.signing && !o.encrypt)) signMessage(msg, signingAlgorithmFor(this.dialect, this.signingAlg), this.keys!.signingKey);
    if (o.encrypt) {
      this.nonces ??= new NonceSequence(cipherParams(this.cipher).nonceLength);
      msg = encryptMessage(msg, { cipher: this.cipher, key: this.keys!.decryptionKey!, sessionId: this.sessionId, nonce: this.nonces.next() });
    }
    const out = await this.raw(msg);
    assert.equal(out.close, false, 'connection kept');
    assert.equal(out.replies.length, 1, 'one frame back');
    return this.parse(out.replies[0]!);
  }

  /** NEGOTIATE; for 3.1.1 with PREAUTH, ENCRYPTION (`ciphers`) and SIGNING (`signing`) contexts. */
  async negotiate(dialects: number[], o: { ciphers?: number[]; signing?: number[]; caps?: number; securityMode?: number } = {}): Promise<Reply> {
    const contexts: NegotiateContext[] = [{ type: CTX.PREAUTH_INTEGRITY, hashAlgorithms: [HASH_SHA512], salt: randomBytes(32) }];
    if (o.ciphers) contexts.push({ type: CTX.ENCRYPTION, ciphers: o.ciphers });
    if (o.signing) contexts.push({ type: CTX.SIGNING, algorithms: o.signing });
    const req = message({ command: 0, messageId: this.nextId++, credits: 1 }, (w) => {
      writeNegotiateRequest(w, {
        securityMode: o.securityMode ?? SECURITY_MODE.SIGNING_ENABLED, capabilities: o.caps ?? CAP.ENCRYPTION | CAP.LARGE_MTU,
        clientGuid: this.clientGuid, dialects, contexts: dialects.includes(DIALECT.SMB311) ? contexts : [],
      });
    });
    const out = await this.raw(req);
    const [r] = this.parse(out.replies[0]!);
    const resp = decodeNegotiateResponse(r!.message);
    this.dialect = resp.dialect;
    if (resp.dialect === DIALECT.SMB311) {
      this.preauth = new PreauthHash().update(req).update(r!.message);
      this.cipher = findContext(resp.contexts, CTX.ENCRYPTION)?.ciphers[0] ?? 0;
      this.signingAlg = findContext(resp.contexts, CTX.SIGNING)?.algorithms[0];
    } else if (resp.capabilities & CAP.ENCRYPTION) this.cipher = CIPHER.AES_128_CCM;
    return r!;
  }

  /**
   * The two SESSION_SETUP rounds as a Windows client does them (SPNEGO NegTokenInit with the
   * NTLM NEGOTIATE, then NegTokenResp with AUTHENTICATE, MIC and mechListMIC). Returns the
   * final reply; on success the client holds the session's keys.
   */
  async login(user: string, password: string, o: { domain?: string; requireSigning?: boolean; mode?: 'spnego' | 'raw' | 'krb5-first'; previousSessionId?: bigint; reauth?: boolean } = {}): Promise<Reply> {
    const domain = o.domain ?? 'WORKGROUP';
    const mode = o.mode ?? 'spnego';
    const flags = 0xe2088297;
    const negotiate = encodeNegotiateMessage(flags);
    const mechs = mode === 'krb5-first' ? [OID_KRB5, OID_NTLMSSP] : [OID_NTLMSSP];
    const mechTypesDer = encodeMechTypes(mechs);
    const sm = SECURITY_MODE.SIGNING_ENABLED | (o.requireSigning ? SECURITY_MODE.SIGNING_REQUIRED : 0);
    const setup = (blob: Buffer) => (w: Writer) => { writeSessionSetupRequest(w, { flags: 0, securityMode: sm, capabilities: 0, channel: 0, previousSessionId: o.previousSessionId ?? 0n, securityBuffer: blob }); };
    const preauth = this.preauth?.fork();
    const round = async (blob: Buffer, sessionId: bigint): Promise<Reply> => {
      const m = message({ command: 1, messageId: this.nextId++, credits: 8, sessionId }, setup(blob));
      preauth?.update(m);
      const [r] = this.parse((await this.raw(m)).replies[0]!);
      if (r!.header.status === 0xc0000016) preauth?.update(r!.message);
      return r!;
    };
    const firstBlob = mode === 'raw' ? negotiate : encodeNegTokenInit({ mechTypes: mechs, mechToken: mode === 'krb5-first' ? Buffer.from('not a kerberos ticket') : negotiate });
    // Re-authentication (o.reauth) runs the same exchange on the live session and keeps its keys.
    let r1 = await round(firstBlob, o.reauth ? this.sessionId : 0n);
    assert.equal(r1.header.status, 0xc0000016, 'MORE_PROCESSING_REQUIRED');
    this.sessionId = r1.header.sessionId;
    if (mode === 'krb5-first') {
      const sel = decodeSpnego(decodeSessionSetupResponse(r1.message).securityBuffer);
      assert.ok(sel.kind === 'resp' && sel.resp.supportedMech === OID_NTLMSSP && !sel.resp.responseToken, 'NTLMSSP selected, no token');
      r1 = await round(encodeNegTokenResp({ responseToken: negotiate }), this.sessionId);
      assert.equal(r1.header.status, 0xc0000016);
    }
    const buf1 = decodeSessionSetupResponse(r1.message).securityBuffer;
    const t = mode === 'raw' ? undefined : decodeSpnego(buf1);
    assert.ok(mode === 'raw' || (t?.kind === 'resp' && t.resp.responseToken));
    const challengeMsg = t?.kind === 'resp' ? t.resp.responseToken! : Buffer.from(buf1);
    const c = decodeChallengeMessage(challengeMsg);
    const pairs = [...decodeAvPairs(c.targetInfo).filter((p) => p.id !== AV.EOL), { id: AV.FLAGS, value: Buffer.from([2, 0, 0, 0]) }];
    const time = decodeAvPairs(c.targetInfo).find((p) => p.id === AV.TIMESTAMP)!.value;
    const nt = ntowfv2(ntHash(password), user, domain);
    const resp = ntlmv2Response(nt, c.serverChallenge, randomBytes(8), time, encodeAvPairs(pairs));
    const exported = randomBytes(16);
    const a = { flags: c.flags, lmResponse: Buffer.alloc(24), ntResponse: resp.ntResponse, domain, user, workstation: 'TEST', encryptedRandomSessionKey: rc4(resp.sessionBaseKey, exported) };
    const authenticate = encodeAuthenticateMessage({ ...a, mic: computeMic(exported, negotiate, challengeMsg, encodeAuthenticateMessage(a)) });
    const mechListMIC = new NtlmMic(exported, 'client', c.flags).mic(mechTypesDer);
    const r2 = await round(mode === 'raw' ? authenticate : encodeNegTokenResp({ responseToken: authenticate, mechListMIC }), this.sessionId);
    if (r2.header.status === 0 && !o.reauth) {
      this.keys = deriveServerKeys({ dialect: this.dialect, gssKey: exported, ...(preauth ? { preauthHash: preauth.value } : {}), ...(this.cipher ? { cipher: this.cipher } : {}) });
      this.signing = !!o.requireSigning;
      const buf2 = decodeSessionSetupResponse(r2.message).securityBuffer;
      if (mode === 'raw') assert.equal(buf2.length, 0);
      else {
        const done = decodeSpnego(buf2);
        assert.ok(done.kind === 'resp');
        assert.deepEqual(done.resp.mechListMIC, new NtlmMic(exported, 'server', c.flags).mic(mechTypesDer), 'server mechListMIC');
      }
    }
    return r2;
  }

  // ---- Disk-share file commands (MS-SMB2 2.2.13–2.2.40; wire/files.ts), on tree `treeId`. ----

  /** CREATE; returns the reply (decode with F.decodeCreateResponse on success). */
  async createFile(treeId: number, q: Partial<F.CreateRequest> & { name: string; desiredAccess?: number; disposition?: number }): Promise<Reply> {
    return this.send(Command.CREATE, (w) => { F.writeCreateRequest(w, { desiredAccess: 0x0012019f, disposition: F.DISPOSITION.OPEN, ...q }); }, { treeId });
  }

  /** CREATE that must succeed; returns the FileId and the decoded response. */
  async open(treeId: number, q: Partial<F.CreateRequest> & { name: string; desiredAccess?: number; disposition?: number }): Promise<F.CreateResponse> {
    const r = await this.createFile(treeId, q);
    assert.equal(r.header.status, 0, `CREATE ${q.name}: 0x${r.header.status.toString(16)}`);
    return F.decodeCreateResponse(r.message);
  }

  async closeFile(treeId: number, fileId: F.FileId, flags = 0): Promise<Reply> {
    return this.send(Command.CLOSE, (w) => { F.writeCloseRequest(w, flags, fileId); }, { treeId });
  }

  async readFile(treeId: number, fileId: F.FileId, offset: number, length: number, minimumCount = 0): Promise<Reply> {
    return this.send(Command.READ, (w) => { F.writeReadRequest(w, { fileId, offset: BigInt(offset), length, minimumCount }); }, { treeId, creditCharge: Math.max(1, Math.ceil(length / 65536)) });
  }

  async writeFile(treeId: number, fileId: F.FileId, offset: number | bigint, data: Uint8Array, flags = 0): Promise<Reply> {
    return this.send(Command.WRITE, (w) => { F.writeWriteRequest(w, { fileId, offset: BigInt(offset), data, flags }); }, { treeId, creditCharge: Math.max(1, Math.ceil(data.length / 65536)) });
  }

  async flushFile(treeId: number, fileId: F.FileId): Promise<Reply> {
    return this.send(Command.FLUSH, (w) => { F.writeFlushRequest(w, fileId); }, { treeId });
  }

  async queryDirectory(treeId: number, fileId: F.FileId, o: { pattern?: string; infoClass?: number; flags?: number; outputBufferLength?: number } = {}): Promise<Reply> {
    return this.send(Command.QUERY_DIRECTORY, (w) => {
      F.writeQueryDirectoryRequest(w, { fileId, pattern: o.pattern ?? '*', infoClass: o.infoClass ?? 37, flags: o.flags ?? 0, outputBufferLength: o.outputBufferLength ?? 65536 });
    }, { treeId });
  }

  async queryFileInfo(treeId: number, fileId: F.FileId, infoType: number, infoClass: number, outputBufferLength = 4096, additionalInformation = 0): Promise<Reply> {
    return this.send(Command.QUERY_INFO, (w) => { F.writeQueryInfoRequest(w, { fileId, infoType, infoClass, outputBufferLength, additionalInformation }); }, { treeId });
  }

  async setInfo(treeId: number, fileId: F.FileId, infoType: number, infoClass: number, buffer: Buffer, additionalInformation = 0): Promise<Reply> {
    return this.send(Command.SET_INFO, (w) => { F.writeSetInfoRequest(w, { fileId, infoType, infoClass, buffer, additionalInformation }); }, { treeId });
  }

  async ioctlFile(treeId: number, ctlCode: number, input: Buffer, fileId: F.FileId = F.ALL_ONES_FILE_ID): Promise<Reply> {
    return this.send(Command.IOCTL, (w) => { F.writeIoctlRequest(w, { ctlCode, fileId, input, maxOutputResponse: 65536, flags: 1 }); }, { treeId });
  }

  /** TREE_CONNECT to \\dw\`share`; returns the tree id (asserts success). */
  async treeConnect(share: string, o: { encrypt?: boolean } = {}): Promise<number> {
    const r = await this.send(3, (w) => { writeTreeConnectRequest(w, { flags: 0, path: `\\\\dw\\${share}` }); }, o);
    assert.equal(r.header.status, 0, `tree connect to ${share}: 0x${r.header.status.toString(16)}`);
    decodeTreeConnectResponse(r.message);
    return r.header.treeId;
  }

  /** CREATE of `name` on a tree (FILE_OPEN, read/write access as smbclient asks for a pipe). Returns the reply and its FileId (when it succeeded). */
  async create(treeId: number, name: string, o: { encrypt?: boolean } = {}): Promise<{ reply: Reply; fileId: F.FileId | undefined }> {
    const reply = await this.send(5, (w) => {
      F.writeCreateRequest(w, {
        oplockLevel: 0, impersonationLevel: 2, desiredAccess: 0x0012019f, fileAttributes: 0, shareAccess: 3, disposition: 1, options: 0, name,
      });
    }, { treeId, ...o });
    return { reply, fileId: reply.header.status === 0 ? F.decodeCreateResponse(reply.message).fileId : undefined };
  }

  /** WRITE `data` to an open; returns the status and Count. */
  async write(treeId: number, fileId: F.FileId, data: Buffer, o: { encrypt?: boolean } = {}): Promise<{ status: number; count: number }> {
    const r = await this.send(9, (w) => { F.writeWriteRequest(w, { fileId, offset: 0n, data }); }, { treeId, ...o });
    return { status: r.header.status, count: r.header.status === 0 ? F.decodeWriteResponse(r.message) : 0 };
  }

  /** READ up to `length` bytes; data is empty for an error status. */
  async read(treeId: number, fileId: F.FileId, length: number, o: { encrypt?: boolean } = {}): Promise<{ status: number; data: Buffer }> {
    const r = await this.send(8, (w) => { F.writeReadRequest(w, { fileId, offset: 0n, length }); }, { treeId, ...o });
    const ok = r.header.status === 0 || r.header.status === 0x80000005;
    return { status: r.header.status, data: ok ? Buffer.from(F.decodeReadResponse(r.message)) : Buffer.alloc(0) };
  }

  /** IOCTL with `ctlCode` (an FSCTL unless `flags` says otherwise); output empty for an error status. */
  async ioctl(treeId: number, fileId: F.FileId, ctlCode: number, input: Buffer, maxOutputResponse: number, o: { encrypt?: boolean; flags?: number } = {}): Promise<{ status: number; output: Buffer; reply: Reply }> {
    const r = await this.send(11, (w) => { F.writeIoctlRequest(w, { ctlCode, fileId, input, maxOutputResponse, flags: o.flags ?? F.IOCTL_IS_FSCTL }); }, { treeId, ...o });
    const ok = r.header.status === 0 || r.header.status === 0x80000005;
    return { status: r.header.status, output: ok ? Buffer.from(F.decodeIoctlResponse(r.message).output) : Buffer.alloc(0), reply: r };
  }

  /** CLOSE (Flags 0, or POSTQUERY_ATTRIB with `post`). */
  async close(treeId: number, fileId: F.FileId, o: { post?: boolean } = {}): Promise<Reply> {
    return this.send(6, (w) => { F.writeCloseRequest(w, o.post ? 1 : 0, fileId); }, { treeId });
  }

  async flush(treeId: number, fileId: F.FileId): Promise<Reply> {
    return this.send(7, (w) => { F.writeFlushRequest(w, fileId); }, { treeId });
  }

  async queryInfo(treeId: number, fileId: F.FileId, infoType: number, infoClass: number, outputBufferLength: number): Promise<Reply> {
    return this.send(16, (w) => { F.writeQueryInfoRequest(w, { infoType, infoClass, outputBufferLength, fileId }); }, { treeId });
  }

  /** True if the reply is signed with this session's key. */
  verify(r: Reply): boolean {
    return (r.header.flags & HDR_FLAGS.SIGNED) !== 0 && verifySignature(r.message, signingAlgorithmFor(this.dialect, this.signingAlg), this.keys!.signingKey);
  }
}

export { decodeHeader, SIGNING_ALG };

/**
 * The usual unit-test set-up: a memory VFS (4 KiB records) whose /home (mode 0777) is the share
 * "Data", and a TestClient that negotiated SMB 3.1.1, logged in as alice and connected to it.
 */
export async function homeShare(): Promise<{ v: VfsInstance; c: TestClient; tid: number }> {
  const v = await createMemoryVfs({ recordSize: 4096 });
  await v.paths.mkdir(ROOT_CTX, '/home', 0o777);
  const c = new TestClient(connection({ shares: [{ name: 'Data', path: '/home', readOnly: false, requireEncryption: false }], files: shareFileService(v.paths) }, []));
  await c.negotiate([DIALECT.SMB311]);
  await c.login('alice', 's3cret');
  return { v, c, tid: await c.treeConnect('data') };
}

/** A FileRenameInformation buffer (MS-FSCC 2.4.42.2, 64-bit RootDirectory zero) for SET_INFO: the new name, ReplaceIfExists. */
export function renameInfo(name: string, replace = false): Buffer {
  const n = Buffer.from(name, 'utf16le');
  const b = Buffer.alloc(20 + n.length);
  b[0] = replace ? 1 : 0;
  b.writeUInt32LE(n.length, 16);
  n.copy(b, 20);
  return b;
}
