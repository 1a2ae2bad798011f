/**
 * One SMB2 connection, sans-IO: a Direct TCP frame's payload in, the messages to send back
 * (and whether to drop the connection) out; `handleFrame` never throws. It keeps the
 * connection state of MS-SMB2 3.3.1.7 (dialect, pre-auth hash, cipher, signing algorithm,
 * sessions, tree connects, the command sequence window) and dispatches by a table keyed by
 * SMB2 command (3.3.5.2). Processing of one frame (3.3.5.2):
 *
 * - SMB1 NEGOTIATE (first frame only) → the 0x02FF or 0x0202 answer (3.3.5.3.1); any other SMB1 → close.
 * - TRANSFORM_HEADER (3.x only) → decrypted with the session's key (3.3.5.2.1.1); failure → close;
 *   the response is encrypted in turn (3.3.4.1.4).
 * - the compound is split (3.3.5.2.7); a malformed header or chain → close.
 * - each request: MessageId/CreditCharge window (3.3.5.2.3, 3.3.5.2.5; outside → close), session
 *   lookup (3.3.5.2.9: USER_SESSION_DELETED), signature check (3.3.5.2.4: ACCESS_DENIED),
 *   encryption demanded by the session or tree (ACCESS_DENIED), tree lookup (3.3.5.2.11:
 *   NETWORK_NAME_DELETED), then the handler. A handler's SmbStatusError, or any decoding error
 *   (STATUS_INVALID_PARAMETER), becomes an ERROR response (2.2.2); a command not built yet is
 *   STATUS_NOT_SUPPORTED.
 * - responses get credits, are signed when the request was or the session demands it
 *   (3.3.4.1.1), chained (8-byte aligned), and encrypted when the request was.
 */
import type { Logger } from 'pino';
import { STATUS, SmbStatusError, type NtStatus } from './errors.js';
import { decryptMessage, DecryptError, encryptMessage, sealMessage } from './crypto/encrypt.js';
import type { SealPool } from './crypto/seal-pool.js';
import { signMessage, verifySignature } from './crypto/sign.js';
import type { PreauthHash } from './crypto/keys.js';
import type { ServerIdentity } from './auth/ntlm.js';
import {
  Command, HDR_FLAGS, SMB2_HEADER_SIZE, decodeSmb1Negotiate, header as mkHeader, protocolOf, smb1NegotiateAnswer, splitCompound,
  writeHeader, type Smb2Header,
} from './wire/header.js';
import { DIALECT, isSmb3 } from './wire/negotiate.js';
import { releaseReply, WireError, Writer } from './wire/reader.js';
import { writeErrorResponse } from './wire/error.js';
import { SequenceWindow, SmbSession, type TreeConnect } from './state.js';
import type { SmbShare } from './shares.js';
import type { AccountLookup } from './setup.js';
import { handleNegotiate, handleSessionSetup, negotiateResponseFor } from './setup.js';
import { handleEcho, handleLogoff, handleTreeConnect, handleTreeDisconnect } from './tree.js';
import { VfsError } from '../../vfs/errno.js';
import { ntStatus } from './errors.js';
import { InfoLengthError } from './wire/fscc.js';
import { closeAll, OpenTable, type FileService } from './files.js';
import { handleClose, handleCreate } from './create.js';
import { handleFlush, handleRead, handleWrite } from './io.js';
import { handleQueryDirectory } from './dir.js';
import { handleChangeNotify } from './notify.js';
import { handleQueryInfo, handleSetInfo } from './info.js';
import { handleIoctl } from './ioctl.js';
import { handleOplockBreak } from './oplock.js';
import { detachDurable, unregisterSessions } from './durable.js';
import { pipeClose, pipeCreate, pipeFlush, pipeIoctl, pipeQueryInfo, pipeRead, pipeWrite } from './pipe.js';
import { AsyncRequests } from './async.js';
import { handleLock } from './lock.js';

