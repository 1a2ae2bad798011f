/**
 * Asynchronous requests and server-initiated messages (MS-SMB2 3.3.4.2, 3.3.4.4, 3.3.5.16).
 *
 * A handler that must wait (a blocking LOCK) returns a `Response` with `goAsync`: session.ts
 * then answers an interim response instead (STATUS_PENDING, SMB2_FLAGS_ASYNC_COMMAND and a
 * fresh AsyncId, the credits granted; 3.3.4.2) and calls `AsyncRequests.start`, which runs the
 * wait in the background while later requests of the connection go on. When the wait ends, the
 * final response (same MessageId and AsyncId, no credits) is built here and handed to
 * `sendMessage`. CANCEL (3.3.5.16) finds the request by AsyncId (async form) or MessageId
 * (sync form) and aborts its signal; the wait then ends with STATUS_CANCELLED (whatever the
 * handler throws or returns decides: see `CANCELLED`). Close, logoff, tree disconnect and the
 * socket's end abort waits through the handler's own bookkeeping (lock.ts).
 *
 * `sendMessage(c, bytes, {sign, encrypt})` is the one way to send something outside the
 * request/response cycle (final async responses; oplock/lease break notifications can use it
 * too): it signs with the session (3.3.4.1.1) or encrypts with its key (3.3.4.1.4) like any
 * response, and passes the frame to `c.pushMessage`, which server.ts sets (and writes after the
 * replies of the frame being handled, so an interim response always leaves before its final).
 */
import { STATUS, SmbStatusError } from './errors.js';
import { signMessage } from './crypto/sign.js';
import { encryptMessage } from './crypto/encrypt.js';
import { HDR_FLAGS, header as mkHeader, writeHeader, type Smb2Header } from './wire/header.js';
import { Writer, WireError } from './wire/reader.js';
import { writeErrorResponse } from './wire/error.js';
import { VfsError } from '../../vfs/errno.js';
import { ntStatus } from './errors.js';
import type { Response, SmbConnection } from './session.js';
import type { SmbSession } from './state.js';

/** The abort reason CANCEL uses: a wait ending with it answers STATUS_CANCELLED. */
export const CANCELLED = new SmbStatusError(STATUS.CANCELLED);

/** Most requests a connection may have waiting at once (beyond: STATUS_INSUFFICIENT_RESOURCES). */
export const MAX_ASYNC = 512;

interface Pending {
  asyncId: bigint;
  messageId: bigint;
  sessionId: bigint;
  controller: AbortController;
}

/** How a final response is protected: as its request was (signed by, or encrypted for, the session). */
export interface Protection {
  /** Sign with this session's key. */
  sign?: SmbSession | undefined;
  /** Encrypt for this session (the request came in a TRANSFORM_HEADER). */
  encrypt?: SmbSession | undefined;
}

/**
 * Signs or encrypts `message` (one SMB2 message, header first, NextCommand 0) and hands it to
 * the connection's `pushMessage`. False (nothing sent) when nothing can send (no `pushMessage`:
 * a test without one, or the socket is gone) or the session has no keys any more.
 */
export function sendMessage(c: SmbConnection, message: Buffer, p: Protection): boolean {
  if (!c.pushMessage) return false;
  let out = message;
  if (p.encrypt) {
    const s = p.encrypt;
    const key = s.keys?.encryptionKey;
    if (!key || c.cipher === 0) return false;
    out = encryptMessage(message, { cipher: c.cipher, key, sessionId: s.id, nonce: s.nonce(c.cipher) });
  } else if (p.sign?.keys) {
    signMessage(out, p.sign.signingAlgorithm, p.sign.keys.signingKey);
  }
  return c.pushMessage(out);
}

/** The requests of one connection that went async (Connection.AsyncCommandList, 3.3.1.7). */
export class AsyncRequests {
  private readonly pending = new Map<bigint, Pending>();
  private next = 1n;

  get size(): number {
    return this.pending.size;
  }

  /**
   * Starts `run` for request `h` (already answered with an interim response carrying the
   * returned AsyncId). Its answer, or the status it throws (SmbStatusError, VfsError), becomes
   * the final response, protected as `p` says.
   */
  start(c: SmbConnection, h: Smb2Header, run: (signal: AbortSignal) => Promise<Response>, p: Protection): bigint {
    if (this.pending.size >= MAX_ASYNC) throw new SmbStatusError(STATUS.INSUFFICIENT_RESOURCES);
    const asyncId = this.next++;
    const controller = new AbortController();
    this.pending.set(asyncId, { asyncId, messageId: h.messageId, sessionId: h.sessionId, controller });
    void (async () => {
      let resp: Response;
      try {
        resp = await run(controller.signal);
      } catch (err) {
        if (err instanceof SmbStatusError) resp = errorBody(err.status);
        else if (err instanceof VfsError) resp = errorBody(ntStatus(err));
        else if (err instanceof WireError) resp = errorBody(STATUS.INVALID_PARAMETER);
        else {
          c.log?.error({ peer: c.opts.peer, err }, 'smb: async request failed');
          resp = errorBody(STATUS.INTERNAL_ERROR);
        }
      } finally {
        this.pending.delete(asyncId);
      }
      const rh = mkHeader({
        command: h.command, status: resp.status, credits: 0, creditCharge: h.creditCharge,
        flags: HDR_FLAGS.SERVER_TO_REDIR | HDR_FLAGS.ASYNC_COMMAND | (h.flags & HDR_FLAGS.PRIORITY_MASK),
        messageId: h.messageId, asyncId, sessionId: h.sessionId,
      });
      const w = new Writer(128);
      writeHeader(w, rh);
      resp.body(w);
      sendMessage(c, w.finish(), p);
    })();
    return asyncId;
  }

  /**
   * CANCEL (3.3.5.16): aborts the request named by the CANCEL's header: by AsyncId when it has
   * SMB2_FLAGS_ASYNC_COMMAND, else by MessageId (a request of the same session). Unknown →
   * nothing (CANCEL has no response).
   */
  cancel(h: Smb2Header): boolean {
    for (const p of this.pending.values()) {
      const hit = h.flags & HDR_FLAGS.ASYNC_COMMAND ? p.asyncId === h.asyncId : p.messageId === h.messageId && p.sessionId === h.sessionId;
      if (hit) {
        p.controller.abort(CANCELLED);
        return true;
      }
    }
    return false;
  }

  /** Aborts every waiting request (the connection is gone), with `reason`. */
  abortAll(reason: unknown): void {
    for (const p of this.pending.values()) p.controller.abort(reason);
  }
}

function errorBody(status: number): Response {
  return { status, body: (w) => { writeErrorResponse(w); } };
}
