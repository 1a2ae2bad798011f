/**
 * NEGOTIATE (MS-SMB2 3.3.5.4) and SESSION_SETUP (3.3.5.5) handlers: dialect, cipher and
 * signing algorithm choice with the 3.1.1 pre-auth integrity hash; SPNEGO + NTLMSSP in two
 * rounds (STATUS_MORE_PROCESSING_REQUIRED, then STATUS_SUCCESS) with NTLMv2 checked against
 * the gateway's users; the session's keys (3.3.5.5.3) and its signing state.
 */
import { randomBytes } from 'node:crypto';
import type { Principal } from '../../vfs/types.js';
import { STATUS, SmbStatusError, type NtStatus } from './errors.js';
import { buildChallenge, decodeAuthenticateMessage, decodeNegotiateMessage, NTLMSSP_SIGNATURE, NtlmMic, verifyAuthenticate } from './auth/ntlm.js';
import { decodeSpnego, encodeNegTokenInit2, encodeNegTokenResp, NEG_STATE, OID_NTLMSSP } from './auth/spnego.js';
import { deriveServerKeys, PreauthHash } from './crypto/keys.js';
import { signingAlgorithmFor } from './crypto/sign.js';
import { unixMsToFiletime } from './auth/ntlm.js';
import {
  CAP, CIPHER, CTX, decodeNegotiateRequest, DIALECT, findContext, HASH_SHA512, isSmb3, SECURITY_MODE, selectByClientOrder, selectDialect,
  SIGNING_ALG, writeNegotiateResponse, type NegotiateContext,
} from './wire/negotiate.js';
import { decodeSessionSetupRequest, SESSION_SETUP_FLAG_BINDING, writeSessionSetupResponse } from './wire/session-setup.js';
import type { Writer } from './wire/reader.js';
import { DisconnectError, type Request, type Response, type SmbConnection } from './session.js';
import { SmbSession } from './state.js';
import { registerSession, replacePreviousSession } from './durable.js';
import { closeAll } from './files.js';

/** An account as SMB sees it: who it is, and its NT hash (MD4 of the UTF-16LE password) if one is stored. */
export interface SmbAccount {
  principal: Principal;
  /** 16 bytes; undefined for users whose password was set before SMB support (they must set it again). */
  ntHash: Buffer | undefined;
}

/** Finds an account by the user name an NTLM AUTHENTICATE carries; undefined if there is none. */
export type AccountLookup = (user: string) => Promise<SmbAccount | undefined>;

/** Ciphers in the server's order of preference when the client's list leaves a choice (3.3.5.4). */
const SERVER_CIPHERS = [CIPHER.AES_128_GCM, CIPHER.AES_128_CCM, CIPHER.AES_256_GCM, CIPHER.AES_256_CCM];
const SERVER_SIGNING = [SIGNING_ALG.AES_GMAC, SIGNING_ALG.AES_CMAC, SIGNING_ALG.HMAC_SHA256];

/** '2.0.2', '2.1', '3.0', '3.0.2', '3.1.1' (or the hex revision) for logs. */
export function dialectName(d: number): string {
  return ({ 0x0202: '2.0.2', 0x0210: '2.1', 0x0300: '3.0', 0x0302: '3.0.2', 0x0311: '3.1.1' } as Record<number, string>)[d] ?? `0x${d.toString(16)}`;
}

/** Capabilities the server announces for a dialect (no DFS, directory leasing, multichannel or persistent handles yet). */
export function capabilitiesFor(c: SmbConnection, dialect: number): number {
  let caps = 0;
  if (dialect >= DIALECT.SMB210 && dialect !== DIALECT.WILDCARD) caps |= CAP.LARGE_MTU | CAP.LEASING; // leases: lease.ts
  if ((dialect === DIALECT.SMB300 || dialect === DIALECT.SMB302) && c.clientCapabilities & CAP.ENCRYPTION) caps |= CAP.ENCRYPTION;
  return caps;
}

/** Writes the NEGOTIATE response body for `dialect` (also the SMB1 path's 0x02FF/0x0202 answer). */
export function negotiateResponseFor(c: SmbConnection, dialect: number, contexts: NegotiateContext[]): (w: Writer) => void {
  return (w) => {
    writeNegotiateResponse(w, {
      securityMode: SECURITY_MODE.SIGNING_ENABLED | (c.opts.requireSigning ? SECURITY_MODE.SIGNING_REQUIRED : 0),
      dialect, serverGuid: c.opts.serverGuid, capabilities: capabilitiesFor(c, dialect),
      maxTransactSize: c.maxIo, maxReadSize: c.maxIo, maxWriteSize: c.maxIo,
      systemTime: unixMsToFiletime(c.now()), serverStartTime: 0n,
      securityBuffer: encodeNegTokenInit2([OID_NTLMSSP]), contexts,
    });
  };
}