/** What a connection needs from the server: shares, accounts, identity, limits. */
export interface ConnectionOptions {
  shares: readonly SmbShare[];
  /** The gateway's user table, as SMB needs it (see AccountLookup). */
  lookup: AccountLookup;
  /** 16 bytes, the same for every connection of one server. */
  serverGuid: Buffer;
  /** NetBIOS/DNS names for NTLM's target info. */
  identity: ServerIdentity;
  /** Sign every session (RequireMessageSigning); default false (signing enabled, not required). */
  requireSigning?: boolean;
  /** MaxTransactSize/MaxReadSize/MaxWriteSize advertised (default 8 MiB). */
  maxIo?: number;
  /** Most credits a client may hold, and the widest MessageId window (default 8192, as Windows Server 2016+ and Samba). */
  maxCredits?: number;
  /** Most sessions per connection (default 64). */
  maxSessions?: number;
  /** Dialects offered (default all of 2.0.2 … 3.1.1). */
  dialects?: readonly number[];
  /** The VFS behind the disk shares; without it file commands answer STATUS_NOT_SUPPORTED. */
  files?: FileService;
  /** 'address:port' for logs. */
  peer: string;
  log?: Logger;
  /** Clock for SystemTime and NTLM timestamps (ms since the epoch). */
  now?: () => number;
  /** Encrypts large replies in a worker (server.ts gives one per server); without it, on the event loop. */
  sealPool?: SealPool;
}

/**
 * One message to send as one frame: its bytes, or its pieces in order (an encrypted message of
 * SEAL_PIECES_FROM bytes or more: transform header, then ciphertext, not joined), or those
 * pieces once a worker has made them (PendingReply, with a SealPool).
 */
export type Reply = Buffer | readonly Buffer[] | PendingReply;

/**
 * A reply being encrypted in a worker (ConnectionOptions.sealPool): its pieces when done. The
 * sender keeps the connection's replies in order behind it. The last piece is the response's own
 * buffer (encrypted in place), to be given back (releaseReply) once written.
 */
export class PendingReply {
  constructor(readonly pieces: Promise<readonly Buffer[]>) {}
}

/** Encrypted messages at least this large are sent as their pieces (sealMessage), smaller ones joined. */
export const SEAL_PIECES_FROM = 65536;

/** A reply's bytes as one buffer (joined when in pieces). */
export function replyBytes(r: Reply): Buffer {
  if (r instanceof PendingReply) throw new TypeError('a pending reply has no bytes yet');
  return Buffer.isBuffer(r) ? r : Buffer.concat(r as Buffer[]);
}

/** The outcome of one frame: messages to send (each one frame), then maybe close. */
export interface FrameOutput {
  replies: Reply[];
  close: boolean;
  /** A request of the frame still runs (it went async): the frame's bytes may still be read. */
  keepsFrame?: boolean;
}

/** One request as a handler sees it. */
export interface Request {
  header: Smb2Header;
  /** The request's bytes, header first (offsets count from byte 0). */
  message: Buffer;
  encrypted: boolean;
  /** The verified session (every command but NEGOTIATE, SESSION_SETUP and an unbound ECHO). */
  session: SmbSession | undefined;
  tree: TreeConnect | undefined;
}

/** A handler's answer: the status, the body after the header, and header fields it decides. */
export interface Response {
  status: number;
  body: (w: Writer) => void;
  sessionId?: bigint;
  treeId?: number;
  /** Sign with this session (SESSION_SETUP's final response), whatever the request was. */
  signWith?: SmbSession;
  /** Hears the response bytes as sent (unsigned): for the pre-auth hash. */
  sent?: (message: Buffer) => void;
  /** Drop the connection after sending. */
  close?: boolean;
  /**
   * Go async (async.ts, MS-SMB2 3.3.4.2): answer an interim STATUS_PENDING now (status and body
   * above are not sent) and send what this resolves to (or the status it throws) later.
   */
  goAsync?: (signal: AbortSignal) => Promise<Response>;
}

export type Handler = (c: SmbConnection, q: Request) => Promise<Response> | Response;

/** Thrown by a handler to drop the connection without an answer (protocol violations the spec answers so). */
export class DisconnectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DisconnectError';
  }
}

/** A pipe-side handler may return null: "not a pipe operation", handled by the disk side instead. */
export type PipeHandler = (c: SmbConnection, q: Request) => Promise<Response | null> | Response | null;

/**
 * Routes a command on a file by the tree's share type (MS-SMB2 3.3.1.6 Share.Type): IPC$ trees
 * (named pipes, pipe.ts) to `pipe`, disk shares to `disk`; a `pipe` answer of null, or no `pipe`
 * side, goes to `disk`.
 */
