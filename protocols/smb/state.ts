/**
 * Per-connection and per-session state of the SMB2 server (MS-SMB2 3.3.1.7 Connection,
 * 3.3.1.8 Session, 3.3.1.10 TreeConnect) and the command sequence window with its credits
 * (3.3.1.1, 3.3.5.2.3, 3.3.5.2.5). Sans-IO, no handlers here.
 */
import type { Principal } from '../../vfs/types.js';
import type { SessionKeys, PreauthHash } from './crypto/keys.js';
import { NonceSequence, cipherParams } from './crypto/encrypt.js';
import type { SmbShare } from './shares.js';

/** A tree connect (3.3.1.10): the share and what it demands. */
export interface TreeConnect {
  treeId: number;
  /** Undefined for IPC$. */
  share: SmbShare | undefined;
  isIpc: boolean;
  /** TreeConnect.EncryptData: every request on the tree must arrive encrypted. */
  encryptData: boolean;
  maximalAccess: number;
}

/** Where the SPNEGO/NTLM exchange of a session stands. */
export type AuthStage =
  /** Nothing received yet (a fresh session). */
  | { stage: 'start' }
  /** NTLMSSP was chosen over the client's first mechanism: its NTLM NEGOTIATE comes next. */
  | { stage: 'mech-selected'; spnego: true; mechTypesDer: Buffer }
  /** CHALLENGE sent: the AUTHENTICATE comes next. */
  | { stage: 'challenged'; spnego: boolean; mechTypesDer: Buffer | undefined; negotiate: Buffer; challenge: Buffer };

/** A session (3.3.1.8). `state` 'valid' once SESSION_SETUP succeeded. */
export class SmbSession {
  state: 'in-progress' | 'valid' = 'in-progress';
  auth: AuthStage = { stage: 'start' };
  principal: Principal | undefined;
  keys: SessionKeys | undefined;
  /** The signing algorithm id (SIGNING_ALG) of this session. */
  signingAlgorithm = 0;
  signingRequired = false;
  /** Session.EncryptData (never set by this server yet: only trees demand encryption). */
  encryptData = false;
  /** 3.1.1: the session's copy of the pre-auth hash (3.3.5.5.1). */
  preauth: PreauthHash | undefined;
  readonly trees = new Map<number, TreeConnect>();
  private nextTree = 1;
  private nonces: NonceSequence | undefined;

  constructor(readonly id: bigint) {}

  /** A fresh tree id (1, 2, …; never 0 nor 0xFFFFFFFF). */
  allocTreeId(): number {
    const id = this.nextTree;
    this.nextTree = this.nextTree >= 0xfffffffe ? 1 : this.nextTree + 1;
    return id;
  }

  /** The next encryption nonce for `cipher` (one sequence per session: no nonce repeats under its key). */
  nonce(cipher: number): Buffer {
    this.nonces ??= new NonceSequence(cipherParams(cipher).nonceLength);
    return this.nonces.next();
  }
}

/**
 * The command sequence window (MS-SMB2 3.3.1.1): the MessageIds the client may use next. It
 * starts as {0}; each request consumes CreditCharge ids (at least one), each response grants
 * more at the top. An id outside the window or used before terminates the connection
 * (3.3.5.2.3). `outstanding` is the client's credit count.
 *
 * Granting (3.3.1.2, 3.3.5.2.5): what the client asks (a request for 0 counts as 1, so a
 * request's CreditResponse at least gives back one credit), limited so that the client holds
 * at most `maxCredits` and the window (lowest unused id to highest granted) spans at most
 * `maxCredits` ids — a client that leaves an id unused gets no new credits past that span
 * until it uses it, which bounds the ids kept in `used`. The client is never left without a
 * credit: an id it skipped stays usable and counts as one.
 */
export class SequenceWindow {
  private low = 0n;
  private high = 1n;
  private readonly used = new Set<bigint>();

  constructor(readonly maxCredits: number) {
    if (!Number.isInteger(maxCredits) || maxCredits < 1) throw new RangeError('maxCredits must be a positive integer');
  }

  /** Credits the client holds (ids it may still use). */
  get outstanding(): number {
    return Number(this.high - this.low) - this.used.size;
  }

  /** Ids from the lowest unused one to the highest granted (3.3.1.1's window size). */
  get span(): number {
    return Number(this.high - this.low);
  }

  /** True if all of messageId … messageId + charge - 1 are in the window and unused. */
  accepts(messageId: bigint, charge: number): boolean {
    if (charge < 1) return false;
    const last = messageId + BigInt(charge) - 1n;
    if (messageId < this.low || last >= this.high) return false;
    for (let id = messageId; id <= last; id++) if (this.used.has(id)) return false;
    return true;
  }

  /** Consumes the ids (call after `accepts`). */
  consume(messageId: bigint, charge: number): void {
    for (let i = 0n; i < BigInt(charge); i++) this.used.add(messageId + i);
    while (this.used.has(this.low)) {
      this.used.delete(this.low);
      this.low++;
    }
  }

  /**
   * Grants what the client asks (at least 1) within `maxCredits` outstanding and a window span
   * of `maxCredits`; never leaves the client without a credit. Returns the number granted (the
   * response's CreditResponse).
   */
  grant(requested: number): number {
    const room = Math.max(0, Math.min(this.maxCredits - this.outstanding, this.maxCredits - this.span));
    let g = Math.min(Math.max(1, requested), room);
    if (g === 0 && this.outstanding === 0) g = 1;
    this.high += BigInt(g);
    return g;
  }
}