/**
 * NEGOTIATE (3.3.5.4). A second NEGOTIATE on a negotiated connection drops it. No common
 * dialect → STATUS_NOT_SUPPORTED; 3.1.1 without a PREAUTH_INTEGRITY context →
 * STATUS_INVALID_PARAMETER, without SHA-512 in it → STATUS_SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP.
 * For 3.1.1 the request and response go into the connection's pre-auth hash, and the response
 * carries PREAUTH (SHA-512, 32-byte salt), ENCRYPTION (the chosen cipher, 0 if none) and
 * SIGNING contexts (the last two only when the client sent them).
 */
export function handleNegotiate(c: SmbConnection, q: Request): Response {
  if (c.negotiated) throw new DisconnectError('second NEGOTIATE on the connection');
  const req = decodeNegotiateRequest(q.message);
  const dialect = selectDialect(req.dialects, c.dialects);
  if (dialect === null) {
    c.log?.info({ peer: c.opts.peer, offered: req.dialects.map((d) => d.toString(16)) }, 'smb: no common dialect');
    throw new SmbStatusError(STATUS.NOT_SUPPORTED);
  }
  c.clientCapabilities = req.capabilities;
  c.clientSecurityMode = req.securityMode;
  c.clientGuid = Buffer.from(req.clientGuid);
  const contexts: NegotiateContext[] = [];
  if (dialect === DIALECT.SMB311) {
    const pre = findContext(req.contexts, CTX.PREAUTH_INTEGRITY);
    if (!pre) throw new SmbStatusError(STATUS.INVALID_PARAMETER);
    if (!pre.hashAlgorithms.includes(HASH_SHA512)) throw new SmbStatusError(STATUS.SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP);
    contexts.push({ type: CTX.PREAUTH_INTEGRITY, hashAlgorithms: [HASH_SHA512], salt: randomBytes(32) });
    const enc = findContext(req.contexts, CTX.ENCRYPTION);
    if (enc) {
      c.cipher = selectByClientOrder(enc.ciphers, SERVER_CIPHERS) ?? 0;
      contexts.push({ type: CTX.ENCRYPTION, ciphers: [c.cipher] });
    }
    const sig = findContext(req.contexts, CTX.SIGNING);
    if (sig) {
      c.signingAlgorithmId = selectByClientOrder(sig.algorithms, SERVER_SIGNING) ?? SIGNING_ALG.AES_CMAC;
      contexts.push({ type: CTX.SIGNING, algorithms: [c.signingAlgorithmId] });
    }
    c.preauth = new PreauthHash().update(q.message);
  } else if (isSmb3(dialect) && req.capabilities & CAP.ENCRYPTION) c.cipher = CIPHER.AES_128_CCM;
  c.dialect = dialect;
  c.log?.debug({ peer: c.opts.peer, dialect: dialectName(dialect), cipher: c.cipher }, 'smb: negotiated');
  return {
    status: STATUS.SUCCESS,
    body: negotiateResponseFor(c, dialect, contexts),
    sent: (m) => { c.preauth?.update(m); },
  };
}

const failure = (s: SmbSession, c: SmbConnection, status: NtStatus, why: string, user?: string): never => {
  c.sessions.delete(s.id);
  // A failed re-authentication ends a live session: its opens close as at LOGOFF (waiting
  // CHANGE_NOTIFYs answer NOTIFY_CLEANUP, smb2.notify.invalid-reauth; durable ones close too).
  if (s.state === 'valid') void closeAll(c, (o) => o.sessionId === s.id).catch(() => undefined);
  c.log?.info({ peer: c.opts.peer, user, reason: why }, 'smb: login refused');
  throw new SmbStatusError(status);
};

/**
 * SESSION_SETUP (3.3.5.5). SessionId 0 starts a session (STATUS_INSUFFICIENT_RESOURCES past
 * the per-connection limit); another id continues one in progress (unknown →
 * STATUS_USER_SESSION_DELETED) or re-authenticates an established one (3.3.5.5.2: the same
 * exchange; the session stays valid with its keys meanwhile; another user → ACCESS_DENIED;
 * a failure ends the session); channel binding → STATUS_REQUEST_NOT_ACCEPTED (not built).
 * A new session with PreviousSessionId ends that session of the same user on whatever
 * connection it lives (durable.ts `replacePreviousSession`). The security buffer is SPNEGO (or raw
 * NTLMSSP): NTLM NEGOTIATE → CHALLENGE with STATUS_MORE_PROCESSING_REQUIRED; AUTHENTICATE →
 * NTLMv2 checked against `lookup`, then STATUS_SUCCESS with the session's keys derived
 * (3.3.5.5.3) and, for 3.1.1 or a session that requires signing, the response signed. A wrong
 * password, an unknown user, anonymous or a user without an NT hash → STATUS_LOGON_FAILURE and
 * the session is gone.
 */