export function byShareType(h: { disk: Handler; pipe?: PipeHandler }): Handler {
  return async (c, q) => (q.tree?.isIpc && h.pipe ? await h.pipe(c, q) : null) ?? h.disk(c, q);
}

/** A disk-share handler that needs the VFS: STATUS_NOT_SUPPORTED on a connection without one. */
const onDisk = (h: Handler): Handler => (c, q) => (c.fileService ? h(c, q) : errorResponse(STATUS.NOT_SUPPORTED).resp);

/** Commands built so far; every other code is answered STATUS_NOT_SUPPORTED. */
const HANDLERS: Partial<Record<number, Handler>> = {
  [Command.CREATE]: byShareType({ disk: onDisk(handleCreate), pipe: pipeCreate }),
  [Command.CLOSE]: byShareType({ disk: onDisk(handleClose), pipe: pipeClose }),
  [Command.FLUSH]: byShareType({ disk: onDisk(handleFlush), pipe: pipeFlush }),
  [Command.READ]: byShareType({ disk: onDisk(handleRead), pipe: pipeRead }),
  [Command.WRITE]: byShareType({ disk: onDisk(handleWrite), pipe: pipeWrite }),
  // pipeIoctl answers the pipe FSCTLs and gives the rest (VALIDATE_NEGOTIATE_INFO) to handleIoctl.
  [Command.IOCTL]: byShareType({ disk: handleIoctl, pipe: pipeIoctl }),
  [Command.QUERY_INFO]: byShareType({ disk: onDisk(handleQueryInfo), pipe: pipeQueryInfo }),
  [Command.QUERY_DIRECTORY]: byShareType({ disk: onDisk(handleQueryDirectory) }),
  [Command.SET_INFO]: byShareType({ disk: onDisk(handleSetInfo) }),
  [Command.LOCK]: byShareType({ disk: onDisk(handleLock) }),
  [Command.CHANGE_NOTIFY]: byShareType({ disk: onDisk(handleChangeNotify) }),
  [Command.NEGOTIATE]: handleNegotiate,
  [Command.SESSION_SETUP]: handleSessionSetup,
  [Command.LOGOFF]: handleLogoff,
  [Command.TREE_CONNECT]: handleTreeConnect,
  [Command.TREE_DISCONNECT]: handleTreeDisconnect,
  [Command.ECHO]: handleEcho,
  [Command.OPLOCK_BREAK]: byShareType({ disk: onDisk(handleOplockBreak) }),
};

/** Commands that need no session (3.3.5.2.9 is skipped). */
const SESSIONLESS = new Set<number>([Command.NEGOTIATE, Command.SESSION_SETUP, Command.ECHO]);
/** Commands whose request names a FileId (2.2.14–2.2.39), for the related-compound rule of 3.3.5.2.7.2. */
const WITH_FILE_ID = new Set<number>([
  Command.CLOSE, Command.FLUSH, Command.READ, Command.WRITE, Command.LOCK, Command.IOCTL, Command.QUERY_DIRECTORY, Command.CHANGE_NOTIFY,
  Command.QUERY_INFO, Command.SET_INFO, Command.OPLOCK_BREAK,
]);

/** An NTSTATUS of severity error (MS-ERREF 2.3: the top two bits set); warnings such as BUFFER_OVERFLOW are not failures. */
const isError = (status: number): boolean => status >>> 30 === 3;

/** Commands that need no tree connect. */
const TREELESS = new Set<number>([Command.NEGOTIATE, Command.SESSION_SETUP, Command.LOGOFF, Command.TREE_CONNECT, Command.ECHO, Command.CANCEL]);

export const DEFAULT_MAX_IO = 8 << 20;
/** Most credits a client may hold by default (3.3.1.2; smbtorture's smb2.credits asks 8192, as Windows Server 2016+ grants). */
export const DEFAULT_MAX_CREDITS = 8192;