export async function handleSessionSetup(c: SmbConnection, q: Request): Promise<Response> {
  const req = decodeSessionSetupRequest(q.message);
  if (req.flags & SESSION_SETUP_FLAG_BINDING) throw new SmbStatusError(STATUS.REQUEST_NOT_ACCEPTED);
  let s: SmbSession;
  if (q.header.sessionId === 0n) {
    if (c.sessions.size >= c.maxSessions) throw new SmbStatusError(STATUS.INSUFFICIENT_RESOURCES);
    s = new SmbSession(c.newSessionId());
    if (c.preauth) s.preauth = c.preauth.fork();
    c.sessions.set(s.id, s);
  } else {
    const found = c.sessions.get(q.header.sessionId);
    if (!found) throw new SmbStatusError(STATUS.USER_SESSION_DELETED);
    // A valid session: re-authentication (3.3.5.5.2); it stays valid (with its keys) meanwhile.
    s = found;
  }
  s.preauth?.update(q.message);
  const more = (token: Buffer): Response => ({
    status: STATUS.MORE_PROCESSING_REQUIRED, sessionId: s.id,
    ...(s.state === 'valid' && s.signingRequired ? { signWith: s } : {}),
    body: (w) => { writeSessionSetupResponse(w, { sessionFlags: 0, securityBuffer: token }); },
    sent: (m) => { s.preauth?.update(m); },
  });
  const blob = req.securityBuffer;
  const raw = blob.length >= 8 && blob.subarray(0, 8).equals(NTLMSSP_SIGNATURE);
  let ntlm: Buffer | undefined;
  let clientMic: Buffer | undefined;
  let mechTypesDer: Buffer | undefined;
  try {
    if (raw) ntlm = blob;
    else {
      const t = decodeSpnego(blob);
      if (t.kind === 'init') {
        if (s.auth.stage !== 'start') return failure(s, c, STATUS.INVALID_PARAMETER, 'NegTokenInit in the middle of an exchange');
        if (!t.init.mechTypes.includes(OID_NTLMSSP)) return failure(s, c, STATUS.LOGON_FAILURE, `no NTLMSSP among the client's mechanisms ${t.init.mechTypes.join(', ')}`);
        mechTypesDer = t.init.mechTypesDer;
        if (t.init.mechTypes[0] !== OID_NTLMSSP || !t.init.mechToken) {
          // The client's first choice (Kerberos) is not ours: select NTLMSSP, its token comes next (RFC 4178 3).
          s.auth = { stage: 'mech-selected', spnego: true, mechTypesDer };
          return more(encodeNegTokenResp({ negState: NEG_STATE.ACCEPT_INCOMPLETE, supportedMech: OID_NTLMSSP }));
        }
        ntlm = t.init.mechToken;
      } else {
        if (t.resp.negState === NEG_STATE.REJECT) return failure(s, c, STATUS.LOGON_FAILURE, 'the client rejected the exchange');
        ntlm = t.resp.responseToken;
        clientMic = t.resp.mechListMIC;
      }
    }
  } catch {
    return failure(s, c, STATUS.INVALID_PARAMETER, 'malformed SPNEGO token');
  }
  if (!ntlm) return failure(s, c, STATUS.INVALID_PARAMETER, 'no NTLMSSP token');
  const a = s.auth;
  if (a.stage === 'start' || a.stage === 'mech-selected') {
    let challenge: Buffer;
    try {
      challenge = buildChallenge(decodeNegotiateMessage(ntlm), c.opts.identity, randomBytes(8), c.now()).message;
    } catch {
      return failure(s, c, STATUS.INVALID_PARAMETER, 'malformed NTLM NEGOTIATE');
    }
    const spnego = a.stage === 'mech-selected' || !raw;
    s.auth = { stage: 'challenged', spnego, mechTypesDer: a.stage === 'mech-selected' ? a.mechTypesDer : mechTypesDer, negotiate: Buffer.from(ntlm), challenge };
    return more(spnego ? encodeNegTokenResp({ negState: NEG_STATE.ACCEPT_INCOMPLETE, supportedMech: OID_NTLMSSP, responseToken: challenge }) : challenge);
  }
  return authenticate(c, s, q, req.securityMode, a, ntlm, clientMic, req.previousSessionId);
}