/** A connection's state and its frame handler. */
export class SmbConnection {
  /** Connection.Dialect; null before NEGOTIATE, 0x02FF after an SMB1 negotiate answered with the wildcard. */
  dialect: number | null = null;
  /** 3.1.1: the connection's pre-auth hash after NEGOTIATE. */
  preauth: PreauthHash | undefined;
  /** Connection.CipherId (0: no encryption possible). */
  cipher = 0;
  /** 3.1.1 SIGNING_CAPABILITIES choice, if the client sent the context. */
  signingAlgorithmId: number | undefined;
  clientCapabilities = 0;
  clientSecurityMode = 0;
  /** The ClientGuid of NEGOTIATE (for VALIDATE_NEGOTIATE_INFO). */
  clientGuid: Buffer | undefined;
  /** The VFS side of the file commands (undefined: none). */
  readonly fileService: FileService | undefined;
  /** The connection's open table (3.3.1.7 Connection.OpenTable). */
  readonly files = new OpenTable();
  /** Requests answered with an interim response and still running (async.ts). */
  readonly async = new AsyncRequests();
  /**
   * Sends one frame's payload outside the request/response cycle (final async responses,
   * server-initiated notifications); set by server.ts. Use `sendMessage` (async.ts), which
   * signs or encrypts first.
   */
  pushMessage: ((message: Buffer) => boolean) | undefined;
  readonly sessions = new Map<bigint, SmbSession>();
  readonly window: SequenceWindow;
  readonly maxIo: number;
  readonly maxSessions: number;
  readonly dialects: readonly number[];
  readonly log: Logger | undefined;
  readonly now: () => number;

  constructor(readonly opts: ConnectionOptions) {
    this.window = new SequenceWindow(opts.maxCredits ?? DEFAULT_MAX_CREDITS);
    this.maxIo = opts.maxIo ?? DEFAULT_MAX_IO;
    this.maxSessions = opts.maxSessions ?? 64;
    this.dialects = opts.dialects ?? [DIALECT.SMB202, DIALECT.SMB210, DIALECT.SMB300, DIALECT.SMB302, DIALECT.SMB311];
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.fileService = opts.files;
  }

  /**
   * Pushes `message` (an oplock or lease break notification) for an open of session
   * `sessionId` through `pushMessage`: encrypted when that session or one of its trees demands
   * encryption (3.3.4.1.4), else as it is (break notifications are not signed, 3.3.4.6).
   */
  push(message: Buffer, sessionId: bigint): boolean {
    if (!this.pushMessage) return false;
    const s = this.sessions.get(sessionId);
    const encrypt = s?.keys?.encryptionKey && this.cipher && (s.encryptData || [...s.trees.values()].some((t) => t.encryptData));
    const out = encrypt ? encryptMessage(message, { cipher: this.cipher, key: s!.keys!.encryptionKey!, sessionId: s!.id, nonce: s!.nonce(this.cipher) }) : message;
    return this.pushMessage(out);
  }

  /** The socket is gone: durable opens are kept for a reconnect (durable.ts), every other open is closed; never throws. */
  async closeFiles(): Promise<void> {
    this.async.abortAll(new SmbStatusError(STATUS.CANCELLED));
    this.pushMessage = undefined;
    try {
      unregisterSessions(this);
      detachDurable(this, () => true);
    } catch (err) {
      this.log?.error({ peer: this.opts.peer, err }, 'smb: keeping durable opens failed');
    }
    await closeAll(this, () => true).catch(() => undefined);
  }

  /** True once a real dialect (not the 0x02FF wildcard) is chosen. */
  get negotiated(): boolean {
    return this.dialect !== null && this.dialect !== DIALECT.WILDCARD;
  }

  /** Handles one frame's payload. Never throws: anything unexpected drops the connection. */
  async handleFrame(frame: Buffer): Promise<FrameOutput> {
    try {
      return await this.frame(frame);
    } catch (err) {
      if (err instanceof DisconnectError || err instanceof WireError || err instanceof DecryptError) {
        this.log?.info({ peer: this.opts.peer, reason: err.message }, 'smb: dropping the connection');
      } else {
        this.log?.error({ peer: this.opts.peer, err }, 'smb: internal error, dropping the connection');
      }
      return { replies: [], close: true };
    }
  }

  private async frame(frame: Buffer): Promise<FrameOutput> {
    switch (protocolOf(frame)) {
      case 'smb1':
        return this.smb1(frame);
      case 'smb2':
        return this.messages(frame, undefined);
      case 'transform': {
        if (!this.negotiated || !isSmb3(this.dialect!) || this.cipher === 0) throw new DisconnectError('encrypted message on a connection without encryption');
        let session: SmbSession | undefined;
        const { message, sessionId, inPlace } = decryptMessage(frame, (id) => {
          session = this.sessions.get(id);
          const key = session?.keys?.decryptionKey;
          return key ? { cipher: this.cipher, key } : undefined;
        });
        if (protocolOf(message) !== 'smb2') throw new DisconnectError('decrypted message is not SMB2');
        const out = await this.messages(message, { session: session!, sessionId });
        // Decrypted in place (GCM), the requests read the frame itself, as a plain frame's do;
        // a CCM message is a copy, and the frame is done with.
        if (!inPlace) delete out.keepsFrame;
        return out;
      }
      default:
        throw new DisconnectError('not an SMB message');
    }
  }

  /** MS-SMB2 3.3.5.3: an SMB1 NEGOTIATE is allowed as the very first message only. */
  private smb1(frame: Buffer): FrameOutput {
    if (this.dialect !== null) throw new DisconnectError('SMB1 message after NEGOTIATE');
    const answer = smb1NegotiateAnswer(decodeSmb1Negotiate(frame), this.dialects.some((d) => d > DIALECT.SMB202));
    if (answer === null || (answer === 0x0202 && !this.dialects.includes(DIALECT.SMB202))) throw new DisconnectError('SMB1 NEGOTIATE without an SMB2 dialect');
    this.window.consume(0n, 1);
    const credits = this.window.grant(1);
    this.dialect = answer;
    const h = mkHeader({ command: Command.NEGOTIATE, flags: HDR_FLAGS.SERVER_TO_REDIR, credits });
    const w = new Writer();
    writeHeader(w, h);
    negotiateResponseFor(this, answer, [])(w);
    return { replies: [w.finish()], close: false };
  }