async function authenticate(
  c: SmbConnection, s: SmbSession, q: Request, securityMode: number,
  a: Extract<SmbSession['auth'], { stage: 'challenged' }>, token: Buffer, clientMic: Buffer | undefined, previousSessionId: bigint,
): Promise<Response> {
  let user: string;
  try {
    user = decodeAuthenticateMessage(token).user;
  } catch {
    return failure(s, c, STATUS.INVALID_PARAMETER, 'malformed NTLM AUTHENTICATE');
  }
  const account = user ? await c.opts.lookup(user) : undefined;
  if (account && !account.ntHash) {
    c.log?.warn({ peer: c.opts.peer, user }, `smb: user ${account.principal.name} has no NT hash (the password was set before SMB support): set the password again with \`dw user passwd ${account.principal.name}\``);
    return failure(s, c, STATUS.LOGON_FAILURE, 'no NT hash stored', user);
  }
  const v = verifyAuthenticate({ negotiate: a.negotiate, challenge: a.challenge, authenticate: token, lookup: () => account?.ntHash });
  if (!v.ok) return failure(s, c, STATUS.LOGON_FAILURE, v.reason, user);
  if (v.anonymous) return failure(s, c, STATUS.LOGON_FAILURE, 'anonymous logins are off');
  // RFC 4178 5: the mechListMIC protects the mechanism list; check it when the client sent one.
  let serverMic: Buffer | undefined;
  if (a.spnego && a.mechTypesDer && clientMic) {
    if (!new NtlmMic(v.sessionKey, 'client', v.flags).verify(a.mechTypesDer, clientMic)) return failure(s, c, STATUS.LOGON_FAILURE, 'bad mechListMIC', user);
    serverMic = new NtlmMic(v.sessionKey, 'server', v.flags).mic(a.mechTypesDer);
  }
  const dialect = c.dialect!;
  if (s.state === 'valid') {
    // Re-authentication (3.3.5.5.3): the keys stay; the session must stay the same user's.
    if (s.principal?.uid !== account!.principal.uid || s.principal?.name !== account!.principal.name) {
      s.auth = { stage: 'start' };
      c.log?.info({ peer: c.opts.peer, user, was: s.principal?.name }, 'smb: re-authentication as another user refused');
      throw new SmbStatusError(STATUS.ACCESS_DENIED);
    }
    s.auth = { stage: 'start' };
    c.log?.info({ peer: c.opts.peer, user: s.principal.name }, 'smb: re-authenticated');
    const again = a.spnego ? encodeNegTokenResp({ negState: NEG_STATE.ACCEPT_COMPLETED, ...(serverMic ? { mechListMIC: serverMic } : {}) }) : Buffer.alloc(0);
    return {
      status: STATUS.SUCCESS, sessionId: s.id,
      body: (w) => { writeSessionSetupResponse(w, { sessionFlags: 0, securityBuffer: again }); },
      signWith: s,
    };
  }
  s.keys = deriveServerKeys({ dialect, gssKey: v.sessionKey, ...(s.preauth ? { preauthHash: s.preauth.value } : {}), ...(c.cipher ? { cipher: c.cipher } : {}) });
  s.signingAlgorithm = signingAlgorithmFor(dialect, c.signingAlgorithmId);
  s.signingRequired = (securityMode & SECURITY_MODE.SIGNING_REQUIRED) !== 0 || !!c.opts.requireSigning;
  s.principal = account!.principal;
  s.state = 'valid';
  s.auth = { stage: 'start' };
  s.preauth = undefined;
  registerSession(c, s);
  await replacePreviousSession(c, s, previousSessionId);
  c.log?.info({ peer: c.opts.peer, user: s.principal.name, dialect: dialectName(dialect), signing: s.signingRequired, encrypted: q.encrypted }, 'smb: login');
  const reply = a.spnego ? encodeNegTokenResp({ negState: NEG_STATE.ACCEPT_COMPLETED, ...(serverMic ? { mechListMIC: serverMic } : {}) }) : Buffer.alloc(0);
  // 3.3.5.5.3: the final response is signed for 3.1.1, and whenever the session signs.
  const sign = dialect === DIALECT.SMB311 || s.signingRequired;
  return {
    status: STATUS.SUCCESS, sessionId: s.id,
    body: (w) => { writeSessionSetupResponse(w, { sessionFlags: 0, securityBuffer: reply }); },
    ...(sign ? { signWith: s } : {}),
  };
}