  /** Handles an SMB2 message (maybe a compound); `enc` when it came out of a TRANSFORM_HEADER. */
  private async messages(msg: Buffer, enc: { session: SmbSession; sessionId: bigint } | undefined): Promise<FrameOutput> {
    const parts = splitCompound(msg);
    this.files.compoundFileId = undefined;
    if (parts.length > 1 && parts.some((p) => p.header.command === Command.NEGOTIATE)) throw new DisconnectError('NEGOTIATE inside a compound');
    if (enc && parts.some((p) => p.header.sessionId !== enc.sessionId && !(p.header.flags & HDR_FLAGS.RELATED_OPERATIONS))) {
      throw new DisconnectError('decrypted request names another session than its TRANSFORM_HEADER'); // 3.3.5.2.1.1
    }
    const out: { bytes: Buffer; sign: SmbSession | undefined }[] = [];
    let close = false;
    let keepsFrame = false;
    let prev: { sessionId: bigint; treeId: number } | undefined;
    let prevFailed: number | undefined;
    for (const [i, part] of parts.entries()) {
      const h = part.header;
      if (h.flags & HDR_FLAGS.SERVER_TO_REDIR) throw new DisconnectError('a response sent to the server');
      if (h.command !== Command.NEGOTIATE && !this.negotiated) throw new DisconnectError(`command ${h.command} before NEGOTIATE`);
      const related = (h.flags & HDR_FLAGS.RELATED_OPERATIONS) !== 0;
      if (related && i > 0 && prev) {
        // 3.3.5.2.7.2: a related request takes the previous request's session and tree.
        if (h.sessionId === 0xffffffffffffffffn) h.sessionId = prev.sessionId;
        if (h.treeId === 0xffffffff) h.treeId = prev.treeId;
      }
      // The command sequence window (3.3.5.2.3) and CreditCharge (3.3.5.2.5).
      let status: number | null = null;
      let charge = 1;
      if (h.command !== Command.CANCEL) {
        const multi = this.dialect !== DIALECT.SMB202;
        charge = multi ? Math.max(1, h.creditCharge) : 1;
        if (!this.window.accepts(h.messageId, charge)) throw new DisconnectError(`MessageId ${h.messageId} (charge ${charge}) outside the command sequence window`);
        this.window.consume(h.messageId, charge);
        // 3.3.5.2.5: READ and WRITE are charged by their Length (the data), other commands by their size.
        const io = (h.command === Command.READ || h.command === Command.WRITE) && part.bytes.length >= SMB2_HEADER_SIZE + 8;
        const payload = io ? part.bytes.readUInt32LE(SMB2_HEADER_SIZE + 4) : Math.max(0, part.bytes.length - SMB2_HEADER_SIZE);
        if (multi && charge < Math.ceil(payload / 65536)) status = STATUS.INVALID_PARAMETER;
      } else {
        this.async.cancel(h); // 3.3.5.16: no response, whether or not something was found
        continue;
      }
      if (related && i === 0) status = STATUS.INVALID_PARAMETER;
      // 3.3.5.2.7.2: a related request needing a FileId after a failed one that had or made one fails the same way.
      if (status === null && related && prevFailed !== undefined && WITH_FILE_ID.has(h.command)) status = prevFailed;
      let res = status === null ? await this.request(h, part.bytes, enc !== undefined, enc?.session) : errorResponse(status);
      let asyncId: bigint | undefined;
      const run = res.resp.goAsync;
      if (run) {
        // 3.3.4.2: an interim response now, the final one through sendMessage later.
        try {
          keepsFrame = true;
          asyncId = this.async.start(this, h, run, { sign: enc ? undefined : res.sign, encrypt: enc?.session });
          res = { resp: { status: STATUS.PENDING, body: (w) => { writeErrorResponse(w); } }, sign: res.sign };
        } catch (err) {
          res = { resp: errorResponse(err instanceof SmbStatusError ? err.status : STATUS.INTERNAL_ERROR).resp, sign: res.sign };
        }
      }
      const credits = this.window.grant(h.credits);
      const rh = mkHeader({
        command: h.command, status: res.resp.status, credits, creditCharge: h.creditCharge,
        flags: HDR_FLAGS.SERVER_TO_REDIR | (related ? HDR_FLAGS.RELATED_OPERATIONS : 0) | (h.flags & HDR_FLAGS.PRIORITY_MASK)
          | (asyncId !== undefined ? HDR_FLAGS.ASYNC_COMMAND : 0),
        messageId: h.messageId, processId: h.processId, treeId: res.resp.treeId ?? h.treeId, sessionId: res.resp.sessionId ?? h.sessionId,
        asyncId: asyncId ?? 0n,
      });
      const w = new Writer(128);
      writeHeader(w, rh);
      res.resp.body(w);
      const bytes = w.view(); // the writer is done with: no copy of READ data
      res.resp.sent?.(bytes);
      out.push({ bytes, sign: res.resp.signWith ?? (enc ? undefined : res.sign) });
      prev = { sessionId: rh.sessionId, treeId: rh.treeId };
      prevFailed = isError(rh.status) && (h.command === Command.CREATE || WITH_FILE_ID.has(h.command)) ? rh.status : undefined;
      if (res.resp.close) {
        close = true;
        break;
      }
    }
    const keeps = keepsFrame ? { keepsFrame } : {};
    if (!out.length) return { replies: [], close, ...keeps };
    const reply = this.chain(out);
    if (enc) {
      const s = enc.session;
      const seal = { cipher: this.cipher, key: s.keys!.encryptionKey!, sessionId: s.id, nonce: s.nonce(this.cipher) };
      const pool = this.opts.sealPool;
      // Encrypted in place in a worker; the sender gives the buffer back once it is written.
      if (pool?.takes(reply)) return { replies: [new PendingReply(pool.seal(reply, seal))], close, ...keeps };
      const sealed = reply.length >= SEAL_PIECES_FROM ? sealMessage(reply, seal) : encryptMessage(reply, seal);
      releaseReply(reply); // encrypted into a new buffer: the plain one is done with
      return { replies: [sealed], close, ...keeps };
    }
    return { replies: [reply], close, ...keeps };
  }

  /** Pads each part but the last to 8 bytes, sets NextCommand, signs each part (3.3.4.1.1, 3.3.4.1.3). */
  private chain(parts: { bytes: Buffer; sign: SmbSession | undefined }[]): Buffer {
    const bufs = parts.map((p, i) => {
      const last = i === parts.length - 1;
      const len = last ? p.bytes.length : (p.bytes.length + 7) & ~7;
      // Each part's bytes are this message's own (session.ts builds them just before): the last
      // one, which needs no padding, is finished in place instead of copied.
      const b = len === p.bytes.length ? p.bytes : Buffer.alloc(len);
      if (b !== p.bytes) p.bytes.copy(b);
      b.writeUInt32LE(last ? 0 : len, 20);
      const s = p.sign;
      if (s?.keys) signMessage(b, s.signingAlgorithm, s.keys.signingKey);
      return b;
    });
    if (bufs.length === 1) return bufs[0]!;
    const joined = Buffer.concat(bufs);
    for (const p of parts) releaseReply(p.bytes); // copied into the compound
    return joined;
  }

  /**
   * Verifies session, signature, encryption and tree for one request, then runs its handler.
   * Returns the response and the session to sign it with (undefined: unsigned).
   */
  private async request(h: Smb2Header, message: Buffer, encrypted: boolean, encSession: SmbSession | undefined): Promise<{ resp: Response; sign: SmbSession | undefined }> {
    const signed = (h.flags & HDR_FLAGS.SIGNED) !== 0;
    let session: SmbSession | undefined;
    const needsSession = !SESSIONLESS.has(h.command) || (h.command === Command.ECHO && (signed || (!encrypted && h.sessionId !== 0n)));
    if (needsSession) {
      session = this.sessions.get(h.sessionId);
      if (!session) return { resp: errorResponse(STATUS.USER_SESSION_DELETED).resp, sign: undefined };
      if (session.state !== 'valid' && h.command !== Command.LOGOFF) return { resp: errorResponse(STATUS.USER_SESSION_DELETED).resp, sign: undefined };
      if (encrypted && encSession !== session) return { resp: errorResponse(STATUS.ACCESS_DENIED).resp, sign: undefined };
      if (session.state === 'valid' && !encrypted) {
        // 3.3.5.2.4: a signed request must verify; an unsigned one is refused where signing is required.
        if (signed ? !verifySignature(message, session.signingAlgorithm, session.keys!.signingKey) : session.signingRequired) {
          this.log?.info({ peer: this.opts.peer, command: h.command, signed }, 'smb: bad or missing signature');
          return { resp: errorResponse(STATUS.ACCESS_DENIED).resp, sign: undefined };
        }
        if (session.encryptData) return { resp: errorResponse(STATUS.ACCESS_DENIED).resp, sign: undefined };
      }
    }
    let tree: TreeConnect | undefined;
    if (session && !TREELESS.has(h.command)) {
      tree = session.trees.get(h.treeId);
      if (!tree) return { resp: errorResponse(STATUS.NETWORK_NAME_DELETED).resp, sign: signFor(session, signed, encrypted) };
      if (tree.encryptData && !encrypted) return { resp: errorResponse(STATUS.ACCESS_DENIED).resp, sign: signFor(session, signed, encrypted) };
    }
    const handler = HANDLERS[h.command];
    let resp: Response;
    if (!handler) resp = errorResponse(STATUS.NOT_SUPPORTED).resp;
    else {
      try {
        resp = await handler(this, { header: h, message, encrypted, session, tree });
      } catch (err) {
        if (err instanceof SmbStatusError) resp = errorResponse(err.status).resp;
        else if (err instanceof VfsError) resp = errorResponse(ntStatus(err)).resp;
        else if (err instanceof InfoLengthError) resp = errorResponse(STATUS.INFO_LENGTH_MISMATCH).resp;
        else if (err instanceof WireError) {
          this.log?.debug({ peer: this.opts.peer, command: h.command, reason: err.message }, 'smb: malformed request');
          resp = errorResponse(STATUS.INVALID_PARAMETER).resp;
        } else throw err;
      }
    }
    return { resp, sign: session ? signFor(session, signed, encrypted) : undefined };
  }

  /** A fresh non-zero session id not in use on this connection. */
  newSessionId(): bigint {
    for (;;) {
      const id = BigInt.asUintN(64, BigInt(Math.floor(Math.random() * 2 ** 32)) << 32n | BigInt(Math.floor(Math.random() * 2 ** 32)));
      if (id !== 0n && id !== 0xffffffffffffffffn && !this.sessions.has(id)) return id;
    }
  }
}

/** The session to sign a response with: when the request was signed or the session signs everything, never when encrypted. */
function signFor(s: SmbSession, signed: boolean, encrypted: boolean): SmbSession | undefined {
  if (encrypted || s.state !== 'valid' || !s.keys) return undefined;
  return signed || s.signingRequired ? s : undefined;
}

/** An ERROR response (2.2.2) with `status`. */
export function errorResponse(status: NtStatus | number): { resp: Response; sign: undefined } {
  return { resp: { status, body: (w) => { writeErrorResponse(w); } }, sign: undefined };
}
